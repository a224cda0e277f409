//! The real binary serving HTTP on a free loopback port, and rmcp HTTP clients for it.

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

/// A running `pluggedin-mcp --transport http`; killed on drop.
pub struct HttpServer {
    pub child: Child,
    /// Where the server's default data directory goes (never the user's own).
    pub scratch: Arc<tempfile::TempDir>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub stderr: Arc<Mutex<String>>,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
        child,
        scratch: Arc::new(scratch),
        base,
        stderr: captured,
    }
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

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
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
        let pid = self.child.id().to_string();
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
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
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
