//! Many clients at once, and isolation: a hung upstream call in one session never delays
//! another.

use std::time::{Duration, Instant};

use crate::{
    common::http::{call, spawn_http, spawn_local_http},
    standin,
};
use serde_json::json;

#[tokio::test]
async fn a_hundred_concurrent_sessions_all_succeed() {
    let (server, _dir) = spawn_local_http(&[]);
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
    let server = spawn_http(
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
