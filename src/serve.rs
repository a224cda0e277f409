//! Running the MCP server: pick the backend (Plugged.in or the embedded API), build the
//! server, and serve it over stdio.

use anyhow::Context;
use rmcp::ServiceExt;

use crate::{
    api::Client,
    config::{Mode, ServeArgs},
    local::{LocalApi, LocalConfig},
    tools::{Backend, PluggedinServer},
};

/// The server and, in local mode, the embedded API it talks to (kept alive with it).
pub struct Running {
    pub server: PluggedinServer,
    pub local: Option<LocalApi>,
}

/// Resolves the mode and builds the server; starts the embedded API in local mode.
pub async fn build(args: &ServeArgs, env_key: Option<String>) -> anyhow::Result<Running> {
    let settings = args.client_settings();
    match args.mode(env_key)? {
        Mode::Cloud { base_url, key } => {
            tracing::info!(%base_url, "cloud mode: using Plugged.in");
            let client = Client::new(&base_url, key, settings)?;
            Ok(Running {
                server: PluggedinServer::new(client, Backend::Cloud),
                local: None,
            })
        }
        Mode::Local { data_dir } => {
            let api = LocalApi::start(LocalConfig::new(&data_dir))
                .await
                .context("starting the embedded Plugged.in API for local mode")?;
            tracing::info!(
                data_dir = %data_dir.display(),
                "local mode: no PLUGGEDIN_API_KEY, so data stays on this machine (agents are records only; no containers run). Set PLUGGEDIN_API_KEY to use Plugged.in."
            );
            let client = Client::new(api.base_url(), api.key().clone(), settings)?;
            Ok(Running {
                server: PluggedinServer::new(client, Backend::Local),
                local: Some(api),
            })
        }
    }
}

/// Serves MCP over stdin/stdout until the client closes stdin.
pub async fn run_stdio(args: ServeArgs) -> anyhow::Result<()> {
    let running = build(&args, std::env::var("PLUGGEDIN_API_KEY").ok()).await?;
    let service = running
        .server
        .serve(rmcp::transport::stdio())
        .await
        .context("starting the MCP session on stdio")?;
    service.waiting().await?;
    if let Some(api) = running.local {
        api.stop().await;
    }
    Ok(())
}
