//! The hub against a downstream server that misbehaves on purpose (`tests/fixtures/
//! hostile_server.rs`): a hung `initialize`, a schema nested beyond any parser, a result
//! bigger than the hub reads, names listed twice or empty, contradictory annotations under
//! `--read-only`, a storm of list changes, its secrets in every kind of answer, and
//! grandchildren that try to outlive it.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use super::{common::mcp::text_of, start_hub, tool_names, wait_for_tools};

fn hostile_bin() -> PathBuf {
    super::fixture_bin().with_file_name("hostile_server")
}

fn hostile(env: Value) -> Value {
    json!({"command": hostile_bin(), "env": env})
}

/// The hub_status entry of the one server.
async fn status_of(mcp: &super::common::mcp::Mcp) -> Value {
    let status = mcp.call("hub_status", json!({})).await;
    status.structured_content.unwrap()["servers"][0].clone()
}

#[tokio::test]
async fn a_server_that_never_answers_initialize_fails_at_its_timeout_saying_why() {
    let (mcp, _dir, _file) = start_hub(
        json!({"h": {"command": hostile_bin(), "env": {"HOSTILE_HANG_INIT": "1"}, "timeout": 1}}),
        &["--hub-list-wait", "0"],
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let server = status_of(&mcp).await;
        if server["state"] == "backing_off" {
            let why = server["last_error"].as_str().unwrap();
            assert!(why.contains("did not start within 1 s"), "{server}");
            break;
        }
        assert!(Instant::now() < deadline, "still {server}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_tool_that_cannot_be_read_is_left_out_alone_and_named() {
    let (mcp, _dir, _file) = start_hub(
        json!({"h": hostile(json!({"HOSTILE_DEEP": "100", "HOSTILE_DUP": "1"}))}),
        &[],
    )
    .await;
    let names = tool_names(&mcp.client).await;
    let mine: Vec<&String> = names.iter().filter(|n| n.starts_with("h__")).collect();
    // Its other tools are offered; `dup` once; no empty name, no `deep`.
    assert_eq!(
        mine,
        ["h__dup", "h__fail", "h__fine", "h__huge", "h__listings"],
        "{names:?}"
    );
    let server = status_of(&mcp).await;
    let not_offered = server["not_offered"].to_string();
    assert!(not_offered.contains("deep: cannot be read"), "{server}");
    assert!(
        not_offered.contains("dup: the name h__dup is taken"),
        "{server}"
    );
    assert!(not_offered.contains("empty name"), "{server}");
    assert_eq!(server["state"], "ready", "{server}");
}

#[tokio::test]
async fn a_result_bigger_than_the_hub_reads_fails_at_once_naming_its_size() {
    let (mcp, _dir, _file) = start_hub(json!({"h": hostile(json!({}))}), &[]).await;
    wait_for_tools(&mcp.client, "up", |n| n.contains(&"h__huge".into())).await;
    let started = Instant::now();
    let answer = mcp.call("h__huge", json!({"bytes": 20_000_000})).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(answer.is_error, Some(true));
    let text = text_of(&answer);
    assert!(text.contains("20000") && text.contains("16 MiB"), "{text}");
    // The server is still there for the next call.
    assert_eq!(text_of(&mcp.call("h__fine", json!({})).await), "fine ");
    // 2 MiB of `0,`: within the size, but more values than the hub decodes.
    let answer = mcp.call("h__huge", json!({"values": 1_100_000})).await;
    assert_eq!(
        answer.is_error,
        Some(true),
        "{:?}",
        answer.structured_content.is_some()
    );
    let text = text_of(&answer);
    let limit = pluggedin_mcp::vocab::limits::MAX_LISTING_JSON_VALUES.to_string();
    assert!(text.contains(&limit), "{text}");
    // Under the count it passes.
    let answer = mcp.call("h__huge", json!({"values": 1_000})).await;
    assert_ne!(answer.is_error, Some(true), "{answer:?}");
    assert_eq!(text_of(&mcp.call("h__fine", json!({})).await), "fine ");
}

#[tokio::test]
async fn read_only_hides_a_tool_that_also_says_it_is_destructive() {
    let (mcp, _dir, _file) = start_hub(
        json!({"h": hostile(json!({"HOSTILE_CONTRADICT": "1"}))}),
        &["--read-only"],
    )
    .await;
    let names = tool_names(&mcp.client).await;
    assert!(names.contains(&"h__reader".to_string()), "{names:?}");
    assert!(!names.contains(&"h__both".to_string()), "{names:?}");
}

#[tokio::test]
async fn a_storm_of_list_changes_is_followed_slowly_and_said() {
    let (mcp, _dir, _file) =
        start_hub(json!({"h": hostile(json!({"HOSTILE_STORM": "500"}))}), &[]).await;
    wait_for_tools(&mcp.client, "up", |n| n.contains(&"h__listings".into())).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let listings: u64 = text_of(&mcp.call("h__listings", json!({})).await)
        .parse()
        .unwrap();
    // Without a bound it would be listed thousands of times in 3 s.
    assert!(listings <= 14, "listed {listings} times");
    let server = status_of(&mcp).await;
    assert!(
        server["throttled"]
            .as_str()
            .is_some_and(|t| t.contains("without end")),
        "{server}"
    );
}

#[tokio::test]
async fn a_servers_secret_is_removed_from_every_kind_of_answer() {
    let secret = "hostile-secret-0123456789";
    let (mcp, _dir, _file) = start_hub(
        json!({"h": hostile(json!({"HOSTILE_SECRET": secret}))}),
        &[],
    )
    .await;
    wait_for_tools(&mcp.client, "up", |n| n.contains(&"h__fine".into())).await;
    let peer = mcp.client.peer();
    let mut seen = Vec::new();
    seen.push(text_of(&mcp.call("h__fine", json!({})).await));
    let prompt = peer
        .get_prompt(rmcp::model::GetPromptRequestParams::new("h__p"))
        .await
        .unwrap();
    seen.push(serde_json::to_string(&prompt).unwrap());
    let resource = peer
        .read_resource(rmcp::model::ReadResourceRequestParams::new("hostile://r"))
        .await
        .unwrap();
    seen.push(serde_json::to_string(&resource).unwrap());
    let completed = peer
        .complete(rmcp::model::CompleteRequestParams::new(
            rmcp::model::Reference::for_prompt("h__p"),
            rmcp::model::ArgumentInfo::new("a", ""),
        ))
        .await
        .unwrap();
    seen.push(serde_json::to_string(&completed).unwrap());
    // Its own JSON-RPC error, message and data.
    let refused = peer
        .call_tool(rmcp::model::CallToolRequestParams::new("h__fail"))
        .await
        .unwrap_err();
    let refused = format!("{refused:?}");
    assert!(refused.contains("no such tool"), "{refused}");
    seen.push(refused);
    for (i, text) in seen.iter().enumerate() {
        assert!(
            !text.contains(secret),
            "answer {i} carries the secret: {text}"
        );
    }
    assert!(seen[0].starts_with("fine "), "{seen:?}");
}

/// Pids written by the hostile server's grandchildren, once they are there.
fn pids_in(file: &std::path::Path, wanted: usize) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids: Vec<i32> = std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        if pids.len() >= wanted {
            return pids;
        }
        assert!(
            Instant::now() < deadline,
            "grandchildren did not start: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn alive(pid: i32) -> bool {
    // A zombie is dead: only a process that still runs counts.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(')').next().map(|r| r.trim().starts_with('Z')))
        .is_some_and(|zombie| !zombie)
}

#[tokio::test]
async fn grandchildren_do_not_outlive_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let file = dir.path().join("servers.json");
    super::write_servers(
        &file,
        json!({
            "group": hostile(json!({"HOSTILE_GRANDCHILD": "group", "HOSTILE_PIDS": pids})),
            "setsid": hostile(json!({"HOSTILE_GRANDCHILD": "setsid", "HOSTILE_PIDS": pids})),
        }),
    );
    let data = dir.path().join("data");
    let mcp = super::common::mcp::spawn(
        &[
            "--servers",
            file.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    wait_for_tools(&mcp.client, "both up", |n| {
        n.contains(&"group__fine".into()) && n.contains(&"setsid__fine".into())
    })
    .await;
    let grandchildren = pids_in(&pids, 2);
    assert!(grandchildren.iter().all(|p| alive(*p)));
    // The client goes: the hub exits, and takes every descendant with it.
    mcp.close().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while grandchildren.iter().any(|p| alive(*p)) {
        assert!(
            Instant::now() < deadline,
            "still running: {:?}",
            grandchildren
                .iter()
                .filter(|p| alive(**p))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
