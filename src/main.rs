//! The `pluggedin-mcp` binary: parse the command line, send logs to stderr, run.

use clap::Parser;
use pluggedin_mcp::config::{Cli, Command, LogFormat, Transport};

/// rmcp's transport worker logs a downstream server's connection failure with its raw URL
/// (which may carry a token) at ERROR; the hub reports the same failure itself, scrubbed.
const DEFAULT_LOG_FILTER: &str = "warn,pluggedin_mcp=info,rmcp::transport::worker=off";

fn main() -> std::process::ExitCode {
    forget_empty_settings();
    let cli = Cli::parse();
    let command = match cli.command {
        // The catalog needs no runtime, network or logging.
        Some(Command::Tools(ref args)) => return finish(pluggedin_mcp::catalog::run(args)),
        Some(Command::Logout) => return finish(pluggedin_mcp::login::logout()),
        Some(Command::Install(ref target)) => return finish(pluggedin_mcp::setup::install(target)),
        Some(Command::Uninstall(ref target)) => {
            return finish(pluggedin_mcp::setup::uninstall(target));
        }
        Some(Command::Import(ref args)) => return finish(pluggedin_mcp::setup::import(args)),
        Some(Command::Doctor(ref args)) => {
            init_tracing(cli.log_format);
            return finish(one_shot(pluggedin_mcp::setup::doctor::run(args)));
        }
        Some(Command::Login(ref args)) => {
            init_tracing(cli.log_format);
            return finish(one_shot(pluggedin_mcp::login::login(args)));
        }
        Some(Command::Whoami) => {
            init_tracing(cli.log_format);
            return finish(one_shot(pluggedin_mcp::login::whoami()));
        }
        Some(Command::Api(ref args)) => Some(args.clone()),
        None => None,
    };
    init_tracing(cli.log_format);
    match run(cli, command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // One line, in the chosen log format (a shipper reading JSON logs sees the fatal
            // error as it sees every other line), its causes joined after colons.
            tracing::error!("{error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// An empty `PLUGGEDIN_*` variable means "not set": clients fill a form's empty optional
/// fields (an MCP Bundle's user_config, a VS Code input) in as empty strings, which clap
/// would otherwise take as a value (`--servers ""`).
fn forget_empty_settings() {
    let empty: Vec<std::ffi::OsString> = std::env::vars_os()
        .filter(|(name, value)| {
            value.is_empty() && name.to_string_lossy().starts_with("PLUGGEDIN_")
        })
        .map(|(name, _)| name)
        .collect();
    for name in empty {
        // SAFETY: the first thing `main` does, before any other thread exists.
        unsafe { std::env::remove_var(name) };
    }
}

/// A command's outcome as the process's exit status, its error on stderr.
fn finish(outcome: anyhow::Result<()>) -> std::process::ExitCode {
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs a command that talks to Plugged.in once, on a runtime of its own.
fn one_shot(command: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(command)
}

fn run(cli: Cli, command: Option<pluggedin_mcp::config::ApiArgs>) -> anyhow::Result<()> {
    // Connections, child processes and the database are file descriptors; many systems start
    // processes with a soft limit of 1024 and a much higher hard one.
    let files = pluggedin_mcp::listener::raise_file_limit();
    tracing::debug!(open_file_limit = files, "file limit");
    // Over stdio one client talks to us, one message at a time on each pipe: a single thread
    // serves it with no wake-ups between threads (a proxied hub call crosses four pipes, and
    // each hand-off from one worker to another costs more than the work). Blocking work
    // (SQLite, fork/exec) still runs on tokio's blocking pool. HTTP serves many clients at
    // once, on every core.
    let one_client = command.is_none() && cli.serve.http.transport == Transport::Stdio;
    let runtime = if one_client {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    };
    // The hub's servers may start processes of their own: this process is their subreaper,
    // so none outlives it (see `children`).
    pluggedin_mcp::children::adopt_orphans();
    let outcome = runtime.block_on(async move {
        match command {
            Some(args) => pluggedin_mcp::serve::run_api(args).await,
            None => {
                let env = pluggedin_mcp::config::Environment::of_process();
                pluggedin_mcp::serve::run(cli.serve, env).await
            }
        }
    });
    drop(runtime);
    pluggedin_mcp::children::kill_all();
    outcome
}

/// Logs go to stderr only (in stdio mode stdout carries JSON-RPC and nothing else), and
/// through the scrubbing sink, so no secret reaches them whoever writes the line.
fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    let logs = tracing_subscriber::fmt()
        .with_writer(pluggedin_mcp::redact::log::ScrubbedStderr)
        .with_ansi(false)
        .with_env_filter(filter);
    match format {
        LogFormat::Text => logs.init(),
        // The span a line was written in (the request, with its id) is flattened into it.
        LogFormat::Json => {
            pluggedin_mcp::redact::log::set_json(true);
            logs.json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .init()
        }
    }
}
