//! `POST /export`: an agent's configuration and lifecycle history (optionally with
//! telemetry), secrets hidden by name and by value, and the export itself logged.

use axum::{
    extract::{Path, State},
    response::Response,
};
use serde_json::{Value, json};

use super::rows::{
    LOCAL_USER, Step, by, load, recent_events, recent_heartbeats, recent_metrics, transition,
};
use crate::local::{
    AppState,
    http::{Body, ErrorResponse, HttpResult, ok, uuid_param},
};

pub async fn export(
    State(app): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> HttpResult<Response> {
    let id = uuid_param(&id, "agent")?;
    let include_telemetry = body.get("include_telemetry") == Some(&Value::Bool(true));
    let limit = match body.get("telemetry_limit") {
        None => 100,
        Some(v) => match v.as_i64() {
            Some(n) if (1..=10_000).contains(&n) => n,
            _ => {
                return Err(ErrorResponse::bad_request(
                    "telemetry_limit must be an integer between 1 and 10000",
                ));
            }
        },
    };
    let now = app.store.clock.now_iso();
    let profile = app.store.profile_uuid.clone();
    let doc = app
        .store
        .write(move |tx| {
            let mut agent_json = load(tx, &id)?.full_json(&profile);
            if let Some(m) = agent_json.get_mut("metadata") {
                crate::redact::redact_json(m);
            }
            let mut events = recent_events(tx, &id, 1000)?;
            for e in &mut events {
                if let Some(m) = e.get_mut("metadata") {
                    crate::redact::redact_json(m);
                }
            }
            let mut doc = json!({
                "export_version": "pap-export/1.0",
                "exported_at": now,
                "agent": agent_json,
                "lifecycle_events": events,
                "kubernetes_config": null,
            });
            if include_telemetry {
                doc["telemetry"] = json!({
                    "heartbeats": recent_heartbeats(tx, &id, limit)?,
                    "metrics": recent_metrics(tx, &id, limit)?,
                });
            }
            // Logged after the snapshot, as Plugged.in does: an export does not show itself.
            transition(tx, &id, &now, |_| {
                Ok(Step::record(
                    "EXPORTED",
                    by(
                        LOCAL_USER,
                        json!({ "include_telemetry": include_telemetry }),
                    ),
                ))
            })?;
            Ok(doc)
        })
        .await?;
    Ok(ok(doc))
}
