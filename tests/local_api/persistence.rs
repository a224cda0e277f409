//! `pluggedin-mcp api` as users run it: prints its URL, serves, stops on SIGTERM, and a
//! restart on the same data directory keeps every document, entry and agent.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use reqwest::StatusCode;
use serde_json::{Value, json};

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path, key: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pluggedin-mcp"))
        .env("PLUGGEDIN_CONFIG_DIR", "/nonexistent/pluggedin-mcp-tests")
        .args(["api", "--port", "0", "--key", key, "--data-dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_string();
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, base }
}

async fn call(
    http: &reqwest::Client,
    s: &Server,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut req = http
        .request(method, format!("{}{path}", s.base))
        .bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap()
}

#[tokio::test]
async fn restart_on_the_same_data_dir_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let key = "pg_in_persistencetest";
    let http = reqwest::Client::new();
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;

    let first = start(dir.path(), key);
    let agent = call(
        &http,
        &first,
        key,
        post.clone(),
        "/api/agents",
        Some(json!({ "name": "keeper", "image": "nginx" })),
    )
    .await;
    let doc = call(&http, &first, key, post.clone(), "/api/documents/ai",
        Some(json!({ "title": "Kept", "content": "durable words", "metadata": { "model": { "name": "m", "provider": "p" } } }))).await;
    call(
        &http,
        &first,
        key,
        post.clone(),
        "/api/clipboard",
        Some(json!({ "name": "k", "value": "v", "ttlSeconds": 86400 })),
    )
    .await;
    call(
        &http,
        &first,
        key,
        post.clone(),
        "/api/clipboard/push",
        Some(json!({ "value": "stacked" })),
    )
    .await;

    // SIGTERM: graceful shutdown, exit 0.
    let mut first = first;
    let pid = first.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = first.child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
    drop(first);

    let second = start(dir.path(), key);
    let agents = call(&http, &second, key, get.clone(), "/api/agents", None).await;
    assert_eq!(agents[0]["uuid"], agent["agent"]["uuid"]);
    assert_eq!(agents[0]["state"], "PROVISIONED");
    let id = doc["documentId"].as_str().unwrap();
    let kept = call(
        &http,
        &second,
        key,
        get.clone(),
        &format!("/api/documents/{id}?includeContent=true"),
        None,
    )
    .await;
    assert_eq!(kept["content"], "durable words");
    let entry = call(
        &http,
        &second,
        key,
        get.clone(),
        "/api/clipboard?name=k",
        None,
    )
    .await;
    assert_eq!(entry["entry"]["value"], "v");
    let popped = call(
        &http,
        &second,
        key,
        post.clone(),
        "/api/clipboard/pop",
        None,
    )
    .await;
    assert_eq!(popped["entry"]["value"], "stacked");
    let search = call(
        &http,
        &second,
        key,
        post,
        "/api/documents/search",
        Some(json!({ "query": "durable" })),
    )
    .await;
    assert_eq!(search["total"], 1, "the full-text index survives too");

    // The wrong key is refused by the restarted server as well.
    let resp = http
        .get(format!("{}/api/agents", second.base))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let _ = Duration::from_secs(0);
}
