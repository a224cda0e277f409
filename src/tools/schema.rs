//! Tidies the JSON Schemas schemars generates so every client can use them and they cost as
//! few tokens as possible: no `$schema`, no `$ref`/`$defs` (inlined), no non-standard
//! `format`s such as `uint32`, and optional fields as plain types rather than `[T, "null"]`
//! (an optional field is simply not `required`).

use serde_json::{Map, Value};

/// `format` values defined by JSON Schema 2020-12; anything else is dropped.
const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// Returns the cleaned copy of a root schema object.
pub fn clean(root: &Map<String, Value>) -> Map<String, Value> {
    let mut root = root.clone();
    let defs = root
        .remove("$defs")
        .or_else(|| root.remove("definitions"))
        .and_then(|d| match d {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default();
    root.remove("$schema");
    let mut value = Value::Object(root);
    tidy(&mut value, &defs, 0);
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn tidy(value: &mut Value, defs: &Map<String, Value>, depth: usize) {
    match value {
        Value::Object(map) => {
            // Nullability first: collapsing `anyOf: [$ref, null]` can leave a `$ref` to inline.
            unrequire_nullable(map);
            collapse_nullable(map);
            // Inline `{"$ref": "#/$defs/Name"}` (our parameter types are never recursive;
            // the depth guard only protects against a surprise).
            if let Some(Value::String(r)) = map.get("$ref")
                && depth < 16
                && let Some(def) = r
                    .strip_prefix("#/$defs/")
                    .or_else(|| r.strip_prefix("#/definitions/"))
                    .and_then(|name| defs.get(name))
            {
                let mut inlined = def.clone();
                if let Value::Object(target) = &mut inlined {
                    for (k, v) in map.iter().filter(|(k, _)| k.as_str() != "$ref") {
                        target.insert(k.clone(), v.clone());
                    }
                }
                *value = inlined;
                tidy(value, defs, depth + 1);
                return;
            }
            if map.get("default") == Some(&Value::Null) {
                map.remove("default");
            }
            if let Some(Value::String(f)) = map.get("format")
                && !STANDARD_FORMATS.contains(&f.as_str())
            {
                map.remove("format");
            }
            for v in map.values_mut() {
                tidy(v, defs, depth + 1);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| tidy(v, defs, depth + 1)),
        _ => {}
    }
}

fn is_nullable(schema: &Value) -> bool {
    let null = Value::String("null".into());
    match schema.get("type") {
        Some(Value::Array(types)) if types.contains(&null) => return true,
        Some(t) if *t == null => return true,
        _ => {}
    }
    ["anyOf", "oneOf"].iter().any(|k| {
        schema
            .get(*k)
            .and_then(Value::as_array)
            .is_some_and(|opts| opts.iter().any(|o| o.get("type") == Some(&null)))
    })
}

/// A nullable property is optional: tool results leave out `null` fields (see
/// `reply::strip_nulls`), so once its type is collapsed to non-null it must not be required.
fn unrequire_nullable(map: &mut Map<String, Value>) {
    let Some(Value::Object(props)) = map.get("properties") else {
        return;
    };
    let nullable: Vec<String> = props
        .iter()
        .filter(|(_, s)| is_nullable(s))
        .map(|(k, _)| k.clone())
        .collect();
    if let Some(Value::Array(required)) = map.get_mut("required") {
        required.retain(|r| r.as_str().is_none_or(|r| !nullable.iter().any(|n| n == r)));
        if required.is_empty() {
            map.remove("required");
        }
    }
}

/// `"type": ["string", "null"]` → `"type": "string"`; `anyOf: [X, {"type": "null"}]` → X.
fn collapse_nullable(map: &mut Map<String, Value>) {
    if let Some(Value::Array(types)) = map.get("type") {
        let non_null: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if non_null.len() == 1 {
            map.insert("type".into(), non_null[0].clone());
        }
    }
    if let Some(Value::Array(enum_values)) = map.get("enum") {
        let kept: Vec<Value> = enum_values
            .iter()
            .filter(|v| !v.is_null())
            .cloned()
            .collect();
        map.insert("enum".into(), Value::Array(kept));
    }
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(options)) = map.get(key) else {
            continue;
        };
        let non_null: Vec<Value> = options
            .iter()
            .filter(|o| o.get("type") != Some(&Value::String("null".into())))
            .cloned()
            .collect();
        if non_null.len() == 1 && non_null.len() < options.len() {
            map.remove(key);
            if let Value::Object(inner) = &non_null[0] {
                for (k, v) in inner {
                    map.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nullable_properties_are_not_required() {
        let raw = json!({
            "type": "object",
            "properties": { "a": { "type": "string" }, "b": { "type": ["string", "null"] } },
            "required": ["a", "b"]
        });
        let clean = Value::Object(clean(raw.as_object().unwrap()));
        assert_eq!(clean["required"], json!(["a"]));
        assert_eq!(clean["properties"]["b"], json!({ "type": "string" }));
    }

    #[test]
    fn removes_noise_and_inlines_definitions() {
        let raw = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "limit": { "type": ["integer", "null"], "format": "uint32", "default": null },
                "when": { "type": "string", "format": "date-time" },
                "size": { "anyOf": [{ "$ref": "#/$defs/Size" }, { "type": "null" }], "description": "Preset." }
            },
            "$defs": { "Size": { "type": "string", "enum": ["light", "heavy"] } }
        });
        let clean = Value::Object(clean(raw.as_object().unwrap()));
        assert_eq!(
            clean,
            json!({
                "type": "object",
                "properties": {
                    "limit": { "type": "integer" },
                    "when": { "type": "string", "format": "date-time" },
                    "size": { "type": "string", "enum": ["light", "heavy"], "description": "Preset." }
                }
            })
        );
    }
}
