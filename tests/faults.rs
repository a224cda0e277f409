//! Fault tolerance against a misbehaving Plugged.in: bursts of 503s, 429 with Retry-After,
//! garbage and truncated bodies, refused and hung connections, and client cancellation that
//! must abort the upstream request. After every fault the server keeps serving.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test at once, with its message"
)]
mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use common::mcp::{Mcp, start};
use rmcp::{
    model::{CallToolRequestParams, ClientRequest, Request},
    service::PeerRequestOptions,
};
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers};

fn entry(name: &str) -> serde_json::Value {
    json!({ "entry": { "uuid": "u", "name": name, "value": format!("value of {name}"), "contentType": "text/plain", "encoding": "utf-8" } })
}

async fn server_for(upstream: &str, max_retries: u32, timeout_secs: u32) -> Mcp {
    let (retries, timeout) = (max_retries.to_string(), timeout_secs.to_string());
    start(
        &["--max-retries", &retries, "--timeout", &timeout],
        &[
            ("PLUGGEDIN_API_KEY", "pg_in_fault"),
            ("PLUGGEDIN_API_BASE_URL", upstream),
        ],
    )
    .await
}

/// The stand-in always answers `name=ok` normally, so every test can check the server still
/// serves after a fault.
async fn mount_ok(upstream: &MockServer) {
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/api/clipboard"))
        .and(matchers::query_param("name", "ok"))
        .respond_with(ResponseTemplate::new(200).set_body_json(entry("ok")))
        .with_priority(1)
        .mount(upstream)
        .await;
}

async fn still_serving(mcp: &Mcp) {
    let ok = mcp.ok("clipboard_get", json!({ "name": "ok" })).await;
    assert_eq!(ok["value"], "value of ok");
}

#[tokio::test]
async fn a_burst_of_503s_then_recovery_succeeds_after_retries() {
    let upstream = MockServer::start().await;
    mount_ok(&upstream).await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/api/clipboard"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_json(json!({ "error": "Service temporarily unavailable" })),
        )
        .up_to_n_times(3)
        .with_priority(2)
        .mount(&upstream)
        .await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/api/clipboard"))
        .respond_with(ResponseTemplate::new(200).set_body_json(entry("flaky")))
        .with_priority(3)
        .mount(&upstream)
        .await;
    let mcp = server_for(&upstream.uri(), 3, 10).await;
    let got = mcp.ok("clipboard_get", json!({ "name": "flaky" })).await;
    assert_eq!(got["value"], "value of flaky");
    let flaky_requests = upstream
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.query().is_some_and(|q| q.contains("flaky")))
        .count();
    assert_eq!(flaky_requests, 4, "three 503s, then the answer");
    still_serving(&mcp).await;
    mcp.close().await;
}

#[tokio::test]
async fn retries_stop_at_the_limit_with_the_server_error() {
    let upstream = MockServer::start().await;
    mount_ok(&upstream).await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/api/clipboard"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"))
        .with_priority(2)
        .mount(&upstream)
        .await;
    let mcp = server_for(&upstream.uri(), 1, 10).await;
    let e = mcp.err("clipboard_get", json!({ "name": "down" })).await;
    assert!(e.contains("HTTP 502") && e.contains("try again"), "{e}");
    assert!(!e.contains("<html>"), "no HTML pages in messages");
    still_serving(&mcp).await;
    mcp.close().await;
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_but_a_post_is_never_retried() {
    let upstream = MockServer::start().await;
    mount_ok(&upstream).await;
    let limited = || {
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "1")
            .set_body_json(json!({ "error": "Too many clipboard read requests. Please slow down.", "retryAfter": 1 }))
    };
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/api/clipboard"))
        .respond_with(limited())
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&upstream)
        .await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/api/clipboard"))
        .respond_with(ResponseTemplate::new(200).set_body_json(entry("limited")))
        .with_priority(3)
        .mount(&upstream)
        .await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/api/clipboard/push"))
        .respond_with(limited())
        .mount(&upstream)
        .await;
    let mcp = server_for(&upstream.uri(), 3, 10).await;

    let started = Instant::now();
    let got = mcp.ok("clipboard_get", json!({ "name": "limited" })).await;
    assert_eq!(got["value"], "value of limited");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited for Retry-After: {:?}",
        started.elapsed()
    );

    let e = mcp.err("clipboard_push", json!({ "value": "x" })).await;
    assert!(
        e.contains("rate limited by Plugged.in; retry after 1 s"),
        "{e}"
    );
    let pushes = upstream
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/api/clipboard/push")
        .count();
    assert_eq!(pushes, 1, "a non-idempotent POST is sent once");
    still_serving(&mcp).await;
    mcp.close().await;
}

#[tokio::test]
async fn a_garbage_body_is_an_error_that_names_plugged_in() {
    let upstream = MockServer::start().await;
    mount_ok(&upstream).await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/api/clipboard"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"entry\": {\"uuid\": 5, oops"))
        .with_priority(2)
        .mount(&upstream)
        .await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/api/documents/search"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string("<!DOCTYPE html><title>Maintenance</title>"),
        )
        .mount(&upstream)
        .await;
    let mcp = server_for(&upstream.uri(), 3, 10).await;
    let e = mcp.err("clipboard_get", json!({ "name": "garbage" })).await;
    assert!(
        e.starts_with("Plugged.in sent an answer this server cannot read"),
        "{e}"
    );
    let html = mcp.err("search_docs", json!({ "query": "anything" })).await;
    assert!(
        html.contains("Plugged.in sent an answer this server cannot read"),
        "{html}"
    );
    still_serving(&mcp).await;
    mcp.close().await;
}

/// A raw TCP stand-in: `truncate` answers with a Content-Length longer than the body it
/// sends, then closes; `hold` never answers and counts the connections the client closes.
async fn raw_standin(mode: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let closed = Arc::new(AtomicUsize::new(0));
    let seen = closed.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = socket.read(&mut buf).await;
                if mode == "truncate" {
                    let _ = socket
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"entry\":{\"uuid\":")
                        .await;
                    return;
                }
                // hold: wait for the client to give up; EOF means it closed the connection.
                loop {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => {
                            seen.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    (base, closed)
}

#[tokio::test]
async fn a_truncated_body_is_an_error_that_names_plugged_in() {
    let (base, _) = raw_standin("truncate").await;
    let mcp = server_for(&base, 0, 10).await;
    let e = mcp.err("clipboard_get", json!({ "name": "cut" })).await;
    assert!(
        e.contains("Plugged.in sent an answer this server cannot read") && e.contains("cut off"),
        "{e}"
    );
    mcp.close().await;
}

#[tokio::test]
async fn a_cancelled_call_aborts_its_upstream_request_and_the_server_keeps_serving() {
    let (base, closed) = raw_standin("hold").await;
    let mcp = server_for(&base, 3, 60).await;
    let params = CallToolRequestParams::new("clipboard_get")
        .with_arguments(json!({ "name": "held" }).as_object().unwrap().clone());
    let handle = mcp
        .client
        .send_cancellable_request(
            ClientRequest::CallToolRequest(Request::new(params)),
            PeerRequestOptions::with_timeout(Duration::from_millis(500)),
        )
        .await
        .unwrap();
    let outcome = handle.await_response().await;
    assert!(
        matches!(outcome, Err(rmcp::service::ServiceError::Timeout { .. })),
        "{outcome:?}"
    );
    // The client's timeout sends notifications/cancelled; the server drops the upstream call.
    let started = Instant::now();
    while closed.load(Ordering::SeqCst) == 0 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        closed.load(Ordering::SeqCst),
        1,
        "the stand-in saw the upstream connection close"
    );
    // And other requests are still served.
    assert_eq!(
        mcp.client.list_all_tools().await.unwrap().len(),
        common::LISTED_TOOLS
    );
    mcp.close().await;
}
