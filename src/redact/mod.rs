//! Removing secrets from text and JSON that came from elsewhere: upstream error bodies (which
//! may quote the request's `Authorization` header), agent environments and exports.
//!
//! Two rules, one module, so every caller applies the same ones:
//! - [`Scrubber::scrub`] for free text: the known secrets of this request (the API key, a
//!   passthrough bearer) wherever they appear, plus anything shaped like a credential.
//! - [`redact_json`] for configuration objects: a value is hidden when its name says it is a
//!   secret ([`is_secret_name`]) or when the value itself looks like one ([`scrub_value`]).

pub mod log;

use std::{borrow::Cow, sync::LazyLock};

use regex::Regex;
use serde_json::Value;

/// What replaces a secret.
/// The cloud's export marker, so exports read the same in both modes.
pub const REDACTED: &str = "[REDACTED]";

/// Credential shapes recognised in any text. Each pattern's first group (if any) is kept, so
/// `Bearer abc…` becomes `Bearer [REDACTED]` and a URL keeps its user name and host.
/// Word boundaries are ASCII (`(?-u:\b)`): credentials are ASCII, and a Unicode boundary
/// keeps the regex engine off its fast path on non-ASCII text.
static SHAPES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    let rules: &[(&str, &str)] = &[
        // PEM private keys, also when the END line was cut off.
        (
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)",
            "[REDACTED PRIVATE KEY]",
        ),
        // The credential of an Authorization header (`Bearer …`, `Basic …`). Sixteen
        // characters at least, so prose such as "Bearer token required" stays readable;
        // shorter secrets this server holds are removed as known secrets.
        (
            r"(?i)(?-u:\b)(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{16,}",
            "${1}${2}[REDACTED]",
        ),
        // `token=…`, `"api_key": "…"`, `password: …` as echoed in bodies and query strings.
        (
            r#"(?i)(?-u:\b)((?:access_|refresh_|auth_)?token|api[_-]?key|secret|password|passwd)(["']?\s*[:=]\s*["']?)[^\s"'&,;}]{6,}"#,
            "${1}${2}[REDACTED]",
        ),
        // Credentials in URLs: scheme://user:password@host.
        (
            r"(?-u:\b)([A-Za-z][A-Za-z0-9+.-]{1,20}://[^/\s:@]*):[^@\s/]+@",
            "${1}:[REDACTED]@",
        ),
        // Well-known token shapes.
        (r"(?-u:\b)pg_in_[A-Za-z0-9_-]{6,}", "[REDACTED]"),
        (r"(?-u:\b)sk-[A-Za-z0-9_-]{16,}", "[REDACTED]"),
        (r"(?-u:\b)github_pat_[A-Za-z0-9_]{20,}", "[REDACTED]"),
        (r"(?-u:\b)gh[pousr]_[A-Za-z0-9]{20,}", "[REDACTED]"),
        (r"(?-u:\b)xox[abposr]-[A-Za-z0-9-]{10,}", "[REDACTED]"),
        (r"(?-u:\b)(?:AKIA|ASIA)[0-9A-Z]{16}(?-u:\b)", "[REDACTED]"),
        (r"(?-u:\b)AIza[0-9A-Za-z_-]{30,}", "[REDACTED]"),
        (
            r"(?-u:\b)eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}",
            "[REDACTED]",
        ),
    ];
    rules
        .iter()
        .map(|(pattern, replacement)| (crate::text::constant_regex(pattern), *replacement))
        .collect()
});

/// Scrubs text that may quote secrets. Cheap to build per request.
#[derive(Clone, Default)]
pub struct Scrubber {
    known: Vec<String>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scrubber({} known secrets)", self.known.len())
    }
}

impl Scrubber {
    /// A scrubber that also removes these exact values (empty ones are ignored).
    pub fn new<'a>(known: impl IntoIterator<Item = &'a str>) -> Self {
        let mut known: Vec<String> = known
            .into_iter()
            .map(str::trim)
            .filter(|k| k.len() >= 4)
            .map(str::to_string)
            .collect();
        // Longest first, so a secret that contains another is removed whole.
        known.sort_by_key(|k| std::cmp::Reverse(k.len()));
        Self { known }
    }

    /// `text` without the known secrets and without anything shaped like a credential.
    pub fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.known {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        scrub_shapes(out)
    }

    /// Only the known secrets, exactly: for data the user stored, where a token-shaped word
    /// may be legitimate content but the key this server holds never is.
    pub fn scrub_known<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.known {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        out
    }

    /// Applies [`Scrubber::scrub`] to every string of a JSON value, keys included.
    pub fn scrub_json(&self, value: &mut Value) {
        walk_strings(value, &mut |s| match self.scrub(s) {
            Cow::Owned(clean) => Some(clean),
            Cow::Borrowed(_) => None,
        });
    }

    /// Applies [`Scrubber::scrub_known`] to every string of a JSON value; returns whether
    /// anything changed.
    pub fn scrub_known_json(&self, value: &mut Value) -> bool {
        if self.known.is_empty() {
            return false;
        }
        let mut changed = false;
        walk_strings(value, &mut |s| match self.scrub_known(s) {
            Cow::Borrowed(_) => None,
            Cow::Owned(clean) => {
                changed = true;
                Some(clean)
            }
        });
        changed
    }

    pub fn has_known(&self) -> bool {
        !self.known.is_empty()
    }
}

/// Visits every string of a JSON value, keys included; `f` returns a replacement only when
/// the string changes, so an unchanged value is never copied.
fn walk_strings(value: &mut Value, f: &mut dyn FnMut(&str) -> Option<String>) {
    match value {
        Value::String(s) => {
            if let Some(clean) = f(s) {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| walk_strings(v, f)),
        Value::Object(map) => {
            if map.keys().any(|k| f(k).is_some()) {
                let entries = std::mem::take(map);
                for (k, v) in entries {
                    let key = f(&k).unwrap_or(k);
                    map.insert(key, v);
                }
            }
            map.values_mut().for_each(|v| walk_strings(v, f));
        }
        _ => {}
    }
}

fn scrub_shapes(text: Cow<'_, str>) -> Cow<'_, str> {
    let mut out = text;
    for (re, replacement) in SHAPES.iter() {
        if re.is_match(&out) {
            out = Cow::Owned(re.replace_all(&out, *replacement).into_owned());
        }
    }
    out
}

/// A value shown in a configuration (an environment variable, a metadata field): with any
/// credential-shaped part replaced. A URL keeps its scheme, user and host.
pub fn scrub_value(value: &str) -> Cow<'_, str> {
    scrub_shapes(Cow::Borrowed(value))
}

/// Whether a field name says it holds a secret. Matches on the words of the name
/// (`OPENAI_KEY` → `openai`, `key`; `githubPat` → `github`, `pat`) and on a few glued forms
/// (`APITOKEN`), case-insensitively. Deliberately wide: a hidden harmless value costs little,
/// a shown key costs a lot.
pub fn is_secret_name(name: &str) -> bool {
    const WORDS: &[&str] = &[
        "key",
        "keys",
        "apikey",
        "pat",
        "secret",
        "secrets",
        "token",
        "tokens",
        "password",
        "passwd",
        "pass",
        "pwd",
        "passphrase",
        "credential",
        "credentials",
        "creds",
        "auth",
        "authorization",
        "bearer",
        "jwt",
        "session",
        "cookie",
        "private",
        "dsn",
        "signature",
        "salt",
        "otp",
        "pin",
    ];
    // The cloud's own list (`redactSensitiveMetadata`, matched anywhere in the name), so we
    // never show what Plugged.in hides, plus a few glued forms.
    const GLUED: &[&str] = &[
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
        "accesskey",
        "access_key",
    ];
    let lower = name.to_lowercase();
    if GLUED.iter().any(|g| lower.contains(g)) {
        return true;
    }
    crate::text::words(name)
        .iter()
        .any(|w| WORDS.contains(&w.as_str()))
}

/// Hides secrets in a configuration object at any depth: the value of every key that names a
/// secret becomes [`REDACTED`], and every other string has its credential-shaped parts
/// replaced. Used for agent exports and wherever an agent's environment is shown.
pub fn redact_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                // A flag or an absent value under a secret's name (`token_revoked: false`)
                // says nothing about the secret; everything else is redacted whole.
                if is_secret_name(k) && !matches!(v, Value::Null | Value::Bool(_)) {
                    *v = Value::String(REDACTED.into());
                } else {
                    redact_json(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::String(s) => {
            if let Cow::Owned(clean) = scrub_value(s) {
                *s = clean;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_secrets_and_bearer_tokens_go() {
        let s = Scrubber::new(["custom-key-1234"]);
        let text = r#"{"error":"bad auth","echo":"Authorization: Bearer custom-key-1234"}"#;
        let out = s.scrub(text);
        assert!(!out.contains("custom-key-1234"), "{out}");
        assert!(out.contains("Bearer [REDACTED]"), "{out}");
        assert_eq!(
            Scrubber::default().scrub("header was bearer abcdef0123456789xyz"),
            "header was bearer [REDACTED]"
        );
        assert_eq!(
            Scrubber::default().scrub("Bearer token required"),
            "Bearer token required"
        );
        assert_eq!(
            Scrubber::default().scrub(r#"{"api_key": "abcdef123"}"#),
            r#"{"api_key": "[REDACTED]"}"#
        );
    }

    #[test]
    fn token_shapes_go() {
        for secret in [
            "pg_in_AbCdEf0123456789",
            "sk-proj-abcdefghijklmnopqrstuv",
            "ghp_abcdefghijklmnopqrstuvwxyz0123",
            "github_pat_11ABCDEFG0123456789_abcdefghijkl",
            "xoxb-1234567890-abcdefghij",
            "AKIAABCDEFGHIJKLMNOP",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        ] {
            let out = scrub_value(secret);
            assert!(
                !out.contains(&secret[secret.len() - 6..]),
                "{secret} → {out}"
            );
        }
        let pem = "x -----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- y";
        assert_eq!(scrub_value(pem), "x [REDACTED PRIVATE KEY] y");
        assert_eq!(
            scrub_value("-----BEGIN PRIVATE KEY-----\nMIIEvQ cut off"),
            "[REDACTED PRIVATE KEY]"
        );
    }

    #[test]
    fn url_credentials_keep_user_and_host() {
        assert_eq!(
            scrub_value("postgres://app:s3cr3t@db.example.com:5432/prod"),
            "postgres://app:[REDACTED]@db.example.com:5432/prod"
        );
        assert_eq!(
            scrub_value("https://example.com/a:b@c"),
            "https://example.com/a:b@c"
        );
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "Document not found",
            "nginxinc/nginx-unprivileged:1.25",
            "https://plugged.in/library/123",
            "the token count is 12",
        ] {
            assert_eq!(scrub_value(text), text);
        }
    }

    #[test]
    fn secret_names_by_word() {
        for name in [
            "OPENAI_KEY",
            "GITHUB_PAT",
            "githubPat",
            "DB_PASSWORD",
            "MODEL_ROUTER_TOKEN",
            "APITOKEN",
            "client_secret",
            "AWS_SECRET_ACCESS_KEY",
            "SESSION_COOKIE",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "PATH",
            "KEYBOARD",
            "image",
            "LOG_LEVEL",
            "DATABASE_URL",
            "monkey",
            "PORT",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn json_redaction_by_name_and_value() {
        let mut v = json!({"env": {
            "OPENAI_KEY": "abc", "GITHUB_PAT": "xyz", "LOG": "debug",
            "DATABASE_URL": "postgres://u:pw@db/x", "HELPER": "sk-abcdefghijklmnopqrstuvwx"
        }, "list": ["ghp_abcdefghijklmnopqrstuvwxyz0123"]});
        redact_json(&mut v);
        assert_eq!(v["env"]["OPENAI_KEY"], REDACTED);
        assert_eq!(v["env"]["GITHUB_PAT"], REDACTED);
        assert_eq!(v["env"]["LOG"], "debug");
        assert_eq!(v["env"]["DATABASE_URL"], "postgres://u:[REDACTED]@db/x");
        assert_eq!(v["env"]["HELPER"], REDACTED);
        assert_eq!(v["list"][0], REDACTED);

        // Flags and absent values under a secret's name stay as they are.
        let mut v = json!({"model_router_token_revoked": false, "api_key": null, "token": 42});
        redact_json(&mut v);
        assert_eq!(
            v,
            json!({"model_router_token_revoked": false, "api_key": null, "token": REDACTED})
        );
    }

    #[test]
    fn known_only_scrubbing_spares_user_text() {
        let s = Scrubber::new(["pg_in_mykey0000"]);
        let mut v = json!({"value": "about JWTs: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl and pg_in_mykey0000"});
        assert!(s.scrub_known_json(&mut v));
        let text = v["value"].as_str().unwrap();
        assert!(text.contains("eyJhbGci") && !text.contains("pg_in_mykey0000"));
    }
}
