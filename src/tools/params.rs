//! Tool arguments: like rmcp's `Parameters<P>`, but a decoding error names the field
//! (`size: unknown variant "huge", expected one of light, standard, heavy`), which rmcp's
//! plain serde error does not.

use rmcp::handler::server::{common::FromContextPart, tool::ToolCallContext};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

/// The decoded arguments of a tool call. Named `Parameters` on purpose: rmcp's `#[tool]`
/// macro finds a tool's input schema by this type name.
pub struct Parameters<P>(pub P);

impl<P: JsonSchema> JsonSchema for Parameters<P> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        P::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        P::json_schema(generator)
    }
}

impl<S, P: DeserializeOwned> FromContextPart<ToolCallContext<'_, S>> for Parameters<P> {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, rmcp::ErrorData> {
        let arguments = context.arguments.take().unwrap_or_default();
        serde_path_to_error::deserialize(serde_json::Value::Object(arguments))
            .map(Parameters)
            .map_err(|e| {
                let path = e.path().to_string();
                let field = if path == "." {
                    String::new()
                } else {
                    format!("`{path}`: ")
                };
                // rmcp turns an invalid_params error with exactly this prefix into an
                // `isError` tool result the model can read, rather than a protocol error.
                rmcp::ErrorData::invalid_params(
                    format!(
                        "failed to deserialize parameters: invalid argument {field}{}",
                        e.into_inner()
                    ),
                    None,
                )
            })
    }
}

/// A uuid argument, normalized; otherwise an invalid-argument error naming `field`, with
/// `rule` (what the id is, and where to find one).
pub fn uuid_arg(field: &str, value: &str, rule: &str) -> Result<String, super::reply::ToolError> {
    uuid::Uuid::parse_str(value.trim())
        .map(|u| u.to_string())
        .map_err(|_| super::reply::ToolError::invalid(field, rule))
}
