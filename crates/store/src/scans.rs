//! The scan queue and results.

use crate::identity::Ctx;
use crate::revision::Key;
use crate::{opt_timestamp, timestamp, with_conn, with_read_conn, Store, StoreError};
use mamori_core::audit::{Action, Changes, NewEvent, Outcome};
use mamori_core::clock::to_unix_micros;
use mamori_core::verification::ScanReport;
use time::{Duration, OffsetDateTime};

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
    /// When the worker that holds it claimed it (a run taken up again
    /// after a worker stopped is claimed anew).
    pub started_at: Option<OffsetDateTime>,
    pub status: ScanStatus,
    /// Stored as JSON (`{"targets": [...]}`, as `mamori scan --format json`
    /// prints it), read back typed.
    pub report: Option<ScanReport>,
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: i64,
    system_id: i64,
    requested_by: String,
    requested_at_us: i64,
    finished_at_us: Option<i64>,
    started_at_us: Option<i64>,
    status: String,
    report: Option<String>,
}

impl RunRow {
    fn into_record(self) -> Result<ScanRun, StoreError> {
        Ok(ScanRun {
            id: self.id,
            system_id: self.system_id,
            requested_by: self.requested_by,
            requested_at: timestamp(self.requested_at_us)?,
            finished_at: opt_timestamp(self.finished_at_us)?,
            started_at: opt_timestamp(self.started_at_us)?,
            status: ScanStatus::parse(&self.status)?,
            report: self
                .report
                .map(|j| serde_json::from_str::<ScanReport>(&j))
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("scan report: {e}")))?,
        })
    }
}

/// The address a host name of a system had at its first scan, and a
/// different one a later scan found, waiting for the officer.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ScanAddress {
    pub host: String,
    pub address: String,
    pub network: String,
    pub pending_address: Option<String>,
    pub pending_network: Option<String>,
}

/// What a scan may do with a host name it resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressCheck {
    /// The first scan of this name, asked for by the office: the address is
    /// recorded.
    First,
    /// The first scan of this name, asked for by someone else (a vendor, the
    /// daily run): the address is kept as pending and refused until the
    /// officer confirms it. A vendor that controls the name would otherwise
    /// choose, unseen, which inside address the scanner takes for its own.
    Unconfirmed,
    /// In the network recorded (the address itself may differ).
    Same,
    /// In another network than the one recorded: not to be scanned until the
    /// officer confirms; the new address is kept as pending.
    Moved { address: String, network: String },
}

/// The address and network recorded for a name whose first address awaits
/// the officer's confirmation.
pub const UNCONFIRMED: &str = "";

/// What became of a request for a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    Queued(i64),
    /// One is queued or running already.
    Pending(i64),
    /// The last one was requested too recently; the next may be at this time.
    TooSoon(OffsetDateTime),
}

/// Who the server's own scans are requested by (the daily schedule): a
/// person's request goes before them in the queue.
pub const SCHEDULED_BY: &str = "scanner";

/// The runs of a system kept, newest first: past them, the oldest finished
/// ones go as each run finishes.
pub const KEPT_RUNS: i64 = 200;

impl Store {
    /// Queues a scan of a system, unless one is queued or running already,
    /// or (with `min_gap`) one was requested less than `min_gap` ago.
    /// Decided inside the write transaction, on PostgreSQL with the system's
    /// row locked, so parallel requests queue one scan at most; `Missing`
    /// if the person no longer sees the system (checked there too). A person
    /// asking while the daily schedule's run of the system waits takes that
    /// run over, and it goes before the rest of the schedule.
    pub async fn request_scan(
        &self,
        ctx: &Ctx,
        system_id: i64,
        min_gap: Option<Duration>,
    ) -> Result<Requested, StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        if tx.backend() == crate::Backend::Postgres {
            with_conn!(tx, c => {
                sqlx::query("SELECT id FROM system WHERE id = $1 FOR UPDATE").bind(system_id).execute(c).await?.rows_affected()
            });
        }
        // Asked by someone who saw the system a moment ago: do they still?
        // (Not by bumping its revision: a scan asked for changes nothing
        // an officer is reviewing.)
        crate::systems::seen_in(&mut tx, ctx, system_id).await?;
        let last: Option<(i64, String, i64, String)> = with_conn!(tx, c => {
            sqlx::query_as(
                "SELECT id, status, requested_at_us, requested_by FROM scan_run WHERE system_id = $1 ORDER BY id DESC LIMIT 1",
            )
                .bind(system_id).fetch_optional(c).await?
        });
        if let Some((id, status, at_us, by)) = &last {
            if status == "queued" && by == SCHEDULED_BY && ctx.actor.login != SCHEDULED_BY {
                with_conn!(tx, c => {
                    sqlx::query("UPDATE scan_run SET requested_by = $2, requested_at_us = $3 WHERE id = $1 AND status = 'queued'")
                        .bind(id).bind(&ctx.actor.login).bind(to_unix_micros(ctx.now)).execute(c).await?.rows_affected()
                });
                tx.commit_audited(ctx.now, ctx.event_on(Action::ScanRequested, "system", system_id)).await?;
                return Ok(Requested::Pending(*id));
            }
            if status == "queued" || status == "running" {
                return Ok(Requested::Pending(*id));
            }
            if let Some(gap) = min_gap {
                let next = timestamp(*at_us)? + gap;
                if ctx.now < next {
                    return Ok(Requested::TooSoon(next));
                }
            }
        }
        let id: i64 = with_conn!(tx, c => {
            sqlx::query_scalar("INSERT INTO scan_run (system_id, requested_by, requested_at_us, status) VALUES ($1, $2, $3, 'queued') RETURNING id")
                .bind(system_id).bind(&ctx.actor.login).bind(to_unix_micros(ctx.now)).fetch_one(c).await?
        });
        let ev = ctx.event_on(Action::ScanRequested, "system", system_id);
        tx.commit_audited(ctx.now, ev).await?;
        Ok(Requested::Queued(id))
    }

    /// Takes a queued scan for this worker, a person's before the daily
    /// schedule's (one waiting on the page is not kept behind every
    /// system's nightly run), the persons taking turns (a request goes
    /// after as many of others' as the same person has had started or
    /// still waiting ahead of it since it was made: one asking for many
    /// systems keeps no one else behind them all); two workers never take the
    /// same. A scan left `running` for longer than `stale_after` (its
    /// worker crashed or was stopped) is taken up again.
    pub async fn claim_scan(&self, now: OffsetDateTime, stale_after: Duration) -> Result<Option<ScanRun>, StoreError> {
        let lock = self.skip_locked();
        let sql = format!(
            "UPDATE scan_run SET status = 'running', started_at_us = $1 \
             WHERE id = (SELECT id FROM scan_run r WHERE status = 'queued' OR (status = 'running' AND started_at_us < $2) \
                         ORDER BY CASE WHEN requested_by = $3 THEN 1 ELSE 0 END, \
                                  CASE WHEN requested_by = $3 THEN 0 ELSE \
                                    (SELECT COUNT(*) FROM scan_run e \
                                      WHERE e.requested_by = r.requested_by AND e.id <> r.id \
                                        AND e.started_at_us >= r.requested_at_us) \
                                    + (SELECT COUNT(*) FROM scan_run e \
                                      WHERE e.status = 'queued' AND e.requested_by = r.requested_by AND e.id < r.id) END, \
                                  id LIMIT 1 {lock}) \
               AND (status = 'queued' OR (status = 'running' AND started_at_us < $2)) \
             RETURNING *"
        );
        let mut tx = self.begin().await?;
        let row = with_conn!(tx, c => {
            sqlx::query_as::<_, RunRow>(&sql)
            .bind(to_unix_micros(now)).bind(to_unix_micros(now - stale_after)).bind(SCHEDULED_BY).fetch_optional(c).await?
        });
        let run = row.map(RunRow::into_record).transpose()?;
        tx.commit().await?;
        Ok(run)
    }

    /// Stores the result of a scan, with its audit event; `Stale`,
    /// storing nothing, when another worker has taken the run up since
    /// this one claimed it.
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
        let mut tx = self.begin_as(ctx).await?;
        // Only by the worker that holds the run: one that took it up again
        // after this worker was thought stopped finishes it instead (the
        // slower one's result overwrote the newer, with a second event).
        let n = with_conn!(tx, c => {
            sqlx::query(
                "UPDATE scan_run SET status = $2, finished_at_us = $3, report = $4 \
                 WHERE id = $1 AND status = 'running' AND started_at_us = $5",
            )
            .bind(run.id).bind(status.as_str()).bind(to_unix_micros(ctx.now)).bind(json)
            .bind(run.started_at.map(to_unix_micros))
            .execute(c).await?.rows_affected()
        });
        if n != 1 {
            return Err(StoreError::Stale);
        }
        // Runs past the newest KEPT_RUNS of the system go (their results are
        // in the audit log's events): what a vendor's scans, asked for
        // every ten minutes, keep in the database and every backup is bounded.
        let pruned = with_conn!(tx, c => {
            sqlx::query(
                "DELETE FROM scan_run WHERE system_id = $1 AND finished_at_us IS NOT NULL AND id < \
                 (SELECT id FROM scan_run WHERE system_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
            )
            .bind(run.system_id).bind(KEPT_RUNS - 1)
            .execute(c).await?.rows_affected()
        });
        let mut changes = Changes::new().with("scan", run.id).with("summary", summary);
        if pruned > 0 {
            changes = changes.with("pruned", pruned);
        }
        let ev = NewEvent::new(
            ctx.actor.clone(),
            ctx.origin.clone(),
            Action::ScanFinished,
            if ok { Outcome::Success } else { Outcome::Failure },
        )
        .target("system", run.system_id.to_string())
        .changes(changes);
        tx.commit_audited(ctx.now, ev).await
    }

    /// The newest scans of a system, newest first.
    pub async fn scans(&self, system_id: i64, limit: i64) -> Result<Vec<ScanRun>, StoreError> {
        self.kept(Key::Scans(system_id, limit), async || {
            let rows = with_read_conn!(self, c => {
                sqlx::query_as::<_, RunRow>("SELECT * FROM scan_run WHERE system_id = $1 ORDER BY id DESC LIMIT $2")
                    .bind(system_id).bind(limit).fetch_all(c).await?
            })?;
            rows.into_iter().map(RunRow::into_record).collect()
        })
        .await
    }

    /// A system's newest finished scan with a report: the verdicts its
    /// pages, workbooks and reports show, whatever runs are queued,
    /// running or failed since.
    pub async fn last_report(&self, system_id: i64) -> Result<Option<ScanRun>, StoreError> {
        self.kept(Key::LastReport(system_id), async || {
            let row = with_read_conn!(self, c => {
                sqlx::query_as::<_, RunRow>(
                    "SELECT * FROM scan_run WHERE system_id = $1 AND status = 'done' AND report IS NOT NULL ORDER BY id DESC LIMIT 1",
                )
                .bind(system_id).fetch_optional(c).await?
            })?;
            row.map(RunRow::into_record).transpose()
        })
        .await
    }

    /// The recorded addresses of a system's host names.
    pub async fn scan_addresses(&self, system_id: i64) -> Result<Vec<ScanAddress>, StoreError> {
        self.kept(Key::ScanAddresses(system_id), async || {
            Ok(with_read_conn!(self, c => {
                sqlx::query_as::<_, ScanAddress>(
                    "SELECT host, address, network, pending_address, pending_network FROM scan_address \
                     WHERE system_id = $1 ORDER BY host",
                )
                .bind(system_id).fetch_all(c).await?
            })?)
        })
        .await
    }

    /// Compares what `host` resolved to now with what it resolved to at the
    /// system's first scan: the first time it is recorded when the office
    /// asked for the scan (`vouched`), kept as pending otherwise; in another
    /// network it is kept as pending and refused.
    pub async fn check_scan_address(
        &self,
        now: OffsetDateTime,
        system_id: i64,
        host: &str,
        (address, network): (&str, &str),
        vouched: bool,
    ) -> Result<AddressCheck, StoreError> {
        let mut tx = self.begin().await?;
        // One check of a name at a time (PostgreSQL; SQLite writes one at a
        // time anyway): two runs of the system scanning it at once (a stale
        // run taken up again while the first still scans) both found it
        // unrecorded, and the second's insert failed on the key, its run
        // left running.
        tx.lock_named(&format!("mamori.scan_address.{system_id}.{host}")).await?;
        let known: Option<(String, String)> = with_conn!(tx, c => {
            sqlx::query_as("SELECT address, network FROM scan_address WHERE system_id = $1 AND host = $2")
                .bind(system_id).bind(host).fetch_optional(c).await?
        });
        let outcome = match known {
            None if vouched => {
                with_conn!(tx, c => {
                    sqlx::query("INSERT INTO scan_address (system_id, host, address, network, seen_at_us) VALUES ($1, $2, $3, $4, $5)")
                        .bind(system_id).bind(host).bind(address).bind(network).bind(to_unix_micros(now)).execute(c).await?.rows_affected()
                });
                AddressCheck::First
            }
            // Recorded as nowhere yet (`UNCONFIRMED`), the address pending.
            None => {
                with_conn!(tx, c => {
                    sqlx::query(
                        "INSERT INTO scan_address (system_id, host, address, network, seen_at_us, pending_address, pending_network, pending_at_us) \
                         VALUES ($1, $2, $3, $3, $4, $5, $6, $4)",
                    )
                    .bind(system_id).bind(host).bind(UNCONFIRMED).bind(to_unix_micros(now)).bind(address).bind(network)
                    .execute(c).await?.rows_affected()
                });
                AddressCheck::Unconfirmed
            }
            Some((known_address, _)) if known_address == UNCONFIRMED => {
                with_conn!(tx, c => {
                    sqlx::query("UPDATE scan_address SET pending_address = $3, pending_network = $4, pending_at_us = $5 \
                                 WHERE system_id = $1 AND host = $2")
                        .bind(system_id).bind(host).bind(address).bind(network).bind(to_unix_micros(now)).execute(c).await?.rows_affected()
                });
                AddressCheck::Unconfirmed
            }
            Some((_, known_network)) if known_network == network => AddressCheck::Same,
            Some((known_address, known_network)) => {
                with_conn!(tx, c => {
                    sqlx::query("UPDATE scan_address SET pending_address = $3, pending_network = $4, pending_at_us = $5 \
                                 WHERE system_id = $1 AND host = $2")
                        .bind(system_id).bind(host).bind(address).bind(network).bind(to_unix_micros(now)).execute(c).await?.rows_affected()
                });
                AddressCheck::Moved { address: known_address, network: known_network }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// The officer confirms the address a host name moved to: it becomes the
    /// recorded one, and scans of the name go on.
    /// The office confirms the new address `seen` of `host` (the one its
    /// page showed): `Stale`, changing nothing, when the name has moved
    /// again since (a later scan found another address, which was promoted
    /// unseen, under an event naming the other); `None` (the console)
    /// confirms what is pending.
    pub async fn confirm_scan_address(
        &self,
        ctx: &Ctx,
        system_id: i64,
        host: &str,
        seen: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        let pending: Option<(String, String, String, String)> = with_conn!(tx, c => {
            sqlx::query_as(
                "SELECT address, network, pending_address, pending_network FROM scan_address \
                 WHERE system_id = $1 AND host = $2 AND pending_address IS NOT NULL AND pending_network IS NOT NULL",
            )
            .bind(system_id).bind(host).fetch_optional(c).await?
        });
        let Some((from, from_network, to, to_network)) = pending else { return Err(StoreError::Missing) };
        if seen.is_some_and(|seen| seen != to) {
            return Err(StoreError::Stale);
        }
        // The address read above, and no other: a scan may record another
        // pending address meanwhile.
        let n = with_conn!(tx, c => {
            sqlx::query("UPDATE scan_address SET address = pending_address, network = pending_network, seen_at_us = $3, \
                         pending_address = NULL, pending_network = NULL, pending_at_us = NULL \
                         WHERE system_id = $1 AND host = $2 AND pending_address = $4")
                .bind(system_id).bind(host).bind(to_unix_micros(ctx.now)).bind(&to).execute(c).await?.rows_affected()
        });
        if n != 1 {
            return Err(StoreError::Stale);
        }
        let ev = ctx.event_on(Action::ScanAddressConfirmed, "system", system_id).changes(
            Changes::new()
                .with("host", host)
                .with("from", format!("{from} ({from_network})"))
                .with("to", format!("{to} ({to_network})")),
        );
        tx.commit_audited(ctx.now, ev).await?;
        Ok(())
    }

    /// Systems with URLs not scanned since `before` (the daily schedule).
    pub async fn systems_due_for_scan(&self, before: OffsetDateTime) -> Result<Vec<i64>, StoreError> {
        with_read_conn!(self, c => {
            sqlx::query_scalar(
                "SELECT s.id FROM system s WHERE s.urls <> '' AND s.phase <> 'retired' AND NOT EXISTS \
                 (SELECT 1 FROM scan_run r WHERE r.system_id = s.id AND r.requested_at_us >= $1) ORDER BY s.id",
            )
            .bind(to_unix_micros(before)).fetch_all(c).await?
        })
    }
}
