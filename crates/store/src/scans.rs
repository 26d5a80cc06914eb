//! The scan queue and results.

use crate::audit::append;
use crate::identity::Ctx;
use crate::{with_conn, Store, StoreError};
use mamori_core::audit::{Action, Changes, NewEvent, Outcome};
use mamori_core::clock::{from_unix_micros, to_unix_micros};
use mamori_core::verification::ScanReport;
use sqlx::Row;
use time::OffsetDateTime;

/// Where a scan is: queued → running → done (or failed: no URL answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanStatus {
    Queued,
    Running,
    Done,
    Failed,
}

impl ScanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::Queued => "queued",
            ScanStatus::Running => "running",
            ScanStatus::Done => "done",
            ScanStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<ScanStatus, StoreError> {
        Ok(match s {
            "queued" => ScanStatus::Queued,
            "running" => ScanStatus::Running,
            "done" => ScanStatus::Done,
            "failed" => ScanStatus::Failed,
            other => return Err(StoreError::Corrupt(format!("scan status {other}"))),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScanRun {
    pub id: i64,
    pub system_id: i64,
    pub requested_by: String,
    pub requested_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
    pub status: ScanStatus,
    /// Stored as JSON (`{"targets": [...]}`, as `mamori scan --format json`
    /// prints it), read back typed.
    pub report: Option<ScanReport>,
}

fn t(us: i64) -> Result<OffsetDateTime, StoreError> {
    from_unix_micros(us).ok_or_else(|| StoreError::Corrupt(format!("time {us}")))
}

macro_rules! run_from_row {
    ($r:expr) => {{
        let r = $r;
        ScanRun {
            id: r.try_get("id")?,
            system_id: r.try_get("system_id")?,
            requested_by: r.try_get("requested_by")?,
            requested_at: t(r.try_get("requested_at_us")?)?,
            finished_at: r.try_get::<Option<i64>, _>("finished_at_us")?.map(t).transpose()?,
            status: ScanStatus::parse(&r.try_get::<String, _>("status")?)?,
            report: r
                .try_get::<Option<String>, _>("report")?
                .map(|j| serde_json::from_str::<ScanReport>(&j))
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("scan report: {e}")))?,
        }
    }};
}

impl Store {
    /// Queues a scan of a system, unless one is queued or running already.
    pub async fn request_scan(&self, ctx: &Ctx, system_id: i64) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        let pending: Option<i64> = with_conn!(tx, c => {
            sqlx::query("SELECT id FROM scan_run WHERE system_id = $1 AND status IN ('queued', 'running')")
                .bind(system_id).fetch_optional(c).await?.map(|r| r.try_get("id")).transpose()?
        });
        if let Some(id) = pending {
            return Ok(id);
        }
        let id: i64 = with_conn!(tx, c => {
            sqlx::query("INSERT INTO scan_run (system_id, requested_by, requested_at_us, status) VALUES ($1, $2, $3, 'queued') RETURNING id")
                .bind(system_id).bind(&ctx.actor.login).bind(to_unix_micros(ctx.now)).fetch_one(c).await?.try_get("id")?
        });
        let ev = NewEvent::new(ctx.actor.clone(), ctx.origin.clone(), Action::ScanRequested, Outcome::Success)
            .target("system", system_id.to_string());
        append(&mut tx, ctx.now, ev).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Takes the oldest queued scan for this worker; two workers never take the same.
    pub async fn claim_scan(&self, now: OffsetDateTime) -> Result<Option<ScanRun>, StoreError> {
        let mut tx = self.begin().await?;
        let run = with_conn!(tx, c => {
            let row = sqlx::query(
                "UPDATE scan_run SET status = 'running', started_at_us = $1 \
                 WHERE id = (SELECT id FROM scan_run WHERE status = 'queued' ORDER BY id LIMIT 1) AND status = 'queued' \
                 RETURNING *",
            )
            .bind(to_unix_micros(now)).fetch_optional(c).await?;
            row.map(|r| Ok::<_, StoreError>(run_from_row!(&r))).transpose()?
        });
        tx.commit().await?;
        Ok(run)
    }

    /// Stores the result of a scan, with its audit event.
    pub async fn finish_scan(
        &self,
        ctx: &Ctx,
        run: &ScanRun,
        ok: bool,
        report: &ScanReport,
        summary: &str,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(report).map_err(|e| StoreError::Corrupt(format!("scan report: {e}")))?;
        let status = if ok { ScanStatus::Done } else { ScanStatus::Failed };
        let mut tx = self.begin().await?;
        with_conn!(tx, c => {
            sqlx::query("UPDATE scan_run SET status = $2, finished_at_us = $3, report = $4 WHERE id = $1")
                .bind(run.id).bind(status.as_str()).bind(to_unix_micros(ctx.now)).bind(json)
                .execute(c).await?;
        });
        let ev = NewEvent::new(
            ctx.actor.clone(),
            ctx.origin.clone(),
            Action::ScanFinished,
            if ok { Outcome::Success } else { Outcome::Failure },
        )
        .target("system", run.system_id.to_string())
        .changes(Changes::new().with("scan", run.id).with("summary", summary));
        append(&mut tx, ctx.now, ev).await?;
        tx.commit().await
    }

    /// The newest scans of a system, newest first.
    pub async fn scans(&self, system_id: i64, limit: i64) -> Result<Vec<ScanRun>, StoreError> {
        let mut tx = self.begin_read().await?;
        let list = with_conn!(tx, c => {
            let rows = sqlx::query("SELECT * FROM scan_run WHERE system_id = $1 ORDER BY id DESC LIMIT $2")
                .bind(system_id).bind(limit).fetch_all(c).await?;
            rows.iter().map(|r| Ok(run_from_row!(r))).collect::<Result<Vec<_>, StoreError>>()?
        });
        tx.rollback().await?;
        Ok(list)
    }

    /// Systems with URLs not scanned since `before` (the daily schedule).
    pub async fn systems_due_for_scan(&self, before: OffsetDateTime) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.begin_read().await?;
        let ids = with_conn!(tx, c => {
            sqlx::query(
                "SELECT s.id FROM system s WHERE s.urls <> '' AND s.phase <> 'retired' AND NOT EXISTS \
                 (SELECT 1 FROM scan_run r WHERE r.system_id = s.id AND r.requested_at_us >= $1) ORDER BY s.id",
            )
            .bind(to_unix_micros(before)).fetch_all(c).await?
            .iter().map(|r| r.try_get("id")).collect::<Result<Vec<i64>, _>>()?
        });
        tx.rollback().await?;
        Ok(ids)
    }
}
