//! A downstream server's tasks (SEP-2663): the `_meta` of the hub's own hop (offering tasks
//! only for a client that can follow them), following a task for a client that cannot —
//! polling it, answering what it asks through the client, returning its result — and
//! `tasks/get`, `tasks/update` and `tasks/cancel` for a client that follows one itself.

use std::{collections::HashSet, sync::Arc, time::Duration};

use rmcp::{
    RoleClient,
    model::{
        CallToolResult, CancelTaskParams, ClientCapabilities, GetTaskParams, GetTaskResult,
        InputRequests, InputResponses, JsonObject, ProgressNotificationParam, RequestMetaObject,
        TASKS_EXTENSION_ID, Task, TaskPayload, UpdateTaskParams,
    },
    service::Peer,
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{Downstream, HubError};
use crate::hub::relay::Caller;

/// `_meta` keys that describe one hop of a request (SEP-2575: the client's revision,
/// identity, capabilities and log level). The hub's request to a server is a hop of its own
/// (a 2025-11-25 session), so a client's are not passed on: a 2026-07-28 client's would make
/// the server treat the call as a stateless 2026-07-28 request, in which it may not ask its
/// client anything.
const HOP_KEYS: [&str; 4] = [
    "io.modelcontextprotocol/protocolVersion",
    "io.modelcontextprotocol/clientInfo",
    "io.modelcontextprotocol/clientCapabilities",
    "io.modelcontextprotocol/logLevel",
];

/// Bounds of the interval between two polls of a task the hub follows (the server suggests
/// one with `pollIntervalMs`).
const POLL_MIN: Duration = Duration::from_millis(50);
const POLL_MAX: Duration = Duration::from_secs(5);
/// Most characters of a client's task id quoted back in an error.
const QUOTED_ID_CHARS: usize = 100;

/// Removes the client's hop keys from a request's `_meta` (and an emptied `_meta`).
pub fn strip_hop_keys(meta: &mut Option<RequestMetaObject>) {
    if let Some(m) = meta.as_mut() {
        for key in HOP_KEYS {
            m.0.0.remove(key);
        }
        if m.0.0.is_empty() {
            *meta = None;
        }
    }
}

/// An id nobody handed out (or whose time is over): `-32602`, as SEP-2663 asks.
pub fn unknown_task(id: &str) -> HubError {
    HubError::InvalidParams(format!(
        "unknown task {:?}: not a task this server handed out, or its time to live is over",
        crate::text::truncate(id, QUOTED_ID_CHARS)
    ))
}

fn poll_interval(suggested_ms: Option<u64>) -> Duration {
    suggested_ms
        .map_or(Duration::from_secs(1), Duration::from_millis)
        .clamp(POLL_MIN, POLL_MAX)
}

impl Downstream {
    /// The `_meta` of the hub's own hop on a 2025-11-25 connection: the client's hop keys
    /// removed, and what this call's client can do — its own sampling, elicitation and
    /// roots, and the tasks extension when it follows tasks and the server offers them. The
    /// session was promised what every client of the hub can do; a server that reads the
    /// request's capabilities then relies only on what this client declared. (A
    /// 2026-07-28 connection carries them with the request's own metadata.)
    pub(super) fn hop_meta(
        &self,
        meta: &mut Option<RequestMetaObject>,
        connection: &super::Connection,
        caller: Option<&Caller>,
    ) {
        strip_hop_keys(meta);
        let Some(caller) = caller.filter(|_| !connection.modern) else {
            return;
        };
        let mut capabilities = ClientCapabilities::default();
        capabilities.sampling = caller.capabilities.sampling.clone();
        capabilities.elicitation = caller.capabilities.elicitation.clone();
        capabilities.roots = caller.capabilities.roots.clone();
        let server_has_tasks = connection
            .peer
            .peer_info()
            .is_some_and(|info| info.capabilities.supports_tasks());
        if caller.capabilities.supports_tasks() && server_has_tasks {
            capabilities
                .extensions
                .get_or_insert_with(Default::default)
                .insert(TASKS_EXTENSION_ID.to_string(), JsonObject::new());
        }
        meta.get_or_insert_with(RequestMetaObject::new)
            .set_client_capabilities(capabilities);
    }

    /// Declares, for this request only, that the hub's side follows tasks (what the
    /// client's session promised, with the tasks extension): a server answers `tasks/*`
    /// only to a client that declared it.
    fn offer_tasks(&self, meta: &mut Option<RequestMetaObject>) {
        let mut capabilities = self.relay.clients.declared();
        capabilities
            .extensions
            .get_or_insert_with(Default::default)
            .insert(TASKS_EXTENSION_ID.to_string(), JsonObject::new());
        meta.get_or_insert_with(RequestMetaObject::new)
            .set_client_capabilities(capabilities);
    }

    /// Follows a task the server made of a call whose client cannot follow one: polls it
    /// (as often as the server suggests, within bounds), answers what it asks through the
    /// client, reports its status messages as progress, and returns its result. `bounds`:
    /// each request's timeout, and the call's longest time with when it started; past that,
    /// or when the client cancels, the task is cancelled.
    pub(super) async fn follow(
        &self,
        peer: &Peer<RoleClient>,
        task: Task,
        caller: Option<Arc<Caller>>,
        bounds: (Duration, Duration, tokio::time::Instant),
        ct: &CancellationToken,
    ) -> Result<CallToolResult, HubError> {
        let (timeout, longest, started) = bounds;
        let until = started + longest;
        let id = task.task_id;
        let mut wait = poll_interval(task.poll_interval_ms);
        let mut last_message = task.status_message;
        let mut asked = HashSet::new();
        let mut steps = 0u32;
        let given_up = |error: HubError| self.give_up(peer, &id, error);
        loop {
            let next = (tokio::time::Instant::now() + wait).min(until);
            tokio::select! {
                biased;
                _ = ct.cancelled() => return Err(given_up(HubError::Cancelled)),
                _ = tokio::time::sleep_until(next) => {}
            }
            if tokio::time::Instant::now() >= until {
                return Err(given_up(HubError::Timeout {
                    server: self.spec.name.clone(),
                    after: longest,
                }));
            }
            let mut get = GetTaskParams::new(id.clone());
            self.offer_tasks(&mut get.meta);
            let polled = tokio::select! {
                biased;
                _ = ct.cancelled() => return Err(given_up(HubError::Cancelled)),
                polled = tokio::time::timeout(timeout, peer.get_task(get)) => polled,
            };
            let state = match polled {
                Err(_) => {
                    return Err(given_up(HubError::Timeout {
                        server: self.spec.name.clone(),
                        after: timeout,
                    }));
                }
                Ok(Err(e)) => return Err(self.failed(e)),
                Ok(Ok(state)) => state,
            };
            wait = poll_interval(state.task.task.poll_interval_ms);
            if state.task.task.status_message != last_message {
                last_message = state.task.task.status_message.clone();
                steps += 1;
                self.report_status(caller.as_deref(), steps, last_message.as_deref())
                    .await;
            }
            match state.task.payload {
                TaskPayload::InputRequired { input_requests } => {
                    if self
                        .answer_inputs(peer, &id, input_requests, &mut asked, timeout)
                        .await?
                    {
                        wait = POLL_MIN;
                    }
                }
                TaskPayload::Working => {}
                other => return self.outcome(other),
            }
        }
    }

    /// Cancels a task the hub stops following (in the background: the caller's answer does
    /// not wait for it) and passes on why.
    fn give_up(&self, peer: &Peer<RoleClient>, id: &str, error: HubError) -> HubError {
        let peer = peer.clone();
        let mut cancel = CancelTaskParams::new(id.to_string());
        self.offer_tasks(&mut cancel.meta);
        tokio::spawn(async move {
            let _ = peer.cancel_task(cancel).await;
        });
        error
    }

    /// Asks the client what the task asks, each question once, and hands the answers to the
    /// server; says whether any were sent (then the task is polled again at once).
    async fn answer_inputs(
        &self,
        peer: &Peer<RoleClient>,
        id: &str,
        input_requests: InputRequests,
        asked: &mut HashSet<String>,
        timeout: Duration,
    ) -> Result<bool, HubError> {
        let mut answers = InputResponses::new();
        for (key, request) in input_requests {
            // Asked once: a server that has not taken an answer in yet still lists it.
            if !asked.insert(key.clone()) {
                continue;
            }
            match self.relay.ask(request).await {
                Ok(answer) => {
                    answers.insert(key, answer);
                }
                Err(refused) => {
                    return Err(self.give_up(
                        peer,
                        id,
                        HubError::Failed {
                            server: self.spec.name.clone(),
                            detail: format!(
                                "its task asked the client something it cannot answer: {}",
                                refused.message
                            ),
                        },
                    ));
                }
            }
        }
        if answers.is_empty() {
            return Ok(false);
        }
        let mut update = UpdateTaskParams::new(id.to_string(), answers);
        self.offer_tasks(&mut update.meta);
        match tokio::time::timeout(timeout, peer.update_task(update)).await {
            Ok(Ok(())) => Ok(true),
            Ok(Err(e)) => Err(self.give_up(peer, id, self.failed(e))),
            Err(_) => Err(self.give_up(
                peer,
                id,
                HubError::Timeout {
                    server: self.spec.name.clone(),
                    after: timeout,
                },
            )),
        }
    }

    /// What a task that has ended answers: its result (scrubbed), or why it did not finish.
    fn outcome(&self, payload: TaskPayload) -> Result<CallToolResult, HubError> {
        match payload {
            TaskPayload::Completed { result } => {
                let mut result: CallToolResult = serde_json::from_value(Value::Object(result))
                    .map_err(|e| HubError::Failed {
                        server: self.spec.name.clone(),
                        detail: format!("its task's result is not a tool result: {e}"),
                    })?;
                self.scrub_result(&mut result);
                Ok(result)
            }
            TaskPayload::Failed { error } => {
                let message = error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given");
                Err(HubError::Failed {
                    server: self.spec.name.clone(),
                    detail: format!("its task failed: {}", self.scrubber.scrub(message)),
                })
            }
            _ => Err(HubError::Failed {
                server: self.spec.name.clone(),
                detail: "it cancelled the task".into(),
            }),
        }
    }

    /// A followed task's new status message, as progress for a client that asked for it.
    async fn report_status(&self, caller: Option<&Caller>, step: u32, message: Option<&str>) {
        let Some(caller) = caller else {
            return;
        };
        let Some(token) = caller.reply().progress_token else {
            return;
        };
        let mut progress = ProgressNotificationParam::new(token, f64::from(step));
        progress.message = message.map(|m| self.scrubber.scrub(m).into_owned());
        let _ = caller.peer().notify_progress(progress).await;
    }

    /// `tasks/get` of one of its tasks (`original` is its own id, `id` the hub's): the
    /// state under the hub's id, a final result or error scrubbed of its secrets.
    pub async fn get_task(
        &self,
        id: &str,
        original: String,
        mut params: GetTaskParams,
        timeout: Duration,
        ct: &CancellationToken,
    ) -> Result<GetTaskResult, HubError> {
        params.task_id = original;
        self.task_hop(&mut params.meta);
        let mut state = self
            .task_request(
                timeout,
                ct,
                |peer| async move { peer.get_task(params).await },
            )
            .await?;
        self.relay.tasks.set_ttl(id, state.task.task.ttl_ms);
        state.task.task.task_id = id.to_string();
        match &mut state.task.payload {
            TaskPayload::Completed { result } => self.scrub_object(result),
            TaskPayload::Failed { error } => self.scrub_object(error),
            _ => {}
        }
        Ok(state)
    }

    /// `tasks/update`: the client's answers to what one of its tasks asked.
    pub async fn update_task(
        &self,
        original: String,
        mut params: UpdateTaskParams,
        timeout: Duration,
        ct: &CancellationToken,
    ) -> Result<(), HubError> {
        params.task_id = original;
        self.task_hop(&mut params.meta);
        self.task_request(
            timeout,
            ct,
            |peer| async move { peer.update_task(params).await },
        )
        .await
    }

    /// `tasks/cancel` of one of its tasks.
    pub async fn cancel_task(
        &self,
        original: String,
        mut params: CancelTaskParams,
        timeout: Duration,
        ct: &CancellationToken,
    ) -> Result<(), HubError> {
        params.task_id = original;
        self.task_hop(&mut params.meta);
        self.task_request(
            timeout,
            ct,
            |peer| async move { peer.cancel_task(params).await },
        )
        .await
    }

    /// The `_meta` of a `tasks/*` request the client sent, for the server: its hop keys
    /// replaced by the hub's, which follows tasks.
    fn task_hop(&self, meta: &mut Option<RequestMetaObject>) {
        strip_hop_keys(meta);
        self.offer_tasks(meta);
    }

    fn scrub_object(&self, object: &mut JsonObject) {
        let mut value = Value::Object(std::mem::take(object));
        self.result_scrubber.scrub_known_json(&mut value);
        if let Value::Object(clean) = value {
            *object = clean;
        }
    }

    /// One task request on the live connection. Not reconnected when it is down: a task
    /// lives in the connection that made it. The server's own errors (an id it does not
    /// know: `-32602`) reach the client with their codes.
    async fn task_request<T, F, Fut>(
        &self,
        timeout: Duration,
        ct: &CancellationToken,
        send: F,
    ) -> Result<T, HubError>
    where
        F: FnOnce(Peer<RoleClient>) -> Fut,
        Fut: std::future::Future<Output = Result<T, rmcp::ServiceError>>,
    {
        let Some(peer) = self.current().map(|c| c.peer.clone()) else {
            return Err(HubError::Down {
                server: self.spec.name.clone(),
                reason: "not connected, and its tasks ended with its last connection".into(),
            });
        };
        let outcome = tokio::select! {
            biased;
            _ = ct.cancelled() => return Err(HubError::Cancelled),
            _ = tokio::time::sleep(timeout) => {
                return Err(HubError::Timeout { server: self.spec.name.clone(), after: timeout });
            }
            outcome = send(peer) => outcome,
        };
        outcome.map_err(|error| match error {
            rmcp::ServiceError::McpError(mut data) => {
                data.message = self.scrubber.scrub(&data.message).into_owned().into();
                data.data = None;
                HubError::Server {
                    server: self.spec.name.clone(),
                    error: data,
                }
            }
            other => self.failed(other),
        })
    }
}
