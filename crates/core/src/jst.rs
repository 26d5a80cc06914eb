//! Dates are stored in UTC and shown in Japan Standard Time. Japan has no
//! daylight saving time, so a fixed +09:00 offset is exact.

use time::{macros::format_description, macros::offset, OffsetDateTime, UtcOffset};

pub const JST: UtcOffset = offset!(+9);

/// `2026年11月28日 14:05`, the form every screen and report uses.
pub fn format_jst(t: OffsetDateTime) -> String {
    let fmt = format_description!("[year]年[month]月[day]日 [hour]:[minute]");
    t.to_offset(JST).format(&fmt).expect("the format description has only date and time components")
}

/// `2026-11-28T14:05:07+09:00`, for exports that machines read.
pub fn format_rfc3339_jst(t: OffsetDateTime) -> String {
    t.to_offset(JST)
        .format(&time::format_description::well_known::Rfc3339)
        .expect("RFC 3339 formats every OffsetDateTime with a four-digit year")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

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
}
