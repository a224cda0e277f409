//! The hub, assembled for each mode in one place: the servers file followed from the start
//! (before the mode is known, so its servers start at once), the account's servers added
//! once there is a client to read them with, or one hub per client key in passthrough.

use std::sync::Arc;

use crate::{
    api::Client,
    config::ServeArgs,
    hub::{Hub, HubSettings},
    server::HubAccess,
    tools::{Backend, Toolset},
};

/// Whether any hub runs: servers nobody can reach are not started, so `--toolsets`
/// without `hub` means no hub at all.
fn wanted(args: &ServeArgs) -> bool {
    args.selection().has(Toolset::Hub)
}

/// Passthrough: one hub per client key, made when a key Plugged.in accepts first comes,
/// with the file's servers (each user gets their own connections) and that account's. A
/// servers file that cannot be read at start is an error here: an operator starts this
/// mode, and should hear of it before any user does.
pub(super) fn per_key(
    args: &ServeArgs,
    client: &Client,
    key_checks: &Arc<crate::api::keys::KeyChecks>,
) -> anyhow::Result<Option<HubAccess>> {
    if !wanted(args) {
        return Ok(None);
    }
    if let Some(path) = &args.servers {
        crate::hub::watch_file::load(path).map_err(anyhow::Error::msg)?;
    } else if args.no_account_servers {
        return Ok(None);
    }
    Ok(Some(HubAccess::PerKey(crate::hub::tenants::Tenants::new(
        args.hub_settings(),
        crate::hub::tenants::Sources {
            file: args.servers.clone(),
            account: !args.no_account_servers,
        },
        client.clone(),
        key_checks.clone(),
        args.hub_limits(),
    ))))
}

/// Hub mode from a file: starts following `--servers` (servers connect in the background,
/// so `initialize` never waits for them). A file that cannot be used shows in `hub_status`
/// and the instructions, and is applied once fixed.
pub(super) fn from_file(args: &ServeArgs) -> Option<Hub> {
    let path = args.servers.as_ref()?;
    if !wanted(args) {
        tracing::warn!("--servers is ignored: --toolsets leaves out `hub`");
        return None;
    }
    let hub = Hub::new(shared_settings(args));
    crate::hub::watch_file::follow(hub.clone(), path.clone(), Default::default());
    Some(hub)
}

/// The settings of the one hub of every client: the servers' lists are kept between runs
/// in the data directory (when there is one), so the first `tools/list` of a fresh process
/// carries them.
fn shared_settings(args: &ServeArgs) -> HubSettings {
    let data_dir = args
        .data_dir
        .clone()
        .or_else(|| crate::local::default_data_dir().ok());
    HubSettings {
        cache: data_dir.map(|dir| crate::hub::catalog_cache::CatalogCache::new(&dir)),
        ..args.hub_settings()
    }
}

/// Adds the MCP servers of the account (Plugged.in's, or the embedded API's in local mode)
/// to the hub, creating it if the file did not; `--no-account-servers` leaves them out. The
/// hub reports to the same API: discovered tools always, each call's activity only to
/// Plugged.in (the embedded API has no UI to show it, and a write per call is not free).
pub(super) fn with_account_servers(
    args: &ServeArgs,
    hub: Option<Hub>,
    client: &Client,
    backend: Backend,
) -> Option<Hub> {
    let activity = backend == Backend::Cloud;
    if !wanted(args) {
        return None;
    }
    if args.no_account_servers {
        if let Some(hub) = &hub {
            hub.report_to(client.clone(), activity);
        }
        return hub;
    }
    let hub = hub.unwrap_or_else(|| Hub::new(shared_settings(args)));
    hub.report_to(client.clone(), activity);
    crate::hub::pluggedin_source::follow(hub.clone(), client.clone(), Default::default());
    Some(hub)
}
