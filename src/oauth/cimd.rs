//! Client ID Metadata Documents: a client whose `client_id` is an https URL publishes its
//! metadata there (Claude does; the 2026-07-28 revision prefers it to registration). The
//! document is fetched with a bound on time and size, never from a private address (unless
//! `--oauth-allow-private-metadata-urls`, for tests and private networks) — the address is
//! checked once and then used, so a name cannot resolve to a public address for the check
//! and a private one for the fetch — and never through a redirect.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use serde_json::Value;

use super::{
    register::{client_name, redirect_uris},
    tokens,
};

/// The largest document read, and how long the fetch may take.
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024;
const FETCH_TIME: Duration = Duration::from_secs(5);

/// Whether `client_id` names a metadata document rather than a registered client.
pub fn is_document_url(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// The client `url` describes, or why it cannot be used.
pub async fn fetch(url: &str, allow_private: bool) -> Result<tokens::Client, String> {
    let parsed = reqwest::Url::parse(url).map_err(|_| format!("{url} is not a URL"))?;
    let secure = parsed.scheme() == "https";
    if !secure && !allow_private {
        return Err("a client metadata document must be served over https".into());
    }
    if parsed.path() == "/" || parsed.fragment().is_some() || parsed.username() != "" {
        return Err("a client metadata URL has a path, no fragment and no user".into());
    }
    let host = parsed
        .host_str()
        .ok_or("the client metadata URL has no host")?;
    let port = parsed.port_or_known_default().unwrap_or(443);
    let address = tokio::time::timeout(FETCH_TIME, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| format!("looking up {host} took too long"))?
        .map_err(|_| format!("{host} does not resolve"))?
        .next()
        .ok_or_else(|| format!("{host} does not resolve"))?;
    if is_private(address.ip()) && !allow_private {
        return Err(format!(
            "{host} is a private address: a client metadata document must be public"
        ));
    }
    let body = get_bounded(&parsed, host, address, secure).await?;
    let document: Value = serde_json::from_slice(&body)
        .map_err(|_| "the client metadata document is not JSON".to_string())?;
    client_of(url, &document)
}

async fn get_bounded(
    url: &reqwest::Url,
    host: &str,
    address: SocketAddr,
    secure: bool,
) -> Result<Vec<u8>, String> {
    crate::api::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("pluggedin-mcp/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(FETCH_TIME)
        .resolve(host, address);
    if !secure {
        builder = builder.tls_certs_only(Vec::new());
    }
    let http = builder
        .build()
        .map_err(|e| format!("cannot set up HTTP: {e}"))?;
    let mut resp = http
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|_| "the client metadata document could not be fetched".to_string())?;
    if !resp.status().is_success() {
        return Err(format!(
            "the client metadata document answered {}",
            resp.status().as_u16()
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|_| "the client metadata document could not be read".to_string())?
    {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(format!(
                "the client metadata document is larger than {MAX_DOCUMENT_BYTES} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The client a document describes: its `client_id` must be the URL it came from.
fn client_of(url: &str, document: &Value) -> Result<tokens::Client, String> {
    if document.get("client_id").and_then(Value::as_str) != Some(url) {
        return Err("the client metadata document's client_id is not its own URL".into());
    }
    let uris = redirect_uris(document)?;
    let name = client_name(document).unwrap_or_else(|| {
        reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default()
    });
    Ok(tokens::Client {
        redirect_uris: uris,
        name,
        issued_at: 0,
    })
}

/// Addresses no public client's document lives at: loopback, private, link-local,
/// carrier-grade NAT, unspecified, multicast (and the same inside IPv6).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || (a == 100 && (64..128).contains(&b))
                || a == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_known() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_private(private.parse().unwrap()), "{private}");
        }
        for public in ["1.1.1.1", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_private(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn a_document_must_name_itself_and_its_redirects() {
        let url = "https://client.example/meta.json";
        let good = serde_json::json!({"client_id": url, "client_name": "Example", "redirect_uris": ["https://client.example/cb"]});
        assert_eq!(client_of(url, &good).unwrap().name, "Example");
        let other = serde_json::json!({"client_id": "https://evil.example/x", "redirect_uris": ["https://client.example/cb"]});
        assert!(client_of(url, &other).is_err());
        let bad = serde_json::json!({"client_id": url, "redirect_uris": ["javascript:alert(1)"]});
        assert!(client_of(url, &bad).is_err());
    }

    #[tokio::test]
    async fn a_private_address_is_refused_without_the_flag() {
        let error = fetch("http://127.0.0.1:9/client.json", false)
            .await
            .unwrap_err();
        assert!(error.contains("https"), "{error}");
        let error = fetch("https://127.0.0.1:9/client.json", false)
            .await
            .unwrap_err();
        assert!(error.contains("private"), "{error}");
    }
}
