//! What the agent tools return (each is a tool's output schema).

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

/// A free-form JSON object (its schema says `object`, not "anything").
type JsonObject = serde_json::Map<String, Value>;

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
