//! PAP agents (reference §1): CRUD, heartbeats and metrics, the lifecycle state machine,
//! lifecycle actions, export, quota, and the zombie sweep. No container is ever started
//! locally: "deploying" records the agent and moves it to PROVISIONED at once.

use axum::{
    Router,
    extract::{Path, State},
    response::Response,
    routing::{get, post},
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Map, Value, json};

use super::{
    AppState,
    http::{ApiError, ApiResult, Body, QueryParams, ok, uuid_param},
    store::json_column,
};
use crate::{
    clock::{iso, parse_iso},
    pap,
};

/// Who the local user is in `metadata.triggered_by` and similar fields.
const LOCAL_USER: &str = "local-user";
const LOCAL_K8S_NOTE: &str = "Local mode: no Kubernetes deployment exists, nothing to change";
const METADATA_MAX_CHARS: usize = 65_536;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/agents", get(list).post(create))
        .route("/api/agents/quota", get(quota))
        .route("/api/agents/zombie-check", post(zombie_check))
        .route(
            "/api/agents/{id}",
            get(details).patch(update).delete(terminate),
        )
        .route("/api/agents/{id}/heartbeat", post(heartbeat))
        .route("/api/agents/{id}/metrics", post(metrics))
        .route("/api/agents/{id}/state", post(change_state))
        .route("/api/agents/{id}/export", post(export))
        .route("/api/agents/{id}/events", get(k8s_events))
        .route("/api/agents/{id}/logs", get(logs))
        .route("/api/agents/{id}/shutdown", post(shutdown))
        .route("/api/agents/{id}/suspend", post(suspend))
        .route("/api/agents/{id}/resume", post(resume))
        .route("/api/agents/{id}/restart", post(restart))
}

// ---------------------------------------------------------------------------------------
// Rows

const AGENT_COLUMNS: &str = "uuid, name, template_uuid, access_level, state, heartbeat_mode, \
    deployment_status, kubernetes_namespace, kubernetes_deployment, created_at, provisioned_at, \
    activated_at, terminated_at, last_heartbeat_at, metadata, config_values";

struct Agent {
    uuid: String,
    name: String,
    template_uuid: Option<String>,
    access_level: String,
    state: String,
    heartbeat_mode: String,
    deployment_status: String,
    kubernetes_namespace: Option<String>,
    kubernetes_deployment: Option<String>,
    created_at: String,
    provisioned_at: Option<String>,
    activated_at: Option<String>,
    terminated_at: Option<String>,
    last_heartbeat_at: Option<String>,
    metadata: Map<String, Value>,
    config_values: Value,
}

impl Agent {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        let metadata = match json_column(r.get(14)?) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        Ok(Self {
            uuid: r.get(0)?,
            name: r.get(1)?,
            template_uuid: r.get(2)?,
            access_level: r.get(3)?,
            state: r.get(4)?,
            heartbeat_mode: r.get(5)?,
            deployment_status: r.get(6)?,
            kubernetes_namespace: r.get(7)?,
            kubernetes_deployment: r.get(8)?,
            created_at: r.get(9)?,
            provisioned_at: r.get(10)?,
            activated_at: r.get(11)?,
            terminated_at: r.get(12)?,
            last_heartbeat_at: r.get(13)?,
            metadata,
            config_values: json_column(r.get(15)?),
        })
    }

    /// The element shape of `GET /api/agents` (a subset of the columns).
    fn list_json(&self) -> Value {
        json!({
            "uuid": self.uuid, "name": self.name, "dns_name": self.name, "state": self.state,
            "access_level": self.access_level, "template_uuid": self.template_uuid,
            "heartbeat_mode": self.heartbeat_mode, "deployment_status": self.deployment_status,
            "kubernetes_namespace": self.kubernetes_namespace,
            "kubernetes_deployment": self.kubernetes_deployment,
            "created_at": self.created_at, "provisioned_at": self.provisioned_at,
            "activated_at": self.activated_at, "terminated_at": self.terminated_at,
            "last_heartbeat_at": self.last_heartbeat_at, "metadata": self.metadata,
        })
    }

    /// The full row as `GET /api/agents/{id}` serializes it (reference §1.1).
    fn full_json(&self, profile_uuid: &str) -> Value {
        let mut v = self.list_json();
        let extra = json!({
            "profile_uuid": profile_uuid,
            "model_router_service_uuid": null, "model_router_token": null,
            "model_router_token_issued_at": null, "model_router_token_revoked": false,
            "config_values": self.config_values,
        });
        if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
            m.extend(e);
        }
        v
    }

    fn is_suspended(&self) -> bool {
        self.metadata.get("intentionally_suspended") == Some(&Value::Bool(true))
    }
}

fn load(conn: &Connection, uuid: &str) -> ApiResult<Agent> {
    conn.query_row(
        &format!("SELECT {AGENT_COLUMNS} FROM agents WHERE uuid = ?1"),
        [uuid],
        Agent::from_row,
    )
    .optional()?
    .ok_or_else(|| ApiError::not_found("Agent not found"))
}

fn save_metadata(conn: &Connection, uuid: &str, metadata: &Map<String, Value>) -> ApiResult<()> {
    conn.execute(
        "UPDATE agents SET metadata = ?2 WHERE uuid = ?1",
        params![uuid, Value::Object(metadata.clone()).to_string()],
    )?;
    Ok(())
}

fn log_event(
    conn: &Connection,
    uuid: &str,
    event_type: &str,
    from: Option<&str>,
    to: &str,
    metadata: Value,
    now: &str,
) -> ApiResult<()> {
    conn.execute(
        "INSERT INTO agent_events (agent_uuid, event_type, from_state, to_state, metadata, timestamp) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![uuid, event_type, from, to, metadata.to_string(), now],
    )?;
    Ok(())
}

fn rows_json(conn: &Connection, sql: &str, uuid: &str, limit: i64) -> ApiResult<Vec<Value>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![uuid, limit], |r| {
        let n = r.as_ref().column_count();
        let mut m = Map::new();
        for i in 0..n {
            let name = r.as_ref().column_name(i)?.to_string();
            let v = match r.get_ref(i)? {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(n) if name == "id" => json!(n.to_string()),
                rusqlite::types::ValueRef::Integer(n) => json!(n),
                rusqlite::types::ValueRef::Real(f) => json!(f),
                rusqlite::types::ValueRef::Text(t) => {
                    let s = String::from_utf8_lossy(t).into_owned();
                    if name == "metadata" || name == "custom_metrics" {
                        json_column(Some(s))
                    } else {
                        Value::String(s)
                    }
                }
                rusqlite::types::ValueRef::Blob(_) => Value::Null,
            };
            m.insert(name, v);
        }
        Ok(Value::Object(m))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn recent_heartbeats(conn: &Connection, uuid: &str, limit: i64) -> ApiResult<Vec<Value>> {
    rows_json(
        conn,
        "SELECT id, agent_uuid, mode, uptime_seconds, timestamp FROM agent_heartbeats \
         WHERE agent_uuid = ?1 ORDER BY id DESC LIMIT ?2",
        uuid,
        limit,
    )
}

fn recent_metrics(conn: &Connection, uuid: &str, limit: i64) -> ApiResult<Vec<Value>> {
    rows_json(
        conn,
        "SELECT id, agent_uuid, cpu_percent, memory_mb, requests_handled, custom_metrics, timestamp \
         FROM agent_metrics WHERE agent_uuid = ?1 ORDER BY id DESC LIMIT ?2",
        uuid,
        limit,
    )
}

fn recent_events(conn: &Connection, uuid: &str, limit: i64) -> ApiResult<Vec<Value>> {
    rows_json(
        conn,
        "SELECT id, agent_uuid, event_type, from_state, to_state, metadata, timestamp \
         FROM agent_events WHERE agent_uuid = ?1 ORDER BY id DESC LIMIT ?2",
        uuid,
        limit,
    )
}

// ---------------------------------------------------------------------------------------
// Validation of create input (reference §1.4–1.5)

const ALLOWED_REGISTRIES: &[&str] = &[
    "docker.io/library/",
    "library/",
    "nginxinc/",
    "docker.io/nginxinc/",
    "ghcr.io/veriteknik/",
    "ghcr.io/pluggedin/",
];

fn validate_image(raw: &str) -> ApiResult<String> {
    static BARE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[a-z0-9._-]+)?(@sha256:[a-f0-9]+)?$")
            .expect("static regex is valid")
    });
    static PATH: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^[a-z0-9]+([._/-][a-z0-9]+)*(:[a-z0-9._-]+)?(@sha256:[a-f0-9]+)?$")
            .expect("static regex is valid")
    });
    let image = raw.trim().to_lowercase();
    if image.contains("..") || image.contains("//") {
        return Err(ApiError::bad_request("Invalid image reference format"));
    }
    if !image.contains('/') {
        return if BARE.is_match(&image) {
            Ok(image)
        } else {
            Err(ApiError::bad_request("Invalid image name format"))
        };
    }
    match ALLOWED_REGISTRIES.iter().find(|p| image.starts_with(*p)) {
        Some(prefix) if PATH.is_match(&image[prefix.len()..]) => Ok(image),
        Some(_) => Err(ApiError::bad_request("Invalid image reference format")),
        None => Err(ApiError::bad_request(format!(
            "Image must be from an allowed registry. Allowed: {}",
            ALLOWED_REGISTRIES.join(", ")
        ))),
    }
}

/// CPU in millicores from `100m`, `0.5` or `2`.
fn cpu_millis(s: &str) -> Option<f64> {
    match s.strip_suffix('m') {
        Some(m) => m.parse::<f64>().ok(),
        None => s.parse::<f64>().ok().map(|c| c * 1000.0),
    }
}

/// Memory in bytes from `256Mi`, `1Gi` or a plain byte count.
fn memory_bytes(s: &str) -> Option<f64> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, ""), |i| s.split_at(i));
    let mult = match unit {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0_f64.powi(4),
        _ => return None,
    };
    num.parse::<f64>().ok().map(|n| n * mult)
}

fn validate_resources(resources: Option<&Value>, present: bool) -> ApiResult<Option<Value>> {
    static CPU: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^(\d+(\.\d+)?)(m)?$").expect("static regex is valid")
    });
    static MEM: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^(\d+)(Ki|Mi|Gi|Ti)?$").expect("static regex is valid")
    });
    let spec_error = |form: Vec<String>, fields: Map<String, Value>| {
        ApiError::bad_request("Invalid resource specification").with(
            "details",
            json!({ "formErrors": form, "fieldErrors": fields }),
        )
    };
    let Some(value) = resources else {
        return if present {
            Err(spec_error(
                vec!["Expected object, received null".into()],
                Map::new(),
            ))
        } else {
            Ok(None)
        };
    };
    let Value::Object(obj) = value else {
        return Err(spec_error(vec!["Expected object".into()], Map::new()));
    };
    let mut field_errors = Map::new();
    let mut get = |key: &str, re: &regex::Regex, example: &str| -> Option<String> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if re.is_match(s) => Some(s.clone()),
            Some(_) => {
                field_errors.insert(
                    key.into(),
                    json!([format!("Invalid {key} format (example: {example})")]),
                );
                None
            }
        }
    };
    let cpu_request = get("cpu_request", &CPU, "100m");
    let cpu_limit = get("cpu_limit", &CPU, "1000m");
    let memory_request = get("memory_request", &MEM, "256Mi");
    let memory_limit = get("memory_limit", &MEM, "1Gi");
    if !field_errors.is_empty() {
        return Err(spec_error(vec![], field_errors));
    }
    // Compare effective values: a field left out gets the Kubernetes default the cloud uses.
    let cpu_req = cpu_millis(cpu_request.as_deref().unwrap_or("100m")).unwrap_or(0.0);
    let cpu_lim = cpu_millis(cpu_limit.as_deref().unwrap_or("1000m")).unwrap_or(0.0);
    let mem_req = memory_bytes(memory_request.as_deref().unwrap_or("256Mi")).unwrap_or(0.0);
    let mem_lim = memory_bytes(memory_limit.as_deref().unwrap_or("1Gi")).unwrap_or(0.0);
    let max_cpu = 8000.0;
    let max_mem = 16.0 * 1024.0 * 1024.0 * 1024.0;
    let checks = [
        (cpu_lim > max_cpu, "cpu_limit exceeds maximum of 8 cores"),
        (cpu_req > max_cpu, "cpu_request exceeds maximum of 8 cores"),
        (mem_lim > max_mem, "memory_limit exceeds maximum of 16Gi"),
        (mem_req > max_mem, "memory_request exceeds maximum of 16Gi"),
        (cpu_req > cpu_lim, "cpu_request cannot exceed cpu_limit"),
        (
            mem_req > mem_lim,
            "memory_request cannot exceed memory_limit",
        ),
    ];
    if let Some((_, message)) = checks.iter().find(|(failed, _)| *failed) {
        return Err(ApiError::bad_request(*message));
    }
    Ok(Some(value.clone()))
}

fn validate_env(env: Option<&Value>) -> ApiResult<Option<Value>> {
    let Some(value) = env else { return Ok(None) };
    let Value::Object(vars) = value else {
        return Err(ApiError::bad_request(
            "env_overrides must be an object of NAME: value pairs",
        ));
    };
    if value.to_string().len() > 65_536 {
        return Err(ApiError::bad_request(
            "env_overrides exceeds maximum size of 64KB",
        ));
    }
    for (key, v) in vars {
        let valid_name = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(ApiError::bad_request(format!(
                "Invalid environment variable name '{key}': must match ^[A-Za-z_][A-Za-z0-9_]*$"
            )));
        }
        if ["PORT", "NODE_ENV", "HOME", "PATH", "USER"].contains(&key.as_str()) {
            return Err(ApiError::bad_request(format!(
                "Environment variable '{key}' is reserved and cannot be overridden"
            )));
        }
        if ["PAP_", "PLUGGEDIN_", "AGENT_"]
            .iter()
            .any(|p| key.starts_with(p))
        {
            return Err(ApiError::bad_request(format!(
                "Environment variable '{key}' uses a reserved prefix (PAP_, PLUGGEDIN_, AGENT_)"
            )));
        }
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err(ApiError::bad_request(format!(
                "Environment variable '{key}' contains control characters"
            )));
        }
        if text.chars().count() > 8192 {
            return Err(ApiError::bad_request(format!(
                "Environment variable '{key}' value exceeds 8192 characters"
            )));
        }
    }
    Ok(Some(value.clone()))
}

fn access_level(v: Option<&Value>) -> ApiResult<Option<String>> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) if s == "PRIVATE" || s == "PUBLIC" => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(
            "Invalid access_level. Must be one of: PRIVATE, PUBLIC",
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Handlers

async fn list(State(app): State<AppState>) -> ApiResult<Response> {
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

async fn create(State(app): State<AppState>, body: Body) -> ApiResult<Response> {
    let quota = app.settings.agent_quota;
    let store = app.store.clone();
    let now = store.clock.now_iso();
    let profile = store.profile_uuid.clone();
    let (agent, name) = store
        .write(move |tx| {
            let current: i64 = tx.query_row("SELECT count(*) FROM agents", [], |r| r.get(0))?;
            if current >= i64::from(quota) {
                return Err(ApiError::forbidden("Agent quota exceeded").with(
                    "quota",
                    json!({ "max_agents": quota, "current_agents": current, "tier": "free" }),
                ));
            }
            let resources = validate_resources(body.get("resources"), body.has("resources"))?;
            let env = validate_env(body.get("env_overrides"))?;
            if body.get("template_uuid").is_some() {
                // No template catalogue exists locally.
                return Err(ApiError::not_found("Template not found"));
            }
            let access =
                access_level(body.get("access_level"))?.unwrap_or_else(|| "PRIVATE".into());
            let name = match body.get("name") {
                Some(Value::String(s)) => pap::normalize_name(s),
                _ => String::new(),
            };
            pap::validate_name(&name).map_err(ApiError::bad_request)?;
            let image = match body.get("image") {
                Some(Value::String(s)) if !s.trim().is_empty() => validate_image(s)?,
                Some(Value::String(_)) | None => {
                    return Err(ApiError::bad_request(
                        "Either template_uuid or image must be provided",
                    ));
                }
                Some(_) => return Err(ApiError::bad_request("Invalid image name format")),
            };
            let taken: bool = tx
                .query_row("SELECT 1 FROM agents WHERE name = ?1", [&name], |_| {
                    Ok(true)
                })
                .optional()?
                .unwrap_or(false);
            if taken {
                return Err(ApiError::conflict(format!(
                    "DNS name '{name}' is already registered"
                )));
            }
            let mut metadata = Map::new();
            if let Some(Value::String(d)) = body.get("description") {
                metadata.insert("description".into(), json!(d));
            }
            metadata.insert("image".into(), json!(image));
            metadata.insert("container_port".into(), json!(3000));
            metadata.insert("health_endpoint".into(), json!("/health"));
            if let Some(r) = resources {
                metadata.insert("resources".into(), r);
            }
            if let Some(e) = env {
                metadata.insert("env_overrides".into(), e);
            }
            let config_values = body
                .get("config_values")
                .filter(|v| v.is_object())
                .cloned()
                .unwrap_or_else(|| json!({}));
            let uuid = uuid::Uuid::new_v4().to_string();
            tx.execute(
                "INSERT INTO agents (uuid, name, access_level, state, kubernetes_namespace, \
                 kubernetes_deployment, created_at, metadata, config_values) \
                 VALUES (?1, ?2, ?3, 'NEW', 'agents', ?2, ?4, ?5, ?6)",
                params![
                    uuid,
                    name,
                    access,
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
                "NEW",
                json!({ "triggered_by": LOCAL_USER }),
                &now,
            )?;
            tx.execute(
                "UPDATE agents SET state = 'PROVISIONED', provisioned_at = ?2 WHERE uuid = ?1",
                params![uuid, now],
            )?;
            log_event(
                tx,
                &uuid,
                "PROVISIONED",
                Some("NEW"),
                "PROVISIONED",
                json!({ "triggered_by": LOCAL_USER, "local_mode": true }),
                &now,
            )?;
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

async fn details(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
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

async fn update(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let id = uuid_param(&id, "agent")?;
    let new_metadata = match body.get("metadata") {
        None => None,
        Some(Value::Object(m)) => {
            if Value::Object(m.clone()).to_string().len() > METADATA_MAX_CHARS {
                return Err(ApiError::bad_request(
                    "Metadata exceeds maximum size of 64KB",
                ));
            }
            Some(m.clone())
        }
        Some(_) => return Err(ApiError::bad_request("metadata must be a JSON object")),
    };
    let access = access_level(body.get("access_level"))?;
    if access.is_none() && new_metadata.is_none() {
        return Err(ApiError::bad_request("No valid fields to update"));
    }
    let now = app.store.clock.now_iso();
    let profile = app.store.profile_uuid.clone();
    let agent = app
        .store
        .write(move |tx| {
            let mut agent = load(tx, &id)?;
            if let Some(extra) = new_metadata {
                agent.metadata.extend(extra);
                save_metadata(tx, &id, &agent.metadata)?;
            }
            if let Some(level) = access.filter(|l| *l != agent.access_level) {
                tx.execute(
                    "UPDATE agents SET access_level = ?2 WHERE uuid = ?1",
                    params![id, level],
                )?;
                log_event(
                    tx,
                    &id,
                    "ACCESS_LEVEL_CHANGED",
                    Some(&agent.state),
                    &agent.state,
                    json!({ "from": agent.access_level, "to": level, "triggered_by": LOCAL_USER }),
                    &now,
                )?;
            }
            Ok(load(tx, &id)?.full_json(&profile))
        })
        .await?;
    Ok(ok(
        json!({ "message": "Agent updated successfully", "agent": agent }),
    ))
}

async fn terminate(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let id = uuid_param(&id, "agent")?;
    let now = app.store.clock.now_iso();
    app.store
        .write(move |tx| {
            let agent = load(tx, &id)?;
            tx.execute(
                "UPDATE agents SET state = 'TERMINATED', terminated_at = ?2 WHERE uuid = ?1",
                params![id, now],
            )?;
            log_event(
                tx,
                &id,
                "TERMINATED",
                Some(&agent.state),
                "TERMINATED",
                json!({ "triggered_by": LOCAL_USER }),
                &now,
            )
        })
        .await?;
    Ok(ok(json!({
        "message": "Agent terminated successfully",
        "kubernetes": { "success": true, "message": "No Kubernetes deployment" }
    })))
}

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

async fn heartbeat(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let id = uuid_param(&id, "agent")?;
    let (Some(mode), Some(uptime)) = (body.get("mode"), body.get("uptime_seconds")) else {
        return Err(ApiError::bad_request(
            r#"Fields "mode" and "uptime_seconds" are required"#,
        ));
    };
    let mode = match mode.as_str() {
        Some(m) if pap::HEARTBEAT_MODES.contains(&m) => m.to_string(),
        _ => {
            return Err(ApiError::bad_request(
                "Invalid mode. Must be one of: EMERGENCY, IDLE, SLEEP",
            ));
        }
    };
    let now = app.store.clock.now();
    if let Some(raw) = body.get("timestamp") {
        // The cloud silently accepts a timestamp it cannot parse; saying so helps agent authors.
        let sent = client_time(raw).ok_or_else(|| {
            ApiError::bad_request(
                "timestamp must be an ISO-8601 date-time (e.g. 2025-11-13T08:00:45.123Z) or epoch milliseconds",
            )
        })?;
        if sent > now + chrono::Duration::seconds(5) {
            return Err(ApiError::bad_request(
                "Heartbeat timestamp is in the future",
            ));
        }
        let window = pap::heartbeat_interval(&mode) * 2;
        let age = (now - sent).num_milliseconds();
        if age > i64::try_from(window.as_millis()).unwrap_or(i64::MAX) {
            return Err(ApiError::bad_request(
                "Heartbeat timestamp too old (potential replay attack)",
            )
            .with("max_age_ms", json!(window.as_millis() as u64))
            .with("received_age_ms", json!(age)));
        }
    }
    let uptime = match uptime.as_f64() {
        Some(u) if u.is_finite() && u >= 0.0 => u,
        _ => {
            return Err(ApiError::bad_request(
                "uptime_seconds must be a non-negative finite number",
            ));
        }
    };
    // The cloud stores whole seconds and answers a fractional value with a 500.
    if uptime.fract() != 0.0 || uptime > 9.0e15 {
        return Err(ApiError::bad_request(
            "uptime_seconds must be a whole number of seconds (Plugged.in stores an integer)",
        ));
    }
    for field in [
        "cpu_percent",
        "memory_mb",
        "requests_handled",
        "custom_metrics",
    ] {
        if body.has(field) {
            return Err(ApiError::bad_request(format!(
                r#"Field "{field}" not allowed in heartbeat. Use /metrics endpoint for resource telemetry."#
            ))
            .with(
                "zombie_prevention",
                "PAP-RFC-001 §8.1 requires strict heartbeat/metrics separation",
            ));
        }
    }
    let now_s = iso(now);
    let uptime = uptime as i64;
    let uuid = id.clone();
    let (mode, transition) = app
        .store
        .write(move |tx| {
            let mut agent = load(tx, &id)?;
            tx.execute(
                "INSERT INTO agent_heartbeats (agent_uuid, mode, uptime_seconds, timestamp) VALUES (?1, ?2, ?3, ?4)",
                params![id, mode, uptime, now_s],
            )?;
            agent.metadata.insert("last_heartbeat".into(), json!(now_s));
            agent.metadata.insert("last_heartbeat_mode".into(), json!(mode));
            // A heartbeat is proof of life: clear the zombie sweep's flag.
            agent.metadata.remove("unhealthy");
            agent.metadata.remove("unhealthy_since");
            save_metadata(tx, &id, &agent.metadata)?;
            tx.execute(
                "UPDATE agents SET last_heartbeat_at = ?2 WHERE uuid = ?1",
                params![id, now_s],
            )?;
            if agent.state != "PROVISIONED" {
                return Ok((mode, Value::Null));
            }
            tx.execute(
                "UPDATE agents SET state = 'ACTIVE', activated_at = ?2 WHERE uuid = ?1",
                params![id, now_s],
            )?;
            log_event(
                tx,
                &id,
                "ACTIVATED",
                Some("PROVISIONED"),
                "ACTIVE",
                json!({ "triggered_by": "heartbeat" }),
                &now_s,
            )?;
            Ok((mode, json!({ "from": "PROVISIONED", "to": "ACTIVE" })))
        })
        .await?;
    let message = if transition.is_null() {
        "Heartbeat recorded"
    } else {
        "Heartbeat recorded, agent activated"
    };
    Ok(ok(json!({
        "message": message,
        "agent_uuid": uuid,
        "mode": mode,
        "uptime_seconds": uptime,
        "state_transition": transition,
    })))
}

async fn metrics(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let id = uuid_param(&id, "agent")?;
    let fields = ["cpu_percent", "memory_mb", "requests_handled"];
    if fields.iter().any(|f| body.get(f).is_none()) {
        return Err(ApiError::bad_request(
            r#"Fields "cpu_percent", "memory_mb", and "requests_handled" are required"#,
        ));
    }
    let mut values = [0f64; 3];
    for (slot, field) in values.iter_mut().zip(fields) {
        *slot = match body.get(field).and_then(Value::as_f64) {
            Some(v) if v.is_finite() && v >= 0.0 => v,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "{field} must be a non-negative number"
                )));
            }
        };
    }
    let [cpu, memory, requests] = values;
    if requests.fract() != 0.0 {
        return Err(ApiError::bad_request(
            "requests_handled must be a whole number (Plugged.in stores an integer)",
        ));
    }
    let custom = match body.get("custom_metrics") {
        None => json!({}),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => {
            return Err(ApiError::bad_request(
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

fn state_field(body: &Body, key: &str) -> ApiResult<String> {
    match body.get(key).and_then(Value::as_str) {
        Some(s) if pap::STATES.contains(&s) => Ok(s.to_string()),
        _ => Err(ApiError::bad_request(format!(
            "Invalid {key}. Must be one of: {}",
            pap::STATES.join(", ")
        ))),
    }
}

async fn change_state(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let id = uuid_param(&id, "agent")?;
    if body.get("from_state").is_none() || body.get("to_state").is_none() {
        return Err(ApiError::bad_request(
            r#"Fields "from_state" and "to_state" are required"#,
        ));
    }
    let from = state_field(&body, "from_state")?;
    let to = state_field(&body, "to_state")?;
    let reported_at = body.get("timestamp").cloned().unwrap_or(Value::Null);
    let now = app.store.clock.now_iso();
    let uuid = id.clone();
    let (from_c, to_c) = (from.clone(), to.clone());
    app.store
        .write(move |tx| {
            let agent = load(tx, &id)?;
            if agent.state != from {
                return Err(ApiError::conflict(format!(
                    "State mismatch: client reported from_state '{from}' but server has '{}'",
                    agent.state
                ))
                .with("current_state", agent.state.clone())
                .with("hint", "Refresh agent state and retry"));
            }
            let allowed = pap::allowed_transitions(&from);
            if !allowed.contains(&to.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "Invalid state transition: {from} → {to}"
                ))
                .with("current_state", from.clone())
                .with("allowed_transitions", json!(allowed))
                .with("normative_fsm", "PAP-RFC-001 §7.2"));
            }
            let column = match to.as_str() {
                "PROVISIONED" => Some("provisioned_at"),
                "ACTIVE" => Some("activated_at"),
                "TERMINATED" | "KILLED" => Some("terminated_at"),
                _ => None,
            };
            tx.execute(
                "UPDATE agents SET state = ?2 WHERE uuid = ?1",
                params![id, to],
            )?;
            if let Some(column) = column {
                tx.execute(
                    &format!(
                        "UPDATE agents SET {column} = ?2 WHERE uuid = ?1 AND {column} IS NULL"
                    ),
                    params![id, now],
                )?;
            }
            log_event(
                tx,
                &id,
                "STATE_CHANGE",
                Some(&from),
                &to,
                json!({ "reported_by_agent": true, "timestamp": reported_at }),
                &now,
            )
        })
        .await?;
    Ok(ok(json!({
        "message": "State change recorded",
        "agent_uuid": uuid,
        "from_state": from_c,
        "to_state": to_c,
        "current_state": to_c,
    })))
}

async fn export(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let id = uuid_param(&id, "agent")?;
    let include_telemetry = body.get("include_telemetry") == Some(&Value::Bool(true));
    let limit = match body.get("telemetry_limit") {
        None => 100,
        Some(v) => match v.as_i64() {
            Some(n) if (1..=10_000).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(
                    "telemetry_limit must be an integer between 1 and 10000",
                ));
            }
        },
    };
    let now = app.store.clock.now_iso();
    let profile = app.store.profile_uuid.clone();
    let doc = app
        .store
        .write(move |tx| {
            let agent = load(tx, &id)?;
            let mut agent_json = agent.full_json(&profile);
            if let Some(m) = agent_json.get_mut("metadata") {
                crate::redact::redact_json(m);
            }
            let mut events = recent_events(tx, &id, 1000)?;
            for e in &mut events {
                if let Some(m) = e.get_mut("metadata") {
                    crate::redact::redact_json(m);
                }
            }
            let mut doc = json!({
                "export_version": "pap-export/1.0",
                "exported_at": now,
                "agent": agent_json,
                "lifecycle_events": events,
                "kubernetes_config": null,
            });
            if include_telemetry {
                doc["telemetry"] = json!({
                    "heartbeats": recent_heartbeats(tx, &id, limit)?,
                    "metrics": recent_metrics(tx, &id, limit)?,
                });
            }
            log_event(
                tx,
                &id,
                "EXPORTED",
                Some(&agent.state),
                &agent.state,
                json!({ "triggered_by": LOCAL_USER, "include_telemetry": include_telemetry }),
                &now,
            )?;
            Ok(doc)
        })
        .await?;
    Ok(ok(doc))
}

async fn k8s_events(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let id = uuid_param(&id, "agent")?;
    app.store.read(move |c| load(c, &id).map(|_| ())).await?;
    Ok(ok(
        json!({ "events": [], "pods": [], "deploymentStatus": null }),
    ))
}

async fn logs(
    State(app): State<AppState>,
    Path(id): Path<String>,
    query: QueryParams,
) -> ApiResult<Response> {
    let id = uuid_param(&id, "agent")?;
    let tail = query
        .get("tail")
        .and_then(|t| t.parse::<i64>().ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
        .min(1000);
    app.store.read(move |c| load(c, &id).map(|_| ())).await?;
    Ok(ok(json!({
        "logs": "",
        "lines": [],
        "tailLines": tail,
        "message": "No logs in local mode: the embedded Plugged.in API records agents but runs no containers. Deploy to Plugged.in (set PLUGGEDIN_API_KEY) to see container logs.",
    })))
}

async fn shutdown(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let id = uuid_param(&id, "agent")?;
    // The cloud coerces with JS `Number()`, so "60" is accepted as well as 60.
    let drain = match body.get("drain_timeout_seconds") {
        None => 300,
        Some(v) => {
            let n = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            match n {
                Some(n) if n.fract() == 0.0 && (10.0..=3600.0).contains(&n) => n as i64,
                _ => {
                    return Err(ApiError::bad_request(
                        "drain_timeout_seconds must be an integer between 10 and 3600",
                    ));
                }
            }
        }
    };
    let now = app.store.clock.now_iso();
    let profile = app.store.profile_uuid.clone();
    let agent = app
        .store
        .write(move |tx| {
            let mut agent = load(tx, &id)?;
            if agent.state != "ACTIVE" {
                return Err(ApiError::bad_request(format!(
                    "Invalid state transition: {} → DRAINING. Agent must be in ACTIVE state.",
                    agent.state
                ))
                .with("current_state", agent.state.clone())
                .with("allowed_states", json!(["ACTIVE"])));
            }
            agent.metadata.insert("drain_started_at".into(), json!(now));
            agent.metadata.insert("drain_timeout_seconds".into(), json!(drain));
            save_metadata(tx, &id, &agent.metadata)?;
            tx.execute("UPDATE agents SET state = 'DRAINING' WHERE uuid = ?1", [&id])?;
            log_event(
                tx,
                &id,
                "STATE_CHANGE",
                Some("ACTIVE"),
                "DRAINING",
                json!({ "triggered_by": LOCAL_USER, "action": "shutdown", "drain_timeout_seconds": drain }),
                &now,
            )?;
            Ok(load(tx, &id)?.full_json(&profile))
        })
        .await?;
    Ok(ok(json!({
        "message": "Agent shutdown initiated. Transitioning to DRAINING state.",
        "agent": agent,
        "kubernetes": { "success": true, "message": LOCAL_K8S_NOTE },
        "drain_timeout_seconds": drain,
    })))
}

async fn suspend(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
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
            let mut agent = load(tx, &id)?;
            if pap::is_terminal(&agent.state) {
                return Err(ApiError::bad_request(format!(
                    "Agent in state {} cannot be suspended",
                    agent.state
                ))
                .with("hint", "Terminated agents must be deleted and recreated"));
            }
            if agent.is_suspended() {
                return Err(ApiError::bad_request("Agent is already suspended")
                    .with("hint", "Use the resume endpoint to bring it back online"));
            }
            agent
                .metadata
                .insert("intentionally_suspended".into(), json!(true));
            agent.metadata.insert("suspended_at".into(), json!(now));
            agent
                .metadata
                .insert("suspended_reason".into(), json!(reason));
            agent
                .metadata
                .insert("suspended_by".into(), json!(LOCAL_USER));
            save_metadata(tx, &id, &agent.metadata)?;
            log_event(
                tx,
                &id,
                "SUSPENDED",
                Some(&agent.state),
                &agent.state,
                json!({ "triggered_by": LOCAL_USER, "reason": reason }),
                &now,
            )
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

async fn resume(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let id = uuid_param(&id, "agent")?;
    let now = app.store.clock.now_iso();
    let uuid = id.clone();
    let now_c = now.clone();
    let previous = app
        .store
        .write(move |tx| {
            let mut agent = load(tx, &id)?;
            if pap::is_terminal(&agent.state) {
                return Err(ApiError::bad_request(format!(
                    "Agent in state {} cannot be resumed",
                    agent.state
                ))
                .with("hint", "Terminated agents must be deleted and recreated"));
            }
            if !agent.is_suspended() {
                return Err(ApiError::bad_request("Agent is not suspended").with(
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
            m.remove("intentionally_suspended");
            m.insert("resumed_at".into(), json!(now));
            m.insert("resumed_by".into(), json!(LOCAL_USER));
            m.insert("previous_suspension".into(), previous_suspension);
            save_metadata(tx, &id, &agent.metadata)?;
            tx.execute(
                "UPDATE agents SET state = 'PROVISIONED', last_heartbeat_at = NULL WHERE uuid = ?1",
                [&id],
            )?;
            log_event(
                tx,
                &id,
                "RESUMED",
                Some(&agent.state),
                "PROVISIONED",
                json!({ "triggered_by": LOCAL_USER }),
                &now,
            )?;
            Ok(agent.state)
        })
        .await?;
    Ok(ok(json!({
        "message": "Agent resumed successfully",
        "agent_uuid": uuid,
        "resumed": true,
        "resumed_at": now_c,
        "previous_state": previous,
        "new_state": "PROVISIONED",
        "kubernetes": { "success": true, "message": LOCAL_K8S_NOTE },
    })))
}

async fn restart(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let id = uuid_param(&id, "agent")?;
    let force = body.get("force") == Some(&Value::Bool(true));
    let now = app.store.clock.now_iso();
    let uuid = id.clone();
    let previous = app
        .store
        .write(move |tx| {
            let agent = load(tx, &id)?;
            let restartable = ["PROVISIONED", "ACTIVE", "DRAINING"];
            if !force && !restartable.contains(&agent.state.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "Agent in state {} cannot be restarted",
                    agent.state
                ))
                .with("restartable_states", json!(restartable))
                .with("hint", "Use force=true to restart anyway"));
            }
            tx.execute(
                "UPDATE agents SET state = 'PROVISIONED', last_heartbeat_at = NULL WHERE uuid = ?1",
                [&id],
            )?;
            log_event(
                tx,
                &id,
                "RESTARTED",
                Some(&agent.state),
                "PROVISIONED",
                json!({ "triggered_by": LOCAL_USER, "force": force }),
                &now,
            )?;
            Ok(agent.state)
        })
        .await?;
    Ok(ok(json!({
        "message": "Agent restart initiated",
        "agent_uuid": uuid,
        "previous_state": previous,
        "new_state": "PROVISIONED",
        "kubernetes": { "success": true, "message": LOCAL_K8S_NOTE },
    })))
}

async fn quota(State(app): State<AppState>) -> ApiResult<Response> {
    let max = i64::from(app.settings.agent_quota);
    let profile = app.store.profile_uuid.clone();
    let counts = app
        .store
        .read(|c| {
            let mut stmt = c.prepare_cached("SELECT state, count(*) FROM agents GROUP BY state")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    let count = |s: &str| counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    Ok(ok(json!({
        "profile": { "uuid": profile, "name": "Local profile", "tier": "free" },
        "quota": {
            "max_agents": max,
            "current_agents": total,
            "remaining": (max - total).max(0),
            "can_create_more": total < max,
        },
        "agents_by_state": {
            "total": total,
            "new": count("NEW"),
            "provisioned": count("PROVISIONED"),
            "active": count("ACTIVE"),
            "draining": count("DRAINING"),
            "terminated": count("TERMINATED"),
            "killed": count("KILLED"),
            "active_total": count("PROVISIONED") + count("ACTIVE"),
        },
        "resource_usage": { "note": "Resource metrics aggregation not yet implemented" },
    })))
}

/// What one zombie sweep did.
#[derive(Debug, Default, serde::Serialize)]
pub struct SweepReport {
    pub checked: usize,
    pub unhealthy: Vec<String>,
    pub drained: Vec<String>,
}

/// Applies the zombie rules (reference §1.3) to every ACTIVE agent: two missed heartbeat
/// intervals flag it unhealthy (once, with an `UNHEALTHY` event), five drain it
/// (`AUTO_DRAINING`).
pub async fn sweep_zombies(store: &super::store::Store) -> ApiResult<SweepReport> {
    let now = store.clock.now();
    store
        .write(move |tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {AGENT_COLUMNS} FROM agents WHERE state = 'ACTIVE'"
            ))?;
            let agents = stmt
                .query_map([], Agent::from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            let now_s = iso(now);
            let mut report = SweepReport {
                checked: agents.len(),
                ..Default::default()
            };
            for mut agent in agents {
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
                    .get("last_heartbeat_mode")
                    .and_then(Value::as_str)
                    .unwrap_or(&agent.heartbeat_mode)
                    .to_string();
                let interval = pap::heartbeat_interval(&mode).as_millis() as i64;
                let missed = ((now - last).num_milliseconds() / interval.max(1)).max(0) as u32;
                let details = json!({
                    "triggered_by": "zombie_detection",
                    "missed_intervals": missed,
                    "last_heartbeat_at": iso(last),
                    "heartbeat_mode": mode,
                });
                if missed >= pap::DRAIN_AFTER_MISSED {
                    agent.metadata.insert("unhealthy".into(), json!(true));
                    agent
                        .metadata
                        .insert("drain_started_at".into(), json!(now_s));
                    save_metadata(tx, &agent.uuid, &agent.metadata)?;
                    tx.execute(
                        "UPDATE agents SET state = 'DRAINING' WHERE uuid = ?1",
                        [&agent.uuid],
                    )?;
                    log_event(
                        tx,
                        &agent.uuid,
                        "AUTO_DRAINING",
                        Some("ACTIVE"),
                        "DRAINING",
                        details,
                        &now_s,
                    )?;
                    report.drained.push(agent.name);
                } else if missed >= pap::UNHEALTHY_AFTER_MISSED
                    && agent.metadata.get("unhealthy") != Some(&Value::Bool(true))
                {
                    agent.metadata.insert("unhealthy".into(), json!(true));
                    agent
                        .metadata
                        .insert("unhealthy_since".into(), json!(now_s));
                    save_metadata(tx, &agent.uuid, &agent.metadata)?;
                    log_event(
                        tx,
                        &agent.uuid,
                        "UNHEALTHY",
                        Some("ACTIVE"),
                        "ACTIVE",
                        details,
                        &now_s,
                    )?;
                    report.unhealthy.push(agent.name);
                }
            }
            Ok(report)
        })
        .await
}

async fn zombie_check(State(app): State<AppState>) -> ApiResult<Response> {
    let report = sweep_zombies(&app.store).await?;
    Ok(ok(serde_json::to_value(report)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_follow_the_allow_list() {
        assert!(validate_image("nginxinc/nginx-unprivileged").is_ok());
        assert!(validate_image("nginx:1.27").is_ok());
        assert!(validate_image("ghcr.io/veriteknik/agent:1.0").is_ok());
        assert!(
            validate_image("evil.io/x")
                .unwrap_err()
                .message()
                .contains("allowed registry")
        );
        assert!(validate_image("library/../x").is_err());
        assert!(validate_image("Bad Name").is_err());
    }

    #[test]
    fn resources_compare_effective_values() {
        let ok = json!({"cpu_request": "250m", "cpu_limit": "1", "memory_request": "256Mi", "memory_limit": "1Gi"});
        assert!(validate_resources(Some(&ok), true).is_ok());
        let over = json!({"cpu_request": "2"});
        assert_eq!(
            validate_resources(Some(&over), true).unwrap_err().message(),
            "cpu_request cannot exceed cpu_limit"
        );
        let bad = json!({"memory_limit": "1GB"});
        let e = validate_resources(Some(&bad), true).unwrap_err();
        assert!(e.body["details"]["fieldErrors"]["memory_limit"].is_array());
        assert!(validate_resources(None, true).is_err());
        assert_eq!(
            validate_resources(Some(&json!({"memory_limit": "32Gi"})), true)
                .unwrap_err()
                .message(),
            "memory_limit exceeds maximum of 16Gi"
        );
    }

    #[test]
    fn env_rules() {
        assert!(validate_env(Some(&json!({"LOG_LEVEL": "debug"}))).is_ok());
        assert!(validate_env(Some(&json!({"PORT": "1"}))).is_err());
        assert!(validate_env(Some(&json!({"PAP_X": "1"}))).is_err());
        assert!(validate_env(Some(&json!({"1X": "1"}))).is_err());
        assert!(validate_env(Some(&json!({"X": "a\u{0007}"}))).is_err());
        assert!(validate_env(Some(&json!(["X"]))).is_err());
    }

    #[test]
    fn redaction_is_recursive() {
        let mut v = json!({"a": {"API_KEY": "x", "nested": [{"password": "p"}]}, "keep": 1});
        crate::redact::redact_json(&mut v);
        assert_eq!(v["a"]["API_KEY"], "[REDACTED]");
        assert_eq!(v["a"]["nested"][0]["password"], "[REDACTED]");
        assert_eq!(v["keep"], 1);
    }
}
