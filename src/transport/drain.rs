//! Draining before a stop (SIGTERM), so a balancer can take a replica out without a client
//! noticing: from the signal on `/ready` answers 503 (`/health`, liveness, stays 200) and
//! requests that would open a session — an `initialize`, a legacy `GET /sse` — are refused
//! with a 503 and `Retry-After`, which a balancer retries on another replica. Sessions that
//! are open keep being served, and requests in flight finish, each answer saying
//! `Connection: close` so a proxy does not keep reusing the connection (a request it sent
//! on a connection being closed would be lost); see [`super::serve`] for the order in which
//! the server then stops.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;

#[derive(Clone, Default)]
pub struct Drain(Arc<AtomicBool>);

impl Drain {
    pub fn start(&self) {
        self.0.store(true, Ordering::Release);
        crate::metrics::set_draining(true);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// `GET /ready`: whether this replica takes new work.
    pub fn readiness(&self) -> Response {
        if self.is_draining() {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "draining" })),
            )
                .into_response()
        } else {
            Json(json!({ "status": "ready" })).into_response()
        }
    }
}

/// The answer to a request that would open a session while draining.
pub fn refused() -> Response {
    let mut response = super::jsonrpc_error(
        StatusCode::SERVICE_UNAVAILABLE,
        -32000,
        "This server is shutting down and opens no new sessions; retry on another replica",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// A request that came after this server stopped taking requests (on a connection it
/// kept alive): it did not run, so a balancer may send it to another replica (nginx
/// retries a 503), and the client may retry it.
pub fn stopping() -> Response {
    let mut response = super::jsonrpc_error(
        StatusCode::SERVICE_UNAVAILABLE,
        -32000,
        "This server is stopping; the request did not run: retry it (on another replica)",
    )
    .into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// While draining, every answer closes its connection.
pub async fn close_connections(State(drain): State<Drain>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    if drain.is_draining() {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
