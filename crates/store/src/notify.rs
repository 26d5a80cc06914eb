//! What the notifier keeps (items 22, 23): which open alerts are due a
//! message (never sent, or a reminder after the quiet period), claimed by
//! one instance at a time, and every delivery attempt, shown on the alerts
//! page. Recipients are described (roles and a count, a webhook's host),
//! never stored as addresses.

use crate::auditlog::{Alert, AlertRow};
use crate::{timestamp, with_conn, with_read_conn, Store, StoreError};
use mamori_core::clock::to_unix_micros;
use mamori_core::monitoring::{notify_retry_wait, NoticeKind, ReminderKind, Severity, NOTIFY_HOLD};
use time::{Duration, OffsetDateTime};

/// One attempt to deliver an alert (or a test message: no alert).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub alert_id: Option<i64>,
    pub channel: String,
    pub recipient: String,
    pub at: OffsetDateTime,
    pub ok: bool,
    pub error: String,
    /// What it was about when it was no alert: a reminder's or a
    /// notice's system.
    pub about: String,
    /// The step of the review it told of, when it was a notice.
    pub notice: Option<NoticeKind>,
}

/// An attempt about to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub channel: &'static str,
    pub recipient: String,
    pub ok: bool,
    pub error: String,
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: i64,
    alert_id: Option<i64>,
    channel: String,
    recipient: String,
    at_us: i64,
    ok: bool,
    error: String,
    about: String,
    notice: String,
}

/// A reminder: of what, which system, round (or year), due date and step
/// (30, 7 or 1 days before; 0 once overdue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    pub kind: ReminderKind,
    pub system_id: i64,
    pub round: i64,
    pub due_on: String,
    pub step: i64,
}

/// Critical alerts first, then warnings, then the rest: thousands of
/// warnings raised at once (a vendor's inventory under many advisories)
/// would otherwise hold a failed backup's message back for hours, `most`
/// a poll.
const MOST_SEVERE_FIRST: &str = "CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END";

/// [`MOST_SEVERE_FIRST`] in Rust, the most severe highest.
fn rank(severity: &str) -> u8 {
    match Severity::parse(severity) {
        Some(Severity::Critical) => 2,
        Some(Severity::Warning) => 1,
        _ => 0,
    }
}

impl Store {
    /// Claims at most `most` of the open alerts due a message, the most
    /// severe first: never sent,
    /// or last sent before `remind_before`. A claim holds for `hold`:
    /// another instance claiming meanwhile gets none of them (the
    /// conditions are checked again on each row as it is updated).
    pub async fn claim_alerts_to_notify(
        &self,
        now: OffsetDateTime,
        remind_before: OffsetDateTime,
        hold: Duration,
        most: u32,
    ) -> Result<Vec<Alert>, StoreError> {
        let (now_us, remind_us, stale_us) =
            (to_unix_micros(now), to_unix_micros(remind_before), to_unix_micros(now - hold));
        let due = "acknowledged_at_us IS NULL AND (notified_at_us IS NULL OR notified_at_us < $2) \
                   AND (notify_claimed_us IS NULL OR notify_claimed_us <= $3)";
        let lock = self.skip_locked();
        let sql = format!(
            "UPDATE alert SET notify_claimed_us = $1 WHERE {due} \
             AND id IN (SELECT id FROM alert WHERE {due} ORDER BY {MOST_SEVERE_FIRST}, id LIMIT {most} {lock}) \
             RETURNING id, kind, severity, subject, detail, first_seen_us, last_seen_us, count, acknowledged_by, acknowledged_at_us"
        );
        let mut tx = self.begin().await?;
        let rows: Vec<AlertRow> = with_conn!(tx, c => {
            sqlx::query_as(&sql).bind(now_us).bind(remind_us).bind(stale_us).fetch_all(&mut *c).await?
        });
        tx.commit().await?;
        let mut alerts: Vec<Alert> = rows.into_iter().map(AlertRow::into_record).collect::<Result<_, _>>()?;
        alerts.sort_by_key(|a| (std::cmp::Reverse(rank(&a.severity)), a.id));
        Ok(alerts)
    }

    /// Records the attempts for an alert (or a test message); an alert
    /// counts as sent when one attempt succeeded, or when there was none
    /// (no channel carries its kind), and is tried again after the claim's
    /// hold when every one failed.
    pub async fn record_deliveries(
        &self,
        alert_id: Option<i64>,
        now: OffsetDateTime,
        attempts: &[Attempt],
    ) -> Result<(), StoreError> {
        let at = to_unix_micros(now);
        let sent = attempts.is_empty() || attempts.iter().any(|a| a.ok);
        let mut tx = self.begin().await?;
        insert_attempts(&mut tx, alert_id, at, attempts, "", None).await?;
        if let Some(id) = alert_id {
            if sent {
                with_conn!(tx, c => sqlx::query(
                    "UPDATE alert SET notified_at_us = $2, notify_claimed_us = NULL, notify_failures = 0 WHERE id = $1",
                )
                .bind(id).bind(at).execute(&mut *c).await?.rows_affected());
            } else {
                // A failure keeps the claim, moved on so that the next
                // attempt waits `notify_retry_wait` (the hold, doubled at
                // each failure in a row): no attempt every poll at a dead server.
                let failed_before: i64 = with_conn!(tx, c => sqlx::query_scalar::<_, i64>(
                    "SELECT notify_failures FROM alert WHERE id = $1",
                )
                .bind(id).fetch_one(&mut *c).await?);
                let failures = failed_before + 1;
                let claimed = now + notify_retry_wait(failures) - NOTIFY_HOLD;
                with_conn!(tx, c => sqlx::query(
                    "UPDATE alert SET notify_claimed_us = $2, notify_failures = $3 WHERE id = $1",
                )
                .bind(id).bind(to_unix_micros(claimed)).bind(failures).execute(&mut *c).await?.rows_affected());
            }
        }
        tx.commit().await
    }

    /// Has this reminder been sent?
    pub async fn reminder_sent(&self, r: &Reminder) -> Result<bool, StoreError> {
        let n: i64 = with_read_conn!(self, c => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM reminder_sent WHERE system_id = $1 AND round = $2 AND due_on = $3 AND step = $4 AND kind = $5",
            )
            .bind(r.system_id).bind(r.round).bind(&r.due_on).bind(r.step).bind(r.kind.as_str()).fetch_one(c).await?
        })?;
        Ok(n > 0)
    }

    /// Records a reminder's attempts, `about` its system; when one reached
    /// someone, the reminder counts as sent (never sent again).
    pub async fn record_reminder(
        &self,
        r: &Reminder,
        now: OffsetDateTime,
        recipients: i64,
        attempts: &[Attempt],
        about: &str,
    ) -> Result<(), StoreError> {
        let at = to_unix_micros(now);
        let mut tx = self.begin().await?;
        insert_attempts(&mut tx, None, at, attempts, about, None).await?;
        if attempts.iter().any(|a| a.ok) {
            with_conn!(tx, c => sqlx::query(
                "INSERT INTO reminder_sent (kind, system_id, round, due_on, step, sent_at_us, recipients) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (kind, system_id, round, due_on, step) DO NOTHING",
            )
            .bind(r.kind.as_str()).bind(r.system_id).bind(r.round).bind(&r.due_on).bind(r.step).bind(at).bind(recipients)
            .execute(&mut *c).await?.rows_affected());
        }
        tx.commit().await
    }

    /// The newest delivery attempts, newest first.
    pub async fn deliveries(&self, limit: i64) -> Result<Vec<Delivery>, StoreError> {
        let rows: Vec<DeliveryRow> = with_read_conn!(self, c => {
            sqlx::query_as("SELECT id, alert_id, channel, recipient, at_us, ok, error, about, notice FROM notification ORDER BY at_us DESC, id DESC LIMIT $1")
                .bind(limit).fetch_all(c).await?
        })?;
        rows.into_iter()
            .map(|r| {
                Ok(Delivery {
                    id: r.id,
                    alert_id: r.alert_id,
                    channel: r.channel,
                    recipient: r.recipient,
                    at: timestamp(r.at_us)?,
                    ok: r.ok,
                    error: r.error,
                    about: r.about,
                    notice: NoticeKind::parse(&r.notice),
                })
            })
            .collect()
    }
}

/// What /metrics reports of the operations (item 22).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Operations {
    pub open_alerts: i64,
    pub queued_scans: i64,
    /// The newest successful backup's time.
    pub last_backup_ok: Option<OffsetDateTime>,
    /// Did the newest backup succeed? (`None`: none taken yet.)
    pub last_backup_succeeded: Option<bool>,
    /// Delivery attempts that failed in the last 24 hours.
    pub failed_notifications: i64,
}

impl Store {
    pub async fn operations(&self, now: OffsetDateTime) -> Result<Operations, StoreError> {
        let since = to_unix_micros(now - Duration::hours(24));
        let (open_alerts, queued_scans, failed_notifications, backups) = with_read_conn!(self, c => {
            let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM alert WHERE acknowledged_at_us IS NULL").fetch_one(&mut *c).await?;
            let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM scan_run WHERE status = 'queued'").fetch_one(&mut *c).await?;
            let failed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notification WHERE NOT ok AND at_us >= $1").bind(since).fetch_one(&mut *c).await?;
            // The newest backup events, by the action's index.
            let backups: Vec<(i64, String)> = sqlx::query_as(
                "SELECT occurred_at_us, outcome FROM audit_event WHERE action = 'backup.taken' ORDER BY seq DESC LIMIT 50",
            )
            .fetch_all(&mut *c).await?;
            (open, queued, failed, backups)
        })?;
        let last_backup_ok = backups.iter().find(|b| b.1 == "success").map(|b| timestamp(b.0)).transpose()?;
        Ok(Operations {
            open_alerts,
            queued_scans,
            last_backup_ok,
            last_backup_succeeded: backups.first().map(|b| b.1 == "success"),
            failed_notifications,
        })
    }
}

pub(crate) async fn insert_attempts(
    tx: &mut crate::Tx,
    alert_id: Option<i64>,
    at: i64,
    attempts: &[Attempt],
    about: &str,
    notice: Option<NoticeKind>,
) -> Result<(), StoreError> {
    let notice = notice.map_or("", NoticeKind::as_str);
    for a in attempts {
        with_conn!(tx, c => sqlx::query(
            "INSERT INTO notification (alert_id, channel, recipient, at_us, ok, error, about, notice) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(alert_id).bind(a.channel).bind(&a.recipient).bind(at).bind(a.ok).bind(&a.error).bind(about).bind(notice)
        .execute(&mut *c).await?.rows_affected());
    }
    Ok(())
}
