//! Inputs that used to slip through, answers of the wrong shape, and what the real Plugged.in
//! does that the tools must report truthfully: failed deployments, SQL-text timestamps,
//! notifications too old to see, and resource lists that show every kind on the first page.

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers};

use crate::common::mcp::{start, start_local};

#[tokio::test]
async fn bad_clipboard_and_tag_inputs_get_rules_not_empty_successes() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;
    for (tool, args, field, rule) in [
        (
            "clipboard_set",
            json!({ "name": "", "value": "x" }),
            "`name`",
            "1 to 255",
        ),
        ("clipboard_get", json!({ "name": "" }), "`name`", "1 to 255"),
        (
            "clipboard_delete",
            json!({ "name": "" }),
            "`name`",
            "1 to 255",
        ),
        (
            "clipboard_set",
            json!({ "idx": 9_223_372_036_854_775_807_i64, "value": "x" }),
            "`idx`",
            "between 0 and",
        ),
        (
            "clipboard_get",
            json!({ "idx": 9_223_372_036_854_775_807_i64 }),
            "`idx`",
            "32-bit",
        ),
        (
            "search_docs",
            json!({ "query": "x", "tags": vec!["t"; 40_000] }),
            "`tags`",
            "at most 20",
        ),
        (
            "list_docs",
            json!({ "tags": vec!["t"; 33_000] }),
            "`tags`",
            "at most 20",
        ),
        (
            "create_doc",
            json!({ "title": "t", "content": "c", "tags": [""] }),
            "`tags`",
            "1 to 100",
        ),
    ] {
        let text = mcp.err(tool, args).await;
        assert!(
            text.contains(field) && text.contains(rule),
            "{tool}: {text}"
        );
    }
    // The stack still works after a refused index.
    let pushed = mcp.ok("clipboard_push", json!({ "value": "fine" })).await;
    assert_eq!(pushed["idx"], 0);
    mcp.close().await;
}

#[tokio::test]
async fn an_answer_of_the_wrong_shape_is_an_error_not_an_empty_success() {
    let upstream = MockServer::start().await;
    // A list where one entry was asked for, a bare object where a list was expected.
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/api/clipboard"))
        .and(matchers::query_param("name", "x"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "entries": [], "total": 0 })),
        )
        .mount(&upstream)
        .await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/api/documents"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "ok": true })))
        .mount(&upstream)
        .await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/api/agents"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{ "nothing": 1 }])))
        .mount(&upstream)
        .await;
    let mcp = start(
        &[],
        &[
            ("PLUGGEDIN_API_KEY", "pg_in_shape"),
            ("PLUGGEDIN_API_BASE_URL", &upstream.uri()),
        ],
    )
    .await;
    for (tool, args) in [
        ("clipboard_get", json!({ "name": "x" })),
        ("list_docs", json!({})),
        ("list_agents", json!({})),
    ] {
        let text = mcp.err(tool, args).await;
        assert!(text.contains("cannot read"), "{tool}: {text}");
    }
    mcp.close().await;
}

/// A stand-in serving one agent as the real app leaves it after a failed deployment, and a
/// pop answer with Postgres text timestamps, as the real app sends them.
async fn real_app_standin() -> MockServer {
    let upstream = MockServer::start().await;
    let uuid = "22222222-2222-4222-8222-222222222222";
    Mock::given(matchers::method("GET"))
        .and(matchers::path(format!("/api/agents/{uuid}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "agent": { "uuid": uuid, "name": "broken", "state": "NEW", "metadata": {} },
            "recentHeartbeats": [], "recentMetrics": [],
            "lifecycleEvents": [
                { "event_type": "EXPORTED", "from_state": "NEW", "to_state": "NEW", "metadata": {}, "timestamp": "2026-11-23T22:15:00.000Z" },
                { "event_type": "ERROR", "from_state": "NEW", "to_state": "NEW",
                  "metadata": { "error_message": "Kubernetes API unreachable: connect ECONNREFUSED", "triggered_by": "system" },
                  "timestamp": "2026-11-23T22:14:16.702Z" },
                { "event_type": "CREATED", "from_state": null, "to_state": "NEW", "metadata": {}, "timestamp": "2026-11-23T22:14:16.500Z" }
            ]
        })))
        .mount(&upstream)
        .await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/api/clipboard/pop"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "success": true, "entry": {
            "uuid": "33333333-3333-4333-8333-333333333333", "name": null, "idx": 4, "value": "v",
            "contentType": "text/plain", "encoding": "utf-8", "sizeBytes": 1,
            "createdAt": "2026-11-23 22:14:16.702+00", "updatedAt": "2026-11-23 22:14:16.702+00",
            "expiresAt": "2026-11-24 22:14:16.702+00"
        }})))
        .mount(&upstream)
        .await;
    upstream
}

#[tokio::test]
async fn a_failed_deployment_and_sql_timestamps_are_reported_truthfully() {
    let upstream = real_app_standin().await;
    let mcp = start(
        &[],
        &[
            ("PLUGGEDIN_API_KEY", "pg_in_real"),
            ("PLUGGEDIN_API_BASE_URL", &upstream.uri()),
        ],
    )
    .await;
    let status = mcp
        .ok(
            "agent_status",
            json!({ "agent": "22222222-2222-4222-8222-222222222222" }),
        )
        .await;
    assert_eq!(status["health"], "deployment_failed", "{status}");
    assert!(
        status["health_detail"]
            .as_str()
            .unwrap()
            .contains("ECONNREFUSED"),
        "{status}"
    );
    let popped = mcp.ok("clipboard_pop", json!({})).await;
    assert_eq!(popped["entry"]["updated_at"], "2026-11-23T22:14:16.702Z");
    assert_eq!(popped["entry"]["expires_at"], "2026-11-24T22:14:16.702Z");
    mcp.close().await;
}

#[tokio::test]
async fn a_notification_too_old_to_see_is_never_toggled_blind() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;
    let first = mcp
        .ok("send_notification", json!({ "message": "the oldest" }))
        .await;
    let oldest = first["id"].as_str().unwrap().to_string();
    for i in 0..100 {
        mcp.ok("send_notification", json!({ "message": format!("n{i}") }))
            .await;
    }
    let refused = mcp
        .err("complete_notification", json!({ "id": oldest }))
        .await;
    assert!(refused.contains("not among the 100"), "{refused}");
    // Unchanged: delete the newer ones and look at it.
    let list = mcp.ok("list_notifications", json!({ "limit": 100 })).await;
    for n in list["notifications"].as_array().unwrap() {
        mcp.ok("delete_notification", json!({ "id": n["id"] }))
            .await;
    }
    let left = mcp.ok("list_notifications", json!({})).await;
    assert_eq!(left["notifications"][0]["id"], oldest);
    assert_eq!(left["notifications"][0]["completed"], false);
    mcp.close().await;
}

#[tokio::test]
async fn the_first_resource_page_shows_every_kind() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = crate::common::mcp::start(
        &[
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--agent-quota",
            "80",
        ],
        &[],
    )
    .await;
    for i in 0..70 {
        mcp.ok("create_agent", json!({ "name": format!("agent-{i:02}") }))
            .await;
    }
    mcp.ok("create_doc", json!({ "title": "A doc", "content": "text" }))
        .await;
    mcp.ok("clipboard_set", json!({ "name": "a-note", "value": "v" }))
        .await;
    let first = mcp.client.list_resources(None).await.unwrap();
    let uris: Vec<&str> = first.resources.iter().map(|r| r.uri.as_str()).collect();
    for kind in [
        "pluggedin://agents/",
        "pluggedin://docs/",
        "pluggedin://clipboard/",
    ] {
        assert!(
            uris.iter().any(|u| u.starts_with(kind)),
            "the first page has a {kind} resource: {uris:?}"
        );
    }
    // Paging still reaches every agent exactly once.
    let all = mcp.client.list_all_resources().await.unwrap();
    let agents: std::collections::BTreeSet<&str> = all
        .iter()
        .filter(|r| r.uri.starts_with("pluggedin://agents/"))
        .map(|r| r.uri.as_str())
        .collect();
    assert_eq!(agents.len(), 70);
    assert_eq!(all.len(), 72);
    mcp.close().await;
}

#[tokio::test]
async fn descriptions_are_true_in_cloud_mode() {
    // Plugged.in's search matches titles and descriptions only.
    let catalog: Value = serde_json::from_str(include_str!("../../tools/catalog.json")).unwrap();
    let search = catalog
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "search_docs")
        .unwrap();
    let text = search["description"].as_str().unwrap();
    assert!(text.contains("titles and descriptions"), "{text}");
    assert!(!text.contains("titles, descriptions and content"), "{text}");
    let get = catalog
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "get_doc")
        .unwrap();
    assert!(
        get["inputSchema"]["properties"]["version"]["description"]
            .as_str()
            .unwrap()
            .contains("version 2"),
        "{get}"
    );
}
