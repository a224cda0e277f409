//! Setting up MCP clients: `install` adds one `pluggedin` entry to a client's
//! configuration, `uninstall` removes only it, and `import` moves the client's other servers
//! behind the hub (into the servers file, leaving the one `pluggedin` entry that serves
//! them). Every change keeps the rest of the file byte for byte ([`edit`]), is skipped when
//! there is nothing to change, shows as a diff with `--dry-run`, and leaves the previous
//! file beside it as `<file>.pluggedin-backup`.

pub mod clients;
pub mod doctor;
pub mod edit;

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};

pub use clients::ClientKind;
use clients::Format;
use edit::Entry;

/// The name of our entry in every client.
pub const ENTRY: &str = "pluggedin";

/// Where a command acts: the client, its file, and whether only to show the change.
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// The client: claude-desktop, claude-code, cursor, vscode, windsurf, zed or codex.
    #[arg(value_enum)]
    pub client: ClientKind,
    /// The client's configuration file, if not where the client keeps it by default.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print the change as a diff and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

impl Target {
    fn path(&self) -> anyhow::Result<PathBuf> {
        match &self.config {
            Some(path) => Ok(path.clone()),
            None => self.client.default_path(),
        }
    }
}

/// Options of `pluggedin-mcp import`.
#[derive(clap::Args, Debug, Clone)]
pub struct ImportArgs {
    #[command(flatten)]
    pub target: Target,
    /// The hub's servers file to move them into [default: servers.json in the config
    /// folder, beside the stored sign-in].
    #[arg(long, value_name = "FILE")]
    pub servers: Option<PathBuf>,
}

/// This program, as a client should start it: `npx -y <package>` when it was started by
/// the npm package's launcher (its own path is in npm's cache, which npm may clean), else
/// its full path (desktop clients do not read the shell's PATH). Command, then the
/// arguments that come before ours.
fn our_command() -> anyhow::Result<(String, Vec<String>)> {
    if let Ok(package) = std::env::var("PLUGGEDIN_MCP_NPM_PACKAGE")
        && !package.is_empty()
    {
        return Ok(("npx".into(), vec!["-y".into(), package]));
    }
    let exe = std::env::current_exe().context("finding this program's path")?;
    let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
    Ok((exe.to_string_lossy().into_owned(), Vec::new()))
}

/// Our entry for `format`: `command` (and `args`), in the client's own shape, keeping what
/// an existing entry of ours adds (a `--servers` from `import`, env).
fn our_entry(
    format: Format,
    existing: Option<&Entry>,
    args: Option<Vec<String>>,
) -> anyhow::Result<Entry> {
    let mut entry = existing.cloned().unwrap_or_default();
    if let Format::Json {
        typed,
        custom_source,
        ..
    } = format
    {
        if typed {
            entry.insert("type".into(), json!("stdio"));
        }
        if custom_source {
            entry.insert("source".into(), json!("custom"));
        }
    }
    let (command, mut lead) = our_command()?;
    entry.insert("command".into(), json!(command));
    // Our own arguments: given (`import`'s --servers), else what the entry had after the
    // launcher's.
    let own: Vec<String> = match args {
        Some(args) => args,
        None => entry
            .get("args")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .skip_while(|a| *a == "-y" || crate::hub::lineage::is_pluggedin_mcp(a))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    };
    lead.extend(own);
    if lead.is_empty() {
        entry.remove("args");
    } else {
        entry.insert("args".into(), json!(lead));
    }
    Ok(entry)
}

fn read(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes `new` over `path` (whose text was `old`), or prints the diff when `dry_run`.
/// Says whether anything changed.
fn apply(path: &Path, old: &str, new: &str, dry_run: bool) -> anyhow::Result<bool> {
    if old == new {
        return Ok(false);
    }
    if dry_run {
        let diff = similar::TextDiff::from_lines(old, new);
        print!(
            "{}",
            diff.unified_diff()
                .header(&path.display().to_string(), &path.display().to_string())
        );
        return Ok(true);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if !old.is_empty() {
        let backup = backup_path(path);
        std::fs::write(&backup, old).with_context(|| format!("writing {}", backup.display()))?;
    }
    let tmp = path.with_extension("pluggedin-tmp");
    std::fs::write(&tmp, new).with_context(|| format!("writing {}", tmp.display()))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".pluggedin-backup");
    path.with_file_name(name)
}

fn context(client: ClientKind, path: &Path) -> String {
    format!("{} configuration {}", client.name(), path.display())
}

/// `pluggedin-mcp install <client>`.
pub fn install(target: &Target) -> anyhow::Result<()> {
    let path = target.path()?;
    let format = target.client.format();
    let old = read(&path)?;
    let existing = edit::entries(format, &old).with_context(|| context(target.client, &path))?;
    let ours = existing.iter().find(|(n, _)| n == ENTRY).map(|(_, e)| e);
    let entry = our_entry(format, ours, None)?;
    let new =
        edit::set(format, &old, ENTRY, &entry).with_context(|| context(target.client, &path))?;
    if !apply(&path, &old, &new, target.dry_run)? {
        eprintln!(
            "{} already runs pluggedin-mcp ({}): nothing to change.",
            target.client.name(),
            path.display()
        );
    } else if !target.dry_run {
        eprintln!(
            "Added pluggedin-mcp to {} ({}; the previous file is {}). Restart {} to load it.",
            target.client.name(),
            path.display(),
            backup_path(&path).display(),
            target.client.name()
        );
    }
    Ok(())
}

/// `pluggedin-mcp uninstall <client>`: removes our entry only.
pub fn uninstall(target: &Target) -> anyhow::Result<()> {
    let path = target.path()?;
    let format = target.client.format();
    let old = read(&path)?;
    let new = edit::remove(format, &old, &[ENTRY.to_string()])
        .with_context(|| context(target.client, &path))?;
    if !apply(&path, &old, &new, target.dry_run)? {
        eprintln!(
            "{} has no pluggedin entry ({}): nothing to change.",
            target.client.name(),
            path.display()
        );
    } else if !target.dry_run {
        eprintln!(
            "Removed pluggedin-mcp from {} ({}).",
            target.client.name(),
            path.display()
        );
    }
    Ok(())
}

/// The hub's servers file `import` writes by default.
pub fn default_servers_file() -> anyhow::Result<PathBuf> {
    Ok(crate::login::credentials::dir()?.join("servers.json"))
}

/// Whether an entry starts pluggedin-mcp (ours, or one the user made by hand).
fn runs_us(entry: &Entry) -> bool {
    let words = entry.get("command").into_iter().chain(
        entry
            .get("args")
            .and_then(Value::as_array)
            .into_iter()
            .flatten(),
    );
    words
        .filter_map(Value::as_str)
        .any(crate::hub::lineage::is_pluggedin_mcp)
}

/// `pluggedin-mcp import <client>`: the client's other servers move into the hub's servers
/// file (merged by name with what it holds), and the client keeps one `pluggedin` entry
/// that serves them all.
pub fn import(args: &ImportArgs) -> anyhow::Result<()> {
    let target = &args.target;
    let path = target.path()?;
    let format = target.client.format();
    let old = read(&path)?;
    let existing = edit::entries(format, &old).with_context(|| context(target.client, &path))?;
    let moving: Vec<(String, Entry)> = existing
        .iter()
        .filter(|(name, entry)| name != ENTRY && !runs_us(entry))
        .cloned()
        .collect();
    let servers_path = match &args.servers {
        Some(path) => path.clone(),
        None => default_servers_file()?,
    };
    let servers_path = std::path::absolute(&servers_path).unwrap_or(servers_path);
    let servers_old = read(&servers_path)?;
    let hub_format = Format::Json {
        key: "mcpServers",
        typed: false,
        custom_source: false,
    };
    let mut servers_new = if servers_old.trim().is_empty() {
        "{\n  \"mcpServers\": {}\n}\n".to_string()
    } else {
        servers_old.clone()
    };
    for (name, entry) in &moving {
        servers_new = edit::set(hub_format, &servers_new, name, entry)
            .with_context(|| format!("the servers file {}", servers_path.display()))?;
    }
    let ours = existing.iter().find(|(n, _)| n == ENTRY).map(|(_, e)| e);
    let entry = our_entry(
        format,
        ours,
        Some(vec![
            "--servers".into(),
            servers_path.to_string_lossy().into_owned(),
        ]),
    )?;
    let names: Vec<String> = moving.iter().map(|(n, _)| n.clone()).collect();
    let client_new = edit::remove(format, &old, &names)
        .and_then(|text| edit::set(format, &text, ENTRY, &entry))
        .with_context(|| context(target.client, &path))?;
    // The servers first: if writing the client's file fails, nothing is lost.
    let moved = apply(&servers_path, &servers_old, &servers_new, target.dry_run)?;
    let changed = apply(&path, &old, &client_new, target.dry_run)?;
    if target.dry_run {
        return Ok(());
    }
    if !moved && !changed {
        eprintln!(
            "Nothing to import: {} runs only pluggedin-mcp.",
            target.client.name()
        );
        return Ok(());
    }
    eprintln!(
        "Moved {} server(s) of {} ({}) into {}: {}. {} now starts only pluggedin-mcp, which offers their tools as <server>__<tool>; edits to the servers file apply without a restart. Restart {} to load it.",
        names.len(),
        target.client.name(),
        path.display(),
        servers_path.display(),
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        },
        target.client.name(),
        target.client.name()
    );
    Ok(())
}
