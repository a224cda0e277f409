//! The document library: list with filters ([`list`]), get with content ([`read`]), AI
//! document creation ([`create`]), updates with version rows behind Plugged.in's CSRF gate
//! ([`update`]), ranked search ([`search`]), and version reads ([`versions`]).

mod create;
mod list;
mod read;
mod rows;
mod search;
mod update;
mod versions;

use axum::{
    Router,
    routing::{get, post},
};

use super::AppState;

/// `POST /api/documents/ai` refuses bodies above this (checked on `Content-Length`).
const MAX_CREATE_BODY: u64 = crate::vocab::limits::DOC_CREATE_BODY_MAX_BYTES as u64;
/// Content of a created document, in characters.
const MAX_CONTENT_CHARS: usize = 10_485_760;
/// Content of an update, in characters.
const MAX_UPDATE_CHARS: usize = crate::vocab::limits::DOC_UPDATE_MAX_UNITS;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/documents", get(list::list))
        .route("/api/documents/ai", post(create::create))
        .route("/api/documents/search", post(search::search))
        .route(
            "/api/documents/{id}",
            get(read::fetch).patch(update::update),
        )
        .route("/api/documents/{id}/versions", get(versions::versions))
        .route("/api/documents/{id}/versions/{n}", get(versions::version))
}
