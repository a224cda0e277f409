//! Tools about the hub itself: what each downstream server is doing, a way to reconnect
//! them, and — for catalogs too big to list (`--tool-search`) — a search over the
//! downstream tools and a call tool that reaches any of them. The downstream servers' own
//! tools are not here: they are merged into `tools/list` by [`PluggedinServer`]'s handler
//! from [`crate::hub::Hub`]. These are checked by the same registry as ours
//! ([`crate::tools::registry`]).

use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::PluggedinServer;
use crate::{
    hub::{Hub, State},
    tools::{
        Backend,
        params::Parameters,
        reply::{Json, ToolError},
    },
};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct HubStatusParams {}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ServerReport {
    /// The server's name in the configuration.
    pub name: String,
    /// The prefix of its tools' names (`<prefix>__<tool>`).
    pub prefix: String,
    /// starting, ready, backing_off (down; retried with backoff), failed (its configuration cannot work) or disabled.
    pub state: String,
    /// stdio, http or invalid.
    pub transport: String,
    /// Tools offered from it (after --read-only and allow/deny lists).
    pub tools: usize,
    /// Why it is down, or the last failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Times it was restarted after a failure.
    pub restarts: u32,
    /// Duration of its last call, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_latency_ms: Option<f64>,
    /// The protocol revision the hub speaks to it, while connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Why its list changes are followed slowly (it announces them without end).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttled: Option<String>,
    /// Tools it lists that are not offered, and why (a name taken, an empty name).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_offered: Vec<String>,
    /// How the user wants this server used (their custom instructions for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HubStatus {
    pub servers: Vec<ServerReport>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct HubRefreshParams {
    /// A server's name or tool prefix; omit to reconnect every server.
    #[serde(default)]
    pub server: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct HubSearchParams {
    /// What the tool should do, in words (e.g. "open a GitHub issue").
    #[schemars(length(min = 1, max = 500))]
    pub query: String,
    /// How many tools to return, best first (1-20, default 5).
    #[serde(default)]
    #[schemars(range(min = 1, max = 20))]
    pub limit: Option<u8>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ToolMatch {
    /// The name to pass to hub_call_tool (or to call directly).
    pub name: String,
    /// The server it belongs to.
    pub server: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON Schema of its arguments.
    #[serde(rename = "inputSchema")]
    pub input_schema: serde_json::Map<String, serde_json::Value>,
    /// Relevance; only comparable within one search.
    pub score: f64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ToolMatches {
    pub tools: Vec<ToolMatch>,
    /// Downstream tools searched.
    pub searched: usize,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct HubCallParams {
    /// A tool's name as hub_search_tools gave it (`<server>__<tool>`).
    #[schemars(length(min = 1, max = 128))]
    pub name: String,
    /// Its arguments, as its inputSchema describes them.
    #[serde(default)]
    pub arguments: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Most tools one search returns.
const MAX_MATCHES: u8 = 20;
const DEFAULT_MATCHES: u8 = 5;

#[derive(Debug, Serialize, JsonSchema)]
pub struct HubRefreshed {
    /// Servers asked to reconnect; they come back in the background (see hub_status).
    pub reconnecting: Vec<String>,
}

impl PluggedinServer {
    /// The hub of this request: the server's, or (passthrough) the one of the client's key.
    async fn request_hub(
        &self,
        ctx: &rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<Hub, ToolError> {
        self.hub_or_why(&ctx.extensions)
            .await
            .map_err(ToolError::Refused)
    }
}

#[tool_router(router = hub_tools, vis = "pub(super)")]
impl PluggedinServer {
    /// Status of the user's own MCP servers behind this hub: state, transport, tool count, last error, restarts, latency and the user's instructions for each.
    #[tool(
        title = "Hub status",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn hub_status(
        &self,
        Parameters(_): Parameters<HubStatusParams>,
        ctx: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<Json<HubStatus>, ToolError> {
        let servers = self
            .request_hub(&ctx)
            .await?
            .status()
            .into_iter()
            .map(|s| ServerReport {
                last_error: match &s.snapshot.state {
                    State::BackingOff { reason } | State::Failed { reason } => Some(reason.clone()),
                    _ => s.snapshot.last_error.clone(),
                },
                state: s.snapshot.state.name().to_string(),
                name: s.name,
                prefix: s.prefix,
                transport: s.transport.to_string(),
                tools: s.offered_tools,
                restarts: s.snapshot.restarts,
                last_latency_ms: s.snapshot.last_latency.map(|d| d.as_secs_f64() * 1000.0),
                protocol: s.snapshot.protocol.clone(),
                throttled: s.snapshot.throttled.clone(),
                not_offered: s.dropped,
                instructions: s.instructions,
            })
            .collect();
        Ok(Json::new(HubStatus { servers }))
    }

    /// Reconnect one of the user's MCP servers (by name or tool prefix), or all of them, and re-read the account's server list (Plugged.in also rediscovers); tools come back when their servers are ready.
    #[tool(
        title = "Reconnect hub servers",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn hub_refresh(
        &self,
        Parameters(p): Parameters<HubRefreshParams>,
        ctx: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<Json<HubRefreshed>, ToolError> {
        let hub = self.request_hub(&ctx).await?;
        let which = p.server.as_deref().map(str::trim).filter(|s| !s.is_empty());
        // Servers added to or removed from the account show up now, not at the next poll.
        hub.poll_sources();
        // Plugged.in rediscovers too, so its catalog (read by other clients) catches up.
        if self.backend() == Backend::Cloud
            && let Ok(client) = self.tools.client(&ctx)
        {
            let targets: Vec<Option<String>> = match which {
                None => vec![None],
                Some(w) => hub.account_ids(Some(w)).into_iter().map(Some).collect(),
            };
            tokio::spawn(async move {
                for target in targets {
                    if let Err(e) = client.discover(target.as_deref()).await {
                        tracing::debug!("asking Plugged.in to rediscover: {e}");
                    }
                }
            });
        }
        let reconnecting = hub.reconnect(which);
        if reconnecting.is_empty() && which.is_some() {
            let known: Vec<String> = hub.status().into_iter().map(|s| s.name).collect();
            return Err(ToolError::invalid(
                "server",
                format!(
                    "no server is named or prefixed {:?}; configured: {}",
                    which.unwrap_or_default(),
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
        Ok(Json::new(HubRefreshed { reconnecting }))
    }

    /// Search the tools of the user's own MCP servers by what they do; returns the best matches with their argument schemas, to call with hub_call_tool.
    #[tool(
        title = "Search hub tools",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn hub_search_tools(
        &self,
        Parameters(p): Parameters<HubSearchParams>,
        ctx: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<Json<ToolMatches>, ToolError> {
        let hub = self.request_hub(&ctx).await?;
        let query = p.query.trim();
        if query.is_empty() || query.chars().count() > 500 {
            return Err(ToolError::invalid("query", "must be 1 to 500 characters"));
        }
        let limit = p.limit.unwrap_or(DEFAULT_MATCHES);
        if !(1..=MAX_MATCHES).contains(&limit) {
            return Err(ToolError::invalid(
                "limit",
                format!("must be 1 to {MAX_MATCHES}"),
            ));
        }
        let tools = hub
            .search(query, usize::from(limit))
            .into_iter()
            .map(|(tool, server, score)| ToolMatch {
                name: tool.name.to_string(),
                server,
                description: tool.description.map(|d| d.to_string()),
                input_schema: (*tool.input_schema).clone(),
                score: (score * 1000.0).round() / 1000.0,
            })
            .collect();
        Ok(Json::new(ToolMatches {
            tools,
            searched: hub.tools().len(),
        }))
    }

    /// Call one of the user's own MCP servers' tools by name (from hub_search_tools) with its arguments; answers with that tool's own result.
    #[tool(
        title = "Call a hub tool",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn hub_call_tool(
        &self,
        Parameters(p): Parameters<HubCallParams>,
        ctx: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<rmcp::model::CallToolResult, ToolError> {
        let hub = self.request_hub(&ctx).await?;
        let Some(tool) = hub.tool(&p.name) else {
            return Err(ToolError::invalid(
                "name",
                format!(
                    "no tool of your servers is named {:?}; find one with hub_search_tools",
                    p.name
                ),
            ));
        };
        let arguments = p.arguments.unwrap_or_default();
        check_arguments(&tool, &arguments)?;
        let request = rmcp::model::CallToolRequestParams::new(p.name).with_arguments(arguments);
        // A task the server makes of the call is followed by the hub: this tool answers
        // with the result.
        match self.call_downstream(&hub, request, ctx, false).await {
            Ok(rmcp::model::CallToolResponse::Complete(result)) => Ok(result),
            Err(error) => Err(ToolError::Refused(error.message.to_string())),
            Ok(_) => Err(ToolError::Refused(format!(
                "{} asked for more input before answering, which hub_call_tool cannot pass on; call {} by its own name",
                tool.name, tool.name
            ))),
        }
    }
}

/// Checks `arguments` against the tool's input schema; every violation is named with its
/// place in the arguments. A schema that is not valid JSON Schema is the server's business:
/// the arguments go as they are.
fn check_arguments(
    tool: &rmcp::model::Tool,
    arguments: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), ToolError> {
    let schema = serde_json::Value::Object((*tool.input_schema).clone());
    let validator = match jsonschema::validator_for(&schema) {
        Ok(validator) => validator,
        Err(e) => {
            tracing::debug!(tool = %tool.name, "its input schema cannot be checked: {e}");
            return Ok(());
        }
    };
    let instance = serde_json::Value::Object(arguments.clone());
    let problems: Vec<String> = validator
        .iter_errors(&instance)
        .take(5)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            }
        })
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    Err(ToolError::invalid(
        "arguments",
        format!(
            "do not match {}'s inputSchema: {}",
            tool.name,
            problems.join("; ")
        ),
    ))
}
