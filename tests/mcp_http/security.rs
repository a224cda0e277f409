//! Auth on every route and method, Origin/Host checks, body limits, and passthrough keys.

use std::{collections::HashMap, time::Duration};

use crate::{
    common::http::{call, spawn_http, spawn_local_http},
    standin,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const TOKEN: &str = "inbound-token-1";

fn initialize() -> Value {
    json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": { "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "probe", "version": "1" } } })
}

#[tokio::test]
async fn every_route_and_method_needs_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn_http(
        &["--data-dir", dir.path().to_str().unwrap()],
        &[("PLUGGEDIN_MCP_TOKEN", &format!("other,{TOKEN}"))],
    );
    let http = reqwest::Client::new();
    let base = &server.base;
    let batch = json!([initialize(), { "jsonrpc": "2.0", "id": 2, "method": "tools/list" }]);
    let probes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::POST, "/mcp".into(), Some(initialize())),
        (
            Method::POST,
            "/mcp".into(),
            Some(json!({ "jsonrpc": "2.0", "id": 3, "method": "prompts/list" })),
        ),
        (
            Method::POST,
            "/mcp".into(),
            Some(
                json!({ "jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": { "name": "clipboard_pop" } }),
            ),
        ),
        (
            Method::POST,
            "/mcp".into(),
            Some(json!({ "jsonrpc": "2.0", "id": 5, "method": "server/discover" })),
        ),
        (Method::POST, "/mcp".into(), Some(batch.clone())),
        (Method::GET, "/mcp".into(), None),
        (Method::DELETE, "/mcp".into(), None),
        (Method::POST, "/".into(), Some(initialize())),
        (Method::POST, "/".into(), Some(batch)),
        (Method::GET, "/".into(), None),
        (Method::GET, "/sse".into(), None),
        (
            Method::POST,
            "/message?sessionId=x".into(),
            Some(initialize()),
        ),
        (Method::PUT, "/mcp".into(), None),
        (Method::GET, "/anything/else".into(), None),
    ];
    for (method, path, body) in &probes {
        let mut req = http
            .request(method.clone(), format!("{base}{path}"))
            .header("accept", "application/json, text/event-stream");
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.try_clone().unwrap().send().await.unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path} without a token"
        );
        assert!(resp.headers().contains_key("www-authenticate"));
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            body["error"]["code"], -32001,
            "{method} {path}: a JSON-RPC error body"
        );
        let wrong = req.bearer_auth("inbound-token-2").send().await.unwrap();
        assert_eq!(
            wrong.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path} with a wrong token"
        );
    }
    // Open routes.
    for path in ["/health", "/.well-known/mcp.json"] {
        assert_eq!(
            http.get(format!("{base}{path}"))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK,
            "{path}"
        );
    }
    let card: Value = http
        .get(format!("{base}/.well-known/mcp.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(card["authentication"]["required"], true);
    assert_eq!(card["transports"][0]["url"], "/mcp");
    // With the token, it works.
    let client = server.connect(Some(TOKEN)).await;
    let (err, _) = call(&client, "clipboard_push", json!({ "value": "authorized" })).await;
    assert!(!err);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn origin_host_and_body_size_are_checked() {
    let (server, _dir) = spawn_local_http(&["--allowed-origins", "https://app.example.com"]);
    let http = reqwest::Client::new();
    let url = server.mcp_url();
    let send = |origin: Option<&str>, host: Option<&str>| {
        let mut req = http
            .post(&url)
            .header("accept", "application/json, text/event-stream")
            .json(&initialize());
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(h) = host {
            req = req.header("host", h);
        }
        req.send()
    };
    let evil = send(Some("http://evil.example"), None).await.unwrap();
    assert_eq!(evil.status(), StatusCode::FORBIDDEN);
    let body: Value = evil.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Origin")
    );
    assert_eq!(
        send(Some("http://localhost:6274"), None)
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let allowed = send(Some("https://app.example.com"), None).await.unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let rebinding = send(None, Some("attacker.example:8081")).await.unwrap();
    assert_eq!(rebinding.status(), StatusCode::FORBIDDEN);
    // CORS preflight for the configured origin.
    let preflight = http
        .request(Method::OPTIONS, &url)
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,mcp-session-id",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert!(
        preflight.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("mcp-session-id")
    );

    // Over the limit: a JSON-RPC 413, never HTML.
    let limit = pluggedin_mcp::vocab::limits::MAX_REQUEST_BODY_BYTES;
    let big = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{{\"v\":\"{}\"}}}}",
        "a".repeat(limit)
    );
    let resp = http
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["jsonrpc"], "2.0");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&limit.to_string())
    );

    // A 2 MiB clipboard value fits through HTTP (the TypeScript server stops at 100 KB), even
    // one of control characters, 12 MiB once JSON-escaped.
    let client = server.connect(None).await;
    let (err, set) = call(
        &client,
        "clipboard_set",
        json!({ "name": "big", "value": "\u{1}".repeat(2 * 1024 * 1024) }),
    )
    .await;
    assert!(!err, "{set}");
    assert_eq!(set["size_bytes"], 2 * 1024 * 1024);
    client.cancel().await.unwrap();
}

#[test]
fn a_public_address_without_auth_is_refused() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pluggedin-mcp"))
        .args([
            "--transport",
            "http",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--local",
            "--data-dir",
            "/nonexistent-not-used",
        ])
        .env_remove("PLUGGEDIN_MCP_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to serve 0.0.0.0 without authentication"),
        "{stderr}"
    );
}

#[tokio::test]
async fn passthrough_uses_each_sessions_own_key_upstream() {
    let (upstream, seen) = standin::start().await;
    let server = spawn_http(
        &["--auth", "passthrough"],
        &[
            ("PLUGGEDIN_API_BASE_URL", &upstream),
            ("PLUGGEDIN_API_KEY", "pg_in_server_key_ignored"),
        ],
    );
    let alice = server.connect(Some("pg_in_alice")).await;
    let bob = server.connect(Some("pg_in_bob")).await;
    for i in 0..3 {
        let (err, _) = call(
            &alice,
            "clipboard_get",
            json!({ "name": format!("alice-{i}") }),
        )
        .await;
        assert!(!err);
        let (err, _) = call(&bob, "clipboard_get", json!({ "name": format!("bob-{i}") })).await;
        assert!(!err);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let by_name: HashMap<String, String> = seen.requests.lock().unwrap().iter().cloned().collect();
    for i in 0..3 {
        assert_eq!(by_name[&format!("alice-{i}")], "Bearer pg_in_alice");
        assert_eq!(by_name[&format!("bob-{i}")], "Bearer pg_in_bob");
    }
    assert!(
        !seen
            .requests
            .lock()
            .unwrap()
            .iter()
            .any(|(_, a)| a.contains("server_key")),
        "the server's own key is never used"
    );
    // No bearer: refused before any upstream call.
    let resp = reqwest::Client::new()
        .post(server.mcp_url())
        .header("accept", "application/json, text/event-stream")
        .json(&initialize())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    alice.cancel().await.unwrap();
    bob.cancel().await.unwrap();
}
