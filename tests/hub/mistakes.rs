//! Start-up mistakes keep the server up, like a bad key does: a servers file that is not
//! JSON, a data folder that cannot be used, and a servers file whose entry would start
//! pluggedin-mcp again with the same file (directly, or through a chain of files).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{common::mcp, stdio_server, wait_for_tools, write_servers};

fn instructions(mcp: &mcp::Mcp) -> String {
    mcp.client
        .peer_info()
        .and_then(|info| info.instructions.clone())
        .unwrap_or_default()
}

/// The hub's report on the server named `name`, once it is `failed`.
async fn failed(mcp: &mcp::Mcp, name: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = mcp.ok("hub_status", json!({})).await;
        let server = status["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned();
        if let Some(server) = server.filter(|s| s["state"] == "failed") {
            return server;
        }
        assert!(Instant::now() < deadline, "{name} not failed: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_servers_file_that_is_not_json_keeps_the_server_up_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("servers.json");
    std::fs::write(
        &file,
        "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\"},\n  }\n}\n",
    )
    .unwrap();
    let mcp = mcp::start(&["--servers", file.to_str().unwrap()], &[]).await;
    // The built-in tools work.
    mcp.ok("clipboard_set", json!({"name": "k", "value": "v"}))
        .await;
    let said = instructions(&mcp);
    assert!(
        said.contains("HUB CONFIGURATION PROBLEM") && said.contains("line 4"),
        "{said}"
    );
    let entry = failed(&mcp, "servers-file").await;
    let reason = entry["error"].as_str().unwrap_or_default().to_string() + &entry.to_string();
    assert!(reason.contains(file.to_str().unwrap()), "{reason}");
    assert!(reason.contains("--servers"), "{reason}");
    // Fixed and saved: applied without a restart.
    write_servers(&file, json!({"fixed": stdio_server("F")}));
    wait_for_tools(&mcp.client, "the fixed file's server", |n| {
        n.contains(&"fixed__echo".into()) && !n.iter().any(|t| t.starts_with("servers-file"))
    })
    .await;
}

#[tokio::test]
async fn a_data_folder_that_cannot_be_used_keeps_the_server_up_and_names_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_folder = dir.path().join("a-file");
    std::fs::write(&not_a_folder, "").unwrap();
    let mcp = mcp::spawn(&["--data-dir", not_a_folder.to_str().unwrap()], &[]).await;
    let said = instructions(&mcp);
    assert!(said.contains("CONFIGURATION ERROR"), "{said}");
    let error = mcp.err("clipboard_list", json!({})).await;
    assert!(
        error.contains("--data-dir") && error.contains(not_a_folder.to_str().unwrap()),
        "{error}"
    );
    mcp.close().await;
}

#[tokio::test]
async fn an_entry_that_would_start_this_hub_again_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("claude_desktop_config.json");
    let me = env!("CARGO_BIN_EXE_pluggedin-mcp");
    write_servers(
        &file,
        json!({
            "pluggedin": {"command": me, "args": ["--servers", file]},
            "fixture": stdio_server("F"),
        }),
    );
    let mcp = mcp::start(&["--servers", file.to_str().unwrap()], &[]).await;
    wait_for_tools(&mcp.client, "the other server", |n| {
        n.contains(&"fixture__echo".into())
    })
    .await;
    let entry = failed(&mcp, "pluggedin").await;
    assert!(entry.to_string().contains("start itself again"), "{entry}");
    let said = instructions(&mcp);
    assert!(said.contains("start itself again"), "{said}");
}

#[tokio::test]
async fn a_chain_of_files_back_to_the_first_stops_at_the_first_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("a.json");
    let second = dir.path().join("b.json");
    let me = env!("CARGO_BIN_EXE_pluggedin-mcp");
    let data = dir.path().join("data");
    let child = |servers: &std::path::Path| json!({"command": me, "args": ["--servers", servers, "--data-dir", data, "--hub-list-wait", "0"]});
    write_servers(&first, json!({"b": child(&second)}));
    write_servers(&second, json!({"a": child(&first)}));
    let mcp = mcp::start(&["--servers", first.to_str().unwrap()], &[]).await;
    // The second level runs (its own file is new to the chain) and refuses the entry that
    // would serve the first file again.
    wait_for_tools(&mcp.client, "the second level's tools", |n| {
        n.contains(&"b__hub_status".into())
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let inner = mcp.call("b__hub_status", json!({})).await;
        let text = inner
            .structured_content
            .clone()
            .map(|v| v.to_string())
            .unwrap_or_default();
        if text.contains("start itself again") {
            break;
        }
        assert!(Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
