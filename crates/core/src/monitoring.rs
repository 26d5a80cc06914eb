//! Rules of the audit log's upkeep and of sign-in monitoring (checklist
//! items 28, 29, 67).

use time::{Duration, OffsetDateTime};

/// Item 29: logs are kept at least two years.
pub const MIN_RETENTION: Duration = Duration::days(730);

/// Is this retention allowed?
pub fn retention_ok(retention: Duration) -> bool {
    retention >= MIN_RETENTION
}

/// What is older than this, at `now`, is past `retention`, and never
/// younger than two years by the calendar: 730 days across a 29 February
/// are a day short of two years (an event of 1 March 2027 was past them
/// on 28 February 2029).
pub fn retention_cutoff(now: OffsetDateTime, retention: Duration) -> OffsetDateTime {
    let two_years = now.replace_year(now.year() - 2).unwrap_or_else(|_| {
        // 29 February two years back is no date: the 28th is earlier.
        (now - Duration::days(1)).replace_year(now.year() - 2).expect("28 February exists every year")
    });
    (now - retention).min(two_years)
}

crate::closed_set!(
    /// How urgent an alert is.
    Severity { Info = "info", Warning = "warning", Critical = "critical" }
);

/// The kinds of alert mamori raises, as stored.
pub const ALERT_KINDS: [&str; 18] = [
    "signin.spike",
    "signin.spraying",
    "audit.chain_broken",
    "backup.failed",
    "scan.regression",
    "scan.certificate_expiring",
    "scan.address_changed",
    SCAN_ADDRESS_NEW,
    crate::jobs::JOB_FAILED,
    SUPPORT_ENDING,
    SUPPORT_ENDED,
    VULN_MATCHED,
    VULN_MATCHES_FULL,
    RECORD_DUE_SOON,
    RECORD_OVERDUE,
    CREDENTIALS_RESET,
    PRIVILEGE_GRANTED,
    ACCOUNT_LOCKED,
];

/// May `role` hear of an alert of `kind`? An alert that names a system
/// (its scans, inventory, advisories, records) is for those who may see
/// systems: the administrators manage accounts and see no system, so
/// whatever the routes say, they do not hear of those. The rest (sign-ins,
/// accounts, the audit chain, backups, jobs) is for whoever is routed.
pub fn may_hear_of(role: crate::identity::Role, kind: &str) -> bool {
    let names_a_system = ["scan.", "inventory.", "vuln.", "record."].iter().any(|p| kind.starts_with(p));
    !names_a_system || role.can(crate::identity::Permission::ViewSystems)
}

/// An account was locked by failed sign-ins (item 41). Anyone who knows a
/// login can lock it again each time the lock lifts, an administrator's
/// included: the office hears of it, to unlock the person and look for the
/// source.
pub const ACCOUNT_LOCKED: &str = "account.locked";

/// A name scanned for the first time, at a scan the office did not ask for
/// (a vendor's, the daily run): held until the officer confirms its address.
pub const SCAN_ADDRESS_NEW: &str = "scan.address_new";

/// An administrator set a new password for someone, or cleared their
/// second factor: whoever holds that administrator's session could sign in
/// as that person (an officer, another administrator), so the office hears
/// of every one.
pub const CREDENTIALS_RESET: &str = "account.credentials_reset";

/// An account was issued with, given, or enabled again in a role that
/// reaches what others may not (administrator, security officer,
/// auditor): whoever holds an administrator's session could make one for
/// themselves, so the office hears of every one.
pub const PRIVILEGE_GRANTED: &str = "account.privileged";

/// A record's date (a contract's end, a certificate's or domain's expiry,
/// a year after the last restore test) comes within its warning window.
pub const RECORD_DUE_SOON: &str = "record.due_soon";
/// A record's date has passed.
pub const RECORD_OVERDUE: &str = "record.overdue";

/// An advisory names a component of a system's inventory (item 63).
pub const VULN_MATCHED: &str = "vuln.matched";
/// A system holds as many matches as it may
/// ([`crate::vulns::MAX_MATCHES_PER_SYSTEM`]), and new ones found were not
/// recorded: its inventory wants a look (a product listed without its
/// version on many hosts matches every advisory of it).
pub const VULN_MATCHES_FULL: &str = "vuln.matches_full";

/// A component's support ends within the warning window (items 62, 68).
pub const SUPPORT_ENDING: &str = "inventory.support_ending";
/// A component's support has ended.
pub const SUPPORT_ENDED: &str = "inventory.support_ended";

crate::closed_set!(
    /// What a due-date reminder is about, as stored: a round's answers,
    /// a yearly report, or a round just opened (the request to answer).
    ReminderKind { Round = "round", Yearly = "yearly", Opened = "round_opened" }
);

crate::closed_set!(
    /// A step of the review told by mail, as stored: items returned (to
    /// the organisation that answers them), the last part submitted (to the
    /// security office), the round approved (to those who answered it).
    NoticeKind { Returned = "returned", Submitted = "submitted", Approved = "approved" }
);

/// A notice not delivered within this long is not sent any more (told
/// days late, a step only confuses), and it is removed a month on.
pub const NOTICE_FRESH: Duration = Duration::days(3);

/// How long a notifier's claim on an alert holds: no other instance sends
/// it meanwhile, and a failed delivery is tried again after it at the soonest.
pub const NOTIFY_HOLD: Duration = Duration::minutes(5);

/// The wait before the next attempt to deliver an alert after `failures`
/// failed rounds in a row: the hold, doubled each time, at most six hours
/// (a mail server down for a day is not knocked on every five minutes).
pub fn notify_retry_wait(failures: i64) -> Duration {
    let doublings = failures.clamp(1, 8) - 1;
    (NOTIFY_HOLD * (1i32 << doublings)).min(Duration::hours(6))
}

/// When sign-in failures call for an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInWatch {
    /// Failures in the last hour above this multiple of the 7-day hourly median…
    pub spike_multiplier: u32,
    /// …and at least this many.
    pub spike_floor: u32,
    /// Distinct accounts failing from one address within an hour (password spraying).
    pub spraying_accounts: u32,
}

impl Default for SignInWatch {
    fn default() -> Self {
        SignInWatch { spike_multiplier: 5, spike_floor: 20, spraying_accounts: 10 }
    }
}

/// The median of hourly counts (hours with no failure count as zero).
pub fn median(mut hourly: Vec<u32>) -> u32 {
    if hourly.is_empty() {
        return 0;
    }
    hourly.sort_unstable();
    let n = hourly.len();
    if n % 2 == 1 {
        hourly[n / 2]
    } else {
        (hourly[n / 2 - 1] + hourly[n / 2]) / 2
    }
}

impl SignInWatch {
    /// A sudden increase: the last hour's failures against the usual hour.
    pub fn is_spike(&self, last_hour: u32, hourly_history: Vec<u32>) -> bool {
        let usual = median(hourly_history);
        last_hour >= self.spike_floor && last_hour > usual.saturating_mul(self.spike_multiplier)
    }

    /// Many accounts failing from one address.
    pub fn is_spraying(&self, distinct_accounts: u32) -> bool {
        distinct_accounts >= self.spraying_accounts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 730 days across a 29 February are a day short of two years: an
    /// event of 1 March 2027 was past them on 28 February 2029, and the
    /// purge removed it a day before its two years. The cutoff is never
    /// later than two years back by the calendar; a longer retention is
    /// kept as it is.
    #[test]
    fn the_retention_s_cutoff_is_never_less_than_two_calendar_years() {
        use time::macros::datetime;
        let now = datetime!(2029-02-28 12:00 UTC);
        let event = datetime!(2027-03-01 00:00 UTC);
        assert!(event < now - MIN_RETENTION, "730 days would take it");
        let cutoff = retention_cutoff(now, MIN_RETENTION);
        assert_eq!(cutoff, datetime!(2027-02-28 12:00 UTC));
        assert!(event >= cutoff, "kept: not yet two years old");
        assert_eq!(retention_cutoff(datetime!(2028-02-29 12:00 UTC), MIN_RETENTION), datetime!(2026-02-28 12:00 UTC));
        assert_eq!(retention_cutoff(now, Duration::days(1095)), now - Duration::days(1095));
        assert_eq!(retention_cutoff(datetime!(2027-06-01 00:00 UTC), MIN_RETENTION), datetime!(2025-06-01 00:00 UTC));
    }

    #[test]
    fn failed_deliveries_wait_longer_each_time_up_to_six_hours() {
        let waits: Vec<i64> = (1..=9).map(|n| notify_retry_wait(n).whole_minutes()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 320, 360, 360]);
    }

    #[test]
    fn item_29_two_years_at_least() {
        assert!(!retention_ok(Duration::days(729)));
        assert!(retention_ok(Duration::days(730)));
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![]), 0);
        assert_eq!(median(vec![3, 1, 2]), 2);
        assert_eq!(median(vec![0, 0, 10, 10]), 5);
    }

    #[test]
    fn spikes_need_both_the_floor_and_the_multiple() {
        let w = SignInWatch::default();
        let quiet = vec![2; 168];
        assert!(!w.is_spike(8, quiet.clone()), "under the floor");
        assert!(w.is_spike(25, quiet.clone()), "25 > 5 × 2 and ≥ 20");
        let busy = vec![10; 168];
        assert!(!w.is_spike(40, busy), "40 is not above 5 × 10");
        assert!(w.is_spraying(10) && !w.is_spraying(9));
    }
}
