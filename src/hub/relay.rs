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
//!
//! A 2026-07-28 client cannot be sent requests at all: what a server asks during its call
//! is handed back to it with the call as an `input_required` result ([`super::bridge`]),
//! and its answer comes with the retry.
#![allow(
    deprecated,
    reason = "sampling, roots and logging are deprecated in 2026-07-28 (SEP-2577) but are how 2025-11-25 clients and servers talk"
)]

use std::sync::{Arc, Mutex};

use rmcp::{
    ErrorData, RoleServer,
    model::{
        ClientCapabilities, CreateMessageRequest, CreateMessageRequestParams, CreateMessageResult,
        ElicitRequest, ElicitRequestParams, ElicitResult, ErrorCode, InputRequest,
        ListRootsRequest, ListRootsResult, LoggingLevel, LoggingMessageNotificationParam,
        ProgressNotificationParam, ProgressToken, ServerNotification, TaskStatus,
        TaskStatusNotificationParams,
    },
    service::Peer,
};
use tokio::sync::{mpsc, oneshot};

use serde_json::Value;

use crate::redact::Scrubber;

/// Most client sessions remembered for requests made outside a call; the oldest go first.
const MAX_SESSIONS: usize = 1_024;
/// Most questions of one parked call waiting to be handed to its client.
const MAX_OPEN_QUESTIONS: usize = 16;

/// The client side of one call in flight to a downstream server.
pub struct Caller {
    /// The request the client is waiting on (for a parked call, its latest retry).
    reply: Mutex<Reply>,
    /// The lowest level of log messages the client wants during the call; `None`: none.
    pub log_level: Option<LoggingLevel>,
    /// What the client declared it can do.
    pub capabilities: ClientCapabilities,
    /// For a 2026-07-28 client, which cannot be sent requests: where what the server asks
    /// during the call goes, to come back to the client as an `input_required` result
    /// ([`super::bridge`]).
    questions: Option<mpsc::Sender<Question>>,
}

/// Where what a server sends during a call goes: the client's request and its progress token.
#[derive(Clone)]
pub struct Reply {
    pub peer: Peer<RoleServer>,
    /// The client's progress token for this request, if it asked for progress.
    pub progress_token: Option<ProgressToken>,
}

/// Something a server asked during a 2026-07-28 client's call, waiting for the client's
/// answer (the result of a sampling, elicitation or roots request, as JSON).
pub struct Question {
    pub request: InputRequest,
    pub answer: oneshot::Sender<Result<Value, ErrorData>>,
}

impl Caller {
    /// A caller of the 2025-11-25 kind: what the server asks goes to `reply.peer`.
    pub fn session(
        reply: Reply,
        log_level: Option<LoggingLevel>,
        capabilities: ClientCapabilities,
    ) -> Self {
        Self {
            reply: Mutex::new(reply),
            log_level,
            capabilities,
            questions: None,
        }
    }

    /// A 2026-07-28 caller: what the server asks is sent on the returned channel.
    pub fn parkable(
        reply: Reply,
        log_level: Option<LoggingLevel>,
        capabilities: ClientCapabilities,
    ) -> (Self, mpsc::Receiver<Question>) {
        let (questions, asked) = mpsc::channel(MAX_OPEN_QUESTIONS);
        (
            Self {
                reply: Mutex::new(reply),
                log_level,
                capabilities,
                questions: Some(questions),
            },
            asked,
        )
    }

    /// The request the client waits on now.
    pub fn reply(&self) -> Reply {
        lock(&self.reply).clone()
    }

    /// The client came back (a retry of a parked call): what follows goes to this request.
    pub fn replace_reply(&self, reply: Reply) {
        *lock(&self.reply) = reply;
    }

    pub fn peer(&self) -> Peer<RoleServer> {
        lock(&self.reply).peer.clone()
    }

    /// Whether the client speaks 2026-07-28 (it takes `input_required` results).
    pub fn takes_input_required(&self) -> bool {
        self.questions.is_some()
    }
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
pub struct Clients {
    sessions: Mutex<Vec<Arc<Session>>>,
    /// The union of what every client so far declared (2025-11-25 sessions as they join,
    /// 2026-07-28 clients with each request): what a downstream server is told the hub's
    /// client can do. It only grows; servers told less are reconnected when it does.
    declared: tokio::sync::watch::Sender<ClientCapabilities>,
}

impl Default for Clients {
    fn default() -> Self {
        Self {
            sessions: Mutex::default(),
            declared: tokio::sync::watch::Sender::new(ClientCapabilities::default()),
        }
    }
}

impl Clients {
    pub fn join(&self, session: Session) {
        self.declare(&session.capabilities);
        let mut sessions = lock(&self.sessions);
        sessions.retain(|s| !s.peer.is_transport_closed());
        if sessions.len() >= MAX_SESSIONS {
            sessions.remove(0);
        }
        sessions.push(Arc::new(session));
    }

    /// Adds what a client can do (sampling, elicitation and its URL mode, roots) to what
    /// servers may be promised.
    pub fn declare(&self, caps: &ClientCapabilities) {
        self.declared.send_if_modified(|declared| {
            let mut grew = false;
            if declared.sampling.is_none() && caps.sampling.is_some() {
                declared.sampling = caps.sampling.clone();
                grew = true;
            }
            match (&mut declared.elicitation, &caps.elicitation) {
                (None, Some(new)) => {
                    declared.elicitation = Some(new.clone());
                    grew = true;
                }
                (Some(old), Some(new)) if old.url.is_none() && new.url.is_some() => {
                    old.url = new.url.clone();
                    grew = true;
                }
                _ => {}
            }
            if declared.roots.is_none() && caps.roots.is_some() {
                declared.roots = caps.roots.clone();
                grew = true;
            }
            grew
        });
    }

    /// What a downstream server connecting now is told the client can do: sampling,
    /// elicitation and roots, each only when some client declared it.
    pub fn declared(&self) -> ClientCapabilities {
        self.declared.borrow().clone()
    }

    /// Changes of [`Self::declared`], for connections promised less.
    pub fn watch_declared(&self) -> tokio::sync::watch::Receiver<ClientCapabilities> {
        self.declared.subscribe()
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
    fn of(request: &InputRequest) -> Result<Self, ErrorData> {
        Ok(match request {
            InputRequest::CreateMessage(_) => Need::Sampling,
            InputRequest::Elicitation(r) => Need::Elicitation {
                url: matches!(r.params, ElicitRequestParams::UrlElicitationParams { .. }),
            },
            InputRequest::ListRoots(_) => Need::Roots,
            _ => return Err(Self::unknown()),
        })
    }

    fn unknown() -> ErrorData {
        ErrorData::new(
            ErrorCode::METHOD_NOT_FOUND,
            "pluggedin-mcp does not know this kind of request, so cannot relay it to its client",
            None,
        )
    }

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
    /// Who subscribed to which resource.
    pub subscriptions: Arc<super::subscriptions::Subscriptions>,
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
        let reply = caller.reply();
        let Some(token) = reply.progress_token else {
            return;
        };
        params.progress_token = token;
        params.message = params.message.map(|m| self.scrubber.scrub(&m).into_owned());
        let _ = reply.peer.notify_progress(params).await;
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
                let _ = caller.peer().notify_logging_message(params).await;
            }
            return;
        }
        for session in self.clients.live() {
            if passes((session.log_level)()) {
                let _ = session.peer.notify_logging_message(params.clone()).await;
            }
        }
    }

    /// Tells the clients that subscribed to `uri` through this server that it changed.
    pub async fn resource_updated(&self, uri: String) {
        self.subscriptions.updated(&self.name, &uri).await;
    }

    pub async fn create_message(
        &self,
        params: CreateMessageRequestParams,
    ) -> Result<CreateMessageResult, ErrorData> {
        let request = InputRequest::CreateMessage(CreateMessageRequest::new(params));
        typed(self.ask(request).await?)
    }

    pub async fn create_elicitation(
        &self,
        params: ElicitRequestParams,
    ) -> Result<ElicitResult, ErrorData> {
        let request = InputRequest::Elicitation(ElicitRequest::new(params));
        typed(self.ask(request).await?)
    }

    pub async fn list_roots(&self) -> Result<ListRootsResult, ErrorData> {
        typed(
            self.ask(InputRequest::ListRoots(ListRootsRequest::default()))
                .await?,
        )
    }

    /// Has a client answer what a server asked (sampling, elicitation, roots): the client
    /// whose call is in flight — sent to it, or for a 2026-07-28 client handed back with
    /// its call as an `input_required` result — or with no call in flight, the latest
    /// 2025-11-25 session that can answer. The answer is the client's result as JSON (what
    /// `inputResponses` and `tasks/update` carry).
    pub async fn ask(&self, request: InputRequest) -> Result<Value, ErrorData> {
        let need = Need::of(&request)?;
        let Some(caller) = self.in_flight.latest() else {
            let session = self.clients.latest_with(need).ok_or_else(|| {
                unanswerable(format!(
                    "no client of pluggedin-mcp that supports {} is connected",
                    need.name()
                ))
            })?;
            return self.send(&session.peer, need, request).await;
        };
        if !need.declared_in(&caller.capabilities) {
            return Err(unanswerable(format!(
                "the client calling this server through pluggedin-mcp does not support {}",
                need.name()
            )));
        }
        let Some(questions) = &caller.questions else {
            return self.send(&caller.peer(), need, request).await;
        };
        let (answer, answered) = oneshot::channel();
        questions
            .send(Question { request, answer })
            .await
            .map_err(|_| self.unanswered(need))?;
        answered.await.map_err(|_| self.unanswered(need))?
    }

    /// Sends a request to a 2025-11-25 client and returns its answer as JSON.
    async fn send(
        &self,
        peer: &Peer<RoleServer>,
        need: Need,
        request: InputRequest,
    ) -> Result<Value, ErrorData> {
        let answer = match request {
            InputRequest::CreateMessage(r) => peer
                .create_message(r.params)
                .await
                .map(serde_json::to_value),
            InputRequest::Elicitation(r) => peer
                .create_elicitation(r.params)
                .await
                .map(serde_json::to_value),
            InputRequest::ListRoots(_) => peer.list_roots().await.map(serde_json::to_value),
            _ => return Err(Need::unknown()),
        };
        answer
            .map_err(|e| self.client_failed(need, e))?
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))
    }

    fn unanswered(&self, need: Need) -> ErrorData {
        ErrorData::internal_error(
            format!(
                "the client did not answer the {} request: its call ended or was not retried in time",
                need.name()
            ),
            None,
        )
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

/// A request no client can take: refused at once, so the server does not wait.
fn unanswerable(message: String) -> ErrorData {
    ErrorData::new(ErrorCode::METHOD_NOT_FOUND, message, None)
}

/// A client's answer, as the type the server's request expects.
fn typed<T: serde::de::DeserializeOwned>(answer: Value) -> Result<T, ErrorData> {
    serde_json::from_value(answer).map_err(|e| {
        ErrorData::internal_error(format!("the client's answer is not valid: {e}"), None)
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
