//! What a running agent reports: heartbeats (proof of life, whose mode promises the next
//! one's interval; the first makes a PROVISIONED agent ACTIVE) and metrics (resource use,
//! kept apart from heartbeats as PAP requires); and what Kubernetes would report (events,
//! logs), of which the local API has none.

use axum::{
    extract::{Path, State},
    response::Response,
};
use rusqlite::params;
use serde_json::{Value, json};

use super::rows::{Step, by, load, save_metadata, transition};
use crate::{
    clock::{iso, parse_iso},
    local::{
        AppState,
        http::{Body, ErrorResponse, HttpResult, ok, uuid_param},
    },
    vocab::{
        agents::{AgentState, HeartbeatMode},
        keys,
    },
};

/// Parses a client-supplied timestamp: an ISO-8601 string or epoch milliseconds.
fn client_time(v: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    match v {
        Value::String(s) => parse_iso(s),
        Value::Number(n) => n
            .as_i64()
            .and_then(chrono::DateTime::<chrono::Utc>::from_timestamp_millis),
        _ => None,
    }
}

/// A heartbeat's own timestamp, when it sends one: parseable, not in the future, and no
/// older than two of its mode's intervals (the cloud's replay guard).
fn check_sent_time(
    raw: Option<&Value>,
    mode: HeartbeatMode,
    now: chrono::DateTime<chrono::Utc>,
) -> HttpResult<()> {
    let Some(raw) = raw else {
        return Ok(());
    };
    // The cloud silently accepts a timestamp it cannot parse; saying so helps agent authors.
    let sent = client_time(raw).ok_or_else(|| {
        ErrorResponse::bad_request(
            "timestamp must be an ISO-8601 date-time (e.g. 2025-11-13T08:00:45.123Z) or epoch milliseconds",
        )
    })?;
    if sent > now + chrono::Duration::seconds(5) {
        return Err(ErrorResponse::bad_request(
            "Heartbeat timestamp is in the future",
        ));
    }
    let window = mode.interval() * 2;
    let age = (now - sent).num_milliseconds();
    if age > i64::try_from(window.as_millis()).unwrap_or(i64::MAX) {
        return Err(ErrorResponse::bad_request(
            "Heartbeat timestamp too old (potential replay attack)",
        )
        .with("max_age_ms", json!(window.as_millis() as u64))
        .with("received_age_ms", json!(age)));
    }
    Ok(())
}

/// `uptime_seconds` as the cloud stores it: a non-negative whole number.
fn whole_seconds(uptime: &Value) -> HttpResult<i64> {
    let uptime = match uptime.as_f64() {
        Some(u) if u.is_finite() && u >= 0.0 => u,
        _ => {
            return Err(ErrorResponse::bad_request(
                "uptime_seconds must be a non-negative finite number",
            ));
        }
    };
    // The cloud stores whole seconds and answers a fractional value with a 500.
    if uptime.fract() != 0.0 || uptime > 9.0e15 {
        return Err(ErrorResponse::bad_request(
            "uptime_seconds must be a whole number of seconds (Plugged.in stores an integer)",
        ));
    }
    Ok(uptime as i64)
}

/// Resource figures belong to `/metrics`: PAP keeps them out of heartbeats.
fn refuse_resource_fields(body: &Body) -> HttpResult<()> {
    for field in [
        "cpu_percent",
        "memory_mb",
        "requests_handled",
        "custom_metrics",
    ] {
        if body.has(field) {
            return Err(ErrorResponse::bad_request(format!(
                r#"Field "{field}" not allowed in heartbeat. Use /metrics endpoint for resource telemetry."#
            ))
            .with(
                "zombie_prevention",
                "PAP-RFC-001 §8.1 requires strict heartbeat/metrics separation",
            ));
        }
    }
    Ok(())
}

/// Stores a heartbeat of agent `id`: its row, the agent's last heartbeat and mode, and —
/// being proof of life — the zombie sweep's flag cleared. Returns the agent as it was.
fn record(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    mode: HeartbeatMode,
    uptime: i64,
    now_s: &str,
) -> HttpResult<super::rows::Agent> {
    let mut agent = load(tx, id)?;
    tx.execute(
        "INSERT INTO agent_heartbeats (agent_uuid, mode, uptime_seconds, timestamp) VALUES (?1, ?2, ?3, ?4)",
        params![id, mode.as_str(), uptime, now_s],
    )?;
    agent.metadata.insert("last_heartbeat".into(), json!(now_s));
    agent
        .metadata
        .insert(keys::LAST_HEARTBEAT_MODE.into(), json!(mode));
    agent.metadata.remove("unhealthy");
    agent.metadata.remove("unhealthy_since");
    save_metadata(tx, id, &agent.metadata)?;
    tx.execute(
        "UPDATE agents SET last_heartbeat_at = ?2 WHERE uuid = ?1",
        params![id, now_s],
    )?;
    Ok(agent)
}

/// Local mode of the MCP server runs no containers, so nothing would send the heartbeats of
/// an agent once it is ACTIVE, and a demo's agent would turn UNHEALTHY a minute later. While
/// the server runs, this stands in for the container: every ACTIVE agent whose last
/// heartbeat is half an interval old gets one more, in the mode it last reported. Returns
/// how many. (`pluggedin-mcp api`, for PAP agent authors, and the tests keep the exact rules.)
pub async fn keep_alive(store: &crate::local::store::Store) -> HttpResult<usize> {
    let now = store.clock.now();
    store
        .write(move |tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {} FROM agents WHERE state = ?1",
                super::rows::AGENT_COLUMNS
            ))?;
            let agents = stmt
                .query_map([AgentState::Active.as_str()], super::rows::Agent::from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            let now_s = iso(now);
            let mut kept = 0;
            for agent in agents {
                let mode = agent
                    .metadata
                    .get(keys::LAST_HEARTBEAT_MODE)
                    .and_then(Value::as_str)
                    .and_then(HeartbeatMode::parse)
                    .unwrap_or_default();
                let last = agent.last_heartbeat_at.as_deref().and_then(parse_iso);
                let due = last.is_none_or(|at| {
                    (now - at).to_std().unwrap_or_default() * 2 >= mode.interval()
                });
                if !due {
                    continue;
                }
                let started = agent
                    .activated_at
                    .as_deref()
                    .and_then(parse_iso)
                    .unwrap_or(now);
                let uptime = (now - started).num_seconds().max(0);
                record(tx, &agent.uuid, mode, uptime, &now_s)?;
                kept += 1;
            }
            Ok(kept)
        })
        .await
}

pub async fn heartbeat(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> HttpResult<Response> {
    let id = uuid_param(&id, "agent")?;
    let (Some(mode), Some(uptime)) = (body.get("mode"), body.get("uptime_seconds")) else {
        return Err(ErrorResponse::bad_request(
            r#"Fields "mode" and "uptime_seconds" are required"#,
        ));
    };
    let Some(mode) = mode.as_str().and_then(HeartbeatMode::parse) else {
        return Err(ErrorResponse::bad_request(format!(
            "Invalid mode. Must be one of: {}",
            HeartbeatMode::names()
        )));
    };
    let now = app.store.clock.now();
    check_sent_time(body.get("timestamp"), mode, now)?;
    let uptime = whole_seconds(uptime)?;
    refuse_resource_fields(&body)?;
    let now_s = iso(now);
    let uuid = id.clone();
    let activated = app
        .store
        .write(move |tx| {
            let agent = record(tx, &id, mode, uptime, &now_s)?;
            // Only a deployed agent comes alive: a NEW one stays NEW, as on Plugged.in.
            if agent.state() != AgentState::Provisioned {
                return Ok(false);
            }
            transition(tx, &id, &now_s, |_| {
                Ok(Step::enter(
                    "ACTIVATED",
                    AgentState::Active,
                    by("heartbeat", json!({})),
                ))
            })?;
            Ok(true)
        })
        .await?;
    let (message, transition) = if activated {
        (
            "Heartbeat recorded, agent activated",
            json!({ "from": AgentState::Provisioned, "to": AgentState::Active }),
        )
    } else {
        ("Heartbeat recorded", Value::Null)
    };
    Ok(ok(json!({
        "message": message,
        "agent_uuid": uuid,
        "mode": mode,
        "uptime_seconds": uptime,
        "state_transition": transition,
    })))
}

pub async fn metrics(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> HttpResult<Response> {
    let id = uuid_param(&id, "agent")?;
    let fields = ["cpu_percent", "memory_mb", "requests_handled"];
    if fields.iter().any(|f| body.get(f).is_none()) {
        return Err(ErrorResponse::bad_request(
            r#"Fields "cpu_percent", "memory_mb", and "requests_handled" are required"#,
        ));
    }
    let mut values = [0f64; 3];
    for (slot, field) in values.iter_mut().zip(fields) {
        *slot = match body.get(field).and_then(Value::as_f64) {
            Some(v) if v.is_finite() && v >= 0.0 => v,
            _ => {
                return Err(ErrorResponse::bad_request(format!(
                    "{field} must be a non-negative number"
                )));
            }
        };
    }
    let [cpu, memory, requests] = values;
    if requests.fract() != 0.0 {
        return Err(ErrorResponse::bad_request(
            "requests_handled must be a whole number (Plugged.in stores an integer)",
        ));
    }
    let custom = match body.get("custom_metrics") {
        None => json!({}),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => {
            return Err(ErrorResponse::bad_request(
                "custom_metrics must be a JSON object",
            ));
        }
    };
    let (cpu, memory, requests) = (cpu.round() as i64, memory.round() as i64, requests as i64);
    let now = app.store.clock.now_iso();
    let uuid = id.clone();
    app.store
        .write(move |tx| {
            let mut agent = load(tx, &id)?;
            tx.execute(
                "INSERT INTO agent_metrics (agent_uuid, cpu_percent, memory_mb, requests_handled, custom_metrics, timestamp) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, cpu, memory, requests, custom.to_string(), now],
            )?;
            agent.metadata.insert("last_metrics".into(), json!(now));
            agent.metadata.insert("last_cpu_percent".into(), json!(cpu));
            agent.metadata.insert("last_memory_mb".into(), json!(memory));
            save_metadata(tx, &id, &agent.metadata)
        })
        .await?;
    Ok(ok(json!({
        "message": "Metrics recorded",
        "agent_uuid": uuid,
        "cpu_percent": cpu,
        "memory_mb": memory,
        "requests_handled": requests,
    })))
}

/// Kubernetes events of the agent's deployment: none exist locally.
pub async fn k8s_events(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> HttpResult<Response> {
    let id = uuid_param(&id, "agent")?;
    app.store.read(move |c| load(c, &id).map(|_| ())).await?;
    Ok(ok(
        json!({ "events": [], "pods": [], "deploymentStatus": null }),
    ))
}

/// Container logs: none exist locally; the answer says why.
pub async fn logs(State(app): State<AppState>, Path(id): Path<String>) -> HttpResult<Response> {
    let id = uuid_param(&id, "agent")?;
    app.store.read(move |c| load(c, &id).map(|_| ())).await?;
    // The cloud's answer when it has no pod to read from: 200, empty logs, and why.
    Ok(ok(json!({
        "logs": "",
        "lines": [],
        "error": "No logs in local mode: the embedded Plugged.in API records agents but runs no containers. Deploy to Plugged.in (set PLUGGEDIN_API_KEY) to see container logs.",
    })))
}
