//! One downstream server, supervised: [`supervisor`] connects it ([`connect`]: a child
//! process over stdio, Streamable HTTP or legacy SSE, in either protocol revision), lists
//! what it offers, follows its list changes, renews the connection when clients can do more
//! than it was told, and restarts it with backoff when it drops. [`calls`] sends requests
//! on its live connection; [`listener`] is the hub's client side of that connection.
#![allow(
    deprecated,
    reason = "sampling, roots and logging are deprecated in 2026-07-28 (SEP-2577) but are how 2025-11-25 servers talk"
)]

mod calls;
mod connect;
mod follow_task;
mod listener;
mod stdio;
mod supervisor;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::{
    lists::Lists,
    relay::{Clients, Relay},
    spec::{ServerSpec, Transport},
};
use crate::redact::Scrubber;
pub use calls::Bounds;
pub use connect::Connection;
pub use follow_task::unknown_task;

/// Where a server is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Starting,
    Ready,
    /// Down; the next attempt is after a backoff.
    BackingOff {
        reason: String,
    },
    /// Will not be started: its configuration cannot work.
    Failed {
        reason: String,
    },
    Disabled,
}

impl State {
    pub fn name(&self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Ready => "ready",
            State::BackingOff { .. } => "backing_off",
            State::Failed { .. } => "failed",
            State::Disabled => "disabled",
        }
    }
}

/// What status reports show about a server.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub state: State,
    /// What the live connection lists (empty while down).
    pub live: Arc<Lists>,
    /// What it listed when last up — or, before it ever did, what a cache knew of it: these
    /// tools still route to it, so a call made while it is down or starting waits for it
    /// instead of finding no such tool.
    pub known: Arc<Lists>,
    /// How many times it was listed: a new value is a new list.
    pub listings: u64,
    /// The protocol revision of the live connection.
    pub protocol: Option<String>,
    /// Tools it listed that could not be read, and why.
    pub unreadable: Vec<String>,
    /// Why its list changes are followed slowly, while they are (it announces too many).
    pub throttled: Option<String>,
    pub restarts: u32,
    pub last_error: Option<String>,
    pub last_latency: Option<Duration>,
}

impl Snapshot {
    /// What to offer now: the live lists, or — before the server ever listed its own, while
    /// it starts — what it was started with from a cache.
    pub fn offered(&self) -> &Arc<Lists> {
        if self.listings == 0 && self.state == State::Starting {
            &self.known
        } else {
            &self.live
        }
    }

    /// Whether it is starting for the first time with nothing to offer yet (the first
    /// `tools/list` waits for such servers, within a bound).
    pub fn first_start(&self) -> bool {
        self.state == State::Starting && self.listings == 0 && self.known.tools.is_empty()
    }
}

/// Why a request to the hub did not produce a result: a downstream's own failure (its
/// JSON-RPC error kept whole), or the hub's refusal. Protocol errors are made of it only in
/// the server layer (`server::hub_calls`).
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("server \"{server}\" is not available: {reason}")]
    Down { server: String, reason: String },
    #[error("server \"{server}\" did not answer within {} s", .after.as_secs_f64())]
    Timeout { server: String, after: Duration },
    #[error("the call was cancelled by the client")]
    Cancelled,
    #[error("server \"{server}\" failed the call: {detail}")]
    Failed { server: String, detail: String },
    /// The server answered with a JSON-RPC error (its code kept, its message scrubbed).
    #[error("server \"{server}\" refused the request: {}", .error.message)]
    Server {
        server: String,
        error: rmcp::ErrorData,
    },
    /// The hub refused the request itself: its parameters cannot work (a `requestState` it
    /// did not issue, an answer missing, a tool whose server left).
    #[error("{0}")]
    InvalidParams(String),
    /// The hub refused the request itself: it cannot be served as asked (too many
    /// subscriptions).
    #[error("{0}")]
    InvalidRequest(String),
}

pub struct Downstream {
    pub spec: ServerSpec,
    pub prefix: String,
    snapshot: Mutex<Snapshot>,
    /// The live connection; calls hold it while they run, so a renewed connection's
    /// predecessor closes only when its last call is over.
    connection: Mutex<Option<Arc<Connection>>>,
    /// Asks the supervisor to reconnect now (a refresh, or a call that found it down).
    restart: Notify,
    /// One of its lists changed (a `list_changed` notification).
    lists_changed: Arc<Notify>,
    /// Bumped on every state change, for calls waiting for a (re)connect.
    generation: watch::Sender<u64>,
    stop: CancellationToken,
    /// Removes every configured value from what is logged or shown as an error.
    scrubber: Scrubber,
    /// Removes the values of secret-named env vars and headers from its results (not every
    /// value: a path in its env is not a secret, and may be in its answers).
    result_scrubber: Scrubber,
    /// Its way back to the clients: its calls in flight (for what it sends back during
    /// them), the hub's client sessions and tasks.
    relay: Relay,
    /// Where its lists are kept between runs, when the hub keeps them.
    cache: Option<super::catalog_cache::CatalogCache>,
    /// Tools it listed that could not be read (a stdio server's; see [`stdio`]).
    refused: stdio::Refused,
}

/// Called whenever a server's tools or state change.
pub type OnChange = Arc<dyn Fn() + Send + Sync>;

/// What a server shares with the rest of its hub.
#[derive(Clone)]
pub struct Shared {
    /// The hub's client sessions (what servers may be promised, who answers them).
    pub clients: Arc<Clients>,
    /// The tasks servers made for calls whose clients follow them.
    pub tasks: Arc<super::tasks::Tasks>,
    /// Who subscribed to which resource.
    pub subscriptions: Arc<super::subscriptions::Subscriptions>,
    /// Live connections shared with other hubs, when limited ([`super::HubSettings`]).
    pub connections: Option<Arc<tokio::sync::Semaphore>>,
    /// Where servers' lists are kept between runs.
    pub cache: Option<super::catalog_cache::CatalogCache>,
    /// Called whenever the server's tools or state change.
    pub on_change: OnChange,
}

impl Downstream {
    /// Starts supervising `spec` in the background once `gate` opens; returns at once.
    /// `cached` is what a catalog (Plugged.in's) last knew of its tools; the hub's own cache
    /// of its last lists, when there is one, is preferred. Offered until the server lists
    /// its own, so clients see its tools before it is up.
    pub fn start(
        spec: ServerSpec,
        prefix: String,
        cached: Lists,
        shared: Shared,
        gate: watch::Receiver<bool>,
    ) -> Arc<Self> {
        let Shared {
            clients,
            tasks,
            subscriptions,
            connections,
            cache,
            on_change,
        } = shared;
        let secrets = secrets_of(&spec);
        for secret in &secrets {
            crate::redact::log::register(secret);
        }
        let scrubber = Scrubber::new(secrets.iter().map(String::as_str));
        let result_scrubber = Scrubber::new(named_secrets_of(&spec).iter().map(String::as_str));
        let relay = Relay {
            server: prefix.clone(),
            name: spec.name.clone(),
            tasks,
            subscriptions,
            in_flight: Arc::default(),
            clients,
            scrubber: scrubber.clone(),
        };
        let known = cache.as_ref().and_then(|c| c.load(&spec)).unwrap_or(cached);
        let this = Arc::new(Self {
            spec,
            prefix,
            snapshot: Mutex::new(Snapshot {
                state: State::Starting,
                live: Arc::default(),
                known: Arc::new(known),
                listings: 0,
                protocol: None,
                unreadable: Vec::new(),
                throttled: None,
                restarts: 0,
                last_error: None,
                last_latency: None,
            }),
            connection: Mutex::new(None),
            restart: Notify::new(),
            lists_changed: Arc::new(Notify::new()),
            generation: watch::Sender::new(0),
            stop: CancellationToken::new(),
            scrubber,
            result_scrubber,
            relay,
            cache,
            refused: stdio::Refused::default(),
        });
        crate::metrics::hub_server(State::Starting.name(), 1);
        tokio::spawn(this.clone().supervise(on_change, gate, connections));
        this
    }

    /// Stops the server (kills its child, closes its connection).
    pub fn stop(&self) {
        self.stop.cancel();
    }

    pub fn snapshot(&self) -> Snapshot {
        lock(&self.snapshot).clone()
    }

    /// Whether a call to it is in flight.
    pub fn busy(&self) -> bool {
        self.relay.in_flight.any()
    }

    /// Whether `which` names this server (its configured name or its tool prefix).
    pub fn answers_to(&self, which: &str) -> bool {
        which == self.spec.name || which == self.prefix
    }

    /// Tells the live connection that the client's roots changed (off the caller's path).
    pub fn roots_changed(&self) {
        if let Some(connection) = self.current() {
            tokio::spawn(async move {
                let _ = connection.peer.notify_roots_list_changed().await;
            });
        }
    }

    /// Reconnects now, skipping any backoff.
    pub fn reconnect(&self) {
        self.restart.notify_one();
    }

    fn update(&self, change: impl FnOnce(&mut Snapshot)) {
        {
            let mut snapshot = lock(&self.snapshot);
            let before = snapshot.state.name();
            change(&mut snapshot);
            let after = snapshot.state.name();
            if before != after {
                crate::metrics::hub_server(before, -1);
                crate::metrics::hub_server(after, 1);
            }
        }
        self.generation.send_modify(|g| *g += 1);
    }

    /// The live connection, if it is open.
    fn current(&self) -> Option<Arc<Connection>> {
        lock(&self.connection)
            .clone()
            .filter(|c| !c.peer.is_transport_closed())
    }
}

impl Drop for Downstream {
    fn drop(&mut self) {
        self.stop.cancel();
        crate::metrics::hub_server(lock(&self.snapshot).state.name(), -1);
    }
}

/// Values in a server's configuration that must never be logged or shown: its env values
/// and header values (short ones, like `1` or `true`, are settings, not secrets).
fn secrets_of(spec: &ServerSpec) -> Vec<String> {
    let values: Vec<&String> = match &spec.transport {
        Transport::Stdio { env, .. } => env.values().collect(),
        Transport::Http { headers, .. } | Transport::Sse { headers, .. } => {
            headers.values().collect()
        }
        Transport::Memory(_) | Transport::Invalid(_) => Vec::new(),
    };
    values
        .into_iter()
        .filter(|v| v.chars().count() >= crate::redact::log::MIN_SECRET_CHARS)
        .cloned()
        .collect()
}

/// The values of its env vars and headers whose names say they are secrets
/// ([`crate::redact::is_secret_name`]): taken out of its results too.
fn named_secrets_of(spec: &ServerSpec) -> Vec<String> {
    let named: Vec<&String> = match &spec.transport {
        Transport::Stdio { env, .. } => env
            .iter()
            .filter(|(name, _)| crate::redact::is_secret_name(name))
            .map(|(_, value)| value)
            .collect(),
        Transport::Http { headers, .. } | Transport::Sse { headers, .. } => headers
            .iter()
            .filter(|(name, _)| crate::redact::is_secret_name(name))
            .map(|(_, value)| value)
            .collect(),
        Transport::Memory(_) | Transport::Invalid(_) => Vec::new(),
    };
    named
        .into_iter()
        .filter(|v| v.chars().count() >= crate::redact::log::MIN_SECRET_CHARS)
        .cloned()
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
