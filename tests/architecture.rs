//! The layers of `src/`, bottom to top, and the rule that holds them: a module imports only
//! from layers below its own (the wiring layer at the top may also use its neighbours). A new
//! top-level module must be given a layer here, or this test fails.
//!
//! `cargo test --test architecture -- --nocapture` prints the module graph.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test at once, with its message"
)]
use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// Bottom to top.
const LAYERS: &[(&str, &[&str])] = &[
    ("foundation", &["text", "secret", "clock"]),
    (
        "infrastructure",
        &[
            "redact",
            "listener",
            "shutdown",
            "metrics",
            "request_id",
            "frames",
            "children",
        ],
    ),
    ("Plugged.in vocabulary", &["vocab"]),
    ("the client and the embedded API", &["api", "local"]),
    // Side by side: neither imports the other; the server layer joins them.
    (
        "the tool domains and the hub (downstream MCP servers)",
        &["tools", "hub"],
    ),
    // Side by side: the server answers MCP, oauth signs its HTTP clients in.
    (
        "the MCP server (handler, hub routing, hub tools) and the OAuth server",
        &["server", "oauth"],
    ),
    ("transports", &["transport"]),
    ("wiring", &["catalog", "config", "login", "serve", "setup"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

/// `src/x/y/z.rs` → `[x, y, z]`; `src/x/y/mod.rs` → `[x, y]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The top-level modules a file refers to through `crate::…` or `super::…` paths.
fn references(text: &str, path: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let pattern = regex::Regex::new(r"\b(crate|super(?:::super)*)::(\{|[a-z_][a-z0-9_]*)").unwrap();
    for m in pattern.captures_iter(&code) {
        let root = &m[1];
        // Where the path starts: the crate root, or some way up this file's module path.
        let base: Vec<String> = if root == "crate" {
            Vec::new()
        } else {
            let ups = root.matches("super").count();
            path[..path.len().saturating_sub(ups)].to_vec()
        };
        let first = if &m[2] == "{" {
            // A group: every item at its top level.
            let start = m.get(2).unwrap().end();
            let mut depth = 1;
            let mut end = start;
            for (i, c) in code[start..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = start + i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let group = &code[start..end];
            let mut items = Vec::new();
            let mut depth = 0;
            let mut current = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => items.push(std::mem::take(&mut current)),
                    _ => {}
                }
                current.push(c);
            }
            items.push(current);
            items
                .iter()
                .filter_map(|item| {
                    let name: String = item
                        .trim_start_matches(',')
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    (!name.is_empty() && name != "self").then_some(name)
                })
                .collect::<Vec<_>>()
        } else {
            vec![m[2].to_string()]
        };
        for name in first {
            // Only a path from the crate root names a top-level module.
            let top = if base.is_empty() {
                name
            } else {
                base[0].clone()
            };
            out.insert(top);
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    // ARCH_SRC points the scan at another tree, to print the graph of an older commit:
    // `git worktree add /tmp/old <rev>; ARCH_SRC=/tmp/old/src cargo test --test
    // architecture -- --nocapture` (it fails there if that tree breaks the rule).
    let src = std::env::var_os("ARCH_SRC").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        PathBuf::from,
    );
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let path = module_path(&src, &file);
        let top = path[0].clone();
        if top == "lib" || top == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        // An inline `mod tests` sits one level deeper: its `super` is this file's module.
        let (code, tests) = text.split_once("#[cfg(test)]").unwrap_or((&text, ""));
        let mut deps = references(code, &path);
        let mut deeper = path.clone();
        deeper.push("tests".into());
        deps.extend(references(tests, &deeper));
        let entry = graph.entry(top.clone()).or_default();
        entry.extend(deps.into_iter().filter(|d| *d != top));
    }
    graph
}

#[test]
fn modules_import_only_from_layers_below() {
    let graph = graph();
    println!("Module graph (layer: module → what it uses):");
    for (i, (name, modules)) in LAYERS.iter().enumerate() {
        println!("{i} {name}");
        for m in *modules {
            let deps: Vec<&str> = graph
                .get(*m)
                .map(|d| d.iter().map(String::as_str).collect())
                .unwrap_or_default();
            println!(
                "    {m} → {}",
                if deps.is_empty() {
                    "-".to_string()
                } else {
                    deps.join(", ")
                }
            );
        }
    }
    let mut wrong = Vec::new();
    for (module, deps) in &graph {
        let Some(own) = layer_of(module) else {
            wrong.push(format!(
                "src/{module} has no layer: add it to LAYERS in tests/architecture.rs"
            ));
            continue;
        };
        for dep in deps {
            let Some(theirs) = layer_of(dep) else {
                continue; // not a module of ours (an enum variant path, say)
            };
            let top = own == LAYERS.len() - 1;
            if theirs > own || (theirs == own && !top) {
                wrong.push(format!(
                    "{module} ({}) imports {dep} ({})",
                    LAYERS[own].0, LAYERS[theirs].0
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_scan_sees_grouped_and_relative_imports() {
    let path = vec!["tools".to_string(), "agents".to_string()];
    let deps = references(
        "use crate::{\n    api::{Client, x},\n    vocab::keys,\n};\nuse super::params;\nlet a = crate::text::truncate(s);",
        &path,
    );
    assert_eq!(
        deps.into_iter().collect::<Vec<_>>(),
        ["api", "text", "tools", "vocab"]
    );
}
