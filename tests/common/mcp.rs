//! rmcp clients of the server, recording the notifications they receive: [`start`] runs the
//! server in this process over an in-memory pipe (the same wiring, transport and embedded
//! API as the binary, with a [`Clock`] the test can move), [`spawn`] runs the binary itself
//! (for what only a process shows: stderr, memory, exit status).
#![allow(
    deprecated,
    reason = "MCP logging is deprecated in 2026-07-28, but 2025-11-25 clients still receive it and the tests record it"
)]

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use pluggedin_mcp::{clock::Clock, config::Cli};
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

/// Records progress and log notifications; when `capable`, declares sampling, elicitation
/// (form and URL) and roots, and answers them: the model says `sampled: <the question>`, the
/// user accepts with every field of the form filled, the roots are [`TEST_ROOT`].
#[derive(Clone, Default)]
pub struct Recorder {
    pub capable: bool,
    /// Declares the tasks extension (SEP-2663): it follows tasks itself.
    pub tasks: bool,
    /// `notifications/tasks` received.
    pub task_status: Arc<Mutex<Vec<rmcp::model::TaskStatusNotificationParams>>>,
    pub progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    pub logs: Arc<Mutex<Vec<LoggingMessageNotificationParam>>>,
    /// `notifications/tools/list_changed` received.
    pub tool_list_changes: Arc<std::sync::atomic::AtomicUsize>,
    /// URIs of `notifications/resources/updated` received.
    pub resource_updates: Arc<Mutex<Vec<String>>>,
}

pub const TEST_ROOT: &str = "file:///tmp/hub-test-root";

impl ClientHandler for Recorder {
    fn get_info(&self) -> rmcp::model::ClientConfig {
        use rmcp::model::*;
        let mut caps = ClientCapabilities::default();
        if self.capable {
            caps.sampling = Some(Default::default());
            caps.roots = Some(Default::default());
            caps.elicitation = Some(
                ElicitationCapability::new()
                    .with_form(Default::default())
                    .with_url(Default::default()),
            );
        }
        if self.tasks {
            caps.extensions
                .get_or_insert_with(Default::default)
                .insert(TASKS_EXTENSION_ID.to_string(), Default::default());
        }
        ClientConfig::new(caps, Implementation::new("hub-test-client", "0.0.0"))
    }

    async fn create_message(
        &self,
        params: rmcp::model::CreateMessageRequestParams,
        _: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<rmcp::model::CreateMessageResult, rmcp::ErrorData> {
        use rmcp::model::*;
        let question: Vec<String> = params
            .messages
            .iter()
            .flat_map(|m| m.content.iter())
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect();
        Ok(CreateMessageResult::new(
            SamplingMessage::assistant_text(format!("sampled: {}", question.join(" "))),
            "test-model".to_string(),
        )
        .with_stop_reason("endTurn"))
    }

    async fn create_elicitation(
        &self,
        params: rmcp::model::ElicitRequestParams,
        _: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<rmcp::model::ElicitResult, rmcp::ErrorData> {
        use rmcp::model::*;
        let content = match &params {
            ElicitRequestParams::FormElicitationParams {
                requested_schema, ..
            } => {
                let schema = serde_json::to_value(requested_schema).unwrap();
                let mut filled = serde_json::Map::new();
                for (name, field) in schema["properties"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
                {
                    let value = match field["type"].as_str() {
                        _ if !field["default"].is_null() => field["default"].clone(),
                        _ if field["enum"].is_array() => field["enum"][0].clone(),
                        Some("boolean") => Value::Bool(true),
                        Some("string") if field["format"] == "email" => "ada@example.com".into(),
                        Some("string") if field["format"] == "uri" => "https://example.com".into(),
                        Some("string") if field["format"] == "date" => "2000-01-01".into(),
                        Some("integer") | Some("number") => {
                            Value::from(field["minimum"].as_f64().unwrap_or(1.0) as i64)
                        }
                        _ => Value::String("filled".into()),
                    };
                    filled.insert(name, value);
                }
                Some(Value::Object(filled))
            }
            _ => None,
        };
        let mut result = ElicitResult::new(ElicitationAction::Accept);
        result.content = content;
        Ok(result)
    }

    async fn list_roots(
        &self,
        _: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<rmcp::model::ListRootsResult, rmcp::ErrorData> {
        Ok(rmcp::model::ListRootsResult::new(vec![
            rmcp::model::Root::new(TEST_ROOT).with_name("test root"),
        ]))
    }

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
    async fn on_task_status(
        &self,
        params: rmcp::model::TaskStatusNotificationParams,
        _: NotificationContext<RoleClient>,
    ) {
        self.task_status.lock().unwrap().push(params);
    }
    async fn on_resource_updated(
        &self,
        params: rmcp::model::ResourceUpdatedNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        self.resource_updates.lock().unwrap().push(params.uri);
    }
    async fn on_tool_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.tool_list_changes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

pub struct Mcp {
    pub client: RunningService<RoleClient, Recorder>,
    pub recorder: Recorder,
    /// The server's stderr (a spawned binary only).
    pub stderr: Arc<Mutex<String>>,
    /// The server process (a spawned binary only; 0 in process).
    pub pid: u32,
    /// The server's time (in process only; a spawned binary keeps its own).
    pub clock: Clock,
    /// The data directory the server falls back on (the hub's cache), so no test reads or
    /// writes the user's own.
    pub scratch: Arc<tempfile::TempDir>,
}

/// A data directory of its own for a server under test, unless `args` name one.
fn scratch_data(args: &[&str]) -> (tempfile::TempDir, Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let given = args
        .iter()
        .any(|a| *a == "--data-dir" || a.starts_with("--data-dir="));
    let path = (!given).then(|| dir.path().to_str().unwrap().to_string());
    (dir, path)
}

/// Runs the server in this process, wired exactly as `pluggedin-mcp ARGS` wires it, and
/// connects to it over an in-memory pipe through the stdio transport. `env` may hold
/// `PLUGGEDIN_API_KEY` and `PLUGGEDIN_API_BASE_URL` (read from here, not from the
/// environment, so tests never share them).
pub async fn start(args: &[&str], env: &[(&str, &str)]) -> Mcp {
    start_as(args, env, Recorder::default()).await
}

/// [`start`] with a client of the test's making (one that answers sampling, say).
pub async fn start_as(args: &[&str], env: &[(&str, &str)], recorder: Recorder) -> Mcp {
    pluggedin_mcp::api::install_crypto_provider();
    let mut argv = vec!["pluggedin-mcp".to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    let (scratch, data_dir) = scratch_data(args);
    if let Some(dir) = data_dir {
        argv.extend(["--data-dir".to_string(), dir]);
    }
    let mut key = None;
    for (name, value) in env {
        match *name {
            "PLUGGEDIN_API_KEY" => key = Some(value.to_string()),
            "PLUGGEDIN_API_BASE_URL" => argv.extend(["--base-url".into(), value.to_string()]),
            other => panic!("{other} is not supported in process; use spawn"),
        }
    }
    let cli = <Cli as clap::Parser>::try_parse_from(&argv).expect("valid arguments");
    let clock = Clock::default();
    let env = pluggedin_mcp::config::Environment {
        api_key: key,
        ..Default::default()
    };
    let running = pluggedin_mcp::serve::build(&cli.serve, &env, clock.clone())
        .await
        .expect("the server builds");
    let (client_end, server_end) = tokio::io::duplex(1 << 20);
    let (read, write) = tokio::io::split(server_end);
    let transport = pluggedin_mcp::transport::stdio::start(read, write);
    tokio::spawn(async move {
        if let Ok(service) = running
            .server
            .serve((transport.sink, transport.stream))
            .await
        {
            let _ = service.waiting().await;
        }
        if let Some(api) = running.local {
            api.stop().await;
        }
    });
    let client = recorder
        .clone()
        .serve(client_end)
        .await
        .expect("the MCP handshake succeeds");
    Mcp {
        client,
        recorder,
        stderr: Arc::default(),
        pid: 0,
        clock,
        scratch: Arc::new(scratch),
    }
}

/// Local mode in process over a fresh data directory.
pub async fn start_local(data_dir: &std::path::Path) -> Mcp {
    start(&["--data-dir", data_dir.to_str().unwrap()], &[]).await
}

/// Spawns the binary with `args` and `env` (PLUGGEDIN_API_KEY is removed unless given) and
/// completes the MCP handshake.
pub async fn spawn(args: &[&str], env: &[(&str, &str)]) -> Mcp {
    // Tests build reqwest clients of their own; rustls needs its provider first.
    pluggedin_mcp::api::install_crypto_provider();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pluggedin-mcp"));
    let (scratch, _) = scratch_data(args);
    cmd.args(args)
        .env_remove("PLUGGEDIN_API_KEY")
        .env_remove("PLUGGEDIN_API_BASE_URL")
        .env_remove("PLUGGEDIN_DATA_DIR")
        .env("XDG_DATA_HOME", scratch.path())
        // A developer's own `pluggedin-mcp login` must never reach a test.
        .env("PLUGGEDIN_CONFIG_DIR", scratch.path().join("config"));
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
    let client = match recorder.clone().serve(transport).await {
        Ok(client) => client,
        Err(e) => {
            // What the server said before it went away is the only clue; give it a moment
            // to reach the pipe.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            panic!(
                "the MCP handshake failed: {e}; the server's stderr:\n{}",
                captured.lock().unwrap()
            );
        }
    };
    Mcp {
        client,
        recorder,
        stderr: captured,
        pid,
        clock: Clock::default(),
        scratch: Arc::new(scratch),
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

    /// The server's stderr so far (empty in process: use [`spawn`] to see it).
    pub fn stderr(&self) -> String {
        assert!(self.pid != 0, "stderr is only seen of a spawned binary");
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
