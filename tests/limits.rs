//! No tool result is unbounded, and lists never load whole values.
//!
//! Every tool is called against a stand-in that answers with oversized data (megabytes in
//! every string it can, in every list): each result stays within the budget and says when it
//! was cut. Lists of 2 MiB clipboard values are listed without loading them (peak memory of
//! the whole process stays far below their size); a popped value too long for one result is
//! kept, not lost; resources are paged the same way.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test at once, with its message"
)]
mod common;

use common::mcp::{spawn, start, start_local, text_of};
use pluggedin_mcp::tools::budget::{RESULT_BUDGET_BYTES, TRUNCATED_META};
use rmcp::model::{CallToolRequestParams, ReadResourceRequestParams, ResourceContents};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers};

const UUID: &str = "11111111-1111-4111-8111-111111111111";

/// The budget the per-tool test runs with (the mechanism is the same at the default 4 MiB,
/// which the other tests here exercise; a smaller one keeps a debug build quick).
const BUDGET: usize = 64 * 1024;

/// An oversized string: 100 K two-byte characters, three times the budget on its own.
fn big(tag: &str) -> String {
    static BIG: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| "é".repeat(100 * 1024));
    format!("{tag}:{}", *BIG)
}

/// Answers each route with what its decoder expects, oversized wherever a string or list is
/// passed on (each answer stays below the client's 64 MiB read limit).
struct Huge;

impl Respond for Huge {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let path = req.url.path().trim_start_matches("/api/").to_string();
        let method = req.method.as_str();
        let agent = json!({ "uuid": UUID, "name": "huge", "state": "ACTIVE",
            "last_heartbeat_at": "2026-11-28T10:00:00.000Z", "metadata": {} });
        let entry = json!({ "uuid": UUID, "name": "n", "idx": 1, "value": big("value"),
            "contentType": "text/plain", "encoding": "utf-8", "sizeBytes": 1 });
        let doc = json!({ "id": UUID, "title": big("title"), "description": big("description"),
            "snippet": "s", "tags": ["t"], "relevanceScore": 1.0 });
        let message = json!({ "message": big("message") });
        let agent_route = format!("agents/{UUID}");
        let body = match (method, path.as_str()) {
            ("GET", "agents") => json!([agent]),
            ("POST", "agents") => {
                json!({ "agent": agent, "deployment": { "success": true, "message": big("deployment") } })
            }
            ("GET", p) if p == agent_route => json!({ "agent": agent,
                "lifecycleEvents": [{ "event_type": big("event") }, { "event_type": big("event") }] }),
            ("POST", p) if p == format!("{agent_route}/export") => json!({
                "agent": { "blob": big("export") }, "lifecycle_events": [{ "blob": big("event") }],
                "telemetry": { "blob": big("telemetry") } }),
            ("GET", p) if p == format!("{agent_route}/logs") => json!({
                "logs": (0..20_000).map(|i| format!("log line {i}\n")).collect::<String>() }),
            (_, p) if p.starts_with("agents/") => message,
            ("GET", "clipboard") if req.url.query().is_some_and(|q| q.contains("name=")) => {
                json!({ "entry": entry })
            }
            ("GET", "clipboard") => json!({ "entries": [entry.clone(), entry], "total": 2 }),
            ("DELETE", "clipboard") => json!({ "deleted": 1 }),
            (_, p) if p.starts_with("clipboard") => json!({ "entry": entry }),
            ("GET", "documents") => json!({ "documents": [doc.clone(), doc], "total": 2 }),
            ("POST", "documents/search") => json!({ "results": [doc.clone(), doc], "total": 2 }),
            ("POST", "documents/ai") => json!({ "documentId": UUID, "url": big("url") }),
            ("GET", p) if p.ends_with("/versions") => json!({ "versions":
                (0..4).map(|_| json!({ "versionNumber": 2, "changeSummary": big("summary") })).collect::<Vec<_>>() }),
            ("GET", p) if p.starts_with("documents/") => {
                json!({ "id": UUID, "title": big("title"), "content": big("content") })
            }
            ("PATCH", p) if p.starts_with("documents/") => {
                json!({ "version": 2, "message": big("message") })
            }
            ("POST", "rag/query") => {
                json!({ "answer": big("answer"), "sources": ["s"], "documentIds": [UUID] })
            }
            ("POST", "memory/sessions") => {
                json!({ "success": true, "data": { "uuid": UUID, "memorySessionId": big("ms") } })
            }
            ("POST", "memory/search") => json!({ "success": true, "data":
                (0..3).map(|_| json!({ "uuid": UUID, "ringType": "practice", "content": big("memory"),
                    "similarity": 0.9, "tags": [big("tag")] })).collect::<Vec<_>>() }),
            ("POST", "memory/search/details") => json!({ "success": true, "data":
                (0..3).map(|_| json!({ "uuid": UUID, "contentFull": big("full") })).collect::<Vec<_>>() }),
            (_, p) if p.starts_with("memory/") => {
                json!({ "success": true, "data": { "uuid": UUID } })
            }
            ("GET", "notifications") => json!({ "notifications":
                [{ "id": UUID, "title": big("title"), "message": big("message") }] }),
            _ => message,
        };
        ResponseTemplate::new(200).set_body_json(body)
    }
}

/// Valid arguments for every tool in the catalog.
fn arguments(tool: &str) -> Value {
    match tool {
        "agent_heartbeat" => json!({ "agent": UUID, "uptime_seconds": 1 }),
        "agent_metrics" => {
            json!({ "agent": UUID, "cpu_percent": 1, "memory_mb": 1, "requests_handled": 1 })
        }
        "agent_logs" | "agent_status" | "delete_agent" | "export_agent" => json!({ "agent": UUID }),
        "control_agent" => json!({ "agent": UUID, "action": "resume" }),
        "create_agent" => json!({ "name": "huge-agent" }),
        "clipboard_delete" | "clipboard_get" => json!({ "name": "n" }),
        "clipboard_set" => json!({ "name": "n", "value": "v" }),
        "clipboard_push" => json!({ "value": "v" }),
        "clipboard_list" | "clipboard_pop" | "list_agents" | "list_docs" | "list_notifications" => {
            json!({})
        }
        "complete_notification" | "delete_notification" => json!({ "id": UUID }),
        "create_doc" => json!({ "title": "t", "content": "c" }),
        "update_doc" => json!({ "id": UUID, "operation": "append", "content": "c" }),
        "get_doc" => json!({ "id": UUID, "versions": true, "max_chars": 1_000_000 }),
        "rag_ask" => json!({ "query": "what?" }),
        "search_docs" => json!({ "query": "q" }),
        "send_notification" => json!({ "message": "m" }),
        "memory_start" => json!({ "content_session_id": "c" }),
        "memory_end" => json!({ "session": "ms_x" }),
        "memory_observe" => json!({ "session": UUID, "type": "insight", "content": "c" }),
        "memory_search" => json!({ "query": "q" }),
        "memory_details" => json!({ "memory_uuids": [UUID] }),
        other => panic!("no arguments written for the tool {other}: add them here"),
    }
}

#[tokio::test]
async fn every_tool_result_stays_within_the_budget_whatever_the_upstream_sends() {
    let upstream = MockServer::start().await;
    Mock::given(matchers::any())
        .respond_with(Huge)
        .mount(&upstream)
        .await;
    let budget = BUDGET.to_string();
    let mcp = start(
        &["--max-result-bytes", &budget],
        &[
            ("PLUGGEDIN_API_KEY", "pg_in_huge"),
            ("PLUGGEDIN_API_BASE_URL", &upstream.uri()),
        ],
    )
    .await;
    let tools = mcp.client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), common::LISTED_TOOLS);
    let mut marked = Vec::new();
    for tool in tools {
        let name = tool.name.to_string();
        let args = arguments(&name);
        let result = mcp
            .client
            .call_tool(
                CallToolRequestParams::new(name.clone())
                    .with_arguments(args.as_object().unwrap().clone()),
            )
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let structured = result
            .structured_content
            .as_ref()
            .map_or(0, |v| v.to_string().len());
        let whole = serde_json::to_string(&result).unwrap().len();
        assert!(
            structured <= BUDGET,
            "{name}: structured content of {structured} bytes"
        );
        // The text copy of the structured content, plus notes.
        assert!(
            whole <= 2 * BUDGET + 8 * 1024,
            "{name}: a result of {whole} bytes"
        );
        let cut = result
            .meta
            .as_ref()
            .is_some_and(|m| m.0.contains_key(TRUNCATED_META));
        let paged = result
            .structured_content
            .as_ref()
            .is_some_and(|v| v.get("next_offset").is_some());
        if cut {
            assert!(
                text_of(&result).contains("cut to fit"),
                "{name}: a cut result says so in its text"
            );
        }
        assert_ne!(
            result.is_error,
            Some(true),
            "{name}: {}",
            text_of(&result).chars().take(300).collect::<String>()
        );
        if cut || paged {
            marked.push(name);
        }
    }
    // Each of these passes an oversized string (or log) on as it came.
    for must in [
        "agent_status",
        "agent_heartbeat",
        "agent_logs",
        "control_agent",
        "create_agent",
        "create_doc",
        "export_agent",
        "get_doc",
        "list_docs",
        "rag_ask",
        "search_docs",
        "send_notification",
        "update_doc",
        "clipboard_get",
    ] {
        assert!(
            marked.iter().any(|n| n == must),
            "{must} returned oversized data unmarked (marked: {marked:?})"
        );
    }
    mcp.close().await;
}

fn peak_rss_kib(pid: u32) -> u64 {
    common::memory_kib(pid, "VmHWM")
}

#[tokio::test]
async fn listing_100_values_of_2_mib_never_loads_them() {
    let dir = tempfile::tempdir().unwrap();
    let api = common::TestApi::start_with(|c| {
        c.data_dir = dir.path().join("data");
    })
    .await;
    // 200 MiB of values, written straight into the store (the API's own write path is
    // tested elsewhere; here only reading them matters).
    api.api
        .store()
        .write(|tx| {
            let value = "v".repeat(2 * 1024 * 1024);
            for i in 0..100 {
                tx.execute(
                    "INSERT INTO clipboard (uuid, name, value, content_type, encoding, size_bytes, \
                     visibility, source, created_at, updated_at, expires_at) \
                     VALUES (?1, ?2, ?3, 'text/plain', 'utf-8', ?4, 'private', 'ui', \
                     '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2999-01-01T00:00:00.000Z')",
                    rusqlite::params![
                        uuid::Uuid::new_v4().to_string(),
                        format!("big-{i:03}"),
                        value,
                        value.len() as i64
                    ],
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
    // The list route cuts values where they live.
    let listed = api.get("/api/clipboard?limit=100").await;
    let entries = listed.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 100);
    assert!(
        entries
            .iter()
            .all(|e| e["value"].as_str().unwrap().len() <= 1000)
    );
    assert_eq!(entries[0]["sizeBytes"], 2 * 1024 * 1024);
    api.api.stop().await;

    // The binary over the same data: peak memory of the whole process (server and embedded
    // API) stays far below the 200 MiB listed.
    let mcp = spawn(
        &["--data-dir", dir.path().join("data").to_str().unwrap()],
        &[],
    )
    .await;
    let list = mcp.ok("clipboard_list", json!({ "limit": 100 })).await;
    assert_eq!(list["entries"].as_array().unwrap().len(), 100);
    assert_eq!(list["total"], 100);
    let resources = mcp.client.list_all_resources().await.unwrap();
    assert_eq!(resources.len(), 100);
    let peak = peak_rss_kib(mcp.pid);
    assert!(
        peak < 100 * 1024,
        "peak RSS {peak} KiB while listing 200 MiB of values"
    );
    mcp.close().await;
}

#[tokio::test]
async fn a_cloud_list_of_huge_values_is_decoded_a_value_at_a_time() {
    let upstream = MockServer::start().await;
    // 40 values of 2 MiB: an 80 MiB answer.
    let entry = json!({ "uuid": UUID, "name": "n", "value": "w".repeat(2 * 1024 * 1024),
        "contentType": "text/plain", "encoding": "utf-8", "sizeBytes": 2 * 1024 * 1024 });
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/api/clipboard"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "entries": vec![entry; 40], "total": 40 })),
        )
        .mount(&upstream)
        .await;
    let mcp = spawn(
        &["--timeout", "60"],
        &[
            ("PLUGGEDIN_API_KEY", "pg_in_lists"),
            ("PLUGGEDIN_API_BASE_URL", &upstream.uri()),
        ],
    )
    .await;
    let list = mcp.ok("clipboard_list", json!({ "limit": 100 })).await;
    let entries = list["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 40);
    assert_eq!(entries[0]["preview"].as_str().unwrap().chars().count(), 101);
    let peak = peak_rss_kib(mcp.pid);
    assert!(
        peak < 64 * 1024,
        "peak RSS {peak} KiB while listing 80 MiB of values"
    );
    mcp.close().await;
}

#[tokio::test]
async fn a_popped_value_too_long_for_one_result_is_kept_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let budget = BUDGET.to_string();
    let mcp = start(
        &[
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--max-result-bytes",
            &budget,
        ],
        &[],
    )
    .await;
    // Control characters: six bytes each once JSON-escaped, so 50,000 of them (300 KB) are
    // several results' worth at this budget (2 MiB of them are at the default one).
    let value: String = "\u{1}".repeat(50_000);
    mcp.ok("clipboard_push", json!({ "value": value })).await;
    let popped = mcp.ok("clipboard_pop", json!({})).await;
    let entry = &popped["entry"];
    let shown = entry["value"].as_str().unwrap().chars().count();
    assert!(shown < value.len(), "cut to fit");
    let kept_as = entry["name"]
        .as_str()
        .expect("kept under a name")
        .to_string();
    assert!(entry["note"].as_str().unwrap().contains(&kept_as));
    // Page through the kept entry: every character comes back.
    let mut offset = 0u64;
    let mut total = 0usize;
    loop {
        let page = mcp
            .ok(
                "clipboard_get",
                json!({ "name": kept_as, "offset": offset }),
            )
            .await;
        total += page["value"].as_str().unwrap().chars().count();
        match page["next_offset"].as_u64() {
            Some(next) => offset = next,
            None => break,
        }
    }
    assert_eq!(total, value.len());
    mcp.close().await;
}

#[tokio::test]
async fn a_5_mb_document_is_read_as_a_resource_in_marked_pages() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;
    let content: String = (0..500_000)
        .map(|i| format!("line {i:07}\n"))
        .collect::<String>()
        .chars()
        .take(5_000_000)
        .collect();
    let created = mcp
        .ok(
            "create_doc",
            json!({ "title": "Big", "content": content, "format": "txt" }),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let uri = format!("pluggedin://docs/{id}");
    let read = mcp
        .client
        .read_resource(ReadResourceRequestParams::new(uri.clone()))
        .await
        .unwrap();
    let (text, meta) = match &read.contents[0] {
        ResourceContents::TextResourceContents { text, meta, .. } => (text.clone(), meta.clone()),
        other => panic!("{other:?}"),
    };
    assert!(text.len() <= RESULT_BUDGET_BYTES, "{}", text.len());
    assert!(
        text.contains("[pluggedin-mcp: cut at the"),
        "a visible marker"
    );
    let next = meta.unwrap().0[TRUNCATED_META]["nextOffset"]
        .as_u64()
        .unwrap();
    let rest = mcp
        .client
        .read_resource(ReadResourceRequestParams::new(format!(
            "{uri}?offset={next}"
        )))
        .await
        .unwrap();
    let ResourceContents::TextResourceContents { text: tail, .. } = &rest.contents[0] else {
        panic!()
    };
    assert!(
        content.ends_with(tail.as_str()),
        "the second page is the rest"
    );
    mcp.close().await;
}

#[tokio::test]
async fn version_history_with_huge_summaries_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;
    let created = mcp
        .ok(
            "create_doc",
            json!({ "title": "Versions", "content": "v1" }),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    for i in 0..10 {
        mcp.ok(
            "update_doc",
            json!({ "id": id, "operation": "append", "content": format!("v{i}"),
                    "change_summary": "s".repeat(1024 * 1024) }),
        )
        .await;
    }
    let r = mcp
        .call("get_doc", json!({ "id": id, "versions": true }))
        .await;
    let size = serde_json::to_string(&r).unwrap().len();
    assert!(size < 64 * 1024, "{size} bytes for 10 versions");
    let versions = r.structured_content.unwrap()["versions"].clone();
    assert_eq!(versions.as_array().unwrap().len(), 10);
    mcp.close().await;
}
