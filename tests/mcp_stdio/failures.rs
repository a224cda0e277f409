//! Cloud-mode failures against stand-ins: a wrong key, an unreachable API, a hung API; and
//! the key never leaking into logs or output.

use std::time::{Duration, Instant};

use crate::common::{
    TestApi,
    mcp::{spawn, start},
};
use serde_json::json;

#[tokio::test]
async fn a_wrong_key_is_a_401_result_that_says_what_to_fix() {
    let api = TestApi::start().await;
    let mcp = start(
        &[],
        &[
            ("PLUGGEDIN_API_KEY", "pg_in_wrongkey"),
            ("PLUGGEDIN_API_BASE_URL", api.api.base_url()),
        ],
    )
    .await;
    let info = mcp.client.peer_info().unwrap();
    assert!(
        info.instructions
            .as_deref()
            .unwrap()
            .starts_with("CLOUD mode")
    );
    let e = mcp.err("list_agents", json!({})).await;
    assert!(e.contains("401") && e.contains("PLUGGEDIN_API_KEY"), "{e}");
    assert!(!e.contains("pg_in_wrongkey"));
    mcp.close().await;

    // The right key works against the same API: cloud mode is the real path.
    let key = api.key().to_string();
    let mcp = start(
        &[],
        &[
            ("PLUGGEDIN_API_KEY", &key),
            ("PLUGGEDIN_API_BASE_URL", api.api.base_url()),
        ],
    )
    .await;
    mcp.ok("clipboard_set", json!({ "name": "cloud", "value": "yes" }))
        .await;
    assert_eq!(
        api.get("/api/clipboard?name=cloud").await.body["entry"]["source"],
        "mcp"
    );
    mcp.close().await;
}

#[tokio::test]
async fn an_unreachable_api_fails_fast_with_a_reason() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mcp = start(
        &["--timeout", "3", "--max-retries", "1"],
        &[
            ("PLUGGEDIN_API_KEY", "pg_in_x"),
            ("PLUGGEDIN_API_BASE_URL", &base),
        ],
    )
    .await;
    let started = Instant::now();
    let e = mcp.err("search_docs", json!({ "query": "anything" })).await;
    assert!(
        e.contains("cannot reach Plugged.in") && e.contains(&base),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    // tools/list never needs the API.
    assert_eq!(
        mcp.client.list_all_tools().await.unwrap().len(),
        crate::common::LISTED_TOOLS
    );
    mcp.close().await;
}

#[tokio::test]
async fn a_hung_api_gives_an_error_result_at_the_deadline() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            open.push(s);
        }
    });
    let mcp = start(
        &["--timeout", "1"],
        &[
            ("PLUGGEDIN_API_KEY", "pg_in_x"),
            ("PLUGGEDIN_API_BASE_URL", &base),
        ],
    )
    .await;
    let started = Instant::now();
    let e = mcp.err("clipboard_get", json!({ "name": "x" })).await;
    let took = started.elapsed();
    assert!(e.contains("did not answer within 1 s"), "{e}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    mcp.close().await;
    hold.abort();
}

#[tokio::test]
async fn the_key_never_appears_in_logs_or_output() {
    let api = TestApi::start().await;
    let key = api.key().to_string();
    let mcp = spawn(
        &[],
        &[
            ("PLUGGEDIN_API_KEY", &key),
            ("PLUGGEDIN_API_BASE_URL", api.api.base_url()),
            ("RUST_LOG", "trace"),
        ],
    )
    .await;
    let mut outputs = Vec::new();
    outputs.push(json!(
        mcp.ok(
            "create_agent",
            json!({ "name": "secretive", "env": { "MODE": "x" } })
        )
        .await
    ));
    outputs.push(json!(
        mcp.ok(
            "export_agent",
            json!({ "agent": "secretive", "include_telemetry": true })
        )
        .await
    ));
    outputs.push(json!(
        mcp.ok("clipboard_push", json!({ "value": "v" })).await
    ));
    outputs.push(json!(
        mcp.err(
            "get_doc",
            json!({ "id": "11111111-1111-4111-8111-111111111111" })
        )
        .await
    ));
    outputs.push(json!(mcp.client.list_all_tools().await.unwrap()));
    crate::common::wait_until("trace lines on stderr", || {
        let stderr = mcp.stderr();
        stderr.contains("TRACE") && stderr.len() > 2000
    })
    .await;
    let stderr = mcp.stderr();
    mcp.close().await;
    assert!(
        stderr.contains("TRACE") && stderr.len() > 2000,
        "trace logging was on: {} bytes",
        stderr.len()
    );
    assert!(!stderr.contains(&key), "key in stderr");
    for out in &outputs {
        assert!(!out.to_string().contains(&key), "key in output: {out}");
    }
    // Wrong-key path too.
    let wrong = spawn(
        &[],
        &[
            ("PLUGGEDIN_API_KEY", "pg_in_THISISSECRET"),
            ("PLUGGEDIN_API_BASE_URL", api.api.base_url()),
            ("RUST_LOG", "trace"),
        ],
    )
    .await;
    let e = wrong.err("list_agents", json!({})).await;
    assert!(!e.contains("THISISSECRET"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let wrong_stderr = wrong.stderr();
    wrong.close().await;
    assert!(!wrong_stderr.contains("THISISSECRET"));
}
