//! The embedded Plugged.in-compatible API: the same paths, casing, status codes and error
//! bodies as Plugged.in (the recorded answers in `tests/fixtures/cloud/` hold it to them;
//! where it deliberately differs is listed in the README and in
//! `tests/contract/deviations.rs`), over SQLite.
//!
//! It serves three uses: local mode (started in-process on a loopback port with a random
//! key), the standalone dev server (`pluggedin-mcp api`), and the test backend.

pub mod agents;
pub mod cli_auth;
pub mod clipboard;
pub mod documents;
mod fts;
pub mod http;
pub mod mcp_servers;
pub mod memory;
pub mod notifications;
pub mod rag;
pub mod store;
pub mod tool_cache;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{Router, extract::DefaultBodyLimit, middleware};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{clock::Clock, secret::Secret};
pub use store::Store;

/// How to run the embedded API.
#[derive(Clone, Debug)]
pub struct LocalConfig {
    pub data_dir: PathBuf,
    /// The key clients must present; `None` makes a random one.
    pub key: Option<Secret>,
    pub bind: SocketAddr,
    /// Agents a profile may create, counting terminated ones like the cloud (their names stay
    /// taken).
    pub agent_quota: u32,
    /// Chunks joined into a RAG answer (the cloud's `RAG_SEARCH_TOP_K`).
    pub rag_top_k: usize,
    /// How often the zombie sweep and the clipboard purge run.
    pub maintenance_interval: Duration,
    pub clock: Clock,
    /// How often a signing-in tool is told to poll (the cloud's 5 s; tests use less).
    pub cli_auth_interval: Duration,
    /// Stand in for the containers local mode does not run: ACTIVE agents get heartbeats
    /// while this API runs (see [`agents::keep_agents_alive`]). The MCP server's local mode
    /// sets it; `pluggedin-mcp api` and the tests keep PAP's exact rules.
    pub keep_agents_alive: bool,
}

impl LocalConfig {
    /// Loopback on an ephemeral port, random key, cloud defaults.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            key: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            agent_quota: 10,
            rag_top_k: 5,
            maintenance_interval: Duration::from_secs(5),
            clock: Clock::default(),
            cli_auth_interval: Duration::from_secs(5),
            keep_agents_alive: false,
        }
    }
}

/// Settings the routes read.
pub struct Settings {
    pub agent_quota: u32,
    pub rag_top_k: usize,
    /// Origins accepted by the document PATCH CSRF gate besides the cloud's own.
    pub own_origins: Vec<String>,
}

/// What every route handler gets.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    /// The browser sign-in for command-line tools.
    pub cli_auth: Arc<cli_auth::CliAuth>,
}

/// Every route of the embedded API, with auth on each and JSON answers for unknown paths
/// and methods.
pub fn router(state: AppState, key: &Secret) -> Router {
    // The sign-in routes are how a tool gets the key: they cannot ask for it.
    let open = cli_auth::routes();
    Router::new()
        .merge(agents::routes())
        .merge(documents::routes())
        .merge(rag::routes())
        .merge(clipboard::routes())
        .merge(notifications::routes())
        .merge(mcp_servers::routes())
        .merge(tool_cache::routes())
        .merge(memory::routes())
        .route_layer(middleware::from_fn_with_state(
            http::ApiKey(key.expose().into()),
            http::require_bearer,
        ))
        .merge(open)
        .fallback(http::not_found)
        .method_not_allowed_fallback(http::method_not_allowed)
        // Our `Body` extractor enforces the real limit with a JSON 413.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// A running embedded API.
pub struct LocalApi {
    base_url: String,
    key: Secret,
    store: Store,
    shutdown: CancellationToken,
    server: Option<JoinHandle<()>>,
}

impl LocalApi {
    /// Opens the database, binds, and serves until [`LocalApi::stop`] (or the process ends).
    pub async fn start(config: LocalConfig) -> anyhow::Result<Self> {
        let store = Store::open(&config.data_dir, config.clock.clone())?;
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("binding the embedded API to {}", config.bind))?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let mut own_origins = vec![base_url.clone()];
        if addr.ip().is_loopback() {
            own_origins.push(format!("http://localhost:{}", addr.port()));
        }
        let key = config.key.clone().unwrap_or_else(Secret::generate_api_key);
        let state = AppState {
            store: store.clone(),
            cli_auth: cli_auth::CliAuth::new(key.clone(), config.cli_auth_interval),
            settings: Arc::new(Settings {
                agent_quota: config.agent_quota,
                rag_top_k: config.rag_top_k.max(1),
                own_origins,
            }),
        };
        let app = router(state, &key);
        let shutdown = CancellationToken::new();
        spawn_maintenance(
            store.clone(),
            config.maintenance_interval,
            config.keep_agents_alive,
            shutdown.clone(),
        );
        let limits = crate::listener::ConnectionLimits {
            max_connections: crate::listener::ConnectionLimits::default_max_connections(),
            header_timeout: crate::listener::ConnectionLimits::DEFAULT_HEADER_TIMEOUT,
            idle_timeout: crate::listener::ConnectionLimits::DEFAULT_IDLE_TIMEOUT,
        };
        let server = tokio::spawn(crate::listener::serve(
            listener,
            app,
            limits,
            shutdown.clone(),
            // In-flight requests get this long to finish once stopped.
            Duration::from_secs(10),
        ));
        tracing::debug!(%base_url, data = %store.path.display(), "embedded Plugged.in API listening");
        Ok(Self {
            base_url,
            key,
            store,
            shutdown,
            server: Some(server),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn key(&self) -> &Secret {
        &self.key
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stops accepting, lets in-flight requests finish, and returns when the server is done.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for LocalApi {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Runs the zombie sweep and the clipboard expiry purge on a timer.
fn spawn_maintenance(store: Store, every: Duration, keep_alive: bool, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            if keep_alive && let Err(e) = agents::keep_agents_alive(&store).await {
                tracing::warn!("keeping local agents alive: {}", e.message());
            }
            if let Ok(report) = agents::sweep_zombies(&store).await
                && (!report.unhealthy.is_empty() || !report.drained.is_empty())
            {
                tracing::info!(unhealthy = ?report.unhealthy, drained = ?report.drained, "zombie sweep");
            }
            let now = store.clock.now_iso();
            let _ = store
                .write(move |tx| clipboard::purge_expired(tx, &now))
                .await;
        }
    });
}

/// `$XDG_DATA_HOME/pluggedin-mcp`, or `~/.local/share/pluggedin-mcp`: where local data
/// lives unless `--data-dir` says otherwise.
pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("pluggedin-mcp"));
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .context("neither XDG_DATA_HOME nor HOME is set; pass --data-dir")?;
    Ok(PathBuf::from(home).join(".local/share/pluggedin-mcp"))
}
