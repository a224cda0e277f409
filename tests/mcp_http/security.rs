//! Auth on every route and method, Origin/Host checks, body limits, and passthrough keys.

use std::{collections::HashMap, time::Duration};

use crate::{
    common::http::{call, spawn_http, start_http, start_local_http},
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
    let server = start_http(
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
    let (server, _dir) = start_local_http(&["--allowed-origins", "https://app.example.com"]);
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
        .env("PLUGGEDIN_CONFIG_DIR", "/nonexistent/pluggedin-mcp-tests")
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
    let server = start_http(
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

/// A raw POST of `body` with `bearer` (and the session, when given): status, headers, body.
async fn post_as(
    server: &crate::common::http::HttpServer,
    bearer: &str,
    session: Option<&str>,
    method: Method,
    body: Value,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    post_with(server, bearer, session, method, body, &[]).await
}

/// [`post_as`] with more headers.
async fn post_with(
    server: &crate::common::http::HttpServer,
    bearer: &str,
    session: Option<&str>,
    method: Method,
    body: Value,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let mut req = reqwest::Client::new()
        .request(method, server.mcp_url())
        .bearer_auth(bearer)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&body);
    if let Some(session) = session {
        req = req.header("mcp-session-id", session);
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, headers, resp.text().await.unwrap())
}

/// An `initialize` with `key`, through a proxy on this machine that saw `forwarded_for`
/// when given: its status and body.
async fn initialize_as(
    server: &crate::common::http::HttpServer,
    key: &str,
    forwarded_for: Option<&str>,
) -> (StatusCode, String) {
    let forwarded: Vec<(&str, &str)> = forwarded_for
        .map(|f| ("x-forwarded-for", f))
        .into_iter()
        .collect();
    let (status, _, body) =
        post_with(server, key, None, Method::POST, initialize(), &forwarded).await;
    (status, body)
}

#[tokio::test]
async fn unknown_keys_get_no_session_and_cannot_lock_out_a_real_one() {
    let (upstream, seen) = standin::start().await;
    let server = start_http(
        &["--auth", "passthrough", "--max-sessions", "40"],
        &[("PLUGGEDIN_API_BASE_URL", &upstream)],
    );
    let share = pluggedin_mcp::api::keys::CHECKS_PER_ADDRESS as usize;
    // Real keys cost an address nothing: more good keys than its share all get in.
    for i in 0..share + 5 {
        let (status, body) = initialize_as(&server, &format!("pg_in_good{i}"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let from_good = seen.checks.lock().unwrap().len();
    // Alice is known before the spray starts (a key Plugged.in accepted is remembered).
    let alice = server.connect(Some("pg_in_alice")).await;
    // 25 random keys: each refused at the door, none holding a session.
    for i in 0..25 {
        let key = format!("pg_in_random{i}{}", uuid::Uuid::new_v4().simple());
        let (status, body) = initialize_as(&server, &key, None).await;
        if i < share {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
            assert!(body.contains("does not accept"), "{body}");
        } else {
            // Past its share of failed checks a minute, the address is refused without asking.
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
            assert!(body.contains("retry after"), "{body}");
        }
    }
    let random_checks = seen
        .checks
        .lock()
        .unwrap()
        .iter()
        .filter(|auth| auth.starts_with("Bearer pg_in_random"))
        .count();
    assert_eq!(
        random_checks, share,
        "Plugged.in was asked about {random_checks} random keys"
    );
    let checks = seen.checks.lock().unwrap().len();
    assert!(checks > from_good);
    // A token not even shaped like a key costs nothing upstream.
    let (status, _, body) = post_as(&server, "not-a-key", None, Method::POST, initialize()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("not a Plugged.in API key"), "{body}");
    assert_eq!(seen.checks.lock().unwrap().len(), checks);
    // Alice opens another session without Plugged.in being asked again ...
    let again = server.connect(Some("pg_in_alice")).await;
    let (err, _) = call(&again, "clipboard_get", json!({ "name": "x" })).await;
    assert!(!err);
    let (err, _) = call(&alice, "clipboard_get", json!({ "name": "x" })).await;
    assert!(!err);
    assert_eq!(seen.checks.lock().unwrap().len(), checks);
    // ... and behind the same proxy on this machine, a user at another address is let in,
    // whatever address the sprayer claims for itself (only the proxy's entry counts).
    let (status, body) = initialize_as(&server, "pg_in_bob", Some("198.51.100.7")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sprayer = format!("pg_in_random{}", uuid::Uuid::new_v4().simple());
    let (status, body) = initialize_as(&server, &sprayer, Some("203.0.113.9, 127.0.0.1")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // No slot was taken by the spray: the sessions open are the good keys' and Alice's.
    let health: Value = reqwest::get(format!("{}/health", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["sessions"], share + 5 + 3, "{health}");
    alice.cancel().await.unwrap();
    again.cancel().await.unwrap();
}

#[tokio::test]
async fn a_session_belongs_to_the_key_that_opened_it() {
    let (upstream, _seen) = standin::start().await;
    let server = start_http(
        &["--auth", "passthrough"],
        &[("PLUGGEDIN_API_BASE_URL", &upstream)],
    );
    let (status, headers, body) =
        post_as(&server, "pg_in_alice", None, Method::POST, initialize()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = headers["mcp-session-id"].to_str().unwrap().to_string();
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    post_as(
        &server,
        "pg_in_alice",
        Some(&session),
        Method::POST,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    // Bob, with Alice's session id: as if it did not exist, for any method.
    let (status, _, body) = post_as(
        &server,
        "pg_in_bob",
        Some(&session),
        Method::POST,
        list.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.contains("Session not found"), "{body}");
    let (status, _, body) = post_as(
        &server,
        "pg_in_bob",
        Some(&session),
        Method::DELETE,
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // As for a session that really does not exist.
    let (status, _, _) = post_as(
        &server,
        "pg_in_bob",
        Some("no-such-session"),
        Method::DELETE,
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Alice's session is untouched.
    let (status, _, body) =
        post_as(&server, "pg_in_alice", Some(&session), Method::POST, list).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("clipboard_get"), "{body}");
}

#[tokio::test]
async fn metrics_never_open_to_a_passthrough_key() {
    let (upstream, _seen) = standin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("metrics-token");
    std::fs::write(&token_file, "scrape-token-0123456789\n").unwrap();
    let metrics_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let server = spawn_http(
        &[
            "--auth",
            "passthrough",
            "--metrics",
            "--metrics-token-file",
            token_file.to_str().unwrap(),
            "--metrics-addr",
            &metrics_addr,
        ],
        &[("PLUGGEDIN_API_BASE_URL", &upstream)],
    );
    let scrape = |bearer: Option<&'static str>| {
        let url = format!("{}/metrics", server.base);
        async move {
            let mut req = reqwest::Client::new().get(url);
            if let Some(b) = bearer {
                req = req.bearer_auth(b);
            }
            req.send().await.unwrap().status()
        }
    };
    // A bogus key, and a key Plugged.in accepts: neither opens /metrics.
    assert_eq!(
        scrape(Some("pg_in_bogus_key_123")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(scrape(Some("pg_in_alice")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(scrape(None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        scrape(Some("scrape-token-0123456789")).await,
        StatusCode::OK
    );
    // Its own listener, for a scraper inside the cluster.
    let page = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("pluggedin_mcp_"));
}

#[tokio::test]
async fn large_bodies_share_a_memory_budget_and_a_refused_one_is_told_to_retry() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (server, _dir) = crate::common::http::start_local_http(&[]);
    let addr = server.base.trim_start_matches("http://").to_string();
    let limit = pluggedin_mcp::vocab::limits::MAX_REQUEST_BODY_BYTES;
    let body = |size: usize| {
        let head = r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"v":""#;
        let tail = r#""}}"#;
        format!("{head}{}{tail}", "a".repeat(size - head.len() - tail.len())).into_bytes()
    };
    // Three bodies just under the limit, all but their last byte sent: held while read.
    let mut held = Vec::new();
    for _ in 0..3 {
        let bytes = body(limit - 1024);
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n",
            bytes.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&bytes[..bytes.len() - 1]).await.unwrap();
        held.push((stream, bytes[bytes.len() - 1]));
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // A fourth large body does not fit beside them: 503 with Retry-After, read to the end
    // so the client sees the answer.
    let resp = reqwest::Client::new()
        .post(server.mcp_url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body(limit / 2))
        .send()
        .await
        .expect("the answer, not a reset connection");
    let status = resp.status();
    if status != StatusCode::SERVICE_UNAVAILABLE {
        panic!("{status}: {}", resp.text().await.unwrap());
    }
    assert_eq!(resp.headers()["retry-after"], "1");
    let answer: Value = resp.json().await.unwrap();
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("retry"),
        "{answer}"
    );
    // A small request still goes through.
    assert_eq!(
        reqwest::get(format!("{}/health", server.base))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // The three finish and are answered (not refused for size or budget).
    for (mut stream, last) in held {
        stream.write_all(&[last]).await.unwrap();
        let mut status = [0u8; 12];
        stream.read_exact(&mut status).await.unwrap();
        let status = String::from_utf8_lossy(&status).to_string();
        assert!(status.starts_with("HTTP/1.1 "), "{status}");
        assert!(
            !status.ends_with("503") && !status.ends_with("413"),
            "{status}"
        );
    }
    // Once they are answered, the budget is free again.
    let resp = reqwest::Client::new()
        .post(server.mcp_url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body(limit / 2))
        .send()
        .await
        .unwrap();
    assert_ne!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn a_body_of_many_small_values_is_refused_before_it_is_decoded() {
    let (server, _dir) = crate::common::http::start_local_http(&[]);
    let limit = pluggedin_mcp::vocab::limits::MAX_JSON_VALUES;
    let zeros = vec!["0"; limit + 1].join(",");
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":"big-1","method":"tools/call","params":{{"name":"clipboard_list","arguments":{{"x":[{zeros}]}}}}}}"#
    );
    let resp = reqwest::Client::new()
        .post(server.mcp_url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(answer["id"], "big-1", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains(&limit.to_string()), "{message}");
}
