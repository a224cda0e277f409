//! Many users on one HTTP server (`--auth passthrough`): each client key gets its own hub,
//! with its own servers, connections and children. Plugged.in is played by a wiremock
//! server that answers `GET /api/mcp-servers` per key (the embedded API has one profile)
//! and 401 for keys it does not know; the downstream servers are the in-repo fixture.

use std::time::{Duration, Instant};

use rmcp::{
    model::{CallToolRequestParams, ReadResourceRequestParams},
    service::RunningService,
};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path},
};

use super::{
    common::{
        http::{HttpServer, spawn_http},
        mcp::{Recorder, text_of},
    },
    fixture_bin, processes_with_env, wait_for_tools,
};

const KEY_A: &str = "pg_in_tenant_alpha_key_0123456789abcdef";
const KEY_B: &str = "pg_in_tenant_bravo_key_0123456789abcdef";

/// A server row as `GET /api/mcp-servers` answers it.
fn row(name: &str, label: &str, secret: &str) -> Value {
    json!({
        "uuid": uuid_for(name, label), "name": name, "type": "STDIO", "status": "ACTIVE",
        "command": fixture_bin(), "args": [],
        "env": {"FIXTURE_LABEL": label, "FIXTURE_SECRET": secret},
    })
}

fn uuid_for(name: &str, label: &str) -> String {
    let digest = pluggedin_mcp::text::sha256_hex(&format!("{name}/{label}"));
    format!(
        "{}-{}-4{}-8{}-{}",
        &digest[0..8],
        &digest[8..12],
        &digest[13..16],
        &digest[17..20],
        &digest[20..32]
    )
}

/// Plugged.in for two keys; any other key gets 401.
async fn plugged_in(a: Vec<Value>, b: Vec<Value>) -> MockServer {
    let mock = MockServer::start().await;
    for (key, rows) in [(KEY_A, a), (KEY_B, b)] {
        Mock::given(method("GET"))
            .and(path("/api/mcp-servers"))
            .and(header("authorization", format!("Bearer {key}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(rows))
            .mount(&mock)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/api/mcp-servers"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "Invalid API key"})))
        .mount(&mock)
        .await;
    mock
}

fn passthrough(mock: &MockServer, extra: &[&str]) -> HttpServer {
    let uri = mock.uri();
    let mut args = vec!["--auth", "passthrough", "--base-url", uri.as_str()];
    args.extend_from_slice(extra);
    spawn_http(&args, &[])
}

async fn connect(server: &HttpServer, key: &str) -> RunningService<rmcp::RoleClient, Recorder> {
    server.connect(Some(key)).await
}

async fn call(
    client: &RunningService<rmcp::RoleClient, Recorder>,
    tool: &str,
    args: Value,
) -> Result<rmcp::model::CallToolResult, rmcp::ServiceError> {
    let Value::Object(args) = args else {
        unreachable!()
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
        .await
}

async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn each_key_reaches_only_its_own_servers() {
    let tag = format!("iso{}", std::process::id());
    let (a1, a2, b1) = (format!("{tag}a1"), format!("{tag}a2"), format!("{tag}b1"));
    let secret_a = format!("alpha-secret-{tag}-value");
    let secret_b = format!("bravo-secret-{tag}-value");
    let mock = plugged_in(
        vec![
            row("Shared", &a1, &secret_a),
            row("Alpha Only", &a2, &secret_a),
        ],
        vec![row("Shared", &b1, &secret_b)],
    )
    .await;
    let server = passthrough(&mock, &[]);
    let alpha = connect(&server, KEY_A).await;
    let bravo = connect(&server, KEY_B).await;

    wait_for_tools(&alpha, "alpha's servers", |n| {
        n.contains(&"shared__echo".into()) && n.contains(&"alpha-only__echo".into())
    })
    .await;
    let bravo_names = wait_for_tools(&bravo, "bravo's server", |n| {
        n.contains(&"shared__echo".into())
    })
    .await;
    assert!(
        !bravo_names.iter().any(|n| n.starts_with("alpha-only__")),
        "{bravo_names:?}"
    );

    // The same name, each key's own server.
    let said_a = call(&alpha, "shared__echo", json!({"text": "hi"}))
        .await
        .unwrap();
    let said_b = call(&bravo, "shared__echo", json!({"text": "hi"}))
        .await
        .unwrap();
    assert_eq!(text_of(&said_a), format!("{a1}: hi"));
    assert_eq!(text_of(&said_b), format!("{b1}: hi"));

    // The other key's names are unknown tools, its resources unknown URIs.
    let guessed = call(&bravo, "alpha-only__echo", json!({"text": "hi"})).await;
    match guessed {
        Err(e) => assert!(
            e.to_string().contains("not found") || e.to_string().contains("unknown"),
            "{e}"
        ),
        Ok(r) => panic!("bravo reached alpha's server: {r:?}"),
    }
    let read = bravo
        .read_resource(ReadResourceRequestParams::new(format!(
            "fixture://{a2}/note"
        )))
        .await;
    assert!(read.is_err(), "bravo read alpha's resource: {read:?}");

    // A server's env secret is scrubbed from its own user's results, and never reaches the
    // other user or the log.
    let secret = call(&bravo, "shared__env_secret", json!({})).await.unwrap();
    assert!(!text_of(&secret).contains(&secret_b), "{secret:?}");
    for result in [&said_a, &said_b, &secret] {
        let text = serde_json::to_string(result).unwrap();
        assert!(!text.contains(&secret_a), "{text}");
    }
    let log = server.stderr();
    assert!(
        !log.contains(&secret_a) && !log.contains(&secret_b),
        "{log}"
    );
    assert!(!log.contains(KEY_A) && !log.contains(KEY_B), "{log}");

    // Each key's servers are its own processes.
    assert_eq!(processes_with_env(&format!("FIXTURE_LABEL={a1}")), 1);
    assert_eq!(processes_with_env(&format!("FIXTURE_LABEL={b1}")), 1);

    // A key Plugged.in does not know is refused at the door: no session, no hub, nothing
    // started.
    let (status, body) = initialize(&server, "pg_in_stranger_key_0123456789abcdefgh").await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("does not accept"), "{body}");
}

/// A raw `initialize` with `key`: the status and body.
async fn initialize(server: &HttpServer, key: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(server.mcp_url())
        .bearer_auth(key)
        .header("accept", "application/json, text/event-stream")
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "raw", "version": "1"}
            }}),
        )
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn limits_per_key_and_in_total_are_enforced_and_said() {
    let tag = format!("lim{}", std::process::id());
    let label = |n: &str| format!("{tag}{n}");
    let mock = plugged_in(
        vec![
            row("One", &label("a1"), "x"),
            row("Two", &label("a2"), "x"),
            row("Three", &label("a3"), "x"),
        ],
        vec![
            row("Four", &label("b1"), "x"),
            row("Five", &label("b2"), "x"),
        ],
    )
    .await;
    // Two per key, three in all.
    let server = passthrough(
        &mock,
        &["--hub-max-servers-per-key", "2", "--hub-max-servers", "3"],
    );
    let alpha = connect(&server, KEY_A).await;
    wait_for_tools(&alpha, "alpha's two servers", |n| {
        n.iter().filter(|t| t.ends_with("__echo")).count() == 2
    })
    .await;
    let status = call(&alpha, "hub_status", json!({})).await.unwrap();
    let servers = status.structured_content.unwrap()["servers"].clone();
    let over: Vec<&Value> = servers
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] == "failed")
        .collect();
    assert_eq!(over.len(), 1, "{servers}");
    assert!(
        over[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("at most 2 servers per user"),
        "{servers}"
    );

    // Bravo gets the one connection left; its other server waits, saying why.
    let bravo = connect(&server, KEY_B).await;
    wait_for_tools(&bravo, "bravo's one server", |n| {
        n.iter().filter(|t| t.ends_with("__echo")).count() == 1
    })
    .await;
    let status = call(&bravo, "hub_status", json!({})).await.unwrap();
    let servers = status.structured_content.unwrap()["servers"].clone();
    assert!(
        servers
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["state"] == "backing_off"
                && s["last_error"]
                    .as_str()
                    .unwrap_or("")
                    .contains("--hub-max-servers")),
        "{servers}"
    );
    assert_eq!(processes_with_env(&format!("FIXTURE_LABEL={tag}")), 3);
}

#[tokio::test]
async fn idle_hubs_close_and_their_children_go() {
    let tag = format!("idle{}", std::process::id());
    let mock = plugged_in(vec![row("Idle", &tag, "x")], vec![]).await;
    let server = passthrough(&mock, &["--hub-idle-timeout", "1"]);
    let alpha = connect(&server, KEY_A).await;
    wait_for_tools(&alpha, "alpha's server", |n| {
        n.contains(&"idle__echo".into())
    })
    .await;
    assert_eq!(processes_with_env(&format!("FIXTURE_LABEL={tag}")), 1);
    // A call in flight for longer than the idle time is use: the hub stays for it.
    let slow = call(&alpha, "idle__slow", json!({"ms": 2500}))
        .await
        .unwrap();
    assert_eq!(text_of(&slow), format!("{tag}: slept 2500 ms"), "{slow:?}");
    wait_until("the idle hub's child is gone", || {
        processes_with_env(&format!("FIXTURE_LABEL={tag}")) == 0
    })
    .await;
    // The next request brings the key's hub back.
    wait_for_tools(&alpha, "alpha's server again", |n| {
        n.contains(&"idle__echo".into())
    })
    .await;
}

#[tokio::test]
async fn a_key_plugged_in_rejects_loses_its_hub_at_once() {
    let tag = format!("rev{}", std::process::id());
    let mock = plugged_in(vec![row("Revoked", &tag, "x")], vec![]).await;
    let server = passthrough(&mock, &[]);
    let alpha = connect(&server, KEY_A).await;
    wait_for_tools(&alpha, "alpha's server", |n| {
        n.contains(&"revoked__echo".into())
    })
    .await;
    assert_eq!(processes_with_env(&format!("FIXTURE_LABEL={tag}")), 1);

    // The key is revoked: Plugged.in now answers 401 to everything it sends.
    mock.reset().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "Invalid API key"})))
        .mount(&mock)
        .await;
    let refused = call(&alpha, "clipboard_list", json!({})).await.unwrap();
    assert_eq!(refused.is_error, Some(true), "{refused:?}");
    wait_until("the revoked key's child is gone", || {
        processes_with_env(&format!("FIXTURE_LABEL={tag}")) == 0
    })
    .await;
    // From now on the key is refused at the door, without asking Plugged.in again.
    let after = alpha.peer().list_all_tools().await;
    assert!(format!("{after:?}").contains("AuthRequired"), "{after:?}");
    let (status, body) = initialize(&server, KEY_A).await;
    assert_eq!(status, 401, "{body}");
}
