//! Memory tools: a session per task, observations recorded while working, and search over
//! what was learned (Plugged.in's `/api/memory/…`, or the embedded API offline). The
//! official server's hidden pattern and archetype tools are not here: the embedded API has
//! no collective memory or Jungian model to answer them honestly.

use rmcp::{RoleServer, service::RequestContext, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    Tools, cancellable,
    params::Parameters,
    reply::{Json, ToolError},
};
use crate::vocab::limits;
use crate::{
    api::memory::{MemoryQuery, NewObservation},
    vocab::memory::{ObservationType, Outcome, RingType},
};

/// Plugged.in's limit on one observation.
const MAX_CONTENT_CHARS: usize = 10_000;
const MAX_QUERY_CHARS: usize = 1_000;
const MAX_DETAILS: usize = 20;
/// Longest memory text a search result carries (details has the rest).
const RESULT_CHARS: usize = 1_000;
const SESSION_NEXT: &str = "memory_start gives a session's uuid and memory_session_id.";

#[derive(Debug, Deserialize, JsonSchema)]
pub struct StartParams {
    /// Your id for the task this session covers.
    #[schemars(length(min = 1, max = 500))]
    pub content_session_id: String,
    /// Agent uuid, if it is an agent's memory.
    #[schemars(extend("format" = "uuid"))]
    pub agent_uuid: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Started {
    /// The session's uuid; memory_observe and memory_end take it (or memory_session_id) as `session`.
    pub uuid: String,
    /// The session's id; memory_observe and memory_end take it (or uuid) as `session`.
    pub memory_session_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct EndParams {
    /// memory_session_id or uuid.
    #[schemars(length(min = 1, max = 100))]
    pub session: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Ended {
    /// The session's uuid.
    pub uuid: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ObserveParams {
    /// uuid or memory_session_id from memory_start.
    #[schemars(length(min = 1, max = 100))]
    // Called `session_uuid` in 0.1; accepted under that name through 0.2 (docs/tools.md).
    #[serde(alias = "session_uuid")]
    pub session: String,
    #[serde(rename = "type")]
    pub kind: ObservationType,
    #[schemars(length(min = 1, max = 10_000))]
    pub content: String,
    pub outcome: Option<Outcome>,
    /// e.g. tool_name; at most 16 KiB as JSON.
    pub metadata: Option<serde_json::Map<String, Value>>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Observed {
    pub uuid: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchParams {
    #[schemars(length(min = 1, max = 1_000))]
    pub query: String,
    /// procedures (how-to), practice (what was done), longterm (preferences, insights), shocks (failures).
    pub ring_types: Option<Vec<RingType>>,
    /// Only this agent's.
    #[schemars(extend("format" = "uuid"))]
    pub agent_uuid: Option<String>,
    /// Default 10.
    #[schemars(range(min = 1, max = 50))]
    pub top_k: Option<u8>,
    /// Add collective patterns (Plugged.in only).
    #[serde(default)]
    pub include_gut: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Memory {
    /// Pass to memory_details for the full text.
    pub uuid: String,
    pub ring: String,
    /// The memory's text (cut to 1,000 characters).
    pub content: String,
    /// Relevance to the query, 0-1.
    pub similarity: f64,
    pub decay_stage: String,
    pub tags: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Memories {
    pub memories: Vec<Memory>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DetailsParams {
    /// uuids from memory_search.
    #[schemars(length(min = 1, max = 20))]
    pub memory_uuids: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Details {
    /// Each memory in full, as Plugged.in keeps it.
    pub memories: Vec<serde_json::Map<String, Value>>,
    /// Memories asked for that did not fit one result: ask for them again, fewer at a time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub omitted: Vec<String>,
}

fn uuid_arg(field: &str, value: &str, next: &str) -> Result<String, ToolError> {
    super::params::uuid_arg(field, value, &format!("must be a uuid; {next}"))
}

/// The optional `agent_uuid` of start and search.
fn agent_arg(agent: Option<&str>) -> Result<Option<String>, ToolError> {
    agent
        .map(|a| uuid_arg("agent_uuid", a, "list_agents shows agents' uuids"))
        .transpose()
}

fn chars_between(field: &str, value: &str, max: usize) -> Result<(), ToolError> {
    let n = value.chars().count();
    if value.trim().is_empty() || n > max {
        return Err(ToolError::invalid(
            field,
            format!("must be 1 to {max} characters (got {n})"),
        ));
    }
    Ok(())
}

fn memory_of(v: &Value) -> Memory {
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Memory {
        uuid: text("uuid"),
        ring: text("ringType"),
        content: crate::text::truncate(&text("content"), RESULT_CHARS),
        similarity: v.get("similarity").and_then(Value::as_f64).unwrap_or(0.0),
        decay_stage: text("decayStage"),
        tags: v
            .get("tags")
            .and_then(Value::as_array)
            .map(|t| {
                t.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        created_at: text("createdAt"),
    }
}

impl Tools {
    /// A session named by its uuid or its memory_session_id (`ms_…`), as the uuid the
    /// observation route takes: an id is looked up once.
    async fn session_uuid(
        &self,
        ctx: &RequestContext<RoleServer>,
        session: &str,
    ) -> Result<String, ToolError> {
        let session = session.trim();
        if let Ok(uuid) = uuid::Uuid::parse_str(session) {
            return Ok(uuid.to_string());
        }
        if !crate::vocab::memory::is_session_ref(session) {
            return Err(ToolError::invalid(
                "session",
                format!(
                    "must be a memory_session_id (ms_…) or uuid: letters, digits, _ and -; {SESSION_NEXT}"
                ),
            ));
        }
        let row = cancellable(&ctx.ct, self.client(ctx)?.memory_session(session))
            .await
            .map_err(|e| ToolError::api(e, SESSION_NEXT))?;
        row.get("uuid")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                ToolError::NotFound(format!("no memory session {session:?}; {SESSION_NEXT}"))
            })
    }
}

#[tool_router(router = memory_tools, vis = "pub(crate)")]
impl Tools {
    /// Start a memory session for a task (then memory_observe, memory_end).
    #[tool(
        title = "Start memory session",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn memory_start(
        &self,
        Parameters(p): Parameters<StartParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Started>, ToolError> {
        chars_between("content_session_id", &p.content_session_id, 500)?;
        let agent = agent_arg(p.agent_uuid.as_deref())?;
        let started = cancellable(
            &ctx.ct,
            self.client(&ctx)?
                .memory_start(p.content_session_id.trim(), agent.as_deref()),
        )
        .await?;
        Ok(Json::new(Started {
            uuid: started.uuid,
            memory_session_id: started.memory_session_id,
        }))
    }

    /// End a memory session; Plugged.in then consolidates it.
    #[tool(
        title = "End memory session",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn memory_end(
        &self,
        Parameters(p): Parameters<EndParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Ended>, ToolError> {
        let session = p.session.trim();
        if !crate::vocab::memory::is_session_ref(session) {
            return Err(ToolError::invalid(
                "session",
                format!(
                    "must be a memory_session_id (ms_…) or uuid: letters, digits, _ and -; {SESSION_NEXT}"
                ),
            ));
        }
        let ended = cancellable(&ctx.ct, self.client(&ctx)?.memory_end(session))
            .await
            .map_err(|e| ToolError::api(e, SESSION_NEXT))?;
        Ok(Json::new(Ended { uuid: ended.uuid }))
    }

    /// Record what happened, was decided or learned in a memory session.
    #[tool(
        title = "Record observation",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn memory_observe(
        &self,
        Parameters(p): Parameters<ObserveParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Observed>, ToolError> {
        chars_between("content", &p.content, MAX_CONTENT_CHARS)?;
        let session = self.session_uuid(&ctx, &p.session).await?;
        if let Some(metadata) = &p.metadata {
            let size = serde_json::to_vec(metadata).map_or(usize::MAX, |j| j.len());
            if size > limits::MEMORY_METADATA_MAX_BYTES {
                return Err(ToolError::invalid(
                    "metadata",
                    format!(
                        "is {size} bytes of JSON; at most {} (keep it to short facts such as tool_name)",
                        limits::MEMORY_METADATA_MAX_BYTES
                    ),
                ));
            }
        }
        let observation = NewObservation {
            kind: p.kind.as_str().to_string(),
            content: p.content,
            outcome: p.outcome.map(|o| o.as_str().to_string()),
            metadata: p.metadata,
        };
        let observed = cancellable(
            &ctx.ct,
            self.client(&ctx)?.memory_observe(&session, &observation),
        )
        .await
        .map_err(|e| ToolError::api(e, SESSION_NEXT))?;
        Ok(Json::new(Observed {
            uuid: observed.uuid,
            kind: observation.kind,
        }))
    }

    /// Search what was learned in all sessions, best first.
    #[tool(
        title = "Search memory",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn memory_search(
        &self,
        Parameters(p): Parameters<SearchParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Memories>, ToolError> {
        chars_between("query", &p.query, MAX_QUERY_CHARS)?;
        let top_k = p.top_k.unwrap_or(10);
        if !(1..=50).contains(&top_k) {
            return Err(ToolError::invalid("top_k", "must be between 1 and 50"));
        }
        let agent = agent_arg(p.agent_uuid.as_deref())?;
        let query = MemoryQuery {
            query: p.query,
            ring_types: p
                .ring_types
                .map(|r| r.iter().map(|t| t.as_str().to_string()).collect()),
            agent_uuid: agent,
            top_k,
            include_gut: p.include_gut,
        };
        let found = cancellable(&ctx.ct, self.client(&ctx)?.memory_search(&query)).await?;
        Ok(Json::new(Memories {
            memories: found.iter().map(memory_of).collect(),
        }))
    }

    /// Full text and history of memories from memory_search.
    #[tool(
        title = "Memory details",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn memory_details(
        &self,
        Parameters(p): Parameters<DetailsParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Details>, ToolError> {
        if p.memory_uuids.is_empty() || p.memory_uuids.len() > MAX_DETAILS {
            return Err(ToolError::invalid(
                "memory_uuids",
                format!(
                    "must list 1 to {MAX_DETAILS} uuids (got {})",
                    p.memory_uuids.len()
                ),
            ));
        }
        // Each memory once, however often it is asked for.
        let mut uuids: Vec<String> = Vec::new();
        for given in &p.memory_uuids {
            let uuid = uuid_arg("memory_uuids", given, "memory_search gives memories' uuids")?;
            if !uuids.contains(&uuid) {
                uuids.push(uuid);
            }
        }
        let found = cancellable(&ctx.ct, self.client(&ctx)?.memory_details(&uuids)).await?;
        // Held to the result budget while the answer is built, not after.
        let budget = self.budget().text_bytes();
        let mut used = 0usize;
        let mut memories = Vec::new();
        let mut omitted = Vec::new();
        for memory in found {
            let Value::Object(memory) = memory else {
                continue;
            };
            let size = serde_json::to_vec(&memory).map_or(usize::MAX, |j| j.len());
            if used.saturating_add(size) > budget {
                if let Some(uuid) = memory.get("uuid").and_then(Value::as_str) {
                    omitted.push(uuid.to_string());
                }
                continue;
            }
            used += size;
            memories.push(memory);
        }
        Ok(Json::new(Details { memories, omitted }))
    }
}
