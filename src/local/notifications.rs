//! Notifications: list, custom create, mark read, toggle completed, delete.
//! Rows are returned raw, in snake_case, as the cloud does.

use axum::{
    Router,
    extract::{Path, State},
    response::Response,
    routing::{delete, get, patch, post},
};
use rusqlite::{Connection, Row, params};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    AppState,
    http::{Body, ErrorResponse, HttpResult, QueryParams, ok},
    store::json_column,
};
use crate::vocab::notifications::Severity;

const CUSTOM_TTL_DAYS: i64 = 30;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/notifications", get(list))
        .route("/api/notifications/custom", post(custom))
        .route("/api/notifications/{id}/read", patch(mark_read))
        .route("/api/notifications/{id}/completed", patch(toggle_completed))
        .route("/api/notifications/{id}", delete(remove))
}

/// A notification to store.
pub struct NewNotification<'a> {
    pub kind: &'a str,
    pub title: &'a str,
    pub message: &'a str,
    pub severity: &'a str,
    pub link: Option<&'a str>,
    pub metadata: Value,
}

/// Inserts a notification (inside the caller's transaction); returns its id.
pub fn insert(conn: &Connection, n: NewNotification<'_>, now: &str) -> HttpResult<String> {
    let id = uuid::Uuid::new_v4().to_string();
    let expires = crate::clock::parse_iso(now)
        .map(|t| crate::clock::iso(t + chrono::Duration::days(CUSTOM_TTL_DAYS)));
    conn.execute(
        "INSERT INTO notifications (id, type, title, message, link, severity, metadata, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![id, n.kind, n.title, n.message, n.link, n.severity, n.metadata.to_string(), now, expires],
    )?;
    Ok(id)
}

fn row_json(r: &Row<'_>, profile: &str) -> rusqlite::Result<Value> {
    Ok(json!({
        "id": r.get::<_, String>("id")?,
        "profile_uuid": profile,
        "type": r.get::<_, String>("type")?,
        "title": r.get::<_, String>("title")?,
        "message": r.get::<_, String>("message")?,
        "read": r.get::<_, bool>("read")?,
        "link": r.get::<_, Option<String>>("link")?,
        "severity": r.get::<_, Option<String>>("severity")?,
        "completed": r.get::<_, bool>("completed")?,
        "metadata": json_column(r.get("metadata")?),
        "created_at": r.get::<_, String>("created_at")?,
        "expires_at": r.get::<_, Option<String>>("expires_at")?,
    }))
}

async fn list(State(app): State<AppState>, q: QueryParams) -> HttpResult<Response> {
    let only_unread = q.get("onlyUnread") == Some("true");
    let limit = q.int("limit", 100, 1, 100, "Invalid query parameters")?;
    let profile = app.store.profile_uuid.clone();
    let rows = app
        .store
        .read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, type, title, message, read, link, severity, completed, metadata, created_at, expires_at \
                 FROM notifications WHERE (?1 = 0 OR read = 0) ORDER BY created_at DESC, seq DESC LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![only_unread, limit], |r| row_json(r, &profile))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await?;
    Ok(ok(json!({ "success": true, "notifications": rows })))
}

async fn custom(State(app): State<AppState>, body: Body) -> HttpResult<Response> {
    const HEADLINE: &str = "Invalid request data";
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct CustomBody {
        title: Option<String>,
        message: Option<String>,
        severity: Option<String>,
        #[serde(default)]
        send_email: bool,
    }
    let b: CustomBody = body.decode(HEADLINE)?;
    let message = b.message.unwrap_or_default();
    if message.is_empty() {
        return Err(ErrorResponse::invalid(
            HEADLINE,
            "message",
            "must contain at least 1 character",
        ));
    }
    let severity = b
        .severity
        .unwrap_or_else(|| Severity::default().as_str().into());
    if Severity::parse(&severity).is_none() {
        return Err(ErrorResponse::invalid(
            HEADLINE,
            "severity",
            format!("must be one of: {}", Severity::names()),
        ));
    }
    let title = b.title.unwrap_or_else(|| "Custom notification".into());
    let priority = match severity.as_str() {
        "ALERT" => "high",
        "WARNING" => "medium",
        _ => "low",
    };
    let now = app.store.clock.now_iso();
    let id = app
        .store
        .write(move |tx| {
            insert(
                tx,
                NewNotification {
                    kind: "CUSTOM",
                    title: &title,
                    message: &message,
                    severity: &severity,
                    link: None,
                    metadata: json!({ "source": { "type": "api" }, "task": { "priority": priority } }),
                },
                &now,
            )
        })
        .await?;
    // `notificationId` is our addition (the cloud returns no id), so a caller can act on it.
    let mut answer = json!({
        "success": true,
        "message": "Notification created successfully",
        "notificationId": id,
    });
    if b.send_email {
        answer["message"] =
            json!("Notification created (email not sent: local mode has no mail server)");
        answer["emailSent"] = json!(false);
    }
    Ok(ok(answer))
}

fn notification_id(raw: &str) -> HttpResult<String> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| {
            ErrorResponse::bad_request(
                "Invalid notification ID format. Please use the UUID from the notification list.",
            )
        })
}

async fn mark_read(State(app): State<AppState>, Path(id): Path<String>) -> HttpResult<Response> {
    let id = notification_id(&id)?;
    let now = app.store.clock.now_iso();
    app.store
        .write(move |tx| {
            let n = tx.execute(
                "UPDATE notifications SET read = 1, \
                 metadata = json_set(metadata, '$.actions.markedReadAt', ?2) WHERE id = ?1",
                params![id, now],
            )?;
            if n == 0 {
                return Err(ErrorResponse::not_found(
                    "Notification not found or not accessible",
                ));
            }
            Ok(())
        })
        .await?;
    Ok(ok(
        json!({ "success": true, "message": "Notification marked as read" }),
    ))
}

async fn toggle_completed(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> HttpResult<Response> {
    let id = notification_id(&id)?;
    let now = app.store.clock.now_iso();
    app.store
        .write(move |tx| {
            let n = tx.execute(
                "UPDATE notifications SET completed = 1 - completed, \
                 metadata = json_set(metadata, '$.actions.completedAt', ?2, '$.actions.completedVia', 'api') \
                 WHERE id = ?1",
                params![id, now],
            )?;
            if n == 0 {
                return Err(ErrorResponse::not_found("Notification not found or not accessible"));
            }
            Ok(())
        })
        .await?;
    Ok(ok(
        json!({ "success": true, "message": "Notification completed status toggled" }),
    ))
}

async fn remove(State(app): State<AppState>, Path(id): Path<String>) -> HttpResult<Response> {
    let id = notification_id(&id)?;
    // Like the cloud, deleting an id that does not exist still succeeds.
    app.store
        .write(move |tx| Ok(tx.execute("DELETE FROM notifications WHERE id = ?1", [&id])?))
        .await?;
    Ok(ok(
        json!({ "success": true, "message": "Notification deleted successfully" }),
    ))
}
