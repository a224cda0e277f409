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

    /// Appends a block after the JSON text (an image, a resource link).
    pub fn with_block(mut self, block: ContentBlock) -> Self {
        self.extra.push(block);
        self
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

/// A failure the model can act on; becomes a result with `isError: true`.
#[derive(Debug)]
pub struct ToolError(pub String);

impl ToolError {
    /// A bad argument: names the field and the rule.
    pub fn invalid(field: &str, rule: impl std::fmt::Display) -> Self {
        Self(format!("invalid argument `{field}`: {rule}"))
    }

    /// An upstream failure, with the next step for the cases a model can fix.
    pub fn api(error: ApiError, next_step: &str) -> Self {
        let message = match &error {
            ApiError::NotFound { .. } | ApiError::Conflict { .. } | ApiError::Invalid { .. }
                if !next_step.is_empty() =>
            {
                format!("{error}. {next_step}")
            }
            _ => error.to_string(),
        };
        Self(message)
    }
}

impl From<ApiError> for ToolError {
    fn from(error: ApiError) -> Self {
        Self::api(error, "")
    }
}

impl IntoCallToolResult for ToolError {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        Ok(CallToolResult::error(vec![ContentBlock::text(self.0)]).into())
    }
}

/// The wire spelling of a unit enum variant (its serde name), e.g. `AiGenerated` →
/// `"ai_generated"`, so each enum states its names once, in its serde attributes.
pub fn wire_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}
