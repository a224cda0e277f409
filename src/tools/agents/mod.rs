//! PAP agent tools: deploy, watch, control, and report telemetry for agents. The tools are
//! here; their arguments in [`params`], results in [`outputs`], health rules in [`health`],
//! and waiting for an agent to come up in [`wait`].

mod health;
mod outputs;
mod params;
mod wait;

use std::time::Duration;

use rmcp::{RoleServer, service::RequestContext, tool, tool_router};
use serde_json::{Value, json};

use self::{
    health::{health, mode_of, seconds_since},
    outputs::*,
    params::*,
};
use super::{
    Tools, cancellable,
    params::Parameters,
    reply::{Json, ToolError},
};
use crate::{
    api::{
        Client,
        agents::{Action, AgentDetails, NewAgent},
    },
    vocab::{
        agents::{agent_url, normalize_name, validate_name},
        keys,
    },
};

pub(crate) use outputs::AgentStatus;

const DEFAULT_IMAGE: &str = "nginxinc/nginx-unprivileged";
const NOT_FOUND_NEXT: &str = "Use list_agents to see the agents and their uuids.";

/// Finds an agent's uuid from its uuid or name. A name costs one list call.
pub(crate) async fn resolve_agent(client: &Client, agent: &str) -> Result<String, ToolError> {
    let agent = agent.trim();
    if agent.is_empty() {
        return Err(ToolError::invalid("agent", "give the agent's uuid or name"));
    }
    if let Ok(uuid) = uuid::Uuid::parse_str(agent) {
        return Ok(uuid.to_string());
    }
    let name = normalize_name(agent);
    let agents = client.list_agents().await?;
    agents
        .into_iter()
        .find(|a| a.name == name)
        .map(|a| a.uuid)
        .ok_or_else(|| ToolError::NotFound(format!("no agent named `{name}`. {NOT_FOUND_NEXT}")))
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

/// What a delete or lifecycle action left: the agent as it is now, and the API's message.
async fn changed(
    client: &Client,
    ct: &tokio_util::sync::CancellationToken,
    uuid: String,
    message: String,
) -> Result<Json<AgentChange>, ToolError> {
    let d = details(client, ct, &uuid).await?;
    Ok(Json::new(AgentChange {
        uuid,
        name: d.agent.name,
        state: d.agent.state,
        message,
    }))
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

#[tool_router(router = agent_tools, vis = "pub(crate)")]
impl Tools {
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
        let name = normalize_name(&p.name);
        validate_name(&name).map_err(|rule| ToolError::invalid("name", rule))?;
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
                access_level: p.access_level.map(|a| a.as_str().to_string()),
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
            url: agent_url(&name),
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
        let wanted = p.state.map(|s| s.as_str());
        let agents = cancellable(&ctx.ct, self.client(&ctx)?.list_agents()).await?;
        let matching: Vec<AgentRow> = agents
            .into_iter()
            .filter(|a| wanted.is_none_or(|w| a.state == w))
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
        changed(&client, &ctx.ct, uuid, ack.message).await
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
        changed(&client, &ctx.ct, uuid, ack.message).await
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
        let mode = p.mode.unwrap_or_default().as_str();
        let ack = cancellable(&ctx.ct, client.heartbeat(&uuid, mode, p.uptime_seconds))
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

impl Tools {
    /// An agent's status by uuid or name (the `agent_status` tool and the agent resource).
    pub(crate) async fn agent_status_of(
        &self,
        client: &Client,
        ctx: &RequestContext<RoleServer>,
        agent: &str,
    ) -> Result<AgentStatus, ToolError> {
        let uuid = resolve_agent(client, agent).await?;
        let d = details(client, &ctx.ct, &uuid).await?;
        let (health, health_detail) = health(self.clock(), &d);
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
            url: agent_url(&a.name),
            access_level: a.access_level.clone(),
            image: a
                .metadata
                .get(keys::IMAGE)
                .and_then(Value::as_str)
                .map(str::to_string),
            heartbeat_mode: a.last_heartbeat_at.as_ref().map(|_| mode_of(&d)),
            last_heartbeat_at: a.last_heartbeat_at.clone(),
            seconds_since_heartbeat: seconds_since(self.clock(), a.last_heartbeat_at.as_deref()),
            latest_metrics,
            recent_events,
            note,
        })
    }
}
