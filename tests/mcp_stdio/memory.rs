//! Memory end to end in local mode, through a real MCP client: a session's life, search and
//! details, the session resource and the prompt, memory surviving a restart, concurrent
//! observations, the rules on bad input, and the embedded API's wire shapes.

use crate::common::{
    TestApi,
    mcp::{spawn_local, start_local},
};
use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams};
use serde_json::{Value, json};

async fn start_session(mcp: &crate::common::mcp::Mcp, task: &str) -> (String, String) {
    let started = mcp
        .ok("memory_start", json!({ "content_session_id": task }))
        .await;
    (
        started["uuid"].as_str().unwrap().to_string(),
        started["memory_session_id"].as_str().unwrap().to_string(),
    )
}

/// `pluggedin://memory/sessions/{session}`, parsed.
async fn session_resource(mcp: &crate::common::mcp::Mcp, session: &str) -> Value {
    let read = mcp
        .client
        .read_resource(ReadResourceRequestParams::new(format!(
            "pluggedin://memory/sessions/{session}"
        )))
        .await
        .unwrap();
    let rmcp::model::ResourceContents::TextResourceContents { text, .. } = &read.contents[0] else {
        panic!("{read:?}")
    };
    serde_json::from_str(text).unwrap()
}

#[tokio::test]
async fn a_session_is_recorded_searched_and_ended() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;
    let (uuid, ms_id) = start_session(&mcp, "deploy-review").await;
    assert!(ms_id.starts_with("ms_") && ms_id.len() == 24, "{ms_id}");

    for (kind, content, outcome) in [
        (
            "insight",
            "The staging cluster needs the image pulled before a deploy.",
            None,
        ),
        (
            "error_pattern",
            "Deploy failed: quota exceeded on the heavy size.",
            Some("failure"),
        ),
        (
            "workflow_step",
            "To roll back, suspend the agent and restart it from the last export.",
            Some("success"),
        ),
    ] {
        let mut args = json!({ "session": uuid, "type": kind, "content": content,
            "metadata": { "tool_name": "create_agent" } });
        if let Some(o) = outcome {
            args["outcome"] = json!(o);
        }
        let observed = mcp.ok("memory_observe", args).await;
        assert_eq!(observed["type"], kind);
    }

    // Search finds the failure in the shocks ring, first.
    let found = mcp
        .ok(
            "memory_search",
            json!({ "query": "why did the deploy fail on quota?" }),
        )
        .await;
    let first = &found["memories"][0];
    assert_eq!(first["ring"], "shocks", "{found}");
    assert!(
        first["content"]
            .as_str()
            .unwrap()
            .contains("quota exceeded")
    );
    assert!(first["similarity"].as_f64().unwrap() > 0.0);
    // Narrowed to a ring.
    let procedures = mcp
        .ok(
            "memory_search",
            json!({ "query": "roll back", "ring_types": ["procedures"] }),
        )
        .await;
    let memories = procedures["memories"].as_array().unwrap();
    assert_eq!(memories.len(), 1, "{procedures}");
    assert!(memories.iter().all(|m| m["ring"] == "procedures"));

    // Details: the full memory, with where it came from.
    let details = mcp
        .ok("memory_details", json!({ "memory_uuids": [first["uuid"]] }))
        .await;
    let memory = &details["memories"][0];
    assert_eq!(memory["sourceSessionUuid"], uuid.as_str());
    assert_eq!(memory["isShock"], true);
    assert!(memory["accessCount"].as_i64().unwrap() >= 2, "{memory}");

    // The session as a resource: the session and its observations, in order.
    let resource = session_resource(&mcp, &ms_id).await;
    assert_eq!(resource["session"]["status"], "active");
    assert_eq!(resource["session"]["observation_count"], 3);
    assert_eq!(resource["observations"].as_array().unwrap().len(), 3);
    assert_eq!(resource["observations"][0]["observation_type"], "insight");

    // One way to name a session in every memory tool: its memory_session_id works for
    // memory_observe as for memory_end, and the argument's former name still works.
    mcp.ok(
        "memory_observe",
        json!({ "session": ms_id, "type": "insight", "content": "named by its id" }),
    )
    .await;
    mcp.ok(
        "memory_observe",
        json!({ "session_uuid": uuid, "type": "insight", "content": "by the old name" }),
    )
    .await;
    let resource = session_resource(&mcp, &uuid).await;
    assert_eq!(resource["observations"].as_array().unwrap().len(), 5);

    // Ended once; a second end and a late observation are refused, saying why.
    let ended = mcp.ok("memory_end", json!({ "session": ms_id })).await;
    assert_eq!(ended["uuid"], uuid.as_str());
    let again = mcp.err("memory_end", json!({ "session": ms_id })).await;
    assert!(again.contains("already ended"), "{again}");
    let late = mcp
        .err(
            "memory_observe",
            json!({ "session": uuid, "type": "insight", "content": "too late" }),
        )
        .await;
    assert!(late.contains("Session is not active"), "{late}");
    mcp.close().await;
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;
    let (uuid, _) = start_session(&mcp, "limits").await;
    let long = mcp
        .err(
            "memory_observe",
            json!({ "session": uuid, "type": "insight", "content": "x".repeat(10_001) }),
        )
        .await;
    assert!(long.contains("content") && long.contains("10000"), "{long}");
    let top_k = mcp
        .err("memory_search", json!({ "query": "x", "top_k": 51 }))
        .await;
    assert!(top_k.contains("top_k"), "{top_k}");
    let many = mcp
        .err(
            "memory_details",
            json!({ "memory_uuids": vec![uuid.clone(); 21] }),
        )
        .await;
    assert!(many.contains("memory_uuids"), "{many}");
    let session = mcp.err("memory_end", json!({ "session": "../x" })).await;
    assert!(session.contains("session"), "{session}");
    let unknown = mcp
        .err(
            "memory_observe",
            json!({ "session": "11111111-1111-4111-8111-111111111111", "type": "insight", "content": "x" }),
        )
        .await;
    assert!(unknown.contains("404"), "{unknown}");
    mcp.close().await;
}

#[tokio::test]
async fn memory_survives_a_restart_and_concurrent_observations_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = spawn_local(dir.path()).await;
    let (uuid, ms_id) = start_session(&mcp, "concurrency").await;
    let calls = (0..40).map(|i| {
        mcp.call(
            "memory_observe",
            json!({ "session": uuid, "type": "decision", "content": format!("decision number {i} about caching") }),
        )
    });
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(|r| r.is_error != Some(true)));
    mcp.close().await;

    let mcp = spawn_local(dir.path()).await;
    let resource = session_resource(&mcp, &ms_id).await;
    assert_eq!(resource["session"]["observation_count"], 40);
    assert_eq!(resource["observations"].as_array().unwrap().len(), 40);
    let found = mcp
        .ok(
            "memory_search",
            json!({ "query": "decision number 17", "top_k": 50 }),
        )
        .await;
    assert_eq!(found["memories"].as_array().unwrap().len(), 40, "{found}");
    mcp.close().await;
}

#[tokio::test]
async fn the_prompt_teaches_the_memory_workflow() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;
    let prompt = mcp
        .client
        .get_prompt(
            GetPromptRequestParams::new("long_task_memory").with_arguments(
                serde_json::from_value(json!({ "task": "migrate the docs" })).unwrap(),
            ),
        )
        .await
        .unwrap();
    let text = format!("{:?}", prompt.messages);
    for step in [
        "memory_start",
        "memory_search",
        "memory_observe",
        "memory_end",
        "migrate the docs",
    ] {
        assert!(text.contains(step), "{step}: {text}");
    }
    let templates = mcp.client.list_all_resource_templates().await.unwrap();
    assert!(
        templates
            .iter()
            .any(|t| t.uri_template == "pluggedin://memory/sessions/{session}"),
        "{templates:?}"
    );
    mcp.close().await;
}

#[tokio::test]
async fn the_embedded_api_answers_with_the_clouds_shapes() {
    let api = TestApi::start().await;
    let bad = api
        .call(
            reqwest::Method::POST,
            "/api/memory/sessions",
            Some(json!({})),
        )
        .await;
    assert_eq!(bad.status, reqwest::StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["success"], false);
    assert_eq!(bad.body["error"], "Invalid request body");
    assert!(
        bad.body["details"]["fieldErrors"]["content_session_id"].is_array(),
        "{:?}",
        bad.body
    );
    let created = api
        .call(
            reqwest::Method::POST,
            "/api/memory/sessions",
            Some(json!({ "content_session_id": "wire" })),
        )
        .await;
    assert_eq!(created.status, reqwest::StatusCode::CREATED);
    assert_eq!(created.body["success"], true);
    let uuid = created.body["data"]["uuid"].as_str().unwrap().to_string();
    assert!(
        created.body["data"]["memorySessionId"]
            .as_str()
            .unwrap()
            .starts_with("ms_")
    );
    let observed = api
        .call(
            reqwest::Method::POST,
            &format!("/api/memory/sessions/{uuid}/observations"),
            Some(json!({ "type": "nonsense", "content": "x" })),
        )
        .await;
    assert_eq!(observed.status, reqwest::StatusCode::BAD_REQUEST);
    assert!(observed.body["details"]["fieldErrors"]["type"].is_array());
    let not_uuid = api
        .call(
            reqwest::Method::POST,
            "/api/memory/sessions/nope/observations",
            Some(json!({ "type": "insight", "content": "x" })),
        )
        .await;
    assert_eq!(not_uuid.status, reqwest::StatusCode::BAD_REQUEST);
    assert_eq!(not_uuid.body["error"], "Invalid session ID format");
    let ended = api
        .call(
            reqwest::Method::PATCH,
            &format!("/api/memory/sessions/{uuid}"),
            Some(json!({"action": "end"})),
        )
        .await;
    assert_eq!(
        ended.body,
        json!({ "success": true, "data": { "uuid": uuid } })
    );
    let twice = api
        .call(
            reqwest::Method::PATCH,
            &format!("/api/memory/sessions/{uuid}"),
            Some(json!({"action": "end"})),
        )
        .await;
    assert_eq!(twice.status, reqwest::StatusCode::OK);
    assert_eq!(
        twice.body,
        json!({ "success": false, "error": "Session not found or already ended" })
    );
    let search = api
        .call(
            reqwest::Method::POST,
            "/api/memory/search",
            Some(json!({ "query": "" })),
        )
        .await;
    assert_eq!(search.status, reqwest::StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn hostile_sizes_are_refused_and_repeats_answered_once() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;
    let (uuid, _) = start_session(&mcp, "hostile").await;
    let limit = pluggedin_mcp::vocab::limits::MEMORY_METADATA_MAX_BYTES;
    // Metadata over the limit: refused by the tool, naming the field, its size and the rule.
    let too_big = mcp
        .err(
            "memory_observe",
            json!({ "session": uuid, "type": "insight", "content": "c",
                    "metadata": { "blob": "x".repeat(limit) } }),
        )
        .await;
    assert!(
        too_big.contains("metadata") && too_big.contains(&limit.to_string()),
        "{too_big}"
    );
    // Just under it: kept.
    mcp.ok(
        "memory_observe",
        json!({ "session": uuid, "type": "insight", "content": "kept under the limit",
                "metadata": { "blob": "x".repeat(limit - 100) } }),
    )
    .await;
    // The embedded API holds the same rule for any client of its own.
    let api = TestApi::start().await;
    let created = api
        .call(
            reqwest::Method::POST,
            "/api/memory/sessions",
            Some(json!({ "content_session_id": "hostile" })),
        )
        .await;
    let api_session = created.body["data"]["uuid"].as_str().unwrap().to_string();
    let refused = api
        .call(
            reqwest::Method::POST,
            &format!("/api/memory/sessions/{api_session}/observations"),
            Some(json!({ "type": "insight", "content": "c", "metadata": { "blob": "x".repeat(limit) } })),
        )
        .await;
    assert_eq!(refused.status, reqwest::StatusCode::BAD_REQUEST);
    assert!(
        refused.body["details"]["fieldErrors"]["metadata"].is_array(),
        "{:?}",
        refused.body
    );

    // The same memory asked for 20 times: answered once.
    let found = mcp
        .ok("memory_search", json!({ "query": "kept under the limit" }))
        .await;
    let memory = found["memories"][0]["uuid"].as_str().unwrap().to_string();
    let details = mcp
        .ok(
            "memory_details",
            json!({ "memory_uuids": vec![memory.clone(); 20] }),
        )
        .await;
    assert_eq!(
        details["memories"].as_array().unwrap().len(),
        1,
        "{details}"
    );
    assert_eq!(details["memories"][0]["uuid"], memory.as_str());
    // The embedded API too (as the cloud's `IN (…)`), for a client of its own.
    api.call(
        reqwest::Method::POST,
        &format!("/api/memory/sessions/{api_session}/observations"),
        Some(json!({ "type": "insight", "content": "asked for twenty times" })),
    )
    .await;
    let searched = api
        .call(
            reqwest::Method::POST,
            "/api/memory/search",
            Some(json!({ "query": "asked for twenty times" })),
        )
        .await;
    let api_memory = searched.body["data"][0]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let direct = api
        .call(
            reqwest::Method::POST,
            "/api/memory/search/details",
            Some(json!({ "memory_uuids": vec![api_memory.clone(); 20] })),
        )
        .await;
    let direct = direct.body["data"].as_array().unwrap();
    assert_eq!(direct.len(), 1, "{direct:?}");
    assert_eq!(direct[0]["accessCount"], 2, "{direct:?}");

    // A session named by 100,000 letters: refused before it is looked up or counted.
    let err = mcp
        .client
        .read_resource(ReadResourceRequestParams::new(format!(
            "pluggedin://memory/sessions/{}",
            "a".repeat(100_000)
        )))
        .await
        .unwrap_err();
    assert!(format!("{err}").contains("at most"), "{err}");
    mcp.close().await;
}
