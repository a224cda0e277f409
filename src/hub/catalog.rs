//! The merged catalog of a hub: every server's tools and prompts under `<prefix>__<name>`
//! names, their resources and templates under their own URIs, where each one routes, and
//! the queries clients and the hub tools make of it. Rebuilt whenever a server's lists or
//! state change; each rebuild tells sessions which lists changed.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use rmcp::model::{Prompt, Resource, ResourceTemplate, Tool};

use super::{Hub, downstream::Downstream, downstream::Snapshot, lock, names, search};

/// Deepest input schema offered (objects and arrays within each other): clients and model
/// APIs refuse far less; a deeper one is a broken or hostile server's.
const MAX_SCHEMA_DEPTH: usize = 32;

/// How deeply objects and arrays nest in a schema (iteratively: it may be deep).
fn nesting(schema: &serde_json::Map<String, serde_json::Value>) -> usize {
    let mut deepest = 1;
    let mut stack: Vec<(&serde_json::Value, usize)> = schema.values().map(|v| (v, 2)).collect();
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &serde_json::Value>> = match value {
            serde_json::Value::Object(map) => Box::new(map.values()),
            serde_json::Value::Array(items) => Box::new(items.iter()),
            _ => continue,
        };
        deepest = deepest.max(depth);
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    deepest
}

/// What clients see, and where each name goes.
#[derive(Default)]
pub(super) struct Catalog {
    pub tools: Vec<Tool>,
    pub routes: HashMap<String, (Arc<Downstream>, String)>,
    /// Prompts under `<prefix>__<prompt>` names, and where each goes.
    pub prompts: Vec<Prompt>,
    pub prompt_routes: HashMap<String, (Arc<Downstream>, String)>,
    /// Resources keep their URIs; the first server to list a URI owns it.
    pub resources: Vec<Resource>,
    pub resource_routes: HashMap<String, Arc<Downstream>>,
    /// Templates, and the literal start of each (before its first `{`), for reads of URIs
    /// that no list names.
    pub templates: Vec<ResourceTemplate>,
    pub template_routes: Vec<(String, Arc<Downstream>)>,
    /// Tools a server lists that are not offered, by server, with why (a name used
    /// twice, an empty name).
    pub dropped: BTreeMap<String, Vec<String>>,
    /// Search over `tools`, and what listing them all would cost a model (in tokens).
    pub index: search::Index,
    pub token_cost: usize,
}

/// What changed in a rebuild, for the matching `list_changed` notifications.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    pub tools: u64,
    pub prompts: u64,
    pub resources: u64,
}

impl Catalog {
    /// The server a resource URI reads from: the one that listed it, else the one whose
    /// template's literal start is the longest match.
    pub fn resource_server(&self, uri: &str) -> Option<Arc<Downstream>> {
        self.resource_routes.get(uri).cloned().or_else(|| {
            self.template_routes
                .iter()
                .filter(|(literal, _)| !literal.is_empty() && uri.starts_with(literal))
                .max_by_key(|(literal, _)| literal.len())
                .map(|(_, server)| server.clone())
        })
    }

    /// The server of a resource template, by its exact URI template.
    pub fn template_server(&self, uri_template: &str) -> Option<Arc<Downstream>> {
        self.templates
            .iter()
            .zip(self.template_routes.iter())
            .find(|(t, _)| t.uri_template == uri_template)
            .map(|(_, (_, server))| server.clone())
    }
}

impl Hub {
    /// Recomputes the merged catalog from every server's lists.
    pub(super) fn rebuild(&self) {
        let _one_at_a_time = lock(&self.inner.rebuild_lock);
        let servers: Vec<Arc<Downstream>> = lock(&self.inner.servers).values().cloned().collect();
        let mut catalog = Catalog::default();
        for server in servers {
            let snapshot = server.snapshot();
            self.add_tools(&mut catalog, &server, &snapshot);
            self.add_lists(&mut catalog, &server, &snapshot);
            self.report_discovered(&server, &snapshot);
        }
        catalog.tools.sort_by(|a, b| a.name.cmp(&b.name));
        catalog.prompts.sort_by(|a, b| a.name.cmp(&b.name));
        catalog.token_cost = catalog.tools.iter().map(token_cost).sum();
        catalog.index = search::Index::build(catalog.tools.iter().map(|t| {
            let server = catalog
                .routes
                .get(t.name.as_ref())
                .map(|(s, _)| s.spec.name.as_str())
                .unwrap_or_default();
            (t, server)
        }));
        let (tools, prompts, resources) = {
            let mut current = self
                .inner
                .catalog
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let changed = (
                current.tools != catalog.tools,
                current.prompts != catalog.prompts,
                current.resources != catalog.resources || current.templates != catalog.templates,
            );
            *current = Arc::new(catalog);
            changed
        };
        if tools || prompts || resources {
            self.inner.changes.send_modify(|c| {
                c.tools += u64::from(tools);
                c.prompts += u64::from(prompts);
                c.resources += u64::from(resources);
            });
        }
        self.inner.rebuilt.send_modify(|n| *n += 1);
    }

    /// Adds a server's tools: listed as it offers them now; routed also as it offered them
    /// when last up (or as a cache knew them), so a call while it is down or starting waits
    /// for it. A name another tool already has — or an empty one — is not offered.
    fn add_tools(&self, catalog: &mut Catalog, server: &Arc<Downstream>, snapshot: &Snapshot) {
        let settings = &self.inner.settings;
        let live: std::collections::HashSet<&str> = snapshot
            .offered()
            .tools
            .iter()
            .map(|t| t.name.as_ref())
            .collect();
        if !snapshot.unreadable.is_empty() {
            catalog
                .dropped
                .entry(server.spec.name.clone())
                .or_default()
                .extend(snapshot.unreadable.iter().cloned());
        }
        for tool in snapshot.known.tools.iter() {
            if tool.name.trim().is_empty() {
                catalog
                    .dropped
                    .entry(server.spec.name.clone())
                    .or_default()
                    .push("a tool with an empty name".into());
                continue;
            }
            if !self.offers(server, tool) {
                continue;
            }
            if nesting(&tool.input_schema) > MAX_SCHEMA_DEPTH {
                catalog
                    .dropped
                    .entry(server.spec.name.clone())
                    .or_default()
                    .push(format!(
                        "{}: its inputSchema is nested deeper than {MAX_SCHEMA_DEPTH} levels",
                        crate::text::truncate(&tool.name, 100)
                    ));
                continue;
            }
            let exposed = names::tool_name(&server.prefix, &tool.name, settings.name_budget);
            if catalog.routes.contains_key(&exposed) {
                catalog
                    .dropped
                    .entry(server.spec.name.clone())
                    .or_default()
                    .push(format!("{}: the name {exposed} is taken", tool.name));
                continue;
            }
            catalog
                .routes
                .insert(exposed.clone(), (server.clone(), tool.name.to_string()));
            if live.contains(tool.name.as_ref()) {
                let mut offered = tool.clone();
                offered.name = exposed.into();
                catalog.tools.push(offered);
            }
        }
    }

    /// Tells Plugged.in the tools of an account server when they changed.
    fn report_discovered(&self, server: &Downstream, snapshot: &Snapshot) {
        let Some(uuid) = &server.spec.uuid else {
            return;
        };
        if snapshot.live.tools.is_empty() {
            return;
        }
        let listing = snapshot.listings;
        if lock(&self.inner.reported_tools).insert(uuid.clone(), listing) == Some(listing) {
            return;
        }
        if let Some(reporter) = lock(&self.inner.reporter).clone() {
            reporter.discovered(uuid.clone(), Arc::new(snapshot.live.tools.clone()));
        }
    }

    /// Adds a server's prompts, resources and templates to `catalog` (as it offers them
    /// now: live, or from a cache while it starts).
    fn add_lists(&self, catalog: &mut Catalog, server: &Arc<Downstream>, snapshot: &Snapshot) {
        let lists = snapshot.offered();
        for prompt in lists.prompts.iter() {
            let exposed = names::tool_name(
                &server.prefix,
                &prompt.name,
                self.inner.settings.name_budget,
            );
            if catalog.prompt_routes.contains_key(&exposed) {
                continue;
            }
            let mut offered = prompt.clone();
            offered.name = exposed.clone();
            catalog
                .prompt_routes
                .insert(exposed, (server.clone(), prompt.name.clone()));
            catalog.prompts.push(offered);
        }
        for resource in lists.resources.iter() {
            if catalog.resource_routes.contains_key(&resource.uri) {
                continue;
            }
            catalog
                .resource_routes
                .insert(resource.uri.clone(), server.clone());
            catalog.resources.push(resource.clone());
        }
        for template in lists.templates.iter() {
            let literal = template
                .uri_template
                .split('{')
                .next()
                .unwrap_or_default()
                .to_string();
            catalog.template_routes.push((literal, server.clone()));
            catalog.templates.push(template.clone());
        }
    }

    /// Whether a server's tool is offered: its allow and deny lists, and with
    /// `--read-only` only a tool that says it is read-only and does not also say it is
    /// destructive (contradictory hints fail closed).
    fn offers(&self, server: &Downstream, tool: &Tool) -> bool {
        let hints = tool.annotations.as_ref();
        let read_only_ok = !self.inner.settings.read_only
            || (hints.and_then(|a| a.read_only_hint) == Some(true)
                && hints.and_then(|a| a.destructive_hint) != Some(true));
        read_only_ok && server.spec.allows(&tool.name)
    }

    pub(super) fn catalog(&self) -> Arc<Catalog> {
        self.inner
            .catalog
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Every downstream tool offered, under its hub name, sorted.
    pub fn tools(&self) -> Vec<Tool> {
        self.catalog().tools.clone()
    }

    pub fn tool(&self, name: &str) -> Option<Tool> {
        self.catalog()
            .tools
            .iter()
            .find(|t| t.name == name)
            .cloned()
    }

    /// Whether `tools/list` should offer the search tools instead of every downstream tool.
    pub fn searching(&self) -> bool {
        match self.inner.settings.tool_search {
            super::ToolSearch::On => true,
            super::ToolSearch::Off => false,
            super::ToolSearch::Auto => {
                self.catalog().token_cost > self.inner.settings.tool_search_budget
            }
        }
    }

    /// What listing every downstream tool costs a model, in estimated tokens.
    pub fn catalog_tokens(&self) -> usize {
        self.catalog().token_cost
    }

    /// The downstream tools best matching `query`, best first: (tool, server name, score).
    pub fn search(&self, query: &str, limit: usize) -> Vec<(Tool, String, f64)> {
        let catalog = self.catalog();
        catalog
            .index
            .search(query, limit)
            .into_iter()
            .map(|(i, score)| {
                let tool = catalog.tools[i].clone();
                let server = catalog
                    .routes
                    .get(tool.name.as_ref())
                    .map(|(s, _)| s.spec.name.clone())
                    .unwrap_or_default();
                (tool, server, score)
            })
            .collect()
    }

    pub fn has_tool(&self, name: &str) -> bool {
        self.catalog().routes.contains_key(name)
    }

    /// Every downstream prompt, under its hub name, sorted.
    pub fn prompts(&self) -> Vec<Prompt> {
        self.catalog().prompts.clone()
    }

    /// Every downstream resource, with its own URI.
    pub fn resources(&self) -> Vec<Resource> {
        self.catalog().resources.clone()
    }

    pub fn resource_templates(&self) -> Vec<ResourceTemplate> {
        self.catalog().templates.clone()
    }

    /// Whether `uri` is a downstream resource (listed, or under a template).
    pub fn has_resource(&self, uri: &str) -> bool {
        self.catalog().resource_server(uri).is_some()
    }

    /// Changes of the catalog, for `notifications/*/list_changed`.
    pub fn watch_changes(&self) -> tokio::sync::watch::Receiver<Changes> {
        self.inner.changes.subscribe()
    }
}

/// A rough count of the tokens a tool costs a model when listed: its name, description and
/// schemas as JSON, at about four characters a token.
pub fn token_cost(tool: &Tool) -> usize {
    let schema = |s: &serde_json::Map<String, serde_json::Value>| {
        serde_json::to_string(s).map(|j| j.len()).unwrap_or(0)
    };
    let chars = tool.name.len()
        + tool.description.as_deref().map_or(0, str::len)
        + schema(&tool.input_schema)
        + tool.output_schema.as_deref().map_or(0, schema);
    chars.div_ceil(4)
}
