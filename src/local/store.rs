//! The embedded API's SQLite database: file permissions, WAL mode, schema migrations, and
//! the async gateway every route uses to run a read or a one-transaction write.

use std::{
    fs::{DirBuilder, OpenOptions},
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use anyhow::Context;
use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::http::{ErrorResponse, HttpResult};
use crate::clock::Clock;

/// Schema migrations, applied in order on start; `PRAGMA user_version` records how many ran.
/// Append new steps; never edit a released one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE agents (
    seq INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    template_uuid TEXT,
    access_level TEXT NOT NULL DEFAULT 'PRIVATE',
    state TEXT NOT NULL,
    heartbeat_mode TEXT NOT NULL DEFAULT 'IDLE',
    deployment_status TEXT NOT NULL DEFAULT 'PENDING',
    kubernetes_namespace TEXT,
    kubernetes_deployment TEXT,
    created_at TEXT NOT NULL,
    provisioned_at TEXT,
    activated_at TEXT,
    terminated_at TEXT,
    last_heartbeat_at TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    config_values TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX agents_state ON agents(state);
CREATE TABLE agent_heartbeats (
    id INTEGER PRIMARY KEY,
    agent_uuid TEXT NOT NULL REFERENCES agents(uuid),
    mode TEXT NOT NULL,
    uptime_seconds INTEGER NOT NULL,
    timestamp TEXT NOT NULL
);
CREATE INDEX agent_heartbeats_agent ON agent_heartbeats(agent_uuid, id);
CREATE TABLE agent_metrics (
    id INTEGER PRIMARY KEY,
    agent_uuid TEXT NOT NULL REFERENCES agents(uuid),
    cpu_percent INTEGER NOT NULL,
    memory_mb INTEGER NOT NULL,
    requests_handled INTEGER NOT NULL,
    custom_metrics TEXT NOT NULL DEFAULT '{}',
    timestamp TEXT NOT NULL
);
CREATE INDEX agent_metrics_agent ON agent_metrics(agent_uuid, id);
CREATE TABLE agent_events (
    id INTEGER PRIMARY KEY,
    agent_uuid TEXT NOT NULL REFERENCES agents(uuid),
    event_type TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    timestamp TEXT NOT NULL
);
CREATE INDEX agent_events_agent ON agent_events(agent_uuid, id);

CREATE TABLE documents (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    description TEXT,
    file_name TEXT NOT NULL,
    file_size INTEGER NOT NULL,
    mime_type TEXT NOT NULL,
    category TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    source TEXT NOT NULL,
    visibility TEXT NOT NULL,
    version INTEGER NOT NULL,
    content TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    ai_metadata TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX documents_created ON documents(created_at);
CREATE VIRTUAL TABLE documents_fts USING fts5(
    title, description, content,
    content='documents', content_rowid='seq', tokenize='porter unicode61'
);
CREATE TRIGGER documents_fts_insert AFTER INSERT ON documents BEGIN
    INSERT INTO documents_fts(rowid, title, description, content)
    VALUES (new.seq, new.title, new.description, new.content);
END;
CREATE TRIGGER documents_fts_delete AFTER DELETE ON documents BEGIN
    INSERT INTO documents_fts(documents_fts, rowid, title, description, content)
    VALUES ('delete', old.seq, old.title, old.description, old.content);
END;
CREATE TRIGGER documents_fts_update AFTER UPDATE ON documents BEGIN
    INSERT INTO documents_fts(documents_fts, rowid, title, description, content)
    VALUES ('delete', old.seq, old.title, old.description, old.content);
    INSERT INTO documents_fts(rowid, title, description, content)
    VALUES (new.seq, new.title, new.description, new.content);
END;
CREATE TABLE document_versions (
    id TEXT PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents(id),
    version_number INTEGER NOT NULL,
    content TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by_model TEXT NOT NULL DEFAULT '{}',
    change_summary TEXT,
    content_diff TEXT NOT NULL DEFAULT '{}',
    UNIQUE (document_id, version_number)
);
CREATE TABLE model_attributions (
    id INTEGER PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents(id),
    model_name TEXT NOT NULL,
    model_provider TEXT NOT NULL,
    contribution_type TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX model_attributions_doc ON model_attributions(document_id);
CREATE TABLE document_chunks (
    id INTEGER PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents(id),
    chunk_index INTEGER NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX document_chunks_doc ON document_chunks(document_id);
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    title, text, content='document_chunks', content_rowid='id', tokenize='porter unicode61'
);
CREATE TRIGGER chunks_fts_insert AFTER INSERT ON document_chunks BEGIN
    INSERT INTO chunks_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON document_chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
END;

CREATE TABLE clipboard (
    seq INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT UNIQUE,
    idx INTEGER UNIQUE,
    value TEXT NOT NULL,
    content_type TEXT NOT NULL,
    encoding TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    visibility TEXT NOT NULL,
    created_by_tool TEXT,
    created_by_model TEXT,
    source TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    expires_at TEXT,
    CHECK ((name IS NULL) <> (idx IS NULL))
);
CREATE INDEX clipboard_created ON clipboard(created_at);
CREATE INDEX clipboard_expires ON clipboard(expires_at);

CREATE TABLE notifications (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    title TEXT NOT NULL,
    message TEXT NOT NULL,
    read INTEGER NOT NULL DEFAULT 0,
    link TEXT,
    severity TEXT,
    completed INTEGER NOT NULL DEFAULT 0,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    expires_at TEXT
);
"#,
    r#"
CREATE TABLE mcp_servers (
    seq INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    type TEXT NOT NULL,
    command TEXT,
    args TEXT,
    env TEXT,
    url TEXT,
    streamable_http_options TEXT,
    slug TEXT,
    status TEXT NOT NULL,
    custom_instructions TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE mcp_activity (
    seq INTEGER PRIMARY KEY,
    action TEXT NOT NULL,
    server_name TEXT NOT NULL,
    server_uuid TEXT,
    item_name TEXT,
    success INTEGER NOT NULL,
    error_message TEXT,
    execution_time_ms REAL,
    created_at TEXT NOT NULL
);
"#,
    r#"
CREATE TABLE mcp_tools (
    mcp_server_uuid TEXT NOT NULL REFERENCES mcp_servers(uuid) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    tool_schema TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (mcp_server_uuid, name)
);
"#,
    r#"
CREATE TABLE memory_sessions (
    seq INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    memory_session_id TEXT NOT NULL UNIQUE,
    content_session_id TEXT NOT NULL,
    agent_uuid TEXT,
    status TEXT NOT NULL,
    observation_count INTEGER NOT NULL DEFAULT 0,
    total_tokens INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE TABLE memory_observations (
    seq INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    session_uuid TEXT NOT NULL REFERENCES memory_sessions(uuid),
    agent_uuid TEXT,
    observation_type TEXT NOT NULL,
    content TEXT NOT NULL,
    outcome TEXT,
    metadata TEXT,
    token_count INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX memory_observations_session ON memory_observations(session_uuid, seq);
CREATE TABLE memory_ring (
    seq INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    agent_uuid TEXT,
    ring_type TEXT NOT NULL,
    content_full TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{}',
    source_session_uuid TEXT,
    source_observation_uuid TEXT,
    token_count INTEGER NOT NULL,
    access_count INTEGER NOT NULL DEFAULT 0,
    success_score REAL,
    is_shock INTEGER NOT NULL DEFAULT 0,
    last_accessed_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE VIRTUAL TABLE memory_ring_fts USING fts5(
    content_full, tags,
    content='memory_ring', content_rowid='seq', tokenize='porter unicode61'
);
CREATE TRIGGER memory_ring_fts_insert AFTER INSERT ON memory_ring BEGIN
    INSERT INTO memory_ring_fts(rowid, content_full, tags) VALUES (new.seq, new.content_full, new.tags);
END;
CREATE TRIGGER memory_ring_fts_delete AFTER DELETE ON memory_ring BEGIN
    INSERT INTO memory_ring_fts(memory_ring_fts, rowid, content_full, tags)
    VALUES ('delete', old.seq, old.content_full, old.tags);
END;
CREATE TRIGGER memory_ring_fts_update AFTER UPDATE OF content_full, tags ON memory_ring BEGIN
    INSERT INTO memory_ring_fts(memory_ring_fts, rowid, content_full, tags)
    VALUES ('delete', old.seq, old.content_full, old.tags);
    INSERT INTO memory_ring_fts(rowid, content_full, tags) VALUES (new.seq, new.content_full, new.tags);
END;
"#,
];

/// The database behind the embedded API.
///
/// One connection behind a mutex: SQLite has a single writer anyway, the queries take
/// microseconds, and serializing on one connection makes "every write is one transaction,
/// concurrent requests never interleave" true by construction. Work runs on the blocking
/// pool so the async runtime never waits on disk.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    pub clock: Clock,
    /// The single local profile all data belongs to (on Plugged.in every key resolves to one
    /// profile too: its project's active one).
    pub profile_uuid: Arc<str>,
    pub path: Arc<PathBuf>,
}

impl Store {
    /// Opens (creating if needed) `dir/pluggedin.db`. A directory we create gets mode 0700
    /// and the database file 0600; SQLite gives its -wal/-shm files the database's mode.
    pub fn open(dir: &Path, clock: Clock) -> anyhow::Result<Self> {
        if !dir.exists() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("creating data directory {}", dir.display()))?;
        }
        let path = dir.join("pluggedin.db");
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("creating database file {}", path.display()))?;
        let mut conn = Connection::open(&path)
            .with_context(|| format!("opening database {}", path.display()))?;
        // First, so that every step below waits for another process starting on the same
        // directory at the same moment (replicas of a fleet) instead of failing.
        conn.busy_timeout(OPEN_WAIT)?;
        let profile_uuid = retry_while_busy(|| {
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            migrate(&mut conn)
        })
        .context("preparing the database (WAL mode, schema migrations)")?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            clock,
            profile_uuid: profile_uuid.into(),
            path: Arc::new(path),
        })
    }

    /// Runs `f` with the connection (for reads and multi-statement work that manages its
    /// own transaction).
    pub async fn read<T, F>(&self, f: F) -> HttpResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> HttpResult<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a half-written transaction (the
            // transaction rolls back on drop), so a poisoned connection is still usable.
            let guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&guard)
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "embedded API task failed");
            ErrorResponse::internal()
        })?
    }

    /// Runs `f` inside one `BEGIN IMMEDIATE` transaction, committed only when `f` succeeds.
    pub async fn write<T, F>(&self, f: F) -> HttpResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> HttpResult<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            let tx = guard.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "embedded API task failed");
            ErrorResponse::internal()
        })?
    }
}

/// How long opening the database waits for other processes opening it at the same moment.
const OPEN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs `step` again while the database is busy, up to [`OPEN_WAIT`]. The busy timeout
/// covers most waits, but SQLite answers some at once without calling it — switching to
/// WAL while another process is doing the same, reading a WAL index being rebuilt — so
/// replicas starting together on a fresh directory would otherwise fail one in a few
/// hundred starts.
fn retry_while_busy<T>(mut step: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(5);
    loop {
        match step() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && started.elapsed() < OPEN_WAIT =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

/// Brings the schema up to date and returns the profile's uuid (made on first start), in one
/// `BEGIN IMMEDIATE` transaction: of processes starting together on a fresh directory, one
/// migrates and the others wait for it, then find nothing left to do.
fn migrate(conn: &mut Connection) -> rusqlite::Result<String> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let applied: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, step) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", i + 1)?;
    }
    tx.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('profile_uuid', ?1)",
        [uuid::Uuid::new_v4().to_string()],
    )?;
    let uuid: String = tx.query_row(
        "SELECT value FROM meta WHERE key = 'profile_uuid'",
        [],
        |r| r.get(0),
    )?;
    tx.commit()?;
    Ok(uuid)
}

/// Reads a JSON text column; a corrupt value reads as `{}` rather than failing the request.
pub fn json_column(text: Option<String>) -> serde_json::Value {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| serde_json::Value::Object(Default::default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_busy_database_is_tried_again_and_other_errors_are_not() {
        let busy = || {
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                None,
            )
        };
        let mut tries = 0;
        let got = retry_while_busy(|| {
            tries += 1;
            if tries < 3 { Err(busy()) } else { Ok(tries) }
        });
        assert_eq!(got.unwrap(), 3);
        let mut tries = 0;
        let got: rusqlite::Result<()> = retry_while_busy(|| {
            tries += 1;
            Err(rusqlite::Error::InvalidQuery)
        });
        assert!(got.is_err());
        assert_eq!(tries, 1);
    }

    #[test]
    fn creates_private_dir_and_file_and_keeps_the_profile() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let first = Store::open(&dir, Clock::default()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("pluggedin.db")), 0o600);
        let profile = first.profile_uuid.clone();
        drop(first);
        let again = Store::open(&dir, Clock::default()).unwrap();
        assert_eq!(again.profile_uuid, profile);
    }

    #[tokio::test]
    async fn a_failed_write_rolls_back() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), Clock::default()).unwrap();
        let r: HttpResult<()> = store
            .write(|tx| {
                tx.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')", [])?;
                Err(ErrorResponse::bad_request("nope"))
            })
            .await;
        assert!(r.is_err());
        let n: i64 = store
            .read(|c| Ok(c.query_row("SELECT count(*) FROM meta WHERE key='x'", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(n, 0);
    }
}
