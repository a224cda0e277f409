//! Small text helpers shared by the API client, the embedded API and the tools.

/// At most `max_chars` characters of `s`, with `…` when something was cut.
pub fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        None => s.to_string(),
        Some((byte, _)) => format!("{}…", &s[..byte]),
    }
}

/// The SHA-256 of `s` as lower-case hex.
pub fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether a field name looks like it holds a secret (API keys, tokens, passwords…), for
/// redacting exports. Matches case-insensitively on any part of the name.
pub fn is_secret_name(name: &str) -> bool {
    const PARTS: &[&str] = &[
        "api_key",
        "apikey",
        "secret",
        "token",
        "password",
        "passwd",
        "credential",
        "private",
        "auth",
        "bearer",
        "jwt",
        "session",
        "cookie",
    ];
    let lower = name.to_lowercase();
    PARTS.iter().any(|p| lower.contains(p))
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn secret_names() {
        assert!(super::is_secret_name("MODEL_ROUTER_TOKEN"));
        assert!(super::is_secret_name("db_password"));
        assert!(!super::is_secret_name("image"));
    }

    #[test]
    fn cuts_on_characters_not_bytes() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hi", 2), "hi");
        assert_eq!(truncate("", 0), "");
    }
}
