//! The zombie sweep: an ACTIVE agent that misses two heartbeat intervals (of the mode its
//! last heartbeat promised) is flagged unhealthy, once; one that misses five is drained.
//! It runs on a timer and on demand (`POST /api/agents/zombie-check`).

use axum::{extract::State, response::Response};
use serde_json::{Value, json};

use super::rows::{AGENT_COLUMNS, Agent, Step, by, transition};
use crate::{
    clock::{iso, parse_iso},
    local::{
        AppState,
        http::{HttpResult, ok},
        store::Store,
    },
    vocab::{
        agents::{AgentState, DRAIN_AFTER_MISSED, UNHEALTHY_AFTER_MISSED, heartbeat_interval},
        keys,
    },
};

/// What one zombie sweep did.
#[derive(Debug, Default, serde::Serialize)]
pub struct SweepReport {
    pub checked: usize,
    pub unhealthy: Vec<String>,
    pub drained: Vec<String>,
}

/// Applies the zombie rules to every ACTIVE agent: two missed heartbeat intervals flag it
/// unhealthy (once, with an `UNHEALTHY` event), five drain it (`AUTO_DRAINING`).
pub async fn sweep(store: &Store) -> HttpResult<SweepReport> {
    let now = store.clock.now();
    store
        .write(move |tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {AGENT_COLUMNS} FROM agents WHERE state = ?1"
            ))?;
            let agents = stmt
                .query_map([AgentState::Active.as_str()], Agent::from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            let now_s = iso(now);
            let mut report = SweepReport {
                checked: agents.len(),
                ..Default::default()
            };
            for agent in agents {
                let Some(last) = agent
                    .last_heartbeat_at
                    .as_deref()
                    .or(agent.activated_at.as_deref())
                    .and_then(parse_iso)
                else {
                    continue;
                };
                let mode = agent
                    .metadata
                    .get(keys::LAST_HEARTBEAT_MODE)
                    .and_then(Value::as_str)
                    .unwrap_or(&agent.heartbeat_mode)
                    .to_string();
                let interval = heartbeat_interval(&mode).as_millis() as i64;
                let missed = ((now - last).num_milliseconds() / interval.max(1)).max(0) as u32;
                let details = by(
                    "zombie_detection",
                    json!({
                        "missed_intervals": missed,
                        "last_heartbeat_at": iso(last),
                        "heartbeat_mode": mode,
                    }),
                );
                let flagged = agent.metadata.get("unhealthy") == Some(&Value::Bool(true));
                if missed >= DRAIN_AFTER_MISSED {
                    transition(tx, &agent.uuid, &now_s, |a| {
                        a.metadata.insert("unhealthy".into(), json!(true));
                        a.metadata.insert("drain_started_at".into(), json!(now_s));
                        Ok(Step::enter("AUTO_DRAINING", AgentState::Draining, details))
                    })?;
                    report.drained.push(agent.name);
                } else if missed >= UNHEALTHY_AFTER_MISSED && !flagged {
                    transition(tx, &agent.uuid, &now_s, |a| {
                        a.metadata.insert("unhealthy".into(), json!(true));
                        a.metadata.insert("unhealthy_since".into(), json!(now_s));
                        Ok(Step::record("UNHEALTHY", details))
                    })?;
                    report.unhealthy.push(agent.name);
                }
            }
            Ok(report)
        })
        .await
}

pub async fn zombie_check(State(app): State<AppState>) -> HttpResult<Response> {
    let report = sweep(&app.store).await?;
    Ok(ok(serde_json::to_value(report)?))
}
