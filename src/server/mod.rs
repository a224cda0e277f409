//! The MCP server: our own tools, resources, prompts and completions ([`crate::tools`])
//! together with the user's own MCP servers behind the hub ([`crate::hub`]) — the lists
//! merged, each request routed to whichever answers it, the hub's own tools — and the
//! `ServerHandler` that answers MCP requests ([`handler`]).

mod handler;
mod hub_calls;
mod hub_tools;

use std::sync::Arc;

use rmcp::model::{CacheScope, Tool};

use crate::{
    api::Client,
    hub::Hub,
    tools::{
        ClientKey, Grant, OnKeyRejected, ToolOptions, Tools, Toolset,
        registry::{Offered, Registry, RegistryError},
    },
};

/// The tool, prompt and template lists never change while the server runs, and are the
/// same for every user: clients may cache them for an hour.
const STATIC_LIST_TTL_MS: u64 = 3_600_000;
/// With a hub, the tool list follows the user's servers: clients may cache it for as long as
/// the account's servers are polled, and only for this user.
const HUB_LIST_TTL_MS: u64 = 60_000;
/// ... and while a server is still starting, only briefly: its tools are about to join the
/// list, and a 2026-07-28 client that is not listening for changes would miss them.
const HUB_SETTLING_TTL_MS: u64 = 1_000;

/// URIs this server answers itself; a downstream server cannot take them over.
const OWN_URI_SCHEME: &str = "pluggedin://";

/// How the server is set up.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub tools: ToolOptions,
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
    Shared(Hub),
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

/// The MCP server. Each session gets its own via [`PluggedinServer::new_session`]: the
/// client, catalog and caches are shared, the session state (log level, lists read) is not.
#[derive(Clone)]
pub struct PluggedinServer {
    tools: Tools,
    shared: Arc<Shared>,
    /// The hub lists this session has read (only those are announced as changed).
    seen: Arc<hub_calls::SeenLists>,
}

struct Shared {
    /// The hub, when configured and its toolset selected.
    hub: Option<HubAccess>,
    /// The hub's own tools, as the selection offers them.
    hub_tools: Offered<PluggedinServer>,
}

impl PluggedinServer {
    /// A server over `client`; fails when a tool is registered without what the registry
    /// requires of it.
    pub fn new(client: Client, options: ServerOptions) -> Result<Self, RegistryError> {
        let ServerOptions {
            tools: mut tool_options,
            hub,
            key_checks,
        } = options;
        let hub = hub.filter(|_| tool_options.selection.has(Toolset::Hub));
        tool_options.on_key_rejected = key_rejected_hook(key_checks.as_ref(), hub.as_ref());
        let selection = tool_options.selection.clone();
        let hub_tools = Self::hub_registry()?.offered(&selection);
        Ok(Self {
            tools: Tools::new(client, tool_options)?,
            shared: Arc::new(Shared { hub, hub_tools }),
            seen: Arc::default(),
        })
    }

    /// A server for a new session: same client, catalog and caches; fresh session state.
    pub fn new_session(&self) -> Self {
        Self {
            tools: self.tools.new_session(),
            shared: self.shared.clone(),
            seen: Arc::default(),
        }
    }

    /// The hub's own tools, checked like ours; none of them takes one of our names.
    fn hub_registry() -> Result<Registry<Self>, RegistryError> {
        let registry = Registry::build([(Toolset::Hub, Self::hub_tools())])?;
        let ours = Tools::registry()?;
        if let Some(taken) = registry
            .tools()
            .into_iter()
            .find(|t| ours.toolset_of(&t.name).is_some())
        {
            return Err(RegistryError::Duplicate(
                taken.name.to_string(),
                Toolset::Hub.name(),
                ours.toolset_of(&taken.name).map_or("", Toolset::name),
            ));
        }
        Ok(registry)
    }

    /// The full tool catalog, independent of any configuration or backend, sorted by name.
    pub fn catalog() -> Result<Vec<Tool>, RegistryError> {
        let mut tools = Tools::registry()?.tools();
        tools.extend(Self::hub_registry()?.tools());
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(tools)
    }

    /// Whether `name` is one of the hub's own tools, offered.
    fn is_hub_tool(&self, name: &str) -> bool {
        self.shared.hub_tools.has(name)
    }

    /// The toolset a tool belongs to: ours by the registry, anything else (the hub's own
    /// tools, the downstream servers') the hub's.
    fn toolset_of(&self, name: &str) -> Toolset {
        self.tools.toolset_of(name).unwrap_or(Toolset::Hub)
    }

    /// Why the request's sign-in does not open `tool`, or `None` when it does (or when the
    /// request carries no grant: `--auth oauth` is not in use).
    fn grant_refusal(&self, extensions: &rmcp::model::Extensions, tool: &Tool) -> Option<String> {
        Grant::from_extensions(extensions)?.refusal(tool, self.toolset_of(&tool.name))
    }

    /// The tools this server lists with `hub`: its own and (when the hub has servers) the
    /// hub's own, sorted by name, then the downstream servers' tools under their
    /// `<prefix>__<tool>` names — or, for a catalog too big to list, the search and call
    /// tools instead of them.
    pub fn tools(&self, hub: Option<&Hub>) -> Vec<Tool> {
        let mut tools = self.tools.list();
        let Some(hub) = hub.filter(|hub| !hub.is_empty()) else {
            // No servers (yet): the hub's own tools would only be noise.
            return tools;
        };
        let searching = hub.searching();
        tools.extend(
            self.shared
                .hub_tools
                .list()
                .into_iter()
                .filter(|t| searching || !is_search_tool(&t.name)),
        );
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        if !searching {
            // A server offered under its tools' own names cannot take one of ours.
            tools.extend(
                hub.tools()
                    .into_iter()
                    .filter(|t| !self.tools.offers(&t.name) && !self.is_hub_tool(&t.name)),
            );
        }
        tools
    }

    /// How long clients may cache the tool, prompt and template lists, and for whom: ours
    /// never change while we run and are the same for everyone; with a hub, downstream
    /// servers change them at any time (`list_changed` says when) and they are this user's.
    fn list_cache_hint(&self, hub: Option<&Hub>) -> (u64, CacheScope) {
        match (self.hub_access(), hub) {
            (Some(_), Some(hub)) if hub.settling() => (HUB_SETTLING_TTL_MS, CacheScope::Private),
            (Some(_), _) => (HUB_LIST_TTL_MS, CacheScope::Private),
            (None, _) => (STATIC_LIST_TTL_MS, CacheScope::Public),
        }
    }

    /// How requests reach a hub, when one is configured and its toolset selected.
    fn hub_access(&self) -> Option<&HubAccess> {
        self.shared.hub.as_ref()
    }

    /// The one hub of every client, when there is one (not per key).
    fn shared_hub(&self) -> Option<&Hub> {
        match self.hub_access()? {
            HubAccess::Shared(hub) => Some(hub),
            HubAccess::PerKey(_) => None,
        }
    }

    /// The hub of the request that carried `extensions`: the shared one, or the one of its
    /// client key; otherwise why there is none (no hub configured, no key, a key Plugged.in
    /// refuses).
    async fn hub_or_why(&self, extensions: &rmcp::model::Extensions) -> Result<Hub, String> {
        if Grant::from_extensions(extensions).is_some_and(|g| !g.opens(Toolset::Hub)) {
            return Err(format!(
                "this connection's sign-in did not grant the scope {}: remove the connector and add it again, granting it",
                crate::tools::Scope::Hub.name()
            ));
        }
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
    async fn hub(&self, extensions: &rmcp::model::Extensions) -> Option<Hub> {
        self.hub_access()?;
        self.hub_or_why(extensions)
            .await
            .inspect_err(|why| tracing::debug!("no hub for this request: {why}"))
            .ok()
    }

    pub fn backend(&self) -> crate::tools::Backend {
        self.tools.backend()
    }

    pub fn is_local(&self) -> bool {
        self.tools.is_local()
    }

    /// What the model is told: of our own tools, then (hub mode) of the hub and what the
    /// user wrote for each server.
    pub fn instructions(&self) -> String {
        let mut text = self.tools.instructions();
        if self.hub_access().is_some() && self.tools.config_error().is_none() {
            text.push_str(" HUB: tools named <server>__<tool> belong to the user's own MCP servers behind this one; hub_status shows each server's state and the user's instructions for it, hub_refresh reconnects them. When hub_search_tools is listed, the user's tools are too many to list: search them by purpose, then call one with hub_call_tool.");
            // Per-key hubs are the key's own: their instructions are in hub_status.
            for (prefix, instructions) in self
                .shared_hub()
                .map(|h| h.instructions())
                .unwrap_or_default()
            {
                text.push_str(&format!(" Server {prefix}: {instructions}"));
            }
            for problem in self
                .shared_hub()
                .map(|h| h.config_problems())
                .unwrap_or_default()
            {
                text.push_str(&format!(
                    " HUB CONFIGURATION PROBLEM (tell the user): {problem}"
                ));
            }
        }
        text
    }
}

/// The hub's search and call tools, listed instead of the downstream tools when the hub
/// searches ([`Hub::searching`]).
fn is_search_tool(name: &str) -> bool {
    ["hub_search_tools", "hub_call_tool"].contains(&name)
}

/// What happens when Plugged.in rejects a client's key on a call (`--auth passthrough`):
/// the key is refused at the door from then on, and loses its hub at once.
fn key_rejected_hook(
    key_checks: Option<&Arc<crate::api::keys::KeyChecks>>,
    hub: Option<&HubAccess>,
) -> Option<OnKeyRejected> {
    let checks = key_checks.map(Arc::downgrade);
    let tenants = match hub {
        Some(HubAccess::PerKey(tenants)) => Some(Arc::downgrade(tenants)),
        _ => None,
    };
    if checks.is_none() && tenants.is_none() {
        return None;
    }
    Some(OnKeyRejected(Arc::new(move |key| {
        if let Some(checks) = checks.as_ref().and_then(std::sync::Weak::upgrade) {
            checks.rejected(key);
        }
        if let Some(tenants) = tenants.as_ref().and_then(std::sync::Weak::upgrade) {
            tenants.revoke_key(key);
        }
    })))
}
