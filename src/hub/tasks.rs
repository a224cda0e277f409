//! Tasks (SEP-2663, the `io.modelcontextprotocol/tasks` extension) that downstream servers
//! created for calls through the hub, and where each one lives.
//!
//! A client sees a task under an id of the hub's own (a random UUID), never the server's:
//! two servers may hand out the same id, and a `tasks/get`, `tasks/update` or `tasks/cancel`
//! must reach the server that made the task. An id the hub did not hand out is unknown —
//! nothing is forwarded for it. The table is per hub, so in passthrough mode one user's task
//! ids mean nothing to another user's hub. It is bounded: expired tasks go first, then the
//! oldest.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use rmcp::{RoleServer, service::Peer};

/// Most tasks remembered per hub.
pub const MAX_TASKS: usize = 4_096;

/// Kept this long when the server gives no time to live (its `ttlMs` is `null`).
const UNLIMITED_TTL: Duration = Duration::from_secs(24 * 3600);

struct Entry<O> {
    server: String,
    original: String,
    /// The client that made the call: the server's status notifications go to it.
    owner: O,
    created: Instant,
    ttl: Duration,
}

impl<O> Entry<O> {
    fn expired(&self, now: Instant) -> bool {
        now.duration_since(self.created) > self.ttl
    }
}

/// The tasks of one hub; `O` is who owns each (a client session's peer; anything in tests).
pub struct Tasks<O = Peer<RoleServer>> {
    inner: Mutex<Inner<O>>,
}

impl<O> Default for Tasks<O> {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                by_id: HashMap::new(),
                by_original: HashMap::new(),
            }),
        }
    }
}

struct Inner<O> {
    by_id: HashMap<String, Entry<O>>,
    /// (server, the server's id) → the hub's id.
    by_original: HashMap<(String, String), String>,
}

impl<O> Inner<O> {
    fn remove(&mut self, id: &str) {
        if let Some(entry) = self.by_id.remove(id) {
            self.by_original.remove(&(entry.server, entry.original));
        }
    }

    /// Makes room for one more: drops the expired, then the oldest.
    fn make_room(&mut self, now: Instant) {
        if self.by_id.len() < MAX_TASKS {
            return;
        }
        let expired: Vec<String> = self
            .by_id
            .iter()
            .filter(|(_, e)| e.expired(now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.remove(&id);
        }
        while self.by_id.len() >= MAX_TASKS {
            let Some(oldest) = self
                .by_id
                .iter()
                .min_by_key(|(_, e)| e.created)
                .map(|(id, _)| id.clone())
            else {
                break;
            };
            self.remove(&oldest);
        }
    }
}

fn ttl_of(ttl_ms: Option<u64>) -> Duration {
    ttl_ms.map_or(UNLIMITED_TTL, Duration::from_millis)
}

impl<O: Clone> Tasks<O> {
    /// Remembers a task `server` created for `owner`'s call; returns the id the client sees.
    pub fn adopt(&self, server: &str, original: &str, owner: O, ttl_ms: Option<u64>) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let now = Instant::now();
        let mut inner = lock(&self.inner);
        inner.make_room(now);
        let key = (server.to_string(), original.to_string());
        if let Some(old) = inner.by_original.get(&key).cloned() {
            // The server reused an id (it restarted): the new task replaces the old one.
            inner.remove(&old);
        }
        inner.by_original.insert(key, id.clone());
        inner.by_id.insert(
            id.clone(),
            Entry {
                server: server.to_string(),
                original: original.to_string(),
                owner,
                created: now,
                ttl: ttl_of(ttl_ms),
            },
        );
        id
    }

    /// The server a task id of the hub's belongs to, and the server's own id for it.
    pub fn route(&self, id: &str) -> Option<(String, String)> {
        let mut inner = lock(&self.inner);
        let entry = inner.by_id.get(id)?;
        if entry.expired(Instant::now()) {
            inner.remove(id);
            return None;
        }
        Some((entry.server.clone(), entry.original.clone()))
    }

    /// Whether `server` has a task a client may still ask about (its connection is then
    /// not renewed: a task lives in the connection that made it).
    pub fn any_of(&self, server: &str) -> bool {
        let now = Instant::now();
        lock(&self.inner)
            .by_id
            .values()
            .any(|e| e.server == server && !e.expired(now))
    }

    /// The server changed a task's time to live (it may, while the task runs).
    pub fn set_ttl(&self, id: &str, ttl_ms: Option<u64>) {
        if let Some(entry) = lock(&self.inner).by_id.get_mut(id) {
            entry.ttl = ttl_of(ttl_ms);
        }
    }

    /// The hub's id of a task of `server`, and the client it belongs to.
    pub fn owner(&self, server: &str, original: &str) -> Option<(String, O)> {
        let inner = lock(&self.inner);
        let id = inner
            .by_original
            .get(&(server.to_string(), original.to_string()))?;
        let entry = inner.by_id.get(id)?;
        Some((id.clone(), entry.owner.clone()))
    }

    pub fn len(&self) -> usize {
        lock(&self.inner).by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_hubs_own_and_route_to_their_server() {
        let tasks = Tasks::<()>::default();
        let a = tasks.adopt("a", "1", (), Some(60_000));
        let b = tasks.adopt("b", "1", (), None);
        assert_ne!(a, b);
        assert_ne!(a, "1");
        assert_eq!(tasks.route(&a), Some(("a".into(), "1".into())));
        assert_eq!(tasks.route(&b), Some(("b".into(), "1".into())));
        assert_eq!(tasks.route("1"), None);
        assert_eq!(tasks.owner("b", "1").map(|(id, _)| id), Some(b));
    }

    #[test]
    fn expired_tasks_are_unknown() {
        let tasks = Tasks::<()>::default();
        let id = tasks.adopt("a", "1", (), Some(0));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(tasks.route(&id), None);
        assert!(tasks.is_empty());
    }

    #[test]
    fn the_table_is_bounded_and_drops_the_oldest() {
        let tasks = Tasks::<()>::default();
        let first = tasks.adopt("a", "first", (), None);
        for i in 0..MAX_TASKS + 10 {
            tasks.adopt("a", &i.to_string(), (), None);
        }
        assert_eq!(tasks.len(), MAX_TASKS);
        assert_eq!(tasks.route(&first), None);
        assert!(tasks.owner("a", &(MAX_TASKS + 9).to_string()).is_some());
    }

    #[test]
    fn a_reused_server_id_replaces_the_old_task() {
        let tasks = Tasks::<()>::default();
        let old = tasks.adopt("a", "1", (), None);
        let new = tasks.adopt("a", "1", (), None);
        assert_eq!(tasks.route(&old), None);
        assert!(tasks.route(&new).is_some());
        assert_eq!(tasks.len(), 1);
    }
}
