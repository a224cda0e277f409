//! The server over HTTP on a free loopback port — the real binary ([`spawn_http`]) or, for
//! tests that need no process of their own (no signals, stderr, pid or metrics), the same
//! server wired the same way in this process ([`start_http`]) — and rmcp HTTP clients for it.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use rmcp::{
    ServiceExt,
    service::RunningService,
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde_json::Value;

use super::mcp::Recorder;

/// A running `pluggedin-mcp --transport http`; stopped on drop.
pub struct HttpServer {
    runs: Runs,
    /// Where the server's default data directory goes (never the user's own).
    pub scratch: Arc<tempfile::TempDir>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub stderr: Arc<Mutex<String>>,
}

/// Where the server runs.
enum Runs {
    /// The binary, killed on drop.
    Child(Child),
    /// A thread of this process with a runtime of its own; told to shut down on drop (and
    /// left to finish draining on its own).
    InProcess(Option<tokio::sync::oneshot::Sender<()>>),
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        match &mut self.runs {
            Runs::Child(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Runs::InProcess(stop) => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send(());
                }
            }
        }
    }
}

/// Starts the binary with `--transport http --port 0` plus `args`; waits for its address.
pub fn spawn_http(args: &[&str], env: &[(&str, &str)]) -> HttpServer {
    pluggedin_mcp::api::install_crypto_provider();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pluggedin-mcp"));
    // A developer's own `pluggedin-mcp login` must never reach a test.
    cmd.env("PLUGGEDIN_CONFIG_DIR", "/nonexistent/pluggedin-mcp-tests");
    let scratch = tempfile::tempdir().unwrap();
    cmd.env("XDG_DATA_HOME", scratch.path());
    cmd.args(["--transport", "http", "--port", "0"])
        .args(args)
        .env_remove("PLUGGEDIN_API_KEY")
        .env_remove("PLUGGEDIN_API_BASE_URL")
        .env_remove("PLUGGEDIN_MCP_TOKEN")
        .env_remove("PLUGGEDIN_DATA_DIR")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the server binary starts");
    let stderr = child.stderr.take().unwrap();
    let captured = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = captured.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find("listening on http://") {
                let url = line[at + "listening on ".len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("");
                let _ = tx.send(url.trim_end_matches("/mcp").to_string());
            }
            sink.lock().unwrap().push_str(&line);
            sink.lock().unwrap().push('\n');
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| {
            panic!(
                "the server did not announce its address: {}",
                captured.lock().unwrap()
            )
        });
    HttpServer {
        runs: Runs::Child(child),
        scratch: Arc::new(scratch),
        base,
        stderr: captured,
    }
}

/// Runs the server in this process, wired exactly as `pluggedin-mcp --transport http
/// --port 0 ARGS` wires it, on a thread and runtime of its own. `env` may hold
/// `PLUGGEDIN_API_KEY`, `PLUGGEDIN_API_BASE_URL`, `PLUGGEDIN_MCP_TOKEN` and
/// `PLUGGEDIN_MCP_METRICS_TOKEN` (given to the server, never set in this process). Without
/// `--data-dir` in `args`, local mode keeps its data in a scratch folder. The port is bound
/// first, so `{port}` in `args` is the server's own (`--public-url http://127.0.0.1:{port}`).
pub fn start_http(args: &[&str], env: &[(&str, &str)]) -> HttpServer {
    pluggedin_mcp::api::install_crypto_provider();
    let scratch = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut argv: Vec<String> = ["pluggedin-mcp", "--transport", "http", "--port", "0"]
        .iter()
        .chain(args)
        .map(|a| a.replace("{port}", &port))
        .collect();
    if !args
        .iter()
        .any(|a| *a == "--data-dir" || a.starts_with("--data-dir="))
    {
        argv.extend(["--data-dir".into(), scratch.path().display().to_string()]);
    }
    let mut environment = pluggedin_mcp::config::Environment::default();
    for (name, value) in env {
        let value = value.to_string();
        match *name {
            "PLUGGEDIN_API_KEY" => environment.api_key = Some(value),
            "PLUGGEDIN_API_BASE_URL" => argv.extend(["--base-url".into(), value]),
            "PLUGGEDIN_MCP_TOKEN" => environment.mcp_tokens = Some(value),
            "PLUGGEDIN_MCP_METRICS_TOKEN" => environment.metrics_token = Some(value),
            other => panic!("{other} is not supported in process; use spawn_http"),
        }
    }
    let cli = <pluggedin_mcp::config::Cli as clap::Parser>::try_parse_from(&argv)
        .expect("valid arguments");
    let (bound, address) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let clock = pluggedin_mcp::clock::Clock::default();
            let started = async {
                let ready =
                    pluggedin_mcp::serve::prepare_http(&cli.serve, &environment, clock).await?;
                let listener = tokio::net::TcpListener::from_std(listener)?;
                anyhow::Ok((ready, listener))
            };
            match started.await {
                Ok((ready, listener)) => {
                    let _ = bound.send(Ok(listener.local_addr().unwrap()));
                    let shutdown = async {
                        let _ = stopped.await;
                    };
                    if let Err(error) = ready.serve(listener, shutdown).await {
                        eprintln!("the in-process server failed: {error:#}");
                    }
                }
                Err(error) => {
                    let _ = bound.send(Err(format!("{error:#}")));
                }
            }
        });
    });
    let addr = address
        .recv_timeout(Duration::from_secs(20))
        .expect("the in-process server starts")
        .unwrap_or_else(|error| panic!("the in-process server did not start: {error}"));
    HttpServer {
        runs: Runs::InProcess(Some(stop)),
        scratch: Arc::new(scratch),
        base: format!("http://{addr}"),
        stderr: Arc::default(),
    }
}

/// [`start_http`] in local mode over a fresh directory (kept alive by the returned guard).
pub fn start_local_http(args: &[&str]) -> (HttpServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["--data-dir", dir.path().to_str().unwrap()];
    all.extend_from_slice(args);
    (start_http(&all, &[]), dir)
}

/// A local-mode HTTP server over a fresh directory (kept alive by the returned guard).
pub fn spawn_local_http(args: &[&str]) -> (HttpServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["--data-dir", dir.path().to_str().unwrap()];
    all.extend_from_slice(args);
    (spawn_http(&all, &[]), dir)
}

impl HttpServer {
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    /// What the binary wrote to stderr so far (a server in this process has none of its own).
    pub fn stderr(&self) -> String {
        assert!(
            matches!(self.runs, Runs::Child(_)),
            "a server in this process has no stderr of its own: use spawn_http"
        );
        self.stderr.lock().unwrap().clone()
    }

    /// The binary's process id.
    pub fn pid(&self) -> u32 {
        match &self.runs {
            Runs::Child(child) => child.id(),
            Runs::InProcess(_) => panic!("a server in this process has no pid: use spawn_http"),
        }
    }

    /// An rmcp Streamable HTTP client session (legacy `initialize` handshake).
    pub async fn connect(&self, token: Option<&str>) -> RunningService<rmcp::RoleClient, Recorder> {
        let mut config = StreamableHttpClientTransportConfig::with_uri(self.mcp_url());
        if let Some(t) = token {
            config = config.auth_header(t.to_string());
        }
        Recorder::default()
            .serve(StreamableHttpClientTransport::from_config(config))
            .await
            .expect("MCP over HTTP connects")
    }

    /// The status of an `initialize` sent with `token` as its bearer.
    pub async fn connect_raw(&self, token: &str) -> reqwest::StatusCode {
        reqwest::Client::new()
            .post(self.mcp_url())
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .json(
                &serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "raw", "version": "0"}}}),
            )
            .send()
            .await
            .unwrap()
            .status()
    }

    /// [`Self::connect`] (no token) with a client of the test's making.
    pub async fn connect_as(
        &self,
        recorder: Recorder,
    ) -> RunningService<rmcp::RoleClient, Recorder> {
        recorder
            .serve(StreamableHttpClientTransport::from_uri(self.mcp_url()))
            .await
            .expect("MCP over HTTP connects")
    }

    /// An rmcp Streamable HTTP client of the 2026-07-28 revision (`server/discover`, no
    /// session).
    pub async fn connect_modern(&self) -> RunningService<rmcp::RoleClient, Recorder> {
        self.connect_modern_as(Recorder::default()).await
    }

    /// [`Self::connect_modern`] with a client of the test's making.
    pub async fn connect_modern_as(
        &self,
        recorder: Recorder,
    ) -> RunningService<rmcp::RoleClient, Recorder> {
        use rmcp::ClientServiceExt;
        let client = recorder
            .serve_with_lifecycle(
                StreamableHttpClientTransport::from_uri(self.mcp_url()),
                rmcp::service::ClientLifecycleMode::Discover {
                    preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
                },
            )
            .await
            .expect("server/discover works");
        assert_eq!(
            client.peer_info().unwrap().protocol_version,
            rmcp::model::ProtocolVersion::V_2026_07_28
        );
        client
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        self.send_term();
        self.wait_exit()
    }

    /// Sends SIGTERM without waiting.
    pub fn send_term(&self) {
        let pid = self.pid().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Waits (at most 10 s) for the process to exit.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let Runs::Child(child) = &mut self.runs else {
            panic!("a server in this process does not exit: use spawn_http");
        };
        for _ in 0..200 {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the server did not exit within 10 s of SIGTERM");
    }
}

/// Calls a tool through any rmcp client session; returns (is_error, structured or text).
pub async fn call(
    client: &RunningService<rmcp::RoleClient, Recorder>,
    tool: &str,
    args: Value,
) -> (bool, Value) {
    let Value::Object(map) = args else {
        panic!("arguments must be an object")
    };
    let r = client
        .call_tool(rmcp::model::CallToolRequestParams::new(tool.to_string()).with_arguments(map))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e:?}"));
    let is_error = r.is_error == Some(true);
    let value = r
        .structured_content
        .clone()
        .unwrap_or_else(|| Value::String(super::mcp::text_of(&r)));
    (is_error, value)
}
