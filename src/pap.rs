//! PAP (Plugged.in Agent Protocol) rules shared by the embedded API and the MCP tools:
//! agent name rules, the lifecycle state machine and heartbeat intervals (reference §1.2–1.4).

use std::time::Duration;

/// Names that can never be used for an agent (reference §1.4).
const RESERVED_NAMES: &[&str] = &[
    "api",
    "app",
    "admin",
    "auth",
    "login",
    "logout",
    "register",
    "signup",
    "signin",
    "dashboard",
    "settings",
    "profile",
    "account",
    "user",
    "users",
    "www",
    "mail",
    "smtp",
    "pop",
    "imap",
    "ftp",
    "ssh",
    "vpn",
    "proxy",
    "cdn",
    "static",
    "assets",
    "media",
    "images",
    "files",
    "blog",
    "news",
    "help",
    "support",
    "docs",
    "documentation",
    "wiki",
    "forum",
    "community",
    "status",
    "health",
    "metrics",
    "monitor",
    "logs",
    "pap",
    "station",
    "satellite",
    "collector",
    "registry",
    "hub",
    "gateway",
    "agent",
    "agents",
    "cluster",
    "clusters",
    "node",
    "nodes",
    "test",
    "testing",
    "dev",
    "development",
    "staging",
    "prod",
    "production",
    "demo",
    "example",
    "sample",
    "default",
    "system",
    "internal",
    "private",
    "public",
    "root",
    "null",
    "undefined",
    "true",
    "false",
];

/// Lower-cases and trims a name the way the API does before checking it.
pub fn normalize_name(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// Checks a normalized agent name; the error is the API's own message.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Name is required".into());
    }
    let len = name.chars().count();
    if !(2..=63).contains(&len) {
        return Err("Name must be between 2 and 63 characters".into());
    }
    let bytes = name.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let dns_safe = bytes.iter().all(|b| alnum(b) || *b == b'-')
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum);
    if !dns_safe {
        return Err("Name must be DNS-safe: lowercase letters, numbers, and hyphens only. Must start and end with a letter or number.".into());
    }
    if name.contains("--") {
        return Err("Name cannot contain consecutive hyphens".into());
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(format!("Name '{name}' is reserved and cannot be used"));
    }
    Ok(())
}

/// Agent lifecycle states (reference §1.2).
pub const STATES: [&str; 6] = [
    "NEW",
    "PROVISIONED",
    "ACTIVE",
    "DRAINING",
    "TERMINATED",
    "KILLED",
];

/// Targets `POST /state` allows from each persisted state (the normative PAP-RFC-001 table).
pub fn allowed_transitions(from: &str) -> &'static [&'static str] {
    match from {
        "NEW" => &["PROVISIONED", "KILLED"],
        "PROVISIONED" => &["ACTIVE", "TERMINATED", "KILLED"],
        "ACTIVE" => &["DRAINING", "KILLED"],
        "DRAINING" => &["TERMINATED", "ACTIVE", "KILLED"],
        _ => &[],
    }
}

pub fn is_terminal(state: &str) -> bool {
    matches!(state, "TERMINATED" | "KILLED")
}

/// Heartbeat modes and the interval each promises (reference §1.3).
pub const HEARTBEAT_MODES: [&str; 3] = ["EMERGENCY", "IDLE", "SLEEP"];

/// Expected interval between heartbeats in `mode`; unknown modes count as IDLE, the default.
pub fn heartbeat_interval(mode: &str) -> Duration {
    match mode {
        "EMERGENCY" => Duration::from_secs(5),
        "SLEEP" => Duration::from_secs(15 * 60),
        _ => Duration::from_secs(30),
    }
}

/// Missed intervals after which an ACTIVE agent counts as unhealthy, and after which it is
/// drained automatically (zombie rules, reference §1.3).
pub const UNHEALTHY_AFTER_MISSED: u32 = 2;
pub const DRAIN_AFTER_MISSED: u32 = 5;

/// The public URL of an agent on Plugged.in.
pub fn agent_url(name: &str) -> String {
    format!("https://{name}.is.plugged.in")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules_match_the_api_messages() {
        assert!(validate_name("my-agent-1").is_ok());
        assert_eq!(validate_name("").unwrap_err(), "Name is required");
        assert!(validate_name("a").unwrap_err().contains("between 2 and 63"));
        assert!(
            validate_name(&"a".repeat(64))
                .unwrap_err()
                .contains("between 2 and 63")
        );
        assert!(validate_name("-ab").unwrap_err().contains("DNS-safe"));
        assert!(validate_name("a_b").unwrap_err().contains("DNS-safe"));
        assert!(validate_name("a--b").unwrap_err().contains("consecutive"));
        assert!(validate_name("admin").unwrap_err().contains("reserved"));
        assert_eq!(normalize_name("  MyAgent "), "myagent");
    }

    #[test]
    fn terminal_states_allow_nothing() {
        assert!(allowed_transitions("TERMINATED").is_empty());
        assert!(allowed_transitions("KILLED").is_empty());
        assert_eq!(
            allowed_transitions("DRAINING"),
            &["TERMINATED", "ACTIVE", "KILLED"]
        );
    }
}
