//! The hub's own logic — the merged catalog, routing, a server's loss and return — tested
//! with servers in this process ([`spec::Transport::Memory`]): no child process, no socket.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
        PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    },
    service::RequestContext,
};
use tokio_util::sync::CancellationToken;

use super::{
    Hub, HubSettings, Source,
    spec::{MemoryServer, Protocol, ServerSpec, Transport},
};

/// A server whose tools echo, each answer naming the server.
#[derive(Clone)]
struct Echo {
    label: &'static str,
    tools: &'static [&'static str],
}

impl ServerHandler for Echo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let schema = Arc::new(serde_json::Map::from_iter([(
            "type".to_string(),
            serde_json::json!("object"),
        )]));
        Ok(ListToolsResult::with_all_items(
            self.tools
                .iter()
                .map(|name| Tool::new(*name, "echoes", schema.clone()))
                .collect(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        Ok(CallToolResult::success(vec![ContentBlock::text(format!(
            "{}: {}",
            self.label, request.name
        ))])
        .into())
    }
}

/// A server that offers `sample` only to a client that said it can sample, as
/// server-everything does.
#[derive(Clone)]
struct Sampler;

impl ServerHandler for Sampler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let samples = context
            .peer
            .peer_info()
            .is_some_and(|info| info.capabilities.sampling.is_some());
        let schema = Arc::new(serde_json::Map::from_iter([(
            "type".to_string(),
            serde_json::json!("object"),
        )]));
        let mut tools = vec![Tool::new("plain", "always there", schema.clone())];
        if samples {
            tools.push(Tool::new("sample", "asks the client to sample", schema));
        }
        Ok(ListToolsResult::with_all_items(tools))
    }
}

fn spec(name: &str, server: MemoryServer) -> ServerSpec {
    let mut spec = ServerSpec::invalid(name, String::new());
    spec.transport = Transport::Memory(server);
    spec.protocol = Protocol::V2025;
    spec
}

/// The hub's tool names once `ready` holds (servers start in the background).
async fn tools_when(hub: &Hub, ready: impl Fn(&[String]) -> bool) -> Vec<String> {
    for _ in 0..200 {
        let names: Vec<String> = hub.tools().iter().map(|t| t.name.to_string()).collect();
        if ready(&names) {
            return names;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not ready: {:?}", hub.tools());
}

async fn call(hub: &Hub, name: &str) -> String {
    let outcome = hub
        .call_as(
            CallToolRequestParams::new(name.to_string()),
            None,
            &CancellationToken::new(),
        )
        .await
        .unwrap_or_else(|| panic!("{name} is not routed"))
        .unwrap();
    let CallToolResponse::Complete(result) = outcome else {
        panic!("{name}: not a complete result");
    };
    match &result.content[0] {
        ContentBlock::Text(text) => text.text.clone(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn two_servers_with_the_same_tool_names_are_told_apart_and_routed() {
    let hub = Hub::new(HubSettings::default());
    hub.set_source(
        Source::File,
        vec![
            spec(
                "alpha",
                MemoryServer::of(|| Echo {
                    label: "A",
                    tools: &["echo", "ping"],
                }),
            ),
            spec(
                "beta",
                MemoryServer::of(|| Echo {
                    label: "B",
                    tools: &["echo"],
                }),
            ),
        ],
    );
    hub.client_seen(&Default::default());
    let names = tools_when(&hub, |n| n.len() == 3).await;
    assert_eq!(names, ["alpha__echo", "alpha__ping", "beta__echo"]);
    assert_eq!(call(&hub, "alpha__echo").await, "A: echo");
    assert_eq!(call(&hub, "beta__echo").await, "B: echo");
    hub.shutdown();
}

#[tokio::test]
async fn a_server_removed_from_the_source_leaves_the_catalog() {
    let hub = Hub::new(HubSettings::default());
    let alpha = spec(
        "alpha",
        MemoryServer::of(|| Echo {
            label: "A",
            tools: &["echo"],
        }),
    );
    let beta = spec(
        "beta",
        MemoryServer::of(|| Echo {
            label: "B",
            tools: &["echo"],
        }),
    );
    hub.set_source(Source::File, vec![alpha.clone(), beta]);
    hub.client_seen(&Default::default());
    tools_when(&hub, |n| n.len() == 2).await;
    hub.set_source(Source::File, vec![alpha]);
    let names = tools_when(&hub, |n| n.len() == 1).await;
    assert_eq!(names, ["alpha__echo"]);
    assert!(
        hub.call_as(
            CallToolRequestParams::new("beta__echo"),
            None,
            &CancellationToken::new()
        )
        .await
        .is_none()
    );
    hub.shutdown();
}

#[tokio::test]
async fn servers_start_only_once_a_client_is_seen_and_each_connection_is_new() {
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    let server = MemoryServer(Arc::new(move |pipe| {
        counted.fetch_add(1, Ordering::SeqCst);
        (MemoryServer::of(|| Echo {
            label: "A",
            tools: &["echo"],
        })
        .0)(pipe);
    }));
    let hub = Hub::new(HubSettings::default());
    hub.set_source(Source::File, vec![spec("alpha", server)]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "started before any client"
    );
    hub.client_seen(&Default::default());
    tools_when(&hub, |n| n.len() == 1).await;
    assert_eq!(connections.load(Ordering::SeqCst), 1);
    hub.shutdown();
}

#[tokio::test]
async fn a_call_waits_for_the_connection_renewed_for_a_client_that_can_do_more() {
    let hub = Hub::new(HubSettings::default());
    hub.set_source(Source::File, vec![spec("s", MemoryServer::of(|| Sampler))]);
    hub.client_seen(&Default::default());
    tools_when(&hub, |n| n == ["s__plain"]).await;
    // A client that samples joins: the server was promised less, so its connection is
    // renewed, and a call to the tool it will then offer waits for it instead of failing.
    let mut sampling = rmcp::model::ClientCapabilities::default();
    sampling.sampling = Some(Default::default());
    hub.client_seen(&sampling);
    assert!(
        hub.wait_for_tool("s__sample", Duration::from_secs(10))
            .await
    );
    assert!(hub.has_tool("s__sample"));
    hub.shutdown();
}
