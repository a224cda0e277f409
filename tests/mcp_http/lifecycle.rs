//! Session lifecycle and graceful shutdown.

use std::time::Duration;

use crate::{
    common::http::{call, spawn_http, start_local_http},
    standin,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn sessions_end_with_delete_and_unknown_ids_are_404() {
    let (server, _dir) = start_local_http(&[]);
    let http = reqwest::Client::new();
    let url = server.mcp_url();
    let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": { "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "raw", "version": "1" } } });
    let resp = http
        .post(&url)
        .header("accept", "application/json, text/event-stream")
        .json(&init)
        .send()
        .await
        .unwrap();
    let session = resp.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    drop(resp);
    let health: Value = http
        .get(format!("{}/health", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["sessions"], 1);
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" });
    let unknown = http
        .post(&url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", "no-such-session")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&list)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let deleted = http
        .delete(&url)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    // 204: the MCP Python SDK (under Pydantic AI, the OpenAI Agents SDK and LangChain's
    // adapters) reports any other success but 200 as a failed termination.
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let after = http
        .post(&url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .json(&list)
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.status(),
        StatusCode::NOT_FOUND,
        "a deleted session is gone"
    );
}

#[tokio::test]
async fn sigterm_lets_in_flight_calls_finish_closes_streams_and_exits_zero() {
    let (upstream, _seen) = standin::start().await;
    let mut server = spawn_http(
        &[],
        &[
            ("PLUGGEDIN_API_KEY", "pg_in_x"),
            ("PLUGGEDIN_API_BASE_URL", &upstream),
        ],
    );
    let client = server.connect(None).await;
    // An open legacy SSE stream must be closed by the shutdown.
    let sse = reqwest::Client::new()
        .get(format!("{}/sse", server.base))
        .send()
        .await
        .unwrap();
    let slow =
        tokio::spawn(
            async move { call(&client, "clipboard_get", json!({ "name": "slow" })).await },
        );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (status, server)
    });
    let (err, value) = slow.await.unwrap();
    assert!(!err, "the in-flight call finished: {value}");
    assert_eq!(value["value"], "slow");
    let (status, server) = status.await.unwrap();
    assert!(
        status.success(),
        "exit status {status:?}; stderr: {}",
        server.stderr()
    );
    let rest = tokio::time::timeout(Duration::from_secs(5), sse.bytes()).await;
    assert!(rest.is_ok(), "the SSE stream was closed");
}
