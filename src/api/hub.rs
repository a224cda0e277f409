//! The user's MCP servers as Plugged.in keeps them: `GET /api/mcp-servers` answers a bare
//! array of the profile's ACTIVE servers, every column of the row with the secrets
//! decrypted (`command`, `args`, `env`, `url`, and `streamableHTTPOptions.headers`, which
//! carry refreshed OAuth tokens), `type` (`STDIO`, `SSE`, `STREAMABLE_HTTP`), a `slug` that
//! may be null, and `customInstructions` (MCP prompt messages) when the user wrote some.
//! Kept as JSON here: the hub reads the few fields it needs and ignores the rest.

use serde_json::Value;

use super::{ApiError, Client, Request};

impl Client {
    pub async fn mcp_servers(&self) -> Result<Vec<Value>, ApiError> {
        self.json(Request::get(&["api", "mcp-servers"])).await
    }

    /// `GET /api/tools`: the tools Plugged.in last discovered on the account's ACTIVE
    /// servers, under their own names, grouped by server uuid (`_serverUuid`). Entries
    /// without a name, a server or an object schema are skipped: this is a cache, and a
    /// broken entry only means that tool shows up when its server does.
    pub async fn cached_tools(
        &self,
    ) -> Result<std::collections::HashMap<String, Vec<rmcp::model::Tool>>, ApiError> {
        #[derive(serde::Deserialize)]
        struct Listing {
            #[serde(default)]
            tools: Vec<Value>,
        }
        let listing: Listing = self.json(Request::get(&["api", "tools"])).await?;
        let mut by_server: std::collections::HashMap<String, Vec<rmcp::model::Tool>> =
            Default::default();
        for entry in listing.tools {
            let (Some(server), Some(name), Some(Value::Object(schema))) = (
                entry.get("_serverUuid").and_then(Value::as_str),
                entry.get("name").and_then(Value::as_str),
                entry.get("inputSchema"),
            ) else {
                continue;
            };
            let mut tool = rmcp::model::Tool::new(
                name.to_string(),
                entry
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                std::sync::Arc::new(schema.clone()),
            );
            if tool.description.as_deref() == Some("") {
                tool.description = None;
            }
            by_server.entry(server.to_string()).or_default().push(tool);
        }
        Ok(by_server)
    }
}

/// One use of a downstream server, as `POST /api/notifications/mcp-activity` takes it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    /// `tool_call`, `prompt_get` or `resource_read`.
    pub action: &'static str,
    pub server_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_uuid: Option<String>,
    /// The tool or prompt name, or the resource URI, as the server knows it.
    pub item_name: String,
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Milliseconds.
    pub execution_time: f64,
}

impl Client {
    /// Never retried: a lost report is better than a late or doubled one.
    pub async fn report_activity(&self, activity: &Activity) -> Result<(), ApiError> {
        self.json::<Value>(
            Request::post(
                &["api", "notifications", "mcp-activity"],
                serde_json::json!(activity),
            )
            .not_retried(),
        )
        .await
        .map(drop)
    }
}

impl Client {
    /// `POST /api/tools`: the tools an MCP client discovered on one of the account's
    /// servers, so Plugged.in's catalog (and every client that reads it) knows them.
    pub async fn report_tools(
        &self,
        server_uuid: &str,
        tools: &[rmcp::model::Tool],
    ) -> Result<(), ApiError> {
        let tools: Vec<Value> = tools
            .iter()
            .map(|t| {
                serde_json::json!({
                    "name": t.name,
                    "description": t.description,
                    "toolSchema": t.input_schema.as_ref(),
                    "mcp_server_uuid": server_uuid,
                })
            })
            .collect();
        if tools.is_empty() {
            return Ok(());
        }
        self.json::<Value>(
            Request::post(&["api", "tools"], serde_json::json!({ "tools": tools })).not_retried(),
        )
        .await
        .map(drop)
    }
}

impl Client {
    /// `POST /api/discover/all` (or `/{server uuid}`): asks Plugged.in to connect to the
    /// account's servers itself and refresh its catalog, for the clients that read it.
    pub async fn discover(&self, server_uuid: Option<&str>) -> Result<Value, ApiError> {
        let target = server_uuid.unwrap_or("all");
        self.json(
            Request::post(
                &["api", "discover", target],
                serde_json::json!({ "force_refresh": true }),
            )
            .not_retried(),
        )
        .await
    }
}
