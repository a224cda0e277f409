//! The contract with Plugged.in, held by answers recorded from the real app
//! (`tests/fixtures/cloud/`, written by `cargo run --example record_fixtures`): the client
//! decodes every one of them, and the embedded API answers the same requests with the same
//! shapes, except for the deviations listed in `deviations.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed step should stop the test at once, with its message"
)]
#[path = "../common/mod.rs"]
mod common;

mod cli_auth;
mod decode;
mod deviations;
mod fixtures;
mod scenario;
mod shape;
