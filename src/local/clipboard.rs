//! The clipboard: a per-profile key/value store (named entries) and stack
//! (indexed entries). Unlike the cloud, an expired entry is never returned: reads filter on
//! `expires_at`, and every write (plus a periodic task) purges expired rows first.

use axum::{Router, extract::State, response::Response, routing::post};
use base64::Engine;
use rusqlite::{Connection, OptionalExtension, Row, ToSql, params, params_from_iter};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    AppState,
    http::{Body, ErrorResponse, HttpResult, QueryParams, ok},
};
use crate::vocab::{
    clipboard::{Encoding, EntrySource},
    documents::Visibility,
    limits::{self, CLIPBOARD_LIST_VALUE_CHARS, CLIPBOARD_VALUE_MAX_BYTES as MAX_VALUE_BYTES},
};

const DEFAULT_TTL_SECONDS: i64 = 24 * 60 * 60;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/clipboard",
            axum::routing::get(read).post(set).delete(remove),
        )
        .route("/api/clipboard/push", post(push))
        .route("/api/clipboard/pop", post(pop))
}

const ENTRY_COLUMNS: &str = "uuid, name, idx, value, content_type, encoding, size_bytes, visibility, \
    created_by_tool, created_by_model, source, created_at, updated_at, expires_at";

/// The same columns for list answers, with the value cut in SQL: a list never loads whole
/// values (100 entries of 2 MiB would otherwise be read, copied and sent in full). The cloud
/// cuts only `image/*` values; `sizeBytes` still tells the whole size.
fn list_columns() -> String {
    ENTRY_COLUMNS.replace(
        "value,",
        &format!("substr(value, 1, {CLIPBOARD_LIST_VALUE_CHARS}) AS value,"),
    )
}

fn entry_json(r: &Row<'_>) -> rusqlite::Result<Value> {
    Ok(json!({
        "uuid": r.get::<_, String>("uuid")?,
        "name": r.get::<_, Option<String>>("name")?,
        "idx": r.get::<_, Option<i64>>("idx")?,
        "value": r.get::<_, String>("value")?,
        "contentType": r.get::<_, String>("content_type")?,
        "encoding": r.get::<_, String>("encoding")?,
        "sizeBytes": r.get::<_, i64>("size_bytes")?,
        "visibility": r.get::<_, String>("visibility")?,
        "createdByTool": r.get::<_, Option<String>>("created_by_tool")?,
        "createdByModel": r.get::<_, Option<String>>("created_by_model")?,
        "source": r.get::<_, String>("source")?,
        "createdAt": r.get::<_, String>("created_at")?,
        "updatedAt": r.get::<_, String>("updated_at")?,
        "expiresAt": r.get::<_, Option<String>>("expires_at")?,
    }))
}

/// Deletes expired entries; returns how many.
pub fn purge_expired(conn: &Connection, now: &str) -> HttpResult<usize> {
    Ok(conn.execute(
        "DELETE FROM clipboard WHERE expires_at IS NOT NULL AND expires_at <= ?1",
        [now],
    )?)
}

// ---------------------------------------------------------------------------------------
// Read

async fn read(State(app): State<AppState>, q: QueryParams) -> HttpResult<Response> {
    const HEADLINE: &str = "Invalid parameters";
    let name = q.get("name").map(str::to_string);
    let idx = match q.get("idx") {
        None => None,
        Some(raw) => {
            let idx = raw
                .trim()
                .parse::<i64>()
                .map_err(|_| ErrorResponse::invalid(HEADLINE, "idx", "must be an integer"))?;
            limits::check_clipboard_read_idx(idx)
                .map_err(|rule| ErrorResponse::invalid(HEADLINE, "idx", rule))?;
            Some(idx)
        }
    };
    let content_type = q.get("contentType").map(str::to_string);
    let limit = q.int("limit", 50, 1, 1000, HEADLINE)?;
    let offset = q.int("offset", 0, 0, i64::MAX, HEADLINE)?;
    let now = app.store.clock.now_iso();

    let mut clauses = vec!["(expires_at IS NULL OR expires_at > ?)".to_string()];
    let mut args: Vec<Box<dyn ToSql + Send>> = vec![Box::new(now)];
    if let Some(n) = &name {
        clauses.push("name = ?".into());
        args.push(Box::new(n.clone()));
    }
    if let Some(i) = idx {
        clauses.push("idx = ?".into());
        args.push(Box::new(i));
    }
    if let Some(t) = content_type {
        clauses.push("content_type = ?".into());
        args.push(Box::new(t));
    }
    let where_sql = clauses.join(" AND ");
    let single = name.is_some() || idx.is_some();
    let body = app
        .store
        .read(move |c| {
            let columns = if single {
                ENTRY_COLUMNS.to_string()
            } else {
                list_columns()
            };
            let select = format!(
                "SELECT {columns} FROM clipboard WHERE {where_sql} \
                 ORDER BY created_at DESC, seq DESC LIMIT ? OFFSET ?"
            );
            if single {
                let mut a = args;
                a.push(Box::new(1_i64));
                a.push(Box::new(offset));
                let entry = c
                    .query_row(&select, params_from_iter(a.iter()), entry_json)
                    .optional()?
                    .ok_or_else(|| ErrorResponse::not_found("Clipboard entry not found"))?;
                return Ok(json!({ "entry": entry }));
            }
            let total: i64 = c.query_row(
                &format!("SELECT count(*) FROM clipboard WHERE {where_sql}"),
                params_from_iter(args.iter()),
                |r| r.get(0),
            )?;
            let mut a = args;
            a.push(Box::new(limit));
            a.push(Box::new(offset));
            let mut stmt = c.prepare(&select)?;
            let entries = stmt
                .query_map(params_from_iter(a.iter()), entry_json)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(json!({ "entries": entries, "total": total, "limit": limit, "offset": offset }))
        })
        .await?;
    Ok(ok(body))
}

// ---------------------------------------------------------------------------------------
// Write

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntryBody {
    name: Option<String>,
    idx: Option<i64>,
    value: Option<String>,
    content_type: Option<String>,
    encoding: Option<String>,
    visibility: Option<String>,
    created_by_tool: Option<String>,
    created_by_model: Option<String>,
    source: Option<String>,
    ttl_seconds: Option<i64>,
}

/// A validated entry ready to store.
struct NewEntry {
    value: String,
    content_type: String,
    encoding: String,
    visibility: String,
    created_by_tool: Option<String>,
    created_by_model: Option<String>,
    source: String,
    ttl_seconds: i64,
}

fn validate_encoding(value: &str, encoding: &str) -> Result<(), String> {
    let Some(encoding) = Encoding::parse(encoding) else {
        return Err(format!("encoding must be one of: {}", Encoding::names()));
    };
    match encoding {
        Encoding::Utf8 => Ok(()),
        Encoding::Base64 => {
            let body = value.trim_end_matches('=');
            if value.len() - body.len() > 2
                || !body
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
            {
                return Err("Invalid base64 encoding: contains invalid characters".into());
            }
            if !value.len().is_multiple_of(4) {
                return Err("Invalid base64 encoding: incorrect padding".into());
            }
            let engine = base64::engine::general_purpose::STANDARD;
            match engine.decode(value) {
                Ok(bytes) if engine.encode(&bytes) == value => Ok(()),
                _ => Err("Invalid base64 encoding: non-canonical or corrupted data".into()),
            }
        }
        Encoding::Hex => {
            if !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                Err("Invalid hex encoding: contains non-hexadecimal characters".into())
            } else if !value.len().is_multiple_of(2) {
                Err("Invalid hex encoding: odd number of characters".into())
            } else {
                Ok(())
            }
        }
    }
}

fn validate_entry(b: &EntryBody, headline: &str) -> HttpResult<NewEntry> {
    let invalid = |path: &str, message: &str| ErrorResponse::invalid(headline, path, message);
    let Some(value) = b.value.clone() else {
        return Err(invalid("value", "Required"));
    };
    if value.len() > MAX_VALUE_BYTES {
        return Err(ErrorResponse::bad_request(format!(
            "Value exceeds maximum size of {MAX_VALUE_BYTES} bytes ({}KB)",
            MAX_VALUE_BYTES / 1024
        )));
    }
    let encoding = b
        .encoding
        .clone()
        .unwrap_or_else(|| Encoding::default().as_str().into());
    validate_encoding(&value, &encoding).map_err(ErrorResponse::bad_request)?;
    let content_type = b
        .content_type
        .clone()
        .unwrap_or_else(|| "text/plain".into());
    if content_type.is_empty() || content_type.chars().count() > 256 {
        return Err(invalid("contentType", "must be 1 to 256 characters"));
    }
    let visibility = b
        .visibility
        .clone()
        .unwrap_or_else(|| Visibility::Private.as_str().into());
    if Visibility::parse(&visibility).is_none() {
        return Err(invalid(
            "visibility",
            &format!("must be one of: {}", Visibility::names()),
        ));
    }
    for (path, v) in [
        ("createdByTool", &b.created_by_tool),
        ("createdByModel", &b.created_by_model),
    ] {
        if v.as_ref().is_some_and(|s| s.chars().count() > 255) {
            return Err(invalid(path, "must be at most 255 characters"));
        }
    }
    let source = b
        .source
        .clone()
        .unwrap_or_else(|| EntrySource::Ui.as_str().into());
    if EntrySource::parse(&source).is_none() {
        return Err(invalid(
            "source",
            &format!("must be one of: {}", EntrySource::names()),
        ));
    }
    let ttl_seconds = b.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if ttl_seconds <= 0 {
        return Err(invalid("ttlSeconds", "must be a positive integer"));
    }
    Ok(NewEntry {
        value,
        content_type,
        encoding,
        visibility,
        created_by_tool: b.created_by_tool.clone(),
        created_by_model: b.created_by_model.clone(),
        source,
        ttl_seconds,
    })
}

fn expires_at(now: chrono::DateTime<chrono::Utc>, ttl: i64) -> HttpResult<String> {
    chrono::Duration::try_seconds(ttl)
        .and_then(|d| now.checked_add_signed(d))
        .map(crate::clock::iso)
        .ok_or_else(|| ErrorResponse::invalid("Invalid request body", "ttlSeconds", "is too large"))
}

fn load_by_uuid(conn: &Connection, uuid: &str) -> HttpResult<Value> {
    Ok(conn.query_row(
        &format!("SELECT {ENTRY_COLUMNS} FROM clipboard WHERE uuid = ?1"),
        [uuid],
        entry_json,
    )?)
}

/// Inserts an entry under `name` or `idx` (exactly one is `Some`).
fn insert(
    conn: &Connection,
    e: &NewEntry,
    name: Option<&str>,
    idx: Option<i64>,
    now: &str,
    expires: &str,
) -> HttpResult<String> {
    let uuid = uuid::Uuid::new_v4().to_string();
    conn.execute(
        &format!(
            "INSERT INTO clipboard ({ENTRY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13)"
        ),
        params![
            uuid, name, idx, e.value, e.content_type, e.encoding, e.value.len() as i64,
            e.visibility, e.created_by_tool, e.created_by_model, e.source, now, expires
        ],
    )?;
    Ok(uuid)
}

async fn set(State(app): State<AppState>, body: Body) -> HttpResult<Response> {
    const HEADLINE: &str = "Invalid request body";
    let b: EntryBody = body.decode(HEADLINE)?;
    match (&b.name, b.idx) {
        (None, None) => {
            return Err(ErrorResponse::invalid(
                HEADLINE,
                "",
                "Either name or idx must be provided",
            ));
        }
        // The cloud hits a database CHECK here and answers 500.
        (Some(_), Some(_)) => {
            return Err(ErrorResponse::invalid(
                HEADLINE,
                "",
                "Provide either name or idx, not both",
            ));
        }
        _ => {}
    }
    if let Some(name) = &b.name {
        limits::check_clipboard_name(name)
            .map_err(|rule| ErrorResponse::invalid(HEADLINE, "name", rule))?;
    }
    if let Some(idx) = b.idx {
        limits::check_clipboard_set_idx(idx)
            .map_err(|rule| ErrorResponse::invalid(HEADLINE, "idx", rule))?;
    }
    let entry = validate_entry(&b, HEADLINE)?;
    let now_t = app.store.clock.now();
    let now = crate::clock::iso(now_t);
    let expires = expires_at(now_t, entry.ttl_seconds)?;
    let saved = app
        .store
        .write(move |tx| {
            purge_expired(tx, &now)?;
            if let Some(name) = &b.name {
                let existing: Option<String> = tx
                    .query_row("SELECT uuid FROM clipboard WHERE name = ?1", [name], |r| r.get("uuid"))
                    .optional()?;
                let Some(uuid) = existing else {
                    let uuid = insert(tx, &entry, Some(name), None, &now, &expires)?;
                    return load_by_uuid(tx, &uuid);
                };
                // Upsert keeps the uuid and createdAt, as Plugged.in's does.
                tx.execute(
                    "UPDATE clipboard SET value = ?2, content_type = ?3, encoding = ?4, size_bytes = ?5, \
                     visibility = ?6, created_by_tool = ?7, created_by_model = ?8, source = ?9, \
                     expires_at = ?10, updated_at = ?11 WHERE uuid = ?1",
                    params![
                        uuid, entry.value, entry.content_type, entry.encoding, entry.value.len() as i64,
                        entry.visibility, entry.created_by_tool, entry.created_by_model, entry.source,
                        expires, now
                    ],
                )?;
                return load_by_uuid(tx, &uuid);
            }
            let idx = b.idx.unwrap_or_default();
            let taken = tx
                .query_row("SELECT 1 FROM clipboard WHERE idx = ?1", [idx], |_| Ok(()))
                .optional()?
                .is_some();
            if taken {
                return Err(ErrorResponse::conflict(
                    "Conflict with existing entry. Use push for auto-increment or delete first.",
                ));
            }
            let uuid = insert(tx, &entry, None, Some(idx), &now, &expires)?;
            load_by_uuid(tx, &uuid)
        })
        .await?;
    Ok(ok(json!({ "success": true, "entry": saved })))
}

async fn push(State(app): State<AppState>, body: Body) -> HttpResult<Response> {
    const HEADLINE: &str = "Invalid request body";
    let b: EntryBody = body.decode(HEADLINE)?;
    let entry = validate_entry(&b, HEADLINE)?;
    let now_t = app.store.clock.now();
    let now = crate::clock::iso(now_t);
    let expires = expires_at(now_t, entry.ttl_seconds)?;
    let saved = app
        .store
        .write(move |tx| {
            purge_expired(tx, &now)?;
            // One transaction on the single connection: no two pushes can read the same max.
            let top: Option<i64> = tx.query_row(
                "SELECT MAX(idx) FROM clipboard WHERE idx IS NOT NULL",
                [],
                |r| r.get(0),
            )?;
            // Indexes stay 32-bit like the cloud's column; a top set before that rule held
            // must not make every push fail with a 500.
            let next = match top {
                None => 0,
                Some(t) if t < i64::from(i32::MAX) => t + 1,
                Some(t) => {
                    return Err(ErrorResponse::conflict(format!(
                        "The stack is full: its top index is {t}. Pop or delete entries at the top, then push again."
                    )));
                }
            };
            let uuid = insert(tx, &entry, None, Some(next), &now, &expires)?;
            load_by_uuid(tx, &uuid)
        })
        .await?;
    Ok(ok(json!({ "success": true, "entry": saved })))
}

async fn pop(State(app): State<AppState>) -> HttpResult<Response> {
    let now = app.store.clock.now_iso();
    let mut entry = app
        .store
        .write(move |tx| {
            purge_expired(tx, &now)?;
            let top = tx
                .query_row(
                    &format!(
                        "SELECT {ENTRY_COLUMNS} FROM clipboard WHERE idx IS NOT NULL ORDER BY idx DESC LIMIT 1"
                    ),
                    [],
                    entry_json,
                )
                .optional()?
                .ok_or_else(|| ErrorResponse::not_found("No indexed entries to pop"))?;
            tx.execute("DELETE FROM clipboard WHERE uuid = ?1", [top["uuid"].as_str()])?;
            Ok(top)
        })
        .await?;
    // The cloud's pop answer has no `source`.
    if let Value::Object(m) = &mut entry {
        m.remove("source");
    }
    Ok(ok(json!({ "success": true, "entry": entry })))
}

async fn remove(State(app): State<AppState>, body: Body) -> HttpResult<Response> {
    const HEADLINE: &str = "Invalid request body";
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct DeleteBody {
        name: Option<String>,
        idx: Option<i64>,
        #[serde(default)]
        clear_all: bool,
    }
    let b: DeleteBody = body.decode(HEADLINE)?;
    if let Some(name) = &b.name {
        limits::check_clipboard_name(name)
            .map_err(|rule| ErrorResponse::invalid(HEADLINE, "name", rule))?;
    }
    if let Some(idx) = b.idx {
        limits::check_clipboard_read_idx(idx)
            .map_err(|rule| ErrorResponse::invalid(HEADLINE, "idx", rule))?;
    }
    if b.name.is_none() && b.idx.is_none() && !b.clear_all {
        return Err(ErrorResponse::invalid(
            HEADLINE,
            "",
            "Either name, idx, or clearAll must be provided",
        ));
    }
    let now = app.store.clock.now_iso();
    let deleted = app
        .store
        .write(move |tx| {
            purge_expired(tx, &now)?;
            if b.clear_all {
                return Ok(tx.execute("DELETE FROM clipboard", [])?);
            }
            let n = match (&b.name, b.idx) {
                (Some(name), Some(idx)) => tx.execute(
                    "DELETE FROM clipboard WHERE name = ?1 AND idx = ?2",
                    params![name, idx],
                )?,
                (Some(name), None) => {
                    tx.execute("DELETE FROM clipboard WHERE name = ?1", [name])?
                }
                (None, Some(idx)) => tx.execute("DELETE FROM clipboard WHERE idx = ?1", [idx])?,
                (None, None) => 0,
            };
            if n == 0 {
                return Err(ErrorResponse::not_found("Clipboard entry not found"));
            }
            Ok(n)
        })
        .await?;
    Ok(ok(json!({ "success": true, "deleted": deleted })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_checked_like_the_cloud() {
        assert!(validate_encoding("aGVsbG8=", "base64").is_ok());
        assert!(
            validate_encoding("aGVsbG8", "base64")
                .unwrap_err()
                .contains("padding")
        );
        assert!(
            validate_encoding("aGV$bG8=", "base64")
                .unwrap_err()
                .contains("invalid characters")
        );
        assert!(
            validate_encoding("aGVsbG9=", "base64")
                .unwrap_err()
                .contains("non-canonical")
        );
        assert!(validate_encoding("0aFf", "hex").is_ok());
        assert!(validate_encoding("0aF", "hex").unwrap_err().contains("odd"));
        assert!(
            validate_encoding("zz", "hex")
                .unwrap_err()
                .contains("non-hexadecimal")
        );
        assert!(validate_encoding("x", "latin1").is_err());
    }
}
