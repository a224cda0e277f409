//! Running the MCP server: pick the backend (Plugged.in or the embedded API), build the
//! server, and serve it over stdio or HTTP.

use std::{net::SocketAddr, sync::Arc};

mod hub;

use anyhow::{Context, bail};
use rmcp::ServiceExt;

use crate::{
    api::Client,
    clock::Clock,
    config::{ApiArgs, AuthChoice, Environment, HttpArgs, Mode, ServeArgs, Transport},
    local::{LocalApi, LocalConfig},
    secret::Secret,
    server::{HubAccess, PluggedinServer, ServerOptions},
    tools::{Backend, ToolOptions, UpstreamKey},
    transport::{Allowed, AuthMode, HttpOptions},
};

/// The server and, in local mode, the embedded API it talks to (kept alive with it).
pub struct Running {
    pub server: PluggedinServer,
    pub local: Option<LocalApi>,
    /// With `--auth passthrough`: what Plugged.in says of each client's key.
    pub key_checks: Option<Arc<crate::api::keys::KeyChecks>>,
}

/// Resolves the mode (with the key from `env`, else a stored sign-in) and builds the
/// server; starts the embedded API in local mode. `clock` is the time the tools and the
/// embedded API share (tests move it).
pub async fn build(args: &ServeArgs, env: &Environment, clock: Clock) -> anyhow::Result<Running> {
    if matches!(args.http.auth, AuthChoice::Passthrough | AuthChoice::OAuth) {
        return build_passthrough(args, env.api_key.is_some(), clock);
    }
    let (args, env_key) = crate::login::with_stored_key(args.clone(), env);
    let args = &args;
    let settings = args.client_settings();
    let hub = hub::from_file(args);
    let options = |backend, hub: Option<crate::hub::Hub>| ServerOptions {
        tools: tool_options(args, &clock, backend),
        hub: hub.map(HubAccess::Shared),
        key_checks: None,
    };
    match args.mode(env_key)? {
        Mode::Cloud { base_url, key } => {
            tracing::info!(%base_url, "cloud mode: using Plugged.in");
            crate::redact::log::register(key.expose());
            let client = Client::new(&base_url, key, settings)?;
            check_in_background(client.clone());
            let hub = hub::with_account_servers(args, hub, &client, Backend::Cloud);
            Ok(Running {
                server: PluggedinServer::new(client, options(Backend::Cloud, hub))?,
                local: None,
                key_checks: None,
            })
        }
        Mode::Misconfigured { problem } => {
            tracing::error!("{problem}");
            let client = Client::new(&args.base_url, Secret::new(""), settings)?;
            let mut options = options(Backend::Cloud, hub);
            options.tools.config_error = Some(problem);
            Ok(Running {
                server: PluggedinServer::new(client, options)?,
                local: None,
                key_checks: None,
            })
        }
        Mode::Local { data_dir } => {
            let mut config = LocalConfig::new(&data_dir);
            config.agent_quota = args.agent_quota;
            config.clock = clock.clone();
            config.keep_agents_alive = !args.agents_need_heartbeats;
            let api = match LocalApi::start(config).await {
                Ok(api) => api,
                Err(error) => {
                    // Up anyway, like a bad key: the client shows why, the hub still works.
                    let problem = data_dir_problem(args, env, &data_dir, &error);
                    tracing::error!("{problem}");
                    let client = Client::new(&args.base_url, Secret::new(""), settings)?;
                    let mut options = options(Backend::Local, hub);
                    options.tools.config_error = Some(problem);
                    return Ok(Running {
                        server: PluggedinServer::new(client, options)?,
                        local: None,
                        key_checks: None,
                    });
                }
            };
            tracing::info!(
                data_dir = %data_dir.display(),
                "local mode: no PLUGGEDIN_API_KEY, so data stays on this machine (agents are records only; no containers run). Set PLUGGEDIN_API_KEY to use Plugged.in."
            );
            crate::redact::log::register(api.key().expose());
            let client = Client::new(api.base_url(), api.key().clone(), settings)?;
            let hub = hub::with_account_servers(args, hub, &client, Backend::Local);
            Ok(Running {
                server: PluggedinServer::new(client, options(Backend::Local, hub))?,
                local: Some(api),
                key_checks: None,
            })
        }
    }
}

/// Why local mode cannot use `data_dir`, naming what chose it and how to choose another.
fn data_dir_problem(
    args: &ServeArgs,
    env: &Environment,
    data_dir: &std::path::Path,
    error: &anyhow::Error,
) -> String {
    let chosen_by = match &args.data_dir {
        Some(dir) if env.data_dir.as_ref().is_some_and(|v| v == dir.as_os_str()) => {
            "set by PLUGGEDIN_DATA_DIR"
        }
        Some(_) => "set by --data-dir",
        None => "the default, $XDG_DATA_HOME/pluggedin-mcp or ~/.local/share/pluggedin-mcp",
    };
    format!(
        "local mode cannot use its data folder {} ({chosen_by}): {error:#}. Point --data-dir or PLUGGEDIN_DATA_DIR at a folder this user can write, or set PLUGGEDIN_API_KEY to use Plugged.in.",
        data_dir.display()
    )
}

/// What every tool is told, whatever the mode: the toolsets, the result budget, the clock.
fn tool_options(args: &ServeArgs, clock: &Clock, backend: Backend) -> ToolOptions {
    ToolOptions {
        backend,
        upstream_key: UpstreamKey::Server,
        selection: args.selection(),
        config_error: None,
        budget: crate::tools::budget::Budget::new(args.max_result_bytes),
        clock: clock.clone(),
        on_key_rejected: None,
    }
}

/// `--auth passthrough` (and `oauth`, whose tokens stand for keys): no server-wide key;
/// each request brings its own (see [`UpstreamKey::Passthrough`]), checked at the door, with
/// a hub per key.
fn build_passthrough(args: &ServeArgs, has_own_key: bool, clock: Clock) -> anyhow::Result<Running> {
    if args.local {
        bail!(
            "--auth passthrough and --auth oauth use each client's Plugged.in key upstream; they cannot be combined with --local (run `pluggedin-mcp api` and point --base-url at it instead)"
        );
    }
    if has_own_key || args.api_key_file.is_some() {
        tracing::warn!(
            "--auth passthrough: the server's own PLUGGEDIN_API_KEY is ignored; each client's bearer token is used"
        );
    }
    let base_url = args.base_url.trim_end_matches('/');
    tracing::info!(%base_url, "passthrough mode: each client's bearer token is its Plugged.in API key");
    let client = Client::new(base_url, Secret::new(""), args.client_settings())?;
    let key_checks = crate::api::keys::KeyChecks::new(client.clone());
    let hubs = hub::per_key(args, &client, &key_checks)?;
    Ok(Running {
        server: PluggedinServer::new(
            client,
            ServerOptions {
                tools: ToolOptions {
                    upstream_key: UpstreamKey::Passthrough,
                    ..tool_options(args, &clock, Backend::Cloud)
                },
                hub: hubs,
                key_checks: Some(key_checks.clone()),
            },
        )?,
        local: None,
        key_checks: Some(key_checks),
    })
}

/// Tries the key once, off the start path (`initialize` never waits for it), so a wrong key
/// or an unreachable Plugged.in shows on stderr at once rather than at the first tool call.
fn check_in_background(client: Client) {
    tokio::spawn(async move {
        client.warm_up().await;
        match client.notifications(false, 1).await {
            Ok(_) => tracing::debug!("Plugged.in accepted the API key"),
            Err(error) => tracing::warn!("checking the connection to Plugged.in: {error}"),
        }
    });
}

/// Runs the server on the chosen transport.
pub async fn run(args: ServeArgs, env: Environment) -> anyhow::Result<()> {
    match args.http.transport {
        Transport::Stdio => run_stdio(args, env).await,
        Transport::Http => run_http(args, env).await,
    }
}

/// Decides inbound auth; refuses to serve a non-loopback address without it unless told to.
/// `key_checks` are what passthrough asks Plugged.in through (see [`Running`]).
pub fn resolve_auth(
    args: &ServeArgs,
    env_tokens: Option<String>,
    key_checks: Option<Arc<crate::api::keys::KeyChecks>>,
    clock: Clock,
) -> anyhow::Result<AuthMode> {
    let http = &args.http;
    let tokens = match &http.token_file {
        Some(path) => AuthMode::tokens_from(
            &std::fs::read_to_string(path)
                .with_context(|| format!("reading the token file {}", path.display()))?,
        ),
        None => env_tokens
            .as_deref()
            .map(AuthMode::tokens_from)
            .unwrap_or_default(),
    };
    let mode = match http.auth {
        AuthChoice::Passthrough => AuthMode::Passthrough(
            key_checks
                .context("--auth passthrough needs the server built for it (its key checks)")?,
        ),
        AuthChoice::OAuth => AuthMode::OAuth(oauth_server(
            args,
            key_checks.context("--auth oauth needs the server built for it (its key checks)")?,
            clock,
        )?),
        AuthChoice::None => AuthMode::None,
        AuthChoice::Token if tokens.is_empty() => {
            bail!(
                "--auth token needs tokens: set PLUGGEDIN_MCP_TOKEN (comma-separated) or --token-file"
            )
        }
        AuthChoice::Token | AuthChoice::Auto if !tokens.is_empty() => {
            AuthMode::Tokens(tokens.into())
        }
        AuthChoice::Token | AuthChoice::Auto => AuthMode::None,
    };
    if matches!(mode, AuthMode::None) && !http.host.is_loopback() && !http.insecure_no_auth {
        bail!(
            "refusing to serve {} without authentication: set PLUGGEDIN_MCP_TOKEN or --token-file, use --auth passthrough, or pass --insecure-no-auth",
            http.host
        );
    }
    Ok(mode)
}

/// The OAuth server of `--auth oauth`: its public URL, the keys sealing its tokens, and
/// Plugged.in (`--base-url`) to sign users in with.
fn oauth_server(
    args: &ServeArgs,
    key_checks: Arc<crate::api::keys::KeyChecks>,
    clock: Clock,
) -> anyhow::Result<Arc<crate::oauth::OAuth>> {
    let public_url = args.http.public_url.as_deref().context(
        "--auth oauth needs --public-url: where clients reach this server, e.g. https://mcp.example.com",
    )?;
    let sealer = match &args.http.oauth_key_file {
        Some(path) => crate::oauth::seal::Sealer::from_file_text(
            &std::fs::read_to_string(path)
                .with_context(|| format!("reading the OAuth key file {}", path.display()))?,
        )
        .with_context(|| format!("the OAuth key file {}", path.display()))?,
        None => {
            tracing::warn!(
                "--auth oauth without --oauth-key-file: tokens are sealed with a key made for this run, so every client signs in again after a restart, and no other replica can read them"
            );
            crate::oauth::seal::Sealer::ephemeral()?
        }
    };
    crate::oauth::OAuth::new(
        crate::oauth::OAuthSettings {
            public_url: public_url.to_string(),
            sealer,
            upstream: args.base_url.trim_end_matches('/').to_string(),
            clock,
            allow_private_metadata_urls: args.http.oauth_allow_private_metadata_urls,
        },
        key_checks,
    )
}

/// `--allowed-hosts`, and with `--auth oauth` the host of `--public-url` (clients reach the
/// server by that name, so it is never refused).
fn allowed_hosts(http: &HttpArgs) -> Vec<String> {
    let mut hosts = http.allowed_hosts.clone();
    if http.auth == AuthChoice::OAuth
        && let Some(host) = http
            .public_url
            .as_deref()
            .and_then(|u| reqwest::Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_string))
    {
        hosts.push(host);
    }
    hosts
}

/// The metrics token: `--metrics-token-file`, else `PLUGGEDIN_MCP_METRICS_TOKEN`.
fn metrics_token(http: &HttpArgs, env: &Environment) -> anyhow::Result<Option<Secret>> {
    let token = match &http.metrics_token_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the metrics token file {}", path.display()))?,
        None => env.metrics_token.clone().unwrap_or_default(),
    };
    let token = token.trim();
    Ok((!token.is_empty()).then(|| Secret::new(token)))
}

/// Serves MCP over HTTP until SIGINT/SIGTERM.
pub async fn run_http(args: ServeArgs, env: Environment) -> anyhow::Result<()> {
    let ready = prepare_http(&args, &env, Clock::default()).await?;
    let listener = crate::transport::bind(ready.options.bind).await?;
    ready.serve(listener, crate::shutdown::signal()).await
}

/// A server built for HTTP with its auth, limits and listener settings decided: everything
/// `--transport http` checks before it binds.
pub struct HttpReady {
    running: Running,
    pub options: HttpOptions,
}

/// Builds the server and decides how HTTP serves it (see [`HttpReady`]).
pub async fn prepare_http(
    args: &ServeArgs,
    env: &Environment,
    clock: Clock,
) -> anyhow::Result<HttpReady> {
    let running = build(args, env, clock.clone()).await?;
    let auth = resolve_auth(
        args,
        env.mcp_tokens.clone(),
        running.key_checks.clone(),
        clock,
    )?;
    let http = &args.http;
    let options = HttpOptions {
        bind: SocketAddr::new(http.host, http.port),
        stateless: http.stateless,
        auth,
        allowed: Allowed {
            hosts: allowed_hosts(http),
            origins: http.allowed_origins.clone(),
        },
        max_sessions: http.max_sessions.max(1),
        session_idle: http.session_idle_timeout,
        max_body_bytes: crate::transport::DEFAULT_MAX_BODY_BYTES,
        shutdown_grace: http.shutdown_grace,
        drain_delay: http.drain_delay,
        metrics: crate::transport::MetricsAccess {
            enabled: http.metrics || http.metrics_addr.is_some(),
            token: metrics_token(http, env)?,
            addr: http.metrics_addr,
        },
        replica_id: http.replica_id.clone(),
        connections: crate::transport::ConnectionLimits {
            max_connections: http
                .max_connections
                .unwrap_or_else(crate::transport::ConnectionLimits::default_max_connections)
                .max(1),
            header_timeout: http.header_timeout,
            idle_timeout: http.keep_alive_timeout,
        },
    };
    Ok(HttpReady { running, options })
}

impl HttpReady {
    /// Serves on `listener` until `shutdown` resolves, then drains (see
    /// [`crate::transport::serve`]) and stops the embedded API.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let server = self.running.server.clone();
        let served = crate::transport::serve_on(
            listener,
            move || server.new_session(),
            self.options,
            shutdown,
        )
        .await;
        if let Some(api) = self.running.local {
            api.stop().await;
        }
        served
    }
}

/// Serves MCP over stdin/stdout until the client closes stdin.
pub async fn run_stdio(args: ServeArgs, env: Environment) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        // Someone ran the binary by hand: say what it is waiting for.
        eprintln!(
            "pluggedin-mcp is an MCP server: it is waiting for a client to speak JSON-RPC on stdin. Add it to your MCP client's configuration (see README), or run `pluggedin-mcp --transport http` to serve http://127.0.0.1:8081/mcp. Ctrl-D or Ctrl-C quits."
        );
    }
    let running = build(&args, &env, Clock::default()).await?;
    let transport = crate::transport::stdio::stdio();
    let served = running
        .server
        .serve((transport.sink, transport.stream))
        .await;
    let outcome = match served {
        Ok(service) => service.waiting().await.map(|_| ()).map_err(Into::into),
        // Input ended before a session began (Ctrl-D, or a client that gave up): nothing
        // went wrong, so exit quietly.
        Err(error) if is_closed_before_initialize(&error) => {
            tracing::debug!(%error, "stdin closed before initialize");
            Ok(())
        }
        Err(error) => Err(anyhow::Error::new(error).context("starting the MCP session on stdio")),
    };
    if let Some(api) = running.local {
        api.stop().await;
    }
    outcome
}

fn is_closed_before_initialize(error: &rmcp::service::ServerInitializeError) -> bool {
    matches!(
        error,
        rmcp::service::ServerInitializeError::ConnectionClosed(_)
    )
}

/// `pluggedin-mcp api`: the embedded API on its own. Serves until SIGINT/SIGTERM, then shuts down gracefully. The base
/// URL (and the key, when it was generated here) go to stderr for the user to copy.
pub async fn run_api(args: ApiArgs) -> anyhow::Result<()> {
    let ip: std::net::IpAddr = args
        .host
        .parse()
        .with_context(|| format!("--host must be an IP address, got {}", args.host))?;
    let data_dir = match args.data_dir {
        Some(d) => d,
        None => crate::local::default_data_dir()?,
    };
    let generated = args.key.as_deref().is_none_or(|k| k.trim().is_empty());
    let mut config = LocalConfig::new(&data_dir);
    config.bind = SocketAddr::new(ip, args.port);
    config.agent_quota = args.agent_quota;
    config.key = (!generated).then(|| Secret::new(args.key.unwrap_or_default().trim()));
    let port = args.port;
    let api = LocalApi::start(config).await.map_err(|error| {
        let in_use = error.chain().any(|e| {
            e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::AddrInUse)
        });
        if in_use {
            anyhow::anyhow!(
                "port {port} is already in use on {ip}: pick another with --port N (--port 0 picks a free one)"
            )
        } else {
            error
        }
    })?;
    eprintln!("Plugged.in-compatible API listening on {}", api.base_url());
    eprintln!("Data directory: {}", data_dir.display());
    if generated {
        // Printed because the user has no other way to learn it; pass --key to choose one.
        eprintln!("API key (generated for this run): {}", api.key().expose());
    }
    eprintln!(
        "Point an SDK or PAP agent at it: PLUGGEDIN_API_BASE_URL={} with the key as Bearer token. Ctrl-C stops.",
        api.base_url()
    );
    crate::shutdown::signal().await;
    eprintln!("Shutting down…");
    api.stop().await;
    Ok(())
}
