//! The MCP clients `install`, `uninstall` and `import` know: where each keeps its servers
//! (per operating system, as each documents it) and the shape of an entry there.

use std::path::PathBuf;

use anyhow::Context;

/// A client, as named on the command line.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    ClaudeDesktop,
    ClaudeCode,
    Cursor,
    #[value(name = "vscode")]
    VsCode,
    Windsurf,
    Zed,
    Codex,
}

/// How a client's file holds its servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A JSON (or JSONC) object under this key of the root.
    Json {
        key: &'static str,
        /// Entries carry `"type": "stdio"`.
        typed: bool,
        /// Entries carry `"source": "custom"` (Zed).
        custom_source: bool,
    },
    /// TOML tables `[mcp_servers.<name>]` (Codex CLI).
    Toml,
}

fn home() -> anyhow::Result<PathBuf> {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .context("HOME is not set: give the client's configuration file with --config PATH")
}

/// The folder desktop applications keep their settings in: `~/.config` (or
/// `$XDG_CONFIG_HOME`) on Linux, `~/Library/Application Support` on macOS, `%APPDATA%` on
/// Windows.
fn app_config() -> anyhow::Result<PathBuf> {
    if cfg!(target_os = "macos") {
        return Ok(home()?.join("Library/Application Support"));
    }
    if cfg!(windows) {
        return std::env::var_os("APPDATA").map(PathBuf::from).context(
            "APPDATA is not set: give the client's configuration file with --config PATH",
        );
    }
    match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => Ok(home()?.join(".config")),
    }
}

impl ClientKind {
    pub fn name(self) -> &'static str {
        match self {
            ClientKind::ClaudeDesktop => "Claude Desktop",
            ClientKind::ClaudeCode => "Claude Code",
            ClientKind::Cursor => "Cursor",
            ClientKind::VsCode => "VS Code",
            ClientKind::Windsurf => "Windsurf",
            ClientKind::Zed => "Zed",
            ClientKind::Codex => "Codex CLI",
        }
    }

    pub fn format(self) -> Format {
        let json = |key, typed, custom_source| Format::Json {
            key,
            typed,
            custom_source,
        };
        match self {
            ClientKind::ClaudeDesktop | ClientKind::Cursor | ClientKind::Windsurf => {
                json("mcpServers", false, false)
            }
            ClientKind::ClaudeCode => json("mcpServers", true, false),
            ClientKind::VsCode => json("servers", true, false),
            ClientKind::Zed => json("context_servers", false, true),
            ClientKind::Codex => Format::Toml,
        }
    }

    /// The user-wide configuration file the client documents.
    pub fn default_path(self) -> anyhow::Result<PathBuf> {
        Ok(match self {
            ClientKind::ClaudeDesktop => app_config()?.join("Claude/claude_desktop_config.json"),
            ClientKind::ClaudeCode => home()?.join(".claude.json"),
            ClientKind::Cursor => home()?.join(".cursor/mcp.json"),
            ClientKind::VsCode => app_config()?.join("Code/User/mcp.json"),
            ClientKind::Windsurf => home()?.join(".codeium/windsurf/mcp_config.json"),
            ClientKind::Zed => {
                if cfg!(windows) {
                    app_config()?.join("Zed/settings.json")
                } else {
                    // Zed reads ~/.config/zed on macOS too.
                    std::env::var_os("XDG_CONFIG_HOME")
                        .filter(|v| !v.is_empty())
                        .map_or_else(
                            || home().map(|h| h.join(".config")),
                            |d| Ok(PathBuf::from(d)),
                        )?
                        .join("zed/settings.json")
                }
            }
            ClientKind::Codex => std::env::var_os("CODEX_HOME")
                .filter(|v| !v.is_empty())
                .map_or_else(
                    || home().map(|h| h.join(".codex")),
                    |d| Ok(PathBuf::from(d)),
                )?
                .join("config.toml"),
        })
    }
}
