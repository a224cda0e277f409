//! What a hostile HTTP client cannot do: hold a connection with a half-sent request or an
//! idle keep-alive, exhaust the connection or file limits silently, make the server queue
//! answers it never reads, get a non-JSON error, or slip a second Host header past the check.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    common::http::{HttpServer, spawn_local_http, start_local_http},
    legacy_sse,
};

fn addr(server: &HttpServer) -> String {
    server.base.trim_start_matches("http://").to_string()
}

/// Reads until the peer closes; returns what arrived, or `None` if it stayed open `wait`.
async fn read_to_close(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn a_half_sent_request_and_an_idle_connection_are_closed() {
    let (server, _dir) = start_local_http(&["--header-timeout", "1", "--keep-alive-timeout", "1"]);
    // Headers that never end.
    let mut slow = TcpStream::connect(addr(&server)).await.unwrap();
    slow.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();
    assert!(
        read_to_close(&mut slow, Duration::from_secs(5))
            .await
            .is_some(),
        "a half-sent request head does not hold its connection"
    );
    // A connection that never says anything.
    let mut silent = TcpStream::connect(addr(&server)).await.unwrap();
    assert!(
        read_to_close(&mut silent, Duration::from_secs(5))
            .await
            .is_some()
    );
    // One request, then silence: the keep-alive ends.
    let mut idle = TcpStream::connect(addr(&server)).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let answered = read_to_close(&mut idle, Duration::from_secs(5))
        .await
        .expect("closed after the keep-alive timeout");
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
}

#[tokio::test]
async fn a_long_call_outlives_the_keep_alive_timeout() {
    let (server, _dir) = start_local_http(&["--header-timeout", "1", "--keep-alive-timeout", "1"]);
    let client = server.connect(None).await;
    // A wait of 3 s on a connection whose idle timeout is 1 s.
    let (is_error, created) = crate::common::http::call(
        &client,
        "create_agent",
        json!({ "name": "long-wait", "wait_until_active": true, "wait_timeout_seconds": 3 }),
    )
    .await;
    assert!(!is_error, "{created}");
    assert_eq!(created["wait"]["outcome"], "timed_out");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn connections_over_the_cap_get_a_clear_503_and_the_file_limit_is_raised() {
    let (server, _dir) = spawn_local_http(&["--max-connections", "3", "--header-timeout", "30"]);
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(addr(&server)).await.unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    let mut extra = TcpStream::connect(addr(&server)).await.unwrap();
    extra
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let refused = read_to_close(&mut extra, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    let body: Value = serde_json::from_str(refused.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Too many connections"),
        "{body}"
    );
    drop(held);
    // Slots come back once connections close.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ok = reqwest::get(format!("{}/health", server.base))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let numbers: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(
        numbers[0], numbers[1],
        "soft limit raised to the hard one: {line}"
    );
}

async fn raw_post(
    server: &HttpServer,
    body: &str,
    headers: &[(&str, &str)],
) -> (u16, String, Value) {
    let mut req = reqwest::Client::new()
        .post(server.mcp_url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = resp.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, content_type, value)
}

#[tokio::test]
async fn every_http_error_is_a_json_rpc_body_with_the_request_id() {
    let (server, _dir) = start_local_http(&[]);
    let cases: [(&str, Value, i64); 5] = [
        (
            r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":"oops"}"#,
            json!(5),
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":6,"method":"init"#,
            json!(6),
            -32700,
        ),
        ("garbage", Value::Null, -32700),
        (r#"{"jsonrpc":"2.0","id":"q"}"#, json!("q"), -32600),
        ("[{}]", Value::Null, -32600),
    ];
    for (body, id, code) in cases {
        let (status, content_type, value) = raw_post(&server, body, &[]).await;
        assert_eq!(status, 400, "{body}: {value}");
        assert!(content_type.starts_with("application/json"), "{body}");
        assert!(value.as_object().unwrap().contains_key("id"), "{value}");
        assert_eq!(value["id"], id, "{body}: {value}");
        assert_eq!(value["error"]["code"], code, "{body}: {value}");
    }
    let ping = r#"{"jsonrpc":"2.0","id":11,"method":"ping"}"#;
    // Wrong content type: 415, still JSON-RPC, still with the id.
    let resp = reqwest::Client::new()
        .post(server.mcp_url())
        .header("content-type", "text/plain")
        .header("accept", "application/json, text/event-stream")
        .body(ping)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["id"], 11);
    // Unknown session: 404 as JSON-RPC.
    let (status, content_type, v) = raw_post(&server, ping, &[("mcp-session-id", "nope")]).await;
    assert_eq!(status, 404);
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    assert_eq!(v["error"]["code"], -32001);
    assert_eq!(v["id"], 11);
    // Not accepting SSE: 406 as JSON-RPC.
    let resp = reqwest::Client::new()
        .post(server.mcp_url())
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(INIT)
        .send()
        .await
        .unwrap();
    if resp.status() == 406 {
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["jsonrpc"], "2.0");
    }
    // Two Host headers, loopback first: refused.
    let mut s = TcpStream::connect(addr(&server)).await.unwrap();
    s.write_all(
        format!(
            "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{INIT}",
            INIT.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let answer = read_to_close(&mut s, Duration::from_secs(5)).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("more than one host header"), "{answer}");
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;

fn rss_kib(pid: u32) -> u64 {
    crate::common::memory_kib(pid, "VmRSS")
}

#[tokio::test]
async fn a_legacy_sse_client_that_never_reads_is_disconnected_and_memory_stays_bounded() {
    let (server, _dir) = spawn_local_http(&[]);
    let (mut sse, endpoint) = legacy_sse::open_initialized(&server, "slow").await;
    let http = reqwest::Client::new();
    let post = |body: Value| http.post(&endpoint).json(&body).send();
    post(json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": { "name": "clipboard_set", "arguments": { "name": "big", "value": "x".repeat(1024 * 1024) } } }))
        .await
        .unwrap();
    sse.response(2).await;
    // From here on the client never reads its stream again.
    let before = rss_kib(server.pid());
    let mut statuses = std::collections::BTreeMap::new();
    for id in 100..400 {
        let status = post(json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": { "name": "clipboard_get", "arguments": { "name": "big" } } }))
        .await
        .unwrap()
        .status()
        .as_u16();
        *statuses.entry(status).or_insert(0) += 1;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib(server.pid());
    assert!(
        after < before + 200 * 1024,
        "300 answers of 2 MiB queued for a client that never reads: RSS grew from {before} KiB to {after} KiB"
    );
    // The session was closed: it no longer takes messages.
    let gone = post(json!({ "jsonrpc": "2.0", "id": 999, "method": "ping" }))
        .await
        .unwrap();
    assert_eq!(gone.status(), 404, "statuses seen: {statuses:?}");
    drop(sse);
    // The server is fine for everyone else.
    let client = server.connect(None).await;
    client.list_all_tools().await.unwrap();
    client.cancel().await.unwrap();
}
