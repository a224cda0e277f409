//! `PATCH /api/documents/{id}`: replace, append or prepend text in an AI-created document,
//! behind Plugged.in's CSRF gate, recording a version row (Plugged.in writes one per update,
//! so the first is version 2: a document's original text is not kept as a version).

use axum::{
    extract::{Path, State},
    http::{HeaderMap, header},
    response::Response,
};
use rusqlite::{Connection, params};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    MAX_UPDATE_CHARS,
    rows::{ModelInfo, has_forbidden_control, load},
};
use crate::local::{
    AppState,
    http::{Body, ErrorResponse, HttpResult, ok, uuid_param},
    rag,
};

/// The cloud's CSRF gate on document PATCH: an allowed Origin (or
/// Referer), and `X-Requested-With` on JSON requests. We also accept our own origin.
pub(super) fn check_csrf(headers: &HeaderMap, own_origins: &[String]) -> HttpResult<()> {
    const CLOUD: [&str; 4] = [
        "plugged.in",
        "www.plugged.in",
        "rc1.plugged.in",
        "api.plugged.in",
    ];
    let header_text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let origin = header_text(header::ORIGIN)
        .map(str::to_string)
        .or_else(|| header_text(header::REFERER).and_then(origin_of));
    let allowed = origin.as_deref().is_some_and(|o| {
        own_origins.iter().any(|own| own == o)
            || CLOUD
                .iter()
                .any(|h| o == format!("https://{h}") || o == format!("http://{h}"))
    });
    let csrf = |message: &str, code: &str| {
        ErrorResponse::forbidden(message).with("code", code.to_string())
    };
    if !allowed {
        return Err(csrf("Invalid request origin", "CSRF_INVALID_ORIGIN"));
    }
    let is_json = header_text(header::CONTENT_TYPE).is_some_and(|t| t.contains("application/json"));
    if is_json && headers.get("x-requested-with").is_none() {
        return Err(csrf(
            "Missing required header for JSON requests",
            "CSRF_MISSING_HEADER",
        ));
    }
    Ok(())
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    Some(format!("{scheme}://{host}"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateMetadata {
    change_summary: Option<String>,
    model: Option<ModelInfo>,
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct UpdateBody {
    operation: Option<String>,
    content: Option<String>,
    metadata: Option<UpdateMetadata>,
}

/// A small line-level summary of what changed, stored with each version row.
fn content_diff(old: &str, new: &str) -> Value {
    use std::collections::HashSet;
    let old_lines: HashSet<&str> = old.lines().collect();
    let new_lines: HashSet<&str> = new.lines().collect();
    let added: Vec<&str> = new.lines().filter(|l| !old_lines.contains(l)).collect();
    let removed: Vec<&str> = old.lines().filter(|l| !new_lines.contains(l)).collect();
    let changes: Vec<Value> = added
        .iter()
        .map(|l| json!({ "type": "addition", "content": l }))
        .chain(
            removed
                .iter()
                .map(|l| json!({ "type": "deletion", "content": l })),
        )
        .take(50)
        .collect();
    json!({ "additions": added.len(), "deletions": removed.len(), "changes": changes })
}

const HEADLINE: &str = "Invalid request data";

/// An update as checked by the cloud's rules.
struct Edit {
    operation: String,
    content: String,
    summary: Option<String>,
    model: Option<ModelInfo>,
    tags: Option<Vec<String>>,
}

impl Edit {
    fn from_body(b: UpdateBody) -> HttpResult<Self> {
        let operation = match b.operation.as_deref() {
            Some(op @ ("replace" | "append" | "prepend")) => op.to_string(),
            _ => {
                return Err(ErrorResponse::invalid_flat(
                    HEADLINE,
                    "operation",
                    "must be one of: replace, append, prepend",
                ));
            }
        };
        let content = b.content.unwrap_or_default();
        if content.is_empty() || content.chars().count() > MAX_UPDATE_CHARS {
            return Err(ErrorResponse::invalid_flat(
                HEADLINE,
                "content",
                format!("must be 1 to {MAX_UPDATE_CHARS} characters"),
            ));
        }
        if has_forbidden_control(&content) {
            return Err(ErrorResponse::invalid_flat(
                HEADLINE,
                "content",
                "must not contain NUL or control characters other than tab, CR and LF",
            ));
        }
        let (summary, model, tags) = match b.metadata {
            None => (None, None, None),
            Some(m) => {
                let Some(model) = m.model else {
                    return Err(ErrorResponse::invalid_flat(
                        HEADLINE,
                        "metadata.model",
                        "Required",
                    ));
                };
                if let Some(tags) = &m.tags {
                    crate::vocab::limits::check_tags(tags).map_err(|rule| {
                        ErrorResponse::invalid_flat(HEADLINE, "metadata.tags", rule)
                    })?;
                }
                (m.change_summary, Some(model), m.tags)
            }
        };
        Ok(Self {
            operation,
            content,
            summary,
            model,
            tags,
        })
    }
}

pub async fn update(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> HttpResult<Response> {
    check_csrf(&headers, &app.settings.own_origins)?;
    let id = uuid_param(&id, "document")?;
    let Edit {
        operation,
        content,
        summary,
        model,
        tags,
    } = Edit::from_body(body.decode(HEADLINE)?)?;
    let now = app.store.clock.now_iso();
    let doc_id = id.clone();
    let version = app
        .store
        .write(move |tx| {
            let doc = load(tx, &id, "Document not found or access denied")?;
            if doc.source != "ai_generated" {
                return Err(ErrorResponse::not_found("Document not found or access denied"));
            }
            let old: String =
                tx.query_row("SELECT content FROM documents WHERE id = ?1", [&id], |r| r.get("content"))?;
            let new = match operation.as_str() {
                "append" => format!("{old}\n\n{content}"),
                "prepend" => format!("{content}\n\n{old}"),
                _ => content,
            };
            let model_json = model
                .as_ref()
                .map_or_else(|| json!({ "name": "Unknown", "provider": "Unknown" }), ModelInfo::to_json);
            let model_name = model.as_ref().map_or("Unknown", |m| m.name.as_str());
            let version = doc.version + 1;
            insert_version(
                tx, &id, version, &new, &now, &model_json,
                &summary.clone().unwrap_or_else(|| format!("{operation} operation by {model_name}")),
                &content_diff(&old, &new),
            )?;
            // As the cloud does: the update's metadata is spread over the stored one, so
            // `model` names the last writer and `changeSummary` the last change.
            let mut ai_metadata = doc.ai_metadata.clone();
            if let Value::Object(m) = &mut ai_metadata {
                if let Some(model) = &model {
                    m.insert("model".into(), model.to_json());
                }
                if let Some(summary) = &summary {
                    m.insert("changeSummary".into(), json!(summary));
                }
                if let Some(tags) = &tags {
                    m.insert("tags".into(), json!(tags));
                }
                m.insert("timestamp".into(), json!(now));
            }
            let tags_json = tags.map_or(doc.tags.to_string(), |t| json!(t).to_string());
            tx.execute(
                "UPDATE documents SET content = ?2, content_hash = ?3, file_size = ?4, version = ?5, \
                 ai_metadata = ?6, tags = ?7, updated_at = ?8 WHERE id = ?1",
                params![id, new, crate::text::sha256_hex(&new), new.len() as i64, version,
                    ai_metadata.to_string(), tags_json, now],
            )?;
            if let Some(model) = &model {
                tx.execute(
                    "INSERT INTO model_attributions (document_id, model_name, model_provider, contribution_type, timestamp, metadata) \
                     VALUES (?1, ?2, ?3, 'updated', ?4, ?5)",
                    params![id, model.name, model.provider, now, json!({
                        "version": model.version, "changes_summary": summary, "operation": operation,
                    }).to_string()],
                )?;
            }
            rag::index_document(tx, &id, &doc.title, &new)?;
            Ok(version)
        })
        .await?;
    Ok(ok(json!({
        "success": true,
        "documentId": doc_id,
        "version": version,
        "fileWritten": true,
        "message": "Document updated successfully",
    })))
}

#[allow(
    clippy::too_many_arguments,
    reason = "one row, one call site per column"
)]
fn insert_version(
    conn: &Connection,
    doc_id: &str,
    number: i64,
    content: &str,
    created_at: &str,
    model: &Value,
    summary: &str,
    diff: &Value,
) -> HttpResult<()> {
    conn.execute(
        "INSERT INTO document_versions (id, document_id, version_number, content, created_at, \
         created_by_model, change_summary, content_diff) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            uuid::Uuid::new_v4().to_string(),
            doc_id,
            number,
            content,
            created_at,
            model.to_string(),
            summary,
            diff.to_string()
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_accepts_cloud_and_own_origins_only() {
        let own = vec!["http://127.0.0.1:9999".to_string()];
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert_eq!(
            check_csrf(&h, &own).unwrap_err().body["code"],
            "CSRF_INVALID_ORIGIN"
        );
        h.insert(header::ORIGIN, "http://127.0.0.1:9999".parse().unwrap());
        assert_eq!(
            check_csrf(&h, &own).unwrap_err().body["code"],
            "CSRF_MISSING_HEADER"
        );
        h.insert("x-requested-with", "XMLHttpRequest".parse().unwrap());
        assert!(check_csrf(&h, &own).is_ok());
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(check_csrf(&h, &own).is_err());
        h.insert(header::ORIGIN, "https://plugged.in".parse().unwrap());
        assert!(check_csrf(&h, &own).is_ok());
    }
}
