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
}

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
    fn tools(&self) -> Vec<Tool> {
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
        ];
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
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools()))
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
            "cancellations" => text(
                self.cancellations
                    .load(std::sync::atomic::Ordering::SeqCst)
                    .to_string(),
            ),
            "echo" => {
                let said = args.get("text").and_then(Value::as_str).unwrap_or("");
                let meta = request
                    .meta
                    .as_ref()
                    .map(|m| json!(m))
                    .unwrap_or(Value::Null);
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
