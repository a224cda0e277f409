//! Decoding answers: a whole body with a scrubbed excerpt when it fails, strings read only as
//! far as they are shown, and counts some routes send as strings.

use serde::{Deserialize, Deserializer, de::DeserializeOwned};

use super::ApiError;
use crate::redact::Scrubber;

pub(crate) fn decode<T: DeserializeOwned>(body: &[u8], scrubber: &Scrubber) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        // Scrub before cutting: a cut key would no longer match.
        let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
        let start: String = scrubber.scrub(&text).chars().take(60).collect();
        ApiError::Decode {
            detail: format!("{e}; the body starts with {start:?}"),
        }
    })
}

/// A string field decoded only as far as it is shown: the first `N` characters, plus whether
/// more was cut. The rest of the value is never copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preview<const N: usize> {
    pub text: String,
    pub cut: bool,
}

impl<'de, const N: usize> Deserialize<'de> for Preview<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<const N: usize>;
        impl<const N: usize> serde::de::Visitor<'_> for Visit<N> {
            type Value = Preview<N>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(match v.char_indices().nth(N) {
                    None => Preview {
                        text: v.to_string(),
                        cut: false,
                    },
                    Some((at, _)) => Preview {
                        text: v[..at].to_string(),
                        cut: true,
                    },
                })
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(Preview::default())
            }
        }
        d.deserialize_any(Visit::<N>)
    }
}

/// A count that some routes send as a JSON string (a Postgres bigint: search's `total`).
pub(crate) fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrText {
        Num(f64),
        Text(String),
        Null(()),
    }
    Ok(match NumOrText::deserialize(d)? {
        NumOrText::Num(n) if n >= 0.0 => n as u64,
        NumOrText::Text(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_may_be_strings() {
        #[derive(Deserialize)]
        struct T {
            #[serde(deserialize_with = "lenient_u64")]
            total: u64,
        }
        let t: T = serde_json::from_str(r#"{"total":"12"}"#).unwrap();
        assert_eq!(t.total, 12);
        let t: T = serde_json::from_str(r#"{"total":3}"#).unwrap();
        assert_eq!(t.total, 3);
    }
}
