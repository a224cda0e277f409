//! Streamable HTTP with the rmcp client: stateful, stateless, and the 2026-07-28 lifecycle.

use crate::common::http::{call, start_local_http};
use rmcp::model::ProtocolVersion;
use serde_json::json;

async fn exercise(
    client: &rmcp::service::RunningService<rmcp::RoleClient, crate::common::mcp::Recorder>,
    name: &str,
) {
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), crate::common::LISTED_TOOLS);
    let (err, set) = call(
        client,
        "clipboard_set",
        json!({ "name": name, "value": "over http" }),
    )
    .await;
    assert!(!err, "{set}");
    let (err, got) = call(client, "clipboard_get", json!({ "name": name })).await;
    assert!(!err, "{got}");
    assert_eq!(got["value"], "over http");
    let (err, bad) = call(client, "clipboard_get", json!({ "name": "missing-entry" })).await;
    assert!(err && bad.as_str().unwrap().contains("404"), "{bad}");
}

#[tokio::test]
async fn stateful_sessions() {
    let (server, _dir) = start_local_http(&[]);
    let client = server.connect(None).await;
    let info = client.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().unwrap().name, "pluggedin-mcp");
    assert_eq!(info.protocol_version, ProtocolVersion::V_2025_11_25);
    exercise(&client, "stateful").await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn stateless_mode() {
    let (server, _dir) = start_local_http(&["--stateless"]);
    let client = server.connect(None).await;
    exercise(&client, "stateless").await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn protocol_2026_07_28_without_a_handshake() {
    let (server, _dir) = start_local_http(&[]);
    let client = server.connect_modern().await;
    exercise(&client, "modern").await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn memory_over_http_for_both_protocol_revisions() {
    let (server, _dir) = start_local_http(&[]);
    let legacy = server.connect(None).await;
    let modern = server.connect_modern().await;
    let (err, started) = call(
        &legacy,
        "memory_start",
        json!({ "content_session_id": "http-task" }),
    )
    .await;
    assert!(!err, "{started}");
    let uuid = started["uuid"].as_str().unwrap();
    let (err, observed) = call(
        &modern,
        "memory_observe",
        json!({ "session": uuid, "type": "user_preference", "content": "The user prefers YAML over JSON configs." }),
    )
    .await;
    assert!(!err, "{observed}");
    let (err, found) = call(&legacy, "memory_search", json!({ "query": "YAML configs" })).await;
    assert!(!err, "{found}");
    assert_eq!(found["memories"][0]["ring"], "longterm", "{found}");
    let (err, ended) = call(
        &modern,
        "memory_end",
        json!({ "session": started["memory_session_id"] }),
    )
    .await;
    assert!(!err, "{ended}");
    legacy.cancel().await.unwrap();
    modern.cancel().await.unwrap();
}

#[tokio::test]
async fn ping_is_answered_in_2025_11_25_and_unknown_in_2026_07_28() {
    let (server, _dir) = start_local_http(&[]);
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let refused: serde_json::Value = reqwest::Client::new()
        .post(server.mcp_url())
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "ping")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"_meta": meta}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refused["error"]["code"], -32601, "{refused}");
    let legacy = server.connect(None).await;
    legacy
        .peer()
        .send_request(rmcp::model::ClientRequest::PingRequest(Default::default()))
        .await
        .unwrap();
}
