//! A string that must never be printed: API keys and bearer tokens.
//!
//! `Debug` shows `Secret([redacted])`, there is no `Display`, and the only way to the text is
//! [`Secret::expose`], so every place a key is used is easy to find and review.

use std::sync::Arc;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Self(value.into())
    }

    /// A fresh key in Plugged.in's format: `pg_in_` and 64 characters from `[0-9A-Za-z]`,
    /// from the thread-local CSPRNG.
    pub fn generate_api_key() -> Self {
        use rand::{RngExt, distr::Alphanumeric};
        let body: String = rand::rng()
            .sample_iter(Alphanumeric)
            .take(64)
            .map(char::from)
            .collect();
        Self::new(format!("pg_in_{body}"))
    }

    /// The secret text, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("pg_in_supersecret");
        assert!(!format!("{s:?}").contains("supersecret"));
    }

    #[test]
    fn generated_keys_have_the_platform_shape() {
        let k = Secret::generate_api_key();
        assert_eq!(k.expose().len(), 70);
        assert!(k.expose().starts_with("pg_in_"));
        assert!(k.expose()[6..].chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(k, Secret::generate_api_key());
    }
}
