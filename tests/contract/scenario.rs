//! One walk through every route the client calls, successes and errors, as data: the recorder
//! (`examples/record_fixtures.rs`) runs it against the real Plugged.in app to write
//! `tests/fixtures/cloud/`, and the shape test runs it against the embedded API.
//!
//! Ids made along the way (a document, an agent, a notification) are captured from answers
//! and substituted into later paths and bodies; the fixtures keep the templates, never the
//! ids, and never the key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An id that names nothing, for the not-found steps.
pub const MISSING_ID: &str = "00000000-0000-4000-8000-000000000000";

/// One request of the walk.
pub struct Step {
    /// The fixture's file name (without `.json`).
    pub name: &'static str,
    pub method: &'static str,
    /// Path and query, with `{var}` placeholders.
    pub path: &'static str,
    /// A JSON body template with `{var}` placeholders (substituted as plain text, so
    /// values must be JSON-safe: ids and the run tag are).
    pub body: Option<&'static str>,
    /// Sends `Origin` and `X-Requested-With`, as the client does for document updates.
    pub csrf: bool,
    /// Sends a key that is not the configured one.
    pub wrong_key: bool,
    /// Variables to capture from the answer: (name, JSON pointer).
    pub capture: &'static [(&'static str, &'static str)],
}

const fn step(name: &'static str, method: &'static str, path: &'static str) -> Step {
    Step {
        name,
        method,
        path,
        body: None,
        csrf: false,
        wrong_key: false,
        capture: &[],
    }
}

impl Step {
    const fn body(mut self, body: &'static str) -> Self {
        self.body = Some(body);
        self
    }
    const fn csrf(mut self) -> Self {
        self.csrf = true;
        self
    }
    const fn wrong_key(mut self) -> Self {
        self.wrong_key = true;
        self
    }
    const fn capture(mut self, capture: &'static [(&'static str, &'static str)]) -> Self {
        self.capture = capture;
        self
    }
}

/// The walk, in order: later steps use what earlier ones made. Documents come first: the
/// cloud counts clipboard, search and document calls against one per-key budget, and its
/// document update refuses once that budget has seen ten calls in the current minute.
pub const STEPS: &[Step] = &[
    // Documents: create, read, update (the CSRF-guarded route), versions, list, search.
    step("doc_create", "POST", "/api/documents/ai")
        .body(
            r#"{"title":"Contract {run}","content":"The contract walk writes this document about quarterly planning.","format":"md","tags":["contract","planning"],"category":"other","metadata":{"model":{"name":"contract","provider":"test","version":"1"},"visibility":"private","context":"recorded by the contract walk"}}"#,
        )
        .capture(&[("doc", "/documentId")]),
    step("doc_create_invalid", "POST", "/api/documents/ai").body(
        r#"{"title":"","content":"x","format":"md","metadata":{"model":{"name":"contract","provider":"test"}}}"#,
    ),
    step(
        "doc_get",
        "GET",
        "/api/documents/{doc}?includeContent=true&includeVersions=false",
    ),
    step(
        "doc_get_missing",
        "GET",
        "/api/documents/{missing}?includeContent=true&includeVersions=false",
    ),
    step("doc_update", "PATCH", "/api/documents/{doc}")
        .body(
            r#"{"operation":"append","content":"An appended paragraph.","metadata":{"model":{"name":"contract","provider":"test","version":"1"},"changeSummary":"append a paragraph"}}"#,
        )
        .csrf(),
    step("doc_update_missing", "PATCH", "/api/documents/{missing}")
        .body(
            r#"{"operation":"append","content":"x","metadata":{"model":{"name":"contract","provider":"test"}}}"#,
        )
        .csrf(),
    step("doc_versions", "GET", "/api/documents/{doc}/versions"),
    step("doc_version", "GET", "/api/documents/{doc}/versions/2"),
    step("doc_version_missing", "GET", "/api/documents/{doc}/versions/99"),
    step("doc_list", "GET", "/api/documents?limit=10&offset=0&sort=date_desc"),
    step(
        "doc_list_filtered",
        "GET",
        "/api/documents?limit=10&offset=0&source=ai_generated&tags=contract",
    ),
    step("doc_search", "POST", "/api/documents/search")
        .body(r#"{"query":"quarterly planning","limit":10,"offset":0}"#),
    step("doc_search_invalid", "POST", "/api/documents/search")
        .body(r#"{"query":"","limit":10,"offset":0}"#),
    // Clipboard: named and indexed entries, the stack, errors, then clean-up.
    step("clipboard_clear", "DELETE", "/api/clipboard").body(r#"{"clearAll":true}"#),
    step("clipboard_set", "POST", "/api/clipboard").body(
        r#"{"name":"contract-{run}","value":"hello from the contract","contentType":"text/plain","encoding":"utf-8","ttlSeconds":3600,"createdByModel":"contract","createdByTool":"clipboard_set","source":"mcp"}"#,
    ),
    step("clipboard_set_idx", "POST", "/api/clipboard").body(
        r#"{"idx":7,"value":"{\"k\":1}","contentType":"application/json","encoding":"utf-8","createdByTool":"clipboard_set","source":"mcp"}"#,
    ),
    step("clipboard_set_invalid", "POST", "/api/clipboard").body(r#"{"value":"no name or idx"}"#),
    step("clipboard_get", "GET", "/api/clipboard?name=contract-{run}"),
    step("clipboard_get_idx", "GET", "/api/clipboard?idx=7"),
    step("clipboard_get_missing", "GET", "/api/clipboard?name=missing-{run}"),
    step("clipboard_push", "POST", "/api/clipboard/push")
        .body(r#"{"value":"pushed","contentType":"text/plain","encoding":"utf-8","createdByTool":"clipboard_push","source":"mcp"}"#),
    step("clipboard_list", "GET", "/api/clipboard?limit=50&offset=0"),
    step(
        "clipboard_list_filtered",
        "GET",
        "/api/clipboard?limit=50&offset=0&contentType=application/json",
    ),
    step("clipboard_pop", "POST", "/api/clipboard/pop").body("{}"),
    step("clipboard_delete", "DELETE", "/api/clipboard").body(r#"{"name":"contract-{run}"}"#),
    step("clipboard_delete_idx", "DELETE", "/api/clipboard").body(r#"{"idx":7}"#),
    step("clipboard_delete_missing", "DELETE", "/api/clipboard")
        .body(r#"{"name":"missing-{run}"}"#),
    step("clipboard_pop_empty", "POST", "/api/clipboard/pop").body("{}"),
    step("rag_query", "POST", "/api/rag/query")
        .body(r#"{"query":"quarterly planning","includeMetadata":true}"#),
    // Notifications: the cloud's custom route returns no id, so the list supplies it.
    step("notification_send", "POST", "/api/notifications/custom").body(
        r#"{"title":"Contract {run}","message":"recorded by the contract walk","severity":"INFO","sendEmail":false}"#,
    ),
    step("notification_send_invalid", "POST", "/api/notifications/custom")
        .body(r#"{"message":"","severity":"LOUD"}"#),
    step("notification_list", "GET", "/api/notifications?limit=5")
        .capture(&[("notification", "/notifications/0/id")]),
    step(
        "notification_list_unread",
        "GET",
        "/api/notifications?limit=5&onlyUnread=true",
    ),
    step("notification_read", "PATCH", "/api/notifications/{notification}/read").body("{}"),
    step(
        "notification_completed",
        "PATCH",
        "/api/notifications/{notification}/completed",
    )
    .body("{}"),
    step(
        "notification_read_missing",
        "PATCH",
        "/api/notifications/{missing}/read",
    )
    .body("{}"),
    step(
        "notification_delete",
        "DELETE",
        "/api/notifications/{notification}",
    ),
    step(
        "notification_delete_missing",
        "DELETE",
        "/api/notifications/{missing}",
    ),
    // Agents: the lifecycle as far as each backend can take it.
    step("agent_create", "POST", "/api/agents")
        .body(r#"{"name":"contract-{run}","description":"recorded by the contract walk","image":"nginx:alpine","access_level":"PRIVATE"}"#)
        .capture(&[("agent", "/agent/uuid")]),
    step("agent_create_invalid", "POST", "/api/agents").body(r#"{"name":"Not A DNS Name!"}"#),
    step("agent_list", "GET", "/api/agents"),
    step("agent_get", "GET", "/api/agents/{agent}"),
    step("agent_get_missing", "GET", "/api/agents/{missing}"),
    step("agent_heartbeat", "POST", "/api/agents/{agent}/heartbeat")
        .body(r#"{"mode":"IDLE","uptime_seconds":5}"#),
    step("agent_metrics", "POST", "/api/agents/{agent}/metrics").body(
        r#"{"cpu_percent":12.5,"memory_mb":256,"requests_handled":3,"custom_metrics":{"queue":1}}"#,
    ),
    step("agent_export", "POST", "/api/agents/{agent}/export")
        .body(r#"{"include_telemetry":true,"telemetry_limit":10}"#),
    step("agent_logs", "GET", "/api/agents/{agent}/logs?tail=20"),
    step("agent_suspend", "POST", "/api/agents/{agent}/suspend")
        .body(r#"{"reason":"contract walk"}"#),
    step("agent_resume", "POST", "/api/agents/{agent}/resume").body("{}"),
    step("agent_restart", "POST", "/api/agents/{agent}/restart").body(r#"{"force":true}"#),
    step("agent_shutdown", "POST", "/api/agents/{agent}/shutdown")
        .body(r#"{"drain_timeout_seconds":10}"#),
    step("agent_delete", "DELETE", "/api/agents/{agent}"),
    step("agent_delete_missing", "DELETE", "/api/agents/{missing}"),
    // Memory: a session's life, its observations, search and details.
    step("memory_start", "POST", "/api/memory/sessions")
        .body(r#"{"content_session_id":"contract-{run}"}"#)
        .capture(&[("memsession", "/data/uuid"), ("memid", "/data/memorySessionId")]),
    step("memory_start_invalid", "POST", "/api/memory/sessions").body("{}"),
    step("memory_session", "GET", "/api/memory/sessions/{memid}"),
    step("memory_session_missing", "GET", "/api/memory/sessions/{missing}"),
    step(
        "memory_observe",
        "POST",
        "/api/memory/sessions/{memsession}/observations",
    )
    .body(
        r#"{"type":"insight","content":"The contract walk records an insight about {run}.","outcome":"success","metadata":{"tool_name":"contract"}}"#,
    ),
    step(
        "memory_observe_invalid",
        "POST",
        "/api/memory/sessions/{memsession}/observations",
    )
    .body(r#"{"type":"nonsense","content":"x"}"#),
    step(
        "memory_observations",
        "GET",
        "/api/memory/sessions/{memsession}/observations",
    ),
    step("memory_search", "POST", "/api/memory/search")
        .body(r#"{"query":"contract walk insight","top_k":5}"#),
    step("memory_search_invalid", "POST", "/api/memory/search").body(r#"{"query":""}"#),
    step("memory_details", "POST", "/api/memory/search/details")
        .body(r#"{"memory_uuids":["{missing}"]}"#),
    step("memory_end", "PATCH", "/api/memory/sessions/{memid}").body(r#"{"action":"end"}"#),
    step("memory_end_again", "PATCH", "/api/memory/sessions/{memid}")
        .body(r#"{"action":"end"}"#),
    // The hub: the account's servers (one made for the walk: Plugged.in's UI makes them;
    // this is the API it uses), the tool catalog the hub reports to and reads back, and a
    // call's activity report.
    step("hub_server_create", "POST", "/api/mcp-servers")
        .body(
            r#"{"name":"contract-{run}","type":"STDIO","command":"node","args":["server.js"],"env":{"LOG_LEVEL":"info"}}"#,
        )
        .capture(&[("server", "/uuid")]),
    step("hub_servers", "GET", "/api/mcp-servers"),
    step("hub_tools_report", "POST", "/api/tools").body(
        r#"{"tools":[{"name":"echo","description":"Echoes its text","toolSchema":{"type":"object","properties":{"text":{"type":"string"}}},"mcp_server_uuid":"{server}"}]}"#,
    ),
    step("hub_tools", "GET", "/api/tools"),
    step("hub_activity", "POST", "/api/notifications/mcp-activity").body(
        r#"{"action":"tool_call","serverName":"contract-{run}","serverUuid":"{server}","itemName":"echo","success":true,"executionTime":12.5}"#,
    ),
    step("wrong_key", "GET", "/api/notifications?limit=1").wrong_key(),
];

/// What one step sent and got: the fixture file's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Exchange {
    pub name: String,
    pub method: String,
    /// The path template (placeholders kept).
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Value>,
    pub status: u16,
    pub content_type: String,
    /// The answer: parsed JSON, or the text as a JSON string.
    pub body: Value,
}

/// Where the walk runs.
pub struct Target {
    /// `http://host:port`, no trailing slash.
    pub base: String,
    pub key: String,
    pub http: reqwest::Client,
}

/// Runs every step in order; captured variables flow into later steps.
pub async fn run(target: &Target, run_tag: &str) -> Result<Vec<Exchange>, String> {
    let mut vars = BTreeMap::from([
        ("run".to_string(), run_tag.to_string()),
        ("missing".to_string(), MISSING_ID.to_string()),
    ]);
    let mut out = Vec::with_capacity(STEPS.len());
    for step in STEPS {
        let exchange = send(target, step, &vars).await?;
        for (var, pointer) in step.capture {
            let value = exchange
                .body
                .pointer(pointer)
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    format!(
                        "step {}: no string at {pointer} to capture as {var}: {}",
                        step.name, exchange.body
                    )
                })?;
            vars.insert(var.to_string(), value.to_string());
        }
        out.push(exchange);
    }
    Ok(out)
}

fn fill(template: &str, vars: &BTreeMap<String, String>) -> String {
    vars.iter().fold(template.to_string(), |text, (k, v)| {
        text.replace(&format!("{{{k}}}"), v)
    })
}

async fn send(
    target: &Target,
    step: &Step,
    vars: &BTreeMap<String, String>,
) -> Result<Exchange, String> {
    let method = reqwest::Method::from_bytes(step.method.as_bytes()).map_err(|e| e.to_string())?;
    let url = format!("{}{}", target.base, fill(step.path, vars));
    let key = if step.wrong_key {
        "pg_in_contractWrongKey0000000000000000"
    } else {
        target.key.as_str()
    };
    let mut req = target.http.request(method, &url).bearer_auth(key);
    let request = match step.body {
        Some(template) => {
            let body: Value = serde_json::from_str(&fill(template, vars))
                .map_err(|e| format!("step {}: body template: {e}", step.name))?;
            req = req.json(&body);
            Some(serde_json::from_str::<Value>(template).unwrap_or(Value::Null))
        }
        None => None,
    };
    if step.csrf {
        req = req
            .header("Origin", &target.base)
            .header("X-Requested-With", "XMLHttpRequest");
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("step {}: {url}: {e}", step.name))?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = resp
        .text()
        .await
        .map_err(|e| format!("step {}: reading the answer: {e}", step.name))?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok(Exchange {
        name: step.name.to_string(),
        method: step.method.to_string(),
        path: step.path.to_string(),
        request,
        status,
        content_type,
        body,
    })
}
