//! A downstream server's life: wait for the hub's start gate, connect, list what it offers,
//! follow its list changes, renew the connection when clients can do more than it was
//! promised, and when the connection drops, restart it with exponential backoff and jitter.

use std::{
    pin::Pin,
    sync::{Arc, atomic::AtomicBool},
    time::{Duration, Instant},
};

use rmcp::{
    RoleClient,
    model::{ClientCapabilities, ServerNotification, SubscriptionFilter},
    service::Peer,
};
use tokio::sync::watch;

use super::{
    Downstream, OnChange, State,
    connect::{Connection, Service},
    listener::Listener,
    lock,
};
use crate::hub::{lists::Lists, spec::Transport};

/// Longest a connection may take to start and answer its first `tools/list`, unless the
/// server's entry sets a shorter `timeout`.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(60);
/// A connection that lived this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(60);
/// How often a renewal put off by a task in progress is tried again.
const RENEW_RETRY: Duration = Duration::from_secs(1);

type Waiting =
    Pin<Box<dyn Future<Output = Result<rmcp::service::QuitReason, tokio::task::JoinError>> + Send>>;

impl Downstream {
    pub(super) async fn supervise(
        self: Arc<Self>,
        on_change: OnChange,
        mut gate: watch::Receiver<bool>,
        connections: Option<Arc<tokio::sync::Semaphore>>,
    ) {
        tokio::select! {
            _ = self.stop.cancelled() => return,
            _ = gate.wait_for(|open| *open) => {}
        }
        match &self.spec.transport {
            _ if self.spec.disabled => {
                self.update(|s| s.state = State::Disabled);
                on_change();
                return;
            }
            Transport::Invalid(reason) => {
                let reason = reason.clone();
                tracing::warn!(server = %self.spec.name, "{reason}");
                self.update(|s| {
                    s.state = State::Failed {
                        reason: reason.clone(),
                    };
                    s.last_error = Some(reason);
                });
                on_change();
                return;
            }
            _ => {}
        }
        let modern_only = AtomicBool::new(false);
        let mut attempt: u32 = 0;
        // Held while the server lives: one of the live connections all hubs share.
        let mut _connection = None;
        loop {
            if let Some(pool) = &connections
                && _connection.is_none()
            {
                match pool.clone().try_acquire_owned() {
                    Ok(permit) => _connection = Some(permit),
                    Err(_) => {
                        let reason = "not started yet: every live connection this server allows its users is in use (--hub-max-servers); retrying".to_string();
                        attempt = attempt.saturating_add(1);
                        self.update(|s| {
                            s.state = State::BackingOff {
                                reason: reason.clone(),
                            };
                            s.last_error = Some(reason);
                        });
                        on_change();
                        tokio::select! {
                            _ = self.stop.cancelled() => return,
                            _ = tokio::time::sleep(backoff(attempt)) => {}
                            _ = self.restart.notified() => {}
                        }
                        continue;
                    }
                }
            }
            self.update(|s| s.state = State::Starting);
            let reason = tokio::select! {
                _ = self.stop.cancelled() => return,
                reason = self.run_once(&on_change, &modern_only) => reason,
            };
            if self.stop.is_cancelled() {
                return;
            }
            *lock(&self.connection) = None;
            let (stable, reason) = reason;
            if stable {
                attempt = 0;
            }
            attempt = attempt.saturating_add(1);
            let reason = self.scrubber.scrub(&reason).into_owned();
            tracing::warn!(server = %self.spec.name, attempt, "downstream down: {reason}");
            self.update(|s| {
                s.state = State::BackingOff {
                    reason: reason.clone(),
                };
                s.live = Arc::default();
                s.protocol = None;
                s.last_error = Some(reason);
                s.restarts = s.restarts.saturating_add(1);
            });
            on_change();
            tokio::select! {
                _ = self.stop.cancelled() => return,
                _ = tokio::time::sleep(backoff(attempt)) => {}
                _ = self.restart.notified() => {}
            }
        }
    }

    /// Connects and lists, bounded by the start timeout.
    async fn connect_and_list(
        &self,
        modern_only: &AtomicBool,
    ) -> Result<(Service, Arc<Connection>), String> {
        let bound = self
            .spec
            .timeout
            .map_or(START_TIMEOUT, |t| t.min(START_TIMEOUT));
        let starting = async {
            let listener = Listener::new(self.lists_changed.clone(), self.relay.clone());
            let promised = listener.promised.clone();
            let service = self.open(listener, modern_only).await?;
            let connection = Arc::new(Connection::new(&service, promised));
            self.list(&connection.peer).await?;
            Ok((service, connection))
        };
        tokio::time::timeout(bound, starting)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "did not start within {} s (initialize and tools/list)",
                    bound.as_secs_f64()
                ))
            })
    }

    /// Connects, serves until the connection ends; returns whether it lived long enough to
    /// count as stable, and why it ended.
    async fn run_once(&self, on_change: &OnChange, modern_only: &AtomicBool) -> (bool, String) {
        let (service, mut connection) = match self.connect_and_list(modern_only).await {
            Ok(connected) => connected,
            Err(reason) => return (false, reason),
        };
        let mut waiting: Waiting = Box::pin(service.waiting());
        self.install(&connection);
        on_change();
        tracing::info!(server = %self.spec.name, protocol = ?connection.protocol(), "downstream ready");
        let started = Instant::now();
        let mut declared = self.relay.clients.watch_declared();
        let mut watcher = self.watch_modern(&connection);
        // A client may have declared more while this connection was being made, before the
        // watch above began: a change it will never report. Checked once here.
        let mut renew_later =
            !connection.modern && !covers(&connection.promised, &self.relay.clients.declared());
        let mut relists = Relists::default();
        let reason = loop {
            tokio::select! {
                _ = self.stop.cancelled() => {
                    drop(watcher);
                    *lock(&self.connection) = None;
                    drop(connection);
                    let _ = waiting.await;
                    return (false, "stopped".into());
                }
                _ = self.restart.notified() => break "reconnect requested".to_string(),
                _ = self.lists_changed.notified() => {
                    relists.announced();
                }
                _ = relists.due() => {
                    relists.listing();
                    let throttled = relists.throttled();
                    self.update(|s| s.throttled = throttled);
                    if let Err(e) = self.list(&connection.peer).await {
                        break e;
                    }
                    on_change();
                }
                changed = declared.changed(), if !connection.modern => {
                    if changed.is_err() {
                        continue;
                    }
                    renew_later = true;
                }
                _ = tokio::time::sleep(RENEW_RETRY), if renew_later => {}
                quit = &mut waiting => {
                    break match quit {
                        Ok(reason) => format!("connection closed ({reason:?})"),
                        Err(e) => format!("connection task failed: {e}"),
                    };
                }
            }
            if renew_later && !covers(&connection.promised, &self.relay.clients.declared()) {
                // A task lives in the connection that made it: renew once none is left.
                if self.relay.tasks.any_of(&self.spec.name) {
                    continue;
                }
                renew_later = false;
                match self.connect_and_list(modern_only).await {
                    Ok((renewed, fresh)) => {
                        // The old connection closes when its last call is over.
                        let old = std::mem::replace(&mut waiting, Box::pin(renewed.waiting()));
                        tokio::spawn(old);
                        connection = fresh;
                        self.install(&connection);
                        watcher = self.watch_modern(&connection);
                        on_change();
                        tracing::info!(server = %self.spec.name, "downstream reconnected: a client can do more than it was told");
                    }
                    Err(e) => {
                        tracing::warn!(server = %self.spec.name, "renewing the connection for a client that can do more: {e}");
                    }
                }
            } else {
                renew_later = false;
            }
        };
        drop(watcher);
        *lock(&self.connection) = None;
        drop(connection);
        (started.elapsed() >= STABLE_AFTER, reason)
    }

    /// Makes `connection` the one calls use.
    fn install(&self, connection: &Arc<Connection>) {
        *lock(&self.connection) = Some(connection.clone());
        let protocol = connection.protocol();
        self.update(|s| {
            s.state = State::Ready;
            s.protocol = protocol;
        });
    }

    /// Reads its tools, and its prompts and resources when it offers them. A server that
    /// fails `tools/list` is down; one whose prompt or resource list fails keeps its tools.
    /// What it lists is kept in the cache for the next run.
    pub(super) async fn list(&self, peer: &Peer<RoleClient>) -> Result<(), String> {
        lock(&self.refused).clear();
        let tools = tokio::time::timeout(START_TIMEOUT, peer.list_all_tools())
            .await
            .map_err(|_| "tools/list did not answer in time".to_string())?
            .map_err(|e| format!("tools/list failed: {e}"))?;
        let capabilities = peer.peer_info().map(|info| info.capabilities.clone());
        let offers_prompts = capabilities.as_ref().is_some_and(|c| c.prompts.is_some());
        let offers_resources = capabilities.as_ref().is_some_and(|c| c.resources.is_some());
        let name = self.spec.name.as_str();
        let prompts = if offers_prompts {
            listed(
                name,
                "prompts/list",
                tokio::time::timeout(START_TIMEOUT, peer.list_all_prompts()).await,
            )
        } else {
            None
        };
        let (resources, templates) = if offers_resources {
            (
                listed(
                    name,
                    "resources/list",
                    tokio::time::timeout(START_TIMEOUT, peer.list_all_resources()).await,
                ),
                listed(
                    name,
                    "resources/templates/list",
                    tokio::time::timeout(START_TIMEOUT, peer.list_all_resource_templates()).await,
                ),
            )
        } else {
            (None, None)
        };
        let lists = Arc::new(Lists {
            tools,
            prompts: prompts.unwrap_or_default(),
            resources: resources.unwrap_or_default(),
            templates: templates.unwrap_or_default(),
        });
        let unchanged = *self.snapshot().known == *lists;
        if !unchanged && let Some(cache) = &self.cache {
            cache.store(&self.spec, &lists);
        }
        let unreadable = lock(&self.refused).clone();
        self.update(|s| {
            s.live = lists.clone();
            s.known = lists;
            s.listings += 1;
            s.unreadable = unreadable;
        });
        Ok(())
    }

    /// For a 2026-07-28 connection, which announces changes only to a client listening for
    /// them: listens for list changes and the resources subscribed through this server,
    /// listening again when the subscriptions change. Stops with the connection.
    fn watch_modern(&self, connection: &Arc<Connection>) -> Option<AbortOnDrop> {
        if !connection.modern {
            return None;
        }
        let peer = connection.peer.clone();
        let lists_changed = self.lists_changed.clone();
        let relay = self.relay.clone();
        let server = self.spec.name.clone();
        Some(AbortOnDrop(tokio::spawn(async move {
            let mut changes = relay.subscriptions.watch();
            loop {
                let uris = relay.subscriptions.uris_of(&server);
                let mut filter = SubscriptionFilter::new();
                filter.tools_list_changed = Some(true);
                filter.prompts_list_changed = Some(true);
                filter.resources_list_changed = Some(true);
                filter.resource_subscriptions = (!uris.is_empty()).then_some(uris);
                let mut subscription = match peer.listen(filter).await {
                    Ok(subscription) => subscription,
                    Err(e) => {
                        tracing::debug!(%server, "subscriptions/listen refused: {e}");
                        return;
                    }
                };
                loop {
                    tokio::select! {
                        changed = changes.changed() => {
                            if changed.is_err() {
                                return;
                            }
                            let _ = subscription.cancel().await;
                            break;
                        }
                        next = subscription.next() => match next {
                            Ok(Some(ServerNotification::ResourceUpdatedNotification(n))) => {
                                relay.resource_updated(n.params.uri).await;
                            }
                            Ok(Some(_)) => lists_changed.notify_one(),
                            Ok(None) | Err(_) => return,
                        }
                    }
                }
            }
        })))
    }
}

/// Quiet time after a `list_changed` before listing again: a burst of them is one listing.
const RELIST_QUIET: Duration = Duration::from_millis(200);
/// Listings a server may cause in a minute; past that it is listed once a minute at most.
const MAX_RELISTS_PER_MINUTE: usize = 12;

/// When a server that announced list changes is listed again: after a quiet moment, and at
/// most [`MAX_RELISTS_PER_MINUTE`] times a minute, so a server that announces without end
/// costs a listing a minute, not a busy loop.
#[derive(Default)]
struct Relists {
    /// When the next listing is due, if one is.
    due: Option<tokio::time::Instant>,
    /// When the recent listings were.
    recent: std::collections::VecDeque<tokio::time::Instant>,
}

impl Relists {
    fn announced(&mut self) {
        let now = tokio::time::Instant::now();
        let earliest = match self.recent.front() {
            Some(oldest) if self.recent.len() >= MAX_RELISTS_PER_MINUTE => {
                *oldest + Duration::from_secs(60)
            }
            _ => now,
        };
        // A listing already due stays due: a server that keeps announcing is still listed.
        self.due.get_or_insert((now + RELIST_QUIET).max(earliest));
    }

    /// Resolves when a listing is due (never, when none is).
    async fn due(&self) {
        match self.due {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    }

    fn listing(&mut self) {
        let now = tokio::time::Instant::now();
        self.due = None;
        self.recent.push_back(now);
        while self
            .recent
            .front()
            .is_some_and(|at| now.duration_since(*at) > Duration::from_secs(60))
        {
            self.recent.pop_front();
        }
    }

    /// Why listings are held back, while they are.
    fn throttled(&self) -> Option<String> {
        (self.recent.len() >= MAX_RELISTS_PER_MINUTE).then(|| {
            format!(
                "it announces list changes without end: listed again at most {MAX_RELISTS_PER_MINUTE} times a minute"
            )
        })
    }
}

impl Downstream {
    /// Whether its live connection was promised less than clients now declare: a renewed
    /// connection, which may list more tools (a sampling tool, say), is on its way. Never
    /// for a 2026-07-28 connection: it is told what the client can do with each request,
    /// and never renewed for it.
    pub(crate) fn behind_clients(&self) -> bool {
        self.current()
            .is_some_and(|c| !c.modern && !covers(&c.promised, &self.relay.clients.declared()))
    }
}

/// Whether a connection promised `promised` already covers what clients now declare.
fn covers(promised: &ClientCapabilities, declared: &ClientCapabilities) -> bool {
    let elicitation = match (&promised.elicitation, &declared.elicitation) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(p), Some(d)) => d.url.is_none() || p.url.is_some(),
    };
    (declared.sampling.is_none() || promised.sampling.is_some())
        && (declared.roots.is_none() || promised.roots.is_some())
        && elicitation
}

/// A secondary list of a server, or `None` (logged) when it failed or took too long.
fn listed<T>(
    server: &str,
    what: &str,
    result: Result<Result<Vec<T>, rmcp::ServiceError>, tokio::time::error::Elapsed>,
) -> Option<Vec<T>> {
    match result {
        Ok(Ok(items)) => Some(items),
        Ok(Err(e)) => {
            tracing::warn!(%server, "{what} failed: {e}");
            None
        }
        Err(_) => {
            tracing::warn!(%server, "{what} did not answer in time");
            None
        }
    }
}

/// Exponential, capped, with jitter so many servers that failed together do not retry in
/// step.
fn backoff(attempt: u32) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(BACKOFF_CAP);
    let jitter = rand::random_range(0.5..1.0);
    capped.mul_f64(jitter)
}

/// A background task that ends with its owner.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) <= BACKOFF_BASE && backoff(1) >= BACKOFF_BASE / 2);
        assert!(backoff(5) > backoff(1));
        assert!(backoff(40) <= BACKOFF_CAP);
    }

    #[test]
    fn a_connection_covers_what_it_was_promised() {
        let none = ClientCapabilities::default();
        let mut sampling = ClientCapabilities::default();
        sampling.sampling = Some(Default::default());
        assert!(covers(&none, &none));
        assert!(covers(&sampling, &none));
        assert!(!covers(&none, &sampling));
        assert!(covers(&sampling, &sampling));
    }
}
