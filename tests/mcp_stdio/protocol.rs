//! The stdio transport as a raw client sees it: every frame gets an answer (with its id when
//! it can be read), input ending before `initialize` is a quiet exit, and what the server says
//! at start is true (its mode, a key that cannot be a key).

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    process::{Child, ChildStdin, ChildStdout, Command},
};

use crate::common::mcp::spawn;

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// The binary with raw pipes.
struct Raw {
    child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<ChildStdout>>,
}

impl Raw {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pluggedin-mcp"));
        // A developer's own `pluggedin-mcp login` must never reach a test.
        cmd.env("PLUGGEDIN_CONFIG_DIR", "/nonexistent/pluggedin-mcp-tests");
        cmd.args(args)
            .env_remove("PLUGGEDIN_API_KEY")
            .env_remove("PLUGGEDIN_API_BASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            child,
            stdin,
            stdout,
        }
    }

    async fn send(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.write_all(b"\n").await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// The next message on stdout (every line must be JSON-RPC).
    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(10), self.stdout.next_line())
            .await
            .expect("an answer within 10 s")
            .unwrap()
            .expect("stdout open");
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout carried non-JSON {line:?}: {e}"))
    }

    async fn handshake(&mut self) -> Value {
        self.send(INITIALIZE).await;
        let answer = self.next().await;
        self.send(INITIALIZED).await;
        answer
    }
}

#[tokio::test]
async fn every_invalid_frame_is_answered_and_the_session_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut raw = Raw::start(&["--data-dir", dir.path().to_str().unwrap()], &[]);
    raw.handshake().await;
    let cases: [(&str, Value, i64); 7] = [
        (
            r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":"oops"}"#,
            json!(5),
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":6,"method":"tools/call""#,
            json!(6),
            -32700,
        ),
        (r#"{"jsonrpc":"2.0","id":"x-7"}"#, json!("x-7"), -32600),
        ("garbage", Value::Null, -32700),
        ("[1,2,3]", Value::Null, -32600),
        (r#"{"id":9,"method":"ping"}"#, json!(9), -32600),
        ("42", Value::Null, -32600),
    ];
    for (frame, id, code) in cases {
        raw.send(frame).await;
        let answer = raw.next().await;
        assert_eq!(answer["jsonrpc"], "2.0", "{frame}");
        assert!(
            answer.as_object().unwrap().contains_key("id"),
            "{frame}: the id member is always there: {answer}"
        );
        assert_eq!(answer["id"], id, "{frame}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{frame}: {answer}");
    }
    // A malformed notification gets no answer; the next request still works.
    raw.send(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":7}"#)
        .await;
    raw.send(r#"{"jsonrpc":"2.0","id":10,"method":"ping"}"#)
        .await;
    let pong = raw.next().await;
    assert_eq!(pong["id"], 10);
    assert!(pong.get("result").is_some(), "{pong}");
    // A message of many small values (1 MB of `0,`): refused before it is decoded, naming
    // the rule, with its id.
    let limit = pluggedin_mcp::vocab::limits::MAX_JSON_VALUES;
    let zeros = vec!["0"; limit + 1].join(",");
    raw.send(&format!(
        r#"{{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{{"name":"clipboard_list","arguments":{{"x":[{zeros}]}}}}}}"#
    ))
    .await;
    let refused = raw.next().await;
    assert_eq!(refused["id"], 11, "{refused}");
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains(&limit.to_string()), "{message}");
    raw.send(r#"{"jsonrpc":"2.0","id":12,"method":"ping"}"#)
        .await;
    assert_eq!(raw.next().await["id"], 12);
}

#[tokio::test]
async fn eof_before_initialize_exits_quietly_with_status_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pluggedin-mcp"))
        .env("PLUGGEDIN_CONFIG_DIR", "/nonexistent/pluggedin-mcp-tests")
        .args(["--data-dir", dir.path().to_str().unwrap()])
        .env_remove("PLUGGEDIN_API_KEY")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(out.stdout.is_empty());
    assert!(!stderr.contains("Error"), "no error chain: {stderr}");
}

#[tokio::test]
async fn a_placeholder_key_is_reported_and_never_used() {
    let upstream = wiremock::MockServer::start().await;
    let mut raw = Raw::start(
        &[],
        &[
            ("PLUGGEDIN_API_KEY", "${PLUGGEDIN_API_KEY}"),
            ("PLUGGEDIN_API_BASE_URL", &upstream.uri()),
        ],
    );
    let init = raw.handshake().await;
    let instructions = init["result"]["instructions"].as_str().unwrap();
    assert!(
        instructions.starts_with("CONFIGURATION ERROR")
            && instructions.contains("unexpanded placeholder"),
        "{instructions}"
    );
    assert!(!instructions.contains("LOCAL mode"), "not quietly local");
    raw.send(r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"clipboard_pop","arguments":{}}}"#)
        .await;
    let answer = raw.next().await;
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert!(
        answer["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("PLUGGEDIN_API_KEY"),
        "{answer}"
    );
    assert!(
        upstream.received_requests().await.unwrap().is_empty(),
        "the placeholder was never sent as a key"
    );
    drop(raw.stdin);
    let out = raw.child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unexpanded placeholder"), "{stderr}");
}

#[tokio::test]
async fn cloud_mode_says_only_what_it_knows_and_checks_in_the_background() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let started = Instant::now();
    let mcp = spawn(
        &[],
        &[
            ("PLUGGEDIN_API_KEY", "pg_in_unreachable0123"),
            ("PLUGGEDIN_API_BASE_URL", &base),
        ],
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "initialize does not wait for the check"
    );
    let info = mcp.client.peer_info().unwrap();
    let instructions = info.instructions.clone().unwrap_or_default();
    assert!(!instructions.contains("connected"), "{instructions}");
    assert!(instructions.contains(&base), "{instructions}");
    for _ in 0..50 {
        if mcp.stderr().contains("cannot reach Plugged.in") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        mcp.stderr().contains("cannot reach Plugged.in"),
        "{}",
        mcp.stderr()
    );
    mcp.close().await;
}

#[tokio::test]
async fn cache_hints_only_for_the_revision_that_defines_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut raw = Raw::start(&["--data-dir", dir.path().to_str().unwrap()], &[]);
    raw.handshake().await;
    for (id, method) in [
        (2, "tools/list"),
        (3, "prompts/list"),
        (4, "resources/list"),
        (5, "resources/templates/list"),
    ] {
        raw.send(&format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}"}}"#
        ))
        .await;
        let answer = raw.next().await;
        let result = answer["result"].as_object().unwrap();
        assert!(
            !result.contains_key("ttlMs") && !result.contains_key("cacheScope"),
            "{method} on 2025-11-25 carries no 2026-07-28 fields: {answer}"
        );
    }
}

#[test]
fn run_by_hand_in_a_terminal_it_says_what_it_is_waiting_for() {
    // `script` (util-linux) gives the binary a terminal as stdin; /dev/null ends it (Ctrl-D).
    let dir = tempfile::tempdir().unwrap();
    let command = format!(
        "{} --data-dir {}",
        env!("CARGO_BIN_EXE_pluggedin-mcp"),
        dir.path().display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("PLUGGEDIN_API_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("script(1) from util-linux runs");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("waiting for a client"), "{shown}");
    assert!(shown.contains("--transport http"), "{shown}");
    assert!(!shown.contains("Error"), "{shown}");
}

#[tokio::test]
async fn stdin_and_stdout_may_be_unix_sockets_as_node_clients_make_them() {
    // Node (Claude Desktop, VS Code, the Inspector) gives a child socket pairs, not pipes.
    let (ours_in, theirs_in) = std::os::unix::net::UnixStream::pair().unwrap();
    let (ours_out, theirs_out) = std::os::unix::net::UnixStream::pair().unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pluggedin-mcp"))
        .env("PLUGGEDIN_CONFIG_DIR", "/nonexistent/pluggedin-mcp-tests")
        .args(["--data-dir", data.path().to_str().unwrap()])
        .env_remove("PLUGGEDIN_API_KEY")
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs_in)))
        .stdout(Stdio::from(std::os::fd::OwnedFd::from(theirs_out)))
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    ours_in.set_nonblocking(true).unwrap();
    ours_out.set_nonblocking(true).unwrap();
    let mut input = tokio::net::UnixStream::from_std(ours_in).unwrap();
    let mut output = BufReader::new(tokio::net::UnixStream::from_std(ours_out).unwrap()).lines();
    let frames = format!(
        "{INITIALIZE}\n{INITIALIZED}\n{}\n",
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"clipboard_push","arguments":{"value":"over a socket"}}}"#
    );
    input.write_all(frames.as_bytes()).await.unwrap();
    let mut answers = Vec::new();
    while answers.len() < 2 {
        let line = tokio::time::timeout(Duration::from_secs(20), output.next_line())
            .await
            .expect("an answer")
            .unwrap()
            .expect("stdout open");
        answers.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    assert_eq!(answers[0]["id"], 1);
    assert_eq!(answers[1]["id"], 2);
    assert_eq!(answers[1]["result"]["isError"], false, "{}", answers[1]);
    // Closing its input ends it quietly.
    drop(input);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

/// The `_meta` a 2026-07-28 request carries in place of a session.
const MODERN_META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}"#;

#[tokio::test]
async fn ping_is_answered_in_2025_11_25_and_unknown_in_2026_07_28() {
    let dir = tempfile::tempdir().unwrap();
    let mut modern = Raw::start(&["--data-dir", dir.path().to_str().unwrap()], &[]);
    modern
        .send(&format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{{MODERN_META}}}}}"#
        ))
        .await;
    let refused = modern.next().await;
    assert_eq!(refused["error"]["code"], -32601, "{refused}");
    // The same rule after a request that chose the 2026-07-28 lifecycle.
    modern
        .send(&format!(
            r#"{{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{{{MODERN_META}}}}}"#
        ))
        .await;
    assert!(modern.next().await.get("result").is_some());
    modern
        .send(&format!(
            r#"{{"jsonrpc":"2.0","id":3,"method":"ping","params":{{{MODERN_META}}}}}"#
        ))
        .await;
    assert_eq!(modern.next().await["error"]["code"], -32601);
    let mut legacy = Raw::start(&["--data-dir", dir.path().to_str().unwrap()], &[]);
    legacy.handshake().await;
    legacy
        .send(r#"{"jsonrpc":"2.0","id":4,"method":"ping"}"#)
        .await;
    assert_eq!(legacy.next().await["result"], json!({}));
}
