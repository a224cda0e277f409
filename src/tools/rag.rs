//! The knowledge-base tool.

use rmcp::{RoleServer, service::RequestContext, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    Tools, cancellable,
    params::Parameters,
    reply::{Json, ToolError},
};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RagParams {
    /// A question in plain words.
    #[schemars(length(min = 1, max = 1000))]
    // Called `question` in 0.1; accepted under that name through 0.2 (docs/tools.md).
    #[serde(alias = "question")]
    pub query: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Source {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RagAnswer {
    /// The most relevant passages of the library, separated by ---.
    pub answer: String,
    pub sources: Vec<Source>,
}

#[tool_router(router = rag_tools, vis = "pub(crate)")]
impl Tools {
    /// Ask the knowledge base: returns the most relevant passages from the user's documents and their sources. Prefer it to search_docs when you need content, not a list.
    #[tool(
        title = "Ask knowledge base",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn rag_ask(
        &self,
        Parameters(p): Parameters<RagParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<RagAnswer>, ToolError> {
        let question = p.query.trim();
        if question.is_empty() || question.chars().count() > 1000 {
            return Err(ToolError::invalid("query", "must be 1 to 1000 characters"));
        }
        if let Some(c) = question
            .chars()
            .find(|c| matches!(c, '<' | '>' | '^' | '\\'))
        {
            return Err(ToolError::invalid(
                "query",
                format!("the character {c:?} is not accepted by Plugged.in; rephrase without it"),
            ));
        }
        let found = cancellable(&ctx.ct, self.client(&ctx)?.rag_query(question)).await?;
        if found.plain_text {
            self.warn(&ctx, "Plugged.in answered the knowledge-base query in plain text, without sources; the answer is returned as is".into());
        }
        let sources: Vec<Source> = found
            .document_ids
            .into_iter()
            .zip(found.sources)
            .map(|(id, title)| Source { id, title })
            .collect();
        let links = self.doc_links(sources.iter().map(|s| (s.id.as_str(), s.title.as_str())));
        Ok(Json::new(RagAnswer {
            answer: found.answer,
            sources,
        })
        .with_blocks(links))
    }
}
