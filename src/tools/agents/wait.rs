//! `create_agent`'s wait: polls the agent until it is ACTIVE, leaves the way there, the
//! client cancels, or the time is up, with a progress notification at each state change.

use std::time::Duration;

use rmcp::{RoleServer, model::ProgressNotificationParam, service::RequestContext};

use super::outputs::WaitOutcome;
use crate::{
    api::Client,
    tools::{Tools, cancellable},
};

/// How often the wait asks for the agent's state.
const POLL_EVERY: Duration = Duration::from_millis(500);

impl Tools {
    pub(super) async fn current_state(
        &self,
        client: &Client,
        ctx: &RequestContext<RoleServer>,
        uuid: &str,
    ) -> Option<String> {
        cancellable(&ctx.ct, client.agent(uuid))
            .await
            .ok()
            .map(|d| d.agent.state)
    }

    /// Polls the agent until it is ACTIVE, leaves the deploy path, the client cancels, or
    /// `timeout` passes; sends a progress notification at each state change.
    pub(super) async fn wait_until_active(
        &self,
        client: &Client,
        ctx: &RequestContext<RoleServer>,
        uuid: &str,
        initial: &str,
        timeout: Duration,
    ) -> (WaitOutcome, String) {
        let clock = self.clock();
        let started = clock.now();
        let elapsed = || (clock.now() - started).to_std().unwrap_or_default();
        let token = ctx.meta.get_progress_token();
        let mut state = initial.to_string();
        let mut step = 0.0;
        let progress = |step: f64, state: &str| {
            let token = token.clone();
            let peer = ctx.peer.clone();
            let message = format!("agent state: {state}");
            async move {
                if let Some(token) = token {
                    let _ = peer
                        .notify_progress(
                            ProgressNotificationParam::new(token, step).with_message(message),
                        )
                        .await;
                }
            }
        };
        progress(step, &state).await;
        let outcome = |outcome: &str, reason: Option<String>| WaitOutcome {
            outcome: outcome.into(),
            waited_seconds: (elapsed().as_secs_f64() * 10.0).round() / 10.0,
            reason,
        };
        loop {
            match state.as_str() {
                "ACTIVE" => return (outcome("active", None), state),
                "NEW" | "PROVISIONED" => {}
                other => {
                    let reason = format!("the agent moved to {other} instead of ACTIVE");
                    return (outcome("stopped", Some(reason)), state);
                }
            }
            if elapsed() >= timeout {
                let reason = if self.is_local() {
                    format!(
                        "no heartbeat arrived within {} s. Local mode starts no container, so the agent turns ACTIVE only when a heartbeat is sent (agent_heartbeat, or POST /api/agents/{uuid}/heartbeat).",
                        timeout.as_secs()
                    )
                } else {
                    format!(
                        "no heartbeat arrived within {} s; the container may still be pulling its image or failing to start. Check agent_status and agent_logs.",
                        timeout.as_secs()
                    )
                };
                return (outcome("timed_out", Some(reason)), state);
            }
            tokio::select! {
                _ = ctx.ct.cancelled() => return (outcome("cancelled", Some("the client cancelled the wait".into())), state),
                _ = clock.sleep(POLL_EVERY.min(timeout.saturating_sub(elapsed()))) => {}
            }
            if let Some(now) = self.current_state(client, ctx, uuid).await
                && now != state
            {
                state = now;
                step += 1.0;
                progress(step, &state).await;
            }
        }
    }
}
