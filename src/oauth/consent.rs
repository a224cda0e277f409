//! The browser's part: `GET /oauth/authorize` checks the request and shows the consent
//! form; its POST takes a pasted API key or starts Plugged.in's device sign-in, whose
//! approval `GET /oauth/wait` waits for; then the browser goes back to the client with a
//! code. Each form is tied to the browser it was shown to (a cookie, hashed into it).

use std::{collections::HashMap, net::SocketAddr, sync::Arc};

use axum::{
    Extension,
    body::Bytes,
    extract::{ConnectInfo, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};

use super::{OAuth, pages, register::redirect_matches, tokens};
use crate::{
    secret::Secret,
    tools::{Grant, Scope},
};

/// The peer's address, when the listener recorded it (it always does; tests may not).
type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

/// Where the authorization answer goes: the client's redirect URI with `params` added
/// (and `iss`, RFC 9207).
fn back_to_client(oauth: &OAuth, redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = reqwest::Url::parse(redirect_uri) else {
        return pages::error(StatusCode::BAD_REQUEST, "the redirect URI is not a URI");
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        query.append_pair("iss", oauth.issuer());
    }
    Redirect::to(url.as_str()).into_response()
}

/// `GET /oauth/authorize`: checks the request and shows the consent form. Until the client
/// and its redirect URI are known good, errors are shown here (never sent to an unchecked
/// URI: no open redirect); after, they go back to the client.
pub(super) async fn authorize(
    State(oauth): State<Arc<OAuth>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |name: &str| q.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let (client_id, client, redirect_uri) = match known_client(&oauth, &get).await {
        Ok(known) => known,
        Err(refused) => return refused,
    };
    let state = get("state");
    let refuse = |error: &str, description: &str| {
        let mut params = vec![("error", error), ("error_description", description)];
        if let Some(state) = state {
            params.push(("state", state));
        }
        back_to_client(&oauth, &redirect_uri, &params)
    };
    if get("response_type") != Some("code") {
        return refuse(
            "unsupported_response_type",
            "only response_type=code is supported",
        );
    }
    let challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (Some(c), Some("S256")) if is_challenge(c) => c,
        (Some(_), Some("S256")) => {
            return refuse(
                "invalid_request",
                "code_challenge must be 43 base64url characters (the SHA-256 of the verifier)",
            );
        }
        _ => {
            return refuse(
                "invalid_request",
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            );
        }
    };
    let resource = match get("resource") {
        Some(r) if oauth.is_our_resource(r) => r,
        Some(_) => return refuse("invalid_target", "the resource is not this server"),
        None => {
            return refuse(
                "invalid_target",
                "the resource parameter (RFC 8707) is required: this server's MCP URL",
            );
        }
    };
    let asked = match get("scope") {
        Some(scope) => Grant::parse(scope),
        None => Grant::new(Scope::ALL),
    };
    if asked.scopes().next().is_none() {
        return refuse("invalid_scope", "none of the scopes asked for is offered");
    }
    let cookie = oauth.sealer.random_id();
    let ticket = tokens::Ticket {
        client_id: client_id.to_string(),
        client_name: client.name.clone(),
        redirect_uri: redirect_uri.clone(),
        state: state.map(str::to_string),
        challenge: challenge.to_string(),
        scopes: asked.to_text(),
        resource: resource.to_string(),
        csrf: crate::text::sha256_hex(&cookie),
        expires: oauth.now() + tokens::TICKET_LIFETIME.as_secs() as i64,
    };
    let sealed = oauth.sealer.seal(tokens::TICKET, &ticket);
    let mut resp = show_consent(&oauth, &ticket, &sealed, None, None);
    let secure = if oauth.issuer().starts_with("https:") {
        "; Secure"
    } else {
        ""
    };
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{CSRF_COOKIE}={cookie}; Path=/oauth; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        tokens::TICKET_LIFETIME.as_secs()
    )) {
        resp.headers_mut().insert(header::SET_COOKIE, value);
    }
    resp
}

/// The client a request names and the redirect URI it is to go back to — both checked
/// before anything is sent there — or the error page saying what is wrong.
#[allow(
    clippy::result_large_err,
    reason = "the error is the page to answer with, made once per refused request"
)]
async fn known_client<'q>(
    oauth: &OAuth,
    get: &impl Fn(&str) -> Option<&'q str>,
) -> Result<(&'q str, tokens::Client, String), Response> {
    let refuse = |message: &str| Err(pages::error(StatusCode::BAD_REQUEST, message));
    let Some(client_id) = get("client_id") else {
        return refuse("the request names no client (client_id)");
    };
    let client = if super::cimd::is_document_url(client_id) {
        match super::cimd::fetch(client_id, oauth.allow_private_metadata_urls).await {
            Ok(client) => client,
            Err(why) => return refuse(&format!("the client's metadata cannot be used: {why}")),
        }
    } else {
        match oauth
            .sealer
            .open::<tokens::Client>(tokens::CLIENT, client_id)
        {
            Some(client) => client,
            None => {
                return refuse(
                    "this client is not registered with this server (or was registered with a key it no longer has)",
                );
            }
        }
    };
    let redirect_uri = match get("redirect_uri") {
        Some(uri)
            if client
                .redirect_uris
                .iter()
                .any(|r| redirect_matches(uri, r)) =>
        {
            uri.to_string()
        }
        Some(_) => return refuse("the redirect_uri is not one this client registered"),
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => {
            return refuse("the request names no redirect_uri, and the client registered several");
        }
    };
    Ok((client_id, client, redirect_uri))
}

/// The cookie that ties a consent form to the browser it was shown to.
const CSRF_COOKIE: &str = "pluggedin_mcp_csrf";

fn is_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The consent form for `ticket`, saying `problem`; the boxes ticked as `ticked` (the form
/// as it was sent back), else all.
fn show_consent(
    oauth: &OAuth,
    ticket: &tokens::Ticket,
    sealed: &str,
    problem: Option<&str>,
    ticked: Option<&Grant>,
) -> Response {
    let scopes: Vec<(Scope, bool)> = Grant::parse(&ticket.scopes)
        .scopes()
        .map(|s| (s, ticked.is_none_or(|t| t.has(s))))
        .collect();
    let host = reqwest::Url::parse(&ticket.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| ticket.redirect_uri.clone());
    pages::consent(&pages::Consent {
        client_name: &ticket.client_name,
        redirect_host: &host,
        scopes: &scopes,
        ticket: sealed,
        problem,
        device_flow: !oauth.upstream.is_empty(),
    })
}

/// Whether the request carries the cookie `csrf` is the hash of.
fn same_browser(headers: &HeaderMap, csrf: &str) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| {
            name == CSRF_COOKIE
                && bool::from(subtle::ConstantTimeEq::ct_eq(
                    crate::text::sha256_hex(value).as_bytes(),
                    csrf.as_bytes(),
                ))
        })
}

/// A form or query ticket, opened and checked: unexpired and shown to this browser.
#[allow(
    clippy::result_large_err,
    reason = "the error is the page to answer with, made once per refused request"
)]
fn checked_ticket<T: serde::de::DeserializeOwned>(
    oauth: &OAuth,
    kind: &str,
    sealed: Option<&str>,
    headers: &HeaderMap,
    csrf_of: impl Fn(&T) -> (&str, i64),
) -> Result<T, Response> {
    let expired = || {
        pages::error(
            StatusCode::BAD_REQUEST,
            "this sign-in form has expired or is not valid; start again from your client",
        )
    };
    let opened: T = sealed
        .and_then(|s| oauth.sealer.open(kind, s))
        .ok_or_else(expired)?;
    let (csrf, expires) = csrf_of(&opened);
    if expires <= oauth.now() {
        return Err(expired());
    }
    if !same_browser(headers, csrf) {
        return Err(pages::error(
            StatusCode::FORBIDDEN,
            "this sign-in form was not opened in this browser (or its cookie was blocked); start again from your client",
        ));
    }
    Ok(opened)
}

/// `POST /oauth/authorize`: the consent form sent back — denied, a pasted API key, or the
/// start of Plugged.in's sign-in.
pub(super) async fn consented(
    State(oauth): State<Arc<OAuth>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let sealed = field("ticket");
    let ticket = match checked_ticket(
        &oauth,
        tokens::TICKET,
        sealed,
        &headers,
        |t: &tokens::Ticket| (t.csrf.as_str(), t.expires),
    ) {
        Ok(ticket) => ticket,
        Err(refused) => return refused,
    };
    let sealed = sealed.unwrap_or_default();
    let asked = Grant::parse(&ticket.scopes);
    let granted = Grant::new(
        fields
            .iter()
            .filter(|(n, _)| n == "scope")
            .filter_map(|(_, v)| Scope::parse(v))
            .filter(|s| asked.has(*s)),
    );
    let state = ticket.state.as_deref();
    // A key typed in and sent with Enter arrives with the form's first button (the
    // Plugged.in sign-in): the key says what the user meant.
    let key_given = field("api_key").is_some_and(|k| !k.trim().is_empty());
    let action = match field("action") {
        Some("deny") => Some("deny"),
        _ if key_given => Some("api_key"),
        other => other,
    };
    match action {
        Some("deny") => {
            let mut params = vec![
                ("error", "access_denied"),
                ("error_description", "the user denied the request"),
            ];
            if let Some(state) = state {
                params.push(("state", state));
            }
            back_to_client(&oauth, &ticket.redirect_uri, &params)
        }
        _ if granted.scopes().next().is_none() => show_consent(
            &oauth,
            &ticket,
            sealed,
            Some("Tick at least one thing to allow, or deny."),
            Some(&granted),
        ),
        Some("api_key") => {
            let key = Secret::new(field("api_key").unwrap_or_default().trim());
            let from = crate::listener::client_address(peer.map(|p| p.0.0.ip()), &headers);
            use crate::api::keys::Verdict;
            let problem = match oauth.checks.check(&key, from).await {
                Verdict::Accepted => return issue_code(&oauth, &ticket, &granted, key),
                Verdict::Malformed => {
                    "That is not a Plugged.in API key (they start with pg_in_).".to_string()
                }
                Verdict::Rejected => "Plugged.in does not accept that API key.".to_string(),
                Verdict::Throttled(wait) => format!(
                    "Too many unknown keys from this address; try again in {} s.",
                    wait.as_secs().max(1)
                ),
                Verdict::Unchecked(why) => format!("Plugged.in cannot check the key now: {why}"),
            };
            show_consent(&oauth, &ticket, sealed, Some(&problem), Some(&granted))
        }
        Some("plugged_in") => start_device_flow(&oauth, ticket, granted, sealed).await,
        _ => show_consent(
            &oauth,
            &ticket,
            sealed,
            Some("Choose how to sign in."),
            Some(&granted),
        ),
    }
}

/// Starts Plugged.in's device sign-in and sends the browser to the page that waits for it.
async fn start_device_flow(
    oauth: &OAuth,
    ticket: tokens::Ticket,
    granted: Grant,
    sealed: &str,
) -> Response {
    let started = crate::api::device_flow::initiate(&oauth.http, &oauth.upstream).await;
    let code = match started {
        Ok(code)
            if code.verification_url.starts_with("https://")
                || code.verification_url.starts_with("http://") =>
        {
            code
        }
        Ok(_) => {
            return show_consent(
                oauth,
                &ticket,
                sealed,
                Some(
                    "Plugged.in gave a sign-in page this server will not link to; paste an API key instead.",
                ),
                Some(&granted),
            );
        }
        Err(error) => {
            return show_consent(
                oauth,
                &ticket,
                sealed,
                Some(&format!(
                    "Cannot start the Plugged.in sign-in: {error:#}. Paste an API key instead."
                )),
                Some(&granted),
            );
        }
    };
    let expires = (oauth.now() + code.expires_in.min(30 * 60) as i64).min(ticket.expires + 30 * 60);
    let wait = tokens::Wait {
        ticket,
        granted: granted.to_text(),
        device_code: code.device_code,
        user_code: code.user_code,
        verification_url: code.verification_url,
        interval: code.interval.clamp(2, 30),
        expires,
    };
    let next = wait_url(oauth, &wait);
    Redirect::to(&next).into_response()
}

fn wait_url(oauth: &OAuth, wait: &tokens::Wait) -> String {
    let sealed = oauth.sealer.seal(tokens::WAIT, wait);
    format!("/oauth/wait?t={sealed}")
}

/// `GET /oauth/wait`: asks Plugged.in once whether the sign-in was approved; shows the
/// page again until it is, then returns to the client.
pub(super) async fn wait(
    State(oauth): State<Arc<OAuth>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let wait = match checked_ticket(
        &oauth,
        tokens::WAIT,
        q.get("t").map(String::as_str),
        &headers,
        |w: &tokens::Wait| (w.ticket.csrf.as_str(), w.expires),
    ) {
        Ok(wait) => wait,
        Err(refused) => return refused,
    };
    use crate::api::device_flow::Poll;
    match crate::api::device_flow::poll(&oauth.http, &oauth.upstream, &wait.device_code).await {
        Ok(Poll::Approved(key)) => {
            issue_code(&oauth, &wait.ticket, &Grant::parse(&wait.granted), key)
        }
        Ok(Poll::Pending | Poll::SlowDown(_)) => {
            let next = format!("/oauth/wait?t={}", q["t"]);
            pages::waiting(
                &wait.verification_url,
                &wait.user_code,
                &next,
                wait.interval,
            )
        }
        Err(error) => pages::error(StatusCode::BAD_REQUEST, &format!("{error:#}")),
    }
}

/// Sends the browser back to the client with a code for `key` and `granted`.
fn issue_code(oauth: &OAuth, ticket: &tokens::Ticket, granted: &Grant, key: Secret) -> Response {
    let code = tokens::Code {
        grant: tokens::Grant {
            key: key.expose().to_string(),
            scopes: granted.to_text(),
            resource: ticket.resource.clone(),
            client_id: ticket.client_id.clone(),
        },
        redirect_uri: ticket.redirect_uri.clone(),
        challenge: ticket.challenge.clone(),
        id: oauth.sealer.random_id(),
        expires: oauth.now() + tokens::CODE_LIFETIME.as_secs() as i64,
    };
    let sealed = oauth.sealer.seal(tokens::CODE, &code);
    let mut params = vec![("code", sealed.as_str())];
    if let Some(state) = &ticket.state {
        params.push(("state", state));
    }
    back_to_client(oauth, &ticket.redirect_uri, &params)
}
