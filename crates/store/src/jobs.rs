//! Scheduled work as rows (items 22, 23). A run is queued under its kind
//! and key once, however many instances queue it; one instance claims it
//! for the kind's lease (on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so
//! claimers never wait on each other; SQLite has a single writer); a run
//! still running after its lease is taken up again; a failed attempt waits
//! a growing time, and the last one raises a `job.failed` alert.
//!
//! Every change after the claim is fenced by the claim's attempt number:
//! an instance whose lease ran out cannot overwrite what the next one did.

use crate::identity::Ctx;
use crate::Tx;
use crate::{opt_timestamp, parsed, timestamp, with_conn, with_read_conn, Store, StoreError};
use mamori_core::audit::{Action, Changes, NewEvent, Outcome};
use mamori_core::clock::to_unix_micros;
use mamori_core::jobs::{backoff, JobKind, JobState, JOB_FAILED};
use mamori_core::monitoring::Severity;
use mamori_core::policy::Keeping;
use time::OffsetDateTime;

/// One run of scheduled work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub kind: JobKind,
    pub run_key: String,
    pub state: JobState,
    pub attempts: i64,
    pub max_attempts: i64,
    pub created_at: OffsetDateTime,
    pub run_after: OffsetDateTime,
    pub claimed_by: Option<String>,
    pub claimed_at: Option<OffsetDateTime>,
    pub lease_until: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
    /// What the run did, or its last error.
    pub outcome: String,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    kind: String,
    run_key: String,
    state: String,
    attempts: i64,
    max_attempts: i64,
    created_at_us: i64,
    run_after_us: i64,
    claimed_by: Option<String>,
    claimed_at_us: Option<i64>,
    lease_until_us: Option<i64>,
    finished_at_us: Option<i64>,
    outcome: String,
}

impl JobRow {
    fn into_record(self) -> Result<Job, StoreError> {
        Ok(Job {
            id: self.id,
            kind: parsed("job kind", &self.kind, JobKind::parse)?,
            run_key: self.run_key,
            state: parsed("job state", &self.state, JobState::parse)?,
            attempts: self.attempts,
            max_attempts: self.max_attempts,
            created_at: timestamp(self.created_at_us)?,
            run_after: timestamp(self.run_after_us)?,
            claimed_by: self.claimed_by,
            claimed_at: opt_timestamp(self.claimed_at_us)?,
            lease_until: opt_timestamp(self.lease_until_us)?,
            finished_at: opt_timestamp(self.finished_at_us)?,
            outcome: self.outcome,
        })
    }
}

const COLUMNS: &str = "id, kind, run_key, state, attempts, max_attempts, created_at_us, run_after_us, \
                       claimed_by, claimed_at_us, lease_until_us, finished_at_us, outcome";

/// Counts of runs for /metrics and the jobs page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    /// Queued and due.
    pub waiting: i64,
    pub running: i64,
    /// Failed for good in the last 24 hours.
    pub failed_24h: i64,
    /// Attempts that failed and wait to be tried again.
    pub retrying: i64,
}

impl Store {
    /// Queues a run unless one with this kind and key exists; true when
    /// this call queued it.
    pub async fn queue_job(
        &self,
        now: OffsetDateTime,
        kind: JobKind,
        run_key: &str,
        run_after: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let done = with_conn!(tx, c => {
            sqlx::query(
                "INSERT INTO job (kind, run_key, state, max_attempts, lease_us, created_at_us, run_after_us) \
                 VALUES ($1, $2, 'queued', $3, $4, $5, $6) ON CONFLICT (kind, run_key) DO NOTHING",
            )
            .bind(kind.as_str()).bind(run_key).bind(kind.max_attempts())
            .bind(kind.lease().whole_microseconds() as i64)
            .bind(to_unix_micros(now)).bind(to_unix_micros(run_after))
            .execute(&mut *c).await?.rows_affected()
        });
        tx.commit().await?;
        Ok(done == 1)
    }

    /// Claims the next due run for `worker`: a queued one whose time has
    /// come, or a running one whose lease ran out. The attempt count goes up
    /// with the claim.
    pub async fn claim_job(&self, now: OffsetDateTime, worker: &str) -> Result<Option<Job>, StoreError> {
        let lock = self.skip_locked();
        let sql = format!(
            "UPDATE job SET state = 'running', attempts = attempts + 1, claimed_by = $1, claimed_at_us = $2, \
                    lease_until_us = $2 + lease_us \
             WHERE id = (SELECT id FROM job \
                         WHERE (state = 'queued' AND run_after_us <= $2) OR (state = 'running' AND lease_until_us < $2) \
                         ORDER BY run_after_us, id LIMIT 1 {lock}) \
             RETURNING {COLUMNS}"
        );
        let mut tx = self.begin().await?;
        let row: Option<JobRow> = with_conn!(tx, c => {
            sqlx::query_as(&sql).bind(worker).bind(to_unix_micros(now)).fetch_optional(&mut *c).await?
        });
        tx.commit().await?;
        row.map(JobRow::into_record).transpose()
    }

    /// Records the end of a claimed attempt. A success is done; a failure
    /// waits [`backoff`] and is queued again, or, at its last attempt,
    /// fails for good and raises a `job.failed` alert. Returns the new
    /// state, or `None` when the claim was no longer this attempt's (its
    /// lease ran out and another instance took the run up).
    pub async fn finish_job(
        &self,
        now: OffsetDateTime,
        job: &Job,
        result: Result<String, String>,
    ) -> Result<Option<JobState>, StoreError> {
        let now_us = to_unix_micros(now);
        let (state, outcome, run_after) = match result {
            Ok(note) => (JobState::Done, note, None),
            Err(e) if job.attempts >= job.max_attempts => (JobState::Failed, e, None),
            Err(e) => (JobState::Queued, e, Some(now + backoff(job.attempts))),
        };
        let finished = (state != JobState::Queued).then_some(now_us);
        let mut tx = self.begin().await?;
        let changed = with_conn!(tx, c => {
            sqlx::query(
                "UPDATE job SET state = $3, outcome = $4, finished_at_us = $5, run_after_us = COALESCE($6, run_after_us), \
                        lease_until_us = NULL \
                 WHERE id = $1 AND attempts = $2 AND state = 'running'",
            )
            .bind(job.id).bind(job.attempts).bind(state.as_str()).bind(&outcome).bind(finished)
            .bind(run_after.map(to_unix_micros))
            .execute(&mut *c).await?.rows_affected()
        });
        if changed > 0 && state == JobState::Failed {
            // With the failure, in its transaction: a crash between the two
            // left a run failed for good and nobody told.
            let detail = format!("{} ({} 回試行 / attempts): {outcome}", job.run_key, job.attempts);
            let alert = crate::auditlog::Raise {
                now,
                kind: JOB_FAILED,
                severity: Severity::Critical,
                subject: job.kind.as_str(),
                detail: &detail,
                key: None,
            };
            crate::auditlog::raise_in(&mut tx, &alert).await?;
        }
        tx.commit().await?;
        Ok((changed > 0).then_some(state))
    }

    /// The newest runs, newest first.
    pub async fn jobs(&self, limit: i64) -> Result<Vec<Job>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM job ORDER BY id DESC LIMIT $1");
        let rows: Vec<JobRow> = with_read_conn!(self, c => {
            sqlx::query_as(&sql).bind(limit).fetch_all(&mut *c).await?
        })?;
        rows.into_iter().map(JobRow::into_record).collect()
    }

    /// How many runs wait, run, retry, and failed lately.
    pub async fn job_counts(&self, now: OffsetDateTime) -> Result<JobCounts, StoreError> {
        let (now_us, since) = (to_unix_micros(now), to_unix_micros(now - time::Duration::hours(24)));
        let (waiting, running, failed_24h, retrying): (i64, i64, i64, i64) = with_read_conn!(self, c => {
            sqlx::query_as(
                "SELECT \
                   COALESCE(SUM(CASE WHEN state = 'queued' AND run_after_us <= $1 THEN 1 ELSE 0 END), 0), \
                   COALESCE(SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END), 0), \
                   COALESCE(SUM(CASE WHEN state = 'failed' AND finished_at_us >= $2 THEN 1 ELSE 0 END), 0), \
                   COALESCE(SUM(CASE WHEN state = 'queued' AND attempts > 0 THEN 1 ELSE 0 END), 0) \
                 FROM job WHERE state <> 'done'",
            )
            .bind(now_us).bind(since).fetch_one(&mut *c).await?
        })?;
        Ok(JobCounts { waiting, running, failed_24h, retrying })
    }

    /// Removes finished runs: done ones before `done_before`, failed ones
    /// before `failed_before`. Returns how many.
    pub async fn purge_jobs(
        &self,
        done_before: OffsetDateTime,
        failed_before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let n = delete_jobs(&mut tx, done_before, failed_before).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// The daily housekeeping, each kind past its [`Keeping`] before
    /// `ctx.now`: removes the finished job runs ([`Store::purge_jobs`]),
    /// the failed sign-in attempts ([`Store::purge_failed_attempts`]), the
    /// successful sign-ins no longer needed (`accounts::delete_old_successes`:
    /// all of `keep.signins` stay, and an address's first and last unless
    /// unused for `keep.alerts`), and the alerts acknowledged and quiet for
    /// `keep.alerts` with every delivery attempt older than that, with one
    /// audit event saying how many, in one transaction (no event when none
    /// went).
    pub async fn purge_housekeeping(&self, ctx: &Ctx, keep: &Keeping) -> Result<Purged, StoreError> {
        let now = ctx.now;
        let alerts_before = now - keep.alerts;
        let mut tx = self.begin_as(ctx).await?;
        let jobs = delete_jobs(&mut tx, now - keep.done_jobs, now - keep.failed_jobs).await?;
        let signins = crate::accounts::delete_failed_attempts(&mut tx, now - keep.failed_signins).await?;
        let successes = crate::accounts::delete_old_successes(&mut tx, now - keep.signins, alerts_before).await?;
        let alerts = delete_alerts(&mut tx, alerts_before).await?;
        let purged = Purged { job_runs: jobs, failed_signins: signins, old_signins: successes, alerts };
        if jobs + signins + successes + alerts == 0 {
            tx.commit().await?;
        } else {
            let ev = NewEvent::new(ctx.actor.clone(), ctx.origin.clone(), Action::HousekeepingPurged, Outcome::Success)
                .changes(
                    Changes::new()
                        .with("job_runs", jobs)
                        .with("failed_signins", signins)
                        .with("old_signins", successes)
                        .with("alerts", alerts),
                );
            tx.commit_audited(ctx.now, ev).await?;
        }
        Ok(purged)
    }
}

/// What a housekeeping run removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Purged {
    pub job_runs: u64,
    pub failed_signins: u64,
    /// Successful sign-ins between a pair's first and last, or of an
    /// address unused for the retention.
    pub old_signins: u64,
    pub alerts: u64,
}

/// Alerts acknowledged and last seen before `before`, and delivery attempts
/// made before it (an alert's go with it): without this, alerts raised
/// by anyone (a sign-in spraying from ever new addresses) stayed for good.
async fn delete_alerts(tx: &mut Tx, before: OffsetDateTime) -> Result<u64, StoreError> {
    let before = to_unix_micros(before);
    let old = "SELECT id FROM alert WHERE acknowledged_at_us < $1 AND last_seen_us < $1";
    Ok(with_conn!(tx, c => {
        sqlx::query(&format!("DELETE FROM notification WHERE at_us < $1 OR alert_id IN ({old})"))
            .bind(before).execute(&mut *c).await?;
        sqlx::query(&format!("DELETE FROM alert WHERE id IN ({old})")).bind(before).execute(&mut *c).await?.rows_affected()
    }))
}

async fn delete_jobs(
    tx: &mut Tx,
    done_before: OffsetDateTime,
    failed_before: OffsetDateTime,
) -> Result<u64, StoreError> {
    Ok(with_conn!(tx, c => {
        sqlx::query(
            "DELETE FROM job WHERE (state = 'done' AND finished_at_us < $1) OR (state = 'failed' AND finished_at_us < $2)",
        )
        .bind(to_unix_micros(done_before)).bind(to_unix_micros(failed_before))
        .execute(&mut *c).await?.rows_affected()
    }))
}
