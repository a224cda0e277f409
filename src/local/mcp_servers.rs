//! The user's MCP servers and the hub's activity reports, as Plugged.in serves them to its
//! MCP server: `GET /api/mcp-servers` (the ACTIVE servers, a bare array, secrets in clear),
//! `POST /api/mcp-servers` (create), and `POST /api/notifications/mcp-activity`. The cloud
//! edits servers in its web UI; here, with no UI, `PATCH` and `DELETE
//! /api/mcp-servers/{uuid}` take the API key too, so local mode is a full hub.

use axum::{
    Router,
    extract::{Path, State},
    response::Response,
    routing::{get, patch, post},
};
use rusqlite::{OptionalExtension, Row, params};
use serde_json::{Map, Value, json};

use super::{
    AppState,
    http::{Body, ErrorResponse, HttpResult, ok, uuid_param},
    store::json_column,
};

const HEADLINE: &str = "Invalid request data";
const TYPES: &[&str] = &["STDIO", "SSE", "STREAMABLE_HTTP"];
const STATUSES: &[&str] = &["ACTIVE", "INACTIVE"];
/// Most servers a profile may have: a hub of hundreds is already unusual.
const MAX_SERVERS: i64 = 500;
/// Activity rows kept (oldest go first): the reports are for recent-use views.
const MAX_ACTIVITY_ROWS: i64 = 10_000;
const ACTIONS: &[&str] = &[
    "tool_call",
    "prompt_get",
    "resource_read",
    "install",
    "uninstall",
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/mcp-servers", get(list).post(create))
        .route("/api/mcp-servers/{uuid}", patch(update).delete(remove))
        .route("/api/notifications/mcp-activity", post(activity))
}

const COLUMNS: &str = "uuid, name, description, type, command, args, env, url, \
     streamable_http_options, slug, status, custom_instructions, created_at";

fn row_json(r: &Row<'_>, profile: &str) -> rusqlite::Result<Value> {
    let opt_json = |col: &str| -> rusqlite::Result<Value> {
        Ok(r.get::<_, Option<String>>(col)?
            .map_or(Value::Null, |t| json_column(Some(t))))
    };
    let mut row = json!({
        "uuid": r.get::<_, String>("uuid")?,
        "name": r.get::<_, String>("name")?,
        "description": r.get::<_, Option<String>>("description")?,
        "type": r.get::<_, String>("type")?,
        "command": r.get::<_, Option<String>>("command")?,
        "args": opt_json("args")?,
        "env": opt_json("env")?,
        "url": r.get::<_, Option<String>>("url")?,
        "created_at": r.get::<_, String>("created_at")?,
        "profile_uuid": profile,
        "status": r.get::<_, String>("status")?,
        "source": "PLUGGEDIN",
        "slug": r.get::<_, Option<String>>("slug")?,
    });
    // Columns of the cloud's row this store has no use for (install state, the registry a
    // server came from, notes): present and empty, so every answer has the cloud's fields.
    for empty in [
        "config",
        "external_id",
        "install_path",
        "install_status",
        "installed_at",
        "notes",
        "registry_data",
        "registry_release_date",
        "registry_status",
        "registry_version",
        "repository_id",
        "repository_source",
        "repository_url",
    ] {
        row[empty] = Value::Null;
    }
    let options = opt_json("streamable_http_options")?;
    if !options.is_null() {
        row["streamableHTTPOptions"] = options;
    }
    let instructions = opt_json("custom_instructions")?;
    if !instructions.is_null() {
        row["customInstructions"] = instructions;
    }
    Ok(row)
}

async fn list(State(app): State<AppState>) -> HttpResult<Response> {
    let profile = app.store.profile_uuid.clone();
    let rows = app
        .store
        .read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM mcp_servers WHERE status = 'ACTIVE' ORDER BY seq"
            ))?;
            let rows = stmt
                .query_map([], |r| row_json(r, &profile))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await?;
    Ok(ok(Value::Array(rows)))
}

/// The checked fields of a create or update; `None`: not given.
#[derive(Default)]
struct Fields {
    name: Option<String>,
    description: Option<Option<String>>,
    kind: Option<String>,
    command: Option<Option<String>>,
    args: Option<Option<String>>,
    env: Option<Option<String>>,
    url: Option<Option<String>>,
    options: Option<Option<String>>,
    slug: Option<Option<String>>,
    status: Option<String>,
    instructions: Option<Option<String>>,
}

fn fields(body: &Map<String, Value>) -> HttpResult<Fields> {
    let text = |key: &str, max: usize| -> HttpResult<Option<Option<String>>> {
        match body.get(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(Some(s.clone()))),
            Some(Value::String(_)) => Err(ErrorResponse::invalid(
                HEADLINE,
                key,
                format!("must be at most {max} characters"),
            )),
            Some(_) => Err(ErrorResponse::invalid(HEADLINE, key, "must be a string")),
        }
    };
    let one_of = |key: &str, allowed: &[&str]| -> HttpResult<Option<String>> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
            Some(_) => Err(ErrorResponse::invalid(
                HEADLINE,
                key,
                format!("must be one of: {}", allowed.join(", ")),
            )),
        }
    };
    let json_of =
        |key: &str, ok: fn(&Value) -> bool, rule: &str| -> HttpResult<Option<Option<String>>> {
            match body.get(key) {
                None => Ok(None),
                Some(Value::Null) => Ok(Some(None)),
                Some(v) if ok(v) => Ok(Some(Some(v.to_string()))),
                Some(_) => Err(ErrorResponse::invalid(HEADLINE, key, rule)),
            }
        };
    let name = match text("name", 255)? {
        Some(Some(n)) if !n.trim().is_empty() => Some(n),
        Some(_) => {
            return Err(ErrorResponse::invalid(
                HEADLINE,
                "name",
                "must be 1 to 255 characters",
            ));
        }
        None => None,
    };
    let strings = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
    let string_map = |v: &Value| {
        v.as_object()
            .is_some_and(|m| m.values().all(Value::is_string))
    };
    Ok(Fields {
        name,
        description: text("description", 10_000)?,
        kind: one_of("type", TYPES)?,
        command: text("command", 4_096)?,
        args: json_of("args", strings, "must be a list of strings")?,
        env: json_of("env", string_map, "must be an object of strings")?,
        url: text("url", 4_096)?,
        options: json_of(
            "streamableHTTPOptions",
            |v| {
                v.get("headers").is_none_or(|h| {
                    h.as_object()
                        .is_some_and(|m| m.values().all(Value::is_string))
                })
            },
            "must be an object whose `headers` is an object of strings",
        )?,
        slug: text("slug", 100)?,
        status: one_of("status", STATUSES)?,
        instructions: json_of(
            "customInstructions",
            Value::is_array,
            "must be a list of prompt messages",
        )?,
    })
}

async fn create(State(app): State<AppState>, body: Body) -> HttpResult<Response> {
    let uuid = match body.get("uuid") {
        None | Some(Value::Null) => uuid::Uuid::new_v4().to_string(),
        Some(Value::String(s)) => uuid_param(s, "server")?,
        Some(_) => return Err(ErrorResponse::invalid(HEADLINE, "uuid", "must be a uuid")),
    };
    let f = fields(&body.0)?;
    let Some(name) = f.name else {
        return Err(ErrorResponse::invalid(HEADLINE, "name", "is required"));
    };
    let now = app.store.clock.now_iso();
    let profile = app.store.profile_uuid.clone();
    let row = app
        .store
        .write(move |tx| {
            let count: i64 = tx.query_row("SELECT COUNT(*) FROM mcp_servers", [], |r| r.get(0))?;
            if count >= MAX_SERVERS {
                return Err(ErrorResponse::conflict(format!(
                    "at most {MAX_SERVERS} MCP servers per profile"
                )));
            }
            let taken: Option<i64> = tx
                .query_row(
                    "SELECT seq FROM mcp_servers WHERE uuid = ?1",
                    [&uuid],
                    |r| r.get(0),
                )
                .optional()?;
            if taken.is_some() {
                return Err(ErrorResponse::conflict(format!(
                    "a server with uuid {uuid} exists"
                )));
            }
            tx.execute(
                "INSERT INTO mcp_servers (uuid, name, description, type, command, args, env, url, \
                 streamable_http_options, slug, status, custom_instructions, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    uuid,
                    name,
                    f.description.flatten(),
                    f.kind.unwrap_or_else(|| "STDIO".into()),
                    f.command.flatten(),
                    f.args.flatten(),
                    f.env.flatten(),
                    f.url.flatten(),
                    f.options.flatten(),
                    f.slug.flatten(),
                    f.status.unwrap_or_else(|| "ACTIVE".into()),
                    f.instructions.flatten(),
                    now
                ],
            )?;
            let row = tx.query_row(
                &format!("SELECT {COLUMNS} FROM mcp_servers WHERE uuid = ?1"),
                [&uuid],
                |r| row_json(r, &profile),
            )?;
            Ok(row)
        })
        .await?;
    Ok(ok(row))
}

async fn update(
    State(app): State<AppState>,
    Path(uuid): Path<String>,
    body: Body,
) -> HttpResult<Response> {
    let uuid = uuid_param(&uuid, "server")?;
    let f = fields(&body.0)?;
    let profile = app.store.profile_uuid.clone();
    let row = app
        .store
        .write(move |tx| {
            let sets: [(&str, Option<Option<String>>); 11] = [
                ("name", f.name.map(Some)),
                ("description", f.description),
                ("type", f.kind.map(Some)),
                ("command", f.command),
                ("args", f.args),
                ("env", f.env),
                ("url", f.url),
                ("streamable_http_options", f.options),
                ("slug", f.slug),
                ("status", f.status.map(Some)),
                ("custom_instructions", f.instructions),
            ];
            for (column, value) in sets {
                if let Some(value) = value {
                    // Column names come from the list above, never from the request.
                    tx.execute(
                        &format!("UPDATE mcp_servers SET {column} = ?2 WHERE uuid = ?1"),
                        params![uuid, value],
                    )?;
                }
            }
            tx.query_row(
                &format!("SELECT {COLUMNS} FROM mcp_servers WHERE uuid = ?1"),
                [&uuid],
                |r| row_json(r, &profile),
            )
            .optional()?
            .ok_or_else(|| ErrorResponse::not_found("Server not found or unauthorized"))
        })
        .await?;
    Ok(ok(row))
}

async fn remove(State(app): State<AppState>, Path(uuid): Path<String>) -> HttpResult<Response> {
    let uuid = uuid_param(&uuid, "server")?;
    let deleted = app
        .store
        .write(move |tx| Ok(tx.execute("DELETE FROM mcp_servers WHERE uuid = ?1", [&uuid])?))
        .await?;
    if deleted == 0 {
        return Err(ErrorResponse::not_found("Server not found or unauthorized"));
    }
    Ok(ok(json!({ "success": true })))
}

async fn activity(State(app): State<AppState>, body: Body) -> HttpResult<Response> {
    let b = &body.0;
    let text = |key: &str| b.get(key).and_then(Value::as_str).map(str::to_string);
    let action = text("action")
        .filter(|a| ACTIONS.contains(&a.as_str()))
        .ok_or_else(|| {
            ErrorResponse::invalid(
                HEADLINE,
                "action",
                format!("must be one of: {}", ACTIONS.join(", ")),
            )
        })?;
    let server_name = text("serverName")
        .ok_or_else(|| ErrorResponse::invalid(HEADLINE, "serverName", "is required (a string)"))?;
    let success = b.get("success").and_then(Value::as_bool).ok_or_else(|| {
        ErrorResponse::invalid(HEADLINE, "success", "is required (true or false)")
    })?;
    let time = match b.get("executionTime") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_f64().ok_or_else(|| {
            ErrorResponse::invalid(
                HEADLINE,
                "executionTime",
                "must be a number of milliseconds",
            )
        })?),
    };
    let (uuid, item, error) = (text("serverUuid"), text("itemName"), text("errorMessage"));
    let now = app.store.clock.now_iso();
    app.store
        .write(move |tx| {
            tx.execute(
                "INSERT INTO mcp_activity (action, server_name, server_uuid, item_name, success, \
                 error_message, execution_time_ms, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![action, server_name, uuid, item, success, error, time, now],
            )?;
            tx.execute(
                "DELETE FROM mcp_activity WHERE seq <= (SELECT MAX(seq) FROM mcp_activity) - ?1",
                [MAX_ACTIVITY_ROWS],
            )?;
            Ok(())
        })
        .await?;
    Ok(ok(json!({ "success": true })))
}
