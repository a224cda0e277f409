//! Document library tools: list, search, read (with paging and versions), create, update.

use rmcp::{RoleServer, service::RequestContext, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    SERVER_NAME, Tools, budget, cancellable,
    params::Parameters,
    reply::{Json, ToolError},
};
use crate::{
    api::documents::{
        DocumentUpdate, DocumentUpdateMetadata, ListQuery, ModelRef, NewDocument,
        NewDocumentMetadata,
    },
    vocab::{
        documents::{Category, Format, Operation, Sort, SourceFilter, Visibility},
        limits,
    },
};

/// Content returned by one get_doc call unless `max_chars` says otherwise.
pub const DEFAULT_MAX_CHARS: u64 = 100_000;
/// A version's change summary as the history shows it.
const CHANGE_SUMMARY_CHARS: usize = 500;
const NOT_FOUND_NEXT: &str = "Use search_docs or list_docs to find document ids.";
/// True in both modes: Plugged.in records a version row at each update, starting at 2.
const VERSIONS_NEXT: &str = "Versions are recorded from the first update on (the first is version 2); a document's original text is not kept as a version. get_doc with versions=true lists the versions that exist.";

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListDocsParams {
    /// Default all.
    pub source: Option<SourceFilter>,
    /// Documents with any of these tags.
    #[schemars(length(max = 20))]
    pub tags: Option<Vec<String>>,
    /// Substring of title or description.
    #[schemars(length(max = 500))]
    pub search: Option<String>,
    /// Default date_desc.
    pub sort: Option<Sort>,
    /// Default 20.
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchDocsParams {
    /// Words to find.
    #[schemars(length(min = 1, max = 500))]
    pub query: String,
    /// Only documents with any of these tags.
    #[schemars(length(max = 20))]
    pub tags: Option<Vec<String>>,
    /// Default 10.
    #[schemars(range(min = 1, max = 50))]
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetDocParams {
    /// Document id.
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    /// Include content. Default true.
    pub content: Option<bool>,
    /// Include the version history (at most 50, newest first). Default false.
    #[serde(default)]
    pub versions: bool,
    /// Return this version's content instead of the current one. Versions are recorded from the first update on (version 2).
    #[schemars(range(min = 1))]
    pub version: Option<u64>,
    /// First character of content to return. Default 0.
    pub offset: Option<u64>,
    /// Characters of content to return, default 100000.
    #[schemars(range(min = 1, max = 1_000_000))]
    pub max_chars: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateDocParams {
    #[schemars(length(min = 1, max = 255))]
    pub title: String,
    #[schemars(length(min = 1))]
    pub content: String,
    /// Default md.
    pub format: Option<Format>,
    /// Default other.
    pub category: Option<Category>,
    #[schemars(length(max = 20))]
    pub tags: Option<Vec<String>>,
    /// Default private.
    pub visibility: Option<Visibility>,
    /// Your model name for attribution, e.g. claude-sonnet-4.
    pub model_name: Option<String>,
    /// e.g. anthropic.
    pub model_provider: Option<String>,
    /// What the document is for / the prompt behind it.
    pub context: Option<String>,
    /// Ids of documents this one draws on.
    pub source_document_ids: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UpdateDocParams {
    /// Document id; only AI-created documents can be updated.
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
    pub operation: Operation,
    /// New text (append/prepend join with a blank line).
    #[schemars(length(min = 1))]
    pub content: String,
    pub change_summary: Option<String>,
    /// Replaces the tags when given.
    #[schemars(length(max = 20))]
    pub tags: Option<Vec<String>>,
    pub model_name: Option<String>,
    pub model_provider: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DocRow {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub source: String,
    pub version: Option<u64>,
    pub updated_at: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DocList {
    pub documents: Vec<DocRow>,
    pub total: u64,
    pub has_more: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchHit {
    pub id: String,
    pub title: String,
    pub snippet: Option<String>,
    /// Relevance, about 0 to 1.5 (text rank, plus 0.5 when the title matches); compare within one search only.
    pub score: Option<f64>,
    pub tags: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchResults {
    pub results: Vec<SearchHit>,
    pub total: u64,
    pub has_more: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct VersionRow {
    pub version: u64,
    pub created_at: Option<String>,
    pub model: Option<String>,
    pub change_summary: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DocView {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub source: String,
    pub visibility: String,
    pub mime_type: Option<String>,
    /// Current version number.
    pub version: Option<u64>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    /// Who wrote it: "model (provider)" per contribution.
    pub attributions: Vec<String>,
    /// Version whose content is shown, when not the current one.
    pub content_version: Option<u64>,
    pub content: Option<String>,
    /// base64 for binary documents.
    pub content_encoding: Option<String>,
    /// Characters in the whole content.
    pub content_chars: Option<u64>,
    /// Offset to pass for the rest of the content, when cut.
    pub next_offset: Option<u64>,
    pub versions: Option<Vec<VersionRow>>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DocWritten {
    pub id: String,
    pub version: Option<u64>,
    pub url: Option<String>,
    pub message: String,
}

fn model_label(v: &Value) -> Option<String> {
    let name = v.get("name").and_then(Value::as_str)?;
    Some(match v.get("provider").and_then(Value::as_str) {
        Some(p) => format!("{name} ({p})"),
        None => name.to_string(),
    })
}

/// Tags of a filter or a document: at most 20, each 1-100 characters.
fn tags_arg(tags: Option<Vec<String>>) -> Result<Vec<String>, ToolError> {
    let tags = tags.unwrap_or_default();
    limits::check_tags(&tags).map_err(|rule| ToolError::invalid("tags", rule))?;
    Ok(tags)
}

fn doc_id(id: &str) -> Result<String, ToolError> {
    super::params::uuid_arg(
        "id",
        id,
        &format!("must be a document uuid. {NOT_FOUND_NEXT}"),
    )
}

impl Tools {
    /// The attribution used when the model does not name itself: the MCP client's name
    /// (from its clientInfo) by way of this server.
    fn default_model(
        &self,
        ctx: &RequestContext<RoleServer>,
        name: Option<String>,
        provider: Option<String>,
    ) -> ModelRef {
        let client = ctx.client_info().map(|c| c.name).filter(|n| !n.is_empty());
        ModelRef {
            name: name.unwrap_or_else(|| match &client {
                Some(c) => format!("{c} via {SERVER_NAME}"),
                None => format!("unknown model via {SERVER_NAME}"),
            }),
            provider: provider.unwrap_or_else(|| SERVER_NAME.to_string()),
            version: None,
        }
    }
}

#[tool_router(router = document_tools, vis = "pub(crate)")]
impl Tools {
    /// List library documents with filters and paging (newest first). Use search_docs to find by words, get_doc to read.
    #[tool(
        title = "List documents",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_docs(
        &self,
        Parameters(p): Parameters<ListDocsParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<DocList>, ToolError> {
        let limit = p.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(ToolError::invalid("limit", "must be between 1 and 100"));
        }
        let offset = p.offset.unwrap_or(0);
        let search = p.search.filter(|s| !s.trim().is_empty());
        if search
            .as_ref()
            .is_some_and(|s| s.chars().count() > limits::SEARCH_QUERY_MAX_CHARS)
        {
            return Err(ToolError::invalid(
                "search",
                format!(
                    "must be at most {} characters",
                    limits::SEARCH_QUERY_MAX_CHARS
                ),
            ));
        }
        let query = ListQuery {
            source: p.source.map(|s| s.as_str().to_string()),
            tags: tags_arg(p.tags)?,
            search,
            sort: p.sort.map(|s| s.as_str().to_string()),
            limit,
            offset,
            ..Default::default()
        };
        let list = cancellable(&ctx.ct, self.client(&ctx)?.list_documents(&query)).await?;
        let documents: Vec<DocRow> = list
            .documents
            .into_iter()
            .map(|d| DocRow {
                id: d.id,
                title: d.title,
                description: d.description,
                tags: d.tags,
                source: d.source,
                version: d.version,
                updated_at: d.updated_at,
            })
            .collect();
        let links = self.doc_links(documents.iter().map(|d| (d.id.as_str(), d.title.as_str())));
        Ok(Json::new(DocList {
            has_more: u64::from(offset) + (documents.len() as u64) < list.total,
            total: list.total,
            documents,
        })
        .with_blocks(links))
    }

    /// Ranked search by words in document titles and descriptions (the local backend also searches content); returns ids, snippets and scores (0-1.5, higher is better). Use rag_ask to search the text itself.
    #[tool(
        title = "Search documents",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn search_docs(
        &self,
        Parameters(p): Parameters<SearchDocsParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<SearchResults>, ToolError> {
        let query = p.query.trim();
        if query.is_empty() || query.chars().count() > limits::SEARCH_QUERY_MAX_CHARS {
            return Err(ToolError::invalid(
                "query",
                format!("must be 1 to {} characters", limits::SEARCH_QUERY_MAX_CHARS),
            ));
        }
        let tags = tags_arg(p.tags)?;
        let limit = p.limit.unwrap_or(10);
        if !(1..=50).contains(&limit) {
            return Err(ToolError::invalid("limit", "must be between 1 and 50"));
        }
        let offset = p.offset.unwrap_or(0);
        let found = cancellable(
            &ctx.ct,
            self.client(&ctx)?
                .search_documents(query, &tags, limit, offset),
        )
        .await?;
        let results: Vec<SearchHit> = found
            .results
            .into_iter()
            .map(|h| SearchHit {
                id: h.id,
                title: h.title,
                snippet: h.snippet,
                score: h.relevance_score,
                tags: h.tags,
            })
            .collect();
        let links = self.doc_links(results.iter().map(|d| (d.id.as_str(), d.title.as_str())));
        Ok(Json::new(SearchResults {
            has_more: found.has_more,
            total: found.total,
            results,
        })
        .with_blocks(links))
    }

    /// Read a document: metadata, content (paged by offset/max_chars, 100k chars by default), version history, or one version's content.
    #[tool(
        title = "Get document",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn get_doc(
        &self,
        Parameters(p): Parameters<GetDocParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<DocView>, ToolError> {
        let id = doc_id(&p.id)?;
        let max = p.max_chars.unwrap_or(DEFAULT_MAX_CHARS);
        if max == 0 || max > 1_000_000 {
            return Err(ToolError::invalid(
                "max_chars",
                "must be between 1 and 1000000",
            ));
        }
        let offset = p.offset.unwrap_or(0);
        let want_content = p.content.unwrap_or(true);
        if p.version == Some(0) {
            return Err(ToolError::invalid("version", "versions start at 1"));
        }
        let client = self.client(&ctx)?;
        let doc = cancellable(
            &ctx.ct,
            client.document(&id, want_content && p.version.is_none()),
        )
        .await
        .map_err(|e| ToolError::api(e, NOT_FOUND_NEXT))?;
        let (raw, content_version) = match p.version {
            Some(n) if want_content => {
                let v = cancellable(&ctx.ct, client.document_version(&id, n))
                    .await
                    .map_err(|e| ToolError::api(e, VERSIONS_NEXT))?;
                (Some(v.content), Some(n))
            }
            _ => (doc.content.clone(), None),
        };
        let (content, content_chars, next_offset) = match raw {
            Some(text) => {
                let page = budget::page_text(&text, offset, max, self.budget().text_bytes());
                (Some(page.text), Some(page.total_chars), page.next_offset)
            }
            None => (None, None, None),
        };
        let versions = if p.versions {
            let rows = cancellable(&ctx.ct, client.document_versions(&id))
                .await
                .map_err(|e| ToolError::api(e, NOT_FOUND_NEXT))?;
            Some(
                rows.into_iter()
                    .map(|v| VersionRow {
                        version: v.version_number,
                        created_at: v.created_at,
                        model: model_label(&v.created_by_model),
                        change_summary: v
                            .change_summary
                            .map(|s| crate::text::truncate(&s, CHANGE_SUMMARY_CHARS)),
                    })
                    .collect(),
            )
        } else {
            None
        };
        Ok(Json::new(DocView {
            id: doc.summary.id,
            title: doc.summary.title,
            description: doc.summary.description,
            tags: doc.summary.tags,
            source: doc.summary.source,
            visibility: doc.summary.visibility,
            mime_type: doc.summary.mime_type,
            version: doc.summary.version,
            created_at: doc.summary.created_at,
            updated_at: doc.summary.updated_at,
            attributions: doc
                .model_attributions
                .iter()
                .map(|a| {
                    format!(
                        "{} ({}): {}",
                        a.model_name, a.model_provider, a.contribution_type
                    )
                })
                .collect(),
            content_version,
            content,
            content_encoding: doc.content_encoding.filter(|e| e != "utf-8"),
            content_chars,
            next_offset,
            versions,
        }))
    }

    /// Save a new document to the library with model attribution; returns its id.
    #[tool(
        title = "Create document",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_doc(
        &self,
        Parameters(p): Parameters<CreateDocParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<DocWritten>, ToolError> {
        let title = p.title.trim().to_string();
        if title.is_empty() || title.chars().count() > limits::DOC_TITLE_MAX_CHARS {
            return Err(ToolError::invalid(
                "title",
                format!("must be 1 to {} characters", limits::DOC_TITLE_MAX_CHARS),
            ));
        }
        if p.content.is_empty() {
            return Err(ToolError::invalid("content", "must not be empty"));
        }
        // Plugged.in refuses a create body over 10 MiB: say so before sending it.
        let encoded = limits::json_len(&p.content);
        if encoded + 64 * 1024 > limits::DOC_CREATE_BODY_MAX_BYTES {
            return Err(ToolError::invalid(
                "content",
                format!(
                    "is {encoded} bytes once JSON-encoded; Plugged.in accepts documents up to 10 MiB. Create a shorter document and add the rest with update_doc operation=append"
                ),
            ));
        }
        let tags = tags_arg(p.tags)?;
        let doc = NewDocument {
            title: title.clone(),
            content: p.content,
            format: p.format.unwrap_or(Format::Md).as_str().into(),
            tags,
            category: p.category.unwrap_or(Category::Other).as_str().into(),
            metadata: NewDocumentMetadata {
                model: self.default_model(&ctx, p.model_name, p.model_provider),
                visibility: p.visibility.unwrap_or(Visibility::Private).as_str().into(),
                context: p.context,
                source_documents: p.source_document_ids.unwrap_or_default(),
            },
        };
        let created = cancellable(&ctx.ct, self.client(&ctx)?.create_document(&doc))
            .await
            .map_err(|e| ToolError::api(e, ""))?;
        Ok(Json::new(DocWritten {
            id: created.document_id.clone(),
            version: Some(1),
            url: created.url,
            message: format!("created \"{title}\""),
        })
        .with_blocks(self.doc_links([(created.document_id.as_str(), title.as_str())])))
    }

    /// Change an AI-created document: replace, append or prepend text. Each update makes a new version.
    #[tool(
        title = "Update document",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn update_doc(
        &self,
        Parameters(p): Parameters<UpdateDocParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<DocWritten>, ToolError> {
        let id = doc_id(&p.id)?;
        if p.content.is_empty() {
            return Err(ToolError::invalid("content", "must not be empty"));
        }
        let units = p.content.encode_utf16().count();
        if units > limits::DOC_UPDATE_MAX_UNITS {
            return Err(ToolError::invalid(
                "content",
                format!(
                    "is {units} characters; Plugged.in accepts at most {} per update",
                    limits::DOC_UPDATE_MAX_UNITS
                ),
            ));
        }
        let tags = p.tags.map(|t| tags_arg(Some(t))).transpose()?;
        let update = DocumentUpdate {
            operation: p.operation.as_str().into(),
            content: p.content,
            metadata: DocumentUpdateMetadata {
                model: self.default_model(&ctx, p.model_name, p.model_provider),
                change_summary: p.change_summary,
                tags,
            },
        };
        let done = cancellable(&ctx.ct, self.client(&ctx)?.update_document(&id, &update))
            .await
            .map_err(|e| ToolError::api(e, "Only documents created by AI (create_doc) can be updated; search_docs finds ids."))?;
        Ok(Json::new(DocWritten {
            id,
            version: Some(done.version),
            url: None,
            message: done.message,
        }))
    }
}
