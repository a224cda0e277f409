//! Every tool's input schema says what the server enforces. For each argument with a bound
//! in its schema, a value just inside is not refused for that argument and one just outside
//! is; an argument the server refuses beyond some size or below some length must say so in
//! its schema. Probed through the real path (client → server → embedded API), each probe a
//! call with the tool's other required arguments filled with plausible values.

use rmcp::model::Tool;
use serde_json::{Map, Value, json};

use crate::common::mcp::{Mcp, start_local};

/// What the server says about one argument when it refuses it.
fn refuses(answer: &rmcp::model::CallToolResult, field: &str) -> bool {
    answer.is_error == Some(true)
        && crate::common::mcp::text_of(answer).contains(&format!("`{field}`"))
}

/// A plausible value for a property, from its schema.
fn plausible(schema: &Value) -> Value {
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    let kind = schema["type"].as_str().or_else(|| {
        schema["type"]
            .as_array()
            .and_then(|t| t.iter().find_map(|t| t.as_str().filter(|t| *t != "null")))
    });
    match kind {
        Some("integer") | Some("number") => json!(schema["minimum"].as_i64().unwrap_or(0).max(1)),
        Some("boolean") => json!(false),
        Some("array") => json!([]),
        Some("object") => json!({}),
        _ if schema["format"] == "uuid" => json!("00000000-0000-4000-8000-000000000000"),
        _ => json!("probe"),
    }
}

/// The tool's required arguments filled, and the optional ones its cross-field rules ask
/// for (`name` or `idx`, say): added while a call refuses one by name.
async fn baseline(mcp: &Mcp, tool: &Tool) -> Map<String, Value> {
    let properties = tool
        .input_schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut args: Map<String, Value> = tool
        .input_schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|name| (name.to_string(), plausible(&properties[name])))
        .collect();
    for _ in 0..3 {
        let answer = mcp.call(&tool.name, Value::Object(args.clone())).await;
        let Some((name, schema)) = properties
            .iter()
            .find(|(name, _)| !args.contains_key(*name) && refuses(&answer, name))
        else {
            break;
        };
        args.insert(name.clone(), plausible(schema));
    }
    args
}

/// Calls the tool with `field` set to `value` and the other arguments from `base`; when the
/// answer refuses one of those others instead (a cross-field rule: `name` or `idx`, not
/// both), again with only the required ones.
async fn probe(
    mcp: &Mcp,
    tool: &Tool,
    base: &Map<String, Value>,
    field: &str,
    value: Value,
) -> rmcp::model::CallToolResult {
    let mut args = base.clone();
    args.insert(field.to_string(), value.clone());
    let answer = mcp.call(&tool.name, Value::Object(args.clone())).await;
    let required: Vec<&str> = tool
        .input_schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let other_refused = args
        .keys()
        .any(|k| k != field && !required.contains(&k.as_str()) && refuses(&answer, k));
    if !other_refused || refuses(&answer, field) {
        return answer;
    }
    args.retain(|k, _| k == field || required.contains(&k.as_str()));
    mcp.call(&tool.name, Value::Object(args)).await
}

#[tokio::test]
async fn every_schema_bound_is_the_one_the_server_enforces() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;
    let tools = mcp.client.list_all_tools().await.unwrap();
    let mut wrong = Vec::new();
    for tool in &tools {
        let Some(properties) = tool
            .input_schema
            .get("properties")
            .and_then(Value::as_object)
        else {
            continue;
        };
        let base = baseline(&mcp, tool).await;
        for (field, schema) in properties {
            let kind = schema["type"].as_str().unwrap_or_default();
            let place = format!("{}.{field}", tool.name);
            if kind == "integer" {
                match schema["minimum"].as_i64() {
                    Some(min) => {
                        if refuses(&probe(&mcp, tool, &base, field, json!(min)).await, field) {
                            wrong.push(format!("{place}: refuses its schema minimum {min}"));
                        }
                        if !refuses(
                            &probe(&mcp, tool, &base, field, json!(min - 1)).await,
                            field,
                        ) {
                            wrong.push(format!(
                                "{place}: takes {} below its schema minimum",
                                min - 1
                            ));
                        }
                    }
                    None => {
                        if refuses(&probe(&mcp, tool, &base, field, json!(-1)).await, field) {
                            wrong
                                .push(format!("{place}: refuses -1 but its schema has no minimum"));
                        }
                    }
                }
                match schema["maximum"].as_i64() {
                    Some(max) => {
                        if refuses(&probe(&mcp, tool, &base, field, json!(max)).await, field) {
                            wrong.push(format!("{place}: refuses its schema maximum {max}"));
                        }
                        if !refuses(
                            &probe(&mcp, tool, &base, field, json!(max + 1)).await,
                            field,
                        ) {
                            wrong.push(format!(
                                "{place}: takes {} above its schema maximum",
                                max + 1
                            ));
                        }
                    }
                    None => {
                        let big = json!(4_000_000_000u64);
                        if refuses(&probe(&mcp, tool, &base, field, big).await, field) {
                            wrong.push(format!(
                                "{place}: refuses 4,000,000,000 but its schema has no maximum"
                            ));
                        }
                    }
                }
            }
            if kind == "string" && schema.get("enum").is_none() && schema.get("format").is_none() {
                match schema["maxLength"].as_u64() {
                    Some(max) => {
                        let over = "x".repeat(max as usize + 1);
                        if !refuses(&probe(&mcp, tool, &base, field, json!(over)).await, field) {
                            wrong.push(format!(
                                "{place}: takes {} characters, over its schema maxLength",
                                max + 1
                            ));
                        }
                    }
                    None => {
                        let huge = "x".repeat(200_000);
                        if refuses(&probe(&mcp, tool, &base, field, json!(huge)).await, field) {
                            wrong.push(format!("{place}: refuses 200,000 characters but its schema has no maxLength"));
                        }
                    }
                }
                if schema["minLength"].as_u64().unwrap_or(0) == 0
                    && refuses(&probe(&mcp, tool, &base, field, json!("")).await, field)
                {
                    wrong.push(format!(
                        "{place}: refuses \"\" but its schema has no minLength"
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "schemas that do not say what the server enforces:\n{}",
        wrong.join("\n")
    );
}
