//! Hub figures of the release binary, measured from outside as a client sees them.
//!
//! ```sh
//! cargo bench --bench hub
//! ```
//!
//! The downstream servers are this program itself run as the hub's fixture server
//! (`examples/hub_fixture_server.rs`, included below), so the figures need nothing but the
//! build. Prints: the overhead of a proxied call (the same call straight to the downstream,
//! then through the hub), `initialize` with 10 configured servers of which two start slowly
//! and one never answers, `tools/list` with 1,000 downstream tools, the hub's resident
//! memory per live downstream connection (children excluded), what forwarding a progress
//! notification adds, the catalog's cost in tokens with 1, 10 and 50 servers listed and
//! searched, and a tool search over 1,000 tools.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark program: a failed step should stop it at once, with its message"
)]

#[path = "support/mod.rs"]
mod support;

#[path = "../examples/hub_fixture_server.rs"]
mod fixture;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Stdio_, ms, percentile, print_table, row, rss_mb, timed};

/// Set in the environment of the children that must act as the fixture server.
const ROLE: &str = "HUB_BENCH_ROLE";
const CALLS: usize = 2_000;
/// Calls measured on one side before switching to the other.
const BLOCK: usize = 100;

fn me() -> String {
    std::env::current_exe().unwrap().display().to_string()
}

fn fixture_entry(env: Value) -> Value {
    let mut env = env;
    env[ROLE] = json!("fixture");
    json!({ "command": me(), "env": env })
}

/// Writes a servers file into `dir`; returns its path.
fn servers_file(dir: &std::path::Path, servers: Value) -> std::path::PathBuf {
    let file = dir.join(format!("servers-{}.json", rand_suffix()));
    std::fs::write(&file, json!({ "mcpServers": servers }).to_string()).unwrap();
    file
}

/// The hub (release binary) over stdio, local mode, with the servers of `file` only.
/// Unless `search` says otherwise, every tool is listed (`--tool-search off`): most figures
/// are of listing, and a 1,000-tool catalog would otherwise be searched.
fn spawn_hub_searching(dir: &std::path::Path, file: &std::path::Path, search: &str) -> Stdio_ {
    let data = dir.join("data");
    Stdio_::spawn(
        &[
            "--servers",
            file.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "--no-account-servers",
            "--tool-search",
            search,
        ],
        &[],
    )
}

fn spawn_hub(dir: &std::path::Path, file: &std::path::Path) -> Stdio_ {
    spawn_hub_searching(dir, file, "off")
}

const DOMAINS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/tool_search/domains.json"
);
const QUERIES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/tool_search/queries.json"
);

/// The first `n` domain servers of the tool-search fixture (20 tools each).
fn domain_servers(n: usize) -> Value {
    let domains: Value = serde_json::from_str(&std::fs::read_to_string(DOMAINS).unwrap()).unwrap();
    let servers: serde_json::Map<String, Value> = domains
        .as_array()
        .unwrap()
        .iter()
        .take(n)
        .map(|d| {
            let name = d["server"].as_str().unwrap();
            let entry = fixture_entry(json!({ "FIXTURE_LABEL": name, "FIXTURE_DOMAINS": DOMAINS }));
            (name.to_string(), entry)
        })
        .collect();
    Value::Object(servers)
}

/// A hub over `servers` with `--tool-search search`, once all `tools` downstream tools are
/// in (whether listed or searched).
fn searching_hub(dir: &std::path::Path, servers: Value, search: &str, tools: usize) -> Stdio_ {
    let mut hub = spawn_hub_searching(dir, &servers_file(dir, servers), search);
    hub.initialize();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = hub.call("hub_search_tools", json!({ "query": "list", "limit": 1 }));
        if found["result"]["structuredContent"]["searched"] == tools {
            return hub;
        }
        assert!(
            Instant::now() < deadline,
            "servers did not come up: {found}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a `tools/list` answer costs a model: its tools as JSON, at four characters a token.
fn listed_tokens(hub: &mut Stdio_) -> (usize, usize) {
    let listed = hub.request("tools/list", json!({}));
    let tools = &listed["result"]["tools"];
    (tools.as_array().unwrap().len(), tools.to_string().len() / 4)
}

/// The hub with these servers, initialized; waits until `ready` downstream tools are listed.
fn hub(dir: &std::path::Path, servers: Value, ready: usize) -> Stdio_ {
    let mut hub = spawn_hub(dir, &servers_file(dir, servers));
    hub.initialize();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = hub.request("tools/list", json!({}));
        let downstream = listed["result"]["tools"].as_array().map_or(0, |t| {
            t.iter()
                .filter(|t| t["name"].as_str().unwrap_or("").contains("__"))
                .count()
        });
        if downstream >= ready {
            return hub;
        }
        assert!(
            Instant::now() < deadline,
            "servers did not come up: {downstream} tools"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn p50_p95(times: &[Duration]) -> (Duration, Duration) {
    (percentile(times, 0.5), percentile(times, 0.95))
}

fn main() {
    if std::env::var(ROLE).is_ok() {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(fixture::run(None));
        return;
    }
    pluggedin_mcp::api::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    eprintln!("measuring… (about a minute)");

    // Proxied call overhead: the same echo straight to the downstream, then through the hub.
    // Measured in alternating blocks, so a machine that slows down or speeds up while it
    // runs (shared, noisy) weighs on both sides alike.
    let mut direct = Stdio_::spawn_program(&me(), &[], &[(ROLE, "fixture")]);
    direct.initialize();
    let mut through = hub(dir.path(), json!({ "f": fixture_entry(json!({})) }), 8);
    let args = json!({ "text": "ping" });
    let (mut straight, mut proxied) = (Vec::new(), Vec::new());
    for _ in 0..CALLS / BLOCK {
        straight.extend(timed(BLOCK, || {
            direct.call("echo", args.clone());
        }));
        proxied.extend(timed(BLOCK, || {
            through.call("f__echo", args.clone());
        }));
    }
    straight.sort();
    proxied.sort();
    let (d50, _) = p50_p95(&straight);
    let (h50, h95) = p50_p95(&proxied);
    rows.push(row(
        format!("proxied call overhead (echo, {CALLS} sequential calls: hub p50 − direct p50)"),
        format!(
            "{} (direct p50 {} · hub p50 {} · hub p95 {})",
            ms(h50.saturating_sub(d50)),
            ms(d50),
            ms(h50),
            ms(h95)
        ),
        "p50 ≤ 0.15 ms",
    ));

    // Progress: a call reporting 200 progress notifications at once, with and without a
    // progress token; the difference per notification, direct and through the hub.
    const STEPS: usize = 200;
    let per_notification = |s: &mut Stdio_, tool: &str| {
        let arguments = json!({ "ms": 0, "steps": STEPS });
        let mut runs = |meta: Value| {
            let params = json!({ "name": tool, "arguments": arguments, "_meta": meta });
            let mut times = timed(40, || {
                s.request_raw("tools/call", params.clone());
            });
            times.sort();
            percentile(&times, 0.5)
        };
        let with = runs(json!({ "progressToken": "bench" }));
        let without = runs(json!({}));
        with.saturating_sub(without) / STEPS as u32
    };
    let progress_direct = per_notification(&mut direct, "progress");
    let progress_hub = per_notification(&mut through, "f__progress");
    rows.push(row(
        format!("forwarding a progress notification (a call with {STEPS}, with vs without a token; per notification)"),
        format!(
            "{} added (direct {} · through the hub {})",
            ms(progress_hub.saturating_sub(progress_direct)),
            ms(progress_direct),
            ms(progress_hub)
        ),
        "p50 ≤ 0.1 ms",
    ));
    drop(direct);
    drop(through);

    // The catalog's cost with 1, 10 and 50 servers of 20 tools: all listed, and with the
    // default `--tool-search auto`.
    let mut costs = Vec::new();
    for n in [1, 10, 50] {
        let mut listing = searching_hub(dir.path(), domain_servers(n), "off", n * 20);
        let (all_tools, all_tokens) = listed_tokens(&mut listing);
        drop(listing);
        let mut auto = searching_hub(dir.path(), domain_servers(n), "auto", n * 20);
        let (auto_tools, auto_tokens) = listed_tokens(&mut auto);
        costs.push(format!(
            "{n} server(s): {all_tools} tools ≈ {all_tokens} tokens → auto {auto_tools} tools ≈ {auto_tokens} tokens"
        ));
        if n == 50 {
            // Tool search over the 1,000 tools, through the hub: request → answer read.
            let queries: Vec<Value> =
                serde_json::from_str(&std::fs::read_to_string(QUERIES).unwrap()).unwrap();
            let mut i = 0;
            let mut searches = timed(1_000, || {
                let query = &queries[i % queries.len()]["query"];
                i += 1;
                auto.request_raw(
                    "tools/call",
                    json!({ "name": "hub_search_tools", "arguments": { "query": query } }),
                );
            });
            searches.sort();
            let (s50, s95) = p50_p95(&searches);
            rows.push(row(
                "tool search over 1,000 tools (hub_search_tools, 1,000 queries): request → answer read",
                format!("p50 {} · p95 {}", ms(s50), ms(s95)),
                "p50 ≤ 2 ms",
            ));
        }
    }
    rows.push(row(
        "tools/list cost, all listed → --tool-search auto (estimated tokens: JSON chars / 4)",
        costs.join("; "),
        "report",
    ));

    // initialize with 10 servers: 7 normal, 2 slow to start, 1 that never answers.
    let mut servers = serde_json::Map::new();
    for i in 0..7 {
        servers.insert(format!("s{i}"), fixture_entry(json!({})));
    }
    for i in 0..2 {
        servers.insert(
            format!("slow{i}"),
            fixture_entry(json!({ "FIXTURE_START_DELAY_MS": "3000" })),
        );
    }
    servers.insert("hung".into(), fixture_entry(json!({ "FIXTURE_HANG": "1" })));
    let file = servers_file(dir.path(), Value::Object(servers));
    let mut starts = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let mut s = spawn_hub(dir.path(), &file);
        let answer = s.initialize();
        starts.push(started.elapsed());
        assert!(answer["result"]["serverInfo"]["name"].is_string());
    }
    starts.sort();
    let (i50, i95) = p50_p95(&starts);
    rows.push(row(
        "initialize with 10 servers (2 slow, 1 hung): spawn → answer, 10 runs",
        format!("p50 {} · p95 {}", ms(i50), ms(i95)),
        "≤ 15 ms",
    ));

    // tools/list with 1,000 downstream tools.
    let mut big = hub(
        dir.path(),
        json!({ "big": fixture_entry(json!({ "FIXTURE_TOOLS": "1000" })) }),
        1_000,
    );
    let mut answer = String::new();
    let lists = timed(200, || {
        answer = big.request_raw("tools/list", json!({}));
    });
    let listed: Value = serde_json::from_str(&answer).unwrap();
    assert!(listed["result"]["tools"].as_array().unwrap().len() > 1_000);
    let parses = timed(200, || {
        let _: Value = serde_json::from_str(&answer).unwrap();
    });
    let (l50, l95) = p50_p95(&lists);
    rows.push(row(
        "tools/list with 1,008 downstream tools (+ our 27): request → answer read, 200 runs",
        format!(
            "p50 {} · p95 {} ({} KB; a client's JSON parse adds p50 {})",
            ms(l50),
            ms(l95),
            answer.len() / 1024,
            ms(percentile(&parses, 0.5))
        ),
        "≤ 2 ms",
    ));
    drop(big);

    // Resident memory per live downstream connection: 1 server, then 21.
    let one = hub(dir.path(), json!({ "a": fixture_entry(json!({})) }), 8);
    let mut many = serde_json::Map::new();
    for i in 0..21 {
        many.insert(format!("m{i}"), fixture_entry(json!({})));
    }
    let twenty_one = hub(dir.path(), Value::Object(many), 21 * 8);
    std::thread::sleep(Duration::from_millis(500));
    let (r1, r21) = (rss_mb(one.child.id()), rss_mb(twenty_one.child.id()));
    rows.push(row(
        "hub resident memory per live downstream connection (21 vs 1 server, children excluded)",
        format!(
            "{:.0} KB (1 server {r1:.1} MB · 21 servers {r21:.1} MB)",
            (r21 - r1) * 1024.0 / 20.0
        ),
        "≤ 300 KB",
    ));
    print_table(rows);
}
