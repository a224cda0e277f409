//! Document library vocabulary: where a document came from, who sees it, its format and
//! category, how a list is sorted, and how an update applies.

use super::wire::wire_enum;

wire_enum! {
    /// Where a document came from, as a list filter (`all` for any).
    pub enum SourceFilter {
        All = "all",
        Upload = "upload",
        AiGenerated = "ai_generated",
        Api = "api",
    }
}

wire_enum! {
    /// Stored, not enforced: every document of a profile is visible to it.
    pub enum Visibility {
        Private = "private",
        Workspace = "workspace",
        Public = "public",
    }
}

wire_enum! {
    /// The format of an AI-created document, which decides its MIME type.
    pub enum Format {
        Md = "md",
        Txt = "txt",
        Json = "json",
        Html = "html",
    }
}

impl Format {
    pub fn mime_type(self) -> &'static str {
        match self {
            Format::Md => "text/markdown",
            Format::Txt => "text/plain",
            Format::Json => "application/json",
            Format::Html => "text/html",
        }
    }
}

wire_enum! {
    pub enum Category {
        Report = "report",
        Analysis = "analysis",
        Documentation = "documentation",
        Guide = "guide",
        Research = "research",
        Code = "code",
        Other = "other",
    }
}

wire_enum! {
    /// Order of a document list (`size` is largest first).
    pub enum Sort {
        DateDesc = "date_desc",
        DateAsc = "date_asc",
        Title = "title",
        Size = "size",
    }
}

wire_enum! {
    // How an update applies its text: append and prepend join with a blank line. (Not a doc
    // comment: it would become the description of every argument of this type.)
    pub enum Operation {
        Replace = "replace",
        Append = "append",
        Prepend = "prepend",
    }
}
