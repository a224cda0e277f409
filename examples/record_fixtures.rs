//! Records `tests/fixtures/cloud/` from a running Plugged.in app: every route the client
//! calls, successes and errors, as the real server answers them.
//!
//! ```sh
//! PLUGGEDIN_API_BASE_URL=http://127.0.0.1:12005 PLUGGEDIN_API_KEY=pg_in_… \
//!   cargo run --example record_fixtures [-- OUT_DIR]
//! ```
//!
//! Point it at a disposable account (`../shared/real-app/` runs one on loopback): it makes
//! and deletes a document, an agent, a notification and clipboard entries, and clears the
//! clipboard first. The key is never written: any answer that quotes it gets `[REDACTED]`,
//! and the agent export's credentials are redacted as the tools redact them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a developer tool: a failed step should stop it at once, with its message"
)]

#[path = "../tests/contract/scenario.rs"]
mod scenario;

use std::path::PathBuf;

use anyhow::{Context, bail};
use pluggedin_mcp::redact::{Scrubber, redact_json};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = std::env::var("PLUGGEDIN_API_BASE_URL")
        .context("set PLUGGEDIN_API_BASE_URL to the app to record from")?;
    let key = std::env::var("PLUGGEDIN_API_KEY").context("set PLUGGEDIN_API_KEY")?;
    let out: PathBuf = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cloud"));
    pluggedin_mcp::api::install_crypto_provider();
    let target = scenario::Target {
        base: base.trim_end_matches('/').to_string(),
        key: key.clone(),
        http: reqwest::Client::new(),
    };
    let run_tag = format!("{:08x}", rand_tag());
    let exchanges = scenario::run(&target, &run_tag)
        .await
        .map_err(anyhow::Error::msg)?;
    if let Some(limited) = exchanges.iter().find(|e| e.status == 429) {
        bail!(
            "{} was rate limited ({}); the app counts recent calls per key, so wait a minute \
             and record again",
            limited.name,
            limited.body
        );
    }
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let scrubber = Scrubber::new([key.as_str()]);
    for mut exchange in exchanges {
        scrubber.scrub_known_json(&mut exchange.body);
        if exchange.name == "agent_export" {
            redact_json(&mut exchange.body);
        }
        let text = serde_json::to_string_pretty(&exchange)? + "\n";
        if text.contains(&key) {
            bail!("the key survived scrubbing in {}", exchange.name);
        }
        let path = out.join(format!("{}.json", exchange.name));
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        println!(
            "{:>3} {:<6} {:<58} {}",
            exchange.status, exchange.method, exchange.path, exchange.name
        );
    }
    Ok(())
}

/// A tag that makes this run's names unique on a shared account.
fn rand_tag() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    nanos ^ std::process::id().rotate_left(16)
}
