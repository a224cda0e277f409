//! The Plugged.in HTTP client: one reqwest client (rustls), Bearer auth, a deadline per call,
//! retries for idempotent requests only, and typed errors. One file per resource adds the
//! typed calls; every tool reaches data through here, in cloud and local mode alike.

pub mod agents;
mod body;
pub mod clipboard;
mod decode;
pub mod device_flow;
pub mod documents;
mod error;
pub mod hub;
pub mod keys;
pub mod memory;
pub mod notifications;
pub mod rag;
mod retry;
mod route;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use reqwest::{Method, Url, header};
use serde::de::DeserializeOwned;

use body::{content_type, decode_stream, read_capped, read_prefix};
pub(crate) use decode::{Preview, decode, lenient_u64};
pub use error::ApiError;
use error::ErrorContext;
use retry::{backoff, parse_retry_after};
use route::{method_name, route_label};

use crate::{redact::Scrubber, secret::Secret};

/// How the client talks to Plugged.in: a deadline per call (retries included) and how many
/// times an idempotent request is retried.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub timeout: Duration,
    pub max_retries: u32,
}

/// An attempt slower than this is reported as a slow upstream call.
const SLOW_CALL: Duration = Duration::from_secs(2);
/// Largest success body read into memory: a 10 MiB document, base64-encoded or escaped,
/// with room to spare. A bigger answer is refused with an error that says so.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// Largest success body decoded as a stream (lists whose values are cut while decoding, so
/// memory stays at one value at a time however large the answer).
pub const MAX_STREAMED_RESPONSE_BYTES: usize = 512 * 1024 * 1024;
/// Error bodies are only quoted (a few hundred characters), so little of them is read.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Something worth telling the user about while a call is in flight.
#[derive(Debug, Clone)]
pub enum UpstreamEvent {
    /// A failed attempt of an idempotent request will be retried after `delay`.
    Retrying {
        what: String,
        attempt: u32,
        max_attempts: u32,
        delay: Duration,
        reason: String,
    },
    /// An attempt took longer than [`SLOW_CALL`].
    Slow { what: String, elapsed: Duration },
}

impl std::fmt::Display for UpstreamEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamEvent::Retrying {
                what,
                attempt,
                max_attempts,
                delay,
                reason,
            } => write!(
                f,
                "Plugged.in request {what} failed (attempt {attempt} of {max_attempts}): {reason}; retrying in {} ms",
                delay.as_millis()
            ),
            UpstreamEvent::Slow { what, elapsed } => {
                write!(
                    f,
                    "Plugged.in request {what} was slow: {:.1} s",
                    elapsed.as_secs_f64()
                )
            }
        }
    }
}

pub type Observer = Arc<dyn Fn(UpstreamEvent) + Send + Sync>;

/// Where the client's key came from, which decides what a 401 asks the user to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `PLUGGEDIN_API_KEY` or `--api-key-file` (or the embedded API's own key).
    Configured,
    /// The MCP client's bearer token (`--auth passthrough`).
    Passthrough,
}

impl KeySource {
    fn unauthorized_hint(self) -> &'static str {
        match self {
            KeySource::Configured => {
                "Check PLUGGEDIN_API_KEY (or --api-key-file); keys start with pg_in_ and are created in Plugged.in under Settings → API keys."
            }
            KeySource::Passthrough => {
                "This server forwards your MCP client's bearer token to Plugged.in as its API key: check the token in your client's configuration (`Authorization: Bearer pg_in_…`); keys are created in Plugged.in under Settings → API keys."
            }
        }
    }
}

/// A Plugged.in API client. Cheap to clone; clones share the connection pool.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    key: Secret,
    key_source: KeySource,
    observer: Option<Observer>,
    /// Told when Plugged.in answers 401: the key no longer works.
    on_rejected: Option<Arc<dyn Fn() + Send + Sync>>,
}

struct Shared {
    /// Built on first use ([`http_client`]): starting never pays for loading the system's
    /// TLS roots, and a plain-HTTP base (local mode) never loads them at all.
    http: std::sync::OnceLock<Result<reqwest::Client, String>>,
    base: Url,
    /// `scheme://host[:port]`, sent as `Origin` on document updates: Plugged.in refuses a
    /// document PATCH without an allowed `Origin` and an `X-Requested-With` header.
    origin: String,
    settings: ClientSettings,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base_url())
            .field("key", &self.key)
            .finish()
    }
}

/// One request to make: method, path segments (escaped when the URL is built), query,
/// JSON body, and whether it may be retried.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    method: Method,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    /// The JSON body, serialized once when the request is made: a retry sends the same bytes,
    /// and a large value (a document) is never held twice as a JSON tree.
    body: Option<bytes::Bytes>,
    idempotent: bool,
    csrf: bool,
}

impl Request {
    fn new(method: Method, segments: &[&str]) -> Self {
        let idempotent = matches!(method, Method::GET | Method::PUT | Method::DELETE);
        Self {
            method,
            segments: segments.iter().map(|s| s.to_string()).collect(),
            query: Vec::new(),
            body: None,
            idempotent,
            csrf: false,
        }
    }
    pub(crate) fn get(segments: &[&str]) -> Self {
        Self::new(Method::GET, segments)
    }
    pub(crate) fn post(segments: &[&str], body: impl serde::Serialize) -> Self {
        Self::new(Method::POST, segments).body(body)
    }
    pub(crate) fn patch(segments: &[&str], body: impl serde::Serialize) -> Self {
        Self::new(Method::PATCH, segments).body(body)
    }
    pub(crate) fn delete(segments: &[&str]) -> Self {
        Self::new(Method::DELETE, segments)
    }
    pub(crate) fn body(mut self, body: impl serde::Serialize) -> Self {
        // Our bodies are plain structs and maps: serializing them cannot fail.
        self.body = Some(serde_json::to_vec(&body).unwrap_or_default().into());
        self
    }
    pub(crate) fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_string(), value.to_string()));
        self
    }
    /// Marks a POST that only reads (search, RAG) as safe to retry.
    pub(crate) fn read_only(mut self) -> Self {
        self.idempotent = true;
        self
    }
    /// Marks a DELETE or PATCH that must not be repeated (e.g. a toggle).
    pub(crate) fn not_retried(mut self) -> Self {
        self.idempotent = false;
        self
    }
    /// Sends `Origin` and `X-Requested-With`, which the document PATCH route requires.
    pub(crate) fn csrf(mut self) -> Self {
        self.csrf = true;
        self
    }
    fn describe(&self) -> String {
        format!("{} /{}", self.method, self.segments.join("/"))
    }
}

/// A successful answer.
pub(crate) struct Reply {
    pub content_type: String,
    pub body: bytes::Bytes,
}

impl Client {
    pub fn new(base_url: &str, key: Secret, settings: ClientSettings) -> anyhow::Result<Self> {
        install_crypto_provider();
        let base = Url::parse(base_url.trim_end_matches('/'))
            .with_context(|| format!("invalid Plugged.in base URL: {base_url}"))?;
        let origin = base.origin().ascii_serialization();
        Ok(Self {
            shared: Arc::new(Shared {
                http: std::sync::OnceLock::new(),
                base,
                origin,
                settings,
            }),
            key,
            key_source: KeySource::Configured,
            observer: None,
            on_rejected: None,
        })
    }

    /// The HTTP client, built on first use: building it loads the system's certificates
    /// (milliseconds of CPU, hundreds of file reads), which nothing before the first call
    /// to Plugged.in needs.
    fn http(&self) -> Result<&reqwest::Client, &String> {
        self.shared
            .http
            .get_or_init(|| {
                http_client(
                    self.shared.base.scheme() == "https",
                    self.shared.settings.timeout,
                )
                // reqwest says only "builder error"; the reason (no CA certificates, …)
                // is in its sources.
                .map_err(|e| {
                    let mut detail = e.to_string();
                    let mut source = std::error::Error::source(&e);
                    while let Some(cause) = source {
                        detail = format!("{detail}: {cause}");
                        source = cause.source();
                    }
                    detail
                })
            })
            .as_ref()
    }

    /// Builds the HTTP client on a blocking thread, so that the thread serving MCP (over
    /// stdio, the only one) answers `initialize` while the certificates load.
    pub async fn warm_up(&self) {
        let client = self.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let _ = client.http();
        })
        .await;
    }

    /// The same client with a client's own key (`--auth passthrough`).
    pub fn with_passthrough_key(&self, key: Secret) -> Self {
        Self {
            key,
            key_source: KeySource::Passthrough,
            ..self.clone()
        }
    }

    /// Removes this client's key, and anything shaped like a credential, from text.
    pub fn scrubber(&self) -> Scrubber {
        Scrubber::new([self.key.expose()])
    }

    /// The same client, reporting retries and slow calls to `observer`.
    pub fn observed(&self, observer: Observer) -> Self {
        Self {
            observer: Some(observer),
            ..self.clone()
        }
    }

    /// The same client, calling `hook` whenever Plugged.in rejects its key (401).
    pub fn on_rejected(&self, hook: Arc<dyn Fn() + Send + Sync>) -> Self {
        Self {
            on_rejected: Some(hook),
            ..self.clone()
        }
    }

    /// The base URL without any user info, safe to show.
    pub fn base_url(&self) -> String {
        let mut u = self.shared.base.clone();
        let _ = u.set_username("");
        let _ = u.set_password(None);
        u.as_str().trim_end_matches('/').to_string()
    }

    /// A short, irreversible fingerprint of the key, for keying per-user caches.
    pub fn key_fingerprint(&self) -> String {
        crate::text::sha256_hex(self.key.expose())[..16].to_string()
    }

    pub fn timeout(&self) -> Duration {
        self.shared.settings.timeout
    }

    fn url(&self, req: &Request) -> Url {
        let mut url = self.shared.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            // Each segment is percent-encoded here, so an id like `../x` stays one segment.
            path.extend(req.segments.iter());
        }
        if !req.query.is_empty() {
            url.query_pairs_mut().extend_pairs(req.query.iter());
        }
        url
    }

    fn notify(&self, event: UpstreamEvent) {
        tracing::warn!("{event}");
        if let Some(observer) = &self.observer {
            observer(event);
        }
    }

    /// Sends `req`, retrying an idempotent one on connect errors, 429 and 5xx with
    /// exponential backoff and jitter (or `Retry-After`), all within one deadline; reads a
    /// success body into memory (at most [`MAX_RESPONSE_BYTES`]).
    pub(crate) async fn send(&self, req: Request) -> Result<Reply, ApiError> {
        let scrubber = self.scrubber();
        self.send_with(req, move |resp| {
            let scrubber = scrubber.clone();
            async move {
                let content_type = content_type(&resp);
                let body = read_capped(resp, MAX_RESPONSE_BYTES, &scrubber).await?;
                Ok(Reply { content_type, body })
            }
        })
        .await
    }

    /// Like [`Client::send`], with `read` turning a success response into the answer (it
    /// runs within the same deadline; its failures are not retried).
    async fn send_with<T, F, Fut>(&self, req: Request, read: F) -> Result<T, ApiError>
    where
        F: Fn(reqwest::Response) -> Fut,
        Fut: std::future::Future<Output = Result<T, ApiError>>,
    {
        let timeout = self.shared.settings.timeout;
        let deadline = Instant::now() + timeout;
        let max_attempts = if req.idempotent {
            self.shared.settings.max_retries + 1
        } else {
            1
        };
        let what = req.describe();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let started = Instant::now();
            let outcome = tokio::time::timeout_at(deadline.into(), async {
                let resp = self.attempt(&req).await?;
                read(resp).await.map_err(|error| Failure::Transport {
                    error,
                    connect: false,
                })
            })
            .await
            .unwrap_or(Err(Failure::Transport {
                error: ApiError::Timeout { after: timeout },
                connect: false,
            }));
            let elapsed = started.elapsed();
            if elapsed >= SLOW_CALL {
                self.notify(UpstreamEvent::Slow {
                    what: what.clone(),
                    elapsed,
                });
            }
            let (error, retry_after, retryable) = match outcome {
                Ok(answer) => return Ok(answer),
                Err(Failure::Status { error, .. })
                    if matches!(error, ApiError::Unauthorized { .. }) =>
                {
                    if let Some(hook) = &self.on_rejected {
                        hook();
                    }
                    return Err(error);
                }
                Err(Failure::Status { error, retry_after }) => {
                    let retryable = matches!(error.status(), Some(429 | 500..=599));
                    (error, retry_after, retryable)
                }
                Err(Failure::Transport { error, connect }) => (error, None, connect),
            };
            if !retryable || attempt >= max_attempts || matches!(error, ApiError::Timeout { .. }) {
                return Err(error);
            }
            let delay = retry_after.unwrap_or_else(|| backoff(attempt));
            if Instant::now() + delay >= deadline {
                // No time left to wait it out: say when to come back instead.
                return Err(error);
            }
            crate::metrics::upstream_retry();
            self.notify(UpstreamEvent::Retrying {
                what: what.clone(),
                attempt,
                max_attempts,
                delay,
                reason: error.to_string(),
            });
            tokio::time::sleep(delay).await;
        }
    }

    /// One attempt: a success response with its body still unread, or the failure.
    async fn attempt(&self, req: &Request) -> Result<reqwest::Response, Failure> {
        let mut auth = header::HeaderValue::from_str(&format!("Bearer {}", self.key.expose()))
            .map_err(|_| Failure::Transport {
                error: ApiError::Unauthorized {
                    message:
                        "the API key contains characters that cannot be sent in an HTTP header"
                            .into(),
                    hint: self.key_source.unauthorized_hint().into(),
                },
                connect: false,
            })?;
        auth.set_sensitive(true);
        if self.shared.http.get().is_none() {
            // Built off this thread (see `warm_up`): a call that comes first waits for it
            // without holding up the thread's other work.
            self.warm_up().await;
        }
        let http = self.http().map_err(|detail| Failure::Transport {
            error: ApiError::Unreachable {
                base: self.base_url(),
                detail: format!("cannot set up HTTPS: {detail}"),
            },
            connect: false,
        })?;
        let mut builder = http
            .request(req.method.clone(), self.url(req))
            .header(header::AUTHORIZATION, auth)
            .header(header::ACCEPT, "application/json");
        if req.csrf {
            builder = builder
                .header(header::ORIGIN, &self.shared.origin)
                .header("X-Requested-With", "XMLHttpRequest");
        }
        if let Some(id) = crate::request_id::current() {
            builder = builder.header(crate::request_id::HEADER, id);
        }
        if let Some(body) = &req.body {
            builder = builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let started = Instant::now();
        let sent = builder.send().await;
        crate::metrics::upstream_request(
            method_name(&req.method),
            route_label(&req.segments),
            sent.as_ref().ok().map(|r| r.status().as_u16()),
            started.elapsed(),
        );
        let resp = sent.map_err(|e| self.transport_failure(&e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let retry_after = resp
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let scrubber = self.scrubber();
        // What an error body says is quoted in a few hundred characters: a bounded read.
        let body = read_prefix(resp, MAX_ERROR_BODY_BYTES).await;
        Err(Failure::Status {
            error: ApiError::from_response(
                status.as_u16(),
                retry_after,
                &body,
                &ErrorContext {
                    scrubber: &scrubber,
                    unauthorized_hint: self.key_source.unauthorized_hint(),
                },
            ),
            retry_after,
        })
    }

    fn transport_failure(&self, e: &reqwest::Error) -> Failure {
        let connect = e.is_connect();
        let error = if e.is_timeout() {
            ApiError::Timeout {
                after: self.shared.settings.timeout,
            }
        } else {
            ApiError::Unreachable {
                base: self.base_url(),
                detail: self.scrubber().scrub(&root_cause(e)).into_owned(),
            }
        };
        Failure::Transport { error, connect }
    }

    /// Sends `req` and decodes a JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(&self, req: Request) -> Result<T, ApiError> {
        let reply = self.send(req).await?;
        decode(&reply.body, &self.scrubber())
    }

    /// Sends `req` and decodes a JSON answer as it streams in, without holding the body:
    /// for lists whose types cut long values while decoding ([`Preview`]), so memory stays
    /// at one value however large the answer (up to [`MAX_STREAMED_RESPONSE_BYTES`]).
    pub(crate) async fn json_streamed<T>(&self, req: Request) -> Result<T, ApiError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let scrubber = self.scrubber();
        self.send_with(req, |resp| {
            let scrubber = scrubber.clone();
            async move { decode_stream(resp, MAX_STREAMED_RESPONSE_BYTES, scrubber).await }
        })
        .await
    }
}

/// An HTTP client of ours: for an `https` peer with the system's TLS roots (loaded now:
/// build it when the first such request is made), for a plain-HTTP one with none, so a
/// machine without a CA store (a minimal container) runs local mode and loopback servers.
pub fn http_client(https: bool, connect_timeout: Duration) -> reqwest::Result<reqwest::Client> {
    install_crypto_provider();
    let builder = reqwest::Client::builder()
        .user_agent(concat!("pluggedin-mcp/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(connect_timeout.min(Duration::from_secs(10)))
        .pool_idle_timeout(Duration::from_secs(60));
    if https {
        builder.build()
    } else {
        builder.tls_certs_only(Vec::new()).build()
    }
}

/// rustls needs a process-wide crypto provider before any reqwest client is built (this
/// one, or a test's or benchmark's own); we use ring (see Cargo.toml). Calling it again is
/// harmless.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

enum Failure {
    Status {
        error: ApiError,
        retry_after: Option<Duration>,
    },
    Transport {
        error: ApiError,
        connect: bool,
    },
}

/// The innermost error message (e.g. "Connection refused (os error 111)"), without the
/// request URL reqwest puts in its own message.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> Client {
        Client::new(
            base,
            Secret::new("pg_in_test"),
            ClientSettings {
                timeout: Duration::from_secs(1),
                max_retries: 2,
            },
        )
        .unwrap()
    }

    #[test]
    fn path_segments_are_escaped() {
        let c = client("https://plugged.in");
        let url = c.url(&Request::get(&[
            "api",
            "notifications",
            "../agents",
            "read",
        ]));
        assert_eq!(
            url.as_str(),
            "https://plugged.in/api/notifications/..%2Fagents/read"
        );
        let q = c.url(&Request::get(&["api", "clipboard"]).query("name", "a b&c"));
        assert_eq!(q.as_str(), "https://plugged.in/api/clipboard?name=a+b%26c");
    }

    #[test]
    fn base_paths_are_kept_and_credentials_hidden() {
        let c = client("https://user:pw@example.com/prefix/");
        assert_eq!(
            c.url(&Request::get(&["api", "agents"])).path(),
            "/prefix/api/agents"
        );
        assert_eq!(c.base_url(), "https://example.com/prefix");
        assert!(!format!("{c:?}").contains("pg_in_test"));
    }
}
