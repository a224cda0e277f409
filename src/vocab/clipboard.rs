//! Clipboard vocabulary: how a value is encoded, and who wrote it.

use super::wire::wire_enum;

wire_enum! {
    /// How a value is encoded; its size is that of the encoded text.
    #[derive(Default)]
    pub enum Encoding {
        #[default]
        Utf8 = "utf-8",
        Base64 = "base64",
        Hex = "hex",
    }
}

wire_enum! {
    /// Who wrote an entry: Plugged.in's UI (the default), an SDK, or an MCP server (us).
    pub enum EntrySource {
        Ui = "ui",
        Sdk = "sdk",
        Mcp = "mcp",
    }
}
