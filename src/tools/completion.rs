//! `completion/complete` for prompt arguments and resource-template variables: agent names,
//! document ids (matched by title), clipboard names, agent sizes. Lookups are cached for a
//! few seconds, keyed by a fingerprint of the upstream key, so typing a prefix does not cost
//! one API call per keystroke and passthrough users never see each other's names.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use rmcp::{
    ErrorData, RoleServer,
    model::{CompleteRequestParams, CompleteResult, CompletionInfo, Reference},
    service::RequestContext,
};

use super::{
    Tools, cancellable, prompts,
    selection::{Selection, Toolset},
};
use crate::api::{Client, documents::ListQuery};

const TTL: Duration = Duration::from_secs(10);
const MAX_CACHED: usize = 256;

/// `(label to match, value to return)` pairs.
type Candidates = Vec<(String, String)>;

#[derive(Default)]
pub struct CompletionCache {
    entries: Mutex<HashMap<String, (Instant, Candidates)>>,
}

impl CompletionCache {
    fn get(&self, key: &str) -> Option<Candidates> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, c)| c.clone())
    }

    fn put(&self, key: String, candidates: Candidates) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_CACHED {
            entries.retain(|_, (at, _)| at.elapsed() < TTL);
        }
        if entries.len() < MAX_CACHED {
            entries.insert(key, (Instant::now(), candidates));
        }
    }
}

/// What an argument completes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    AgentName,
    Size,
    DocTitle,
    DocId,
    ClipboardName,
}

fn kind_of(sel: &Selection, r: &Reference, argument: &str) -> Option<Kind> {
    let kind = match r {
        Reference::Prompt(p) => {
            // Only prompts this server lists can be completed.
            if !prompts::list(sel)
                .iter()
                .any(|listed| listed.name == p.name)
            {
                return None;
            }
            match prompts::argument_kind(&p.name, argument)? {
                "agent" => Kind::AgentName,
                "size" => Kind::Size,
                _ => Kind::DocTitle,
            }
        }
        Reference::Resource(t) => match (t.uri.as_str(), argument) {
            ("pluggedin://agents/{agent}", "agent") => Kind::AgentName,
            ("pluggedin://docs/{id}", "id") => Kind::DocId,
            ("pluggedin://clipboard/{name}", "name") => Kind::ClipboardName,
            _ => return None,
        },
        _ => return None,
    };
    let needs = match kind {
        Kind::AgentName | Kind::Size => Toolset::Agents,
        Kind::DocTitle | Kind::DocId => Toolset::Docs,
        Kind::ClipboardName => Toolset::Clipboard,
    };
    sel.has(needs).then_some(kind)
}

async fn fetch(
    client: &Client,
    ctx: &RequestContext<RoleServer>,
    kind: Kind,
    typed: &str,
) -> Result<Candidates, ErrorData> {
    let upstream = |e: crate::api::ApiError| ErrorData::internal_error(e.to_string(), None);
    Ok(match kind {
        Kind::Size => ["light", "standard", "heavy"]
            .map(|s| (s.to_string(), s.to_string()))
            .to_vec(),
        Kind::AgentName => cancellable(&ctx.ct, client.list_agents())
            .await
            .map_err(upstream)?
            .into_iter()
            .map(|a| (a.name.clone(), a.name))
            .collect(),
        Kind::DocTitle | Kind::DocId => {
            // Let the API narrow by title; an empty prefix gets the newest documents.
            let query = ListQuery {
                search: (!typed.is_empty()).then(|| typed.to_string()),
                limit: 100,
                ..Default::default()
            };
            cancellable(&ctx.ct, client.list_documents(&query))
                .await
                .map_err(upstream)?
                .documents
                .into_iter()
                .map(|d| {
                    let value = if kind == Kind::DocId {
                        d.id
                    } else {
                        d.title.clone()
                    };
                    (d.title, value)
                })
                .collect()
        }
        Kind::ClipboardName => cancellable(&ctx.ct, client.clipboard_list(None, 1000, 0))
            .await
            .map_err(upstream)?
            .entries
            .into_iter()
            .filter_map(|e| e.name.map(|n| (n.clone(), n)))
            .collect(),
    })
}

/// Prefix matches, or substring matches when nothing starts with what was typed (so `bot`
/// still finds `research-bot`); case-insensitive; at most 100.
fn rank(candidates: Candidates, typed: &str) -> CompletionInfo {
    let typed = typed.to_lowercase();
    let mut prefix = Vec::new();
    let mut contains = Vec::new();
    for (label, value) in candidates {
        let l = label.to_lowercase();
        let v = value.to_lowercase();
        if l.starts_with(&typed) || v.starts_with(&typed) {
            prefix.push(value);
        } else if l.contains(&typed) {
            contains.push(value);
        }
    }
    if prefix.is_empty() {
        prefix = contains;
    }
    prefix.dedup();
    let total = prefix.len();
    prefix.truncate(CompletionInfo::MAX_VALUES);
    let has_more = total > prefix.len();
    CompletionInfo::with_pagination(prefix, u32::try_from(total).ok(), has_more).unwrap_or_default()
}

pub async fn complete(
    tools: &Tools,
    ctx: &RequestContext<RoleServer>,
    params: &CompleteRequestParams,
) -> Result<CompleteResult, ErrorData> {
    let typed = params.argument.value.trim();
    let selection = tools.selection_for(&ctx.extensions);
    let Some(kind) = kind_of(&selection, &params.r#ref, &params.argument.name) else {
        return Ok(CompleteResult::default());
    };
    let client = tools
        .client(ctx)
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
    let narrowed = matches!(kind, Kind::DocTitle | Kind::DocId);
    let cache_key = format!(
        "{}:{kind:?}:{}",
        client.key_fingerprint(),
        if narrowed { typed } else { "" }
    );
    let candidates = match tools.completion_cache().get(&cache_key) {
        Some(c) => c,
        None => {
            let c = fetch(&client, ctx, kind, typed).await?;
            tools.completion_cache().put(cache_key, c.clone());
            c
        }
    };
    Ok(CompleteResult::new(rank(candidates, typed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_matches_win_and_substrings_are_the_fallback() {
        let c = || {
            ["my-research-bot", "research-bot", "other"]
                .map(|s| (s.to_string(), s.to_string()))
                .to_vec()
        };
        let info = rank(c(), "Res");
        assert_eq!(info.values, ["research-bot"]);
        assert_eq!(info.total, Some(1));
        assert_eq!(rank(c(), "bot").values, ["my-research-bot", "research-bot"]);
    }
}
