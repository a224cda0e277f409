//! What running several replicas behind a balancer needs of one: draining on SIGTERM (ready
//! turns 503, new sessions are refused with a status a balancer retries on, open sessions
//! and calls in flight finish), session ids that name the replica, Prometheus metrics behind
//! the same auth as the rest, and JSON logs that carry each call's request id to Plugged.in.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{
    common::http::{call, spawn_http, spawn_local_http},
    standin,
};

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;

/// A raw `initialize` POST: its status, `Mcp-Session-Id` and `Retry-After`.
async fn initialize(base: &str) -> (StatusCode, Option<String>, Option<String>) {
    let response = reqwest::Client::new()
        .post(format!("{base}/mcp"))
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(INITIALIZE)
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    (
        response.status(),
        header("mcp-session-id"),
        header("retry-after"),
    )
}

async fn get(url: &str) -> (StatusCode, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn sigterm_drains_new_sessions_are_refused_and_open_ones_finish() {
    let (upstream, _seen) = standin::start().await;
    let mut server = spawn_http(
        &["--drain-delay", "1.5", "--replica-id", "r7"],
        &[
            ("PLUGGEDIN_API_KEY", "pg_in_x"),
            ("PLUGGEDIN_API_BASE_URL", &upstream),
        ],
    );
    // Session ids name the replica that holds them.
    let (status, session, _) = initialize(&server.base).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        session.unwrap().starts_with("r7."),
        "session id names the replica"
    );
    assert_eq!(
        get(&format!("{}/ready", server.base)).await.0,
        StatusCode::OK
    );
    let busy = server.connect(None).await;
    let open = server.connect(None).await;
    let slow =
        tokio::spawn(async move { call(&busy, "clipboard_get", json!({ "name": "slow" })).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.send_term();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Draining: not ready, still alive, no new sessions (503 + Retry-After, which a
    // balancer retries elsewhere) ...
    let (ready, body) = get(&format!("{}/ready", server.base)).await;
    assert_eq!(ready, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let alive = reqwest::get(format!("{}/health", server.base))
        .await
        .unwrap();
    assert_eq!(alive.status(), StatusCode::OK);
    // Each answer closes its connection, so a proxy opens a new one (to another replica).
    assert_eq!(alive.headers()["connection"], "close");
    let health: Value = alive.json().await.unwrap();
    assert_eq!(health["draining"], true, "{health}");
    let (refused, _, retry_after) = initialize(&server.base).await;
    assert_eq!(refused, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(retry_after.as_deref(), Some("1"));
    // ... while an open session is still served, and the call in flight finishes.
    let (err, value) = call(&open, "clipboard_get", json!({ "name": "during-drain" })).await;
    assert!(!err, "{value}");
    let (err, value) = slow.await.unwrap();
    assert!(!err, "the call in flight finished: {value}");
    assert_eq!(value["value"], "slow");
    let status = tokio::task::spawn_blocking(move || {
        let status = server.wait_exit();
        (status, server.stderr())
    })
    .await
    .unwrap();
    assert!(status.0.success(), "exit {:?}: {}", status.0, status.1);
}

/// One metric line's value, by its name and labels as the text format writes them.
fn metric(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_are_behind_the_same_auth_and_count_what_happened() {
    let (upstream, _seen) = standin::start().await;
    let server = spawn_http(
        &["--metrics"],
        &[
            ("PLUGGEDIN_MCP_TOKEN", "metrics-token-123"),
            ("PLUGGEDIN_API_KEY", "pg_in_x"),
            ("PLUGGEDIN_API_BASE_URL", &upstream),
        ],
    );
    let client = server.connect(Some("metrics-token-123")).await;
    assert!(
        !call(&client, "clipboard_get", json!({ "name": "a" }))
            .await
            .0
    );
    assert!(
        !call(&client, "clipboard_get", json!({ "name": "b" }))
            .await
            .0
    );
    assert!(
        call(&client, "clipboard_get", json!({})).await.0,
        "no name: an error result"
    );
    let unknown = client
        .call_tool(rmcp::model::CallToolRequestParams::new("no_such_tool"))
        .await;
    assert!(
        unknown.is_err(),
        "an unknown tool is a protocol error: {unknown:?}"
    );
    let url = format!("{}/metrics", server.base);
    // Probes need no token; metrics do.
    assert_eq!(
        get(&format!("{}/ready", server.base)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        reqwest::get(&url).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth("metrics-token-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let page = response.text().await.unwrap();
    let expect = |series: &str, at_least: f64| {
        let value = metric(&page, series).unwrap_or_else(|| panic!("no {series} in:\n{page}"));
        assert!(value >= at_least, "{series} = {value}");
    };
    expect(
        r#"pluggedin_mcp_tool_calls_total{tool="clipboard_get",outcome="ok"}"#,
        2.0,
    );
    expect(
        r#"pluggedin_mcp_tool_calls_total{tool="clipboard_get",outcome="error"}"#,
        1.0,
    );
    expect(
        r#"pluggedin_mcp_tool_calls_total{tool="unknown",outcome="failed"}"#,
        1.0,
    );
    expect(
        r#"pluggedin_mcp_tool_call_duration_seconds_count{tool="clipboard_get"}"#,
        3.0,
    );
    expect(
        r#"pluggedin_mcp_upstream_requests_total{method="GET",route="/api/clipboard",status="200"}"#,
        2.0,
    );
    expect(
        r#"pluggedin_mcp_http_requests_total{route="/mcp",status="200"}"#,
        4.0,
    );
    expect(
        r#"pluggedin_mcp_http_requests_total{route="/metrics",status="401"}"#,
        1.0,
    );
    expect(
        r#"pluggedin_mcp_sessions_open{transport="streamable_http"}"#,
        1.0,
    );
    expect("pluggedin_mcp_draining", 0.0);
    // The name a hostile client makes up never becomes a label of its own.
    assert!(!page.contains("no_such_tool"), "{page}");
}

#[tokio::test]
async fn metrics_count_hub_servers_by_state() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("servers.json");
    let fixture = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/hub_fixture_server");
    std::fs::write(
        &file,
        json!({"mcpServers": {"a": {"command": fixture}, "broken": {"command": ""}}}).to_string(),
    )
    .unwrap();
    let (server, _data) = spawn_local_http(&["--metrics", "--servers", file.to_str().unwrap()]);
    let url = format!("{}/metrics", server.base);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
        let ready = metric(&page, r#"pluggedin_mcp_hub_servers{state="ready"}"#);
        let failed = metric(&page, r#"pluggedin_mcp_hub_servers{state="failed"}"#);
        if ready == Some(1.0) && failed == Some(1.0) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn json_logs_carry_the_request_id_to_plugged_in_and_never_the_key() {
    use wiremock::{Mock, MockServer, ResponseTemplate, matchers};
    let upstream = MockServer::start().await;
    // The first answer fails (503), so the call retries and says so in the log.
    Mock::given(matchers::path("/api/clipboard"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&upstream)
        .await;
    Mock::given(matchers::path("/api/clipboard"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "entry": {
            "uuid": "00000000-0000-4000-8000-000000000001", "name": "n", "idx": null,
            "value": "v", "contentType": "text/plain", "encoding": "utf-8", "sizeBytes": 1,
        }})))
        .mount(&upstream)
        .await;
    let key = "pg_in_json_logs_secret_key_0123456789";
    let server = spawn_http(
        &["--log-format", "json"],
        &[
            ("PLUGGEDIN_API_KEY", key),
            ("PLUGGEDIN_API_BASE_URL", &upstream.uri()),
            ("RUST_LOG", "info"),
        ],
    );
    let mut headers = std::collections::HashMap::new();
    headers.insert(
        axum::http::HeaderName::from_static("x-request-id"),
        axum::http::HeaderValue::from_static("trace-abc-123"),
    );
    let config =
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
            server.mcp_url(),
        )
        .custom_headers(headers);
    let client = rmcp::ServiceExt::serve(
        super::common::mcp::Recorder::default(),
        rmcp::transport::StreamableHttpClientTransport::from_config(config),
    )
    .await
    .unwrap();
    let (err, value) = call(&client, "clipboard_get", json!({ "name": "n" })).await;
    assert!(!err, "{value}");
    // Plugged.in saw the call's id on both attempts.
    let seen: Vec<String> = upstream
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/api/clipboard")
        .map(|r| {
            r.headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(seen, ["trace-abc-123", "trace-abc-123"]);
    drop(client);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stderr = server.stderr();
    assert!(!stderr.contains(key), "the key reached the log");
    let lines: Vec<Value> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let retry = lines
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.contains("retrying"))
        })
        .unwrap_or_else(|| panic!("no retry logged:\n{stderr}"));
    assert_eq!(retry["span"]["request_id"], "trace-abc-123", "{retry}");
    assert_eq!(retry["level"], "WARN");
}

#[tokio::test]
async fn a_legacy_sse_answer_in_flight_is_delivered_before_its_stream_closes() {
    let (upstream, _seen) = standin::start().await;
    let mut server = spawn_http(
        &[],
        &[
            ("PLUGGEDIN_API_KEY", "pg_in_x"),
            ("PLUGGEDIN_API_BASE_URL", &upstream),
        ],
    );
    let (mut sse, endpoint) = super::legacy_sse::open_initialized(&server, "legacy").await;
    let http = reqwest::Client::new();
    let post = |body: Value| http.post(&endpoint).json(&body).send();
    // The answer to this call (1.5 s upstream) goes out on the stream, after POST's 202.
    let accepted = post(json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": { "name": "clipboard_get", "arguments": { "name": "slow" } } }))
    .await
    .unwrap();
    assert_eq!(accepted.status(), 202);
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.send_term();
    let answer = sse.response(2).await;
    assert_eq!(
        answer["result"]["structuredContent"]["value"], "slow",
        "{answer}"
    );
    let status = tokio::task::spawn_blocking(move || server.wait_exit())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn metric_labels_stay_bounded_whatever_ids_clients_make_up() {
    let (server, _data) = spawn_local_http(&["--metrics"]);
    let client = server.connect(None).await;
    let url = format!("{}/metrics", server.base);
    let letters = |i: usize| -> String {
        // Ids of letters only (no digit to give them away as ids), each different.
        let mut id = String::from("session");
        let mut n = i;
        for _ in 0..8 {
            id.push((b'a' + (n % 26) as u8) as char);
            n /= 26;
        }
        id
    };
    let read = |uri: String| {
        let client = &client;
        async move {
            client
                .read_resource(rmcp::model::ReadResourceRequestParams::new(uri))
                .await
        }
    };
    for i in 0..300 {
        let answer = read(format!("pluggedin://memory/sessions/{}", letters(i))).await;
        assert!(answer.is_err(), "{answer:?}");
    }
    let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
    // One series for the route, whatever id each read named.
    let series: Vec<&str> = page
        .lines()
        .filter(|l| l.starts_with("pluggedin_mcp_upstream_requests_total{"))
        .collect();
    assert!(
        series
            .iter()
            .any(|l| l.contains(r#"route="/api/memory/sessions/{id}""#)),
        "{page}"
    );
    assert!(series.len() <= 3, "{series:#?}");
    assert!(!page.contains(&letters(7)), "{page}");
    let size = page.len();
    // Ids of 101 to 100,000 letters: refused before they reach Plugged.in or a metric.
    for len in [101, 4_000, 100_000].repeat(7) {
        let answer = read(format!("pluggedin://memory/sessions/{}", "a".repeat(len))).await;
        let err = format!("{}", answer.unwrap_err());
        assert!(err.contains("at most"), "{err}");
    }
    let after = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(
        after.len() < size + 4096,
        "the page grew from {size} to {} bytes",
        after.len()
    );
    assert!(!after.contains(&"a".repeat(200)));
    client.cancel().await.unwrap();
}
