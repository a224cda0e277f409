//! PAP agents: CRUD and quota ([`crud`]), heartbeats and metrics ([`telemetry`]), the
//! lifecycle state machine and actions ([`lifecycle`]), export, and the zombie sweep. No
//! container is ever started locally: "deploying" records the agent and moves it to
//! PROVISIONED at once. Every state change goes through [`rows::transition`].

mod crud;
mod export;
mod lifecycle;
mod rows;
mod telemetry;
mod validate;
mod zombies;

use axum::{
    Router,
    routing::{get, post},
};

pub use telemetry::keep_alive as keep_agents_alive;
pub use zombies::{SweepReport, sweep as sweep_zombies};

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/agents", get(crud::list).post(crud::create))
        .route("/api/agents/quota", get(crud::quota))
        .route("/api/agents/zombie-check", post(zombies::zombie_check))
        .route(
            "/api/agents/{id}",
            get(crud::details)
                .patch(crud::update)
                .delete(crud::terminate),
        )
        .route("/api/agents/{id}/heartbeat", post(telemetry::heartbeat))
        .route("/api/agents/{id}/metrics", post(telemetry::metrics))
        .route("/api/agents/{id}/events", get(telemetry::k8s_events))
        .route("/api/agents/{id}/logs", get(telemetry::logs))
        .route("/api/agents/{id}/state", post(lifecycle::change_state))
        .route("/api/agents/{id}/shutdown", post(lifecycle::shutdown))
        .route("/api/agents/{id}/suspend", post(lifecycle::suspend))
        .route("/api/agents/{id}/resume", post(lifecycle::resume))
        .route("/api/agents/{id}/restart", post(lifecycle::restart))
        .route("/api/agents/{id}/export", post(export::export))
}
