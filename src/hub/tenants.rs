//! One hub per user, when each client brings its own Plugged.in key (`--auth passthrough`).
//! Everything a hub holds — the account's server list, the catalog, the downstream
//! connections and their child processes, the name table, the activity queue — belongs to
//! one key, found by the key's SHA-256 fingerprint (the key itself is never stored). A
//! request reaches only the hub of its own key: there is no other way to a downstream.
//!
//! A key gets a hub once Plugged.in has accepted it ([`crate::api::keys`], asked at the
//! door), so an unknown bearer token never starts a server. A key Plugged.in rejects (401),
//! at that check or later, loses its hub at once and is refused for a minute without asking
//! again. Hubs unused for the idle time are closed (servers stopped, children killed).
//! Live downstream connections are limited per key and in total.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex, Weak},
    time::{Duration, Instant},
};

use tokio::sync::{OnceCell, Semaphore};
use tokio_util::sync::CancellationToken;

use super::{Hub, HubSettings};
use crate::{
    api::{
        Client,
        keys::{KeyChecks, Verdict},
    },
    secret::Secret,
};

/// How long a rejected key is refused without asking Plugged.in again.
const REJECTED_FOR: Duration = Duration::from_secs(60);
/// Most keys with a hub at once; past it the least recently used hub is closed.
const MAX_TENANTS: usize = 1_024;

/// Bounds on what the users of one server may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Live downstream connections of one key.
    pub per_key: usize,
    /// Live downstream connections of all keys together.
    pub total: usize,
    /// A key's hub unused this long is closed.
    pub idle: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_key: 16,
            total: 256,
            idle: Duration::from_secs(900),
        }
    }
}

/// Where each key's servers come from.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The servers file, followed by every key's hub (each with its own connections).
    pub file: Option<PathBuf>,
    /// The servers of the key's Plugged.in account.
    pub account: bool,
}

/// Why a request gets no hub.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(
        "Plugged.in rejected this API key; its MCP servers are not available (send `Authorization: Bearer <your Plugged.in API key>`)"
    )]
    Rejected,
    #[error("cannot check this API key with Plugged.in, so its MCP servers are not started: {0}")]
    Unchecked(String),
}

/// The hubs of every key.
pub struct Tenants {
    settings: HubSettings,
    sources: Sources,
    client: Client,
    /// What Plugged.in says of each key.
    checks: Arc<KeyChecks>,
    limits: Limits,
    /// Live downstream connections of all keys.
    connections: Arc<Semaphore>,
    tenants: Mutex<HashMap<String, Arc<Slot>>>,
    rejected: Mutex<HashMap<String, Instant>>,
}

/// One key's place: its hub, made once the key is accepted.
struct Slot {
    hub: OnceCell<Tenant>,
    last_used: Mutex<Instant>,
}

struct Tenant {
    hub: Hub,
    stop: CancellationToken,
}

impl Tenants {
    /// Tenants whose hubs get `settings` and the servers of `sources`, each account reached
    /// through `client` with its key. Must be created inside
    /// the tokio runtime (it starts the idle reaper).
    pub fn new(
        settings: HubSettings,
        sources: Sources,
        client: Client,
        checks: Arc<KeyChecks>,
        limits: Limits,
    ) -> Arc<Self> {
        let tenants = Arc::new(Self {
            settings,
            sources,
            client,
            checks,
            connections: Arc::new(Semaphore::new(limits.total)),
            limits,
            tenants: Mutex::default(),
            rejected: Mutex::default(),
        });
        tokio::spawn(reap_idle(Arc::downgrade(&tenants)));
        tenants
    }

    /// The hub of `key`, made (once Plugged.in accepts the key) if it has none yet.
    pub async fn hub_for(self: &Arc<Self>, key: &Secret) -> Result<Hub, Refusal> {
        let fingerprint = crate::text::sha256_hex(key.expose());
        if lock(&self.rejected)
            .get(&fingerprint)
            .is_some_and(|at| at.elapsed() < REJECTED_FOR)
        {
            return Err(Refusal::Rejected);
        }
        let slot = {
            let mut tenants = lock(&self.tenants);
            if !tenants.contains_key(&fingerprint) && tenants.len() >= MAX_TENANTS {
                evict_least_recent(&mut tenants);
            }
            tenants
                .entry(fingerprint.clone())
                .or_insert_with(|| {
                    Arc::new(Slot {
                        hub: OnceCell::new(),
                        last_used: Mutex::new(Instant::now()),
                    })
                })
                .clone()
        };
        *lock(&slot.last_used) = Instant::now();
        let made = slot
            .hub
            .get_or_try_init(|| self.admit(key.clone(), fingerprint.clone()))
            .await;
        match made {
            Ok(tenant) => Ok(tenant.hub.clone()),
            Err(refusal) => {
                self.forget(&fingerprint);
                Err(refusal)
            }
        }
    }

    /// Checks the key with Plugged.in, then makes its hub.
    async fn admit(self: &Arc<Self>, key: Secret, fingerprint: String) -> Result<Tenant, Refusal> {
        match self.checks.check(&key, None).await {
            Verdict::Accepted => {}
            Verdict::Rejected | Verdict::Malformed => {
                lock(&self.rejected).insert(fingerprint, Instant::now());
                return Err(Refusal::Rejected);
            }
            Verdict::Throttled(_) => {
                return Err(Refusal::Unchecked("too many keys checked".into()));
            }
            Verdict::Unchecked(why) => return Err(Refusal::Unchecked(why)),
        }
        let client = self.client.with_passthrough_key(key);
        let stop = CancellationToken::new();
        let hub = Hub::new(HubSettings {
            max_servers: Some(self.limits.per_key),
            connections: Some(self.connections.clone()),
            ..self.settings.clone()
        });
        let weak = Arc::downgrade(self);
        let revoked = fingerprint.clone();
        hub.on_revoked(move || {
            if let Some(tenants) = weak.upgrade() {
                tenants.revoke(&revoked);
            }
        });
        hub.report_to(client.clone(), true);
        if self.sources.account {
            super::pluggedin_source::follow(hub.clone(), client, stop.clone());
        }
        if let Some(file) = &self.sources.file {
            super::watch_file::follow(hub.clone(), file.clone(), stop.clone());
        }
        tracing::info!(key = %&fingerprint[..12], "hub started for a new API key");
        Ok(Tenant { hub, stop })
    }

    /// Plugged.in rejected the key of `fingerprint`: its hub goes at once.
    pub fn revoke(&self, fingerprint: &str) {
        lock(&self.rejected).insert(fingerprint.to_string(), Instant::now());
        self.forget(fingerprint);
    }

    /// The same, by key.
    pub fn revoke_key(&self, key: &Secret) {
        self.revoke(&crate::text::sha256_hex(key.expose()));
    }

    fn forget(&self, fingerprint: &str) {
        let slot = lock(&self.tenants).remove(fingerprint);
        if let Some(tenant) = slot.as_ref().and_then(|s| s.hub.get()) {
            tracing::info!(key = %&fingerprint[..12], "hub of an API key closed");
            tenant.stop.cancel();
            tenant.hub.shutdown();
        }
    }

    /// Keys with a hub now.
    pub fn len(&self) -> usize {
        lock(&self.tenants)
            .values()
            .filter(|s| s.hub.initialized())
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes the hubs unused for the idle time; returns how many.
    fn close_idle(&self) -> usize {
        let idle: Vec<String> = lock(&self.tenants)
            .iter()
            // A call still in flight (a long one, reporting progress) is use.
            .filter(|(_, s)| {
                s.hub.get().is_some_and(|t| !t.hub.busy())
                    && lock(&s.last_used).elapsed() >= self.limits.idle
            })
            .map(|(fp, _)| fp.clone())
            .collect();
        for fingerprint in &idle {
            self.forget(fingerprint);
        }
        lock(&self.rejected).retain(|_, at| at.elapsed() < REJECTED_FOR);
        idle.len()
    }

    /// Stops every hub.
    pub fn shutdown(&self) {
        let all: Vec<String> = lock(&self.tenants).keys().cloned().collect();
        for fingerprint in all {
            self.forget(&fingerprint);
        }
    }
}

fn evict_least_recent(tenants: &mut HashMap<String, Arc<Slot>>) {
    let oldest = tenants
        .iter()
        .min_by_key(|(_, s)| *lock(&s.last_used))
        .map(|(fp, _)| fp.clone());
    if let Some(fingerprint) = oldest
        && let Some(slot) = tenants.remove(&fingerprint)
        && let Some(tenant) = slot.hub.get()
    {
        tenant.stop.cancel();
        tenant.hub.shutdown();
    }
}

/// Closes idle hubs, checking a few times per idle period, until the tenants are gone.
async fn reap_idle(tenants: Weak<Tenants>) {
    let every = match tenants.upgrade() {
        Some(t) => (t.limits.idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(30)),
        None => return,
    };
    loop {
        tokio::time::sleep(every).await;
        let Some(tenants) = tenants.upgrade() else {
            return;
        };
        let closed = tenants.close_idle();
        if closed > 0 {
            tracing::info!(closed, "idle hubs closed");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
