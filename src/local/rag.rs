//! RAG over the local library: documents are split into chunks when they
//! are written, and a question is answered with the best-matching chunks joined by
//! `\n\n---\n\n`, exactly the shape the cloud returns (it is not an LLM answer there either).

use axum::{
    Router,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
    routing::post,
};
use rusqlite::{Connection, params};
use serde_json::{Value, json};

use super::{
    AppState, fts,
    http::{Body, ErrorResponse, HttpResult, ok},
};

/// Target chunk size in characters; paragraphs are kept whole where they fit.
const CHUNK_CHARS: usize = 800;
const MAX_ANSWER_CHARS: usize = 10_000;
const SEPARATOR: &str = "\n\n---\n\n";

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/rag/query", post(query))
}

/// Splits text into chunks of about [`CHUNK_CHARS`], on paragraph boundaries where possible
/// and on whitespace inside paragraphs that are too long.
pub fn chunk_text(text: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        if !current.is_empty() && current.chars().count() + para.chars().count() + 2 > CHUNK_CHARS {
            chunks.push(std::mem::take(&mut current));
        }
        if para.chars().count() > CHUNK_CHARS {
            let mut piece = String::new();
            for word in para.split_whitespace() {
                if !piece.is_empty()
                    && piece.chars().count() + word.chars().count() + 1 > CHUNK_CHARS
                {
                    chunks.push(std::mem::take(&mut piece));
                }
                if !piece.is_empty() {
                    piece.push(' ');
                }
                piece.push_str(word);
            }
            if !piece.is_empty() {
                chunks.push(piece);
            }
            continue;
        }
        if !current.is_empty() {
            current.push_str("\n\n");
        }
        current.push_str(para);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// Replaces the chunks of a document (inside the caller's transaction).
pub fn index_document(
    conn: &Connection,
    doc_id: &str,
    title: &str,
    content: &str,
) -> HttpResult<()> {
    conn.execute(
        "DELETE FROM document_chunks WHERE document_id = ?1",
        [doc_id],
    )?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO document_chunks (document_id, chunk_index, title, text) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (i, chunk) in chunk_text(content).iter().enumerate() {
        stmt.execute(params![doc_id, i as i64, title, chunk])?;
    }
    Ok(())
}

/// The cloud's query rule after HTML stripping: letters, digits, whitespace and common
/// punctuation; `<`, `>`, `^` and `\` are refused.
fn valid_query(q: &str) -> bool {
    q.chars().all(|c| {
        c.is_alphanumeric()
            || c.is_whitespace()
            || "-_.,!?'\"():;@#$%&*+=/[]{}|~`".contains(c)
            || u32::from(c) >= 0x80
    })
}

async fn query(State(app): State<AppState>, body: Body) -> HttpResult<Response> {
    let text = match body.get("query") {
        Some(Value::String(s)) => s.trim().to_string(),
        _ => String::new(),
    };
    if text.is_empty() || text.chars().count() > 1000 || !valid_query(&text) {
        return Err(ErrorResponse::bad_request("Invalid input format").with(
            "details",
            json!([{ "path": "query", "message": "must be 1 to 1000 characters of text without <, >, ^ or \\" }]),
        ));
    }
    let include_metadata = body.get("includeMetadata") == Some(&Value::Bool(true));
    let top_k = app.settings.rag_top_k as i64;
    let hits = match fts::match_expression(&text) {
        None => Vec::new(),
        Some(expr) => {
            app.store
                .read(move |c| {
                    let mut stmt = c.prepare_cached(
                        "SELECT c.document_id, d.title, c.text FROM chunks_fts \
                         JOIN document_chunks c ON c.id = chunks_fts.rowid \
                         JOIN documents d ON d.id = c.document_id \
                         WHERE chunks_fts MATCH ?1 ORDER BY bm25(chunks_fts, 2.0, 1.0) LIMIT ?2",
                    )?;
                    let rows = stmt.query_map(params![expr, top_k], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                        ))
                    })?;
                    Ok(rows.collect::<Result<Vec<_>, _>>()?)
                })
                .await?
        }
    };
    let (answer, sources, ids) = if hits.is_empty() {
        ("No relevant documents found".to_string(), vec![], vec![])
    } else {
        let mut answer = hits
            .iter()
            .map(|(_, _, t)| t.as_str())
            .collect::<Vec<_>>()
            .join(SEPARATOR);
        if answer.chars().count() > MAX_ANSWER_CHARS {
            answer = answer.chars().take(MAX_ANSWER_CHARS).collect::<String>()
                + "\n\n[Response truncated for security]";
        }
        let mut sources = Vec::new();
        let mut ids: Vec<String> = Vec::new();
        for (id, title, _) in &hits {
            if !ids.contains(id) {
                ids.push(id.clone());
                sources.push(title.clone());
            }
        }
        (answer, sources, ids)
    };
    if include_metadata {
        Ok(ok(
            json!({ "answer": answer, "sources": sources, "documentIds": ids }),
        ))
    } else {
        Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            answer,
        )
            .into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_paragraphs_and_split_long_ones() {
        let text = format!("intro\n\n{}\n\noutro", "word ".repeat(400));
        let chunks = chunk_text(&text);
        assert!(chunks.len() >= 3, "{chunks:?}");
        assert!(chunks.iter().all(|c| c.chars().count() <= CHUNK_CHARS));
        assert_eq!(chunks[0], "intro");
        assert_eq!(chunk_text("a\n\nb"), vec!["a\n\nb".to_string()]);
        assert!(chunk_text("   ").is_empty());
    }

    #[test]
    fn query_charset_matches_the_cloud() {
        assert!(valid_query("How do agents deploy? (PAP) #1"));
        assert!(valid_query("Grüße, 日本"));
        assert!(!valid_query("<script>"));
        assert!(!valid_query("a^b"));
    }
}
