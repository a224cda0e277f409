//! The HTTP transport: Streamable HTTP at `/mcp` (and `/`), legacy HTTP+SSE at `/sse` and
//! `/message`, `/health` and the server card, behind Host/Origin checks, auth, a body limit
//! and a session cap. Generic over the MCP handler, so the conformance fixture server
//! (`examples/conformance_server.rs`) runs on exactly this stack.

pub mod auth;
pub mod drain;
pub mod guard;
pub mod jsonrpc;
pub mod legacy_sse;
pub mod observe;
pub mod owners;
pub mod sessions;
pub mod stdio;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{
    Json, Router,
    body::Body,
    extract::{Request, State},
    http::{Method, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use rmcp::{
    ServerHandler,
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    },
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub use auth::AuthMode;
pub use guard::Allowed;

use legacy_sse::LegacySse;

pub use crate::listener::ConnectionLimits;

/// The largest request body ([`crate::vocab::limits::MAX_REQUEST_BODY_BYTES`]: the largest
/// document create, ordinarily escaped).
pub const DEFAULT_MAX_BODY_BYTES: usize = crate::vocab::limits::MAX_REQUEST_BODY_BYTES;

/// How to serve MCP over HTTP.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    pub bind: SocketAddr,
    /// No sessions: each request is served on its own (2026-07-28 requests always are).
    pub stateless: bool,
    pub auth: AuthMode,
    pub allowed: Allowed,
    pub max_sessions: usize,
    pub session_idle: Duration,
    pub max_body_bytes: usize,
    pub shutdown_grace: Duration,
    /// How long to keep serving after the stop signal before closing connections.
    pub drain_delay: Duration,
    /// Serve `/metrics`, and how a scraper gets to it.
    pub metrics: MetricsAccess,
    /// Session ids start with `<replica>.` ([`sessions::ReplicaSessions`]).
    pub replica_id: Option<String>,
    pub connections: ConnectionLimits,
}

impl HttpOptions {
    /// Loopback, stateful, no auth, the defaults of the CLI.
    pub fn local(bind: SocketAddr) -> Self {
        Self {
            bind,
            stateless: false,
            auth: AuthMode::None,
            allowed: Allowed::default(),
            max_sessions: 1000,
            session_idle: Duration::from_secs(1800),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            shutdown_grace: Duration::from_secs(10),
            drain_delay: Duration::ZERO,
            metrics: MetricsAccess::default(),
            replica_id: None,
            connections: ConnectionLimits {
                max_connections: ConnectionLimits::default_max_connections(),
                header_timeout: ConnectionLimits::DEFAULT_HEADER_TIMEOUT,
                idle_timeout: ConnectionLimits::DEFAULT_IDLE_TIMEOUT,
            },
        }
    }
}

/// Whether `/metrics` is served, and to whom.
#[derive(Clone, Debug, Default)]
pub struct MetricsAccess {
    pub enabled: bool,
    /// The token a scraper sends on the MCP listener (`--metrics-token-file`).
    pub token: Option<crate::secret::Secret>,
    /// A listener of its own, without authentication (`--metrics-addr`).
    pub addr: Option<SocketAddr>,
}

/// A JSON-RPC error response (what every transport-level refusal looks like).
pub fn jsonrpc_error(status: StatusCode, code: i64, message: &str) -> (StatusCode, Json<Value>) {
    (
        status,
        Json(
            json!({ "jsonrpc": "2.0", "id": null, "error": { "code": code, "message": message } }),
        ),
    )
}

/// What the session cap needs to count sessions of both transports.
/// What the session cap (and draining) needs: the sessions of both transports.
struct Sessions<S> {
    streamable: Arc<LocalSessionManager>,
    sse: LegacySse<S>,
    max: usize,
    drain: drain::Drain,
}

impl<S> Clone for Sessions<S> {
    fn clone(&self) -> Self {
        Self {
            streamable: self.streamable.clone(),
            sse: self.sse.clone(),
            max: self.max,
            drain: self.drain.clone(),
        }
    }
}

impl<S: ServerHandler + Send + 'static> Sessions<S> {
    /// Open sessions: (Streamable HTTP, legacy SSE).
    async fn by_transport(&self) -> (usize, usize) {
        (
            self.streamable.sessions.read().await.len(),
            self.sse.session_count(),
        )
    }

    async fn open(&self) -> usize {
        let (streamable, sse) = self.by_transport().await;
        streamable + sse
    }
}

fn too_many_sessions(max: usize) -> Response {
    jsonrpc_error(
        StatusCode::SERVICE_UNAVAILABLE,
        -32000,
        &format!("Too many sessions: this server allows {max} at once; close one (DELETE /mcp) or retry later"),
    )
    .into_response()
}

/// Refuses a new session (an `initialize` without a session id) when the cap is reached,
/// or while draining.
async fn cap_sessions<S: ServerHandler + Send + 'static>(
    State(sessions): State<Sessions<S>>,
    req: Request,
    next: Next,
) -> Response {
    let opens_session =
        req.method() == Method::POST && !req.headers().contains_key("mcp-session-id");
    if !opens_session {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    // The body limit layer ran first, so this is an in-memory, bounded body.
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let is_initialize = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .is_some_and(|v| v.get("method").and_then(Value::as_str) == Some("initialize"));
    if is_initialize && sessions.drain.is_draining() {
        return drain::refused();
    }
    if is_initialize && sessions.open().await >= sessions.max {
        return too_many_sessions(sessions.max);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The server card at `/.well-known/mcp.json`.
fn server_card<S: ServerHandler>(handler: &S, auth: &AuthMode) -> Value {
    let info = handler.get_info();
    let server = info.server_info.clone();
    json!({
        "name": server.name,
        "title": server.title,
        "version": server.version,
        "description": "MCP server for Plugged.in: PAP agents, documents, RAG, clipboard memory and notifications",
        "websiteUrl": server.website_url,
        "protocolVersions": handler.supported_protocol_versions().iter().map(|v| v.to_string()).collect::<Vec<_>>(),
        "capabilities": info.capabilities,
        "transports": [
            { "type": "streamable-http", "url": "/mcp" },
            { "type": "sse", "url": "/sse", "messages": "/message" }
        ],
        "endpoints": { "mcp": "/mcp", "sse": "/sse", "messages": "/message", "health": "/health" },
        "authentication": match auth {
            AuthMode::None => json!({ "required": false }),
            AuthMode::Tokens(_) => json!({ "required": true, "schemes": ["bearer"] }),
            AuthMode::Passthrough(_) => json!({ "required": true, "schemes": ["bearer"], "bearer": "your Plugged.in API key" }),
            AuthMode::OAuth(oauth) => json!({ "required": true, "schemes": ["oauth2"], "authorizationServer": oauth.issuer() }),
        },
    })
}

/// Everything needed to run and stop the HTTP server.
struct Stack {
    router: Router,
    /// Ends MCP sessions and their streams (cancelled last, after in-flight calls finish).
    sessions_ct: CancellationToken,
    /// Closes legacy SSE streams on shutdown.
    sse_ct: CancellationToken,
    inflight: guard::InFlight,
    drain: drain::Drain,
    /// The legacy SSE sessions, whose answers in flight a stop waits for.
    unanswered: Arc<dyn Fn() -> usize + Send + Sync>,
}

fn build<S>(make_server: impl Fn() -> S + Send + Sync + 'static, options: &HttpOptions) -> Stack
where
    S: ServerHandler + Send + 'static,
{
    let make_server: Arc<dyn Fn() -> S + Send + Sync> = Arc::new(make_server);
    let sessions_ct = CancellationToken::new();
    let sse_ct = CancellationToken::new();
    let mut manager = LocalSessionManager::default();
    manager.session_config.keep_alive = Some(options.session_idle);
    let manager = Arc::new(manager);
    // Host/Origin checks happen once, for every route, in `guard`; rmcp's own host check
    // would only cover /mcp and would need the same list twice.
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(!options.stateless)
        .with_json_response(options.stateless)
        .with_cancellation_token(sessions_ct.clone())
        .with_max_request_body_bytes(options.max_body_bytes)
        .disable_allowed_hosts();
    let factory = make_server.clone();
    let replica_sessions = Arc::new(sessions::ReplicaSessions::new(
        manager.clone(),
        options.replica_id.as_deref(),
    ));
    let streamable = StreamableHttpService::new(move || Ok(factory()), replica_sessions, config);
    let sse = LegacySse::new(make_server.clone(), sse_ct.clone());
    let drain = drain::Drain::default();
    let owners = owners::Owners::new(manager.clone(), options.max_sessions);
    let sessions = Sessions {
        streamable: manager,
        sse: sse.clone(),
        max: options.max_sessions,
        drain: drain.clone(),
    };
    let card = Arc::new(server_card(&make_server(), &options.auth));
    let inflight = guard::InFlight::default();
    let unanswered: Arc<dyn Fn() -> usize + Send + Sync> = {
        let sse = sse.clone();
        Arc::new(move || sse.unanswered())
    };

    let mut router = Router::new()
        .merge(service_routes(&sessions, &drain, card, options))
        .merge(legacy_sse_routes(sse, sessions.clone()))
        .merge(mcp_routes(streamable, owners, sessions));
    if let AuthMode::OAuth(oauth) = &options.auth {
        router = router.merge(crate::oauth::router(oauth.clone()));
    }
    let router = guarded(router, options, &inflight, &drain);
    Stack {
        router,
        sessions_ct,
        sse_ct,
        inflight,
        drain,
        unanswered,
    }
}

/// `/sse` and `/message`, the legacy transport; a new stream counts against the session
/// cap and is refused while draining.
fn legacy_sse_routes<S>(sse: LegacySse<S>, sessions: Sessions<S>) -> Router
where
    S: ServerHandler + Send + 'static,
{
    Router::new()
        .route("/sse", get(legacy_sse::open::<S>))
        .route("/message", post(legacy_sse::message::<S>))
        .route_layer(middleware::from_fn_with_state(
            sessions,
            |State(s): State<Sessions<S>>, req: Request, next: Next| async move {
                if req.uri().path() == "/sse" && s.drain.is_draining() {
                    return drain::refused();
                }
                if req.uri().path() == "/sse" && s.open().await >= s.max {
                    return too_many_sessions(s.max);
                }
                next.run(req).await
            },
        ))
        .with_state(sse)
}

/// `/mcp` (and `/`), Streamable HTTP: sessions bound to their owner and capped, errors
/// answered as JSON-RPC.
fn mcp_routes<S, M>(
    streamable: StreamableHttpService<S, M>,
    owners: Arc<owners::Owners>,
    sessions: Sessions<S>,
) -> Router
where
    S: ServerHandler + Send + 'static,
    M: rmcp::transport::streamable_http_server::SessionManager,
{
    Router::new()
        .route_service("/mcp", streamable.clone())
        .route_service("/", streamable)
        .layer(middleware::from_fn_with_state(owners, owners::bind))
        .layer(middleware::from_fn_with_state(sessions, cap_sessions::<S>))
        .layer(middleware::from_fn(guard::jsonrpc_errors))
        .layer(middleware::from_fn(guard::session_closed_no_content))
}

/// What operators and discovery read: `/health`, `/ready`, the server card and, when
/// enabled, `/metrics`.
fn service_routes<S>(
    sessions: &Sessions<S>,
    drain: &drain::Drain,
    card: Arc<Value>,
    options: &HttpOptions,
) -> Router
where
    S: ServerHandler + Send + 'static,
{
    let health_sessions = sessions.clone();
    let ready = drain.clone();
    let router = Router::new()
        .route(
            "/health",
            get(move || {
                let sessions = health_sessions.clone();
                async move {
                    Json(json!({
                        "status": "ok",
                        "sessions": sessions.open().await,
                        "draining": sessions.drain.is_draining(),
                    }))
                }
            }),
        )
        .route(
            "/ready",
            get(move || {
                let drain = ready.clone();
                async move { drain.readiness() }
            }),
        )
        .route(
            "/.well-known/mcp.json",
            get(move || {
                let card = card.clone();
                async move { Json((*card).clone()) }
            }),
        );
    if !options.metrics.enabled {
        return router;
    }
    let counted = sessions.clone();
    let access = options.metrics.clone();
    let auth = options.auth.clone();
    router.route(
        "/metrics",
        get(move |headers: axum::http::HeaderMap| {
            let sessions = counted.clone();
            let refused = metrics_refusal(&headers, &access, &auth);
            async move {
                match refused {
                    Some(refused) => refused,
                    None => observe::metrics_page(sessions.by_transport().await),
                }
            }
        }),
    )
}

/// The layers every route passes, outermost last: host and origin checks, request
/// logging, connection closing while draining, CORS, auth, in-flight tracking and the body
/// limits, then a JSON-RPC 404 for unknown paths.
fn guarded(
    router: Router,
    options: &HttpOptions,
    inflight: &guard::InFlight,
    drain: &drain::Drain,
) -> Router {
    let mut router = router
        .fallback(|req: Request| async move {
            jsonrpc_error(
                StatusCode::NOT_FOUND,
                -32601,
                &format!("Not found: {}; MCP is served at /mcp", req.uri().path()),
            )
        })
        .layer(middleware::from_fn_with_state(
            guard::BodyLimits::new(options.max_body_bytes, guard::BODY_MEMORY_BUDGET),
            guard::limit_body,
        ))
        .layer(middleware::from_fn_with_state(
            inflight.clone(),
            guard::track,
        ))
        .layer(middleware::from_fn_with_state(
            options.auth.clone(),
            auth::require,
        ));
    if !options.allowed.origins.is_empty() {
        router = router.layer(cors(&options.allowed.origins));
    }
    router
        .layer(middleware::from_fn_with_state(
            drain.clone(),
            drain::close_connections,
        ))
        .layer(middleware::from_fn(observe::request))
        .layer(middleware::from_fn_with_state(
            Arc::new(options.allowed.clone()),
            guard::check_host_and_origin,
        ))
}

/// Why a scrape of `/metrics` on the MCP listener is refused, if it is: it needs the
/// metrics token when one is set, else (with `--auth token`) an MCP token; a passthrough
/// client's key never opens it.
fn metrics_refusal(
    headers: &axum::http::HeaderMap,
    access: &MetricsAccess,
    auth: &AuthMode,
) -> Option<Response> {
    let presented = auth::bearer(headers);
    let allowed = match (&access.token, auth) {
        (Some(token), _) => {
            presented.is_some_and(|p| auth::accepted(std::slice::from_ref(token), p))
        }
        (None, AuthMode::None) => true,
        (None, AuthMode::Tokens(tokens)) => presented.is_some_and(|p| auth::accepted(tokens, p)),
        (None, AuthMode::Passthrough(_) | AuthMode::OAuth(_)) => false,
    };
    if allowed {
        return None;
    }
    let message = match (&access.token, auth) {
        (None, AuthMode::Passthrough(_) | AuthMode::OAuth(_)) => {
            "Unauthorized: /metrics needs its own token here (--metrics-token-file) or its own listener (--metrics-addr)"
        }
        _ => "Unauthorized: send the metrics token as `Authorization: Bearer <token>`",
    };
    Some(jsonrpc_error(StatusCode::UNAUTHORIZED, -32001, message).into_response())
}

/// `/metrics` alone, without authentication, on a listener of its own (`--metrics-addr`),
/// until `stop`.
async fn serve_metrics(addr: SocketAddr, stop: CancellationToken) -> anyhow::Result<()> {
    let listener = crate::listener::bind(addr, "give --metrics-addr another HOST:PORT").await?;
    crate::redact::log::announce(&format!(
        "pluggedin-mcp metrics on http://{}/metrics",
        listener.local_addr()?
    ));
    let router = Router::new().route(
        "/metrics",
        get(|| async { observe::metrics_page_without_sessions() }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
    });
    Ok(())
}

/// CORS for the configured browser origins only (none unless `--allowed-origins` is given).
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use axum::http::{HeaderName, HeaderValue, header};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| o.trim_end_matches('/').parse().ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(list))
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::ACCEPT,
            HeaderName::from_static("mcp-session-id"),
            HeaderName::from_static("mcp-protocol-version"),
            HeaderName::from_static("mcp-method"),
            HeaderName::from_static("mcp-name"),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([HeaderName::from_static("mcp-session-id")])
}

/// Binds, announces the address on stderr, and serves until `shutdown` resolves; then
/// drains and stops, in this order:
///
/// 1. draining: `/ready` answers 503 and requests that would open a session get a 503 with
///    `Retry-After` ([`drain`]); everything else is still served, for `--drain-delay`
///    (a balancer that polls `/ready` stops sending meanwhile);
/// 2. no new connections; open ones finish the request they are on and close;
/// 3. requests in flight finish — tool calls, answers streamed over SSE, and the answers
///    legacy SSE sessions still owe — within `--shutdown-grace`;
/// 4. SSE streams and sessions are closed, and this returns.
pub async fn serve<S>(
    make_server: impl Fn() -> S + Send + Sync + 'static,
    options: HttpOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()>
where
    S: ServerHandler + Send + 'static,
{
    let listener = bind(options.bind).await?;
    serve_on(listener, make_server, options, shutdown).await
}

/// Binds the MCP listener, saying how to pick another port when `addr` is taken.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    crate::listener::bind(
        addr,
        "pick another port with --port N (--port 0 picks a free one)",
    )
    .await
}

/// [`serve`] on a listener bound already (`options.bind` is not used): how a test runs the
/// server in its own process and learns the port before the first request.
pub async fn serve_on<S>(
    listener: tokio::net::TcpListener,
    make_server: impl Fn() -> S + Send + Sync + 'static,
    options: HttpOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()>
where
    S: ServerHandler + Send + 'static,
{
    let addr = listener.local_addr()?;
    let stack = build(make_server, &options);
    let metrics_stop = CancellationToken::new();
    if let Some(addr) = options.metrics.addr {
        serve_metrics(addr, metrics_stop.clone()).await?;
    }
    let _stop_metrics = metrics_stop.drop_guard();
    crate::redact::log::announce(&format!(
        "pluggedin-mcp listening on http://{addr}/mcp (Streamable HTTP{}), legacy SSE at /sse, auth: {}",
        if options.stateless { ", stateless" } else { "" },
        options.auth.describe()
    ));
    let stop_accepting = CancellationToken::new();
    let server = tokio::spawn(crate::listener::serve(
        listener,
        stack.router,
        options.connections.clone(),
        stop_accepting.clone(),
        // In-flight calls get the grace period, streams closed after it 2 s to end.
        options.shutdown_grace + Duration::from_secs(2),
    ));
    shutdown.await;
    stack.drain.start();
    tracing::info!(
        in_flight = stack.inflight.current(),
        drain_delay_s = options.drain_delay.as_secs_f64(),
        "draining: /ready answers 503, no new sessions"
    );
    tokio::time::sleep(options.drain_delay).await;
    stop_accepting.cancel();
    // From here a request on a kept-alive connection is refused (it would otherwise start
    // after the wait below began, and be cut off when the sessions end).
    stack.inflight.close();
    let finished = async {
        stack.inflight.wait_idle().await;
        while (stack.unanswered)() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if tokio::time::timeout(options.shutdown_grace, finished)
        .await
        .is_err()
    {
        tracing::warn!(
            in_flight = stack.inflight.current(),
            "grace period over; closing in-flight requests"
        );
    }
    stack.sse_ct.cancel();
    stack.sessions_ct.cancel();
    server.await.context("HTTP server task")?;
    Ok(())
}
