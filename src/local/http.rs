//! HTTP plumbing shared by the embedded API's routes: the `{"error": …}` error type,
//! body and query extractors that answer bad input with JSON 4xx, and Bearer auth.

use std::sync::Arc;

use axum::{
    Json,
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

/// Largest request body the embedded API reads: every value the API accepts, at its worst
/// JSON escaping ([`crate::vocab::limits::API_MAX_BODY_BYTES`]); anything larger is
/// answered with a JSON 413.
pub const MAX_BODY_BYTES: usize = crate::vocab::limits::API_MAX_BODY_BYTES;

/// An error answer: a status and a JSON object with at least a string `error`, the shape
/// every Plugged.in route uses.
#[derive(Debug)]
pub struct ErrorResponse {
    pub status: StatusCode,
    pub body: Map<String, Value>,
}

pub type HttpResult<T> = Result<T, ErrorResponse>;

impl ErrorResponse {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let mut body = Map::new();
        body.insert("error".into(), Value::String(message.into()));
        Self { status, body }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    }
    /// A validation failure as most cloud routes answer it, with zod's own issues: a
    /// route-specific headline and `details: [{code, path, message}]`, `path` the field's
    /// segments (`"metadata.model"` becomes `["metadata","model"]`, list positions numbers)
    /// and `message` the rule.
    pub fn invalid(headline: &str, path: &str, message: impl Into<String>) -> Self {
        let segments: Vec<Value> = path
            .split('.')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<u64>().map_or_else(|_| json!(s), |i| json!(i)))
            .collect();
        Self::bad_request(headline).with(
            "details",
            json!([{ "code": "custom", "path": segments, "message": message.into() }]),
        )
    }
    /// A validation failure as the cloud's document routes answer it: they flatten zod's
    /// issues to `details: [{path, message}]` with `path` a dotted string.
    pub fn invalid_flat(headline: &str, path: &str, message: impl Into<String>) -> Self {
        Self::bad_request(headline).with(
            "details",
            json!([{ "path": path, "message": message.into() }]),
        )
    }
    /// Adds an extra key beside `error` (`details`, `hint`, `current_state`, …).
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.body.insert(key.into(), value.into());
        self
    }
    pub fn message(&self) -> &str {
        self.body.get("error").and_then(Value::as_str).unwrap_or("")
    }
}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        (self.status, Json(Value::Object(self.body))).into_response()
    }
}

impl From<rusqlite::Error> for ErrorResponse {
    fn from(error: rusqlite::Error) -> Self {
        // Storage failures are bugs or a broken disk, not something the caller can fix:
        // log the detail, answer with the generic body the cloud uses.
        tracing::error!(%error, "embedded API storage error");
        Self::internal()
    }
}

impl From<serde_json::Error> for ErrorResponse {
    fn from(error: serde_json::Error) -> Self {
        tracing::error!(%error, "embedded API serialization error");
        Self::internal()
    }
}

/// A JSON object request body. Malformed JSON, a non-object body or an oversized body is
/// answered with a JSON 4xx naming the problem; an empty body reads as `{}` so routes whose
/// body is optional (export, shutdown, suspend, restart) need no special case.
pub struct Body(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ErrorResponse;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| {
                ErrorResponse::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("Request body too large. Maximum size is {MAX_BODY_BYTES} bytes"),
                )
            })?;
        parse_object(&bytes).map(Body)
    }
}

fn parse_object(bytes: &Bytes) -> HttpResult<Map<String, Value>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    use crate::vocab::limits::MAX_LISTING_JSON_VALUES;
    if crate::frames::json_values(bytes, MAX_LISTING_JSON_VALUES) > MAX_LISTING_JSON_VALUES {
        return Err(ErrorResponse::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body too large. At most {MAX_LISTING_JSON_VALUES} JSON values"),
        ));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ErrorResponse::bad_request(
            "Invalid JSON body: expected a JSON object",
        )),
        Err(e) => Err(ErrorResponse::bad_request(format!(
            "Invalid JSON body: {e}"
        ))),
    }
}

impl Body {
    /// Decodes the body into `T`; a type error names the field (`details[0].path`).
    pub fn decode<T: DeserializeOwned>(self, headline: &str) -> HttpResult<T> {
        decode(Value::Object(self.0), headline)
    }
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }
    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
}

/// Deserializes with the failing field's path in the error, so a model or SDK user learns
/// *which* field was wrong, not just that something was.
pub fn decode<T: DeserializeOwned>(value: Value, headline: &str) -> HttpResult<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        ErrorResponse::invalid(headline, &path, e.into_inner().to_string())
    })
}

/// The query string as ordered pairs, so repeated keys (`tags=a&tags=b`) survive.
pub struct QueryParams(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ErrorResponse;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(query)
            .map(QueryParams)
            .map_err(|e| ErrorResponse::bad_request(format!("Invalid query string: {e}")))
    }
}

impl QueryParams {
    /// The first non-empty value of `key` (the cloud treats empty strings as absent).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }
    /// An integer parameter within `min..=max`, or its default when absent.
    pub fn int(
        &self,
        key: &str,
        default: i64,
        min: i64,
        max: i64,
        headline: &str,
    ) -> HttpResult<i64> {
        let Some(raw) = self.get(key) else {
            return Ok(default);
        };
        match raw.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ErrorResponse::invalid(
                headline,
                key,
                if max == i64::MAX {
                    format!("{key} must be an integer >= {min}")
                } else {
                    format!("{key} must be an integer between {min} and {max}")
                },
            )),
        }
    }
}

/// Parses a path id as a UUID. The cloud answers a non-UUID id with a 500 from Postgres;
/// we answer 400 and say what an id looks like.
pub fn uuid_param(raw: &str, what: &str) -> HttpResult<String> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.to_string())
        .map_err(|_| {
            ErrorResponse::bad_request(format!(
                "Invalid {what} id '{}': expected a UUID such as 123e4567-e89b-12d3-a456-426614174000",
                crate::text::truncate(raw, 64)
            ))
        })
}

/// The API key every route requires.
#[derive(Clone)]
pub struct ApiKey(pub Arc<str>);

/// Bearer auth on every route, as Plugged.in does it: `Bearer ` is matched case-sensitively
/// with one space, the rest is trimmed, and the key is compared in constant time.
pub async fn require_bearer(
    axum::extract::State(key): axum::extract::State<ApiKey>,
    req: Request,
    next: Next,
) -> Response {
    let is_agents_route = req.uri().path().starts_with("/api/agents");
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        None => {
            let message = if is_agents_route {
                "Authentication required"
            } else {
                "Authorization header with Bearer token is required"
            };
            ErrorResponse::new(StatusCode::UNAUTHORIZED, message).into_response()
        }
        Some(token) if bool::from(token.as_bytes().ct_eq(key.0.as_bytes())) => next.run(req).await,
        Some(_) => ErrorResponse::new(StatusCode::UNAUTHORIZED, "Invalid API key").into_response(),
    }
}

/// JSON 404 for unknown paths: the cloud sends an HTML page here, which no API client can
/// parse, so we say what was asked for instead.
pub async fn not_found(req: Request) -> ErrorResponse {
    ErrorResponse::not_found(format!(
        "No such endpoint: {} {}",
        req.method(),
        crate::text::truncate(req.uri().path(), 200)
    ))
}

/// JSON 405 for a known path with an unsupported method (the cloud sends an empty body).
pub async fn method_not_allowed(req: Request) -> ErrorResponse {
    ErrorResponse::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "Method {} is not allowed on {}",
            req.method(),
            crate::text::truncate(req.uri().path(), 200)
        ),
    )
}

/// A successful JSON answer with status 200.
pub fn ok(value: Value) -> Response {
    Json(value).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_body_reads_as_empty_object() {
        assert!(
            parse_object(&Bytes::from_static(b"  \n"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn array_body_is_rejected_with_a_reason() {
        let e = parse_object(&Bytes::from_static(b"[1]")).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message().contains("JSON object"));
    }

    #[test]
    fn decode_names_the_failing_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code, reason = "only decoded, to see the error")]
        struct T {
            limit: u32,
        }
        let e = decode::<T>(json!({"limit": "x"}), "Invalid request data").unwrap_err();
        assert_eq!(e.body["details"][0]["path"], json!(["limit"]));
    }

    #[test]
    fn non_uuid_ids_are_a_400_that_says_what_an_id_is() {
        let e = uuid_param("../etc", "agent").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message().contains("UUID"));
    }
}
