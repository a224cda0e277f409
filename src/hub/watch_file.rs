//! The servers file, followed while the server runs: read at start, then re-read when its
//! content changes. Polled (twice a second, comparing content) rather than watched with
//! inotify: editors save by replacing the file, which a watch on the old inode misses, and a
//! poll works the same on every filesystem. A file that becomes unreadable or invalid keeps
//! the last good configuration, and says why in the log. A file that cannot be used at start
//! does not stop the server: the hub shows one failed entry, [`FILE_ENTRY`], saying what is
//! wrong and where, until the file is fixed.

use std::{path::PathBuf, time::Duration};

use super::{Hub, Source, lineage, spec};

/// The name of the entry that stands for the file itself while it cannot be used.
pub const FILE_ENTRY: &str = "servers-file";

const POLL: Duration = Duration::from_millis(500);
/// A servers file larger than this is refused (it is a small JSON document).
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The file's text, refused beyond [`MAX_FILE_BYTES`].
fn read_bounded(path: &std::path::Path) -> Result<String, String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read the servers file {}: {e}", path.display()))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "the servers file {} is {} bytes; the limit is {MAX_FILE_BYTES}",
            path.display(),
            meta.len()
        ));
    }
    std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the servers file {}: {e}", path.display()))
}

/// Reads and parses the file once.
pub fn load(path: &std::path::Path) -> Result<(String, Vec<spec::ServerSpec>), String> {
    let text = read_bounded(path)?;
    let specs = spec::parse_file(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((text, specs))
}

/// The entry shown in place of the file's servers while it cannot be used.
fn problem(why: &str) -> Vec<spec::ServerSpec> {
    vec![spec::ServerSpec::invalid(
        FILE_ENTRY,
        format!(
            "{why} (the file given by --servers or PLUGGEDIN_SERVERS_FILE). Fix it and save: it is read again within a second, no restart needed"
        ),
    )]
}

/// Applies the file to `hub` now, then follows it until `stop`. A file that cannot be used
/// (missing, not JSON, already served by a hub above this process) shows as one failed
/// entry instead of stopping the server; the built-in tools work meanwhile.
pub fn follow(hub: Hub, path: PathBuf, stop: tokio_util::sync::CancellationToken) {
    if let Err(why) = lineage::serve(&path) {
        tracing::error!("{why}");
        hub.set_source(Source::File, problem(&why));
        return;
    }
    let mut last = match load(&path) {
        Ok((text, specs)) => {
            hub.set_source(Source::File, lineage::refuse_self_starts(specs));
            text
        }
        Err(why) => {
            tracing::error!(
                "{why}; the built-in tools work meanwhile, and the file is read again when it changes"
            );
            hub.set_source(Source::File, problem(&why));
            String::new()
        }
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(POLL) => {}
            }
            let text = match read_bounded(&path) {
                Ok(text) => text,
                Err(e) if e.contains("limit") => {
                    tracing::warn!("{e}; keeping the previous servers");
                    continue;
                }
                Err(_) => continue, // mid-replace, or gone for now: keep what runs
            };
            if text == last {
                continue;
            }
            match spec::parse_file(&text) {
                Ok(specs) => {
                    tracing::info!(file = %path.display(), "servers file changed; applying");
                    hub.set_source(Source::File, lineage::refuse_self_starts(specs));
                }
                Err(e) => tracing::warn!(
                    file = %path.display(),
                    "servers file changed but cannot be used, keeping the previous servers: {e}"
                ),
            }
            last = text;
        }
    });
}
