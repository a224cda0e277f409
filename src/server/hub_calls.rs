//! The server's side of the hub: requests for the user's own MCP servers, made in the
//! client's name and answered in the client's protocol revision — its progress token, log
//! level and capabilities passed on, the answer held to the result budget and scrubbed, the
//! errors turned into what the client's revision expects — and the `list_changed`
//! announcements of a session whose hub's lists change.

use std::sync::Arc;

use rmcp::{
    ErrorData, RoleServer,
    model::{CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock},
    service::RequestContext,
};

use super::PluggedinServer;
use crate::{
    hub::{ClientSide, Hub, HubError, relay::Reply},
    tools::{is_modern, logging, reply},
};

/// How often a session's change announcer checks that its client is still there.
const ANNOUNCER_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// One of the lists a hub changes.
#[derive(Debug, Clone, Copy)]
pub(super) enum List {
    Tools,
    Prompts,
    Resources,
}

/// Which lists a 2025-11-25 session has read: only those are announced as changed (a
/// client that never listed tools has nothing to refresh, and a one-shot client that is
/// closing would only get a message it cannot take).
#[derive(Debug, Default)]
pub struct SeenLists {
    tools: std::sync::atomic::AtomicBool,
    prompts: std::sync::atomic::AtomicBool,
    resources: std::sync::atomic::AtomicBool,
}

impl SeenLists {
    fn flag(&self, list: List) -> &std::sync::atomic::AtomicBool {
        match list {
            List::Tools => &self.tools,
            List::Prompts => &self.prompts,
            List::Resources => &self.resources,
        }
    }

    pub(super) fn saw(&self, list: List) {
        self.flag(list)
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn has_seen(&self, list: List) -> bool {
        self.flag(list).load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Calls `send` for each hub list that changes, until `until` resolves or `send` says the
/// client is gone: the `list_changed` of a 2025-11-25 session, or of a 2026-07-28 client's
/// `subscriptions/listen`.
pub(super) async fn announce_changes<F, Fut>(
    mut changes: tokio::sync::watch::Receiver<crate::hub::Changes>,
    mut send: F,
    until: impl std::future::Future<Output = ()>,
) where
    F: FnMut(List) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut seen = *changes.borrow_and_update();
    tokio::pin!(until);
    loop {
        tokio::select! {
            _ = &mut until => return,
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                let now = *changes.borrow_and_update();
                for (list, changed) in [
                    (List::Tools, now.tools != seen.tools),
                    (List::Prompts, now.prompts != seen.prompts),
                    (List::Resources, now.resources != seen.resources),
                ] {
                    if changed && !send(list).await {
                        return;
                    }
                }
                seen = now;
            }
        }
    }
}

/// [`announce_changes`] to a 2025-11-25 session, until it ends: of the lists it has read.
pub(super) async fn announce_to_session(
    changes: tokio::sync::watch::Receiver<crate::hub::Changes>,
    peer: rmcp::service::Peer<RoleServer>,
    seen: Arc<SeenLists>,
) {
    let closed = {
        let peer = peer.clone();
        async move {
            while !peer.is_transport_closed() {
                tokio::time::sleep(ANNOUNCER_CHECK).await;
            }
        }
    };
    let send = |list| {
        let peer = peer.clone();
        let read = seen.has_seen(list);
        async move {
            if !read {
                return true;
            }
            match list {
                List::Tools => peer.notify_tool_list_changed().await,
                List::Prompts => peer.notify_prompt_list_changed().await,
                List::Resources => peer.notify_resource_list_changed().await,
            }
            .is_ok()
        }
    };
    announce_changes(changes, send, closed).await;
}

impl PluggedinServer {
    /// The client side of a request to the hub: where its progress and log messages go,
    /// what it can do, and which protocol revision it speaks.
    pub(super) fn client_side(&self, context: &RequestContext<RoleServer>) -> ClientSide {
        ClientSide {
            reply: Reply {
                peer: context.peer.clone(),
                progress_token: context.meta.get_progress_token(),
            },
            log_level: logging::threshold(context, self.tools.session()),
            capabilities: context.client_capabilities().unwrap_or_default(),
            modern: is_modern(context),
        }
    }

    /// A downstream prompt or resource answer, refused when it is larger than the result
    /// budget (tool results are cut instead; these have no paging to point to).
    pub(super) fn within_budget<T: serde::Serialize>(
        &self,
        answer: &T,
        what: &str,
    ) -> Result<(), ErrorData> {
        let size = serde_json::to_vec(answer).map_or(usize::MAX, |b| b.len());
        let limit = self.tools.budget().text_bytes();
        if size > limit {
            return Err(ErrorData::internal_error(
                format!(
                    "{what}: the downstream server's answer is {size} bytes, over this server's result budget of {limit} (--max-result-bytes)"
                ),
                None,
            ));
        }
        Ok(())
    }

    /// A call to a downstream server's tool: its answer as it is (within the result budget,
    /// scrubbed like ours), or an error result saying why there is none; the server's own
    /// protocol errors pass on as they are. A task the server makes of it is handed to the
    /// client when `may_follow` and the client declared the tasks extension; otherwise the
    /// hub follows it and answers with its result.
    pub(super) async fn call_downstream(
        &self,
        hub: &Hub,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
        may_follow: bool,
    ) -> Result<CallToolResponse, ErrorData> {
        let scrubber = self.tools.scrubber(&context);
        let mut client = self.client_side(&context);
        if !may_follow && let Some(extensions) = client.capabilities.extensions.as_mut() {
            extensions.remove(rmcp::model::TASKS_EXTENSION_ID);
        }
        // The client's `_meta` goes on with the call (the hub's own progress token and hop
        // keys replace the client's).
        let request = with_meta(request, &context);
        let outcome = hub.call(request, client, &context.ct).await;
        match outcome {
            Some(Ok(CallToolResponse::Complete(mut result))) => {
                reply::finish(&mut result, &scrubber, self.tools.budget());
                Ok(CallToolResponse::Complete(result))
            }
            Some(Ok(other)) => Ok(other),
            Some(Err(error)) => match protocol_error(error) {
                Ok(error) => Err(error),
                Err(failure) => {
                    let text = scrubber.scrub(&failure.to_string()).into_owned();
                    Ok(CallToolResult::error(vec![ContentBlock::text(text)]).into())
                }
            },
            None => Ok(CallToolResult::error(vec![ContentBlock::text(
                "this tool's server left the hub while the call was starting; list the tools again",
            )])
            .into()),
        }
    }

    /// A downstream task's final result, held to what every result of ours is held to (the
    /// budget, the key scrubbed). A result that is not a tool result is only scrubbed.
    pub(super) fn finish_task_result(
        &self,
        result: &mut rmcp::model::JsonObject,
        context: &RequestContext<RoleServer>,
    ) {
        let scrubber = self.tools.scrubber(context);
        let mut value = serde_json::Value::Object(std::mem::take(result));
        match serde_json::from_value::<CallToolResult>(value.clone()) {
            Ok(mut tool_result) => {
                reply::finish(&mut tool_result, &scrubber, self.tools.budget());
                if let Ok(finished) = serde_json::to_value(tool_result) {
                    value = finished;
                }
            }
            Err(_) => {
                scrubber.scrub_known_json(&mut value);
            }
        }
        if let serde_json::Value::Object(clean) = value {
            *result = clean;
        }
    }

    /// The hub of this request, after telling it about a 2026-07-28 client (which sends no
    /// `initialize`): what the client can do, and that servers may start.
    pub(super) async fn hub_for(&self, context: &RequestContext<RoleServer>) -> Option<Hub> {
        let hub = self.hub(&context.extensions).await?;
        if is_modern(context) {
            hub.client_seen(&context.client_capabilities().unwrap_or_default());
        }
        Some(hub)
    }
}

/// A hub failure as the client gets it when it is a protocol error — the server's own
/// JSON-RPC error (its code kept), or the hub refusing the request — else the failure,
/// for a tool's error result or a message.
pub(super) fn protocol_error(error: HubError) -> Result<ErrorData, HubError> {
    match error {
        HubError::Server { error, .. } => Ok(error),
        HubError::InvalidParams(message) => Ok(ErrorData::invalid_params(message, None)),
        HubError::InvalidRequest(message) => Ok(ErrorData::invalid_request(message, None)),
        other => Err(other),
    }
}

/// A hub failure of a prompt, resource or completion request, as a protocol error.
pub(super) fn as_protocol_error(error: HubError) -> ErrorData {
    protocol_error(error).unwrap_or_else(|other| ErrorData::internal_error(other.to_string(), None))
}

/// `params` with the `_meta` the client sent, which rmcp keeps in the request's context:
/// what the hub passes on to a downstream server with the request.
pub(super) fn with_meta<P: rmcp::model::RequestParamsMeta>(
    mut params: P,
    context: &RequestContext<RoleServer>,
) -> P {
    if !context.meta.0.0.is_empty() {
        params.set_meta(context.meta.clone());
    }
    params
}

/// A key identifying a session (or a listen stream) as the owner of resource
/// subscriptions.
pub(super) fn owner_of<T>(session: &Arc<T>) -> usize {
    Arc::as_ptr(session) as *const () as usize
}

/// A key of its own for each `subscriptions/listen` stream, as the owner of its resource
/// subscriptions (never a session's: those are addresses, which are even).
pub(super) fn listen_owner() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
    NEXT.fetch_add(2, std::sync::atomic::Ordering::Relaxed)
}
