//! What the hub tells Plugged.in, off every call's path: each proxied call
//! (`POST /api/notifications/mcp-activity`, shown in its UI as recent activity) and the tools
//! it discovered on the account's servers (`POST /api/tools`, its catalog). Reports go into
//! a bounded queue, and when the queue is full a report is dropped — nothing ever waits for
//! Plugged.in to hear about something.

use tokio::sync::mpsc;

use std::sync::Arc;

use rmcp::model::Tool;

use crate::api::{Client, hub::Activity};

/// One thing to tell Plugged.in.
enum Report {
    Activity(Activity),
    Tools {
        server_uuid: String,
        tools: Arc<Vec<Tool>>,
    },
}

/// Reports waiting to be sent; more are dropped.
const QUEUE: usize = 256;

/// Where calls report to.
#[derive(Clone)]
pub struct Reporter {
    queue: mpsc::Sender<Report>,
    /// Whether calls are reported (tools always are).
    activity: bool,
}

impl Reporter {
    /// Starts the sender task: it lives as long as a reporter does.
    pub fn start(client: Client, activity: bool) -> Self {
        let (queue, mut reports) = mpsc::channel::<Report>(QUEUE);
        tokio::spawn(async move {
            while let Some(report) = reports.recv().await {
                let sent = match &report {
                    Report::Activity(activity) => client.report_activity(activity).await,
                    Report::Tools { server_uuid, tools } => {
                        client.report_tools(server_uuid, tools).await
                    }
                };
                if let Err(e) = sent {
                    tracing::debug!("report to Plugged.in not delivered: {e}");
                }
            }
        });
        Self { queue, activity }
    }

    pub fn report(&self, activity: Activity) {
        if self.activity {
            self.send(Report::Activity(activity));
        }
    }

    /// The tools now known on an account server.
    pub fn discovered(&self, server_uuid: String, tools: Arc<Vec<Tool>>) {
        self.send(Report::Tools { server_uuid, tools });
    }

    fn send(&self, report: Report) {
        if self.queue.try_send(report).is_err() {
            tracing::debug!("report queue full; a report was dropped");
        }
    }
}
