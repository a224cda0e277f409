//! The id of the request being served, carried through everything it causes: its log lines
//! (a `request_id` field on the request's span) and its upstream requests (an
//! `X-Request-Id` header), so one call can be followed from the client to Plugged.in. Over
//! HTTP it is the client's (or the balancer's) `X-Request-Id` when that is a sane one, else
//! made here.

use std::future::Future;

/// The header that carries it, in and out.
pub const HEADER: &str = "x-request-id";
/// Longest id taken from a client.
const MAX_CHARS: usize = 128;

tokio::task_local! {
    static CURRENT: String;
}

/// The id of an HTTP request, put into its extensions by the transport (and so into the
/// `http::request::Parts` rmcp hands a handler).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A new id: 128 random bits in hex (from the thread's generator: no system call per
/// request, as a UUID's `getrandom` would be).
pub fn generate() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A client's id, when it is short and of visible ASCII (anything else is replaced, never
/// passed on: it goes into logs and upstream headers).
pub fn accept(value: &str) -> Option<String> {
    let ok = !value.is_empty()
        && value.len() <= MAX_CHARS
        && value.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| value.to_string())
}

/// Runs `future` as the request `id`: within it [`current`] is `id`.
pub async fn scope<F: Future>(id: String, future: F) -> F::Output {
    CURRENT.scope(id, future).await
}

/// The id of the request this task serves, if it serves one.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sane_ids_are_taken() {
        assert_eq!(accept("abc-123").as_deref(), Some("abc-123"));
        assert_eq!(accept(""), None);
        assert_eq!(accept("has space"), None);
        assert_eq!(accept("line\nbreak"), None);
        assert_eq!(accept(&"x".repeat(200)), None);
        assert_eq!(generate().len(), 32);
    }

    #[tokio::test]
    async fn the_id_is_current_within_its_scope_only() {
        assert_eq!(current(), None);
        let inside = scope("r1".into(), async { current() }).await;
        assert_eq!(inside.as_deref(), Some("r1"));
    }
}
