//! Request guards in front of every HTTP route: `Host` and `Origin` validation against DNS
//! rebinding, the request body limit (a JSON-RPC 413, never an HTML page) and the memory all
//! bodies being read may take together, JSON-RPC bodies on every error the MCP routes give,
//! and in-flight tracking so shutdown can let running calls finish.

use std::{
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::{Notify, Semaphore};

use super::{
    jsonrpc::{self, Frame, Rejection},
    jsonrpc_error,
};

/// Which `Host` and `Origin` values are accepted.
#[derive(Clone, Debug, Default)]
pub struct Allowed {
    /// Extra host names (`example.com` or `example.com:8443`).
    pub hosts: Vec<String>,
    /// Extra origins (`https://app.example.com`, scheme included).
    pub origins: Vec<String>,
}

fn is_loopback_name(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Splits `host[:port]` (with IPv6 brackets) into the host part.
fn host_part(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    }
}

impl Allowed {
    /// A `Host` is fine when it is a loopback name, an IP address (DNS rebinding needs a
    /// hostname the attacker controls, so a literal address cannot be one), or listed.
    pub fn host_ok(&self, authority: &str) -> bool {
        let host = host_part(authority);
        is_loopback_name(host)
            || host.parse::<IpAddr>().is_ok()
            || self
                .hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(authority) || h.eq_ignore_ascii_case(host))
    }

    /// An `Origin` is fine when it is a loopback origin or listed.
    pub fn origin_ok(&self, origin: &str) -> bool {
        let Some((_, authority)) = origin.split_once("://") else {
            return false;
        };
        is_loopback_name(host_part(authority))
            || self
                .origins
                .iter()
                .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }
}

pub async fn check_host_and_origin(
    State(allowed): State<Arc<Allowed>>,
    req: Request,
    next: Next,
) -> Response {
    // Two Host headers (or two Origins) could pass the check on one and be read as the other
    // further on: there is no honest reason to send two.
    for name in [header::HOST, header::ORIGIN] {
        if req.headers().get_all(&name).iter().count() > 1 {
            return jsonrpc_error(
                StatusCode::BAD_REQUEST,
                jsonrpc::INVALID_REQUEST,
                &format!("Bad Request: more than one {name} header"),
            )
            .into_response();
        }
    }
    let header_host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    let uri_host = req.uri().authority().map(|a| a.as_str());
    if let (Some(h), Some(u)) = (header_host, uri_host)
        && !h.eq_ignore_ascii_case(u)
    {
        return jsonrpc_error(
            StatusCode::BAD_REQUEST,
            jsonrpc::INVALID_REQUEST,
            "Bad Request: the Host header and the request target name different hosts",
        )
        .into_response();
    }
    let host = header_host.or(uri_host);
    if let Some(host) = host
        && !allowed.host_ok(host)
    {
        return jsonrpc_error(
            StatusCode::FORBIDDEN,
            -32000,
            "Forbidden: Host header is not allowed (start the server with --allowed-hosts to serve this name)",
        )
        .into_response();
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let ok = origin.to_str().is_ok_and(|o| allowed.origin_ok(o));
        if !ok {
            return jsonrpc_error(
                StatusCode::FORBIDDEN,
                -32000,
                "Forbidden: Origin is not allowed (start the server with --allowed-origins to allow it)",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// How much of an oversized body is read (and thrown away) before answering 413. A client
/// that is still uploading when the server answers and closes gets a broken pipe instead of
/// the answer; reading the rest first lets it see the 413. Beyond this, we just close.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// All request bodies read and not yet answered may take this much together: three of the
/// largest at once. A request that would pass it is answered 503 with `Retry-After` (the
/// body limit alone would let 1,000 connections hold 1,000 full bodies). A request's memory
/// is a small multiple of its body while it is served, so this bounds the memory large
/// requests can take (the README's limits give the measured worst case).
pub const BODY_MEMORY_BUDGET: usize = 3 * crate::vocab::limits::MAX_REQUEST_BODY_BYTES;

/// The body limit of one request and the memory budget all of them share.
#[derive(Clone)]
pub struct BodyLimits {
    pub max_bytes: usize,
    /// Permits are bytes of body held in memory (exactly: three bodies at the limit fit).
    budget: Arc<Semaphore>,
}

impl BodyLimits {
    pub fn new(max_bytes: usize, budget_bytes: usize) -> Self {
        Self {
            max_bytes,
            budget: Arc::new(Semaphore::new(budget_bytes.min(Semaphore::MAX_PERMITS))),
        }
    }
}

/// Reads a POST body up to the limit; a bigger one gets a JSON-RPC 413.
pub async fn limit_body(State(limits): State<BodyLimits>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let limit = limits.max_bytes;
    let (parts, body) = req.into_parts();
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut seen = 0usize;
    let mut held = Vec::new();
    let mut over_budget = false;
    let drain = async {
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else { return false };
            seen += chunk.len();
            if seen <= limit && !over_budget {
                let bytes = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
                match limits.budget.clone().try_acquire_many_owned(bytes) {
                    Ok(permit) => {
                        held.push(permit);
                        kept.extend_from_slice(&chunk);
                    }
                    Err(_) => {
                        // What was kept is let go now; the rest is read and thrown away
                        // (as for a 413) so the client sees the answer, not a reset.
                        over_budget = true;
                        kept = Vec::new();
                        held.clear();
                    }
                }
            } else if seen > DRAIN_LIMIT {
                break;
            }
        }
        true
    };
    // A client that stops sending mid-body should not hold the connection for long.
    let complete = tokio::time::timeout(std::time::Duration::from_secs(30), drain)
        .await
        .unwrap_or(false);
    if over_budget {
        let mut busy = jsonrpc_error(
            StatusCode::SERVICE_UNAVAILABLE,
            jsonrpc::SERVER_ERROR,
            "Server busy: too many large requests are being served at once; retry shortly",
        )
        .into_response();
        busy.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
        return busy;
    }
    if seen > limit {
        return jsonrpc_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            jsonrpc::INVALID_REQUEST,
            &format!(
                "Request body too large: the limit is {limit} bytes; send a longer document in parts (create_doc, then update_doc with operation append)"
            ),
        )
        .into_response();
    }
    if !complete {
        return jsonrpc_error(
            StatusCode::BAD_REQUEST,
            jsonrpc::INVALID_REQUEST,
            "the request body could not be read",
        )
        .into_response();
    }
    // The budget is held until the answer is ready: by then the body has been parsed.
    let response = next.run(Request::from_parts(parts, Body::from(kept))).await;
    drop(held);
    response
}

/// A session closed with `DELETE /mcp` is answered 204 No Content. rmcp answers 202, which
/// the MCP Python SDK (and so Pydantic AI, the OpenAI Agents SDK and LangChain's adapters,
/// all built on it) reports as "Session termination failed: 202": it expects 200 or 204.
pub async fn session_closed_no_content(req: Request, next: Next) -> Response {
    let delete = req.method() == Method::DELETE;
    let mut response = next.run(req).await;
    if delete && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
}

/// Every answer of the MCP routes is JSON-RPC. Before rmcp sees a POST: a body that is not a
/// valid message is answered here (rmcp answers 415 text), with the request's id when it can
/// be read. After: an error rmcp answers in plain text (404 unknown session, 406, 415) gets a
/// JSON-RPC body with the same status.
pub async fn jsonrpc_errors(req: Request, next: Next) -> Response {
    let mut id = Value::Null;
    let req = if req.method() == Method::POST {
        let (parts, body) = req.into_parts();
        // `limit_body` already read and bounded it.
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        // Before rmcp decodes it: the glance below decodes nothing but the envelope.
        if let Some(refused) = jsonrpc::too_many_values(&bytes) {
            return rejection(StatusCode::PAYLOAD_TOO_LARGE, refused);
        }
        // A glance at the envelope is enough for a well-formed message (rmcp decodes it
        // next; decoding it here too would hold a second copy of a large body). Only a frame
        // that fails the glance is decoded here, to say what is wrong with it.
        match jsonrpc::request_id_at_a_glance(&bytes) {
            Some(found) => id = found,
            None => match jsonrpc::classify(&bytes) {
                Frame::Message(m) => {
                    if let rmcp::model::ClientJsonRpcMessage::Request(r) = m.as_ref() {
                        id = serde_json::to_value(&r.id).unwrap_or(Value::Null);
                    }
                }
                Frame::Reject(r) => return rejection(StatusCode::BAD_REQUEST, r),
                Frame::Drop(reason) => {
                    return rejection(
                        StatusCode::BAD_REQUEST,
                        Rejection::new(Value::Null, jsonrpc::INVALID_REQUEST, reason),
                    );
                }
            },
        }
        let json = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| {
                t.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/json")
            });
        if !json {
            return rejection(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Rejection::new(
                    id,
                    jsonrpc::INVALID_REQUEST,
                    "Unsupported Media Type: send the message with Content-Type: application/json",
                ),
            );
        }
        Request::from_parts(parts, Body::from(bytes))
    } else {
        req
    };
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let code = if status == StatusCode::NOT_FOUND {
        SESSION_NOT_FOUND
    } else {
        jsonrpc::SERVER_ERROR
    };
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    let mut answer = rejection(status, Rejection::new(id, code, message));
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}

/// The code of "unknown or expired session" answers (the client should start a new one).
pub const SESSION_NOT_FOUND: i64 = -32001;

fn rejection(status: StatusCode, r: Rejection) -> Response {
    (status, axum::Json(r.to_json())).into_response()
}

/// Counts requests whose response is still being produced, so shutdown can wait for them.
/// Long-lived GET streams are not counted: they are closed, not waited for. Once closed
/// ([`InFlight::close`]) it lets no request in, so a request that arrives on a kept-alive
/// connection while shutdown waits is refused (and retried elsewhere) rather than started
/// and then cut off when the sessions end.
#[derive(Clone, Default)]
pub struct InFlight {
    /// The count, and [`CLOSED`] once closed: one atomic, so no request can be let in
    /// after the last wait began.
    count: Arc<AtomicUsize>,
    idle: Arc<Notify>,
}

const CLOSED: usize = 1 << (usize::BITS - 1);

struct Entered(InFlight);

impl Drop for Entered {
    fn drop(&mut self) {
        crate::metrics::in_flight(-1);
        if self.0.count.fetch_sub(1, Ordering::AcqRel) & !CLOSED == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Counts an open SSE stream while it lives.
struct OpenStream;

impl OpenStream {
    fn new() -> Self {
        crate::metrics::stream(1);
        Self
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        crate::metrics::stream(-1);
    }
}

fn is_event_stream(response: &Response) -> bool {
    response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
}

impl InFlight {
    pub fn current(&self) -> usize {
        self.count.load(Ordering::Acquire) & !CLOSED
    }

    /// Lets no more requests in.
    pub fn close(&self) {
        self.count.fetch_or(CLOSED, Ordering::AcqRel);
    }

    /// Counts a request in, unless closed.
    fn enter(&self) -> Option<Entered> {
        self.count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                (c & CLOSED == 0).then_some(c + 1)
            })
            .ok()?;
        crate::metrics::in_flight(1);
        Some(Entered(self.clone()))
    }

    /// Resolves when no counted request is running.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.current() == 0 {
                return;
            }
            notified.await;
        }
    }
}

pub async fn track(State(inflight): State<InFlight>, req: Request, next: Next) -> Response {
    if inflight.count.load(Ordering::Acquire) & CLOSED != 0 {
        return super::drain::stopping();
    }
    if req.method() == Method::GET {
        let resp = next.run(req).await;
        if !is_event_stream(&resp) {
            return resp;
        }
        let open = OpenStream::new();
        let (parts, body) = resp.into_parts();
        let stream = body.into_data_stream().map(move |chunk| {
            let _open = &open;
            chunk
        });
        return Response::from_parts(parts, Body::from_stream(stream));
    }
    let Some(entered) = inflight.enter() else {
        return super::drain::stopping();
    };
    let resp = next.run(req).await;
    // A streamed (SSE) answer is still running after the headers are sent: keep the
    // request counted until its body is finished or dropped.
    let (parts, body) = resp.into_parts();
    let stream = body.into_data_stream().map(move |chunk| {
        let _still_running = &entered;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn once_closed_no_request_gets_in_and_the_wait_covers_those_that_did() {
        let inflight = InFlight::default();
        let running = inflight.enter().unwrap();
        inflight.close();
        assert!(inflight.enter().is_none());
        assert_eq!(inflight.current(), 1);
        let waited = tokio::spawn({
            let inflight = inflight.clone();
            async move { inflight.wait_idle().await }
        });
        tokio::task::yield_now().await;
        assert!(!waited.is_finished());
        drop(running);
        waited.await.unwrap();
        assert_eq!(inflight.current(), 0);
    }

    #[test]
    fn hosts() {
        let a = Allowed {
            hosts: vec!["mcp.example.com".into()],
            origins: vec![],
        };
        for ok in [
            "localhost:8081",
            "127.0.0.1:1",
            "[::1]:8081",
            "10.0.0.5:8081",
            "mcp.example.com",
            "MCP.example.com:443",
        ] {
            assert!(a.host_ok(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8081",
            "localhost.evil.example",
        ] {
            assert!(!a.host_ok(bad), "{bad}");
        }
    }

    #[test]
    fn origins() {
        let a = Allowed {
            hosts: vec![],
            origins: vec!["https://app.example.com".into()],
        };
        for ok in [
            "http://localhost:6274",
            "http://127.0.0.1",
            "https://app.example.com",
        ] {
            assert!(a.origin_ok(ok), "{ok}");
        }
        for bad in [
            "http://evil.example",
            "null",
            "https://app.example.com.evil.example",
            "https://10.0.0.5",
        ] {
            assert!(!a.origin_ok(bad), "{bad}");
        }
    }
}
