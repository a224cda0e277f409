//! Opening a connection to a downstream server: its transport (a child process over
//! stdio, Streamable HTTP, or legacy HTTP+SSE), tapped for progress, and the handshake in
//! the protocol revision its configuration asks for.
//!
//! By default the hub speaks 2025-11-25 (`initialize`): every server today speaks it, and
//! in it a server may ask its client things during a call whatever revision the hub's own
//! client speaks. A server that refuses `initialize` (a 2026-07-28-only server) is spoken
//! to in 2026-07-28 (`server/discover`), and remembered as such. `"protocolVersion"` in
//! its entry picks one.

use std::sync::atomic::{AtomicBool, Ordering};

use rmcp::{
    RoleClient,
    model::{ClientCapabilities, ErrorCode, ProtocolVersion},
    service::{ClientInitializeError, ClientLifecycleMode, ClientServiceExt, Peer, RunningService},
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};

use super::{Downstream, listener::Listener};
use crate::hub::{
    spec::{Protocol, Transport},
    tap::Tapped,
};

/// Environment a child inherits from us; everything else comes from its configuration.
const INHERITED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "TEMP",
    "TMP",
    "SYSTEMROOT",
    "APPDATA",
    "LOCALAPPDATA",
    "USERPROFILE",
    "PROGRAMDATA",
];

pub type Service = RunningService<RoleClient, Listener>;

/// The buffer of an in-memory server's pipe each way (a message larger than it is written
/// in pieces).
const MEMORY_PIPE_BYTES: usize = 64 * 1024;

/// One live connection to a server. Closed (its child killed) when the last holder drops
/// it: the supervisor, and each call running on it.
pub struct Connection {
    pub peer: Peer<RoleClient>,
    /// It speaks 2026-07-28: capabilities and log level go with each request, and list
    /// changes and resource updates come through `subscriptions/listen`.
    pub modern: bool,
    /// What it was told the hub's client can do (once, at connect, on 2025-11-25).
    pub promised: ClientCapabilities,
    cancel: std::sync::Mutex<Option<rmcp::service::RunningServiceCancellationToken>>,
}

impl Connection {
    pub(super) fn new(service: &Service, promised: ClientCapabilities) -> Self {
        let peer = service.peer().clone();
        let modern = peer
            .peer_info()
            .is_some_and(|info| !info.protocol_version.has_initialize());
        Self {
            peer,
            modern,
            promised,
            cancel: std::sync::Mutex::new(Some(service.cancellation_token())),
        }
    }

    /// Its protocol revision, for status reports.
    pub fn protocol(&self) -> Option<String> {
        self.peer
            .peer_info()
            .map(|info| info.protocol_version.to_string())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let cancel = self
            .cancel
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(cancel) = cancel {
            cancel.cancel();
        }
    }
}

/// Why a handshake did not succeed.
pub(super) enum OpenError {
    /// The server refused `initialize` (it may speak only 2026-07-28).
    Refused(String),
    Other(String),
}

impl OpenError {
    pub fn into_reason(self) -> String {
        match self {
            OpenError::Refused(reason) | OpenError::Other(reason) => reason,
        }
    }
}

impl Downstream {
    /// Connects and completes the handshake, in the revision the configuration asks for (or
    /// the one this server was found to speak).
    pub(super) async fn open(
        &self,
        listener: Listener,
        modern_only: &AtomicBool,
    ) -> Result<Service, String> {
        let lifecycle = |modern| {
            if modern {
                ClientLifecycleMode::Discover {
                    preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                }
            } else {
                ClientLifecycleMode::Initialize
            }
        };
        match self.spec.protocol {
            Protocol::V2025 => self
                .handshake(listener, lifecycle(false))
                .await
                .map_err(OpenError::into_reason),
            Protocol::V2026 => self
                .handshake(listener, lifecycle(true))
                .await
                .map_err(OpenError::into_reason),
            Protocol::Auto if modern_only.load(Ordering::Relaxed) => self
                .handshake(listener, lifecycle(true))
                .await
                .map_err(OpenError::into_reason),
            Protocol::Auto => match self.handshake(listener.clone(), lifecycle(false)).await {
                Ok(service) => Ok(service),
                Err(OpenError::Refused(why)) => {
                    tracing::info!(server = %self.spec.name, "refused initialize ({why}); trying 2026-07-28");
                    let service = self
                        .handshake(listener, lifecycle(true))
                        .await
                        .map_err(|e| format!("{why}; and 2026-07-28: {}", e.into_reason()))?;
                    modern_only.store(true, Ordering::Relaxed);
                    Ok(service)
                }
                Err(other) => Err(other.into_reason()),
            },
        }
    }

    async fn handshake(
        &self,
        listener: Listener,
        lifecycle: ClientLifecycleMode,
    ) -> Result<Service, OpenError> {
        let relay = listener.relay.clone();
        // What failed, in the words of the transport (a URL is not repeated: it may carry a
        // token).
        let outcome = match &self.spec.transport {
            Transport::Stdio { .. } => {
                let transport = self.spawn().await.map_err(OpenError::Other)?;
                listener
                    .serve_with_lifecycle(Tapped::new(transport, relay), lifecycle)
                    .await
                    .map_err(|e| ("initialize failed", e))
            }
            Transport::Http { url, headers } => {
                let custom: std::collections::HashMap<_, _> = crate::hub::spec::header_map(headers)
                    .map_err(OpenError::Other)?
                    .into_iter()
                    .filter_map(|(name, value)| Some((name?, value)))
                    .collect();
                let config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                    .custom_headers(custom);
                let http = crate::api::http_client(
                    url.starts_with("https:"),
                    std::time::Duration::from_secs(10),
                )
                .map_err(|e| OpenError::Other(format!("cannot set up HTTP: {e}")))?;
                let transport = StreamableHttpClientTransport::with_client(http, config);
                listener
                    .serve_with_lifecycle(Tapped::new(transport, relay), lifecycle)
                    .await
                    .map_err(|e| ("initialize failed", e))
            }
            Transport::Sse { url, headers } => {
                let transport = crate::hub::sse_client::LegacySse::connect(url, headers)
                    .await
                    .map_err(OpenError::Other)?;
                listener
                    .serve_with_lifecycle(Tapped::new(transport, relay), lifecycle)
                    .await
                    .map_err(|e| ("the SSE handshake failed", e))
            }
            Transport::Memory(server) => {
                let (ours, theirs) = tokio::io::duplex(MEMORY_PIPE_BYTES);
                (server.0)(theirs);
                let (read, write) = tokio::io::split(ours);
                let transport =
                    rmcp::transport::async_rw::AsyncRwTransport::new_client(read, write);
                listener
                    .serve_with_lifecycle(Tapped::new(transport, relay), lifecycle)
                    .await
                    .map_err(|e| ("initialize failed", e))
            }
            Transport::Invalid(reason) => return Err(OpenError::Other(reason.clone())),
        };
        outcome.map_err(|(what, error)| {
            let reason = format!("{what}: {}", plain_error(&error.to_string()));
            match error {
                ClientInitializeError::JsonRpcError(data)
                    if data.code == ErrorCode::METHOD_NOT_FOUND
                        || data.code == ErrorCode::UNSUPPORTED_PROTOCOL_VERSION
                        || data.code == ErrorCode::INVALID_REQUEST =>
                {
                    OpenError::Refused(reason)
                }
                _ => OpenError::Other(reason),
            }
        })
    }

    /// Starts the child process of a stdio server (see [`super::stdio`]).
    async fn spawn(&self) -> Result<super::stdio::ChildStdio, String> {
        let Transport::Stdio {
            command,
            args,
            env,
            cwd,
        } = &self.spec.transport
        else {
            return Err("not a stdio server".into());
        };
        let mut cmd = tokio::process::Command::new(command);
        cmd.args(args).env_clear();
        for name in INHERITED_ENV {
            if let Some(value) = std::env::var_os(name) {
                cmd.env(name, value);
            }
        }
        cmd.envs(env);
        // Set after the entry's own env, so no entry can hide the chain from its child.
        if let Some(chain) = crate::hub::lineage::chain_for_children() {
            cmd.env(crate::hub::lineage::CHAIN_ENV, chain);
        }
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        // fork/exec is synchronous and costs milliseconds: off the async workers, so
        // starting ten servers never delays an `initialize` being answered.
        let name = self.spec.name.clone();
        let scrubber = self.scrubber.clone();
        let refused = self.refused.clone();
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let _entered = runtime.enter();
            super::stdio::ChildStdio::spawn(cmd, name, scrubber, refused)
        })
        .await
        .map_err(|e| format!("cannot start `{command}`: {e}"))?
        .map_err(|e| format!("cannot start `{command}`: {e}"))
    }
}

/// rmcp's transport errors name Rust types (`Transport [rmcp::transport::worker::…]`);
/// a user needs the cause, which is the text after them.
pub(super) fn plain_error(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.replace("Send message error Transport  error: ", "")
        .replace("Client error: ", "")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_errors_lose_their_type_names() {
        let raw = "Send message error Transport [rmcp::transport::worker::WorkerTransport<rmcp::X<reqwest::Client>>] error: Client error: error sending request for url (http://127.0.0.1:1/mcp), when send initialize request";
        assert_eq!(
            plain_error(raw),
            "error sending request for url (http://127.0.0.1:1/mcp), when send initialize request"
        );
    }
}
