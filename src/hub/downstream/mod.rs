//! One downstream server, supervised: a task connects it (a child process over stdio, or
//! Streamable HTTP), lists its tools, follows its `list_changed` notifications, and when the
//! connection drops restarts it with exponential backoff and jitter. Calls go straight to
//! its live connection; a call that finds it down asks for a reconnect and waits for it once.
#![allow(
    deprecated,
    reason = "sampling, roots and logging are deprecated in 2026-07-28 (SEP-2577) but are how 2025-11-25 servers talk"
)]

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rmcp::{
    ClientHandler, ErrorData, RoleClient, ServiceExt,
    model::{
        CallToolRequest, CallToolRequestParams, CallToolResponse, CallToolResult,
        CancelledNotificationParam, ClientConfig, ClientRequest, CreateMessageRequestParams,
        CreateMessageResult, ElicitRequestParams, ElicitResult, GetPromptRequestParams,
        GetPromptResponse, Implementation, ListRootsResult, LoggingMessageNotificationParam,
        Prompt, ReadResourceRequestParams, ReadResourceResponse, RequestId, Resource,
        ResourceTemplate, ServerResult, Tool,
    },
    service::{NotificationContext, Peer, PeerRequestOptions, RequestContext},
    transport::{
        StreamableHttpClientTransport, TokioChildProcess,
        streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    sync::{Notify, watch},
};
use tokio_util::sync::CancellationToken;

use super::{
    relay::{Caller, Clients, Relay},
    spec::{ServerSpec, Transport},
    tap::Tapped,
};
use crate::redact::Scrubber;

mod tasks;
pub use tasks::unknown_task;

/// Longest a connection may take to start and answer its first `tools/list`.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(60);
/// A connection that lived this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(60);
/// How long a call waits for a server that is down to come back before failing.
const RECONNECT_WAIT: Duration = Duration::from_secs(10);
/// Longest stderr line of a child logged (the rest is cut).
const STDERR_LINE_CHARS: usize = 2_000;
/// Environment a child inherits from us; everything else comes from its configuration.
const INHERITED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "TEMP",
    "TMP",
    "SYSTEMROOT",
    "APPDATA",
    "LOCALAPPDATA",
    "USERPROFILE",
    "PROGRAMDATA",
];

/// Where a server is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Starting,
    Ready,
    /// Down; the next attempt is after a backoff.
    BackingOff {
        reason: String,
    },
    /// Will not be started: its configuration cannot work.
    Failed {
        reason: String,
    },
    Disabled,
}

impl State {
    pub fn name(&self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Ready => "ready",
            State::BackingOff { .. } => "backing_off",
            State::Failed { .. } => "failed",
            State::Disabled => "disabled",
        }
    }
}

/// What status reports show about a server.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub state: State,
    /// The tools of the live connection (empty while down).
    pub tools: Arc<Vec<Tool>>,
    /// The tools it had when last up: their names still route to it, so a call made
    /// while it is down reconnects it instead of finding no such tool.
    pub known_tools: Arc<Vec<Tool>>,
    /// How many times its tools were listed: a new value is a new list.
    pub tools_listed: u64,
    /// Its prompts, resources and resource templates (live connection only).
    pub prompts: Arc<Vec<Prompt>>,
    pub resources: Arc<Vec<Resource>>,
    pub templates: Arc<Vec<ResourceTemplate>>,
    pub restarts: u32,
    pub last_error: Option<String>,
    pub last_latency: Option<Duration>,
}

impl Snapshot {
    /// The tools to offer now: the live ones, or — before the server ever listed its own,
    /// while it starts — the cached ones it was started with.
    pub fn offered_tools(&self) -> &Arc<Vec<Tool>> {
        if self.tools_listed == 0 && self.state == State::Starting {
            &self.known_tools
        } else {
            &self.tools
        }
    }
}

/// Why a call to a downstream did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("server \"{server}\" is not available: {reason}")]
    Down { server: String, reason: String },
    #[error("server \"{server}\" did not answer within {} s", .after.as_secs_f64())]
    Timeout { server: String, after: Duration },
    #[error("the call was cancelled by the client")]
    Cancelled,
    #[error("server \"{server}\" failed the call: {detail}")]
    Failed { server: String, detail: String },
}

pub struct Downstream {
    pub spec: ServerSpec,
    pub prefix: String,
    snapshot: Mutex<Snapshot>,
    peer: Mutex<Option<Peer<RoleClient>>>,
    /// Asks the supervisor to reconnect now (a refresh, or a call that found it down).
    restart: Notify,
    /// Bumped on every state change, for calls waiting for a reconnect.
    generation: watch::Sender<u64>,
    stop: CancellationToken,
    /// Removes every configured value from what is logged or shown as an error.
    scrubber: Scrubber,
    /// Removes the values of secret-named env vars and headers from its results (not every
    /// value: a path in its env is not a secret, and may be in its answers).
    result_scrubber: Scrubber,
    /// Its way back to the clients: its calls in flight (for what it sends back during
    /// them), the hub's client sessions and tasks.
    relay: Relay,
}

/// Called whenever a server's tools or state change.
pub type OnChange = Arc<dyn Fn() + Send + Sync>;

/// What a server shares with the rest of its hub.
#[derive(Clone)]
pub struct Shared {
    /// The hub's client sessions (what servers may be promised, who answers them).
    pub clients: Arc<Clients>,
    /// The tasks servers made for calls whose clients follow them.
    pub tasks: Arc<super::tasks::Tasks>,
    /// Live connections shared with other hubs, when limited ([`super::HubSettings`]).
    pub connections: Option<Arc<tokio::sync::Semaphore>>,
    /// Called whenever the server's tools or state change.
    pub on_change: OnChange,
}

impl Downstream {
    /// Starts supervising `spec` in the background once `gate` opens; returns at once.
    /// `cached` is what a catalog (Plugged.in's) last knew of its tools: offered until the
    /// server lists its own, so clients see its tools before it is up.
    pub fn start(
        spec: ServerSpec,
        prefix: String,
        cached: Arc<Vec<Tool>>,
        shared: Shared,
        gate: watch::Receiver<bool>,
    ) -> Arc<Self> {
        let Shared {
            clients,
            tasks,
            connections,
            on_change,
        } = shared;
        let secrets = secrets_of(&spec);
        for secret in &secrets {
            crate::redact::log::register(secret);
        }
        let scrubber = Scrubber::new(secrets.iter().map(String::as_str));
        let result_scrubber = Scrubber::new(named_secrets_of(&spec).iter().map(String::as_str));
        let relay = Relay {
            server: prefix.clone(),
            name: spec.name.clone(),
            tasks,
            in_flight: Arc::default(),
            clients,
            scrubber: scrubber.clone(),
        };
        let this = Arc::new(Self {
            spec,
            prefix,
            snapshot: Mutex::new(Snapshot {
                state: State::Starting,
                tools: Arc::default(),
                known_tools: cached,
                tools_listed: 0,
                prompts: Arc::default(),
                resources: Arc::default(),
                templates: Arc::default(),
                restarts: 0,
                last_error: None,
                last_latency: None,
            }),
            peer: Mutex::new(None),
            restart: Notify::new(),
            generation: watch::Sender::new(0),
            stop: CancellationToken::new(),
            scrubber,
            result_scrubber,
            relay,
        });
        crate::metrics::hub_server(State::Starting.name(), 1);
        tokio::spawn(this.clone().supervise(on_change, gate, connections));
        this
    }

    /// Stops the server (kills its child, closes its connection).
    pub fn stop(&self) {
        self.stop.cancel();
    }

    pub fn snapshot(&self) -> Snapshot {
        lock(&self.snapshot).clone()
    }

    /// Whether a call to it is in flight.
    pub fn busy(&self) -> bool {
        self.relay.in_flight.any()
    }

    /// Whether `which` names this server (its configured name or its tool prefix).
    pub fn answers_to(&self, which: &str) -> bool {
        which == self.spec.name || which == self.prefix
    }

    /// Tells the live connection that the client's roots changed (off the caller's path).
    pub fn roots_changed(&self) {
        if let Some(peer) = self.current_peer() {
            tokio::spawn(async move {
                let _ = peer.notify_roots_list_changed().await;
            });
        }
    }

    /// Reconnects now, skipping any backoff.
    pub fn reconnect(&self) {
        self.restart.notify_one();
    }

    fn update(&self, change: impl FnOnce(&mut Snapshot)) {
        {
            let mut snapshot = lock(&self.snapshot);
            let before = snapshot.state.name();
            change(&mut snapshot);
            let after = snapshot.state.name();
            if before != after {
                crate::metrics::hub_server(before, -1);
                crate::metrics::hub_server(after, 1);
            }
        }
        self.generation.send_modify(|g| *g += 1);
    }

    fn current_peer(&self) -> Option<Peer<RoleClient>> {
        lock(&self.peer)
            .clone()
            .filter(|p| !p.is_transport_closed())
    }

    /// Sends `params` (already carrying the tool's own name) and returns the answer as it
    /// is. Bounded by `bounds.0`, restarted by each progress notification, up to `bounds.1`
    /// in all; `ct` cancels the downstream request too. What the server sends back during
    /// the call (progress, logs, requests) goes to `caller`.
    pub async fn call(
        &self,
        params: CallToolRequestParams,
        bounds: (Duration, Duration),
        caller: Option<Arc<Caller>>,
        ct: &CancellationToken,
    ) -> Result<CallToolResponse, CallError> {
        let (timeout, max_total) = bounds;
        let call_started = tokio::time::Instant::now();
        let deadline = call_started + timeout;
        let peer = self.live_peer(deadline, ct).await?;
        let started = Instant::now();
        let options = PeerRequestOptions::with_timeout(timeout)
            .reset_timeout_on_progress()
            .with_max_total_timeout(max_total.max(timeout));
        let mut params = params;
        let takes_tasks = caller
            .as_ref()
            .is_some_and(|c| c.capabilities.supports_tasks());
        self.hop_meta(&mut params.meta, &peer, takes_tasks);
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let handle = peer
            .send_request_with_option(request, options)
            .await
            .map_err(|e| self.failed(e))?;
        // rmcp gives the request its own progress token: the server's progress arrives under
        // it and is mapped back to the client's. Registered before this task yields, so
        // before any answer of the server can be read.
        let _registered = caller.clone().map(|c| {
            self.relay
                .in_flight
                .register(handle.progress_token.clone(), c)
        });
        let mut abandoned = Abandoned::new(&peer, handle.id.clone());
        let outcome = tokio::select! {
            biased;
            _ = ct.cancelled() => return Err(CallError::Cancelled),
            outcome = handle.await_response() => outcome,
        };
        abandoned.disarm();
        let latency = started.elapsed();
        self.update(|s| s.last_latency = Some(latency));
        match outcome {
            Ok(ServerResult::CallToolResult(mut result)) => {
                self.scrub_result(&mut result);
                Ok(CallToolResponse::Complete(result))
            }
            Ok(ServerResult::InputRequiredResult(result)) => {
                Ok(CallToolResponse::InputRequired(result))
            }
            Ok(ServerResult::CreateTaskResult(mut created)) => match caller {
                // The client follows the task itself, under the hub's id for it.
                Some(caller) if takes_tasks => {
                    created.task.task_id = self.relay.tasks.adopt(
                        &self.spec.name,
                        &created.task.task_id,
                        caller.peer.clone(),
                        created.task.ttl_ms,
                    );
                    Ok(CallToolResponse::Task(created))
                }
                // A client that cannot follow a task gets its result: the hub follows it.
                caller => {
                    let bounds = (timeout, max_total.max(timeout), call_started);
                    self.follow(&peer, created.task, caller, bounds, ct)
                        .await
                        .map(CallToolResponse::Complete)
                }
            },
            // A result with neither content nor anything else decodes as empty.
            Ok(ServerResult::EmptyResult(_)) => {
                Ok(CallToolResponse::Complete(CallToolResult::default()))
            }
            Ok(_) => Err(self.failed(rmcp::ServiceError::UnexpectedResponse)),
            Err(rmcp::ServiceError::Timeout { timeout: after }) => Err(CallError::Timeout {
                server: self.spec.name.clone(),
                after,
            }),
            Err(e) => Err(self.failed(e)),
        }
    }

    /// Removes its secrets from a result (text and structured content).
    fn scrub_result(&self, result: &mut CallToolResult) {
        if !self.result_scrubber.has_known() {
            return;
        }
        if let Some(value) = result.structured_content.as_mut() {
            self.result_scrubber.scrub_known_json(value);
        }
        for block in result.content.iter_mut() {
            if let rmcp::model::ContentBlock::Text(text) = block
                && let std::borrow::Cow::Owned(clean) = self.result_scrubber.scrub_known(&text.text)
            {
                text.text = clean;
            }
        }
    }

    fn failed(&self, error: rmcp::ServiceError) -> CallError {
        CallError::Failed {
            server: self.spec.name.clone(),
            detail: self.scrubber.scrub(&error.to_string()).into_owned(),
        }
    }

    /// `prompts/get` under the prompt's own name.
    pub async fn get_prompt(
        &self,
        mut params: GetPromptRequestParams,
        timeout: Duration,
        ct: &CancellationToken,
    ) -> Result<GetPromptResponse, CallError> {
        tasks::strip_hop_keys(&mut params.meta);
        self.request(timeout, ct, |peer| async move {
            peer.get_prompt_once(params).await
        })
        .await
    }

    /// `resources/read` of one of its URIs.
    pub async fn read_resource(
        &self,
        mut params: ReadResourceRequestParams,
        timeout: Duration,
        ct: &CancellationToken,
    ) -> Result<ReadResourceResponse, CallError> {
        tasks::strip_hop_keys(&mut params.meta);
        self.request(timeout, ct, |peer| async move {
            peer.read_resource_once(params).await
        })
        .await
    }

    /// One request on the live connection (reconnecting once if it is down), bounded by
    /// `timeout` and cancelled with `ct`.
    async fn request<T, F, Fut>(
        &self,
        timeout: Duration,
        ct: &CancellationToken,
        send: F,
    ) -> Result<T, CallError>
    where
        F: FnOnce(Peer<RoleClient>) -> Fut,
        Fut: std::future::Future<Output = Result<T, rmcp::ServiceError>>,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        let peer = self.live_peer(deadline, ct).await?;
        let started = Instant::now();
        // Dropping the request future cancels it downstream (rmcp sends notifications/cancelled).
        let outcome = tokio::select! {
            biased;
            _ = ct.cancelled() => return Err(CallError::Cancelled),
            _ = tokio::time::sleep_until(deadline) => {
                return Err(CallError::Timeout { server: self.spec.name.clone(), after: timeout });
            }
            outcome = send(peer) => outcome,
        };
        let latency = started.elapsed();
        self.update(|s| s.last_latency = Some(latency));
        outcome.map_err(|e| self.failed(e))
    }

    /// The live connection; a server that is down gets one immediate reconnect, and the
    /// call waits for it.
    async fn live_peer(
        &self,
        deadline: tokio::time::Instant,
        ct: &CancellationToken,
    ) -> Result<Peer<RoleClient>, CallError> {
        if let Some(peer) = self.current_peer() {
            return Ok(peer);
        }
        let down = |s: &Self| {
            let snap = s.snapshot();
            let reason = match snap.state {
                State::BackingOff { reason } | State::Failed { reason } => reason,
                State::Disabled => "it is disabled in the configuration".into(),
                State::Starting => "it is still starting".into(),
                State::Ready => "its connection closed".into(),
            };
            CallError::Down {
                server: s.spec.name.clone(),
                reason,
            }
        };
        if matches!(
            self.snapshot().state,
            State::Failed { .. } | State::Disabled
        ) {
            return Err(down(self));
        }
        let mut changes = self.generation.subscribe();
        if !matches!(self.snapshot().state, State::Starting) {
            self.restart.notify_one();
        }
        let wait_until = deadline.min(tokio::time::Instant::now() + RECONNECT_WAIT);
        loop {
            if let Some(peer) = self.current_peer() {
                return Ok(peer);
            }
            tokio::select! {
                biased;
                _ = ct.cancelled() => return Err(CallError::Cancelled),
                _ = tokio::time::sleep_until(wait_until) => return Err(down(self)),
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Err(down(self));
                    }
                    if let State::BackingOff { .. } = self.snapshot().state {
                        return Err(down(self));
                    }
                }
            }
        }
    }

    async fn supervise(
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
                reason = self.run_once(&on_change) => reason,
            };
            if self.stop.is_cancelled() {
                return;
            }
            *lock(&self.peer) = None;
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
                s.tools = Arc::default();
                s.prompts = Arc::default();
                s.resources = Arc::default();
                s.templates = Arc::default();
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

    /// Connects, serves until the connection ends; returns whether it lived long enough to
    /// count as stable, and why it ended.
    async fn run_once(&self, on_change: &OnChange) -> (bool, String) {
        let listener = Listener {
            tools_changed: Arc::default(),
            relay: self.relay.clone(),
        };
        let connecting = tokio::time::timeout(START_TIMEOUT, self.connect(listener.clone()));
        let service = match connecting.await {
            Ok(Ok(service)) => service,
            Ok(Err(e)) => return (false, e),
            Err(_) => {
                return (
                    false,
                    format!("did not start within {} s", START_TIMEOUT.as_secs()),
                );
            }
        };
        let peer = service.peer().clone();
        if let Err(e) = self.list_tools(&peer).await {
            return (false, e);
        }
        *lock(&self.peer) = Some(peer.clone());
        self.update(|s| s.state = State::Ready);
        on_change();
        tracing::info!(server = %self.spec.name, "downstream ready");
        let started = Instant::now();
        let cancel = service.cancellation_token();
        let waiting = service.waiting();
        tokio::pin!(waiting);
        let reason = loop {
            tokio::select! {
                _ = self.stop.cancelled() => {
                    cancel.cancel();
                    let _ = waiting.await;
                    return (false, "stopped".into());
                }
                _ = self.restart.notified() => {
                    cancel.cancel();
                    let _ = waiting.await;
                    break "reconnect requested".to_string();
                }
                _ = listener.tools_changed.notified() => {
                    if let Err(e) = self.list_tools(&peer).await {
                        cancel.cancel();
                        let _ = waiting.await;
                        break e;
                    }
                    on_change();
                }
                quit = &mut waiting => {
                    break match quit {
                        Ok(reason) => format!("connection closed ({reason:?})"),
                        Err(e) => format!("connection task failed: {e}"),
                    };
                }
            }
        };
        (started.elapsed() >= STABLE_AFTER, reason)
    }

    /// Reads its tools, and its prompts and resources when it offers them. A server that
    /// fails `tools/list` is down; one whose prompt or resource list fails keeps its tools.
    async fn list_tools(&self, peer: &Peer<RoleClient>) -> Result<(), String> {
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
        let tools = Arc::new(tools);
        self.update(|s| {
            s.tools = tools.clone();
            s.known_tools = tools;
            s.tools_listed += 1;
            s.prompts = Arc::new(prompts.unwrap_or_default());
            s.resources = Arc::new(resources.unwrap_or_default());
            s.templates = Arc::new(templates.unwrap_or_default());
        });
        Ok(())
    }

    async fn connect(
        &self,
        listener: Listener,
    ) -> Result<rmcp::service::RunningService<RoleClient, Listener>, String> {
        match &self.spec.transport {
            Transport::Stdio {
                command,
                args,
                env,
                cwd,
            } => {
                let mut cmd = tokio::process::Command::new(command);
                cmd.args(args).env_clear().kill_on_drop(true);
                for name in INHERITED_ENV {
                    if let Some(value) = std::env::var_os(name) {
                        cmd.env(name, value);
                    }
                }
                cmd.envs(env);
                if let Some(dir) = cwd {
                    cmd.current_dir(dir);
                }
                // fork/exec is synchronous and costs milliseconds: off the async workers, so
                // starting ten servers never delays an `initialize` being answered.
                let (transport, stderr) = tokio::task::spawn_blocking(move || {
                    TokioChildProcess::builder(cmd)
                        .stderr(Stdio::piped())
                        .spawn()
                })
                .await
                .map_err(|e| format!("cannot start `{command}`: {e}"))?
                .map_err(|e| format!("cannot start `{command}`: {e}"))?;
                if let Some(stderr) = stderr {
                    tokio::spawn(log_stderr(
                        self.spec.name.clone(),
                        stderr,
                        self.scrubber.clone(),
                    ));
                }
                let transport = Tapped::new(transport, listener.relay.clone());
                listener
                    .serve(transport)
                    .await
                    .map_err(|e| format!("initialize failed: {}", plain_error(&e.to_string())))
            }
            Transport::Http { url, headers } => {
                let custom: std::collections::HashMap<_, _> = super::spec::header_map(headers)?
                    .into_iter()
                    .filter_map(|(name, value)| Some((name?, value)))
                    .collect();
                let config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                    .custom_headers(custom);
                let transport =
                    StreamableHttpClientTransport::with_client(reqwest::Client::new(), config);
                let transport = Tapped::new(transport, listener.relay.clone());
                listener
                    .serve(transport)
                    .await
                    .map_err(|e| format!("initialize failed: {e}"))
            }
            Transport::Sse { url, headers } => {
                let transport = super::legacy_sse::LegacySse::connect(url, headers).await?;
                let transport = Tapped::new(transport, listener.relay.clone());
                listener.serve(transport).await.map_err(|e| {
                    format!("cannot connect to {url}: {}", plain_error(&e.to_string()))
                })
            }
            Transport::Invalid(reason) => Err(reason.clone()),
        }
    }
}

impl Drop for Downstream {
    fn drop(&mut self) {
        self.stop.cancel();
        crate::metrics::hub_server(lock(&self.snapshot).state.name(), -1);
    }
}

/// Values in a server's configuration that must never be logged or shown: its env values
/// and header values (short ones, like `1` or `true`, are settings, not secrets).
fn secrets_of(spec: &ServerSpec) -> Vec<String> {
    let values: Vec<&String> = match &spec.transport {
        Transport::Stdio { env, .. } => env.values().collect(),
        Transport::Http { headers, .. } | Transport::Sse { headers, .. } => {
            headers.values().collect()
        }
        Transport::Invalid(_) => Vec::new(),
    };
    values
        .into_iter()
        .filter(|v| v.chars().count() >= crate::redact::log::MIN_SECRET_CHARS)
        .cloned()
        .collect()
}

/// The values of its env vars and headers whose names say they are secrets
/// ([`crate::redact::is_secret_name`]): taken out of its results too.
fn named_secrets_of(spec: &ServerSpec) -> Vec<String> {
    let named: Vec<&String> = match &spec.transport {
        Transport::Stdio { env, .. } => env
            .iter()
            .filter(|(name, _)| crate::redact::is_secret_name(name))
            .map(|(_, value)| value)
            .collect(),
        Transport::Http { headers, .. } | Transport::Sse { headers, .. } => headers
            .iter()
            .filter(|(name, _)| crate::redact::is_secret_name(name))
            .map(|(_, value)| value)
            .collect(),
        Transport::Invalid(_) => Vec::new(),
    };
    named
        .into_iter()
        .filter(|v| v.chars().count() >= crate::redact::log::MIN_SECRET_CHARS)
        .cloned()
        .collect()
}

async fn log_stderr(server: String, stderr: tokio::process::ChildStderr, scrubber: Scrubber) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line: String = line.chars().take(STDERR_LINE_CHARS).collect();
        tracing::info!(server = %server, "stderr: {}", scrubber.scrub(&line));
    }
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

/// rmcp's transport errors name Rust types (`Transport [rmcp::transport::worker::…]`);
/// a user needs the cause, which is the text after them.
fn plain_error(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.replace("Send message error Transport  error: ", "")
        .replace("Client error: ", "")
        .trim()
        .to_string()
}

/// Exponential, capped, with jitter so many servers that failed together do not retry in
/// step.
fn backoff(attempt: u32) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(BACKOFF_CAP);
    let jitter = rand::random_range(0.5..1.0);
    capped.mul_f64(jitter)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sends `notifications/cancelled` for a request abandoned before its answer (the client
/// cancelled its call), unless disarmed.
struct Abandoned<'a> {
    peer: &'a Peer<RoleClient>,
    id: Option<RequestId>,
}

impl<'a> Abandoned<'a> {
    fn new(peer: &'a Peer<RoleClient>, id: RequestId) -> Self {
        Self { peer, id: Some(id) }
    }

    fn disarm(&mut self) {
        self.id = None;
    }
}

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else {
            return;
        };
        let peer = self.peer.clone();
        tokio::spawn(async move {
            let reason = "cancelled by the client".to_string();
            let _ = peer
                .notify_cancelled(CancelledNotificationParam::new(Some(id), Some(reason)))
                .await;
        });
    }
}

/// The hub's side of a downstream connection: who we are, what the server announces, and
/// the way back to the clients for what it sends during calls.
#[derive(Clone)]
pub struct Listener {
    /// Any of its lists (tools, prompts, resources) changed.
    tools_changed: Arc<Notify>,
    relay: Relay,
}

impl ClientHandler for Listener {
    /// Only what some client of the hub can do: a server is never promised sampling,
    /// elicitation or roots that no client could answer.
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            self.relay.clients.declared(),
            Implementation::new("pluggedin-mcp-hub", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        self.relay.log(params).await;
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        self.relay.create_message(params).await
    }

    async fn create_elicitation(
        &self,
        params: ElicitRequestParams,
        _: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        self.relay.create_elicitation(params).await
    }

    async fn list_roots(
        &self,
        _: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, ErrorData> {
        self.relay.list_roots().await
    }

    async fn on_task_status(
        &self,
        params: rmcp::model::TaskStatusNotificationParams,
        _: NotificationContext<RoleClient>,
    ) {
        self.relay.task_status(params).await;
    }

    async fn on_tool_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.tools_changed.notify_one();
    }

    async fn on_prompt_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.tools_changed.notify_one();
    }

    async fn on_resource_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.tools_changed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_errors_lose_their_type_names() {
        let raw = "Send message error Transport [rmcp::transport::worker::WorkerTransport<rmcp::X<reqwest::Client>>] error: Client error: error sending request for url (http://127.0.0.1:1/mcp), when send initialize request";
        assert_eq!(
            plain_error(raw),
            "error sending request for url (http://127.0.0.1:1/mcp), when send initialize request"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) <= BACKOFF_BASE && backoff(1) >= BACKOFF_BASE / 2);
        assert!(backoff(5) > backoff(1));
        assert!(backoff(40) <= BACKOFF_CAP);
    }
}
