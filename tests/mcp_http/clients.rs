//! Streamable HTTP with the rmcp client: stateful, stateless, and the 2026-07-28 lifecycle.

use crate::common::http::{call, spawn_local_http};
use rmcp::model::ProtocolVersion;
use serde_json::json;

async fn exercise(
    client: &rmcp::service::RunningService<rmcp::RoleClient, crate::common::mcp::Recorder>,
    name: &str,
) {
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 25);
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
    let (server, _dir) = spawn_local_http(&[]);
    let client = server.connect(None).await;
    let info = client.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().unwrap().name, "pluggedin-mcp");
    assert_eq!(info.protocol_version, ProtocolVersion::V_2025_11_25);
    exercise(&client, "stateful").await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn stateless_mode() {
    let (server, _dir) = spawn_local_http(&["--stateless"]);
    let client = server.connect(None).await;
    exercise(&client, "stateless").await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn protocol_2026_07_28_without_a_handshake() {
    let (server, _dir) = spawn_local_http(&[]);
    let client = server.connect_modern().await;
    exercise(&client, "modern").await;
    client.cancel().await.unwrap();
}
