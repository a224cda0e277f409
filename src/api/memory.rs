//! Memory calls (`/api/memory/…`). Every answer is `{success, data}`; a `success: false`
//! answered with 200 (ending a session that already ended) is a conflict here. Search
//! results and details are camelCase; sessions are snake_case rows. Kept as JSON where the
//! tools pass fields through.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Client, Request};

#[derive(Debug, Deserialize)]
struct Envelope<T> {
    #[serde(default)]
    success: bool,
    data: Option<T>,
    #[serde(default)]
    error: Option<String>,
}

impl<T> Envelope<T> {
    fn into_data(self) -> Result<T, ApiError> {
        match (self.success, self.data) {
            (true, Some(data)) => Ok(data),
            _ => Err(ApiError::Conflict {
                message: self
                    .error
                    .unwrap_or_else(|| "Plugged.in did not complete the memory request".into()),
            }),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartedSession {
    pub uuid: String,
    pub memory_session_id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Uuid {
    pub uuid: String,
}

/// What a memory search may be narrowed by.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MemoryQuery {
    pub query: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ring_types: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_uuid: Option<String>,
    pub top_k: u8,
    pub include_gut: bool,
}

/// One observation to record.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewObservation {
    #[serde(rename = "type")]
    pub kind: String,
    pub content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, Value>>,
}

impl Client {
    pub async fn memory_start(
        &self,
        content_session_id: &str,
        agent_uuid: Option<&str>,
    ) -> Result<StartedSession, ApiError> {
        let mut body = json!({ "content_session_id": content_session_id });
        if let Some(agent) = agent_uuid {
            body["agent_uuid"] = json!(agent);
        }
        self.json::<Envelope<StartedSession>>(Request::post(&["api", "memory", "sessions"], body))
            .await?
            .into_data()
    }

    /// Ends a session, by its uuid or its `ms_…` id.
    pub async fn memory_end(&self, session: &str) -> Result<Uuid, ApiError> {
        self.json::<Envelope<Uuid>>(Request::patch(
            &["api", "memory", "sessions", session],
            json!({ "action": "end" }),
        ))
        .await?
        .into_data()
    }

    /// A session as Plugged.in keeps it (a snake_case row).
    pub async fn memory_session(&self, session: &str) -> Result<Value, ApiError> {
        self.json::<Envelope<Value>>(Request::get(&["api", "memory", "sessions", session]))
            .await?
            .into_data()
    }

    pub async fn memory_observe(
        &self,
        session_uuid: &str,
        observation: &NewObservation,
    ) -> Result<Uuid, ApiError> {
        self.json::<Envelope<Uuid>>(Request::post(
            &["api", "memory", "sessions", session_uuid, "observations"],
            observation,
        ))
        .await?
        .into_data()
    }

    /// The session's observations, oldest first.
    pub async fn memory_observations(&self, session_uuid: &str) -> Result<Vec<Value>, ApiError> {
        self.json::<Envelope<Vec<Value>>>(Request::get(&[
            "api",
            "memory",
            "sessions",
            session_uuid,
            "observations",
        ]))
        .await?
        .into_data()
    }

    pub async fn memory_search(&self, query: &MemoryQuery) -> Result<Vec<Value>, ApiError> {
        self.json::<Envelope<Vec<Value>>>(Request::post(&["api", "memory", "search"], query))
            .await?
            .into_data()
    }

    pub async fn memory_details(&self, uuids: &[String]) -> Result<Vec<Value>, ApiError> {
        self.json::<Envelope<Vec<Value>>>(Request::post(
            &["api", "memory", "search", "details"],
            json!({ "memory_uuids": uuids }),
        ))
        .await?
        .into_data()
    }
}
