//! `pluggedin-mcp login`, `whoami` and `logout` against the embedded API's device sign-in,
//! end to end: the binary asks for a code, the test approves it through the approval page
//! as a browser would, and a server started afterwards uses the stored key. Also what the
//! sign-in refuses: a denied code, an expired one, too many started.

use std::{os::unix::fs::PermissionsExt, path::Path, process::Stdio, time::Duration};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::{TestApi, mcp};

fn pluggedin(config: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pluggedin-mcp"));
    cmd.env("PLUGGEDIN_CONFIG_DIR", config)
        .env_remove("PLUGGEDIN_API_KEY")
        .env_remove("PLUGGEDIN_API_BASE_URL")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Starts `login` against `api`; returns the child and the user code it shows, once the
/// page's address is printed.
async fn start_login(api: &TestApi, config: &Path) -> (tokio::process::Child, String, Vec<String>) {
    let mut child = pluggedin(config)
        .args(["login", "--no-browser", "--base-url", &api.url("")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let code = loop {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("login prints where to approve")
            .unwrap()
            .unwrap_or_else(|| panic!("login ended early: {seen:?}"));
        seen.push(line.clone());
        if let Some(code) = line.split("the code ").nth(1) {
            break code.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep reading, so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, code, seen)
}

/// Decides on `code` through the approval page's form, as a browser posts it.
async fn decide(api: &TestApi, code: &str, decision: &str) -> reqwest::StatusCode {
    let page = reqwest::get(api.url(&format!("/cli/authorize?code={code}")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(code) && page.contains("<form"), "{page}");
    reqwest::Client::new()
        .post(api.url("/cli/authorize"))
        .header("Origin", api.url(""))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("user_code={code}&decision={decision}"))
        .send()
        .await
        .unwrap()
        .status()
}

async fn quick_api() -> TestApi {
    TestApi::start_with(|c| c.cli_auth_interval = Duration::from_secs(1)).await
}

#[tokio::test]
async fn login_stores_the_key_that_every_later_run_uses() {
    let api = quick_api().await;
    let config = tempfile::tempdir().unwrap();
    let (mut child, code, seen) = start_login(&api, config.path()).await;
    assert!(
        seen.iter().any(|l| l.contains("/cli/authorize?code=")),
        "{seen:?}"
    );
    assert_eq!(decide(&api, &code, "approve").await, 200);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("login ends once approved")
        .unwrap();
    assert!(status.success());

    let file = config.path().join("credentials.json");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(stored["api_key"], api.key());
    assert_eq!(stored["base_url"], api.url(""));

    let whoami = pluggedin(config.path())
        .arg("whoami")
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&whoami.stdout);
    assert!(whoami.status.success(), "{said}");
    assert!(
        said.contains("accepted") && !said.contains(api.key()),
        "{said}"
    );

    // A server started with no key uses the stored one, against the Plugged.in it came from.
    let server = mcp::spawn(
        &[],
        &[("PLUGGEDIN_CONFIG_DIR", config.path().to_str().unwrap())],
    )
    .await;
    server
        .ok(
            "clipboard_set",
            json!({ "name": "from-login", "value": "yes" }),
        )
        .await;
    server.close().await;
    let entry = api
        .call(reqwest::Method::GET, "/api/clipboard?name=from-login", None)
        .await;
    assert_eq!(entry.status, 200, "{:?}", entry.body);

    let logout = pluggedin(config.path())
        .arg("logout")
        .output()
        .await
        .unwrap();
    assert!(logout.status.success());
    assert!(!file.exists());
    let whoami = pluggedin(config.path())
        .arg("whoami")
        .output()
        .await
        .unwrap();
    assert!(!whoami.status.success());
    assert!(String::from_utf8_lossy(&whoami.stderr).contains("not signed in"));
}

#[tokio::test]
async fn a_denied_or_expired_code_ends_the_login_saying_so() {
    let api = quick_api().await;
    let config = tempfile::tempdir().unwrap();
    let (child, code, _) = start_login(&api, config.path()).await;
    assert_eq!(decide(&api, &code, "deny").await, 200);
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(!out.status.success());
    assert!(!config.path().join("credentials.json").exists());

    let (child, code, _) = start_login(&api, config.path()).await;
    api.clock.advance(Duration::from_secs(301));
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(!out.status.success());
    // Too late to approve as well.
    assert_eq!(decide(&api, &code, "approve").await, 400);
    assert!(!config.path().join("credentials.json").exists());
}

#[tokio::test]
async fn the_sign_in_routes_keep_the_clouds_limits_and_shapes() {
    let api = quick_api().await;
    let http = reqwest::Client::new();
    let mut last = None;
    for _ in 0..6 {
        last = Some(
            http.post(api.url("/api/cli/auth/initiate"))
                .send()
                .await
                .unwrap(),
        );
    }
    let refused = last.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "5");
    let poll = http
        .get(api.url("/api/cli/auth/poll?device_code=short"))
        .send()
        .await
        .unwrap();
    assert_eq!(poll.status(), 400);
    let unknown = http
        .get(api.url(&format!(
            "/api/cli/auth/poll?device_code={}",
            "a".repeat(48)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    // A form posted from another site is refused.
    let forged = http
        .post(api.url("/cli/authorize"))
        .header("Origin", "https://evil.example")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("user_code=ABCD-EFGH&decision=approve")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
}
