//! A downstream connection's transport, tapped: a server's progress notifications are
//! forwarded to the client the moment they are read, before rmcp sees the message after
//! them. rmcp hands notifications to tasks of their own but the answer of a call straight to
//! its caller, so forwarded from a handler the last progress of a call could reach the
//! client after the call's answer, or be dropped with the call's registration.

use rmcp::{
    RoleClient,
    model::{JsonRpcMessage, ServerNotification},
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    transport::Transport,
};

use super::relay::Relay;

pub struct Tapped<T> {
    inner: T,
    relay: Relay,
}

impl<T> Tapped<T> {
    pub fn new(inner: T, relay: Relay) -> Self {
        Self { inner, relay }
    }
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for Tapped<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        let message = self.inner.receive().await?;
        if let JsonRpcMessage::Notification(n) = &message
            && let ServerNotification::ProgressNotification(progress) = &n.notification
        {
            self.relay.progress(progress.params.clone()).await;
        }
        Some(message)
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.inner.close().await
    }
}
