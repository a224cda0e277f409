//! Inbound authentication for the HTTP transport: none, static bearer tokens (compared in
//! constant time), or passthrough (the bearer is the client's own Plugged.in key). It guards
//! every route and method; only `/health`, `/ready` and the server card are open.

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

/// Routes anyone may call: liveness and the server card say nothing secret.
pub const OPEN_PATHS: [&str; 3] = ["/health", "/ready", "/.well-known/mcp.json"];

#[derive(Clone, Debug)]
pub enum AuthMode {
    None,
    /// Any of these tokens.
    Tokens(Arc<[Secret]>),
    /// Any bearer is accepted here; Plugged.in checks it when the tools use it.
    Passthrough,
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
            AuthMode::Passthrough => "passthrough (each client's bearer is its Plugged.in API key)",
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
fn accepted(tokens: &[Secret], presented: &str) -> bool {
    tokens.iter().fold(false, |found, t| {
        found | bool::from(t.expose().as_bytes().ct_eq(presented.as_bytes()))
    })
}

pub async fn require(State(mode): State<AuthMode>, mut req: Request, next: Next) -> Response {
    if OPEN_PATHS.contains(&req.uri().path()) || req.method() == axum::http::Method::OPTIONS {
        return next.run(req).await;
    }
    let ok = match (&mode, bearer(req.headers())) {
        (AuthMode::None, _) => true,
        (AuthMode::Tokens(tokens), Some(t)) => accepted(tokens, t),
        (AuthMode::Passthrough, Some(key)) => {
            // The tools find the client's key here (rmcp hands them the HTTP request's
            // parts), as a typed value rather than by reading headers themselves.
            let key = ClientKey(Secret::new(key));
            req.extensions_mut().insert(key);
            true
        }
        (_, None) => false,
    };
    if ok {
        return next.run(req).await;
    }
    let message = match (&mode, bearer(req.headers())) {
        (AuthMode::Passthrough, _) => {
            "Unauthorized: send your Plugged.in API key as `Authorization: Bearer <key>`"
        }
        (_, None) => "Unauthorized: this server requires `Authorization: Bearer <token>`",
        (_, Some(_)) => "Unauthorized: the bearer token is not accepted",
    };
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
