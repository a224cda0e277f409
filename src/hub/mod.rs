//! Hub mode: the user's own MCP servers behind this one. Servers come from sources — a
//! `mcpServers` file (`--servers`, reloaded when it changes) and the user's Plugged.in
//! account (`/api/mcp-servers`, polled) — merged; each is supervised on its own
//! ([`downstream`]); their tools are merged into one catalog under `<prefix>__<tool>`
//! names ([`names`]) that route to exactly the server they name.

pub mod activity;
pub mod bridge;
mod catalog;
pub mod catalog_cache;
pub mod downstream;
pub mod lineage;
pub mod lists;
#[cfg(test)]
mod memory_tests;
pub mod names;
pub mod pluggedin_source;
pub mod relay;
mod routing;
pub mod search;
pub mod spec;
pub mod sse_client;
pub mod subscriptions;
pub mod tap;
pub mod tasks;
pub mod tenants;
pub mod watch_file;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use rmcp::model::{ClientCapabilities, Tool};

use catalog::Catalog;
pub use catalog::{Changes, token_cost};
use downstream::Downstream;
pub use downstream::{HubError, Snapshot, State};
pub use routing::ClientSide;
pub use spec::ServerSpec;

/// Longest downstream servers wait for the first client to be answered before starting.
/// Starting ten servers is ten fork/execs: done while a client's `initialize` is in flight,
/// they would delay its answer on a small machine; waiting for it costs a few milliseconds.
const START_GATE_MAX: Duration = Duration::from_millis(250);

/// Longest a `tools/list` waits for the account's servers and cached catalog to arrive
/// (once, at start): long enough for Plugged.in to answer, short enough that an
/// unreachable Plugged.in costs the first list little. Once it has passed, lists never
/// wait for the account again.
pub const SOURCES_WAIT: Duration = Duration::from_millis(1_500);

/// Default of [`HubSettings::list_wait`].
pub const LIST_WAIT: Duration = Duration::from_secs(5);

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
    /// Longest the first lists wait, after servers start, for servers starting for the
    /// first time with nothing cached (`--hub-list-wait`): a client that takes its tool list
    /// once, right after connecting, then sees them. Never longer, so a hung server costs
    /// only this.
    pub list_wait: Duration,
    /// Where servers' lists are kept between runs (the data directory); `None`: not kept.
    pub cache: Option<catalog_cache::CatalogCache>,
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
            list_wait: LIST_WAIT,
            cache: None,
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
    /// Tools it lists that are not offered, and why.
    pub dropped: Vec<String>,
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
    cached_tools: Mutex<HashMap<String, Vec<Tool>>>,
    /// Sources registered but not yet delivered once ([`Hub::sources_loaded`]).
    pending_sources: tokio::sync::watch::Sender<usize>,
    /// Until when lists wait for the sources (set by the first list to wait).
    sources_deadline: std::sync::OnceLock<tokio::time::Instant>,
    catalog: RwLock<Arc<Catalog>>,
    /// Held for a whole rebuild: two rebuilds racing could otherwise store the older view
    /// last (servers starting together each trigger one), losing a server's tools.
    rebuild_lock: Mutex<()>,
    /// The clients of the hub, for what servers send back outside calls, and what servers
    /// may be promised.
    clients: Arc<relay::Clients>,
    /// Opens when downstream servers may start (see [`Hub::client_joined`]).
    gate: tokio::sync::watch::Sender<bool>,
    /// When the gate opened: the first lists wait for servers until `list_wait` after it.
    opened_at: std::sync::OnceLock<tokio::time::Instant>,
    /// Bumped whenever a list changes; sessions send the matching `list_changed` on it.
    changes: tokio::sync::watch::Sender<Changes>,
    /// Bumped on every rebuild (a server's state or lists changed).
    rebuilt: tokio::sync::watch::Sender<u64>,
    /// Called when Plugged.in rejects the account's key ([`Hub::on_revoked`]).
    revoked: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
    /// Tasks servers made for calls whose clients follow them, under the hub's ids.
    tasks: Arc<tasks::Tasks>,
    /// Who subscribed to which downstream resource.
    subscriptions: Arc<subscriptions::Subscriptions>,
    /// 2026-07-28 clients' calls parked while their server waits for an answer.
    bridge: bridge::Bridge,
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
        let hub = Self {
            inner: Arc::new(Inner {
                rebuild_lock: Mutex::new(()),
                clients: Arc::default(),
                gate: tokio::sync::watch::Sender::new(false),
                opened_at: std::sync::OnceLock::new(),
                settings,
                sources: Mutex::default(),
                poll_now: tokio::sync::Notify::new(),
                reporter: Mutex::default(),
                reported_tools: Mutex::default(),
                servers: Mutex::default(),
                cached_tools: Mutex::default(),
                pending_sources: tokio::sync::watch::Sender::new(0),
                sources_deadline: std::sync::OnceLock::new(),
                catalog: RwLock::default(),
                changes: tokio::sync::watch::Sender::new(Changes::default()),
                rebuilt: tokio::sync::watch::Sender::new(0),
                revoked: Mutex::default(),
                tasks: Arc::default(),
                subscriptions: Arc::default(),
                bridge: bridge::Bridge::default(),
            }),
        };
        let weak = Arc::downgrade(&hub.inner);
        tokio::spawn(async move {
            tokio::time::sleep(START_GATE_MAX).await;
            if let Some(inner) = weak.upgrade() {
                Hub { inner }.open_gate();
            }
        });
        hub
    }

    /// Lets downstream servers start.
    fn open_gate(&self) {
        self.inner.opened_at.get_or_init(tokio::time::Instant::now);
        self.inner.gate.send_replace(true);
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
        *lock(&self.inner.cached_tools) = by_server;
    }

    /// A source that delivers its servers later (the account's): until it has delivered
    /// once, [`Hub::sources_loaded`] waits for it. Returns what to call when it has.
    pub(crate) fn expect_source(&self) -> impl FnOnce() + Send + 'static {
        self.inner.pending_sources.send_modify(|n| *n += 1);
        let pending = self.inner.pending_sources.clone();
        move || pending.send_modify(|n| *n = n.saturating_sub(1))
    }

    /// Waits until every source delivered its servers once, so the first `tools/list` can
    /// carry the account's catalog: at most `bound` after the first wait began, so once
    /// that has passed nothing waits for the sources again.
    pub async fn sources_loaded(&self, bound: Duration) {
        let deadline = *self
            .inner
            .sources_deadline
            .get_or_init(|| tokio::time::Instant::now() + bound);
        self.sources_loaded_by(deadline).await;
    }

    async fn sources_loaded_by(&self, deadline: tokio::time::Instant) {
        let mut pending = self.inner.pending_sources.subscribe();
        let _ = tokio::time::timeout_at(deadline, pending.wait_for(|n| *n == 0)).await;
    }

    /// Waits for what the first lists should carry: the sources' servers (as
    /// [`Self::sources_loaded`]), then the servers starting for the first time with
    /// nothing cached — until each is up or has failed, or [`HubSettings::list_wait`] after
    /// servers began to start. Later lists find nothing to wait for, or the time over.
    pub async fn first_lists(&self) {
        self.sources_loaded(SOURCES_WAIT).await;
        let mut rebuilt = self.inner.rebuilt.subscribe();
        let mut gate = self.inner.gate.subscribe();
        let until = async {
            let _ = gate.wait_for(|open| *open).await;
            let opened = self
                .inner
                .opened_at
                .get()
                .copied()
                .unwrap_or_else(tokio::time::Instant::now);
            tokio::time::sleep_until(opened + self.inner.settings.list_wait).await;
        };
        let settled = async {
            loop {
                let fresh = lock(&self.inner.servers)
                    .values()
                    .any(|s| s.snapshot().first_start());
                if !fresh || rebuilt.changed().await.is_err() {
                    return;
                }
            }
        };
        tokio::select! {
            _ = until => {}
            _ = settled => {}
        }
    }

    /// Waits, within `bound`, until a call to `name` can be routed: the sources have
    /// delivered their servers, and the server the name's prefix points to has listed (or
    /// is up, or down) — and, when a client joined that can do more than that server was
    /// told, has listed again on its renewed connection. So a call made right after start,
    /// before the account was read or its server started, or right after a capable client
    /// joined (a sampling tool appears only then), reaches it instead of finding no such
    /// tool.
    pub async fn wait_for_tool(&self, name: &str, bound: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + bound;
        self.sources_loaded_by(deadline).await;
        let mut rebuilt = self.inner.rebuilt.subscribe();
        let waited = tokio::time::timeout_at(deadline, async {
            loop {
                if self.has_tool(name) {
                    return true;
                }
                let pending = lock(&self.inner.servers).values().any(|s| {
                    (s.snapshot().first_start() || s.behind_clients())
                        && (s.prefix.is_empty()
                            || name
                                .strip_prefix(s.prefix.as_str())
                                .is_some_and(|rest| rest.starts_with(names::SEPARATOR)))
                });
                if !pending || rebuilt.changed().await.is_err() {
                    return false;
                }
            }
        })
        .await;
        waited.unwrap_or(false)
    }

    /// A 2026-07-28 client made a request: what it can do joins what servers may be
    /// promised, and servers may start (such a client sends no `initialize`).
    pub fn client_seen(&self, capabilities: &ClientCapabilities) {
        self.inner.clients.declare(capabilities);
        self.open_gate();
    }

    /// The bound of a call to a server that sets no timeout of its own.
    pub fn call_timeout(&self) -> Duration {
        self.inner.settings.call_timeout
    }

    /// The parked calls of 2026-07-28 clients.
    pub fn parked_calls(&self) -> usize {
        self.inner.bridge.len()
    }

    /// Tools a server lists that are not offered, with why: (server, reasons).
    pub fn dropped_tools(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        self.catalog().dropped.clone()
    }

    /// Reports discovered tools, and each proxied call when `activity`, to `client`.
    pub fn report_to(&self, client: crate::api::Client, activity: bool) {
        *lock(&self.inner.reporter) = Some(activity::Reporter::start(client, activity));
    }

    /// A client session has begun: downstream servers may start now, promised what this
    /// client (and those before it) can do; what they send outside calls may go to it.
    pub fn client_joined(&self, session: relay::Session) {
        self.inner.clients.join(session);
        self.open_gate();
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
        let prefixes = names::assign_prefixes(
            specs
                .iter()
                .map(|s| (s.name.as_str(), s.slug.as_deref(), s.prefix.as_deref())),
        );
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
                            .map(lists::Lists::of_tools)
                            .unwrap_or_default();
                        Downstream::start(
                            spec.clone(),
                            prefix,
                            cached,
                            downstream::Shared {
                                clients: self.inner.clients.clone(),
                                tasks: self.inner.tasks.clone(),
                                subscriptions: self.inner.subscriptions.clone(),
                                connections: self.inner.settings.connections.clone(),
                                cache: self.inner.settings.cache.clone(),
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
                dropped: catalog
                    .dropped
                    .get(&server.spec.name)
                    .cloned()
                    .unwrap_or_default(),
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
    /// Why each entry that cannot work (a broken entry, a servers file that cannot be
    /// used, a server that would start this hub again) is not started.
    pub fn config_problems(&self) -> Vec<String> {
        lock(&self.inner.servers)
            .values()
            .filter_map(|s| match &s.spec.transport {
                spec::Transport::Invalid(why) => Some(why.clone()),
                _ => None,
            })
            .collect()
    }

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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
