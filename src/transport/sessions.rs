//! Streamable HTTP sessions whose ids name the replica that made them (`<replica>.<uuid>`,
//! with `--replica-id`), so a proxy in front of several replicas can send every request of
//! a session to the replica that holds it (see `deploy/nginx/pluggedin-mcp.conf`). Without
//! a replica id, ids are rmcp's own. Everything else is rmcp's local session manager.

use std::sync::Arc;

use futures::Stream;
use rmcp::{
    model::{ClientJsonRpcMessage, ServerJsonRpcMessage},
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

pub struct ReplicaSessions {
    pub inner: Arc<LocalSessionManager>,
    /// `<replica>.`, or none.
    prefix: Option<String>,
}

impl ReplicaSessions {
    pub fn new(inner: Arc<LocalSessionManager>, replica: Option<&str>) -> Self {
        Self {
            inner,
            prefix: replica.map(|r| format!("{r}.")),
        }
    }
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
        self.inner.create_stream(id, message).await
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
