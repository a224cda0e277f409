//! pluggedin-mcp: an MCP server that bridges Plugged.in (PAP agents, the document library,
//! RAG, clipboard memory, notifications) to LLM clients, with an embedded Plugged.in-compatible
//! API for offline use and tests.

pub mod api;
pub mod catalog;
pub mod children;
pub mod clock;
pub mod config;
pub mod frames;
pub mod hub;
pub mod listener;
pub mod local;
pub mod login;
pub mod metrics;
pub mod oauth;
pub mod redact;
pub mod request_id;
pub mod secret;
pub mod serve;
pub mod server;
pub mod setup;
pub mod shutdown;
pub mod text;
pub mod tools;
pub mod transport;
pub mod vocab;
