//! Small text helpers shared by the API client, the embedded API and the tools.

/// At most `max_chars` characters of `s`, with `…` when something was cut.
pub fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        None => s.to_string(),
        Some((byte, _)) => format!("{}…", &s[..byte]),
    }
}

/// A regular expression written in the code. A bad one is a bug the tests catch (every
/// pattern is compiled by the unit tests of the module that holds it), so it may panic.
#[allow(
    clippy::expect_used,
    reason = "constant patterns, compiled by the unit tests of their modules"
)]
pub fn constant_regex(pattern: &str) -> regex::Regex {
    regex::Regex::new(pattern).expect("a constant regular expression is valid")
}

/// The SHA-256 of `s` as lower-case hex.
pub fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The words of an identifier or a text: split on anything not alphanumeric and on
/// lower→upper case changes (`githubPat` → `github`, `pat`), lower-cased.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in text.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_lowercase() || c.is_numeric();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn cuts_on_characters_not_bytes() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hi", 2), "hi");
        assert_eq!(truncate("", 0), "");
    }
}
