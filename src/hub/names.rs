//! Names the hub gives downstream servers and their tools: `<prefix>__<tool>`, where the
//! prefix is the server's slug or a short form of its name (never a raw uuid), unique across
//! servers, and the whole name fits a budget that leaves room for the client's own prefix.
//! Everything here is deterministic: the same configuration always gives the same names.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

/// Between the server prefix and the tool's own name.
pub const SEPARATOR: &str = "__";
/// Longest server prefix.
const MAX_PREFIX: usize = 20;
/// Hex digits of the hash that keeps a shortened name unique.
const HASH_DIGITS: usize = 6;
/// Default budget of a whole tool name: clients cap names at 64 characters, and Claude Code
/// puts `mcp__<its name for us>__` in front (`mcp__pluggedin__`, 16 characters).
pub const DEFAULT_BUDGET: usize = 48;
/// The smallest budget that still leaves room for a prefix, the separator and a hash.
pub const MIN_BUDGET: usize = 24;

fn hash_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .chars()
        .take(HASH_DIGITS)
        .collect()
}

/// Lower-case letters, digits, `-` and `_`; anything else becomes `-`, runs collapse.
fn sanitize(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    // `__` is the separator; a prefix never contains it.
    while out.contains("__") {
        out = out.replace("__", "_");
    }
    out.trim_matches(|c| c == '-' || c == '_').to_string()
}

fn looks_like_uuid(text: &str) -> bool {
    text.len() == 36 && text.chars().filter(|c| *c == '-').count() == 4
}

/// The prefix each server gets, keyed by the server's configured name: the prefix its
/// entry sets (`""`: none, its tools keep their own names), else its slug or name. A name
/// that is a uuid, empty after cleaning, or taken gets a hash-based form.
pub fn assign_prefixes<'a>(
    servers: impl IntoIterator<Item = (&'a str, Option<&'a str>, Option<&'a str>)>,
) -> BTreeMap<String, String> {
    let mut servers: Vec<(&str, Option<&str>, Option<&str>)> = servers.into_iter().collect();
    servers.sort();
    let mut taken = BTreeSet::new();
    let mut out = BTreeMap::new();
    for (name, slug, configured) in servers {
        if configured == Some("") {
            out.insert(name.to_string(), String::new());
            continue;
        }
        let source = configured
            .or(slug.filter(|s| !s.trim().is_empty()))
            .unwrap_or(name);
        let mut prefix = sanitize(source);
        if looks_like_uuid(source) || prefix.is_empty() {
            prefix = format!("s{}", hash_hex(name));
        }
        if prefix.len() > MAX_PREFIX {
            prefix = format!(
                "{}-{}",
                prefix[..MAX_PREFIX - HASH_DIGITS - 1].trim_end_matches(['-', '_']),
                hash_hex(source)
            );
        }
        if taken.contains(&prefix) {
            let base: String = prefix.chars().take(MAX_PREFIX - HASH_DIGITS - 1).collect();
            prefix = format!("{base}-{}", hash_hex(name));
        }
        taken.insert(prefix.clone());
        out.insert(name.to_string(), prefix);
    }
    out
}

/// The name a client sees for `tool` of the server with `prefix`, within `budget`
/// characters. Characters clients reject become `_`; a name that had to change or be cut
/// ends in a hash of the original, so two tools never share a name.
pub fn tool_name(prefix: &str, tool: &str, budget: usize) -> String {
    let clean: String = tool
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let lead = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}{SEPARATOR}")
    };
    let full = format!("{lead}{clean}");
    if clean == tool && full.len() <= budget {
        return full;
    }
    let room = budget.saturating_sub(lead.len() + HASH_DIGITS + 1);
    let kept: String = clean.chars().take(room).collect();
    format!("{lead}{kept}-{}", hash_hex(tool))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_prefer_slugs_and_stay_unique_and_short() {
        let p = assign_prefixes([
            ("GitHub Tools", None, None),
            ("github-tools", None, None),
            ("x", Some("my-slug"), None),
            ("2b1f6c8e-1111-4222-8333-444455556666", None, None),
            ("a very long server name that goes on and on", None, None),
            ("!!!", None, None),
        ]);
        assert_eq!(p["x"], "my-slug");
        assert_ne!(p["GitHub Tools"], p["github-tools"]);
        assert!(p["GitHub Tools"].starts_with("github-tools"));
        assert!(!p["2b1f6c8e-1111-4222-8333-444455556666"].contains("2b1f6c8e-1111"));
        for prefix in p.values() {
            assert!(prefix.len() <= MAX_PREFIX && !prefix.is_empty(), "{prefix}");
            assert!(!prefix.contains(SEPARATOR), "{prefix}");
        }
        // Deterministic, whatever the order.
        let again = assign_prefixes([
            ("!!!", None, None),
            ("a very long server name that goes on and on", None, None),
            ("2b1f6c8e-1111-4222-8333-444455556666", None, None),
            ("x", Some("my-slug"), None),
            ("github-tools", None, None),
            ("GitHub Tools", None, None),
        ]);
        assert_eq!(p, again);
    }

    #[test]
    fn a_configured_prefix_wins_and_an_empty_one_keeps_names() {
        let p = assign_prefixes([("a", Some("slug"), Some("mine")), ("b", None, Some(""))]);
        assert_eq!(p["a"], "mine");
        assert_eq!(p["b"], "");
        assert_eq!(tool_name("", "test_simple_text", 48), "test_simple_text");
        assert!(tool_name("", "files.read", 48).starts_with("files_read-"));
    }

    #[test]
    fn tool_names_fit_the_budget_and_stay_distinct() {
        assert_eq!(tool_name("ev", "echo", 48), "ev__echo");
        let long_a = tool_name("server", &"a".repeat(80), 48);
        let long_b = tool_name("server", &format!("{}b", "a".repeat(79)), 48);
        assert!(long_a.len() <= 48 && long_b.len() <= 48);
        assert_ne!(long_a, long_b);
        let dotted = tool_name("ev", "files.read", 48);
        assert!(dotted.starts_with("ev__files_read-"), "{dotted}");
        assert_ne!(dotted, tool_name("ev", "files_read", 48));
    }
}
