//! The tool registry: every tool with the toolset its domain's router declares. Built once
//! at start and checked there (fail closed): a tool that does not say whether it changes data
//! stops the server from starting, and a tool belongs to exactly the toolset whose router
//! holds it — there is no second list to keep in step, and a toolset without a router does
//! not compile ([`PluggedinServer::router_of`]).

use std::{collections::HashMap, sync::Arc};

use rmcp::{handler::server::tool::ToolRouter, model::Tool};

use super::{PluggedinServer, schema, selection::Selection, selection::Toolset};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "tool `{0}` does not say whether it changes data: give it annotations(read_only_hint = …)"
    )]
    NoReadOnlyHint(String),
    #[error("tool `{0}` is registered by both the {1} and the {2} toolset")]
    Duplicate(String, &'static str, &'static str),
}

/// Every tool, its toolset, and the router that runs it.
pub struct Registry {
    router: ToolRouter<PluggedinServer>,
    toolsets: HashMap<String, Toolset>,
}

impl Registry {
    /// Collects every toolset's router, tidies the schemas, and checks each tool.
    pub fn build() -> Result<Self, RegistryError> {
        let mut router = ToolRouter::new();
        let mut toolsets = HashMap::new();
        for set in Toolset::ALL {
            let mut domain = PluggedinServer::router_of(set);
            for (name, route) in domain.map.iter_mut() {
                let declares = route
                    .attr
                    .annotations
                    .as_ref()
                    .and_then(|a| a.read_only_hint)
                    .is_some();
                if !declares {
                    return Err(RegistryError::NoReadOnlyHint(name.to_string()));
                }
                if let Some(other) = toolsets.insert(name.to_string(), set) {
                    return Err(RegistryError::Duplicate(
                        name.to_string(),
                        other.name(),
                        set.name(),
                    ));
                }
                route.attr.input_schema = Arc::new(schema::clean(&route.attr.input_schema));
                if let Some(out) = &route.attr.output_schema {
                    route.attr.output_schema = Some(Arc::new(schema::clean(out)));
                }
            }
            router += domain;
        }
        Ok(Self { router, toolsets })
    }

    /// Every tool, sorted by name.
    pub fn tools(&self) -> Vec<Tool> {
        self.router.list_all()
    }

    pub fn toolset_of(&self, name: &str) -> Option<Toolset> {
        self.toolsets.get(name).copied()
    }

    /// Why `selection` does not offer the tool `name`, or `None` when it does (or when there
    /// is no such tool: that is rmcp's answer to give).
    pub fn refusal(&self, selection: &Selection, name: &str) -> Option<String> {
        let tool = self.router.get(name)?;
        selection.refusal(tool, self.toolset_of(name)?)
    }

    /// The router with the tools `selection` does not offer switched off.
    pub fn offered(&self, selection: &Selection) -> ToolRouter<PluggedinServer> {
        let mut router = self.router.clone();
        for tool in self.router.list_all() {
            if self.refusal(selection, &tool.name).is_some() {
                router.disable_route(tool.name.clone());
            }
        }
        router
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_a_toolset_and_a_read_only_hint() {
        let registry = Registry::build().unwrap_or_else(|e| panic!("{e}"));
        let tools = registry.tools();
        assert_eq!(tools.len(), 34);
        for tool in &tools {
            assert!(registry.toolset_of(&tool.name).is_some(), "{}", tool.name);
        }
        // Read-only membership comes from the annotations alone.
        let read_only = Selection::new(&[], true);
        let offered: Vec<String> = tools
            .iter()
            .filter(|t| registry.refusal(&read_only, &t.name).is_none())
            .map(|t| t.name.to_string())
            .collect();
        assert_eq!(offered.len(), 16, "{offered:?}");
        assert!(offered.iter().all(|n| !n.starts_with("create_")));
    }
}
