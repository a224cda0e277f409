//! `POST /oauth/token` — a code redeemed with its PKCE verifier, a refresh token rotated
//! (a retired one coming back revokes its whole sign-in) — and `POST /oauth/revoke`.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::Engine;
use serde_json::json;
use sha2::Digest;

use super::{OAuth, endpoints::oauth_error, tokens};
use crate::tools::{Grant, Scope};

/// `POST /oauth/token`.
pub(super) async fn token(State(oauth): State<Arc<OAuth>>, body: Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let get = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let Some(client_id) = get("client_id") else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_id is required (this server's clients are public: no secret, PKCE)",
        );
    };
    match get("grant_type") {
        Some("authorization_code") => redeem_code(&oauth, client_id, &get),
        Some("refresh_token") => refresh(&oauth, client_id, &get),
        Some(other) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("grant_type {other} is not supported (authorization_code, refresh_token)"),
        ),
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required",
        ),
    }
}

fn invalid_grant(description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

fn redeem_code<'a>(
    oauth: &OAuth,
    client_id: &str,
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Response {
    let Some(code) = get("code").and_then(|c| oauth.sealer.open::<tokens::Code>(tokens::CODE, c))
    else {
        return invalid_grant("the code is not valid");
    };
    let now = oauth.now();
    if code.expires <= now {
        return invalid_grant("the code has expired");
    }
    if code.grant.client_id != client_id {
        return invalid_grant("the code was issued to another client");
    }
    if get("redirect_uri") != Some(code.redirect_uri.as_str()) {
        return invalid_grant("redirect_uri must be the one the code was asked with");
    }
    let Some(verifier) = get("code_verifier") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code_verifier is required (PKCE)",
        );
    };
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let verifier_ok = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !verifier_ok
        || !bool::from(subtle::ConstantTimeEq::ct_eq(
            computed.as_bytes(),
            code.challenge.as_bytes(),
        ))
    {
        return invalid_grant("the code_verifier does not match the code_challenge");
    }
    if let Some(resource) = get("resource")
        && resource.trim_end_matches('/') != code.grant.resource.trim_end_matches('/')
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "the resource is not the one the code was issued for",
        );
    }
    if !oauth.ledger().redeem(&code.id, code.expires, now) {
        return invalid_grant("the code was already used");
    }
    let family = oauth.sealer.random_id();
    let refresh_expires = now + tokens::REFRESH_LIFETIME.as_secs() as i64;
    if !oauth.ledger().start_family(&family, refresh_expires, now) {
        return oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "too many sign-ins to keep track of; retry later",
        );
    }
    tokens_answer(oauth, code.grant, family, 0)
}

fn refresh<'a>(oauth: &OAuth, client_id: &str, get: &impl Fn(&str) -> Option<&'a str>) -> Response {
    let Some(old) =
        get("refresh_token").and_then(|t| oauth.sealer.open::<tokens::Refresh>(tokens::REFRESH, t))
    else {
        return invalid_grant("the refresh token is not valid");
    };
    let now = oauth.now();
    if old.expires <= now {
        return invalid_grant("the refresh token has expired; sign in again");
    }
    if old.grant.client_id != client_id {
        return invalid_grant("the refresh token was issued to another client");
    }
    let mut grant = old.grant;
    if let Some(scope) = get("scope") {
        let had = Grant::parse(&grant.scopes);
        let asked = Grant::parse(scope);
        if asked.scopes().any(|s| !had.has(s))
            || scope.split_whitespace().any(|s| Scope::parse(s).is_none())
        {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "a refresh can only narrow the scopes granted",
            );
        }
        grant.scopes = asked.to_text();
    }
    let expires = now + tokens::REFRESH_LIFETIME.as_secs() as i64;
    let rotation = oauth
        .ledger()
        .rotate(&old.family, old.generation, expires, now);
    match rotation {
        tokens::Rotation::Next(generation) => tokens_answer(oauth, grant, old.family, generation),
        tokens::Rotation::Reused => {
            tracing::warn!("a retired refresh token was used again: its sign-in is revoked");
            invalid_grant(
                "the refresh token was already used; this sign-in is revoked, sign in again",
            )
        }
        tokens::Rotation::Revoked => invalid_grant("this sign-in was revoked; sign in again"),
        tokens::Rotation::Full => oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "too many sign-ins to keep track of; retry later",
        ),
    }
}

/// A token answer: a new access token and the `generation`-th refresh token of `family`.
fn tokens_answer(oauth: &OAuth, grant: tokens::Grant, family: String, generation: u32) -> Response {
    let now = oauth.now();
    let scope = grant.scopes.clone();
    let access = tokens::Access {
        grant: grant.clone(),
        id: oauth.sealer.random_id(),
        family: family.clone(),
        expires: now + tokens::ACCESS_LIFETIME.as_secs() as i64,
    };
    let refresh = tokens::Refresh {
        grant,
        family,
        generation,
        expires: now + tokens::REFRESH_LIFETIME.as_secs() as i64,
    };
    let mut resp = Json(json!({
        "access_token": oauth.sealer.seal(tokens::ACCESS, &access),
        "token_type": "Bearer",
        "expires_in": tokens::ACCESS_LIFETIME.as_secs(),
        "refresh_token": oauth.sealer.seal(tokens::REFRESH, &refresh),
        "scope": scope,
    }))
    .into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// `POST /oauth/revoke` (RFC 7009): a refresh token revokes its whole sign-in, an access
/// token itself. Always 200, whatever the token was.
pub(super) async fn revoke(State(oauth): State<Arc<OAuth>>, body: Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let Some(token) = form.get("token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    };
    let now = oauth.now();
    if let Some(refresh) = oauth.sealer.open::<tokens::Refresh>(tokens::REFRESH, token) {
        oauth
            .ledger()
            .revoke_family(&refresh.family, refresh.expires, now);
    } else if let Some(access) = oauth.sealer.open::<tokens::Access>(tokens::ACCESS, token) {
        oauth
            .ledger()
            .revoke_access(&access.id, access.expires, now);
    }
    StatusCode::OK.into_response()
}
