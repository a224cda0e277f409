//! JSON-RPC over lines, as both stdio transports read it (ours to the client, and the hub's
//! to a downstream server's child process): one line at a time, never more than a limit held
//! in memory; and the id of a frame that cannot be decoded, so it can still be answered.

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// How much of the start and the end of a line over the limit is kept, to read its id.
const KEPT_ENDS: usize = 4 * 1024;

/// How a line read with [`read_line`] ended.
#[derive(Debug, PartialEq, Eq)]
pub enum LineEnd {
    Newline,
    Eof,
    /// The line passed the limit; it was read to its end and thrown away but for its first
    /// and last few kilobytes (where a message's id is).
    TooLong(Overlong),
}

/// What is kept of a line over the limit.
#[derive(Debug, PartialEq, Eq)]
pub struct Overlong {
    /// Its length in bytes.
    pub size: usize,
    pub head: Vec<u8>,
    pub tail: Vec<u8>,
}

impl Overlong {
    /// The id of the message the line was, read at its start or its end; `null` if neither
    /// shows one.
    pub fn id(&self) -> Value {
        match scan_id(&self.head) {
            Value::Null => scan_tail_id(&self.tail),
            id => id,
        }
    }
}

/// Reads one line into `line` (without the newline), never holding more than `limit` bytes.
pub async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    line: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<LineEnd> {
    let mut seen = 0usize;
    let mut head: Vec<u8> = Vec::new();
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(if seen > limit {
                LineEnd::TooLong(Overlong {
                    size: seen,
                    head,
                    tail,
                })
            } else {
                LineEnd::Eof
            });
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(at) => (&buf[..at], Some(at + 1)),
            None => (buf, None),
        };
        seen += chunk.len();
        if seen <= limit {
            line.extend_from_slice(chunk);
        } else {
            if head.is_empty() {
                // Over the limit now: what was read so far is the line's start.
                line.extend_from_slice(chunk);
                head = line[..line.len().min(KEPT_ENDS)].to_vec();
                line.clear();
            }
            tail.extend_from_slice(&chunk[chunk.len().saturating_sub(KEPT_ENDS)..]);
            let extra = tail.len().saturating_sub(KEPT_ENDS);
            tail.drain(..extra);
        }
        let used = done.unwrap_or(buf.len());
        reader.consume(used);
        if done.is_some() {
            return Ok(if seen > limit {
                LineEnd::TooLong(Overlong {
                    size: seen,
                    head,
                    tail,
                })
            } else {
                LineEnd::Newline
            });
        }
    }
}

/// The id of a frame read at its start or, failing that, its end (where a message that puts
/// its result first has it); `null` if neither shows one. For a frame refused unread.
pub fn id_at_ends(bytes: &[u8]) -> Value {
    match scan_id(&bytes[..bytes.len().min(KEPT_ENDS)]) {
        Value::Null => scan_tail_id(&bytes[bytes.len().saturating_sub(KEPT_ENDS)..]),
        id => id,
    }
}

/// How many JSON values `bytes` holds, weighed by what they take once decoded, counted
/// without decoding: each `,` and `:` outside a string starts a value (or a key) and counts
/// 1, each `[` counts [`ARRAY_WEIGHT`] and each `{` [`OBJECT_WEIGHT`]. Counting stops past
/// `max`. Decoded, a value takes tens of bytes however few it took in the text (`0,` is two
/// bytes, a `serde_json::Value` 32, and more on each copy; an object with its table some
/// 300), so a frame is held to a count as well as a size.
pub fn json_values(bytes: &[u8], max: usize) -> usize {
    let mut count = 1usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        let weight = match b {
            b'"' => {
                in_string = true;
                continue;
            }
            b',' | b':' => 1,
            b'[' => ARRAY_WEIGHT,
            b'{' => OBJECT_WEIGHT,
            _ => continue,
        };
        count += weight;
        if count > max {
            return count;
        }
    }
    count
}

/// What an array costs in [`json_values`]: its own allocation beside its items'.
pub const ARRAY_WEIGHT: usize = 4;
/// What an object costs in [`json_values`]: its entries and hash table.
pub const OBJECT_WEIGHT: usize = 8;

/// The id of a message whose end is `tail`, when it ends with `"id": <number or string>}`
/// (as messages that put their result first do).
fn scan_tail_id(tail: &[u8]) -> Value {
    let text = String::from_utf8_lossy(tail);
    let text = text
        .trim_end()
        .strip_suffix('}')
        .unwrap_or_default()
        .trim_end();
    let Some(at) = text.rfind("\"id\"") else {
        return Value::Null;
    };
    let rest = text[at + 4..].trim_start();
    let Some(value) = rest.strip_prefix(':') else {
        return Value::Null;
    };
    match serde_json::from_str::<Value>(value.trim()) {
        Ok(v @ (Value::String(_) | Value::Number(_))) => v,
        _ => Value::Null,
    }
}

/// The top-level `"id"` of a frame that is not valid JSON (a cut-off request, say), when a
/// string or number can be read there; `null` otherwise.
pub fn scan_id(bytes: &[u8]) -> Value {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]);
    let mut depth = 0i32;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            '"' => {
                let start = at + 1;
                let mut end = start;
                let mut escaped = false;
                for (i, c) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = i;
                        break;
                    }
                }
                let s = &text[start..end.max(start)];
                // A key is a string followed by ':'.
                while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                    chars.next();
                }
                if chars.peek().is_some_and(|(_, c)| *c == ':') {
                    chars.next();
                    if depth == 1 && s == "id" {
                        let rest = chars.peek().map_or(text.len(), |(i, _)| *i);
                        return read_scalar(&text[rest..]);
                    }
                }
            }
            _ => {}
        }
    }
    Value::Null
}

/// A JSON number or string at the start of `rest`, or `null`.
fn read_scalar(rest: &str) -> Value {
    let rest = rest.trim_start();
    let mut de = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
    match de.next() {
        Some(Ok(v @ (Value::String(_) | Value::Number(_)))) => v,
        _ => {
            // The value itself may be followed by garbage: read a bare number.
            let number: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '-')
                .collect();
            number
                .parse::<i64>()
                .map_or(Value::Null, |n| Value::Number(n.into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(input: &[u8], limit: usize) -> (LineEnd, Vec<u8>) {
        let mut reader = BufReader::with_capacity(16, input);
        let mut line = Vec::new();
        let end = read_line(&mut reader, &mut line, limit).await.unwrap();
        (end, line)
    }

    #[test]
    fn values_are_counted_outside_strings_only() {
        // { : [ , , { :  = 8 + 1 + 4 + 1 + 1 + 8 + 1, and the first value.
        assert_eq!(json_values(br#"{"a":[0,1,{"b":"x,y:[{"}]}"#, 100), 25);
        assert_eq!(json_values(br#""a\",:[""#, 100), 1);
        assert_eq!(json_values(b"[0,0,0,0,0,0,0,0,0,0]", 6), 7);
        let id = id_at_ends(br#"{"jsonrpc":"2.0","id":9,"params":[0,0"#);
        assert_eq!(id, serde_json::json!(9));
    }

    #[tokio::test]
    async fn an_overlong_line_keeps_its_ends_and_its_id() {
        let mut message = br#"{"jsonrpc":"2.0","id":42,"result":{"text":""#.to_vec();
        message.extend(std::iter::repeat_n(b'x', 100_000));
        message.extend_from_slice(b"\"}}\nnext");
        let (LineEnd::TooLong(long), line) = read(&message, 1000).await else {
            panic!("not too long")
        };
        assert!(line.is_empty());
        assert_eq!(long.size, message.len() - "\nnext".len());
        assert_eq!(long.id(), serde_json::json!(42));
        // The id at the end, as a result-first message puts it.
        let mut last = br#"{"result":{"text":""#.to_vec();
        last.extend(std::iter::repeat_n(b'x', 100_000));
        last.extend_from_slice(br#""},"jsonrpc":"2.0","id":"req-7"}"#);
        let (LineEnd::TooLong(long), _) = read(&last, 1000).await else {
            panic!("not too long")
        };
        assert_eq!(long.id(), serde_json::json!("req-7"));
    }
}
