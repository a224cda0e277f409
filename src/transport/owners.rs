//! Streamable HTTP sessions belong to the bearer that opened them: a request on a session
//! with another bearer (another user's key in passthrough mode, another token) is answered
//! as if the session did not exist — it cannot use it, close it, or learn that it exists.
//! Only a fingerprint of the bearer is kept. Legacy SSE sessions keep their owner themselves
//! ([`super::legacy_sse`]).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    extract::{Request, State},
    http::{HeaderMap, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

/// The owner of a request: a fingerprint of its bearer, if it has one.
pub fn owner_of(headers: &HeaderMap) -> Option<String> {
    super::auth::bearer(headers).map(crate::text::sha256_hex)
}

/// Who opened each session.
pub struct Owners {
    by_session: Mutex<HashMap<String, String>>,
    sessions: Arc<LocalSessionManager>,
    /// Past this many entries, those of sessions that are gone are dropped.
    prune_above: usize,
}

impl Owners {
    pub fn new(sessions: Arc<LocalSessionManager>, max_sessions: usize) -> Arc<Self> {
        Arc::new(Self {
            by_session: Mutex::default(),
            sessions,
            prune_above: max_sessions.saturating_mul(2).max(64),
        })
    }

    fn owner(&self, session: &str) -> Option<String> {
        lock(&self.by_session).get(session).cloned()
    }

    async fn record(&self, session: String, owner: String) {
        let full = lock(&self.by_session).len() >= self.prune_above;
        if full {
            let open: std::collections::HashSet<String> = self
                .sessions
                .sessions
                .read()
                .await
                .keys()
                .map(|id| id.to_string())
                .collect();
            lock(&self.by_session).retain(|id, _| open.contains(id));
        }
        lock(&self.by_session).insert(session, owner);
    }

    fn forget(&self, session: &str) {
        lock(&self.by_session).remove(session);
    }

    async fn exists(&self, session: &str) -> bool {
        self.sessions.sessions.read().await.contains_key(session)
    }
}

/// The session an MCP request names, if it names one.
fn session_of(req: &Request) -> Option<String> {
    req.headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Session not found").into_response()
}

/// Records who opens a session; answers a request on someone else's session — and a
/// `DELETE` of a session that does not exist — as rmcp answers an unknown session.
pub async fn bind(State(owners): State<Arc<Owners>>, req: Request, next: Next) -> Response {
    let owner = owner_of(req.headers());
    let Some(session) = session_of(&req) else {
        let resp = next.run(req).await;
        if let (Some(opened), Some(owner)) = (
            resp.headers()
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok()),
            owner,
        ) {
            owners.record(opened.to_string(), owner).await;
        }
        return resp;
    };
    if owners.owner(&session).is_some_and(|o| Some(o) != owner) {
        return not_found();
    }
    let delete = req.method() == Method::DELETE;
    if delete && !owners.exists(&session).await {
        return not_found();
    }
    let resp = next.run(req).await;
    if delete && resp.status().is_success() {
        owners.forget(&session);
    }
    resp
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
