//! The document library (reference §2): list with filters, get with content and versions,
//! AI document creation, updates with version rows (behind the cloud's CSRF gate), ranked
//! full-text search over title, description and content, and version reads.

use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use rusqlite::{Connection, OptionalExtension, Row, ToSql, params, params_from_iter};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    AppState, fts,
    http::{Body, ErrorResponse, HttpResult, QueryParams, ok, uuid_param},
    notifications, rag,
    store::json_column,
};
use crate::clock::parse_iso;

/// `POST /api/documents/ai` refuses bodies above this (checked on `Content-Length`).
const MAX_CREATE_BODY: u64 = 10 * 1024 * 1024;
const MAX_CONTENT_CHARS: usize = 10_485_760;
const MAX_UPDATE_CHARS: usize = 10_000_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/documents", get(list))
        .route("/api/documents/ai", post(create))
        .route("/api/documents/search", post(search))
        .route("/api/documents/{id}", get(fetch).patch(update))
        .route("/api/documents/{id}/versions", get(versions))
        .route("/api/documents/{id}/versions/{n}", get(version))
}

const DOC_COLUMNS: &str = "id, title, description, file_name, file_size, mime_type, tags, source, \
    visibility, version, ai_metadata, content_hash, created_at, updated_at, seq";

struct Doc {
    id: String,
    title: String,
    description: Option<String>,
    file_name: String,
    file_size: i64,
    mime_type: String,
    tags: Value,
    source: String,
    visibility: String,
    version: i64,
    ai_metadata: Value,
    content_hash: String,
    created_at: String,
    updated_at: String,
}

impl Doc {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            title: r.get(1)?,
            description: r.get(2)?,
            file_name: r.get(3)?,
            file_size: r.get(4)?,
            mime_type: r.get(5)?,
            tags: json_column(r.get(6)?),
            source: r.get(7)?,
            visibility: r.get(8)?,
            version: r.get(9)?,
            ai_metadata: json_column(r.get(10)?),
            content_hash: r.get(11)?,
            created_at: r.get(12)?,
            updated_at: r.get(13)?,
        })
    }
}

/// One `model_attributions` row.
struct Attribution {
    model_name: String,
    model_provider: String,
    contribution_type: String,
    timestamp: String,
    metadata: Value,
}

fn attributions(conn: &Connection, doc_id: &str) -> HttpResult<Vec<Attribution>> {
    let mut stmt = conn.prepare_cached(
        "SELECT model_name, model_provider, contribution_type, timestamp, metadata \
         FROM model_attributions WHERE document_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([doc_id], |r| {
        Ok(Attribution {
            model_name: r.get(0)?,
            model_provider: r.get(1)?,
            contribution_type: r.get(2)?,
            timestamp: r.get(3)?,
            metadata: json_column(r.get(4)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn load(conn: &Connection, id: &str, missing: &str) -> HttpResult<Doc> {
    conn.query_row(
        &format!("SELECT {DOC_COLUMNS} FROM documents WHERE id = ?1"),
        [id],
        Doc::from_row,
    )
    .optional()?
    .ok_or_else(|| ErrorResponse::not_found(missing))
}

// ---------------------------------------------------------------------------------------
// List

const SOURCES: [&str; 4] = ["all", "upload", "ai_generated", "api"];
const VISIBILITIES: [&str; 3] = ["private", "workspace", "public"];

/// Filters shared by list and search; `args` collects the bound values.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filters {
    model_name: Option<String>,
    model_provider: Option<String>,
    date_from: Option<String>,
    date_to: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    source: Option<String>,
}

impl Filters {
    fn validate(&self, headline: &str) -> HttpResult<()> {
        // More tags than a document can carry would only exhaust SQLite's parameter limit.
        crate::vocab::limits::check_tags(&self.tags)
            .map_err(|rule| ErrorResponse::invalid(headline, "tags", rule))?;
        for (key, value) in [("dateFrom", &self.date_from), ("dateTo", &self.date_to)] {
            if let Some(v) = value
                && (!v.ends_with('Z') || parse_iso(v).is_none())
            {
                return Err(ErrorResponse::invalid(
                    headline,
                    key,
                    "must be an ISO-8601 date-time in UTC ending in Z, e.g. 2025-01-15T10:30:00Z",
                ));
            }
        }
        if let Some(s) = &self.source
            && !SOURCES.contains(&s.as_str())
        {
            return Err(ErrorResponse::invalid(
                headline,
                "source",
                format!("must be one of: {}", SOURCES.join(", ")),
            ));
        }
        Ok(())
    }

    fn push_sql(&self, clauses: &mut Vec<String>, args: &mut Vec<Box<dyn ToSql + Send>>) {
        if let Some(s) = self.source.as_deref().filter(|s| *s != "all") {
            clauses.push("d.source = ?".into());
            args.push(Box::new(s.to_string()));
        }
        if let Some(n) = &self.model_name {
            clauses.push("json_extract(d.ai_metadata, '$.model.name') = ?".into());
            args.push(Box::new(n.clone()));
        }
        if let Some(p) = &self.model_provider {
            clauses.push("json_extract(d.ai_metadata, '$.model.provider') = ?".into());
            args.push(Box::new(p.clone()));
        }
        // Stored timestamps are normalized ISO text, so comparing the normalized bound works.
        if let Some(t) = self.date_from.as_deref().and_then(parse_iso) {
            clauses.push("d.created_at >= ?".into());
            args.push(Box::new(crate::clock::iso(t)));
        }
        if let Some(t) = self.date_to.as_deref().and_then(parse_iso) {
            clauses.push("d.created_at <= ?".into());
            args.push(Box::new(crate::clock::iso(t)));
        }
        if !self.tags.is_empty() {
            let marks = vec!["?"; self.tags.len()].join(", ");
            clauses.push(format!(
                "EXISTS (SELECT 1 FROM json_each(d.tags) WHERE json_each.value IN ({marks}))"
            ));
            for t in &self.tags {
                args.push(Box::new(t.clone()));
            }
        }
    }
}

/// `LIKE` pattern matching `text` literally (the cloud lets `%` and `_` act as wildcards).
fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

async fn list(State(app): State<AppState>, q: QueryParams) -> HttpResult<Response> {
    const HEADLINE: &str = "Invalid query parameters";
    let filters = Filters {
        model_name: q.get("modelName").map(str::to_string),
        model_provider: q.get("modelProvider").map(str::to_string),
        date_from: q.get("dateFrom").map(str::to_string),
        date_to: q.get("dateTo").map(str::to_string),
        tags: q.all("tags"),
        source: q.get("source").map(str::to_string),
    };
    filters.validate(HEADLINE)?;
    let visibility = q.get("visibility").unwrap_or("all").to_string();
    if visibility != "all" && !VISIBILITIES.contains(&visibility.as_str()) {
        return Err(ErrorResponse::invalid(
            HEADLINE,
            "visibility",
            "must be one of: all, private, workspace, public",
        ));
    }
    let order = match q.get("sort").unwrap_or("date_desc") {
        "date_desc" => "d.created_at DESC, d.seq DESC",
        "date_asc" => "d.created_at ASC, d.seq ASC",
        "title" => "d.title COLLATE NOCASE ASC, d.seq ASC",
        "size" => "d.file_size DESC, d.seq DESC",
        _ => {
            return Err(ErrorResponse::invalid(
                HEADLINE,
                "sort",
                "must be one of: date_desc, date_asc, title, size",
            ));
        }
    };
    let limit = q.int("limit", 20, 1, 100, HEADLINE)?;
    let offset = q.int("offset", 0, 0, i64::MAX, HEADLINE)?;
    let search = q.get("searchQuery").map(like_pattern);

    let mut clauses = vec!["1 = 1".to_string()];
    let mut args: Vec<Box<dyn ToSql + Send>> = Vec::new();
    filters.push_sql(&mut clauses, &mut args);
    if visibility != "all" {
        clauses.push("d.visibility = ?".into());
        args.push(Box::new(visibility));
    }
    if let Some(p) = search {
        clauses.push(r"(d.title LIKE ? ESCAPE '\' OR d.description LIKE ? ESCAPE '\')".into());
        args.push(Box::new(p.clone()));
        args.push(Box::new(p));
    }
    let where_sql = clauses.join(" AND ");
    let (docs, total) = app
        .store
        .read(move |c| {
            let total: i64 = c.query_row(
                &format!("SELECT count(*) FROM documents d WHERE {where_sql}"),
                params_from_iter(args.iter()),
                |r| r.get(0),
            )?;
            let mut page_args = args;
            page_args.push(Box::new(limit));
            page_args.push(Box::new(offset));
            let mut stmt = c.prepare(&format!(
                "SELECT {} FROM documents d WHERE {where_sql} ORDER BY {order} LIMIT ? OFFSET ?",
                prefixed_columns()
            ))?;
            let docs = stmt
                .query_map(params_from_iter(page_args.iter()), Doc::from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            let mut out = Vec::with_capacity(docs.len());
            for d in docs {
                let attrs = attributions(c, &d.id)?
                    .into_iter()
                    .map(|a| {
                        json!({ "model_name": a.model_name, "model_provider": a.model_provider,
                                "contribution_type": a.contribution_type, "timestamp": a.timestamp })
                    })
                    .collect::<Vec<_>>();
                out.push(json!({
                    "id": d.id, "title": d.title, "description": d.description,
                    "fileName": d.file_name, "fileSize": d.file_size, "mimeType": d.mime_type,
                    "tags": d.tags, "source": d.source, "visibility": d.visibility,
                    "version": d.version, "createdAt": d.created_at, "updatedAt": d.updated_at,
                    "aiMetadata": d.ai_metadata, "modelAttributions": attrs,
                }));
            }
            Ok((out, total))
        })
        .await?;
    Ok(ok(
        json!({ "documents": docs, "total": total, "limit": limit, "offset": offset }),
    ))
}

fn prefixed_columns() -> String {
    DOC_COLUMNS
        .split(", ")
        .map(|c| format!("d.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------
// Get

fn bool_param(q: &QueryParams, key: &str) -> HttpResult<bool> {
    match q.get(key) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ErrorResponse::invalid(
            "Invalid query parameters",
            key,
            "must be \"true\" or \"false\"",
        )),
    }
}

async fn fetch(
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
                    c.query_row("SELECT content FROM documents WHERE id = ?1", [&d.id], |r| r.get(0))?;
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
                            "versionNumber": r.get::<_, i64>(0)?,
                            "createdAt": r.get::<_, String>(1)?,
                            "createdByModel": json_column(r.get(2)?),
                            "changeSummary": r.get::<_, Option<String>>(3)?,
                            "contentDiff": json_column(r.get(4)?),
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

// ---------------------------------------------------------------------------------------
// Create

#[derive(Deserialize)]
struct ModelInfo {
    name: String,
    provider: String,
    version: Option<String>,
}

impl ModelInfo {
    fn to_json(&self) -> Value {
        let mut v = json!({ "name": self.name, "provider": self.provider });
        if let Some(ver) = &self.version {
            v["version"] = json!(ver);
        }
        v
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateMetadata {
    model: Option<ModelInfo>,
    context: Option<String>,
    visibility: Option<String>,
    prompt: Option<String>,
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "validated for its type like the cloud; not stored"
    )]
    conversation_context: Vec<String>,
    #[serde(default)]
    source_documents: Vec<String>,
}

#[derive(Deserialize)]
struct CreateBody {
    title: Option<String>,
    content: Option<String>,
    format: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    category: Option<String>,
    metadata: Option<CreateMetadata>,
}

const FORMATS: [(&str, &str); 4] = [
    ("md", "text/markdown"),
    ("txt", "text/plain"),
    ("json", "application/json"),
    ("html", "text/html"),
];
const CATEGORIES: [&str; 7] = [
    "report",
    "analysis",
    "documentation",
    "guide",
    "research",
    "code",
    "other",
];

fn safe_file_part(s: &str, max_chars: usize) -> String {
    s.chars()
        .take(max_chars)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The cloud's content rule for updates: no NUL and no control characters but tab/CR/LF.
fn has_forbidden_control(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

async fn create(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> HttpResult<Response> {
    const HEADLINE: &str = "Invalid request data";
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_CREATE_BODY) {
        return Err(ErrorResponse::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body too large. Maximum size is 10MB",
        ));
    }
    let session_id = headers
        .get("x-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let b: CreateBody = body.decode(HEADLINE)?;
    let title = b.title.unwrap_or_default();
    if title.is_empty() || title.chars().count() > 255 {
        return Err(ErrorResponse::invalid(
            HEADLINE,
            "title",
            "must be 1 to 255 characters",
        ));
    }
    let content = b.content.unwrap_or_default();
    if content.is_empty() || content.chars().count() > MAX_CONTENT_CHARS {
        return Err(ErrorResponse::invalid(
            HEADLINE,
            "content",
            format!("must be 1 to {MAX_CONTENT_CHARS} characters"),
        ));
    }
    let format = b.format.unwrap_or_else(|| "md".into());
    let Some((_, mime)) = FORMATS.iter().find(|(f, _)| *f == format) else {
        return Err(ErrorResponse::invalid(
            HEADLINE,
            "format",
            "must be one of: md, txt, json, html",
        ));
    };
    crate::vocab::limits::check_tags(&b.tags)
        .map_err(|rule| ErrorResponse::invalid(HEADLINE, "tags", rule))?;
    let category = b.category.unwrap_or_else(|| "other".into());
    if !CATEGORIES.contains(&category.as_str()) {
        return Err(ErrorResponse::invalid(
            HEADLINE,
            "category",
            format!("must be one of: {}", CATEGORIES.join(", ")),
        ));
    }
    let Some(metadata) = b.metadata else {
        return Err(ErrorResponse::invalid(
            HEADLINE,
            "metadata.model",
            "Required",
        ));
    };
    let Some(model) = metadata.model else {
        return Err(ErrorResponse::invalid(
            HEADLINE,
            "metadata.model",
            "Required",
        ));
    };
    let visibility = metadata.visibility.unwrap_or_else(|| "private".into());
    if !VISIBILITIES.contains(&visibility.as_str()) {
        return Err(ErrorResponse::invalid(
            HEADLINE,
            "metadata.visibility",
            "must be one of: private, workspace, public",
        ));
    }

    let now = app.store.clock.now_iso();
    let id = uuid::Uuid::new_v4().to_string();
    let file_name = format!(
        "{}_{}_{}.{format}",
        now.replace([':', '.'], "-").replace('T', "_"),
        safe_file_part(&model.name, 255),
        safe_file_part(&title, 50)
    );
    let mut ai_metadata = json!({ "model": model.to_json(), "timestamp": now });
    if let Some(context) = metadata.context.or(metadata.prompt) {
        ai_metadata["context"] = json!(context);
    }
    if let Some(s) = session_id {
        ai_metadata["sessionId"] = json!(s);
    }
    if !metadata.source_documents.is_empty() {
        ai_metadata["sourceDocuments"] = json!(metadata.source_documents);
    }
    let description = format!("AI-generated {category} by {}", model.name);
    let doc_id = id.clone();
    app.store
        .write(move |tx| {
            tx.execute(
                "INSERT INTO documents (id, title, description, file_name, file_size, mime_type, category, \
                 tags, source, visibility, version, content, content_hash, ai_metadata, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'ai_generated', ?9, 1, ?10, ?11, ?12, ?13, ?13)",
                params![
                    id, title, description, file_name, content.len() as i64, mime, category,
                    json!(b.tags).to_string(), visibility, content, crate::text::sha256_hex(&content),
                    ai_metadata.to_string(), now
                ],
            )?;
            tx.execute(
                "INSERT INTO model_attributions (document_id, model_name, model_provider, contribution_type, timestamp, metadata) \
                 VALUES (?1, ?2, ?3, 'created', ?4, '{}')",
                params![id, model.name, model.provider, now],
            )?;
            rag::index_document(tx, &id, &title, &content)?;
            notifications::insert(
                tx,
                notifications::NewNotification {
                    kind: "document_created_ai",
                    title: "AI Document Created",
                    message: &format!("{} created \"{title}\"", model.name),
                    severity: "INFO",
                    link: Some(&format!("/library/{id}")),
                    metadata: json!({}),
                },
                &now,
            )?;
            Ok(())
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({
            "success": true,
            "documentId": doc_id,
            "message": "Document successfully created",
            "url": format!("/library/{doc_id}"),
        })),
    )
        .into_response())
}

// ---------------------------------------------------------------------------------------
// Update

/// The cloud's CSRF gate on document PATCH (reference §2.3): an allowed Origin (or
/// Referer), and `X-Requested-With` on JSON requests. We also accept our own origin.
fn check_csrf(headers: &HeaderMap, own_origins: &[String]) -> HttpResult<()> {
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

async fn update(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> HttpResult<Response> {
    const HEADLINE: &str = "Invalid request data";
    check_csrf(&headers, &app.settings.own_origins)?;
    let id = uuid_param(&id, "document")?;
    let b: UpdateBody = body.decode(HEADLINE)?;
    let operation = match b.operation.as_deref() {
        Some(op @ ("replace" | "append" | "prepend")) => op.to_string(),
        _ => {
            return Err(ErrorResponse::invalid(
                HEADLINE,
                "operation",
                "must be one of: replace, append, prepend",
            ));
        }
    };
    let content = b.content.unwrap_or_default();
    if content.is_empty() || content.chars().count() > MAX_UPDATE_CHARS {
        return Err(ErrorResponse::invalid(
            HEADLINE,
            "content",
            format!("must be 1 to {MAX_UPDATE_CHARS} characters"),
        ));
    }
    if has_forbidden_control(&content) {
        return Err(ErrorResponse::invalid(
            HEADLINE,
            "content",
            "must not contain NUL or control characters other than tab, CR and LF",
        ));
    }
    let (summary, model, tags) = match b.metadata {
        None => (None, None, None),
        Some(m) => {
            let Some(model) = m.model else {
                return Err(ErrorResponse::invalid(
                    HEADLINE,
                    "metadata.model",
                    "Required",
                ));
            };
            if let Some(tags) = &m.tags {
                crate::vocab::limits::check_tags(tags)
                    .map_err(|rule| ErrorResponse::invalid(HEADLINE, "metadata.tags", rule))?;
            }
            (m.change_summary, Some(model), m.tags)
        }
    };
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
                tx.query_row("SELECT content FROM documents WHERE id = ?1", [&id], |r| r.get(0))?;
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
                &summary.unwrap_or_else(|| format!("{operation} operation by {model_name}")),
                &content_diff(&old, &new),
            )?;
            let mut ai_metadata = doc.ai_metadata.clone();
            if let Value::Object(m) = &mut ai_metadata {
                if let Some(model) = &model {
                    m.insert("lastUpdatedBy".into(), model.to_json());
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
                    params![id, model.name, model.provider, now, json!({ "operation": operation }).to_string()],
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

// ---------------------------------------------------------------------------------------
// Search

#[derive(Deserialize)]
struct SearchBody {
    query: Option<String>,
    #[serde(default)]
    filters: Option<Filters>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// A score in the cloud's range: there it is Postgres `ts_rank` (0 to 1) plus 0.5 when the
/// title matches. Here the text part is bm25 (negative, lower is better, unbounded), which
/// `x / (1 + x)` maps into 0..1 the same way round.
fn relevance(bm25: f64, title_hit: bool) -> f64 {
    let text = (-bm25).max(0.0);
    let score = text / (1.0 + text) + if title_hit { 0.5 } else { 0.0 };
    (score * 1000.0).round() / 1000.0
}

/// ±50 characters around the first case-insensitive occurrence of `needle`, or `None`.
fn snippet_around(text: &str, needle: &str) -> Option<String> {
    let lower: Vec<char> = text.to_lowercase().chars().collect();
    let chars: Vec<char> = text.chars().collect();
    let needle: Vec<char> = needle.to_lowercase().chars().collect();
    if needle.is_empty() || lower.len() != chars.len() {
        return None;
    }
    let pos = lower
        .windows(needle.len())
        .position(|w| w == needle.as_slice())?;
    let start = pos.saturating_sub(50);
    let end = (pos + needle.len() + 50).min(chars.len());
    let mut s: String = chars[start..end].iter().collect();
    if start > 0 {
        s = format!("...{s}");
    }
    if end < chars.len() {
        s.push_str("...");
    }
    Some(s)
}

async fn search(State(app): State<AppState>, body: Body) -> HttpResult<Response> {
    const HEADLINE: &str = "Invalid request data";
    let b: SearchBody = body.decode(HEADLINE)?;
    let query = b.query.unwrap_or_default();
    if query.trim().is_empty() || query.chars().count() > 500 {
        return Err(ErrorResponse::invalid(
            HEADLINE,
            "query",
            "must be 1 to 500 characters",
        ));
    }
    let specials = query
        .chars()
        .filter(|c| ".*+?^${}()|[]\\".contains(*c))
        .count();
    if specials >= 10 {
        return Err(ErrorResponse::bad_request(
            "Query contains too many special characters",
        ));
    }
    let filters = b.filters.unwrap_or_default();
    filters.validate(HEADLINE)?;
    let limit = b.limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return Err(ErrorResponse::invalid(
            HEADLINE,
            "limit",
            "must be an integer between 1 and 50",
        ));
    }
    let offset = b.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ErrorResponse::invalid(
            HEADLINE,
            "offset",
            "must be an integer >= 0",
        ));
    }

    // One pass: full-text hits (bm25, title weighted) and substring hits on title or
    // description, ranked together with a bonus for title matches. `snippet()` is costly,
    // so it runs only for the rows on the page.
    let fts_query = fts::match_expression(&query);
    let like = like_pattern(query.trim());
    let mut clauses = vec!["1 = 1".to_string()];
    let mut args: Vec<Box<dyn ToSql + Send>> = vec![
        Box::new(fts_query.clone().unwrap_or_default()),
        Box::new(like),
    ];
    filters.push_sql(&mut clauses, &mut args);
    let where_sql = clauses.join(" AND ");
    let fts_cte = if fts_query.is_some() {
        "SELECT rowid AS seq, bm25(documents_fts, 10.0, 5.0, 1.0) AS score FROM documents_fts WHERE documents_fts MATCH ?1"
    } else {
        // Nothing searchable in the query (only punctuation): substring matches only.
        "SELECT NULL AS seq, 0.0 AS score WHERE ?1 IS NULL AND 0"
    };
    let hits = format!(
        "WITH f AS MATERIALIZED ({fts_cte}), \
         hits AS (SELECT seq, score FROM f \
                  UNION ALL \
                  SELECT d.seq, 0.0 FROM documents d \
                  WHERE (d.title LIKE ?2 ESCAPE '\\' OR d.description LIKE ?2 ESCAPE '\\') \
                  AND d.seq NOT IN (SELECT seq FROM f WHERE seq IS NOT NULL)) \
         SELECT {}, h.score AS text_score, \
                CASE WHEN d.title LIKE ?2 ESCAPE '\\' THEN 1 ELSE 0 END AS title_hit, \
                count(*) OVER () AS total \
         FROM hits h JOIN documents d ON d.seq = h.seq WHERE {where_sql}",
        prefixed_columns()
    );
    let query_text = query.trim().to_string();
    let (results, total) = app
        .store
        .read(move |c| {
            let mut page_args = args;
            page_args.push(Box::new(limit));
            page_args.push(Box::new(offset));
            let mut stmt = c.prepare(&format!(
                "{hits} ORDER BY text_score - 5.0 * title_hit ASC, d.created_at DESC LIMIT ? OFFSET ?"
            ))?;
            let rows = stmt
                .query_map(params_from_iter(page_args.iter()), |r| {
                    Ok((
                        Doc::from_row(r)?,
                        r.get::<_, i64>(14)?,
                        relevance(r.get::<_, f64>(15)?, r.get::<_, bool>(16)?),
                        r.get::<_, i64>(17)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let total = match rows.first() {
                Some((.., total)) => *total,
                // Past the last page: count without the page.
                None if offset > 0 => {
                    let mut count_args = page_args;
                    count_args.truncate(count_args.len() - 2);
                    c.query_row(
                        &format!("SELECT count(*) FROM ({hits})"),
                        params_from_iter(count_args.iter()),
                        |r| r.get(0),
                    )?
                }
                None => 0,
            };
            let mut out = Vec::with_capacity(rows.len());
            for (d, seq, score, _) in rows {
                let description = d.description.clone().unwrap_or_default();
                let content_snippet = || -> HttpResult<Option<String>> {
                    let Some(expr) = &fts_query else {
                        return Ok(None);
                    };
                    Ok(c.query_row(
                        "SELECT snippet(documents_fts, 2, '', '', '...', 24) FROM documents_fts \
                         WHERE documents_fts MATCH ?1 AND rowid = ?2",
                        params![expr, seq],
                        |r| r.get::<_, Option<String>>(0),
                    )
                    .optional()?
                    .flatten()
                    .filter(|s| !s.trim().is_empty()))
                };
                let snippet = match snippet_around(&description, &query_text)
                    .or_else(|| snippet_around(&d.title, &query_text))
                {
                    Some(s) => s,
                    None => content_snippet()?
                        .unwrap_or_else(|| description.chars().take(150).collect()),
                };
                let attrs = attributions(c, &d.id)?
                    .into_iter()
                    .map(|a| {
                        json!({ "model_name": a.model_name, "model_provider": a.model_provider,
                                "contribution_type": a.contribution_type })
                    })
                    .collect::<Vec<_>>();
                out.push(json!({
                    "id": d.id, "title": d.title, "description": d.description,
                    "snippet": snippet,
                    "relevanceScore": score,
                    "source": d.source, "aiMetadata": d.ai_metadata, "tags": d.tags,
                    "visibility": d.visibility, "createdAt": d.created_at,
                    "modelAttributions": attrs,
                }));
            }
            Ok((out, total))
        })
        .await?;
    let has_more = offset + (results.len() as i64) < total;
    Ok(ok(json!({
        "results": results, "total": total, "limit": limit, "offset": offset, "hasMore": has_more,
    })))
}

// ---------------------------------------------------------------------------------------
// Versions

async fn versions(State(app): State<AppState>, Path(id): Path<String>) -> HttpResult<Response> {
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
                    let n: i64 = r.get(0)?;
                    Ok(json!({
                        "versionNumber": n,
                        "createdAt": r.get::<_, String>(1)?,
                        "createdByModel": json_column(r.get(2)?),
                        "changeSummary": r.get::<_, Option<String>>(3)?,
                        "isCurrent": n == doc.version,
                    }))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await?;
    Ok(ok(json!({ "success": true, "versions": versions })))
}

async fn version(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_character_safe() {
        let text = format!("{}needle{}", "é".repeat(80), "ü".repeat(80));
        let s = snippet_around(&text, "NEEDLE").unwrap();
        assert!(s.starts_with("...") && s.ends_with("..."));
        assert!(s.contains("needle"));
    }

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

    #[test]
    fn like_patterns_are_literal() {
        assert_eq!(like_pattern("50%_off"), r"%50\%\_off%");
    }
}
