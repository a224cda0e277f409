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
}

impl Toolset {
    pub const ALL: [Toolset; 5] = [
        Toolset::Agents,
        Toolset::Docs,
        Toolset::Rag,
        Toolset::Clipboard,
        Toolset::Notifications,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Toolset::Agents => "agents",
            Toolset::Docs => "docs",
            Toolset::Rag => "rag",
            Toolset::Clipboard => "clipboard",
            Toolset::Notifications => "notifications",
        }
    }

    /// The toolset a tool belongs to. Every tool must be listed here (a test checks).
    pub fn of_tool(name: &str) -> Option<Toolset> {
        Some(match name {
            "create_agent" | "list_agents" | "agent_status" | "delete_agent" | "control_agent"
            | "agent_heartbeat" | "agent_metrics" | "export_agent" | "agent_logs" => {
                Toolset::Agents
            }
            "list_docs" | "search_docs" | "get_doc" | "create_doc" | "update_doc" => Toolset::Docs,
            "rag_ask" => Toolset::Rag,
            "clipboard_set" | "clipboard_get" | "clipboard_list" | "clipboard_push"
            | "clipboard_pop" | "clipboard_delete" => Toolset::Clipboard,
            "send_notification"
            | "list_notifications"
            | "complete_notification"
            | "delete_notification" => Toolset::Notifications,
            _ => return None,
        })
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

    /// Why `tool` is not offered, or `None` when it is.
    pub fn refusal(&self, tool: &Tool) -> Option<String> {
        let set = Toolset::of_tool(&tool.name)?;
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

    pub fn describe(&self) -> String {
        let sets: Vec<&str> = self.toolsets.iter().map(|t| t.name()).collect();
        format!(
            "{}{}",
            sets.join(","),
            if self.read_only { " (read-only)" } else { "" }
        )
    }
}
