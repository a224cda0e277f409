//! The embedded Plugged.in-compatible API over real HTTP: every endpoint, its error cases,
//! concurrency, and persistence across restarts.

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
