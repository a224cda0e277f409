//! Our own MCP surface over Plugged.in: the tools (one file per domain, `#[tool_router]`
//! each), resources, prompts, completions and the log messages of a call, on one upstream
//! client with the selection (`--toolsets`, `--read-only`) applied. [`crate::server`] puts
//! this together with the hub and answers MCP requests; nothing here knows of the hub.

mod agents;
pub mod budget;
mod clipboard;
pub mod completion;
mod documents;
mod grant;
pub mod logging;
mod memory;
mod notifications;
pub mod params;
pub mod prompts;
mod rag;
pub mod registry;
pub mod reply;
pub mod resources;
pub mod schema;
pub mod selection;

use std::sync::Arc;

use rmcp::{
    ErrorData, RoleServer,
    handler::server::tool::ToolRouter,
    model::{
        CacheScope, CallToolRequestParams, CallToolResponse, ContentBlock, ListPromptsResult,
        ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, Resource, Tool,
    },
    service::RequestContext,
};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    api::{ApiError, Client},
    secret::Secret,
};
pub use grant::{Grant, Scope};
pub use selection::{Selection, Toolset};

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

/// The Plugged.in key an MCP client presented (its bearer token, `--auth passthrough`). The
/// HTTP transport puts it in the request's extensions; rmcp hands those to the handlers.
#[derive(Clone, Debug)]
pub struct ClientKey(pub Secret);

impl ClientKey {
    /// The key of the HTTP request that carried this MCP request, if it brought one.
    pub fn of(ctx: &RequestContext<RoleServer>) -> Option<Secret> {
        Self::from_extensions(&ctx.extensions)
    }

    pub fn from_extensions(extensions: &rmcp::model::Extensions) -> Option<Secret> {
        let parts = extensions.get::<axum::http::request::Parts>()?;
        parts.extensions.get::<ClientKey>().map(|k| k.0.clone())
    }
}

/// What is done when Plugged.in rejects a client's key on some call (`--auth
/// passthrough`): the server refuses it at the door from then on and drops its hub.
#[derive(Clone)]
pub struct OnKeyRejected(pub Arc<dyn Fn(&Secret) + Send + Sync>);

impl std::fmt::Debug for OnKeyRejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnKeyRejected")
    }
}

/// How the tools are set up.
#[derive(Debug, Clone)]
pub struct ToolOptions {
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
    /// With `--auth passthrough`: told of a client key Plugged.in rejects.
    pub on_key_rejected: Option<OnKeyRejected>,
}

impl ToolOptions {
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            upstream_key: UpstreamKey::Server,
            selection: Selection::all(),
            config_error: None,
            budget: budget::Budget::default(),
            clock: crate::clock::Clock::default(),
            on_key_rejected: None,
        }
    }
}

/// Our own tools, resources, prompts and completions. Each session gets its own via
/// [`Tools::new_session`]: the client, registry and caches are shared, the session state
/// (log level) is not.
#[derive(Clone)]
pub struct Tools {
    shared: Arc<Shared>,
    session: Arc<logging::SessionLog>,
}

struct Shared {
    client: Client,
    options: ToolOptions,
    /// Our tools as this server offers them (`--toolsets`, `--read-only`).
    offered: registry::Offered<Tools>,
    completions: completion::CompletionCache,
}

impl Tools {
    /// The tools over `client`; fails when a tool is registered without what the registry
    /// requires of it.
    pub fn new(client: Client, options: ToolOptions) -> Result<Self, registry::RegistryError> {
        let offered = Self::registry()?.offered(&options.selection);
        Ok(Self {
            shared: Arc::new(Shared {
                client,
                options,
                offered,
                completions: completion::CompletionCache::default(),
            }),
            session: Arc::default(),
        })
    }

    /// Every tool of ours, checked ([`registry::Registry::build`]).
    pub fn registry() -> Result<registry::Registry<Self>, registry::RegistryError> {
        registry::Registry::build(
            Toolset::ALL
                .into_iter()
                .map(|set| (set, Self::router_of(set))),
        )
    }

    /// The same tools for a new session; fresh session state.
    pub fn new_session(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            session: Arc::default(),
        }
    }

    /// This session's log level.
    pub fn session(&self) -> &Arc<logging::SessionLog> {
        &self.session
    }

    /// The tools of one toolset, as its domain's router declares them. Matching every
    /// toolset here is what makes a new toolset without tools fail to compile. The hub's
    /// tools are the server's ([`crate::server`]): they need the hub, which this layer does
    /// not know.
    fn router_of(set: Toolset) -> ToolRouter<Self> {
        match set {
            Toolset::Agents => Self::agent_tools(),
            Toolset::Docs => Self::document_tools(),
            Toolset::Rag => Self::rag_tools(),
            Toolset::Clipboard => Self::clipboard_tools(),
            Toolset::Notifications => Self::notification_tools(),
            Toolset::Memory => Self::memory_tools(),
            Toolset::Hub => ToolRouter::new(),
        }
    }

    /// The tools offered, sorted by name.
    pub fn list(&self) -> Vec<Tool> {
        self.shared.offered.list()
    }

    /// Whether `name` is one of the tools offered.
    pub fn offers(&self, name: &str) -> bool {
        self.shared.offered.has(name)
    }

    /// Whether `name` is one of our tools, offered or not.
    pub fn knows(&self, name: &str) -> bool {
        self.shared.offered.knows(name)
    }

    /// The toolset of our tool `name`.
    pub fn toolset_of(&self, name: &str) -> Option<Toolset> {
        self.shared.offered.toolset_of(name)
    }

    /// The selection as a request may use it: `--toolsets` and `--read-only`, narrowed to
    /// the toolsets its sign-in opens (`--auth oauth`; see [`Grant`]).
    pub fn selection_for(
        &self,
        extensions: &rmcp::model::Extensions,
    ) -> std::borrow::Cow<'_, Selection> {
        match Grant::from_extensions(extensions) {
            Some(grant) => std::borrow::Cow::Owned(self.selection().narrowed(&grant)),
            None => std::borrow::Cow::Borrowed(self.selection()),
        }
    }

    /// The offered tool `name`.
    pub fn get(&self, name: &str) -> Option<Tool> {
        self.shared.offered.get(name).cloned()
    }

    pub fn backend(&self) -> Backend {
        self.shared.options.backend
    }

    pub fn is_local(&self) -> bool {
        self.backend() == Backend::Local
    }

    pub fn selection(&self) -> &Selection {
        &self.shared.options.selection
    }

    pub fn budget(&self) -> budget::Budget {
        self.shared.options.budget
    }

    /// Why the configuration cannot work, when it cannot.
    pub fn config_error(&self) -> Option<&str> {
        self.shared.options.config_error.as_deref()
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
    pub fn client(&self, ctx: &RequestContext<RoleServer>) -> Result<Client, reply::ToolError> {
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
                    match self.shared.options.on_key_rejected.clone() {
                        Some(OnKeyRejected(hook)) => {
                            client.on_rejected(Arc::new(move || hook(&key)))
                        }
                        None => client,
                    }
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

    /// The scrubber of this request's answers: its key (and the server's) removed.
    pub fn scrubber(&self, ctx: &RequestContext<RoleServer>) -> crate::redact::Scrubber {
        self.client(ctx).map(|c| c.scrubber()).unwrap_or_default()
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

    /// A call to one of our own tools (or to a name nothing answers to), its result held
    /// to the budget.
    pub async fn call(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let scrubber = self.scrubber(&context);
        self.shared
            .offered
            .call(self, request, context, &scrubber, self.budget())
            .await
    }

    /// What the model is told of our own tools: the mode, what they cover, read-only.
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
        let text = format!("{mode} Tools cover {}.{read_only}", parts.join(", "));
        text
    }
}

/// The request's id — over HTTP its `X-Request-Id` (the transport made one if the client
/// sent none), else a new one — and a span that marks its log lines with it.
pub fn request_span(
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
pub async fn within<F: std::future::Future>(
    request: (String, tracing::Span),
    handler: F,
) -> F::Output {
    let (id, span) = request;
    crate::request_id::scope(id, handler).instrument(span).await
}

/// Whether this request speaks 2026-07-28 or later.
pub fn is_modern(ctx: &RequestContext<RoleServer>) -> bool {
    ctx.protocol_version()
        .is_some_and(|v| v >= rmcp::model::ProtocolVersion::V_2026_07_28)
}

/// Results that can carry 2026-07-28 cache hints (SEP-2549).
pub trait Cacheable: Sized {
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
pub fn cache_hints<T: Cacheable>(
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
pub(crate) async fn unpanicked<T>(
    what: &str,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, String> {
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
pub async fn cancellable<T>(
    ct: &CancellationToken,
    call: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    tokio::select! {
        biased;
        _ = ct.cancelled() => Err(ApiError::Cancelled),
        result = call => result,
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
