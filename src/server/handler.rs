//! The `ServerHandler`: each MCP request answered by our own tools, resources, prompts
//! and completions or routed to the hub, with its span, metrics and cache hints.

use std::{collections::BTreeMap, sync::Arc};

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CancelTaskParams, CompleteRequestParams,
        CompleteResult, GetPromptRequestParams, GetPromptResponse, GetTaskParams, GetTaskResult,
        Implementation, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
        ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse,
        ServerCapabilities, ServerConfig, TaskPayload, Tool, UpdateTaskParams,
    },
    service::RequestContext,
};

use super::{OWN_URI_SCHEME, PluggedinServer, hub_calls};
use crate::{
    metrics,
    tools::{
        SERVER_NAME, cache_hints, completion, is_modern, prompts, request_span, resources, within,
    },
};

impl PluggedinServer {
    /// A call to one of our own tools or the hub's own (or to a name nothing answers to),
    /// its result held to the budget.
    /// Why the request's sign-in does not let it call `name` (`--auth oauth`), before
    /// anything runs: a tool outside the granted scopes is neither listed nor callable.
    async fn refused_by_grant(
        &self,
        name: &str,
        context: &RequestContext<RoleServer>,
    ) -> Option<String> {
        crate::tools::Grant::from_extensions(&context.extensions)?;
        let tool = match self.get_tool(name) {
            Some(tool) => tool,
            // A downstream tool (the hub is closed to a grant without its scope) or a name
            // nothing answers to: either way a tool of the hub's, without a read-only hint.
            None => match self.hub_for(context).await.and_then(|hub| hub.tool(name)) {
                Some(tool) => tool,
                None => Tool::new(name.to_string(), "", rmcp::model::JsonObject::default()),
            },
        };
        self.grant_refusal(&context.extensions, &tool)
    }

    async fn call_own_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if self.hub_access().is_some() && self.shared.hub_tools.knows(&request.name) {
            let scrubber = self.tools.scrubber(&context);
            return self
                .shared
                .hub_tools
                .call(self, request, context, &scrubber, self.tools.budget())
                .await;
        }
        self.tools.call(request, context).await
    }
}

#[allow(
    deprecated,
    reason = "logging/setLevel is deprecated in 2026-07-28 (SEP-2577) but is how 2025-11-25 clients pick a level"
)]
impl ServerHandler for PluggedinServer {
    fn get_info(&self) -> ServerConfig {
        let mut capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_prompts()
            .enable_resources()
            .enable_completions()
            .enable_logging()
            .build();
        if self.hub_access().is_some() {
            // Downstream servers' tasks (SEP-2663) are passed on to clients that follow them.
            capabilities
                .extensions
                .get_or_insert_with(Default::default)
                .insert(
                    rmcp::model::TASKS_EXTENSION_ID.to_string(),
                    Default::default(),
                );
            // Downstream servers come and go: the lists change while we run.
            if let Some(tools) = capabilities.tools.as_mut() {
                tools.list_changed = Some(true);
            }
            if let Some(prompts) = capabilities.prompts.as_mut() {
                prompts.list_changed = Some(true);
            }
            if let Some(resources) = capabilities.resources.as_mut() {
                resources.list_changed = Some(true);
                // Subscriptions to downstream resources are passed on.
                resources.subscribe = Some(true);
            }
        }
        ServerConfig::new(capabilities)
            .with_server_info(
                Implementation::new(SERVER_NAME, env!("CARGO_PKG_VERSION"))
                    .with_title("Plugged.in")
                    .with_website_url("https://plugged.in"),
            )
            .with_instructions(self.instructions())
    }

    async fn on_initialized(&self, context: rmcp::service::NotificationContext<RoleServer>) {
        if let Some(hub) = self.hub(&context.extensions).await {
            let session = self.tools.session().clone();
            hub.client_joined(crate::hub::relay::Session {
                peer: context.peer.clone(),
                capabilities: context
                    .peer
                    .peer_info()
                    .map(|info| info.capabilities.clone())
                    .unwrap_or_default(),
                log_level: Arc::new(move || Some(session.get())),
            });
            tokio::spawn(hub_calls::announce_to_session(
                hub.watch_changes(),
                context.peer,
                self.seen.clone(),
            ));
        }
    }

    async fn on_roots_list_changed(&self, context: rmcp::service::NotificationContext<RoleServer>) {
        if let Some(hub) = self.hub(&context.extensions).await {
            hub.roots_changed();
        }
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let started = std::time::Instant::now();
        let name = request.name.to_string();
        if let Some(refused) = self.refused_by_grant(&name, &context).await {
            metrics::tool_call("unknown", metrics::Outcome::Error, started.elapsed());
            return Ok(
                rmcp::model::CallToolResult::error(vec![rmcp::model::ContentBlock::text(refused)])
                    .into(),
            );
        }
        let own =
            self.tools.offers(&name) || (self.hub_access().is_some() && self.is_hub_tool(&name));
        // A tool of ours the selection does not offer is refused at once, saying why.
        let known = self.tools.knows(&name) || self.shared.hub_tools.knows(&name);
        let hub = match own {
            true => None,
            false => match self.hub_for(&context).await {
                // A name not (yet) in the catalog may be of a server still starting, or of
                // an account not read yet: the call waits for it, within its bound.
                Some(hub)
                    if hub.has_tool(&name)
                        || (!known && hub.wait_for_tool(&name, hub.call_timeout()).await) =>
                {
                    Some(hub)
                }
                _ => None,
            },
        };
        let answer = within(request_span(&context, "tools/call"), async {
            match &hub {
                Some(hub) => self.call_downstream(hub, request, context, true).await,
                None => self.call_own_tool(request, context).await,
            }
        })
        .await;
        let outcome = match &answer {
            Ok(CallToolResponse::Complete(r)) if r.is_error == Some(true) => {
                metrics::Outcome::Error
            }
            Ok(_) => metrics::Outcome::Ok,
            Err(_) => metrics::Outcome::Failed,
        };
        let label = if own || hub.is_some() {
            &name
        } else {
            "unknown"
        };
        metrics::tool_call(label, outcome, started.elapsed());
        answer
    }

    /// 2026-07-28 clients hear of list changes through `subscriptions/listen`: in hub mode
    /// (where lists change) the tools, prompts and resources lists.
    fn accepted_subscription_filter(
        &self,
        requested: &rmcp::model::SubscriptionFilter,
    ) -> Option<rmcp::model::SubscriptionFilter> {
        self.hub_access()?;
        let mut accepted = rmcp::model::SubscriptionFilter::new();
        accepted.tools_list_changed = requested.tools_list_changed;
        accepted.prompts_list_changed = requested.prompts_list_changed;
        accepted.resources_list_changed = requested.resources_list_changed;
        // Downstream resources are subscribed to through their servers; with one hub for
        // every client, only the URIs it has (a per-key hub is only known in `listen`).
        accepted.resource_subscriptions = requested.resource_subscriptions.as_ref().map(|uris| {
            uris.iter()
                .filter(|uri| self.shared_hub().is_none_or(|hub| hub.has_resource(uri)))
                .take(crate::hub::subscriptions::MAX_SUBSCRIPTIONS)
                .cloned()
                .collect()
        });
        Some(accepted)
    }

    async fn listen(&self, context: rmcp::service::SubscriptionContext) -> Result<(), ErrorData> {
        let Some(hub) = self.hub_for(context.request_context()).await else {
            context.cancelled().await;
            return Ok(());
        };
        let sink = context.sink().clone();
        let owner = hub_calls::listen_owner();
        let uris = sink
            .accepted()
            .resource_subscriptions
            .clone()
            .unwrap_or_default();
        for uri in &uris {
            let subscriber = crate::hub::subscriptions::Subscriber::Listen(sink.clone());
            let ct = &context.request_context().ct;
            if let Some(Err(e)) = hub.subscribe(owner, uri, subscriber, ct).await {
                tracing::debug!(%uri, "subscribing for a listen stream: {e}");
            }
        }
        let send = |list| {
            let sink = sink.clone();
            async move {
                // A list the client did not ask for is refused by the sink: not a reason to
                // stop.
                let sent = match list {
                    hub_calls::List::Tools => sink.notify_tool_list_changed().await,
                    hub_calls::List::Prompts => sink.notify_prompt_list_changed().await,
                    hub_calls::List::Resources => sink.notify_resource_list_changed().await,
                };
                !matches!(
                    sent,
                    Err(rmcp::service::SubscriptionSendError::SubscriptionClosed
                        | rmcp::service::SubscriptionSendError::Service(_))
                )
            }
        };
        hub_calls::announce_changes(hub.watch_changes(), send, context.cancelled()).await;
        if !uris.is_empty() {
            hub.unsubscribe_all(owner).await;
        }
        Ok(())
    }

    /// Subscriptions are offered in hub mode: to a downstream resource they go to its
    /// server; our own `pluggedin://` resources accept them and send no updates. Without a
    /// hub the capability is not advertised, and the method is unknown.
    async fn subscribe(
        &self,
        request: rmcp::model::SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let Some(hub) = self.hub_for(&context).await else {
            return Err(ErrorData::new(
                rmcp::model::ErrorCode::METHOD_NOT_FOUND,
                "resources/subscribe is offered in hub mode only",
                None,
            ));
        };
        let owner = hub_calls::owner_of(self.tools.session());
        let subscriber = crate::hub::subscriptions::Subscriber::Session(context.peer.clone());
        match hub
            .subscribe(owner, &request.uri, subscriber, &context.ct)
            .await
        {
            Some(outcome) => outcome.map_err(hub_calls::as_protocol_error),
            None if request.uri.starts_with(OWN_URI_SCHEME) => Ok(()),
            None => Err(ErrorData::resource_not_found(
                format!(
                    "no resource {} to subscribe to",
                    crate::text::truncate(&request.uri, 200)
                ),
                None,
            )),
        }
    }

    async fn unsubscribe(
        &self,
        request: rmcp::model::UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if let Some(hub) = self.hub_for(&context).await {
            hub.unsubscribe(
                hub_calls::owner_of(self.tools.session()),
                &request.uri,
                &context.ct,
            )
            .await;
        }
        Ok(())
    }

    /// 2026-07-28 has no `ping` (a client checks a server with any request); 2025-11-25
    /// clients get the empty answer. The same rule over every transport.
    async fn ping(&self, context: RequestContext<RoleServer>) -> Result<(), ErrorData> {
        if is_modern(&context) {
            return Err(ErrorData::new(
                rmcp::model::ErrorCode::METHOD_NOT_FOUND,
                "ping is not a method of protocol revision 2026-07-28",
                None,
            ));
        }
        Ok(())
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let Some(hub) = self.hub(&context.extensions).await else {
            return Err(hub_calls::as_protocol_error(
                crate::hub::downstream::unknown_task(&request.task_id),
            ));
        };
        let mut state = hub
            .get_task(hub_calls::with_meta(request, &context), &context.ct)
            .await
            .map_err(hub_calls::as_protocol_error)?;
        if let TaskPayload::Completed { result } = &mut state.task.payload {
            self.finish_task_result(result, &context);
        }
        Ok(state)
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let Some(hub) = self.hub(&context.extensions).await else {
            return Err(hub_calls::as_protocol_error(
                crate::hub::downstream::unknown_task(&request.task_id),
            ));
        };
        hub.update_task(hub_calls::with_meta(request, &context), &context.ct)
            .await
            .map_err(hub_calls::as_protocol_error)
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let Some(hub) = self.hub(&context.extensions).await else {
            return Err(hub_calls::as_protocol_error(
                crate::hub::downstream::unknown_task(&request.task_id),
            ));
        };
        hub.cancel_task(hub_calls::with_meta(request, &context), &context.ct)
            .await
            .map_err(hub_calls::as_protocol_error)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let hub = self.hub_for(&context).await;
        if let Some(hub) = &hub {
            hub.first_lists().await;
        }
        self.seen.saw(hub_calls::List::Tools);
        let (ttl, scope) = self.list_cache_hint(hub.as_ref());
        let mut tools = self.tools(hub.as_ref());
        tools.retain(|tool| self.grant_refusal(&context.extensions, tool).is_none());
        Ok(cache_hints(
            &context,
            ListToolsResult::with_all_items(tools),
            ttl,
            scope,
        ))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools
            .get(name)
            .or_else(|| self.shared.hub_tools.get(name).cloned())
            // Per-key hubs need the request's key, which this has not: our own tools only.
            .or_else(|| self.shared_hub()?.tool(name))
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let mut list = prompts::list(&self.tools.selection_for(&context.extensions));
        let hub = self.hub_for(&context).await;
        if let Some(hub) = &hub {
            hub.first_lists().await;
            list.extend(hub.prompts());
        }
        self.seen.saw(hub_calls::List::Prompts);
        let (ttl, scope) = self.list_cache_hint(hub.as_ref());
        Ok(cache_hints(
            &context,
            ListPromptsResult::with_all_items(list),
            ttl,
            scope,
        ))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        within(request_span(&context, "prompts/get"), async {
            if let Some(hub) = self.hub_for(&context).await
                && let Some(outcome) = hub
                    .get_prompt(
                        hub_calls::with_meta(request.clone(), &context),
                        self.client_side(&context),
                        &context.ct,
                    )
                    .await
            {
                let answer = outcome.map_err(hub_calls::as_protocol_error)?;
                if let GetPromptResponse::Complete(result) = &answer {
                    self.within_budget(result, &request.name)?;
                }
                return Ok(answer);
            }
            let args: BTreeMap<String, String> = request
                .arguments
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                .collect();
            let selection = self.tools.selection_for(&context.extensions);
            prompts::get(&request.name, &args, &selection, self.backend()).map(Into::into)
        })
        .await
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        within(request_span(&context, "resources/list"), async {
            let cursor = request.and_then(|r| r.cursor);
            let mut page = resources::list(&self.tools, &context, cursor.as_deref()).await?;
            // The hub's resources ride on the first page (they are listed in full by their
            // servers, and bounded by them).
            self.seen.saw(hub_calls::List::Resources);
            if cursor.is_none()
                && let Some(hub) = self.hub_for(&context).await
            {
                hub.first_lists().await;
                page.resources.extend(
                    hub.resources()
                        .into_iter()
                        .filter(|r| !r.uri.starts_with(OWN_URI_SCHEME)),
                );
            }
            Ok(page)
        })
        .await
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let mut templates = resources::templates(&self.tools.selection_for(&context.extensions));
        let hub = self.hub_for(&context).await;
        if let Some(hub) = &hub {
            hub.first_lists().await;
            templates.extend(hub.resource_templates());
        }
        self.seen.saw(hub_calls::List::Resources);
        let (ttl, scope) = self.list_cache_hint(hub.as_ref());
        Ok(cache_hints(
            &context,
            ListResourceTemplatesResult::with_all_items(templates),
            ttl,
            scope,
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        within(request_span(&context, "resources/read"), async {
            if !request.uri.starts_with(OWN_URI_SCHEME)
                && let Some(hub) = self.hub_for(&context).await
                && let Some(outcome) = hub
                    .read_resource(
                        hub_calls::with_meta(request.clone(), &context),
                        self.client_side(&context),
                        &context.ct,
                    )
                    .await
            {
                let answer = outcome.map_err(hub_calls::as_protocol_error)?;
                if let ReadResourceResponse::Complete(result) = &answer {
                    self.within_budget(result, &request.uri)?;
                }
                return Ok(answer);
            }
            resources::read(&self.tools, &context, &request.uri)
                .await
                .map(Into::into)
        })
        .await
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        within(request_span(&context, "completion/complete"), async {
            if let Some(hub) = self.hub_for(&context).await
                && let Some(outcome) = hub
                    .complete(hub_calls::with_meta(request.clone(), &context), &context.ct)
                    .await
            {
                return outcome.map_err(hub_calls::as_protocol_error);
            }
            completion::complete(&self.tools, &context, &request).await
        })
        .await
    }

    async fn set_level(
        &self,
        request: rmcp::model::SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.tools.session().set(request.level);
        Ok(())
    }
}
