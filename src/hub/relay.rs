//! What flows back from downstream servers to the clients of the hub: a call's progress
//! (under the client's own progress token), log messages (marked with the server, at the
//! client's level), and the requests a server makes of its client — sampling, elicitation,
//! roots — each routed to the client it belongs to.
//!
//! Which client a server's request belongs to: the client whose call to that server is in
//! flight (the latest, when several are); with none in flight (a server asking for roots
//! after it starts, say), the most recent live session that declared the capability. A
//! request no client can take fails at once with an error naming the capability, so the
//! server never waits for an answer that cannot come.
#![allow(
    deprecated,
    reason = "sampling, roots and logging are deprecated in 2026-07-28 (SEP-2577) but are how 2025-11-25 clients and servers talk"
)]

use std::sync::{Arc, Mutex};

use rmcp::{
    ErrorData, RoleServer,
    model::{
        ClientCapabilities, CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams,
        ElicitResult, ErrorCode, InputRequest, ListRootsResult, LoggingLevel,
        LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken,
        ServerNotification, TaskStatus, TaskStatusNotificationParams,
    },
    service::Peer,
};

use serde_json::Value;

use crate::redact::Scrubber;

/// Most client sessions remembered for requests made outside a call; the oldest go first.
const MAX_SESSIONS: usize = 1_024;

/// The client side of one call in flight to a downstream server.
pub struct Caller {
    pub peer: Peer<RoleServer>,
    /// The client's progress token for this call, if it asked for progress.
    pub progress_token: Option<ProgressToken>,
    /// The lowest level of log messages the client wants during the call; `None`: none.
    pub log_level: Option<LoggingLevel>,
    /// What the client declared it can do.
    pub capabilities: ClientCapabilities,
}

/// A client session of the hub, for what a server sends outside any call.
pub struct Session {
    pub peer: Peer<RoleServer>,
    pub capabilities: ClientCapabilities,
    /// The lowest log level the session wants now (`logging/setLevel`); `None`: none.
    pub log_level: Arc<dyn Fn() -> Option<LoggingLevel> + Send + Sync>,
}

/// The hub's client sessions, and what the hub may promise downstream servers on their
/// behalf.
#[derive(Default)]
pub struct Clients {
    sessions: Mutex<Vec<Arc<Session>>>,
    /// The union of what every session so far declared: what downstream servers that connect
    /// from now on are told the hub's client can do.
    declared: Mutex<ClientCapabilities>,
}

impl Clients {
    pub fn join(&self, session: Session) {
        {
            let mut declared = lock(&self.declared);
            let caps = &session.capabilities;
            if declared.sampling.is_none() {
                declared.sampling = caps.sampling.clone();
            }
            if declared.elicitation.is_none() {
                declared.elicitation = caps.elicitation.clone();
            }
            if declared.roots.is_none() {
                declared.roots = caps.roots.clone();
            }
        }
        let mut sessions = lock(&self.sessions);
        sessions.retain(|s| !s.peer.is_transport_closed());
        if sessions.len() >= MAX_SESSIONS {
            sessions.remove(0);
        }
        sessions.push(Arc::new(session));
    }

    /// What a downstream server connecting now is told the client can do: sampling,
    /// elicitation and roots, each only when some client declared it.
    pub fn declared(&self) -> ClientCapabilities {
        let declared = lock(&self.declared);
        let mut caps = ClientCapabilities::default();
        caps.sampling = declared.sampling.clone();
        caps.elicitation = declared.elicitation.clone();
        caps.roots = declared.roots.clone();
        caps
    }

    /// The most recent live session that can take `need`.
    fn latest_with(&self, need: Need) -> Option<Arc<Session>> {
        lock(&self.sessions)
            .iter()
            .rev()
            .find(|s| !s.peer.is_transport_closed() && need.declared_in(&s.capabilities))
            .cloned()
    }

    fn live(&self) -> Vec<Arc<Session>> {
        lock(&self.sessions)
            .iter()
            .filter(|s| !s.peer.is_transport_closed())
            .cloned()
            .collect()
    }
}

/// The calls in flight to one downstream server, by the progress token the hub's request
/// carries to it.
#[derive(Default)]
pub struct InFlight {
    calls: Mutex<Vec<(ProgressToken, Arc<Caller>)>>,
}

impl InFlight {
    /// Registers a call until the returned guard is dropped.
    pub fn register(self: &Arc<Self>, token: ProgressToken, caller: Arc<Caller>) -> Registered {
        lock(&self.calls).push((token.clone(), caller));
        Registered {
            in_flight: self.clone(),
            token,
        }
    }

    fn by_token(&self, token: &ProgressToken) -> Option<Arc<Caller>> {
        lock(&self.calls)
            .iter()
            .find(|(t, _)| t == token)
            .map(|(_, c)| c.clone())
    }

    /// Whether a call is in flight.
    pub fn any(&self) -> bool {
        !lock(&self.calls).is_empty()
    }

    fn latest(&self) -> Option<Arc<Caller>> {
        lock(&self.calls).last().map(|(_, c)| c.clone())
    }
}

/// Keeps a call registered in [`InFlight`] while it lives.
pub struct Registered {
    in_flight: Arc<InFlight>,
    token: ProgressToken,
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock(&self.in_flight.calls).retain(|(t, _)| t != &self.token);
    }
}

/// A client capability a server's request needs.
#[derive(Debug, Clone, Copy)]
enum Need {
    Sampling,
    Elicitation { url: bool },
    Roots,
}

impl Need {
    fn declared_in(self, caps: &ClientCapabilities) -> bool {
        match self {
            Need::Sampling => caps.sampling.is_some(),
            // A client that declares `elicitation: {}` supports the form mode only.
            Need::Elicitation { url: false } => caps.elicitation.is_some(),
            Need::Elicitation { url: true } => {
                caps.elicitation.as_ref().is_some_and(|e| e.url.is_some())
            }
            Need::Roots => caps.roots.is_some(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Need::Sampling => "sampling",
            Need::Elicitation { url: false } => "elicitation",
            Need::Elicitation { url: true } => "URL-mode elicitation",
            Need::Roots => "roots",
        }
    }
}

/// One downstream server's way back to the clients.
#[derive(Clone)]
pub struct Relay {
    /// How the server is named to clients (its tool prefix).
    pub server: String,
    /// Its configured name (the key of its tasks).
    pub name: String,
    /// The hub's tasks, for the server's task status notifications.
    pub tasks: Arc<super::tasks::Tasks>,
    pub in_flight: Arc<InFlight>,
    pub clients: Arc<Clients>,
    /// Removes the server's own secrets from what it sends back.
    pub scrubber: Scrubber,
}

impl Relay {
    /// Forwards a progress notification to the client whose call it belongs to, under that
    /// client's token; progress for a call the client asked none for (or that is over) is
    /// dropped.
    pub async fn progress(&self, mut params: ProgressNotificationParam) {
        let Some(caller) = self.in_flight.by_token(&params.progress_token) else {
            return;
        };
        let Some(token) = caller.progress_token.clone() else {
            return;
        };
        params.progress_token = token;
        params.message = params.message.map(|m| self.scrubber.scrub(&m).into_owned());
        let _ = caller.peer.notify_progress(params).await;
    }

    /// Forwards a log message, marked with the server: to the client whose call is in
    /// flight, or with none to every session, each at its own level.
    pub async fn log(&self, mut params: LoggingMessageNotificationParam) {
        params.logger = Some(match params.logger.take() {
            Some(logger) => format!("{}/{logger}", self.server),
            None => self.server.clone(),
        });
        params.data = self.scrub_value(params.data);
        let passes =
            |min: Option<LoggingLevel>| min.is_some_and(|min| params.level as u8 >= min as u8);
        if let Some(caller) = self.in_flight.latest() {
            if passes(caller.log_level) {
                let _ = caller.peer.notify_logging_message(params).await;
            }
            return;
        }
        for session in self.clients.live() {
            if passes((session.log_level)()) {
                let _ = session.peer.notify_logging_message(params.clone()).await;
            }
        }
    }

    pub async fn create_message(
        &self,
        params: CreateMessageRequestParams,
    ) -> Result<CreateMessageResult, ErrorData> {
        let peer = self.target(Need::Sampling)?;
        peer.create_message(params)
            .await
            .map_err(|e| self.client_failed(Need::Sampling, e))
    }

    pub async fn create_elicitation(
        &self,
        params: ElicitRequestParams,
    ) -> Result<ElicitResult, ErrorData> {
        let need = Need::Elicitation {
            url: matches!(params, ElicitRequestParams::UrlElicitationParams { .. }),
        };
        let peer = self.target(need)?;
        peer.create_elicitation(params)
            .await
            .map_err(|e| self.client_failed(need, e))
    }

    pub async fn list_roots(&self) -> Result<ListRootsResult, ErrorData> {
        let peer = self.target(Need::Roots)?;
        peer.list_roots()
            .await
            .map_err(|e| self.client_failed(Need::Roots, e))
    }

    /// Answers one request a server made inside a task (SEP-2663 `inputRequests`) through
    /// the client whose call is following it; the answer is what `tasks/update` carries.
    pub async fn answer_input(&self, request: InputRequest) -> Result<Value, ErrorData> {
        let answer = match request {
            InputRequest::CreateMessage(r) => {
                serde_json::to_value(self.create_message(r.params).await?)
            }
            InputRequest::Elicitation(r) => {
                serde_json::to_value(self.create_elicitation(r.params).await?)
            }
            InputRequest::ListRoots(_) => serde_json::to_value(self.list_roots().await?),
            _ => {
                return Err(ErrorData::new(
                    ErrorCode::METHOD_NOT_FOUND,
                    "pluggedin-mcp does not know this kind of request, so cannot relay it to its client",
                    None,
                ));
            }
        };
        answer.map_err(|e| ErrorData::internal_error(e.to_string(), None))
    }

    /// Forwards a server's `notifications/tasks` to the client that owns the task, under
    /// the hub's id for it. Only while the task runs (working, input required, cancelled):
    /// a final result or error is read with `tasks/get`, where it is scrubbed and held to
    /// the result budget like every answer. Tasks the hub does not know are dropped.
    pub async fn task_status(&self, mut params: TaskStatusNotificationParams) {
        let status = params.task.status();
        if matches!(status, TaskStatus::Completed | TaskStatus::Failed) {
            return;
        }
        let Some((id, owner)) = self.tasks.owner(&self.name, &params.task.task.task_id) else {
            return;
        };
        params.task.task.task_id = id;
        params.task.task.status_message = params
            .task
            .task
            .status_message
            .map(|m| self.scrubber.scrub(&m).into_owned());
        let notification = ServerNotification::TaskStatusNotification(
            rmcp::model::TaskStatusNotification::new(params),
        );
        let _ = owner.send_notification(notification).await;
    }

    /// The client a request needing `need` goes to (see the module's doc).
    fn target(&self, need: Need) -> Result<Peer<RoleServer>, ErrorData> {
        if let Some(caller) = self.in_flight.latest() {
            if need.declared_in(&caller.capabilities) {
                return Ok(caller.peer.clone());
            }
            return Err(ErrorData::new(
                ErrorCode::METHOD_NOT_FOUND,
                format!(
                    "the client calling this server through pluggedin-mcp does not support {}",
                    need.name()
                ),
                None,
            ));
        }
        self.clients
            .latest_with(need)
            .map(|s| s.peer.clone())
            .ok_or_else(|| {
                ErrorData::new(
                    ErrorCode::METHOD_NOT_FOUND,
                    format!(
                        "no client of pluggedin-mcp that supports {} is connected",
                        need.name()
                    ),
                    None,
                )
            })
    }

    fn client_failed(&self, need: Need, error: rmcp::ServiceError) -> ErrorData {
        match error {
            rmcp::ServiceError::McpError(data) => data,
            other => ErrorData::internal_error(
                format!(
                    "the client did not answer the {} request: {other}",
                    need.name()
                ),
                None,
            ),
        }
    }

    fn scrub_value(&self, value: serde_json::Value) -> serde_json::Value {
        let text = value.to_string();
        match self.scrubber.scrub(&text) {
            std::borrow::Cow::Borrowed(_) => value,
            std::borrow::Cow::Owned(clean) => {
                serde_json::from_str(&clean).unwrap_or(serde_json::Value::String(clean))
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
