//! Many clients at once, and isolation: a hung upstream call in one session never delays
//! another.

use std::time::{Duration, Instant};

use crate::{
    common::http::{call, start_http, start_local_http},
    standin,
};
use serde_json::json;

#[tokio::test]
async fn a_hundred_concurrent_sessions_all_succeed() {
    let (server, _dir) = start_local_http(&[]);
    let server = std::sync::Arc::new(server);
    let sessions = (0..100).map(|i| {
        let server = server.clone();
        tokio::spawn(async move {
            let client = server.connect(None).await;
            let name = format!("session-{i}");
            let (err, _) = call(
                &client,
                "clipboard_set",
                json!({ "name": name, "value": format!("v{i}") }),
            )
            .await;
            assert!(!err, "set failed in session {i}");
            let (err, got) = call(&client, "clipboard_get", json!({ "name": name })).await;
            assert!(!err, "get failed in session {i}");
            assert_eq!(
                got["value"],
                format!("v{i}"),
                "sessions never see each other's answers"
            );
            let (err, _) = call(&client, "clipboard_push", json!({ "value": name })).await;
            assert!(!err);
            client.cancel().await.unwrap();
        })
    });
    let results = futures::future::join_all(sessions).await;
    let failures = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(failures, 0, "{failures} of 100 sessions failed");
    // Every push landed exactly once.
    let client = server.connect(None).await;
    let (_, list) = call(&client, "clipboard_list", json!({ "limit": 100 })).await;
    assert_eq!(list["total"], 200);
}

#[tokio::test]
async fn a_hung_upstream_call_does_not_delay_other_sessions() {
    let (upstream, seen) = standin::start().await;
    let server = start_http(
        &["--timeout", "30"],
        &[
            ("PLUGGEDIN_API_KEY", "pg_in_standin"),
            ("PLUGGEDIN_API_BASE_URL", &upstream),
        ],
    );
    let stuck_client = server.connect(None).await;
    let stuck = tokio::spawn(async move {
        let r = call(&stuck_client, "clipboard_get", json!({ "name": "hang" })).await;
        (r, stuck_client)
    });
    // Wait until the stand-in holds the hung request.
    for _ in 0..100 {
        if seen
            .requests
            .lock()
            .unwrap()
            .iter()
            .any(|(n, _)| n == "hang")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let other = server.connect(None).await;
    for i in 0..20 {
        let started = Instant::now();
        let (err, got) = call(
            &other,
            "clipboard_get",
            json!({ "name": format!("ok-{i}") }),
        )
        .await;
        assert!(!err, "{got}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "answered in {:?}",
            started.elapsed()
        );
    }
    assert!(
        !stuck.is_finished(),
        "the hung call is still waiting on its upstream"
    );
    stuck.abort();
}

/// A raw request on `session`: its status and body (an SSE stream read to its end).
async fn raw_call(base: &str, session: &str, body: serde_json::Value) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(format!("{base}/mcp"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-11-25")
        .json(&body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn a_second_request_with_an_id_in_flight_is_refused_not_left_hanging() {
    let (upstream, _seen) = standin::start().await;
    let server = start_http(
        &[],
        &[
            ("PLUGGEDIN_API_KEY", "pg_in_standin"),
            ("PLUGGEDIN_API_BASE_URL", &upstream),
        ],
    );
    let init = reqwest::Client::new()
        .post(server.mcp_url())
        .header("accept", "application/json, text/event-stream")
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": { "protocolVersion": "2025-11-25", "capabilities": {},
                        "clientInfo": { "name": "raw", "version": "1" } } }))
        .send()
        .await
        .unwrap();
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    drop(init);
    raw_call(
        &server.base,
        &session,
        json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
    )
    .await;
    let slow = json!({ "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": { "name": "clipboard_get", "arguments": { "name": "slow" } } });
    let first = tokio::spawn({
        let (base, session, slow) = (server.base.clone(), session.clone(), slow.clone());
        async move { raw_call(&base, &session, slow).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The same id while the first is in flight: refused at once, saying why.
    let started = Instant::now();
    let (_, second) = tokio::time::timeout(
        Duration::from_secs(10),
        raw_call(&server.base, &session, slow.clone()),
    )
    .await
    .expect("the second request is answered, not left waiting");
    assert!(started.elapsed() < Duration::from_secs(1), "{second}");
    assert!(
        second.contains("-32600") && second.contains("already in flight"),
        "{second}"
    );
    // The first still gets its own answer.
    let (_, first) = tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .expect("the first request is answered")
        .unwrap();
    assert!(
        first.contains(r#""id":7"#) && first.contains("result"),
        "{first}"
    );
    // Once answered, the id may be used again.
    let (_, again) = raw_call(
        &server.base,
        &session,
        json!({ "jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": { "name": "clipboard_get", "arguments": { "name": "quick" } } }),
    )
    .await;
    assert!(
        again.contains("result") && again.contains("quick"),
        "{again}"
    );
}
