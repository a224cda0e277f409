//! The key `pluggedin-mcp login` got, kept for every later run: `credentials.json` in the
//! user's config folder (`$PLUGGEDIN_CONFIG_DIR`, else `$XDG_CONFIG_HOME/pluggedin-mcp`,
//! else `~/.config/pluggedin-mcp`), the folder 0700 and the file 0600, written whole
//! (a temporary file renamed over the old one) so no reader sees half of it.

use std::{
    fs::{DirBuilder, OpenOptions},
    io::Write,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::PathBuf,
};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// A signed-in account: which Plugged.in, and the key it gave. A hand-edited file with a
/// misspelt field is refused (and reported), not half read.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stored {
    pub base_url: String,
    pub api_key: String,
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stored")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Stored {
    pub fn key(&self) -> Secret {
        Secret::new(self.api_key.clone())
    }
}

/// The config folder (see [`crate::config::config_dir`]).
pub fn dir() -> anyhow::Result<PathBuf> {
    crate::config::config_dir()
        .context("neither PLUGGEDIN_CONFIG_DIR, XDG_CONFIG_HOME nor HOME is set")
}

pub fn path() -> anyhow::Result<PathBuf> {
    Ok(dir()?.join("credentials.json"))
}

/// The stored account, if there is one that can be read. One that cannot is reported and
/// ignored (the server then runs as if never signed in).
pub fn load() -> Option<Stored> {
    load_from(&dir().ok()?)
}

/// [`load`] from the config folder `dir`.
pub fn load_from(dir: &std::path::Path) -> Option<Stored> {
    let path = dir.join("credentials.json");
    let text = std::fs::read_to_string(&path).ok()?;
    match serde_json::from_str::<Stored>(&text) {
        Ok(stored) if crate::vocab::credentials::is_api_key(&stored.api_key) => Some(stored),
        _ => {
            tracing::warn!(
                "{} cannot be read as credentials; run `pluggedin-mcp login` again",
                path.display()
            );
            None
        }
    }
}

/// Stores `stored`, replacing what was there; returns where.
pub fn save(stored: &Stored) -> anyhow::Result<PathBuf> {
    let dir = dir()?;
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("credentials.json");
    let tmp = dir.join(format!(".credentials.{}.tmp", std::process::id()));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(serde_json::to_string_pretty(stored)?.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Forgets the stored account; says whether there was one.
pub fn remove() -> anyhow::Result<bool> {
    let path = path()?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}
