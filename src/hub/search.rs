//! Full-text search over the hub's tools, for catalogs too big to list: BM25 over each
//! tool's name, its server, its description and its arguments (names and descriptions),
//! with the name weighing most. Words are lower-cased, split at punctuation and camelCase,
//! reduced to a rough stem, and common verbs folded to one meaning ("add", "new", "open"
//! are all "create"), so a query written from a tool's purpose finds it.

use std::collections::HashMap;

use rmcp::model::Tool;
use serde_json::Value;

/// BM25's usual constants: term-frequency saturation and length normalisation.
const K1: f64 = 1.2;
const B: f64 = 0.75;
/// How much a word counts by where it appears.
const NAME_WEIGHT: f64 = 3.0;
const SERVER_WEIGHT: f64 = 2.0;
const ARGUMENT_WEIGHT: f64 = 1.0;
const DESCRIPTION_WEIGHT: f64 = 1.0;
/// Longest text of one tool that is indexed (its description and schema can be huge).
const MAX_INDEXED_CHARS: usize = 8_000;

const STOP_WORDS: &[&str] = &[
    "a", "an", "the", "of", "to", "in", "for", "by", "and", "or", "with", "on", "its", "it", "is",
    "are", "be", "from", "this", "that", "as", "at", "into", "my", "me", "i", "you", "your",
    "please", "can", "will", "which", "what", "how", "do", "does", "some", "any",
];

/// Verbs folded to one meaning, after stemming.
const SYNONYMS: &[(&str, &[&str])] = &[
    ("create", &["add", "new", "open", "make", "creat", "insert"]),
    (
        "delete",
        &[
            "remov", "remove", "drop", "eras", "erase", "destroy", "trash", "delet",
        ],
    ),
    (
        "updat",
        &[
            "update", "edit", "chang", "change", "modify", "modifi", "renam", "rename", "set",
        ],
    ),
    ("search", &["find", "look", "lookup", "query", "seek"]),
    (
        "get",
        &[
            "fetch", "read", "retriev", "retrieve", "show", "view", "detail", "detai", "inspect",
        ],
    ),
    ("list", &["enumerat", "enumerate", "every", "all"]),
    ("send", &["post", "deliver", "notify"]),
];

/// One tool, indexed.
struct Entry {
    /// Weighted term frequencies.
    terms: HashMap<String, f64>,
    /// Weighted length.
    length: f64,
}

/// An index of tools, by position in the list it was built from.
#[derive(Default)]
pub struct Index {
    entries: Vec<Entry>,
    /// In how many tools each term appears.
    document_frequency: HashMap<String, usize>,
    average_length: f64,
}

impl Index {
    /// Indexes `tools` (each with the name of its server).
    pub fn build<'a>(tools: impl IntoIterator<Item = (&'a Tool, &'a str)>) -> Self {
        let mut index = Index::default();
        for (tool, server) in tools {
            let mut terms: HashMap<String, f64> = HashMap::new();
            let mut add = |text: &str, weight: f64| {
                for term in words(text) {
                    *terms.entry(term).or_default() += weight;
                }
            };
            add(&tool.name, NAME_WEIGHT);
            add(server, SERVER_WEIGHT);
            if let Some(title) = &tool.title {
                add(title, NAME_WEIGHT);
            }
            if let Some(description) = &tool.description {
                add(cut(description), DESCRIPTION_WEIGHT);
            }
            if let Some(Value::Object(properties)) = tool.input_schema.get("properties") {
                for (name, schema) in properties {
                    add(name, ARGUMENT_WEIGHT);
                    if let Some(text) = schema.get("description").and_then(Value::as_str) {
                        add(cut(text), ARGUMENT_WEIGHT / 2.0);
                    }
                }
            }
            for term in terms.keys() {
                *index.document_frequency.entry(term.clone()).or_default() += 1;
            }
            let length = terms.values().sum();
            index.entries.push(Entry { terms, length });
        }
        let total: f64 = index.entries.iter().map(|e| e.length).sum();
        index.average_length = total / index.entries.len().max(1) as f64;
        index
    }

    /// The best `limit` tools for `query`: (position, score), best first; tools that share
    /// no word with the query are left out.
    pub fn search(&self, query: &str, limit: usize) -> Vec<(usize, f64)> {
        let mut query_terms = words(query);
        query_terms.sort();
        query_terms.dedup();
        let n = self.entries.len() as f64;
        let mut scored: Vec<(usize, f64)> = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, entry)| {
                let score: f64 = query_terms
                    .iter()
                    .filter_map(|term| {
                        let tf = *entry.terms.get(term)?;
                        let df = *self.document_frequency.get(term)? as f64;
                        let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
                        let norm = K1 * (1.0 - B + B * entry.length / self.average_length.max(1.0));
                        Some(idf * tf * (K1 + 1.0) / (tf + norm))
                    })
                    .sum();
                (score > 0.0).then_some((i, score))
            })
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored.truncate(limit);
        scored
    }
}

fn cut(text: &str) -> &str {
    match text.char_indices().nth(MAX_INDEXED_CHARS) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// The search terms of a text: split, lower-cased, stop words out, stemmed, verbs folded.
fn words(text: &str) -> Vec<String> {
    crate::text::words(text)
        .into_iter()
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .map(|w| fold(stem(&w)))
        .collect()
}

/// A rough English stem: enough that "issues", "issue" and "issued" meet.
fn stem(word: &str) -> String {
    let w = word;
    if w.len() <= 3 {
        return w.to_string();
    }
    for (suffix, replacement) in [
        ("ies", "y"),
        ("sses", "ss"),
        ("ing", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
        ("e", ""),
    ] {
        if let Some(base) = w.strip_suffix(suffix)
            && base.len() >= 3
            && !(suffix == "s" && base.ends_with('s'))
        {
            return format!("{base}{replacement}");
        }
    }
    w.to_string()
}

fn fold(stemmed: String) -> String {
    for (canonical, others) in SYNONYMS {
        if stemmed == *canonical || others.contains(&stemmed.as_str()) {
            return (*canonical).to_string();
        }
    }
    stemmed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, description: &str, args: &[&str]) -> Tool {
        let properties: serde_json::Map<String, Value> = args
            .iter()
            .map(|a| (a.to_string(), serde_json::json!({"type": "string"})))
            .collect();
        let schema = serde_json::json!({"type": "object", "properties": properties});
        let Value::Object(schema) = schema else {
            unreachable!()
        };
        Tool::new(
            name.to_string(),
            description.to_string(),
            std::sync::Arc::new(schema),
        )
    }

    #[test]
    fn words_split_stem_and_fold() {
        assert_eq!(words("listPullRequests"), vec!["list", "pull", "request"]);
        assert_eq!(words("Add a new Issue"), vec!["create", "create", "issu"]);
        assert_eq!(words("removing issues"), vec!["delete", "issu"]);
        assert_eq!(stem("class"), "class");
    }

    #[test]
    fn the_tool_whose_purpose_is_asked_for_ranks_first() {
        let tools = [
            tool(
                "github__create_issue",
                "Create a new issue in a repository.",
                &["repo", "title"],
            ),
            tool(
                "github__list_issues",
                "List the issues of a repository.",
                &["repo"],
            ),
            tool(
                "jira__create_ticket",
                "Create a ticket in a Jira project.",
                &["project"],
            ),
            tool(
                "weather__forecast",
                "The weather forecast for a city.",
                &["city"],
            ),
        ];
        let index = Index::build(
            tools
                .iter()
                .map(|t| (t, t.name.split("__").next().unwrap())),
        );
        assert_eq!(index.search("open a new github issue", 3)[0].0, 0);
        assert_eq!(index.search("show all issues of my repo", 3)[0].0, 1);
        assert_eq!(index.search("will it rain in Paris? forecast", 3)[0].0, 3);
        assert!(index.search("zzz", 3).is_empty());
    }
}
