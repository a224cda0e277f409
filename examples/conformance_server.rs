//! The fixtures of the official MCP conformance suite (`@modelcontextprotocol/conformance`),
//! served on this project's own HTTP transport (`pluggedin_mcp::transport`), so the suite's
//! fixture-dependent scenarios exercise exactly the stack the real server uses.
//!
//! ```sh
//! cargo run --example conformance_server -- 18612        # serves http://127.0.0.1:18612/mcp
//! npx @modelcontextprotocol/conformance@0.2.0-alpha.12 server \
//!     --url http://127.0.0.1:18612/mcp --suite all --spec-version 2026-07-28
//! ```
//!
//! Every fixture is written from the scenario descriptions the suite ships (`conformance
//! list`); none of it is product code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a fixture server for the conformance suite: its inputs are constants and a poisoned lock is a bug to see at once"
)]
#![allow(
    deprecated,
    reason = "the suite still tests logging, sampling and resource subscriptions of 2025-11-25"
)]

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use pluggedin_mcp::transport::{self, HttpOptions};
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::*,
    service::{RequestContext, SubscriptionContext, SubscriptionSink},
};
use serde_json::{Value, json};

/// A 1×1 red PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
/// A minimal WAV header with no samples.
const WAV: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=";

/// State shared by every instance (stateless requests each get a fresh instance).
#[derive(Default)]
struct Shared {
    subscriptions: Mutex<Vec<SubscriptionSink>>,
    /// 2025-11-25 sessions, told of list changes without listening for them.
    sessions: Mutex<Vec<rmcp::service::Peer<RoleServer>>>,
    extra_tools: Mutex<Vec<Tool>>,
}

#[derive(Clone)]
struct Fixtures {
    shared: Arc<Shared>,
    state_codec: Arc<RequestStateCodec>,
}

fn tool(name: &str, description: &str, schema: Value) -> Tool {
    let Value::Object(schema) = schema else {
        unreachable!("fixture schemas are objects")
    };
    Tool::new(name.to_string(), description.to_string(), Arc::new(schema))
}

fn no_args() -> Value {
    json!({ "type": "object", "properties": {} })
}

fn text(t: impl Into<String>) -> CallToolResponse {
    CallToolResult::success(vec![ContentBlock::text(t)]).into()
}

fn input_request(v: Value) -> InputRequest {
    serde_json::from_value(v).expect("fixture input requests are valid")
}

fn elicit(message: &str, property: &str) -> InputRequest {
    input_request(json!({ "method": "elicitation/create", "params": {
        "message": message,
        "requestedSchema": { "type": "object", "properties": { property: { "type": "string" } }, "required": [property] }
    }}))
}

fn sampling(prompt: &str, max_tokens: u32) -> InputRequest {
    input_request(json!({ "method": "sampling/createMessage", "params": {
        "messages": [{ "role": "user", "content": { "type": "text", "text": prompt } }],
        "maxTokens": max_tokens
    }}))
}

fn roots() -> InputRequest {
    input_request(json!({ "method": "roots/list", "params": {} }))
}

fn need(requests: Vec<(&str, InputRequest)>, state: Option<String>) -> CallToolResponse {
    let map: InputRequests = requests
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    CallToolResponse::InputRequired(InputRequiredResult::new(Some(map), state))
}

/// The inputResponses of a retry, or a protocol error when they are not an object of objects.
fn responses(raw: &Option<InputResponses>) -> Result<Option<&InputResponses>, ErrorData> {
    match raw {
        None => Ok(None),
        Some(map) if map.values().all(Value::is_object) => Ok(Some(map)),
        Some(_) => Err(ErrorData::invalid_params(
            "inputResponses values must be result objects",
            None,
        )),
    }
}

fn accepted_text(response: &Value, field: &str) -> String {
    response
        .pointer(&format!("/content/{field}"))
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string()
}

impl Fixtures {
    fn new() -> Self {
        // A fresh HMAC key per process: sealed request states only need to survive one run.
        let key: [u8; 32] = rand::random();
        Self {
            shared: Arc::default(),
            state_codec: Arc::new(RequestStateCodec::new(key)),
        }
    }

    fn tools(&self) -> Vec<Tool> {
        let custom_header = json!({
            "type": "object",
            "properties": {
                "region": { "type": "string", "description": "Mirrored into the Mcp-Param-Region header", "x-mcp-header": "Region" }
            },
            "required": ["region"]
        });
        let json_schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": { "address": { "$anchor": "addressDef", "type": "object", "properties": { "street": { "type": "string" }, "city": { "type": "string" } } } },
            "properties": {
                "name": { "type": "string" },
                "address": { "$ref": "#/$defs/address" },
                "contactMethod": { "type": "string", "enum": ["phone", "email"] },
                "phone": { "type": "string" },
                "email": { "type": "string" }
            },
            "allOf": [{ "anyOf": [{ "required": ["phone"] }, { "required": ["email"] }] }],
            "if": { "properties": { "contactMethod": { "const": "phone" } }, "required": ["contactMethod"] },
            "then": { "required": ["phone"] },
            "else": { "required": ["email"] },
            "additionalProperties": false
        });
        let mut tools = vec![
            tool("test_simple_text", "Returns simple text", no_args()),
            tool("test_image_content", "Returns an image", no_args()),
            tool("test_audio_content", "Returns audio", no_args()),
            tool(
                "test_embedded_resource",
                "Returns an embedded resource",
                no_args(),
            ),
            tool(
                "test_multiple_content_types",
                "Returns text, an image and a resource",
                no_args(),
            ),
            tool(
                "test_tool_with_logging",
                "Logs three messages while running",
                no_args(),
            ),
            tool(
                "test_tool_with_progress",
                "Reports progress 0, 50, 100",
                no_args(),
            ),
            tool("test_error_handling", "Always fails", no_args()),
            tool(
                "test_sampling",
                "Asks the client's LLM",
                json!({ "type": "object", "properties": { "prompt": { "type": "string" } }, "required": ["prompt"] }),
            ),
            tool(
                "test_elicitation",
                "Asks the user",
                json!({ "type": "object", "properties": { "message": { "type": "string" } }, "required": ["message"] }),
            ),
            tool(
                "test_elicitation_sep1034_defaults",
                "Elicitation with defaults",
                no_args(),
            ),
            tool(
                "test_elicitation_sep1330_enums",
                "Elicitation with enum variants",
                no_args(),
            ),
            tool(
                "json_schema_2020_12_tool",
                "Tool with JSON Schema 2020-12 features",
                json_schema,
            ),
            tool("test_reconnection", "Takes a moment to answer", no_args()),
            tool(
                "test_missing_capability",
                "Needs the client's sampling capability",
                no_args(),
            ),
            tool(
                "test_streaming_elicitation",
                "Needs user input (answers with input_required)",
                no_args(),
            ),
            tool("test_logging_tool", "Logs one message", no_args()),
            tool(
                "test_trigger_tool_change",
                "Adds a tool and announces the change",
                no_args(),
            ),
            tool(
                "test_custom_headers",
                "Echoes a parameter mirrored into a header",
                custom_header,
            ),
        ];
        for name in [
            "elicitation",
            "sampling",
            "list_roots",
            "request_state",
            "multiple_inputs",
            "multi_round",
            "tampered_state",
            "capabilities",
        ] {
            tools.push(tool(
                &format!("test_input_required_result_{name}"),
                "Multi round-trip input",
                no_args(),
            ));
        }
        tools.extend(self.shared.extra_tools.lock().unwrap().iter().cloned());
        tools
    }

    async fn log(ctx: &RequestContext<RoleServer>, message: &str) {
        let modern = ctx
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        // 2026-07-28 forbids log messages unless the request asked for a level.
        if modern && ctx.meta.log_level().is_none() {
            return;
        }
        let _ = ctx
            .peer
            .notify_logging_message(LoggingMessageNotificationParam::new(
                LoggingLevel::Info,
                json!(message),
            ))
            .await;
    }

    async fn mrtr(
        &self,
        name: &str,
        request: &CallToolRequestParams,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let inputs = responses(&request.input_responses)?;
        let state = request.request_state.as_deref();
        let has = |key: &str| inputs.is_some_and(|m| m.contains_key(key));
        Ok(match name {
            "elicitation" => match inputs.and_then(|m| m.get("user_name")) {
                Some(r) => text(format!("Hello, {}!", accepted_text(r, "name"))),
                None => need(
                    vec![("user_name", elicit("What is your name?", "name"))],
                    None,
                ),
            },
            "sampling" => match inputs.and_then(|m| m.get("capital_question")) {
                Some(r) => text(format!(
                    "Sampling said: {}",
                    r.pointer("/content/text")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                )),
                None => need(
                    vec![(
                        "capital_question",
                        sampling("What is the capital of France?", 100),
                    )],
                    None,
                ),
            },
            "list_roots" => match inputs.and_then(|m| m.get("client_roots")) {
                Some(r) => text(format!(
                    "Roots: {}",
                    r.get("roots").map(Value::to_string).unwrap_or_default()
                )),
                None => need(vec![("client_roots", roots())], None),
            },
            "request_state" => match (has("confirm"), state) {
                (true, Some("confirm-state")) => text("state-ok: confirmed"),
                (true, Some(_)) => {
                    return Err(ErrorData::invalid_params(
                        "requestState is not the one this server issued",
                        None,
                    ));
                }
                _ => need(
                    vec![(
                        "confirm",
                        input_request(json!({ "method": "elicitation/create", "params": {
                            "message": "Please confirm",
                            "requestedSchema": { "type": "object", "properties": { "ok": { "type": "boolean" } }, "required": ["ok"] }
                        }})),
                    )],
                    Some("confirm-state".into()),
                ),
            },
            "multiple_inputs" => {
                if has("user_name")
                    && has("greeting")
                    && has("client_roots")
                    && state == Some("multi-state")
                {
                    text("All inputs received")
                } else {
                    need(
                        vec![
                            ("user_name", elicit("What is your name?", "name")),
                            ("greeting", sampling("Generate a greeting", 50)),
                            ("client_roots", roots()),
                        ],
                        Some("multi-state".into()),
                    )
                }
            }
            "multi_round" => match state {
                Some("round-2") if has("step2") => text("Both steps complete"),
                Some("round-1") if has("step1") => need(
                    vec![(
                        "step2",
                        elicit("Step 2: What is your favorite color?", "color"),
                    )],
                    Some("round-2".into()),
                ),
                _ => need(
                    vec![("step1", elicit("Step 1: What is your name?", "name"))],
                    Some("round-1".into()),
                ),
            },
            "tampered_state" => match state {
                Some(sealed) => {
                    self.state_codec.open(sealed).map_err(|e| {
                        ErrorData::invalid_params(
                            format!("requestState failed its integrity check: {e}"),
                            None,
                        )
                    })?;
                    text("state verified")
                }
                None => need(
                    vec![("confirm", elicit("Continue?", "answer"))],
                    Some(self.state_codec.seal(b"tampered-state-round-1")),
                ),
            },
            _ => {
                // "capabilities": only ask for what the client declared.
                let caps = ctx.client_capabilities().unwrap_or_default();
                let mut requests = Vec::new();
                if caps.sampling.is_some() {
                    requests.push(("question", sampling("Say hello", 20)));
                }
                if caps.elicitation.is_some() {
                    requests.push(("name", elicit("What is your name?", "name")));
                }
                if requests.is_empty() || inputs.is_some() {
                    text("Done with the capabilities the client declared")
                } else {
                    need(requests, None)
                }
            }
        })
    }

    async fn announce_tool_change(&self) {
        let sinks: Vec<SubscriptionSink> = self.shared.subscriptions.lock().unwrap().clone();
        for sink in sinks {
            let _ = sink
                .send(ServerNotification::ToolListChangedNotification(
                    ToolListChangedNotification::default(),
                ))
                .await;
        }
        let sessions = self.shared.sessions.lock().unwrap().clone();
        for peer in sessions.iter().filter(|p| !p.is_transport_closed()) {
            let _ = peer.notify_tool_list_changed().await;
        }
    }
}

impl ServerHandler for Fixtures {
    async fn on_initialized(&self, context: rmcp::service::NotificationContext<RoleServer>) {
        let mut sessions = self.shared.sessions.lock().unwrap();
        sessions.retain(|p| !p.is_transport_closed());
        sessions.push(context.peer);
    }

    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_prompts()
            .enable_resources()
            .enable_resources_subscribe()
            .enable_completions()
            .enable_logging()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new(
                "pluggedin-mcp-conformance-fixtures",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions("Conformance fixtures served on pluggedin-mcp's HTTP transport.")
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools().into_iter().find(|t| t.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.clone().unwrap_or_default();
        let arg = |k: &str| {
            args.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let name = request.name.to_string();
        if let Some(kind) = name.strip_prefix("test_input_required_result_") {
            return self.mrtr(kind, &request, &ctx).await;
        }
        Ok(match name.as_str() {
            "test_simple_text" => text("This is a simple text response for testing."),
            "test_image_content" => CallToolResult::success(vec![ContentBlock::image(PNG, "image/png")]).into(),
            "test_audio_content" => CallToolResult::success(vec![ContentBlock::audio(WAV, "audio/wav")]).into(),
            "test_embedded_resource" => CallToolResult::success(vec![ContentBlock::resource(
                ResourceContents::text("This is an embedded resource content.", "test://embedded-resource"),
            )])
            .into(),
            "test_multiple_content_types" => CallToolResult::success(vec![
                ContentBlock::text("Multiple content types test:"),
                ContentBlock::image(PNG, "image/png"),
                ContentBlock::resource(
                    ResourceContents::text(r#"{"test":"data","value":123}"#, "test://mixed-content-resource")
                        .with_mime_type("application/json"),
                ),
            ])
            .into(),
            "test_tool_with_logging" => {
                Self::log(&ctx, "Tool execution started").await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                Self::log(&ctx, "Tool processing data").await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                Self::log(&ctx, "Tool execution completed").await;
                text("Logging tool finished")
            }
            "test_logging_tool" => {
                Self::log(&ctx, "A log line, sent only when the request asked for a level").await;
                text("logged")
            }
            "test_tool_with_progress" => {
                let token = ctx.meta.get_progress_token();
                for (i, step) in [0.0, 50.0, 100.0].into_iter().enumerate() {
                    if i > 0 {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    if let Some(t) = &token {
                        let _ = ctx
                            .peer
                            .notify_progress(ProgressNotificationParam::new(t.clone(), step).with_total(100.0))
                            .await;
                    }
                }
                text("Progress tool finished")
            }
            "test_error_handling" => {
                CallToolResult::error(vec![ContentBlock::text("This tool intentionally returns an error for testing")]).into()
            }
            "test_sampling" => {
                let params: CreateMessageRequestParams = serde_json::from_value(json!({
                    "messages": [{ "role": "user", "content": { "type": "text", "text": arg("prompt") } }],
                    "maxTokens": 100
                }))
                .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
                match self.ask(&ctx, &request, "sampling", InputRequest::CreateMessage(CreateMessageRequest::new(params))).await {
                    Ok(r) => {
                        let reply = r.pointer("/content/text").and_then(Value::as_str).map(str::to_string);
                        text(format!("LLM response: {}", reply.unwrap_or_default()))
                    }
                    Err(Asked::Now(need)) => need,
                    Err(Asked::Failed(e)) => CallToolResult::error(vec![ContentBlock::text(format!("sampling failed: {e}"))]).into(),
                }
            }
            "test_elicitation" => self.elicit(&ctx, &request, json!({
                "message": arg("message"),
                "requestedSchema": { "type": "object", "properties": {
                    "username": { "type": "string", "description": "User's response" },
                    "email": { "type": "string", "description": "User's email address" }
                }, "required": ["username", "email"] }
            }), "User response").await,
            "test_elicitation_sep1034_defaults" => self.elicit(&ctx, &request, json!({
                "message": "Please review the defaults",
                "requestedSchema": { "type": "object", "properties": {
                    "name": { "type": "string", "default": "John Doe" },
                    "age": { "type": "integer", "default": 30 },
                    "score": { "type": "number", "default": 95.5 },
                    "status": { "type": "string", "enum": ["active", "inactive", "pending"], "default": "active" },
                    "verified": { "type": "boolean", "default": true }
                } }
            }), "Elicitation completed").await,
            "test_elicitation_sep1330_enums" => self.elicit(&ctx, &request, json!({
                "message": "Pick some options",
                "requestedSchema": { "type": "object", "properties": {
                    "untitledSingle": { "type": "string", "enum": ["option1", "option2", "option3"] },
                    "titledSingle": { "type": "string", "oneOf": [
                        { "const": "value1", "title": "First Option" },
                        { "const": "value2", "title": "Second Option" },
                        { "const": "value3", "title": "Third Option" }
                    ] },
                    "legacyEnum": { "type": "string", "enum": ["opt1", "opt2", "opt3"], "enumNames": ["Option One", "Option Two", "Option Three"] },
                    "untitledMulti": { "type": "array", "items": { "type": "string", "enum": ["option1", "option2", "option3"] } },
                    "titledMulti": { "type": "array", "items": { "anyOf": [
                        { "const": "value1", "title": "First Choice" },
                        { "const": "value2", "title": "Second Choice" },
                        { "const": "value3", "title": "Third Choice" }
                    ] } }
                } }
            }), "Elicitation completed").await,
            "json_schema_2020_12_tool" => text("schema accepted"),
            "test_reconnection" => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                text("Reconnection test finished")
            }
            "test_missing_capability" => {
                let declared = ctx.client_capabilities().is_some_and(|c| c.sampling.is_some());
                if !declared {
                    return Err(ErrorData::missing_required_client_capability(
                        ClientCapabilities::builder().enable_sampling().build(),
                    ));
                }
                text("the client declared sampling")
            }
            "test_streaming_elicitation" => need(vec![("answer", elicit("Please answer", "answer"))], None),
            "test_trigger_tool_change" => {
                {
                    let mut extra = self.shared.extra_tools.lock().unwrap();
                    let n = extra.len();
                    extra.push(tool(&format!("test_dynamic_tool_{n}"), "Added at runtime", no_args()));
                }
                self.announce_tool_change().await;
                text("tool list changed")
            }
            "test_custom_headers" => text(format!("region: {}", arg("region"))),
            other if other.starts_with("test_dynamic_tool_") => text("dynamic tool"),
            _ => return Err(ErrorData::invalid_params("tool not found", None)),
        })
    }

    async fn list_resources(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(vec![
            Resource::new("test://static-text", "static-text")
                .with_description("A static text resource")
                .with_mime_type("text/plain"),
            Resource::new("test://static-binary", "static-binary")
                .with_description("A static PNG")
                .with_mime_type("image/png"),
            Resource::new("test://watched-resource", "watched-resource")
                .with_description("A resource to subscribe to")
                .with_mime_type("text/plain"),
        ]))
    }

    async fn list_resource_templates(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new("test://template/{id}/data", "template-data")
                .with_description("Data for an id")
                .with_mime_type("application/json"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri.as_str();
        let contents = match uri {
            "test://static-text" => {
                ResourceContents::text("This is the content of the static text resource.", uri)
            }
            "test://static-binary" => ResourceContents::blob(PNG, uri).with_mime_type("image/png"),
            "test://watched-resource" => ResourceContents::text("Watched resource content.", uri),
            _ => match uri
                .strip_prefix("test://template/")
                .and_then(|r| r.strip_suffix("/data"))
            {
                Some(id) => ResourceContents::text(
                    json!({ "id": id, "templateTest": true, "data": format!("Data for ID: {id}") })
                        .to_string(),
                    uri,
                )
                .with_mime_type("application/json"),
                None => {
                    return Err(ErrorData::resource_not_found(
                        "resource not found",
                        Some(json!({ "uri": uri })),
                    ));
                }
            },
        };
        Ok(ReadResourceResult::new(vec![contents]).into())
    }

    async fn subscribe(
        &self,
        _: SubscribeRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        Ok(())
    }

    async fn unsubscribe(
        &self,
        _: UnsubscribeRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(requested.clone())
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        self.shared
            .subscriptions
            .lock()
            .unwrap()
            .push(context.sink().clone());
        context.cancelled().await;
        Ok(())
    }

    async fn list_prompts(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let arg = |n: &str, d: &str| {
            PromptArgument::new(n)
                .with_description(d)
                .with_required(true)
        };
        Ok(ListPromptsResult::with_all_items(vec![
            Prompt::new("test_simple_prompt", Some("A simple prompt"), None),
            Prompt::new(
                "test_prompt_with_arguments",
                Some("A prompt with arguments"),
                Some(vec![
                    arg("arg1", "First test argument"),
                    arg("arg2", "Second test argument"),
                ]),
            ),
            Prompt::new(
                "test_prompt_with_embedded_resource",
                Some("A prompt with a resource"),
                Some(vec![arg("resourceUri", "URI of the resource to embed")]),
            ),
            Prompt::new(
                "test_prompt_with_image",
                Some("A prompt with an image"),
                None,
            ),
            Prompt::new(
                "test_input_required_result_prompt",
                Some("A prompt that needs input"),
                None,
            ),
        ]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let args: BTreeMap<String, String> = request
            .arguments
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
            .collect();
        let arg = |k: &str| args.get(k).cloned().unwrap_or_default();
        let user = |block: ContentBlock| PromptMessage::new(Role::User, block);
        let messages = match request.name.as_str() {
            "test_simple_prompt" => vec![PromptMessage::new_text(
                Role::User,
                "This is a simple prompt for testing.",
            )],
            "test_prompt_with_arguments" => vec![PromptMessage::new_text(
                Role::User,
                format!(
                    "Prompt with arguments: arg1='{}', arg2='{}'",
                    arg("arg1"),
                    arg("arg2")
                ),
            )],
            "test_prompt_with_embedded_resource" => vec![
                user(ContentBlock::resource(ResourceContents::text(
                    "Embedded resource content for testing.",
                    arg("resourceUri"),
                ))),
                PromptMessage::new_text(Role::User, "Please process the embedded resource above."),
            ],
            "test_prompt_with_image" => vec![
                user(ContentBlock::image(PNG, "image/png")),
                PromptMessage::new_text(Role::User, "Please analyze the image above."),
            ],
            "test_input_required_result_prompt" => {
                let answered = request
                    .input_responses
                    .as_ref()
                    .and_then(|m| m.get("user_context"));
                match answered {
                    Some(r) => vec![PromptMessage::new_text(
                        Role::User,
                        format!("Use this context: {}", accepted_text(r, "context")),
                    )],
                    None => {
                        let requests: InputRequests = [(
                            "user_context".to_string(),
                            elicit("What context should the prompt use?", "context"),
                        )]
                        .into();
                        return Ok(GetPromptResponse::InputRequired(InputRequiredResult::new(
                            Some(requests),
                            None,
                        )));
                    }
                }
            }
            _ => return Err(ErrorData::invalid_params("prompt not found", None)),
        };
        Ok(GetPromptResult::new(messages).into())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let typed = request.argument.value.to_lowercase();
        let values: Vec<String> = ["paris", "park", "party"]
            .into_iter()
            .filter(|v| v.starts_with(&typed))
            .map(str::to_string)
            .collect();
        Ok(CompleteResult::new(
            CompletionInfo::with_all_values(values).unwrap_or_default(),
        ))
    }

    async fn set_level(
        &self,
        _: SetLevelRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        Ok(())
    }
}

impl Fixtures {
    /// Asks the client something: on a 2026-07-28 request by answering `input_required`
    /// (and reading the answer from the retry's `inputResponses`), on an older session with
    /// a request of its own.
    async fn ask(
        &self,
        ctx: &RequestContext<RoleServer>,
        request: &CallToolRequestParams,
        key: &str,
        input: InputRequest,
    ) -> Result<Value, Asked> {
        let modern = ctx
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        if modern {
            return match request.input_responses.as_ref().and_then(|m| m.get(key)) {
                Some(answer) => Ok(answer.clone()),
                None => Err(Asked::Now(need(vec![(key, input)], None))),
            };
        }
        let answer = match input {
            InputRequest::CreateMessage(r) => ctx
                .peer
                .create_message(r.params)
                .await
                .map(|a| serde_json::to_value(a).unwrap_or_default()),
            InputRequest::Elicitation(r) => ctx
                .peer
                .create_elicitation(r.params)
                .await
                .map(|a| serde_json::to_value(a).unwrap_or_default()),
            _ => ctx
                .peer
                .list_roots()
                .await
                .map(|a| serde_json::to_value(a).unwrap_or_default()),
        };
        answer.map_err(|e| Asked::Failed(e.to_string()))
    }

    /// Elicitation, in the request's revision (see [`Self::ask`]).
    async fn elicit(
        &self,
        ctx: &RequestContext<RoleServer>,
        request: &CallToolRequestParams,
        params: Value,
        label: &str,
    ) -> CallToolResponse {
        let params: ElicitRequestParams = match serde_json::from_value(params) {
            Ok(p) => p,
            Err(e) => {
                return CallToolResult::error(vec![ContentBlock::text(format!(
                    "bad elicitation: {e}"
                ))])
                .into();
            }
        };
        let input = InputRequest::Elicitation(ElicitRequest::new(params));
        match self.ask(ctx, request, "elicitation", input).await {
            Ok(v) => text(format!(
                "{label}: action={}, content={}",
                v.get("action").and_then(Value::as_str).unwrap_or("unknown"),
                v.get("content").cloned().unwrap_or(Value::Null)
            )),
            Err(Asked::Now(need)) => need,
            Err(Asked::Failed(e)) => {
                CallToolResult::error(vec![ContentBlock::text(format!("elicitation failed: {e}"))])
                    .into()
            }
        }
    }
}

/// Why [`Fixtures::ask`] has no answer yet.
enum Asked {
    /// Answer with this (`input_required`) and wait for the retry.
    Now(CallToolResponse),
    Failed(String),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(18612);
    let fixtures = Fixtures::new();
    let options = HttpOptions::local(SocketAddr::from(([127, 0, 0, 1], port)));
    transport::serve(
        move || fixtures.clone(),
        options,
        pluggedin_mcp::shutdown::signal(),
    )
    .await
}
