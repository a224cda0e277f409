//! A hub that would start itself: an entry of the servers file that runs pluggedin-mcp
//! with that same file (a `--servers` pointed at a client's own configuration, which lists
//! pluggedin-mcp) would start a new level every fraction of a second. Two guards: an entry
//! that plainly runs pluggedin-mcp with a file already being served is refused before it
//! starts, and every stdio server is told which files the hubs above it serve
//! ([`CHAIN_ENV`]), so a chain through any name or wrapper (npx, a shell script, a second
//! file pointing back at the first) stops at the first process that finds its own file
//! listed.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    sync::Mutex,
};

use super::spec::{ServerSpec, Transport};

/// The servers files of the hubs that started this process, and of this one: set on each
/// stdio server's environment.
pub const CHAIN_ENV: &str = "PLUGGEDIN_MCP_HUB_CHAIN";

/// The servers files this process serves (canonical): one, but a process may run several
/// hubs (passthrough users share the one file; tests run many servers in one process).
static SERVED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Every file served here and above: what no entry may start pluggedin-mcp with again.
fn served_here_and_above() -> Vec<PathBuf> {
    let mut chain = inherited();
    for path in SERVED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
    {
        if !chain.contains(path) {
            chain.push(path.clone());
        }
    }
    chain
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The files served above this process, from its environment.
fn inherited() -> Vec<PathBuf> {
    std::env::var_os(CHAIN_ENV)
        .map(|chain| std::env::split_paths(&chain).collect())
        .unwrap_or_default()
}

/// Records `path` as this process's servers file; says why it must not be served when a
/// hub above this process already serves it.
pub fn serve(path: &Path) -> Result<(), String> {
    let path = canonical(path);
    if inherited().contains(&path) {
        return Err(format!(
            "the servers file {} is already served by the pluggedin-mcp that started this one (through its servers file): serving it here too would start pluggedin-mcp again and again. Remove the pluggedin-mcp entry from that file, or give this one a servers file of its own",
            path.display()
        ));
    }
    let mut served = SERVED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !served.contains(&path) {
        served.push(path);
    }
    Ok(())
}

/// The value of [`CHAIN_ENV`] for a stdio server started by this process.
pub fn chain_for_children() -> Option<OsString> {
    let chain = served_here_and_above();
    if chain.is_empty() {
        return None;
    }
    std::env::join_paths(chain).ok()
}

/// The entries of `specs`, each one that would start pluggedin-mcp with a file already
/// served (by this process or one above it) replaced by an invalid entry saying so.
pub fn refuse_self_starts(specs: Vec<ServerSpec>) -> Vec<ServerSpec> {
    let served = served_here_and_above();
    specs
        .into_iter()
        .map(|spec| match self_started_file(&spec) {
            Some(file) if served.contains(&canonical(&file)) => {
                let why = format!(
                    "server \"{}\": it runs pluggedin-mcp with the servers file {} that this hub already serves, so it would start itself again and again; it is not started. Remove this entry (the hub is already the pluggedin-mcp of this client)",
                    spec.name,
                    file.display()
                );
                ServerSpec::invalid(&spec.name, why)
            }
            _ => spec,
        })
        .collect()
}

/// The servers file an entry would give pluggedin-mcp, when the entry runs pluggedin-mcp:
/// `--servers FILE` or `--servers=FILE` in its arguments, or `PLUGGEDIN_SERVERS_FILE` in
/// its environment.
fn self_started_file(spec: &ServerSpec) -> Option<PathBuf> {
    let Transport::Stdio {
        command, args, env, ..
    } = &spec.transport
    else {
        return None;
    };
    let runs_us = std::iter::once(command)
        .chain(args.iter())
        .any(|word| is_pluggedin_mcp(word));
    if !runs_us {
        return None;
    }
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if word == "--servers" {
            return words.next().map(PathBuf::from);
        }
        if let Some(file) = word.strip_prefix("--servers=") {
            return Some(PathBuf::from(file));
        }
    }
    env.get("PLUGGEDIN_SERVERS_FILE").map(PathBuf::from)
}

/// Whether a command or argument names this program: its file name (with or without
/// `.exe`), an npm package name ending in it, or this very executable.
pub fn is_pluggedin_mcp(word: &str) -> bool {
    let name = Path::new(word)
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let stem = name.trim_end_matches(".exe");
    let package = word.rsplit('/').next().unwrap_or(word);
    let package = package.split('@').next().unwrap_or(package);
    stem == "pluggedin-mcp"
        || package == "pluggedin-mcp"
        || std::env::current_exe()
            .ok()
            .is_some_and(|me| canonical(Path::new(word)) == canonical(&me))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(json: serde_json::Value) -> ServerSpec {
        super::super::spec::parse_entry("pluggedin", &json)
    }

    #[test]
    fn an_entry_running_us_with_a_served_file_is_found() {
        let file = |spec: serde_json::Value| self_started_file(&entry(spec));
        assert_eq!(
            file(
                serde_json::json!({"command": "/home/u/.cargo/bin/pluggedin-mcp", "args": ["--servers", "/x/c.json"]})
            ),
            Some(PathBuf::from("/x/c.json"))
        );
        assert_eq!(
            file(
                serde_json::json!({"command": "npx", "args": ["-y", "@pluggedin/pluggedin-mcp@1.2", "--servers=/x/c.json"]})
            ),
            Some(PathBuf::from("/x/c.json"))
        );
        assert_eq!(
            file(
                serde_json::json!({"command": "pluggedin-mcp.exe", "env": {"PLUGGEDIN_SERVERS_FILE": "/x/c.json"}})
            ),
            Some(PathBuf::from("/x/c.json"))
        );
        // Another program, or pluggedin-mcp without a servers file (no loop), is left alone.
        assert_eq!(
            file(serde_json::json!({"command": "node", "args": ["--servers", "/x/c.json"]})),
            None
        );
        assert_eq!(file(serde_json::json!({"command": "pluggedin-mcp"})), None);
    }
}
