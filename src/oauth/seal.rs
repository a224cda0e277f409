//! Sealed tokens: a payload encrypted and authenticated (AES-256-GCM) under a key every
//! replica holds, so any replica can read any token without shared storage, and nobody
//! without the key can read or forge one. Keys carry ids: the first key of the file seals,
//! every key opens, so a new key is rolled out first as a second line, then moved first.

use std::collections::HashMap;

use anyhow::{Context, bail};
use base64::Engine;
use ring::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    rand::{SecureRandom, SystemRandom},
};
use serde::{Serialize, de::DeserializeOwned};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The largest token this opens: a sealed payload is a few hundred bytes; a client's
/// registration (its redirect URIs) at most a few KiB.
pub const MAX_TOKEN_CHARS: usize = 8 * 1024;

pub struct Sealer {
    sealing: String,
    keys: HashMap<String, LessSafeKey>,
    random: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("sealing", &self.sealing)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// Reads a key file: one key a line, `ID:KEY` with KEY 32 random bytes in base64 (`#`
    /// starts a comment). The first key seals.
    pub fn from_file_text(text: &str) -> anyhow::Result<Self> {
        let mut sealing = None;
        let mut keys = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (id, key) = line
                .split_once(':')
                .with_context(|| format!("line {}: a key is ID:BASE64", n + 1))?;
            let id = id.trim();
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                bail!("line {}: a key id is letters, digits and -", n + 1);
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(key.trim())
                .or_else(|_| B64.decode(key.trim().trim_end_matches('=')))
                .with_context(|| format!("line {}: the key is not base64", n + 1))?;
            if bytes.len() != 32 {
                bail!(
                    "line {}: a key is 32 bytes (head -c32 /dev/urandom | base64), this one is {}",
                    n + 1,
                    bytes.len()
                );
            }
            if keys.insert(id.to_string(), key_of(&bytes)?).is_some() {
                bail!("line {}: the key id {id} is used twice", n + 1);
            }
            sealing.get_or_insert_with(|| id.to_string());
        }
        let sealing = sealing.context("the key file holds no key")?;
        Ok(Sealer {
            sealing,
            keys,
            random: SystemRandom::new(),
        })
    }

    /// A key made for this run: tokens die with the process and no other replica reads them.
    pub fn ephemeral() -> anyhow::Result<Self> {
        let random = SystemRandom::new();
        let mut bytes = [0u8; 32];
        random
            .fill(&mut bytes)
            .map_err(|_| anyhow::anyhow!("no randomness"))?;
        Ok(Sealer {
            sealing: "run".into(),
            keys: HashMap::from([("run".to_string(), key_of(&bytes)?)]),
            random,
        })
    }

    /// `payload` sealed as a `kind` (a token of one kind never opens as another).
    pub fn seal(&self, kind: &str, payload: &impl Serialize) -> String {
        let key = &self.keys[&self.sealing];
        let mut nonce = [0u8; NONCE_LEN];
        // A failure of the system's randomness is not recoverable by a caller.
        #[allow(
            clippy::expect_used,
            reason = "without randomness no token can be made safely"
        )]
        self.random.fill(&mut nonce).expect("system randomness");
        #[allow(
            clippy::expect_used,
            reason = "serializing our own payload types cannot fail"
        )]
        let mut data = serde_json::to_vec(payload).expect("payloads serialize");
        #[allow(
            clippy::expect_used,
            reason = "sealing fails only for inputs larger than GCM allows"
        )]
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(self.aad(kind, &self.sealing)),
            &mut data,
        )
        .expect("sealing");
        let mut bytes = nonce.to_vec();
        bytes.extend(data);
        format!("{}.{}", self.sealing, B64.encode(bytes))
    }

    /// The payload of `token` if it is a `kind` sealed by one of the keys, else `None`.
    pub fn open<T: DeserializeOwned>(&self, kind: &str, token: &str) -> Option<T> {
        if token.len() > MAX_TOKEN_CHARS {
            return None;
        }
        let (id, body) = token.split_once('.')?;
        let key = self.keys.get(id)?;
        let mut bytes = B64.decode(body).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let mut data = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).ok()?;
        let plain = key
            .open_in_place(nonce, Aad::from(self.aad(kind, id)), &mut data)
            .ok()?;
        serde_json::from_slice(plain).ok()
    }

    fn aad(&self, kind: &str, id: &str) -> Vec<u8> {
        format!("pluggedin-mcp/{kind}/{id}").into_bytes()
    }

    /// Random bytes as URL-safe text (ids, CSRF cookies).
    pub fn random_id(&self) -> String {
        let mut bytes = [0u8; 18];
        #[allow(clippy::expect_used, reason = "without randomness no id is safe")]
        self.random.fill(&mut bytes).expect("system randomness");
        B64.encode(bytes)
    }
}

fn key_of(bytes: &[u8]) -> anyhow::Result<LessSafeKey> {
    let unbound =
        UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| anyhow::anyhow!("not an AES-256 key"))?;
    Ok(LessSafeKey::new(unbound))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(lines: &[(&str, u8)]) -> String {
        lines
            .iter()
            .map(|(id, byte)| {
                format!(
                    "{id}:{}\n",
                    base64::engine::general_purpose::STANDARD.encode([*byte; 32])
                )
            })
            .collect()
    }

    #[test]
    fn a_token_opens_only_as_its_kind_under_a_known_key() {
        let sealer = Sealer::from_file_text(&file(&[("k1", 1)])).unwrap();
        let token = sealer.seal("access", &serde_json::json!({"k": "pg_in_x"}));
        assert!(!token.contains("pg_in_x"));
        let opened: serde_json::Value = sealer.open("access", &token).unwrap();
        assert_eq!(opened["k"], "pg_in_x");
        assert!(
            sealer
                .open::<serde_json::Value>("refresh", &token)
                .is_none()
        );
        let mut forged = token.clone();
        forged.pop();
        forged.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(
            sealer
                .open::<serde_json::Value>("access", &forged)
                .is_none()
        );
        let other = Sealer::from_file_text(&file(&[("k1", 2)])).unwrap();
        assert!(other.open::<serde_json::Value>("access", &token).is_none());
    }

    #[test]
    fn keys_rotate_by_id() {
        let old = Sealer::from_file_text(&file(&[("k1", 1)])).unwrap();
        let token = old.seal("access", &1);
        let rolled = Sealer::from_file_text(&file(&[("k2", 2), ("k1", 1)])).unwrap();
        assert_eq!(rolled.open::<i32>("access", &token), Some(1));
        assert!(rolled.seal("access", &1).starts_with("k2."));
    }

    #[test]
    fn bad_key_files_say_what_is_wrong() {
        for (text, says) in [
            ("", "no key"),
            ("k1", "ID:BASE64"),
            ("k1:AAAA", "32 bytes"),
            ("k 1:AAAA", "letters, digits"),
        ] {
            let error = Sealer::from_file_text(text).unwrap_err().to_string();
            assert!(error.contains(says), "{text}: {error}");
        }
        let twice = file(&[("k1", 1), ("k1", 2)]);
        assert!(Sealer::from_file_text(&twice).is_err());
    }
}
