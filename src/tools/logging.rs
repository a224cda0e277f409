//! Log messages to the MCP client (`notifications/message`): upstream retries, slow calls
//! and degraded answers, at the level the client chose. Nothing secret goes in them: the
//! texts come from [`crate::api::UpstreamEvent`] and fixed strings.
//!
//! A legacy session picks its level with `logging/setLevel` (until then: warning and up). A
//! 2026-07-28 request carries its level in `_meta`; without one, nothing is sent, as that
//! revision requires.
#![allow(
    deprecated,
    reason = "MCP logging is deprecated in 2026-07-28 (SEP-2577) but remains the way to reach 2025-11-25 clients"
)]

use std::sync::{Arc, Mutex};

use rmcp::{
    RoleServer,
    model::{LoggingLevel, LoggingMessageNotificationParam},
    service::RequestContext,
};
use serde_json::json;

use crate::api::{Observer, UpstreamEvent};

/// The level of a legacy session.
#[derive(Debug)]
pub struct SessionLog {
    level: Mutex<LoggingLevel>,
}

impl Default for SessionLog {
    fn default() -> Self {
        Self {
            level: Mutex::new(LoggingLevel::Warning),
        }
    }
}

impl SessionLog {
    pub fn set(&self, level: LoggingLevel) {
        *self.level.lock().unwrap_or_else(|p| p.into_inner()) = level;
    }

    pub fn get(&self) -> LoggingLevel {
        *self.level.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn rank(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

/// The lowest level this request wants to hear, or `None` for no messages.
pub fn threshold(ctx: &RequestContext<RoleServer>, session: &SessionLog) -> Option<LoggingLevel> {
    if super::is_modern(ctx) {
        ctx.meta.log_level()
    } else {
        Some(session.get())
    }
}

/// Sends `message` to the client if its level passes (fire-and-forget: a log line must
/// never slow or fail the call it describes).
pub fn send(
    ctx: &RequestContext<RoleServer>,
    session: &SessionLog,
    level: LoggingLevel,
    message: String,
) {
    let Some(min) = threshold(ctx, session) else {
        return;
    };
    if rank(level) < rank(min) {
        return;
    }
    let peer = ctx.peer.clone();
    tokio::spawn(async move {
        let param = LoggingMessageNotificationParam::new(level, json!(message))
            .with_logger("pluggedin-mcp");
        let _ = peer.notify_logging_message(param).await;
    });
}

/// An observer for the API client that reports retries and slow calls to this request's
/// client; `None` when the client asked for no messages.
pub fn observer(ctx: &RequestContext<RoleServer>, session: &Arc<SessionLog>) -> Option<Observer> {
    threshold(ctx, session)?;
    let ctx = ctx.clone();
    let session = session.clone();
    Some(Arc::new(move |event: UpstreamEvent| {
        let message = event.to_string();
        send(&ctx, &session, LoggingLevel::Warning, message);
    }))
}
