//! `GET /api/documents/{id}`: the document, with its content and version rows on request.

use axum::{
    extract::{Path, State},
    response::Response,
};
use serde_json::json;

use super::rows::{attributions, load};
use crate::local::{
    AppState,
    http::{ErrorResponse, HttpResult, QueryParams, ok, uuid_param},
    store::json_column,
};

fn bool_param(q: &QueryParams, key: &str) -> HttpResult<bool> {
    match q.get(key) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ErrorResponse::invalid_flat(
            "Invalid query parameters",
            key,
            "must be \"true\" or \"false\"",
        )),
    }
}

pub async fn fetch(
    State(app): State<AppState>,
    Path(id): Path<String>,
    q: QueryParams,
) -> HttpResult<Response> {
    let id = uuid_param(&id, "document")?;
    let include_content = bool_param(&q, "includeContent")?;
    let include_versions = bool_param(&q, "includeVersions")?;
    let body = app
        .store
        .read(move |c| {
            let d = load(c, &id, "Document not found")?;
            let attrs = attributions(c, &d.id)?
                .into_iter()
                .map(|a| {
                    json!({ "modelName": a.model_name, "modelProvider": a.model_provider,
                            "contributionType": a.contribution_type, "timestamp": a.timestamp, "metadata": a.metadata })
                })
                .collect::<Vec<_>>();
            let mut body = json!({
                "id": d.id, "title": d.title, "description": d.description,
                "fileName": d.file_name, "fileSize": d.file_size, "mimeType": d.mime_type,
                "tags": d.tags, "source": d.source, "visibility": d.visibility,
                "version": d.version, "parentDocumentId": null, "aiMetadata": d.ai_metadata,
                "contentHash": d.content_hash, "createdAt": d.created_at, "updatedAt": d.updated_at,
                "modelAttributions": attrs,
            });
            if include_content {
                let content: String =
                    c.query_row("SELECT content FROM documents WHERE id = ?1", [&d.id], |r| r.get("content"))?;
                body["content"] = json!(content);
                body["contentEncoding"] = json!("utf-8");
            }
            if include_versions {
                let mut stmt = c.prepare_cached(
                    "SELECT version_number, created_at, created_by_model, change_summary, content_diff \
                     FROM document_versions WHERE document_id = ?1 ORDER BY version_number DESC",
                )?;
                let versions = stmt
                    .query_map([&d.id], |r| {
                        Ok(json!({
                            "versionNumber": r.get::<_, i64>("version_number")?,
                            "createdAt": r.get::<_, String>("created_at")?,
                            "createdByModel": json_column(r.get("created_by_model")?),
                            "changeSummary": r.get::<_, Option<String>>("change_summary")?,
                            "contentDiff": json_column(r.get("content_diff")?),
                        }))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                body["versions"] = json!(versions);
            }
            Ok(body)
        })
        .await?;
    Ok(ok(body))
}
