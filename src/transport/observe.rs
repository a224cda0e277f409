//! What an operator sees of the HTTP server: each request's id (the client's
//! `X-Request-Id` when sane, else a new one; echoed on the answer, carried to the handler and
//! from there to every upstream request and log line of the call), its count and latency
//! by route and status, and the `/metrics` page (`--metrics`).

use std::time::Instant;

use axum::{
    extract::Request,
    http::{HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::request_id::{self, RequestId};

/// A path as a metric label: one of the routes served, or `other`.
pub fn route_label(path: &str) -> &'static str {
    match path {
        "/mcp" => "/mcp",
        "/" => "/",
        "/sse" => "/sse",
        "/message" => "/message",
        "/health" => "/health",
        "/ready" => "/ready",
        "/metrics" => "/metrics",
        "/.well-known/mcp.json" => "/.well-known/mcp.json",
        _ => "other",
    }
}

/// Gives the request its id and counts it.
pub async fn request(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route_label(req.uri().path());
    let id = req
        .headers()
        .get(request_id::HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(request_id::accept)
        .unwrap_or_else(request_id::generate);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(req).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(request_id::HEADER, value);
    }
    crate::metrics::http_request(route, response.status().as_u16(), started.elapsed());
    response
}

/// `GET /metrics` on the metrics listener (the session gauges are those of the last scrape of
/// the MCP listener's, or none).
pub fn metrics_page_without_sessions() -> Response {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        crate::metrics::render(),
    )
        .into_response()
}

/// `GET /metrics`: every metric in the OpenMetrics text format.
pub fn metrics_page(sessions: (usize, usize)) -> Response {
    crate::metrics::set_sessions("streamable_http", sessions.0);
    crate::metrics::set_sessions("sse", sessions.1);
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        crate::metrics::render(),
    )
        .into_response()
}
