//! What a downstream server lists: its tools, prompts, resources and resource templates,
//! as one value — held by its snapshot, merged into the hub's catalog, and kept on disk by
//! [`super::catalog_cache`] so a fresh process can offer them before the server is up.

use rmcp::model::{Prompt, Resource, ResourceTemplate, Tool};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lists {
    #[serde(default)]
    pub tools: Vec<Tool>,
    #[serde(default)]
    pub prompts: Vec<Prompt>,
    #[serde(default)]
    pub resources: Vec<Resource>,
    #[serde(default)]
    pub templates: Vec<ResourceTemplate>,
}

impl Lists {
    /// Only tools (what Plugged.in's cached catalog knows of a server).
    pub fn of_tools(tools: Vec<Tool>) -> Self {
        Self {
            tools,
            ..Self::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
            && self.prompts.is_empty()
            && self.resources.is_empty()
            && self.templates.is_empty()
    }
}
