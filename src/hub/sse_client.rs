//! A client for downstream servers that still speak the 2024-11-05 HTTP+SSE transport
//! (rmcp dropped its own): a GET opens an event stream whose first `endpoint` event names
//! the URL to POST messages to; every answer arrives on the stream as a `message` event.
//! Bounded like everything else: one event at most [`MAX_EVENT_BYTES`], at most
//! [`QUEUE`] messages waiting to be read.

use std::{collections::BTreeMap, time::Duration};

use futures::StreamExt;
use rmcp::{
    RoleClient,
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    transport::Transport,
};
use tokio::sync::mpsc;

/// Largest event accepted from the stream.
const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;
/// Messages read from the stream and not yet taken by the client.
const QUEUE: usize = 64;
/// How long the server may take to name its message endpoint.
const ENDPOINT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SseError(String);

pub struct LegacySse {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    headers: reqwest::header::HeaderMap,
    incoming: mpsc::Receiver<RxJsonRpcMessage<RoleClient>>,
    reader: tokio::task::JoinHandle<()>,
}

impl LegacySse {
    /// Opens the event stream and waits for the endpoint event.
    pub async fn connect(url: &str, headers: &BTreeMap<String, String>) -> Result<Self, String> {
        let header_map = super::spec::header_map(headers)?;
        let base = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        let http = crate::api::http_client(base.scheme() == "https", Duration::from_secs(10))
            .map_err(|e| format!("cannot set up HTTP: {e}"))?;
        let response = http
            .get(base.clone())
            .headers(header_map.clone())
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|e| format!("cannot open the event stream at {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!(
                "the event stream at {url} answered HTTP {}",
                response.status()
            ));
        }
        let (endpoint_tx, endpoint_rx) = tokio::sync::oneshot::channel::<String>();
        let (messages, incoming) = mpsc::channel(QUEUE);
        let reader = tokio::spawn(read_events(response, endpoint_tx, messages));
        let endpoint = tokio::time::timeout(ENDPOINT_TIMEOUT, endpoint_rx)
            .await
            .map_err(|_| {
                format!(
                    "{url} named no message endpoint within {} s",
                    ENDPOINT_TIMEOUT.as_secs()
                )
            })?
            .map_err(|_| {
                format!("the event stream at {url} ended before naming its message endpoint")
            })?;
        let endpoint = base
            .join(endpoint.trim())
            .map_err(|e| format!("the message endpoint `{endpoint}` is not a URL: {e}"))?;
        Ok(Self {
            http,
            endpoint,
            headers: header_map,
            incoming,
            reader,
        })
    }
}

/// Reads events until the stream ends: the first `endpoint` event goes to `endpoint`, each
/// `message` event that is a JSON-RPC message goes to `messages`.
async fn read_events(
    response: reqwest::Response,
    endpoint: tokio::sync::oneshot::Sender<String>,
    messages: mpsc::Sender<RxJsonRpcMessage<RoleClient>>,
) {
    let mut endpoint = Some(endpoint);
    let mut body = response.bytes_stream();
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(Ok(chunk)) = body.next().await {
        buffer.extend_from_slice(&chunk);
        while let Some(end) = event_end(&buffer) {
            let raw: Vec<u8> = buffer.drain(..end.0 + end.1).collect();
            let (kind, data) = parse_event(&String::from_utf8_lossy(&raw[..end.0]));
            match kind.as_str() {
                "endpoint" => {
                    if let Some(tx) = endpoint.take() {
                        let _ = tx.send(data);
                    }
                }
                "message" | "" => match serde_json::from_str(&data) {
                    Ok(message) => {
                        if messages.send(message).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::warn!(
                        "a legacy SSE server sent a message that is not JSON-RPC: {e}"
                    ),
                },
                _ => {}
            }
        }
        if buffer.len() > MAX_EVENT_BYTES {
            tracing::warn!(
                "a legacy SSE server sent an event over {MAX_EVENT_BYTES} bytes; closing"
            );
            return;
        }
    }
}

/// Where the first complete event ends: (its length, the separator's length).
fn event_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let crlf = buffer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// An event's type and its data lines joined with `\n`.
fn parse_event(text: &str) -> (String, String) {
    let mut kind = String::new();
    let mut data: Vec<&str> = Vec::new();
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("event:") {
            kind = value.trim().to_string();
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push(value.strip_prefix(' ').unwrap_or(value));
        }
    }
    (kind, data.join("\n"))
}

impl Transport<RoleClient> for LegacySse {
    type Error = SseError;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let request = self
            .http
            .post(self.endpoint.clone())
            .headers(self.headers.clone())
            .json(&item);
        async move {
            let response = request
                .send()
                .await
                .map_err(|e| SseError(format!("posting a message: {e}")))?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(SseError(format!(
                    "posting a message: HTTP {}",
                    response.status()
                )))
            }
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleClient>>> + Send {
        self.incoming.recv()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.reader.abort();
        Ok(())
    }
}

impl Drop for LegacySse {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_and_parsed() {
        let buffer = b"event: endpoint\ndata: /messages?session=1\n\nevent: message\r\ndata: {\"a\":1}\r\n\r\n";
        let (len, sep) = event_end(buffer).unwrap();
        assert_eq!(
            parse_event(std::str::from_utf8(&buffer[..len]).unwrap()),
            ("endpoint".into(), "/messages?session=1".into())
        );
        let rest = &buffer[len + sep..];
        let (len, _) = event_end(rest).unwrap();
        assert_eq!(
            parse_event(std::str::from_utf8(&rest[..len]).unwrap()),
            ("message".into(), "{\"a\":1}".into())
        );
    }
}
