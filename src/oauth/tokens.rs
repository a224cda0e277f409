//! What the authorization server hands out, as sealed payloads ([`super::seal`]), and the
//! little it must remember: codes already redeemed, refresh-token families (to rotate them
//! and to catch a stolen one being reused) and revocations. That memory is this replica's:
//! see `docs/http.md` for what that means behind a balancer.

use std::{collections::HashMap, time::Duration};

use serde::{Deserialize, Serialize};

/// How long each thing lives.
pub const CODE_LIFETIME: Duration = Duration::from_secs(60);
pub const ACCESS_LIFETIME: Duration = Duration::from_secs(60 * 60);
pub const REFRESH_LIFETIME: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// The consent form may be left open this long.
pub const TICKET_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// The token kinds (each sealed under its own associated data).
pub const CLIENT: &str = "client";
pub const TICKET: &str = "ticket";
pub const WAIT: &str = "wait";
pub const CODE: &str = "code";
pub const ACCESS: &str = "access";
pub const REFRESH: &str = "refresh";

/// A client registered by RFC 7591: its `client_id` is this, sealed, so registering
/// stores nothing (a flood of registrations fills no table).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Client {
    pub redirect_uris: Vec<String>,
    pub name: String,
    pub issued_at: i64,
}

/// An authorization request as checked, carried by the consent form (and bound to the
/// browser that was shown it by `csrf`, the hash of its cookie).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Ticket {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub challenge: String,
    /// Space-separated, as asked (the form may grant less).
    pub scopes: String,
    pub resource: String,
    pub csrf: String,
    pub expires: i64,
}

/// A Plugged.in device sign-in under way, for the page that waits for its approval.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Wait {
    pub ticket: Ticket,
    pub granted: String,
    pub device_code: String,
    pub user_code: String,
    pub verification_url: String,
    pub interval: u64,
    pub expires: i64,
}

/// What a token stands for: a Plugged.in key (never stored or sent anywhere in clear), the
/// scopes granted, the resource and the client it was issued to.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Grant {
    pub key: String,
    pub scopes: String,
    pub resource: String,
    pub client_id: String,
}

/// An authorization code.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Code {
    pub grant: Grant,
    pub redirect_uri: String,
    pub challenge: String,
    pub id: String,
    pub expires: i64,
}

/// An access token.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Access {
    pub grant: Grant,
    pub id: String,
    pub family: String,
    pub expires: i64,
}

/// A refresh token: the `generation`-th of its `family` (each refresh makes the next one
/// and retires this).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Refresh {
    pub grant: Grant,
    pub family: String,
    pub generation: u32,
    pub expires: i64,
}

/// Most entries of each kind the ledger holds (expired ones are dropped first).
const MAX_ENTRIES: usize = 100_000;

/// What a refresh means for its family.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The current generation: the next one is issued.
    Next(u32),
    /// An older generation came back — a copy of a retired token: the family is revoked.
    Reused,
    Revoked,
    /// Too much to remember now.
    Full,
}

/// What this replica remembers (all bounded; times are unix seconds).
#[derive(Default)]
pub struct Ledger {
    /// Codes redeemed, until they expire.
    redeemed: HashMap<String, i64>,
    /// Each family's current generation (or revoked), until its refresh token expires.
    families: HashMap<String, (Option<u32>, i64)>,
    /// Access tokens revoked one by one, until they expire.
    revoked: HashMap<String, i64>,
}

impl Ledger {
    /// Marks code `id` redeemed; false when it was already (a replayed code).
    pub fn redeem(&mut self, id: &str, expires: i64, now: i64) -> bool {
        if !room(&mut self.redeemed, now, |e| *e) {
            return false;
        }
        self.redeemed.insert(id.to_string(), expires).is_none()
    }

    /// A new family, at generation 0.
    pub fn start_family(&mut self, family: &str, expires: i64, now: i64) -> bool {
        if !room(&mut self.families, now, |e| e.1) {
            return false;
        }
        self.families.insert(family.to_string(), (Some(0), expires));
        true
    }

    /// A refresh with the `generation`-th token of `family`. A family this replica has not
    /// seen (issued by another replica, or before a restart) is taken up where the token
    /// says.
    pub fn rotate(&mut self, family: &str, generation: u32, expires: i64, now: i64) -> Rotation {
        match self.families.get_mut(family) {
            Some((None, _)) => Rotation::Revoked,
            Some((Some(current), _)) if generation < *current => {
                self.families.insert(family.to_string(), (None, expires));
                Rotation::Reused
            }
            Some((Some(current), until)) => {
                *current = generation + 1;
                *until = expires;
                Rotation::Next(generation + 1)
            }
            None => {
                if !room(&mut self.families, now, |e| e.1) {
                    return Rotation::Full;
                }
                self.families
                    .insert(family.to_string(), (Some(generation + 1), expires));
                Rotation::Next(generation + 1)
            }
        }
    }

    /// Revokes a whole family: its refresh tokens and the access tokens issued from it.
    pub fn revoke_family(&mut self, family: &str, expires: i64, now: i64) {
        if room(&mut self.families, now, |e| e.1) || self.families.contains_key(family) {
            self.families.insert(family.to_string(), (None, expires));
        }
    }

    pub fn revoke_access(&mut self, id: &str, expires: i64, now: i64) {
        if room(&mut self.revoked, now, |e| *e) {
            self.revoked.insert(id.to_string(), expires);
        }
    }

    /// Whether an access token (`id` of `family`) was revoked.
    pub fn is_revoked(&self, id: &str, family: &str) -> bool {
        self.revoked.contains_key(id) || matches!(self.families.get(family), Some((None, _)))
    }
}

/// Whether `map` has room for one more, after dropping what expired.
fn room<V>(map: &mut HashMap<String, V>, now: i64, expires: impl Fn(&V) -> i64) -> bool {
    if map.len() >= MAX_ENTRIES {
        map.retain(|_, v| expires(v) > now);
    }
    map.len() < MAX_ENTRIES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_redeemed_once() {
        let mut ledger = Ledger::default();
        assert!(ledger.redeem("c1", 100, 0));
        assert!(!ledger.redeem("c1", 100, 1));
    }

    #[test]
    fn a_retired_refresh_token_coming_back_revokes_its_family() {
        let mut ledger = Ledger::default();
        assert!(ledger.start_family("f", 100, 0));
        assert_eq!(ledger.rotate("f", 0, 100, 1), Rotation::Next(1));
        assert_eq!(ledger.rotate("f", 1, 100, 2), Rotation::Next(2));
        // Generation 0 again: someone kept a copy.
        assert_eq!(ledger.rotate("f", 0, 100, 3), Rotation::Reused);
        assert_eq!(ledger.rotate("f", 2, 100, 4), Rotation::Revoked);
        assert!(ledger.is_revoked("any access token", "f"));
    }

    #[test]
    fn a_family_from_elsewhere_is_taken_up() {
        let mut ledger = Ledger::default();
        assert_eq!(ledger.rotate("g", 4, 100, 0), Rotation::Next(5));
        assert_eq!(ledger.rotate("g", 4, 100, 0), Rotation::Reused);
    }
}
