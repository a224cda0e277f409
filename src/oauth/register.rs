//! RFC 7591 registration: a client's redirect URIs checked (no scheme a browser would run,
//! http only to loopback, bounded) and sealed into its `client_id`, so nothing is stored.

use std::sync::Arc;

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{OAuth, endpoints::oauth_error, tokens};

/// Most redirect URIs one client may register, and the longest one.
pub(super) const MAX_REDIRECT_URIS: usize = 10;
pub(super) const MAX_REDIRECT_URI_CHARS: usize = 512;

/// Why `uri` cannot be a redirect URI, if it cannot: https anywhere, http only to this
/// machine (a native client's loopback listener, RFC 8252), or a native app's own scheme;
/// never a fragment, never a scheme a browser would run.
pub(super) fn redirect_uri_problem(uri: &str) -> Option<String> {
    if uri.chars().count() > MAX_REDIRECT_URI_CHARS {
        return Some(format!(
            "a redirect URI is at most {MAX_REDIRECT_URI_CHARS} characters"
        ));
    }
    let Ok(url) = reqwest::Url::parse(uri) else {
        return Some(format!("{uri} is not an absolute URI"));
    };
    if url.fragment().is_some() {
        return Some(format!("{uri}: a redirect URI has no fragment"));
    }
    match url.scheme() {
        "https" => None,
        "http" if is_loopback(&url) => None,
        "http" => Some(format!(
            "{uri}: http is allowed only for loopback addresses"
        )),
        "javascript" | "data" | "vbscript" | "file" | "about" | "blob" => {
            Some(format!("{uri}: the scheme {} is not allowed", url.scheme()))
        }
        _ => None,
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
}

/// Whether `presented` is the registered redirect URI: the same string, except that a
/// loopback URI's port may differ (a native client listens on whatever port it got).
pub(super) fn redirect_matches(presented: &str, registered: &str) -> bool {
    if presented == registered {
        return true;
    }
    let (Ok(a), Ok(b)) = (
        reqwest::Url::parse(presented),
        reqwest::Url::parse(registered),
    ) else {
        return false;
    };
    is_loopback(&b)
        && a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.path() == b.path()
        && a.query() == b.query()
        && a.fragment().is_none()
}

/// A client's redirect URIs (registered, or in its metadata document), checked: 1 to
/// [`MAX_REDIRECT_URIS`], each one [`redirect_uri_problem`] has nothing against.
pub(super) fn redirect_uris(metadata: &Value) -> Result<Vec<String>, String> {
    let Some(Value::Array(items)) = metadata.get("redirect_uris").filter(|v| {
        v.as_array()
            .is_some_and(|a| (1..=MAX_REDIRECT_URIS).contains(&a.len()))
    }) else {
        return Err(format!(
            "redirect_uris must be a list of 1 to {MAX_REDIRECT_URIS} URIs"
        ));
    };
    let uris: Vec<String> = items
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect::<Option<_>>()
        .ok_or("redirect_uris must be strings")?;
    match uris.iter().find_map(|u| redirect_uri_problem(u)) {
        Some(problem) => Err(problem),
        None => Ok(uris),
    }
}

/// A client's `client_name`, trimmed and at most 80 characters, if it gives one.
pub(super) fn client_name(metadata: &Value) -> Option<String> {
    metadata
        .get("client_name")
        .and_then(Value::as_str)
        .map(|n| crate::text::truncate(n.trim(), 80).to_string())
        .filter(|n| !n.is_empty())
}

/// RFC 7591 registration: the client's metadata, checked and sealed into its `client_id`.
pub(super) async fn register(State(oauth): State<Arc<OAuth>>, body: Bytes) -> Response {
    let invalid = |error: &str, description: String| {
        oauth_error(StatusCode::BAD_REQUEST, error, &description)
    };
    let Ok(metadata) = serde_json::from_slice::<Value>(&body) else {
        return invalid(
            "invalid_client_metadata",
            "the body must be a JSON object of client metadata".into(),
        );
    };
    let uris = match redirect_uris(&metadata) {
        Ok(uris) => uris,
        Err(problem) => return invalid("invalid_redirect_uri", problem),
    };
    for (field, allowed) in [
        ("grant_types", &["authorization_code", "refresh_token"][..]),
        ("response_types", &["code"][..]),
    ] {
        if let Some(Value::Array(asked)) = metadata.get(field)
            && let Some(other) = asked
                .iter()
                .find(|v| !v.as_str().is_some_and(|s| allowed.contains(&s)))
        {
            return invalid(
                "invalid_client_metadata",
                format!(
                    "{field}: {other} is not supported (only {})",
                    allowed.join(", ")
                ),
            );
        }
    }
    let name = client_name(&metadata).unwrap_or_else(|| "An MCP client".into());
    let issued_at = oauth.now();
    let client = tokens::Client {
        redirect_uris: uris.clone(),
        name: name.clone(),
        issued_at,
    };
    let client_id = oauth.sealer.seal(tokens::CLIENT, &client);
    let mut resp = (
        StatusCode::CREATED,
        Json(json!({
            "client_id": client_id,
            "client_id_issued_at": issued_at,
            "client_name": name,
            "redirect_uris": uris,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            // Public clients: PKCE, not a secret, proves who redeems a code.
            "token_endpoint_auth_method": "none",
        })),
    )
        .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_match_exactly_except_a_loopback_port() {
        assert!(redirect_matches(
            "https://claude.ai/cb",
            "https://claude.ai/cb"
        ));
        assert!(!redirect_matches(
            "https://claude.ai/cb/",
            "https://claude.ai/cb"
        ));
        assert!(!redirect_matches(
            "https://claude.ai:444/cb",
            "https://claude.ai/cb"
        ));
        assert!(!redirect_matches(
            "https://evil.example/cb",
            "https://claude.ai/cb"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1:5123/cb",
            "http://127.0.0.1/cb"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1:5123/other",
            "http://127.0.0.1/cb"
        ));
    }

    #[test]
    fn redirect_uris_a_browser_would_run_are_refused() {
        assert!(redirect_uri_problem("https://claude.ai/api/mcp/auth_callback").is_none());
        assert!(redirect_uri_problem("http://localhost:3000/cb").is_none());
        assert!(redirect_uri_problem("cursor://anysphere.cursor-mcp/oauth/callback").is_none());
        for bad in [
            "http://example.com/cb",
            "javascript:alert(1)",
            "data:text/html,x",
            "https://claude.ai/cb#frag",
            "/relative",
        ] {
            assert!(redirect_uri_problem(bad).is_some(), "{bad}");
        }
    }
}
