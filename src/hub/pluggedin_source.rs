//! The user's servers from their Plugged.in account (`GET /api/mcp-servers`), polled: once
//! at start (in the background, so `initialize` never waits for Plugged.in), then every
//! minute and whenever `hub_refresh` asks. A failed poll keeps the servers that run: a
//! Plugged.in hiccup never stops a user's tools.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Hub, Source, spec};
use crate::api::{ApiError, Client};

/// Between polls: servers added in Plugged.in show up within this time (or at once with
/// `hub_refresh`).
pub const POLL_INTERVAL: Duration = Duration::from_secs(60);

/// Follows the account's servers until `stop`. The first poll also reads Plugged.in's cached
/// catalog (`GET /api/tools`), so servers that are still starting already offer their tools.
pub fn follow(hub: Hub, client: Client, stop: CancellationToken) {
    let mut loaded = Some(hub.expect_source());
    tokio::spawn(async move {
        loop {
            let servers = if loaded.is_some() {
                let (servers, cached) = tokio::join!(client.mcp_servers(), client.cached_tools());
                match cached {
                    Ok(cached) => hub.seed_tools(cached),
                    Err(e) => tracing::debug!("no cached catalog from Plugged.in: {e}"),
                }
                servers
            } else {
                client.mcp_servers().await
            };
            match servers {
                Ok(rows) => {
                    let specs: Vec<spec::ServerSpec> =
                        rows.iter().map(spec::from_pluggedin).collect();
                    tracing::debug!(servers = specs.len(), "Plugged.in MCP servers");
                    hub.set_source(Source::Pluggedin, specs);
                }
                Err(ApiError::Unauthorized { .. }) => {
                    // The key is wrong or revoked: nothing of this account may keep running.
                    tracing::warn!("Plugged.in rejected the key; its MCP servers are stopped");
                    hub.set_source(Source::Pluggedin, Vec::new());
                    hub.revoked();
                }
                Err(e) => tracing::warn!("reading your MCP servers from Plugged.in: {e}"),
            }
            if let Some(loaded) = loaded.take() {
                loaded();
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
                _ = hub.poll_requested() => {}
            }
        }
    });
}
