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
