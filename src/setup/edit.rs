//! Editing a client's configuration in place: one entry added, replaced or removed, and
//! every other byte — comments, order, indentation, other servers — left as it was (JSONC
//! through jsonc-parser's concrete syntax tree, TOML through toml_edit's document).

use anyhow::{Context, bail};
use jsonc_parser::{
    ParseOptions,
    cst::{CstInputValue, CstRootNode},
};
use serde_json::Value;

use super::clients::Format;

/// A servers entry, as JSON whatever the file's format.
pub type Entry = serde_json::Map<String, Value>;

fn to_input(value: &Value) -> CstInputValue {
    match value {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(*b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(s.clone()),
        Value::Array(items) => CstInputValue::Array(items.iter().map(to_input).collect()),
        Value::Object(map) => {
            CstInputValue::Object(map.iter().map(|(k, v)| (k.clone(), to_input(v))).collect())
        }
    }
}

fn parse_json(text: &str) -> anyhow::Result<CstRootNode> {
    let text = if text.trim().is_empty() { "{}" } else { text };
    CstRootNode::parse(text, &ParseOptions::default())
        .map_err(|e| anyhow::anyhow!("it is not valid JSON: {e}"))
}

fn parse_toml(text: &str) -> anyhow::Result<toml_edit::DocumentMut> {
    text.parse::<toml_edit::DocumentMut>()
        .map_err(|e| anyhow::anyhow!("it is not valid TOML: {e}"))
}

/// Every entry of the file, by name, in file order.
pub fn entries(format: Format, text: &str) -> anyhow::Result<Vec<(String, Entry)>> {
    match format {
        Format::Json { key, .. } => {
            let root = parse_json(text)?;
            let Some(servers) = root.object_value().and_then(|o| o.object_value(key)) else {
                return Ok(Vec::new());
            };
            Ok(servers
                .properties()
                .into_iter()
                .filter_map(|p| {
                    let name = p.name()?.decoded_value().ok()?;
                    let Some(Value::Object(entry)) = p.value()?.to_serde_value() else {
                        return None;
                    };
                    Some((name, entry))
                })
                .collect())
        }
        Format::Toml => {
            let doc = parse_toml(text)?;
            let Some(servers) = doc.get("mcp_servers").and_then(|s| s.as_table_like()) else {
                return Ok(Vec::new());
            };
            Ok(servers
                .iter()
                .filter_map(|(name, item)| match item_to_json(item) {
                    Value::Object(entry) => Some((name.to_string(), entry)),
                    _ => None,
                })
                .collect())
        }
    }
}

/// A TOML item as JSON: a value, or a table (`[mcp_servers.x.env]`) as an object.
fn item_to_json(item: &toml_edit::Item) -> Value {
    match item {
        toml_edit::Item::Value(value) => toml_to_json(value),
        toml_edit::Item::Table(table) => Value::Object(
            table
                .iter()
                .map(|(k, v)| (k.to_string(), item_to_json(v)))
                .collect(),
        ),
        toml_edit::Item::ArrayOfTables(tables) => Value::Array(
            tables
                .iter()
                .map(|t| item_to_json(&toml_edit::Item::Table(t.clone())))
                .collect(),
        ),
        toml_edit::Item::None => Value::Null,
    }
}

fn toml_to_json(value: &toml_edit::Value) -> Value {
    match value {
        toml_edit::Value::String(s) => Value::String(s.value().clone()),
        toml_edit::Value::Integer(i) => Value::from(*i.value()),
        toml_edit::Value::Float(f) => {
            serde_json::Number::from_f64(*f.value()).map_or(Value::Null, Value::Number)
        }
        toml_edit::Value::Boolean(b) => Value::Bool(*b.value()),
        toml_edit::Value::Array(items) => Value::Array(items.iter().map(toml_to_json).collect()),
        toml_edit::Value::InlineTable(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.to_string(), toml_to_json(v)))
                .collect(),
        ),
        toml_edit::Value::Datetime(d) => Value::String(d.value().to_string()),
    }
}

fn json_to_toml(value: &Value) -> anyhow::Result<toml_edit::Value> {
    Ok(match value {
        Value::String(s) => s.as_str().into(),
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or_default().into(),
        },
        Value::Array(items) => {
            let mut array = toml_edit::Array::new();
            for item in items {
                array.push(json_to_toml(item)?);
            }
            toml_edit::Value::Array(array)
        }
        Value::Object(map) => {
            let mut table = toml_edit::InlineTable::new();
            for (k, v) in map {
                table.insert(k, json_to_toml(v)?);
            }
            toml_edit::Value::InlineTable(table)
        }
        Value::Null => bail!("TOML has no null"),
    })
}

/// `text` with the entry `name` set to `entry` (added at the end, or replaced in place).
pub fn set(format: Format, text: &str, name: &str, entry: &Entry) -> anyhow::Result<String> {
    match format {
        Format::Json { key, .. } => {
            let root = parse_json(text)?;
            let Some(top) = root.object_value_or_create() else {
                bail!("its top level is not a JSON object");
            };
            let Some(servers) = top.object_value_or_create(key) else {
                bail!("its \"{key}\" is not an object");
            };
            let value = to_input(&Value::Object(entry.clone()));
            match servers.get(name) {
                Some(existing) => existing.set_value(value),
                None => {
                    servers.append(name, value);
                }
            }
            Ok(root.to_string())
        }
        Format::Toml => {
            let mut doc = parse_toml(text)?;
            let servers = doc
                .entry("mcp_servers")
                .or_insert_with(|| {
                    let mut t = toml_edit::Table::new();
                    t.set_implicit(true);
                    toml_edit::Item::Table(t)
                })
                .as_table_mut()
                .context("its mcp_servers is not a table")?;
            let mut table = toml_edit::Table::new();
            for (k, v) in entry {
                table.insert(k, toml_edit::Item::Value(json_to_toml(v)?));
            }
            servers.insert(name, toml_edit::Item::Table(table));
            Ok(doc.to_string())
        }
    }
}

/// `text` without the entries of `names` (those present).
pub fn remove(format: Format, text: &str, names: &[String]) -> anyhow::Result<String> {
    match format {
        Format::Json { key, .. } => {
            let root = parse_json(text)?;
            if let Some(servers) = root.object_value().and_then(|o| o.object_value(key)) {
                for name in names {
                    if let Some(prop) = servers.get(name) {
                        prop.remove();
                    }
                }
            }
            Ok(root.to_string())
        }
        Format::Toml => {
            let mut doc = parse_toml(text)?;
            if let Some(servers) = doc.get_mut("mcp_servers").and_then(|s| s.as_table_mut()) {
                for name in names {
                    servers.remove(name);
                }
            }
            Ok(doc.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLAUDE: &str = r#"{
  // A comment the user wrote.
  "globalShortcut": "Ctrl+Space",
  "mcpServers": {
    "github": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"]
    }
  }
}
"#;

    fn json() -> Format {
        Format::Json {
            key: "mcpServers",
            typed: false,
            custom_source: false,
        }
    }

    fn entry() -> Entry {
        serde_json::json!({"command": "/usr/bin/pluggedin-mcp"})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn an_entry_added_then_removed_leaves_the_file_as_it_was() {
        let added = set(json(), CLAUDE, "pluggedin", &entry()).unwrap();
        assert!(added.contains("// A comment the user wrote."), "{added}");
        assert_eq!(entries(json(), &added).unwrap().len(), 2);
        let removed = remove(json(), &added, &["pluggedin".into()]).unwrap();
        assert_eq!(removed, CLAUDE);
    }

    #[test]
    fn toml_tables_round_trip_too() {
        let codex =
            "model = \"o3\"\n\n[mcp_servers.github]\ncommand = \"npx\"\nargs = [\"-y\", \"x\"]\n";
        let added = set(Format::Toml, codex, "pluggedin", &entry()).unwrap();
        assert!(added.contains("[mcp_servers.pluggedin]"), "{added}");
        assert_eq!(entries(Format::Toml, &added).unwrap().len(), 2);
        let removed = remove(Format::Toml, &added, &["pluggedin".into()]).unwrap();
        assert_eq!(removed, codex);
    }
}
