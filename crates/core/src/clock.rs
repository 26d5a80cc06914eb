//! Time is injected: code asks a [`Clock`] for "now", so timeouts, lockouts
//! and retention can be tested without sleeping.

use time::OffsetDateTime;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
}

/// The real clock (UTC).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// Microseconds since the Unix epoch: the form in which every time is stored.
pub fn to_unix_micros(t: OffsetDateTime) -> i64 {
    // i128 -> i64 cannot overflow for any date before the year 292277.
    (t.unix_timestamp_nanos() / 1_000) as i64
}

/// The inverse of [`to_unix_micros`]; `None` only for values no clock produces.
pub fn from_unix_micros(us: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn micros_round_trip() {
        let t = datetime!(2026-11-28 05:05:07.123456 UTC);
        assert_eq!(from_unix_micros(to_unix_micros(t)), Some(t));
    }
}
