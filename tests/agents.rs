//! The agent-framework examples (`examples/agents/`: Pydantic AI, the OpenAI Agents SDK,
//! LangChain/LangGraph through langchain-mcp-adapters), each run over stdio and over
//! Streamable HTTP with its framework's offline test model, then checked through our own
//! data: the agent is ACTIVE, the document is found, the clipboard holds the note. Also:
//! every tool's schema converts in each adapter without a warning. With a hub (the fixture
//! server behind pluggedin-mcp) the task also calls a downstream tool, in the pinned
//! frameworks and in the latest releases of Pydantic AI and the OpenAI Agents SDK (what a
//! plain `pip install` brings today, MCP Python SDK 2.x among it). Ignored by a plain
//! `cargo test` (they need the frameworks: `.ci/run` installs the pinned ones into
//! `.ci/venv` and the latest into `.ci/venv-latest`); `.ci/run` runs them with `--ignored`,
//! where a missing install fails them.
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

/// Which install of the frameworks runs an example.
#[derive(Debug, Clone, Copy)]
enum Venv {
    /// The pinned versions (`examples/agents/requirements.txt` and its constraints).
    Pinned,
    /// The latest releases (`examples/agents/requirements-latest.txt`, unpinned).
    Latest,
}

fn python(venv: Venv) -> PathBuf {
    let (dir, install) = match venv {
        Venv::Pinned => (
            ".ci/venv",
            "-r examples/agents/requirements.txt -c examples/agents/constraints.txt",
        ),
        Venv::Latest => (
            ".ci/venv-latest",
            "-r examples/agents/requirements-latest.txt",
        ),
    };
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(dir)
        .join("bin/python");
    assert!(
        python.exists(),
        "the agent frameworks are required here: python3 -m venv {dir} && {dir}/bin/pip install {install}"
    );
    python
}

/// The hub's downstream fixture server, built with the examples.
fn fixture_server() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/hub_fixture_server")
}

/// Runs one example; returns its report.
fn run(framework: &str, venv: Venv, extra: &[&str]) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/agents")
        .join(format!("{framework}_agent.py"));
    let out = Command::new(python(venv))
        .arg(&script)
        .args(extra)
        .env("PLUGGEDIN_MCP_BIN", env!("CARGO_BIN_EXE_pluggedin-mcp"))
        .env("PLUGGEDIN_HUB_FIXTURE", fixture_server())
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

/// The task, run by `framework` over `transport` (through a hub when `hub`), then checked
/// through our own data.
async fn task_done(framework: &str, venv: Venv, transport: &str, hub: bool) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run_id = format!("{}{}", framework.replace('_', ""), transport);
    let mut args = vec![
        "--transport",
        transport,
        "--data-dir",
        data.to_str().unwrap(),
        "--run-id",
        &run_id,
    ];
    if hub {
        args.push("--hub");
    }
    let report = run(framework, venv, &args);
    if hub {
        // Ours, the hub's own, and the downstream server's, all in the framework's one list.
        assert!(
            report["tools_offered"].as_u64().unwrap() > OWN_TOOLS as u64 + 2,
            "{report}"
        );
        assert_eq!(report["checks"]["hub_reached"], true, "{report}");
    } else {
        assert_eq!(report["tools_offered"], OWN_TOOLS, "{report}");
    }
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
        Venv::Pinned,
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
            use super::Venv;

            #[tokio::test]
            #[ignore = "needs the agent frameworks in .ci/venv (.ci/run installs them)"]
            async fn task_over_stdio() {
                super::task_done(stringify!($framework), Venv::Pinned, "stdio", false).await;
            }

            #[tokio::test]
            #[ignore = "needs the agent frameworks in .ci/venv (.ci/run installs them)"]
            async fn task_over_http() {
                super::task_done(stringify!($framework), Venv::Pinned, "http", false).await;
            }

            #[tokio::test]
            #[ignore = "needs the agent frameworks in .ci/venv (.ci/run installs them)"]
            async fn task_through_the_hub_over_stdio() {
                super::task_done(stringify!($framework), Venv::Pinned, "stdio", true).await;
            }

            #[tokio::test]
            #[ignore = "needs the agent frameworks in .ci/venv (.ci/run installs them)"]
            async fn task_through_the_hub_over_http() {
                super::task_done(stringify!($framework), Venv::Pinned, "http", true).await;
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

/// The latest releases of the frameworks people install today, through the hub.
macro_rules! latest_framework_tests {
    ($($name:ident => $framework:literal),*) => {$(
        mod $name {
            use super::Venv;

            #[tokio::test]
            #[ignore = "needs the latest frameworks in .ci/venv-latest (.ci/run installs them)"]
            async fn task_through_the_hub_over_stdio() {
                super::task_done($framework, Venv::Latest, "stdio", true).await;
            }

            #[tokio::test]
            #[ignore = "needs the latest frameworks in .ci/venv-latest (.ci/run installs them)"]
            async fn task_through_the_hub_over_http() {
                super::task_done($framework, Venv::Latest, "http", true).await;
            }
        }
    )*};
}

latest_framework_tests!(latest_pydantic_ai => "pydantic_ai", latest_openai_agents => "openai_agents");
