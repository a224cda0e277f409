//! The agent-framework examples (`examples/agents/`: Pydantic AI, the OpenAI Agents SDK,
//! LangChain/LangGraph through langchain-mcp-adapters), each run over stdio and over
//! Streamable HTTP with its framework's offline test model, then checked through our own
//! data: the agent is ACTIVE, the document is found, the clipboard holds the note. Also:
//! every tool's schema converts in each adapter without a warning. Ignored by a plain
//! `cargo test` (they need the pinned frameworks: `.ci/run` installs them into `.ci/venv`);
//! `.ci/run` runs them with `--ignored`, where a missing install fails them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test at once, with its message"
)]

mod common;

use std::{path::PathBuf, process::Command};

use serde_json::{Value, json};

/// Tools a client sees in local mode without hub servers.
const OWN_TOOLS: usize = common::LISTED_TOOLS;

fn python() -> PathBuf {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".ci/venv/bin/python");
    assert!(
        python.exists(),
        "the agent frameworks are required here: python3 -m venv .ci/venv && .ci/venv/bin/pip install -r examples/agents/requirements.txt -c examples/agents/constraints.txt"
    );
    python
}

/// Runs one example; returns its report.
fn run(framework: &str, extra: &[&str]) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/agents")
        .join(format!("{framework}_agent.py"));
    let out = Command::new(python())
        .arg(&script)
        .args(extra)
        .env("PLUGGEDIN_MCP_BIN", env!("CARGO_BIN_EXE_pluggedin-mcp"))
        .env_remove("PLUGGEDIN_AGENT_MODEL")
        .env_remove("PLUGGEDIN_API_KEY")
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{framework} {extra:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{framework}: {e}: {stdout}"))
}

/// The task, run by `framework` over `transport`, then checked through our own data.
async fn task_done(framework: &str, transport: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run_id = format!("{}{}", framework.replace('_', ""), transport);
    let report = run(
        framework,
        &[
            "--transport",
            transport,
            "--data-dir",
            data.to_str().unwrap(),
            "--run-id",
            &run_id,
        ],
    );
    assert_eq!(report["tools_offered"], OWN_TOOLS, "{report}");
    assert_eq!(report["schema_warnings"], json!([]), "{report}");
    for (check, passed) in report["checks"].as_object().unwrap() {
        assert_eq!(
            passed,
            &json!(true),
            "{framework}/{transport}: {check}: {report}"
        );
    }

    // Through our own data, with a fresh server on the same data directory.
    let mcp = common::mcp::spawn_local(&data).await;
    let status = mcp
        .ok("agent_status", json!({"agent": format!("{run_id}-scout")}))
        .await;
    assert_eq!(status["state"], "ACTIVE", "{status}");
    let found = mcp.ok("search_docs", json!({"query": run_id})).await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["results"][0]["title"], format!("Finding {run_id}"));
    let note = mcp
        .ok("clipboard_get", json!({"name": format!("note-{run_id}")}))
        .await;
    assert_eq!(
        note["value"],
        format!("working note: finding {run_id} recorded and found again")
    );
    mcp.close().await;
}

/// Every tool loads and converts in `framework`'s adapter, with no warning.
fn schemas_convert(framework: &str) {
    let dir = tempfile::tempdir().unwrap();
    let report = run(
        framework,
        &[
            "--check-schemas",
            "--data-dir",
            dir.path().join("data").to_str().unwrap(),
        ],
    );
    assert_eq!(report["tools_offered"], OWN_TOOLS, "{report}");
    assert_eq!(report["schema_warnings"], json!([]), "{report}");
}

macro_rules! framework_tests {
    ($($framework:ident),*) => {$(
        mod $framework {
            #[tokio::test]
            #[ignore = "needs the agent frameworks in .ci/venv (.ci/run installs them)"]
            async fn task_over_stdio() {
                super::task_done(stringify!($framework), "stdio").await;
            }

            #[tokio::test]
            #[ignore = "needs the agent frameworks in .ci/venv (.ci/run installs them)"]
            async fn task_over_http() {
                super::task_done(stringify!($framework), "http").await;
            }

            #[test]
            #[ignore = "needs the agent frameworks in .ci/venv (.ci/run installs them)"]
            fn every_schema_converts() {
                super::schemas_convert(stringify!($framework));
            }
        }
    )*};
}

framework_tests!(pydantic_ai, openai_agents, langgraph);
