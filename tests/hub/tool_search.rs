//! Tool search for big catalogs: 50 fixture servers of 20 tools each (the domains of
//! `tests/fixtures/tool_search/domains.json`) behind the hub, searched with the queries of
//! `queries.json`, written from what the tools do; and the call tool that reaches them.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use super::{common::mcp::text_of, fixture_bin, start_hub, tool_names, wait_for_tools};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tool_search")
}

fn read(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Top-3 hits needed out of the 40 queries (90 %).
const HITS_NEEDED: usize = 36;

#[tokio::test]
async fn a_big_catalog_is_searched_and_each_query_finds_its_tool() {
    let domains_file = fixtures().join("domains.json");
    let servers: serde_json::Map<String, Value> = read("domains.json")
        .iter()
        .map(|d| {
            let name = d["server"].as_str().unwrap().to_string();
            let entry = json!({"command": fixture_bin(), "env": {
                "FIXTURE_LABEL": name, "FIXTURE_DOMAINS": domains_file,
            }});
            (name, entry)
        })
        .collect();
    assert_eq!(servers.len(), 50);
    let (mcp, _dir, _file) = start_hub(Value::Object(servers), &[]).await;

    // All 1,000 tools are in: too many to list, so tools/list offers the search tools.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = mcp
            .ok("hub_search_tools", json!({"query": "github", "limit": 1}))
            .await;
        if found["searched"] == 1000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not all servers came up: {found}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let listed = tool_names(&mcp.client).await;
    assert!(
        listed.contains(&"hub_search_tools".to_string()),
        "{listed:?}"
    );
    assert!(listed.contains(&"hub_call_tool".to_string()), "{listed:?}");
    assert!(!listed.iter().any(|n| n.contains("__")), "{listed:?}");

    let mut misses = Vec::new();
    let queries = read("queries.json");
    for q in &queries {
        let found = mcp
            .ok("hub_search_tools", json!({"query": q["query"], "limit": 3}))
            .await;
        let suffix = format!("__{}", q["tool"].as_str().unwrap());
        let hit =
            found["tools"].as_array().unwrap().iter().any(|t| {
                t["server"] == q["server"] && t["name"].as_str().unwrap().ends_with(&suffix)
            });
        if !hit {
            misses.push(format!("{} → {}", q["query"], found["tools"]));
        }
    }
    assert!(
        queries.len() - misses.len() >= HITS_NEEDED,
        "{} of {} queries missed their tool in the top 3:\n{}",
        misses.len(),
        queries.len(),
        misses.join("\n")
    );

    // The call tool reaches the right server, with arguments checked against the schema.
    let found = mcp
        .ok(
            "hub_search_tools",
            json!({"query": "open a new GitHub issue", "limit": 1}),
        )
        .await;
    let name = found["tools"][0]["name"].as_str().unwrap().to_string();
    assert_eq!(
        found["tools"][0]["inputSchema"]["required"],
        json!(["name", "details"])
    );
    let called = mcp
        .call(
            "hub_call_tool",
            json!({"name": name, "arguments": {"name": "Bug", "details": "It breaks."}}),
        )
        .await;
    assert_eq!(text_of(&called), "github: create_issue", "{called:?}");
    let bad = mcp
        .err(
            "hub_call_tool",
            json!({"name": name, "arguments": {"name": 7}}),
        )
        .await;
    assert!(
        bad.contains("arguments") && bad.contains("details"),
        "{bad}"
    );
    assert!(bad.contains("/name"), "{bad}");
    let unknown = mcp
        .err("hub_call_tool", json!({"name": "nowhere__nothing"}))
        .await;
    assert!(unknown.contains("hub_search_tools"), "{unknown}");
    // Unlisted, each tool still answers to its own name.
    let direct = mcp
        .call(&name, json!({"name": "Bug", "details": "It breaks."}))
        .await;
    assert_eq!(text_of(&direct), "github: create_issue");
}

#[tokio::test]
async fn a_small_catalog_is_listed_unless_search_is_asked_for() {
    let server = json!({"a": {"command": fixture_bin(), "env": {"FIXTURE_LABEL": "a"}}});
    let (mcp, _dir, _file) = start_hub(server.clone(), &[]).await;
    let names = wait_for_tools(&mcp.client, "fixture up", |n| n.contains(&"a__echo".into())).await;
    assert!(
        !names.contains(&"hub_search_tools".to_string()),
        "{names:?}"
    );

    let (mcp, _dir, _file) = start_hub(server, &["--tool-search", "on"]).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let found = loop {
        let found = mcp
            .ok("hub_search_tools", json!({"query": "echo text back"}))
            .await;
        if found["searched"].as_u64().unwrap() > 0 {
            break found;
        }
        assert!(Instant::now() < deadline, "fixture never came up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(found["tools"][0]["name"], "a__echo", "{found}");
    let names = tool_names(&mcp.client).await;
    assert!(names.contains(&"hub_search_tools".to_string()), "{names:?}");
    assert!(!names.contains(&"a__echo".to_string()), "{names:?}");
    let bad = mcp
        .err("hub_search_tools", json!({"query": "x", "limit": 50}))
        .await;
    assert!(bad.contains("limit"), "{bad}");
}
