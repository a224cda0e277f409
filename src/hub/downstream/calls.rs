//! Requests to a downstream server on its live connection: tool calls, prompts, resource
//! reads, completions and resource subscriptions. Each waits (within its bound) for a
//! server that is starting or reconnecting, is cancelled downstream when the client cancels,
//! is scrubbed of the server's secrets, and comes back complete: when the server answers
//! `input_required` (a 2026-07-28 server asking something) and the caller cannot take
//! that, the hub asks the caller and sends the request again with the answers.

use std::{sync::Arc, time::Duration};

use rmcp::{
    RoleClient,
    model::{
        CallToolRequest, CallToolRequestParams, CallToolResponse, CallToolResult,
        CancelledNotificationParam, ClientRequest, CompleteRequest, CompleteRequestParams,
        CompleteResult, GetPromptRequest, GetPromptRequestParams, GetPromptResponse,
        InputRequiredResult, InputResponses, ReadResourceRequest, ReadResourceRequestParams,
        ReadResourceResponse, RequestId, RequestMetaObject, ResultType, ServerResult,
        SubscribeRequest, SubscribeRequestParams, UnsubscribeRequest, UnsubscribeRequestParams,
    },
    service::{Peer, PeerRequestOptions},
};
use serde::{Serialize, de::DeserializeOwned};
use tokio_util::sync::CancellationToken;

use super::{Downstream, HubError, State, connect::Connection};
use crate::hub::relay::Caller;

/// How long a call waits for a server that is down to come back before failing (one that
/// is starting is waited for up to the call's own bound).
const RECONNECT_WAIT: Duration = Duration::from_secs(10);
/// Most `input_required` rounds the hub answers for a caller before giving up (as SDKs do).
const MAX_INPUT_ROUNDS: usize = 10;

/// The bounds of one request: each wait for the server (restarted by its progress), and the
/// longest it may take in all.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub timeout: Duration,
    pub max_total: Duration,
}

impl Bounds {
    fn options(self) -> PeerRequestOptions {
        PeerRequestOptions::with_timeout(self.timeout)
            .reset_timeout_on_progress()
            .with_max_total_timeout(self.max_total.max(self.timeout))
    }
}

impl Downstream {
    /// Sends `params` (already carrying the tool's own name) and returns the answer. What
    /// the server sends back during the call (progress, logs, requests) goes to `caller`.
    pub async fn call(
        &self,
        mut params: CallToolRequestParams,
        bounds: Bounds,
        caller: Option<Arc<Caller>>,
        ct: &CancellationToken,
    ) -> Result<CallToolResponse, HubError> {
        let call_started = tokio::time::Instant::now();
        let connection = self.live(call_started + bounds.timeout, ct).await?;
        let takes_tasks = caller
            .as_ref()
            .is_some_and(|c| c.capabilities.supports_tasks());
        self.hop_meta(&mut params.meta, &connection, caller.as_deref());
        let outcome = self
            .round_trips(
                &connection,
                caller.as_ref(),
                bounds,
                ct,
                |answers, state| {
                    let mut params = params.clone();
                    if answers.is_some() {
                        params.input_responses = answers;
                        params.request_state = state;
                    }
                    ClientRequest::CallToolRequest(CallToolRequest::new(params))
                },
            )
            .await?;
        match outcome {
            ServerResult::CallToolResult(mut result) => {
                self.scrub_result(&mut result);
                Ok(CallToolResponse::Complete(completed(result)))
            }
            ServerResult::InputRequiredResult(result) => {
                Ok(CallToolResponse::InputRequired(result))
            }
            ServerResult::CreateTaskResult(mut created) => match caller {
                // The client follows the task itself, under the hub's id for it.
                Some(caller) if takes_tasks => {
                    created.task.task_id = self.relay.tasks.adopt(
                        &self.spec.name,
                        &created.task.task_id,
                        caller.peer(),
                        created.task.ttl_ms,
                    );
                    Ok(CallToolResponse::Task(created))
                }
                // A client that cannot follow a task gets its result: the hub follows it.
                caller => {
                    let bounds = (bounds.timeout, bounds.max_total, call_started);
                    self.follow(&connection.peer, created.task, caller, bounds, ct)
                        .await
                        .map(|r| CallToolResponse::Complete(completed(r)))
                }
            },
            // A result with neither content nor anything else decodes as empty.
            ServerResult::EmptyResult(_) => Ok(CallToolResponse::Complete(completed(
                CallToolResult::default(),
            ))),
            _ => Err(self.failed(rmcp::ServiceError::UnexpectedResponse)),
        }
    }

    /// `prompts/get` under the prompt's own name.
    pub async fn get_prompt(
        &self,
        mut params: GetPromptRequestParams,
        bounds: Bounds,
        caller: Option<Arc<Caller>>,
        ct: &CancellationToken,
    ) -> Result<GetPromptResponse, HubError> {
        let connection = self
            .live(tokio::time::Instant::now() + bounds.timeout, ct)
            .await?;
        self.hop_meta(&mut params.meta, &connection, caller.as_deref());
        let outcome = self
            .round_trips(
                &connection,
                caller.as_ref(),
                bounds,
                ct,
                |answers, state| {
                    let mut params = params.clone();
                    if answers.is_some() {
                        params.input_responses = answers;
                        params.request_state = state;
                    }
                    ClientRequest::GetPromptRequest(GetPromptRequest::new(params))
                },
            )
            .await?;
        match outcome {
            ServerResult::GetPromptResult(mut result) => {
                result.result_type = Some(ResultType::COMPLETE);
                Ok(GetPromptResponse::Complete(self.scrubbed(result)))
            }
            ServerResult::InputRequiredResult(result) => {
                Ok(GetPromptResponse::InputRequired(result))
            }
            _ => Err(self.failed(rmcp::ServiceError::UnexpectedResponse)),
        }
    }

    /// `resources/read` of one of its URIs.
    pub async fn read_resource(
        &self,
        mut params: ReadResourceRequestParams,
        bounds: Bounds,
        caller: Option<Arc<Caller>>,
        ct: &CancellationToken,
    ) -> Result<ReadResourceResponse, HubError> {
        let connection = self
            .live(tokio::time::Instant::now() + bounds.timeout, ct)
            .await?;
        self.hop_meta(&mut params.meta, &connection, caller.as_deref());
        let outcome = self
            .round_trips(
                &connection,
                caller.as_ref(),
                bounds,
                ct,
                |answers, state| {
                    let mut params = params.clone();
                    if answers.is_some() {
                        params.input_responses = answers;
                        params.request_state = state;
                    }
                    ClientRequest::ReadResourceRequest(ReadResourceRequest::new(params))
                },
            )
            .await?;
        match outcome {
            ServerResult::ReadResourceResult(mut result) => {
                result.result_type = Some(ResultType::COMPLETE);
                Ok(ReadResourceResponse::Complete(self.scrubbed(result)))
            }
            ServerResult::InputRequiredResult(result) => {
                Ok(ReadResourceResponse::InputRequired(result))
            }
            _ => Err(self.failed(rmcp::ServiceError::UnexpectedResponse)),
        }
    }

    /// `completion/complete` of one of its prompts' arguments or templates' variables
    /// (`params` already name them as the server does).
    pub async fn complete(
        &self,
        mut params: CompleteRequestParams,
        bounds: Bounds,
        ct: &CancellationToken,
    ) -> Result<CompleteResult, HubError> {
        let connection = self
            .live(tokio::time::Instant::now() + bounds.timeout, ct)
            .await?;
        self.hop_meta(&mut params.meta, &connection, None);
        let request = ClientRequest::CompleteRequest(CompleteRequest::new(params));
        match self
            .exchange(&connection, request, None, bounds, ct)
            .await?
        {
            ServerResult::CompleteResult(mut result) => {
                result.result_type = Some(ResultType::COMPLETE);
                Ok(self.scrubbed(result))
            }
            _ => Err(self.failed(rmcp::ServiceError::UnexpectedResponse)),
        }
    }

    /// Subscribes to (or, `subscribe` false, unsubscribes from) updates of one of its
    /// resources. A 2026-07-28 connection has no such requests: its subscriptions follow
    /// the hub's list of subscribed URIs through `subscriptions/listen`.
    pub async fn subscription(
        &self,
        uri: String,
        subscribe: bool,
        bounds: Bounds,
        ct: &CancellationToken,
    ) -> Result<(), HubError> {
        let connection = self
            .live(tokio::time::Instant::now() + bounds.timeout, ct)
            .await?;
        if connection.modern {
            return Ok(());
        }
        let request = if subscribe {
            ClientRequest::SubscribeRequest(SubscribeRequest::new(SubscribeRequestParams::new(uri)))
        } else {
            ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(
                UnsubscribeRequestParams::new(uri),
            ))
        };
        self.exchange(&connection, request, None, bounds, ct)
            .await
            .map(|_| ())
    }

    /// Sends a request that the server may answer `input_required`; for a caller that
    /// cannot take that (a 2025-11-25 client, or none), the hub answers the server's
    /// questions through the caller and sends the request again, up to a few rounds.
    async fn round_trips(
        &self,
        connection: &Connection,
        caller: Option<&Arc<Caller>>,
        bounds: Bounds,
        ct: &CancellationToken,
        request: impl Fn(Option<InputResponses>, Option<String>) -> ClientRequest,
    ) -> Result<ServerResult, HubError> {
        let mut answers = None;
        let mut state = None;
        for _ in 0..MAX_INPUT_ROUNDS {
            let sent = request(answers.take(), state.take());
            match self.exchange(connection, sent, caller, bounds, ct).await? {
                ServerResult::InputRequiredResult(asked)
                    if !caller.is_some_and(|c| c.takes_input_required()) =>
                {
                    let (given, next) = self.answer(asked).await?;
                    answers = Some(given);
                    state = next;
                }
                other => return Ok(other),
            }
        }
        Err(HubError::Failed {
            server: self.spec.name.clone(),
            detail: format!("it asked for input {MAX_INPUT_ROUNDS} times without finishing"),
        })
    }

    /// Answers a server's `input_required` through the client of the call.
    async fn answer(
        &self,
        asked: InputRequiredResult,
    ) -> Result<(InputResponses, Option<String>), HubError> {
        let mut answers = InputResponses::new();
        for (key, request) in asked.input_requests.unwrap_or_default() {
            let answer = self
                .relay
                .ask(request)
                .await
                .map_err(|refused| HubError::Failed {
                    server: self.spec.name.clone(),
                    detail: format!(
                        "it asked the client something it cannot answer: {}",
                        refused.message
                    ),
                })?;
            answers.insert(key, answer);
        }
        Ok((answers, asked.request_state))
    }

    /// One request and its answer. While it runs, what the server sends back for it goes to
    /// `caller`; the client cancelling cancels it downstream.
    async fn exchange(
        &self,
        connection: &Connection,
        request: ClientRequest,
        caller: Option<&Arc<Caller>>,
        bounds: Bounds,
        ct: &CancellationToken,
    ) -> Result<ServerResult, HubError> {
        let started = std::time::Instant::now();
        let mut options = bounds.options();
        if connection.modern {
            options = options.with_meta(self.modern_hop(caller));
        }
        let handle = connection
            .peer
            .send_request_with_option(request, options)
            .await
            .map_err(|e| self.failed(e))?;
        // rmcp gives the request its own progress token: the server's progress arrives under
        // it and is mapped back to the client's. Registered before this task yields, so
        // before any answer of the server can be read.
        let _registered = caller.map(|c| {
            self.relay
                .in_flight
                .register(handle.progress_token.clone(), c.clone())
        });
        let mut abandoned = Abandoned::new(&connection.peer, handle.id.clone());
        let outcome = tokio::select! {
            biased;
            _ = ct.cancelled() => return Err(HubError::Cancelled),
            outcome = handle.await_response() => outcome,
        };
        abandoned.disarm();
        let latency = started.elapsed();
        self.update(|s| s.last_latency = Some(latency));
        outcome.map_err(|e| match e {
            rmcp::ServiceError::Timeout { timeout: after } => HubError::Timeout {
                server: self.spec.name.clone(),
                after,
            },
            other => self.failed(other),
        })
    }

    /// The `_meta` of a request on a 2026-07-28 connection, where what the client can do
    /// and the log level it wants go with each request: the caller's own.
    fn modern_hop(&self, caller: Option<&Arc<Caller>>) -> RequestMetaObject {
        let mut meta = RequestMetaObject::new();
        let capabilities = caller.map_or_else(
            || self.relay.clients.declared(),
            |c| {
                let mut caps = self.relay.clients.declared();
                caps.sampling = c.capabilities.sampling.clone();
                caps.elicitation = c.capabilities.elicitation.clone();
                caps.roots = c.capabilities.roots.clone();
                caps.extensions = c.capabilities.extensions.clone();
                caps
            },
        );
        meta.set_client_capabilities(capabilities);
        if let Some(level) = caller.and_then(|c| c.log_level) {
            meta.set_log_level(level);
        }
        meta
    }

    /// Removes its secrets from a tool result (text and structured content).
    pub(super) fn scrub_result(&self, result: &mut CallToolResult) {
        if !self.result_scrubber.has_known() {
            return;
        }
        if let Some(value) = result.structured_content.as_mut() {
            self.result_scrubber.scrub_known_json(value);
        }
        for block in result.content.iter_mut() {
            if let rmcp::model::ContentBlock::Text(text) = block
                && let std::borrow::Cow::Owned(clean) = self.result_scrubber.scrub_known(&text.text)
            {
                text.text = clean;
            }
        }
    }

    /// Any other answer with its secrets removed from every string in it.
    fn scrubbed<T: Serialize + DeserializeOwned>(&self, answer: T) -> T {
        if !self.result_scrubber.has_known() {
            return answer;
        }
        let Ok(mut value) = serde_json::to_value(&answer) else {
            return answer;
        };
        if !self.result_scrubber.scrub_known_json(&mut value) {
            return answer;
        }
        serde_json::from_value(value).unwrap_or(answer)
    }

    pub(super) fn failed(&self, error: rmcp::ServiceError) -> HubError {
        match error {
            // The hub's own finding (an answer too big or unreadable), not the server's error.
            rmcp::ServiceError::McpError(data)
                if data
                    .data
                    .as_ref()
                    .is_some_and(|d| d.get(super::stdio::UNREADABLE).is_some()) =>
            {
                HubError::Failed {
                    server: self.spec.name.clone(),
                    detail: data.message.into_owned(),
                }
            }
            rmcp::ServiceError::McpError(mut data) => {
                data.message = self.scrubber.scrub(&data.message).into_owned().into();
                // Its data says what the error is about (the capabilities a -32021 needs,
                // say): kept, without any configured value.
                if let Some(value) = data.data.as_mut() {
                    self.scrubber.scrub_json(value);
                }
                HubError::Server {
                    server: self.spec.name.clone(),
                    error: data,
                }
            }
            other => HubError::Failed {
                server: self.spec.name.clone(),
                detail: self.scrubber.scrub(&other.to_string()).into_owned(),
            },
        }
    }

    /// The live connection; a server that is down gets one immediate reconnect, and the
    /// request waits for it (a starting server, until `deadline`).
    pub(super) async fn live(
        &self,
        deadline: tokio::time::Instant,
        ct: &CancellationToken,
    ) -> Result<Arc<Connection>, HubError> {
        if let Some(connection) = self.current() {
            return Ok(connection);
        }
        let down = |s: &Self| {
            let snap = s.snapshot();
            let reason = match snap.state {
                State::BackingOff { reason } | State::Failed { reason } => reason,
                State::Disabled => "it is disabled in the configuration".into(),
                State::Starting => "it is still starting".into(),
                State::Ready => "its connection closed".into(),
            };
            HubError::Down {
                server: s.spec.name.clone(),
                reason,
            }
        };
        let starting = match self.snapshot().state {
            State::Failed { .. } | State::Disabled => return Err(down(self)),
            State::Starting => true,
            _ => false,
        };
        let mut changes = self.generation.subscribe();
        let wait_until = if starting {
            deadline
        } else {
            self.restart.notify_one();
            deadline.min(tokio::time::Instant::now() + RECONNECT_WAIT)
        };
        loop {
            if let Some(connection) = self.current() {
                return Ok(connection);
            }
            tokio::select! {
                biased;
                _ = ct.cancelled() => return Err(HubError::Cancelled),
                _ = tokio::time::sleep_until(wait_until) => return Err(down(self)),
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Err(down(self));
                    }
                    if let State::BackingOff { .. } | State::Failed { .. } = self.snapshot().state {
                        return Err(down(self));
                    }
                }
            }
        }
    }
}

/// A tool result marked complete (`resultType`, which 2026-07-28 requires; rmcp leaves it
/// out for 2025-11-25 clients).
fn completed(mut result: CallToolResult) -> CallToolResult {
    result.result_type = Some(ResultType::COMPLETE);
    result
}

/// Sends `notifications/cancelled` for a request abandoned before its answer (the client
/// cancelled its call), unless disarmed.
struct Abandoned<'a> {
    peer: &'a Peer<RoleClient>,
    id: Option<RequestId>,
}

impl<'a> Abandoned<'a> {
    fn new(peer: &'a Peer<RoleClient>, id: RequestId) -> Self {
        Self { peer, id: Some(id) }
    }

    fn disarm(&mut self) {
        self.id = None;
    }
}

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else {
            return;
        };
        let peer = self.peer.clone();
        tokio::spawn(async move {
            let reason = "cancelled by the client".to_string();
            let _ = peer
                .notify_cancelled(CancelledNotificationParam::new(Some(id), Some(reason)))
                .await;
        });
    }
}
