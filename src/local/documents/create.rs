//! `POST /api/documents/ai`: a document written by a model, with its attribution, a
//! notification, and its chunks indexed for RAG.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use rusqlite::params;
use serde::Deserialize;
use serde_json::json;

use super::{MAX_CONTENT_CHARS, MAX_CREATE_BODY, rows::ModelInfo};
use crate::{
    local::{
        AppState,
        http::{Body, ErrorResponse, HttpResult},
        notifications, rag,
    },
    vocab::{
        documents::{Category, Format, Visibility},
        notifications::Severity,
    },
};

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

const HEADLINE: &str = "Invalid request data";

/// A document as checked by the cloud's rules, ready to store.
struct NewDocument {
    title: String,
    content: String,
    format: String,
    mime: &'static str,
    tags: Vec<String>,
    category: String,
    model: ModelInfo,
    visibility: String,
    context: Option<String>,
    source_documents: Vec<String>,
}

impl NewDocument {
    fn from_body(b: CreateBody) -> HttpResult<Self> {
        let title = b.title.unwrap_or_default();
        if title.is_empty() || title.chars().count() > 255 {
            return Err(ErrorResponse::invalid_flat(
                HEADLINE,
                "title",
                "must be 1 to 255 characters",
            ));
        }
        let content = b.content.unwrap_or_default();
        if content.is_empty() || content.chars().count() > MAX_CONTENT_CHARS {
            return Err(ErrorResponse::invalid_flat(
                HEADLINE,
                "content",
                format!("must be 1 to {MAX_CONTENT_CHARS} characters"),
            ));
        }
        let format = b.format.unwrap_or_else(|| Format::Md.as_str().into());
        let Some(mime) = Format::parse(&format).map(Format::mime_type) else {
            return Err(ErrorResponse::invalid_flat(
                HEADLINE,
                "format",
                format!("must be one of: {}", Format::names()),
            ));
        };
        crate::vocab::limits::check_tags(&b.tags)
            .map_err(|rule| ErrorResponse::invalid_flat(HEADLINE, "tags", rule))?;
        let category = b
            .category
            .unwrap_or_else(|| Category::Other.as_str().into());
        if Category::parse(&category).is_none() {
            return Err(ErrorResponse::invalid_flat(
                HEADLINE,
                "category",
                format!("must be one of: {}", Category::names()),
            ));
        }
        let Some(CreateMetadata {
            model: Some(model),
            context,
            visibility,
            prompt,
            source_documents,
            ..
        }) = b.metadata
        else {
            return Err(ErrorResponse::invalid_flat(
                HEADLINE,
                "metadata.model",
                "Required",
            ));
        };
        let visibility = visibility.unwrap_or_else(|| Visibility::Private.as_str().into());
        if Visibility::parse(&visibility).is_none() {
            return Err(ErrorResponse::invalid_flat(
                HEADLINE,
                "metadata.visibility",
                format!("must be one of: {}", Visibility::names()),
            ));
        }
        Ok(Self {
            title,
            content,
            format,
            mime,
            tags: b.tags,
            category,
            model,
            visibility,
            context: context.or(prompt),
            source_documents,
        })
    }
}

pub async fn create(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> HttpResult<Response> {
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
    let doc = NewDocument::from_body(body.decode(HEADLINE)?)?;
    let doc_id = store(&app, doc, session_id).await?;
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

/// Stores the document with its attribution, RAG chunks and notification, in one
/// transaction; answers its id.
async fn store(app: &AppState, doc: NewDocument, session_id: Option<String>) -> HttpResult<String> {
    let NewDocument {
        title,
        content,
        format,
        mime,
        tags,
        category,
        model,
        visibility,
        context,
        source_documents,
    } = doc;
    let now = app.store.clock.now_iso();
    let id = uuid::Uuid::new_v4().to_string();
    let file_name = format!(
        "{}_{}_{}.{format}",
        now.replace([':', '.'], "-").replace('T', "_"),
        safe_file_part(&model.name, 255),
        safe_file_part(&title, 50)
    );
    let mut ai_metadata = json!({ "model": model.to_json(), "timestamp": now });
    if let Some(context) = context {
        ai_metadata["context"] = json!(context);
    }
    if let Some(s) = session_id {
        ai_metadata["sessionId"] = json!(s);
    }
    if !source_documents.is_empty() {
        ai_metadata["sourceDocuments"] = json!(source_documents);
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
                    json!(tags).to_string(), visibility, content, crate::text::sha256_hex(&content),
                    ai_metadata.to_string(), now
                ],
            )?;
            tx.execute(
                "INSERT INTO model_attributions (document_id, model_name, model_provider, contribution_type, timestamp, metadata) \
                 VALUES (?1, ?2, ?3, 'created', ?4, ?5)",
                params![id, model.name, model.provider, now, json!({
                    "version": model.version, "category": category, "tags": tags,
                }).to_string()],
            )?;
            rag::index_document(tx, &id, &title, &content)?;
            notifications::insert(
                tx,
                notifications::NewNotification {
                    kind: "document_created_ai",
                    title: "AI Document Created",
                    message: &format!("{} created \"{title}\"", model.name),
                    severity: Severity::Info.as_str(),
                    link: Some(&format!("/library/{id}")),
                    metadata: json!({}),
                },
                &now,
            )?;
            Ok(())
        })
        .await?;
    Ok(doc_id)
}
