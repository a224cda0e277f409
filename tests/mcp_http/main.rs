//! The real binary over HTTP: Streamable HTTP (stateful, stateless, 2026-07-28) and legacy
//! SSE with real clients, concurrency and isolation, security, and lifecycle.

#[path = "../common/mod.rs"]
mod common;

mod clients;
mod concurrency;
mod connections;
mod legacy_sse;
mod lifecycle;
mod security;
mod standin;
