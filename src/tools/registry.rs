//! The tool registry: every tool with the toolset its domain's router declares. Built once
//! at start and checked there (fail closed): a tool that does not say whether it changes data
//! stops the server from starting, and a tool belongs to exactly the toolset whose router
//! holds it — there is no second list to keep in step, and a toolset without a router does
//! not compile ([`super::Tools::registry`]). Generic over the handler that runs the tools:
//! our own tools run on [`super::Tools`], the hub's on the server above it.

use std::{collections::HashMap, sync::Arc};

use rmcp::{
    ErrorData, RoleServer,
    handler::server::tool::{ToolCallContext, ToolRouter},
    model::{CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Tool},
    service::RequestContext,
};

use super::{budget, reply, schema, selection::Selection, selection::Toolset, unpanicked};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "tool `{0}` does not say whether it changes data: give it annotations(read_only_hint = …)"
    )]
    NoReadOnlyHint(String),
    #[error("tool `{0}` is registered by both the {1} and the {2} toolset")]
    Duplicate(String, &'static str, &'static str),
}

/// Every tool, its toolset, and the router that runs it on `S`.
pub struct Registry<S> {
    router: ToolRouter<S>,
    toolsets: HashMap<String, Toolset>,
}

impl<S: Send + Sync + 'static> Registry<S> {
    /// Collects the toolsets' routers, tidies the schemas, and checks each tool.
    pub fn build(
        domains: impl IntoIterator<Item = (Toolset, ToolRouter<S>)>,
    ) -> Result<Self, RegistryError> {
        let mut router = ToolRouter::new();
        let mut toolsets = HashMap::new();
        for (set, mut domain) in domains {
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

    /// The tools `selection` offers.
    pub fn offered(self, selection: &Selection) -> Offered<S> {
        let mut router = self.router.clone();
        for tool in self.router.list_all() {
            if self.refusal(selection, &tool.name).is_some() {
                router.disable_route(tool.name.clone());
            }
        }
        Offered {
            registry: self,
            selection: selection.clone(),
            router,
        }
    }
}

/// A registry's tools as a selection offers them: what is listed and what runs.
pub struct Offered<S> {
    registry: Registry<S>,
    selection: Selection,
    router: ToolRouter<S>,
}

impl<S: Send + Sync + 'static> Offered<S> {
    /// The tools offered, sorted by name.
    pub fn list(&self) -> Vec<Tool> {
        self.router.list_all()
    }

    /// Whether `name` is offered.
    pub fn has(&self, name: &str) -> bool {
        self.router.has_route(name)
    }

    pub fn get(&self, name: &str) -> Option<&Tool> {
        self.router.get(name)
    }

    /// Whether `name` is a tool of this registry at all, offered or not.
    pub fn knows(&self, name: &str) -> bool {
        self.registry.toolset_of(name).is_some()
    }

    /// The toolset of the tool `name`, offered or not.
    pub fn toolset_of(&self, name: &str) -> Option<Toolset> {
        self.registry.toolset_of(name)
    }

    /// Runs the tool `request` names on `service`, its result held to the budget and
    /// scrubbed; a tool the selection does not offer is an error result saying why, a panic
    /// an error result too.
    pub async fn call(
        &self,
        service: &S,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
        scrubber: &crate::redact::Scrubber,
        budget: budget::Budget,
    ) -> Result<CallToolResponse, ErrorData> {
        if !self.has(&request.name)
            && let Some(reason) = self.registry.refusal(&self.selection, &request.name)
        {
            return Ok(CallToolResult::error(vec![ContentBlock::text(reason)]).into());
        }
        let name = request.name.to_string();
        let call = ToolCallContext::new(service, request, context);
        let response = unpanicked(&name, self.router.call(call))
            .await
            .unwrap_or_else(|message| {
                Ok(CallToolResult::error(vec![ContentBlock::text(message)]).into())
            })?;
        Ok(match response {
            CallToolResponse::Complete(mut result) => {
                without_decode_prefix(&mut result);
                reply::finish(&mut result, scrubber, budget);
                CallToolResponse::Complete(result)
            }
            other => other,
        })
    }
}

/// An argument error reads as what is wrong with the argument: rmcp needs its "failed to
/// deserialize parameters:" to make the error a result, the model does not.
fn without_decode_prefix(result: &mut CallToolResult) {
    if result.is_error != Some(true) {
        return;
    }
    for block in &mut result.content {
        if let ContentBlock::Text(text) = block
            && let Some(rest) = text.text.strip_prefix(super::params::DECODE_ERROR_PREFIX)
        {
            text.text = rest.trim_start().to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_a_toolset_and_a_read_only_hint() {
        let registry = super::super::Tools::registry().unwrap_or_else(|e| panic!("{e}"));
        let tools = registry.tools();
        assert_eq!(tools.len(), 30);
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
        assert_eq!(offered.len(), 13, "{offered:?}");
        assert!(offered.iter().all(|n| !n.starts_with("create_")));
    }
}
