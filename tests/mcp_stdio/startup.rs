//! Starting up where it is hard: replicas started at the same moment on one fresh data
//! directory, a fatal error written in the log format asked for, and local mode on a machine
//! without a CA store.

use std::{process::Stdio, time::Duration};

use crate::common::mcp::{spawn, spawn_local};
use serde_json::{Value, json};

#[tokio::test]
async fn replicas_started_together_on_a_fresh_data_dir_all_come_up() {
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let started = futures::future::join_all((0..3).map(|_| spawn_local(dir.path()))).await;
        for (i, mcp) in started.iter().enumerate() {
            mcp.ok(
                "clipboard_set",
                json!({ "name": format!("replica-{i}"), "value": format!("round {round}") }),
            )
            .await;
        }
        // One database, migrated once: each process sees what the others wrote.
        for mcp in &started {
            let listed = mcp.ok("clipboard_list", json!({})).await;
            let names = listed.to_string();
            for i in 0..3 {
                assert!(names.contains(&format!("replica-{i}")), "{listed}");
            }
            assert!(!mcp.stderr().contains("already exists"), "{}", mcp.stderr());
        }
        for mcp in started {
            mcp.close().await;
        }
    }
}

#[tokio::test]
async fn a_fatal_error_is_written_in_the_chosen_log_format() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_pluggedin-mcp"))
        .env("PLUGGEDIN_CONFIG_DIR", "/nonexistent/pluggedin-mcp-tests")
        .args([
            "--transport",
            "http",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
        ])
        .args(["--log-format", "json", "--data-dir"])
        .arg(dir.path())
        .env_remove("PLUGGEDIN_API_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("a server that cannot listen exits")
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<Value> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let fatal = lines
        .iter()
        .find(|l| l["level"] == "ERROR")
        .unwrap_or_else(|| panic!("no ERROR line in:\n{stderr}"));
    assert!(fatal.to_string().contains(&port), "{fatal}");
    // It says what to do about it.
    assert!(
        fatal.to_string().contains("already in use") && fatal.to_string().contains("--port"),
        "{fatal}"
    );
}

#[tokio::test]
async fn local_mode_runs_on_a_machine_without_a_ca_store() {
    // The TLS stack reads only these when they are set: both pointing nowhere is a machine
    // with no CA certificates at all.
    let dir = tempfile::tempdir().unwrap();
    let mcp = spawn(
        &["--local", "--data-dir", dir.path().to_str().unwrap()],
        &[
            ("SSL_CERT_FILE", "/nonexistent/ca.pem"),
            ("SSL_CERT_DIR", "/nonexistent"),
        ],
    )
    .await;
    mcp.ok(
        "clipboard_set",
        json!({ "name": "ca", "value": "none needed" }),
    )
    .await;
    let got = mcp.ok("clipboard_get", json!({ "name": "ca" })).await;
    assert_eq!(got["value"], "none needed", "{got}");
    mcp.close().await;

    // An https base URL on that machine: a clear reason at the first call, not a dead start.
    let mcp = spawn(
        &["--no-account-servers"],
        &[
            ("PLUGGEDIN_API_KEY", "pg_in_test_key"),
            ("PLUGGEDIN_API_BASE_URL", "https://127.0.0.1:9"),
            ("SSL_CERT_FILE", "/nonexistent/ca.pem"),
            ("SSL_CERT_DIR", "/nonexistent"),
        ],
    )
    .await;
    let err = mcp.err("clipboard_get", json!({ "name": "ca" })).await;
    assert!(err.contains("CA certificates"), "{err}");
    mcp.close().await;
}
