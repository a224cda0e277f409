//! Who subscribed to which downstream resource: 2025-11-25 sessions with
//! `resources/subscribe`, 2026-07-28 clients with the `resourceSubscriptions` of their
//! `subscriptions/listen`. A server is subscribed to a URI once, when its first subscriber
//! comes, and unsubscribed when its last goes; its `notifications/resources/updated` reach
//! only the subscribers of that URI through that server. Bounded per hub.

use std::sync::Mutex;

use rmcp::{
    RoleServer,
    model::ResourceUpdatedNotificationParam,
    service::{Peer, SubscriptionSink},
};
use tokio::sync::watch;

/// Most subscriptions one hub holds.
pub const MAX_SUBSCRIPTIONS: usize = 4_096;

/// Where a resource's updates go.
#[derive(Clone)]
pub enum Subscriber {
    /// A 2025-11-25 session.
    Session(Peer<RoleServer>),
    /// A 2026-07-28 client's `subscriptions/listen` stream.
    Listen(SubscriptionSink),
}

impl Subscriber {
    fn is_closed(&self) -> bool {
        match self {
            Subscriber::Session(peer) => peer.is_transport_closed(),
            Subscriber::Listen(_) => false,
        }
    }

    async fn send(&self, uri: &str) -> bool {
        match self {
            Subscriber::Session(peer) => peer
                .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                .await
                .is_ok(),
            Subscriber::Listen(sink) => sink.notify_resource_updated(uri).await.is_ok(),
        }
    }
}

struct Entry {
    /// Who subscribed: a session's or a listen stream's key, so it can unsubscribe.
    owner: usize,
    server: String,
    uri: String,
    subscriber: Subscriber,
}

/// What adding or removing a subscription means for the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The server must be told (its first subscriber of the URI came, or its last went).
    First,
    Last,
    /// Nothing to tell it.
    None,
}

pub struct Subscriptions {
    entries: Mutex<Vec<Entry>>,
    /// Bumped when the set of subscribed URIs changes (2026-07-28 servers listen again).
    changed: watch::Sender<u64>,
}

impl Default for Subscriptions {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
            changed: watch::Sender::new(0),
        }
    }
}

/// Why a subscription was refused.
#[derive(Debug, thiserror::Error)]
#[error("too many resource subscriptions (at most {MAX_SUBSCRIPTIONS} per hub)")]
pub struct TooMany;

impl Subscriptions {
    /// Subscribes `owner` to `uri` of `server`. Subscribing twice is one subscription.
    pub fn add(
        &self,
        owner: usize,
        server: &str,
        uri: &str,
        subscriber: Subscriber,
    ) -> Result<Change, TooMany> {
        let mut entries = lock(&self.entries);
        entries.retain(|e| !e.subscriber.is_closed());
        if entries.iter().any(|e| e.owner == owner && e.uri == uri) {
            return Ok(Change::None);
        }
        if entries.len() >= MAX_SUBSCRIPTIONS {
            return Err(TooMany);
        }
        let first = !entries.iter().any(|e| e.server == server && e.uri == uri);
        entries.push(Entry {
            owner,
            server: server.to_string(),
            uri: uri.to_string(),
            subscriber,
        });
        drop(entries);
        if first {
            self.changed.send_modify(|n| *n += 1);
            return Ok(Change::First);
        }
        Ok(Change::None)
    }

    /// Unsubscribes `owner` from `uri`; returns the server it was subscribed through and
    /// whether it was that server's last subscriber of it.
    pub fn remove(&self, owner: usize, uri: &str) -> Option<(String, Change)> {
        let mut entries = lock(&self.entries);
        let at = entries
            .iter()
            .position(|e| e.owner == owner && e.uri == uri)?;
        let entry = entries.remove(at);
        let last = !entries
            .iter()
            .any(|e| e.server == entry.server && e.uri == uri);
        drop(entries);
        if last {
            self.changed.send_modify(|n| *n += 1);
            return Some((entry.server, Change::Last));
        }
        Some((entry.server, Change::None))
    }

    /// Every subscription of `owner` (a listen stream that ended): (server, uri, change).
    pub fn remove_owner(&self, owner: usize) -> Vec<(String, String, Change)> {
        let uris: Vec<String> = lock(&self.entries)
            .iter()
            .filter(|e| e.owner == owner)
            .map(|e| e.uri.clone())
            .collect();
        uris.into_iter()
            .filter_map(|uri| {
                let (server, change) = self.remove(owner, &uri)?;
                Some((server, uri, change))
            })
            .collect()
    }

    /// The URIs subscribed through `server`.
    pub fn uris_of(&self, server: &str) -> Vec<String> {
        let mut uris: Vec<String> = lock(&self.entries)
            .iter()
            .filter(|e| e.server == server)
            .map(|e| e.uri.clone())
            .collect();
        uris.sort();
        uris.dedup();
        uris
    }

    pub fn watch(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// `server` says `uri` changed: its subscribers through that server are told.
    pub async fn updated(&self, server: &str, uri: &str) {
        let subscribers: Vec<Subscriber> = lock(&self.entries)
            .iter()
            .filter(|e| e.server == server && e.uri == uri)
            .map(|e| e.subscriber.clone())
            .collect();
        for subscriber in subscribers {
            subscriber.send(uri).await;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
