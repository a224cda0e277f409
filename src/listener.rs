//! Accepting HTTP connections for both servers (MCP over HTTP and the embedded API), with
//! the limits axum's own `serve` lacks: a cap on open
//! connections (a connection over it gets a JSON 503 that says so, then is closed), a
//! header-read timeout (a half-sent request cannot hold its connection), an idle keep-alive
//! timeout, TCP_NODELAY, and graceful shutdown.
//!
//! Time limits are kept per connection by a watchdog that knows whether a request is in
//! flight: a long tool call or an open SSE stream is never cut, only silence between
//! requests and slowness before a request's head is complete.

use std::{
    convert::Infallible,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use axum::{Router, body::Body, response::Response};
use futures::FutureExt;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto::Builder,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::Semaphore,
    time::Instant,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;

/// Per-connection limits.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// Connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// From a connection's first byte (or its opening) to a complete request head.
    pub header_timeout: Duration,
    /// A connection with nothing in flight is closed after this long.
    pub idle_timeout: Duration,
}

impl ConnectionLimits {
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    /// Longer than nginx's upstream keep-alive (60 s), so a proxy in front closes first.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(75);
    /// File descriptors kept back from the connection cap (database, upstream connections,
    /// child processes, logs).
    const RESERVED_FDS: u64 = 256;
    const MAX_DEFAULT_CONNECTIONS: u64 = 10_000;

    /// The default cap: as many connections as the process's file limit allows, less a
    /// reserve, and at most 10,000.
    pub fn default_max_connections() -> usize {
        let (soft, _) = rlimit::Resource::NOFILE.get().unwrap_or((1024, 1024));
        soft.saturating_sub(Self::RESERVED_FDS)
            .clamp(16, Self::MAX_DEFAULT_CONNECTIONS) as usize
    }
}

/// Raises the soft limit on open files to the hard limit (a server's connections are file
/// descriptors; many systems start processes at 1024). Returns the new soft limit.
pub fn raise_file_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::debug!(%error, "cannot raise the open-file limit");
            rlimit::Resource::NOFILE
                .get()
                .map_or(1024, |(soft, _)| soft)
        }
    }
}

/// Lets a handler close the connection its request came on, at once, even while the
/// connection is stuck writing to a client that stopped reading (a streaming answer cannot
/// end itself then: its body is never polled again). Every request carries one.
#[derive(Clone, Debug, Default)]
pub struct ConnectionAbort(CancellationToken);

impl ConnectionAbort {
    pub fn abort(&self) {
        self.0.cancel();
    }
}

/// What the watchdog knows about one connection.
struct Activity {
    state: Mutex<ActivityState>,
}

struct ActivityState {
    in_flight: usize,
    /// When the current request head began (first byte, or the connection's opening).
    head_since: Option<Instant>,
    /// When the connection last became idle.
    idle_since: Instant,
}

enum Verdict {
    Fine,
    /// Idle too long: close gracefully.
    Idle,
    /// A request head took too long: drop the connection.
    SlowHead,
}

impl Activity {
    fn new() -> Arc<Self> {
        let now = Instant::now();
        Arc::new(Self {
            state: Mutex::new(ActivityState {
                in_flight: 0,
                head_since: Some(now),
                idle_since: now,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bytes_arrived(&self) {
        let mut s = self.lock();
        if s.in_flight == 0 && s.head_since.is_none() {
            s.head_since = Some(Instant::now());
        }
    }

    fn request_started(&self) {
        let mut s = self.lock();
        s.in_flight += 1;
        s.head_since = None;
    }

    fn request_finished(&self) {
        let mut s = self.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        if s.in_flight == 0 {
            s.idle_since = Instant::now();
        }
    }

    fn verdict(&self, limits: &ConnectionLimits, now: Instant) -> Verdict {
        let s = self.lock();
        if s.in_flight > 0 {
            return Verdict::Fine;
        }
        match s.head_since {
            Some(t) if now.saturating_duration_since(t) > limits.header_timeout => {
                Verdict::SlowHead
            }
            Some(_) => Verdict::Fine,
            None if now.saturating_duration_since(s.idle_since) > limits.idle_timeout => {
                Verdict::Idle
            }
            None => Verdict::Fine,
        }
    }
}

/// The TCP stream, noting when bytes arrive.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_arrived();
        }
        poll
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Marks the request finished when its response body ends or is dropped.
struct Finished(Arc<Activity>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// Serves `router` on `listener` until `stop` is cancelled, then lets each connection finish
/// its current request; returns once every connection is closed, or `drain` after `stop`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
    drain: Duration,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let tracker = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    // Out of file descriptors, say: back off instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracker.spawn(refuse(stream, limits.max_connections));
            continue;
        };
        let router = router.clone();
        let limits = limits.clone();
        let stop = stop.clone();
        tracker.spawn(async move {
            let _slot = slot;
            serve_connection(stream, peer, router, &limits, stop).await;
        });
    }
    drop(listener);
    tracker.close();
    tokio::select! {
        _ = tracker.wait() => {}
        _ = tokio::time::sleep(drain) => tracing::warn!(open = tracker.len(), "connections still open after shutdown; closing them"),
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: &ConnectionLimits,
    stop: CancellationToken,
) {
    if let Err(error) = stream.set_nodelay(true) {
        // Answers are written in pieces (an SSE priming event, then the message); with
        // Nagle on, the second waits ~40 ms for the client's delayed ACK.
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
    let activity = Activity::new();
    let abort = ConnectionAbort::default();
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let service_activity = activity.clone();
    let service_abort = abort.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let activity = service_activity.clone();
        let mut req = req.map(Body::new);
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        req.extensions_mut().insert(service_abort.clone());
        activity.request_started();
        let done = Finished(activity);
        router.clone().oneshot(req).map(move |resp| {
            let resp: Response = match resp {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            let (parts, body) = resp.into_parts();
            use http_body_util::BodyExt;
            let body = body.map_frame(move |frame| {
                let _still_running = &done;
                frame
            });
            Ok::<_, Infallible>(Response::from_parts(parts, Body::new(body)))
        })
    });
    let builder = Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(conn);
    let mut tick = tokio::time::interval(Duration::from_millis(500).min(limits.header_timeout));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::trace!(%error, "connection ended");
                }
                return;
            }
            _ = stop.cancelled(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = abort.0.cancelled() => {
                tracing::debug!(%peer, "a handler closed its connection");
                return;
            }
            _ = tick.tick() => match activity.verdict(limits, Instant::now()) {
                Verdict::Fine => {}
                Verdict::Idle if !closing => {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
                Verdict::Idle => {}
                Verdict::SlowHead => {
                    tracing::debug!(%peer, "closing a connection whose request head did not arrive in time");
                    return;
                }
            },
        }
    }
}

/// Answers a connection over the cap with a JSON-RPC 503 and closes it.
async fn refuse(mut stream: TcpStream, max: usize) {
    let body = serde_json::to_vec(&serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {
            "code": -32000,
            "message": format!("Too many connections: this server accepts {max} at once; retry shortly"),
        },
    }))
    .unwrap_or_default();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body).await?;
        stream.shutdown().await?;
        // Read what the client already sent, so closing does not reset the connection
        // before it has read the answer.
        let mut sink = [0u8; 4096];
        let mut total = 0;
        while total < 64 * 1024 {
            match tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await? {
                0 => break,
                n => total += n,
            }
        }
        Ok::<_, std::io::Error>(())
    })
    .await;
}

/// The address a request comes from: the peer's, or — when the peer is a proxy on this
/// machine (loopback, as nginx in `deploy/`) — the last address in `X-Forwarded-For`, the
/// one that proxy saw (earlier entries are the client's own say and are not trusted).
pub fn client_address(
    peer: Option<std::net::IpAddr>,
    headers: &axum::http::HeaderMap,
) -> Option<std::net::IpAddr> {
    let peer = peer?;
    if !peer.is_loopback() {
        return Some(peer);
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .last()
        .and_then(|last| last.trim().parse().ok());
    Some(forwarded.unwrap_or(peer))
}

/// Binds `addr`; an address already taken is said with the next step: stop what listens
/// there, or `another` (how to choose another address).
pub async fn bind(addr: SocketAddr, another: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|error| {
        if error.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!(
                "{addr} is already in use (another pluggedin-mcp, or another program, listens there): stop it, or {another}"
            )
        } else {
            anyhow::Error::new(error).context(format!("binding {addr}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_tells_slow_heads_from_idle_connections() {
        let limits = ConnectionLimits {
            max_connections: 1,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        };
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let a = Activity::new();
        assert!(matches!(a.verdict(&limits, at(0)), Verdict::Fine));
        assert!(matches!(a.verdict(&limits, at(11)), Verdict::SlowHead));
        a.request_started();
        assert!(
            matches!(a.verdict(&limits, at(600)), Verdict::Fine),
            "a long request is never cut"
        );
        a.request_finished();
        let done = Instant::now();
        assert!(matches!(
            a.verdict(&limits, done + Duration::from_secs(30)),
            Verdict::Fine
        ));
        assert!(matches!(
            a.verdict(&limits, done + Duration::from_secs(61)),
            Verdict::Idle
        ));
        a.bytes_arrived();
        assert!(matches!(a.verdict(&limits, Instant::now()), Verdict::Fine));
    }
}
