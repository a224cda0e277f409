//! `pluggedin-mcp login`'s device flow: ask Plugged.in for a code
//! ([`crate::api::device_flow`]), show where to approve it, poll at the interval the server
//! gives until it is approved, denied or expired. A 429 waits for its `Retry-After`.

use std::time::Duration;

use anyhow::bail;

use crate::{
    api::device_flow::{self, Poll},
    secret::Secret,
};

/// Signs in at `base_url`: shows the code and the page on `say` (stderr), opens the page in
/// a browser when `open_browser`, and returns the key once approved.
pub async fn sign_in(
    base_url: &str,
    open_browser: bool,
    say: &mut dyn std::io::Write,
) -> anyhow::Result<Secret> {
    let http = crate::api::http_client(base_url.starts_with("https"), Duration::from_secs(10))?;
    let code = device_flow::initiate(&http, base_url).await?;
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
        match device_flow::poll(&http, base_url, &code.device_code).await? {
            Poll::Pending => wait = Duration::from_secs(code.interval.clamp(1, 60)),
            Poll::SlowDown(pause) => wait = pause,
            Poll::Approved(key) => return Ok(key),
        }
    }
}
