//! Whether Plugged.in accepts a client's API key (`--auth passthrough`), asked once and
//! remembered: an accepted key for a few minutes, a rejected one for a minute (refused
//! without asking again). A bearer not shaped like a key is refused without asking at all;
//! checks of the same key at once are one request; and each client address may cause only so
//! many checks a minute that do not find a good key, so random keys cannot make this server
//! flood Plugged.in (while real users, however many share an address, are let in). A key
//! Plugged.in later rejects on any call ([`KeyChecks::rejected`]) is forgotten at once.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::sync::OnceCell;

use super::{ApiError, Client};
use crate::secret::Secret;

/// How long an accepted key is taken without asking again.
const ACCEPTED_FOR: Duration = Duration::from_secs(300);
/// How long a rejected key is refused without asking again.
const REJECTED_FOR: Duration = Duration::from_secs(60);
/// Checks of keys Plugged.in did not accept (rejected, or still being asked about) one
/// client address may cause in a minute. Keys already known, and checks that find a good
/// key, cost none: many real users behind one proxy are never held up by it.
pub const CHECKS_PER_ADDRESS: u32 = 20;
/// Most keys remembered; the oldest verdicts go first.
const MAX_REMEMBERED: usize = 10_000;

/// What Plugged.in (or the door) says of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    /// Plugged.in rejected it (401), now or within the last minute.
    Rejected,
    /// Not shaped like a Plugged.in key: never asked about.
    Malformed,
    /// This address asked about too many keys; try again after this long.
    Throttled(Duration),
    /// Plugged.in could not be asked (down, slow): nothing is remembered.
    Unchecked(String),
}

struct Remembered {
    accepted: bool,
    at: Instant,
}

/// The verdicts on the keys clients bring.
pub struct KeyChecks {
    client: Client,
    verdicts: Mutex<HashMap<String, Remembered>>,
    /// Checks in flight, so a key asked about by many requests at once is one request.
    checking: Mutex<HashMap<String, Arc<OnceCell<Verdict>>>>,
    /// Checks per client address in the current minute that did not find a good key.
    by_address: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl KeyChecks {
    /// Checks asked of Plugged.in through `client` (whose own key is not used).
    pub fn new(client: Client) -> Arc<Self> {
        Arc::new(Self {
            client,
            verdicts: Mutex::default(),
            checking: Mutex::default(),
            by_address: Mutex::default(),
        })
    }

    /// The verdict on `key`, brought by a client at `from`.
    pub async fn check(&self, key: &Secret, from: Option<IpAddr>) -> Verdict {
        if !crate::vocab::credentials::is_api_key(key.expose()) {
            return Verdict::Malformed;
        }
        let fingerprint = crate::text::sha256_hex(key.expose());
        if let Some(known) = self.remembered(&fingerprint) {
            return known;
        }
        if let Some(wait) = from.and_then(|address| self.over_budget(address)) {
            return Verdict::Throttled(wait);
        }
        let cell = lock(&self.checking)
            .entry(fingerprint.clone())
            .or_default()
            .clone();
        let verdict = cell
            .get_or_init(|| self.ask(key.clone(), fingerprint.clone()))
            .await
            .clone();
        lock(&self.checking).remove(&fingerprint);
        if verdict == Verdict::Accepted
            && let Some(address) = from
        {
            self.refund(address);
        }
        verdict
    }

    /// Plugged.in rejected `key` on some call: it is refused from now on (for a while).
    pub fn rejected(&self, key: &Secret) {
        let fingerprint = crate::text::sha256_hex(key.expose());
        self.remember(fingerprint, false);
    }

    async fn ask(&self, key: Secret, fingerprint: String) -> Verdict {
        match self.client.with_passthrough_key(key).mcp_servers().await {
            Ok(_) => {
                self.remember(fingerprint, true);
                Verdict::Accepted
            }
            Err(ApiError::Unauthorized { .. }) => {
                self.remember(fingerprint, false);
                Verdict::Rejected
            }
            Err(error) => Verdict::Unchecked(error.to_string()),
        }
    }

    fn remembered(&self, fingerprint: &str) -> Option<Verdict> {
        let verdicts = lock(&self.verdicts);
        let known = verdicts.get(fingerprint)?;
        let (valid_for, verdict) = if known.accepted {
            (ACCEPTED_FOR, Verdict::Accepted)
        } else {
            (REJECTED_FOR, Verdict::Rejected)
        };
        (known.at.elapsed() < valid_for).then_some(verdict)
    }

    fn remember(&self, fingerprint: String, accepted: bool) {
        let mut verdicts = lock(&self.verdicts);
        if verdicts.len() >= MAX_REMEMBERED {
            verdicts.retain(|_, v| {
                v.at.elapsed()
                    < if v.accepted {
                        ACCEPTED_FOR
                    } else {
                        REJECTED_FOR
                    }
            });
            if verdicts.len() >= MAX_REMEMBERED
                && let Some(oldest) = verdicts
                    .iter()
                    .min_by_key(|(_, v)| v.at)
                    .map(|(fp, _)| fp.clone())
            {
                verdicts.remove(&oldest);
            }
        }
        verdicts.insert(
            fingerprint,
            Remembered {
                accepted,
                at: Instant::now(),
            },
        );
    }

    /// Counts one check for `address`; how long to wait when it had its share this minute.
    fn over_budget(&self, address: IpAddr) -> Option<Duration> {
        let mut by_address = lock(&self.by_address);
        if by_address.len() >= MAX_REMEMBERED {
            by_address.retain(|_, (since, _)| since.elapsed() < Duration::from_secs(60));
        }
        let (since, count) = by_address.entry(address).or_insert((Instant::now(), 0));
        if since.elapsed() >= Duration::from_secs(60) {
            *since = Instant::now();
            *count = 0;
        }
        if *count >= CHECKS_PER_ADDRESS {
            return Some(Duration::from_secs(60).saturating_sub(since.elapsed()));
        }
        *count += 1;
        None
    }

    /// A check from `address` found a good key: it does not count against the address.
    fn refund(&self, address: IpAddr) {
        if let Some((_, count)) = lock(&self.by_address).get_mut(&address) {
            *count = count.saturating_sub(1);
        }
    }
}

impl std::fmt::Debug for KeyChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyChecks")
            .field("remembered", &lock(&self.verdicts).len())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
