//! The MCP surface: one file per domain (`#[tool_router]` each); this module combines them,
//! applies the tool selection, and implements `ServerHandler`.

mod agents;
mod clipboard;
mod documents;
mod notifications;
mod params;
mod rag;
pub mod reply;
pub mod schema;

use std::sync::Arc;

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    handler::server::tool::{ToolCallContext, ToolRouter},
    model::{
        CallToolRequestParams, CallToolResponse, ContentBlock, Implementation, ListToolsResult,
        PaginatedRequestParams, Resource, ServerCapabilities, ServerConfig, Tool,
    },
    service::RequestContext,
};
use tokio_util::sync::CancellationToken;

use crate::api::{ApiError, Client};

pub const SERVER_NAME: &str = "pluggedin-mcp";

/// Where the server's data lives, for the notes it gives the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Plugged.in itself.
    Cloud,
    /// The embedded API: agents are records only, no container runs.
    Local,
}

/// Which key a request uses upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamKey {
    /// The server's own key (or the embedded API's key in local mode).
    Server,
    /// The bearer token the MCP client sent on this request (`--auth passthrough`): one
    /// server can serve many Plugged.in users, each with their own key.
    Passthrough,
}

/// The MCP server. Cheap to clone; every HTTP session gets its own via
/// [`PluggedinServer::new_session`], sharing the immutable parts.
#[derive(Clone)]
pub struct PluggedinServer {
    state: Arc<State>,
}

struct State {
    client: Client,
    backend: Backend,
    upstream_key: UpstreamKey,
    tools: ToolRouter<PluggedinServer>,
}

impl PluggedinServer {
    pub fn new(client: Client, backend: Backend) -> Self {
        Self::with_upstream_key(client, backend, UpstreamKey::Server)
    }

    pub fn with_upstream_key(client: Client, backend: Backend, upstream_key: UpstreamKey) -> Self {
        Self {
            state: Arc::new(State {
                client,
                backend,
                upstream_key,
                tools: Self::all_tools(),
            }),
        }
    }

    /// A server for a new session: shares the client and the tool catalog.
    pub fn new_session(&self) -> Self {
        self.clone()
    }

    /// Every tool, with tidied schemas.
    fn all_tools() -> ToolRouter<Self> {
        let mut router = Self::agent_tools()
            + Self::document_tools()
            + Self::rag_tools()
            + Self::clipboard_tools()
            + Self::notification_tools();
        for route in router.map.values_mut() {
            route.attr.input_schema = Arc::new(schema::clean(&route.attr.input_schema));
            if let Some(out) = &route.attr.output_schema {
                route.attr.output_schema = Some(Arc::new(schema::clean(out)));
            }
        }
        router
    }

    /// The full tool catalog, independent of any configuration or backend.
    pub fn catalog() -> Vec<Tool> {
        Self::all_tools().list_all()
    }

    /// The tools this server lists, sorted by name.
    pub fn tools(&self) -> Vec<Tool> {
        self.state.tools.list_all()
    }

    pub fn backend(&self) -> Backend {
        self.state.backend
    }

    pub fn is_local(&self) -> bool {
        self.state.backend == Backend::Local
    }

    /// The upstream client for one request: with the server's key, or in passthrough mode
    /// with the bearer token of the HTTP request that carried this MCP request.
    fn client(&self, ctx: &RequestContext<RoleServer>) -> Result<Client, reply::ToolError> {
        match self.state.upstream_key {
            UpstreamKey::Server => Ok(self.state.client.clone()),
            UpstreamKey::Passthrough => crate::transport::bearer_of(ctx)
                .map(|key| self.state.client.with_key(key))
                .ok_or_else(|| {
                    reply::ToolError(
                        "this server forwards each client's bearer token to Plugged.in as its API key, and this request carried none; send `Authorization: Bearer <your Plugged.in API key>`".into(),
                    )
                }),
        }
    }

    /// Resource links to documents, so a client can attach them as context.
    fn doc_links<'a>(
        &self,
        docs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Vec<ContentBlock> {
        docs.into_iter()
            .map(|(id, title)| {
                ContentBlock::resource_link(Resource::new(
                    format!("pluggedin://docs/{id}"),
                    title.to_string(),
                ))
            })
            .collect()
    }

    pub fn instructions(&self) -> String {
        let mode = match self.state.backend {
            Backend::Local => {
                "LOCAL mode: no Plugged.in account is configured, so data lives in an embedded Plugged.in-compatible store on this machine. Agents are records only: no container is started, and an agent turns ACTIVE when a heartbeat is sent (agent_heartbeat)."
            }
            Backend::Cloud => "CLOUD mode: connected to Plugged.in with the user's API key.",
        };
        format!(
            "{mode} Tools cover PAP agents (create_agent, agent_status, control_agent…), the document library (search_docs, get_doc, create_doc…), the knowledge base (rag_ask), clipboard memory (clipboard_set/get as key-value, clipboard_push/pop as a stack) and notifications. Agents are addressed by uuid or name."
        )
    }
}

/// Runs an upstream call unless the client cancels first; dropping the call closes its
/// connection, so the upstream sees the abort.
pub(crate) async fn cancellable<T>(
    ct: &CancellationToken,
    call: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    tokio::select! {
        biased;
        _ = ct.cancelled() => Err(ApiError::Cancelled),
        result = call => result,
    }
}

impl ServerHandler for PluggedinServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new(SERVER_NAME, env!("CARGO_PKG_VERSION"))
                    .with_title("Plugged.in")
                    .with_website_url("https://plugged.in"),
            )
            .with_instructions(self.instructions())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let call = ToolCallContext::new(self, request, context);
        self.state.tools.call(call).await
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.state.tools.get(name).cloned()
    }
}
