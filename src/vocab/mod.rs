//! The Plugged.in vocabulary shared by the embedded API (`local`) and the MCP tools: the
//! closed sets of names the API uses (agent states, heartbeat modes, document formats,
//! clipboard encodings, severities …), the metadata keys one side writes and the other
//! reads, the PAP rules, and the limits both enforce. A name, key or rule is stated once, so
//! both layers agree by construction.

mod wire;

pub mod agents;
pub mod clipboard;
pub mod credentials;
pub mod documents;
pub mod keys;
pub mod limits;
pub mod memory;
pub mod notifications;
