//! The catalog Plugged.in keeps of its users' MCP servers, which clients read instead of
//! connecting to every server: `GET /api/tools` (`?prefix_tools=true` names each tool
//! `<slug>__<tool>`, or `<server uuid>__<tool>` without a slug, and adds `_serverUuid`,
//! `_serverSlug`, `_serverName`), and `POST /api/tools`, with which an MCP client reports
//! the tools it discovered (the hub does, for the account's servers). The cloud also
//! discovers on its own; this API has no MCP client, so its catalog is what was reported.
//! `GET /api/prompts`, `/api/resources` and `/api/resource-templates` answer the same bare
//! arrays as the cloud; nothing reports those (the cloud fills them by discovering on its
//! own), so they are empty here, and `GET /api/resolve/prompt?name=` and
//! `/api/resolve/resource?uri=` — which find the server that owns a cached prompt or
//! resource — answer the cloud's 400 without their parameter and its 404 otherwise. `POST
//! /api/discover/{all|uuid}` answers as the cloud does when it starts a discovery, but here
//! the discovering is done by the MCP client (the hub), which reports what it finds.

use axum::{
    Router,
    extract::{Path, State},
    response::Response,
    routing::{get, post},
};
use rusqlite::params;
use serde_json::{Value, json};

use super::{
    AppState,
    http::{Body, ErrorResponse, HttpResult, QueryParams, ok},
};

/// Most tools one report may carry.
const MAX_REPORTED_TOOLS: usize = 5_000;
const STATUSES: &[&str] = &["ACTIVE", "INACTIVE"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/tools", get(list).post(report))
        .route("/api/prompts", get(empty))
        .route("/api/resources", get(empty))
        .route("/api/resource-templates", get(empty))
        .route("/api/resolve/prompt", get(resolve_prompt))
        .route("/api/resolve/resource", get(resolve_resource))
        .route("/api/discover/{target}", post(discover))
}

async fn discover(State(app): State<AppState>, Path(target): Path<String>) -> HttpResult<Response> {
    const NOTE: &str = "this API does not connect to MCP servers itself: pluggedin-mcp's hub discovers them and reports their tools";
    if target == "all" {
        return Ok(ok(
            json!({ "message": format!("Discovery requested for all active servers; {NOTE}.") }),
        ));
    }
    let uuid = super::http::uuid_param(&target, "server")?;
    let name: Option<String> = app
        .store
        .read(move |c| {
            Ok(c.query_row(
                "SELECT name FROM mcp_servers WHERE uuid = ?1",
                [&uuid],
                |r| r.get(0),
            )
            .ok())
        })
        .await?;
    match name {
        Some(name) => Ok(ok(
            json!({ "message": format!("Discovery requested for {name}; {NOTE}.") }),
        )),
        None => Err(ErrorResponse::not_found(format!(
            "Server with UUID {target} not found for this profile."
        ))),
    }
}

async fn resolve_prompt(q: QueryParams) -> HttpResult<Response> {
    resolve(&q, "name", "Prompt name")
}

async fn resolve_resource(q: QueryParams) -> HttpResult<Response> {
    resolve(&q, "uri", "Resource URI")
}

/// The cloud's answers when a prompt or resource is not in the catalog (here, never is).
fn resolve(q: &QueryParams, param: &str, what: &str) -> HttpResult<Response> {
    let value = q.get(param).ok_or_else(|| {
        ErrorResponse::bad_request(format!("Missing required query parameter: {param}"))
    })?;
    Err(ErrorResponse::not_found(format!(
        "{what} not found or not associated with the active profile: {value}"
    )))
}

async fn empty() -> Response {
    ok(json!([]))
}

async fn list(State(app): State<AppState>, q: QueryParams) -> HttpResult<Response> {
    let prefix = q.get("prefix_tools") == Some("true");
    let status = q
        .get("status")
        .filter(|s| STATUSES.contains(s))
        .unwrap_or("ACTIVE")
        .to_string();
    let tools = app
        .store
        .read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT t.name, t.description, t.tool_schema, t.mcp_server_uuid, s.slug, s.name AS server_name \
                 FROM mcp_tools t JOIN mcp_servers s ON s.uuid = t.mcp_server_uuid \
                 WHERE s.status = 'ACTIVE' AND t.status = ?1 ORDER BY s.seq, t.name",
            )?;
            let rows = stmt
                .query_map([&status], |r| {
                    let name: String = r.get("name")?;
                    let server: String = r.get("mcp_server_uuid")?;
                    let slug: Option<String> = r.get("slug")?;
                    let shown = match (prefix, &slug) {
                        (false, _) => name,
                        (true, Some(slug)) => format!("{slug}__{name}"),
                        (true, None) => format!("{server}__{name}"),
                    };
                    let mut tool = json!({
                        "name": shown,
                        "inputSchema": serde_json::from_str::<Value>(&r.get::<_, String>("tool_schema")?)
                            .unwrap_or(Value::Null),
                        "_serverUuid": server,
                        "_serverName": r.get::<_, String>("server_name")?,
                    });
                    if let Some(d) = r.get::<_, Option<String>>("description")? {
                        tool["description"] = json!(d);
                    }
                    if let Some(slug) = slug {
                        tool["_serverSlug"] = json!(slug);
                    }
                    Ok(tool)
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await?;
    Ok(ok(json!({ "tools": tools })))
}

async fn report(State(app): State<AppState>, body: Body) -> HttpResult<Response> {
    let tools = match body.get("tools") {
        Some(Value::Array(tools)) if !tools.is_empty() => tools.clone(),
        _ => {
            return Err(ErrorResponse::bad_request(
                "Request must include a non-empty array of tools",
            ));
        }
    };
    if tools.len() > MAX_REPORTED_TOOLS {
        return Err(ErrorResponse::invalid(
            "Invalid request data",
            "tools",
            format!("at most {MAX_REPORTED_TOOLS} tools per report"),
        ));
    }
    let now = app.store.clock.now_iso();
    let answer = app
        .store
        .write(move |tx| {
            let mut results = Vec::new();
            let mut errors = Vec::new();
            for tool in tools {
                let name = tool.get("name").and_then(Value::as_str);
                let schema = tool.get("toolSchema").filter(|s| s.is_object());
                let server = tool.get("mcp_server_uuid").and_then(Value::as_str);
                let (Some(name), Some(schema), Some(server)) = (name, schema, server) else {
                    errors.push(json!({ "tool": tool, "error": "Missing required fields: name, toolSchema, or mcp_server_uuid" }));
                    continue;
                };
                let known: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM mcp_servers WHERE uuid = ?1",
                    [server],
                    |r| r.get(0),
                )?;
                if known == 0 {
                    errors.push(json!({ "tool": tool, "error": format!("Invalid mcp_server_uuid: {server}. Server does not belong to the active profile.") }));
                    continue;
                }
                let status = tool
                    .get("status")
                    .and_then(Value::as_str)
                    .filter(|s| STATUSES.contains(s))
                    .unwrap_or("ACTIVE");
                let description = tool.get("description").and_then(Value::as_str);
                tx.execute(
                    "INSERT INTO mcp_tools (mcp_server_uuid, name, description, tool_schema, status, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                     ON CONFLICT (mcp_server_uuid, name) DO UPDATE SET description = excluded.description, \
                     tool_schema = excluded.tool_schema",
                    params![server, name, description, schema.to_string(), status, now],
                )?;
                results.push(json!({
                    "name": name, "description": description, "toolSchema": schema,
                    "mcp_server_uuid": server, "status": status, "created_at": now,
                }));
            }
            let (ok_count, failed) = (results.len(), errors.len());
            Ok(json!({
                "results": results, "errors": errors,
                "success": ok_count > 0 && failed == 0,
                "failureCount": failed, "successCount": ok_count,
            }))
        })
        .await?;
    Ok(ok(answer))
}
