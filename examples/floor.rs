//! The performance floor: a bare rmcp server — one `echo` tool and nothing else — over
//! stdio, on the same rmcp, tokio and release profile as `pluggedin-mcp`, so the benches
//! print ours/floor ratios measured in one run (`benches/perf.rs`), figures that survive a
//! noisy machine. It uses nothing of this crate.
//!
//! ```sh
//! cargo build --release --example floor && target/release/examples/floor
//! ```

use std::sync::Arc;

use rmcp::{
    ErrorData, RoleServer, ServerHandler, ServiceExt,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
        ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    },
    service::RequestContext,
};

struct Floor;

impl ServerHandler for Floor {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("floor", "0.0.0"))
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut schema = serde_json::Map::new();
        schema.insert("type".into(), "object".into());
        Ok(ListToolsResult::with_all_items(vec![Tool::new(
            "echo",
            "Echoes its arguments.",
            Arc::new(schema),
        )]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let text = serde_json::to_string(&request.arguments).unwrap_or_default();
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
    }
}

fn main() -> std::io::Result<()> {
    // One client, one thread: how `pluggedin-mcp` serves stdio too.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            if let Ok(service) = Floor.serve(rmcp::transport::stdio()).await {
                let _ = service.waiting().await;
            }
        });
    Ok(())
}
