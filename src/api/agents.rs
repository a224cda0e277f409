//! PAP agent calls. Agent rows are snake_case; `GET /api/agents/{id}` adds the recent
//! heartbeats, metrics and lifecycle events (newest first); lifecycle actions answer with a
//! message and, for some, the previous and new state.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ApiError, Client, Request};
use crate::clock::de_iso_opt;

/// An agent row as the API serializes it (snake_case); unknown fields are ignored. `uuid`,
/// `name` and `state` are required, so an answer of another shape is an error.
#[derive(Debug, Clone, Deserialize)]
pub struct Agent {
    pub uuid: String,
    pub name: String,
    pub state: String,
    #[serde(default)]
    pub access_level: String,
    #[serde(default)]
    pub template_uuid: Option<String>,
    #[serde(default)]
    pub heartbeat_mode: String,
    #[serde(default)]
    pub deployment_status: String,
    #[serde(default, deserialize_with = "de_iso_opt")]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "de_iso_opt")]
    pub provisioned_at: Option<String>,
    #[serde(default, deserialize_with = "de_iso_opt")]
    pub activated_at: Option<String>,
    #[serde(default, deserialize_with = "de_iso_opt")]
    pub terminated_at: Option<String>,
    #[serde(default, deserialize_with = "de_iso_opt")]
    pub last_heartbeat_at: Option<String>,
    #[serde(default)]
    pub metadata: Value,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Heartbeat {
    pub mode: String,
    pub uptime_seconds: Option<f64>,
    #[serde(deserialize_with = "de_iso_opt")]
    pub timestamp: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MetricsSample {
    pub cpu_percent: Option<f64>,
    pub memory_mb: Option<f64>,
    pub requests_handled: Option<f64>,
    pub custom_metrics: Value,
    #[serde(deserialize_with = "de_iso_opt")]
    pub timestamp: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LifecycleEvent {
    pub event_type: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub metadata: Value,
    #[serde(deserialize_with = "de_iso_opt")]
    pub timestamp: Option<String>,
}

/// `GET /api/agents/{id}`: the agent with its recent telemetry and events, newest first.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentDetails {
    pub agent: Agent,
    #[serde(default)]
    pub recent_heartbeats: Vec<Heartbeat>,
    #[serde(default)]
    pub recent_metrics: Vec<MetricsSample>,
    #[serde(default)]
    pub lifecycle_events: Vec<LifecycleEvent>,
}

/// The body of `POST /api/agents`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewAgent {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_uuid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_overrides: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Deployment {
    pub success: bool,
    #[serde(default)]
    pub message: String,
}

impl Default for Deployment {
    /// An answer without a deployment report is not a failed deployment.
    fn default() -> Self {
        Self {
            success: true,
            message: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct CreatedAgent {
    pub agent: Agent,
    #[serde(default)]
    pub deployment: Deployment,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Transition {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HeartbeatAck {
    pub message: String,
    pub state_transition: Option<Transition>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MetricsAck {
    pub message: String,
    pub cpu_percent: Option<f64>,
    pub memory_mb: Option<f64>,
    pub requests_handled: Option<f64>,
}

/// The answer of a lifecycle action (shutdown, suspend, resume, restart).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ActionAck {
    pub message: String,
    pub previous_state: Option<String>,
    pub new_state: Option<String>,
    pub agent: Option<Agent>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LogLine {
    #[serde(deserialize_with = "de_iso_opt")]
    pub timestamp: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Logs {
    pub logs: String,
    pub lines: Vec<LogLine>,
    pub error: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Acknowledgement {
    pub message: String,
}

/// A lifecycle action and its options.
#[derive(Debug, Clone)]
pub enum Action {
    Shutdown { drain_timeout_seconds: Option<u32> },
    Suspend { reason: Option<String> },
    Resume,
    Restart { force: bool },
}

impl Client {
    pub async fn list_agents(&self) -> Result<Vec<Agent>, ApiError> {
        self.json(Request::get(&["api", "agents"])).await
    }

    pub async fn create_agent(&self, agent: &NewAgent) -> Result<CreatedAgent, ApiError> {
        self.json(Request::post(&["api", "agents"], agent)).await
    }

    pub async fn agent(&self, id: &str) -> Result<AgentDetails, ApiError> {
        self.json(Request::get(&["api", "agents", id])).await
    }

    pub async fn delete_agent(&self, id: &str) -> Result<Acknowledgement, ApiError> {
        self.json(Request::delete(&["api", "agents", id])).await
    }

    pub async fn heartbeat(
        &self,
        id: &str,
        mode: &str,
        uptime_seconds: u64,
    ) -> Result<HeartbeatAck, ApiError> {
        // Never retried: an agent sends its next heartbeat on its own cadence anyway.
        let body = json!({ "mode": mode, "uptime_seconds": uptime_seconds });
        self.json(Request::post(&["api", "agents", id, "heartbeat"], body))
            .await
    }

    pub async fn metrics(&self, id: &str, sample: Value) -> Result<MetricsAck, ApiError> {
        self.json(Request::post(&["api", "agents", id, "metrics"], sample))
            .await
    }

    pub async fn agent_action(&self, id: &str, action: &Action) -> Result<ActionAck, ApiError> {
        let (verb, body) = match action {
            Action::Shutdown {
                drain_timeout_seconds,
            } => (
                "shutdown",
                drain_timeout_seconds.map_or(json!({}), |s| json!({ "drain_timeout_seconds": s })),
            ),
            Action::Suspend { reason } => (
                "suspend",
                reason
                    .as_ref()
                    .map_or(json!({}), |r| json!({ "reason": r })),
            ),
            Action::Resume => ("resume", json!({})),
            Action::Restart { force } => (
                "restart",
                if *force {
                    json!({ "force": true })
                } else {
                    json!({})
                },
            ),
        };
        self.json(Request::post(&["api", "agents", id, verb], body))
            .await
    }

    /// The export document, as sent (the caller decides what to keep).
    pub async fn export_agent(
        &self,
        id: &str,
        include_telemetry: bool,
        telemetry_limit: u32,
    ) -> Result<Value, ApiError> {
        let body =
            json!({ "include_telemetry": include_telemetry, "telemetry_limit": telemetry_limit });
        self.json(Request::post(&["api", "agents", id, "export"], body).read_only())
            .await
    }

    pub async fn agent_logs(&self, id: &str, tail: u32) -> Result<Logs, ApiError> {
        self.json(Request::get(&["api", "agents", id, "logs"]).query("tail", tail))
            .await
    }
}
