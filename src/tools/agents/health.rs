//! An agent's health as `agent_status` reports it: from its state, the interval its last
//! heartbeat's mode promised (the zombie rules), a suspension, or a failed deployment.

use serde_json::Value;

use crate::{
    api::agents::AgentDetails,
    clock::Clock,
    vocab::{
        agents::{DRAIN_AFTER_MISSED, UNHEALTHY_AFTER_MISSED, heartbeat_interval},
        keys,
    },
};

pub(super) fn seconds_since(clock: &Clock, ts: Option<&str>) -> Option<u64> {
    let t = crate::clock::parse_iso(ts?)?;
    (clock.now() - t).to_std().ok().map(|d| d.as_secs())
}

pub(super) fn mode_of(d: &AgentDetails) -> String {
    d.agent
        .metadata
        .get(keys::LAST_HEARTBEAT_MODE)
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
            .get(keys::event::ERROR_MESSAGE)
            .or_else(|| latest.metadata.get("error"))
            .and_then(Value::as_str)
            .map_or_else(
                || "no message was recorded".to_string(),
                |m| crate::text::truncate(m, 500),
            )
    })
}

/// Health from the state and the heartbeat interval of the agent's mode (zombie rules).
pub(super) fn health(clock: &Clock, d: &AgentDetails) -> (String, String) {
    let a = &d.agent;
    if a.metadata.get(keys::INTENTIONALLY_SUSPENDED) == Some(&Value::Bool(true)) {
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
            let interval = heartbeat_interval(&mode);
            match seconds_since(clock, a.last_heartbeat_at.as_deref()) {
                None => ("unknown".into(), "ACTIVE but no heartbeat recorded".into()),
                Some(age) => {
                    let missed = age / interval.as_secs().max(1);
                    if missed >= u64::from(UNHEALTHY_AFTER_MISSED) {
                        (
                            "unhealthy".into(),
                            format!(
                                "{missed} {mode} heartbeat intervals ({} s each) missed; drained automatically after {}",
                                interval.as_secs(),
                                DRAIN_AFTER_MISSED
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
