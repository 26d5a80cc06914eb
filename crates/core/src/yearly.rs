//! Item 68: the report of the state of the measures, when the system is
//! built and at least once a year. Each system's yearly report falls due
//! at the end of its report month; reminders start [`REMIND_DAYS`] days
//! before, and a report not received by its due date is overdue.

use time::{Date, Month};

/// How many days before the due date the reminders start.
pub const REMIND_DAYS: i64 = 30;

crate::closed_set!(
    /// What the vendor or the department signs off for the year.
    SignoffKind { AdminAccounts = "admin_accounts", Logs = "logs" }
);

impl SignoffKind {
    /// The document's words.
    pub fn word(self) -> &'static str {
        match self {
            SignoffKind::AdminAccounts => "管理者アカウントの棚卸し",
            SignoffKind::Logs => "ログの確認",
        }
    }
}

/// The due date of the report of `year`: the last day of `month`.
pub fn due_date(year: i32, month: u8) -> Option<Date> {
    let month = Month::try_from(month).ok()?;
    Date::from_calendar_date(year, month, month.length(year)).ok()
}

/// Where a year's report stands on `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueState {
    /// Received by the security office.
    Received,
    /// More than [`REMIND_DAYS`] days away.
    Later,
    /// Due within [`REMIND_DAYS`] days (0: today).
    Soon { days_left: i64 },
    /// Past the due date and not received.
    Overdue { days_late: i64 },
}

pub fn due_state(today: Date, due: Date, received: bool) -> DueState {
    let left = (due - today).whole_days();
    match (received, left) {
        (true, _) => DueState::Received,
        (false, l) if l < 0 => DueState::Overdue { days_late: -l },
        (false, l) if l <= REMIND_DAYS => DueState::Soon { days_left: l },
        _ => DueState::Later,
    }
}

/// The years whose report a reminder may concern on `today`: last year's
/// (overdue if never received) and this year's.
pub fn years_to_watch(today: Date) -> [i32; 2] {
    [today.year() - 1, today.year()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn due_at_the_end_of_the_report_month() {
        assert_eq!(due_date(2027, 4), Some(date!(2027 - 04 - 30)));
        assert_eq!(due_date(2028, 2), Some(date!(2028 - 02 - 29)));
        assert_eq!(due_date(2027, 13), None);
        assert_eq!(due_date(2027, 0), None);
    }

    #[test]
    fn reminders_start_thirty_days_before_and_overdue_after_the_day() {
        let due = date!(2027 - 04 - 30);
        assert_eq!(due_state(date!(2027 - 03 - 30), due, false), DueState::Later);
        assert_eq!(due_state(date!(2027 - 03 - 31), due, false), DueState::Soon { days_left: 30 });
        assert_eq!(due_state(due, due, false), DueState::Soon { days_left: 0 });
        assert_eq!(due_state(date!(2027 - 05 - 01), due, false), DueState::Overdue { days_late: 1 });
        assert_eq!(due_state(date!(2027 - 05 - 01), due, true), DueState::Received);
    }
}
