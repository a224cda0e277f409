//! Which tools, prompts and resources a server offers: `--toolsets` and `--read-only`.

use rmcp::model::Tool;

/// A group of tools (and the prompts, resources and completions that go with them).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Toolset {
    Agents,
    Docs,
    Rag,
    Clipboard,
    Notifications,
    /// Memory sessions, observations and recall.
    Memory,
    /// The user's own MCP servers (hub mode) and the tools about them.
    Hub,
}

impl Toolset {
    pub const ALL: [Toolset; 7] = [
        Toolset::Agents,
        Toolset::Docs,
        Toolset::Rag,
        Toolset::Clipboard,
        Toolset::Notifications,
        Toolset::Memory,
        Toolset::Hub,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Toolset::Agents => "agents",
            Toolset::Docs => "docs",
            Toolset::Rag => "rag",
            Toolset::Clipboard => "clipboard",
            Toolset::Notifications => "notifications",
            Toolset::Memory => "memory",
            Toolset::Hub => "hub",
        }
    }
}

/// The configured selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    toolsets: Vec<Toolset>,
    read_only: bool,
}

impl Default for Selection {
    fn default() -> Self {
        Self::all()
    }
}

impl Selection {
    pub fn all() -> Self {
        Self {
            toolsets: Toolset::ALL.to_vec(),
            read_only: false,
        }
    }

    /// `toolsets` empty means all of them.
    pub fn new(toolsets: &[Toolset], read_only: bool) -> Self {
        let toolsets = if toolsets.is_empty() {
            Toolset::ALL.to_vec()
        } else {
            toolsets.to_vec()
        };
        Self {
            toolsets,
            read_only,
        }
    }

    /// Only the toolsets `grant` opens (for reading or writing: which of a toolset's tools
    /// write is decided tool by tool, by [`super::Grant::refusal`]).
    pub fn narrowed(&self, grant: &super::Grant) -> Selection {
        Selection {
            toolsets: self
                .toolsets
                .iter()
                .copied()
                .filter(|set| grant.opens(*set))
                .collect(),
            read_only: self.read_only,
        }
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    pub fn has(&self, toolset: Toolset) -> bool {
        self.toolsets.contains(&toolset)
    }

    /// Whether something of `toolset` that writes (`writes`) is offered.
    pub fn offers(&self, toolset: Toolset, writes: bool) -> bool {
        self.has(toolset) && !(writes && self.read_only)
    }

    /// Why `tool` (of toolset `set`) is not offered, or `None` when it is. Whether a tool
    /// changes data is what its own read-only hint says.
    pub fn refusal(&self, tool: &Tool, set: Toolset) -> Option<String> {
        if !self.has(set) {
            let on: Vec<&str> = self.toolsets.iter().map(|t| t.name()).collect();
            return Some(format!(
                "tool `{}` is not available: this server offers only the {} toolsets (--toolsets); `{}` belongs to `{}`",
                tool.name,
                on.join(", "),
                tool.name,
                set.name()
            ));
        }
        let read_only = tool.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true);
        if self.read_only && !read_only {
            return Some(format!(
                "tool `{}` is not available: this server runs with --read-only, which offers only tools that change nothing",
                tool.name
            ));
        }
        None
    }
}
