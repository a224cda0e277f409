//! Hub mode through a real MCP client, against real downstream servers started by the test
//! (`examples/hub_fixture_server.rs`, over stdio and Streamable HTTP): names and routing,
//! crash and restart, hung servers, broken entries, live edits of the servers file,
//! `--read-only` and allow/deny lists.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test at once, with its message"
)]
#[path = "../common/mod.rs"]
mod common;

mod everything;
mod hostile;
mod mistakes;
mod passthrough;
mod python_sdk;
mod revisions;
mod tasks;
mod tenants;
mod tool_search;
mod wire;

use std::{
    path::{Path, PathBuf},
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use common::mcp::{self, Mcp, text_of};
use serde_json::{Value, json};

/// The fixture server, built by `cargo test` with the other examples.
fn fixture_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("examples").join("hub_fixture_server");
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test` (which builds the examples)",
        bin.display()
    );
    bin
}

fn stdio_server(label: &str) -> Value {
    json!({"command": fixture_bin(), "env": {"FIXTURE_LABEL": label}})
}

fn write_servers(path: &Path, servers: Value) {
    // Replace, as editors do, so a reader never sees half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(
        &tmp,
        serde_json::to_string_pretty(&json!({"mcpServers": servers})).unwrap(),
    )
    .unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A client of the hub, as `Mcp::client` and the HTTP tests' sessions are.
type Client = rmcp::service::RunningService<rmcp::RoleClient, common::mcp::Recorder>;

async fn tool_names(client: &Client) -> Vec<String> {
    client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect()
}

/// Waits until the tool list satisfies `ready` (servers start in the background).
async fn wait_for_tools(
    client: &Client,
    what: &str,
    ready: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let names = tool_names(client).await;
        if ready(&names) {
            return names;
        }
        assert!(Instant::now() < deadline, "{what}: tools are {names:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn start_hub(servers: Value, extra: &[&str]) -> (Mcp, tempfile::TempDir, PathBuf) {
    start_hub_as(servers, extra, common::mcp::Recorder::default()).await
}

/// [`start_hub`] with a client of the test's making.
async fn start_hub_as(
    servers: Value,
    extra: &[&str],
    recorder: common::mcp::Recorder,
) -> (Mcp, tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("servers.json");
    write_servers(&file, servers);
    let data = dir.path().join("data");
    let mut args = vec!["--servers", file.to_str().unwrap()];
    // The test's own data directory (one it keeps across runs), or a fresh one.
    if !extra.contains(&"--data-dir") {
        args.extend(["--data-dir", data.to_str().unwrap()]);
    }
    args.extend_from_slice(extra);
    let mcp = mcp::start_as(&args, &[], recorder).await;
    (mcp, dir, file)
}

/// The server in cloud mode, with the embedded API `api` as its Plugged.in.
async fn start_cloud(api: &common::TestApi) -> Mcp {
    let base = api.url("");
    mcp::start(
        &[],
        &[
            ("PLUGGEDIN_API_KEY", api.key()),
            ("PLUGGEDIN_API_BASE_URL", &base),
        ],
    )
    .await
}

/// Adds a server to the embedded API's account; returns its uuid.
async fn create_server(api: &common::TestApi, server: Value) -> String {
    let created = api
        .call(reqwest::Method::POST, "/api/mcp-servers", Some(server))
        .await;
    assert_eq!(
        created.status,
        reqwest::StatusCode::OK,
        "{:?}",
        created.body
    );
    created.body["uuid"].as_str().unwrap().to_string()
}

/// What a client is offered in hub mode — our tools, the hub's, and a fixture server's under
/// its prefix — as one committed file next to `tools/catalog.json`, so a change to names,
/// descriptions, schemas or hints of the hub's listing shows in review.
#[tokio::test]
async fn hub_mode_tools_list_matches_its_snapshot() {
    let (mcp, _dir, _file) = start_hub(json!({"fixture": stdio_server("F")}), &[]).await;
    wait_for_tools(&mcp.client, "the fixture server up", |n| {
        n.contains(&"fixture__echo".into())
    })
    .await;
    let tools = mcp.client.list_all_tools().await.unwrap();
    let listed = serde_json::to_string_pretty(&tools).unwrap() + "\n";
    common::snapshot::check("tests/fixtures/hub/tools_list.json", &listed);
}

#[tokio::test]
async fn two_servers_with_the_same_tool_names_each_answer_for_themselves() {
    let (mcp, _dir, _file) = start_hub(
        json!({"alpha": stdio_server("A"), "beta": stdio_server("B")}),
        &[],
    )
    .await;
    let names = wait_for_tools(&mcp.client, "both servers up", |n| {
        n.contains(&"alpha__echo".into()) && n.contains(&"beta__echo".into())
    })
    .await;
    // Our own tools are still there, and the hub's own.
    assert!(names.contains(&"clipboard_set".to_string()), "{names:?}");
    assert!(names.contains(&"hub_status".to_string()), "{names:?}");

    let a = mcp.call("alpha__echo", json!({"text": "hi"})).await;
    let b = mcp.call("beta__echo", json!({"text": "hi"})).await;
    assert_eq!(text_of(&a), "A: hi");
    assert_eq!(text_of(&b), "B: hi");
    // Structured content comes back as the downstream sent it.
    assert_eq!(a.structured_content.as_ref().unwrap()["label"], "A");

    // A name that routes nowhere is an unknown tool, not a guess.
    let err = mcp
        .client
        .call_tool(rmcp::model::CallToolRequestParams::new("gamma__echo"))
        .await;
    let unknown = match err {
        Err(e) => e.to_string(),
        Ok(r) => text_of(&r),
    };
    assert!(
        unknown.contains("gamma__echo") || unknown.contains("not found"),
        "{unknown}"
    );

    let status = mcp.call("hub_status", json!({})).await;
    let servers = &status.structured_content.as_ref().unwrap()["servers"];
    assert_eq!(servers.as_array().unwrap().len(), 2, "{servers}");
    assert!(
        servers
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "ready"),
        "{servers}"
    );
}

#[tokio::test]
async fn a_crashed_server_restarts_and_the_next_call_works() {
    let (mcp, _dir, _file) = start_hub(json!({"alpha": stdio_server("A")}), &[]).await;
    wait_for_tools(&mcp.client, "server up", |n| {
        n.contains(&"alpha__crash".into())
    })
    .await;
    let crashed = mcp.call("alpha__crash", json!({})).await;
    assert_eq!(crashed.is_error, Some(true), "{crashed:?}");
    // The next call finds the server down, asks for a reconnect and waits for it.
    let again = mcp.call("alpha__echo", json!({"text": "back"})).await;
    assert_eq!(text_of(&again), "A: back", "{again:?}");
    let status = mcp.call("hub_status", json!({})).await;
    let server = &status.structured_content.as_ref().unwrap()["servers"][0];
    assert!(server["restarts"].as_u64().unwrap() >= 1, "{server}");
}

#[tokio::test]
async fn a_hung_server_fails_at_its_deadline_while_others_answer() {
    let mut slow = stdio_server("H");
    slow["timeout"] = json!(1);
    let (mcp, _dir, _file) = start_hub(json!({"hung": slow, "fine": stdio_server("F")}), &[]).await;
    wait_for_tools(&mcp.client, "both up", |n| {
        n.contains(&"hung__hang".into()) && n.contains(&"fine__echo".into())
    })
    .await;
    let started = Instant::now();
    let (hung, fine) = tokio::join!(
        mcp.call("hung__hang", json!({})),
        mcp.call("fine__echo", json!({"text": "ok"}))
    );
    assert_eq!(text_of(&fine), "F: ok");
    assert_eq!(hung.is_error, Some(true));
    assert!(
        text_of(&hung).contains("did not answer within 1 s"),
        "{hung:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_broken_entry_is_reported_and_the_others_run() {
    let (mcp, _dir, _file) = start_hub(
        json!({
            "good": stdio_server("G"),
            "nocommand": {"args": ["x"]},
            "missingbinary": {"command": "/nonexistent/mcp-server-that-is-not-there"}
        }),
        &[],
    )
    .await;
    wait_for_tools(&mcp.client, "good up", |n| n.contains(&"good__echo".into())).await;
    let status = mcp.call("hub_status", json!({})).await;
    let servers = status.structured_content.unwrap()["servers"].clone();
    let by_name = |name: &str| {
        servers
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_name("good")["state"], "ready");
    let broken = by_name("nocommand");
    assert_eq!(broken["state"], "failed");
    assert!(
        broken["last_error"]
            .as_str()
            .unwrap()
            .contains("needs `command`"),
        "{broken}"
    );
    let missing = by_name("missingbinary");
    assert_ne!(missing["state"], "ready");
    let call = mcp.call("good__echo", json!({"text": "still"})).await;
    assert_eq!(text_of(&call), "G: still");
}

#[tokio::test]
async fn editing_the_file_updates_the_catalog_and_announces_it() {
    let (mcp, _dir, file) = start_hub(json!({"alpha": stdio_server("A")}), &[]).await;
    wait_for_tools(&mcp.client, "alpha up", |n| {
        n.contains(&"alpha__echo".into())
    })
    .await;
    let before = mcp.recorder.tool_list_changes.load(Ordering::SeqCst);

    write_servers(
        &file,
        json!({"alpha": stdio_server("A"), "beta": stdio_server("B")}),
    );
    wait_for_tools(&mcp.client, "beta added", |n| {
        n.contains(&"beta__echo".into())
    })
    .await;
    assert!(
        mcp.recorder.tool_list_changes.load(Ordering::SeqCst) > before,
        "no tools/list_changed after the file changed"
    );
    // alpha was untouched: same process, no restart.
    let status = mcp.call("hub_status", json!({})).await;
    let alpha = status.structured_content.unwrap()["servers"][0].clone();
    assert_eq!(
        (alpha["name"].as_str(), alpha["restarts"].as_u64()),
        (Some("alpha"), Some(0))
    );

    write_servers(&file, json!({"beta": stdio_server("B")}));
    wait_for_tools(&mcp.client, "alpha removed", |n| {
        !n.contains(&"alpha__echo".into())
    })
    .await;

    // A server announcing its own change reaches the client too.
    let grown = mcp.call("beta__grow", json!({})).await;
    assert_eq!(text_of(&grown), "grown_1");
    wait_for_tools(&mcp.client, "grown tool listed", |n| {
        n.contains(&"beta__grown_1".into())
    })
    .await;

    // A broken edit keeps what runs.
    std::fs::write(&file, "{ not json").unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        tool_names(&mcp.client)
            .await
            .contains(&"beta__echo".to_string())
    );
}

#[tokio::test]
async fn read_only_hides_downstream_tools_not_marked_read_only() {
    let (mcp, _dir, _file) = start_hub(json!({"alpha": stdio_server("A")}), &["--read-only"]).await;
    let names = wait_for_tools(&mcp.client, "alpha up", |n| {
        n.contains(&"alpha__echo".into())
    })
    .await;
    assert!(
        !names.contains(&"alpha__unannotated_write".to_string()),
        "{names:?}"
    );
    assert!(!names.contains(&"alpha__crash".to_string()), "{names:?}");
    let refused = mcp
        .client
        .call_tool(rmcp::model::CallToolRequestParams::new(
            "alpha__unannotated_write",
        ))
        .await;
    assert!(
        refused.is_err() || refused.as_ref().unwrap().is_error == Some(true),
        "{refused:?}"
    );
}

#[tokio::test]
async fn allow_and_deny_lists_filter_a_servers_tools() {
    let mut alpha = stdio_server("A");
    alpha["allowTools"] = json!(["echo", "slow"]);
    alpha["denyTools"] = json!(["slow"]);
    let (mcp, _dir, _file) = start_hub(json!({"alpha": alpha}), &[]).await;
    let names = wait_for_tools(&mcp.client, "alpha up", |n| {
        n.contains(&"alpha__echo".into())
    })
    .await;
    let hub_tools: Vec<&String> = names.iter().filter(|n| n.starts_with("alpha__")).collect();
    assert_eq!(hub_tools, ["alpha__echo"]);
}

/// The fixture server over HTTP (Streamable HTTP at /mcp, legacy SSE at /sse), on the port
/// it picks and announces: a port chosen here and freed before the child binds it could be
/// taken in between.
async fn http_fixture(label: &str) -> (tokio::process::Child, u16) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(fixture_bin())
        .arg("0")
        .env("FIXTURE_LABEL", label)
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let port = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(address) = line.split("listening on http://127.0.0.1:").nth(1) {
                let digits: String = address.chars().take_while(char::is_ascii_digit).collect();
                return digits.parse::<u16>().unwrap();
            }
        }
        panic!("the fixture ended before it listened")
    })
    .await
    .expect("the fixture announces its address");
    // Keep reading, so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, port)
}

#[tokio::test]
async fn a_legacy_sse_server_is_reached() {
    let (mut child, port) = http_fixture("S").await;
    let (mcp, _dir, _file) = start_hub(
        json!({"old": {"type": "sse", "url": format!("http://127.0.0.1:{port}/sse")}}),
        &[],
    )
    .await;
    wait_for_tools(&mcp.client, "sse server up", |n| {
        n.contains(&"old__echo".into())
    })
    .await;
    let answer = mcp.call("old__echo", json!({"text": "over sse"})).await;
    assert_eq!(text_of(&answer), "S: over sse");
    let status = mcp.call("hub_status", json!({})).await;
    assert_eq!(
        status.structured_content.unwrap()["servers"][0]["transport"],
        "sse"
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn a_streamable_http_server_is_reached_with_its_headers() {
    let (mut child, port) = http_fixture("R").await;
    let (mcp, _dir, _file) = start_hub(
        json!({"remote": {"url": format!("http://127.0.0.1:{port}/mcp"), "headers": {"X-Test": "1"}}}),
        &[],
    )
    .await;
    wait_for_tools(&mcp.client, "remote up", |n| {
        n.contains(&"remote__echo".into())
    })
    .await;
    let answer = mcp.call("remote__echo", json!({"text": "over http"})).await;
    assert_eq!(text_of(&answer), "R: over http");
    child.kill().await.unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn account_servers_come_from_the_api_and_follow_its_changes() {
    // Cloud mode against the embedded API: the same routes Plugged.in serves.
    let api = common::TestApi::start().await;
    let uuid = create_server(
        &api,
        json!({
            "name": "Fixture Server", "type": "STDIO",
            "command": fixture_bin(), "args": [], "env": {"FIXTURE_LABEL": "acct"},
            "customInstructions": [{"role": "user", "content": {"type": "text", "text": "Prefer echo."}}]
        }),
    )
    .await;
    let mcp = start_cloud(&api).await;
    wait_for_tools(&mcp.client, "account server up", |n| {
        n.contains(&"fixture-server__echo".into())
    })
    .await;
    let answer = mcp
        .call("fixture-server__echo", json!({"text": "hi"}))
        .await;
    assert_eq!(text_of(&answer), "acct: hi");

    // The call was reported to the API's activity route, off the call's path.
    let db = rusqlite::Connection::open(api.api.store().path.as_ref()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let reported = loop {
        let row: Option<(String, String, String, bool)> = db
            .query_row(
                "SELECT action, server_name, item_name, success FROM mcp_activity ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .ok();
        if let Some(row) = row {
            break row;
        }
        assert!(Instant::now() < deadline, "no activity reported");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        reported,
        (
            "tool_call".into(),
            "Fixture Server".into(),
            "echo".into(),
            true
        )
    );
    // The tools it discovered were reported to the API's catalog, which clients that read
    // the catalog instead of connecting (the official TypeScript server) then list.
    let deadline = Instant::now() + Duration::from_secs(10);
    let catalog = loop {
        let listed = api
            .call(reqwest::Method::GET, "/api/tools?prefix_tools=true", None)
            .await;
        let tools = listed.body["tools"].as_array().cloned().unwrap_or_default();
        if !tools.is_empty() {
            break tools;
        }
        assert!(
            Instant::now() < deadline,
            "no tools reported: {:?}",
            listed.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let echo = catalog
        .iter()
        .find(|t| t["name"] == format!("{uuid}__echo"))
        .unwrap_or_else(|| panic!("{catalog:?}"));
    assert_eq!(echo["_serverUuid"], uuid.as_str());
    assert_eq!(echo["_serverName"], "Fixture Server");
    assert!(echo["inputSchema"].is_object());

    // Its custom instructions reach the model through hub_status (the account's servers
    // arrive after `initialize`, whose instructions are fixed by then).
    let status = mcp.call("hub_status", json!({})).await;
    let server = &status.structured_content.as_ref().unwrap()["servers"][0];
    assert_eq!(server["instructions"], "Prefer echo.", "{server}");

    // Switched off in the account: gone after a refresh, without waiting for the next poll.
    let off = api
        .call(
            reqwest::Method::PATCH,
            &format!("/api/mcp-servers/{uuid}"),
            Some(json!({"status": "INACTIVE"})),
        )
        .await;
    assert_eq!(off.status, reqwest::StatusCode::OK, "{:?}", off.body);
    mcp.call("hub_refresh", json!({})).await;
    wait_for_tools(&mcp.client, "account server gone", |n| {
        !n.iter().any(|t| t.starts_with("fixture-server__"))
    })
    .await;
}

#[tokio::test]
async fn the_first_tools_list_carries_the_accounts_cached_catalog() {
    // A server that takes 2 s to start, whose tools the account's catalog already knows.
    let api = common::TestApi::start().await;
    let uuid = create_server(
        &api,
        json!({
            "name": "Slow Server", "type": "STDIO", "command": fixture_bin(),
            "env": {"FIXTURE_LABEL": "slow", "FIXTURE_START_DELAY_MS": "2000"},
        }),
    )
    .await;
    let schema = json!({"type": "object", "properties": {"text": {"type": "string"}}});
    let reported = api
        .call(
            reqwest::Method::POST,
            "/api/tools",
            Some(json!({"tools": [{
                "name": "echo", "description": "Echoes.", "toolSchema": schema, "mcp_server_uuid": uuid,
            }]})),
        )
        .await;
    assert_eq!(reported.body["successCount"], 1, "{:?}", reported.body);
    let mcp = start_cloud(&api).await;
    // The very first list, long before the server is up.
    let tools = mcp.client.list_all_tools().await.unwrap();
    let echo = tools
        .iter()
        .find(|t| t.name == "slow-server__echo")
        .unwrap_or_else(|| panic!("{:?}", tools.iter().map(|t| &t.name).collect::<Vec<_>>()));
    assert_eq!(echo.description.as_deref(), Some("Echoes."));
    assert_eq!(
        echo.input_schema.get("properties"),
        schema.get("properties")
    );
    let status = mcp.call("hub_status", json!({})).await;
    let server = &status.structured_content.as_ref().unwrap()["servers"][0];
    assert_eq!(server["state"], "starting", "{server}");
    // A call to a cached tool waits for its server and reaches it.
    let answer = mcp.call("slow-server__echo", json!({"text": "hi"})).await;
    assert_eq!(text_of(&answer), "slow: hi", "{answer:?}");
}

#[tokio::test]
async fn the_embedded_api_resolves_prompts_and_resources_as_the_cloud_does() {
    let api = common::TestApi::start().await;
    for (route, param) in [("prompt", "name"), ("resource", "uri")] {
        let missing = api
            .call(reqwest::Method::GET, &format!("/api/resolve/{route}"), None)
            .await;
        assert_eq!(missing.status, reqwest::StatusCode::BAD_REQUEST);
        assert_eq!(
            missing.body["error"],
            format!("Missing required query parameter: {param}")
        );
        let unknown = api
            .call(
                reqwest::Method::GET,
                &format!("/api/resolve/{route}?{param}=nothing"),
                None,
            )
            .await;
        assert_eq!(
            unknown.status,
            reqwest::StatusCode::NOT_FOUND,
            "{:?}",
            unknown.body
        );
        assert!(
            unknown.body["error"]
                .as_str()
                .unwrap()
                .ends_with(": nothing"),
            "{:?}",
            unknown.body
        );
    }
}

#[tokio::test]
async fn downstream_prompts_and_resources_are_merged_and_routed() {
    let (mcp, _dir, _file) = start_hub(
        json!({"alpha": stdio_server("A"), "beta": stdio_server("B")}),
        &[],
    )
    .await;
    wait_for_tools(&mcp.client, "both up", |n| {
        n.contains(&"alpha__echo".into()) && n.contains(&"beta__echo".into())
    })
    .await;
    // Prompts are namespaced like tools; ours stay.
    let prompts: Vec<String> = mcp
        .client
        .list_all_prompts()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert!(prompts.contains(&"alpha__greet".to_string()), "{prompts:?}");
    assert!(prompts.contains(&"beta__greet".to_string()), "{prompts:?}");
    let greeting = mcp
        .client
        .get_prompt(
            rmcp::model::GetPromptRequestParams::new("beta__greet")
                .with_arguments(serde_json::from_value(json!({"name": "Ada"})).unwrap()),
        )
        .await
        .unwrap();
    let said = serde_json::to_string(&greeting.messages).unwrap();
    assert!(said.contains("Hello Ada, from B"), "{said}");

    // Resources keep their URIs and are read from the server that listed them.
    let uris: Vec<String> = mcp
        .client
        .list_all_resources()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.uri.clone())
        .collect();
    assert!(uris.contains(&"fixture://A/note".to_string()), "{uris:?}");
    let read = |uri: &str| {
        let uri = uri.to_string();
        let client = &mcp.client;
        async move {
            let result = client
                .read_resource(rmcp::model::ReadResourceRequestParams::new(uri))
                .await
                .unwrap();
            serde_json::to_string(&result.contents).unwrap()
        }
    };
    assert!(
        read("fixture://A/note")
            .await
            .contains("A says: fixture://A/note")
    );
    // A URI no list names, matching a template, goes to that template's server.
    assert!(
        read("fixture://B/items/7")
            .await
            .contains("B says: fixture://B/items/7")
    );
    let templates: Vec<String> = mcp
        .client
        .list_all_resource_templates()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.uri_template.clone())
        .collect();
    assert!(
        templates.contains(&"fixture://A/items/{id}".to_string()),
        "{templates:?}"
    );
}

/// Processes whose environment holds `needle` (the fixture's label marks its children).
fn processes_with_env(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read(e.path().join("environ"))
                .map(|env| String::from_utf8_lossy(&env).contains(needle))
                .unwrap_or(false)
        })
        .count()
}

#[tokio::test]
async fn over_http_every_session_gets_the_hub_and_children_die_with_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("servers.json");
    // A label shaped like a credential: the fixture prints it on stderr at start.
    let secret_label = format!("sk-hubtest-{}", std::process::id());
    write_servers(&file, json!({"alpha": stdio_server(&secret_label)}));
    let mut server = common::http::spawn_http(
        &[
            "--data-dir",
            dir.path().join("data").to_str().unwrap(),
            "--servers",
            file.to_str().unwrap(),
        ],
        &[("RUST_LOG", "info")],
    );
    let first = server.connect(None).await;
    let second = server.connect(None).await;
    for session in [&first, &second] {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let names: Vec<String> = session
                .list_all_tools()
                .await
                .unwrap()
                .into_iter()
                .map(|t| t.name.to_string())
                .collect();
            if names.contains(&"alpha__echo".to_string()) {
                break;
            }
            assert!(Instant::now() < deadline, "{names:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let answer = second
        .call_tool(
            rmcp::model::CallToolRequestParams::new("alpha__echo")
                .with_arguments(serde_json::from_value(json!({"text": "hi"})).unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(text_of(&answer), format!("{secret_label}: hi"));

    // Both sessions hear about an edit.
    let before = (
        first.service().tool_list_changes.load(Ordering::SeqCst),
        second.service().tool_list_changes.load(Ordering::SeqCst),
    );
    write_servers(
        &file,
        json!({"alpha": stdio_server(&secret_label), "beta": stdio_server("B")}),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while first.service().tool_list_changes.load(Ordering::SeqCst) == before.0
        || second.service().tool_list_changes.load(Ordering::SeqCst) == before.1
    {
        assert!(Instant::now() < deadline, "a session got no list_changed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The downstream's stderr reached our log, with its configured secret scrubbed.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.stderr().contains("starting") {
        assert!(Instant::now() < deadline, "{}", server.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !server.stderr().contains(&secret_label),
        "{}",
        server.stderr()
    );

    assert!(processes_with_env(&secret_label) >= 1);
    drop(first);
    drop(second);
    server.terminate();
    let deadline = Instant::now() + Duration::from_secs(10);
    while processes_with_env(&secret_label) > 0 {
        assert!(
            Instant::now() < deadline,
            "the downstream outlived the server"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_huge_downstream_result_is_cut_to_the_result_budget() {
    let (mcp, _dir, _file) = start_hub(
        json!({"alpha": stdio_server("A")}),
        &["--max-result-bytes", "65536"],
    )
    .await;
    wait_for_tools(&mcp.client, "alpha up", |n| {
        n.contains(&"alpha__big".into())
    })
    .await;
    let big = mcp.call("alpha__big", json!({"bytes": 1_000_000})).await;
    let size = serde_json::to_vec(&big).unwrap().len();
    assert!(size <= 65_536 + 4_096, "{size} bytes came through");
    let meta = serde_json::to_value(&big.meta).unwrap();
    assert!(meta.to_string().contains("pluggedin/truncated"), "{meta}");
}

#[tokio::test]
async fn many_servers_starting_together_are_all_listed() {
    // Each server that comes up rebuilds the catalog; racing rebuilds must not lose one.
    let servers: serde_json::Map<String, Value> = (0..16)
        .map(|i| (format!("s{i}"), stdio_server(&format!("L{i}"))))
        .collect();
    // 352 tools: listed, not searched, for this test.
    let (mcp, _dir, _file) = start_hub(Value::Object(servers), &["--tool-search", "off"]).await;
    wait_for_tools(&mcp.client, "all 16 servers listed", |n| {
        n.iter().filter(|t| t.ends_with("__echo")).count() == 16
    })
    .await;
}

#[tokio::test]
async fn toolsets_without_hub_start_no_servers() {
    let label = format!("nohub-{}", std::process::id());
    let (mcp, _dir, _file) = start_hub(
        json!({"alpha": stdio_server(&label)}),
        &["--toolsets", "docs"],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let names = tool_names(&mcp.client).await;
    assert!(
        names
            .iter()
            .all(|n| !n.contains("__") && !n.starts_with("hub_")),
        "{names:?}"
    );
    assert_eq!(processes_with_env(&label), 0, "a server was started");
}
