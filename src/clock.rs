//! Wall-clock time for the embedded API and the tools, with a test hook to move it forward.
//!
//! Timestamps on the wire are ISO-8601 UTC with milliseconds and `Z`, as Plugged.in sends
//! them (`2025-11-13T08:00:45.123Z`). Stored timestamps use the same text form, which sorts
//! lexically in time order.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use chrono::{DateTime, SecondsFormat, Utc};

/// System time plus an offset that tests can advance (zombie detection, replay windows,
/// clipboard expiry, agent health, waiting for an agent) without sleeping. One clock is
/// shared by everything in a process, so the embedded API and the tools agree on the time.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
    /// Wakes [`Clock::sleep`]ers when the clock is moved.
    moved: Arc<tokio::sync::Notify>,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    pub fn now_iso(&self) -> String {
        iso(self.now())
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: std::time::Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
        self.moved.notify_waiters();
    }

    /// Waits until this clock has moved `by`: as real time passes, or at once when a test
    /// advances it past the deadline.
    pub async fn sleep(&self, by: std::time::Duration) {
        let deadline =
            self.now() + chrono::Duration::from_std(by).unwrap_or(chrono::TimeDelta::MAX);
        loop {
            let moved = self.moved.notified();
            let Ok(left) = (deadline - self.now()).to_std() else {
                return;
            };
            if left.is_zero() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(left) => {}
                _ = moved => {}
            }
        }
    }
}

/// Formats a time the way Plugged.in serializes a JS `Date`.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 timestamp (any offset) into UTC.
pub fn parse_iso(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Parses the timestamp forms Plugged.in sends: RFC 3339 (`…T…Z`, any offset, any fraction),
/// and Postgres text as some routes return it (`2026-11-23 22:14:16.702+00`, with a space, an
/// hour-only offset, or none, meaning UTC).
pub fn parse_any(raw: &str) -> Option<DateTime<Utc>> {
    use chrono::{NaiveDateTime, TimeZone};
    let s = raw.trim();
    if let Some(t) = parse_iso(s) {
        return Some(t);
    }
    let s = s.replacen(' ', "T", 1);
    if let Some(t) = parse_iso(&s) {
        return Some(t);
    }
    // `+00` / `-05`: an offset of hours only.
    let b = s.as_bytes();
    let n = b.len();
    if n > 13
        && matches!(b[n - 3], b'+' | b'-')
        && b[n - 2..].iter().all(u8::is_ascii_digit)
        && let Some(t) = parse_iso(&format!("{s}:00"))
    {
        return Some(t);
    }
    let naive = s.strip_suffix('Z').unwrap_or(&s);
    NaiveDateTime::parse_from_str(naive, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| Utc.from_utc_datetime(&n))
}

/// A timestamp in the one form tool outputs use (ISO 8601, UTC, milliseconds), whatever form
/// the upstream sent; `None` when it is not a timestamp at all.
pub fn normalize(raw: &str) -> Option<String> {
    parse_any(raw).map(iso)
}

/// serde: an optional timestamp field, normalized with [`normalize`]. Anything that is not a
/// readable timestamp reads as absent rather than being passed on in an unknown form.
pub fn de_iso_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::Deserialize;
    let raw = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match raw {
        Some(serde_json::Value::String(s)) => normalize(&s),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_has_millis_and_z() {
        let s = Clock::default().now_iso();
        assert_eq!(s.len(), 24, "{s}");
        assert!(s.ends_with('Z'));
        assert_eq!(parse_iso(&s).map(iso), Some(s));
    }

    #[test]
    fn upstream_timestamp_forms_become_iso() {
        for (raw, want) in [
            ("2026-11-23 22:14:16.702+00", "2026-11-23T22:14:16.702Z"),
            ("2026-11-23 22:14:16.702+00:00", "2026-11-23T22:14:16.702Z"),
            (
                "2025-01-15T10:30:00.123456+00:00",
                "2025-01-15T10:30:00.123Z",
            ),
            ("2025-01-15T12:30:00+02:00", "2025-01-15T10:30:00.000Z"),
            ("2025-11-13T08:00:45.123Z", "2025-11-13T08:00:45.123Z"),
            ("2026-11-23 22:14:16", "2026-11-23T22:14:16.000Z"),
            ("2026-11-23 17:14:16.5-05", "2026-11-23T22:14:16.500Z"),
        ] {
            assert_eq!(normalize(raw).as_deref(), Some(want), "{raw}");
        }
        assert_eq!(normalize("yesterday"), None);
    }

    #[tokio::test]
    async fn an_advanced_clock_ends_sleeps_at_once() {
        let clock = Clock::default();
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep(std::time::Duration::from_secs(3600)).await })
        };
        tokio::task::yield_now().await;
        clock.advance(std::time::Duration::from_secs(3601));
        tokio::time::timeout(std::time::Duration::from_secs(5), sleeper)
            .await
            .expect("the sleep ended when the clock moved")
            .unwrap();
    }

    #[test]
    fn advance_moves_every_clone() {
        let a = Clock::default();
        let b = a.clone();
        let before = b.now();
        a.advance(std::time::Duration::from_secs(3600));
        assert!(b.now() - before >= chrono::Duration::seconds(3599));
    }
}
