//! The embedded Plugged.in-compatible API over real HTTP: every endpoint, its error cases,
//! concurrency, and persistence across restarts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test at once, with its message"
)]
#[path = "../common/mod.rs"]
mod common;

mod agents;
mod auth;
mod clipboard;
mod documents;
mod inputs;
mod notifications;
mod persistence;
mod rag;
