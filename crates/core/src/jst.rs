//! Dates are stored in UTC and shown in Japan Standard Time. Japan has no
//! daylight saving time, so a fixed +09:00 offset is exact.

use time::{macros::format_description, macros::offset, Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

pub const JST: UtcOffset = offset!(+9);

/// `2026年11月28日 14:05`, the form every screen and report uses.
pub fn format_jst(t: OffsetDateTime) -> String {
    let fmt = format_description!("[year]年[month]月[day]日 [hour]:[minute]");
    t.to_offset(JST).format(&fmt).expect("the format description has only date and time components")
}

/// `2026-11-28`, the day in Japan.
pub fn format_jst_date(t: OffsetDateTime) -> String {
    t.to_offset(JST).date().to_string()
}

/// The day in Japan at `t`.
pub fn day(t: OffsetDateTime) -> Date {
    t.to_offset(JST).date()
}

/// `2026-11-28T14:05:07+09:00`, for exports that machines read.
pub fn format_rfc3339_jst(t: OffsetDateTime) -> String {
    t.to_offset(JST)
        .format(&time::format_description::well_known::Rfc3339)
        .expect("RFC 3339 formats every OffsetDateTime with a four-digit year")
}

/// A JST date `YYYY-MM-DD` (spaces around it ignored) as the instant its
/// day starts; `None` when it is not such a date.
pub fn jst_day_start(s: &str) -> Option<OffsetDateTime> {
    let d = Date::parse(s.trim(), format_description!("[year]-[month]-[day]")).ok()?;
    Some(PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_offset(JST))
}

/// A calendar date as people type it: `2027-04-30` or `2027/4/30` (the
/// form Japanese Excel shows), spaces around it ignored.
pub fn parse_date(s: &str) -> Option<Date> {
    let s = s.trim();
    let mut parts = s.split(['-', '/']);
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || !(1..=2).contains(&m.len()) || !(1..=2).contains(&d.len()) {
        return None;
    }
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y) && digits(m) && digits(d)) {
        return None;
    }
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn dates_as_people_type_them() {
        assert_eq!(parse_date(" 2027-04-30 "), Some(date!(2027 - 04 - 30)));
        assert_eq!(parse_date("2027/4/3"), Some(date!(2027 - 04 - 03)));
        for bad in
            ["", "2027-02-30", "27-04-30", "2027-04", "2027-04-30-1", "２０２７-04-30", "2027-+4-30", "2027/13/01"]
        {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn shows_japan_time_with_kanji_units() {
        assert_eq!(format_jst(datetime!(2026-11-28 05:05 UTC)), "2026年11月28日 14:05");
        // Crossing midnight moves the date.
        assert_eq!(format_jst(datetime!(2026-12-31 15:00 UTC)), "2027年01月01日 00:00");
    }

    #[test]
    fn rfc3339_carries_the_offset() {
        assert_eq!(format_rfc3339_jst(datetime!(2026-11-28 05:05:07 UTC)), "2026-11-28T14:05:07+09:00");
    }

    #[test]
    fn a_jst_date_starts_at_midnight_in_japan() {
        assert_eq!(jst_day_start("2026-11-28"), Some(datetime!(2026-11-27 15:00 UTC)));
        assert_eq!(jst_day_start(" 2026-01-01 "), Some(datetime!(2025-12-31 15:00 UTC)));
        for bad in ["", "2026-13-01", "2026-02-30", "2026/11/28", "28-11-2026", "2026-11-28T09:00:00+09:00"] {
            assert_eq!(jst_day_start(bad), None, "{bad}");
        }
    }
}
