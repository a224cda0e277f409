//! Keys of an agent's `metadata` object that the embedded API writes and the tools read: one
//! spelling for both sides.

/// The container image the agent was created with.
pub const IMAGE: &str = "image";
/// The description given at creation.
pub const DESCRIPTION: &str = "description";
/// The port and health path of the agent's container.
pub const CONTAINER_PORT: &str = "container_port";
pub const HEALTH_ENDPOINT: &str = "health_endpoint";
/// CPU and memory requests and limits.
pub const RESOURCES: &str = "resources";
/// Environment variables given at creation.
pub const ENV_OVERRIDES: &str = "env_overrides";
/// The mode of the latest heartbeat (its interval decides health).
pub const LAST_HEARTBEAT_MODE: &str = "last_heartbeat_mode";
/// Set while an agent is suspended on purpose, so it is not reported as a zombie.
pub const INTENTIONALLY_SUSPENDED: &str = "intentionally_suspended";
/// Why it was suspended.
pub const SUSPEND_REASON: &str = "suspend_reason";

/// Keys of a lifecycle event's `metadata`.
pub mod event {
    /// The message of a failed deployment (`ERROR` events).
    pub const ERROR_MESSAGE: &str = "error_message";
    /// Who caused the event: `system`, a user, the zombie sweep.
    pub const TRIGGERED_BY: &str = "triggered_by";
}
