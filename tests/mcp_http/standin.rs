//! A fault-injecting stand-in for Plugged.in: answers the clipboard routes, records the
//! Authorization header of every request, and hangs or slows down on request.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::HeaderMap,
    routing::get,
};
use serde_json::{Value, json};

#[derive(Clone, Default)]
pub struct Seen {
    /// `(entry name asked for, Authorization header)` per request.
    pub requests: Arc<Mutex<Vec<(String, String)>>>,
    /// The Authorization header of each key check (`GET /api/mcp-servers`).
    pub checks: Arc<Mutex<Vec<String>>>,
}

/// `GET /api/mcp-servers`, as a key check: the keys of alice, bob and any `pg_in_good…` are
/// accepted (no servers), every other one is 401.
async fn mcp_servers(State(seen): State<Seen>, headers: HeaderMap) -> axum::response::Response {
    use axum::response::IntoResponse;
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    seen.checks.lock().unwrap().push(auth.clone());
    let known = ["Bearer pg_in_alice", "Bearer pg_in_bob"].contains(&auth.as_str())
        || auth.starts_with("Bearer pg_in_good");
    if known {
        Json(json!([])).into_response()
    } else {
        (
            axum::http::StatusCode::UNAUTHORIZED,
            Json(json!({"error": "Invalid API key"})),
        )
            .into_response()
    }
}

/// `GET /api/clipboard?name=…`: `hang` never answers, `slow` answers after 1.5 s, anything
/// else answers at once with an entry whose value is the name.
async fn clipboard(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Query(q): Query<Value>,
) -> Json<Value> {
    let name = q
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    seen.requests.lock().unwrap().push((name.clone(), auth));
    match name.as_str() {
        "hang" => std::future::pending::<()>().await,
        "slow" => tokio::time::sleep(Duration::from_millis(1500)).await,
        _ => {}
    }
    Json(json!({ "entry": {
        "uuid": "00000000-0000-4000-8000-000000000001", "name": name, "idx": null, "value": name,
        "contentType": "text/plain", "encoding": "utf-8", "sizeBytes": name.len(),
    }}))
}

/// Starts the stand-in on a free loopback port; returns its base URL and what it saw.
pub async fn start() -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/api/clipboard", get(clipboard))
        .route("/api/mcp-servers", get(mcp_servers))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, seen)
}
