//! What the parsed command line decides: the mode (Plugged.in, local, or misconfigured,
//! with the key read from the environment or a file) and the settings each layer is given.

use std::path::PathBuf;

use anyhow::{Context, bail};

use super::ServeArgs;
use crate::secret::Secret;

/// Where the MCP server gets its data.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Plugged.in with an API key.
    Cloud { base_url: String, key: Secret },
    /// The embedded API over a local data directory.
    Local { data_dir: PathBuf },
    /// A key was given but cannot be a key (an unexpanded `${…}` placeholder, stray quotes):
    /// the server starts so the client can show why, and every call says what to fix. It is
    /// never quietly run in local mode, nor is the text sent to Plugged.in as a key.
    Misconfigured { problem: String },
}

impl Mode {
    pub fn is_local(&self) -> bool {
        matches!(self, Mode::Local { .. })
    }
}

/// Why `raw` (from `source`) cannot be a Plugged.in API key, or `None` when it can. Keys are
/// `pg_in_` followed by letters, digits, `_` or `-` (the app makes them with nanoid).
pub fn key_problem(raw: &str, source: &str) -> Option<String> {
    let fix = "Put the key itself (pg_in_…, from Plugged.in under Settings → API keys) in your MCP client's configuration, or remove PLUGGEDIN_API_KEY to use local mode.";
    let looks_like_placeholder = raw.starts_with('$')
        || raw.starts_with('%')
        || raw.starts_with('<')
        || raw.starts_with("{{")
        || raw.contains("${");
    if looks_like_placeholder {
        return Some(format!(
            "{source} is the unexpanded placeholder `{}`: your MCP client passed it on literally (Claude Desktop, for one, does not expand variables). {fix}",
            crate::text::truncate(raw, 40)
        ));
    }
    if !crate::vocab::credentials::is_api_key(raw) {
        return Some(format!(
            "{source} is not a Plugged.in API key: keys are pg_in_ followed by letters, digits, _ or - (check for quotes, spaces or a truncated copy). {fix}"
        ));
    }
    None
}

impl ServeArgs {
    /// Decides the mode: `--local`, or no key, means local; a key (env or file) means cloud;
    /// something given as a key that cannot be one means a configuration error.
    /// `env_key` is `PLUGGEDIN_API_KEY`, passed in so tests need not touch the environment.
    pub fn mode(&self, env_key: Option<String>) -> anyhow::Result<Mode> {
        let (key, source) = match &self.api_key_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading the API key file {}", path.display()))?;
                if text.trim().is_empty() {
                    bail!("the API key file {} is empty", path.display());
                }
                (
                    Some(text.trim().to_string()),
                    format!("the API key file {}", path.display()),
                )
            }
            None => (
                env_key
                    .map(|k| k.trim().to_string())
                    .filter(|k| !k.is_empty()),
                "PLUGGEDIN_API_KEY".to_string(),
            ),
        };
        let local = || -> anyhow::Result<Mode> {
            Ok(Mode::Local {
                data_dir: match &self.data_dir {
                    Some(d) => d.clone(),
                    None => crate::local::default_data_dir()?,
                },
            })
        };
        let Some(key) = key.filter(|_| !self.local) else {
            return local();
        };
        if let Some(problem) = key_problem(&key, &source) {
            return Ok(Mode::Misconfigured { problem });
        }
        let base_url = self.base_url.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base_url)
            .with_context(|| format!("PLUGGEDIN_API_BASE_URL is not a URL: {base_url}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!("PLUGGEDIN_API_BASE_URL must be http:// or https://, got {base_url}");
        }
        Ok(Mode::Cloud {
            base_url,
            key: Secret::new(key),
        })
    }

    pub fn selection(&self) -> crate::tools::Selection {
        crate::tools::Selection::new(&self.toolsets, self.read_only)
    }

    /// How the hub offers downstream tools; calls are bounded by `--hub-call-timeout` (by
    /// default `--timeout`) unless a server sets its own.
    pub fn hub_settings(&self) -> crate::hub::HubSettings {
        crate::hub::HubSettings {
            name_budget: self.hub_name_budget,
            call_timeout: self.hub_call_timeout.unwrap_or(self.timeout),
            max_call_time: self.hub_max_call_time,
            tool_search: self.tool_search,
            tool_search_budget: self.tool_search_budget,
            // Limits of one user's hub among many: set by the passthrough tenants.
            max_servers: None,
            connections: None,
            read_only: self.read_only,
            only: self.hub_servers.clone(),
            list_wait: self.hub_list_wait,
            // Kept in the data directory; passthrough hubs (many users) keep nothing.
            cache: None,
        }
    }

    /// What the users of a passthrough server may hold.
    pub fn hub_limits(&self) -> crate::hub::tenants::Limits {
        crate::hub::tenants::Limits {
            per_key: self.hub_max_servers_per_key,
            total: self.hub_max_servers,
            idle: self.hub_idle_timeout,
        }
    }

    pub fn client_settings(&self) -> crate::api::ClientSettings {
        crate::api::ClientSettings {
            timeout: self.timeout,
            max_retries: self.max_retries,
        }
    }
}
