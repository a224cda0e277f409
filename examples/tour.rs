//! A guided tour: drives the `pluggedin-mcp` binary as an MCP client would, in local mode
//! (no account, no network), and prints what it sees.
//!
//! ```sh
//! cargo run --example tour
//! ```
//!
//! It builds the server binary if needed, starts it over stdio with a fresh data directory,
//! then deploys an agent and brings it to ACTIVE, writes and searches documents, asks the
//! knowledge base, uses the clipboard as a stack, and sends a notification.

use std::{path::PathBuf, process::Stdio};

use anyhow::{Context, bail};
use rmcp::{ServiceExt, model::CallToolRequestParams, transport::TokioChildProcess};
use serde_json::{Value, json};
use tokio::process::Command;

/// The server binary next to this example (`target/<profile>/pluggedin-mcp`), built first
/// when we run under cargo. `PLUGGEDIN_MCP_BIN` overrides it.
fn server_binary() -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("PLUGGEDIN_MCP_BIN") {
        return Ok(bin.into());
    }
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(|examples| examples.parent())
        .context("cannot locate the target directory")?;
    if let Some(cargo) = std::env::var_os("CARGO") {
        let release = profile_dir.ends_with("release");
        let mut build = std::process::Command::new(cargo);
        build.args(["build", "--quiet", "--bin", "pluggedin-mcp"]);
        // `cargo run` gives this process the variables it sets for a running target
        // (CARGO_MANIFEST_DIR, CARGO_PKG_NAME, …). Some build scripts (ring's) rebuild when
        // they change, so passing them on would rebuild ring, rustls, reqwest, rmcp and this
        // crate now and again at the next plain `cargo run`. The build must be the same one
        // `cargo build` makes.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            let set_for_targets = ["CARGO_MANIFEST_", "CARGO_PKG_"]
                .iter()
                .any(|p| name.starts_with(p))
                || [
                    "CARGO_CRATE_NAME",
                    "CARGO_BIN_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_RUSTC_CURRENT_DIR",
                    "CARGO_TARGET_TMPDIR",
                ]
                .contains(&name.as_ref());
            if set_for_targets {
                build.env_remove(name.as_ref());
            }
        }
        if release {
            build.arg("--release");
        }
        if !build.status().context("running cargo build")?.success() {
            bail!("building the pluggedin-mcp binary failed");
        }
    }
    let bin = profile_dir.join("pluggedin-mcp");
    if !bin.exists() {
        bail!(
            "{} not found; run `cargo build` first or set PLUGGEDIN_MCP_BIN",
            bin.display()
        );
    }
    Ok(bin)
}

struct Tour {
    client: rmcp::service::RunningService<rmcp::RoleClient, ()>,
}

impl Tour {
    /// Calls a tool, prints a one-line summary, and returns its structured content.
    async fn call(&self, tool: &str, args: Value, show: &[&str]) -> anyhow::Result<Value> {
        let Value::Object(map) = args else {
            bail!("arguments must be an object")
        };
        let result = self
            .client
            .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(map))
            .await?;
        if result.is_error == Some(true) {
            let text: Vec<String> = result
                .content
                .iter()
                .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                .collect();
            bail!("{tool} failed: {}", text.join(" "));
        }
        let value = result.structured_content.unwrap_or(Value::Null);
        let picked: Vec<String> = show
            .iter()
            .filter_map(|path| {
                let v = path
                    .split('.')
                    .try_fold(&value, |v, k| match k.parse::<usize>() {
                        Ok(i) => v.get(i),
                        Err(_) => v.get(k),
                    })?;
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                Some(format!(
                    "{path}={}",
                    pluggedin_mcp::text::truncate(&text.replace('\n', " "), 70)
                ))
            })
            .collect();
        println!("  {tool:<20} {}", picked.join("  "));
        Ok(value)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bin = server_binary()?;
    let data = tempfile::tempdir()?;
    println!(
        "Starting {} in local mode (data in {})",
        bin.display(),
        data.path().display()
    );
    let mut cmd = Command::new(&bin);
    cmd.arg("--data-dir")
        .arg(data.path())
        .env_remove("PLUGGEDIN_API_KEY")
        .env("RUST_LOG", "warn");
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::inherit())
        .spawn()?;
    let client = ().serve(transport).await.context("MCP handshake")?;
    let info = client.peer_info().context("no server info")?;
    let server = info.server_info.clone().unwrap_or_default();
    println!(
        "Connected to {} {} — {}",
        server.name,
        server.version,
        info.instructions
            .as_deref()
            .unwrap_or("")
            .split(". ")
            .next()
            .unwrap_or("")
    );
    let tools = client.list_all_tools().await?;
    println!("{} tools available\n", tools.len());
    let t = Tour { client };

    println!("Agents (PAP)");
    let agent = t
        .call(
            "create_agent",
            json!({ "name": "tour-agent", "description": "demo agent", "size": "light" }),
            &["name", "state", "url"],
        )
        .await?;
    let uuid = agent["uuid"].as_str().unwrap_or_default().to_string();
    t.call(
        "agent_status",
        json!({ "agent": "tour-agent" }),
        &["state", "health"],
    )
    .await?;
    t.call(
        "agent_heartbeat",
        json!({ "agent": uuid, "mode": "IDLE", "uptime_seconds": 5 }),
        &["message", "transition"],
    )
    .await?;
    t.call(
        "agent_metrics",
        json!({ "agent": uuid, "cpu_percent": 12.5, "memory_mb": 180, "requests_handled": 42 }),
        &["message"],
    )
    .await?;
    t.call(
        "agent_status",
        json!({ "agent": uuid }),
        &[
            "state",
            "health",
            "latest_metrics.cpu_percent",
            "recent_events.0.event",
        ],
    )
    .await?;

    println!("\nDocuments and knowledge base");
    let doc = t
        .call(
            "create_doc",
            json!({
                "title": "Agent operations guide", "category": "guide", "tags": ["ops"],
                "content": "# Operations\n\nAgents send a heartbeat every 30 seconds in IDLE mode.\n\nTo retire an agent, shut it down: it drains for up to 300 seconds, then reports TERMINATED."
            }),
            &["id", "message"],
        )
        .await?;
    t.call(
        "create_doc",
        json!({ "title": "Team lunch", "content": "Soup on Mondays, pasta on Fridays." }),
        &["message"],
    )
    .await?;
    t.call(
        "search_docs",
        json!({ "query": "heartbeat" }),
        &["total", "results.0.title", "results.0.snippet"],
    )
    .await?;
    t.call(
        "rag_ask",
        json!({ "query": "How long does an agent drain?" }),
        &["sources.0.title", "answer"],
    )
    .await?;
    t.call("update_doc", json!({ "id": doc["id"], "operation": "append", "content": "Check agent_status after a restart.", "change_summary": "added a tip" }), &["version"]).await?;
    t.call(
        "get_doc",
        json!({ "id": doc["id"], "versions": true, "content": false }),
        &["version", "versions.0.change_summary"],
    )
    .await?;

    println!("\nClipboard memory");
    t.call(
        "clipboard_set",
        json!({ "name": "current_task", "value": "write the release notes" }),
        &["name", "expires_at"],
    )
    .await?;
    t.call(
        "clipboard_push",
        json!({ "value": "step 1: collect changes" }),
        &["idx"],
    )
    .await?;
    t.call(
        "clipboard_push",
        json!({ "value": "step 2: draft" }),
        &["idx"],
    )
    .await?;
    t.call("clipboard_pop", json!({}), &["entry.idx", "entry.value"])
        .await?;
    t.call(
        "clipboard_get",
        json!({ "name": "current_task" }),
        &["value"],
    )
    .await?;
    t.call("clipboard_list", json!({}), &["total"]).await?;

    println!("\nNotifications");
    t.call(
        "send_notification",
        json!({ "title": "Tour", "message": "The tour is complete", "severity": "SUCCESS" }),
        &["message"],
    )
    .await?;
    t.call(
        "list_notifications",
        json!({ "limit": 5 }),
        &["notifications.0.title", "notifications.1.title"],
    )
    .await?;

    t.client.cancel().await?;
    println!(
        "\nDone. Everything above ran against the embedded Plugged.in-compatible API; set PLUGGEDIN_API_KEY to use Plugged.in itself."
    );
    Ok(())
}
