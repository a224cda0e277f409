//! A document's version rows: the list (newest first, at most 50) and one version's content.

use axum::{
    extract::{Path, State},
    response::Response,
};
use rusqlite::{OptionalExtension, params};
use serde_json::json;

use super::rows::load;
use crate::local::{
    AppState,
    http::{ErrorResponse, HttpResult, ok, uuid_param},
    store::json_column,
};

pub async fn versions(State(app): State<AppState>, Path(id): Path<String>) -> HttpResult<Response> {
    let id = uuid_param(&id, "document")?;
    let versions = app
        .store
        .read(move |c| {
            let doc = load(c, &id, "Document not found or access denied")?;
            let mut stmt = c.prepare_cached(
                "SELECT version_number, created_at, created_by_model, change_summary \
                 FROM document_versions WHERE document_id = ?1 ORDER BY version_number DESC LIMIT 50",
            )?;
            let rows = stmt
                .query_map([&id], |r| {
                    let n: i64 = r.get("version_number")?;
                    Ok(json!({
                        "versionNumber": n,
                        "createdAt": r.get::<_, String>("created_at")?,
                        "createdByModel": json_column(r.get("created_by_model")?),
                        "changeSummary": r.get::<_, Option<String>>("change_summary")?,
                        "isCurrent": n == doc.version,
                    }))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await?;
    Ok(ok(json!({ "success": true, "versions": versions })))
}

pub async fn version(
    State(app): State<AppState>,
    Path((id, n)): Path<(String, String)>,
) -> HttpResult<Response> {
    let id = uuid_param(&id, "document")?;
    let number = n
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ErrorResponse::bad_request("Version number must be a positive integer"))?;
    let content = app
        .store
        .read(move |c| {
            load(c, &id, "Document not found or access denied")?;
            c.query_row(
                "SELECT content FROM document_versions WHERE document_id = ?1 AND version_number = ?2",
                params![id, number],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .ok_or_else(|| ErrorResponse::not_found("Version not found"))
        })
        .await?;
    Ok(ok(
        json!({ "success": true, "content": content, "versionNumber": number }),
    ))
}
