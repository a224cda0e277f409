//! The fleet: replicas of the release binary behind a real nginx (Debian's), on loopback,
//! with the nginx configuration users copy (`deploy/nginx/pluggedin-mcp.conf`), driven by
//! 100 concurrent MCP clients (rmcp's, over Streamable HTTP).
//!
//! ```sh
//! bash deploy/fleet.sh            # installs nginx if missing, then runs this
//! cargo bench --bench fleet       # with nginx installed
//! ```
//!
//! The replicas share one Plugged.in: the embedded API run on its own (`pluggedin-mcp api`),
//! as a real deployment shares the cloud. "Stateless" clients speak 2026-07-28 (no session,
//! round robin); "stateful" clients hold a 2025-11-25 session, which nginx keeps on the
//! replica that made it (`--replica-id`). Prints, for 1 and 3 replicas: calls per second,
//! p50/p99 and failed calls of each kind; then the failed calls during a rolling restart of
//! all 3 replicas (SIGTERM, wait, start again — must be 0) and around a `kill -9` of one,
//! with the sessions that had to be opened again. `FLEET_SECONDS` sets each phase's length
//! (default 10); with `FLEET_STRICT=1` (CI) a failed call where none may fail ends the
//! program with status 1.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark program: a failed step should stop it at once, with its message"
)]

#[path = "support/mod.rs"]
mod support;

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use rmcp::{
    ClientServiceExt, ServiceExt,
    model::{CallToolRequestParams, ProtocolVersion},
    service::{ClientLifecycleMode, RunningService},
    transport::StreamableHttpClientTransport,
};
use serde_json::json;
use support::{BIN, ms, percentile, print_table, row};

const CLIENTS: usize = 100;
/// A call with no answer by then counts as failed (a call in flight on a replica killed
/// with -9 may never be answered).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
const KEY: &str = "pg_in_fleet_bench_key_0123456789abcdef";
const CONF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/deploy/nginx/pluggedin-mcp.conf"
);
/// The addresses the shipped configuration names, replaced by this run's ports.
const CONF_REPLICAS: [&str; 3] = ["127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8083"];
const CONF_LISTEN: &str = "127.0.0.1:8080";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process, killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Replica {
    id: String,
    port: u16,
    proc: Option<Proc>,
}

struct Fleet {
    dir: PathBuf,
    backend: String,
    replicas: Vec<Replica>,
    nginx_port: u16,
    _backend: Proc,
    _nginx: Proc,
    /// Last, so it is removed after every process writing into it is gone.
    _dir: tempfile::TempDir,
}

/// The status of `GET /ready` on a loopback port, if anything answers there.
fn ready_status(port: u16) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .write_all(b"GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Waits until `GET /ready` on `port` answers 200.
fn wait_ready(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ready_status(port) == Some(200) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not come up on port {port}");
}

impl Fleet {
    /// A backend, `n` replicas (1 or 3) and nginx in front.
    fn start(n: usize) -> Self {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().to_path_buf();
        let mut backend = Command::new(BIN)
            .args(["api", "--port", "0", "--key", KEY, "--data-dir"])
            .arg(dir.join("backend"))
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(backend.stderr.take().unwrap()).lines();
        let mut url = String::new();
        for line in stderr.by_ref().map_while(Result::ok) {
            if let Some(at) = line.find("listening on ") {
                url = line[at + "listening on ".len()..].trim().to_string();
                break;
            }
        }
        // It goes on writing to stderr: keep reading, or its writes would fail.
        std::thread::spawn(move || stderr.for_each(drop));
        assert!(!url.is_empty(), "the backend did not start");
        let replicas = (0..n)
            .map(|i| Replica {
                id: format!("r{}", i + 1),
                port: free_port(),
                proc: None,
            })
            .collect();
        let nginx_port = free_port();
        let mut fleet = Fleet {
            dir: dir.clone(),
            _dir: temp,
            backend: url,
            replicas,
            nginx_port,
            _backend: Proc(backend),
            _nginx: Proc(Command::new("true").spawn().unwrap()),
        };
        for i in 0..n {
            fleet.start_replica(i);
        }
        fleet._nginx = fleet.start_nginx();
        wait_ready(fleet.nginx_port, "nginx");
        fleet
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.nginx_port)
    }

    fn start_replica(&mut self, i: usize) {
        let replica = &mut self.replicas[i];
        let log = std::fs::File::create(self.dir.join(format!("{}.log", replica.id))).unwrap();
        let child = Command::new(BIN)
            .args(["--transport", "http", "--port"])
            .arg(replica.port.to_string())
            .args([
                "--replica-id",
                &replica.id,
                "--drain-delay",
                "1",
                "--metrics",
            ])
            .env("PLUGGEDIN_API_KEY", KEY)
            .env("PLUGGEDIN_API_BASE_URL", &self.backend)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        replica.proc = Some(Proc(child));
        wait_ready(replica.port, &replica.id);
    }

    /// SIGTERM, and wait for the replica to drain and exit.
    fn stop_replica(&mut self, i: usize) {
        let Some(mut proc) = self.replicas[i].proc.take() else {
            return;
        };
        let pid = proc.0.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = proc.0.wait().unwrap();
        assert!(
            status.success(),
            "{} exited {status:?}",
            self.replicas[i].id
        );
    }

    fn kill_replica(&mut self, i: usize) {
        if let Some(mut proc) = self.replicas[i].proc.take() {
            let _ = proc.0.kill();
            let _ = proc.0.wait();
        }
    }

    /// nginx with the shipped configuration, its addresses replaced by this run's.
    fn start_nginx(&self) -> Proc {
        let mut conf = std::fs::read_to_string(CONF).unwrap();
        for (i, address) in CONF_REPLICAS.iter().enumerate() {
            // With one replica, every address of the configuration is that replica.
            let port = self.replicas[i % self.replicas.len()].port;
            conf = conf.replace(address, &format!("127.0.0.1:{port}"));
        }
        conf = conf.replace(CONF_LISTEN, &format!("127.0.0.1:{}", self.nginx_port));
        std::fs::write(self.dir.join("pluggedin-mcp.conf"), conf).unwrap();
        for temp in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            std::fs::create_dir_all(self.dir.join(format!("tmp-{temp}"))).unwrap();
        }
        let d = self.dir.display();
        let user = if is_root() { "user root;" } else { "" };
        let main = format!(
            "daemon off; worker_processes 2; pid {d}/nginx.pid; error_log {d}/nginx-error.log warn; {user}
events {{ worker_connections 4096; }}
http {{
  log_format fleet '$status $upstream_addr $upstream_status';
  access_log {d}/access.log fleet;
  client_body_temp_path {d}/tmp-body; proxy_temp_path {d}/tmp-proxy;
  fastcgi_temp_path {d}/tmp-fastcgi; uwsgi_temp_path {d}/tmp-uwsgi; scgi_temp_path {d}/tmp-scgi;
  include {d}/pluggedin-mcp.conf;
}}
"
        );
        let path = self.dir.join("nginx.conf");
        std::fs::write(&path, main).unwrap();
        let nginx = which_nginx();
        let child = Command::new(nginx)
            .arg("-p")
            .arg(&self.dir)
            .arg("-e")
            .arg(self.dir.join("nginx-error.log"))
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx starts (bash deploy/fleet.sh installs it)");
        Proc(child)
    }

    /// Answers nginx logged since the last call: (404s, retried requests).
    fn access_log_since(&self, from: &mut usize) -> (usize, usize) {
        let log = std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let new = &lines[(*from).min(lines.len())..];
        *from = lines.len();
        let not_found = new.iter().filter(|l| l.starts_with("404 ")).count();
        // "$upstream_addr" lists every replica tried: a comma means it went on to another.
        let retried = new.iter().filter(|l| l.contains(", ")).count();
        (not_found, retried)
    }
}

impl Fleet {
    /// The last lines of nginx's error log, on stderr (what a failed run needs).
    fn show_nginx_errors(&self) {
        let log = std::fs::read_to_string(self.dir.join("nginx-error.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        eprintln!("nginx's error log (last 20 lines):");
        for line in &lines[lines.len().saturating_sub(20)..] {
            eprintln!("  {line}");
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn which_nginx() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("nginx"))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// 2026-07-28: no session, every request stands alone.
    Stateless,
    /// 2025-11-25: a session, kept on its replica.
    Stateful,
}

#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    failed: AtomicUsize,
    latencies: std::sync::Mutex<Vec<Duration>>,
    first_failures: std::sync::Mutex<Vec<String>>,
}

impl Tally {
    fn fail(&self, why: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_failures.lock().unwrap();
        if first.len() < 3 {
            first.push(why);
        }
    }
}

type Client = RunningService<rmcp::RoleClient, ()>;

async fn connect(url: &str, kind: Kind) -> Result<Client, String> {
    let transport = StreamableHttpClientTransport::from_uri(url.to_string());
    let connecting = async {
        match kind {
            Kind::Stateful => ().serve(transport).await.map_err(|e| e.to_string()),
            Kind::Stateless => ()
                .serve_with_lifecycle(
                    transport,
                    ClientLifecycleMode::Discover {
                        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                    },
                )
                .await
                .map_err(|e| e.to_string()),
        }
    };
    tokio::time::timeout(Duration::from_secs(30), connecting)
        .await
        .map_err(|_| "connecting took over 30 s".to_string())?
}

/// `clients` clients of each kind in `kinds` calling `clipboard_get` until `stop`.
async fn load(url: String, kinds: Vec<Kind>, stop: Arc<AtomicBool>) -> Vec<(Kind, Arc<Tally>)> {
    let mut tallies = Vec::new();
    let mut tasks = Vec::new();
    for kind in kinds.iter().copied() {
        let tally = Arc::new(Tally::default());
        tallies.push((kind, tally.clone()));
        for _ in 0..CLIENTS / kinds.len() {
            let (url, stop, tally) = (url.clone(), stop.clone(), tally.clone());
            tasks.push(tokio::spawn(async move {
                let mut client = None;
                while !stop.load(Ordering::Relaxed) {
                    let Some(c) = &client else {
                        match connect(&url, kind).await {
                            Ok(c) => client = Some(c),
                            Err(e) => {
                                tally.fail(format!("connect: {e}"));
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                        continue;
                    };
                    let started = Instant::now();
                    let params = CallToolRequestParams::new("clipboard_get")
                        .with_arguments(json!({ "name": "fleet" }).as_object().cloned().unwrap());
                    let called =
                        tokio::time::timeout(CALL_TIMEOUT, c.peer().call_tool(params)).await;
                    match called {
                        Ok(Ok(r)) if r.is_error != Some(true) => {
                            tally.ok.fetch_add(1, Ordering::Relaxed);
                            tally.latencies.lock().unwrap().push(started.elapsed());
                        }
                        Ok(Ok(r)) => tally.fail(format!("isError: {:?}", r.content)),
                        Ok(Err(e)) => {
                            tally.fail(e.to_string());
                            // The client's connection may be gone for good: start over.
                            client = None;
                        }
                        Err(_) => {
                            tally.fail(format!("no answer in {} s", CALL_TIMEOUT.as_secs()));
                            client = None;
                        }
                    }
                }
            }));
        }
    }
    for task in tasks {
        let _ = task.await;
    }
    tallies
}

struct Figures {
    calls_per_s: f64,
    p50: Duration,
    p99: Duration,
    failed: usize,
    ok: usize,
    failures: Vec<String>,
}

fn figures(tally: &Tally, took: Duration) -> Figures {
    let mut latencies = tally.latencies.lock().unwrap().clone();
    latencies.sort();
    let ok = tally.ok.load(Ordering::Relaxed);
    Figures {
        calls_per_s: ok as f64 / took.as_secs_f64(),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        failed: tally.failed.load(Ordering::Relaxed),
        ok,
        failures: tally.first_failures.lock().unwrap().clone(),
    }
}

/// Runs `kinds` of clients for `seconds` while `during` does what it does to the fleet.
fn run(
    runtime: &tokio::runtime::Runtime,
    fleet: &mut Fleet,
    kinds: Vec<Kind>,
    seconds: Duration,
    during: impl FnOnce(&mut Fleet, Instant),
) -> (Vec<(Kind, Figures)>, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let url = format!("{}/mcp", fleet.base());
    let started = Instant::now();
    let handle = runtime.spawn(load(url, kinds, stop.clone()));
    during(fleet, started);
    let rest = seconds.saturating_sub(started.elapsed());
    std::thread::sleep(rest);
    stop.store(true, Ordering::Relaxed);
    // Rates are over the load's own time; calls still waiting (up to their timeout) are
    // counted when they end.
    let took = started.elapsed();
    let tallies = runtime.block_on(handle).unwrap();
    let figures = tallies
        .iter()
        .map(|(kind, tally)| (*kind, figures(tally, took)))
        .collect();
    (figures, took)
}

fn seed(runtime: &tokio::runtime::Runtime, fleet: &Fleet) {
    runtime.block_on(async {
        let client = connect(&format!("{}/mcp", fleet.base()), Kind::Stateful)
            .await
            .unwrap();
        let params = CallToolRequestParams::new("clipboard_set").with_arguments(
            json!({ "name": "fleet", "value": "a value every client reads" })
                .as_object()
                .cloned()
                .unwrap(),
        );
        let set = client.peer().call_tool(params).await.unwrap();
        assert_ne!(set.is_error, Some(true), "{set:?}");
    });
}

fn describe(figures: &Figures) -> String {
    let mut text = format!(
        "{:.0} calls/s · p50 {} · p99 {} · {} failed of {}",
        figures.calls_per_s,
        ms(figures.p50),
        ms(figures.p99),
        figures.failed,
        figures.ok + figures.failed
    );
    if !figures.failures.is_empty() {
        text.push_str(&format!(" (first: {})", figures.failures.join("; ")));
    }
    text
}

fn main() {
    pluggedin_mcp::api::install_crypto_provider();
    let seconds = Duration::from_secs(
        std::env::var("FLEET_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(10),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    let mut missed = Vec::new();
    eprintln!("measuring… (about {} s)", seconds.as_secs() * 6 + 30);

    let throughput = std::env::var("FLEET_ONLY").map_or(true, |only| only != "restart");
    for n in [1, 3].into_iter().filter(|_| throughput) {
        let mut fleet = Fleet::start(n);
        seed(&runtime, &fleet);
        for kind in [Kind::Stateless, Kind::Stateful] {
            let (figures, _) = run(&runtime, &mut fleet, vec![kind], seconds, |_, _| {});
            let (_, f) = &figures[0];
            if f.failed > 0 {
                missed.push(format!("{n} replica(s), {kind:?}"));
            }
            rows.push(row(
                format!(
                    "{n} replica(s), {CLIENTS} {kind:?} clients, {} s",
                    seconds.as_secs()
                ),
                describe(f),
                if f.failed == 0 {
                    "0 failed"
                } else {
                    "0 failed: MISSED"
                },
            ));
        }
    }

    // A rolling restart of all three replicas under load, half the clients of each kind.
    let mut fleet = Fleet::start(3);
    seed(&runtime, &fleet);
    let mut log_from = 0;
    fleet.access_log_since(&mut log_from);
    let restart_seconds = seconds.max(Duration::from_secs(12));
    let (figures, _) = run(
        &runtime,
        &mut fleet,
        vec![Kind::Stateless, Kind::Stateful],
        restart_seconds,
        |fleet, started| {
            std::thread::sleep(Duration::from_secs(2));
            for i in 0..3 {
                fleet.stop_replica(i);
                fleet.start_replica(i);
            }
            eprintln!(
                "rolling restart done after {:.1} s",
                started.elapsed().as_secs_f64()
            );
        },
    );
    let (not_found, retried) = fleet.access_log_since(&mut log_from);
    if figures.iter().any(|(_, f)| f.failed > 0) {
        fleet.show_nginx_errors();
    }
    for (kind, f) in &figures {
        if f.failed > 0 {
            missed.push(format!("rolling restart, {kind:?}"));
        }
        rows.push(row(
            format!(
                "rolling restart of 3 replicas (SIGTERM, drain, start), {} {kind:?} clients",
                CLIENTS / 2
            ),
            describe(f),
            if f.failed == 0 {
                "0 failed"
            } else {
                "0 failed: MISSED"
            },
        ));
    }
    rows.push(row(
        "rolling restart: what nginx saw",
        format!("{not_found} answers 404 (a session whose replica restarted: the client opened a new one), {retried} requests sent on to another replica"),
        "report",
    ));

    // kill -9 of one replica under load, then it comes back.
    let (figures, _) = run(
        &runtime,
        &mut fleet,
        vec![Kind::Stateless, Kind::Stateful],
        seconds,
        |fleet, _| {
            std::thread::sleep(Duration::from_secs(2));
            fleet.kill_replica(1);
            std::thread::sleep(Duration::from_secs(3));
            fleet.start_replica(1);
        },
    );
    let (not_found, retried) = fleet.access_log_since(&mut log_from);
    for (kind, f) in &figures {
        rows.push(row(
            format!(
                "kill -9 of 1 of 3 replicas (restarted 3 s later), {} {kind:?} clients",
                CLIENTS / 2
            ),
            describe(f),
            "report",
        ));
    }
    rows.push(row(
        "kill -9: what nginx saw",
        format!("{not_found} answers 404 (sessions of the killed replica, opened again), {retried} requests sent on to another replica"),
        "report",
    ));
    drop(fleet);
    print_table(rows);
    if !missed.is_empty() && std::env::var_os("FLEET_STRICT").is_some() {
        eprintln!("calls failed where none may: {}", missed.join(", "));
        std::process::exit(1);
    }
}
