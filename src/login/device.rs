//! The device flow against Plugged.in (`/api/cli/auth/initiate` and `/poll`): ask for a
//! code, show where to approve it, poll at the interval the server gives until it is
//! approved, denied or expired. A 429 waits for its `Retry-After`.

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

/// The longest a 429 makes the login wait before trying again.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

fn retry_after(resp: &reqwest::Response) -> Duration {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(5), Duration::from_secs)
        .min(MAX_RETRY_AFTER)
}

/// Signs in at `base_url`: shows the code and the page on `say` (stderr), opens the page in
/// a browser when `open_browser`, and returns the key once approved.
pub async fn sign_in(
    base_url: &str,
    open_browser: bool,
    say: &mut dyn std::io::Write,
) -> anyhow::Result<Secret> {
    let http = crate::api::http_client(base_url.starts_with("https"), Duration::from_secs(10))?;
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
    if !code.device_code.chars().all(|c| c.is_ascii_alphanumeric()) {
        bail!("{base_url} gave a device code this client cannot use");
    }
    writeln!(
        say,
        "To sign in, open {}\nand check that it shows the code {} (it expires in {} minutes).",
        code.verification_url,
        code.user_code,
        code.expires_in.div_ceil(60)
    )?;
    if open_browser && open::that_detached(&code.verification_url).is_ok() {
        writeln!(say, "(Opened in your browser.)")?;
    }
    writeln!(say, "Waiting for approval…")?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(code.expires_in + 5);
    let mut wait = Duration::from_secs(code.interval.clamp(1, 60));
    loop {
        tokio::time::sleep(wait).await;
        if tokio::time::Instant::now() > deadline {
            bail!(
                "the code {} expired before it was approved; run `pluggedin-mcp login` again",
                code.user_code
            );
        }
        let resp = http
            .get(format!(
                "{base_url}/api/cli/auth/poll?device_code={}",
                code.device_code
            ))
            .timeout(Duration::from_secs(30))
            .send()
            .await;
        let resp = match resp {
            Ok(resp) => resp,
            // A network blip: the code stays valid, so keep polling.
            Err(_) => continue,
        };
        let status = resp.status().as_u16();
        let wait_for = retry_after(&resp);
        let body = resp.bytes().await.unwrap_or_default();
        match poll_answer(status, &body, wait_for)? {
            Poll::Pending => wait = Duration::from_secs(code.interval.clamp(1, 60)),
            Poll::SlowDown(pause) => wait = pause,
            Poll::Approved(key) => return Ok(key),
        }
    }
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
        410 => bail!("the code expired before it was approved; run `pluggedin-mcp login` again"),
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
            "the code was approved, but its key was already collected (by another login with the same code?); run `pluggedin-mcp login` again"
        ),
        (other, _) => bail!("unexpected sign-in status {other:?}"),
    }
}
