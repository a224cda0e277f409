//! The HTTP+SSE transport of MCP 2024-11-05, for older clients: `GET /sse` opens a stream
//! whose first event (`endpoint`) says where to POST, then `POST /message?sessionId=…`
//! carries each client message. rmcp 3 dropped this transport; this shim puts axum in front
//! of rmcp's generic sink/stream transport, one server per SSE connection.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    body::Bytes,
    extract::{Query, Request, State},
    http::StatusCode,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::{Stream, StreamExt, channel::mpsc};
use rmcp::{
    ServerHandler, ServiceExt,
    model::{ClientJsonRpcMessage, GetExtensions, ServerJsonRpcMessage},
};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::jsonrpc_error;

type Senders = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<ClientJsonRpcMessage>>>>;

/// Open SSE sessions and how to make a server for a new one.
pub struct LegacySse<S> {
    sessions: Senders,
    make_server: Arc<dyn Fn() -> S + Send + Sync>,
    shutdown: CancellationToken,
}

impl<S> Clone for LegacySse<S> {
    fn clone(&self) -> Self {
        Self {
            sessions: self.sessions.clone(),
            make_server: self.make_server.clone(),
            shutdown: self.shutdown.clone(),
        }
    }
}

/// Removes a session when its SSE stream is dropped (client gone or server stopping),
/// which closes the server's input and ends it.
struct SessionGuard {
    id: String,
    sessions: Senders,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        lock(&self.sessions).remove(&self.id);
        tracing::debug!(session = %self.id, "legacy SSE session closed");
    }
}

fn lock(
    s: &Senders,
) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::UnboundedSender<ClientJsonRpcMessage>>> {
    // The map holds senders only; a panic elsewhere cannot leave it inconsistent.
    s.lock().unwrap_or_else(|p| p.into_inner())
}

impl<S: ServerHandler + Send + 'static> LegacySse<S> {
    pub fn new(make_server: Arc<dyn Fn() -> S + Send + Sync>, shutdown: CancellationToken) -> Self {
        Self {
            sessions: Arc::default(),
            make_server,
            shutdown,
        }
    }

    pub fn session_count(&self) -> usize {
        lock(&self.sessions).len()
    }

    /// `GET /sse`: starts a session and streams its server messages.
    pub fn open(&self) -> Response {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (to_client, from_server) = mpsc::unbounded::<ServerJsonRpcMessage>();
        let (to_server, from_client) = mpsc::unbounded::<ClientJsonRpcMessage>();
        lock(&self.sessions).insert(id.clone(), to_server);
        let server = (self.make_server)();
        let session = id.clone();
        tokio::spawn(async move {
            // `serve` returns once the client's initialize has been answered.
            match server.serve((to_client, from_client)).await {
                Ok(running) => {
                    let _ = running.waiting().await;
                }
                Err(error) => {
                    tracing::debug!(%session, %error, "legacy SSE session ended before initialize")
                }
            }
        });
        tracing::debug!(session = %id, "legacy SSE session opened");
        let guard = SessionGuard {
            id: id.clone(),
            sessions: self.sessions.clone(),
        };
        Sse::new(events(id, from_server, guard, self.shutdown.clone()))
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
            .into_response()
    }

    /// `POST /message?sessionId=…`: hands one client message to its session.
    pub fn deliver(&self, session_id: &str, request: Request<()>, body: &Bytes) -> Response {
        let Some(sender) = lock(&self.sessions).get(session_id).cloned() else {
            return session_not_found();
        };
        let mut message: ClientJsonRpcMessage = match serde_json::from_slice(body) {
            Ok(m) => m,
            Err(e) => {
                return jsonrpc_error(
                    StatusCode::BAD_REQUEST,
                    -32700,
                    &format!("Parse error: {e}"),
                )
                .into_response();
            }
        };
        // Like rmcp's Streamable HTTP service, give handlers the HTTP request (headers for
        // `--auth passthrough`).
        let (parts, ()) = request.into_parts();
        match &mut message {
            ClientJsonRpcMessage::Request(r) => {
                r.request.extensions_mut().insert(parts);
            }
            ClientJsonRpcMessage::Notification(n) => {
                n.notification.extensions_mut().insert(parts);
            }
            _ => {}
        }
        match sender.unbounded_send(message) {
            Ok(()) => StatusCode::ACCEPTED.into_response(),
            Err(_) => session_not_found(),
        }
    }
}

fn session_not_found() -> Response {
    jsonrpc_error(
        StatusCode::NOT_FOUND,
        -32001,
        "Session not found: open a new one with GET /sse",
    )
    .into_response()
}

fn events(
    id: String,
    from_server: mpsc::UnboundedReceiver<ServerJsonRpcMessage>,
    guard: SessionGuard,
    shutdown: CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> {
    // Relative, so it resolves correctly behind a reverse proxy that adds a path prefix.
    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("message?sessionId={id}"));
    let messages = from_server.map(move |msg| {
        let _session = &guard;
        let data = serde_json::to_string(&msg).unwrap_or_default();
        Event::default().event("message").data(data)
    });
    futures::stream::once(async move { endpoint })
        .chain(messages)
        .take_until(shutdown.cancelled_owned())
        .map(Ok)
}

#[derive(Deserialize)]
pub struct SessionQuery {
    #[serde(rename = "sessionId")]
    pub session_id: Option<String>,
}

pub async fn open<S: ServerHandler + Send + 'static>(State(sse): State<LegacySse<S>>) -> Response {
    sse.open()
}

pub async fn message<S: ServerHandler + Send + 'static>(
    State(sse): State<LegacySse<S>>,
    Query(q): Query<SessionQuery>,
    request: Request,
) -> Response {
    let Some(id) = q.session_id else {
        return jsonrpc_error(
            StatusCode::BAD_REQUEST,
            -32600,
            "sessionId query parameter is required",
        )
        .into_response();
    };
    let (parts, body) = request.into_parts();
    // The body limit layer has already bounded the body.
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return jsonrpc_error(
            StatusCode::BAD_REQUEST,
            -32700,
            "could not read the request body",
        )
        .into_response();
    };
    sse.deliver(&id, Request::from_parts(parts, ()), &bytes)
}
