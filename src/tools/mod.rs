//! The MCP surface: tools (one file per domain, `#[tool_router]` each), resources, prompts,
//! completions and logging. This module combines them, applies the selection
//! (`--toolsets`, `--read-only`), and implements `ServerHandler`.

mod agents;
pub mod budget;
mod clipboard;
mod completion;
mod documents;
mod downstream;
mod hub;
mod logging;
mod memory;
mod notifications;
mod params;
mod prompts;
mod rag;
pub mod registry;
pub mod reply;
mod resources;
pub mod schema;
pub mod selection;

use std::{collections::BTreeMap, sync::Arc};

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    handler::server::tool::{ToolCallContext, ToolRouter},
    model::{
        CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams,
        CompleteRequestParams, CompleteResult, ContentBlock, GetPromptRequestParams,
        GetPromptResponse, GetTaskParams, GetTaskResult, Implementation, ListPromptsResult,
        ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
        ReadResourceRequestParams, ReadResourceResponse, Resource, ServerCapabilities,
        ServerConfig, TaskPayload, Tool, UpdateTaskParams,
    },
    service::RequestContext,
};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    api::{ApiError, Client},
    metrics,
    secret::Secret,
};
pub use selection::{Selection, Toolset};

pub const SERVER_NAME: &str = "pluggedin-mcp";

/// The tool, prompt and template lists never change while the server runs, and are the
/// same for every user: clients may cache them for an hour.
const STATIC_LIST_TTL_MS: u64 = 3_600_000;

/// URIs this server answers itself; a downstream server cannot take them over.
const OWN_URI_SCHEME: &str = "pluggedin://";

/// The tools about the hub, listed only while it has servers.
const HUB_TOOLS: &[&str] = &["hub_status", "hub_refresh"];
/// Listed instead of the downstream tools when the hub searches ([`crate::hub::Hub::searching`]).
const SEARCH_TOOLS: &[&str] = &["hub_search_tools", "hub_call_tool"];
/// With a hub, the tool list follows the user's servers: clients may cache it for as long as
/// the account's servers are polled, and only for this user.
const HUB_LIST_TTL_MS: u64 = 60_000;
/// ... and while a server is still starting, only briefly: its tools are about to join the
/// list, and a 2026-07-28 client that is not listening for changes would miss them.
const HUB_SETTLING_TTL_MS: u64 = 1_000;

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

/// The Plugged.in key an MCP client presented (its bearer token, `--auth passthrough`). The
/// HTTP transport puts it in the request's extensions; rmcp hands those to the handlers.
#[derive(Clone, Debug)]
pub struct ClientKey(pub Secret);

impl ClientKey {
    /// The key of the HTTP request that carried this MCP request, if it brought one.
    fn of(ctx: &RequestContext<RoleServer>) -> Option<Secret> {
        Self::from_extensions(&ctx.extensions)
    }

    fn from_extensions(extensions: &rmcp::model::Extensions) -> Option<Secret> {
        let parts = extensions.get::<axum::http::request::Parts>()?;
        parts.extensions.get::<ClientKey>().map(|k| k.0.clone())
    }
}

/// How a server is set up.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub backend: Backend,
    pub upstream_key: UpstreamKey,
    pub selection: Selection,
    /// The configuration cannot work (e.g. the key is an unexpanded placeholder): every call
    /// answers with this, and the instructions lead with it.
    pub config_error: Option<String>,
    /// The byte budget of every tool result and resource read.
    pub budget: budget::Budget,
    /// The time (shared with the embedded API in local mode; tests move it).
    pub clock: crate::clock::Clock,
    /// The user's own MCP servers (hub mode), when configured: one hub for the server, or
    /// one per client key (`--auth passthrough`).
    pub hub: Option<HubAccess>,
    /// With `--auth passthrough`: the verdicts on clients' keys (a key Plugged.in stops
    /// accepting is refused at the door from then on).
    pub key_checks: Option<Arc<crate::api::keys::KeyChecks>>,
}

/// Where a request finds its hub.
#[derive(Clone)]
pub enum HubAccess {
    /// One hub for every client (stdio, token mode, local mode).
    Shared(crate::hub::Hub),
    /// Each client key its own ([`crate::hub::tenants`]).
    PerKey(Arc<crate::hub::tenants::Tenants>),
}

impl std::fmt::Debug for HubAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HubAccess::Shared(hub) => hub.fmt(f),
            HubAccess::PerKey(tenants) => write!(f, "PerKey({} keys)", tenants.len()),
        }
    }
}

impl ServerOptions {
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            upstream_key: UpstreamKey::Server,
            selection: Selection::all(),
            config_error: None,
            budget: budget::Budget::default(),
            clock: crate::clock::Clock::default(),
            hub: None,
            key_checks: None,
        }
    }
}

/// The MCP server. Each session gets its own via [`PluggedinServer::new_session`]: the
/// client, catalog and caches are shared, the session state (log level) is not.
#[derive(Clone)]
pub struct PluggedinServer {
    shared: Arc<Shared>,
    session: Arc<logging::SessionLog>,
    /// The hub lists this session has read (only those are announced as changed).
    seen: Arc<downstream::SeenLists>,
}

struct Shared {
    client: Client,
    options: ServerOptions,
    registry: registry::Registry,
    /// The registry's tools as this server offers them (`--toolsets`, `--read-only`).
    tools: ToolRouter<PluggedinServer>,
    completions: completion::CompletionCache,
}

impl PluggedinServer {
    /// A server over `client`; fails when a tool is registered without what the registry
    /// requires of it.
    pub fn new(client: Client, options: ServerOptions) -> Result<Self, registry::RegistryError> {
        let registry = registry::Registry::build()?;
        let mut tools = registry.offered(&options.selection);
        if options.hub.is_none() {
            for tool in Self::hub_tools().list_all() {
                tools.disable_route(tool.name);
            }
        }
        Ok(Self {
            shared: Arc::new(Shared {
                client,
                options,
                registry,
                tools,
                completions: completion::CompletionCache::default(),
            }),
            session: Arc::default(),
            seen: Arc::default(),
        })
    }

    /// A server for a new session: same client, catalog and caches; fresh session state.
    pub fn new_session(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            session: Arc::default(),
            seen: Arc::default(),
        }
    }

    /// The tools of one toolset, as its domain's router declares them. Matching every
    /// toolset here is what makes a new toolset without tools fail to compile.
    pub(crate) fn router_of(set: Toolset) -> ToolRouter<Self> {
        match set {
            Toolset::Agents => Self::agent_tools(),
            Toolset::Docs => Self::document_tools(),
            Toolset::Rag => Self::rag_tools(),
            Toolset::Clipboard => Self::clipboard_tools(),
            Toolset::Notifications => Self::notification_tools(),
            Toolset::Memory => Self::memory_tools(),
            Toolset::Hub => Self::hub_tools(),
        }
    }

    /// The full tool catalog, independent of any configuration or backend.
    pub fn catalog() -> Result<Vec<Tool>, registry::RegistryError> {
        Ok(registry::Registry::build()?.tools())
    }

    /// The tools this server lists with `hub`, sorted by name: its own, then (hub mode)
    /// the downstream servers' tools under their `<prefix>__<tool>` names.
    pub fn tools(&self, hub: Option<&crate::hub::Hub>) -> Vec<Tool> {
        let mut tools = self.shared.tools.list_all();
        match hub {
            // A catalog too big to list: found with hub_search_tools, called with
            // hub_call_tool (or by name: every downstream tool still routes).
            Some(hub) if !hub.is_empty() && hub.searching() => {}
            Some(hub) if !hub.is_empty() => {
                tools.retain(|t| !SEARCH_TOOLS.contains(&t.name.as_ref()));
                // A server offered under its tools' own names cannot take one of ours.
                tools.extend(
                    hub.tools()
                        .into_iter()
                        .filter(|t| !self.shared.tools.has_route(&t.name)),
                );
            }
            // No servers (yet): the hub's own tools would only be noise.
            _ => tools.retain(|t| {
                !HUB_TOOLS.contains(&t.name.as_ref()) && !SEARCH_TOOLS.contains(&t.name.as_ref())
            }),
        }
        tools
    }

    /// How long clients may cache the tool, prompt and template lists, and for whom: ours
    /// never change while we run and are the same for everyone; with a hub, downstream
    /// servers change them at any time (`list_changed` says when) and they are this user's.
    fn list_cache_hint(&self, hub: Option<&crate::hub::Hub>) -> (u64, CacheScope) {
        match (self.hub_access(), hub) {
            (Some(_), Some(hub)) if hub.settling() => (HUB_SETTLING_TTL_MS, CacheScope::Private),
            (Some(_), _) => (HUB_LIST_TTL_MS, CacheScope::Private),
            (None, _) => (STATIC_LIST_TTL_MS, CacheScope::Public),
        }
    }

    /// How requests reach a hub, when one is configured and its toolset selected.
    fn hub_access(&self) -> Option<&HubAccess> {
        self.shared
            .options
            .hub
            .as_ref()
            .filter(|_| self.selection().has(Toolset::Hub))
    }

    /// The one hub of every client, when there is one (not per key).
    fn shared_hub(&self) -> Option<&crate::hub::Hub> {
        match self.hub_access()? {
            HubAccess::Shared(hub) => Some(hub),
            HubAccess::PerKey(_) => None,
        }
    }

    /// The hub of the request that carried `extensions`: the shared one, or the one of its
    /// client key; otherwise why there is none (no hub configured, no key, a key Plugged.in
    /// refuses).
    async fn hub_or_why(
        &self,
        extensions: &rmcp::model::Extensions,
    ) -> Result<crate::hub::Hub, String> {
        match self.hub_access() {
            None => Err("hub mode is off: start pluggedin-mcp with --servers FILE to reach your own MCP servers".into()),
            Some(HubAccess::Shared(hub)) => Ok(hub.clone()),
            Some(HubAccess::PerKey(tenants)) => {
                let key = ClientKey::from_extensions(extensions).ok_or_else(|| {
                    "this request carried no API key: send `Authorization: Bearer <your Plugged.in API key>`".to_string()
                })?;
                tenants.hub_for(&key).await.map_err(|refusal| refusal.to_string())
            }
        }
    }

    /// [`Self::hub_or_why`], for the handlers that simply go without a hub.
    async fn hub(&self, extensions: &rmcp::model::Extensions) -> Option<crate::hub::Hub> {
        self.hub_access()?;
        self.hub_or_why(extensions)
            .await
            .inspect_err(|why| tracing::debug!("no hub for this request: {why}"))
            .ok()
    }

    pub fn backend(&self) -> Backend {
        self.shared.options.backend
    }

    pub fn is_local(&self) -> bool {
        self.backend() == Backend::Local
    }

    fn selection(&self) -> &Selection {
        &self.shared.options.selection
    }

    fn budget(&self) -> budget::Budget {
        self.shared.options.budget
    }

    fn clock(&self) -> &crate::clock::Clock {
        &self.shared.options.clock
    }

    fn completion_cache(&self) -> &completion::CompletionCache {
        &self.shared.completions
    }

    /// The upstream client for one request: with the server's key, or in passthrough mode
    /// with the bearer token of the HTTP request that carried this MCP request; reporting
    /// retries and slow calls to this request's client.
    fn client(&self, ctx: &RequestContext<RoleServer>) -> Result<Client, reply::ToolError> {
        if let Some(problem) = &self.shared.options.config_error {
            return Err(reply::ToolError::Refused(format!(
                "pluggedin-mcp is not configured correctly: {problem}"
            )));
        }
        let client = match self.shared.options.upstream_key {
            UpstreamKey::Server => self.shared.client.clone(),
            UpstreamKey::Passthrough => ClientKey::of(ctx)
                .map(|key| {
                    let client = self.shared.client.with_passthrough_key(key.clone());
                    // A key Plugged.in stops accepting is refused at the door from now on,
                    // and loses its hub at once.
                    let tenants = match &self.shared.options.hub {
                        Some(HubAccess::PerKey(tenants)) => Some(Arc::downgrade(tenants)),
                        _ => None,
                    };
                    let checks = self.shared.options.key_checks.as_ref().map(Arc::downgrade);
                    client.on_rejected(Arc::new(move || {
                        if let Some(checks) = checks.as_ref().and_then(std::sync::Weak::upgrade) {
                            checks.rejected(&key);
                        }
                        if let Some(tenants) = tenants.as_ref().and_then(std::sync::Weak::upgrade) {
                            tenants.revoke_key(&key);
                        }
                    }))
                })
                .ok_or_else(|| {
                    reply::ToolError::Refused(
                        "this server forwards each client's bearer token to Plugged.in as its API key, and this request carried none; send `Authorization: Bearer <your Plugged.in API key>`".into(),
                    )
                })?,
        };
        Ok(match logging::observer(ctx, &self.session) {
            Some(observer) => client.observed(observer),
            None => client,
        })
    }

    /// Tells this request's client about a degraded answer.
    #[allow(
        deprecated,
        reason = "MCP logging levels are deprecated in 2026-07-28 but still used by 2025-11-25 clients"
    )]
    fn warn(&self, ctx: &RequestContext<RoleServer>, message: String) {
        tracing::warn!("{message}");
        logging::send(
            ctx,
            &self.session,
            rmcp::model::LoggingLevel::Warning,
            message,
        );
    }

    /// Resource links to documents, so a client can attach them as context.
    fn doc_links<'a>(
        &self,
        docs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Vec<ContentBlock> {
        if !self.selection().has(Toolset::Docs) {
            return Vec::new();
        }
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
        if let Some(problem) = &self.shared.options.config_error {
            return format!(
                "CONFIGURATION ERROR: {problem} Until it is fixed every tool answers with this error; tell the user."
            );
        }
        let cloud;
        let mode = match self.backend() {
            Backend::Local => {
                "LOCAL mode: no Plugged.in account is configured, so data lives in an embedded Plugged.in-compatible store on this machine. Agents are records only: no container is started, and an agent turns ACTIVE when a heartbeat is sent (agent_heartbeat)."
            }
            Backend::Cloud => {
                // Only what is known at start: the key has not been tried yet.
                cloud = format!(
                    "CLOUD mode: tools use Plugged.in at {} with {}.",
                    self.shared.client.base_url(),
                    match self.shared.options.upstream_key {
                        UpstreamKey::Server => "the configured API key",
                        UpstreamKey::Passthrough => "each client's own API key (its bearer token)",
                    }
                );
                &cloud
            }
        };
        let sel = self.selection();
        let mut parts: Vec<&str> = Vec::new();
        if sel.has(Toolset::Agents) {
            parts.push("PAP agents (addressed by uuid or name)");
        }
        if sel.has(Toolset::Docs) {
            parts.push("the document library (also as pluggedin://docs/ resources)");
        }
        if sel.has(Toolset::Rag) {
            parts.push("the knowledge base (rag_ask)");
        }
        if sel.has(Toolset::Clipboard) {
            parts.push(
                "clipboard memory (clipboard_set/get as key-value, clipboard_push/pop as a stack)",
            );
        }
        if sel.has(Toolset::Notifications) {
            parts.push("notifications");
        }
        if sel.has(Toolset::Memory) {
            parts.push("long-term memory (memory_start a session, memory_observe as you work, memory_search before acting, memory_end)");
        }
        let read_only = if sel.read_only() {
            " Read-only: tools that change data are not offered."
        } else {
            ""
        };
        let mut text = format!("{mode} Tools cover {}.{read_only}", parts.join(", "));
        if self.hub_access().is_some() {
            text.push_str(" HUB: tools named <server>__<tool> belong to the user's own MCP servers behind this one; hub_status shows each server's state and the user's instructions for it, hub_refresh reconnects them. When hub_search_tools is listed, the user's tools are too many to list: search them by purpose, then call one with hub_call_tool.");
            // Per-key hubs are the key's own: their instructions are in hub_status.
            for (prefix, instructions) in self
                .shared_hub()
                .map(|h| h.instructions())
                .unwrap_or_default()
            {
                text.push_str(&format!(" Server {prefix}: {instructions}"));
            }
        }
        text
    }
}

impl PluggedinServer {
    /// A call to one of our own tools (or to a name nothing answers to), its result held
    /// to the budget.
    async fn call_own_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if !self.shared.tools.has_route(&request.name)
            && let Some(reason) = self
                .shared
                .registry
                .refusal(self.selection(), &request.name)
        {
            return Ok(CallToolResult::error(vec![ContentBlock::text(reason)]).into());
        }
        let name = request.name.to_string();
        let scrubber = self
            .client(&context)
            .map(|c| c.scrubber())
            .unwrap_or_default();
        let call = ToolCallContext::new(self, request, context);
        let response = unpanicked(&name, self.shared.tools.call(call))
            .await
            .unwrap_or_else(|message| {
                Ok(CallToolResult::error(vec![ContentBlock::text(message)]).into())
            })?;
        Ok(match response {
            CallToolResponse::Complete(mut result) => {
                reply::finish(&mut result, &scrubber, self.budget());
                CallToolResponse::Complete(result)
            }
            other => other,
        })
    }
}

/// The request's id — over HTTP its `X-Request-Id` (the transport made one if the client
/// sent none), else a new one — and a span that marks its log lines with it.
fn request_span(
    context: &RequestContext<RoleServer>,
    method: &'static str,
) -> (String, tracing::Span) {
    let id = context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<crate::request_id::RequestId>())
        .map_or_else(crate::request_id::generate, |id| id.0.clone());
    let span = tracing::info_span!("request", request_id = %id, method);
    (id, span)
}

/// Runs one request's handler as the request [`request_span`] named: its id current (and so
/// sent upstream), its log lines marked.
async fn within<F: std::future::Future>(request: (String, tracing::Span), handler: F) -> F::Output {
    let (id, span) = request;
    crate::request_id::scope(id, handler).instrument(span).await
}

/// Whether this request speaks 2026-07-28 or later.
pub(crate) fn is_modern(ctx: &RequestContext<RoleServer>) -> bool {
    ctx.protocol_version()
        .is_some_and(|v| v >= rmcp::model::ProtocolVersion::V_2026_07_28)
}

/// Results that can carry 2026-07-28 cache hints (SEP-2549).
pub(crate) trait Cacheable: Sized {
    fn hinted(self, ttl_ms: u64, scope: CacheScope) -> Self;
}

macro_rules! cacheable {
    ($($t:ty),*) => {$(
        impl Cacheable for $t {
            fn hinted(self, ttl_ms: u64, scope: CacheScope) -> Self {
                self.with_ttl_ms(ttl_ms).with_cache_scope(scope)
            }
        }
    )*};
}
cacheable!(
    ListToolsResult,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    rmcp::model::ReadResourceResult
);

/// Adds cache hints for clients that speak 2026-07-28, which defines them; older revisions
/// get the result without (their schema has no such fields).
pub(crate) fn cache_hints<T: Cacheable>(
    ctx: &RequestContext<RoleServer>,
    result: T,
    ttl_ms: u64,
    scope: CacheScope,
) -> T {
    if is_modern(ctx) {
        result.hinted(ttl_ms, scope)
    } else {
        result
    }
}

/// The message of a handler that panicked (a bug); the property tests look for it.
pub const PANIC_MESSAGE: &str = "internal error: this is a bug in pluggedin-mcp, please report it";

/// Runs a handler, turning a panic into an error instead of leaving the client waiting for
/// an answer that would never come.
async fn unpanicked<T>(what: &str, fut: impl std::future::Future<Output = T>) -> Result<T, String> {
    use futures::FutureExt;
    std::panic::AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .map_err(|panic| {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(%what, %detail, "handler panicked");
            format!("{PANIC_MESSAGE} ({what})")
        })
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

#[allow(
    deprecated,
    reason = "logging/setLevel is deprecated in 2026-07-28 (SEP-2577) but is how 2025-11-25 clients pick a level"
)]
impl ServerHandler for PluggedinServer {
    fn get_info(&self) -> ServerConfig {
        let mut capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_prompts()
            .enable_resources()
            .enable_completions()
            .enable_logging()
            .build();
        if self.hub_access().is_some() {
            // Downstream servers' tasks (SEP-2663) are passed on to clients that follow them.
            capabilities
                .extensions
                .get_or_insert_with(Default::default)
                .insert(
                    rmcp::model::TASKS_EXTENSION_ID.to_string(),
                    Default::default(),
                );
            // Downstream servers come and go: the lists change while we run.
            if let Some(tools) = capabilities.tools.as_mut() {
                tools.list_changed = Some(true);
            }
            if let Some(prompts) = capabilities.prompts.as_mut() {
                prompts.list_changed = Some(true);
            }
            if let Some(resources) = capabilities.resources.as_mut() {
                resources.list_changed = Some(true);
                // Subscriptions to downstream resources are passed on.
                resources.subscribe = Some(true);
            }
        }
        ServerConfig::new(capabilities)
            .with_server_info(
                Implementation::new(SERVER_NAME, env!("CARGO_PKG_VERSION"))
                    .with_title("Plugged.in")
                    .with_website_url("https://plugged.in"),
            )
            .with_instructions(self.instructions())
    }

    async fn on_initialized(&self, context: rmcp::service::NotificationContext<RoleServer>) {
        if let Some(hub) = self.hub(&context.extensions).await {
            let session = self.session.clone();
            hub.client_joined(crate::hub::relay::Session {
                peer: context.peer.clone(),
                capabilities: context
                    .peer
                    .peer_info()
                    .map(|info| info.capabilities.clone())
                    .unwrap_or_default(),
                log_level: Arc::new(move || Some(session.get())),
            });
            tokio::spawn(downstream::announce_to_session(
                hub.watch_changes(),
                context.peer,
                self.seen.clone(),
            ));
        }
    }

    async fn on_roots_list_changed(&self, context: rmcp::service::NotificationContext<RoleServer>) {
        if let Some(hub) = self.hub(&context.extensions).await {
            hub.roots_changed();
        }
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let started = std::time::Instant::now();
        let name = request.name.to_string();
        let own = self.shared.tools.has_route(&name);
        let hub = match own {
            true => None,
            false => match self.hub_for(&context).await {
                // A name not (yet) in the catalog may be of a server still starting, or of
                // an account not read yet: the call waits for it, within its bound.
                Some(hub)
                    if hub.has_tool(&name)
                        || hub.wait_for_tool(&name, hub.call_timeout()).await =>
                {
                    Some(hub)
                }
                _ => None,
            },
        };
        let answer = within(request_span(&context, "tools/call"), async {
            match &hub {
                Some(hub) => self.call_downstream(hub, request, context, true).await,
                None => self.call_own_tool(request, context).await,
            }
        })
        .await;
        let outcome = match &answer {
            Ok(CallToolResponse::Complete(r)) if r.is_error == Some(true) => {
                metrics::Outcome::Error
            }
            Ok(_) => metrics::Outcome::Ok,
            Err(_) => metrics::Outcome::Failed,
        };
        let label = if own || hub.is_some() {
            &name
        } else {
            "unknown"
        };
        metrics::tool_call(label, outcome, started.elapsed());
        answer
    }

    /// 2026-07-28 clients hear of list changes through `subscriptions/listen`: in hub mode
    /// (where lists change) the tools, prompts and resources lists.
    fn accepted_subscription_filter(
        &self,
        requested: &rmcp::model::SubscriptionFilter,
    ) -> Option<rmcp::model::SubscriptionFilter> {
        self.hub_access()?;
        let mut accepted = rmcp::model::SubscriptionFilter::new();
        accepted.tools_list_changed = requested.tools_list_changed;
        accepted.prompts_list_changed = requested.prompts_list_changed;
        accepted.resources_list_changed = requested.resources_list_changed;
        // Downstream resources are subscribed to through their servers; with one hub for
        // every client, only the URIs it has (a per-key hub is only known in `listen`).
        accepted.resource_subscriptions = requested.resource_subscriptions.as_ref().map(|uris| {
            uris.iter()
                .filter(|uri| self.shared_hub().is_none_or(|hub| hub.has_resource(uri)))
                .take(crate::hub::subscriptions::MAX_SUBSCRIPTIONS)
                .cloned()
                .collect()
        });
        Some(accepted)
    }

    async fn listen(&self, context: rmcp::service::SubscriptionContext) -> Result<(), ErrorData> {
        let Some(hub) = self.hub_for(context.request_context()).await else {
            context.cancelled().await;
            return Ok(());
        };
        let sink = context.sink().clone();
        let owner = downstream::listen_owner();
        let uris = sink
            .accepted()
            .resource_subscriptions
            .clone()
            .unwrap_or_default();
        for uri in &uris {
            let subscriber = crate::hub::subscriptions::Subscriber::Listen(sink.clone());
            let ct = &context.request_context().ct;
            if let Some(Err(e)) = hub.subscribe(owner, uri, subscriber, ct).await {
                tracing::debug!(%uri, "subscribing for a listen stream: {e}");
            }
        }
        let send = |list| {
            let sink = sink.clone();
            async move {
                // A list the client did not ask for is refused by the sink: not a reason to
                // stop.
                let sent = match list {
                    downstream::List::Tools => sink.notify_tool_list_changed().await,
                    downstream::List::Prompts => sink.notify_prompt_list_changed().await,
                    downstream::List::Resources => sink.notify_resource_list_changed().await,
                };
                !matches!(
                    sent,
                    Err(rmcp::service::SubscriptionSendError::SubscriptionClosed
                        | rmcp::service::SubscriptionSendError::Service(_))
                )
            }
        };
        downstream::announce_changes(hub.watch_changes(), send, context.cancelled()).await;
        if !uris.is_empty() {
            hub.unsubscribe_all(owner).await;
        }
        Ok(())
    }

    /// Subscriptions are offered in hub mode: to a downstream resource they go to its
    /// server; our own `pluggedin://` resources accept them and send no updates. Without a
    /// hub the capability is not advertised, and the method is unknown.
    async fn subscribe(
        &self,
        request: rmcp::model::SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let Some(hub) = self.hub_for(&context).await else {
            return Err(ErrorData::new(
                rmcp::model::ErrorCode::METHOD_NOT_FOUND,
                "resources/subscribe is offered in hub mode only",
                None,
            ));
        };
        let owner = downstream::owner_of(&self.session);
        let subscriber = crate::hub::subscriptions::Subscriber::Session(context.peer.clone());
        match hub
            .subscribe(owner, &request.uri, subscriber, &context.ct)
            .await
        {
            Some(outcome) => outcome.map_err(downstream::as_protocol_error),
            None if request.uri.starts_with(OWN_URI_SCHEME) => Ok(()),
            None => Err(ErrorData::resource_not_found(
                format!(
                    "no resource {} to subscribe to",
                    crate::text::truncate(&request.uri, 200)
                ),
                None,
            )),
        }
    }

    async fn unsubscribe(
        &self,
        request: rmcp::model::UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if let Some(hub) = self.hub_for(&context).await {
            hub.unsubscribe(
                downstream::owner_of(&self.session),
                &request.uri,
                &context.ct,
            )
            .await;
        }
        Ok(())
    }

    /// 2026-07-28 has no `ping` (a client checks a server with any request); 2025-11-25
    /// clients get the empty answer. The same rule over every transport.
    async fn ping(&self, context: RequestContext<RoleServer>) -> Result<(), ErrorData> {
        if is_modern(&context) {
            return Err(ErrorData::new(
                rmcp::model::ErrorCode::METHOD_NOT_FOUND,
                "ping is not a method of protocol revision 2026-07-28",
                None,
            ));
        }
        Ok(())
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let Some(hub) = self.hub(&context.extensions).await else {
            return Err(crate::hub::downstream::unknown_task(&request.task_id));
        };
        let mut state = hub
            .get_task(downstream::with_meta(request, &context), &context.ct)
            .await?;
        if let TaskPayload::Completed { result } = &mut state.task.payload {
            self.finish_task_result(result, &context);
        }
        Ok(state)
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let Some(hub) = self.hub(&context.extensions).await else {
            return Err(crate::hub::downstream::unknown_task(&request.task_id));
        };
        hub.update_task(downstream::with_meta(request, &context), &context.ct)
            .await
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let Some(hub) = self.hub(&context.extensions).await else {
            return Err(crate::hub::downstream::unknown_task(&request.task_id));
        };
        hub.cancel_task(downstream::with_meta(request, &context), &context.ct)
            .await
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let hub = self.hub_for(&context).await;
        if let Some(hub) = &hub {
            hub.first_lists().await;
        }
        self.seen.saw(downstream::List::Tools);
        let (ttl, scope) = self.list_cache_hint(hub.as_ref());
        Ok(cache_hints(
            &context,
            ListToolsResult::with_all_items(self.tools(hub.as_ref())),
            ttl,
            scope,
        ))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.shared
            .tools
            .get(name)
            .cloned()
            // Per-key hubs need the request's key, which this has not: our own tools only.
            .or_else(|| self.shared_hub()?.tool(name))
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let mut list = prompts::list(self.selection());
        let hub = self.hub_for(&context).await;
        if let Some(hub) = &hub {
            hub.first_lists().await;
            list.extend(hub.prompts());
        }
        self.seen.saw(downstream::List::Prompts);
        let (ttl, scope) = self.list_cache_hint(hub.as_ref());
        Ok(cache_hints(
            &context,
            ListPromptsResult::with_all_items(list),
            ttl,
            scope,
        ))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        within(request_span(&context, "prompts/get"), async {
            if let Some(hub) = self.hub_for(&context).await
                && let Some(outcome) = hub
                    .get_prompt(
                        downstream::with_meta(request.clone(), &context),
                        self.client_side(&context),
                        &context.ct,
                    )
                    .await
            {
                let answer = outcome.map_err(downstream::as_protocol_error)?;
                if let GetPromptResponse::Complete(result) = &answer {
                    self.within_budget(result, &request.name)?;
                }
                return Ok(answer);
            }
            let args: BTreeMap<String, String> = request
                .arguments
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                .collect();
            prompts::get(&request.name, &args, self.selection(), self.backend()).map(Into::into)
        })
        .await
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        within(request_span(&context, "resources/list"), async {
            let cursor = request.and_then(|r| r.cursor);
            let mut page = resources::list(self, &context, cursor.as_deref()).await?;
            // The hub's resources ride on the first page (they are listed in full by their
            // servers, and bounded by them).
            self.seen.saw(downstream::List::Resources);
            if cursor.is_none()
                && let Some(hub) = self.hub_for(&context).await
            {
                hub.first_lists().await;
                page.resources.extend(
                    hub.resources()
                        .into_iter()
                        .filter(|r| !r.uri.starts_with(OWN_URI_SCHEME)),
                );
            }
            Ok(page)
        })
        .await
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let mut templates = resources::templates(self);
        let hub = self.hub_for(&context).await;
        if let Some(hub) = &hub {
            hub.first_lists().await;
            templates.extend(hub.resource_templates());
        }
        self.seen.saw(downstream::List::Resources);
        let (ttl, scope) = self.list_cache_hint(hub.as_ref());
        Ok(cache_hints(
            &context,
            ListResourceTemplatesResult::with_all_items(templates),
            ttl,
            scope,
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        within(request_span(&context, "resources/read"), async {
            if !request.uri.starts_with(OWN_URI_SCHEME)
                && let Some(hub) = self.hub_for(&context).await
                && let Some(outcome) = hub
                    .read_resource(
                        downstream::with_meta(request.clone(), &context),
                        self.client_side(&context),
                        &context.ct,
                    )
                    .await
            {
                let answer = outcome.map_err(downstream::as_protocol_error)?;
                if let ReadResourceResponse::Complete(result) = &answer {
                    self.within_budget(result, &request.uri)?;
                }
                return Ok(answer);
            }
            resources::read(self, &context, &request.uri)
                .await
                .map(Into::into)
        })
        .await
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        within(request_span(&context, "completion/complete"), async {
            if let Some(hub) = self.hub_for(&context).await
                && let Some(outcome) = hub
                    .complete(
                        downstream::with_meta(request.clone(), &context),
                        &context.ct,
                    )
                    .await
            {
                return outcome.map_err(downstream::as_protocol_error);
            }
            completion::complete(self, &context, &request).await
        })
        .await
    }

    async fn set_level(
        &self,
        request: rmcp::model::SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.session.set(request.level);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_becomes_an_error() {
        let caught = unpanicked("boom_tool", async { panic!("boom") }).await;
        let message: String = caught.map(|()| String::new()).unwrap_or_else(|m| m);
        assert!(
            message.starts_with(PANIC_MESSAGE) && message.contains("boom_tool"),
            "{message}"
        );
        assert_eq!(unpanicked("fine", async { 7 }).await, Ok(7));
    }
}
