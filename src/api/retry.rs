//! When to try again: backoff with jitter, and `Retry-After` read as seconds or a date.

use std::time::Duration;

const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_CAP: Duration = Duration::from_secs(4);

/// Exponential backoff with jitter: `base·2^(n-1)`, capped, then a random point in its
/// upper half so that many clients do not retry in lockstep.
pub(super) fn backoff(attempt: u32) -> Duration {
    use rand::RngExt;
    let exp = BACKOFF_BASE.saturating_mul(1 << attempt.saturating_sub(1).min(8));
    let ceiling = exp.min(BACKOFF_CAP);
    let millis = ceiling.as_millis() as u64;
    Duration::from_millis(rand::rng().random_range(millis / 2..=millis))
}

/// `Retry-After` as seconds or an HTTP date.
pub(super) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..20 {
            let d = backoff(attempt);
            assert!(d <= BACKOFF_CAP);
            assert!(d >= BACKOFF_BASE / 2);
        }
    }
}
