//! Memory: sessions, observations, and the memory ring they feed, with the cloud's routes
//! and shapes (`{success, data}` bodies; 201 on create; `{success: false, error, details}`
//! with zod's flattened issues on a bad body).
//!
//! Plugged.in files each observation into its memory ring later, in a background job with
//! a language model and embeddings, and searches the ring by vector. Here an observation is
//! filed at once, by its type (`workflow_step` and `success_pattern` → procedures;
//! `tool_call`, `tool_result`, `decision`, `context_switch` → practice; `user_preference`
//! and `insight` → longterm; `error_pattern` and `failure_pattern` → shocks), and the ring
//! is searched with FTS5 (bm25, newer first among equals): what was observed can be found
//! as soon as it is recorded, offline. `similarity` is that text relevance scaled to 0–1,
//! not a cosine; there is no collective ("gut") memory here, so `include_gut` adds nothing.

use axum::{
    Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Map, Value, json};

use super::{
    AppState,
    http::{Body, ErrorResponse, HttpResult, QueryParams, ok},
    store::json_column,
};

use crate::vocab::memory::{ObservationType, Outcome, RingType};

const SESSION_STATUSES: &[&str] = &["active", "completed", "abandoned"];
/// The cloud's limit on one observation's content.
pub const MAX_OBSERVATION_CHARS: usize = 10_000;
const MAX_QUERY_CHARS: usize = 1_000;
const MAX_DETAILS: usize = 20;
/// Active sessions older than this are abandoned when a new one starts, as in the cloud.
const STALE_AFTER_HOURS: i64 = 2;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/memory/sessions", get(list_sessions).post(start))
        .route("/api/memory/sessions/{id}", get(get_session).patch(end))
        .route(
            "/api/memory/sessions/{id}/observations",
            get(list_observations).post(observe),
        )
        .route("/api/memory/search", post(search))
        .route("/api/memory/search/details", post(details))
}

/// `{success: false, error}` with `status`.
fn failure(status: StatusCode, error: &str) -> ErrorResponse {
    ErrorResponse::new(status, error).with("success", false)
}

/// A bad body, as the cloud answers it: zod's `flatten()` of the issues.
fn invalid_body(field: &str, message: impl Into<String>) -> ErrorResponse {
    let mut fields = Map::new();
    fields.insert(field.into(), json!([message.into()]));
    failure(StatusCode::BAD_REQUEST, "Invalid request body").with(
        "details",
        json!({ "formErrors": [], "fieldErrors": Value::Object(fields) }),
    )
}

/// `limit` (1..=`max`, default `default`) and `offset` (0 and up); values out of range or
/// not numbers fall back to the defaults, as in the cloud.
fn paging(q: &QueryParams, default: i64, max: i64) -> (i64, i64) {
    let number = |key: &str| q.get(key).and_then(|v| v.parse::<i64>().ok());
    let limit = number("limit")
        .filter(|l| *l >= 1)
        .map_or(default, |l| l.min(max));
    let offset = number("offset").filter(|o| *o >= 0).unwrap_or(0);
    (limit, offset)
}

fn created(data: Value) -> Response {
    (
        StatusCode::CREATED,
        axum::Json(json!({ "success": true, "data": data })),
    )
        .into_response()
}

fn is_uuid(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok() && text.len() == 36
}

fn optional_uuid(body: &Body, field: &str) -> HttpResult<Option<String>> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::String(s)) if is_uuid(s) => Ok(Some(s.to_lowercase())),
        Some(_) => Err(invalid_body(field, "Invalid uuid")),
    }
}

fn required_text(body: &Body, field: &str, max: usize) -> HttpResult<String> {
    match body.get(field) {
        Some(Value::String(s)) if s.is_empty() => Err(invalid_body(
            field,
            "String must contain at least 1 character(s)",
        )),
        Some(Value::String(s)) if s.chars().count() > max => Err(invalid_body(
            field,
            format!("String must contain at most {max} character(s)"),
        )),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(invalid_body(field, "Expected string")),
        None => Err(invalid_body(field, "Required")),
    }
}

fn one_of(body: &Body, field: &str, allowed: &[&str]) -> HttpResult<Option<String>> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
        Some(_) => Err(invalid_body(
            field,
            format!("Invalid enum value. Expected {}", allowed.join(" | ")),
        )),
    }
}

fn session_json(r: &Row<'_>, profile: &str) -> rusqlite::Result<Value> {
    Ok(json!({
        "uuid": r.get::<_, String>("uuid")?,
        "profile_uuid": profile,
        "agent_uuid": r.get::<_, Option<String>>("agent_uuid")?,
        "content_session_id": r.get::<_, String>("content_session_id")?,
        "memory_session_id": r.get::<_, String>("memory_session_id")?,
        "status": r.get::<_, String>("status")?,
        "observation_count": r.get::<_, i64>("observation_count")?,
        "total_tokens": r.get::<_, i64>("total_tokens")?,
        "started_at": r.get::<_, String>("started_at")?,
        "ended_at": r.get::<_, Option<String>>("ended_at")?,
        "created_at": r.get::<_, String>("started_at")?,
        // The cloud's focus list and end-of-session report are made by its language model.
        "focus_items": [],
        "z_report": null,
    }))
}

/// A session by its uuid or its `ms_…` memory session id.
fn resolve(conn: &Connection, id: &str, profile: &str) -> rusqlite::Result<Option<Value>> {
    conn.query_row(
        "SELECT * FROM memory_sessions WHERE uuid = ?1 OR memory_session_id = ?1",
        [id],
        |r| session_json(r, profile),
    )
    .optional()
}

/// A memory session id like the cloud's (`ms_` and 21 URL-safe characters).
fn memory_session_id() -> String {
    const ALPHABET: &[u8] = b"ModuleSymbhasOwnPr-0123456789ABCDEFGHNRVfgctiUvz_KqYTJkLxpZXIjQW";
    let id: String = (0..21)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("ms_{id}")
}

async fn start(State(app): State<AppState>, body: Body) -> HttpResult<Response> {
    let content_session_id = required_text(&body, "content_session_id", usize::MAX)?;
    let agent_uuid = optional_uuid(&body, "agent_uuid")?;
    let now = app.store.clock.now_iso();
    let stale_before = crate::clock::parse_iso(&now)
        .map(|t| crate::clock::iso(t - chrono::Duration::hours(STALE_AFTER_HOURS)))
        .unwrap_or_default();
    let (uuid, ms_id) = app
        .store
        .write(move |tx| {
            tx.execute(
                "UPDATE memory_sessions SET status = 'abandoned', ended_at = ?1 \
                 WHERE status = 'active' AND started_at < ?2",
                params![now, stale_before],
            )?;
            let uuid = uuid::Uuid::new_v4().to_string();
            let ms_id = memory_session_id();
            tx.execute(
                "INSERT INTO memory_sessions (uuid, memory_session_id, content_session_id, agent_uuid, status, started_at) \
                 VALUES (?1, ?2, ?3, ?4, 'active', ?5)",
                params![uuid, ms_id, content_session_id, agent_uuid, now],
            )?;
            Ok((uuid, ms_id))
        })
        .await?;
    Ok(created(json!({ "uuid": uuid, "memorySessionId": ms_id })))
}

async fn list_sessions(State(app): State<AppState>, q: QueryParams) -> HttpResult<Response> {
    let agent = q.get("agent_uuid").map(str::to_string);
    if let Some(a) = &agent
        && !is_uuid(a)
    {
        return Err(failure(
            StatusCode::BAD_REQUEST,
            "Invalid agent_uuid format",
        ));
    }
    let (limit, offset) = paging(&q, 20, 100);
    let status = q
        .get("status")
        .filter(|s| SESSION_STATUSES.contains(s))
        .map(str::to_string);
    let profile = app.store.profile_uuid.to_string();
    let rows = app
        .store
        .read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT * FROM memory_sessions WHERE (?1 IS NULL OR agent_uuid = ?1) \
                 AND (?2 IS NULL OR status = ?2) ORDER BY started_at DESC, seq DESC LIMIT ?3 OFFSET ?4",
            )?;
            let rows = stmt
                .query_map(params![agent, status, limit, offset], |r| {
                    session_json(r, &profile)
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await?;
    Ok(ok(json!({ "success": true, "data": rows })))
}

async fn get_session(State(app): State<AppState>, Path(id): Path<String>) -> HttpResult<Response> {
    let profile = app.store.profile_uuid.to_string();
    let session = app
        .store
        .read(move |c| Ok(resolve(c, &id, &profile)?))
        .await?;
    match session {
        Some(s) => Ok(ok(json!({ "success": true, "data": s }))),
        None => Err(failure(StatusCode::NOT_FOUND, "Session not found")),
    }
}

/// Ends a session (by uuid or memory session id). Like the cloud, a session that already
/// ended is answered 200 with `success: false`.
async fn end(State(app): State<AppState>, Path(id): Path<String>) -> HttpResult<Response> {
    let profile = app.store.profile_uuid.to_string();
    let now = app.store.clock.now_iso();
    let outcome = app
        .store
        .write(move |tx| {
            let Some(session) = resolve(tx, &id, &profile)? else {
                return Ok(None);
            };
            let uuid = session["uuid"].as_str().unwrap_or_default().to_string();
            let ended = tx.execute(
                "UPDATE memory_sessions SET status = 'completed', ended_at = ?1 WHERE uuid = ?2 AND status = 'active'",
                params![now, uuid],
            )?;
            Ok(Some((uuid, ended == 1)))
        })
        .await?;
    match outcome {
        None => Err(failure(StatusCode::NOT_FOUND, "Session not found")),
        Some((uuid, true)) => Ok(ok(json!({ "success": true, "data": { "uuid": uuid } }))),
        Some((_, false)) => Ok(ok(
            json!({ "success": false, "error": "Session not found or already ended" }),
        )),
    }
}

fn wire_names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| name(*v)).collect()
}

/// The ring an observation of `kind` is filed in (see the module's doc).
pub fn ring_of(kind: ObservationType) -> RingType {
    use ObservationType::*;
    match kind {
        WorkflowStep | SuccessPattern => RingType::Procedures,
        UserPreference | Insight => RingType::Longterm,
        ErrorPattern | FailurePattern => RingType::Shocks,
        ToolCall | ToolResult | Decision | ContextSwitch => RingType::Practice,
    }
}

fn session_uuid_param(id: &str) -> HttpResult<String> {
    if is_uuid(id) {
        Ok(id.to_lowercase())
    } else {
        Err(failure(
            StatusCode::BAD_REQUEST,
            "Invalid session ID format",
        ))
    }
}

/// An observation's metadata: an object (as the cloud's zod schema says) of at most
/// [`MEMORY_METADATA_MAX_BYTES`](crate::vocab::limits::MEMORY_METADATA_MAX_BYTES) of JSON.
fn observation_metadata(raw: Option<&Value>) -> HttpResult<Option<Value>> {
    let metadata = match raw {
        None => return Ok(None),
        Some(Value::Object(m)) => Value::Object(m.clone()),
        Some(_) => return Err(invalid_body("metadata", "Expected object, received other")),
    };
    let size = serde_json::to_vec(&metadata).map_or(usize::MAX, |j| j.len());
    if size > crate::vocab::limits::MEMORY_METADATA_MAX_BYTES {
        return Err(invalid_body(
            "metadata",
            format!(
                "must be at most {} bytes of JSON",
                crate::vocab::limits::MEMORY_METADATA_MAX_BYTES
            ),
        ));
    }
    Ok(Some(metadata))
}

async fn observe(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> HttpResult<Response> {
    let session_uuid = session_uuid_param(&id)?;
    let kind = one_of(
        &body,
        "type",
        &wire_names(ObservationType::ALL, ObservationType::as_str),
    )?
    .ok_or_else(|| invalid_body("type", "Required"))?;
    let content = required_text(&body, "content", MAX_OBSERVATION_CHARS)?;
    let outcome = one_of(&body, "outcome", &wire_names(Outcome::ALL, Outcome::as_str))?;
    let metadata = observation_metadata(body.get("metadata"))?;
    let now = app.store.clock.now_iso();
    let observed = app
        .store
        .write(move |tx| {
            let session: Option<(String, Option<String>)> = tx
                .query_row(
                    "SELECT status, agent_uuid FROM memory_sessions WHERE uuid = ?1",
                    [&session_uuid],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((status, agent)) = session else {
                return Err(failure(StatusCode::NOT_FOUND, "Session not found"));
            };
            if status != "active" {
                return Err(failure(StatusCode::BAD_REQUEST, "Session is not active"));
            }
            let tokens = content.chars().count().div_ceil(4) as i64;
            let uuid = uuid::Uuid::new_v4().to_string();
            let metadata_text = metadata.as_ref().map(Value::to_string);
            tx.execute(
                "INSERT INTO memory_observations (uuid, session_uuid, agent_uuid, observation_type, content, outcome, metadata, token_count, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![uuid, session_uuid, agent, kind, content, outcome, metadata_text, tokens, now],
            )?;
            let mut tags = vec![kind.clone()];
            tags.extend(outcome.clone());
            if let Some(tool) = metadata
                .as_ref()
                .and_then(|m| m.get("tool_name"))
                .and_then(Value::as_str)
            {
                tags.push(tool.to_string());
            }
            let ring = ObservationType::parse(&kind)
                .map(ring_of)
                .unwrap_or(RingType::Practice)
                .as_str();
            let success = outcome.as_deref().map(|o| match o {
                "success" => 1.0,
                "failure" => 0.0,
                _ => 0.5,
            });
            tx.execute(
                "INSERT INTO memory_ring (uuid, agent_uuid, ring_type, content_full, tags, metadata, source_session_uuid, \
                 source_observation_uuid, token_count, success_score, is_shock, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
                params![
                    uuid::Uuid::new_v4().to_string(),
                    agent,
                    ring,
                    content,
                    json!(tags).to_string(),
                    metadata_text.unwrap_or_else(|| "{}".into()),
                    session_uuid,
                    uuid,
                    tokens,
                    success,
                    ring == "shocks",
                    now
                ],
            )?;
            tx.execute(
                "UPDATE memory_sessions SET observation_count = observation_count + 1, total_tokens = total_tokens + ?1 WHERE uuid = ?2",
                params![tokens, session_uuid],
            )?;
            Ok(uuid)
        })
        .await?;
    Ok(created(json!({ "uuid": observed })))
}

async fn list_observations(
    State(app): State<AppState>,
    Path(id): Path<String>,
    q: QueryParams,
) -> HttpResult<Response> {
    let session_uuid = session_uuid_param(&id)?;
    let (limit, offset) = paging(&q, 100, 500);
    let profile = app.store.profile_uuid.to_string();
    let rows = app
        .store
        .read(move |c| {
            if resolve(c, &session_uuid, &profile)?.is_none() {
                return Err(failure(StatusCode::NOT_FOUND, "Session not found"));
            }
            let mut stmt = c.prepare_cached(
                "SELECT * FROM memory_observations WHERE session_uuid = ?1 ORDER BY seq LIMIT ?2 OFFSET ?3",
            )?;
            let rows = stmt
                .query_map(params![session_uuid, limit, offset], |r| {
                    Ok(json!({
                        "uuid": r.get::<_, String>("uuid")?,
                        "profile_uuid": profile,
                        "session_uuid": r.get::<_, String>("session_uuid")?,
                        "agent_uuid": r.get::<_, Option<String>>("agent_uuid")?,
                        "observation_type": r.get::<_, String>("observation_type")?,
                        "content": r.get::<_, String>("content")?,
                        "outcome": r.get::<_, Option<String>>("outcome")?,
                        "metadata": r.get::<_, Option<String>>("metadata")?
                            .and_then(|m| serde_json::from_str::<Value>(&m).ok()),
                        "token_count": r.get::<_, i64>("token_count")?,
                        "created_at": r.get::<_, String>("created_at")?,
                        // Filed in its ring when recorded (see the module's doc), and kept.
                        "classified": true,
                        "classified_ring": ObservationType::parse(&r.get::<_, String>("observation_type")?)
                            .map(|k| ring_of(k).as_str()),
                        "classified_at": r.get::<_, String>("created_at")?,
                        "classification_confidence": 1.0,
                        "expires_at": null,
                    }))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await?;
    Ok(ok(json!({ "success": true, "data": rows })))
}

async fn search(State(app): State<AppState>, body: Body) -> HttpResult<Response> {
    let query = required_text(&body, "query", MAX_QUERY_CHARS)?;
    let rings: Vec<String> = match body.get("ring_types") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i.as_str().and_then(RingType::parse) {
                Some(r) => Ok(r.as_str().to_string()),
                None => Err(invalid_body(
                    "ring_types",
                    format!(
                        "Invalid enum value. Expected {}",
                        wire_names(RingType::ALL, RingType::as_str).join(" | ")
                    ),
                )),
            })
            .collect::<HttpResult<_>>()?,
        Some(_) => return Err(invalid_body("ring_types", "Expected array")),
    };
    let agent = optional_uuid(&body, "agent_uuid")?;
    let top_k = match body.get("top_k") {
        None => 10,
        Some(v) => match v.as_i64() {
            Some(k) if (1..=50).contains(&k) => k,
            _ => {
                return Err(invalid_body(
                    "top_k",
                    "Number must be an integer between 1 and 50",
                ));
            }
        },
    };
    let threshold = match body.get("threshold") {
        None => None,
        Some(v) => match v.as_f64() {
            Some(t) if (0.0..=1.0).contains(&t) => Some(t),
            _ => return Err(invalid_body("threshold", "Number must be between 0 and 1")),
        },
    };
    if body.has("include_gut") && !matches!(body.get("include_gut"), None | Some(Value::Bool(_))) {
        return Err(invalid_body("include_gut", "Expected boolean"));
    }
    let Some(expression) = super::fts::match_expression(&query) else {
        return Ok(ok(json!({ "success": true, "data": [] })));
    };
    let now = app.store.clock.now_iso();
    let results = app
        .store
        .write(move |tx| {
            let rings_json = json!(rings).to_string();
            let mut stmt = tx.prepare_cached(
                "SELECT m.*, -bm25(memory_ring_fts) AS score FROM memory_ring_fts \
                 JOIN memory_ring m ON m.seq = memory_ring_fts.rowid \
                 WHERE memory_ring_fts MATCH ?1 \
                 AND (?2 = '[]' OR m.ring_type IN (SELECT value FROM json_each(?2))) \
                 AND (?3 IS NULL OR m.agent_uuid = ?3) \
                 ORDER BY score DESC, m.seq DESC LIMIT ?4",
            )?;
            let mut found = stmt
                .query_map(params![expression, rings_json, agent, top_k], |r| {
                    let score: f64 = r.get("score")?;
                    Ok(json!({
                        "uuid": r.get::<_, String>("uuid")?,
                        "ringType": r.get::<_, String>("ring_type")?,
                        "content": r.get::<_, String>("content_full")?,
                        "similarity": (score.max(0.0) / (score.max(0.0) + 1.0) * 1000.0).round() / 1000.0,
                        "decayStage": "full",
                        "tokenCount": r.get::<_, i64>("token_count")?,
                        "tags": json_column(r.get("tags")?),
                        "createdAt": r.get::<_, String>("created_at")?,
                        "lastAccessedAt": r.get::<_, Option<String>>("last_accessed_at")?,
                    }))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(t) = threshold {
                found.retain(|m| m["similarity"].as_f64().unwrap_or(0.0) >= t);
            }
            for m in &found {
                tx.execute(
                    "UPDATE memory_ring SET access_count = access_count + 1, last_accessed_at = ?1 WHERE uuid = ?2",
                    params![now, m["uuid"].as_str()],
                )?;
            }
            Ok(found)
        })
        .await?;
    Ok(ok(json!({ "success": true, "data": results })))
}

async fn details(State(app): State<AppState>, body: Body) -> HttpResult<Response> {
    let uuids: Vec<String> = match body.get("memory_uuids") {
        Some(Value::Array(items)) if (1..=MAX_DETAILS).contains(&items.len()) => items
            .iter()
            .map(|i| match i.as_str() {
                Some(u) if is_uuid(u) => Ok(u.to_lowercase()),
                _ => Err(invalid_body("memory_uuids", "Invalid uuid")),
            })
            .collect::<HttpResult<_>>()?,
        Some(Value::Array(_)) => {
            return Err(invalid_body(
                "memory_uuids",
                format!("Array must contain between 1 and {MAX_DETAILS} element(s)"),
            ));
        }
        Some(_) => return Err(invalid_body("memory_uuids", "Expected array")),
        None => return Err(invalid_body("memory_uuids", "Required")),
    };
    // As the cloud's `IN (…)`: each memory once (and its access counted once), however
    // often it is asked for.
    let mut uuids = uuids;
    let mut seen = std::collections::HashSet::new();
    uuids.retain(|u| seen.insert(u.clone()));
    let profile = app.store.profile_uuid.to_string();
    let now = app.store.clock.now_iso();
    let found = app
        .store
        .write(move |tx| {
            let mut out = Vec::new();
            for uuid in &uuids {
                tx.execute(
                    "UPDATE memory_ring SET access_count = access_count + 1, last_accessed_at = ?1 WHERE uuid = ?2",
                    params![now, uuid],
                )?;
                let row = tx
                    .query_row("SELECT * FROM memory_ring WHERE uuid = ?1", [uuid], |r| {
                        Ok(json!({
                            "uuid": r.get::<_, String>("uuid")?,
                            "profileUuid": profile,
                            "agentUuid": r.get::<_, Option<String>>("agent_uuid")?,
                            "ringType": r.get::<_, String>("ring_type")?,
                            "contentFull": r.get::<_, String>("content_full")?,
                            "currentDecayStage": "full",
                            "currentTokenCount": r.get::<_, i64>("token_count")?,
                            "accessCount": r.get::<_, i64>("access_count")?,
                            "lastAccessedAt": r.get::<_, Option<String>>("last_accessed_at")?,
                            "relevanceScore": 1.0,
                            "successScore": r.get::<_, Option<f64>>("success_score")?,
                            "reinforcementCount": 0,
                            "isShock": r.get::<_, bool>("is_shock")?,
                            "tags": json_column(r.get("tags")?),
                            "metadata": json_column(r.get("metadata")?),
                            "sourceSessionUuid": r.get::<_, Option<String>>("source_session_uuid")?,
                            "sourceObservationUuids": r.get::<_, Option<String>>("source_observation_uuid")?
                                .map(|o| vec![o]).unwrap_or_default(),
                            "createdAt": r.get::<_, String>("created_at")?,
                            "updatedAt": r.get::<_, String>("updated_at")?,
                        }))
                    })
                    .optional()?;
                out.extend(row);
            }
            Ok(out)
        })
        .await?;
    Ok(ok(json!({ "success": true, "data": found })))
}
