//! Shared test harness: an embedded API on a loopback port over a temporary directory, and a
//! small JSON HTTP client for it.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test harness: a failed step should stop the test at once, with its message"
)]

pub mod http;
pub mod mcp;
pub mod snapshot;

/// The tools a client is offered with every toolset and no hub server: ours, less the hub's
/// (listed only while the hub has servers).
#[allow(dead_code, reason = "not every test crate counts the tools")]
pub const LISTED_TOOLS: usize = 30;

/// Waits until `ready` holds, checking every 20 ms, for at most 10 s (then fails naming
/// `what`): for something that happens soon after a step, in place of a fixed sleep.
pub async fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not seen within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

use std::time::Duration;

use pluggedin_mcp::{
    clock::Clock,
    local::{LocalApi, LocalConfig},
};
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub struct TestApi {
    pub api: LocalApi,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    pub clock: Clock,
}

/// A JSON answer: status and body (non-JSON bodies come back as a JSON string).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub content_type: String,
}

impl Answer {
    /// The `error` message of an error body.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    /// The field the first validation detail names: a dotted path as the document routes
    /// send it, or zod's path segments joined with dots.
    pub fn detail_path(&self) -> String {
        let path = &self.body["details"][0]["path"];
        if let Some(dotted) = path.as_str() {
            return dotted.to_string();
        }
        let segments = path.as_array().cloned().unwrap_or_default();
        segments
            .iter()
            .map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(".")
    }
}

impl TestApi {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut LocalConfig)) -> Self {
        pluggedin_mcp::api::install_crypto_provider();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = LocalConfig::new(dir.path().join("data"));
        // Maintenance runs only when a test asks for it, so timing never flakes a test.
        config.maintenance_interval = Duration::from_secs(3600);
        tune(&mut config);
        let clock = config.clock.clone();
        let api = LocalApi::start(config).await.expect("embedded API starts");
        Self {
            api,
            dir,
            http: reqwest::Client::new(),
            clock,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api.base_url())
    }

    pub fn key(&self) -> &str {
        self.api.key().expose()
    }

    /// Sends an authenticated request with an optional JSON body.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(self.key());
        if let Some(b) = body {
            req = req.json(&b);
        }
        answer(req.send().await.expect("request is sent")).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str, body: Option<Value>) -> Answer {
        self.call(Method::DELETE, path, body).await
    }
}

/// A memory figure of a process, in KiB, from `/proc/<pid>/status`: `VmRSS` (resident now)
/// or `VmHWM` (the peak).
pub fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

pub async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = resp.text().await.expect("body is readable");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        body,
        content_type,
    }
}
