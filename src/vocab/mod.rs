//! The Plugged.in vocabulary shared by the embedded API (`local`) and the MCP tools: the
//! limits both enforce, so a rule is stated once and both layers answer a bad value with the
//! same rule.

pub mod limits;
