//! What a tool returns: structured content (plus optional extra blocks such as images and
//! resource links) on success, an `isError` result with an actionable message on failure.

use rmcp::{
    handler::server::tool::IntoCallToolResult,
    model::{CallToolResponse, CallToolResult, ContentBlock},
};
use schemars::JsonSchema;
use serde::Serialize;

use crate::{api::ApiError, redact::Scrubber};

/// What every tool result goes through before it leaves: the key this request uses upstream
/// is removed wherever it appears (an upstream may echo it into data we pass on), and the
/// result is fitted to the byte budget.
pub fn finish(result: &mut CallToolResult, scrubber: &Scrubber, budget: super::budget::Budget) {
    if scrubber.has_known() {
        let mirror = super::budget::mirrors_structured(result);
        if let Some(value) = result.structured_content.as_mut() {
            scrubber.scrub_known_json(value);
        }
        for block in result.content.iter_mut() {
            if let ContentBlock::Text(t) = block
                && let std::borrow::Cow::Owned(clean) = scrubber.scrub_known(&t.text)
            {
                t.text = clean;
            }
        }
        if mirror
            && let Some(value) = &result.structured_content
            && let Some(first) = result.content.first_mut()
        {
            *first = ContentBlock::text(value.to_string());
        }
    }
    super::budget::fit(
        result,
        budget,
        "Ask for less to see the rest: lists take limit/offset, get_doc and clipboard_get take offset/max_chars.",
    );
}

/// Structured tool output. It is named `Json` on purpose: rmcp's `#[tool]` macro derives a
/// tool's `outputSchema` from a return type spelled `Json<T>` (or `Result<Json<T>, E>`), so
/// this keeps that while letting a result carry more than the JSON.
pub struct Json<T> {
    value: T,
    extra: Vec<ContentBlock>,
}

impl<T> Json<T> {
    pub fn new(value: T) -> Self {
        Self {
            value,
            extra: Vec::new(),
        }
    }

    pub fn with_blocks(mut self, blocks: impl IntoIterator<Item = ContentBlock>) -> Self {
        self.extra.extend(blocks);
        self
    }
}

impl<T: Serialize + JsonSchema + 'static> IntoCallToolResult for Json<T> {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        let mut value = serde_json::to_value(self.value).map_err(|e| {
            rmcp::ErrorData::internal_error(format!("cannot serialize the tool result: {e}"), None)
        })?;
        strip_nulls(&mut value);
        let mut result = CallToolResult::structured(value);
        result.content.extend(self.extra);
        Ok(result.into())
    }
}

/// Drops object keys whose value is `null`: absent says the same and costs no tokens. The
/// output schemas agree, because [`super::schema::clean`] never lists a nullable field as
/// required.
fn strip_nulls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// A failure the model can act on; becomes a result with `isError: true` whose text says
/// what happened and what to do. Callers that treat kinds differently (a resource read
/// answers "not found" as its own error) match on the variant, never on the text.
#[derive(Debug)]
pub enum ToolError {
    /// A bad argument: the field and the rule it broke.
    Invalid { field: String, rule: String },
    /// Something the call names does not exist (an agent name matched no agent).
    NotFound(String),
    /// Plugged.in (or the embedded API) failed, with the next step for the failures a model
    /// can fix (not found, conflict, a rejected value).
    Upstream { error: ApiError, next_step: String },
    /// The call cannot be made here: the configuration or the API rules it out.
    Refused(String),
}

impl ToolError {
    /// A bad argument: names the field and the rule.
    pub fn invalid(field: &str, rule: impl std::fmt::Display) -> Self {
        Self::Invalid {
            field: field.to_string(),
            rule: rule.to_string(),
        }
    }

    /// An upstream failure, with the next step for the cases a model can fix.
    pub fn api(error: ApiError, next_step: &str) -> Self {
        Self::Upstream {
            error,
            next_step: next_step.to_string(),
        }
    }

    /// Whether the thing asked for does not exist (here or upstream).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            ToolError::NotFound(_)
                | ToolError::Upstream {
                    error: ApiError::NotFound { .. },
                    ..
                }
        )
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ToolError::Invalid { field, rule } => write!(f, "invalid argument `{field}`: {rule}"),
            ToolError::NotFound(message) | ToolError::Refused(message) => f.write_str(message),
            ToolError::Upstream { error, next_step } => match error {
                ApiError::NotFound { .. }
                | ApiError::Conflict { .. }
                | ApiError::Invalid { .. }
                    if !next_step.is_empty() =>
                {
                    write!(f, "{error}. {next_step}")
                }
                _ => write!(f, "{error}"),
            },
        }
    }
}

impl From<ApiError> for ToolError {
    fn from(error: ApiError) -> Self {
        Self::api(error, "")
    }
}

impl IntoCallToolResult for ToolError {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        Ok(CallToolResult::error(vec![ContentBlock::text(self.to_string())]).into())
    }
}
