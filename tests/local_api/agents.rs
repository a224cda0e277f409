//! PAP agents: create rules, lifecycle, heartbeats and metrics, actions, export, zombies.

use std::time::Duration;

use crate::common::TestApi;
use pluggedin_mcp::local::agents::sweep_zombies;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn create(api: &TestApi, name: &str) -> String {
    let a = api
        .post(
            "/api/agents",
            json!({ "name": name, "image": "nginxinc/nginx-unprivileged" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body["agent"]["uuid"].as_str().unwrap().to_string()
}

async fn state_of(api: &TestApi, id: &str) -> String {
    api.get(&format!("/api/agents/{id}")).await.body["agent"]["state"]
        .as_str()
        .unwrap()
        .to_string()
}

fn event_types(details: &Value) -> Vec<String> {
    details["lifecycleEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn create_validates_like_the_cloud() {
    let api = TestApi::start().await;
    let cases = [
        (json!({ "image": "nginx" }), "Name is required"),
        (
            json!({ "name": "x", "image": "nginx" }),
            "Name must be between 2 and 63 characters",
        ),
        (
            json!({ "name": "bad_name", "image": "nginx" }),
            "Name must be DNS-safe",
        ),
        (
            json!({ "name": "a--b", "image": "nginx" }),
            "consecutive hyphens",
        ),
        (
            json!({ "name": "admin", "image": "nginx" }),
            "Name 'admin' is reserved",
        ),
        (
            json!({ "name": "ok-name" }),
            "Either template_uuid or image must be provided",
        ),
        (
            json!({ "name": "ok-name", "image": "evil.example/x" }),
            "Image must be from an allowed registry",
        ),
        (
            json!({ "name": "ok-name", "image": "nginx", "access_level": "OPEN" }),
            "Invalid access_level",
        ),
        (
            json!({ "name": "ok-name", "image": "nginx", "resources": { "cpu_request": "2" } }),
            "cpu_request cannot exceed cpu_limit",
        ),
        (
            json!({ "name": "ok-name", "image": "nginx", "resources": { "memory_limit": "1GB" } }),
            "Invalid resource specification",
        ),
        (
            json!({ "name": "ok-name", "image": "nginx", "env_overrides": { "PAP_TOKEN": "x" } }),
            "reserved prefix",
        ),
    ];
    for (body, expected) in cases {
        let a = api.post("/api/agents", body.clone()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(a.error().contains(expected), "{body}: {}", a.error());
    }
    // Names are lower-cased and trimmed before the rules apply.
    let a = api
        .post(
            "/api/agents",
            json!({ "name": "  My-Agent ", "image": "nginx:1.27" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["agent"]["name"], "my-agent");
    // The answer shows the row as inserted, like the cloud; the agent is PROVISIONED at once.
    assert_eq!(a.body["agent"]["state"], "NEW");
    assert_eq!(a.body["deployment"]["success"], true);
    let id = a.body["agent"]["uuid"].as_str().unwrap();
    assert_eq!(state_of(&api, id).await, "PROVISIONED");

    let dup = api
        .post(
            "/api/agents",
            json!({ "name": "my-agent", "image": "nginx" }),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.error(), "DNS name 'my-agent' is already registered");
}

#[tokio::test]
async fn quota_counts_every_agent_ever_created() {
    let api = TestApi::start_with(|c| c.agent_quota = 2).await;
    let first = create(&api, "first-one").await;
    create(&api, "second-one").await;
    api.delete(&format!("/api/agents/{first}"), None).await;
    let over = api
        .post(
            "/api/agents",
            json!({ "name": "third-one", "image": "nginx" }),
        )
        .await;
    assert_eq!(over.status, StatusCode::FORBIDDEN);
    assert_eq!(over.error(), "Agent quota exceeded");
    assert_eq!(over.body["quota"]["max_agents"], 2);
    assert_eq!(over.body["quota"]["current_agents"], 2);

    let quota = api.get("/api/agents/quota").await;
    assert_eq!(quota.body["quota"]["remaining"], 0);
    assert_eq!(quota.body["quota"]["can_create_more"], false);
    assert_eq!(quota.body["agents_by_state"]["terminated"], 1);
    assert_eq!(quota.body["agents_by_state"]["provisioned"], 1);
}

#[tokio::test]
async fn pap_lifecycle_create_heartbeat_metrics_shutdown_terminate() {
    let api = TestApi::start().await;
    let id = create(&api, "lifecycle").await;

    let hb = api
        .post(
            &format!("/api/agents/{id}/heartbeat"),
            json!({ "mode": "IDLE", "uptime_seconds": 5 }),
        )
        .await;
    assert_eq!(hb.status, StatusCode::OK, "{:?}", hb.body);
    assert_eq!(hb.body["message"], "Heartbeat recorded, agent activated");
    assert_eq!(
        hb.body["state_transition"],
        json!({ "from": "PROVISIONED", "to": "ACTIVE" })
    );
    let again = api
        .post(
            &format!("/api/agents/{id}/heartbeat"),
            json!({ "mode": "IDLE", "uptime_seconds": 35 }),
        )
        .await;
    assert_eq!(again.body["state_transition"], Value::Null);
    assert_eq!(state_of(&api, &id).await, "ACTIVE");

    let m = api
        .post(
            &format!("/api/agents/{id}/metrics"),
            json!({ "cpu_percent": 12.6, "memory_mb": 256.2, "requests_handled": 40, "custom_metrics": { "queue": 3 } }),
        )
        .await;
    assert_eq!(m.status, StatusCode::OK);
    assert_eq!(m.body["cpu_percent"], 13);
    assert_eq!(m.body["memory_mb"], 256);

    let down = api
        .post(
            &format!("/api/agents/{id}/shutdown"),
            json!({ "drain_timeout_seconds": 60 }),
        )
        .await;
    assert_eq!(down.status, StatusCode::OK, "{:?}", down.body);
    assert_eq!(down.body["agent"]["state"], "DRAINING");
    assert_eq!(down.body["drain_timeout_seconds"], 60);

    let done = api
        .post(
            &format!("/api/agents/{id}/state"),
            json!({ "from_state": "DRAINING", "to_state": "TERMINATED" }),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(done.body["current_state"], "TERMINATED");

    let details = api.get(&format!("/api/agents/{id}")).await.body;
    assert_eq!(details["agent"]["state"], "TERMINATED");
    assert!(details["agent"]["terminated_at"].is_string());
    assert!(details["agent"]["activated_at"].is_string());
    assert_eq!(details["recentHeartbeats"].as_array().unwrap().len(), 2);
    assert_eq!(details["recentHeartbeats"][0]["uptime_seconds"], 35);
    assert!(
        details["recentHeartbeats"][0]["id"].is_string(),
        "bigint ids are strings"
    );
    assert_eq!(details["recentMetrics"][0]["custom_metrics"]["queue"], 3);
    assert_eq!(details["agent"]["metadata"]["last_cpu_percent"], 13);
    // Newest first.
    assert_eq!(
        event_types(&details),
        [
            "STATE_CHANGE",
            "STATE_CHANGE",
            "ACTIVATED",
            "PROVISIONED",
            "CREATED"
        ]
    );

    // Terminal: no way out, and the error names what is allowed (nothing).
    let illegal = api
        .post(
            &format!("/api/agents/{id}/state"),
            json!({ "from_state": "TERMINATED", "to_state": "ACTIVE" }),
        )
        .await;
    assert_eq!(illegal.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        illegal.error(),
        "Invalid state transition: TERMINATED → ACTIVE"
    );
    assert_eq!(illegal.body["allowed_transitions"], json!([]));
}

#[tokio::test]
async fn state_changes_follow_the_fsm() {
    let api = TestApi::start().await;
    let id = create(&api, "fsm-agent").await;
    let path = format!("/api/agents/{id}/state");

    let illegal = api
        .post(
            &path,
            json!({ "from_state": "PROVISIONED", "to_state": "DRAINING" }),
        )
        .await;
    assert_eq!(illegal.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        illegal.body["allowed_transitions"],
        json!(["ACTIVE", "TERMINATED", "KILLED"])
    );
    assert_eq!(illegal.body["current_state"], "PROVISIONED");

    let mismatch = api
        .post(
            &path,
            json!({ "from_state": "ACTIVE", "to_state": "DRAINING" }),
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::CONFLICT);
    assert_eq!(mismatch.body["current_state"], "PROVISIONED");
    assert_eq!(mismatch.body["hint"], "Refresh agent state and retry");

    let missing = api.post(&path, json!({ "to_state": "ACTIVE" })).await;
    assert_eq!(
        missing.error(),
        r#"Fields "from_state" and "to_state" are required"#
    );
    let bogus = api
        .post(
            &path,
            json!({ "from_state": "PROVISIONED", "to_state": "RUNNING" }),
        )
        .await;
    assert!(
        bogus
            .error()
            .starts_with("Invalid to_state. Must be one of: NEW, PROVISIONED")
    );

    let ok = api
        .post(
            &path,
            json!({ "from_state": "PROVISIONED", "to_state": "ACTIVE" }),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);

    // Shutdown only from ACTIVE.
    let other = create(&api, "not-active").await;
    let refused = api
        .post(&format!("/api/agents/{other}/shutdown"), json!({}))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.body["allowed_states"], json!(["ACTIVE"]));
    let bad_drain = api
        .post(
            &format!("/api/agents/{id}/shutdown"),
            json!({ "drain_timeout_seconds": 5 }),
        )
        .await;
    assert_eq!(
        bad_drain.error(),
        "drain_timeout_seconds must be an integer between 10 and 3600"
    );
}

#[tokio::test]
async fn heartbeats_are_checked_and_carry_no_metrics() {
    let api = TestApi::start().await;
    let id = create(&api, "beats").await;
    let path = format!("/api/agents/{id}/heartbeat");
    let now = api.clock.now();
    let cases = [
        (
            json!({ "mode": "IDLE" }),
            r#"Fields "mode" and "uptime_seconds" are required"#,
        ),
        (
            json!({ "mode": "FAST", "uptime_seconds": 1 }),
            "Invalid mode. Must be one of: EMERGENCY, IDLE, SLEEP",
        ),
        (
            json!({ "mode": "IDLE", "uptime_seconds": -1 }),
            "uptime_seconds must be a non-negative finite number",
        ),
        (
            json!({ "mode": "IDLE", "uptime_seconds": 1.5 }),
            "whole number",
        ),
        (
            json!({ "mode": "IDLE", "uptime_seconds": 1, "cpu_percent": 3 }),
            r#"Field "cpu_percent" not allowed in heartbeat"#,
        ),
        (
            json!({ "mode": "IDLE", "uptime_seconds": 1, "timestamp": pluggedin_mcp::clock::iso(now + chrono::Duration::seconds(60)) }),
            "Heartbeat timestamp is in the future",
        ),
        (
            json!({ "mode": "EMERGENCY", "uptime_seconds": 1, "timestamp": pluggedin_mcp::clock::iso(now - chrono::Duration::seconds(11)) }),
            "Heartbeat timestamp too old (potential replay attack)",
        ),
        (
            json!({ "mode": "IDLE", "uptime_seconds": 1, "timestamp": "yesterday" }),
            "ISO-8601",
        ),
    ];
    for (body, expected) in cases {
        let a = api.post(&path, body.clone()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(a.error().contains(expected), "{body}: {}", a.error());
    }
    let replay = api
        .post(
            &path,
            json!({ "mode": "EMERGENCY", "uptime_seconds": 1, "timestamp": pluggedin_mcp::clock::iso(now - chrono::Duration::seconds(11)) }),
        )
        .await;
    assert_eq!(replay.body["max_age_ms"], 10_000);
    let metric = api
        .post(
            &path,
            json!({ "mode": "IDLE", "uptime_seconds": 1, "memory_mb": 3 }),
        )
        .await;
    assert!(
        metric.body["zombie_prevention"]
            .as_str()
            .unwrap()
            .contains("PAP-RFC-001")
    );

    let fine = api
        .post(&path, json!({ "mode": "SLEEP", "uptime_seconds": 9, "timestamp": pluggedin_mcp::clock::iso(now) }))
        .await;
    assert_eq!(fine.status, StatusCode::OK);

    let metrics = format!("/api/agents/{id}/metrics");
    let missing = api.post(&metrics, json!({ "cpu_percent": 1 })).await;
    assert_eq!(
        missing.error(),
        r#"Fields "cpu_percent", "memory_mb", and "requests_handled" are required"#
    );
    let negative = api
        .post(
            &metrics,
            json!({ "cpu_percent": 1, "memory_mb": -2, "requests_handled": 0 }),
        )
        .await;
    assert_eq!(negative.error(), "memory_mb must be a non-negative number");
}

#[tokio::test]
async fn unknown_and_malformed_ids() {
    let api = TestApi::start().await;
    let unknown = "11111111-1111-4111-8111-111111111111";
    for path in [
        format!("/api/agents/{unknown}"),
        format!("/api/agents/{unknown}/logs"),
    ] {
        let a = api.get(&path).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(a.error(), "Agent not found");
    }
    let hb = api
        .post(
            &format!("/api/agents/{unknown}/heartbeat"),
            json!({ "mode": "IDLE", "uptime_seconds": 1 }),
        )
        .await;
    assert_eq!(hb.status, StatusCode::NOT_FOUND);
    let bad = api.get("/api/agents/not-a-uuid").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.error().contains("expected a UUID"));
}

#[tokio::test]
async fn suspend_resume_restart_patch_delete() {
    let api = TestApi::start().await;
    let id = create(&api, "actions").await;

    let s = api
        .post(
            &format!("/api/agents/{id}/suspend"),
            json!({ "reason": "night" }),
        )
        .await;
    assert_eq!(s.status, StatusCode::OK);
    assert_eq!(s.body["suspended"], true);
    let twice = api
        .post(&format!("/api/agents/{id}/suspend"), json!({}))
        .await;
    assert_eq!(twice.error(), "Agent is already suspended");

    let r = api
        .post(&format!("/api/agents/{id}/resume"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["new_state"], "PROVISIONED");
    let not_suspended = api
        .post(&format!("/api/agents/{id}/resume"), json!({}))
        .await;
    assert_eq!(not_suspended.error(), "Agent is not suspended");
    let meta = &api.get(&format!("/api/agents/{id}")).await.body["agent"]["metadata"];
    assert_eq!(meta["previous_suspension"]["suspended_reason"], "night");
    assert!(meta.get("intentionally_suspended").is_none());

    let restart = api
        .post(&format!("/api/agents/{id}/restart"), json!({}))
        .await;
    assert_eq!(restart.status, StatusCode::OK);
    assert_eq!(restart.body["previous_state"], "PROVISIONED");

    let patched = api
        .patch(
            &format!("/api/agents/{id}"),
            json!({ "access_level": "PUBLIC", "metadata": { "team": "core" } }),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.body["agent"]["access_level"], "PUBLIC");
    assert_eq!(patched.body["agent"]["metadata"]["team"], "core");
    assert_eq!(
        patched.body["agent"]["metadata"]["image"],
        "nginxinc/nginx-unprivileged"
    );
    let nothing = api.patch(&format!("/api/agents/{id}"), json!({})).await;
    assert_eq!(nothing.error(), "No valid fields to update");
    let huge = api
        .patch(
            &format!("/api/agents/{id}"),
            json!({ "metadata": { "x": "y".repeat(70_000) } }),
        )
        .await;
    assert_eq!(huge.error(), "Metadata exceeds maximum size of 64KB");

    let gone = api.delete(&format!("/api/agents/{id}"), None).await;
    assert_eq!(gone.status, StatusCode::OK);
    assert_eq!(gone.body["message"], "Agent terminated successfully");
    // Terminated agents cannot be suspended or restarted without force.
    let suspend_dead = api
        .post(&format!("/api/agents/{id}/suspend"), json!({}))
        .await;
    assert!(suspend_dead.error().contains("cannot be suspended"));
    let restart_dead = api
        .post(&format!("/api/agents/{id}/restart"), json!({}))
        .await;
    assert_eq!(
        restart_dead.body["restartable_states"],
        json!(["PROVISIONED", "ACTIVE", "DRAINING"])
    );
    let forced = api
        .post(
            &format!("/api/agents/{id}/restart"),
            json!({ "force": true }),
        )
        .await;
    assert_eq!(forced.status, StatusCode::OK);

    let listed = api.get("/api/agents").await;
    let rows = listed.body.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["dns_name"], "actions");
    assert!(
        rows[0].get("model_router_token").is_none(),
        "the list is a subset of the columns"
    );
}

#[tokio::test]
async fn export_redacts_secrets_and_logs_explain_local_mode() {
    let api = TestApi::start().await;
    let id = create(&api, "exporter").await;
    api.patch(
        &format!("/api/agents/{id}"),
        json!({ "metadata": { "api_key": "sk-1", "nested": { "password": "p" } } }),
    )
    .await;
    api.post(
        &format!("/api/agents/{id}/heartbeat"),
        json!({ "mode": "IDLE", "uptime_seconds": 1 }),
    )
    .await;

    let bad = api
        .post(
            &format!("/api/agents/{id}/export"),
            json!({ "telemetry_limit": 0 }),
        )
        .await;
    assert_eq!(
        bad.error(),
        "telemetry_limit must be an integer between 1 and 10000"
    );
    let plain = api
        .post(&format!("/api/agents/{id}/export"), json!({}))
        .await;
    assert_eq!(plain.body["export_version"], "pap-export/1.0");
    assert!(plain.body.get("telemetry").is_none());
    assert_eq!(plain.body["agent"]["metadata"]["api_key"], "[REDACTED]");
    assert_eq!(
        plain.body["agent"]["metadata"]["nested"]["password"],
        "[REDACTED]"
    );
    let full = api
        .post(
            &format!("/api/agents/{id}/export"),
            json!({ "include_telemetry": true, "telemetry_limit": 5 }),
        )
        .await;
    assert_eq!(
        full.body["telemetry"]["heartbeats"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let details = api.get(&format!("/api/agents/{id}")).await.body;
    assert!(event_types(&details).contains(&"EXPORTED".to_string()));

    let logs = api.get(&format!("/api/agents/{id}/logs?tail=5")).await;
    assert_eq!(logs.status, StatusCode::OK);
    assert_eq!(logs.body["logs"], "");
    assert!(
        logs.body["error"]
            .as_str()
            .unwrap()
            .contains("runs no containers")
    );
}

#[tokio::test]
async fn zombies_are_flagged_then_drained() {
    let api = TestApi::start().await;
    let id = create(&api, "zombie").await;
    api.post(
        &format!("/api/agents/{id}/heartbeat"),
        json!({ "mode": "EMERGENCY", "uptime_seconds": 1 }),
    )
    .await;

    // 2 missed EMERGENCY intervals (5 s each) → unhealthy, once.
    api.clock.advance(Duration::from_secs(11));
    let report = sweep_zombies(api.api.store()).await.unwrap();
    assert_eq!(report.unhealthy, ["zombie"]);
    let again = sweep_zombies(api.api.store()).await.unwrap();
    assert!(again.unhealthy.is_empty(), "flagged only once");
    let details = api.get(&format!("/api/agents/{id}")).await.body;
    assert_eq!(details["agent"]["metadata"]["unhealthy"], true);
    assert_eq!(details["agent"]["state"], "ACTIVE");
    assert_eq!(event_types(&details)[0], "UNHEALTHY");

    // 5 missed → drained, through the HTTP trigger.
    api.clock.advance(Duration::from_secs(15));
    let swept = api.post("/api/agents/zombie-check", json!({})).await;
    assert_eq!(swept.body["drained"], json!(["zombie"]));
    let details = api.get(&format!("/api/agents/{id}")).await.body;
    assert_eq!(details["agent"]["state"], "DRAINING");
    let drain = &details["lifecycleEvents"][0];
    assert_eq!(drain["event_type"], "AUTO_DRAINING");
    assert_eq!(drain["metadata"]["triggered_by"], "zombie_detection");

    // A heartbeat clears the flag.
    api.post(
        &format!("/api/agents/{id}/heartbeat"),
        json!({ "mode": "IDLE", "uptime_seconds": 30 }),
    )
    .await;
    let details = api.get(&format!("/api/agents/{id}")).await.body;
    assert!(details["agent"]["metadata"].get("unhealthy").is_none());
}

#[tokio::test]
async fn the_background_sweep_runs_on_its_own() {
    let api = TestApi::start_with(|c| c.maintenance_interval = Duration::from_millis(50)).await;
    let id = create(&api, "background").await;
    api.post(
        &format!("/api/agents/{id}/heartbeat"),
        json!({ "mode": "IDLE", "uptime_seconds": 1 }),
    )
    .await;
    api.clock.advance(Duration::from_secs(200));
    let mut state = String::new();
    for _ in 0..100 {
        state = state_of(&api, &id).await;
        if state == "DRAINING" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state, "DRAINING");
}
