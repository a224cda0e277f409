//! Inbound authentication for the HTTP transport: none, static bearer tokens (compared in
//! constant time), or passthrough (the bearer is the client's own Plugged.in key, let in
//! only once Plugged.in accepts it: [`crate::api::keys`]). It guards every route and method;
//! only `/health`, `/ready` and the server card are open.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use subtle::ConstantTimeEq;

use super::jsonrpc_error;
use crate::{secret::Secret, tools::ClientKey};

/// Routes anyone may call: liveness and the server card say nothing secret. `/metrics`
/// checks its own scrapers (see `metrics_refusal`), never a passthrough key.
pub const OPEN_PATHS: [&str; 4] = ["/health", "/ready", "/.well-known/mcp.json", "/metrics"];

#[derive(Clone, Debug)]
pub enum AuthMode {
    None,
    /// Any of these tokens.
    Tokens(Arc<[Secret]>),
    /// A bearer Plugged.in accepts as an API key: checked at the door, so a key it does not
    /// accept never opens a session, holds a slot or starts a hub.
    Passthrough(Arc<crate::api::keys::KeyChecks>),
    /// An access token of our own OAuth server, standing for a Plugged.in key (then served
    /// as passthrough) and the scopes granted.
    OAuth(Arc<crate::oauth::OAuth>),
}

impl AuthMode {
    /// Parses `PLUGGEDIN_MCP_TOKEN`-style text: tokens separated by commas or newlines.
    pub fn tokens_from(text: &str) -> Vec<Secret> {
        text.split([',', '\n'])
            .map(str::trim)
            .filter(|t| !t.is_empty() && !t.starts_with('#'))
            .map(Secret::new)
            .collect()
    }

    pub fn describe(&self) -> &'static str {
        match self {
            AuthMode::None => "none",
            AuthMode::Tokens(_) => "bearer tokens",
            AuthMode::Passthrough(_) => {
                "passthrough (each client's bearer is its Plugged.in API key)"
            }
            AuthMode::OAuth(_) => "oauth (clients sign in with Plugged.in)",
        }
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Constant-time membership: compares against every token, so timing says nothing about
/// which one (or how much of one) matched.
pub fn accepted(tokens: &[Secret], presented: &str) -> bool {
    tokens.iter().fold(false, |found, t| {
        found | bool::from(t.expose().as_bytes().ct_eq(presented.as_bytes()))
    })
}

pub async fn require(State(mode): State<AuthMode>, mut req: Request, next: Next) -> Response {
    if OPEN_PATHS.contains(&req.uri().path()) || req.method() == axum::http::Method::OPTIONS {
        return next.run(req).await;
    }
    if let AuthMode::OAuth(oauth) = &mode {
        if crate::oauth::OAuth::is_open(req.uri().path()) {
            return next.run(req).await;
        }
        let from = client_address(&req);
        let signed = oauth
            .authenticate(req.uri().path(), bearer(req.headers()), from)
            .await;
        return match signed {
            Ok(signed) => {
                // Served as a passthrough client of the key, within the grant.
                req.extensions_mut().insert(ClientKey(signed.key));
                req.extensions_mut().insert(signed.grant);
                next.run(req).await
            }
            Err(refused) => refused,
        };
    }
    let refusal = match (&mode, bearer(req.headers())) {
        (AuthMode::None | AuthMode::OAuth(_), _) => None,
        (AuthMode::Tokens(tokens), Some(t)) if accepted(tokens, t) => None,
        (AuthMode::Tokens(_), Some(_)) => Some(unauthorized(
            "Unauthorized: the bearer token is not accepted",
        )),
        (AuthMode::Passthrough(checks), Some(key)) => {
            let key = Secret::new(key);
            let from = client_address(&req);
            let refusal = passthrough_refusal(checks.check(&key, from).await);
            if refusal.is_none() {
                // The tools find the client's key here (rmcp hands them the HTTP request's
                // parts), as a typed value rather than by reading headers themselves.
                req.extensions_mut().insert(ClientKey(key));
            }
            refusal
        }
        (AuthMode::Passthrough(_), None) => Some(unauthorized(
            "Unauthorized: send your Plugged.in API key as `Authorization: Bearer <key>`",
        )),
        (AuthMode::Tokens(_), None) => Some(unauthorized(
            "Unauthorized: this server requires `Authorization: Bearer <token>`",
        )),
    };
    match refusal {
        None => next.run(req).await,
        Some(refused) => refused,
    }
}

/// The address a request comes from (see [`crate::listener::client_address`]).
fn client_address(req: &Request) -> Option<std::net::IpAddr> {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    crate::listener::client_address(peer, req.headers())
}

/// Why a passthrough key is not let in, if it is not.
fn passthrough_refusal(verdict: crate::api::keys::Verdict) -> Option<Response> {
    use crate::api::keys::Verdict;
    match verdict {
        Verdict::Accepted => None,
        Verdict::Malformed => Some(unauthorized(
            "Unauthorized: the bearer is not a Plugged.in API key (pg_in_…); send yours as `Authorization: Bearer <key>`",
        )),
        Verdict::Rejected => Some(unauthorized(
            "Unauthorized: Plugged.in does not accept this API key",
        )),
        Verdict::Throttled(wait) => {
            let mut resp = jsonrpc_error(
                StatusCode::TOO_MANY_REQUESTS,
                -32000,
                &format!(
                    "Too many unknown API keys from this address ({} a minute); retry after {} s",
                    crate::api::keys::CHECKS_PER_ADDRESS,
                    wait.as_secs().max(1)
                ),
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, value);
            }
            Some(resp)
        }
        Verdict::Unchecked(why) => {
            let mut resp = jsonrpc_error(
                StatusCode::SERVICE_UNAVAILABLE,
                -32000,
                &format!("Cannot check this API key with Plugged.in now: {why}"),
            )
            .into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            Some(resp)
        }
    }
}

fn unauthorized(message: &str) -> Response {
    let mut resp = jsonrpc_error(StatusCode::UNAUTHORIZED, -32001, message).into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"pluggedin-mcp\""),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_from_commas_and_lines() {
        let t = AuthMode::tokens_from("a, b\n# comment\nc,,");
        assert_eq!(
            t.iter().map(Secret::expose).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn only_exact_tokens_are_accepted() {
        let tokens = AuthMode::tokens_from("secret-one,secret-two");
        assert!(accepted(&tokens, "secret-two"));
        assert!(!accepted(&tokens, "secret-tw"));
        assert!(!accepted(&tokens, "secret-twoo"));
        assert!(!accepted(&tokens, ""));
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_here() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
