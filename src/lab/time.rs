//! Times and durations as a lab writes them: `parse_time` for validity and clocks (`-1d`, RFC 3339),
//! `parse_duration` for timeouts (`10s`, `500ms`).

use time::{Duration, OffsetDateTime};

/// Why a time does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// Neither an offset nor an RFC 3339 time nor a date.
    #[error("`{value}` is not a time: use an offset such as `-1d`, `+365d`, `12h` (units s, m, h, d, w) or an RFC 3339 time such as `2030-01-01T00:00:00Z`")]
    NotTime { value: String },
    /// An offset beyond a hundred years, or beyond the calendar.
    #[error("`{value}` is too far away")]
    TooFar { value: String },
}

/// Why a duration does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// A unit other than `ms`, `s` or `m`.
    #[error("`{value}` is not a duration: units ms, s, m")]
    BadUnit { value: String },
    /// No leading number.
    #[error("`{value}` is not a duration: write e.g. `10s`, `500ms`, `2m`")]
    NotDuration { value: String },
    /// Zero, or over ten minutes.
    #[error("`{value}`: a duration is between 1 ms and 10 minutes")]
    OutOfRange { value: String },
}

/// Parses `-1d`, `+365d`, `12h`, `30m`, `45s`, `2w`, an RFC 3339 time or a date; offsets count from `now`.
///
/// # Errors
/// [`TimeError`]: none of these forms, or an offset beyond a hundred years.
pub fn parse_time(s: &str, now: OffsetDateTime) -> Result<OffsetDateTime, TimeError> {
    let t = s.trim();
    if let Ok(abs) = OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339) {
        return Ok(abs);
    }
    if let Ok(date) =
        time::Date::parse(t, time::macros::format_description!("[year]-[month]-[day]"))
    {
        return Ok(date.midnight().assume_utc());
    }
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'-') => (-1, &t[1..]),
        Some(b'+') => (1, &t[1..]),
        _ => (1, t),
    };
    let split = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (digits, unit) = rest.split_at(split);
    let why = || TimeError::NotTime {
        value: s.to_string(),
    };
    let n: i64 = digits.parse().map_err(|_| why())?;
    if n > 100 * 366 * 24 * 3600 {
        return Err(TimeError::TooFar {
            value: s.to_string(),
        });
    }
    let d = match unit {
        "s" => Duration::seconds(n),
        "m" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        "w" => Duration::weeks(n),
        _ => return Err(why()),
    };
    now.checked_add(d * sign).ok_or_else(|| TimeError::TooFar {
        value: s.to_string(),
    })
}

/// Parses `10s`, `500ms`, `2m` (a bare number is seconds).
///
/// # Errors
/// [`DurationError`]: no number, another unit, or outside 1 ms to 10 minutes.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, DurationError> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().map_err(|_| DurationError::NotDuration {
        value: s.to_string(),
    })?;
    let d = match unit {
        "ms" => std::time::Duration::from_millis(n),
        "s" | "" => std::time::Duration::from_secs(n),
        "m" => std::time::Duration::from_secs(n * 60),
        _ => {
            return Err(DurationError::BadUnit {
                value: s.to_string(),
            })
        }
    };
    if d.is_zero() || d > std::time::Duration::from_secs(600) {
        return Err(DurationError::OutOfRange {
            value: s.to_string(),
        });
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_offsets_and_absolutes() {
        let now = time::macros::datetime!(2026-01-01 00:00 UTC);
        assert_eq!(
            parse_time("-1d", now).unwrap(),
            time::macros::datetime!(2025-12-31 00:00 UTC)
        );
        assert_eq!(
            parse_time("+365d", now).unwrap(),
            time::macros::datetime!(2027-01-01 00:00 UTC)
        );
        assert_eq!(
            parse_time("12h", now).unwrap(),
            time::macros::datetime!(2026-01-01 12:00 UTC)
        );
        assert_eq!(
            parse_time("2030-01-01", now).unwrap(),
            time::macros::datetime!(2030-01-01 00:00 UTC)
        );
        assert_eq!(
            parse_time("2030-01-01T10:00:00Z", now).unwrap(),
            time::macros::datetime!(2030-01-01 10:00 UTC)
        );
        assert!(parse_time("1 day", now).is_err());
        assert!(parse_time("5y", now).is_err());
    }
}
