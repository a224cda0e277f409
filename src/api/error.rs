//! Typed failures of Plugged.in calls, built from the status code and the `{error, …}` body
//! every route answers with (`details` as `[{path, message}]`, zod issues or
//! `{formErrors, fieldErrors}`; sometimes `hint`, allowed states, quota figures,
//! `retryAfter`), with messages written for a model: what happened, what to do.
//! No message ever contains the API key or a whole upstream body: every piece of upstream
//! text passes through the request's [`Scrubber`] before it is cut to length or quoted.

use std::time::Duration;

use serde_json::Value;

use crate::redact::Scrubber;

/// Longest piece of upstream text quoted in a message.
const QUOTE_CHARS: usize = 300;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("Plugged.in rejected the credentials (HTTP 401: {message}). {hint}")]
    Unauthorized { message: String, hint: String },

    #[error("Plugged.in refused the request (HTTP 403): {message}")]
    Forbidden { message: String },

    #[error("not found (HTTP 404): {message}")]
    NotFound { message: String },

    #[error("conflict (HTTP 409): {message}")]
    Conflict { message: String },

    #[error("too large (HTTP 413): {message}")]
    TooLarge { message: String },

    #[error("rejected by Plugged.in (HTTP {status}): {message}")]
    Invalid { status: u16, message: String },

    #[error("{}", rate_limit_message(.retry_after))]
    RateLimited { retry_after: Option<Duration> },

    #[error(
        "Plugged.in failed (HTTP {status}): {message}. This is a server-side problem; try again in a minute."
    )]
    Server { status: u16, message: String },

    #[error("Plugged.in did not answer within {} s. Try again later, or raise --timeout if large requests are expected.", .after.as_secs_f64())]
    Timeout { after: Duration },

    #[error(
        "cannot reach Plugged.in at {base}: {detail}. Check PLUGGEDIN_API_BASE_URL and the network."
    )]
    Unreachable { base: String, detail: String },

    #[error(
        "Plugged.in sent an answer this server cannot read ({detail}). The API may be degraded or the base URL may point at something else; try again later."
    )]
    Decode { detail: String },

    #[error("the request was cancelled by the client")]
    Cancelled,
}

fn rate_limit_message(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(
            "rate limited by Plugged.in; retry after {} s",
            d.as_secs_f64().ceil()
        ),
        None => "rate limited by Plugged.in; wait a minute before retrying".to_string(),
    }
}

impl ApiError {
    /// The HTTP status behind this error, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Unauthorized { .. } => Some(401),
            ApiError::Forbidden { .. } => Some(403),
            ApiError::NotFound { .. } => Some(404),
            ApiError::Conflict { .. } => Some(409),
            ApiError::TooLarge { .. } => Some(413),
            ApiError::RateLimited { .. } => Some(429),
            ApiError::Invalid { status, .. } | ApiError::Server { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Builds the error for a non-success status from the response body. Secrets are
    /// scrubbed from the body before anything is read from it: a proxy or gateway that
    /// quotes the request's `Authorization` header must not leak the key.
    pub fn from_response(
        status: u16,
        retry_after: Option<Duration>,
        body: &[u8],
        context: &ErrorContext<'_>,
    ) -> Self {
        let parsed: Option<Value> = serde_json::from_slice(body).ok().map(|mut v| {
            context.scrubber.scrub_json(&mut v);
            v
        });
        let message = parsed
            .as_ref()
            .map(describe_body)
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| fallback_text(status, body, context.scrubber));
        match status {
            401 => ApiError::Unauthorized {
                message,
                hint: context.unauthorized_hint.to_string(),
            },
            403 => ApiError::Forbidden { message },
            404 => ApiError::NotFound { message },
            409 => ApiError::Conflict { message },
            413 => ApiError::TooLarge { message },
            429 => ApiError::RateLimited {
                retry_after: retry_after.or_else(|| {
                    parsed
                        .as_ref()
                        .and_then(|v| v.get("retryAfter"))
                        .and_then(Value::as_f64)
                        .filter(|s| s.is_finite() && *s >= 0.0)
                        .map(Duration::from_secs_f64)
                }),
            },
            500..=599 => ApiError::Server { status, message },
            _ => ApiError::Invalid { status, message },
        }
    }
}

/// `error` plus whatever helps the caller fix the request: field details, the hint, the
/// allowed states or transitions, and quota figures.
fn describe_body(v: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(e) = v.get("error").and_then(Value::as_str) {
        parts.push(quote(e));
    } else if let Some(m) = v.get("message").and_then(Value::as_str) {
        parts.push(quote(m));
    }
    let details = v.get("details").map(describe_details).unwrap_or_default();
    if !details.is_empty() {
        parts.push(format!("({})", details.join("; ")));
    }
    for key in [
        "allowed_transitions",
        "allowed_states",
        "restartable_states",
    ] {
        if let Some(list) = v.get(key).and_then(Value::as_array) {
            let names: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
            let label = key.replace('_', " ");
            parts.push(if names.is_empty() {
                format!("{label}: none")
            } else {
                format!("{label}: {}", names.join(", "))
            });
        }
    }
    if let Some(q) = v.get("quota").filter(|q| q.is_object()) {
        parts.push(format!(
            "quota: {} of {} agents used",
            q.get("current_agents").unwrap_or(&Value::Null),
            q.get("max_agents").unwrap_or(&Value::Null)
        ));
    }
    if let Some(h) = v.get("hint").and_then(Value::as_str) {
        parts.push(format!("hint: {}", quote(h)));
    }
    parts.join(" ")
}

/// `details` comes as `[{path, message}]`, zod issues (`path` an array), or zod's
/// `{formErrors, fieldErrors}`; all become `field: message`.
fn describe_details(d: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match d {
        Value::Array(items) => {
            for item in items.iter().take(5) {
                let path = match item.get("path") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(p)) => p
                        .iter()
                        .map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_string))
                        .collect::<Vec<_>>()
                        .join("."),
                    _ => String::new(),
                };
                let message = item.get("message").and_then(Value::as_str).unwrap_or("");
                out.push(if path.is_empty() {
                    quote(message)
                } else {
                    format!("{path}: {}", quote(message))
                });
            }
        }
        Value::Object(map) => {
            if let Some(Value::Array(form)) = map.get("formErrors") {
                out.extend(form.iter().filter_map(Value::as_str).map(quote));
            }
            if let Some(Value::Object(fields)) = map.get("fieldErrors") {
                for (field, messages) in fields {
                    let text = match messages {
                        Value::Array(m) => m
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", "),
                        other => other.to_string(),
                    };
                    out.push(format!("{field}: {}", quote(&text)));
                }
            }
        }
        Value::String(s) => out.push(quote(s)),
        _ => {}
    }
    out
}

fn fallback_text(status: u16, body: &[u8], scrubber: &Scrubber) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() || text.starts_with('<') {
        // An HTML error page tells the model nothing useful.
        format!("no details (HTTP {status})")
    } else {
        quote(&scrubber.scrub(text))
    }
}

/// What turning a response into an error needs to know about the request.
pub struct ErrorContext<'a> {
    /// Removes the request's key and anything shaped like a credential.
    pub scrubber: &'a Scrubber,
    /// The next step after a 401, which depends on where the key came from.
    pub unauthorized_hint: &'a str,
}

/// Cuts upstream text to a readable length.
pub(crate) fn quote(s: &str) -> String {
    crate::text::truncate(s, QUOTE_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context() -> ErrorContext<'static> {
        static SCRUBBER: std::sync::LazyLock<Scrubber> =
            std::sync::LazyLock::new(|| Scrubber::new(["pg_in_thekey0123456789"]));
        ErrorContext {
            scrubber: &SCRUBBER,
            unauthorized_hint: "Check the key.",
        }
    }

    fn from(status: u16, body: &[u8]) -> ApiError {
        ApiError::from_response(status, None, body, &context())
    }

    fn err(status: u16, body: Value) -> ApiError {
        from(status, body.to_string().as_bytes())
    }

    #[test]
    fn validation_details_name_the_field() {
        let e = err(
            400,
            json!({"error": "Invalid request data", "details": [{"path": "metadata.model", "message": "Required"}]}),
        );
        assert_eq!(
            e.to_string(),
            "rejected by Plugged.in (HTTP 400): Invalid request data (metadata.model: Required)"
        );
        let zod = err(
            400,
            json!({"error": "Invalid", "details": [{"path": ["filters", "tags", 0], "message": "Expected string"}]}),
        );
        assert!(zod.to_string().contains("filters.tags.0: Expected string"));
        let flat = err(
            400,
            json!({"error": "Invalid resource specification", "details": {"formErrors": [], "fieldErrors": {"cpu_limit": ["bad"]}}}),
        );
        assert!(flat.to_string().contains("cpu_limit: bad"));
    }

    #[test]
    fn state_errors_list_what_is_allowed() {
        let e = err(
            400,
            json!({"error": "Invalid state transition: ACTIVE → NEW", "allowed_transitions": ["DRAINING", "KILLED"]}),
        );
        assert!(
            e.to_string()
                .contains("allowed transitions: DRAINING, KILLED")
        );
    }

    #[test]
    fn rate_limits_read_retry_after_from_the_body_too() {
        let e = err(429, json!({"error": "Too many requests", "retryAfter": 12}));
        assert_eq!(
            e.to_string(),
            "rate limited by Plugged.in; retry after 12 s"
        );
        let none = err(
            429,
            json!({"error": "Too many requests. Please try again later.", "code": "RATE_LIMIT_EXCEEDED"}),
        );
        assert!(none.to_string().contains("wait a minute"));
    }

    #[test]
    fn html_and_long_bodies_are_not_echoed() {
        let html = from(404, b"<!DOCTYPE html><html>secret page</html>");
        assert!(!html.to_string().contains("secret"));
        let long = from(500, "x".repeat(5000).as_bytes());
        assert!(long.to_string().len() < 500);
    }

    #[test]
    fn echoed_keys_are_scrubbed_before_quoting() {
        // The key sits right at the quoting cut-off: scrubbing after cutting would leak a
        // prefix of it.
        let padded = format!("{}Bearer pg_in_thekey0123456789", "x".repeat(290));
        for body in [
            json!({"error": "bad header", "received": {"authorization": "Bearer pg_in_thekey0123456789"}}).to_string(),
            json!({"error": format!("got Authorization: Bearer {}", "pg_in_thekey0123456789")}).to_string(),
            "upstream said: Authorization: Bearer pg_in_thekey0123456789".to_string(),
            padded,
        ] {
            for status in [400, 401, 429, 502] {
                let text = from(status, body.as_bytes()).to_string();
                assert!(!text.contains("thekey"), "{status}: {text}");
            }
        }
        let e = from(401, br#"{"error":"Invalid API key"}"#);
        assert!(e.to_string().ends_with("Check the key."), "{e}");
    }
}
