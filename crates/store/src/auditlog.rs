//! Reading the audit log (viewer, exports), keeping it (retention purge),
//! alerts, log reviews, and sign-in statistics for monitoring.

use crate::audit::Verification;
use crate::audit::{append, chain_ends, ChainEnds, EventRow};
use crate::context::Ctx;
use crate::revision::Key;
use crate::{opt_timestamp, timestamp, with_conn, with_read_conn, Store, StoreError};
use mamori_core::audit::{Action, Changes, Event};
use mamori_core::clock::to_unix_micros;
use mamori_core::monitoring::{Severity, SignInWatch};
use time::Duration;
use time::OffsetDateTime;

/// What the viewer narrows by. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub from: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub actor_login: Option<String>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub outcome: Option<String>,
    pub client_addr: Option<String>,
    /// Only events at or before this place in the chain: an export's
    /// snapshot of the log as it stood when the export began.
    pub through_seq: Option<i64>,
}

enum Param {
    I(i64),
    S(String),
}

impl AuditFilter {
    /// The WHERE clause (placeholders only) and its values, numbered from 1.
    fn clause(&self, before_seq: Option<i64>) -> (String, Vec<Param>) {
        let mut conds = Vec::new();
        let mut params = Vec::new();
        let mut add = |cond: &str, p: Param| {
            params.push(p);
            conds.push(cond.replace('?', &format!("${}", params.len())));
        };
        if let Some(t) = self.from {
            add("occurred_at_us >= ?", Param::I(to_unix_micros(t)));
        }
        if let Some(t) = self.until {
            add("occurred_at_us < ?", Param::I(to_unix_micros(t)));
        }
        for (col, v) in [
            ("actor_login", &self.actor_login),
            ("action", &self.action),
            ("target_type", &self.target_type),
            ("target_id", &self.target_id),
            ("outcome", &self.outcome),
            ("client_addr", &self.client_addr),
        ] {
            if let Some(v) = v {
                add(&format!("{col} = ?"), Param::S(v.clone()));
            }
        }
        if let Some(s) = self.through_seq {
            add("seq <= ?", Param::I(s));
        }
        if let Some(s) = before_seq {
            add("seq < ?", Param::I(s));
        }
        let clause = if conds.is_empty() { String::new() } else { format!("WHERE {}", conds.join(" AND ")) };
        (clause, params)
    }
}

macro_rules! bind_all {
    ($q:expr, $params:expr) => {{
        let mut q = $q;
        for p in $params {
            q = match p {
                Param::I(i) => q.bind(*i),
                Param::S(s) => q.bind(s.as_str()),
            };
        }
        q
    }};
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub id: i64,
    pub kind: String,
    pub severity: String,
    pub subject: String,
    pub detail: String,
    pub first_seen: OffsetDateTime,
    pub last_seen: OffsetDateTime,
    pub count: i64,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogReview {
    pub id: i64,
    pub period_from: String,
    pub period_to: String,
    pub reviewer_login: String,
    pub reviewed_at: OffsetDateTime,
    pub findings: String,
}

/// What a purge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purged {
    pub events: i64,
    pub through_seq: i64,
}

/// An archive of purged events, as `audit_archives` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditArchive {
    pub name: String,
    pub from_seq: i64,
    pub through_seq: i64,
    pub sha256: String,
    /// Bytes, compressed.
    pub size: i64,
    pub created_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
pub(crate) struct AlertRow {
    id: i64,
    kind: String,
    severity: String,
    subject: String,
    detail: String,
    first_seen_us: i64,
    last_seen_us: i64,
    count: i64,
    acknowledged_by: Option<String>,
    acknowledged_at_us: Option<i64>,
}

impl AlertRow {
    pub(crate) fn into_record(self) -> Result<Alert, StoreError> {
        Ok(Alert {
            id: self.id,
            kind: self.kind,
            severity: self.severity,
            subject: self.subject,
            detail: self.detail,
            first_seen: timestamp(self.first_seen_us)?,
            last_seen: timestamp(self.last_seen_us)?,
            count: self.count,
            acknowledged_by: self.acknowledged_by,
            acknowledged_at: opt_timestamp(self.acknowledged_at_us)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct LogReviewRow {
    id: i64,
    period_from: String,
    period_to: String,
    reviewer_login: String,
    reviewed_at_us: i64,
    findings: String,
}

impl LogReviewRow {
    fn into_record(self) -> Result<LogReview, StoreError> {
        Ok(LogReview {
            id: self.id,
            period_from: self.period_from,
            period_to: self.period_to,
            reviewer_login: self.reviewer_login,
            reviewed_at: timestamp(self.reviewed_at_us)?,
            findings: self.findings,
        })
    }
}

/// Events in the order `sql` gives them, its placeholders bound to `params`.
async fn events(store: &Store, sql: &str, params: &[Param]) -> Result<Vec<Event>, StoreError> {
    let rows = with_read_conn!(store, c => bind_all!(sqlx::query_as::<_, EventRow>(sql), params).fetch_all(c).await?)?;
    Ok(rows.into_iter().map(Event::from).collect())
}

impl Store {
    /// One page of events, newest first, older than `before_seq` when given
    /// (keyset paging: the cursor is the chain position, unique and ordered).
    pub async fn audit_page(
        &self,
        f: &AuditFilter,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        let (clause, params) = f.clause(before_seq);
        let sql = format!("SELECT * FROM audit_event {clause} ORDER BY seq DESC LIMIT {}", limit.clamp(1, 10_000));
        events(self, &sql, &params).await
    }

    /// One page of events, oldest first, newer than `after_seq` when given.
    pub async fn audit_page_oldest_first(
        &self,
        f: &AuditFilter,
        after_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        let (clause, mut params) = f.clause(None);
        params.push(Param::I(after_seq.unwrap_or(0)));
        let seq_cond = format!("seq > ${}", params.len());
        let clause = if clause.is_empty() { format!("WHERE {seq_cond}") } else { format!("{clause} AND {seq_cond}") };
        let sql = format!("SELECT * FROM audit_event {clause} ORDER BY seq LIMIT {}", limit.clamp(1, 10_000));
        events(self, &sql, &params).await
    }

    /// How many events the filter selects.
    pub async fn audit_count(&self, f: &AuditFilter) -> Result<u64, StoreError> {
        let (clause, params) = f.clause(None);
        let sql = format!("SELECT COUNT(*) FROM audit_event {clause}");
        let n: i64 = with_read_conn!(self, c => bind_all!(sqlx::query_scalar(&sql), &params).fetch_one(c).await?)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// One event by its place in the chain.
    pub async fn audit_event(&self, seq: i64) -> Result<Option<Event>, StoreError> {
        let f = AuditFilter::default();
        Ok(self.audit_page(&f, Some(seq + 1), 1).await?.into_iter().find(|e| e.record.seq == seq))
    }

    /// Events matching `f`, oldest first, in batches, to `sink` (exports).
    pub async fn audit_for_each<F: FnMut(&Event) -> Result<(), StoreError>>(
        &self,
        f: &AuditFilter,
        mut sink: F,
    ) -> Result<u64, StoreError> {
        let mut after = 0i64;
        let mut n = 0;
        loop {
            let batch = self.audit_page_oldest_first(f, Some(after), 5000).await?;
            let Some(last) = batch.last() else { break };
            after = last.record.seq;
            for e in &batch {
                sink(e)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// The contiguous run of oldest events all older than `cutoff`: the
    /// events a purge may remove without reordering the chain.
    pub async fn purgeable(&self, cutoff: OffsetDateTime) -> Result<Option<(i64, i64)>, StoreError> {
        let ends: ChainEnds = self.audit_chain_ends().await?;
        let first_young: Option<i64> = with_read_conn!(self, c => {
            sqlx::query_scalar("SELECT MIN(seq) AS s FROM audit_event WHERE occurred_at_us >= $1")
                .bind(to_unix_micros(cutoff)).fetch_one(c).await?
        })?;
        let through = first_young.map_or(ends.head_seq, |s| s - 1);
        Ok((through > ends.anchor_seq).then_some((ends.anchor_seq + 1, through)))
    }

    /// Keeps `archive` (its name, the events `from_seq ..= through_seq`
    /// compressed), removes those events, moves the chain's anchor to the
    /// last one removed, and records the purge as an event, in one
    /// transaction: the chain still verifies from the new anchor, and the
    /// events are either in the log or in the archive, never in neither.
    /// [`StoreError::ChainBroken`] when the events to remove do not verify.
    /// [`StoreError::Stale`] when the chain no longer begins at `from_seq`
    /// (another purge ran meanwhile: decided on the chain's row, locked, so
    /// that two purges at once on PostgreSQL cannot move the anchor back).
    pub async fn purge_audit(
        &self,
        ctx: &Ctx,
        from_seq: i64,
        through_seq: i64,
        archive: &str,
        archive_bytes: &[u8],
    ) -> Result<Purged, StoreError> {
        let archive_sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(archive_bytes));
        let archive_sha256 = archive_sha256.as_str();
        let mut tx = self.begin_as(ctx).await?;
        let ends = chain_ends(&mut tx, true).await?;
        if ends.anchor_seq + 1 != from_seq || through_seq > ends.head_seq || through_seq < from_seq {
            return Err(StoreError::Stale);
        }
        // Events changed or removed would go into the archive and leave a
        // chain that verifies from its new anchor: the evidence of the
        // tampering purged with them.
        if let Err(b) = crate::audit::check_through(&mut tx, &ends, through_seq).await? {
            return Err(StoreError::ChainBroken(b));
        }
        with_conn!(tx, c => {
            sqlx::query(
                "INSERT INTO audit_archive (name, from_seq, through_seq, sha256, bytes, created_at_us) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(archive).bind(from_seq).bind(through_seq).bind(archive_sha256).bind(archive_bytes)
            .bind(to_unix_micros(ctx.now)).execute(&mut *c).await?;
        });
        let (anchor_hash, events): (String, i64) = with_conn!(tx, c => {
            let hash: String = sqlx::query_scalar("SELECT hash FROM audit_event WHERE seq = $1").bind(through_seq).fetch_one(&mut *c).await?;
            let n = sqlx::query("DELETE FROM audit_event WHERE seq <= $1").bind(through_seq).execute(&mut *c).await?.rows_affected();
            sqlx::query("UPDATE audit_chain SET anchor_seq = $1, anchor_hash = $2 WHERE id = 1")
                .bind(through_seq).bind(&hash).execute(&mut *c).await?;
            (hash, n as i64)
        });
        let ev = ctx.event_on(Action::AuditPurged, "audit_event", through_seq).changes(
            Changes::new()
                .with("events", events)
                .with("through_seq", through_seq)
                .with("anchor_hash", anchor_hash.as_str())
                .with("archive", archive)
                .with("archive_sha256", archive_sha256),
        );
        tx.commit_audited(ctx.now, ev).await?;
        Ok(Purged { events, through_seq })
    }

    /// The archives of purged events, oldest first (without their bytes).
    pub async fn audit_archives(&self) -> Result<Vec<AuditArchive>, StoreError> {
        let rows: Vec<(String, i64, i64, String, i64, i64)> = with_read_conn!(self, c => {
            sqlx::query_as(
                "SELECT name, from_seq, through_seq, sha256, CAST(LENGTH(bytes) AS BIGINT), created_at_us FROM audit_archive ORDER BY from_seq",
            )
            .fetch_all(c).await?
        })?;
        rows.into_iter()
            .map(|(name, from_seq, through_seq, sha256, size, at)| {
                Ok(AuditArchive { name, from_seq, through_seq, sha256, size, created_at: timestamp(at)? })
            })
            .collect()
    }

    /// An archive's bytes, by name.
    pub async fn audit_archive(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(with_read_conn!(self, c => {
            sqlx::query_scalar("SELECT bytes FROM audit_archive WHERE name = $1").bind(name).fetch_optional(c).await?
        })?)
    }

    // ----- alerts -----------------------------------------------------------------

    /// Raises an alert, or counts it again while the same one is open.
    pub async fn raise_alert(
        &self,
        now: OffsetDateTime,
        kind: &str,
        severity: Severity,
        subject: &str,
        detail: &str,
    ) -> Result<i64, StoreError> {
        self.raise(&Raise { now, kind, severity, subject, detail, key: None }).await
    }

    /// [`Store::raise_alert`] of a [`Raise`] (one found by its key).
    pub async fn raise(&self, r: &Raise<'_>) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        let id = raise_in(&mut tx, r).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// How many alerts are not acknowledged yet (the menu's count).
    pub async fn open_alert_count(&self) -> Result<i64, StoreError> {
        self.kept(Key::OpenAlerts, async || {
            with_read_conn!(self, c => {
                sqlx::query_scalar("SELECT COUNT(*) AS n FROM alert WHERE acknowledged_at_us IS NULL").fetch_one(c).await?
            })
        })
        .await
    }

    /// How many alerts there are, open or not.
    pub async fn alert_count(&self) -> Result<i64, StoreError> {
        with_read_conn!(self, c => sqlx::query_scalar("SELECT COUNT(*) FROM alert").fetch_one(c).await?)
    }

    /// Alerts `range` (from 0) of all, open ones first, the newest first.
    pub async fn alerts_page(&self, range: std::ops::Range<usize>) -> Result<Vec<Alert>, StoreError> {
        let sql = "SELECT * FROM alert ORDER BY (acknowledged_at_us IS NULL) DESC, last_seen_us DESC, id DESC \
                   LIMIT $1 OFFSET $2";
        let (limit, offset) = (range.len() as i64, range.start as i64);
        let rows = with_read_conn!(self, c => sqlx::query_as::<_, AlertRow>(sql).bind(limit).bind(offset).fetch_all(c).await?)?;
        rows.into_iter().map(AlertRow::into_record).collect()
    }

    pub async fn alerts(&self, open_only: bool) -> Result<Vec<Alert>, StoreError> {
        let sql = if open_only {
            "SELECT * FROM alert WHERE acknowledged_at_us IS NULL ORDER BY last_seen_us DESC"
        } else {
            "SELECT * FROM alert ORDER BY (acknowledged_at_us IS NULL) DESC, last_seen_us DESC LIMIT 500"
        };
        let rows = with_read_conn!(self, c => sqlx::query_as::<_, AlertRow>(sql).fetch_all(c).await?)?;
        rows.into_iter().map(AlertRow::into_record).collect()
    }

    /// Acknowledges open alert `id`: `false` when none is open by that id.
    /// `seen`: how many times it had occurred as the person saw it; one
    /// that occurred again since is `Stale`, left open (an occurrence
    /// acknowledged unseen).
    pub async fn acknowledge_alert(&self, ctx: &Ctx, id: i64, seen: Option<i64>) -> Result<bool, StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        let n = with_conn!(tx, c => {
            sqlx::query("UPDATE alert SET acknowledged_by = $2, acknowledged_at_us = $3 WHERE id = $1 AND acknowledged_at_us IS NULL AND ($4 IS NULL OR count = $4)")
                .bind(id).bind(&ctx.actor.login).bind(to_unix_micros(ctx.now)).bind(seen).execute(&mut *c).await?.rows_affected()
        });
        if n == 0 && seen.is_some() {
            let open: Option<i64> = with_conn!(tx, c => {
                sqlx::query_scalar("SELECT id FROM alert WHERE id = $1 AND acknowledged_at_us IS NULL").bind(id).fetch_optional(c).await?
            });
            if open.is_some() {
                return Err(StoreError::Stale);
            }
        }
        if n == 1 {
            let ev = ctx.event_on(Action::AlertAcknowledged, "alert", id);
            append(&mut tx, ctx.now, ev).await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    // ----- log reviews --------------------------------------------------------------------

    /// Records a review of the logs; the same one sent again within a
    /// minute ([`crate::db::Tx::signoff_window`]) is answered with the first.
    pub async fn add_log_review(&self, ctx: &Ctx, from: &str, to: &str, findings: &str) -> Result<i64, StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        let since = tx.signoff_window("log_review", &ctx.actor.login, ctx.now).await?;
        let again: Option<i64> = with_conn!(tx, c => {
            sqlx::query_scalar(
                "SELECT id FROM log_review WHERE reviewer_login = $1 AND reviewed_at_us > $2 \
                 AND period_from = $3 AND period_to = $4 AND findings = $5 ORDER BY id LIMIT 1",
            )
            .bind(&ctx.actor.login).bind(since).bind(from).bind(to).bind(findings).fetch_optional(c).await?
        });
        if let Some(id) = again {
            return Ok(id);
        }
        let id: i64 = with_conn!(tx, c => {
            sqlx::query_scalar("INSERT INTO log_review (period_from, period_to, reviewer_login, reviewed_at_us, findings) VALUES ($1, $2, $3, $4, $5) RETURNING id")
                .bind(from).bind(to).bind(&ctx.actor.login).bind(to_unix_micros(ctx.now)).bind(findings)
                .fetch_one(c).await?
        });
        let ev = ctx
            .event_on(Action::LogReviewSignedOff, "log_review", id)
            .changes(Changes::new().with("from", from).with("to", to).with("findings", findings));
        tx.commit_audited(ctx.now, ev).await?;
        Ok(id)
    }

    pub async fn log_reviews(&self) -> Result<Vec<LogReview>, StoreError> {
        let rows = with_read_conn!(self, c => {
            sqlx::query_as::<_, LogReviewRow>("SELECT * FROM log_review ORDER BY reviewed_at_us DESC, id DESC").fetch_all(c).await?
        })?;
        rows.into_iter().map(LogReviewRow::into_record).collect()
    }

    // ----- sign-in statistics -------------------------------------------------------------

    /// Failed sign-ins per hour since `since`, as (hour start in µs, count).
    pub async fn failures_per_hour(&self, since: OffsetDateTime) -> Result<Vec<(i64, i64)>, StoreError> {
        with_read_conn!(self, c => {
            sqlx::query_as(
                "SELECT (at_us / 3600000000) * 3600000000 AS hour, COUNT(*) AS n FROM signin_attempt \
                 WHERE at_us >= $1 AND success = $2 GROUP BY (at_us / 3600000000) ORDER BY 1",
            )
            .bind(to_unix_micros(since)).bind(false).fetch_all(c).await?
        })
    }

    /// The most failing client addresses or logins since `since`: (key, failures, distinct other key).
    pub async fn top_failures(
        &self,
        since: OffsetDateTime,
        by_address: bool,
        limit: i64,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let (key, other) = if by_address { ("client_addr", "login") } else { ("login", "client_addr") };
        let sql = format!(
            "SELECT {key} AS k, COUNT(*) AS n, COUNT(DISTINCT {other}) AS d FROM signin_attempt \
             WHERE at_us >= $1 AND success = $2 GROUP BY {key} ORDER BY n DESC, k LIMIT $3"
        );
        with_read_conn!(self, c => sqlx::query_as(&sql).bind(to_unix_micros(since)).bind(false).bind(limit).fetch_all(c).await?)
    }

    /// Successful sign-ins since `since` from an address that account had
    /// never signed in from before: (time, login, address).
    pub async fn new_address_signins(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<(OffsetDateTime, String, String)>, StoreError> {
        let rows: Vec<(i64, String, String)> = with_read_conn!(self, c => {
            sqlx::query_as(
                "SELECT a.at_us, a.login, a.client_addr FROM signin_attempt a WHERE a.success = $2 AND a.at_us >= $1 \
                 AND NOT EXISTS (SELECT 1 FROM signin_attempt b WHERE b.success = $2 AND b.login = a.login \
                 AND b.client_addr = a.client_addr AND b.at_us < a.at_us) ORDER BY a.at_us DESC LIMIT 200",
            )
            .bind(to_unix_micros(since)).bind(true).fetch_all(c).await?
        })?;
        rows.into_iter().map(|(at, login, addr)| Ok((timestamp(at)?, login, addr))).collect()
    }

    /// The daily check of the chain: a break raises a critical alert.
    pub async fn verify_and_alert(&self, now: OffsetDateTime) -> Result<Verification, StoreError> {
        let store = self;
        let v = store.audit_verify().await?;
        if let Verification::Broken(b) = &v {
            tracing::error!("audit chain broken: {b}");
            store
                .raise_alert(now, "audit.chain_broken", Severity::Critical, &format!("#{}", b.seq()), &b.to_string())
                .await?;
        }
        Ok(v)
    }

    /// Sign-in watch (items 28, 67): a sudden rise of failures, or many
    /// accounts failing from one address, raises an alert.
    pub async fn watch_signins(&self, now: OffsetDateTime, watch: &SignInWatch) -> Result<(), StoreError> {
        let store = self;
        let hour_ago = now - Duration::hours(1);
        let week = store.failures_per_hour(now - Duration::days(7)).await?;
        let last_hour: u32 = store.top_failures(hour_ago, true, 1000).await?.iter().map(|(_, n, _)| *n as u32).sum();
        let this_hour_start = mamori_core::clock::to_unix_micros(hour_ago) / 3_600_000_000 * 3_600_000_000;
        let mut history: Vec<u32> = vec![0; 24 * 7];
        for (hour, n) in &week {
            if *hour < this_hour_start {
                let i = ((this_hour_start - hour) / 3_600_000_000) as usize;
                if let Some(slot) = history.get_mut(i) {
                    *slot = *n as u32;
                }
            }
        }
        if watch.is_spike(last_hour, history) {
            store
                .raise_alert(
                    now,
                    "signin.spike",
                    Severity::Warning,
                    "all",
                    &format!("{last_hour} failed sign-ins in the last hour"),
                )
                .await?;
        }
        // By block, as the throttle counts (an IPv6 address by its /48): a
        // client trying nine IDs from each address it takes in its /48 was
        // never seen spraying.
        let mut open = store.open_alert_subjects(SIGNIN_SPRAYING).await?;
        for (block, failures, accounts) in store.failures_by_block(hour_ago, 50).await? {
            if !watch.is_spraying(accounts as u32) {
                continue;
            }
            let source = match block.parse::<std::net::IpAddr>() {
                Ok(std::net::IpAddr::V6(_)) => format!("{block}/48"),
                _ => block,
            };
            let detail = format!("{failures} failures over {accounts} user IDs in the last hour from {source}");
            // Past SPRAYING_OPEN sources open at once, the others are counted
            // in one alert: a client with many addresses opened one a source
            // every hour, each a mail to the office.
            let subject = if open.contains(&source) || open.len() < SPRAYING_OPEN {
                open.insert(source.clone());
                source
            } else {
                SPRAYING_OTHERS.to_owned()
            };
            store.raise_alert(now, SIGNIN_SPRAYING, Severity::Warning, &subject, &detail).await?;
        }
        Ok(())
    }

    /// Failed sign-ins since `since` by block (an IPv6 address's /48, an
    /// IPv4 address; an attempt made before blocks were kept, by its
    /// address), the most first: (block, failures, distinct logins).
    pub async fn failures_by_block(
        &self,
        since: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let sql = "SELECT COALESCE(client_block, client_addr) AS k, COUNT(*) AS n, COUNT(DISTINCT login) AS d \
                   FROM signin_attempt WHERE at_us >= $1 AND success = $2 GROUP BY k ORDER BY n DESC, k LIMIT $3";
        with_read_conn!(self, c => sqlx::query_as(sql).bind(to_unix_micros(since)).bind(false).bind(limit).fetch_all(c).await?)
    }

    /// The subjects of the open alerts of `kind`.
    async fn open_alert_subjects(&self, kind: &str) -> Result<std::collections::HashSet<String>, StoreError> {
        let rows: Vec<String> = with_read_conn!(self, c => {
            sqlx::query_scalar("SELECT subject FROM alert WHERE kind = $1 AND acknowledged_at_us IS NULL LIMIT 10000")
                .bind(kind).fetch_all(c).await?
        })?;
        Ok(rows.into_iter().collect())
    }
}

const SIGNIN_SPRAYING: &str = "signin.spraying";

/// Sources of password spraying with an alert of their own open at once.
pub const SPRAYING_OPEN: usize = 20;

/// The subject of the one alert the further sources are counted in.
pub const SPRAYING_OTHERS: &str = "その他の接続元 (other sources)";

/// An alert to raise, or to count again while one of its kind and key is
/// open (then shown under the subject given now).
#[derive(Debug, Clone, Copy)]
pub struct Raise<'a> {
    pub now: OffsetDateTime,
    pub kind: &'a str,
    pub severity: Severity,
    pub subject: &'a str,
    pub detail: &'a str,
    /// What an open alert is found by: the subject when `None`; for a
    /// system's alert, [`system_key`] (the subject names the system, which
    /// may be renamed).
    pub key: Option<&'a str>,
}

impl Raise<'_> {
    fn key(&self) -> &str {
        self.key.unwrap_or(self.subject)
    }
}

/// The key of a system's alert about `topic` ([`Raise::key`]): the
/// system's number, not its name.
pub(crate) fn system_key(system_id: i64, topic: &str) -> String {
    format!("#{system_id}: {topic}")
}

/// A system's alert about `topic`: its subject (the system's name and the
/// topic) and its key ([`system_key`]).
pub fn about_system(system_id: i64, name: &str, topic: &str) -> (String, String) {
    (format!("{name}: {topic}"), system_key(system_id, topic))
}

/// [`Store::raise_alert`] inside a transaction, so that what the alert is
/// about (a match or a record marked as alerted) is marked in the same one
/// and never without its alert. On PostgreSQL an advisory lock on the kind
/// and subject keeps two raised at once from opening two alerts.
pub(crate) async fn raise_in(tx: &mut crate::db::Tx, r: &Raise<'_>) -> Result<i64, StoreError> {
    let now_us = to_unix_micros(r.now);
    tx.lock_named(&format!("mamori.alert.{}.{}", r.kind, r.key())).await?;
    let id = with_conn!(tx, c => {
        let open: Option<i64> = sqlx::query_scalar("SELECT id FROM alert WHERE kind = $1 AND subject_key = $2 AND acknowledged_at_us IS NULL")
            .bind(r.kind).bind(r.key()).fetch_optional(&mut *c).await?;
        // Counted on the open alert only while it is still open: one
        // acknowledged since it was read (the acknowledgement does not take
        // the advisory lock) is not counted on, or the occurrence would be
        // folded into an alert nobody is told of; a new alert is opened.
        let counted = match open {
            Some(id) => sqlx::query("UPDATE alert SET count = count + 1, last_seen_us = $2, detail = $3, subject = $4 WHERE id = $1 AND acknowledged_at_us IS NULL")
                .bind(id).bind(now_us).bind(r.detail).bind(r.subject).execute(&mut *c).await?.rows_affected() == 1,
            None => false,
        };
        match open.filter(|_| counted) {
            Some(id) => id,
            None => sqlx::query_scalar(
                "INSERT INTO alert (kind, severity, subject, subject_key, detail, first_seen_us, last_seen_us, count) VALUES ($1, $2, $3, $4, $5, $6, $6, 1) RETURNING id",
            )
            .bind(r.kind).bind(r.severity.as_str()).bind(r.subject).bind(r.key()).bind(r.detail).bind(now_us)
            .fetch_one(&mut *c).await?,
        }
    });
    Ok(id)
}
