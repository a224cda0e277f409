//! Reports of each proxied call to Plugged.in (`POST /api/notifications/mcp-activity`),
//! which its UI shows as recent activity. Off the call's path: a call only puts its report
//! in a bounded queue, and when the queue is full the report is dropped — nothing ever
//! waits for Plugged.in to hear about a call.

use tokio::sync::mpsc;

use crate::api::{Client, hub::Activity};

/// Reports waiting to be sent; more are dropped.
const QUEUE: usize = 256;

/// Where calls report to.
#[derive(Clone)]
pub struct Reporter {
    queue: mpsc::Sender<Activity>,
}

impl Reporter {
    /// Starts the sender task: it lives as long as a reporter does.
    pub fn start(client: Client) -> Self {
        let (queue, mut reports) = mpsc::channel::<Activity>(QUEUE);
        tokio::spawn(async move {
            while let Some(report) = reports.recv().await {
                if let Err(e) = client.report_activity(&report).await {
                    tracing::debug!("activity report not delivered: {e}");
                }
            }
        });
        Self { queue }
    }

    pub fn report(&self, activity: Activity) {
        if self.queue.try_send(activity).is_err() {
            tracing::debug!("activity queue full; a report was dropped");
        }
    }
}
