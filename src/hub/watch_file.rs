//! The servers file, followed while the server runs: read at start, then re-read when its
//! content changes. Polled (twice a second, comparing content) rather than watched with
//! inotify: editors save by replacing the file, which a watch on the old inode misses, and a
//! poll works the same on every filesystem. A file that becomes unreadable or invalid keeps
//! the last good configuration, and says why in the log.

use std::{path::PathBuf, time::Duration};

use super::{Hub, Source, spec};

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

/// Applies the file to `hub` now, then follows it until `stop`. Fails only when the first
/// read fails, so a wrong path is reported at start.
pub fn follow(
    hub: Hub,
    path: PathBuf,
    stop: tokio_util::sync::CancellationToken,
) -> Result<(), String> {
    let (mut last, specs) = load(&path)?;
    hub.set_source(Source::File, specs);
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
                    hub.set_source(Source::File, specs);
                }
                Err(e) => tracing::warn!(
                    file = %path.display(),
                    "servers file changed but cannot be used, keeping the previous servers: {e}"
                ),
            }
            last = text;
        }
    });
    Ok(())
}
