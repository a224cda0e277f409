//! The real binary over HTTP: Streamable HTTP (stateful, stateless, 2026-07-28) and legacy
//! SSE with real clients, concurrency and isolation, security, and lifecycle.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test at once, with its message"
)]
#[path = "../common/mod.rs"]
mod common;

mod clients;
mod concurrency;
mod connections;
mod fleet;
mod legacy_sse;
mod lifecycle;
mod oauth;
mod security;
mod standin;
