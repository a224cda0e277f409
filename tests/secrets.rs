//! The API key never leaves the process: not through upstream error text that quotes the
//! request's `Authorization` header (JSON, plain text or HTML; 4xx, 429, 5xx, with retries),
//! not in tool results, not in `notifications/message`, not on stderr — in cloud mode and with
//! `--auth passthrough`. Exports hide secrets by name and by value.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test at once, with its message"
)]
#![allow(
    deprecated,
    reason = "MCP logging is deprecated in 2026-07-28; 2025-11-25 clients pick their log level with it"
)]

mod common;

use common::{
    http::{call, spawn_http},
    mcp::{spawn, start, start_local, text_of},
};
use rmcp::model::{CallToolRequestParams, SetLevelRequestParams};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers};

const KEY: &str = "pg_in_S3cr3tKeyAbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijklmnopq";
const CLIENT_KEY: &str = "pg_in_ClientOwnKeyZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210zyxwvutsrqpon";

#[derive(Clone, Copy, Debug)]
enum Style {
    Json,
    Text,
    Html,
}

/// Answers with `status` and a body that quotes the request's Authorization header.
struct Echo {
    status: u16,
    style: Style,
}

impl Respond for Echo {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let (body, content_type) = match self.style {
            Style::Json => (
                json!({
                    "error": format!("gateway rejected Authorization: {auth}"),
                    "message": auth,
                    "details": [{ "path": "headers.authorization", "message": format!("got {auth}") }],
                    "hint": format!("you sent {auth}"),
                })
                .to_string(),
                "application/json",
            ),
            Style::Text => (
                format!("upstream proxy error; request had Authorization: {auth}"),
                "text/plain",
            ),
            Style::Html => (
                format!("<html><body><h1>502</h1><pre>Authorization: {auth}</pre></body></html>"),
                "text/html",
            ),
        };
        let mut r = ResponseTemplate::new(self.status).set_body_raw(body, content_type);
        if self.status == 429 {
            r = r.insert_header("retry-after", "0");
        }
        r
    }
}

const CASES: [(u16, Style); 9] = [
    (400, Style::Json),
    (400, Style::Text),
    (404, Style::Html),
    (429, Style::Json),
    (429, Style::Text),
    (429, Style::Html),
    (502, Style::Json),
    (503, Style::Text),
    (500, Style::Html),
];

/// A stand-in that echoes the header on `GET /api/clipboard?name=<case>`.
async fn echoing_upstream() -> MockServer {
    let upstream = MockServer::start().await;
    accepting_keys(&upstream).await;
    for (status, style) in CASES {
        Mock::given(matchers::method("GET"))
            .and(matchers::path("/api/clipboard"))
            .and(matchers::query_param("name", format!("{status}-{style:?}")))
            .respond_with(Echo { status, style })
            .mount(&upstream)
            .await;
    }
    upstream
}

/// Plugged.in accepting any key when passthrough checks it at the door (the account's MCP
/// servers: none).
async fn accepting_keys(upstream: &MockServer) {
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/api/mcp-servers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(upstream)
        .await;
}

/// Every form the key could take once quoted or cut: whole, and its distinctive tail.
fn assert_clean(key: &str, what: &str, text: &str) {
    for needle in [key, &key[6..], &key[key.len() - 24..]] {
        assert!(!text.contains(needle), "{what} leaks the key: {text}");
    }
}

#[tokio::test]
async fn echoed_keys_never_reach_results_logs_or_stderr_in_cloud_mode() {
    let upstream = echoing_upstream().await;
    let mcp = spawn(
        &["--max-retries", "1", "--timeout", "10"],
        &[
            ("PLUGGEDIN_API_KEY", KEY),
            ("PLUGGEDIN_API_BASE_URL", &upstream.uri()),
            // Even at the most verbose level.
            ("RUST_LOG", "trace"),
        ],
    )
    .await;
    // Ask for every log message the server sends.
    #[allow(
        deprecated,
        reason = "2025-11-25 clients pick their log level this way"
    )]
    mcp.client
        .set_level(SetLevelRequestParams::new(rmcp::model::LoggingLevel::Debug))
        .await
        .unwrap();
    for (status, style) in CASES {
        let name = format!("{status}-{style:?}");
        let result = mcp.call("clipboard_get", json!({ "name": name })).await;
        assert_eq!(result.is_error, Some(true), "{name}");
        let text = text_of(&result);
        assert!(
            text.contains(&status.to_string()) || (status == 429 && text.contains("rate limited")),
            "{name}: the failure still shows: {text}"
        );
        assert_clean(KEY, &format!("{name} result"), &text);
    }
    // Retried statuses were logged to the client and to stderr: both clean.
    let logs = serde_json::to_string(&*mcp.recorder.logs.lock().unwrap()).unwrap();
    assert!(
        logs.contains("retrying"),
        "retries were reported to the client: {logs}"
    );
    assert_clean(KEY, "notifications/message", &logs);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let stderr = mcp.stderr();
    assert!(stderr.contains("retrying"), "{stderr}");
    assert_clean(KEY, "stderr", &stderr);
    mcp.close().await;
}

#[tokio::test]
async fn echoed_keys_never_reach_results_or_logs_in_passthrough_mode() {
    let upstream = echoing_upstream().await;
    let server = spawn_http(
        &["--auth", "passthrough", "--max-retries", "1"],
        &[("PLUGGEDIN_API_BASE_URL", &upstream.uri())],
    );
    let client = server.connect(Some(CLIENT_KEY)).await;
    for (status, style) in CASES {
        let name = format!("{status}-{style:?}");
        let (is_error, value) = call(&client, "clipboard_get", json!({ "name": name })).await;
        assert!(is_error, "{name}");
        assert_clean(CLIENT_KEY, &format!("{name} result"), &value.to_string());
    }
    // A bad key in passthrough mode points at the client's token, not at the server's env.
    let (_, unauthorized) = call(&client, "clipboard_get", json!({ "name": "400-Json" })).await;
    assert!(!unauthorized.to_string().contains("PLUGGEDIN_API_KEY="));
    let logs = serde_json::to_string(&*client.service().logs.lock().unwrap()).unwrap();
    assert_clean(CLIENT_KEY, "notifications/message", &logs);
    client.cancel().await.unwrap();
    assert_clean(CLIENT_KEY, "stderr", &server.stderr());
}

#[tokio::test]
async fn a_401_in_passthrough_mode_names_the_clients_token() {
    let upstream = MockServer::start().await;
    // Accepted at the door, then rejected (revoked meanwhile) when a tool uses it.
    accepting_keys(&upstream).await;
    Mock::given(matchers::any())
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({ "error": "Invalid API key" })),
        )
        .mount(&upstream)
        .await;
    let server = spawn_http(
        &["--auth", "passthrough"],
        &[("PLUGGEDIN_API_BASE_URL", &upstream.uri())],
    );
    let client = server.connect(Some(CLIENT_KEY)).await;
    let (is_error, value) = call(&client, "clipboard_get", json!({ "name": "x" })).await;
    assert!(is_error);
    let text = value.as_str().unwrap_or_default().to_string();
    assert!(text.contains("bearer token"), "{text}");
    assert!(!text.contains("Check PLUGGEDIN_API_KEY"), "{text}");
    client.cancel().await.unwrap();

    // In token mode the same 401 points at the configured key.
    let mcp = start(
        &[],
        &[
            ("PLUGGEDIN_API_KEY", KEY),
            ("PLUGGEDIN_API_BASE_URL", &upstream.uri()),
        ],
    )
    .await;
    let text = mcp.err("clipboard_get", json!({ "name": "x" })).await;
    assert!(text.contains("PLUGGEDIN_API_KEY"), "{text}");
    mcp.close().await;
}

#[tokio::test]
async fn a_key_echoed_into_a_successful_answer_is_removed_from_the_result() {
    let upstream = MockServer::start().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/api/clipboard"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "entry": {
            "uuid": "00000000-0000-4000-8000-000000000001", "name": "echo",
            "value": format!("debug: Authorization: Bearer {KEY}"),
            "contentType": "text/plain", "encoding": "utf-8"
        }})))
        .mount(&upstream)
        .await;
    let mcp = start(
        &[],
        &[
            ("PLUGGEDIN_API_KEY", KEY),
            ("PLUGGEDIN_API_BASE_URL", &upstream.uri()),
        ],
    )
    .await;
    let r = mcp
        .client
        .call_tool(
            CallToolRequestParams::new("clipboard_get")
                .with_arguments(json!({ "name": "echo" }).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    let all = serde_json::to_string(&r).unwrap();
    assert_clean(KEY, "result", &all);
    assert!(all.contains("[REDACTED]"), "{all}");
    mcp.close().await;
}

#[tokio::test]
async fn exports_hide_secrets_by_name_and_by_value() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;
    let env = json!({
        "OPENAI_KEY": "plain-looking-value",
        "GITHUB_PAT": "also-plain",
        "DATABASE_URL": "postgres://app:hunter2@db.internal:5432/prod",
        "HELPER": "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
        "WEBHOOK": "https://hooks.example/x?token=abcdef123456",
        "LOG_LEVEL": "debug",
    });
    mcp.ok("create_agent", json!({ "name": "exported", "env": env }))
        .await;
    let export = mcp.ok("export_agent", json!({ "agent": "exported" })).await;
    let text = export.to_string();
    for secret in [
        "plain-looking-value",
        "also-plain",
        "hunter2",
        "sk-proj-abcdefghij",
        "abcdef123456",
    ] {
        assert!(!text.contains(secret), "export shows {secret}: {text}");
    }
    let shown = &export["agent"]["metadata"]["env_overrides"];
    assert_eq!(shown["LOG_LEVEL"], "debug");
    assert_eq!(shown["OPENAI_KEY"], "[REDACTED]");
    assert_eq!(
        shown["DATABASE_URL"], "postgres://app:[REDACTED]@db.internal:5432/prod",
        "the URL stays readable: {shown}"
    );
    mcp.close().await;
}

#[tokio::test]
async fn the_embedded_api_export_applies_the_same_rule() {
    let api = common::TestApi::start().await;
    let created = api
        .post(
            "/api/agents",
            json!({ "name": "exp", "image": "nginxinc/nginx-unprivileged",
                    "env_overrides": { "GITHUB_PAT": "ghp_abcdefghijklmnopqrstuvwxyz0123", "MY_URL": "redis://:pw1234@cache:6379" } }),
        )
        .await;
    let uuid = created.body["agent"]["uuid"].as_str().unwrap().to_string();
    let export = api
        .post(&format!("/api/agents/{uuid}/export"), json!({}))
        .await
        .body;
    let env: &Value = &export["agent"]["metadata"]["env_overrides"];
    assert_eq!(env["GITHUB_PAT"], "[REDACTED]");
    assert!(!env.to_string().contains("pw1234"), "{env}");
}
