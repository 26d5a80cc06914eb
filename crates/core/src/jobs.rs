//! The server's scheduled work as rows in the database (items 22, 23):
//! which kinds there are, when each is due, how long one run may take and
//! how often a failed one is tried again. Several instances queue the same
//! run under the same key, so each run exists once whoever queues it.

use crate::jst::JST;
use time::{Duration, OffsetDateTime, PrimitiveDateTime, Time};

crate::closed_set!(
    /// The kinds of scheduled work, as stored.
    JobKind {
        WatchSignins = "signins.watch",
        DisableInactive = "accounts.disable_inactive",
        QueueScans = "scans.queue_daily",
        VerifyAudit = "audit.verify",
        PurgeAudit = "audit.purge",
        Backup = "backup",
        SendReminders = "reminders.send",
        CheckSupport = "inventory.check_support",
    }
);

crate::closed_set!(
    /// Where a run is.
    JobState { Queued = "queued", Running = "running", Done = "done", Failed = "failed" }
);

/// The alert a run that failed its last attempt raises.
pub const JOB_FAILED: &str = "job.failed";

/// A run of a kind: its key (unique per kind) and when it may start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub run_key: String,
    pub not_before: OffsetDateTime,
}

impl JobKind {
    /// The run due at `now`. Daily kinds are keyed by the day in Japan and
    /// start at `daily_at` (minutes after midnight, JST) that day; a server
    /// that starts later in the day runs the day's run at once. The sign-in
    /// watch runs every ten minutes.
    pub fn due(self, now: OffsetDateTime, daily_at: Duration) -> Due {
        let local = now.to_offset(JST);
        match self {
            JobKind::WatchSignins => {
                let slot = local.minute() - local.minute() % 10;
                let start = local.replace_time(Time::from_hms(local.hour(), slot, 0).expect("a valid time"));
                Due { run_key: format!("{} {:02}:{:02}", local.date(), local.hour(), slot), not_before: start }
            }
            _ => {
                let midnight = PrimitiveDateTime::new(local.date(), Time::MIDNIGHT).assume_offset(JST);
                Due { run_key: local.date().to_string(), not_before: midnight + daily_at }
            }
        }
    }

    /// The longest one run may take. A run still running after it was left
    /// by an instance that stopped, and is taken up again; a run is cut off
    /// at it, so two never overlap.
    pub fn lease(self) -> Duration {
        match self {
            JobKind::WatchSignins => Duration::minutes(5),
            JobKind::Backup => Duration::hours(2),
            JobKind::PurgeAudit => Duration::minutes(30),
            _ => Duration::minutes(10),
        }
    }

    /// Attempts before a run counts as failed and raises an alert.
    pub fn max_attempts(self) -> i64 {
        match self {
            JobKind::WatchSignins => 2,
            _ => 4,
        }
    }
}

/// The wait before attempt `attempts + 1`: one minute, doubled each time,
/// at most an hour.
pub fn backoff(attempts: i64) -> Duration {
    let doublings = attempts.clamp(1, 7) - 1;
    Duration::minutes(1 << doublings).min(Duration::hours(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn daily_runs_are_keyed_by_the_day_in_japan_and_the_watch_by_its_ten_minutes() {
        let at = Duration::hours(2);
        // 23:59 JST on the 3rd, then 00:01 JST on the 4th.
        let late = datetime!(2026-12-03 14:59 UTC);
        let early = datetime!(2026-12-03 15:01 UTC);
        assert_eq!(
            JobKind::Backup.due(late, at),
            Due { run_key: "2026-12-03".into(), not_before: datetime!(2026-12-02 17:00 UTC) }
        );
        assert_eq!(
            JobKind::Backup.due(early, at),
            Due { run_key: "2026-12-04".into(), not_before: datetime!(2026-12-03 17:00 UTC) }
        );
        assert_eq!(JobKind::VerifyAudit.due(early, Duration::ZERO).not_before, datetime!(2026-12-03 15:00 UTC));
        assert_eq!(
            JobKind::WatchSignins.due(datetime!(2026-12-03 05:39:59 UTC), at),
            Due { run_key: "2026-12-03 14:30".into(), not_before: datetime!(2026-12-03 05:30 UTC) }
        );
        assert_eq!(JobKind::WatchSignins.due(datetime!(2026-12-03 05:40 UTC), at).run_key, "2026-12-03 14:40");
    }

    #[test]
    fn backoff_doubles_from_a_minute_up_to_an_hour() {
        let waits: Vec<i64> = (0..10).map(|a| backoff(a).whole_minutes()).collect();
        assert_eq!(waits, [1, 1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn every_kind_and_state_reads_back_from_its_code() {
        for k in JobKind::ALL {
            assert_eq!(JobKind::parse(k.as_str()), Some(*k));
            assert!(k.lease() > Duration::ZERO && k.max_attempts() >= 2);
        }
        for s in JobState::ALL {
            assert_eq!(JobState::parse(s.as_str()), Some(*s));
        }
    }
}
