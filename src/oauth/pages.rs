//! The sign-in pages: server-rendered HTML, no script, no third-party asset, not to be
//! framed — a consent form that names the client and what it asks for, a page that waits
//! for the Plugged.in approval, and an error page that never redirects.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::tools::Scope;

/// Text for HTML (element content and quoted attributes).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1b1b1f}\
h1{font-size:1.4rem}fieldset{border:1px solid #ccd;border-radius:.5rem;margin:1rem 0;padding:.5rem 1rem}\
label{display:block;margin:.25rem 0}button{font:inherit;padding:.5rem 1rem;border-radius:.4rem;border:1px solid #446;background:#2d3a8c;color:#fff;cursor:pointer}\
button.plain{background:#fff;color:#2d3a8c}input[type=password]{font:inherit;width:100%;box-sizing:border-box;padding:.4rem}\
.note{color:#555;font-size:.9rem}.error{color:#a00;font-weight:600}code{font-size:1.2rem;letter-spacing:.1rem}";

/// A whole page with the headers every page has: no caching, no framing, nothing loaded
/// from anywhere.
pub fn page(status: StatusCode, title: &str, body: &str, refresh: Option<(u64, &str)>) -> Response {
    let meta = refresh
        .map(|(secs, url)| {
            format!(
                r#"<meta http-equiv="refresh" content="{secs};url={}">"#,
                escape(url)
            )
        })
        .unwrap_or_default();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">{meta}<title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    );
    let mut resp = (status, html).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// A request that cannot go back to the client (unknown client, a redirect URI it did not
/// register, an expired form): said here, never by redirecting.
pub fn error(status: StatusCode, message: &str) -> Response {
    let mut chars = message.chars();
    let message: String = chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    page(
        status,
        "Sign-in failed",
        &format!(
            "<h1>Sign-in failed</h1><p class=\"error\">{}</p><p class=\"note\">Close this window and add the connector again from your client.</p>",
            escape(&message)
        ),
        None,
    )
}

/// What the consent form shows.
pub struct Consent<'a> {
    pub client_name: &'a str,
    pub redirect_host: &'a str,
    /// Each scope asked for, and whether its box is ticked.
    pub scopes: &'a [(Scope, bool)],
    pub ticket: &'a str,
    pub problem: Option<&'a str>,
    /// Whether to offer the Plugged.in sign-in (the device flow) besides the key field.
    pub device_flow: bool,
}

pub fn consent(c: &Consent) -> Response {
    let scopes: String = c
        .scopes
        .iter()
        .map(|(s, ticked)| {
            format!(
                r#"<label><input type="checkbox" name="scope" value="{}"{}> <b>{}</b> — {}</label>"#,
                s.name(),
                if *ticked { " checked" } else { "" },
                s.name(),
                escape(s.describe())
            )
        })
        .collect();
    let problem = c
        .problem
        .map(|p| format!(r#"<p class="error">{}</p>"#, escape(p)))
        .unwrap_or_default();
    let device = if c.device_flow {
        r#"<p><button name="action" value="plugged_in">Sign in with Plugged.in</button></p><p class="note">Or, for a Plugged.in without browser sign-in:</p>"#
    } else {
        ""
    };
    let body = format!(
        r#"<h1>Connect {} to Plugged.in</h1>{problem}<p><b>{}</b> (returning to <b>{}</b>) asks to use your Plugged.in account through this server. Untick anything you do not want to allow.</p>
<form method="post" action="/oauth/authorize"><input type="hidden" name="ticket" value="{}"><fieldset><legend>It may</legend>{scopes}</fieldset>{device}
<label for="api_key">Plugged.in API key</label><input type="password" id="api_key" name="api_key" autocomplete="off" placeholder="pg_in_…">
<p><button class="plain" name="action" value="api_key">Use this API key</button> <button class="plain" name="action" value="deny">Deny</button></p></form>
<p class="note">The key stays sealed inside the tokens this server issues; it is never shown to {}.</p>"#,
        escape(c.client_name),
        escape(c.client_name),
        escape(c.redirect_host),
        escape(c.ticket),
        escape(c.client_name),
    );
    page(StatusCode::OK, "Connect to Plugged.in", &body, None)
}

/// The page that waits for the approval in Plugged.in, reloading itself every `interval`.
pub fn waiting(verification_url: &str, user_code: &str, next: &str, interval: u64) -> Response {
    let body = format!(
        r#"<h1>Approve in Plugged.in</h1><p>Open <a href="{}" target="_blank" rel="noopener noreferrer">Plugged.in</a>, check that it shows the code <code>{}</code>, and approve.</p>
<p class="note">This page checks again every {interval} seconds. <a href="{}">Check now</a>.</p>"#,
        escape(verification_url),
        escape(user_code),
        escape(next),
    );
    page(
        StatusCode::OK,
        "Approve in Plugged.in",
        &body,
        Some((interval, next)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_become_markup() {
        assert_eq!(
            escape(r#"<script>"x"&'y'</script>"#),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
        );
    }
}
