//! Reading values of the command line: times (seconds into a `Duration`) and replica ids.

use std::time::Duration;

/// Every time on the command line is seconds, possibly fractional, read into a `Duration`
/// once here. The longest is a week: a longer one is a typo (or would overflow a deadline).
const LONGEST_SETTING: Duration = Duration::from_secs(7 * 24 * 3600);

fn seconds(s: &str, zero_ok: bool) -> Result<Duration, String> {
    let rule = if zero_ok {
        "must be zero or a positive number of seconds, at most a week"
    } else {
        "must be a positive number of seconds, at most a week"
    };
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && (v > 0.0 || (zero_ok && v == 0.0)) => {
            let d = Duration::from_secs_f64(v);
            if d > LONGEST_SETTING {
                Err(rule.into())
            } else {
                Ok(d)
            }
        }
        _ => Err(rule.into()),
    }
}

pub(super) fn positive_secs(s: &str) -> Result<Duration, String> {
    seconds(s, false)
}

pub(super) fn nonnegative_secs(s: &str) -> Result<Duration, String> {
    seconds(s, true)
}

pub(super) fn replica_id(s: &str) -> Result<String, String> {
    let ok =
        !s.is_empty() && s.len() <= 32 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(s.to_string())
    } else {
        Err("must be 1 to 32 letters, digits or `-`".into())
    }
}
