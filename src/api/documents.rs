//! Document library calls. Field names are the server's camelCase. Answers
//! are decoded strictly (ids and list keys are required), so an answer of another shape is an
//! error, never an empty success.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ApiError, Client, Request, lenient_u64};
use crate::clock::de_iso_opt;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocSummary {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub file_size: Option<u64>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub visibility: String,
    #[serde(default)]
    pub version: Option<u64>,
    #[serde(default, deserialize_with = "de_iso_opt")]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "de_iso_opt")]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub ai_metadata: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DocList {
    pub documents: Vec<DocSummary>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub total: u64,
}

/// Query of `GET /api/documents`.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub search: Option<String>,
    pub model_name: Option<String>,
    pub date_from: Option<String>,
    pub date_to: Option<String>,
    pub sort: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub snippet: Option<String>,
    #[serde(default)]
    pub relevance_score: Option<f64>,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, deserialize_with = "de_iso_opt")]
    pub created_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResults {
    pub results: Vec<SearchHit>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub total: u64,
    #[serde(default)]
    pub has_more: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Attribution {
    pub model_name: String,
    pub model_provider: String,
    pub contribution_type: String,
    #[serde(deserialize_with = "de_iso_opt")]
    pub timestamp: Option<String>,
}

/// A row of `GET /api/documents/{id}/versions` (newest first, at most 50).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    pub version_number: u64,
    #[serde(default, deserialize_with = "de_iso_opt")]
    pub created_at: Option<String>,
    #[serde(default)]
    pub created_by_model: Value,
    #[serde(default)]
    pub change_summary: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct VersionList {
    versions: Vec<VersionInfo>,
}

/// `GET /api/documents/{id}`: the list fields plus attributions and content.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    #[serde(flatten)]
    pub summary: DocSummary,
    #[serde(default)]
    pub model_attributions: Vec<Attribution>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub content_encoding: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelRef {
    pub name: String,
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// The body of `POST /api/documents/ai`.
#[derive(Debug, Clone, Serialize)]
pub struct NewDocument {
    pub title: String,
    pub content: String,
    pub format: String,
    pub tags: Vec<String>,
    pub category: String,
    pub metadata: NewDocumentMetadata,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewDocumentMetadata {
    pub model: ModelRef,
    pub visibility: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_documents: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedDocument {
    pub document_id: String,
    #[serde(default)]
    pub url: Option<String>,
}

/// The body of `PATCH /api/documents/{id}`.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentUpdate {
    pub operation: String,
    pub content: String,
    pub metadata: DocumentUpdateMetadata,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentUpdateMetadata {
    pub model: ModelRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatedDocument {
    pub version: u64,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionContent {
    pub content: String,
    pub version_number: u64,
}

impl Client {
    pub async fn list_documents(&self, q: &ListQuery) -> Result<DocList, ApiError> {
        let mut req = Request::get(&["api", "documents"])
            .query("limit", q.limit)
            .query("offset", q.offset);
        for (key, value) in [
            ("source", &q.source),
            ("searchQuery", &q.search),
            ("modelName", &q.model_name),
            ("dateFrom", &q.date_from),
            ("dateTo", &q.date_to),
            ("sort", &q.sort),
        ] {
            if let Some(v) = value {
                req = req.query(key, v);
            }
        }
        for tag in &q.tags {
            req = req.query("tags", tag);
        }
        self.json(req).await
    }

    pub async fn search_documents(
        &self,
        query: &str,
        tags: &[String],
        limit: u32,
        offset: u32,
    ) -> Result<SearchResults, ApiError> {
        let mut body = json!({ "query": query, "limit": limit, "offset": offset });
        if !tags.is_empty() {
            body["filters"] = json!({ "tags": tags });
        }
        self.json(Request::post(&["api", "documents", "search"], body).read_only())
            .await
    }

    pub async fn document(&self, id: &str, content: bool) -> Result<Document, ApiError> {
        self.json(
            Request::get(&["api", "documents", id])
                .query("includeContent", content)
                .query("includeVersions", false),
        )
        .await
    }

    /// The version history (newest first, at most 50): numbers, authors and summaries, no
    /// content. Lighter than `includeVersions`, which also carries every version's diff.
    pub async fn document_versions(&self, id: &str) -> Result<Vec<VersionInfo>, ApiError> {
        Ok(self
            .json::<VersionList>(Request::get(&["api", "documents", id, "versions"]))
            .await?
            .versions)
    }

    pub async fn create_document(&self, doc: &NewDocument) -> Result<CreatedDocument, ApiError> {
        self.json(Request::post(&["api", "documents", "ai"], doc))
            .await
    }

    pub async fn update_document(
        &self,
        id: &str,
        update: &DocumentUpdate,
    ) -> Result<UpdatedDocument, ApiError> {
        // append/prepend are not idempotent; replace is, but one rule for all keeps it simple.
        self.json(Request::patch(&["api", "documents", id], update).csrf())
            .await
    }

    pub async fn document_version(
        &self,
        id: &str,
        version: u64,
    ) -> Result<VersionContent, ApiError> {
        self.json(Request::get(&[
            "api",
            "documents",
            id,
            "versions",
            &version.to_string(),
        ]))
        .await
    }
}
