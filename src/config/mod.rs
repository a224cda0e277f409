//! Command line and environment: what to run and how. The upstream API key is read from the
//! environment or a file (never a flag, which `ps` would show) and held as a [`Secret`].

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};

mod environment;
mod mode;
mod reference;
mod values;

pub use environment::{Environment, config_dir};
pub use mode::{Mode, key_problem};
pub use reference::reference_markdown;
use values::{nonnegative_secs, positive_secs, replica_id};

pub const DEFAULT_BASE_URL: &str = "https://plugged.in";

/// Every environment variable the program reads (a test checks the list against the code).
pub const ENVIRONMENT_HELP: &str = "Environment:
  PLUGGEDIN_API_KEY         Plugged.in API key (cloud mode); without one the server runs locally
  PLUGGEDIN_API_BASE_URL    Plugged.in base URL (--base-url; default https://plugged.in)
  PLUGGEDIN_DATA_DIR        local mode's data directory (--data-dir)
  PLUGGEDIN_AGENT_QUOTA     local mode: agents the profile may create (--agent-quota)
  PLUGGEDIN_MCP_TOKEN       HTTP: accepted bearer tokens, comma-separated (--auth token)
  PLUGGEDIN_MCP_METRICS_TOKEN  HTTP: the token a scraper sends for /metrics
  PLUGGEDIN_MCP_METRICS_TOKEN_FILE  the same, from a file (--metrics-token-file)
  PLUGGEDIN_MCP_PUBLIC_URL  HTTP with --auth oauth: where clients reach it (--public-url)
  PLUGGEDIN_MCP_OAUTH_KEY_FILE  --auth oauth: the keys sealing its tokens (--oauth-key-file)
  PLUGGEDIN_LOCAL_API_KEY   `pluggedin-mcp api`: the key its clients must send (--key)
  PLUGGEDIN_SERVERS_FILE    hub mode: your MCP servers, mcpServers JSON (--servers)
  PLUGGEDIN_LOG_FORMAT      text or json (--log-format)
  PLUGGEDIN_REPLICA_ID      this replica's name behind a balancer (--replica-id)
  PLUGGEDIN_CONFIG_DIR      where `login` keeps the key and `import` the servers file
                            (default $XDG_CONFIG_HOME/pluggedin-mcp, else ~/.config/pluggedin-mcp)
  PLUGGEDIN_MCP_NPM_PACKAGE set by the npm launcher: `install` then writes an npx entry
  RUST_LOG                  log filter for stderr, e.g. debug or pluggedin_mcp=trace";

/// The default port of `pluggedin-mcp api`: not 12005, which is Plugged.in's own dev server.
pub const DEFAULT_API_PORT: u16 = 12050;

#[derive(Parser, Debug)]
#[command(
    name = "pluggedin-mcp",
    version,
    about = "MCP server for Plugged.in: PAP agents, documents, RAG, clipboard memory and notifications",
    args_conflicts_with_subcommands = true,
    after_help = ENVIRONMENT_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// How log lines are written to stderr: text, or json (one object per line, with the
    /// request id of the call a line belongs to).
    #[arg(long, global = true, value_enum, env = "PLUGGEDIN_LOG_FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the embedded Plugged.in-compatible API on its own (offline dev server for PAP
    /// agents and SDK code).
    Api(ApiArgs),
    /// Print the tool catalog.
    Tools(ToolsArgs),
    /// Sign in with Plugged.in in your browser; the key is stored for every later run.
    Login(LoginArgs),
    /// Forget the stored sign-in.
    Logout,
    /// Which Plugged.in account a server started now would use, and whether it is accepted.
    Whoami,
    /// Add pluggedin-mcp to an MCP client's configuration (nothing else in it changes).
    Install(crate::setup::Target),
    /// Remove pluggedin-mcp's entry from an MCP client's configuration.
    Uninstall(crate::setup::Target),
    /// Move an MCP client's other servers behind the hub: into the servers file, leaving
    /// one pluggedin-mcp entry that offers them all.
    Import(crate::setup::ImportArgs),
    /// Check the key, the hub's servers and the clients' configurations.
    Doctor(crate::setup::doctor::DoctorArgs),
}

/// Options of `pluggedin-mcp login`.
#[derive(Args, Debug, Clone)]
pub struct LoginArgs {
    /// The Plugged.in to sign in to (`pluggedin-mcp api`'s address signs in offline).
    #[arg(long, value_name = "URL", env = "PLUGGEDIN_API_BASE_URL", default_value = DEFAULT_BASE_URL)]
    pub base_url: String,
    /// Print the sign-in page's address instead of opening a browser.
    #[arg(long)]
    pub no_browser: bool,
}

/// Options of the MCP server (the default command).
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Read the Plugged.in API key from this file instead of PLUGGEDIN_API_KEY.
    #[arg(
        help_heading = "Backend (Plugged.in, or local)",
        long,
        value_name = "FILE"
    )]
    pub api_key_file: Option<PathBuf>,

    /// Use the embedded local backend even when an API key is set.
    #[arg(help_heading = "Backend (Plugged.in, or local)", long)]
    pub local: bool,

    /// Where local mode keeps its data [default: $XDG_DATA_HOME/pluggedin-mcp].
    #[arg(
        help_heading = "Backend (Plugged.in, or local)",
        long,
        value_name = "DIR",
        env = "PLUGGEDIN_DATA_DIR"
    )]
    pub data_dir: Option<PathBuf>,

    /// Plugged.in base URL.
    #[arg(help_heading = "Backend (Plugged.in, or local)", long, value_name = "URL", env = "PLUGGEDIN_API_BASE_URL", default_value = DEFAULT_BASE_URL)]
    pub base_url: String,

    /// Deadline per upstream request, in seconds (retries included).
    #[arg(help_heading = "Backend (Plugged.in, or local)", long, value_name = "SECS", default_value = "30", value_parser = positive_secs)]
    pub timeout: Duration,

    /// Retries of an idempotent upstream request after a connect error, 429 or 5xx.
    #[arg(
        help_heading = "Backend (Plugged.in, or local)",
        long,
        value_name = "N",
        default_value_t = 2
    )]
    pub max_retries: u32,

    /// Local mode: most agents the local profile may create. Like Plugged.in, terminated
    /// agents count (their names stay taken).
    #[arg(
        help_heading = "Backend (Plugged.in, or local)",
        long,
        value_name = "N",
        env = "PLUGGEDIN_AGENT_QUOTA",
        default_value_t = 10
    )]
    pub agent_quota: u32,

    /// Local mode: agents stay ACTIVE only while something sends their heartbeats, on PAP's
    /// exact schedule. By default local mode, which starts no containers, sends them for
    /// ACTIVE agents while it runs, so a demo's agent does not turn UNHEALTHY a minute later.
    #[arg(help_heading = "Backend (Plugged.in, or local)", long)]
    pub agents_need_heartbeats: bool,

    /// Offer only these toolsets (comma-separated): agents, docs, rag, clipboard,
    /// notifications, hub. Prompts, resources and completions follow. Default: all.
    #[arg(
        help_heading = "Tools",
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "SETS"
    )]
    pub toolsets: Vec<crate::tools::Toolset>,

    /// Offer only tools that change nothing (and the prompts that only read).
    #[arg(help_heading = "Tools", long)]
    pub read_only: bool,

    /// Largest tool result or resource read, in bytes (at least 16384); longer ones are cut
    /// and say how to read on. Smaller suits models with small contexts.
    #[arg(
        help_heading = "Tools",
        long,
        value_name = "BYTES",
        default_value_t = crate::tools::budget::RESULT_BUDGET_BYTES,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(16384..)
    )]
    pub max_result_bytes: usize,

    /// Hub mode: a JSON file of your own MCP servers, in the `mcpServers` format of Claude
    /// Desktop (`command`/`args`/`env`, or `url`/`headers`; VS Code's `servers` works too).
    /// Their tools are offered as `<server>__<tool>`; edits apply without a restart.
    #[arg(
        help_heading = "Hub (your own MCP servers)",
        long,
        value_name = "FILE",
        env = "PLUGGEDIN_SERVERS_FILE"
    )]
    pub servers: Option<PathBuf>,

    /// Hub mode: do not start the MCP servers configured in your Plugged.in account (or, in
    /// local mode, in the embedded API's `/api/mcp-servers`).
    #[arg(help_heading = "Hub (your own MCP servers)", long)]
    pub no_account_servers: bool,

    /// Hub mode: start only these servers (comma-separated names).
    #[arg(
        help_heading = "Hub (your own MCP servers)",
        long,
        value_delimiter = ',',
        value_name = "NAMES"
    )]
    pub hub_servers: Vec<String>,

    /// Hub mode: longest tool name offered. Clients cap names at 64 and some add their own
    /// prefix (Claude Code: `mcp__<name>__`); longer names are shortened with a hash.
    #[arg(
        help_heading = "Hub (your own MCP servers)",
        long,
        value_name = "N",
        default_value_t = crate::hub::names::DEFAULT_BUDGET,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(crate::hub::names::MIN_BUDGET as u64..=64)
    )]
    pub hub_name_budget: usize,

    /// Hub mode: deadline of a downstream request for a server whose entry sets no
    /// `timeout` of its own; restarted by each progress notification. Default: --timeout.
    #[arg(help_heading = "Hub (your own MCP servers)", long, value_name = "SECS", value_parser = positive_secs)]
    pub hub_call_timeout: Option<Duration>,

    /// Hub mode: longest a downstream call may run in all. A call's own deadline
    /// (--hub-call-timeout or the server's `timeout`) restarts with each progress
    /// notification, up to this.
    #[arg(
        help_heading = "Hub (your own MCP servers)",
        long,
        value_name = "SECS",
        default_value = "3600",
        value_parser = positive_secs
    )]
    pub hub_max_call_time: Duration,

    /// Hub mode: longest the first `tools/list` (and prompts/resources lists) waits for
    /// servers starting for the first time, whose tools are not cached from an earlier
    /// run. Servers seen before are listed at once from the cache in the data directory.
    #[arg(
        help_heading = "Hub (your own MCP servers)",
        long,
        value_name = "SECS",
        default_value = "5",
        value_parser = nonnegative_secs
    )]
    pub hub_list_wait: Duration,

    /// Hub mode with --auth passthrough: most live downstream connections of one client key.
    #[arg(help_heading = "Hub (your own MCP servers)", long, value_name = "N", default_value_t = 16, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub hub_max_servers_per_key: usize,

    /// Hub mode with --auth passthrough: most live downstream connections of all keys.
    #[arg(help_heading = "Hub (your own MCP servers)", long, value_name = "N", default_value_t = 256, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub hub_max_servers: usize,

    /// Hub mode with --auth passthrough: a key's hub unused this long is closed (its
    /// servers stopped).
    #[arg(help_heading = "Hub (your own MCP servers)", long, value_name = "SECS", default_value = "900", value_parser = positive_secs)]
    pub hub_idle_timeout: Duration,

    /// Hub mode: offer a search tool and a call tool instead of listing every downstream
    /// tool — `auto` when the downstream tools would cost more than --tool-search-budget.
    #[arg(
        help_heading = "Hub (your own MCP servers)",
        long,
        value_name = "WHEN",
        default_value = "auto"
    )]
    pub tool_search: crate::hub::ToolSearch,

    /// Hub mode: the downstream catalog's size (estimated tokens of names, descriptions and
    /// schemas) above which `--tool-search auto` searches instead of listing.
    #[arg(help_heading = "Hub (your own MCP servers)", long, value_name = "TOKENS", default_value_t = crate::hub::TOOL_SEARCH_BUDGET)]
    pub tool_search_budget: usize,

    #[command(flatten)]
    pub http: HttpArgs,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// JSON-RPC over stdin/stdout (for desktop clients and IDEs).
    #[default]
    Stdio,
    /// Streamable HTTP at /mcp and legacy HTTP+SSE at /sse.
    Http,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthChoice {
    /// Tokens when PLUGGEDIN_MCP_TOKEN or --token-file gives some, else none.
    #[default]
    Auto,
    /// No inbound auth (allowed on loopback; elsewhere only with --insecure-no-auth).
    None,
    /// Bearer tokens from PLUGGEDIN_MCP_TOKEN (comma-separated) or --token-file.
    Token,
    /// The client's bearer token is its Plugged.in API key, used upstream for its requests.
    Passthrough,
    /// OAuth 2.1: clients sign in with Plugged.in (custom connectors in Claude and ChatGPT,
    /// `claude mcp add --transport http`); each is then served as a passthrough client of
    /// its key, within the scopes it granted. Needs --public-url.
    #[value(name = "oauth")]
    OAuth,
}

/// Options of the HTTP transport.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Transport, HTTP and operations")]
pub struct HttpArgs {
    /// stdio, or http for Streamable HTTP (/mcp) and legacy SSE (/sse).
    #[arg(long, value_enum, default_value_t = Transport::Stdio)]
    pub transport: Transport,

    /// Address to listen on (http).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,

    /// Port to listen on (http); 0 picks a free one.
    #[arg(long, default_value_t = 8081)]
    pub port: u16,

    /// No MCP sessions: every request stands alone (for horizontally scaled deployments).
    #[arg(long)]
    pub stateless: bool,

    /// Inbound authentication.
    #[arg(long, value_enum, default_value_t = AuthChoice::Auto)]
    pub auth: AuthChoice,

    /// With --auth oauth: where clients reach this server, e.g. https://mcp.example.com
    /// (its MCP endpoint is /mcp there); https unless on loopback.
    #[arg(long, value_name = "URL", env = "PLUGGEDIN_MCP_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// With --auth oauth: the keys that seal its tokens, one `ID:BASE64` a line (32 random
    /// bytes each: `echo "k1:$(head -c32 /dev/urandom | base64)"`); the first seals, all
    /// open. Every replica needs the same file. Without it tokens die with the process.
    #[arg(long, value_name = "FILE", env = "PLUGGEDIN_MCP_OAUTH_KEY_FILE")]
    pub oauth_key_file: Option<PathBuf>,

    /// With --auth oauth: fetch clients' metadata documents (a client_id that is a URL)
    /// from private and loopback addresses and over http too — for tests and private
    /// networks; a public server must not (a client could make it fetch internal URLs).
    #[arg(long)]
    pub oauth_allow_private_metadata_urls: bool,

    /// File with accepted bearer tokens, one per line (instead of PLUGGEDIN_MCP_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// Serve without auth on a non-loopback address.
    #[arg(long)]
    pub insecure_no_auth: bool,

    /// Browser origins allowed besides loopback ones (comma-separated, e.g.
    /// https://app.example.com); also turns on CORS for them.
    #[arg(long, value_delimiter = ',', value_name = "ORIGINS")]
    pub allowed_origins: Vec<String>,

    /// Host names allowed in the Host header besides loopback names and IP addresses
    /// (comma-separated), for serving behind a real hostname.
    #[arg(long, value_delimiter = ',', value_name = "HOSTS")]
    pub allowed_hosts: Vec<String>,

    /// Most MCP sessions open at once; more are refused with 503.
    #[arg(long, default_value_t = 1000)]
    pub max_sessions: usize,

    /// Seconds of inactivity after which a session is closed.
    #[arg(long, value_name = "SECS", default_value = "1800", value_parser = positive_secs)]
    pub session_idle_timeout: Duration,

    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = nonnegative_secs)]
    pub shutdown_grace: Duration,

    /// Seconds to keep serving after SIGTERM before closing connections, so a balancer
    /// that polls /ready (Kubernetes) stops sending first. /ready answers 503 and new
    /// sessions are refused from the signal on.
    #[arg(long, value_name = "SECS", default_value = "0", value_parser = nonnegative_secs)]
    pub drain_delay: Duration,

    /// Serve Prometheus metrics at /metrics. On the MCP listener a scraper authenticates with
    /// the metrics token (--metrics-token-file / PLUGGEDIN_MCP_METRICS_TOKEN) or, with
    /// `--auth token`, one of the MCP tokens; never with a passthrough client's key.
    #[arg(long)]
    pub metrics: bool,

    /// A file holding the token a scraper sends (`Authorization: Bearer <token>`) for
    /// /metrics on the MCP listener.
    #[arg(long, value_name = "FILE", env = "PLUGGEDIN_MCP_METRICS_TOKEN_FILE")]
    pub metrics_token_file: Option<PathBuf>,

    /// Also serve /metrics, without authentication, on this address of its own (an internal
    /// one: `127.0.0.1:9464`, a pod's port that only Prometheus reaches). Implies --metrics.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_addr: Option<SocketAddr>,

    /// This replica's name behind a balancer: session ids start with `<ID>.`, so a proxy
    /// can send a session to the replica that made it (see deploy/nginx). Letters, digits
    /// and `-`, at most 32.
    #[arg(long, value_name = "ID", env = "PLUGGEDIN_REPLICA_ID", value_parser = replica_id)]
    pub replica_id: Option<String>,

    /// Most connections open at once; more get 503 and are closed [default: the open-file
    /// limit (raised to its maximum at start) less 256, at most 10000].
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,

    /// Seconds a client has to send a complete request head; slower connections are closed.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = positive_secs)]
    pub header_timeout: Duration,

    /// Seconds a connection with nothing in flight stays open.
    #[arg(long, value_name = "SECS", default_value = "75", value_parser = positive_secs)]
    pub keep_alive_timeout: Duration,
}

/// Options of `pluggedin-mcp api`.
#[derive(Args, Debug, Clone)]
pub struct ApiArgs {
    /// Port to listen on (127.0.0.1 unless --host says otherwise); 0 picks a free one.
    #[arg(long, default_value_t = DEFAULT_API_PORT)]
    pub port: u16,

    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// Where the data lives [default: $XDG_DATA_HOME/pluggedin-mcp].
    #[arg(long, value_name = "DIR", env = "PLUGGEDIN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// The API key clients must send; a random one is generated and printed when absent.
    #[arg(long, env = "PLUGGEDIN_LOCAL_API_KEY", hide_env_values = true)]
    pub key: Option<String>,

    /// Maximum agents, counting terminated ones as the cloud does.
    #[arg(long, env = "PLUGGEDIN_AGENT_QUOTA", default_value_t = 10)]
    pub agent_quota: u32,
}

#[derive(Args, Debug, Clone)]
pub struct ToolsArgs {
    /// Print the catalog as JSON (the content of tools/catalog.json).
    #[arg(long)]
    pub json: bool,
    /// Write both catalog files (catalog.json and README.md) into this directory instead
    /// of printing: `pluggedin-mcp tools --write tools` regenerates the committed catalog.
    #[arg(long, value_name = "DIR", conflicts_with = "json")]
    pub write: Option<PathBuf>,
}

/// How log lines are written to stderr.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> ServeArgs {
        let mut argv = vec!["pluggedin-mcp"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().serve
    }

    #[test]
    fn no_key_means_local_and_a_key_means_cloud() {
        assert!(
            args(&["--data-dir", "/tmp/x"])
                .mode(None)
                .unwrap()
                .is_local()
        );
        let mode = args(&[]).mode(Some("pg_in_abc".into())).unwrap();
        assert!(
            matches!(mode, Mode::Cloud { ref base_url, .. } if base_url == "https://plugged.in")
        );
        assert!(
            args(&["--local", "--data-dir", "/tmp/x"])
                .mode(Some("pg_in_k".into()))
                .unwrap()
                .is_local()
        );
    }

    #[test]
    fn a_placeholder_or_malformed_key_is_a_configuration_error() {
        for bad in [
            "${PLUGGEDIN_API_KEY}",
            "$PLUGGEDIN_API_KEY",
            "\"pg_in_abc\"",
            "sk-123",
            "pg_in_",
        ] {
            match args(&["--data-dir", "/tmp/x"])
                .mode(Some(bad.into()))
                .unwrap()
            {
                Mode::Misconfigured { problem } => {
                    assert!(problem.contains("PLUGGEDIN_API_KEY"), "{problem}");
                    assert!(problem.contains("local mode"), "{problem}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        let placeholder = key_problem("${PLUGGEDIN_API_KEY}", "PLUGGEDIN_API_KEY").unwrap();
        assert!(
            placeholder.contains("unexpanded placeholder"),
            "{placeholder}"
        );
        assert!(key_problem("pg_in_AbC-12_x", "k").is_none());
    }

    #[test]
    fn help_lists_every_environment_variable_the_code_reads() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut names = std::collections::BTreeSet::new();
        let pattern =
            regex::Regex::new(r#"(?:env\s*=\s*|env::var(?:_os)?\()"([A-Z][A-Z0-9_]+)""#).unwrap();
        let mut stack = vec![src];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    names.extend(pattern.captures_iter(&text).map(|c| c[1].to_string()));
                }
            }
        }
        // The platform's own: where the default data and config folders and each client's
        // configuration live.
        for platform in [
            "XDG_DATA_HOME",
            "XDG_CONFIG_HOME",
            "HOME",
            "APPDATA",
            "USERPROFILE",
            "CODEX_HOME",
            "PATH",
        ] {
            names.remove(platform);
        }
        assert!(
            names.contains("PLUGGEDIN_API_KEY"),
            "the scan works: {names:?}"
        );
        for name in names {
            assert!(
                ENVIRONMENT_HELP.contains(&name),
                "--help does not mention {name}"
            );
        }
    }

    #[test]
    fn a_key_file_wins_and_is_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, "pg_in_fromfile\n").unwrap();
        let mode = args(&["--api-key-file", file.to_str().unwrap()])
            .mode(None)
            .unwrap();
        match mode {
            Mode::Cloud { key, .. } => assert_eq!(key.expose(), "pg_in_fromfile"),
            other => panic!("expected cloud mode, got {other:?}"),
        }
    }

    #[test]
    fn http_options_parse() {
        let a = args(&[
            "--transport",
            "http",
            "--port",
            "0",
            "--allowed-origins",
            "https://a.example,https://b.example",
            "--auth",
            "passthrough",
        ]);
        assert_eq!(a.http.transport, Transport::Http);
        assert_eq!(a.http.allowed_origins.len(), 2);
        assert_eq!(a.http.auth, AuthChoice::Passthrough);
        assert_eq!(args(&[]).http.port, 8081);
        assert_eq!(args(&["--agent-quota", "50"]).agent_quota, 50);
    }

    #[test]
    fn bad_timeouts_are_refused() {
        let argv = ["pluggedin-mcp", "--timeout", "0"];
        assert!(Cli::try_parse_from(argv).is_err());
    }

    #[test]
    fn every_time_is_seconds_read_into_a_duration_once() {
        let serve = |argv: &[&str]| Cli::try_parse_from(argv).unwrap().serve;
        let args = serve(&[
            "pluggedin-mcp",
            "--drain-delay",
            "0.5",
            "--session-idle-timeout",
            "90",
        ]);
        assert_eq!(args.http.drain_delay, Duration::from_millis(500));
        assert_eq!(args.http.session_idle_timeout, Duration::from_secs(90));
        assert_eq!(args.timeout, Duration::from_secs(30));
        for bad in [
            ["--session-idle-timeout", "0"],
            ["--timeout", "1e12"],
            ["--drain-delay", "soon"],
        ] {
            let error = Cli::try_parse_from(["pluggedin-mcp", bad[0], bad[1]])
                .unwrap_err()
                .to_string();
            assert!(error.contains("seconds"), "{bad:?}: {error}");
        }
    }

    #[test]
    fn the_hub_call_timeout_defaults_to_the_upstream_one() {
        let hub_timeout = |argv: &[&str]| {
            Cli::try_parse_from(argv)
                .unwrap()
                .serve
                .hub_settings()
                .call_timeout
        };
        assert_eq!(
            hub_timeout(&["pluggedin-mcp", "--timeout", "7"]),
            Duration::from_secs(7)
        );
        assert_eq!(
            hub_timeout(&[
                "pluggedin-mcp",
                "--timeout",
                "7",
                "--hub-call-timeout",
                "90"
            ]),
            Duration::from_secs(90)
        );
        let argv = ["pluggedin-mcp", "--hub-call-timeout", "-1"];
        assert!(Cli::try_parse_from(argv).is_err());
    }
}
