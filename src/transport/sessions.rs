//! Streamable HTTP sessions whose ids name the replica that made them (`<replica>.<uuid>`,
//! with `--replica-id`), so a proxy in front of several replicas can send every request of
//! a session to the replica that holds it (see `deploy/nginx/pluggedin-mcp.conf`). Without
//! a replica id, ids are rmcp's own. And the requests of a session in flight, each with an
//! id of its own and at most [`MAX_IN_FLIGHT`] of them: rmcp routes an answer to the stream
//! of the request with its id, so a second request with the same id would leave the first
//! one's caller waiting for ever. Everything else is rmcp's local session manager.

use std::{
    collections::{HashMap, HashSet},
    pin::Pin,
    sync::{Arc, Mutex},
};

use futures::{Stream, StreamExt};
use rmcp::{
    model::{ClientJsonRpcMessage, ErrorData, ServerJsonRpcMessage},
    transport::{
        WorkerTransport,
        streamable_http_server::{
            RestoreOutcome, SessionId, SessionManager,
            session::{
                ServerSseMessage,
                local::{
                    LocalSessionManager, LocalSessionManagerError, LocalSessionWorker,
                    create_local_session,
                },
            },
        },
    },
};

use super::jsonrpc::{INVALID_REQUEST, MAX_IN_FLIGHT, SERVER_ERROR};

pub struct ReplicaSessions {
    pub inner: Arc<LocalSessionManager>,
    /// `<replica>.`, or none.
    prefix: Option<String>,
    in_flight: InFlight,
}

impl ReplicaSessions {
    pub fn new(inner: Arc<LocalSessionManager>, replica: Option<&str>) -> Self {
        Self {
            inner,
            prefix: replica.map(|r| format!("{r}.")),
            in_flight: InFlight::default(),
        }
    }
}

/// The ids of each session's requests whose answer streams are open.
#[derive(Clone, Default)]
struct InFlight(Arc<Mutex<HashMap<SessionId, HashSet<String>>>>);

impl InFlight {
    fn ids(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, HashSet<String>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes `request` in `session`, or says why not.
    fn enter(&self, session: &SessionId, request: &str) -> Result<Entered, ErrorData> {
        let mut ids = self.ids();
        let open = ids.entry(session.clone()).or_default();
        if open.contains(request) {
            return Err(ErrorData::new(
                rmcp::model::ErrorCode(INVALID_REQUEST as i32),
                format!(
                    "Invalid Request: a request with id {request} is already in flight in this session; each request needs an id of its own"
                ),
                None,
            ));
        }
        if open.len() >= MAX_IN_FLIGHT {
            return Err(ErrorData::new(
                rmcp::model::ErrorCode(SERVER_ERROR as i32),
                format!(
                    "Too many requests in flight: this session may have {MAX_IN_FLIGHT} unanswered at once; wait for answers before sending more"
                ),
                None,
            ));
        }
        open.insert(request.to_string());
        Ok(Entered {
            in_flight: self.clone(),
            session: session.clone(),
            request: request.to_string(),
        })
    }
}

/// A request in flight: it leaves when its answer stream ends or is dropped.
struct Entered {
    in_flight: InFlight,
    session: SessionId,
    request: String,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let mut ids = self.in_flight.ids();
        if let Some(open) = ids.get_mut(&self.session) {
            open.remove(&self.request);
            if open.is_empty() {
                ids.remove(&self.session);
            }
        }
    }
}

type AnswerStream = Pin<Box<dyn Stream<Item = ServerSseMessage> + Send + Sync + 'static>>;

/// The one message of a request refused before it reached the session.
fn refused(id: rmcp::model::RequestId, error: ErrorData) -> AnswerStream {
    let message = ServerJsonRpcMessage::error(error, Some(id));
    Box::pin(futures::stream::iter([ServerSseMessage::from_message(
        message,
    )]))
}

impl SessionManager for ReplicaSessions {
    type Error = LocalSessionManagerError;
    type Transport = WorkerTransport<LocalSessionWorker>;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        let Some(prefix) = &self.prefix else {
            return self.inner.create_session().await;
        };
        let id: SessionId = format!("{prefix}{}", uuid::Uuid::new_v4().simple()).into();
        let (handle, worker) = create_local_session(id.clone(), self.inner.session_config.clone());
        self.inner.sessions.write().await.insert(id.clone(), handle);
        Ok((id, WorkerTransport::spawn(worker)))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        self.inner.initialize_session(id, message).await
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.inner.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.inner.close_session(id).await
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let ClientJsonRpcMessage::Request(request) = &message else {
            let stream: AnswerStream = Box::pin(self.inner.create_stream(id, message).await?);
            return Ok(stream);
        };
        let request_id = request.id.clone();
        let entered = match self.in_flight.enter(id, &request_id.to_string()) {
            Ok(entered) => entered,
            Err(error) => return Ok(refused(request_id, error)),
        };
        let answers = self.inner.create_stream(id, message).await?;
        // The entry goes with the stream (`entered` moves into the closure it owns).
        let stream: AnswerStream = Box::pin(answers.map(move |m| {
            let _ = &entered;
            m
        }));
        Ok(stream)
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.inner.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.create_standalone_stream(id).await
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.resume(id, last_event_id).await
    }

    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        self.inner.restore_session(id).await
    }
}
