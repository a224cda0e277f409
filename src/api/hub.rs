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
}
