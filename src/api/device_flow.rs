//! Plugged.in's device flow for command-line tools (`POST /api/cli/auth/initiate`, `GET
//! /api/cli/auth/poll`): one request each, read into types. `pluggedin-mcp login` and the
//! OAuth consent page both drive it.

use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::secret::Secret;

/// What `POST /api/cli/auth/initiate` answers.
#[derive(Deserialize)]
pub struct Initiated {
    pub device_code: String,
    pub user_code: String,
    pub verification_url: String,
    pub expires_in: u64,
    pub interval: u64,
}

#[derive(Deserialize)]
struct Polled {
    status: String,
    api_key: Option<String>,
}

/// The longest a 429 makes a poll wait before trying again.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

fn retry_after(resp: &reqwest::Response) -> Duration {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(5), Duration::from_secs)
        .min(MAX_RETRY_AFTER)
}

/// Starts a sign-in at `base_url`: the code to approve and where.
pub async fn initiate(http: &reqwest::Client, base_url: &str) -> anyhow::Result<Initiated> {
    let resp = http
        .post(format!("{base_url}/api/cli/auth/initiate"))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .with_context(|| format!("reaching {base_url}"))?;
    match resp.status().as_u16() {
        200 => {}
        429 => bail!(
            "{base_url} refuses more sign-ins for now (too many started); try again in a few minutes"
        ),
        404 => bail!(
            "{base_url} has no sign-in for command-line tools (is it Plugged.in 3.3 or newer?)"
        ),
        status => bail!("{base_url} answered {status} to starting a sign-in"),
    }
    let code: Initiated = resp.json().await.context("reading the sign-in code")?;
    // It goes into a URL as it is: only the alphabet Plugged.in makes it from.
    if !code.device_code.chars().all(|c| c.is_ascii_alphanumeric()) || code.device_code.is_empty() {
        bail!("{base_url} gave a device code this client cannot use");
    }
    Ok(code)
}

/// Asks once whether `device_code` was approved. A network failure is `Pending` (the code
/// stays valid); an answer that ends the sign-in is the error saying so.
pub async fn poll(
    http: &reqwest::Client,
    base_url: &str,
    device_code: &str,
) -> anyhow::Result<Poll> {
    let resp = http
        .get(format!(
            "{base_url}/api/cli/auth/poll?device_code={device_code}"
        ))
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    let Ok(resp) = resp else {
        return Ok(Poll::Pending);
    };
    let status = resp.status().as_u16();
    let wait_for = retry_after(&resp);
    let body = resp.bytes().await.unwrap_or_default();
    poll_answer(status, &body, wait_for)
}

/// What one answer of `GET /api/cli/auth/poll` means.
#[derive(Debug)]
pub enum Poll {
    /// Not yet approved: ask again after the interval.
    Pending,
    /// Too many polls: ask again after this long (its `Retry-After`).
    SlowDown(Duration),
    /// Approved, with the key.
    Approved(Secret),
}

/// Reads one poll answer (`status`, `body`, its `Retry-After` as `retry_after`); an answer
/// that ends the sign-in — denied, expired, already collected, unexpected — is the error
/// saying so.
pub fn poll_answer(status: u16, body: &[u8], retry_after: Duration) -> anyhow::Result<Poll> {
    match status {
        429 => return Ok(Poll::SlowDown(retry_after)),
        410 => bail!("the code expired before it was approved; start the sign-in again"),
        403 => bail!("the sign-in was denied in the browser"),
        200 => {}
        status => bail!("Plugged.in answered {status} while waiting for approval"),
    }
    let polled: Polled = serde_json::from_slice(body).context("reading the approval")?;
    match (polled.status.as_str(), polled.api_key) {
        ("authorization_pending", _) => Ok(Poll::Pending),
        ("approved", Some(key)) if crate::vocab::credentials::is_api_key(&key) => {
            Ok(Poll::Approved(Secret::new(key)))
        }
        ("approved", _) => bail!(
            "the code was approved, but its key was already collected (by another login with the same code?); start the sign-in again"
        ),
        (other, _) => bail!("unexpected sign-in status {other:?}"),
    }
}
