//! What a server run takes from its environment besides the command line, read once at
//! start: the rest of the code is handed this and never reaches for the process's variables
//! (so a server run in a test's process sees only what the test gives it).

use std::{ffi::OsString, path::PathBuf};

/// The environment of one server run. [`Environment::default`] is an empty one: no key, no
/// tokens, no sign-in.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `PLUGGEDIN_API_KEY`, when set and not blank.
    pub api_key: Option<String>,
    /// Whether `PLUGGEDIN_API_BASE_URL` chose the base URL (a stored sign-in's own
    /// Plugged.in then yields to it).
    pub base_url_given: bool,
    /// `PLUGGEDIN_MCP_TOKEN`: the bearer tokens HTTP clients may present, comma-separated.
    pub mcp_tokens: Option<String>,
    /// `PLUGGEDIN_MCP_METRICS_TOKEN`: the token a scraper sends for `/metrics`.
    pub metrics_token: Option<String>,
    /// `PLUGGEDIN_DATA_DIR`, to say what chose a data folder that cannot be used.
    pub data_dir: Option<OsString>,
    /// Where `pluggedin-mcp login` keeps its credentials; `None` ignores any sign-in.
    pub sign_in_dir: Option<PathBuf>,
}

impl Environment {
    /// This process's environment (blank variables count as unset; see `main`).
    pub fn of_process() -> Self {
        // Each name spelt out in its call: a test checks `--help` against the names read.
        let text = |value: Result<String, _>| value.ok().filter(|v: &String| !v.trim().is_empty());
        Environment {
            api_key: text(std::env::var("PLUGGEDIN_API_KEY")),
            base_url_given: text(std::env::var("PLUGGEDIN_API_BASE_URL")).is_some(),
            mcp_tokens: text(std::env::var("PLUGGEDIN_MCP_TOKEN")),
            metrics_token: text(std::env::var("PLUGGEDIN_MCP_METRICS_TOKEN")),
            data_dir: set(std::env::var_os("PLUGGEDIN_DATA_DIR")),
            sign_in_dir: config_dir(),
        }
    }
}

/// Where `pluggedin-mcp login` and `import` keep their files: `PLUGGEDIN_CONFIG_DIR`, else
/// `$XDG_CONFIG_HOME/pluggedin-mcp`, else `~/.config/pluggedin-mcp`; `None` without a home.
pub fn config_dir() -> Option<PathBuf> {
    if let Some(dir) = set(std::env::var_os("PLUGGEDIN_CONFIG_DIR")) {
        return Some(PathBuf::from(dir));
    }
    if let Some(xdg) = set(std::env::var_os("XDG_CONFIG_HOME")) {
        return Some(PathBuf::from(xdg).join("pluggedin-mcp"));
    }
    set(std::env::var_os("HOME")).map(|home| PathBuf::from(home).join(".config/pluggedin-mcp"))
}

/// A variable that is set and not empty.
fn set(value: Option<OsString>) -> Option<OsString> {
    value.filter(|v| !v.is_empty())
}
