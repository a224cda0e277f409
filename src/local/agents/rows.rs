//! Agent rows: reading them (columns by name), their JSON shapes, their telemetry and
//! events, and [`transition`], the one way every lifecycle action changes an agent.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Map, Value, json};

use crate::{
    local::{
        http::{ErrorResponse, HttpResult},
        store::json_column,
    },
    vocab::{agents::AgentState, keys},
};

/// Who the local user is in `metadata.triggered_by` and similar fields.
pub const LOCAL_USER: &str = "local-user";

pub const AGENT_COLUMNS: &str = "uuid, name, template_uuid, access_level, state, heartbeat_mode, \
    deployment_status, kubernetes_namespace, kubernetes_deployment, created_at, provisioned_at, \
    activated_at, terminated_at, last_heartbeat_at, metadata, config_values";

pub struct Agent {
    pub uuid: String,
    pub name: String,
    pub template_uuid: Option<String>,
    pub access_level: String,
    /// As stored; always one of [`AgentState`]'s names.
    pub state: String,
    pub heartbeat_mode: String,
    pub deployment_status: String,
    pub kubernetes_namespace: Option<String>,
    pub kubernetes_deployment: Option<String>,
    pub created_at: String,
    pub provisioned_at: Option<String>,
    pub activated_at: Option<String>,
    pub terminated_at: Option<String>,
    pub last_heartbeat_at: Option<String>,
    pub metadata: Map<String, Value>,
    pub config_values: Value,
}

impl Agent {
    pub fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        let metadata = match json_column(r.get("metadata")?) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        Ok(Self {
            uuid: r.get("uuid")?,
            name: r.get("name")?,
            template_uuid: r.get("template_uuid")?,
            access_level: r.get("access_level")?,
            state: r.get("state")?,
            heartbeat_mode: r.get("heartbeat_mode")?,
            deployment_status: r.get("deployment_status")?,
            kubernetes_namespace: r.get("kubernetes_namespace")?,
            kubernetes_deployment: r.get("kubernetes_deployment")?,
            created_at: r.get("created_at")?,
            provisioned_at: r.get("provisioned_at")?,
            activated_at: r.get("activated_at")?,
            terminated_at: r.get("terminated_at")?,
            last_heartbeat_at: r.get("last_heartbeat_at")?,
            metadata,
            config_values: json_column(r.get("config_values")?),
        })
    }

    /// The stored state as the typed name (an unreadable one counts as NEW, the start).
    pub fn state(&self) -> AgentState {
        AgentState::parse(&self.state).unwrap_or(AgentState::New)
    }

    /// The element shape of `GET /api/agents` (a subset of the columns).
    pub fn list_json(&self) -> Value {
        json!({
            "uuid": self.uuid, "name": self.name, "dns_name": self.name, "state": self.state,
            "access_level": self.access_level, "template_uuid": self.template_uuid,
            "heartbeat_mode": self.heartbeat_mode, "deployment_status": self.deployment_status,
            "kubernetes_namespace": self.kubernetes_namespace,
            "kubernetes_deployment": self.kubernetes_deployment,
            "created_at": self.created_at, "provisioned_at": self.provisioned_at,
            "activated_at": self.activated_at, "terminated_at": self.terminated_at,
            "last_heartbeat_at": self.last_heartbeat_at, "metadata": self.metadata,
        })
    }

    /// The full row as `GET /api/agents/{id}` serializes it: the list shape plus the profile,
    /// the model-router columns (always empty here) and `config_values`.
    pub fn full_json(&self, profile_uuid: &str) -> Value {
        let mut v = self.list_json();
        let extra = json!({
            "profile_uuid": profile_uuid,
            "model_router_service_uuid": null, "model_router_token": null,
            "model_router_token_issued_at": null, "model_router_token_revoked": false,
            "config_values": self.config_values,
        });
        if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
            m.extend(e);
        }
        v
    }

    pub fn is_suspended(&self) -> bool {
        self.metadata.get(keys::INTENTIONALLY_SUSPENDED) == Some(&Value::Bool(true))
    }
}

pub fn load(conn: &Connection, uuid: &str) -> HttpResult<Agent> {
    conn.query_row(
        &format!("SELECT {AGENT_COLUMNS} FROM agents WHERE uuid = ?1"),
        [uuid],
        Agent::from_row,
    )
    .optional()?
    .ok_or_else(|| ErrorResponse::not_found("Agent not found"))
}

pub fn save_metadata(
    conn: &Connection,
    uuid: &str,
    metadata: &Map<String, Value>,
) -> HttpResult<()> {
    conn.execute(
        "UPDATE agents SET metadata = ?2 WHERE uuid = ?1",
        params![uuid, Value::Object(metadata.clone()).to_string()],
    )?;
    Ok(())
}

pub fn log_event(
    conn: &Connection,
    uuid: &str,
    event_type: &str,
    from: Option<&str>,
    to: &str,
    metadata: Value,
    now: &str,
) -> HttpResult<()> {
    conn.execute(
        "INSERT INTO agent_events (agent_uuid, event_type, from_state, to_state, metadata, timestamp) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![uuid, event_type, from, to, metadata.to_string(), now],
    )?;
    Ok(())
}

/// What a lifecycle action does once its guard has passed: the event it records, the state
/// it moves to (if any), whether it forgets the last heartbeat (a restarted agent must beat
/// again), and the event's details.
pub struct Step {
    pub event: &'static str,
    pub to: Option<AgentState>,
    pub forget_heartbeat: bool,
    pub details: Value,
}

impl Step {
    /// An event that leaves the state as it is.
    pub fn record(event: &'static str, details: Value) -> Self {
        Self {
            event,
            to: None,
            forget_heartbeat: false,
            details,
        }
    }

    /// An event that moves the agent to `to`.
    pub fn enter(event: &'static str, to: AgentState, details: Value) -> Self {
        Self {
            event,
            to: Some(to),
            forget_heartbeat: false,
            details,
        }
    }
}

/// The agent before and after a [`transition`].
pub struct Transitioned {
    pub before: AgentState,
    pub after: Agent,
}

/// The one path of every lifecycle action, inside the caller's transaction: load the agent,
/// let `action` check its guard and change metadata (its error ends the action before
/// anything is written), save the metadata, move the state and stamp the state's timestamp
/// column (`provisioned_at`, `activated_at`, `terminated_at`: when it last entered that
/// state), and record the event.
pub fn transition(
    conn: &Connection,
    uuid: &str,
    now: &str,
    action: impl FnOnce(&mut Agent) -> HttpResult<Step>,
) -> HttpResult<Transitioned> {
    let mut agent = load(conn, uuid)?;
    let before = agent.state();
    let metadata_before = agent.metadata.clone();
    let step = action(&mut agent)?;
    if agent.metadata != metadata_before {
        save_metadata(conn, uuid, &agent.metadata)?;
    }
    let to = step.to.unwrap_or(before);
    if let Some(new) = step.to {
        conn.execute(
            "UPDATE agents SET state = ?2 WHERE uuid = ?1",
            params![uuid, new.as_str()],
        )?;
        let stamp = match new {
            AgentState::Provisioned => Some("provisioned_at"),
            AgentState::Active => Some("activated_at"),
            AgentState::Terminated | AgentState::Killed => Some("terminated_at"),
            AgentState::New | AgentState::Draining => None,
        };
        if let Some(column) = stamp {
            conn.execute(
                &format!("UPDATE agents SET {column} = ?2 WHERE uuid = ?1"),
                params![uuid, now],
            )?;
        }
    }
    if step.forget_heartbeat {
        conn.execute(
            "UPDATE agents SET last_heartbeat_at = NULL WHERE uuid = ?1",
            [uuid],
        )?;
    }
    log_event(
        conn,
        uuid,
        step.event,
        Some(before.as_str()),
        to.as_str(),
        step.details,
        now,
    )?;
    Ok(Transitioned {
        before,
        after: load(conn, uuid)?,
    })
}

fn rows_json(conn: &Connection, sql: &str, uuid: &str, limit: i64) -> HttpResult<Vec<Value>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![uuid, limit], |r| {
        let n = r.as_ref().column_count();
        let mut m = Map::new();
        for i in 0..n {
            let name = r.as_ref().column_name(i)?.to_string();
            let v = match r.get_ref(i)? {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(n) if name == "id" => json!(n.to_string()),
                rusqlite::types::ValueRef::Integer(n) => json!(n),
                rusqlite::types::ValueRef::Real(f) => json!(f),
                rusqlite::types::ValueRef::Text(t) => {
                    let s = String::from_utf8_lossy(t).into_owned();
                    if name == "metadata" || name == "custom_metrics" {
                        json_column(Some(s))
                    } else {
                        Value::String(s)
                    }
                }
                rusqlite::types::ValueRef::Blob(_) => Value::Null,
            };
            m.insert(name, v);
        }
        Ok(Value::Object(m))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The newest heartbeats, metrics and events of an agent, as the API serializes them.
pub fn recent_heartbeats(conn: &Connection, uuid: &str, limit: i64) -> HttpResult<Vec<Value>> {
    rows_json(
        conn,
        "SELECT id, agent_uuid, mode, uptime_seconds, timestamp FROM agent_heartbeats \
         WHERE agent_uuid = ?1 ORDER BY id DESC LIMIT ?2",
        uuid,
        limit,
    )
}

pub fn recent_metrics(conn: &Connection, uuid: &str, limit: i64) -> HttpResult<Vec<Value>> {
    rows_json(
        conn,
        "SELECT id, agent_uuid, cpu_percent, memory_mb, requests_handled, custom_metrics, timestamp \
         FROM agent_metrics WHERE agent_uuid = ?1 ORDER BY id DESC LIMIT ?2",
        uuid,
        limit,
    )
}

pub fn recent_events(conn: &Connection, uuid: &str, limit: i64) -> HttpResult<Vec<Value>> {
    rows_json(
        conn,
        "SELECT id, agent_uuid, event_type, from_state, to_state, metadata, timestamp \
         FROM agent_events WHERE agent_uuid = ?1 ORDER BY id DESC LIMIT ?2",
        uuid,
        limit,
    )
}

/// `{"triggered_by": <who>}` plus `extra`'s fields: the details of an event.
pub fn by(who: &str, extra: Value) -> Value {
    let mut details = json!({ keys::event::TRIGGERED_BY: who });
    if let (Value::Object(m), Value::Object(e)) = (&mut details, extra) {
        m.extend(e);
    }
    details
}
