//! Item 68's yearly report: each system's report month, the year's
//! sign-offs of the administrator-account and log reviews, and the
//! security office's receipt of the report.

use crate::accounts::unique;
use crate::identity::Ctx;
use crate::{timestamp, with_conn, with_read_conn, Store, StoreError};
use mamori_core::audit::{Action, Changes};
use mamori_core::checklist::{Phase, WorkflowError};
use mamori_core::clock::to_unix_micros;
use mamori_core::yearly::SignoffKind;
use std::collections::{HashMap, HashSet};
use time::OffsetDateTime;

/// One sign-off of a review for a system's year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signoff {
    pub kind: SignoffKind,
    pub comment: String,
    pub actor_login: String,
    pub at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct SignoffRow {
    kind: String,
    comment: String,
    actor_login: String,
    at_us: i64,
}

impl Store {
    /// The report month set for a system, if any (otherwise the configured default).
    pub async fn report_month(&self, system_id: i64) -> Result<Option<u8>, StoreError> {
        let m: Option<i64> = with_read_conn!(self, c => {
            sqlx::query_scalar("SELECT month FROM system_report_month WHERE system_id = $1").bind(system_id).fetch_optional(c).await?
        })?;
        Ok(m.and_then(|m| u8::try_from(m).ok()))
    }

    /// Every system's report month that is set.
    pub async fn report_months(&self) -> Result<HashMap<i64, u8>, StoreError> {
        let rows: Vec<(i64, i64)> = with_read_conn!(self, c => {
            sqlx::query_as("SELECT system_id, month FROM system_report_month").fetch_all(c).await?
        })?;
        Ok(rows.into_iter().filter_map(|(s, m)| Some((s, u8::try_from(m).ok()?))).collect())
    }

    /// Sets a system's report month (1–12).
    pub async fn set_report_month(&self, ctx: &Ctx, system_id: i64, month: u8) -> Result<(), StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        // One statement: a delete and an insert, sent twice at once, made
        // the second insert fail on the key (an error page) on PostgreSQL.
        with_conn!(tx, c => {
            sqlx::query(
                "INSERT INTO system_report_month (system_id, month) VALUES ($1, $2) \
                 ON CONFLICT (system_id) DO UPDATE SET month = excluded.month",
            )
            .bind(system_id).bind(i64::from(month)).execute(&mut *c).await?;
        });
        let ev = ctx.event_on(Action::ReportMonthSet, "system", system_id).changes(Changes::new().with("month", month));
        tx.commit_audited(ctx.now, ev).await
    }

    /// Records the sign-off of a review for a system's year.
    pub async fn add_signoff(
        &self,
        ctx: &Ctx,
        system_id: i64,
        year: i32,
        kind: SignoffKind,
        comment: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        // Under the system's lock, by someone who still sees it, of a
        // system still running (a retirement landing meanwhile is seen).
        let s = crate::systems::lock_system(&mut tx, ctx, system_id).await?;
        if s.input.phase == Phase::Retired {
            return Err(StoreError::Refused(WorkflowError::Retired));
        }
        // A received report does not change afterwards: its year takes no
        // sign-off more (one that meets the receipt is not in what was
        // received, which is what the report shows from then on).
        let received: i64 = with_conn!(tx, c => {
            sqlx::query_scalar("SELECT COUNT(*) FROM yearly_report WHERE system_id = $1 AND year = $2")
                .bind(system_id).bind(i64::from(year)).fetch_one(c).await?
        });
        if received > 0 {
            return Err(StoreError::Taken);
        }
        // The same one sent again within a minute is the first.
        let since = tx.signoff_window("review_signoff", &ctx.actor.login, ctx.now).await?;
        let again: Option<i64> = with_conn!(tx, c => {
            sqlx::query_scalar(
                "SELECT id FROM review_signoff WHERE actor_login = $1 AND at_us > $2 \
                 AND system_id = $3 AND year = $4 AND kind = $5 AND comment = $6 LIMIT 1",
            )
            .bind(&ctx.actor.login).bind(since).bind(system_id).bind(i64::from(year)).bind(kind.as_str()).bind(comment)
            .fetch_optional(c).await?
        });
        if again.is_some() {
            return Ok(());
        }
        with_conn!(tx, c => {
            sqlx::query("INSERT INTO review_signoff (system_id, year, kind, comment, actor_login, at_us) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(system_id).bind(i64::from(year)).bind(kind.as_str()).bind(comment).bind(&ctx.actor.login)
                .bind(to_unix_micros(ctx.now)).execute(c).await?;
        });
        let ev = ctx
            .event_on(Action::ReviewSignedOff, "system", system_id)
            .changes(Changes::new().with("year", year).with("kind", kind.as_str()).with("comment", comment));
        tx.commit_audited(ctx.now, ev).await
    }

    /// The sign-offs of a system's year, oldest first.
    pub async fn signoffs(&self, system_id: i64, year: i32) -> Result<Vec<Signoff>, StoreError> {
        let rows = with_read_conn!(self, c => {
            sqlx::query_as::<_, SignoffRow>("SELECT kind, comment, actor_login, at_us FROM review_signoff WHERE system_id = $1 AND year = $2 ORDER BY id")
                .bind(system_id).bind(i64::from(year)).fetch_all(c).await?
        })?;
        rows.into_iter()
            .map(|r| {
                Ok(Signoff {
                    kind: SignoffKind::parse(&r.kind).ok_or_else(|| crate::corrupt("signoff kind", &r.kind))?,
                    comment: r.comment,
                    actor_login: r.actor_login,
                    at: timestamp(r.at_us)?,
                })
            })
            .collect()
    }

    /// Who recorded the report of a system's year as received, and when.
    pub async fn yearly_received(
        &self,
        system_id: i64,
        year: i32,
    ) -> Result<Option<(String, OffsetDateTime)>, StoreError> {
        let row: Option<(String, i64)> = with_read_conn!(self, c => {
            sqlx::query_as("SELECT received_by, received_at_us FROM yearly_report WHERE system_id = $1 AND year = $2")
                .bind(system_id).bind(i64::from(year)).fetch_optional(c).await?
        })?;
        row.map(|(by, us)| Ok((by, timestamp(us)?))).transpose()
    }

    /// Every (system, year) whose report was received, for `years`.
    pub async fn received_reports(&self, years: &[i32]) -> Result<HashSet<(i64, i32)>, StoreError> {
        let (from, to) = (years.iter().min().copied().unwrap_or(0), years.iter().max().copied().unwrap_or(0));
        let rows: Vec<(i64, i64)> = with_read_conn!(self, c => {
            sqlx::query_as("SELECT system_id, year FROM yearly_report WHERE year BETWEEN $1 AND $2")
                .bind(i64::from(from)).bind(i64::from(to)).fetch_all(c).await?
        })?;
        Ok(rows.into_iter().filter_map(|(s, y)| Some((s, i32::try_from(y).ok()?))).collect())
    }

    /// What the report of a system's year said when it was received (the
    /// JSON [`Store::receive_yearly`] kept), if it was.
    pub async fn yearly_frozen(&self, system_id: i64, year: i32) -> Result<Option<String>, StoreError> {
        let row: Option<Option<String>> = with_read_conn!(self, c => {
            sqlx::query_scalar("SELECT frozen FROM yearly_report WHERE system_id = $1 AND year = $2")
                .bind(system_id).bind(i64::from(year)).fetch_optional(c).await?
        })?;
        Ok(row.flatten())
    }

    /// Records the report of a system's year as received, with what it
    /// said then (`frozen`, JSON; `None` as receipts were recorded before
    /// it was kept), once: `Taken` after. `seen` is the system's revision
    /// before the report was read: anything written on the system since
    /// (a sign-off, a record) makes it `Stale`, and nothing is received.
    pub async fn receive_yearly(
        &self,
        ctx: &Ctx,
        system_id: i64,
        year: i32,
        frozen: Option<&str>,
        seen: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        // The lock raises the revision by one.
        if crate::systems::lock_system(&mut tx, ctx, system_id).await?.revision != seen + 1 {
            return Err(StoreError::Stale);
        }
        with_conn!(tx, c => {
            sqlx::query(
                "INSERT INTO yearly_report (system_id, year, received_by, received_at_us, frozen) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(system_id).bind(i64::from(year)).bind(&ctx.actor.login).bind(to_unix_micros(ctx.now)).bind(frozen)
            .execute(c).await.map_err(unique)?;
        });
        let ev =
            ctx.event_on(Action::YearlyReportReceived, "system", system_id).changes(Changes::new().with("year", year));
        tx.commit_audited(ctx.now, ev).await
    }
}
