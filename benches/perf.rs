//! Performance figures of the release binary, measured from outside as a client sees them.
//!
//! ```sh
//! cargo bench --bench perf
//! ```
//!
//! Prints one table: stdio cold start, resident memory, `tools/list` latency, per-call
//! latency through MCP beside the same request sent straight to the embedded API (the
//! difference is this server's overhead), search over 2,000 documents, and HTTP throughput
//! with 1, 10 and 100 concurrent sessions. Targets are printed beside the figures; nothing
//! here fails on a slow machine (timing belongs in a benchmark, not in a test).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark program: a failed step should stop it at once, with its message"
)]

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};

#[path = "support/mod.rs"]
mod support;
use support::{BIN, Stdio_, ms, percentile, print_table, row, rss_mb, timed};

const KEY: &str = "pg_in_benchmarkkey";

/// `pluggedin-mcp api` on a free port; returns the child and its base URL.
fn standalone_api(dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args([
            "api",
            "--port",
            "0",
            "--key",
            KEY,
            "--agent-quota",
            "100000",
            "--data-dir",
        ])
        .arg(dir)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

/// Spawn → `initialize` answer of `program`, once.
fn start_once(program: &str, args: &[&str], env: &[(&str, &str)]) -> Duration {
    let started = Instant::now();
    let mut s = Stdio_::spawn_program(program, args, env);
    let r = s.request(
        "initialize",
        json!({ "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "bench", "version": "1" } }),
    );
    let took = started.elapsed();
    assert!(r["result"]["serverInfo"]["name"].is_string());
    took
}

/// p50 and p95 of some runs.
fn p50_p95(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.95))
}

/// The floor, `examples/floor.rs` (a bare rmcp server), built in release beside the binary.
fn floor_bin() -> String {
    let built = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--release", "--example", "floor"])
        .status()
        .unwrap();
    assert!(built.success(), "building examples/floor.rs");
    let bin = std::path::Path::new(BIN)
        .parent()
        .unwrap()
        .join("examples/floor");
    bin.to_str().unwrap().to_string()
}

/// `ours / floor` as a ratio, for the table.
fn ratio(ours: Duration, floor: Duration) -> String {
    format!("{:.1}×", ours.as_secs_f64() / floor.as_secs_f64().max(1e-9))
}

/// One stateful Streamable HTTP session with a raw client: initialize, then tool calls.
struct HttpSession {
    http: reqwest::Client,
    url: String,
    session: String,
}

impl HttpSession {
    async fn open(http: &reqwest::Client, url: &str) -> Self {
        let init = json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": { "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "bench", "version": "1" } } });
        let resp = http
            .post(url)
            .header("accept", "application/json, text/event-stream")
            .json(&init)
            .send()
            .await
            .unwrap();
        let session = resp.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_string();
        let _ = resp.bytes().await;
        let s = Self {
            http: http.clone(),
            url: url.to_string(),
            session,
        };
        s.post(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
            .await;
        s
    }

    async fn post(&self, body: &Value) -> Option<String> {
        let resp = self
            .http
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &self.session)
            .header("mcp-protocol-version", "2025-11-25")
            .json(body)
            .send()
            .await
            .ok()?;
        if !resp.status().is_success() {
            return None;
        }
        resp.text().await.ok()
    }

    /// One tool call; true when it answered with a successful result.
    async fn call(&self, id: u64) -> bool {
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": { "name": "clipboard_get", "arguments": { "name": "bench" } } });
        self.post(&body)
            .await
            .is_some_and(|text| text.contains("\"result\"") && text.contains("\"isError\":false"))
    }
}

/// `sessions` sessions calling as fast as they can for `duration`: (calls/s, p50, p99, errors).
async fn http_load(
    url: &str,
    sessions: usize,
    duration: Duration,
) -> (f64, Duration, Duration, u64) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()
        .unwrap();
    let mut opened = Vec::new();
    for _ in 0..sessions {
        opened.push(HttpSession::open(&http, url).await);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = opened
        .into_iter()
        .map(|s| {
            let (stop, errors, measuring) = (stop.clone(), errors.clone(), measuring.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut id = 1;
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let ok = s.call(id).await;
                    id += 1;
                    if measuring.load(Ordering::Relaxed) {
                        latencies.push(started.elapsed());
                        if !ok {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                latencies
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await; // warm-up
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(duration).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    (
        all.len() as f64 / elapsed.as_secs_f64(),
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        errors.load(Ordering::Relaxed),
    )
}

/// A POST straight to the embedded API (the baseline the MCP figures are compared with).
async fn direct_post(http: &reqwest::Client, base: &str, path: &str, body: Value) -> bytes::Bytes {
    let r = http
        .post(format!("{base}{path}"))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.bytes().await.unwrap()
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; there are no options.
    pluggedin_mcp::api::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let local_dir = dir.path().join("local");
    let api_dir = dir.path().join("api");
    let mut rows = Vec::new();
    eprintln!("measuring… (about a minute)");

    // Cold start: spawn → initialize answer, in rounds of the floor (a bare rmcp server),
    // local mode and cloud mode, so all three see the same machine. Local mode includes
    // opening SQLite and starting the embedded API; the data directory exists (as after a
    // first run).
    let floor = floor_bin();
    let local_args = ["--data-dir", local_dir.to_str().unwrap()];
    let (mut api_child, api_url) = standalone_api(&api_dir);
    let cloud_env = [
        ("PLUGGEDIN_API_KEY", KEY),
        ("PLUGGEDIN_API_BASE_URL", api_url.as_str()),
    ];
    start_once(BIN, &local_args, &[]); // creates the data directory, like a first run
    let (mut floor_starts, mut local_starts, mut cloud_starts) = (vec![], vec![], vec![]);
    for _ in 0..30 {
        floor_starts.push(start_once(&floor, &[], &[]));
        local_starts.push(start_once(BIN, &local_args, &[]));
        cloud_starts.push(start_once(BIN, &[], &cloud_env));
    }
    let floor_start = p50_p95(floor_starts);
    rows.push(row(
        "stdio cold start, floor: a bare rmcp server (examples/floor.rs), 30 runs",
        format!("p50 {} · p95 {}", ms(floor_start.0), ms(floor_start.1)),
        "",
    ));
    for (mode, starts) in [("local", local_starts), ("cloud", cloud_starts)] {
        let (p50, p95) = p50_p95(starts);
        rows.push(row(
            format!("stdio cold start, {mode} mode (spawn → initialize answer), 30 runs"),
            format!(
                "p50 {} · p95 {} = {} the floor",
                ms(p50),
                ms(p95),
                ratio(p50, floor_start.0)
            ),
            "≤ 2× the floor (TS server ≈ 680 ms)",
        ));
    }

    // Memory and latency of one stdio server (cloud mode against the standalone API, so the
    // server process holds only the MCP server).
    let http = reqwest::Client::new();
    direct_post(
        &http,
        &api_url,
        "/api/clipboard",
        json!({ "name": "bench", "value": "a value to read back", "ttlSeconds": 86400 }),
    )
    .await;
    // 2,000 documents for the search figures.
    let seeders: Vec<_> = (0..8)
        .map(|w| {
            let (http, api_url) = (http.clone(), api_url.clone());
            tokio::spawn(async move {
                for i in (w..2000).step_by(8) {
                    let doc = json!({ "title": format!("Report {i:04}"),
                        "content": format!("Quarterly figures for unit {i}. Revenue grew in region {}; details in appendix {i}.", i % 17),
                        "metadata": { "model": { "name": "bench", "provider": "bench" } } });
                    direct_post(&http, &api_url, "/api/documents/ai", doc).await;
                }
            })
        })
        .collect();
    for s in seeders {
        s.await.unwrap();
    }

    let mut bare = Stdio_::spawn_program(&floor, &[], &[]);
    bare.initialize();
    let mut local = Stdio_::spawn(&local_args, &[]);
    local.initialize();
    let mut s = Stdio_::spawn(&[], &cloud_env);
    s.initialize();
    std::thread::sleep(Duration::from_millis(500));
    let floor_rss = rss_mb(bare.child.id());
    let idle = rss_mb(s.child.id());
    rows.push(row(
        "resident memory, idle after initialize: the floor",
        format!("{floor_rss:.1} MB"),
        "",
    ));
    for (mode, pid) in [("cloud", s.child.id()), ("local", local.child.id())] {
        let idle = rss_mb(pid);
        rows.push(row(
            format!("resident memory, idle after initialize ({mode} mode)"),
            format!("{idle:.1} MB = {:.1}× the floor", idle / floor_rss.max(0.1)),
            "≤ 10 MB (TS server ≈ 100 MB)",
        ));
    }
    drop((bare, local));

    let list = timed(200, || {
        let r = s.request("tools/list", json!({}));
        assert!(r["result"]["tools"].is_array());
    });
    rows.push(row(
        "tools/list latency (stdio), 200 calls",
        format!(
            "p50 {} · p99 {}",
            ms(percentile(&list, 0.5)),
            ms(percentile(&list, 0.99))
        ),
        "TS server 3–6 ms",
    ));

    let mcp_get = timed(1000, || {
        s.call("clipboard_get", json!({ "name": "bench" }));
    });
    let direct_url = format!("{api_url}/api/clipboard?name=bench");
    let mut direct_get = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let started = Instant::now();
        let r = http.get(&direct_url).bearer_auth(KEY).send().await.unwrap();
        let _ = r.bytes().await.unwrap();
        direct_get.push(started.elapsed());
    }
    direct_get.sort();
    let overhead = percentile(&mcp_get, 0.5).saturating_sub(percentile(&direct_get, 0.5));
    rows.push(row(
        "clipboard_get through MCP (stdio), 1,000 calls",
        format!(
            "p50 {} · p99 {}",
            ms(percentile(&mcp_get, 0.5)),
            ms(percentile(&mcp_get, 0.99))
        ),
        "",
    ));
    rows.push(row(
        "same request straight to the embedded API",
        format!(
            "p50 {} · p99 {}",
            ms(percentile(&direct_get, 0.5)),
            ms(percentile(&direct_get, 0.99))
        ),
        "",
    ));
    rows.push(row(
        "→ MCP overhead per call (p50 difference)",
        ms(overhead),
        "≤ 0.3 ms",
    ));

    let mcp_search = timed(200, || {
        s.call("search_docs", json!({ "query": "appendix 1234 revenue" }));
    });
    let mut direct_search = Vec::with_capacity(200);
    for _ in 0..200 {
        let started = Instant::now();
        direct_post(
            &http,
            &api_url,
            "/api/documents/search",
            json!({ "query": "appendix 1234 revenue" }),
        )
        .await;
        direct_search.push(started.elapsed());
    }
    direct_search.sort();
    rows.push(row(
        "search_docs over 2,000 documents through MCP, 200 calls",
        format!(
            "p50 {} · p99 {}",
            ms(percentile(&mcp_search, 0.5)),
            ms(percentile(&mcp_search, 0.99))
        ),
        "well under 1 s",
    ));
    rows.push(row(
        "same search straight to the embedded API",
        format!(
            "p50 {} · p99 {}",
            ms(percentile(&direct_search, 0.5)),
            ms(percentile(&direct_search, 0.99))
        ),
        "",
    ));
    let overhead = percentile(&mcp_search, 0.5).saturating_sub(percentile(&direct_search, 0.5));
    rows.push(row(
        "→ MCP overhead per search (p50 difference)",
        ms(overhead),
        "≤ 0.3 ms",
    ));

    std::thread::sleep(Duration::from_millis(300));
    let after = rss_mb(s.child.id());
    rows.push(row(
        "resident memory after 1,400 tool calls (cloud mode)",
        format!("{after:.1} MB ({:+.1} MB)", after - idle),
        "within 2 MB of idle",
    ));
    drop(s);

    let mut local = Stdio_::spawn(&local_args, &[]);
    local.initialize();
    std::thread::sleep(Duration::from_millis(500));
    let local_idle = rss_mb(local.child.id());
    for _ in 0..1000 {
        local.call("clipboard_push", json!({ "value": "x" }));
    }
    std::thread::sleep(Duration::from_millis(300));
    let local_after = rss_mb(local.child.id());
    rows.push(row(
        "resident memory, local mode (server + embedded API + SQLite): idle / after 1,000 calls",
        format!(
            "{local_idle:.1} MB / {local_after:.1} MB ({:+.1} MB)",
            local_after - local_idle
        ),
        "≤ 15 MB idle",
    ));
    drop(local);

    // HTTP: the default (local) mode serving Streamable HTTP sessions.
    let mut http_server = Command::new(BIN)
        .args(["--transport", "http", "--port", "0", "--data-dir"])
        .arg(dir.path().join("http"))
        .env_remove("PLUGGEDIN_API_KEY")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(http_server.stderr.take().unwrap()).lines();
    let mcp_url = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(at) = line.find("listening on ") {
            break line[at + 13..]
                .split_whitespace()
                .next()
                .unwrap()
                .to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    {
        let setup = HttpSession::open(&reqwest::Client::new(), &mcp_url).await;
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": { "name": "clipboard_set", "arguments": { "name": "bench", "value": "http value" } } });
        assert!(
            setup
                .post(&body)
                .await
                .is_some_and(|t| t.contains("\"isError\":false"))
        );
    }
    for sessions in [1, 10, 100] {
        let (rate, p50, p99, errors) = http_load(&mcp_url, sessions, Duration::from_secs(5)).await;
        rows.push(row(
            format!("HTTP clipboard_get, {sessions} concurrent session(s), 5 s"),
            format!(
                "{rate:.0} calls/s · p50 {} · p99 {} · {errors} errors",
                ms(p50),
                ms(p99)
            ),
            if sessions == 100 {
                "≥ 3,000 calls/s, 0 errors (TS server: one client)"
            } else {
                ""
            },
        ));
    }
    let _ = http_server.kill();
    let _ = api_child.kill();
    let _ = http_server.wait();
    let _ = api_child.wait();

    print_table(rows);
}
