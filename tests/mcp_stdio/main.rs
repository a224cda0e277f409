//! The real binary over stdio, driven by the rmcp client, against the embedded API: every
//! tool on its success path, the main failure paths, secrets, and the catalog.

#[path = "../common/mod.rs"]
mod common;

mod agents;
mod catalog;
mod data;
mod failures;
mod fidelity;
mod protocol;
mod surface;
