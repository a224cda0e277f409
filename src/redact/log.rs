//! The log sink: every log line passes through here on its way to stderr, so no secret
//! reaches the log whoever wrote the line — our code, or a library that formats what a
//! downstream server sent (rmcp logs a server's self-description at INFO). The secrets this
//! process holds (the API key, each downstream server's env and header values) are
//! registered as they become known; credential shapes are removed as everywhere else.

use std::{
    io::Write,
    sync::{LazyLock, RwLock},
};

use super::Scrubber;

/// Most secrets remembered; the oldest are forgotten first (a long-running hub whose
/// configuration keeps changing must not grow without bound).
const MAX_SECRETS: usize = 1_024;
/// Shorter values are settings (`1`, `true`, a port), not secrets.
pub const MIN_SECRET_CHARS: usize = 8;

static SECRETS: LazyLock<RwLock<Vec<String>>> = LazyLock::new(RwLock::default);

/// Makes `secret` unprintable in the log from now on — as it is, and as a log line may
/// spell it: escaped for JSON (`--log-format json`) or by Rust's `Debug` (a `?` field).
pub fn register(secret: &str) {
    if secret.chars().count() < MIN_SECRET_CHARS {
        return;
    }
    let json = serde_json::to_string(secret).unwrap_or_default();
    let debug = format!("{secret:?}");
    let spellings = [
        secret,
        json.get(1..json.len().saturating_sub(1)).unwrap_or(secret),
        debug
            .get(1..debug.len().saturating_sub(1))
            .unwrap_or(secret),
    ];
    let mut secrets = SECRETS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for spelling in spellings {
        if secrets.iter().any(|s| s == spelling) {
            continue;
        }
        if secrets.len() >= MAX_SECRETS {
            secrets.remove(0);
        }
        secrets.push(spelling.to_string());
    }
}

/// Removes the registered secrets and credential shapes from one log line.
pub fn scrub_line(line: &str) -> String {
    let secrets = SECRETS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Scrubber::new(secrets.iter().map(String::as_str))
        .scrub(line)
        .into_owned()
}

static JSON_LINES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Log lines are JSON (`--log-format json`): [`announce`] writes JSON too.
pub fn set_json(json: bool) {
    JSON_LINES.store(json, std::sync::atomic::Ordering::Relaxed);
}

/// A line that must reach stderr whatever the log filter (where a server listens): plain,
/// or as one JSON object when log lines are JSON, so a log shipper reads every line.
pub fn announce(message: &str) {
    let line = if JSON_LINES.load(std::sync::atomic::Ordering::Relaxed) {
        serde_json::json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "level": "INFO",
            "message": message,
        })
        .to_string()
    } else {
        message.to_string()
    };
    let _ = writeln!(std::io::stderr().lock(), "{}", scrub_line(&line));
}

/// `tracing_subscriber`'s writer for stderr: collects one event, scrubs it, writes it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScrubbedStderr;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for ScrubbedStderr {
    type Writer = EventBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        EventBuffer(Vec::new())
    }
}

/// One event's text, written (scrubbed) when the formatter is done with it.
pub struct EventBuffer(Vec<u8>);

impl Write for EventBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EventBuffer {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let line = scrub_line(&String::from_utf8_lossy(&self.0));
        // Nowhere to report a failed log write; stderr is the last resort.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_and_shapes_leave_log_lines() {
        register("hub-downstream-secret-value");
        register("short");
        let line = scrub_line(
            "server said hub-downstream-secret-value and Authorization: Bearer abcdef0123456789xyz; short stays",
        );
        assert!(!line.contains("hub-downstream-secret-value"), "{line}");
        assert!(!line.contains("abcdef0123456789xyz"), "{line}");
        assert!(line.contains("short stays"), "{line}");
    }

    #[test]
    fn escaped_spellings_of_a_secret_leave_log_lines_too() {
        let secret = r#"pa"ss\word-with-quote"#;
        register(secret);
        let json = serde_json::json!({ "message": format!("got {secret}") }).to_string();
        let line = scrub_line(&json);
        assert!(!line.contains("word-with-quote"), "{line}");
        let debug = scrub_line(&format!("value={secret:?}"));
        assert!(!debug.contains("word-with-quote"), "{debug}");
    }
}
