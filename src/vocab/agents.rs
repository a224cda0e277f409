//! PAP (Plugged.in Agent Protocol) vocabulary shared by the embedded API and the MCP tools:
//! agent states and the lifecycle state machine, heartbeat modes and their intervals, access
//! levels, and the agent name rules.
//!
//! States: NEW (created), PROVISIONED (deployed), ACTIVE (first heartbeat received),
//! DRAINING (shutting down), TERMINATED and KILLED (final). A NEW agent only moves when its
//! deployment succeeds (to PROVISIONED); Plugged.in logs an `ERROR` event with
//! `metadata.error_message` when it fails, and the agent stays NEW.

use std::time::Duration;

use super::wire::wire_enum;

wire_enum! {
    pub enum AgentState {
        New = "NEW",
        Provisioned = "PROVISIONED",
        Active = "ACTIVE",
        Draining = "DRAINING",
        Terminated = "TERMINATED",
        Killed = "KILLED",
    }
}

impl AgentState {
    /// Targets `POST /state` allows from each persisted state (the PAP state machine).
    pub fn allowed_transitions(self) -> &'static [AgentState] {
        use AgentState::*;
        match self {
            New => &[Provisioned, Killed],
            Provisioned => &[Active, Terminated, Killed],
            Active => &[Draining, Killed],
            Draining => &[Terminated, Active, Killed],
            Terminated | Killed => &[],
        }
    }

    /// TERMINATED and KILLED: nothing moves an agent out of them.
    pub fn is_terminal(self) -> bool {
        matches!(self, AgentState::Terminated | AgentState::Killed)
    }
}

wire_enum! {
    /// How often an agent promises to send heartbeats.
    #[derive(Default)]
    pub enum HeartbeatMode {
        Emergency = "EMERGENCY",
        #[default]
        Idle = "IDLE",
        Sleep = "SLEEP",
    }
}

impl HeartbeatMode {
    /// The interval the mode promises: EMERGENCY 5 s, IDLE 30 s, SLEEP 15 min.
    pub fn interval(self) -> Duration {
        match self {
            HeartbeatMode::Emergency => Duration::from_secs(5),
            HeartbeatMode::Idle => Duration::from_secs(30),
            HeartbeatMode::Sleep => Duration::from_secs(15 * 60),
        }
    }
}

wire_enum! {
    pub enum AccessLevel {
        Private = "PRIVATE",
        Public = "PUBLIC",
    }
}

/// Names that can never be used for an agent (they would shadow Plugged.in's own subdomains).
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

/// Expected interval between heartbeats in `mode`; unknown modes count as IDLE, the default.
pub fn heartbeat_interval(mode: &str) -> Duration {
    HeartbeatMode::parse(mode).unwrap_or_default().interval()
}

/// Missed intervals after which an ACTIVE agent counts as unhealthy, and after which it is
/// drained automatically (the zombie rules).
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
        assert!(AgentState::Terminated.allowed_transitions().is_empty());
        assert!(AgentState::Killed.allowed_transitions().is_empty());
        assert_eq!(
            AgentState::Draining.allowed_transitions(),
            &[
                AgentState::Terminated,
                AgentState::Active,
                AgentState::Killed
            ]
        );
        assert_eq!(AgentState::parse("ACTIVE"), Some(AgentState::Active));
        assert_eq!(heartbeat_interval("nonsense"), Duration::from_secs(30));
    }
}
