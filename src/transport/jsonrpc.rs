//! Reading a client's JSON-RPC frames, and answering those that are not valid MCP messages.
//!
//! rmcp drops a frame it cannot decode, which leaves a caller whose request had a readable
//! `id` waiting forever. Every transport (stdio, Streamable HTTP, legacy SSE) classifies each
//! frame here first: a valid message goes on to rmcp; anything else gets the JSON-RPC error
//! the spec asks for, with the request's `id` when it can be read and `null` otherwise.
//!
//! The same module bounds how many requests one session may have in flight
//! ([`PendingRequests`]): rmcp starts a task per request, so without a bound a client could queue
//! work without limit.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use rmcp::model::{ClientJsonRpcMessage, ClientNotification, ServerJsonRpcMessage};
use serde_json::{Value, json};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
/// Server errors of this transport (too many requests in flight, session gone).
pub const SERVER_ERROR: i64 = -32000;

/// Requests one session may have unanswered at once.
pub const MAX_IN_FLIGHT: usize = 64;

/// A frame that gets an error answer instead of reaching the server.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The request's id, or `null` when it could not be read.
    pub id: Value,
    pub code: i64,
    pub message: String,
}

impl Rejection {
    pub fn new(id: Value, code: i64, message: impl Into<String>) -> Self {
        Self {
            id,
            code,
            message: message.into(),
        }
    }

    /// The JSON-RPC error response.
    pub fn to_json(&self) -> Value {
        json!({
            "jsonrpc": "2.0",
            "id": self.id,
            "error": { "code": self.code, "message": self.message },
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_json()).unwrap_or_default()
    }
}

/// What to do with one frame.
#[derive(Debug)]
pub enum Frame {
    /// A valid message for the server.
    Message(Box<ClientJsonRpcMessage>),
    /// Answer with this error.
    Reject(Rejection),
    /// A malformed notification or response: JSON-RPC forbids answering those; drop it.
    Drop(String),
}

/// The id of a frame when it looks like a JSON-RPC message with a method (a request or a
/// notification), read without decoding its params: what a body that rmcp will decode
/// anyway needs from a first look. `None`: not such a frame ([`classify`] says why).
pub fn request_id_at_a_glance(bytes: &[u8]) -> Option<Value> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        jsonrpc: String,
        method: String,
        #[serde(default)]
        id: Option<Value>,
        #[serde(default)]
        params: Option<AnyObject>,
    }
    let envelope: Envelope = serde_json::from_slice(bytes).ok()?;
    let _ = (&envelope.method, envelope.params);
    if envelope.jsonrpc != "2.0" {
        return None;
    }
    match envelope.id {
        None => Some(Value::Null),
        Some(id @ (Value::String(_) | Value::Number(_))) => Some(id),
        Some(_) => None,
    }
}

/// A JSON object, its members skipped unread (params must be one; anything else is left
/// to [`classify`] to name).
struct AnyObject;

impl<'de> serde::Deserialize<'de> for AnyObject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = AnyObject;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<AnyObject, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(AnyObject)
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// A frame with more JSON values than a message may hold ([`MAX_JSON_VALUES`]), refused
/// before it is decoded: its memory once decoded would be many times its size.
///
/// [`MAX_JSON_VALUES`]: crate::vocab::limits::MAX_JSON_VALUES
pub fn too_many_values(bytes: &[u8]) -> Option<Rejection> {
    use crate::vocab::limits::MAX_JSON_VALUES;
    (crate::frames::json_values(bytes, MAX_JSON_VALUES) > MAX_JSON_VALUES).then(|| {
        Rejection::new(
            crate::frames::id_at_ends(bytes),
            INVALID_REQUEST,
            format!(
                "Invalid Request: the message holds more than {MAX_JSON_VALUES} JSON values (each item and key counts 1, an array {}, an object {}); send large data as text or in parts",
                crate::frames::ARRAY_WEIGHT,
                crate::frames::OBJECT_WEIGHT
            ),
        )
    })
}

/// Classifies one frame (one line on stdio, one HTTP body).
pub fn classify(bytes: &[u8]) -> Frame {
    if let Some(refused) = too_many_values(bytes) {
        return Frame::Reject(refused);
    }
    // Almost every frame is valid: decoded once, straight from the bytes (rmcp checks
    // `jsonrpc` is "2.0" and the id's type itself). Only a frame that fails is read again
    // as plain JSON, to say what is wrong with it.
    if let Ok(message) = serde_json::from_slice::<ClientJsonRpcMessage>(bytes) {
        return Frame::Message(Box::new(message));
    }
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            return Frame::Reject(Rejection::new(
                crate::frames::scan_id(bytes),
                PARSE_ERROR,
                format!("Parse error: {e}"),
            ));
        }
    };
    let Value::Object(object) = &value else {
        let message = if value.is_array() {
            "Invalid Request: JSON-RPC batches are not part of MCP (since 2025-06-18); send one message at a time"
        } else {
            "Invalid Request: a JSON-RPC message is a JSON object"
        };
        return Frame::Reject(Rejection::new(Value::Null, INVALID_REQUEST, message));
    };
    let id = match object.get("id") {
        Some(id @ (Value::String(_) | Value::Number(_))) => Some(id.clone()),
        _ => None,
    };
    let method = object.get("method").and_then(Value::as_str);
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return reject_or_drop(
            id,
            method,
            object,
            INVALID_REQUEST,
            "Invalid Request: `jsonrpc` must be \"2.0\"".into(),
        );
    }
    let error = match serde_json::from_value::<ClientJsonRpcMessage>(value.clone()) {
        Ok(message) => return Frame::Message(Box::new(message)),
        Err(e) => e,
    };
    match (method, &id) {
        (Some(m), Some(_)) => {
            // Known method, bad params: it decodes once the params are taken away.
            let mut bare = object.clone();
            bare.remove("params");
            let params_only =
                serde_json::from_value::<ClientJsonRpcMessage>(Value::Object(bare)).is_ok() || {
                    let mut empty = object.clone();
                    empty.insert("params".into(), json!({}));
                    serde_json::from_value::<ClientJsonRpcMessage>(Value::Object(empty)).is_ok()
                };
            if params_only {
                reject_or_drop(
                    id,
                    method,
                    object,
                    INVALID_PARAMS,
                    format!("Invalid params for {m}: {error}"),
                )
            } else {
                reject_or_drop(
                    id,
                    method,
                    object,
                    INVALID_REQUEST,
                    format!("Invalid Request: {error}"),
                )
            }
        }
        _ => reject_or_drop(
            id,
            method,
            object,
            INVALID_REQUEST,
            format!("Invalid Request: {error}"),
        ),
    }
}

/// A request its own protocol revision does not have: `ping` stamped 2026-07-28 or later
/// (that revision dropped it; a client checks a server with any request). rmcp answers a
/// ping that comes before a session's lifecycle is chosen without asking the server, so
/// over stdio the rule is kept here; over HTTP rmcp keeps it.
pub fn not_in_revision(message: &ClientJsonRpcMessage) -> Option<Rejection> {
    let ClientJsonRpcMessage::Request(request) = message else {
        return None;
    };
    if !matches!(request.request, rmcp::model::ClientRequest::PingRequest(_)) {
        return None;
    }
    let revision = rmcp::model::GetMeta::get_meta(&request.request).protocol_version()?;
    if revision.has_initialize() {
        return None;
    }
    let id = serde_json::to_value(&request.id).unwrap_or(Value::Null);
    Some(Rejection::new(
        id,
        METHOD_NOT_FOUND,
        format!("Method not found: ping is not a method of protocol revision {revision}"),
    ))
}

/// Requests get an answer; notifications and responses (no id with a method, or a
/// result/error member) must not be answered.
fn reject_or_drop(
    id: Option<Value>,
    method: Option<&str>,
    object: &serde_json::Map<String, Value>,
    code: i64,
    message: String,
) -> Frame {
    let is_response =
        method.is_none() && (object.contains_key("result") || object.contains_key("error"));
    let is_notification = method.is_some() && !object.contains_key("id");
    if is_response || is_notification {
        return Frame::Drop(message);
    }
    Frame::Reject(Rejection::new(id.unwrap_or(Value::Null), code, message))
}

/// The requests of one session that still await an answer, so a session cannot queue work
/// without limit. Requests enter on the way in ([`PendingRequests::admit`]) and leave when their
/// answer goes out ([`PendingRequests::answered`]) or the client cancels them.
#[derive(Clone, Default)]
pub struct PendingRequests {
    ids: Arc<Mutex<HashSet<String>>>,
}

impl PendingRequests {
    fn ids(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // A set of ids stays consistent whatever panicked while holding it.
        self.ids.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lets `message` in, or says why not (too many requests unanswered).
    pub fn admit(&self, message: &ClientJsonRpcMessage) -> Result<(), Rejection> {
        match message {
            ClientJsonRpcMessage::Request(r) => {
                let mut ids = self.ids();
                if ids.len() >= MAX_IN_FLIGHT {
                    return Err(Rejection::new(
                        serde_json::to_value(&r.id).unwrap_or(Value::Null),
                        SERVER_ERROR,
                        format!(
                            "Too many requests in flight: this session may have {MAX_IN_FLIGHT} unanswered at once; wait for answers before sending more"
                        ),
                    ));
                }
                if !ids.insert(r.id.to_string()) {
                    return Err(Rejection::new(
                        serde_json::to_value(&r.id).unwrap_or(Value::Null),
                        INVALID_REQUEST,
                        format!(
                            "Invalid Request: a request with id {} is already in flight in this session; each request needs an id of its own",
                            r.id
                        ),
                    ));
                }
            }
            ClientJsonRpcMessage::Notification(n) => {
                if let ClientNotification::CancelledNotification(c) = &n.notification
                    && let Some(id) = &c.params.request_id
                {
                    // A cancelled request is never answered.
                    self.ids().remove(&id.to_string());
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Takes back a request that was admitted but never reached the server.
    pub fn forget(&self, message: &ClientJsonRpcMessage) {
        if let ClientJsonRpcMessage::Request(r) = message {
            self.ids().remove(&r.id.to_string());
        }
    }

    /// Notes an outgoing answer.
    pub fn answered(&self, message: &ServerJsonRpcMessage) {
        let id = match message {
            ServerJsonRpcMessage::Response(r) => Some(&r.id),
            ServerJsonRpcMessage::Error(e) => e.id.as_ref(),
            _ => None,
        };
        if let Some(id) = id {
            self.ids().remove(&id.to_string());
        }
    }

    pub fn len(&self) -> usize {
        self.ids().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reject(frame: &str) -> Rejection {
        match classify(frame.as_bytes()) {
            Frame::Reject(r) => r,
            other => panic!("{frame}: expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn valid_messages_pass() {
        for frame in [
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"x","arguments":{}}}"#,
        ] {
            assert!(
                matches!(classify(frame.as_bytes()), Frame::Message(_)),
                "{frame}"
            );
        }
    }

    #[test]
    fn bad_frames_are_answered_with_their_id() {
        let r = reject(r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":"oops"}"#);
        assert_eq!((r.id, r.code), (json!(5), INVALID_PARAMS));
        let r = reject(r#"{"jsonrpc":"2.0","id":6,"method":"tools/call""#);
        assert_eq!((r.id, r.code), (json!(6), PARSE_ERROR));
        let r = reject(r#"{"jsonrpc":"2.0","id":"abc","method":"#);
        assert_eq!(r.id, json!("abc"));
        let r = reject("garbage");
        assert_eq!((r.id, r.code), (Value::Null, PARSE_ERROR));
        let r = reject(r#"{"jsonrpc":"2.0","id":7}"#);
        assert_eq!((r.id, r.code), (json!(7), INVALID_REQUEST));
        let r = reject("[1,2]");
        assert_eq!((r.id, r.code), (Value::Null, INVALID_REQUEST));
        let r = reject(r#"{"id":8,"method":"ping"}"#);
        assert_eq!((r.id, r.code), (json!(8), INVALID_REQUEST));
        // A nested "id" is not the request's.
        let r = reject(r#"{"params":{"id":9},"jsonrpc":"2.0""#);
        assert_eq!(r.id, Value::Null);
        assert_eq!(r.to_json()["id"], Value::Null);
        assert!(r.to_json().as_object().unwrap().contains_key("id"));
    }

    #[test]
    fn bad_notifications_and_responses_are_not_answered() {
        assert!(matches!(
            classify(br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":"x"}"#),
            Frame::Drop(_)
        ));
        assert!(matches!(
            classify(br#"{"jsonrpc":"2.0","id":3,"result":"not an object"}"#),
            Frame::Drop(_) | Frame::Message(_)
        ));
    }

    #[test]
    fn in_flight_requests_are_bounded_and_released() {
        let gate = PendingRequests::default();
        let request = |id: u32| match classify(
            format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#).as_bytes(),
        ) {
            Frame::Message(m) => *m,
            _ => unreachable!(),
        };
        for id in 0..MAX_IN_FLIGHT as u32 {
            gate.admit(&request(id)).unwrap();
        }
        let refused = gate.admit(&request(999)).unwrap_err();
        assert_eq!(refused.id, json!(999));
        let cancel = match classify(
            br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}}"#,
        ) {
            Frame::Message(m) => *m,
            other => panic!("{other:?}"),
        };
        gate.admit(&cancel).unwrap();
        assert_eq!(gate.len(), MAX_IN_FLIGHT - 1);
        gate.admit(&request(1000)).unwrap();
    }

    #[test]
    fn an_id_in_flight_is_not_taken_twice() {
        let gate = PendingRequests::default();
        let Frame::Message(request) = classify(br#"{"jsonrpc":"2.0","id":"a","method":"ping"}"#)
        else {
            unreachable!()
        };
        gate.admit(&request).unwrap();
        let refused = gate.admit(&request).unwrap_err();
        assert_eq!((refused.id, refused.code), (json!("a"), INVALID_REQUEST));
        assert!(
            refused.message.contains("already in flight"),
            "{}",
            refused.message
        );
        gate.forget(&request);
        gate.admit(&request).unwrap();
    }
}
