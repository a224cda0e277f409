//! The real binary over stdio, driven by the rmcp client, against the embedded API: every
//! tool on its success path, the main failure paths, secrets, and the catalog.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test at once, with its message"
)]
#[path = "../common/mod.rs"]
mod common;

mod agents;
mod bounds;
mod catalog;
mod data;
mod failures;
mod fidelity;
mod login;
mod memory;
mod protocol;
mod startup;
mod surface;
