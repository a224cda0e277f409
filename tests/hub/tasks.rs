//! Tasks (SEP-2663) through the hub: a client that follows tasks gets the server's task
//! under an id of the hub's own and reaches it with `tasks/get`, `tasks/update` and
//! `tasks/cancel` (status notifications too); a client that does not gets an ordinary
//! answer; and a server that makes a task anyway is followed by the hub, which answers what
//! the task asks through the client and returns its result.

use std::time::{Duration, Instant};

use rmcp::{
    model::{
        CallToolRequestParams, CallToolResponse, CancelTaskParams, GetTaskParams, GetTaskResult,
        InputResponses, TaskPayload, TaskStatus, UpdateTaskParams,
    },
    service::Peer,
};
use serde_json::{Value, json};

use super::{
    common::mcp::{Mcp, Recorder, text_of},
    fixture_bin, start_hub_as, stdio_server, wait_for_tools,
};

async fn hub_with(servers: Value, recorder: Recorder, ready: &str) -> (Mcp, tempfile::TempDir) {
    let (mcp, dir, _file) = start_hub_as(servers, &[], recorder).await;
    let ready = ready.to_string();
    wait_for_tools(&mcp.client, "fixture up", |n| n.contains(&ready)).await;
    (mcp, dir)
}

fn raw_server(label: &str) -> Value {
    json!({"command": fixture_bin(), "env": {"FIXTURE_LABEL": label, "FIXTURE_RAW_TASKS": "1"}})
}

fn call(tool: &str, args: Value) -> CallToolRequestParams {
    let Value::Object(args) = args else {
        unreachable!()
    };
    CallToolRequestParams::new(tool.to_string()).with_arguments(args)
}

/// Polls the task until `done` says its state is the one awaited.
async fn poll_until(
    peer: &Peer<rmcp::RoleClient>,
    id: &str,
    done: impl Fn(&GetTaskResult) -> bool,
) -> GetTaskResult {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let state = peer.get_task(GetTaskParams::new(id)).await.unwrap();
        if done(&state) {
            return state;
        }
        assert!(Instant::now() < deadline, "task never got there: {state:?}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

#[tokio::test]
async fn a_client_that_follows_tasks_gets_them_under_the_hubs_ids() {
    let recorder = Recorder {
        tasks: true,
        ..Recorder::default()
    };
    let (mcp, _dir) = hub_with(json!({"a": stdio_server("a")}), recorder, "a__task_job").await;
    let peer = mcp.client.peer();
    let answer = peer
        .call_tool_once(call(
            "a__task_job",
            json!({"ms": 300, "steps": 3, "text": "which colour?"}),
        ))
        .await
        .unwrap();
    let CallToolResponse::Task(created) = answer else {
        panic!("not a task: {answer:?}");
    };
    let id = created.task.task_id.clone();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "the hub's own id: {id}");
    // It works through its steps, then asks its question.
    let asking = poll_until(peer, &id, |s| s.task.status() == TaskStatus::InputRequired).await;
    assert_eq!(asking.task.task.task_id, id);
    let TaskPayload::InputRequired { input_requests } = &asking.task.payload else {
        unreachable!()
    };
    let question = serde_json::to_value(&input_requests["question"]).unwrap();
    assert_eq!(question["params"]["message"], "which colour?", "{question}");
    let mut answers = InputResponses::new();
    answers.insert(
        "question".into(),
        json!({"action": "accept", "content": {"answer": "blue"}}),
    );
    peer.update_task(UpdateTaskParams::new(id.clone(), answers))
        .await
        .unwrap();
    let done = poll_until(peer, &id, |s| s.task.status().is_terminal()).await;
    let TaskPayload::Completed { result } = &done.task.payload else {
        panic!("not completed: {done:?}");
    };
    let said = result["content"][0]["text"].as_str().unwrap();
    let servers_id = said
        .strip_prefix("a: task done with answer \"blue\" (task ")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{said}"));
    assert_ne!(servers_id, id, "the client saw the server's own id");
    // The server's own id means nothing through the hub.
    assert!(peer.get_task(GetTaskParams::new(servers_id)).await.is_err());
    // The server's status notifications came under the hub's id.
    let notes = mcp.recorder.task_status.lock().unwrap().clone();
    assert!(!notes.is_empty(), "no notifications/tasks");
    assert!(notes.iter().all(|n| n.task.task.task_id == id), "{notes:?}");
    assert!(
        notes
            .iter()
            .any(|n| n.task.task.status_message.as_deref() == Some("step 1 of 3")),
        "{notes:?}"
    );
    // An id the hub did not hand out is unknown (-32602), and nothing is forwarded for it.
    for unknown in ["nope", &"x".repeat(10_000)] {
        let error = peer
            .get_task(GetTaskParams::new(unknown))
            .await
            .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("-32602") || text.contains("unknown task"),
            "{text}"
        );
        assert!(
            text.len() < 400,
            "the id is quoted short: {} chars",
            text.len()
        );
    }
}

#[tokio::test]
async fn cancelling_a_task_through_the_hub_cancels_it_on_the_server() {
    let recorder = Recorder {
        tasks: true,
        ..Recorder::default()
    };
    let (mcp, _dir) = hub_with(json!({"a": stdio_server("a")}), recorder, "a__task_job").await;
    let peer = mcp.client.peer();
    let CallToolResponse::Task(created) = peer
        .call_tool_once(call("a__task_job", json!({"ms": 20_000, "steps": 2})))
        .await
        .unwrap()
    else {
        panic!("not a task");
    };
    let id = created.task.task_id;
    peer.cancel_task(CancelTaskParams::new(id.clone()))
        .await
        .unwrap();
    let state = poll_until(peer, &id, |s| s.task.status().is_terminal()).await;
    assert_eq!(state.task.status(), TaskStatus::Cancelled, "{state:?}");
}

#[tokio::test]
async fn a_client_that_does_not_follow_tasks_gets_an_ordinary_answer() {
    let (mcp, _dir) = hub_with(
        json!({"a": stdio_server("a")}),
        Recorder::default(),
        "a__task_job",
    )
    .await;
    let answer = mcp.call("a__task_job", json!({"ms": 100})).await;
    assert_eq!(text_of(&answer), "a: job done without a task");
    // A client that follows tasks but calls through hub_call_tool gets the answer too.
    let recorder = Recorder {
        tasks: true,
        ..Recorder::default()
    };
    let (mcp, _dir) = hub_with(json!({"a": stdio_server("a")}), recorder, "a__task_job").await;
    let answer = mcp
        .call(
            "hub_call_tool",
            json!({"name": "a__task_job", "arguments": {"ms": 100}}),
        )
        .await;
    assert_eq!(text_of(&answer), "a: job done without a task", "{answer:?}");
}

#[tokio::test]
async fn the_hub_follows_a_task_for_a_client_that_cannot_and_answers_its_question() {
    let recorder = Recorder {
        capable: true,
        ..Recorder::default()
    };
    let (mcp, _dir) = hub_with(json!({"r": raw_server("r")}), recorder, "r__task_job").await;
    // With a progress token, the task's status messages arrive as progress.
    let peer = mcp.client.peer();
    let mut params = call("r__task_job", json!({"text": "which one?"}));
    params.meta = Some(rmcp::model::RequestMetaObject::with_progress_token(
        rmcp::model::ProgressToken(rmcp::model::NumberOrString::String("t".into())),
    ));
    let answer = peer.call_tool_once(params).await.unwrap();
    let CallToolResponse::Complete(result) = answer else {
        panic!("the hub did not follow the task: {answer:?}");
    };
    // The recorder answers every form field "filled".
    assert_eq!(text_of(&result), "r: raw task done with answer \"filled\"");
    let messages = || -> Vec<String> {
        let progress = mcp.recorder.progress.lock().unwrap();
        progress.iter().filter_map(|p| p.message.clone()).collect()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while messages().len() < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        messages(),
        ["step 1", "step 2", "waiting for the user", "done"]
    );
    // A task that fails is an error result saying why.
    let failed = mcp.call("r__task_job", json!({"fail": true})).await;
    assert_eq!(failed.is_error, Some(true));
    assert!(
        text_of(&failed).contains("its task failed: boom"),
        "{failed:?}"
    );
}

#[tokio::test]
async fn a_followed_task_that_asks_what_the_client_cannot_answer_is_cancelled() {
    // This client declares no elicitation.
    let (mcp, _dir) = hub_with(
        json!({"r": raw_server("r")}),
        Recorder::default(),
        "r__task_job",
    )
    .await;
    let answer = mcp.call("r__task_job", json!({"text": "which one?"})).await;
    assert_eq!(answer.is_error, Some(true));
    assert!(
        text_of(&answer).contains("asked the client something it cannot answer"),
        "{answer:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while text_of(&mcp.call("r__cancellations", json!({})).await) != "1" {
        assert!(Instant::now() < deadline, "the task was never cancelled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_2026_07_28_client_follows_a_task_and_its_hop_metadata_stays_with_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("servers.json");
    super::write_servers(&file, json!({"a": stdio_server("a")}));
    let (server, _data) =
        crate::common::http::start_local_http(&["--servers", file.to_str().unwrap()]);
    let client = server
        .connect_modern_as(Recorder {
            tasks: true,
            ..Recorder::default()
        })
        .await;
    super::wait_for_tools(&client, "fixture up", |n| n.contains(&"a__task_job".into())).await;
    let peer = client.peer();
    let CallToolResponse::Task(created) = peer
        .call_tool_once(call("a__task_job", json!({"ms": 100, "steps": 1})))
        .await
        .unwrap()
    else {
        panic!("not a task");
    };
    let done = poll_until(peer, &created.task.task_id, |s| {
        s.task.status().is_terminal()
    })
    .await;
    assert_eq!(done.task.status(), TaskStatus::Completed, "{done:?}");
    // What reaches the server: the client's own `_meta` keys, but not the keys that describe
    // the client's hop (its revision, identity), which the hub's hop replaces; the
    // capabilities the server may rely on for this call are this client's (none here).
    let plain = server.connect_modern().await;
    let mut params = call("a__echo", json!({"text": "hi"}));
    let mut meta = rmcp::model::RequestMetaObject::new();
    meta.0.0.insert("custom/key".into(), json!("kept"));
    params.meta = Some(meta);
    let answer = plain.peer().call_tool_once(params).await.unwrap();
    let CallToolResponse::Complete(echo) = answer else {
        panic!("not a result");
    };
    let seen = &echo.structured_content.as_ref().unwrap()["meta"];
    assert_eq!(seen["custom/key"], "kept", "{seen}");
    for hop in [
        "io.modelcontextprotocol/protocolVersion",
        "io.modelcontextprotocol/clientInfo",
    ] {
        assert!(seen.get(hop).is_none(), "{hop} reached the server: {seen}");
    }
    assert_eq!(
        seen["io.modelcontextprotocol/clientCapabilities"],
        json!({}),
        "{seen}"
    );
}
