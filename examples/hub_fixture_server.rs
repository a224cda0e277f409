//! A downstream MCP server with knobs, for the hub's tests: started by them over stdio (or
//! over HTTP with a port argument), it answers `echo` with its label, and has tools that are
//! slow, crash the process, hang, return a huge result, or add a tool and announce it; a
//! `greet` prompt, a `fixture://<label>/note` resource and a `fixture://<label>/items/{id}`
//! template.
//!
//! ```sh
//! FIXTURE_LABEL=a cargo run --example hub_fixture_server           # stdio
//! FIXTURE_LABEL=a cargo run --example hub_fixture_server -- 18700  # http://127.0.0.1:18700/mcp
//! ```
//!
//! `FIXTURE_SECRET` is echoed by `env_secret`, so tests can check that the hub scrubs a
//! server's configured secrets from what it logs.
//!
//! For the pass-through: `progress` reports `steps` progress notifications over `ms`;
//! `ask_model`, `ask_user` and `roots` ask the client (sampling, elicitation, roots); `log`
//! sends a log message; `wait_cancel` waits to be cancelled and `cancellations` counts how
//! many calls were.
//!
//! For what the hub passes on: `sampling_only` is listed only to a client that declared
//! sampling (as server-everything lists its sampling tool); `greet`'s `name` completes to
//! names of the label's letters; `resources/subscribe` is honoured, and `touch` sends
//! `notifications/resources/updated` for `text` (a URI) to the sessions subscribed to it.
//!
//! For tasks (SEP-2663): `task_job` runs `steps` steps over `ms`; for a client that declared
//! the tasks extension it is a task (status message and `notifications/tasks` each step;
//! with `text`, it asks the user that, as an input request, before it finishes), otherwise
//! an ordinary call. `FIXTURE_RAW_TASKS=1` makes a server without rmcp that answers every
//! `tools/call` with a task, asked for or not, as a careless server might (the hub then
//! follows the task itself), and counts `tasks/cancel` in `cancellations`.
//!
//! For tool search: with `FIXTURE_DOMAINS` (a file like `tests/fixtures/tool_search/
//! domains.json`), the server is the domain its label names, with 20 tools of that domain
//! (create, list, get, update and delete of its four kinds of things) and nothing else.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fixture: its inputs are constants and a failure should show at once"
)]
#![allow(
    deprecated,
    reason = "sampling, roots and logging are deprecated in 2026-07-28, but 2025-11-25 servers use them"
)]

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use rmcp::{
    ErrorData, RoleServer, ServerHandler, ServiceExt,
    model::*,
    service::{NotificationContext, Peer, RequestContext},
};
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Fixture {
    label: String,
    extra: Arc<Mutex<Vec<Tool>>>,
    peer: Arc<Mutex<Option<Peer<RoleServer>>>>,
    cancellations: Arc<std::sync::atomic::AtomicUsize>,
    /// A domain's tools (`FIXTURE_DOMAINS`): when set, the only tools.
    domain: Arc<Vec<Tool>>,
    tasks: rmcp::task_manager::TaskManager,
    /// Subscribed URIs and the sessions that subscribed to each.
    subscribed: Arc<Mutex<Vec<Subscriber>>>,
}

/// A subscribed URI and the session that subscribed to it.
type Subscriber = (String, Peer<RoleServer>);

/// The 20 tools of the domain `label` in the domains file at `path`.
fn domain_tools(path: &str, label: &str) -> Vec<Tool> {
    let domains: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let domain = domains
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["server"] == label)
        .unwrap_or_else(|| panic!("no domain {label} in {path}"));
    let title = domain["title"].as_str().unwrap();
    let plural = |e: &str| {
        if let Some(stem) = e.strip_suffix('y') {
            format!("{stem}ies")
        } else if e.ends_with('s') || e.ends_with("sh") || e.ends_with("ch") {
            format!("{e}es")
        } else {
            format!("{e}s")
        }
    };
    let mut tools = Vec::new();
    for entity in domain["entities"].as_array().unwrap() {
        let e = entity.as_str().unwrap();
        let (one, many) = (e.replace('_', " "), plural(e).replace('_', " "));
        let id = format!("{e}_id");
        let verbs: [(String, String, Vec<&str>); 5] = [
            (
                format!("create_{e}"),
                format!("Create a new {one} in {title}."),
                vec!["name", "details"],
            ),
            (
                format!("list_{}", plural(e)),
                format!("List the {many} in {title}, newest first."),
                vec!["limit", "filter"],
            ),
            (
                format!("get_{e}"),
                format!("Get the details of one {one} in {title} by its id."),
                vec![&id],
            ),
            (
                format!("update_{e}"),
                format!("Update the fields of an existing {one} in {title}."),
                vec![&id, "fields"],
            ),
            (
                format!("delete_{e}"),
                format!("Delete a {one} from {title} permanently."),
                vec![&id],
            ),
        ];
        for (name, description, args) in verbs {
            let properties: serde_json::Map<String, Value> = args
                .iter()
                .map(|a| (a.to_string(), json!({"type": "string"})))
                .collect();
            let Value::Object(schema) =
                json!({"type": "object", "properties": properties, "required": args})
            else {
                unreachable!()
            };
            tools.push(Tool::new(name, description, Arc::new(schema)));
        }
    }
    tools
}

fn tool(name: &str, description: &str, read_only: Option<bool>) -> Tool {
    let schema = json!({"type": "object", "properties": {
        "text": {"type": "string"}, "ms": {"type": "integer"}, "bytes": {"type": "integer"},
        "steps": {"type": "integer"}
    }});
    let Value::Object(schema) = schema else {
        unreachable!()
    };
    let mut tool = Tool::new(name.to_string(), description.to_string(), Arc::new(schema));
    if let Some(read_only) = read_only {
        tool = tool.annotate(ToolAnnotations::new().read_only(read_only));
    }
    tool
}

impl Fixture {
    fn tools(&self, client_samples: bool) -> Vec<Tool> {
        if !self.domain.is_empty() {
            return self.domain.to_vec();
        }
        let mut tools = vec![
            tool("echo", "Echoes text with the server's label.", Some(true)),
            tool("slow", "Answers after `ms` milliseconds.", Some(true)),
            tool("crash", "Exits the server process.", Some(false)),
            tool("hang", "Never answers.", Some(true)),
            tool("big", "Returns `bytes` bytes of text.", Some(true)),
            tool("grow", "Adds a tool and announces the change.", Some(false)),
            tool("unannotated_write", "Has no annotations at all.", None),
            tool("env_secret", "Returns FIXTURE_SECRET.", Some(true)),
            tool(
                "progress",
                "Reports `steps` progress notifications over `ms`.",
                Some(true),
            ),
            tool(
                "ask_model",
                "Asks the client's model about `text` (sampling).",
                Some(true),
            ),
            tool(
                "ask_user",
                "Asks the client's user `text` (elicitation).",
                Some(true),
            ),
            tool("roots", "Lists the client's roots.", Some(true)),
            tool("log", "Sends `text` as an info log message.", Some(true)),
            tool(
                "wait_cancel",
                "Waits until the call is cancelled.",
                Some(true),
            ),
            tool(
                "cancellations",
                "How many calls were cancelled.",
                Some(true),
            ),
            tool(
                "task_job",
                "Runs `steps` steps over `ms`: a task for clients that follow tasks.",
                Some(true),
            ),
            tool(
                "touch",
                "Tells the subscribers of the URI `text` that it changed.",
                Some(false),
            ),
        ];
        if client_samples {
            tools.push(tool(
                "sampling_only",
                "Listed only to clients that declared sampling.",
                Some(true),
            ));
        }
        tools.extend(self.extra.lock().unwrap().iter().cloned());
        tools
    }
}

fn text(t: impl Into<String>) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(t.into())])
}

impl ServerHandler for Fixture {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_prompts()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_completions()
                .enable_tasks()
                .build(),
        )
        .with_server_info(Implementation::new(
            format!("fixture-{}", self.label),
            "0.0.0",
        ))
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        *self.peer.lock().unwrap() = Some(context.peer);
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let samples = ctx
            .client_capabilities()
            .is_some_and(|c| c.sampling.is_some());
        Ok(ListToolsResult::with_all_items(self.tools(samples)))
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let typed = request.argument.value.to_lowercase();
        let values: Vec<String> = ["ada", "alan", "grace"]
            .into_iter()
            .filter(|n| n.starts_with(&typed))
            .map(|n| format!("{n}-{}", self.label))
            .collect();
        Ok(CompleteResult::new(
            CompletionInfo::new(values).map_err(|e| ErrorData::internal_error(e, None))?,
        ))
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.subscribed
            .lock()
            .unwrap()
            .push((request.uri, ctx.peer));
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.subscribed
            .lock()
            .unwrap()
            .retain(|(uri, _)| *uri != request.uri);
        Ok(())
    }

    async fn list_prompts(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(vec![Prompt::new(
            "greet",
            Some("Greets someone, signed with the server's label."),
            Some(vec![PromptArgument::new("name")]),
        )]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if request.name != "greet" {
            return Err(ErrorData::invalid_params("no such prompt", None));
        }
        let name = request
            .arguments
            .and_then(|a| a.get("name").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default();
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(
            Role::User,
            format!("Hello {name}, from {}", self.label),
        )])
        .into())
    }

    async fn list_resources(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(vec![Resource::new(
            format!("fixture://{}/note", self.label),
            "note".to_string(),
        )]))
    }

    async fn list_resource_templates(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new(format!("fixture://{}/items/{{id}}", self.label), "item"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        Ok(ReadResourceResult::new(vec![ResourceContents::text(
            format!("{} says: {}", self.label, request.uri),
            request.uri.clone(),
        )])
        .into())
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        _: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        Ok(GetTaskResult::new(self.tasks.get_task(&request.task_id)?))
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        _: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.tasks
            .update_task(&request.task_id, request.input_responses)
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        _: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.tasks.cancel_task(&request.task_id)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.clone().unwrap_or_default();
        let int = |k: &str| args.get(k).and_then(Value::as_u64).unwrap_or(0);
        let said = args
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let asked =
            |e: rmcp::ServiceError| text(format!("{}: the client refused: {e}", self.label));
        let result = match request.name.as_ref() {
            name if self.domain.iter().any(|t| t.name == name) => {
                text(format!("{}: {name}", self.label))
            }
            "task_job"
                if ctx
                    .client_capabilities()
                    .is_some_and(|c| c.supports_tasks()) =>
            {
                return Ok(CallToolResponse::Task(self.task_job(
                    int("ms"),
                    int("steps").max(1),
                    said,
                    ctx.peer.clone(),
                )));
            }
            "task_job" => {
                tokio::time::sleep(Duration::from_millis(int("ms"))).await;
                text(format!("{}: job done without a task", self.label))
            }
            "progress" => {
                let steps = int("steps").max(1);
                let token = ctx.meta.get_progress_token();
                for step in 1..=steps {
                    if int("ms") > 0 {
                        tokio::time::sleep(Duration::from_millis(int("ms") / steps)).await;
                    }
                    if let Some(token) = &token {
                        let mut param = ProgressNotificationParam::new(token.clone(), step as f64)
                            .with_total(steps as f64);
                        param.message = Some(format!("step {step}"));
                        let _ = ctx.peer.notify_progress(param).await;
                    }
                }
                text(format!("{}: {steps} steps done", self.label))
            }
            "ask_model" => {
                let params =
                    CreateMessageRequestParams::new(vec![SamplingMessage::user_text(said)], 100);
                match ctx.peer.create_message(params).await {
                    Ok(answer) => {
                        let said = answer
                            .message
                            .content
                            .first()
                            .and_then(|c| c.as_text())
                            .map(|t| t.text.clone());
                        text(format!(
                            "{}: the model said {}",
                            self.label,
                            said.unwrap_or_default()
                        ))
                    }
                    Err(e) => asked(e),
                }
            }
            "ask_user" => {
                let schema = ElicitationSchema::builder()
                    .required_string("answer")
                    .build()
                    .unwrap();
                let params = ElicitRequestParams::FormElicitationParams {
                    meta: None,
                    message: said,
                    requested_schema: schema,
                };
                match ctx.peer.create_elicitation(params).await {
                    Ok(answer) => text(format!(
                        "{}: the user chose {:?} with {}",
                        self.label,
                        answer.action,
                        answer.content.map(|c| c.to_string()).unwrap_or_default()
                    )),
                    Err(e) => asked(e),
                }
            }
            "roots" => match ctx.peer.list_roots().await {
                Ok(roots) => text(format!(
                    "{}: roots {}",
                    self.label,
                    roots
                        .roots
                        .iter()
                        .map(|r| r.uri.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                )),
                Err(e) => asked(e),
            },
            "log" => {
                let param = LoggingMessageNotificationParam::new(LoggingLevel::Info, json!(said))
                    .with_logger("fixture");
                let _ = ctx.peer.notify_logging_message(param).await;
                text(format!("{}: logged", self.label))
            }
            "wait_cancel" => {
                ctx.ct.cancelled().await;
                self.cancellations
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                text("cancelled")
            }
            "sampling_only" => text(format!("{}: sampling declared", self.label)),
            "touch" => {
                let peers: Vec<Peer<RoleServer>> = self
                    .subscribed
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|(uri, _)| *uri == said)
                    .map(|(_, peer)| peer.clone())
                    .collect();
                for peer in &peers {
                    let _ = peer
                        .notify_resource_updated(ResourceUpdatedNotificationParam::new(&said))
                        .await;
                }
                text(format!(
                    "{}: told {} subscriber(s)",
                    self.label,
                    peers.len()
                ))
            }
            "cancellations" => text(
                self.cancellations
                    .load(std::sync::atomic::Ordering::SeqCst)
                    .to_string(),
            ),
            "echo" => {
                let said = args.get("text").and_then(Value::as_str).unwrap_or("");
                // rmcp hands a request's `_meta` to the handler in its context.
                let meta = json!(ctx.meta);
                let mut result = text(format!("{}: {said}", self.label));
                result.structured_content = Some(json!({
                    "label": self.label, "text": said, "meta": meta
                }));
                result
            }
            "slow" => {
                tokio::time::sleep(Duration::from_millis(int("ms"))).await;
                text(format!("{}: slept {} ms", self.label, int("ms")))
            }
            "crash" => std::process::exit(3),
            "hang" => std::future::pending().await,
            "big" => text("x".repeat(int("bytes") as usize)),
            "grow" => {
                let n = self.extra.lock().unwrap().len() + 1;
                self.extra.lock().unwrap().push(tool(
                    &format!("grown_{n}"),
                    "Added at run time.",
                    Some(true),
                ));
                let peer = self.peer.lock().unwrap().clone();
                if let Some(peer) = peer {
                    let _ = peer.notify_tool_list_changed().await;
                }
                text(format!("grown_{n}"))
            }
            "env_secret" => text(std::env::var("FIXTURE_SECRET").unwrap_or_default()),
            "unannotated_write" => text("written"),
            other => return Err(ErrorData::invalid_params(format!("no tool {other}"), None)),
        };
        Ok(result.into())
    }
}

impl Fixture {
    /// `task_job` as a task: a step every `ms / steps`, each announced; with `ask`, an
    /// input request before the end.
    fn task_job(
        &self,
        ms: u64,
        steps: u64,
        ask: String,
        peer: Peer<RoleServer>,
    ) -> CreateTaskResult {
        use rmcp::task_manager::{TaskExit, TaskOptions};
        let label = self.label.clone();
        let options = TaskOptions::new()
            .with_poll_interval_ms(50)
            .with_ttl_ms(60_000)
            .with_status_message("queued");
        let task = self.tasks.spawn(options, move |tc| {
            Box::pin(async move {
                for step in 1..=steps {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(ms / steps)) => {}
                        _ = tc.cancelled() => return Err(TaskExit::Cancelled),
                    }
                    let message = format!("step {step} of {steps}");
                    tc.set_status_message(message.clone());
                    let now = rmcp::task_manager::current_timestamp();
                    let state = Task::new(tc.task_id(), TaskStatus::Working, now.clone(), now)
                        .with_status_message(message);
                    let params = TaskStatusNotificationParams::new(DetailedTask::new(
                        state,
                        TaskPayload::Working,
                    ));
                    let _ = peer
                        .send_notification(ServerNotification::TaskStatusNotification(
                            Notification::new(params),
                        ))
                        .await;
                }
                let mut answer = String::new();
                if !ask.is_empty() {
                    let schema = ElicitationSchema::builder()
                        .required_string("answer")
                        .build()
                        .unwrap();
                    let question = ElicitRequest::new(ElicitRequestParams::FormElicitationParams {
                        meta: None,
                        message: ask,
                        requested_schema: schema,
                    });
                    let reply = tc
                        .request_input("question", InputRequest::Elicitation(question))
                        .await?;
                    answer = format!(" with answer {}", reply["content"]["answer"]);
                }
                // Its own id, so a test can tell it from the hub's.
                Ok(text(format!(
                    "{label}: task done{answer} (task {})",
                    tc.task_id()
                )))
            })
        });
        CreateTaskResult::new(task)
    }
}

#[tokio::main]
#[allow(
    dead_code,
    reason = "the hub bench includes this file as a module and calls `run` itself"
)]
async fn main() {
    run(std::env::args()
        .nth(1)
        .map(|p| p.parse().expect("a port number")))
    .await;
}

/// Serves over stdio, or over HTTP on `port`. Knobs (environment): `FIXTURE_LABEL`,
/// `FIXTURE_TOOLS` (that many extra tools), `FIXTURE_START_DELAY_MS` (a slow start),
/// `FIXTURE_HANG=1` (never answers `initialize`).
pub async fn run(port: Option<u16>) {
    let knob = |name: &str| std::env::var(name).ok();
    let extra: Vec<Tool> = (0..knob("FIXTURE_TOOLS")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
        .map(|i: usize| {
            tool(
                &format!("extra_{i}"),
                "An extra tool, for big catalogs.",
                Some(true),
            )
        })
        .collect();
    let label = knob("FIXTURE_LABEL").unwrap_or_else(|| "fixture".into());
    let fixture = Fixture {
        domain: Arc::new(
            knob("FIXTURE_DOMAINS")
                .map(|path| domain_tools(&path, &label))
                .unwrap_or_default(),
        ),
        label,
        extra: Arc::new(Mutex::new(extra)),
        ..Fixture::default()
    };
    eprintln!("fixture {} starting", fixture.label);
    if let Some(ms) = knob("FIXTURE_START_DELAY_MS").and_then(|m| m.parse().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if knob("FIXTURE_HANG").is_some() {
        std::future::pending::<()>().await;
    }
    if knob("FIXTURE_RAW_TASKS").is_some() {
        raw_tasks::serve(&fixture.label).await;
        return;
    }
    match port {
        None => {
            let service = fixture
                .serve((tokio::io::stdin(), tokio::io::stdout()))
                .await
                .expect("initialize");
            let _ = service.waiting().await;
        }
        Some(port) => {
            let options = pluggedin_mcp::transport::HttpOptions::local(SocketAddr::from((
                [127, 0, 0, 1],
                port,
            )));
            // One fixture for every session, so `grow` shows in every session's list.
            pluggedin_mcp::transport::serve(
                move || fixture.clone(),
                options,
                pluggedin_mcp::shutdown::signal(),
            )
            .await
            .expect("serve");
        }
    }
}

/// A server written without rmcp that answers every `tools/call` with a task (SEP-2663),
/// whether the client offered to follow tasks or not. Each `tasks/get` moves its task on:
/// two working steps, then (with `text`) an input request until `tasks/update` answers it,
/// then completed — or failed, with `fail`.
mod raw_tasks {
    use std::collections::HashMap;

    use serde_json::{Value, json};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    #[derive(Default)]
    struct Job {
        polls: u32,
        ask: String,
        fail: bool,
        answer: Option<Value>,
        cancelled: bool,
    }

    fn task(id: &str, status: &str, message: &str) -> Value {
        json!({
            "taskId": id, "status": status, "statusMessage": message,
            "createdAt": "2026-01-01T00:00:00Z", "lastUpdatedAt": "2026-01-01T00:00:00Z",
            "ttlMs": 60000, "pollIntervalMs": 50
        })
    }

    pub async fn serve(label: &str) {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        let mut out = tokio::io::stdout();
        let mut jobs: HashMap<String, Job> = HashMap::new();
        let mut cancellations = 0;
        while let Ok(Some(line)) = lines.next_line().await {
            let Ok(message) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let Some(id) = message.get("id").cloned() else {
                continue;
            };
            let params = &message["params"];
            let task_id = params["taskId"].as_str().unwrap_or_default().to_string();
            let result = match message["method"].as_str().unwrap_or_default() {
                "initialize" => json!({
                    "protocolVersion": "2025-11-25",
                    "capabilities": { "tools": {}, "extensions": { "io.modelcontextprotocol/tasks": {} } },
                    "serverInfo": { "name": format!("raw-{label}"), "version": "0.0.0" }
                }),
                "ping" => json!({}),
                "tools/list" => json!({ "tools": [
                    { "name": "task_job", "description": "Always a task.", "inputSchema": { "type": "object" },
                      "annotations": { "readOnlyHint": true } },
                    { "name": "cancellations", "description": "Tasks cancelled.", "inputSchema": { "type": "object" },
                      "annotations": { "readOnlyHint": true } }
                ]}),
                "tools/call" if params["name"] == "cancellations" => json!({
                    "content": [{ "type": "text", "text": cancellations.to_string() }]
                }),
                "tools/call" => {
                    let id = format!("raw-{}", jobs.len() + 1);
                    let args = &params["arguments"];
                    jobs.insert(
                        id.clone(),
                        Job {
                            ask: args["text"].as_str().unwrap_or_default().to_string(),
                            fail: args["fail"] == true,
                            ..Job::default()
                        },
                    );
                    let mut created = task(&id, "working", "queued");
                    created["resultType"] = json!("task");
                    created
                }
                "tasks/get" => match jobs.get_mut(&task_id) {
                    None => {
                        error(&mut out, id, -32602, "unknown task").await;
                        continue;
                    }
                    Some(job) => {
                        job.polls += 1;
                        let mut state = if job.cancelled {
                            task(&task_id, "cancelled", "cancelled")
                        } else if job.polls <= 2 {
                            task(&task_id, "working", &format!("step {}", job.polls))
                        } else if !job.ask.is_empty() && job.answer.is_none() {
                            let mut state =
                                task(&task_id, "input_required", "waiting for the user");
                            state["inputRequests"] = json!({ "q": {
                                "method": "elicitation/create",
                                "params": { "mode": "form", "message": job.ask, "requestedSchema": {
                                    "type": "object", "properties": { "answer": { "type": "string" } },
                                    "required": ["answer"] } }
                            }});
                            state
                        } else if job.fail {
                            let mut state = task(&task_id, "failed", "failed");
                            state["error"] = json!({ "code": -32603, "message": "boom" });
                            state
                        } else {
                            let answer = job
                                .answer
                                .as_ref()
                                .map(|a| format!(" with answer {}", a["content"]["answer"]))
                                .unwrap_or_default();
                            let mut state = task(&task_id, "completed", "done");
                            state["result"] = json!({ "content": [
                                { "type": "text", "text": format!("{label}: raw task done{answer}") }
                            ], "isError": false });
                            state
                        };
                        state["resultType"] = json!("complete");
                        state
                    }
                },
                "tasks/update" => {
                    if let Some(job) = jobs.get_mut(&task_id) {
                        job.answer = params["inputResponses"]["q"].clone().into();
                    }
                    json!({ "resultType": "complete" })
                }
                "tasks/cancel" => {
                    if let Some(job) = jobs.get_mut(&task_id) {
                        job.cancelled = true;
                        cancellations += 1;
                    }
                    json!({ "resultType": "complete" })
                }
                _ => {
                    error(&mut out, id, -32601, "method not found").await;
                    continue;
                }
            };
            let line = json!({ "jsonrpc": "2.0", "id": id, "result": result });
            let _ = out.write_all(format!("{line}\n").as_bytes()).await;
            let _ = out.flush().await;
        }
    }

    async fn error(out: &mut tokio::io::Stdout, id: Value, code: i64, message: &str) {
        let line =
            json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } });
        let _ = out.write_all(format!("{line}\n").as_bytes()).await;
        let _ = out.flush().await;
    }
}
