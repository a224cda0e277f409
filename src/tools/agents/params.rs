//! The arguments of the agent tools. Names the API defines (states, heartbeat modes, access
//! levels) come from the vocabulary, so a tool accepts exactly what Plugged.in does.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::vocab::agents::{AccessLevel, AgentState, HeartbeatMode};

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    Light,
    Standard,
    Heavy,
}

impl Size {
    /// The PAP guide's presets: CPU request/limit and memory request/limit.
    pub(super) fn resources(self) -> Value {
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

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateAgentParams {
    /// DNS-safe name, 2-63 chars: lowercase letters, digits, single hyphens. Becomes https://{name}.is.plugged.in; names are never reusable.
    #[schemars(length(min = 2, max = 63))]
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
    /// Seconds to wait. Default 60.
    #[schemars(range(min = 1, max = 600))]
    pub wait_timeout_seconds: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListAgentsParams {
    pub state: Option<AgentState>,
    /// Default 50.
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AgentParams {
    /// Agent uuid or name.
    #[schemars(length(min = 1))]
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
    #[schemars(length(min = 1))]
    pub agent: String,
    /// shutdown: ACTIVE→DRAINING. suspend: scale to zero, keep state. resume: after suspend. restart: back to PROVISIONED.
    pub action: ControlAction,
    /// shutdown only, default 300.
    #[schemars(range(min = 10, max = 3600))]
    pub drain_timeout_seconds: Option<u32>,
    /// suspend only.
    pub reason: Option<String>,
    /// restart only: also from states that normally cannot restart.
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct HeartbeatParams {
    /// Agent uuid or name.
    #[schemars(length(min = 1))]
    pub agent: String,
    /// Promised interval: EMERGENCY 5 s, IDLE 30 s (default), SLEEP 15 min.
    pub mode: Option<HeartbeatMode>,
    pub uptime_seconds: u64,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MetricsParams {
    /// Agent uuid or name.
    #[schemars(length(min = 1))]
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
    #[schemars(length(min = 1))]
    pub agent: String,
    /// Include recent heartbeats and metrics. Default false.
    #[serde(default)]
    pub include_telemetry: bool,
    /// Default 100.
    #[schemars(range(min = 1, max = 10000))]
    pub telemetry_limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct LogsParams {
    /// Agent uuid or name.
    #[schemars(length(min = 1))]
    pub agent: String,
    /// Last N lines, default 100.
    #[schemars(range(min = 1, max = 1000))]
    pub tail: Option<u32>,
}
