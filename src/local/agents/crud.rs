//! Creating, listing, reading, updating and terminating agents, and the quota. Creation
//! "deploys" by recording: the agent moves to PROVISIONED at once and no container starts.

use axum::{
    extract::{Path, State},
    response::Response,
};
use rusqlite::{OptionalExtension, params};
use serde_json::{Map, Value, json};

use super::{
    rows::{
        AGENT_COLUMNS, Agent, LOCAL_USER, Step, by, load, log_event, recent_events,
        recent_heartbeats, recent_metrics, transition,
    },
    validate::{access_level, validate_env, validate_image, validate_resources},
};
use crate::{
    local::{
        AppState,
        http::{Body, ErrorResponse, HttpResult, ok, uuid_param},
    },
    vocab::{
        agents::{AccessLevel, AgentState, normalize_name, validate_name},
        keys,
    },
};

/// Largest `metadata` an update may set.
const METADATA_MAX_CHARS: usize = 65_536;

pub async fn list(State(app): State<AppState>) -> HttpResult<Response> {
    let agents = app
        .store
        .read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {AGENT_COLUMNS} FROM agents ORDER BY created_at DESC, seq DESC"
            ))?;
            let rows = stmt.query_map([], Agent::from_row)?;
            let mut out = Vec::new();
            for a in rows {
                out.push(a?.list_json());
            }
            Ok(out)
        })
        .await?;
    Ok(ok(Value::Array(agents)))
}

/// The image to deploy: required (there are no templates locally), and well formed.
fn image_of(image: Option<&Value>) -> HttpResult<String> {
    match image {
        Some(Value::String(s)) if !s.trim().is_empty() => validate_image(s),
        Some(Value::String(_)) | None => Err(ErrorResponse::bad_request(
            "Either template_uuid or image must be provided",
        )),
        Some(_) => Err(ErrorResponse::bad_request("Invalid image name format")),
    }
}

/// A new agent's metadata as the cloud writes it: description, image, the default port and
/// health endpoint, and the resources and environment asked for.
fn new_metadata(
    description: Option<&Value>,
    image: String,
    resources: Option<Value>,
    env: Option<Value>,
) -> Map<String, Value> {
    let mut metadata = Map::new();
    if let Some(Value::String(d)) = description {
        metadata.insert(keys::DESCRIPTION.into(), json!(d));
    }
    metadata.insert(keys::IMAGE.into(), json!(image));
    metadata.insert(keys::CONTAINER_PORT.into(), json!(3000));
    metadata.insert(keys::HEALTH_ENDPOINT.into(), json!("/health"));
    if let Some(r) = resources {
        metadata.insert(keys::RESOURCES.into(), r);
    }
    if let Some(e) = env {
        metadata.insert(keys::ENV_OVERRIDES.into(), e);
    }
    metadata
}

pub async fn create(State(app): State<AppState>, body: Body) -> HttpResult<Response> {
    let quota = app.settings.agent_quota;
    let store = app.store.clone();
    let now = store.clock.now_iso();
    let profile = store.profile_uuid.clone();
    let (agent, name) = store
        .write(move |tx| {
            let current: i64 = tx.query_row("SELECT count(*) FROM agents", [], |r| r.get(0))?;
            if current >= i64::from(quota) {
                return Err(ErrorResponse::forbidden("Agent quota exceeded").with(
                    "quota",
                    json!({ "max_agents": quota, "current_agents": current, "tier": "free" }),
                ));
            }
            let resources = validate_resources(body.get("resources"), body.has("resources"))?;
            let env = validate_env(body.get(keys::ENV_OVERRIDES))?;
            if body.get("template_uuid").is_some() {
                // No template catalogue exists locally.
                return Err(ErrorResponse::not_found("Template not found"));
            }
            let access = access_level(body.get("access_level"))?.unwrap_or(AccessLevel::Private);
            let name = match body.get("name") {
                Some(Value::String(s)) => normalize_name(s),
                _ => String::new(),
            };
            validate_name(&name).map_err(ErrorResponse::bad_request)?;
            let image = image_of(body.get("image"))?;
            let taken = tx
                .query_row("SELECT 1 FROM agents WHERE name = ?1", [&name], |_| Ok(()))
                .optional()?
                .is_some();
            if taken {
                return Err(ErrorResponse::conflict(format!(
                    "DNS name '{name}' is already registered"
                )));
            }
            let metadata = new_metadata(body.get(keys::DESCRIPTION), image, resources, env);
            let config_values = body
                .get("config_values")
                .filter(|v| v.is_object())
                .cloned()
                .unwrap_or_else(|| json!({}));
            let uuid = uuid::Uuid::new_v4().to_string();
            tx.execute(
                "INSERT INTO agents (uuid, name, access_level, state, kubernetes_namespace, \
                 kubernetes_deployment, created_at, metadata, config_values) \
                 VALUES (?1, ?2, ?3, ?4, 'agents', ?2, ?5, ?6, ?7)",
                params![
                    uuid,
                    name,
                    access.as_str(),
                    AgentState::New.as_str(),
                    now,
                    Value::Object(metadata).to_string(),
                    config_values.to_string()
                ],
            )?;
            // The answer shows the row as inserted (state NEW), like the cloud; the
            // simulated deploy below then moves it to PROVISIONED.
            let inserted = load(tx, &uuid)?.full_json(&profile);
            log_event(
                tx,
                &uuid,
                "CREATED",
                None,
                AgentState::New.as_str(),
                by(LOCAL_USER, json!({})),
                &now,
            )?;
            transition(tx, &uuid, &now, |_| {
                Ok(Step::enter(
                    "PROVISIONED",
                    AgentState::Provisioned,
                    by(LOCAL_USER, json!({ "local_mode": true })),
                ))
            })?;
            Ok((inserted, name))
        })
        .await?;
    Ok(ok(json!({
        "agent": agent,
        "template": null,
        "deployment": {
            "success": true,
            "message": format!("Agent {name} deployed successfully (local mode: recorded only, no container is started)"),
            "deploymentName": name,
        }
    })))
}

pub async fn details(State(app): State<AppState>, Path(id): Path<String>) -> HttpResult<Response> {
    let id = uuid_param(&id, "agent")?;
    let profile = app.store.profile_uuid.clone();
    let body = app
        .store
        .read(move |c| {
            let agent = load(c, &id)?;
            Ok(json!({
                "agent": agent.full_json(&profile),
                "recentHeartbeats": recent_heartbeats(c, &id, 10)?,
                "recentMetrics": recent_metrics(c, &id, 10)?,
                "lifecycleEvents": recent_events(c, &id, 100)?,
                "kubernetesStatus": null,
            }))
        })
        .await?;
    Ok(ok(body))
}

pub async fn update(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> HttpResult<Response> {
    let id = uuid_param(&id, "agent")?;
    let new_metadata = match body.get("metadata") {
        None => None,
        Some(Value::Object(m)) => {
            if Value::Object(m.clone()).to_string().len() > METADATA_MAX_CHARS {
                return Err(ErrorResponse::bad_request(
                    "Metadata exceeds maximum size of 64KB",
                ));
            }
            Some(m.clone())
        }
        Some(_) => return Err(ErrorResponse::bad_request("metadata must be a JSON object")),
    };
    let access = access_level(body.get("access_level"))?;
    if access.is_none() && new_metadata.is_none() {
        return Err(ErrorResponse::bad_request("No valid fields to update"));
    }
    let now = app.store.clock.now_iso();
    let profile = app.store.profile_uuid.clone();
    let agent = app
        .store
        .write(move |tx| {
            if let Some(extra) = new_metadata {
                let mut agent = load(tx, &id)?;
                agent.metadata.extend(extra);
                super::rows::save_metadata(tx, &id, &agent.metadata)?;
            }
            let current = load(tx, &id)?;
            if let Some(level) = access.filter(|l| l.as_str() != current.access_level) {
                tx.execute(
                    "UPDATE agents SET access_level = ?2 WHERE uuid = ?1",
                    params![id, level.as_str()],
                )?;
                let from = current.access_level;
                transition(tx, &id, &now, |_| {
                    Ok(Step::record(
                        "ACCESS_LEVEL_CHANGED",
                        by(LOCAL_USER, json!({ "from": from, "to": level })),
                    ))
                })?;
            }
            Ok(load(tx, &id)?.full_json(&profile))
        })
        .await?;
    Ok(ok(
        json!({ "message": "Agent updated successfully", "agent": agent }),
    ))
}

/// `DELETE /api/agents/{id}`: TERMINATED, its name kept (names are never reused).
pub async fn terminate(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> HttpResult<Response> {
    let id = uuid_param(&id, "agent")?;
    let now = app.store.clock.now_iso();
    app.store
        .write(move |tx| {
            transition(tx, &id, &now, |_| {
                Ok(Step::enter(
                    "TERMINATED",
                    AgentState::Terminated,
                    by(LOCAL_USER, json!({})),
                ))
            })
        })
        .await?;
    Ok(ok(json!({
        "message": "Agent terminated successfully",
        "kubernetes": { "success": true, "message": "No Kubernetes deployment" }
    })))
}

pub async fn quota(State(app): State<AppState>) -> HttpResult<Response> {
    let max = i64::from(app.settings.agent_quota);
    let profile = app.store.profile_uuid.clone();
    let counts = app
        .store
        .read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT state, count(*) AS n FROM agents GROUP BY state")?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, String>("state")?, r.get::<_, i64>("n")?))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    let count = |s: AgentState| {
        counts
            .iter()
            .find(|(k, _)| k == s.as_str())
            .map_or(0, |(_, n)| *n)
    };
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let mut by_state = serde_json::Map::new();
    by_state.insert("total".into(), json!(total));
    for state in AgentState::ALL {
        by_state.insert(state.as_str().to_lowercase(), json!(count(*state)));
    }
    by_state.insert(
        "active_total".into(),
        json!(count(AgentState::Provisioned) + count(AgentState::Active)),
    );
    Ok(ok(json!({
        "profile": { "uuid": profile, "name": "Local profile", "tier": "free" },
        "quota": {
            "max_agents": max,
            "current_agents": total,
            "remaining": (max - total).max(0),
            "can_create_more": total < max,
        },
        "agents_by_state": by_state,
        "resource_usage": { "note": "Resource metrics aggregation not yet implemented" },
    })))
}
