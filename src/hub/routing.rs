//! Requests routed to the server a name or URI belongs to: tool calls, prompts, resource
//! reads, completions, resource subscriptions and tasks — each reported as activity, each
//! bounded by the server's timeout. A 2026-07-28 client's tool call, prompt and read go
//! through the [`super::bridge`], so that what a server asks mid-call comes back to it as
//! `input_required`.
#![allow(
    deprecated,
    reason = "logging levels are deprecated in 2026-07-28 (SEP-2577) but 2025-11-25 clients set them"
)]

use std::{sync::Arc, time::Duration};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, ClientCapabilities,
    CompleteRequestParams, CompleteResult, GetPromptRequestParams, GetPromptResponse,
    GetTaskParams, GetTaskResult, InputResponses, LoggingLevel, ReadResourceRequestParams,
    ReadResourceResponse, Reference, UpdateTaskParams,
};
use tokio_util::sync::CancellationToken;

use super::{
    Hub, HubError,
    bridge::{Bridge, Kind, Outcome, Round},
    downstream::{self, Bounds, Downstream},
    lock,
    relay::{Caller, Reply},
    subscriptions::{Change, Subscriber},
};

/// The client side of a request to the hub.
pub struct ClientSide {
    /// The request the client waits on.
    pub reply: Reply,
    pub log_level: Option<LoggingLevel>,
    pub capabilities: ClientCapabilities,
    /// The client speaks 2026-07-28: it takes `input_required` results and cannot be sent
    /// requests.
    pub modern: bool,
}

/// A request's `inputResponses` and `requestState` (a 2026-07-28 client's retry).
pub struct Retry {
    pub answers: Option<InputResponses>,
    pub state: Option<String>,
}

impl Retry {
    /// The hub's own parked call this retry resumes, if it is one.
    fn ours(&self) -> Option<String> {
        self.state.clone().filter(|s| Bridge::is_ours(s))
    }
}

impl Hub {
    fn timeout_of(&self, server: &Downstream) -> Duration {
        server
            .spec
            .timeout
            .unwrap_or(self.inner.settings.call_timeout)
    }

    fn bounds_of(&self, server: &Downstream) -> Bounds {
        Bounds {
            timeout: self.timeout_of(server),
            max_total: self.inner.settings.max_call_time,
        }
    }

    /// Sends a call to the server `params.name` routes to, under the tool's own name, with
    /// the arguments and `_meta` as the client sent them. `None`: no such hub tool.
    pub async fn call(
        &self,
        params: CallToolRequestParams,
        client: ClientSide,
        ct: &CancellationToken,
    ) -> Option<Result<CallToolResponse, HubError>> {
        let retry = Retry {
            answers: params.input_responses.clone(),
            state: params.request_state.clone(),
        };
        if !client.modern {
            let caller = Caller::session(client.reply, client.log_level, client.capabilities);
            return self.call_as(params, Some(Arc::new(caller)), ct).await;
        }
        let round = if let Some(state) = retry.ours() {
            self.inner
                .bridge
                .resume(&state, retry.answers, client.reply, ct)
                .await
        } else {
            self.catalog().routes.get(params.name.as_ref())?;
            let hub = self.clone();
            Ok(self
                .bridged(Kind::Call, client, move |caller, ct| async move {
                    Outcome::Call(
                        hub.call_as(params, Some(caller), &ct)
                            .await
                            .unwrap_or_else(|| Err(left())),
                    )
                })
                .await
                .await)
        };
        Some(match round {
            Err(refused) => Err(refused),
            Ok(Round::Asked(asked)) => Ok(CallToolResponse::InputRequired(asked)),
            Ok(Round::Done(Outcome::Call(outcome))) => outcome,
            Ok(Round::Done(_)) => Err(wrong_kind()),
        })
    }

    /// A call for `caller` (`None`: the hub's own, with no client to report to).
    pub async fn call_as(
        &self,
        mut params: CallToolRequestParams,
        caller: Option<Arc<Caller>>,
        ct: &CancellationToken,
    ) -> Option<Result<CallToolResponse, HubError>> {
        let (server, original) = self.catalog().routes.get(params.name.as_ref()).cloned()?;
        params.name = original.clone().into();
        let started = std::time::Instant::now();
        let outcome = server
            .call(params, self.bounds_of(&server), caller, ct)
            .await;
        let failure = match &outcome {
            Ok(CallToolResponse::Complete(r)) if r.is_error == Some(true) => {
                Some("the tool reported an error".to_string())
            }
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        };
        self.report(&server, "tool_call", original, started, failure);
        Some(outcome)
    }

    /// Runs `work` through the bridge for a 2026-07-28 client (see [`Self::call`]).
    async fn bridged<F, Fut>(
        &self,
        kind: Kind,
        client: ClientSide,
        work: F,
    ) -> impl Future<Output = Round> + use<F, Fut>
    where
        F: FnOnce(Arc<Caller>, CancellationToken) -> Fut,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let (caller, questions) =
            Caller::parkable(client.reply, client.log_level, client.capabilities);
        let caller = Arc::new(caller);
        // The work outlives this request (it is parked between rounds): its own token,
        // cancelled when it is dropped.
        let cancel = CancellationToken::new();
        let guard = cancel.clone().drop_guard();
        // Boxed: a tool call's future is large, and is moved into a task of its own.
        let fut = Box::pin(work(caller.clone(), cancel));
        let patience = self.inner.settings.call_timeout;
        let hub = self.clone();
        async move {
            let work = async move {
                let _cancel_when_dropped = guard;
                fut.await
            };
            hub.inner
                .bridge
                .run(
                    kind,
                    caller,
                    questions,
                    work,
                    patience,
                    &CancellationToken::new(),
                )
                .await
        }
    }

    /// `prompts/get` of a hub prompt; `None`: no such hub prompt.
    pub async fn get_prompt(
        &self,
        params: GetPromptRequestParams,
        client: ClientSide,
        ct: &CancellationToken,
    ) -> Option<Result<GetPromptResponse, HubError>> {
        let retry = Retry {
            answers: params.input_responses.clone(),
            state: params.request_state.clone(),
        };
        if let Some(state) = retry.ours().filter(|_| client.modern) {
            let round = self
                .inner
                .bridge
                .resume(&state, retry.answers, client.reply, ct)
                .await;
            return Some(prompt_round(round));
        }
        let (server, original) = self
            .catalog()
            .prompt_routes
            .get(params.name.as_str())
            .cloned()?;
        let hub = self.clone();
        let run = move |caller: Option<Arc<Caller>>, ct: CancellationToken| async move {
            let mut params = params;
            params.name = original.clone();
            let started = std::time::Instant::now();
            let outcome = server
                .get_prompt(params, hub.bounds_of(&server), caller, &ct)
                .await;
            hub.report(
                &server,
                "prompt_get",
                original,
                started,
                outcome.as_ref().err(),
            );
            outcome
        };
        if !client.modern {
            let caller = Caller::session(client.reply, client.log_level, client.capabilities);
            return Some(run(Some(Arc::new(caller)), ct.clone()).await);
        }
        let round = self
            .bridged(Kind::Prompt, client, move |caller, ct| async move {
                Outcome::Prompt(run(Some(caller), ct).await)
            })
            .await
            .await;
        Some(prompt_round(Ok(round)))
    }

    /// `resources/read` of a URI a downstream server listed, or one that matches the start
    /// of one of their templates; `None`: not a hub resource.
    pub async fn read_resource(
        &self,
        params: ReadResourceRequestParams,
        client: ClientSide,
        ct: &CancellationToken,
    ) -> Option<Result<ReadResourceResponse, HubError>> {
        let retry = Retry {
            answers: params.input_responses.clone(),
            state: params.request_state.clone(),
        };
        if let Some(state) = retry.ours().filter(|_| client.modern) {
            let round = self
                .inner
                .bridge
                .resume(&state, retry.answers, client.reply, ct)
                .await;
            return Some(read_round(round));
        }
        let server = self.catalog().resource_server(&params.uri)?;
        let hub = self.clone();
        let run = move |caller: Option<Arc<Caller>>, ct: CancellationToken| async move {
            let uri = params.uri.clone();
            let started = std::time::Instant::now();
            let outcome = server
                .read_resource(params, hub.bounds_of(&server), caller, &ct)
                .await;
            hub.report(
                &server,
                "resource_read",
                uri,
                started,
                outcome.as_ref().err(),
            );
            outcome
        };
        if !client.modern {
            let caller = Caller::session(client.reply, client.log_level, client.capabilities);
            return Some(run(Some(Arc::new(caller)), ct.clone()).await);
        }
        let round = self
            .bridged(Kind::Read, client, move |caller, ct| async move {
                Outcome::Read(run(Some(caller), ct).await)
            })
            .await
            .await;
        Some(read_round(Ok(round)))
    }

    /// `completion/complete` of a hub prompt's argument or a hub template's variable;
    /// `None`: the reference is not the hub's.
    pub async fn complete(
        &self,
        mut params: CompleteRequestParams,
        ct: &CancellationToken,
    ) -> Option<Result<CompleteResult, HubError>> {
        let catalog = self.catalog();
        let server = match &mut params.r#ref {
            Reference::Prompt(prompt) => {
                let (server, original) = catalog.prompt_routes.get(&prompt.name).cloned()?;
                prompt.name = original;
                server
            }
            Reference::Resource(template) => catalog.template_server(&template.uri)?,
            _ => return None,
        };
        Some(server.complete(params, self.bounds_of(&server), ct).await)
    }

    /// Subscribes `owner` (a session, or a listen stream) to updates of a downstream
    /// resource; the server is subscribed when its first subscriber comes. `None`: not a
    /// hub resource.
    pub async fn subscribe(
        &self,
        owner: usize,
        uri: &str,
        subscriber: Subscriber,
        ct: &CancellationToken,
    ) -> Option<Result<(), HubError>> {
        let server = self.catalog().resource_server(uri)?;
        let change = match self
            .inner
            .subscriptions
            .add(owner, &server.spec.name, uri, subscriber)
        {
            Ok(change) => change,
            Err(too_many) => {
                return Some(Err(HubError::InvalidRequest(too_many.to_string())));
            }
        };
        if change != Change::First {
            return Some(Ok(()));
        }
        let outcome = server
            .subscription(uri.to_string(), true, self.bounds_of(&server), ct)
            .await;
        if outcome.is_err() {
            self.inner.subscriptions.remove(owner, uri);
        }
        Some(outcome)
    }

    /// Unsubscribes `owner` from `uri`; the server is unsubscribed when its last
    /// subscriber goes. Unsubscribing from what was not subscribed does nothing.
    pub async fn unsubscribe(&self, owner: usize, uri: &str, ct: &CancellationToken) {
        let Some((name, Change::Last)) = self.inner.subscriptions.remove(owner, uri) else {
            return;
        };
        let server = lock(&self.inner.servers).get(&name).cloned();
        if let Some(server) = server {
            let _ = server
                .subscription(uri.to_string(), false, self.bounds_of(&server), ct)
                .await;
        }
    }

    /// Every subscription of `owner` ends (its listen stream closed).
    pub async fn unsubscribe_all(&self, owner: usize) {
        for (name, uri, change) in self.inner.subscriptions.remove_owner(owner) {
            if change != Change::Last {
                continue;
            }
            let server = lock(&self.inner.servers).get(&name).cloned();
            if let Some(server) = server {
                let _ = server
                    .subscription(
                        uri,
                        false,
                        self.bounds_of(&server),
                        &CancellationToken::new(),
                    )
                    .await;
            }
        }
    }

    /// `tasks/get` of a task a server made for a call through the hub (by the hub's id).
    pub async fn get_task(
        &self,
        params: GetTaskParams,
        ct: &CancellationToken,
    ) -> Result<GetTaskResult, HubError> {
        let id = params.task_id.clone();
        let (server, original) = self.task_server(&id)?;
        server
            .get_task(&id, original, params, self.timeout_of(&server), ct)
            .await
    }

    /// `tasks/update`: the client's answers to what a task asked.
    pub async fn update_task(
        &self,
        params: UpdateTaskParams,
        ct: &CancellationToken,
    ) -> Result<(), HubError> {
        let (server, original) = self.task_server(&params.task_id)?;
        server
            .update_task(original, params, self.timeout_of(&server), ct)
            .await
    }

    /// `tasks/cancel` of a task.
    pub async fn cancel_task(
        &self,
        params: CancelTaskParams,
        ct: &CancellationToken,
    ) -> Result<(), HubError> {
        let (server, original) = self.task_server(&params.task_id)?;
        server
            .cancel_task(original, params, self.timeout_of(&server), ct)
            .await
    }

    /// The server a task of the hub's belongs to, and the server's own id for it.
    fn task_server(&self, id: &str) -> Result<(Arc<Downstream>, String), HubError> {
        let (name, original) = self
            .inner
            .tasks
            .route(id)
            .ok_or_else(|| downstream::unknown_task(id))?;
        let server = lock(&self.inner.servers)
            .get(&name)
            .cloned()
            .ok_or_else(|| downstream::unknown_task(id))?;
        Ok((server, original))
    }

    /// Queues an activity report, when the hub has somewhere to send it.
    fn report(
        &self,
        server: &Downstream,
        action: &'static str,
        item_name: String,
        started: std::time::Instant,
        failure: Option<impl ToString>,
    ) {
        let Some(reporter) = lock(&self.inner.reporter).clone() else {
            return;
        };
        let error_message = failure.map(|f| f.to_string());
        reporter.report(crate::api::hub::Activity {
            action,
            server_name: server.spec.name.clone(),
            server_uuid: server.spec.uuid.clone(),
            item_name,
            success: error_message.is_none(),
            error_message,
            execution_time: started.elapsed().as_secs_f64() * 1000.0,
        });
    }
}

fn prompt_round(round: Result<Round, HubError>) -> Result<GetPromptResponse, HubError> {
    match round {
        Err(refused) => Err(refused),
        Ok(Round::Asked(asked)) => Ok(GetPromptResponse::InputRequired(asked)),
        Ok(Round::Done(Outcome::Prompt(outcome))) => outcome,
        Ok(Round::Done(_)) => Err(wrong_kind()),
    }
}

fn read_round(round: Result<Round, HubError>) -> Result<ReadResourceResponse, HubError> {
    match round {
        Err(refused) => Err(refused),
        Ok(Round::Asked(asked)) => Ok(ReadResourceResponse::InputRequired(asked)),
        Ok(Round::Done(Outcome::Read(outcome))) => outcome,
        Ok(Round::Done(_)) => Err(wrong_kind()),
    }
}

/// A retry whose `requestState` belongs to a parked request of another kind.
fn wrong_kind() -> HubError {
    HubError::InvalidParams("requestState belongs to another kind of request".into())
}

/// The tool's server left the hub between routing and calling.
fn left() -> HubError {
    HubError::InvalidParams(
        "this tool's server left the hub while the call was starting; list the tools again".into(),
    )
}
