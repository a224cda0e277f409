//! Hub mode: the user's own MCP servers behind this one. Servers come from sources — a
//! `mcpServers` file (`--servers`, reloaded when it changes) and the user's Plugged.in
//! account (`/api/mcp-servers`, polled) — merged; each is supervised on its own
//! ([`downstream`]); their tools are merged into one catalog under `<prefix>__<tool>`
//! names ([`names`]) that route to exactly the server they name.

pub mod activity;
pub mod downstream;
pub mod legacy_sse;
pub mod names;
pub mod pluggedin_source;
pub mod relay;
pub mod search;
pub mod spec;
pub mod tap;
pub mod tasks;
pub mod tenants;
pub mod watch_file;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use rmcp::{
    ErrorData,
    model::{
        CallToolRequestParams, CallToolResponse, CancelTaskParams, GetPromptRequestParams,
        GetPromptResponse, GetTaskParams, GetTaskResult, Prompt, ReadResourceRequestParams,
        ReadResourceResponse, Resource, ResourceTemplate, Tool, UpdateTaskParams,
    },
};
use tokio_util::sync::CancellationToken;

use downstream::Downstream;
pub use downstream::{CallError, Snapshot, State};
pub use spec::ServerSpec;

/// Longest downstream servers wait for the first client to be answered before starting.
/// Starting ten servers is ten fork/execs: done while a client's `initialize` is in flight,
/// they would delay its answer on a small machine; waiting for it costs a few milliseconds.
const START_GATE_MAX: Duration = Duration::from_millis(250);

/// Longest a `tools/list` waits for the account's servers and cached catalog to arrive
/// (once, at start): long enough for Plugged.in to answer, short enough that an
/// unreachable Plugged.in costs the first list little. Later lists never wait.
pub const SOURCES_WAIT: Duration = Duration::from_millis(1_500);

/// How the hub offers downstream tools.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Longest tool name offered (see [`names::DEFAULT_BUDGET`]).
    pub name_budget: usize,
    /// Bound of a call to a server that sets no `timeout` of its own; restarted by each
    /// progress notification of the call.
    pub call_timeout: Duration,
    /// Longest a call may run, progress or not.
    pub max_call_time: Duration,
    /// Offer only tools whose `readOnlyHint` is true (unannotated tools are hidden).
    pub read_only: bool,
    /// Only these servers are started (`--hub-servers`); empty: all.
    pub only: Vec<String>,
    /// When `tools/list` offers a search tool instead of every downstream tool.
    pub tool_search: ToolSearch,
    /// The catalog size (estimated tokens) above which `ToolSearch::Auto` searches.
    pub tool_search_budget: usize,
    /// Most servers started (one user's hub in passthrough mode); the rest are reported
    /// as failed, saying why. `None`: no limit.
    pub max_servers: Option<usize>,
    /// Live connections shared with other hubs (all users' in passthrough mode): a server
    /// starts only with one of them, and waits (backing off) while none is free.
    pub connections: Option<Arc<tokio::sync::Semaphore>>,
}

/// When the hub's tools are found by search rather than listed (`--tool-search`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ToolSearch {
    /// When the downstream tools would cost more than the budget.
    #[default]
    Auto,
    On,
    Off,
}

/// Default of [`HubSettings::tool_search_budget`]: about 4 % of a 200k-token context.
pub const TOOL_SEARCH_BUDGET: usize = 8_000;

impl Default for HubSettings {
    fn default() -> Self {
        Self {
            name_budget: names::DEFAULT_BUDGET,
            call_timeout: Duration::from_secs(60),
            max_call_time: Duration::from_secs(3600),
            read_only: false,
            only: Vec::new(),
            tool_search: ToolSearch::Auto,
            tool_search_budget: TOOL_SEARCH_BUDGET,
            max_servers: None,
            connections: None,
        }
    }
}

/// Where servers come from; earlier sources win a name both use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    File,
    Pluggedin,
}

/// One server as status reports show it.
#[derive(Debug, Clone)]
pub struct ServerStatus {
    pub name: String,
    pub prefix: String,
    pub transport: &'static str,
    pub snapshot: Snapshot,
    /// Tools offered (after filtering), not all the server has.
    pub offered_tools: usize,
    /// The user's instructions for this server.
    pub instructions: Option<String>,
}

/// The merged catalog: what clients see, and where each name goes.
#[derive(Default)]
struct Catalog {
    tools: Vec<Tool>,
    routes: HashMap<String, (Arc<Downstream>, String)>,
    /// Prompts under `<prefix>__<prompt>` names, and where each goes.
    prompts: Vec<Prompt>,
    prompt_routes: HashMap<String, (Arc<Downstream>, String)>,
    /// Resources keep their URIs; the first server to list a URI owns it.
    resources: Vec<Resource>,
    resource_routes: HashMap<String, Arc<Downstream>>,
    /// Templates, and the literal start of each (before its first `{`), for reads of URIs
    /// that no list names.
    templates: Vec<ResourceTemplate>,
    template_routes: Vec<(String, Arc<Downstream>)>,
    /// Search over `tools`, and what listing them all would cost a model (in tokens).
    index: search::Index,
    token_cost: usize,
}

/// What changed in a rebuild, for the matching `list_changed` notifications.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    pub tools: u64,
    pub prompts: u64,
    pub resources: u64,
}

/// The hub. Cheap to clone; all clones share the servers.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    settings: HubSettings,
    /// The servers of each source, in source order (see [`Hub::set_source`]).
    sources: Mutex<BTreeMap<Source, Vec<ServerSpec>>>,
    /// Asks the sources that poll to poll now (`hub_refresh`).
    poll_now: tokio::sync::Notify,
    /// Where proxied calls are reported, when the hub has an API to report to.
    reporter: Mutex<Option<activity::Reporter>>,
    /// The listing last reported for each account server ([`Snapshot::tools_listed`]),
    /// so each new list is reported once.
    reported_tools: Mutex<HashMap<String, u64>>,
    servers: Mutex<BTreeMap<String, Arc<Downstream>>>,
    /// Plugged.in's cached catalog by server uuid ([`Hub::seed_tools`]).
    cached_tools: Mutex<HashMap<String, Arc<Vec<Tool>>>>,
    /// Sources registered but not yet delivered once ([`Hub::sources_loaded`]).
    pending_sources: tokio::sync::watch::Sender<usize>,
    catalog: RwLock<Arc<Catalog>>,
    /// Held for a whole rebuild: two rebuilds racing could otherwise store the older view
    /// last (servers starting together each trigger one), losing a server's tools.
    rebuild_lock: Mutex<()>,
    /// The clients of the hub, for what servers send back outside calls, and what servers
    /// may be promised.
    clients: Arc<relay::Clients>,
    /// Opens when downstream servers may start (see [`Hub::client_joined`]).
    gate: tokio::sync::watch::Sender<bool>,
    /// Bumped whenever a list changes; sessions send the matching `list_changed` on it.
    changes: tokio::sync::watch::Sender<Changes>,
    /// Called when Plugged.in rejects the account's key ([`Hub::on_revoked`]).
    revoked: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
    /// Tasks servers made for calls whose clients follow them, under the hub's ids.
    tasks: Arc<tasks::Tasks>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let servers: Vec<String> = lock(&self.inner.servers).keys().cloned().collect();
        f.debug_struct("Hub").field("servers", &servers).finish()
    }
}

impl Hub {
    /// A hub; must be created inside the tokio runtime (it arms the start gate's timer).
    pub fn new(settings: HubSettings) -> Self {
        let gate = tokio::sync::watch::Sender::new(false);
        let opener = gate.clone();
        tokio::spawn(async move {
            tokio::time::sleep(START_GATE_MAX).await;
            opener.send_replace(true);
        });
        Self {
            inner: Arc::new(Inner {
                rebuild_lock: Mutex::new(()),
                clients: Arc::default(),
                gate,
                settings,
                sources: Mutex::default(),
                poll_now: tokio::sync::Notify::new(),
                reporter: Mutex::default(),
                reported_tools: Mutex::default(),
                servers: Mutex::default(),
                cached_tools: Mutex::default(),
                pending_sources: tokio::sync::watch::Sender::new(0),
                catalog: RwLock::default(),
                changes: tokio::sync::watch::Sender::new(Changes::default()),
                revoked: Mutex::default(),
                tasks: Arc::default(),
            }),
        }
    }

    /// Replaces the servers of one source and applies the union of all sources. A name
    /// used twice keeps the first; later ones get `#2`, `#3`… so none is lost.
    pub fn set_source(&self, source: Source, specs: Vec<ServerSpec>) {
        let union = {
            let mut sources = lock(&self.inner.sources);
            sources.insert(source, specs);
            let mut seen = std::collections::HashSet::new();
            let mut union = Vec::new();
            for mut spec in sources.values().flatten().cloned() {
                let base = spec.name.clone();
                let mut n = 1;
                while !seen.insert(spec.name.clone()) {
                    n += 1;
                    spec.name = format!("{base}#{n}");
                }
                union.push(spec);
            }
            union
        };
        self.apply(union);
    }

    /// Runs `f` when Plugged.in rejects the account's key (a passthrough user's hub is then
    /// closed).
    pub fn on_revoked(&self, f: impl Fn() + Send + Sync + 'static) {
        *lock(&self.inner.revoked) = Some(Box::new(f));
    }

    /// Plugged.in rejected the account's key.
    pub(crate) fn revoked(&self) {
        if let Some(f) = lock(&self.inner.revoked).as_ref() {
            f();
        }
    }

    /// Remembers what Plugged.in's catalog knows of each account server's tools (by server
    /// uuid): servers started after this offer them until they list their own.
    pub fn seed_tools(&self, by_server: HashMap<String, Vec<Tool>>) {
        *lock(&self.inner.cached_tools) = by_server
            .into_iter()
            .map(|(uuid, tools)| (uuid, Arc::new(tools)))
            .collect();
    }

    /// A source that delivers its servers later (the account's): until it has delivered
    /// once, [`Hub::sources_loaded`] waits for it. Returns what to call when it has.
    pub(crate) fn expect_source(&self) -> impl FnOnce() + Send + 'static {
        self.inner.pending_sources.send_modify(|n| *n += 1);
        let pending = self.inner.pending_sources.clone();
        move || pending.send_modify(|n| *n = n.saturating_sub(1))
    }

    /// Waits, at most `bound`, until every source delivered its servers once, so the first
    /// `tools/list` can carry the account's catalog. Never waits for a downstream server.
    pub async fn sources_loaded(&self, bound: Duration) {
        let mut pending = self.inner.pending_sources.subscribe();
        let _ = tokio::time::timeout(bound, pending.wait_for(|n| *n == 0)).await;
    }

    /// Reports discovered tools, and each proxied call when `activity`, to `client`.
    pub fn report_to(&self, client: crate::api::Client, activity: bool) {
        *lock(&self.inner.reporter) = Some(activity::Reporter::start(client, activity));
    }

    /// A client session has begun: downstream servers may start now, promised what this
    /// client (and those before it) can do; what they send outside calls may go to it.
    pub fn client_joined(&self, session: relay::Session) {
        self.inner.clients.join(session);
        self.inner.gate.send_replace(true);
    }

    /// Asks polling sources to poll now.
    pub fn poll_sources(&self) {
        self.inner.poll_now.notify_waiters();
    }

    /// Resolves when a poll is asked for.
    pub(crate) async fn poll_requested(&self) {
        self.inner.poll_now.notified().await;
    }

    /// Applies a new configuration: servers that are new start, servers whose spec changed
    /// restart, removed ones stop; the others are untouched. Returns at once; servers start
    /// in the background.
    fn apply(&self, specs: Vec<ServerSpec>) {
        let mut specs: Vec<ServerSpec> = specs
            .into_iter()
            .filter(|s| {
                self.inner.settings.only.is_empty() || self.inner.settings.only.contains(&s.name)
            })
            .collect();
        if let Some(max) = self.inner.settings.max_servers {
            for spec in specs.iter_mut().skip(max) {
                spec.transport = spec::Transport::Invalid(format!(
                    "not started: at most {max} servers per user (--hub-max-servers-per-key)"
                ));
            }
        }
        let prefixes =
            names::assign_prefixes(specs.iter().map(|s| (s.name.as_str(), s.slug.as_deref())));
        let weak = Arc::downgrade(&self.inner);
        let on_change: downstream::OnChange = Arc::new(move || {
            if let Some(inner) = weak.upgrade() {
                Hub { inner }.rebuild();
            }
        });
        {
            let mut servers = lock(&self.inner.servers);
            let mut next = BTreeMap::new();
            for spec in specs {
                let prefix = prefixes.get(&spec.name).cloned().unwrap_or_default();
                let keep = servers
                    .remove(&spec.name)
                    .filter(|old| old.spec == spec && old.prefix == prefix);
                let server = match keep {
                    Some(old) => old,
                    None => {
                        tracing::info!(server = %spec.name, %prefix, "starting downstream");
                        let cached = spec
                            .uuid
                            .as_ref()
                            .and_then(|uuid| lock(&self.inner.cached_tools).get(uuid).cloned())
                            .unwrap_or_default();
                        Downstream::start(
                            spec.clone(),
                            prefix,
                            cached,
                            downstream::Shared {
                                clients: self.inner.clients.clone(),
                                tasks: self.inner.tasks.clone(),
                                connections: self.inner.settings.connections.clone(),
                                on_change: on_change.clone(),
                            },
                            self.inner.gate.subscribe(),
                        )
                    }
                };
                next.insert(spec.name.clone(), server);
            }
            for (name, old) in std::mem::take(&mut *servers) {
                tracing::info!(server = %name, "stopping downstream");
                old.stop();
            }
            *servers = next;
        }
        self.rebuild();
    }

    /// Recomputes the merged catalog from every server's live tools.
    fn rebuild(&self) {
        let _one_at_a_time = lock(&self.inner.rebuild_lock);
        let servers: Vec<Arc<Downstream>> = lock(&self.inner.servers).values().cloned().collect();
        let settings = &self.inner.settings;
        let mut catalog = Catalog::default();
        for server in servers {
            let snapshot = server.snapshot();
            // Listed: what the live connection offers. Routed: also what it offered when
            // last up, so a call while it is down reconnects it.
            let live: std::collections::HashSet<&str> = snapshot
                .offered_tools()
                .iter()
                .map(|t| t.name.as_ref())
                .collect();
            for tool in snapshot.known_tools.iter() {
                if !self.offers(&server, tool) {
                    continue;
                }
                let exposed = names::tool_name(&server.prefix, &tool.name, settings.name_budget);
                catalog
                    .routes
                    .insert(exposed.clone(), (server.clone(), tool.name.to_string()));
                if live.contains(tool.name.as_ref()) {
                    let mut offered = tool.clone();
                    offered.name = exposed.into();
                    catalog.tools.push(offered);
                }
            }
            self.add_lists(&mut catalog, &server, &snapshot);
            self.report_discovered(&server, &snapshot);
        }
        catalog.tools.sort_by(|a, b| a.name.cmp(&b.name));
        catalog.prompts.sort_by(|a, b| a.name.cmp(&b.name));
        catalog.token_cost = catalog.tools.iter().map(token_cost).sum();
        catalog.index = search::Index::build(catalog.tools.iter().map(|t| {
            let server = catalog
                .routes
                .get(t.name.as_ref())
                .map(|(s, _)| s.spec.name.as_str())
                .unwrap_or_default();
            (t, server)
        }));
        let (tools, prompts, resources) = {
            let mut current = self
                .inner
                .catalog
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let changed = (
                current.tools != catalog.tools,
                current.prompts != catalog.prompts,
                current.resources != catalog.resources || current.templates != catalog.templates,
            );
            *current = Arc::new(catalog);
            changed
        };
        if tools || prompts || resources {
            self.inner.changes.send_modify(|c| {
                c.tools += u64::from(tools);
                c.prompts += u64::from(prompts);
                c.resources += u64::from(resources);
            });
        }
    }

    /// Tells Plugged.in the tools of an account server when they changed.
    fn report_discovered(&self, server: &Downstream, snapshot: &Snapshot) {
        let Some(uuid) = &server.spec.uuid else {
            return;
        };
        if snapshot.tools.is_empty() {
            return;
        }
        let listing = snapshot.tools_listed;
        if lock(&self.inner.reported_tools).insert(uuid.clone(), listing) == Some(listing) {
            return;
        }
        if let Some(reporter) = lock(&self.inner.reporter).clone() {
            reporter.discovered(uuid.clone(), snapshot.tools.clone());
        }
    }

    /// Adds a live server's prompts, resources and templates to `catalog`.
    fn add_lists(&self, catalog: &mut Catalog, server: &Arc<Downstream>, snapshot: &Snapshot) {
        for prompt in snapshot.prompts.iter() {
            let exposed = names::tool_name(
                &server.prefix,
                &prompt.name,
                self.inner.settings.name_budget,
            );
            let mut offered = prompt.clone();
            offered.name = exposed.clone();
            catalog
                .prompt_routes
                .insert(exposed, (server.clone(), prompt.name.clone()));
            catalog.prompts.push(offered);
        }
        for resource in snapshot.resources.iter() {
            if catalog.resource_routes.contains_key(&resource.uri) {
                continue;
            }
            catalog
                .resource_routes
                .insert(resource.uri.clone(), server.clone());
            catalog.resources.push(resource.clone());
        }
        for template in snapshot.templates.iter() {
            let literal = template
                .uri_template
                .split('{')
                .next()
                .unwrap_or_default()
                .to_string();
            catalog.template_routes.push((literal, server.clone()));
            catalog.templates.push(template.clone());
        }
    }

    fn offers(&self, server: &Downstream, tool: &Tool) -> bool {
        let read_only_ok = !self.inner.settings.read_only
            || tool
                .annotations
                .as_ref()
                .and_then(|a| a.read_only_hint)
                .unwrap_or(false);
        read_only_ok && server.spec.allows(&tool.name)
    }

    fn catalog(&self) -> Arc<Catalog> {
        self.inner
            .catalog
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Whether a call to one of its servers is in flight.
    pub fn busy(&self) -> bool {
        lock(&self.inner.servers).values().any(|s| s.busy())
    }

    /// Whether a server is still starting (its tools are about to change the lists).
    pub fn settling(&self) -> bool {
        lock(&self.inner.servers)
            .values()
            .any(|s| s.snapshot().state == State::Starting)
    }

    /// Whether no source configures any server (the hub's own tools are then not listed).
    pub fn is_empty(&self) -> bool {
        lock(&self.inner.servers).is_empty()
    }

    /// Every downstream tool offered, under its hub name, sorted.
    pub fn tools(&self) -> Vec<Tool> {
        self.catalog().tools.clone()
    }

    pub fn tool(&self, name: &str) -> Option<Tool> {
        self.catalog()
            .tools
            .iter()
            .find(|t| t.name == name)
            .cloned()
    }

    /// Whether `tools/list` should offer the search tools instead of every downstream tool.
    pub fn searching(&self) -> bool {
        match self.inner.settings.tool_search {
            ToolSearch::On => true,
            ToolSearch::Off => false,
            ToolSearch::Auto => self.catalog().token_cost > self.inner.settings.tool_search_budget,
        }
    }

    /// What listing every downstream tool costs a model, in estimated tokens.
    pub fn catalog_tokens(&self) -> usize {
        self.catalog().token_cost
    }

    /// The downstream tools best matching `query`, best first: (tool, server name, score).
    pub fn search(&self, query: &str, limit: usize) -> Vec<(Tool, String, f64)> {
        let catalog = self.catalog();
        catalog
            .index
            .search(query, limit)
            .into_iter()
            .map(|(i, score)| {
                let tool = catalog.tools[i].clone();
                let server = catalog
                    .routes
                    .get(tool.name.as_ref())
                    .map(|(s, _)| s.spec.name.clone())
                    .unwrap_or_default();
                (tool, server, score)
            })
            .collect()
    }

    pub fn has_tool(&self, name: &str) -> bool {
        self.catalog().routes.contains_key(name)
    }

    /// Every downstream prompt, under its hub name, sorted.
    pub fn prompts(&self) -> Vec<Prompt> {
        self.catalog().prompts.clone()
    }

    /// Every downstream resource, with its own URI.
    pub fn resources(&self) -> Vec<Resource> {
        self.catalog().resources.clone()
    }

    pub fn resource_templates(&self) -> Vec<ResourceTemplate> {
        self.catalog().templates.clone()
    }

    /// `prompts/get` of a hub prompt; `None`: no such hub prompt.
    pub async fn get_prompt(
        &self,
        mut params: GetPromptRequestParams,
        ct: &CancellationToken,
    ) -> Option<Result<GetPromptResponse, CallError>> {
        let (server, original) = self
            .catalog()
            .prompt_routes
            .get(params.name.as_str())
            .cloned()?;
        params.name = original.clone();
        let started = std::time::Instant::now();
        let outcome = server
            .get_prompt(params, self.timeout_of(&server), ct)
            .await;
        self.report(
            &server,
            "prompt_get",
            original,
            started,
            outcome.as_ref().err(),
        );
        Some(outcome)
    }

    /// `resources/read` of a URI a downstream server listed, or one that matches the start
    /// of one of their templates; `None`: not a hub resource.
    pub async fn read_resource(
        &self,
        params: ReadResourceRequestParams,
        ct: &CancellationToken,
    ) -> Option<Result<ReadResourceResponse, CallError>> {
        let catalog = self.catalog();
        let server = catalog
            .resource_routes
            .get(&params.uri)
            .cloned()
            .or_else(|| {
                catalog
                    .template_routes
                    .iter()
                    .filter(|(literal, _)| !literal.is_empty() && params.uri.starts_with(literal))
                    .max_by_key(|(literal, _)| literal.len())
                    .map(|(_, server)| server.clone())
            })?;
        let uri = params.uri.clone();
        let started = std::time::Instant::now();
        let outcome = server
            .read_resource(params, self.timeout_of(&server), ct)
            .await;
        self.report(
            &server,
            "resource_read",
            uri,
            started,
            outcome.as_ref().err(),
        );
        Some(outcome)
    }

    fn timeout_of(&self, server: &Downstream) -> Duration {
        server
            .spec
            .timeout
            .unwrap_or(self.inner.settings.call_timeout)
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

    /// Changes of the catalog, for `notifications/*/list_changed`.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Changes> {
        self.inner.changes.subscribe()
    }

    /// Sends a call to the server `name` routes to, under the tool's own name, with the
    /// arguments and `_meta` as the client sent them. `None`: no such hub tool.
    pub async fn call(
        &self,
        mut params: CallToolRequestParams,
        caller: Option<Arc<relay::Caller>>,
        ct: &CancellationToken,
    ) -> Option<Result<CallToolResponse, CallError>> {
        let (server, original) = self.catalog().routes.get(params.name.as_ref()).cloned()?;
        params.name = original.clone().into();
        let bounds = (self.timeout_of(&server), self.inner.settings.max_call_time);
        let started = std::time::Instant::now();
        let outcome = server.call(params, bounds, caller, ct).await;
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

    /// `tasks/get` of a task a server made for a call through the hub (by the hub's id).
    pub async fn get_task(
        &self,
        params: GetTaskParams,
        ct: &CancellationToken,
    ) -> Result<GetTaskResult, ErrorData> {
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
    ) -> Result<(), ErrorData> {
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
    ) -> Result<(), ErrorData> {
        let (server, original) = self.task_server(&params.task_id)?;
        server
            .cancel_task(original, params, self.timeout_of(&server), ct)
            .await
    }

    /// The server a task of the hub's belongs to, and the server's own id for it.
    fn task_server(&self, id: &str) -> Result<(Arc<Downstream>, String), ErrorData> {
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

    /// Every configured server, by name.
    pub fn status(&self) -> Vec<ServerStatus> {
        let catalog = self.catalog();
        lock(&self.inner.servers)
            .values()
            .map(|server| ServerStatus {
                name: server.spec.name.clone(),
                prefix: server.prefix.clone(),
                transport: server.spec.transport_name(),
                instructions: server.spec.instructions.clone(),
                snapshot: server.snapshot(),
                offered_tools: catalog
                    .tools
                    .iter()
                    .filter(|t| {
                        catalog
                            .routes
                            .get(t.name.as_ref())
                            .is_some_and(|(s, _)| Arc::ptr_eq(s, server))
                    })
                    .count(),
            })
            .collect()
    }

    /// The Plugged.in ids of the servers `which` names (all account servers for `None`).
    pub fn account_ids(&self, which: Option<&str>) -> Vec<String> {
        lock(&self.inner.servers)
            .values()
            .filter(|s| which.is_none_or(|w| s.answers_to(w)))
            .filter_map(|s| s.spec.uuid.clone())
            .collect()
    }

    /// Reconnects one server (by name or prefix) or all; returns the names of those it
    /// reconnects (none when no server matches).
    pub fn reconnect(&self, which: Option<&str>) -> Vec<String> {
        lock(&self.inner.servers)
            .values()
            .filter(|s| which.is_none_or(|w| s.answers_to(w)))
            .map(|s| {
                s.reconnect();
                s.spec.name.clone()
            })
            .collect()
    }

    /// Custom instructions of the servers that have them: (server, text).
    pub fn instructions(&self) -> Vec<(String, String)> {
        lock(&self.inner.servers)
            .values()
            .filter_map(|s| Some((s.prefix.clone(), s.spec.instructions.clone()?)))
            .collect()
    }

    /// A client's roots changed: every live server is told, and asks again if it cares.
    pub fn roots_changed(&self) {
        let servers: Vec<Arc<Downstream>> = lock(&self.inner.servers).values().cloned().collect();
        for server in servers {
            server.roots_changed();
        }
    }

    /// Stops every server.
    pub fn shutdown(&self) {
        for server in std::mem::take(&mut *lock(&self.inner.servers)).into_values() {
            server.stop();
        }
        self.rebuild();
    }
}

/// A rough count of the tokens a tool costs a model when listed: its name, description and
/// schemas as JSON, at about four characters a token.
pub fn token_cost(tool: &Tool) -> usize {
    let schema = |s: &serde_json::Map<String, serde_json::Value>| {
        serde_json::to_string(s).map(|j| j.len()).unwrap_or(0)
    };
    let chars = tool.name.len()
        + tool.description.as_deref().map_or(0, str::len)
        + schema(&tool.input_schema)
        + tool.output_schema.as_deref().map_or(0, schema);
    chars.div_ceil(4)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
