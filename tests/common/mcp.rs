//! An rmcp client driving the real `pluggedin-mcp` binary over stdio, recording the
//! notifications it receives and the server's stderr.
#![allow(
    deprecated,
    reason = "MCP logging is deprecated in 2026-07-28, but 2025-11-25 clients still receive it and the tests record it"
)]

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use rmcp::{
    ClientHandler, RoleClient, ServiceExt,
    model::{
        CallToolRequestParams, CallToolResult, LoggingMessageNotificationParam,
        ProgressNotificationParam,
    },
    service::{NotificationContext, RunningService},
    transport::TokioChildProcess,
};
use serde_json::Value;
use tokio::{io::AsyncReadExt, process::Command};

/// Records progress and log notifications.
#[derive(Clone, Default)]
pub struct Recorder {
    pub progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    pub logs: Arc<Mutex<Vec<LoggingMessageNotificationParam>>>,
}

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params);
    }
    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        self.logs.lock().unwrap().push(params);
    }
}

pub struct Mcp {
    pub client: RunningService<RoleClient, Recorder>,
    pub recorder: Recorder,
    pub stderr: Arc<Mutex<String>>,
    /// The server process.
    pub pid: u32,
}

/// Spawns the binary with `args` and `env` (PLUGGEDIN_API_KEY is removed unless given) and
/// completes the MCP handshake.
pub async fn spawn(args: &[&str], env: &[(&str, &str)]) -> Mcp {
    // Tests build reqwest clients of their own; rustls needs its provider first.
    pluggedin_mcp::api::install_crypto_provider();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pluggedin-mcp"));
    cmd.args(args)
        .env_remove("PLUGGEDIN_API_KEY")
        .env_remove("PLUGGEDIN_API_BASE_URL")
        .env_remove("PLUGGEDIN_DATA_DIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (transport, stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server binary starts");
    let pid = transport.id().expect("the server process has an id");
    let captured = Arc::new(Mutex::new(String::new()));
    if let Some(mut pipe) = stderr {
        let sink = captured.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
    }
    let recorder = Recorder::default();
    let client = recorder
        .clone()
        .serve(transport)
        .await
        .expect("the MCP handshake succeeds");
    Mcp {
        client,
        recorder,
        stderr: captured,
        pid,
    }
}

/// Local mode over a fresh data directory.
pub async fn spawn_local(data_dir: &std::path::Path) -> Mcp {
    spawn(&["--data-dir", data_dir.to_str().unwrap()], &[]).await
}

impl Mcp {
    pub async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        let Value::Object(map) = args else {
            panic!("tool arguments must be an object")
        };
        self.client
            .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(map))
            .await
            .unwrap_or_else(|e| panic!("{tool}: protocol error {e:?}"))
    }

    /// Calls a tool that must succeed; returns its structured content.
    pub async fn ok(&self, tool: &str, args: Value) -> Value {
        let r = self.call(tool, args).await;
        assert_ne!(r.is_error, Some(true), "{tool} failed: {}", text_of(&r));
        r.structured_content
            .unwrap_or_else(|| panic!("{tool}: no structured content"))
    }

    /// Calls a tool that must fail; returns its error text.
    pub async fn err(&self, tool: &str, args: Value) -> String {
        let r = self.call(tool, args).await;
        assert_eq!(
            r.is_error,
            Some(true),
            "{tool} should fail: {:?}",
            r.structured_content
        );
        text_of(&r)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Closes stdin and waits for the server to exit.
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(10), self.client.cancel()).await;
    }
}

/// All text blocks of a result, joined.
pub fn text_of(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}
