//! Each downstream server's last lists (tools, prompts, resources, templates), kept in the
//! data directory between runs, so a fresh process offers a server's tools in its very
//! first `tools/list` — before the server has even started — and routes a call to it by
//! waiting for it. One small JSON file per server, named by a hash of what the server is
//! (its command, arguments, environment and working directory, or its URL and headers, and
//! the protocol revision asked for): a changed configuration is a new server, with no cache.
//! The files hold tool definitions only, never a server's configuration (whose values may be
//! secrets). Bounded in size and number; a file that cannot be read is ignored.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use serde_json::json;

use super::{
    lists::Lists,
    spec::{Protocol, ServerSpec, Transport},
};

/// The folder under the data directory.
const FOLDER: &str = "hub-cache";
/// Largest file kept (a server with thousands of tools fits).
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
/// Most files kept; the least recently written go first.
const MAX_FILES: usize = 256;

#[derive(Debug, Clone)]
pub struct CatalogCache {
    dir: Arc<PathBuf>,
}

impl CatalogCache {
    /// A cache in `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: Arc::new(data_dir.join(FOLDER)),
        }
    }

    fn file_of(&self, spec: &ServerSpec) -> Option<PathBuf> {
        let identity = match &spec.transport {
            Transport::Stdio {
                command,
                args,
                env,
                cwd,
            } => json!({"stdio": [command, args, env, cwd]}),
            Transport::Http { url, headers } => json!({"http": [url, headers]}),
            Transport::Sse { url, headers } => json!({"sse": [url, headers]}),
            // Lives and dies with this process: nothing to remember across runs.
            Transport::Memory(_) | Transport::Invalid(_) => return None,
        };
        let protocol = match spec.protocol {
            Protocol::Auto => "auto",
            Protocol::V2025 => "2025-11-25",
            Protocol::V2026 => "2026-07-28",
        };
        let key = crate::text::sha256_hex(&json!([identity, protocol]).to_string());
        Some(self.dir.join(format!("{}.json", &key[..32])))
    }

    /// What `spec`'s server listed last time, if it was kept.
    pub fn load(&self, spec: &ServerSpec) -> Option<Lists> {
        let file = self.file_of(spec)?;
        let meta = std::fs::metadata(&file).ok()?;
        if meta.len() > MAX_FILE_BYTES {
            return None;
        }
        let text = std::fs::read(&file).ok()?;
        match serde_json::from_slice(&text) {
            Ok(lists) => Some(lists),
            Err(e) => {
                tracing::debug!(file = %file.display(), "ignoring an unreadable hub cache file: {e}");
                None
            }
        }
    }

    /// Keeps what `spec`'s server lists now (in the background; a failure is only logged).
    pub fn store(&self, spec: &ServerSpec, lists: &Lists) {
        let Some(file) = self.file_of(spec) else {
            return;
        };
        let Ok(text) = serde_json::to_vec(lists) else {
            return;
        };
        if text.len() as u64 > MAX_FILE_BYTES {
            return;
        }
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = write(&dir, &file, &text) {
                tracing::debug!(file = %file.display(), "cannot keep the hub cache: {e}");
            }
        });
    }
}

/// Writes `text` to `file` whole (a reader never sees half of it), in a folder only the
/// user can read, and makes room when the folder is full.
fn write(dir: &Path, file: &Path, text: &[u8]) -> std::io::Result<()> {
    if !dir.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
    }
    prune(dir, file)?;
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, file)
}

/// Removes the oldest files while the folder holds [`MAX_FILES`] (not counting `keep`).
fn prune(dir: &Path, keep: &Path) -> std::io::Result<()> {
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| e.path() != keep)
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if files.len() < MAX_FILES {
        return Ok(());
    }
    files.sort();
    for (_, path) in files.iter().take(files.len() + 1 - MAX_FILES) {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(command: &str) -> ServerSpec {
        super::super::spec::parse_entry("s", &json!({"command": command, "env": {"K": "v"}}))
    }

    #[tokio::test]
    async fn lists_come_back_for_the_same_configuration_only() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let cache = CatalogCache::new(dir.path());
        assert!(cache.load(&spec("a")).is_none());
        let lists = Lists::of_tools(vec![rmcp::model::Tool::new(
            "t",
            "a tool",
            Arc::new(serde_json::Map::new()),
        )]);
        let file = cache.file_of(&spec("a")).unwrap_or_default();
        write(
            &cache.dir,
            &file,
            &serde_json::to_vec(&lists).unwrap_or_default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cache.load(&spec("a")), Some(lists));
        assert!(cache.load(&spec("b")).is_none());
        // The file says nothing of the configuration's values.
        let text = std::fs::read_to_string(file).unwrap_or_default();
        assert!(!text.contains("\"v\""), "{text}");
    }
}
