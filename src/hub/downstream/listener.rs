//! The hub's client side of a downstream connection: who we are, what we promise the
//! server, what it announces, and the way back to the clients for what it sends.

use std::sync::Arc;

use rmcp::{
    ClientHandler, ErrorData, RoleClient,
    model::{
        ClientCapabilities, ClientConfig, CreateMessageRequestParams, CreateMessageResult,
        ElicitRequestParams, ElicitResult, Implementation, ListRootsResult,
        LoggingMessageNotificationParam, ResourceUpdatedNotificationParam,
        TaskStatusNotificationParams,
    },
    service::{NotificationContext, RequestContext},
};
use tokio::sync::Notify;

use crate::hub::relay::Relay;

#[derive(Clone)]
pub struct Listener {
    /// Any of its lists (tools, prompts, resources) changed.
    pub lists_changed: Arc<Notify>,
    pub relay: Relay,
    /// What the server is told the hub's client can do: only what some client of the hub
    /// declared, so a server is never promised sampling, elicitation or roots that no
    /// client could answer.
    pub promised: ClientCapabilities,
}

impl Listener {
    pub fn new(lists_changed: Arc<Notify>, relay: Relay) -> Self {
        let promised = relay.clients.declared();
        Self {
            lists_changed,
            relay,
            promised,
        }
    }
}

impl ClientHandler for Listener {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            self.promised.clone(),
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
        params: TaskStatusNotificationParams,
        _: NotificationContext<RoleClient>,
    ) {
        self.relay.task_status(params).await;
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        self.relay.resource_updated(params.uri).await;
    }

    async fn on_tool_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.lists_changed.notify_one();
    }

    async fn on_prompt_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.lists_changed.notify_one();
    }

    async fn on_resource_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.lists_changed.notify_one();
    }
}
