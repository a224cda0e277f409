//! Memory vocabulary: what an observation is, how it turned out, and the rings of memory.

use super::wire::wire_enum;

wire_enum! {
    pub enum ObservationType {
        ToolCall = "tool_call",
        ToolResult = "tool_result",
        UserPreference = "user_preference",
        ErrorPattern = "error_pattern",
        Decision = "decision",
        SuccessPattern = "success_pattern",
        FailurePattern = "failure_pattern",
        WorkflowStep = "workflow_step",
        Insight = "insight",
        ContextSwitch = "context_switch",
    }
}

wire_enum! {
    pub enum Outcome {
        Success = "success",
        Failure = "failure",
        Neutral = "neutral",
    }
}

wire_enum! {
    pub enum RingType {
        Procedures = "procedures",
        Practice = "practice",
        Longterm = "longterm",
        Shocks = "shocks",
    }
}

/// Longest way of naming a memory session (a uuid, or a `ms_…` memory_session_id).
pub const SESSION_REF_MAX_CHARS: usize = 100;

/// Whether `s` can name a memory session: 1 to [`SESSION_REF_MAX_CHARS`] letters, digits,
/// `_` and `-` (a uuid or a memory_session_id). Anything else is refused before it reaches
/// a URL, a log line or a metric.
pub fn is_session_ref(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= SESSION_REF_MAX_CHARS
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
