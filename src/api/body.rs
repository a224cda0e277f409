//! Reading an answer's body: whole up to a limit, a prefix of an error body, or decoded as
//! it streams in — each refusing more than it may hold, with an error that says so.

use std::sync::Arc;

use reqwest::header;
use serde::de::DeserializeOwned;

use super::{ApiError, root_cause};
use crate::redact::Scrubber;

pub(super) fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

fn too_large(limit: usize) -> ApiError {
    ApiError::Decode {
        detail: format!(
            "the answer is larger than {} MiB, more than this server reads at once; ask for less (a smaller limit or page)",
            limit / (1024 * 1024)
        ),
    }
}

/// Reads a whole body, refusing one larger than `limit`.
pub(super) async fn read_capped(
    mut resp: reqwest::Response,
    limit: usize,
    scrubber: &Scrubber,
) -> Result<bytes::Bytes, ApiError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let mut body = bytes::BytesMut::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body.freeze()),
            Err(e) => {
                return Err(ApiError::Decode {
                    detail: format!("the body was cut off: {}", scrubber.scrub(&root_cause(&e))),
                });
            }
        }
    }
}

/// Reads at most `limit` bytes of a body (the rest is dropped with the connection).
pub(super) async fn read_prefix(mut resp: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    body
}

/// Decodes a JSON body while it streams in, on the blocking pool. Dropping the returned
/// future (a cancelled call) stops the reading at its next chunk, which drops the
/// connection, so the upstream sees the abort.
pub(super) async fn decode_stream<T>(
    resp: reqwest::Response,
    limit: usize,
    scrubber: Scrubber,
) -> Result<T, ApiError>
where
    T: DeserializeOwned + Send + 'static,
{
    use futures::TryStreamExt;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    struct StopOnDrop(Arc<std::sync::atomic::AtomicBool>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let _guard = StopOnDrop(stop.clone());
    let stream = resp.bytes_stream().map_err(std::io::Error::other);
    let reader = tokio_util::io::StreamReader::new(stream);
    let task = tokio::task::spawn_blocking(move || {
        let bridge = tokio_util::io::SyncIoBridge::new(reader);
        decode_guarded(bridge, limit, stop, &scrubber)
    });
    task.await.unwrap_or_else(|_| {
        Err(ApiError::Decode {
            detail: "decoding the answer failed".into(),
        })
    })
}

/// Decodes JSON from `reader`, refusing more than `limit` bytes and stopping once `stop` is
/// set.
fn decode_guarded<T: DeserializeOwned>(
    reader: impl std::io::Read,
    limit: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
    scrubber: &Scrubber,
) -> Result<T, ApiError> {
    let guarded = GuardedReader {
        inner: reader,
        left: limit,
        stop,
    };
    serde_json::from_reader(std::io::BufReader::with_capacity(64 * 1024, guarded)).map_err(|e| {
        if e.io_error_kind() == Some(std::io::ErrorKind::FileTooLarge) {
            too_large(limit)
        } else {
            ApiError::Decode {
                detail: scrubber.scrub(&e.to_string()).into_owned(),
            }
        }
    })
}

/// A reader that fails past `left` bytes or once told to stop.
struct GuardedReader<R> {
    inner: R,
    left: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl<R: std::io::Read> std::io::Read for GuardedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.stop.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(std::io::Error::other("cancelled"));
        }
        let n = self.inner.read(buf)?;
        if n > self.left {
            // A kind of its own, so the decoder's error says which limit stopped it.
            return Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                "answer exceeds the size limit",
            ));
        }
        self.left -= n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_at_most(body: &str, limit: usize) -> Result<Vec<u32>, ApiError> {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        decode_guarded(body.as_bytes(), limit, stop, &Scrubber::default())
    }

    #[test]
    fn a_body_past_the_limit_is_refused_as_too_large() {
        let body = format!("[{}]", vec!["1"; 600_000].join(","));
        assert_eq!(decode_at_most(&body, body.len()).unwrap().len(), 600_000);
        let Err(ApiError::Decode { detail }) = decode_at_most(&body, 1024 * 1024) else {
            panic!("a 1.2 MB body decoded under a 1 MiB limit");
        };
        assert!(detail.contains("larger than 1 MiB"), "{detail}");
        let Err(ApiError::Decode { detail }) = decode_at_most("[1,", 1024) else {
            panic!("a cut body decoded");
        };
        assert!(detail.contains("EOF"), "{detail}");
    }

    #[test]
    fn a_stopped_read_ends_the_decoding() {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let got: Result<Vec<u32>, _> =
            decode_guarded(&b"[1]"[..], 1024, stop, &Scrubber::default());
        assert!(got.is_err());
    }
}
