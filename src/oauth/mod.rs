//! `--auth oauth`: the HTTP server as an OAuth 2.1 protected resource and its own
//! authorization server, so the clients that sign in rather than take a header (Claude's
//! and ChatGPT's custom connectors, `claude mcp add --transport http`) can use it.
//!
//! Sign-in is Plugged.in's: the consent page starts Plugged.in's device flow (or takes a
//! pasted API key), checks the key with Plugged.in, and seals it into the tokens it issues
//! ([`seal`]); a request with such a token is then served exactly as a passthrough client
//! of that key, narrowed to the scopes granted ([`crate::tools::Grant`]).

mod cimd;
mod consent;
mod endpoints;
mod pages;
mod register;
pub mod seal;
mod token;
mod tokens;

use std::sync::{Arc, Mutex};

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{
    api::keys::KeyChecks,
    clock::Clock,
    secret::Secret,
    tools::{Grant, Scope},
};

pub use endpoints::router;

/// How the authorization server is set up.
pub struct OAuthSettings {
    /// Where clients reach this server (`--public-url`): the issuer, and the resource is
    /// its `/mcp`.
    pub public_url: String,
    /// Seals every token (`--oauth-key-file`, else a key made for this run).
    pub sealer: seal::Sealer,
    /// Plugged.in, whose device flow signs users in.
    pub upstream: String,
    pub clock: Clock,
    /// Client metadata documents may be fetched from private addresses (and over http):
    /// for tests and private networks only.
    pub allow_private_metadata_urls: bool,
}

/// The authorization server and the check of its tokens.
pub struct OAuth {
    issuer: String,
    sealer: seal::Sealer,
    upstream: String,
    http: reqwest::Client,
    checks: Arc<KeyChecks>,
    ledger: Mutex<tokens::Ledger>,
    clock: Clock,
    allow_private_metadata_urls: bool,
}

impl std::fmt::Debug for OAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// What a request with a good token may do: the key it stands for, and what was granted.
pub struct Signed {
    pub key: Secret,
    pub grant: Grant,
}

impl OAuth {
    /// `checks` are Plugged.in's verdicts on keys (shared with the passthrough door).
    pub fn new(settings: OAuthSettings, checks: Arc<KeyChecks>) -> anyhow::Result<Arc<Self>> {
        let issuer = public_base(&settings.public_url)?;
        let http = crate::api::http_client(
            settings.upstream.starts_with("https:"),
            std::time::Duration::from_secs(10),
        )?;
        Ok(Arc::new(OAuth {
            issuer,
            sealer: settings.sealer,
            upstream: settings.upstream.trim_end_matches('/').to_string(),
            http,
            checks,
            ledger: Mutex::default(),
            clock: settings.clock,
            allow_private_metadata_urls: settings.allow_private_metadata_urls,
        }))
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The MCP endpoint clients are told to use.
    pub fn resource(&self) -> String {
        format!("{}/mcp", self.issuer)
    }

    /// The resources a token of ours may be bound to: this server's URLs.
    fn is_our_resource(&self, resource: &str) -> bool {
        let resource = resource.trim_end_matches('/');
        resource == self.issuer
            || ["/mcp", "/sse"]
                .iter()
                .any(|path| resource == format!("{}{path}", self.issuer))
    }

    /// Paths that need no token: discovery and the authorization server itself.
    pub fn is_open(path: &str) -> bool {
        path.starts_with("/.well-known/oauth-") || path.starts_with("/oauth/")
    }

    fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, tokens::Ledger> {
        self.ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The key and grant of a request's bearer token, or the 401 that tells the client
    /// where to sign in (RFC 9728 §5.1).
    pub async fn authenticate(
        &self,
        path: &str,
        bearer: Option<&str>,
        from: Option<std::net::IpAddr>,
    ) -> Result<Signed, Response> {
        let Some(token) = bearer else {
            return Err(self.unauthorized(path, None));
        };
        let access: tokens::Access = self
            .sealer
            .open(tokens::ACCESS, token)
            .ok_or_else(|| self.unauthorized(path, Some("the access token is not valid")))?;
        if access.expires <= self.now() {
            return Err(self.unauthorized(path, Some("the access token has expired")));
        }
        if !self.is_our_resource(&access.grant.resource) {
            return Err(self.unauthorized(path, Some("the access token is for another resource")));
        }
        if self.ledger().is_revoked(&access.id, &access.family) {
            return Err(self.unauthorized(path, Some("the access token was revoked")));
        }
        let key = Secret::new(access.grant.key);
        use crate::api::keys::Verdict;
        match self.checks.check(&key, from).await {
            Verdict::Accepted => Ok(Signed {
                key,
                grant: Grant::parse(&access.grant.scopes),
            }),
            // Revoked in Plugged.in since: the client must sign in again.
            Verdict::Rejected | Verdict::Malformed => Err(self.unauthorized(
                path,
                Some("Plugged.in no longer accepts the key this sign-in gave"),
            )),
            Verdict::Throttled(_) | Verdict::Unchecked(_) => Err(jsonrpc_unavailable()),
        }
    }

    /// 401 with `WWW-Authenticate: Bearer resource_metadata=…, scope=…` (and
    /// `error="invalid_token"` when a token was presented).
    fn unauthorized(&self, path: &str, problem: Option<&str>) -> Response {
        let metadata = format!(
            "{}/.well-known/oauth-protected-resource{}",
            self.issuer,
            if path == "/mcp" { "/mcp" } else { "" }
        );
        let scopes = offered_scopes().join(" ");
        let mut challenge = format!(r#"Bearer resource_metadata="{metadata}", scope="{scopes}""#);
        if let Some(problem) = problem {
            challenge.push_str(&format!(
                r#", error="invalid_token", error_description="{problem}""#
            ));
        }
        let message = problem.unwrap_or("Unauthorized: sign in (OAuth) to use this server");
        let mut resp = (
            StatusCode::UNAUTHORIZED,
            Json(json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32001, "message": message}})),
        )
            .into_response();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }
}

fn jsonrpc_unavailable() -> Response {
    let mut resp = (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32000, "message": "Cannot check this sign-in with Plugged.in now; retry shortly"}})),
    )
        .into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    resp
}

/// Every scope this server grants, by name.
pub fn offered_scopes() -> Vec<&'static str> {
    Scope::ALL.iter().map(|s| s.name()).collect()
}

/// `--public-url` as the issuer: an http(s) origin, no path, query or fragment (the
/// well-known documents are at its root).
pub fn public_base(url: &str) -> anyhow::Result<String> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| anyhow::anyhow!("--public-url {url} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        anyhow::bail!("--public-url must be https:// (or http:// on loopback), got {url}");
    }
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if parsed.scheme() == "http" && !loopback {
        anyhow::bail!(
            "--public-url must be https:// unless it is a loopback address (OAuth 2.1 sends tokens only over TLS), got {url}"
        );
    }
    let path = parsed.path().trim_end_matches('/');
    let path = path.strip_suffix("/mcp").unwrap_or(path);
    if !path.is_empty() || parsed.query().is_some() || parsed.fragment().is_some() {
        anyhow::bail!(
            "--public-url is where clients reach this server, without a path (its MCP endpoint is /mcp), got {url}"
        );
    }
    Ok(parsed.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An OAuth server whose Plugged.in is never reached (what these tests refuse is
    /// refused before any key is checked), on a clock the test moves.
    fn server(clock: Clock) -> Arc<OAuth> {
        let client = crate::api::Client::new(
            "http://127.0.0.1:9",
            Secret::new(""),
            crate::api::ClientSettings {
                timeout: std::time::Duration::from_secs(1),
                max_retries: 0,
            },
        )
        .unwrap();
        OAuth::new(
            OAuthSettings {
                public_url: "https://mcp.example.com".into(),
                sealer: seal::Sealer::ephemeral().unwrap(),
                upstream: "http://127.0.0.1:9".into(),
                clock,
                allow_private_metadata_urls: false,
            },
            KeyChecks::new(client),
        )
        .unwrap()
    }

    fn access(oauth: &OAuth, resource: &str, lifetime: i64) -> String {
        oauth.sealer.seal(
            tokens::ACCESS,
            &tokens::Access {
                grant: tokens::Grant {
                    key: "pg_in_k".into(),
                    scopes: "clipboard:read".into(),
                    resource: resource.into(),
                    client_id: "c".into(),
                },
                id: "a1".into(),
                family: "f1".into(),
                expires: oauth.now() + lifetime,
            },
        )
    }

    async fn refused(oauth: &OAuth, token: Option<&str>) -> String {
        let Err(resp) = oauth.authenticate("/mcp", token, None).await else {
            panic!("accepted");
        };
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        resp.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn expired_foreign_and_missing_tokens_get_a_401_saying_where_to_sign_in() {
        let clock = Clock::default();
        let oauth = server(clock.clone());
        let missing = refused(&oauth, None).await;
        assert!(missing.contains(
            r#"resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#
        ));
        assert!(!missing.contains("invalid_token"), "{missing}");
        let token = access(&oauth, "https://mcp.example.com/mcp", 60);
        clock.advance(std::time::Duration::from_secs(61));
        assert!(refused(&oauth, Some(&token)).await.contains("expired"));
        let elsewhere = access(&oauth, "https://other.example.com/mcp", 60);
        assert!(
            refused(&oauth, Some(&elsewhere))
                .await
                .contains("another resource")
        );
        assert!(
            refused(&oauth, Some("k1.garbage"))
                .await
                .contains("invalid_token")
        );
    }

    #[test]
    fn the_public_url_is_an_origin() {
        assert_eq!(
            public_base("https://mcp.example.com/mcp").unwrap(),
            "https://mcp.example.com"
        );
        assert_eq!(
            public_base("http://127.0.0.1:8081/").unwrap(),
            "http://127.0.0.1:8081"
        );
        for bad in [
            "http://mcp.example.com",
            "https://mcp.example.com/prefix",
            "ftp://x",
            "nonsense",
        ] {
            assert!(public_base(bad).is_err(), "{bad}");
        }
    }
}
