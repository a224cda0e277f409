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

impl<S, P: DeserializeOwned + JsonSchema> FromContextPart<ToolCallContext<'_, S>>
    for Parameters<P>
{
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, rmcp::ErrorData> {
        let arguments = context.arguments.take().unwrap_or_default();
        serde_path_to_error::deserialize(serde_json::Value::Object(arguments))
            .map(Parameters)
            .map_err(|e| {
                let path = e.path().to_string();
                let explained = explain(&path, &e.into_inner().to_string(), || {
                    serde_json::to_value(schemars::schema_for!(P)).unwrap_or_default()
                });
                // rmcp turns an invalid_params error with exactly this prefix into an
                // `isError` tool result (the registry then drops the prefix, which reads
                // like Rust to a model).
                rmcp::ErrorData::invalid_params(format!("{DECODE_ERROR_PREFIX} {explained}"), None)
            })
    }
}

/// What rmcp's tool router looks for to make an argument error a tool result.
pub const DECODE_ERROR_PREFIX: &str = "failed to deserialize parameters:";

/// A decoding error as a model should read it: the argument, what is wrong, and — for a
/// missing one — what it is, from the tool's schema (`schema`, made only on this path).
fn explain(path: &str, serde: &str, schema: impl FnOnce() -> serde_json::Value) -> String {
    static MISSING: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| crate::text::constant_regex(r"^missing field `([^`]+)`"));
    static VARIANT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        crate::text::constant_regex(r"^unknown variant `([^`]*)`, expected (?:one of )?(.+)$")
    });
    static TYPE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        crate::text::constant_regex(r"^invalid type: (.+), expected (.+)$")
    });
    let at = |name: &str| {
        if path == "." {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    if let Some(m) = MISSING.captures(serde) {
        let field = at(&m[1]);
        let what = (path == ".")
            .then(|| {
                schema()["properties"][&m[1]]["description"]
                    .as_str()
                    .map(str::to_string)
            })
            .flatten();
        return match what {
            Some(what) => format!("`{field}` is required: {}", what.trim_end_matches('.')),
            None => format!("`{field}` is required"),
        };
    }
    let field = if path == "." { "arguments" } else { path };
    if let Some(m) = VARIANT.captures(serde) {
        let allowed = m[2].replace('`', "");
        return format!("`{field}` cannot be {:?}: it is one of {allowed}", &m[1]);
    }
    if let Some(m) = TYPE.captures(serde) {
        return format!("`{field}` must be {}, not {}", &m[2], &m[1]);
    }
    format!("invalid argument `{field}`: {serde}")
}

/// A uuid argument, normalized; otherwise an invalid-argument error naming `field`, with
/// `rule` (what the id is, and where to find one).
pub fn uuid_arg(field: &str, value: &str, rule: &str) -> Result<String, super::reply::ToolError> {
    uuid::Uuid::parse_str(value.trim())
        .map(|u| u.to_string())
        .map_err(|_| super::reply::ToolError::invalid(field, rule))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> serde_json::Value {
        serde_json::json!({"properties": {"query": {"description": "What to look for."}}})
    }

    #[test]
    fn decoding_errors_read_as_a_model_needs_them() {
        assert_eq!(
            explain(".", "missing field `query`", schema),
            "`query` is required: What to look for"
        );
        assert_eq!(
            explain(
                "size",
                "unknown variant `huge`, expected one of `light`, `standard`, `heavy`",
                schema
            ),
            "`size` cannot be \"huge\": it is one of light, standard, heavy"
        );
        assert_eq!(
            explain("limit", "invalid type: string \"x\", expected u32", schema),
            "`limit` must be u32, not string \"x\""
        );
        assert_eq!(
            explain("a.b", "missing field `c`", schema),
            "`a.b.c` is required"
        );
    }
}
