//! Document rows: reading them (columns by name), their model attributions, and what both
//! create and update share (the model a change is attributed to, the control characters
//! content may not hold).

use rusqlite::{Connection, OptionalExtension, Row};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::local::{
    http::{ErrorResponse, HttpResult},
    store::json_column,
};

pub const DOC_COLUMNS: &str = "id, title, description, file_name, file_size, mime_type, tags, source, \
    visibility, version, ai_metadata, content_hash, created_at, updated_at, seq";

pub struct Doc {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub file_name: String,
    pub file_size: i64,
    pub mime_type: String,
    pub tags: Value,
    pub source: String,
    pub visibility: String,
    pub version: i64,
    pub ai_metadata: Value,
    pub content_hash: String,
    pub created_at: String,
    pub updated_at: String,
}

impl Doc {
    pub fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get("id")?,
            title: r.get("title")?,
            description: r.get("description")?,
            file_name: r.get("file_name")?,
            file_size: r.get("file_size")?,
            mime_type: r.get("mime_type")?,
            tags: json_column(r.get("tags")?),
            source: r.get("source")?,
            visibility: r.get("visibility")?,
            version: r.get("version")?,
            ai_metadata: json_column(r.get("ai_metadata")?),
            content_hash: r.get("content_hash")?,
            created_at: r.get("created_at")?,
            updated_at: r.get("updated_at")?,
        })
    }
}

/// One `model_attributions` row.
pub struct Attribution {
    pub model_name: String,
    pub model_provider: String,
    pub contribution_type: String,
    pub timestamp: String,
    pub metadata: Value,
}

pub fn attributions(conn: &Connection, doc_id: &str) -> HttpResult<Vec<Attribution>> {
    let mut stmt = conn.prepare_cached(
        "SELECT model_name, model_provider, contribution_type, timestamp, metadata \
         FROM model_attributions WHERE document_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([doc_id], |r| {
        Ok(Attribution {
            model_name: r.get("model_name")?,
            model_provider: r.get("model_provider")?,
            contribution_type: r.get("contribution_type")?,
            timestamp: r.get("timestamp")?,
            metadata: json_column(r.get("metadata")?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn load(conn: &Connection, id: &str, missing: &str) -> HttpResult<Doc> {
    conn.query_row(
        &format!("SELECT {DOC_COLUMNS} FROM documents WHERE id = ?1"),
        [id],
        Doc::from_row,
    )
    .optional()?
    .ok_or_else(|| ErrorResponse::not_found(missing))
}

/// The document columns with the `d.` prefix of queries that join documents.
pub fn prefixed_columns() -> String {
    DOC_COLUMNS
        .split(", ")
        .map(|c| format!("d.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Deserialize)]
pub struct ModelInfo {
    pub name: String,
    pub provider: String,
    pub version: Option<String>,
}

impl ModelInfo {
    pub fn to_json(&self) -> Value {
        let mut v = json!({ "name": self.name, "provider": self.provider });
        if let Some(ver) = &self.version {
            v["version"] = json!(ver);
        }
        v
    }
}

/// NUL and control characters other than tab, CR and LF, which Plugged.in refuses in the
/// content of an update.
pub fn has_forbidden_control(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}
