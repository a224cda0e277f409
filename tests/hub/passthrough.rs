//! What passes through the hub besides calls and answers, against the in-repo fixture: a
//! call's progress (under the client's own token, keeping a long call alive past its
//! deadline), cancellation reaching the downstream, a downstream's sampling, elicitation
//! and roots requests answered by the client, its log messages, a client without those
//! capabilities, and 2025-11-25 and 2026-07-28 clients of the same hub.
#![allow(
    deprecated,
    reason = "sampling, roots and logging are deprecated in 2026-07-28, but 2025-11-25 clients use them"
)]

use std::time::{Duration, Instant};

use rmcp::{
    model::{
        CallToolRequest, CallToolRequestParams, ClientRequest, LoggingLevel, ProtocolVersion,
        ServerResult, SetLevelRequestParams,
    },
    service::{PeerRequestOptions, RequestHandle},
};
use serde_json::{Value, json};

use super::{
    common::mcp::{Mcp, Recorder, TEST_ROOT, text_of},
    start_hub_as, stdio_server, wait_for_tools, write_servers,
};

async fn hub_as(recorder: Recorder, extra: &[&str]) -> (Mcp, tempfile::TempDir) {
    let (mcp, dir, _file) = start_hub_as(json!({"a": stdio_server("a")}), extra, recorder).await;
    wait_for_tools(&mcp.client, "fixture up", |n| n.contains(&"a__echo".into())).await;
    (mcp, dir)
}

/// Sends a call and returns its handle, whose progress token is the one the client chose.
async fn send(
    peer: &rmcp::service::Peer<rmcp::RoleClient>,
    tool: &str,
    args: Value,
) -> RequestHandle<rmcp::RoleClient> {
    let Value::Object(args) = args else {
        unreachable!()
    };
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(
        CallToolRequestParams::new(tool.to_string()).with_arguments(args),
    ));
    peer.send_request_with_option(request, PeerRequestOptions::no_options())
        .await
        .unwrap()
}

fn text_of_result(result: ServerResult) -> String {
    match result {
        ServerResult::CallToolResult(r) => text_of(&r),
        other => panic!("not a tool result: {other:?}"),
    }
}

#[tokio::test]
async fn progress_reaches_the_caller_under_its_own_token_and_keeps_a_long_call_alive() {
    // Each call's deadline is 1 s; the call takes 2.5 s, reporting progress every 250 ms.
    let (mcp, _dir) = hub_as(Recorder::default(), &["--timeout", "1"]).await;
    let handle = send(
        mcp.client.peer(),
        "a__progress",
        json!({"ms": 2500, "steps": 10}),
    )
    .await;
    let token = handle.progress_token.clone();
    let answer = text_of_result(handle.await_response().await.unwrap());
    assert_eq!(answer, "a: 10 steps done");
    let progress = mcp.recorder.progress.lock().unwrap().clone();
    assert_eq!(progress.len(), 10, "{progress:?}");
    assert!(
        progress.iter().all(|p| p.progress_token == token),
        "{progress:?}"
    );
    assert_eq!(progress[9].progress, 10.0);
    assert_eq!(progress[9].total, Some(10.0));
    assert_eq!(progress[0].message.as_deref(), Some("step 1"));
    // Without progress the same deadline holds.
    let silent = mcp.call("a__slow", json!({"ms": 2500})).await;
    assert_eq!(silent.is_error, Some(true));
    assert!(
        text_of(&silent).contains("did not answer within 1 s"),
        "{silent:?}"
    );
}

#[tokio::test]
async fn the_maximum_call_time_holds_even_with_progress() {
    let (mcp, _dir) = hub_as(
        Recorder::default(),
        &["--timeout", "1", "--hub-max-call-time", "1.5"],
    )
    .await;
    let answer = mcp
        .call("a__progress", json!({"ms": 4000, "steps": 16}))
        .await;
    assert_eq!(answer.is_error, Some(true), "{answer:?}");
    assert!(
        text_of(&answer).contains("did not answer within 1.5 s"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn cancelling_a_call_cancels_it_downstream() {
    let (mcp, _dir) = hub_as(Recorder::default(), &[]).await;
    let handle = send(mcp.client.peer(), "a__wait_cancel", json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    handle.cancel(Some("changed my mind".into())).await.unwrap();
    // The downstream saw the cancellation: its own counter says so.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let count = text_of(&mcp.call("a__cancellations", json!({})).await);
        if count == "1" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never cancelled downstream: {count}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The server is still fine for the next call.
    let echo = mcp.call("a__echo", json!({"text": "after"})).await;
    assert_eq!(text_of(&echo), "a: after");
}

#[tokio::test]
async fn sampling_elicitation_roots_and_logs_pass_between_the_server_and_the_client() {
    let capable = Recorder {
        capable: true,
        ..Recorder::default()
    };
    let (mcp, _dir) = hub_as(capable, &[]).await;
    let sampled = mcp.call("a__ask_model", json!({"text": "2+2?"})).await;
    assert_eq!(text_of(&sampled), "a: the model said sampled: 2+2?");
    let elicited = mcp
        .call("a__ask_user", json!({"text": "Your answer?"}))
        .await;
    assert_eq!(
        text_of(&elicited),
        r#"a: the user chose Accept with {"answer":"filled"}"#
    );
    let roots = mcp.call("a__roots", json!({})).await;
    assert_eq!(text_of(&roots), format!("a: roots {TEST_ROOT}"));

    mcp.client
        .peer()
        .set_level(SetLevelRequestParams::new(LoggingLevel::Info))
        .await
        .unwrap();
    mcp.call("a__log", json!({"text": "from downstream"})).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let logs = mcp.recorder.logs.lock().unwrap().clone();
        if let Some(log) = logs.iter().find(|l| l.data == json!("from downstream")) {
            assert_eq!(log.logger.as_deref(), Some("a/fixture"));
            assert_eq!(log.level, LoggingLevel::Info);
            break;
        }
        assert!(Instant::now() < deadline, "no log forwarded: {logs:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_client_without_those_capabilities_gets_errors_not_hangs() {
    let (mcp, _dir) = hub_as(Recorder::default(), &[]).await;
    for (tool, capability) in [
        ("a__ask_model", "sampling"),
        ("a__ask_user", "elicitation"),
        ("a__roots", "roots"),
    ] {
        let answer = tokio::time::timeout(
            Duration::from_secs(10),
            mcp.call(tool, json!({"text": "?"})),
        )
        .await
        .unwrap_or_else(|_| panic!("{tool} hung"));
        let text = text_of(&answer);
        assert!(text.starts_with("a: the client refused"), "{tool}: {text}");
        assert!(text.to_lowercase().contains(capability), "{tool}: {text}");
    }
    // And at the default log level (warning), an info message is not sent.
    mcp.call("a__log", json!({"text": "quiet"})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        mcp.recorder
            .logs
            .lock()
            .unwrap()
            .iter()
            .all(|l| l.data != json!("quiet"))
    );
}

#[tokio::test]
async fn clients_of_both_protocol_revisions_share_one_hub() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("servers.json");
    write_servers(&file, json!({"a": stdio_server("a")}));
    let (server, _data) =
        crate::common::http::start_local_http(&["--servers", file.to_str().unwrap()]);
    let legacy = server.connect(None).await;
    let modern = server.connect_modern().await;
    assert_eq!(
        modern.peer_info().unwrap().protocol_version,
        ProtocolVersion::V_2026_07_28
    );
    assert_eq!(
        legacy.peer_info().unwrap().protocol_version,
        ProtocolVersion::V_2025_11_25
    );
    for (name, client) in [("legacy", &legacy), ("modern", &modern)] {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !client
            .list_all_tools()
            .await
            .unwrap()
            .iter()
            .any(|t| t.name == "a__progress")
        {
            assert!(
                Instant::now() < deadline,
                "{name}: the fixture never came up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let handle = send(client.peer(), "a__progress", json!({"ms": 200, "steps": 2})).await;
        let token = handle.progress_token.clone();
        let answer = text_of_result(handle.await_response().await.unwrap());
        assert_eq!(answer, "a: 2 steps done", "{name}");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let progress = client.service().progress.lock().unwrap().clone();
            if progress.len() == 2 {
                assert!(progress.iter().all(|p| p.progress_token == token), "{name}");
                break;
            }
            assert!(Instant::now() < deadline, "{name}: progress {progress:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn a_2026_07_28_client_hears_of_list_changes_through_subscriptions_listen() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("servers.json");
    let mut slow = stdio_server("a");
    slow["env"]["FIXTURE_START_DELAY_MS"] = json!("1500");
    write_servers(&file, json!({"a": slow}));
    // No wait for the first list: the server's tools arrive later, announced.
    let (server, _data) = crate::common::http::start_local_http(&[
        "--servers",
        file.to_str().unwrap(),
        "--hub-list-wait",
        "0",
    ]);
    let client = server.connect_modern().await;
    let mut subscription = client
        .peer()
        .listen(
            rmcp::model::SubscriptionFilter::builder()
                .tools_list_changed()
                .build(),
        )
        .await
        .unwrap();
    assert_eq!(subscription.acknowledged().tools_list_changed, Some(true));
    // While the server starts, the list may be cached only briefly.
    let first = client.peer().list_tools(None).await.unwrap();
    assert!(first.tools.iter().all(|t| !t.name.starts_with("a__")));
    assert!(
        first.ttl_ms.is_some_and(|ttl| ttl <= 1_000),
        "{:?}",
        first.ttl_ms
    );
    let heard = tokio::time::timeout(Duration::from_secs(20), subscription.next())
        .await
        .expect("no list change heard")
        .unwrap();
    assert!(
        matches!(
            heard,
            Some(rmcp::model::ServerNotification::ToolListChangedNotification(_))
        ),
        "{heard:?}"
    );
    let now = client.peer().list_tools(None).await.unwrap();
    assert!(now.tools.iter().any(|t| t.name == "a__echo"));
    assert_eq!(now.ttl_ms, Some(60_000));
}

#[tokio::test]
async fn a_calls_meta_reaches_the_server_with_the_hubs_own_progress_token() {
    let (mcp, _dir) = hub_as(Recorder::default(), &[]).await;
    let mut meta = rmcp::model::RequestMetaObject::new();
    meta.0.0.insert("custom/trace".into(), json!({"id": 7}));
    let mut params = CallToolRequestParams::new("a__echo");
    params.meta = Some(meta);
    let rmcp::model::CallToolResponse::Complete(echo) =
        mcp.client.peer().call_tool_once(params).await.unwrap()
    else {
        panic!("not a result");
    };
    let seen = &echo.structured_content.as_ref().unwrap()["meta"];
    assert_eq!(seen["custom/trace"], json!({"id": 7}), "{seen}");
    assert!(seen["progressToken"].is_number(), "{seen}");
}
