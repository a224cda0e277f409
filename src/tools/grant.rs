//! What a connection's OAuth sign-in granted: scopes, read and write apart per area, and
//! which tools they open. Fail closed: a tool of a toolset no scope names is refused.

use std::collections::BTreeSet;

use rmcp::model::Tool;

use super::Toolset;

/// One OAuth scope. `:write` does not imply `:read` (an implied hierarchy would make the
/// consent page say less than is granted); `hub` is the user's own MCP servers, whose
/// tools may do anything, so it is not split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    AgentsRead,
    AgentsWrite,
    LibraryRead,
    LibraryWrite,
    ClipboardRead,
    ClipboardWrite,
    MemoryRead,
    MemoryWrite,
    TasksRead,
    TasksWrite,
    Hub,
    /// A refresh token is issued.
    OfflineAccess,
}

impl Scope {
    pub const ALL: [Scope; 12] = [
        Scope::AgentsRead,
        Scope::AgentsWrite,
        Scope::LibraryRead,
        Scope::LibraryWrite,
        Scope::ClipboardRead,
        Scope::ClipboardWrite,
        Scope::MemoryRead,
        Scope::MemoryWrite,
        Scope::TasksRead,
        Scope::TasksWrite,
        Scope::Hub,
        Scope::OfflineAccess,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scope::AgentsRead => "agents:read",
            Scope::AgentsWrite => "agents:write",
            Scope::LibraryRead => "library:read",
            Scope::LibraryWrite => "library:write",
            Scope::ClipboardRead => "clipboard:read",
            Scope::ClipboardWrite => "clipboard:write",
            Scope::MemoryRead => "memory:read",
            Scope::MemoryWrite => "memory:write",
            Scope::TasksRead => "tasks:read",
            Scope::TasksWrite => "tasks:write",
            Scope::Hub => "hub",
            Scope::OfflineAccess => "offline_access",
        }
    }

    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.name() == name)
    }

    /// What the consent page says it allows.
    pub fn describe(self) -> &'static str {
        match self {
            Scope::AgentsRead => "see your PAP agents and their status",
            Scope::AgentsWrite => "create, change and delete PAP agents",
            Scope::LibraryRead => "search and read your document library, ask your knowledge base",
            Scope::LibraryWrite => "add, change and delete documents",
            Scope::ClipboardRead => "read your clipboard",
            Scope::ClipboardWrite => "write to and delete from your clipboard",
            Scope::MemoryRead => "search and read your memory",
            Scope::MemoryWrite => "record memory sessions and observations",
            Scope::TasksRead => "read your notifications",
            Scope::TasksWrite => "send, mark and delete notifications",
            Scope::Hub => {
                "use your own MCP servers through this one (their tools may do anything they can)"
            }
            Scope::OfflineAccess => "stay signed in (a refresh token)",
        }
    }

    /// The scope a tool of `set` needs: the area's `:write` when it changes data.
    pub fn needed(set: Toolset, writes: bool) -> Scope {
        let (read, write) = match set {
            Toolset::Agents => (Scope::AgentsRead, Scope::AgentsWrite),
            // Asking the knowledge base reads the library.
            Toolset::Docs | Toolset::Rag => (Scope::LibraryRead, Scope::LibraryWrite),
            Toolset::Clipboard => (Scope::ClipboardRead, Scope::ClipboardWrite),
            Toolset::Memory => (Scope::MemoryRead, Scope::MemoryWrite),
            Toolset::Notifications => (Scope::TasksRead, Scope::TasksWrite),
            Toolset::Hub => (Scope::Hub, Scope::Hub),
        };
        if writes { write } else { read }
    }
}

/// The scopes a connection was granted (a request extension in `--auth oauth`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grant {
    scopes: BTreeSet<Scope>,
}

impl Grant {
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Self {
        Grant {
            scopes: scopes.into_iter().collect(),
        }
    }

    /// Parses a space-separated `scope` parameter; unknown names are dropped (RFC 6749
    /// lets a server grant less than asked), so the grant says what was really granted.
    pub fn parse(text: &str) -> Self {
        Grant::new(text.split_whitespace().filter_map(Scope::parse))
    }

    /// The grant of the HTTP request that carried this MCP request (`--auth oauth`), if any.
    pub fn from_extensions(extensions: &rmcp::model::Extensions) -> Option<Grant> {
        let parts = extensions.get::<axum::http::request::Parts>()?;
        parts.extensions.get::<Grant>().cloned()
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    pub fn scopes(&self) -> impl Iterator<Item = Scope> + '_ {
        self.scopes.iter().copied()
    }

    /// The space-separated form (`scope` in token answers).
    pub fn to_text(&self) -> String {
        self.scopes
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether anything of `set` may be used (read or written).
    pub fn opens(&self, set: Toolset) -> bool {
        self.has(Scope::needed(set, false)) || self.has(Scope::needed(set, true))
    }

    /// Why `tool` (of `set`) is not open to this grant, or `None` when it is. Whether it
    /// changes data is what its own read-only hint says (no hint: it writes).
    pub fn refusal(&self, tool: &Tool, set: Toolset) -> Option<String> {
        let reads = tool.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true);
        let needed = Scope::needed(set, !reads);
        (!self.has(needed)).then(|| {
            format!(
                "tool `{}` needs the scope {}, which this connection's sign-in did not grant: remove the connector and add it again, granting {}",
                tool.name,
                needed.name(),
                needed.name()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, read_only: bool) -> Tool {
        let mut tool = Tool::new(name.to_string(), "", rmcp::model::JsonObject::default());
        tool.annotations = Some(rmcp::model::ToolAnnotations::new().read_only(read_only));
        tool
    }

    #[test]
    fn write_does_not_imply_read_and_unknown_scopes_are_dropped() {
        let grant = Grant::parse("clipboard:write library:read made:up");
        assert_eq!(grant.to_text(), "library:read clipboard:write");
        assert!(
            grant
                .refusal(&tool("clipboard_set", false), Toolset::Clipboard)
                .is_none()
        );
        let refused = grant.refusal(&tool("clipboard_get", true), Toolset::Clipboard);
        assert!(refused.unwrap().contains("clipboard:read"));
        assert!(
            grant
                .refusal(&tool("rag_ask", true), Toolset::Rag)
                .is_none()
        );
        assert!(
            grant
                .refusal(&tool("create_doc", false), Toolset::Docs)
                .is_some()
        );
        assert!(!grant.opens(Toolset::Hub));
        assert!(grant.opens(Toolset::Clipboard));
    }

    #[test]
    fn every_scope_round_trips_by_name() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.name()), Some(scope));
        }
    }
}
