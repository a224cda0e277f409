//! Agent tools end to end in local mode.

use std::time::Duration;

use crate::common::mcp::{start_local, text_of};
use rmcp::{
    model::{CallToolRequestParams, ClientRequest, Request},
    service::PeerRequestOptions,
};
use serde_json::json;

#[tokio::test]
async fn agent_tools_success_paths() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;

    let created = mcp
        .ok("create_agent", json!({ "name": "Research-Bot", "description": "demo", "size": "light", "env": { "LOG_LEVEL": "debug" } }))
        .await;
    assert_eq!(created["name"], "research-bot");
    assert_eq!(created["state"], "PROVISIONED");
    assert_eq!(created["url"], "https://research-bot.is.plugged.in");
    assert_eq!(created["image"], "nginxinc/nginx-unprivileged");
    assert!(
        created["note"]
            .as_str()
            .unwrap()
            .contains("no container is started")
    );
    assert!(created.get("wait").is_none(), "nulls are left out");
    let uuid = created["uuid"].as_str().unwrap().to_string();

    let listed = mcp.ok("list_agents", json!({})).await;
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["agents"][0]["uuid"], uuid);
    let none = mcp.ok("list_agents", json!({ "state": "ACTIVE" })).await;
    assert_eq!(none["total"], 0);

    // By name and by uuid.
    let status = mcp
        .ok("agent_status", json!({ "agent": "research-bot" }))
        .await;
    assert_eq!(status["health"], "waiting_for_first_heartbeat");
    assert_eq!(status["recent_events"][0]["event"], "PROVISIONED");
    let beat = mcp
        .ok(
            "agent_heartbeat",
            json!({ "agent": uuid, "mode": "IDLE", "uptime_seconds": 12 }),
        )
        .await;
    assert_eq!(beat["transition"], "PROVISIONED→ACTIVE");
    let metrics = mcp
        .ok("agent_metrics", json!({ "agent": "research-bot", "cpu_percent": 7.5, "memory_mb": 128, "requests_handled": 3, "custom_metrics": { "queue": 2 } }))
        .await;
    assert_eq!(metrics["message"], "Metrics recorded");
    let status = mcp.ok("agent_status", json!({ "agent": uuid })).await;
    assert_eq!(status["state"], "ACTIVE");
    assert_eq!(status["health"], "healthy");
    assert_eq!(status["heartbeat_mode"], "IDLE");
    assert_eq!(
        status["latest_metrics"]["cpu_percent"], 8.0,
        "the API rounds cpu"
    );
    assert_eq!(status["image"], "nginxinc/nginx-unprivileged");

    let exported = mcp
        .ok(
            "export_agent",
            json!({ "agent": "research-bot", "include_telemetry": true }),
        )
        .await;
    assert_eq!(exported["export_version"], "pap-export/1.0");
    assert!(
        exported["agent"].get("model_router_token").is_none(),
        "tokens are removed"
    );
    assert_eq!(
        exported["telemetry"]["heartbeats"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let logs = mcp
        .ok("agent_logs", json!({ "agent": "research-bot", "tail": 10 }))
        .await;
    assert_eq!(logs["lines"], json!([]));
    assert!(logs["note"].as_str().unwrap().contains("local mode"));

    let suspended = mcp
        .ok(
            "control_agent",
            json!({ "agent": "research-bot", "action": "suspend", "reason": "test" }),
        )
        .await;
    assert_eq!(suspended["message"], "Agent suspended successfully");
    assert_eq!(
        mcp.ok("agent_status", json!({ "agent": uuid })).await["health"],
        "suspended"
    );
    let resumed = mcp
        .ok(
            "control_agent",
            json!({ "agent": "research-bot", "action": "resume" }),
        )
        .await;
    assert_eq!(resumed["state"], "PROVISIONED");
    mcp.ok(
        "agent_heartbeat",
        json!({ "agent": uuid, "uptime_seconds": 1 }),
    )
    .await;
    let restarted = mcp
        .ok(
            "control_agent",
            json!({ "agent": uuid, "action": "restart" }),
        )
        .await;
    assert_eq!(restarted["state"], "PROVISIONED");
    mcp.ok(
        "agent_heartbeat",
        json!({ "agent": uuid, "uptime_seconds": 2 }),
    )
    .await;
    let drained = mcp
        .ok(
            "control_agent",
            json!({ "agent": uuid, "action": "shutdown", "drain_timeout_seconds": 30 }),
        )
        .await;
    assert_eq!(drained["state"], "DRAINING");

    let deleted = mcp
        .ok("delete_agent", json!({ "agent": "research-bot" }))
        .await;
    assert_eq!(deleted["state"], "TERMINATED");
    let again = mcp.ok("delete_agent", json!({ "agent": uuid })).await;
    assert_eq!(again["state"], "TERMINATED", "deleting twice is fine");
    mcp.close().await;
}

#[tokio::test]
async fn agent_failures_name_the_field_or_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;

    let bad_name = mcp
        .err("create_agent", json!({ "name": "no_underscores" }))
        .await;
    assert!(
        bad_name.contains("`name`") && bad_name.contains("DNS-safe"),
        "{bad_name}"
    );
    let reserved = mcp.err("create_agent", json!({ "name": "admin" })).await;
    assert!(reserved.contains("reserved"), "{reserved}");
    let both = mcp
        .err(
            "create_agent",
            json!({ "name": "ok-name", "size": "light", "resources": { "cpu_limit": "1" } }),
        )
        .await;
    assert!(both.contains("`size`"), "{both}");
    let registry = mcp
        .err(
            "create_agent",
            json!({ "name": "ok-name", "image": "evil.example/x" }),
        )
        .await;
    assert!(registry.contains("allowed registry"), "{registry}");
    let typed = mcp
        .err("create_agent", json!({ "name": "ok-name", "size": "huge" }))
        .await;
    assert!(typed.contains("size"), "{typed}");

    mcp.ok("create_agent", json!({ "name": "taken" })).await;
    let conflict = mcp.err("create_agent", json!({ "name": "taken" })).await;
    assert!(
        conflict.contains("409") && conflict.contains("already registered"),
        "{conflict}"
    );

    let missing = mcp.err("agent_status", json!({ "agent": "ghost" })).await;
    assert!(
        missing.contains("no agent named `ghost`") && missing.contains("list_agents"),
        "{missing}"
    );
    let missing_uuid = mcp
        .err(
            "agent_status",
            json!({ "agent": "11111111-1111-4111-8111-111111111111" }),
        )
        .await;
    assert!(missing_uuid.contains("404"), "{missing_uuid}");
    let illegal = mcp
        .err(
            "control_agent",
            json!({ "agent": "taken", "action": "shutdown" }),
        )
        .await;
    assert!(illegal.contains("allowed states: ACTIVE"), "{illegal}");
    let drain = mcp
        .err(
            "control_agent",
            json!({ "agent": "taken", "action": "shutdown", "drain_timeout_seconds": 5 }),
        )
        .await;
    assert!(drain.contains("drain_timeout_seconds"), "{drain}");
    let cpu = mcp
        .err(
            "agent_metrics",
            json!({ "agent": "taken", "cpu_percent": -1, "memory_mb": 1, "requests_handled": 0 }),
        )
        .await;
    assert!(cpu.contains("cpu_percent"), "{cpu}");
    mcp.close().await;
}

#[tokio::test]
async fn create_agent_waits_with_progress_until_active() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;
    let waiting = async {
        mcp.ok(
            "create_agent",
            json!({ "name": "patient", "wait_until_active": true, "wait_timeout_seconds": 30 }),
        )
        .await
    };
    let beating = async {
        // Send the first heartbeat once the wait has reported its first state, so the agent
        // is seen waiting before it turns ACTIVE.
        for _ in 0..100 {
            if !mcp.recorder.progress.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for _ in 0..100 {
            let r = mcp
                .call(
                    "agent_heartbeat",
                    json!({ "agent": "patient", "uptime_seconds": 1 }),
                )
                .await;
            if r.is_error != Some(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the agent never appeared");
    };
    let (created, ()) = tokio::join!(waiting, beating);
    assert_eq!(created["state"], "ACTIVE");
    assert_eq!(created["wait"]["outcome"], "active");
    let progress = mcp.recorder.progress.lock().unwrap().clone();
    let messages: Vec<String> = progress.iter().filter_map(|p| p.message.clone()).collect();
    assert!(
        messages.iter().any(|m| m.contains("PROVISIONED")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("ACTIVE")),
        "{messages:?}"
    );
    mcp.close().await;
}

/// Waits until the server has sent `n` progress notifications.
async fn progress_count_reaches(mcp: &crate::common::mcp::Mcp, n: usize) {
    for _ in 0..500 {
        if mcp.recorder.progress.lock().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("fewer than {n} progress notifications arrived");
}

#[tokio::test]
async fn create_agent_wait_times_out_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;
    // A ten-minute wait, over as soon as the server's clock is moved past it.
    let waiting = mcp.ok(
        "create_agent",
        json!({ "name": "lonely", "wait_until_active": true, "wait_timeout_seconds": 600 }),
    );
    let mover = async {
        progress_count_reaches(&mcp, 1).await;
        mcp.clock.advance(Duration::from_secs(601));
    };
    let started = std::time::Instant::now();
    let (created, ()) = tokio::join!(waiting, mover);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(created["state"], "PROVISIONED");
    assert_eq!(created["wait"]["outcome"], "timed_out");
    assert!(created["wait"]["waited_seconds"].as_f64().unwrap() >= 600.0);
    let reason = created["wait"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("no heartbeat arrived") && reason.contains("no container"),
        "{reason}"
    );
    mcp.close().await;
}

#[tokio::test]
async fn cancelling_create_agent_stops_the_wait() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;
    let params = CallToolRequestParams::new("create_agent").with_arguments(
        json!({ "name": "cancelled", "wait_until_active": true, "wait_timeout_seconds": 120 })
            .as_object()
            .unwrap()
            .clone(),
    );
    let handle = mcp
        .client
        .send_cancellable_request(
            ClientRequest::CallToolRequest(Request::new(params)),
            PeerRequestOptions::default(),
        )
        .await
        .unwrap();
    progress_count_reaches(&mcp, 1).await;
    handle
        .cancel(Some("the test gave up".into()))
        .await
        .unwrap();
    // The agent was created; after the cancellation the server stops polling, so a state
    // change produces no further progress notification, however far the clock moves.
    let before = mcp.recorder.progress.lock().unwrap().len();
    let beat = mcp
        .call(
            "agent_heartbeat",
            json!({ "agent": "cancelled", "uptime_seconds": 1 }),
        )
        .await;
    assert_ne!(beat.is_error, Some(true), "{}", text_of(&beat));
    mcp.clock.advance(Duration::from_secs(60));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = mcp.recorder.progress.lock().unwrap().len();
    assert_eq!(before, after, "no progress after cancellation");
    // And the server keeps serving.
    assert_eq!(
        mcp.ok("agent_status", json!({ "agent": "cancelled" }))
            .await["state"],
        "ACTIVE"
    );
    mcp.close().await;
}

#[tokio::test]
async fn health_follows_the_clock_past_missed_heartbeats() {
    let dir = tempfile::tempdir().unwrap();
    // PAP's exact rules: nothing stands in for the agent's own heartbeats.
    let mcp = crate::common::mcp::start(
        &[
            "--agents-need-heartbeats",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ],
        &[],
    )
    .await;
    mcp.ok("create_agent", json!({ "name": "ticking" })).await;
    mcp.ok(
        "agent_heartbeat",
        json!({ "agent": "ticking", "uptime_seconds": 1, "mode": "IDLE" }),
    )
    .await;
    let status = mcp.ok("agent_status", json!({ "agent": "ticking" })).await;
    assert_eq!(status["health"], "healthy", "{status}");
    // Two IDLE intervals (30 s each) without a heartbeat.
    mcp.clock.advance(Duration::from_secs(65));
    let status = mcp.ok("agent_status", json!({ "agent": "ticking" })).await;
    assert_eq!(status["health"], "unhealthy", "{status}");
    assert!(status["seconds_since_heartbeat"].as_u64().unwrap() >= 65);
    mcp.close().await;
}

#[tokio::test]
async fn the_local_agent_quota_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = crate::common::mcp::start(
        &[
            "--agent-quota",
            "1",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ],
        &[],
    )
    .await;
    mcp.ok("create_agent", json!({ "name": "only-one" })).await;
    mcp.ok("delete_agent", json!({ "agent": "only-one" })).await;
    let refused = mcp
        .err("create_agent", json!({ "name": "second-one" }))
        .await;
    assert!(
        refused.contains("403") && refused.contains("quota: 1 of 1 agents used"),
        "{refused}"
    );
    mcp.close().await;
}

#[tokio::test]
async fn local_mode_keeps_an_active_agent_alive_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;
    mcp.ok("create_agent", json!({ "name": "showcase" })).await;
    mcp.ok(
        "agent_heartbeat",
        json!({ "agent": "showcase", "uptime_seconds": 1, "mode": "IDLE" }),
    )
    .await;
    // Two IDLE intervals pass with no heartbeat from the agent (no container runs it) …
    mcp.clock.advance(Duration::from_secs(65));
    // … and local mode sends one for it, at its next maintenance pass.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let status = mcp.ok("agent_status", json!({ "agent": "showcase" })).await;
        if status["health"] == "healthy" && status["state"] == "ACTIVE" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    mcp.close().await;
}
