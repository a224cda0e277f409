//! The browser sign-in for command-line tools, as Plugged.in serves it (`app/api/cli/auth/*`,
//! RFC 8628's device flow): `POST /api/cli/auth/initiate` makes a device code and a short
//! user code; the user opens `/cli/authorize?code=…` and approves; the tool polls
//! `GET /api/cli/auth/poll` until it gets the key. Here the approval page is a plain form on
//! loopback (there is one local user, so no account sign-in), and an approval hands over
//! the embedded API's own key. Codes live in memory: a restart forgets them, as it should.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Form, Router,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::{
    AppState,
    http::{Body, ErrorResponse, HttpResult, QueryParams, ok},
};
use crate::secret::Secret;

/// How long a code may be approved and collected (the cloud's).
const CODE_TTL: Duration = Duration::from_secs(300);
/// Codes kept at once; an initiate past it is refused like a rate limit.
const MAX_CODES: usize = 64;
/// The cloud's limits: 5 initiates per 15 minutes, 100 polls per 5 minutes.
const INITIATES: (usize, Duration) = (5, Duration::from_secs(15 * 60));
const POLLS: (usize, Duration) = (100, Duration::from_secs(5 * 60));
/// The unambiguous alphabet of user codes (no 0/O, 1/I/L), as the cloud's.
const USER_CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Status {
    Pending,
    Approved,
    Consumed,
    Denied,
}

struct Code {
    user_code: String,
    status: Status,
    expires: DateTime<Utc>,
}

/// The sign-in state of one embedded API.
pub struct CliAuth {
    /// The key an approval hands over.
    key: Secret,
    /// The polling interval told to clients, in seconds.
    interval: u64,
    codes: Mutex<HashMap<String, Code>>,
    initiated: Mutex<Vec<DateTime<Utc>>>,
    polled: Mutex<Vec<DateTime<Utc>>>,
}

impl CliAuth {
    pub fn new(key: Secret, interval: Duration) -> Arc<Self> {
        Arc::new(Self {
            key,
            interval: interval.as_secs().max(1),
            codes: Mutex::default(),
            initiated: Mutex::default(),
            polled: Mutex::default(),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether one more event fits `limit` within its window, counting it when it does.
fn admit(events: &Mutex<Vec<DateTime<Utc>>>, now: DateTime<Utc>, limit: (usize, Duration)) -> bool {
    let mut events = lock(events);
    let window = chrono::Duration::from_std(limit.1).unwrap_or_default();
    events.retain(|at| now - *at < window);
    if events.len() >= limit.0 {
        return false;
    }
    events.push(now);
    true
}

fn too_many() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, "5")],
        axum::Json(json!({ "error": "Too many requests", "code": "RATE_LIMIT_EXCEEDED" })),
    )
        .into_response()
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/cli/auth/initiate", post(initiate))
        .route("/api/cli/auth/poll", get(poll))
        .route("/api/cli/auth/approve", post(approve_json))
        .route("/api/cli/auth/deny", post(deny_json))
        .route("/cli/authorize", get(page).post(decide))
}

fn random(alphabet: &[u8], n: usize) -> String {
    use rand::RngExt;
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

async fn initiate(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let auth = &app.cli_auth;
    let now = app.store.clock.now();
    lock(&auth.codes).retain(|_, c| c.expires > now);
    if lock(&auth.codes).len() >= MAX_CODES || !admit(&auth.initiated, now, INITIATES) {
        return too_many();
    }
    let device_code = random(
        b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        48,
    );
    let raw = random(USER_CODE_ALPHABET, 8);
    let user_code = format!("{}-{}", &raw[..4], &raw[4..]);
    lock(&auth.codes).insert(
        device_code.clone(),
        Code {
            user_code: user_code.clone(),
            status: Status::Pending,
            expires: now + chrono::Duration::from_std(CODE_TTL).unwrap_or_default(),
        },
    );
    // The page is on the address the client reached us at (loopback, or a tunnel's).
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".:-[]".contains(c))
        })
        .unwrap_or("127.0.0.1");
    ok(json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_url": format!("http://{host}/cli/authorize?code={user_code}"),
        "expires_in": CODE_TTL.as_secs(),
        "interval": auth.interval,
    }))
}

async fn poll(State(app): State<AppState>, q: QueryParams) -> HttpResult<Response> {
    let auth = &app.cli_auth;
    let now = app.store.clock.now();
    if !admit(&auth.polled, now, POLLS) {
        return Ok(too_many());
    }
    let device_code = q.get("device_code").unwrap_or_default();
    // The cloud's error shape on these routes: `code` and `timestamp` beside `error`.
    let refused = |error: ErrorResponse, code: &str| {
        error
            .with("code", code)
            .with("timestamp", app.store.clock.now_iso())
    };
    if device_code.len() != 48 || !device_code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(refused(
            ErrorResponse::bad_request("Invalid device_code"),
            "BAD_REQUEST",
        ));
    }
    let mut codes = lock(&auth.codes);
    let Some(code) = codes.get_mut(device_code) else {
        return Err(refused(ErrorResponse::not_found("Not found"), "NOT_FOUND"));
    };
    let gone = (StatusCode::GONE, axum::Json(json!({ "status": "expired" })));
    if now > code.expires && matches!(code.status, Status::Pending | Status::Approved) {
        return Ok(gone.into_response());
    }
    Ok(match code.status {
        Status::Pending => ok(json!({ "status": "authorization_pending" })),
        Status::Approved => {
            // Handed over once: a second poll learns only that it was approved.
            code.status = Status::Consumed;
            ok(json!({ "status": "approved", "api_key": auth.key.expose() }))
        }
        Status::Consumed => ok(json!({ "status": "approved" })),
        Status::Denied => (
            StatusCode::FORBIDDEN,
            axum::Json(json!({ "status": "denied" })),
        )
            .into_response(),
    })
}

/// Approves or denies the pending code `user_code`; the cloud's errors otherwise.
fn decide_code(app: &AppState, user_code: &str, approve: bool) -> HttpResult<()> {
    let valid = user_code.len() == 9
        && user_code.char_indices().all(|(i, c)| {
            if i == 4 {
                c == '-'
            } else {
                USER_CODE_ALPHABET.contains(&(c as u8))
            }
        });
    if !valid {
        return Err(ErrorResponse::bad_request("Invalid user code"));
    }
    let now = app.store.clock.now();
    let mut codes = lock(&app.cli_auth.codes);
    let Some(code) = codes.values_mut().find(|c| c.user_code == user_code) else {
        return Err(ErrorResponse::not_found("Authorization code not found"));
    };
    if code.status != Status::Pending || now > code.expires {
        return Err(ErrorResponse::conflict(
            "Authorization code already used or expired",
        ));
    }
    code.status = if approve {
        Status::Approved
    } else {
        Status::Denied
    };
    Ok(())
}

async fn approve_json(State(app): State<AppState>, body: Body) -> HttpResult<Response> {
    let user_code = body.get("user_code").and_then(|v| v.as_str()).unwrap_or("");
    decide_code(&app, user_code, true)?;
    Ok(ok(json!({ "status": "approved" })))
}

async fn deny_json(State(app): State<AppState>, body: Body) -> HttpResult<Response> {
    let user_code = body.get("user_code").and_then(|v| v.as_str()).unwrap_or("");
    decide_code(&app, user_code, false)?;
    Ok(ok(json!({ "status": "denied" })))
}

/// The approval page: the code to compare with the terminal's, and one form.
async fn page(q: QueryParams) -> Html<String> {
    let code = q.get("code").unwrap_or_default();
    // Only the code's own alphabet reaches the page, so nothing in it needs escaping.
    let code: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(9)
        .collect();
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in pluggedin-mcp</title></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 4rem auto">
<h1>Sign in a command-line tool</h1>
<p>A tool on this machine asks for access to this local Plugged.in API. Approve only if
your terminal shows this code:</p>
<p style="font-size: 2rem; letter-spacing: .2rem"><code>{code}</code></p>
<form method="post" action="/cli/authorize">
<input type="hidden" name="user_code" value="{code}">
<button name="decision" value="approve">Approve</button>
<button name="decision" value="deny">Deny</button>
</form>
</body></html>"#
    ))
}

#[derive(Deserialize)]
struct Decision {
    user_code: String,
    decision: String,
}

/// The form's one POST. A form from another site is refused: its `Origin` must be ours.
async fn decide(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<Decision>,
) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    if origin.is_some_and(|o| o != "null" && !app.settings.own_origins.iter().any(|own| own == o)) {
        return (
            StatusCode::FORBIDDEN,
            Html("This form only works from its own page.".to_string()),
        )
            .into_response();
    }
    let approve = form.decision == "approve";
    match decide_code(&app, &form.user_code, approve) {
        Ok(()) if approve => Html(
            "<!doctype html><p>Approved. Return to your terminal: the tool is signed in.</p>"
                .to_string(),
        )
        .into_response(),
        Ok(()) => Html("<!doctype html><p>Denied. The tool was not signed in.</p>".to_string())
            .into_response(),
        Err(error) => (
            StatusCode::BAD_REQUEST,
            Html(format!(
                "<!doctype html><p>Not done: {}</p>",
                error.message()
            )),
        )
            .into_response(),
    }
}
