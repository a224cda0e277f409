//! PAP agent tools: deploy, watch, control, and report telemetry for agents.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use rmcp::{
    RoleServer, model::ProgressNotificationParam, service::RequestContext, tool, tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A free-form JSON object (its schema says `object`, not "anything").
type JsonObject = serde_json::Map<String, Value>;

use super::{
    PluggedinServer, cancellable,
    params::Parameters,
    reply::{Json, ToolError, wire_name},
};
use crate::{
    api::{
        Client,
        agents::{Action, AgentDetails, NewAgent},
    },
    pap,
};

const DEFAULT_IMAGE: &str = "nginxinc/nginx-unprivileged";
const POLL_EVERY: Duration = Duration::from_millis(500);
const NOT_FOUND_NEXT: &str = "Use list_agents to see the agents and their uuids.";

// ---------------------------------------------------------------------------------------
// Inputs

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    Light,
    Standard,
    Heavy,
}

impl Size {
    /// The PAP guide's presets: CPU request/limit and memory request/limit.
    fn resources(self) -> Value {
        let (cr, cl, mr, ml) = match self {
            Size::Light => ("100m", "500m", "128Mi", "512Mi"),
            Size::Standard => ("250m", "1000m", "256Mi", "1Gi"),
            Size::Heavy => ("500m", "2000m", "512Mi", "2Gi"),
        };
        json!({ "cpu_request": cr, "cpu_limit": cl, "memory_request": mr, "memory_limit": ml })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct Resources {
    /// e.g. `250m` or `0.5`
    pub cpu_request: Option<String>,
    pub cpu_limit: Option<String>,
    /// e.g. `256Mi` or `1Gi`
    pub memory_request: Option<String>,
    pub memory_limit: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum AccessLevel {
    Private,
    Public,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateAgentParams {
    /// DNS-safe name, 2-63 chars: lowercase letters, digits, single hyphens. Becomes https://{name}.is.plugged.in; names are never reusable.
    pub name: String,
    pub description: Option<String>,
    /// Container image (allowed registries only). Default nginxinc/nginx-unprivileged unless template_uuid is set.
    pub image: Option<String>,
    pub template_uuid: Option<String>,
    /// light 100m/500m CPU 128Mi/512Mi; standard 250m/1000m 256Mi/1Gi; heavy 500m/2000m 512Mi/2Gi. Or give resources.
    pub size: Option<Size>,
    pub resources: Option<Resources>,
    /// Default PRIVATE.
    pub access_level: Option<AccessLevel>,
    /// Environment variables for the container.
    pub env: Option<BTreeMap<String, String>>,
    /// Wait (with progress notifications) until the agent is ACTIVE.
    #[serde(default)]
    pub wait_until_active: bool,
    /// Seconds to wait, 1-600. Default 60.
    pub wait_timeout_seconds: Option<u32>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum AgentState {
    New,
    Provisioned,
    Active,
    Draining,
    Terminated,
    Killed,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListAgentsParams {
    pub state: Option<AgentState>,
    /// 1-200, default 50.
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AgentParams {
    /// Agent uuid or name.
    pub agent: String,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ControlAction {
    Shutdown,
    Suspend,
    Resume,
    Restart,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ControlAgentParams {
    /// Agent uuid or name.
    pub agent: String,
    /// shutdown: ACTIVE→DRAINING. suspend: scale to zero, keep state. resume: after suspend. restart: back to PROVISIONED.
    pub action: ControlAction,
    /// shutdown only: 10-3600, default 300.
    pub drain_timeout_seconds: Option<u32>,
    /// suspend only.
    pub reason: Option<String>,
    /// restart only: also from states that normally cannot restart.
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HeartbeatMode {
    Emergency,
    #[default]
    Idle,
    Sleep,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct HeartbeatParams {
    /// Agent uuid or name.
    pub agent: String,
    /// Promised interval: EMERGENCY 5 s, IDLE 30 s (default), SLEEP 15 min.
    pub mode: Option<HeartbeatMode>,
    pub uptime_seconds: u64,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MetricsParams {
    /// Agent uuid or name.
    pub agent: String,
    pub cpu_percent: f64,
    pub memory_mb: f64,
    pub requests_handled: u64,
    /// Extra numeric gauges.
    pub custom_metrics: Option<BTreeMap<String, f64>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ExportParams {
    /// Agent uuid or name.
    pub agent: String,
    /// Include recent heartbeats and metrics. Default false.
    #[serde(default)]
    pub include_telemetry: bool,
    /// 1-10000, default 100.
    pub telemetry_limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct LogsParams {
    /// Agent uuid or name.
    pub agent: String,
    /// Last N lines, 1-1000, default 100.
    pub tail: Option<u32>,
}

// ---------------------------------------------------------------------------------------
// Outputs

#[derive(Debug, Serialize, JsonSchema)]
pub struct WaitOutcome {
    /// active, timed_out, stopped (left the deploy path) or cancelled.
    pub outcome: String,
    pub waited_seconds: f64,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CreatedAgent {
    pub uuid: String,
    pub name: String,
    pub state: String,
    pub url: String,
    pub image: Option<String>,
    pub deployment: String,
    pub wait: Option<WaitOutcome>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AgentRow {
    pub uuid: String,
    pub name: String,
    pub state: String,
    pub created_at: Option<String>,
    pub last_heartbeat_at: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AgentList {
    pub agents: Vec<AgentRow>,
    pub total: usize,
    pub has_more: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LatestMetrics {
    pub cpu_percent: Option<f64>,
    pub memory_mb: Option<f64>,
    pub requests_handled: Option<f64>,
    pub at: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EventRow {
    pub event: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub at: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AgentStatus {
    pub uuid: String,
    pub name: String,
    pub state: String,
    /// healthy, unhealthy, not_deployed, deployment_failed, waiting_for_first_heartbeat, draining, suspended, stopped or unknown.
    pub health: String,
    pub health_detail: String,
    pub url: String,
    pub access_level: String,
    pub image: Option<String>,
    pub heartbeat_mode: Option<String>,
    pub last_heartbeat_at: Option<String>,
    pub seconds_since_heartbeat: Option<u64>,
    pub latest_metrics: Option<LatestMetrics>,
    pub recent_events: Vec<EventRow>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AgentChange {
    pub uuid: String,
    pub name: String,
    pub state: String,
    pub message: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HeartbeatResult {
    pub uuid: String,
    pub message: String,
    /// e.g. PROVISIONED→ACTIVE on the first heartbeat.
    pub transition: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MetricsResult {
    pub uuid: String,
    pub message: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AgentExport {
    pub export_version: Option<String>,
    pub exported_at: Option<String>,
    pub agent: JsonObject,
    pub lifecycle_events: Vec<JsonObject>,
    /// Recent heartbeats and metrics, when asked for.
    pub telemetry: Option<JsonObject>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LogLine {
    pub timestamp: Option<String>,
    pub message: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AgentLogs {
    pub uuid: String,
    pub lines: Vec<LogLine>,
    pub note: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Helpers

/// Finds an agent's uuid from its uuid or name. A name costs one list call.
pub(crate) async fn resolve_agent(client: &Client, agent: &str) -> Result<String, ToolError> {
    let agent = agent.trim();
    if agent.is_empty() {
        return Err(ToolError::invalid("agent", "give the agent's uuid or name"));
    }
    if let Ok(uuid) = uuid::Uuid::parse_str(agent) {
        return Ok(uuid.to_string());
    }
    let name = pap::normalize_name(agent);
    let agents = client.list_agents().await?;
    agents
        .into_iter()
        .find(|a| a.name == name)
        .map(|a| a.uuid)
        .ok_or_else(|| ToolError(format!("no agent named `{name}`. {NOT_FOUND_NEXT}")))
}

async fn details(
    client: &Client,
    ct: &tokio_util::sync::CancellationToken,
    uuid: &str,
) -> Result<AgentDetails, ToolError> {
    cancellable(ct, client.agent(uuid))
        .await
        .map_err(|e| ToolError::api(e, NOT_FOUND_NEXT))
}

fn seconds_since(ts: Option<&str>) -> Option<u64> {
    let t = crate::clock::parse_iso(ts?)?;
    (chrono::Utc::now() - t).to_std().ok().map(|d| d.as_secs())
}

fn mode_of(d: &AgentDetails) -> String {
    d.agent
        .metadata
        .get("last_heartbeat_mode")
        .and_then(Value::as_str)
        .or_else(|| d.recent_heartbeats.first().map(|h| h.mode.as_str()))
        .filter(|m| !m.is_empty())
        .unwrap_or(&d.agent.heartbeat_mode)
        .to_string()
}

/// The message of the deployment failure a NEW agent is stuck on: Plugged.in logs an `ERROR`
/// event (NEW → NEW, `metadata.error_message`) when the deploy fails. Events come newest
/// first; a newer deploy attempt (CREATED, PROVISIONED) clears an older failure, and other
/// events (an export, say) do not hide one.
fn failed_deployment(d: &AgentDetails) -> Option<String> {
    let latest = d
        .lifecycle_events
        .iter()
        .find(|e| matches!(e.event_type.as_str(), "ERROR" | "CREATED" | "PROVISIONED"))?;
    (latest.event_type == "ERROR").then(|| {
        latest
            .metadata
            .get("error_message")
            .or_else(|| latest.metadata.get("error"))
            .and_then(Value::as_str)
            .map_or_else(
                || "no message was recorded".to_string(),
                |m| crate::text::truncate(m, 500),
            )
    })
}

/// Health from the state and the heartbeat interval of the agent's mode (zombie rules).
fn health(d: &AgentDetails) -> (String, String) {
    let a = &d.agent;
    if a.metadata.get("intentionally_suspended") == Some(&Value::Bool(true)) {
        return (
            "suspended".into(),
            "suspended on purpose; resume with control_agent".into(),
        );
    }
    match a.state.as_str() {
        "TERMINATED" | "KILLED" => ("stopped".into(), format!("agent is {}", a.state)),
        "DRAINING" => (
            "draining".into(),
            "shutting down; it should report TERMINATED when done".into(),
        ),
        "NEW" => match failed_deployment(d) {
            Some(message) => (
                "deployment_failed".into(),
                format!("the deployment failed: {message}"),
            ),
            None => (
                "not_deployed".into(),
                "not deployed yet: it becomes PROVISIONED when its deployment succeeds, then ACTIVE at its first heartbeat (a heartbeat does not move a NEW agent)".into(),
            ),
        },
        "PROVISIONED" => (
            "waiting_for_first_heartbeat".into(),
            "deployed; turns ACTIVE at its first heartbeat".into(),
        ),
        "ACTIVE" => {
            let mode = mode_of(d);
            let interval = pap::heartbeat_interval(&mode);
            match seconds_since(a.last_heartbeat_at.as_deref()) {
                None => ("unknown".into(), "ACTIVE but no heartbeat recorded".into()),
                Some(age) => {
                    let missed = age / interval.as_secs().max(1);
                    if missed >= u64::from(pap::UNHEALTHY_AFTER_MISSED) {
                        (
                            "unhealthy".into(),
                            format!(
                                "{missed} {mode} heartbeat intervals ({} s each) missed; drained automatically after {}",
                                interval.as_secs(),
                                pap::DRAIN_AFTER_MISSED
                            ),
                        )
                    } else {
                        (
                            "healthy".into(),
                            format!(
                                "last heartbeat {age} s ago ({mode}: every {} s)",
                                interval.as_secs()
                            ),
                        )
                    }
                }
            }
        }
        other => ("unknown".into(), format!("state {other}")),
    }
}

fn check_range(
    field: &str,
    value: Option<u32>,
    min: u32,
    max: u32,
    default: u32,
) -> Result<u32, ToolError> {
    let v = value.unwrap_or(default);
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(ToolError::invalid(
            field,
            format!("must be between {min} and {max}"),
        ))
    }
}

// ---------------------------------------------------------------------------------------
// Tools

#[tool_router(router = agent_tools, vis = "pub(crate)")]
impl PluggedinServer {
    /// Deploy a PAP agent; returns uuid, state and URL. Optionally waits until ACTIVE.
    #[tool(
        title = "Create agent",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn create_agent(
        &self,
        Parameters(p): Parameters<CreateAgentParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<CreatedAgent>, ToolError> {
        let name = pap::normalize_name(&p.name);
        pap::validate_name(&name).map_err(|rule| ToolError::invalid("name", rule))?;
        if p.size.is_some() && p.resources.is_some() {
            return Err(ToolError::invalid(
                "size",
                "give size or resources, not both",
            ));
        }
        let wait_timeout = check_range("wait_timeout_seconds", p.wait_timeout_seconds, 1, 600, 60)?;
        if let Some(env) = &p.env
            && let Some(bad) = env.keys().find(|k| k.is_empty())
        {
            return Err(ToolError::invalid(
                "env",
                format!("empty variable name {bad:?}"),
            ));
        }
        let image = match (&p.image, &p.template_uuid) {
            (Some(i), _) => Some(i.trim().to_string()),
            (None, None) => Some(DEFAULT_IMAGE.to_string()),
            (None, Some(_)) => None,
        };
        let resources = match (p.size, &p.resources) {
            (Some(size), _) => Some(size.resources()),
            (None, Some(r)) => Some(json!(r)),
            (None, None) => None,
        };
        let client = self.client(&ctx)?;
        let created = cancellable(
            &ctx.ct,
            client.create_agent(&NewAgent {
                name: name.clone(),
                description: p.description,
                image: image.clone(),
                template_uuid: p.template_uuid,
                resources,
                access_level: p.access_level.map(|a| wire_name(&a)),
                env_overrides: p.env.map(|e| json!(e)),
            }),
        )
        .await
        .map_err(|e| {
            ToolError::api(
                e,
                "Fix the field named above, or pick another name (names are never reusable).",
            )
        })?;
        let uuid = created.agent.uuid.clone();
        let mut state = self
            .current_state(&client, &ctx, &uuid)
            .await
            .unwrap_or(created.agent.state);
        let deployed = created.deployment.success;
        let note = if !deployed {
            Some(format!(
                "The deployment failed: {}. The agent stays NEW; fix the cause and use control_agent action=restart, or delete it.",
                crate::text::truncate(created.deployment.message.trim_end_matches('.'), 500)
            ))
        } else {
            self.is_local().then(|| {
                "Local mode: the agent is a record only; no container is started. It turns ACTIVE when a heartbeat arrives (agent_heartbeat).".to_string()
            })
        };
        let wait = if p.wait_until_active && !deployed {
            Some(WaitOutcome {
                outcome: "stopped".into(),
                waited_seconds: 0.0,
                reason: Some("the deployment failed, so the agent cannot become ACTIVE".into()),
            })
        } else if p.wait_until_active {
            let (outcome, final_state) = self
                .wait_until_active(
                    &client,
                    &ctx,
                    &uuid,
                    &state,
                    Duration::from_secs(u64::from(wait_timeout)),
                )
                .await;
            state = final_state;
            Some(outcome)
        } else {
            None
        };
        Ok(Json::new(CreatedAgent {
            url: pap::agent_url(&name),
            uuid,
            name,
            state,
            image,
            deployment: created.deployment.message,
            wait,
            note,
        }))
    }

    /// List agents (newest first) with state and last heartbeat. Use agent_status for one agent's health, metrics and events.
    #[tool(
        title = "List agents",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_agents(
        &self,
        Parameters(p): Parameters<ListAgentsParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<AgentList>, ToolError> {
        let limit = check_range("limit", p.limit, 1, 200, 50)? as usize;
        let offset = p.offset.unwrap_or(0) as usize;
        let wanted = p.state.map(|s| wire_name(&s));
        let agents = cancellable(&ctx.ct, self.client(&ctx)?.list_agents()).await?;
        let matching: Vec<AgentRow> = agents
            .into_iter()
            .filter(|a| wanted.as_ref().is_none_or(|w| &a.state == w))
            .map(|a| AgentRow {
                uuid: a.uuid,
                name: a.name,
                state: a.state,
                created_at: a.created_at,
                last_heartbeat_at: a.last_heartbeat_at,
            })
            .collect();
        let total = matching.len();
        let page: Vec<AgentRow> = matching.into_iter().skip(offset).take(limit).collect();
        Ok(Json::new(AgentList {
            has_more: offset + page.len() < total,
            agents: page,
            total,
        }))
    }

    /// One agent by uuid or name: state, health from its heartbeat interval, last heartbeat, latest metrics, recent lifecycle events, URL.
    #[tool(
        title = "Agent status",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn agent_status(
        &self,
        Parameters(p): Parameters<AgentParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<AgentStatus>, ToolError> {
        let client = self.client(&ctx)?;
        self.agent_status_of(&client, &ctx, &p.agent)
            .await
            .map(Json::new)
    }

    /// Terminate an agent (state TERMINATED; its name stays taken). Idempotent.
    #[tool(
        title = "Delete agent",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn delete_agent(
        &self,
        Parameters(p): Parameters<AgentParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<AgentChange>, ToolError> {
        let client = self.client(&ctx)?;
        let uuid = resolve_agent(&client, &p.agent).await?;
        let ack = cancellable(&ctx.ct, client.delete_agent(&uuid))
            .await
            .map_err(|e| ToolError::api(e, NOT_FOUND_NEXT))?;
        let d = details(&client, &ctx.ct, &uuid).await?;
        Ok(Json::new(AgentChange {
            uuid,
            name: d.agent.name,
            state: d.agent.state,
            message: ack.message,
        }))
    }

    /// Shutdown, suspend, resume or restart an agent; returns its new state.
    #[tool(
        title = "Control agent",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn control_agent(
        &self,
        Parameters(p): Parameters<ControlAgentParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<AgentChange>, ToolError> {
        let drain = match p.drain_timeout_seconds {
            Some(s) if !(10..=3600).contains(&s) => {
                return Err(ToolError::invalid(
                    "drain_timeout_seconds",
                    "must be between 10 and 3600",
                ));
            }
            other => other,
        };
        let action = match p.action {
            ControlAction::Shutdown => Action::Shutdown {
                drain_timeout_seconds: drain,
            },
            ControlAction::Suspend => Action::Suspend { reason: p.reason },
            ControlAction::Resume => Action::Resume,
            ControlAction::Restart => Action::Restart { force: p.force },
        };
        let client = self.client(&ctx)?;
        let uuid = resolve_agent(&client, &p.agent).await?;
        let ack = cancellable(&ctx.ct, client.agent_action(&uuid, &action))
            .await
            .map_err(|e| ToolError::api(e, "Check agent_status for the current state."))?;
        let d = details(&client, &ctx.ct, &uuid).await?;
        Ok(Json::new(AgentChange {
            uuid,
            name: d.agent.name,
            state: d.agent.state,
            message: ack.message,
        }))
    }

    /// Report a heartbeat for an agent runtime that speaks MCP (no resource data; see agent_metrics). The first one makes a PROVISIONED agent ACTIVE.
    #[tool(
        title = "Agent heartbeat",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn agent_heartbeat(
        &self,
        Parameters(p): Parameters<HeartbeatParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<HeartbeatResult>, ToolError> {
        let client = self.client(&ctx)?;
        let uuid = resolve_agent(&client, &p.agent).await?;
        let mode = wire_name(&p.mode.unwrap_or_default());
        let ack = cancellable(&ctx.ct, client.heartbeat(&uuid, &mode, p.uptime_seconds))
            .await
            .map_err(|e| ToolError::api(e, NOT_FOUND_NEXT))?;
        Ok(Json::new(HeartbeatResult {
            uuid,
            message: ack.message,
            transition: ack.state_transition.map(|t| format!("{}→{}", t.from, t.to)),
        }))
    }

    /// Report resource metrics for an agent runtime (separate from heartbeats, about every 60 s).
    #[tool(
        title = "Agent metrics",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn agent_metrics(
        &self,
        Parameters(p): Parameters<MetricsParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<MetricsResult>, ToolError> {
        for (field, v) in [("cpu_percent", p.cpu_percent), ("memory_mb", p.memory_mb)] {
            if !v.is_finite() || v < 0.0 {
                return Err(ToolError::invalid(field, "must be a non-negative number"));
            }
        }
        let client = self.client(&ctx)?;
        let uuid = resolve_agent(&client, &p.agent).await?;
        let mut sample = json!({
            "cpu_percent": p.cpu_percent,
            "memory_mb": p.memory_mb,
            "requests_handled": p.requests_handled,
        });
        if let Some(custom) = p.custom_metrics {
            sample["custom_metrics"] = json!(custom);
        }
        let ack = cancellable(&ctx.ct, client.metrics(&uuid, sample))
            .await
            .map_err(|e| ToolError::api(e, NOT_FOUND_NEXT))?;
        Ok(Json::new(MetricsResult {
            uuid,
            message: ack.message,
        }))
    }

    /// Export an agent's configuration and lifecycle history (tokens and secrets removed), optionally with telemetry.
    #[tool(
        title = "Export agent",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn export_agent(
        &self,
        Parameters(p): Parameters<ExportParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<AgentExport>, ToolError> {
        let limit = check_range("telemetry_limit", p.telemetry_limit, 1, 10_000, 100)?;
        let client = self.client(&ctx)?;
        let uuid = resolve_agent(&client, &p.agent).await?;
        let mut doc = cancellable(
            &ctx.ct,
            client.export_agent(&uuid, p.include_telemetry, limit),
        )
        .await
        .map_err(|e| ToolError::api(e, NOT_FOUND_NEXT))?;
        // The same rule as the embedded API applies, whatever the upstream already hid.
        crate::redact::redact_json(&mut doc);
        let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
        let object = |v: Option<&Value>| v.and_then(Value::as_object).cloned();
        Ok(Json::new(AgentExport {
            export_version: text("export_version"),
            exported_at: text("exported_at"),
            agent: object(doc.get("agent")).unwrap_or_default(),
            lifecycle_events: doc
                .get("lifecycle_events")
                .and_then(Value::as_array)
                .map(|events| events.iter().filter_map(|e| object(Some(e))).collect())
                .unwrap_or_default(),
            telemetry: object(doc.get("telemetry")),
        }))
    }

    /// Recent container log lines of an agent.
    #[tool(
        title = "Agent logs",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn agent_logs(
        &self,
        Parameters(p): Parameters<LogsParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<AgentLogs>, ToolError> {
        let tail = check_range("tail", p.tail, 1, 1000, 100)?;
        let client = self.client(&ctx)?;
        let uuid = resolve_agent(&client, &p.agent).await?;
        let logs = cancellable(&ctx.ct, client.agent_logs(&uuid, tail))
            .await
            .map_err(|e| ToolError::api(e, NOT_FOUND_NEXT))?;
        let mut lines: Vec<LogLine> = logs
            .lines
            .into_iter()
            .map(|l| LogLine {
                timestamp: l.timestamp,
                message: crate::text::truncate(&l.message, 2000),
            })
            .collect();
        if lines.is_empty() && !logs.logs.is_empty() {
            lines = logs
                .logs
                .lines()
                .map(|l| LogLine {
                    timestamp: None,
                    message: crate::text::truncate(l, 2000),
                })
                .collect();
        }
        Ok(Json::new(AgentLogs {
            uuid,
            lines,
            note: logs.message.or(logs.error),
        }))
    }
}

impl PluggedinServer {
    /// An agent's status by uuid or name (the `agent_status` tool and the agent resource).
    pub(crate) async fn agent_status_of(
        &self,
        client: &Client,
        ctx: &RequestContext<RoleServer>,
        agent: &str,
    ) -> Result<AgentStatus, ToolError> {
        let uuid = resolve_agent(client, agent).await?;
        let d = details(client, &ctx.ct, &uuid).await?;
        let (health, health_detail) = health(&d);
        let a = &d.agent;
        let latest_metrics = d.recent_metrics.first().map(|m| LatestMetrics {
            cpu_percent: m.cpu_percent,
            memory_mb: m.memory_mb,
            requests_handled: m.requests_handled,
            at: m.timestamp.clone(),
        });
        let recent_events = d
            .lifecycle_events
            .iter()
            .take(10)
            .map(|e| EventRow {
                event: e.event_type.clone(),
                from: e.from_state.clone(),
                to: e.to_state.clone(),
                at: e.timestamp.clone(),
            })
            .collect();
        let note = (self.is_local() && matches!(a.state.as_str(), "NEW" | "PROVISIONED")).then(|| {
            "Local mode: no container runs, so only agent_heartbeat (or a PAP runtime pointed at the local API) makes this agent ACTIVE.".to_string()
        });
        Ok(AgentStatus {
            uuid: a.uuid.clone(),
            name: a.name.clone(),
            state: a.state.clone(),
            health,
            health_detail,
            url: pap::agent_url(&a.name),
            access_level: a.access_level.clone(),
            image: a
                .metadata
                .get("image")
                .and_then(Value::as_str)
                .map(str::to_string),
            heartbeat_mode: a.last_heartbeat_at.as_ref().map(|_| mode_of(&d)),
            last_heartbeat_at: a.last_heartbeat_at.clone(),
            seconds_since_heartbeat: seconds_since(a.last_heartbeat_at.as_deref()),
            latest_metrics,
            recent_events,
            note,
        })
    }

    async fn current_state(
        &self,
        client: &Client,
        ctx: &RequestContext<RoleServer>,
        uuid: &str,
    ) -> Option<String> {
        cancellable(&ctx.ct, client.agent(uuid))
            .await
            .ok()
            .map(|d| d.agent.state)
    }

    /// Polls the agent until it is ACTIVE, leaves the deploy path, the client cancels, or
    /// `timeout` passes; sends a progress notification at each state change.
    async fn wait_until_active(
        &self,
        client: &Client,
        ctx: &RequestContext<RoleServer>,
        uuid: &str,
        initial: &str,
        timeout: Duration,
    ) -> (WaitOutcome, String) {
        let started = Instant::now();
        let token = ctx.meta.get_progress_token();
        let mut state = initial.to_string();
        let mut step = 0.0;
        let progress = |step: f64, state: &str| {
            let token = token.clone();
            let peer = ctx.peer.clone();
            let message = format!("agent state: {state}");
            async move {
                if let Some(token) = token {
                    let _ = peer
                        .notify_progress(
                            ProgressNotificationParam::new(token, step).with_message(message),
                        )
                        .await;
                }
            }
        };
        progress(step, &state).await;
        let outcome = |outcome: &str, reason: Option<String>| WaitOutcome {
            outcome: outcome.into(),
            waited_seconds: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
            reason,
        };
        loop {
            match state.as_str() {
                "ACTIVE" => return (outcome("active", None), state),
                "NEW" | "PROVISIONED" => {}
                other => {
                    let reason = format!("the agent moved to {other} instead of ACTIVE");
                    return (outcome("stopped", Some(reason)), state);
                }
            }
            if started.elapsed() >= timeout {
                let reason = if self.is_local() {
                    format!(
                        "no heartbeat arrived within {} s. Local mode starts no container, so the agent turns ACTIVE only when a heartbeat is sent (agent_heartbeat, or POST /api/agents/{uuid}/heartbeat).",
                        timeout.as_secs()
                    )
                } else {
                    format!(
                        "no heartbeat arrived within {} s; the container may still be pulling its image or failing to start. Check agent_status and agent_logs.",
                        timeout.as_secs()
                    )
                };
                return (outcome("timed_out", Some(reason)), state);
            }
            tokio::select! {
                _ = ctx.ct.cancelled() => return (outcome("cancelled", Some("the client cancelled the wait".into())), state),
                _ = tokio::time::sleep(POLL_EVERY.min(timeout.saturating_sub(started.elapsed()))) => {}
            }
            if let Some(now) = self.current_state(client, ctx, uuid).await
                && now != state
            {
                state = now;
                step += 1.0;
                progress(step, &state).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_redaction_hides_tokens_at_any_depth() {
        let mut v = json!({"agent": {"model_router_token": "jwt", "name": "a", "metadata": {"env": {"API_KEY": "x", "LOG": "1"}}}});
        crate::redact::redact_json(&mut v);
        assert_eq!(v["agent"]["model_router_token"], crate::redact::REDACTED);
        assert_eq!(
            v["agent"]["metadata"]["env"]["API_KEY"],
            crate::redact::REDACTED
        );
        assert_eq!(v["agent"]["metadata"]["env"]["LOG"], "1");
    }
}
