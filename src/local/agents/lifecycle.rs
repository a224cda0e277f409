//! Lifecycle actions: the state an agent reports (`POST /state`, checked against the PAP
//! state machine), and shutdown, suspend, resume and restart. Each is one [`transition`]:
//! the guard, then the change and its event.

use axum::{
    extract::{Path, State},
    response::Response,
};
use serde_json::{Value, json};

use super::rows::{LOCAL_USER, Step, by, transition};
use crate::{
    local::{
        AppState,
        http::{Body, ErrorResponse, HttpResult, ok, uuid_param},
    },
    vocab::{agents::AgentState, keys},
};

const LOCAL_K8S_NOTE: &str = "Local mode: no Kubernetes deployment exists, nothing to change";

fn state_field(body: &Body, key: &str) -> HttpResult<AgentState> {
    body.get(key)
        .and_then(Value::as_str)
        .and_then(AgentState::parse)
        .ok_or_else(|| {
            ErrorResponse::bad_request(format!(
                "Invalid {key}. Must be one of: {}",
                AgentState::names()
            ))
        })
}

/// `POST /state`: an agent reports a state change it made itself.
pub async fn change_state(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> HttpResult<Response> {
    let id = uuid_param(&id, "agent")?;
    if body.get("from_state").is_none() || body.get("to_state").is_none() {
        return Err(ErrorResponse::bad_request(
            r#"Fields "from_state" and "to_state" are required"#,
        ));
    }
    let from = state_field(&body, "from_state")?;
    let to = state_field(&body, "to_state")?;
    let reported_at = body.get("timestamp").cloned().unwrap_or(Value::Null);
    let now = app.store.clock.now_iso();
    let uuid = id.clone();
    app.store
        .write(move |tx| {
            transition(tx, &id, &now, |agent| {
                let current = agent.state();
                if current != from {
                    return Err(ErrorResponse::conflict(format!(
                        "State mismatch: client reported from_state '{from}' but server has '{current}'"
                    ))
                    .with("current_state", current.as_str())
                    .with("hint", "Refresh agent state and retry"));
                }
                let allowed = from.allowed_transitions();
                if !allowed.contains(&to) {
                    return Err(ErrorResponse::bad_request(format!(
                        "Invalid state transition: {from} → {to}"
                    ))
                    .with("current_state", from.as_str())
                    .with("allowed_transitions", json!(allowed))
                    .with("normative_fsm", "PAP-RFC-001 §7.2"));
                }
                Ok(Step::enter(
                    "STATE_CHANGE",
                    to,
                    json!({ "reported_by_agent": true, "timestamp": reported_at }),
                ))
            })
        })
        .await?;
    Ok(ok(json!({
        "message": "State change recorded",
        "agent_uuid": uuid,
        "from_state": from,
        "to_state": to,
        "current_state": to,
    })))
}

/// The drain timeout of a shutdown: 10 to 3600 s, 300 by default. The cloud coerces with
/// JavaScript's `Number()`, so `"60"` is accepted as well as `60`.
fn drain_timeout(body: &Body) -> HttpResult<i64> {
    let Some(v) = body.get("drain_timeout_seconds") else {
        return Ok(300);
    };
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n.fract() == 0.0 && (10.0..=3600.0).contains(&n) => Ok(n as i64),
        _ => Err(ErrorResponse::bad_request(
            "drain_timeout_seconds must be an integer between 10 and 3600",
        )),
    }
}

/// ACTIVE → DRAINING.
pub async fn shutdown(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> HttpResult<Response> {
    let id = uuid_param(&id, "agent")?;
    let drain = drain_timeout(&body)?;
    let now = app.store.clock.now_iso();
    let profile = app.store.profile_uuid.clone();
    let agent = app
        .store
        .write(move |tx| {
            let done = transition(tx, &id, &now, |agent| {
                if agent.state() != AgentState::Active {
                    return Err(ErrorResponse::bad_request(format!(
                        "Invalid state transition: {} → DRAINING. Agent must be in ACTIVE state.",
                        agent.state
                    ))
                    .with("current_state", agent.state.clone())
                    .with("allowed_states", json!([AgentState::Active])));
                }
                agent.metadata.insert("drain_started_at".into(), json!(now));
                agent
                    .metadata
                    .insert("drain_timeout_seconds".into(), json!(drain));
                Ok(Step::enter(
                    "STATE_CHANGE",
                    AgentState::Draining,
                    by(
                        LOCAL_USER,
                        json!({ "action": "shutdown", "drain_timeout_seconds": drain }),
                    ),
                ))
            })?;
            Ok(done.after.full_json(&profile))
        })
        .await?;
    Ok(ok(json!({
        "message": "Agent shutdown initiated. Transitioning to DRAINING state.",
        "agent": agent,
        "kubernetes": { "success": true, "message": LOCAL_K8S_NOTE },
        "drain_timeout_seconds": drain,
    })))
}

/// Scale to zero on purpose (state kept; the zombie sweep leaves it alone).
pub async fn suspend(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> HttpResult<Response> {
    let id = uuid_param(&id, "agent")?;
    let reason = body
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("User requested suspension")
        .to_string();
    let now = app.store.clock.now_iso();
    let uuid = id.clone();
    let now_c = now.clone();
    app.store
        .write(move |tx| {
            transition(tx, &id, &now, |agent| {
                if agent.state().is_terminal() {
                    return Err(ErrorResponse::bad_request(format!(
                        "Agent in state {} cannot be suspended",
                        agent.state
                    ))
                    .with("hint", "Terminated agents must be deleted and recreated"));
                }
                if agent.is_suspended() {
                    return Err(ErrorResponse::bad_request("Agent is already suspended")
                        .with("hint", "Use the resume endpoint to bring it back online"));
                }
                let m = &mut agent.metadata;
                m.insert(keys::INTENTIONALLY_SUSPENDED.into(), json!(true));
                m.insert("suspended_at".into(), json!(now));
                m.insert("suspended_reason".into(), json!(reason));
                m.insert("suspended_by".into(), json!(LOCAL_USER));
                Ok(Step::record(
                    "SUSPENDED",
                    by(LOCAL_USER, json!({ "reason": reason })),
                ))
            })
        })
        .await?;
    Ok(ok(json!({
        "message": "Agent suspended successfully",
        "agent_uuid": uuid,
        "suspended": true,
        "suspended_at": now_c,
        "kubernetes": { "success": true, "message": LOCAL_K8S_NOTE },
    })))
}

/// After a suspend: back to PROVISIONED, waiting for a heartbeat.
pub async fn resume(State(app): State<AppState>, Path(id): Path<String>) -> HttpResult<Response> {
    let id = uuid_param(&id, "agent")?;
    let now = app.store.clock.now_iso();
    let uuid = id.clone();
    let now_c = now.clone();
    let previous = app
        .store
        .write(move |tx| {
            let done = transition(tx, &id, &now, |agent| {
                if agent.state().is_terminal() {
                    return Err(ErrorResponse::bad_request(format!(
                        "Agent in state {} cannot be resumed",
                        agent.state
                    ))
                    .with("hint", "Terminated agents must be deleted and recreated"));
                }
                if !agent.is_suspended() {
                    return Err(ErrorResponse::bad_request("Agent is not suspended").with(
                        "hint",
                        "This agent is already running or in a different state",
                    ));
                }
                let m = &mut agent.metadata;
                let previous_suspension = json!({
                    "suspended_at": m.remove("suspended_at"),
                    "suspended_reason": m.remove("suspended_reason"),
                    "suspended_by": m.remove("suspended_by"),
                });
                m.remove(keys::INTENTIONALLY_SUSPENDED);
                m.insert("resumed_at".into(), json!(now));
                m.insert("resumed_by".into(), json!(LOCAL_USER));
                m.insert("previous_suspension".into(), previous_suspension);
                Ok(Step {
                    forget_heartbeat: true,
                    ..Step::enter(
                        "RESUMED",
                        AgentState::Provisioned,
                        by(LOCAL_USER, json!({})),
                    )
                })
            })?;
            Ok(done.before)
        })
        .await?;
    Ok(ok(json!({
        "message": "Agent resumed successfully",
        "agent_uuid": uuid,
        "resumed": true,
        "resumed_at": now_c,
        "previous_state": previous,
        "new_state": AgentState::Provisioned,
        "kubernetes": { "success": true, "message": LOCAL_K8S_NOTE },
    })))
}

/// Back to PROVISIONED, from a running state (any state with `force`).
pub async fn restart(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> HttpResult<Response> {
    let id = uuid_param(&id, "agent")?;
    let force = body.get("force") == Some(&Value::Bool(true));
    let now = app.store.clock.now_iso();
    let uuid = id.clone();
    let previous = app
        .store
        .write(move |tx| {
            let done = transition(tx, &id, &now, |agent| {
                let restartable = [
                    AgentState::Provisioned,
                    AgentState::Active,
                    AgentState::Draining,
                ];
                if !force && !restartable.contains(&agent.state()) {
                    return Err(ErrorResponse::bad_request(format!(
                        "Agent in state {} cannot be restarted",
                        agent.state
                    ))
                    .with("restartable_states", json!(restartable))
                    .with("hint", "Use force=true to restart anyway"));
                }
                Ok(Step {
                    forget_heartbeat: true,
                    ..Step::enter(
                        "RESTARTED",
                        AgentState::Provisioned,
                        by(LOCAL_USER, json!({ "force": force })),
                    )
                })
            })?;
            Ok(done.before)
        })
        .await?;
    Ok(ok(json!({
        "message": "Agent restart initiated",
        "agent_uuid": uuid,
        "previous_state": previous,
        "new_state": AgentState::Provisioned,
        "kubernetes": { "success": true, "message": LOCAL_K8S_NOTE },
    })))
}
