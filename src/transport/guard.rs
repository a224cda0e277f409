//! Request guards in front of every HTTP route: `Host` and `Origin` validation against DNS
//! rebinding, the request body limit (a JSON-RPC 413, never an HTML page), the session cap,
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
use tokio::sync::Notify;

use super::jsonrpc_error;

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
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
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

/// Reads a POST body up to `limit` bytes; a bigger one gets a JSON-RPC 413.
pub async fn limit_body(State(limit): State<usize>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut seen = 0usize;
    let drain = async {
        while let Some(chunk) = stream.next().await {
            let Ok(chunk) = chunk else { return false };
            seen += chunk.len();
            if seen <= limit {
                kept.extend_from_slice(&chunk);
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
    if seen > limit {
        return jsonrpc_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            -32600,
            &format!(
                "Request body too large: the limit is {} MiB",
                limit / (1024 * 1024)
            ),
        )
        .into_response();
    }
    if !complete {
        return jsonrpc_error(
            StatusCode::BAD_REQUEST,
            -32600,
            "the request body could not be read",
        )
        .into_response();
    }
    next.run(Request::from_parts(parts, Body::from(kept))).await
}

/// Counts requests whose response is still being produced, so shutdown can wait for them.
/// Long-lived GET streams are not counted: they are closed, not waited for.
#[derive(Clone, Default)]
pub struct InFlight {
    count: Arc<AtomicUsize>,
    idle: Arc<Notify>,
}

struct Entered(InFlight);

impl Drop for Entered {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl InFlight {
    pub fn current(&self) -> usize {
        self.count.load(Ordering::Acquire)
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
    if req.method() == Method::GET {
        return next.run(req).await;
    }
    inflight.count.fetch_add(1, Ordering::AcqRel);
    let entered = Entered(inflight);
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
