//! The HTTP+SSE transport of MCP 2024-11-05, for older clients: `GET /sse` opens a stream
//! whose first event (`endpoint`) says where to POST, then `POST /message?sessionId=…`
//! carries each client message. rmcp 3 dropped this transport; this shim puts axum in front
//! of rmcp's generic sink/stream transport, one server per SSE connection.
//!
//! Everything a session holds is bounded: its answers wait in a queue of at most
//! [`OUTBOUND_MAX_MESSAGES`] messages and [`OUTBOUND_MAX_BYTES`] (one message may be larger
//! when the queue is empty); a client that falls further behind — one that never reads its
//! stream — is disconnected and its session closed. Messages waiting for the server and
//! requests in flight are bounded too ([`jsonrpc::PendingRequests`]).

use std::{
    collections::HashMap,
    convert::Infallible,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
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
use futures::{Sink, Stream, StreamExt};
use rmcp::{
    ServerHandler, ServiceExt,
    model::{ClientJsonRpcMessage, GetExtensions, ServerJsonRpcMessage},
};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    guard::SESSION_NOT_FOUND,
    jsonrpc::{self, Frame, PendingRequests, Rejection},
    jsonrpc_error,
};

/// Answers waiting to be streamed to one client.
pub const OUTBOUND_MAX_MESSAGES: usize = 64;
/// Bytes of answers waiting for one client.
pub const OUTBOUND_MAX_BYTES: usize = 16 * 1024 * 1024;
/// Client messages waiting for the session's server.
const INBOUND_CAPACITY: usize = 64;

/// How `POST /message` reaches one session.
#[derive(Clone)]
struct SessionHandle {
    to_server: mpsc::Sender<ClientJsonRpcMessage>,
    outbound: Outbound,
    gate: PendingRequests,
    /// A fingerprint of the bearer that opened it: messages with another are not its.
    owner: Option<String>,
}

type Sessions = Arc<Mutex<HashMap<String, SessionHandle>>>;

/// Open SSE sessions and how to make a server for a new one.
pub struct LegacySse<S> {
    sessions: Sessions,
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

/// Removes a session when its SSE stream is dropped (client gone, too far behind, or server
/// stopping), which closes the server's input and ends it.
struct SessionGuard {
    id: String,
    sessions: Sessions,
    outbound: Outbound,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        lock(&self.sessions).remove(&self.id);
        self.outbound.closed.cancel();
        tracing::debug!(session = %self.id, "legacy SSE session closed");
    }
}

fn lock(s: &Sessions) -> std::sync::MutexGuard<'_, HashMap<String, SessionHandle>> {
    // The map holds handles only; a panic elsewhere cannot leave it inconsistent.
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// The bounded queue of serialized answers to one client. Pushing never waits: a full queue
/// means the client stopped reading, so the session is closed instead.
#[derive(Clone)]
struct Outbound {
    tx: mpsc::Sender<String>,
    queued_bytes: Arc<AtomicUsize>,
    /// Cancelled when the session ends for any reason (the stream stops on it).
    closed: CancellationToken,
    /// Closes the SSE connection itself: a stream stuck writing to a client that stopped
    /// reading is never polled again, so it cannot end on its own.
    connection: Option<crate::listener::ConnectionAbort>,
}

impl Outbound {
    fn push(&self, text: String) -> Result<(), ()> {
        let size = text.len();
        let queued = self.queued_bytes.load(Ordering::Acquire);
        if queued > 0 && queued + size > OUTBOUND_MAX_BYTES {
            return self.lagging();
        }
        self.queued_bytes.fetch_add(size, Ordering::AcqRel);
        match self.tx.try_send(text) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.queued_bytes.fetch_sub(size, Ordering::AcqRel);
                self.lagging()
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.queued_bytes.fetch_sub(size, Ordering::AcqRel);
                Err(())
            }
        }
    }

    fn lagging(&self) -> Result<(), ()> {
        if !self.closed.is_cancelled() {
            tracing::warn!(
                "legacy SSE client stopped reading its stream ({OUTBOUND_MAX_MESSAGES} messages or {OUTBOUND_MAX_BYTES} bytes waiting); closing its session"
            );
            self.closed.cancel();
            if let Some(connection) = &self.connection {
                connection.abort();
            }
        }
        Err(())
    }
}

/// What the session's rmcp server writes to.
struct OutboundSink {
    outbound: Outbound,
    gate: PendingRequests,
}

impl Sink<ServerJsonRpcMessage> for OutboundSink {
    type Error = std::io::Error;

    fn poll_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, item: ServerJsonRpcMessage) -> Result<(), Self::Error> {
        self.gate.answered(&item);
        let text = serde_json::to_string(&item).map_err(std::io::Error::other)?;
        self.outbound
            .push(text)
            .map_err(|()| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "session closed"))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
}

/// What the session's rmcp server reads from; ends when the session closes.
struct InboundStream {
    rx: mpsc::Receiver<ClientJsonRpcMessage>,
    closed: Pin<Box<tokio_util::sync::WaitForCancellationFutureOwned>>,
}

impl Stream for InboundStream {
    type Item = ClientJsonRpcMessage;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.closed.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        self.rx.poll_recv(cx)
    }
}

impl<S: ServerHandler + Send + 'static> LegacySse<S> {
    pub fn new(make_server: Arc<dyn Fn() -> S + Send + Sync>, shutdown: CancellationToken) -> Self {
        Self {
            sessions: Arc::default(),
            make_server,
            shutdown,
        }
    }

    /// Requests of every session not yet answered (their answers go out on the streams,
    /// so a stop waits for them before closing the streams).
    pub fn unanswered(&self) -> usize {
        lock(&self.sessions).values().map(|s| s.gate.len()).sum()
    }

    pub fn session_count(&self) -> usize {
        lock(&self.sessions).len()
    }

    /// `GET /sse`: starts a session and streams its server messages.
    pub fn open(
        &self,
        connection: Option<crate::listener::ConnectionAbort>,
        owner: Option<String>,
    ) -> Response {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (tx, from_server) = mpsc::channel::<String>(OUTBOUND_MAX_MESSAGES);
        let (to_server, from_client) = mpsc::channel::<ClientJsonRpcMessage>(INBOUND_CAPACITY);
        let outbound = Outbound {
            tx,
            queued_bytes: Arc::default(),
            closed: CancellationToken::new(),
            connection,
        };
        let gate = PendingRequests::default();
        lock(&self.sessions).insert(
            id.clone(),
            SessionHandle {
                to_server,
                outbound: outbound.clone(),
                gate: gate.clone(),
                owner,
            },
        );
        let server = (self.make_server)();
        let session = id.clone();
        let sink = OutboundSink {
            outbound: outbound.clone(),
            gate,
        };
        let stream = InboundStream {
            rx: from_client,
            closed: Box::pin(outbound.closed.clone().cancelled_owned()),
        };
        tokio::spawn(async move {
            // `serve` returns once the client's initialize has been answered.
            match server.serve((sink, stream)).await {
                Ok(running) => {
                    let _ = running.waiting().await;
                }
                Err(error) => {
                    tracing::debug!(%session, %error, "legacy SSE session ended before initialize")
                }
            }
        });
        // However the session ends, it stops taking messages at once.
        let sessions = self.sessions.clone();
        let (ended, session) = (outbound.closed.clone(), id.clone());
        tokio::spawn(async move {
            ended.cancelled().await;
            lock(&sessions).remove(&session);
        });
        tracing::debug!(session = %id, "legacy SSE session opened");
        let guard = SessionGuard {
            id: id.clone(),
            sessions: self.sessions.clone(),
            outbound: outbound.clone(),
        };
        Sse::new(events(
            id,
            from_server,
            guard,
            outbound,
            self.shutdown.clone(),
        ))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
    }

    /// `POST /message?sessionId=…`: hands one client message to its session.
    pub fn deliver(&self, session_id: &str, request: Request<()>, body: &Bytes) -> Response {
        let Some(session) = lock(&self.sessions).get(session_id).cloned() else {
            return session_not_found();
        };
        if session.owner != super::owners::owner_of(request.headers()) {
            return session_not_found();
        }
        if session.outbound.closed.is_cancelled() {
            return session_not_found();
        }
        let mut message = match jsonrpc::classify(body) {
            Frame::Message(m) => *m,
            // The client waits for this id on its stream: answer it there.
            Frame::Reject(r) if !r.id.is_null() => {
                return match session.outbound.push(r.to_json().to_string()) {
                    Ok(()) => StatusCode::ACCEPTED.into_response(),
                    Err(()) => session_not_found(),
                };
            }
            Frame::Reject(r) => return rejection(StatusCode::BAD_REQUEST, r),
            Frame::Drop(reason) => {
                return rejection(
                    StatusCode::BAD_REQUEST,
                    Rejection::new(serde_json::Value::Null, jsonrpc::INVALID_REQUEST, reason),
                );
            }
        };
        if let Err(refused) = session.gate.admit(&message) {
            return rejection(StatusCode::TOO_MANY_REQUESTS, refused);
        }
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
        match session.to_server.try_send(message) {
            Ok(()) => StatusCode::ACCEPTED.into_response(),
            Err(mpsc::error::TrySendError::Full(message)) => {
                session.gate.forget(&message);
                jsonrpc_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    jsonrpc::SERVER_ERROR,
                    "Session busy: it has too many messages waiting; retry shortly",
                )
                .into_response()
            }
            Err(mpsc::error::TrySendError::Closed(message)) => {
                session.gate.forget(&message);
                session_not_found()
            }
        }
    }
}

fn rejection(status: StatusCode, r: Rejection) -> Response {
    (status, axum::Json(r.to_json())).into_response()
}

fn session_not_found() -> Response {
    jsonrpc_error(
        StatusCode::NOT_FOUND,
        SESSION_NOT_FOUND,
        "Session not found: open a new one with GET /sse",
    )
    .into_response()
}

fn events(
    id: String,
    from_server: mpsc::Receiver<String>,
    guard: SessionGuard,
    outbound: Outbound,
    shutdown: CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> {
    // Relative, so it resolves correctly behind a reverse proxy that adds a path prefix.
    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("message?sessionId={id}"));
    let queued = outbound.queued_bytes.clone();
    let messages = futures::stream::unfold(from_server, |mut rx| async move {
        rx.recv().await.map(|m| (m, rx))
    })
    .map(move |text| {
        let _session = &guard;
        queued.fetch_sub(text.len(), Ordering::AcqRel);
        Event::default().event("message").data(text)
    });
    let closed = outbound.closed.clone();
    futures::stream::once(async move { endpoint })
        .chain(messages)
        .take_until(async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = closed.cancelled() => {}
            }
        })
        .map(Ok)
}

#[derive(Deserialize)]
pub struct SessionQuery {
    #[serde(rename = "sessionId")]
    pub session_id: Option<String>,
}

pub async fn open<S: ServerHandler + Send + 'static>(
    State(sse): State<LegacySse<S>>,
    connection: Option<axum::Extension<crate::listener::ConnectionAbort>>,
    headers: axum::http::HeaderMap,
) -> Response {
    sse.open(
        connection.map(|axum::Extension(c)| c),
        super::owners::owner_of(&headers),
    )
}

pub async fn message<S: ServerHandler + Send + 'static>(
    State(sse): State<LegacySse<S>>,
    Query(q): Query<SessionQuery>,
    request: Request,
) -> Response {
    let Some(id) = q.session_id else {
        return jsonrpc_error(
            StatusCode::BAD_REQUEST,
            jsonrpc::INVALID_REQUEST,
            "sessionId query parameter is required",
        )
        .into_response();
    };
    let (parts, body) = request.into_parts();
    // The body limit layer has already bounded the body.
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return jsonrpc_error(
            StatusCode::BAD_REQUEST,
            jsonrpc::PARSE_ERROR,
            "could not read the request body",
        )
        .into_response();
    };
    sse.deliver(&id, Request::from_parts(parts, ()), &bytes)
}
