//! `install`, `uninstall`, `import` and `doctor` on sample configuration files of every
//! client (`tests/fixtures/clients/`), through the binary: the entry lands in the client's
//! own shape, everything else stays byte for byte, a second run changes nothing, a dry run
//! writes nothing, and an imported client's servers are served by the hub.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test at once, with its message"
)]

use std::{
    path::{Path, PathBuf},
    process::Output,
};

use serde_json::{Value, json};

#[path = "common/mod.rs"]
mod common;

const CLIENTS: &[(&str, &str)] = &[
    ("claude-desktop", "claude_desktop_config.json"),
    ("claude-code", "claude.json"),
    ("cursor", "cursor_mcp.json"),
    ("vscode", "vscode_mcp.json"),
    ("windsurf", "windsurf_mcp_config.json"),
    ("zed", "zed_settings.json"),
    ("codex", "codex_config.toml"),
];

fn sample(file: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/clients/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn run(config_dir: &Path, args: &[&str]) -> Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pluggedin-mcp"))
        .args(args)
        .env("PLUGGEDIN_CONFIG_DIR", config_dir)
        .env_remove("PLUGGEDIN_SERVERS_FILE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn copy_of(dir: &Path, file: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, sample(file)).unwrap();
    path
}

#[test]
fn install_and_uninstall_round_trip_every_client() {
    let dir = tempfile::tempdir().unwrap();
    let me = std::fs::canonicalize(env!("CARGO_BIN_EXE_pluggedin-mcp")).unwrap();
    for (client, file) in CLIENTS {
        let path = copy_of(dir.path(), file);
        let original = sample(file);
        let config = path.to_str().unwrap();

        let dry = run(
            dir.path(),
            &["install", client, "--config", config, "--dry-run"],
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            original,
            "{client}: a dry run wrote"
        );
        let diff = String::from_utf8_lossy(&dry.stdout);
        assert!(
            diff.contains("+") && diff.contains("pluggedin"),
            "{client}: {diff}"
        );

        run(dir.path(), &["install", client, "--config", config]);
        let installed = std::fs::read_to_string(&path).unwrap();
        assert!(
            installed.contains(me.to_str().unwrap()),
            "{client}: {installed}"
        );
        // Every line the user had is still there.
        for line in original.lines() {
            assert!(
                installed.contains(line.trim()),
                "{client}: lost {line:?}\n{installed}"
            );
        }
        let backup = dir.path().join(format!("{file}.pluggedin-backup"));
        assert_eq!(std::fs::read_to_string(&backup).unwrap(), original);

        // Idempotent: a second install leaves the file alone.
        run(dir.path(), &["install", client, "--config", config]);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            installed,
            "{client}"
        );

        run(dir.path(), &["uninstall", client, "--config", config]);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            original,
            "{client}: uninstall left more than our entry's absence"
        );
    }
}

#[test]
fn entries_take_each_clients_shape() {
    let dir = tempfile::tempdir().unwrap();
    let shapes = [
        (
            "claude-desktop",
            "claude_desktop_config.json",
            "/mcpServers/pluggedin",
            None,
            None,
        ),
        (
            "claude-code",
            "claude.json",
            "/mcpServers/pluggedin",
            Some("stdio"),
            None,
        ),
        (
            "vscode",
            "vscode_mcp.json",
            "/servers/pluggedin",
            Some("stdio"),
            None,
        ),
        (
            "zed",
            "zed_settings.json",
            "/context_servers/pluggedin",
            None,
            Some("custom"),
        ),
    ];
    for (client, file, pointer, kind, source) in shapes {
        let path = copy_of(dir.path(), file);
        run(
            dir.path(),
            &["install", client, "--config", path.to_str().unwrap()],
        );
        let text = std::fs::read_to_string(&path).unwrap();
        // Comments are allowed in these files: read past them as the clients do.
        let json: Value = serde_json::from_str(&strip_comments(&text)).unwrap();
        let entry = json
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{client}: {text}"));
        assert!(
            entry["command"]
                .as_str()
                .unwrap()
                .ends_with("pluggedin-mcp")
        );
        assert_eq!(entry["type"].as_str(), kind, "{client}");
        assert_eq!(entry["source"].as_str(), source, "{client}");
    }
    let codex = copy_of(dir.path(), "codex_config.toml");
    run(
        dir.path(),
        &["install", "codex", "--config", codex.to_str().unwrap()],
    );
    let text = std::fs::read_to_string(&codex).unwrap();
    assert!(
        text.contains("[mcp_servers.pluggedin]\ncommand = "),
        "{text}"
    );
}

fn strip_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn import_moves_a_clients_servers_behind_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().join("config");
    let path = copy_of(dir.path(), "claude_desktop_config.json");
    run(
        &config_dir,
        &[
            "import",
            "claude-desktop",
            "--config",
            path.to_str().unwrap(),
        ],
    );
    let client: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let servers = client["mcpServers"].as_object().unwrap();
    assert_eq!(servers.keys().collect::<Vec<_>>(), ["pluggedin"]);
    assert_eq!(client["globalShortcut"], "Ctrl+Space");
    let hub_file = config_dir.join("servers.json");
    let args = servers["pluggedin"]["args"].as_array().unwrap();
    assert_eq!(args[0], "--servers");
    assert_eq!(args[1], hub_file.to_str().unwrap());
    let hub: Value = serde_json::from_str(&std::fs::read_to_string(&hub_file).unwrap()).unwrap();
    let moved = hub["mcpServers"].as_object().unwrap();
    assert_eq!(moved.keys().collect::<Vec<_>>(), ["filesystem", "github"]);
    assert_eq!(
        moved["github"]["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"],
        "ghp_example"
    );
    // Again: nothing left to move, nothing changes.
    let before = std::fs::read_to_string(&path).unwrap();
    run(
        &config_dir,
        &[
            "import",
            "claude-desktop",
            "--config",
            path.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    // The hub never starts itself from this file, even pointed at the client's own file.
    let hub_file_text = std::fs::read_to_string(&hub_file).unwrap();
    assert!(!hub_file_text.contains("pluggedin-mcp"), "{hub_file_text}");
}

#[test]
fn doctor_reports_as_json_and_fails_on_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let servers = dir.path().join("servers.json");
    std::fs::write(
        &servers,
        r#"{"mcpServers": {"missing": {"command": "/nonexistent/server"}}}"#,
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pluggedin-mcp"))
        .args(["doctor", "--json", "--wait", "5", "--servers"])
        .arg(&servers)
        .env("PLUGGEDIN_CONFIG_DIR", dir.path())
        .env("PLUGGEDIN_DATA_DIR", dir.path().join("data"))
        .env("HOME", dir.path())
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("PLUGGEDIN_API_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    let checks = report["checks"].as_array().unwrap();
    let server = checks
        .iter()
        .find(|c| c["check"] == "server missing")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(server["status"], "problem");
    assert!(
        server["detail"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/server")
    );
    let data = checks.iter().find(|c| c["check"] == "data folder").unwrap();
    assert_eq!(data["status"], "ok");
}

#[tokio::test]
async fn an_imported_server_is_offered_through_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let fixture = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/hub_fixture_server");
    let path = dir.path().join("claude_desktop_config.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&json!({"mcpServers": {
            "fixture": {"command": fixture, "env": {"FIXTURE_LABEL": "F"}}
        }}))
        .unwrap(),
    )
    .unwrap();
    let config_dir = dir.path().join("config");
    run(
        &config_dir,
        &[
            "import",
            "claude-desktop",
            "--config",
            path.to_str().unwrap(),
        ],
    );
    let client: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let args: Vec<String> = client["mcpServers"]["pluggedin"]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Started as the client now starts it.
    let mcp = common::mcp::spawn(&args, &[]).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let tools = mcp.client.list_all_tools().await.unwrap();
        if tools.iter().any(|t| t.name == "fixture__echo") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{tools:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let echoed = mcp.call("fixture__echo", json!({"text": "hi"})).await;
    assert_eq!(common::mcp::text_of(&echoed), "F: hi");
    mcp.close().await;
}

#[test]
fn started_by_the_npm_launcher_the_entry_runs_npx() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_of(dir.path(), "cursor_mcp.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pluggedin-mcp"))
        .args(["install", "cursor", "--config", path.to_str().unwrap()])
        .env("PLUGGEDIN_CONFIG_DIR", dir.path())
        .env("PLUGGEDIN_MCP_NPM_PACKAGE", "@pluggedin/pluggedin-mcp")
        .output()
        .unwrap();
    assert!(out.status.success());
    let config: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let entry = &config["mcpServers"]["pluggedin"];
    assert_eq!(entry["command"], "npx");
    assert_eq!(entry["args"], json!(["-y", "@pluggedin/pluggedin-mcp"]));
    // import keeps the launcher and adds the servers file after it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pluggedin-mcp"))
        .args(["import", "cursor", "--config", path.to_str().unwrap()])
        .env("PLUGGEDIN_CONFIG_DIR", dir.path())
        .env("PLUGGEDIN_MCP_NPM_PACKAGE", "@pluggedin/pluggedin-mcp")
        .output()
        .unwrap();
    assert!(out.status.success());
    let config: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let args = config["mcpServers"]["pluggedin"]["args"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        args[..3],
        [
            json!("-y"),
            json!("@pluggedin/pluggedin-mcp"),
            json!("--servers")
        ]
    );
    assert_eq!(config["mcpServers"].as_object().unwrap().len(), 1);
}
