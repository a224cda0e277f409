//! The knowledge-base query: `POST /api/rag/query` with `{query, includeMetadata: true}`.
//! The answer is not written by a model: it is the text of the best-matching chunks of the
//! user's documents joined with `\n\n---\n\n`, with the titles and ids of their documents.
//! Without `includeMetadata` (or from an older server) it comes as `text/plain`.

use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Client, Request, decode};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RagAnswer {
    pub answer: String,
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(default)]
    pub document_ids: Vec<String>,
    /// The server answered in plain text (it ignored `includeMetadata`): no sources.
    #[serde(skip)]
    pub plain_text: bool,
}

impl Client {
    /// Asks for JSON (`includeMetadata: true`) and still copes with a `text/plain` answer.
    pub async fn rag_query(&self, question: &str) -> Result<RagAnswer, ApiError> {
        let req = Request::post(
            &["api", "rag", "query"],
            json!({ "query": question, "includeMetadata": true }),
        )
        .read_only();
        let reply = self.send(req).await?;
        if reply.content_type.starts_with("text/plain") {
            return Ok(RagAnswer {
                answer: String::from_utf8_lossy(&reply.body).into_owned(),
                plain_text: true,
                ..Default::default()
            });
        }
        decode(&reply.body, &self.scrubber())
    }
}
