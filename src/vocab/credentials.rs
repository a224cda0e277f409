//! What a Plugged.in API key looks like: `pg_in_` followed by letters, digits, `_` or `-`
//! (the app makes them with nanoid), at most a few hundred characters.

/// Longest key taken (the app's are 70 characters).
pub const API_KEY_MAX_CHARS: usize = 256;

/// Whether `raw` can be a Plugged.in API key.
pub fn is_api_key(raw: &str) -> bool {
    raw.len() <= API_KEY_MAX_CHARS
        && raw.strip_prefix("pg_in_").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_recognised_by_their_shape() {
        assert!(is_api_key("pg_in_AbC-12_x"));
        for bad in [
            "",
            "pg_in_",
            "sk-123",
            "pg_in_a b",
            "pg_in_a\"",
            "Bearer pg_in_a",
        ] {
            assert!(!is_api_key(bad), "{bad}");
        }
        assert!(!is_api_key(&format!("pg_in_{}", "a".repeat(300))));
    }
}
