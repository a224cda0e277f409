//! The tool catalog: every tool fully described, schemas portable, generated files current.

use crate::common::mcp::start_local;
use pluggedin_mcp::{catalog, server::PluggedinServer};
use serde_json::Value;

fn walk(v: &Value, f: &mut dyn FnMut(&serde_json::Map<String, Value>)) {
    match v {
        Value::Object(m) => {
            f(m);
            m.values().for_each(|x| walk(x, f));
        }
        Value::Array(a) => a.iter().for_each(|x| walk(x, f)),
        _ => {}
    }
}

#[tokio::test]
async fn every_tool_is_fully_described_and_portable() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = start_local(dir.path()).await;
    let tools = mcp.client.list_all_tools().await.unwrap();
    mcp.close().await;
    assert_eq!(tools.len(), crate::common::LISTED_TOOLS);
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "deterministic order");
    for t in &tools {
        let name = t.name.as_ref();
        assert!(
            name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{name}"
        );
        assert!(
            t.title.as_deref().is_some_and(|s| !s.is_empty()),
            "{name}: title"
        );
        let description = t.description.as_deref().unwrap_or("");
        assert!(
            !description.is_empty() && description.len() <= 300,
            "{name}: description of {} chars",
            description.len()
        );
        let a = t
            .annotations
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: annotations"));
        for (hint, v) in [
            ("readOnlyHint", a.read_only_hint),
            ("destructiveHint", a.destructive_hint),
            ("idempotentHint", a.idempotent_hint),
            ("openWorldHint", a.open_world_hint),
        ] {
            assert!(v.is_some(), "{name}: {hint}");
        }
        let input = Value::Object((*t.input_schema).clone());
        let output = Value::Object(
            (*t.output_schema
                .clone()
                .unwrap_or_else(|| panic!("{name}: output schema")))
            .clone(),
        );
        for schema in [&input, &output] {
            assert_eq!(schema["type"], "object", "{name}");
            for combinator in ["oneOf", "anyOf", "allOf"] {
                assert!(
                    schema.get(combinator).is_none(),
                    "{name}: top-level {combinator}"
                );
            }
            walk(schema, &mut |m| {
                assert!(
                    !m.contains_key("$schema") && !m.contains_key("$ref"),
                    "{name}: $schema/$ref"
                );
                if let Some(Value::String(f)) = m.get("format") {
                    assert!(
                        !f.starts_with("int")
                            && !f.starts_with("uint")
                            && f != "double"
                            && f != "float",
                        "{name}: format {f}"
                    );
                }
                if let Some(Value::Array(types)) = m.get("type") {
                    assert!(
                        !types.contains(&Value::from("null")),
                        "{name}: nullable type"
                    );
                }
            });
        }
        if let Some(Value::Object(props)) = input.get("properties") {
            for arg in props.keys() {
                assert!(
                    arg.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{name}.{arg}: snake_case"
                );
            }
        }
    }
}

/// What every tool costs a model, all toolsets together. 16 KiB held 25 tools; it became
/// 18 KiB with the memory toolset (5 tools, descriptions already cut to the bone) and the
/// hub's 4 tools, which are listed only in hub mode (status and refresh while servers are
/// configured, search and call instead of a catalog too big to list).
const CATALOG_BUDGET_BYTES: usize = 18 * 1024;

#[test]
fn the_catalog_fits_the_token_budget() {
    let bytes = catalog::model_facing_bytes(&PluggedinServer::catalog().unwrap());
    println!(
        "tool catalog: {bytes} bytes of names, descriptions and input schemas (budget {CATALOG_BUDGET_BYTES})"
    );
    assert!(bytes <= CATALOG_BUDGET_BYTES, "{bytes} bytes");
}

#[test]
fn committed_catalog_files_are_current() {
    let root = env!("CARGO_MANIFEST_DIR");
    let fix = "regenerate both with: cargo run -q -- tools --write tools";
    for (file, current) in [
        ("catalog.json", catalog::catalog_json().unwrap()),
        ("README.md", catalog::catalog_markdown().unwrap()),
    ] {
        let committed = std::fs::read_to_string(format!("{root}/tools/{file}")).unwrap_or_default();
        assert!(
            committed == current,
            "tools/{file} is stale ({fix}); {}",
            crate::common::snapshot::difference(&committed, &current)
        );
    }
}

#[test]
fn the_command_line_reference_is_current() {
    crate::common::snapshot::check(
        "docs/reference.md",
        &pluggedin_mcp::config::reference_markdown(),
    );
}
