//! Notification tools.

use rmcp::{RoleServer, service::RequestContext, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    Tools, cancellable,
    params::Parameters,
    reply::{Json, ToolError},
};

use crate::vocab::notifications::Severity;

const NOT_FOUND_NEXT: &str = "list_notifications shows the ids.";
/// How many of the newest notifications one list call returns (the API's maximum).
const LOOKUP_WINDOW: u32 = 100;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SendParams {
    #[schemars(length(min = 1))]
    pub message: String,
    pub title: Option<String>,
    /// Default INFO.
    pub severity: Option<Severity>,
    /// Also email the user. Default false.
    #[serde(default)]
    pub send_email: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListParams {
    #[serde(default)]
    pub only_unread: bool,
    /// Default 20.
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct IdParams {
    /// Notification id.
    #[schemars(extend("format" = "uuid"))]
    pub id: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Sent {
    /// Present when the backend returns it (the local backend does; Plugged.in does not).
    pub id: Option<String>,
    pub message: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct NotificationRow {
    pub id: String,
    pub title: String,
    pub message: String,
    pub severity: Option<String>,
    pub kind: String,
    pub read: bool,
    pub completed: bool,
    pub link: Option<String>,
    pub created_at: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct NotificationList {
    pub notifications: Vec<NotificationRow>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Changed {
    pub id: String,
    pub message: String,
}

fn notification_id(id: &str) -> Result<String, ToolError> {
    super::params::uuid_arg(
        "id",
        id,
        &format!("must be a notification uuid; {NOT_FOUND_NEXT}"),
    )
}

#[tool_router(router = notification_tools, vis = "pub(crate)")]
impl Tools {
    /// Send the user a notification in Plugged.in (optionally by email too).
    #[tool(
        title = "Send notification",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn send_notification(
        &self,
        Parameters(p): Parameters<SendParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Sent>, ToolError> {
        if p.message.trim().is_empty() {
            return Err(ToolError::invalid("message", "must not be empty"));
        }
        let severity = p.severity.unwrap_or_default().as_str();
        let ack = cancellable(
            &ctx.ct,
            self.client(&ctx)?.send_notification(
                p.title.as_deref(),
                &p.message,
                severity,
                p.send_email,
            ),
        )
        .await?;
        Ok(Json::new(Sent {
            id: ack.notification_id,
            message: ack.message,
        }))
    }

    /// List the user's notifications, newest first.
    #[tool(
        title = "List notifications",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_notifications(
        &self,
        Parameters(p): Parameters<ListParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<NotificationList>, ToolError> {
        let limit = p.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(ToolError::invalid("limit", "must be between 1 and 100"));
        }
        let rows = cancellable(
            &ctx.ct,
            self.client(&ctx)?.notifications(p.only_unread, limit),
        )
        .await?;
        Ok(Json::new(NotificationList {
            notifications: rows
                .into_iter()
                .map(|n| NotificationRow {
                    id: n.id,
                    title: crate::text::truncate(&n.title, 300),
                    message: crate::text::truncate(&n.message, 1000),
                    severity: n.severity,
                    kind: n.kind,
                    read: n.read,
                    completed: n.completed,
                    link: n.link,
                    created_at: n.created_at,
                })
                .collect(),
        }))
    }

    /// Mark a notification done (and read). Safe to repeat: an already completed one is left as is. Works on the 100 most recent notifications.
    #[tool(
        title = "Complete notification",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn complete_notification(
        &self,
        Parameters(p): Parameters<IdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Changed>, ToolError> {
        let id = notification_id(&p.id)?;
        let client = self.client(&ctx)?;
        // The API only toggles and has no way to read one notification: look it up among the
        // most recent first, and refuse rather than guess when it is not there, because a
        // toggle of an already completed one would reopen it.
        let recent = cancellable(&ctx.ct, client.notifications(false, LOOKUP_WINDOW)).await?;
        let Some(current) = recent.iter().find(|n| n.id == id) else {
            return Err(ToolError::Refused(format!(
                "notification {id} is not among the {LOOKUP_WINDOW} most recent notifications (or does not exist). Plugged.in's API can only toggle completion and cannot show an older notification's state, so it was left unchanged rather than risk reopening it; complete it in the Plugged.in app. {NOT_FOUND_NEXT}"
            )));
        };
        if current.completed {
            return Ok(Json::new(Changed {
                id,
                message: "already completed".into(),
            }));
        }
        let unread = !current.read;
        let ack = cancellable(&ctx.ct, client.toggle_notification_completed(&id))
            .await
            .map_err(|e| ToolError::api(e, NOT_FOUND_NEXT))?;
        if unread {
            // Best effort: a done notification is also read; the completion already succeeded.
            let _ = cancellable(&ctx.ct, client.mark_notification_read(&id)).await;
        }
        Ok(Json::new(Changed {
            id,
            message: ack.message,
        }))
    }

    /// Delete a notification.
    #[tool(
        title = "Delete notification",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn delete_notification(
        &self,
        Parameters(p): Parameters<IdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Changed>, ToolError> {
        let id = notification_id(&p.id)?;
        let ack = cancellable(&ctx.ct, self.client(&ctx)?.delete_notification(&id))
            .await
            .map_err(|e| ToolError::api(e, NOT_FOUND_NEXT))?;
        Ok(Json::new(Changed {
            id,
            message: ack.message,
        }))
    }
}
