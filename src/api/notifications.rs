//! Notification calls. Rows are snake_case; the list is newest first, at most 100, with no
//! offset; a custom notification's answer carries no id (the embedded API adds one);
//! `PATCH …/completed` toggles rather than sets.

use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Client, Request};
use crate::clock::de_iso_opt;

#[derive(Debug, Clone, Deserialize)]
pub struct Notification {
    pub id: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub read: bool,
    #[serde(default)]
    pub completed: bool,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub link: Option<String>,
    #[serde(default, deserialize_with = "de_iso_opt")]
    pub created_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct NotificationList {
    notifications: Vec<Notification>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SendAck {
    pub message: String,
    /// Only the embedded API returns the new id; the cloud does not.
    pub notification_id: Option<String>,
    pub email_sent: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Ack {
    pub message: String,
}

impl Client {
    pub async fn notifications(
        &self,
        only_unread: bool,
        limit: u32,
    ) -> Result<Vec<Notification>, ApiError> {
        let mut req = Request::get(&["api", "notifications"]).query("limit", limit);
        if only_unread {
            req = req.query("onlyUnread", "true");
        }
        Ok(self.json::<NotificationList>(req).await?.notifications)
    }

    pub async fn send_notification(
        &self,
        title: Option<&str>,
        message: &str,
        severity: &str,
        send_email: bool,
    ) -> Result<SendAck, ApiError> {
        let mut body = json!({ "message": message, "severity": severity, "sendEmail": send_email });
        if let Some(t) = title {
            body["title"] = json!(t);
        }
        self.json(Request::post(&["api", "notifications", "custom"], body))
            .await
    }

    pub async fn mark_notification_read(&self, id: &str) -> Result<Ack, ApiError> {
        self.json(Request::patch(
            &["api", "notifications", id, "read"],
            json!({}),
        ))
        .await
    }

    /// Toggles `completed` (the API has no "set"); never retried.
    pub async fn toggle_notification_completed(&self, id: &str) -> Result<Ack, ApiError> {
        self.json(
            Request::patch(&["api", "notifications", id, "completed"], json!({})).not_retried(),
        )
        .await
    }

    pub async fn delete_notification(&self, id: &str) -> Result<Ack, ApiError> {
        self.json(Request::delete(&["api", "notifications", id]))
            .await
    }
}
