//! Tools about the hub itself: what each downstream server is doing, and a way to
//! reconnect them. The downstream servers' own tools are not here: they are merged into
//! `tools/list` by [`PluggedinServer`]'s handler from [`crate::hub::Hub`].

use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    PluggedinServer,
    params::Parameters,
    reply::{Json, ToolError},
};
use crate::hub::{Hub, State};

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

#[derive(Debug, Serialize, JsonSchema)]
pub struct HubRefreshed {
    /// Servers asked to reconnect; they come back in the background (see hub_status).
    pub reconnecting: Vec<String>,
}

impl PluggedinServer {
    fn hub(&self) -> Result<&Hub, ToolError> {
        self.shared.options.hub.as_ref().ok_or_else(|| {
            ToolError::Refused(
                "hub mode is off: start pluggedin-mcp with --servers FILE to reach your own MCP servers".into(),
            )
        })
    }
}

#[tool_router(router = hub_tools, vis = "pub(crate)")]
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
    ) -> Result<Json<HubStatus>, ToolError> {
        let servers = self
            .hub()?
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
        let hub = self.hub()?;
        let which = p.server.as_deref().map(str::trim).filter(|s| !s.is_empty());
        // Servers added to or removed from the account show up now, not at the next poll.
        hub.poll_sources();
        // Plugged.in rediscovers too, so its catalog (read by other clients) catches up.
        if self.backend() == super::Backend::Cloud
            && let Ok(client) = self.client(&ctx)
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
}
