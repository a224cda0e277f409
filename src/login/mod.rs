//! Signing in without copying a key: `pluggedin-mcp login` runs Plugged.in's browser sign-in
//! for command-line tools ([`device`]) and keeps the key it gets ([`credentials`]);
//! every later run without `PLUGGEDIN_API_KEY` or `--api-key-file` uses it. `logout`
//! forgets it, `whoami` says which account is used and whether Plugged.in accepts it.

pub mod credentials;
pub mod device;

use crate::{
    api::Client,
    config::{DEFAULT_BASE_URL, LoginArgs, ServeArgs},
};

/// `pluggedin-mcp login`.
pub async fn login(args: &LoginArgs) -> anyhow::Result<()> {
    let base_url = args.base_url.trim_end_matches('/').to_string();
    let mut stderr = std::io::stderr();
    let key = device::sign_in(&base_url, !args.no_browser, &mut stderr).await?;
    crate::redact::log::register(key.expose());
    let path = credentials::save(&credentials::Stored {
        base_url: base_url.clone(),
        api_key: key.expose().to_string(),
    })?;
    eprintln!(
        "Signed in to {base_url}. The key is stored in {} (readable by you only); every MCP client that runs pluggedin-mcp uses it.",
        path.display()
    );
    Ok(())
}

/// `pluggedin-mcp logout`.
pub fn logout() -> anyhow::Result<()> {
    let path = credentials::path()?;
    if credentials::remove()? {
        eprintln!(
            "Signed out: {} removed. The key itself stays valid until you revoke it in Plugged.in (Settings → API keys).",
            path.display()
        );
    } else {
        eprintln!("Not signed in (no {}).", path.display());
    }
    Ok(())
}

/// The key a server started now would use, outside passthrough: `PLUGGEDIN_API_KEY` (with
/// `PLUGGEDIN_API_BASE_URL`), else the stored sign-in. `source` says which, for messages.
pub struct CurrentKey {
    pub base_url: String,
    pub key: crate::secret::Secret,
    pub source: String,
}

pub fn current_key() -> Option<CurrentKey> {
    let env_key = std::env::var("PLUGGEDIN_API_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty());
    let current = match env_key {
        Some(key) => CurrentKey {
            base_url: std::env::var("PLUGGEDIN_API_BASE_URL")
                .unwrap_or_else(|_| DEFAULT_BASE_URL.into()),
            key: crate::secret::Secret::new(key.trim()),
            source: "PLUGGEDIN_API_KEY".into(),
        },
        None => {
            let stored = credentials::load()?;
            let path = credentials::path()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            CurrentKey {
                base_url: stored.base_url.clone(),
                key: stored.key(),
                source: format!("`pluggedin-mcp login` ({path})"),
            }
        }
    };
    crate::redact::log::register(current.key.expose());
    Some(current)
}

impl CurrentKey {
    /// Whether Plugged.in accepts the key: how many MCP servers the account has, or why not.
    pub async fn check(&self, timeout: std::time::Duration) -> anyhow::Result<usize> {
        let settings = crate::api::ClientSettings {
            timeout,
            max_retries: 1,
        };
        let client = Client::new(&self.base_url, self.key.clone(), settings)?;
        Ok(client.mcp_servers().await?.len())
    }
}

/// `pluggedin-mcp whoami`: which key a server started now would use, and whether
/// Plugged.in accepts it. Fails when none would be used or it is refused.
pub async fn whoami() -> anyhow::Result<()> {
    let Some(current) = current_key() else {
        anyhow::bail!(
            "not signed in: run `pluggedin-mcp login` (or set PLUGGEDIN_API_KEY); without a key, pluggedin-mcp runs in local mode"
        );
    };
    let key = current.key.expose();
    let shown = format!("pg_in_…{}", &key[key.len().saturating_sub(4)..]);
    println!(
        "Plugged.in: {}\nkey: {shown}, from {}",
        current.base_url, current.source
    );
    match current.check(std::time::Duration::from_secs(30)).await {
        Ok(servers) => {
            println!("accepted: the hub has {servers} MCP server(s) in this account");
            Ok(())
        }
        Err(error) => anyhow::bail!("Plugged.in did not accept the key: {error}"),
    }
}

/// The key a server run uses: `PLUGGEDIN_API_KEY`, else — unless a key file or `--local`
/// decides — the stored sign-in (looked for in `env.sign_in_dir`), whose Plugged.in replaces
/// the default base URL. A stored key is never sent to another base URL than the one it
/// came from.
pub fn with_stored_key(
    mut args: ServeArgs,
    env: &crate::config::Environment,
) -> (ServeArgs, Option<String>) {
    let env_key = env.api_key.clone();
    // Passthrough serves each client with its own key: a server-wide one has no place.
    let passthrough = args.http.auth == crate::config::AuthChoice::Passthrough;
    if env_key.is_some() || args.api_key_file.is_some() || args.local || passthrough {
        return (args, env_key);
    }
    let Some(stored) = env.sign_in_dir.as_deref().and_then(credentials::load_from) else {
        return (args, env_key);
    };
    let base_url = args.base_url.trim_end_matches('/');
    let default_base = base_url == DEFAULT_BASE_URL && !env.base_url_given;
    if default_base {
        args.base_url = stored.base_url.clone();
    } else if base_url != stored.base_url {
        tracing::warn!(
            "the stored sign-in is for {}, not {base_url}: not used (run `pluggedin-mcp login --base-url {base_url}`)",
            stored.base_url
        );
        return (args, env_key);
    }
    tracing::info!("using the key from `pluggedin-mcp login`");
    (args, Some(stored.api_key))
}
