//! The hub with clients and servers of either protocol revision, against real downstream
//! servers (the in-repo fixtures): a 2025-11-25 server's mid-call questions reach a
//! 2026-07-28 client as `input_required`, a 2026-07-28 server's reach a 2025-11-25 client
//! as requests; servers started before a client are told what it can do; completion and
//! resource subscriptions reach the right server and only the subscriber; the first list
//! carries every server, from a cache or by waiting; a call right after start reaches an
//! account server.
#![allow(
    deprecated,
    reason = "sampling and resource subscriptions are deprecated in 2026-07-28, but 2025-11-25 clients use them"
)]

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use rmcp::model::{
    ArgumentInfo, CallToolRequestParams, CallToolResponse, CompleteRequestParams, InputRequest,
    Reference, SubscribeRequestParams, UnsubscribeRequestParams,
};
use serde_json::{Value, json};

use super::{
    common::{
        http::{HttpServer, start_local_http},
        mcp::{Recorder, text_of},
    },
    fixture_bin, start_hub, start_hub_as, stdio_server, tool_names, wait_for_tools, write_servers,
};

fn capable() -> Recorder {
    Recorder {
        capable: true,
        ..Recorder::default()
    }
}

fn call_params(tool: &str, args: Value) -> CallToolRequestParams {
    let Value::Object(args) = args else {
        unreachable!()
    };
    CallToolRequestParams::new(tool.to_string()).with_arguments(args)
}

/// An HTTP hub over the fixture `a`, started before any client.
fn http_hub(extra: &[&str]) -> (HttpServer, tempfile::TempDir, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("servers.json");
    write_servers(&file, json!({"a": stdio_server("a")}));
    let mut args = vec!["--servers", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (server, data) = start_local_http(&args);
    (server, data, dir)
}

type Client = rmcp::service::RunningService<rmcp::RoleClient, Recorder>;

/// Waits until `client` lists `tool`.
async fn listed(client: &Client, tool: &str) {
    wait_for_tools(client, tool, |n| n.iter().any(|t| t == tool)).await;
}

#[tokio::test]
async fn a_2026_07_28_client_gets_a_2025_servers_question_as_input_required() {
    let (server, _data, _dir) = http_hub(&[]);
    let modern = server.connect_modern_as(capable()).await;
    listed(&modern, "a__ask_model").await;
    let peer = modern.peer();
    let first = peer
        .call_tool_once(call_params("a__ask_model", json!({"text": "why?"})))
        .await
        .unwrap();
    let CallToolResponse::InputRequired(asked) = first else {
        panic!("expected input_required, got {first:?}")
    };
    let state = asked.request_state.clone().unwrap();
    assert!(state.starts_with("pluggedin-hub/"), "{state}");
    let requests = asked.input_requests.clone().unwrap();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let (key, request) = requests.into_iter().next().unwrap();
    assert!(
        matches!(request, InputRequest::CreateMessage(_)),
        "{request:?}"
    );
    // A retry whose state was altered is refused as the protocol says.
    let mut forged = call_params("a__ask_model", json!({"text": "why?"}));
    forged.request_state = Some(format!("{state}x"));
    forged.input_responses = Some([(key.clone(), json!({}))].into_iter().collect());
    let refused = peer.call_tool_once(forged).await.unwrap_err();
    assert!(
        format!("{refused:?}").contains("-32602") || format!("{refused}").contains("requestState"),
        "{refused}"
    );
    // The client's answer reaches the waiting server, which finishes the call.
    let mut retry = call_params("a__ask_model", json!({"text": "why?"}));
    retry.request_state = Some(state);
    retry.input_responses = Some(
        [(
            key,
            json!({"role": "assistant", "content": {"type": "text", "text": "because"}, "model": "m"}),
        )]
        .into_iter()
        .collect(),
    );
    let CallToolResponse::Complete(done) = peer.call_tool_once(retry).await.unwrap() else {
        panic!("expected the result after the answer")
    };
    assert_eq!(text_of(&done), "a: the model said because");
    // rmcp's own helper drives the rounds through the client's handler.
    let driven = modern
        .call_tool(call_params("a__ask_model", json!({"text": "again"})))
        .await
        .unwrap();
    assert_eq!(text_of(&driven), "a: the model said sampled: again");
    // A 2025-11-25 client of the same hub is asked the usual way.
    let legacy = server.connect_as(capable()).await;
    let (_, answer) =
        crate::common::http::call(&legacy, "a__ask_model", json!({"text": "legacy"})).await;
    assert_eq!(answer, "a: the model said sampled: legacy");
}

/// The conformance fixture server on a free port; its URL.
fn conformance_server() -> (Child, String) {
    let bin = fixture_bin().with_file_name("conformance_server");
    let mut child = Command::new(bin)
        .arg("0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find("http://") {
                let _ = tx.send(
                    line[at..]
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_string(),
                );
            }
        }
    });
    let url = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    (child, url)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_2026_07_28_servers_questions_are_asked_of_a_2025_client() {
    let (child, url) = conformance_server();
    let _child = Killed(child);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("servers.json");
    write_servers(
        &file,
        json!({"c": {"url": url, "protocolVersion": "2026-07-28"}}),
    );
    let (server, _data) = start_local_http(&["--servers", file.to_str().unwrap()]);
    let legacy = server.connect_as(capable()).await;
    listed(&legacy, "c__test_sampling").await;
    let (error, answer) =
        crate::common::http::call(&legacy, "c__test_sampling", json!({"prompt": "2+2?"})).await;
    assert!(!error, "{answer}");
    assert_eq!(answer, "LLM response: sampled: 2+2?");
    // The server's own input_required passes to a 2026-07-28 client as it is.
    let modern = server.connect_modern_as(capable()).await;
    let first = modern
        .peer()
        .call_tool_once(call_params(
            "c__test_input_required_result_request_state",
            json!({}),
        ))
        .await
        .unwrap();
    let CallToolResponse::InputRequired(asked) = first else {
        panic!("expected input_required, got {first:?}")
    };
    assert_eq!(asked.request_state.as_deref(), Some("confirm-state"));
    let driven = modern
        .call_tool(call_params(
            "c__test_input_required_result_request_state",
            json!({}),
        ))
        .await
        .unwrap();
    assert_eq!(text_of(&driven), "state-ok: confirmed");
    let status = crate::common::http::call(&legacy, "hub_status", json!({}))
        .await
        .1;
    assert_eq!(status["servers"][0]["protocol"], "2026-07-28", "{status}");
}

#[tokio::test]
async fn servers_started_before_a_client_are_told_what_it_can_do() {
    let (server, _data, _dir) = http_hub(&[]);
    // A client that can do nothing brings the fixture up, and starts a long call.
    let plain = server.connect(None).await;
    listed(&plain, "a__echo").await;
    assert!(
        !tool_names(&plain)
            .await
            .contains(&"a__sampling_only".to_string())
    );
    let slow = {
        let peer = plain.peer().clone();
        tokio::spawn(async move {
            peer.call_tool(call_params("a__slow", json!({"ms": 2000})))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A client that can sample joins: within 5 s the fixture, reconnected, offers the tool
    // it keeps for such clients, and asks the client's model.
    let joined = Instant::now();
    let sampler = server.connect_as(capable()).await;
    loop {
        if tool_names(&sampler)
            .await
            .contains(&"a__sampling_only".to_string())
        {
            break;
        }
        assert!(
            joined.elapsed() < Duration::from_secs(5),
            "the server was not told"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, asked) =
        crate::common::http::call(&sampler, "a__ask_model", json!({"text": "late"})).await;
    assert_eq!(asked, "a: the model said sampled: late");
    // The call in flight on the old connection was not lost.
    let slept = slow.await.unwrap().unwrap();
    assert_eq!(text_of(&slept), "a: slept 2000 ms");
}

#[tokio::test]
async fn completion_reaches_the_server_of_a_prompt() {
    let (mcp, _dir, _file) = start_hub(json!({"a": stdio_server("a")}), &[]).await;
    wait_for_tools(&mcp.client, "fixture up", |n| n.contains(&"a__echo".into())).await;
    let request = CompleteRequestParams::new(
        Reference::for_prompt("a__greet"),
        ArgumentInfo::new("name", "a"),
    );
    let done = mcp.client.peer().complete(request).await.unwrap();
    assert_eq!(done.completion.values, vec!["ada-a", "alan-a"]);
}

#[tokio::test]
async fn resource_updates_reach_only_the_subscriber() {
    let (server, _data, _dir) = http_hub(&[]);
    let subscriber = server.connect(None).await;
    let bystander = server.connect(None).await;
    listed(&subscriber, "a__touch").await;
    let uri = "fixture://a/note";
    subscriber
        .peer()
        .subscribe(SubscribeRequestParams::new(uri))
        .await
        .unwrap();
    let touch = || crate::common::http::call(&bystander, "a__touch", json!({"text": uri}));
    let (_, told) = touch().await;
    assert_eq!(told, "a: told 1 subscriber(s)");
    let deadline = Instant::now() + Duration::from_secs(5);
    while subscriber
        .service()
        .resource_updates
        .lock()
        .unwrap()
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "no update reached the subscriber"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        *subscriber.service().resource_updates.lock().unwrap(),
        vec![uri]
    );
    assert!(
        bystander
            .service()
            .resource_updates
            .lock()
            .unwrap()
            .is_empty()
    );
    // Its last subscriber gone, the server is unsubscribed.
    subscriber
        .peer()
        .unsubscribe(UnsubscribeRequestParams::new(uri))
        .await
        .unwrap();
    let (_, told) = touch().await;
    assert_eq!(told, "a: told 0 subscriber(s)");
}

#[tokio::test]
async fn the_first_list_waits_for_a_first_start_and_later_runs_list_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let mut slow = stdio_server("a");
    slow["env"]["FIXTURE_START_DELAY_MS"] = json!("1500");
    let servers = json!({"a": slow});
    // First run, nothing cached: the first list waits for the server.
    let (first, _d1, _f1) = start_hub(servers.clone(), &["--data-dir", data]).await;
    let names = tool_names(&first.client).await;
    assert!(names.contains(&"a__echo".to_string()), "{names:?}");
    first.close().await;
    // Next run: its tools come from the cache at once, long before it is up, and a call
    // waits for it.
    let started = Instant::now();
    let (again, _d2, _f2) = start_hub(servers, &["--data-dir", data, "--hub-list-wait", "0"]).await;
    let names = tool_names(&again.client).await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert!(names.contains(&"a__echo".to_string()), "{names:?}");
    let echo = again.call("a__echo", json!({"text": "cached"})).await;
    assert_eq!(text_of(&echo), "a: cached");
}

#[tokio::test]
async fn a_call_right_after_start_reaches_an_account_server() {
    let api = crate::common::TestApi::start().await;
    super::create_server(
        &api,
        json!({
            "name": "Slow Server", "type": "STDIO", "command": fixture_bin(),
            "env": {"FIXTURE_LABEL": "slow", "FIXTURE_START_DELAY_MS": "800"},
        }),
    )
    .await;
    let mcp = super::start_cloud(&api).await;
    // No list first: the call itself waits for the account and its server.
    let answer = mcp.call("slow-server__echo", json!({"text": "now"})).await;
    assert_eq!(text_of(&answer), "slow: now", "{answer:?}");
}

#[tokio::test]
async fn a_capable_stdio_client_sees_the_sampling_tool_in_its_first_list() {
    let (mcp, _dir, _file) = start_hub_as(json!({"a": stdio_server("a")}), &[], capable()).await;
    let names = tool_names(&mcp.client).await;
    assert!(names.contains(&"a__sampling_only".to_string()), "{names:?}");
}
