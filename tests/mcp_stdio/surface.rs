//! The richer MCP surface: resources, prompts, completions, logging, toolsets and read-only.
#![allow(
    deprecated,
    reason = "MCP logging levels are deprecated in 2026-07-28; 2025-11-25 clients still use them"
)]

use crate::common::mcp::{start, start_local, text_of};
use rmcp::model::{
    ArgumentInfo, CompleteRequestParams, GetPromptRequestParams, LoggingLevel,
    PaginatedRequestParams, ReadResourceRequestParams, Reference, ResourceContents,
    SetLevelRequestParams,
};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers};

fn text_of_resource(r: &rmcp::model::ReadResourceResult) -> (String, Option<String>) {
    match &r.contents[0] {
        ResourceContents::TextResourceContents {
            text, mime_type, ..
        } => (text.clone(), mime_type.clone()),
        ResourceContents::BlobResourceContents {
            blob, mime_type, ..
        } => (format!("blob:{blob}"), mime_type.clone()),
        other => panic!("unexpected contents {other:?}"),
    }
}

#[tokio::test]
async fn resources_of_every_kind_with_paging() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;
    mcp.ok("create_agent", json!({ "name": "res-agent" })).await;
    let mut first_doc = String::new();
    for i in 0..55 {
        let d = mcp.ok("create_doc", json!({ "title": format!("Doc {i:02}"), "content": format!("Body of document {i}.\n\nSecond paragraph.") })).await;
        if i == 0 {
            first_doc = d["id"].as_str().unwrap().to_string();
        }
    }
    mcp.ok(
        "clipboard_set",
        json!({ "name": "notes/today", "value": "remember the milk" }),
    )
    .await;
    mcp.ok("clipboard_set", json!({ "name": "pic", "value": "iVBORw0KGgo=", "content_type": "image/png", "encoding": "base64" })).await;
    mcp.ok(
        "clipboard_push",
        json!({ "value": "stack entries are not resources" }),
    )
    .await;

    let first = mcp.client.list_resources(None).await.unwrap();
    assert!(first.next_cursor.is_some(), "paginated");
    let all = mcp.client.list_all_resources().await.unwrap();
    let uris: Vec<&str> = all.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(
        uris.iter()
            .filter(|u| u.starts_with("pluggedin://agents/"))
            .count(),
        1
    );
    assert_eq!(
        uris.iter()
            .filter(|u| u.starts_with("pluggedin://docs/"))
            .count(),
        55
    );
    assert_eq!(
        uris.iter()
            .filter(|u| u.starts_with("pluggedin://clipboard/"))
            .count(),
        2
    );
    assert!(uris.contains(&"pluggedin://clipboard/notes%2Ftoday"));
    let bad_cursor = mcp
        .client
        .list_resources(Some(
            PaginatedRequestParams::default().with_cursor(Some("garbage".into())),
        ))
        .await;
    assert!(bad_cursor.is_err());

    let templates = mcp.client.list_all_resource_templates().await.unwrap();
    assert_eq!(templates.len(), 4);

    let read = |uri: String| {
        let client = &mcp.client;
        async move {
            client
                .read_resource(ReadResourceRequestParams::new(uri))
                .await
        }
    };
    let doc = read(format!("pluggedin://docs/{first_doc}")).await.unwrap();
    let (text, mime) = text_of_resource(&doc);
    let via_tool = mcp.ok("get_doc", json!({ "id": first_doc })).await;
    assert_eq!(
        text,
        via_tool["content"].as_str().unwrap(),
        "resource text equals get_doc content"
    );
    assert_eq!(mime.as_deref(), Some("text/markdown"));

    let note = read("pluggedin://clipboard/notes%2Ftoday".into())
        .await
        .unwrap();
    assert_eq!(text_of_resource(&note).0, "remember the milk");
    let pic = read("pluggedin://clipboard/pic".into()).await.unwrap();
    assert_eq!(
        text_of_resource(&pic),
        (
            "blob:iVBORw0KGgo=".to_string(),
            Some("image/png".to_string())
        )
    );

    let agent = read("pluggedin://agents/res-agent".into()).await.unwrap();
    let (json_text, mime) = text_of_resource(&agent);
    assert_eq!(mime.as_deref(), Some("application/json"));
    let status: Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(status["state"], "PROVISIONED");

    for missing in [
        "pluggedin://agents/ghost",
        "pluggedin://docs/11111111-1111-4111-8111-111111111111",
        "pluggedin://clipboard/none",
        "https://example.com/x",
    ] {
        let e = read(missing.to_string()).await.unwrap_err();
        assert!(
            format!("{e:?}").contains("no resource at"),
            "{missing}: {e:?}"
        );
    }
    mcp.close().await;
}

#[tokio::test]
async fn prompts_render_with_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;
    let prompts = mcp.client.list_all_prompts().await.unwrap();
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "agent_health_report",
            "deploy_agent",
            "long_task_memory",
            "research_and_record",
            "working_memory"
        ]
    );
    for p in &prompts {
        assert!(p.description.as_deref().is_some_and(|d| !d.is_empty()));
        for a in p.arguments.as_deref().unwrap_or_default() {
            assert!(
                a.description.as_deref().is_some_and(|d| !d.is_empty()),
                "{}.{}",
                p.name,
                a.name
            );
        }
    }
    let get = |name: &str, args: Value| {
        let params =
            GetPromptRequestParams::new(name).with_arguments(args.as_object().unwrap().clone());
        let client = &mcp.client;
        async move { client.get_prompt(params).await }
    };
    let text = |r: rmcp::model::GetPromptResult| match &r.messages[0].content {
        rmcp::model::ContentBlock::Text(t) => t.text.clone(),
        other => panic!("{other:?}"),
    };
    let deploy = text(
        get(
            "deploy_agent",
            json!({ "name": "scout", "purpose": "watch prices", "size": "light" }),
        )
        .await
        .unwrap(),
    );
    assert!(
        deploy.contains("create_agent")
            && deploy.contains("\"scout\"")
            && deploy.contains("size \"light\"")
    );
    assert!(deploy.contains("https://scout.is.plugged.in") && deploy.contains("local mode"));
    let research = text(
        get("research_and_record", json!({ "topic": "zombie agents" }))
            .await
            .unwrap(),
    );
    assert!(
        research.contains("rag_ask")
            && research.contains("create_doc")
            && research.contains("Research: zombie agents")
    );
    let health = text(get("agent_health_report", json!({})).await.unwrap());
    assert!(health.contains("all of the user's PAP agents") && health.contains("unhealthy"));
    let one = text(
        get("agent_health_report", json!({ "agent": "scout" }))
            .await
            .unwrap(),
    );
    assert!(one.contains("the agent \"scout\""));
    let memory = text(
        get("working_memory", json!({ "task": "write release notes" }))
            .await
            .unwrap(),
    );
    assert!(memory.contains("clipboard_push") && memory.contains("write release notes"));
    let missing = get("deploy_agent", json!({ "purpose": "x" }))
        .await
        .unwrap_err();
    assert!(format!("{missing:?}").contains("`name`"));
    mcp.close().await;
}

#[tokio::test]
async fn completions_for_agents_documents_clipboard_and_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;
    for name in ["research-bot", "research-helper", "billing-bot"] {
        mcp.ok("create_agent", json!({ "name": name })).await;
    }
    let onboarding = mcp
        .ok(
            "create_doc",
            json!({ "title": "Onboarding checklist", "content": "x" }),
        )
        .await;
    mcp.ok(
        "create_doc",
        json!({ "title": "Offboarding", "content": "y" }),
    )
    .await;
    mcp.ok(
        "clipboard_set",
        json!({ "name": "task/goal", "value": "g" }),
    )
    .await;
    let complete = |r: Reference, arg: &str, value: &str| {
        let params = CompleteRequestParams::new(r, ArgumentInfo::new(arg, value));
        let client = &mcp.client;
        async move { client.complete(params).await.unwrap().completion }
    };
    let agents = complete(
        Reference::for_resource("pluggedin://agents/{agent}"),
        "agent",
        "rese",
    )
    .await;
    assert_eq!(agents.values.len(), 2);
    assert!(agents.values.iter().all(|v| v.starts_with("research-")));
    let prompt_agent = complete(Reference::for_prompt("agent_health_report"), "agent", "bil").await;
    assert_eq!(prompt_agent.values, ["billing-bot"]);
    let docs = complete(
        Reference::for_resource("pluggedin://docs/{id}"),
        "id",
        "Onb",
    )
    .await;
    assert_eq!(
        docs.values,
        [onboarding["id"].as_str().unwrap()],
        "document ids matched by title"
    );
    let topics = complete(Reference::for_prompt("research_and_record"), "topic", "off").await;
    assert_eq!(topics.values, ["Offboarding"]);
    let names = complete(
        Reference::for_resource("pluggedin://clipboard/{name}"),
        "name",
        "task",
    )
    .await;
    assert_eq!(names.values, ["task/goal"]);
    let sizes = complete(Reference::for_prompt("deploy_agent"), "size", "h").await;
    assert_eq!(sizes.values, ["heavy"]);
    let nothing = complete(Reference::for_prompt("deploy_agent"), "purpose", "x").await;
    assert!(nothing.values.is_empty());
    mcp.close().await;
}

#[tokio::test]
async fn a_retry_upstream_is_logged_to_the_client() {
    let upstream = MockServer::start().await;
    let entry = json!({ "entry": { "uuid": "u", "name": "k", "value": "v", "contentType": "text/plain", "encoding": "utf-8" } });
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/api/clipboard"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_json(json!({ "error": "Service temporarily unavailable" })),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&upstream)
        .await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/api/clipboard"))
        .respond_with(ResponseTemplate::new(200).set_body_json(entry))
        .mount(&upstream)
        .await;
    let mcp = start(
        &[],
        &[
            ("PLUGGEDIN_API_KEY", "pg_in_k"),
            ("PLUGGEDIN_API_BASE_URL", &upstream.uri()),
        ],
    )
    .await;
    let got = mcp.ok("clipboard_get", json!({ "name": "k" })).await;
    assert_eq!(got["value"], "v", "the retry succeeded");
    crate::common::wait_until("the retry's log message", || {
        mcp.recorder
            .logs
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.data.as_str().is_some_and(|d| d.contains("retrying")))
    })
    .await;
    let logs = mcp.recorder.logs.lock().unwrap().clone();
    let retry = logs
        .iter()
        .find(|l| l.data.as_str().is_some_and(|d| d.contains("retrying")))
        .expect("a retry log message");
    assert_eq!(retry.level, LoggingLevel::Warning);
    assert!(
        retry.data.as_str().unwrap().contains("503"),
        "{:?}",
        retry.data
    );
    assert!(!retry.data.as_str().unwrap().contains("pg_in_k"));

    // At level error, the same warning is not sent.
    mcp.client
        .set_level(SetLevelRequestParams::new(LoggingLevel::Error))
        .await
        .unwrap();
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/api/clipboard"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({ "error": "again" })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&upstream)
        .await;
    let before = mcp.recorder.logs.lock().unwrap().len();
    mcp.ok("clipboard_get", json!({ "name": "k" })).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(mcp.recorder.logs.lock().unwrap().len(), before);
    mcp.close().await;
}

#[tokio::test]
async fn read_only_lists_and_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start(
        &["--read-only", "--data-dir", dir.path().to_str().unwrap()],
        &[],
    )
    .await;
    let tools = mcp.client.list_all_tools().await.unwrap();
    assert!(
        tools
            .iter()
            .all(|t| t.annotations.as_ref().unwrap().read_only_hint == Some(true))
    );
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names.len(), 13, "{names:?}");
    assert!(
        names.contains(&"agent_status")
            && names.contains(&"rag_ask")
            && !names.contains(&"create_agent")
    );
    let refused = mcp.call("create_agent", json!({ "name": "nope" })).await;
    assert_eq!(refused.is_error, Some(true));
    assert!(
        text_of(&refused).contains("--read-only"),
        "{}",
        text_of(&refused)
    );
    let prompts = mcp.client.list_all_prompts().await.unwrap();
    assert_eq!(
        prompts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["agent_health_report"]
    );
    assert!(
        mcp.client
            .peer_info()
            .unwrap()
            .instructions
            .as_deref()
            .unwrap()
            .contains("Read-only")
    );
    // Nothing was created.
    assert_eq!(mcp.ok("list_agents", json!({})).await["total"], 0);
    mcp.close().await;
}

#[tokio::test]
async fn toolsets_limit_tools_prompts_and_resources() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start(
        &[
            "--toolsets",
            "clipboard",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let tools = mcp.client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "clipboard_delete",
            "clipboard_get",
            "clipboard_list",
            "clipboard_pop",
            "clipboard_push",
            "clipboard_set"
        ]
    );
    let refused = mcp
        .call(
            "get_doc",
            json!({ "id": "11111111-1111-4111-8111-111111111111" }),
        )
        .await;
    assert_eq!(refused.is_error, Some(true));
    assert!(
        text_of(&refused).contains("--toolsets") && text_of(&refused).contains("`docs`"),
        "{}",
        text_of(&refused)
    );
    let templates = mcp.client.list_all_resource_templates().await.unwrap();
    assert_eq!(
        templates
            .iter()
            .map(|t| t.uri_template.as_str())
            .collect::<Vec<_>>(),
        ["pluggedin://clipboard/{name}"]
    );
    let prompts = mcp.client.list_all_prompts().await.unwrap();
    assert_eq!(
        prompts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["working_memory"]
    );
    let doc = mcp
        .client
        .read_resource(ReadResourceRequestParams::new(
            "pluggedin://docs/11111111-1111-4111-8111-111111111111",
        ))
        .await;
    assert!(format!("{doc:?}").contains("--toolsets"));
    mcp.close().await;
}
