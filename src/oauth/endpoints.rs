//! The authorization server's routes, and the discovery documents (RFC 9728 protected
//! resource metadata, RFC 8414 authorization server metadata).

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};

use super::{OAuth, consent, offered_scopes, register, token};

/// The routes, all open (no token needed).
pub fn router(oauth: Arc<OAuth>) -> Router {
    Router::new()
        .route("/.well-known/oauth-protected-resource", get(resource_root))
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(resource_mcp),
        )
        .route(
            "/.well-known/oauth-protected-resource/sse",
            get(resource_sse),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(server_metadata),
        )
        .route("/oauth/register", post(register::register))
        .route(
            "/oauth/authorize",
            get(consent::authorize).post(consent::consented),
        )
        .route("/oauth/wait", get(consent::wait))
        .route("/oauth/token", post(token::token))
        .route("/oauth/revoke", post(token::revoke))
        .with_state(oauth)
}

/// A JSON document anyone may read (and cache for a while).
fn public_json(value: Value) -> Response {
    let mut resp = Json(value).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}

fn resource_metadata(oauth: &OAuth, resource: String) -> Response {
    public_json(json!({
        "resource": resource,
        "authorization_servers": [oauth.issuer()],
        "scopes_supported": offered_scopes(),
        "bearer_methods_supported": ["header"],
        "resource_name": "Plugged.in (pluggedin-mcp)",
    }))
}

async fn resource_root(State(oauth): State<Arc<OAuth>>) -> Response {
    resource_metadata(&oauth, oauth.issuer().to_string())
}

async fn resource_mcp(State(oauth): State<Arc<OAuth>>) -> Response {
    resource_metadata(&oauth, oauth.resource())
}

async fn resource_sse(State(oauth): State<Arc<OAuth>>) -> Response {
    resource_metadata(&oauth, format!("{}/sse", oauth.issuer()))
}

async fn server_metadata(State(oauth): State<Arc<OAuth>>) -> Response {
    let issuer = oauth.issuer();
    public_json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "registration_endpoint": format!("{issuer}/oauth/register"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "scopes_supported": offered_scopes(),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": true,
    }))
}

/// An OAuth error answer (`error`, `error_description`), never cached.
pub(super) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut resp = (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
