//! The audit log's storage: append in the caller's transaction, read, and
//! verify the hash chain.

use crate::{with_conn, with_read_conn, Store, StoreError, Tx};
use mamori_core::audit::{seal, Action, ChainBreak, ChainVerifier, Event, NewEvent, Record};
use mamori_core::clock::to_unix_micros;
use time::OffsetDateTime;

/// Events read per query while verifying, so two years of events never sit
/// in memory at once.
const VERIFY_BATCH: i64 = 5_000;

/// Checks the chain from its anchor through event `through_seq`, in the
/// transaction `tx`: each event follows the one before, matches its hash,
/// and none is missing. Short of the head, the event after it must link
/// to it (a stretch rewritten whole, its hashes made again, breaks there);
/// through the head, the chain must end at the recorded head.
pub(crate) async fn check_through(
    tx: &mut Tx,
    ends: &ChainEnds,
    through_seq: i64,
) -> Result<Result<(), ChainBreak>, StoreError> {
    let whole = through_seq == ends.head_seq;
    let mut verifier = ChainVerifier::new(ends.anchor_seq, &ends.anchor_hash);
    let sql = format!("{SELECT_EVENT} WHERE seq > $1 ORDER BY seq LIMIT $2");
    let mut after = ends.anchor_seq;
    loop {
        let batch: Vec<EventRow> = with_conn!(tx, c => {
            sqlx::query_as::<_, EventRow>(&sql).bind(after).bind(VERIFY_BATCH).fetch_all(c).await?
        });
        let Some(last) = batch.last() else { break };
        after = last.seq;
        for event in batch.into_iter().map(Event::from) {
            if !whole && event.record.seq > through_seq {
                // The edge: the first event kept follows the last removed.
                return Ok(verifier.follows(&event));
            }
            if let Err(b) = verifier.check(&event) {
                return Ok(Err(b));
            }
        }
    }
    Ok(verifier.finish(ends.head_seq, &ends.head_hash).map(|_| ()))
}

const SELECT_EVENT: &str = "SELECT seq, occurred_at_us, actor_account_id, actor_login, client_addr, \
     user_agent, action, target_type, target_id, changes, outcome, request_id, prev_hash, hash \
     FROM audit_event";

/// A row of `audit_event`.
#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    seq: i64,
    occurred_at_us: i64,
    actor_account_id: Option<i64>,
    actor_login: String,
    client_addr: Option<String>,
    user_agent: Option<String>,
    action: String,
    target_type: Option<String>,
    target_id: Option<String>,
    changes: String,
    outcome: String,
    request_id: Option<String>,
    prev_hash: String,
    hash: String,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Event {
        Event {
            record: Record {
                seq: r.seq,
                occurred_at_us: r.occurred_at_us,
                actor_account_id: r.actor_account_id,
                actor_login: r.actor_login,
                client_addr: r.client_addr,
                user_agent: r.user_agent,
                action: r.action,
                target_type: r.target_type,
                target_id: r.target_id,
                changes: r.changes,
                outcome: r.outcome,
                request_id: r.request_id,
            },
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

/// The two ends of the chain.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChainEnds {
    pub head_seq: i64,
    pub head_hash: String,
    pub anchor_seq: i64,
    pub anchor_hash: String,
}

pub(crate) async fn chain_ends(tx: &mut Tx, for_update: bool) -> Result<ChainEnds, StoreError> {
    // PostgreSQL: the row lock serialises appends across instances. SQLite:
    // the write transaction began IMMEDIATE and already holds the lock.
    let sql = match (tx.backend(), for_update) {
        (crate::Backend::Postgres, true) => {
            "SELECT head_seq, head_hash, anchor_seq, anchor_hash FROM audit_chain WHERE id = 1 FOR UPDATE"
        }
        _ => "SELECT head_seq, head_hash, anchor_seq, anchor_hash FROM audit_chain WHERE id = 1",
    };
    Ok(with_conn!(tx, c => sqlx::query_as(sql).fetch_one(c).await?))
}

/// What a retention purge's event records (`Store::purge_audit`).
#[derive(serde::Deserialize)]
struct Purge {
    through_seq: i64,
    anchor_hash: String,
    archive: String,
    archive_sha256: String,
}

/// Appends `event` to the chain inside `tx`: it is stored if and only if the
/// transaction commits, together with the change it records.
pub async fn append(tx: &mut Tx, now: OffsetDateTime, event: NewEvent) -> Result<Event, StoreError> {
    let ends = chain_ends(tx, true).await?;
    let record = event.into_record(ends.head_seq + 1, to_unix_micros(now));
    let sealed = seal(ends.head_hash, record);
    let r = &sealed.record;
    with_conn!(tx, c => {
        sqlx::query(
            "INSERT INTO audit_event (seq, occurred_at_us, actor_account_id, actor_login, client_addr, \
             user_agent, action, target_type, target_id, changes, outcome, request_id, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(r.seq)
        .bind(r.occurred_at_us)
        .bind(r.actor_account_id)
        .bind(&r.actor_login)
        .bind(&r.client_addr)
        .bind(&r.user_agent)
        .bind(&r.action)
        .bind(&r.target_type)
        .bind(&r.target_id)
        .bind(&r.changes)
        .bind(&r.outcome)
        .bind(&r.request_id)
        .bind(&sealed.prev_hash)
        .bind(&sealed.hash)
        .execute(&mut *c)
        .await?;
        sqlx::query("UPDATE audit_chain SET head_seq = $1, head_hash = $2 WHERE id = 1")
            .bind(r.seq)
            .bind(&sealed.hash)
            .execute(&mut *c)
            .await?;
    });
    Ok(sealed)
}

impl Tx {
    /// Appends `event`, the record of the change made in this transaction,
    /// and commits the change and its record together.
    pub(crate) async fn commit_audited(mut self, now: OffsetDateTime, event: NewEvent) -> Result<(), StoreError> {
        append(&mut self, now, event).await?;
        self.commit().await
    }
}

/// The outcome of [`Store::audit_verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Every event from the anchor to the head links and matches its hash.
    Intact {
        events: u64,
        head_seq: i64,
    },
    Broken(ChainBreak),
}

impl Store {
    /// Records one event in a transaction of its own (for events that
    /// accompany no other change: server start and stop, for example).
    pub async fn audit_record(&self, now: OffsetDateTime, event: NewEvent) -> Result<Event, StoreError> {
        let mut tx = self.begin().await?;
        let e = append(&mut tx, now, event).await?;
        tx.commit().await?;
        Ok(e)
    }

    /// [`Store::audit_record`] of something done for `ctx`'s person (a
    /// download, an export), refused as every change of theirs is when
    /// their account changed since the request was checked
    /// ([`Store::begin_as`]): what is handed out only once recorded is not
    /// handed out then.
    pub async fn audit_record_as(&self, ctx: &crate::identity::Ctx, event: NewEvent) -> Result<Event, StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        let e = append(&mut tx, ctx.now, event).await?;
        tx.commit().await?;
        Ok(e)
    }

    /// The head and anchor of the chain.
    pub async fn audit_chain_ends(&self) -> Result<ChainEnds, StoreError> {
        self.read(async |tx| chain_ends(tx, false).await).await
    }

    /// The newest events, newest first.
    pub async fn audit_recent(&self, limit: i64) -> Result<Vec<Event>, StoreError> {
        let sql = format!("{SELECT_EVENT} ORDER BY seq DESC LIMIT $1");
        let rows = with_read_conn!(self, c => sqlx::query_as::<_, EventRow>(&sql).bind(limit).fetch_all(c).await?)?;
        Ok(rows.into_iter().map(Event::from).collect())
    }

    /// Checks the whole chain from one consistent snapshot and names the
    /// first broken event. A chain that begins after the genesis begins
    /// where the newest retention purge in it says it removed events
    /// through, and each purge's archive is what the purge recorded: the
    /// anchor is no free point to cut the start of the log at.
    pub async fn audit_verify(&self) -> Result<Verification, StoreError> {
        let mut tx = self.begin_read().await?;
        let verification = verify_in(&mut tx).await?;
        tx.rollback().await?;
        Ok(verification)
    }
}

/// [`Store::audit_verify`] in the transaction `tx` (a restore's, before
/// it commits).
pub(crate) async fn verify_in(tx: &mut Tx) -> Result<Verification, StoreError> {
    let ends = chain_ends(tx, false).await?;
    let mut verifier = ChainVerifier::new(ends.anchor_seq, &ends.anchor_hash);
    let sql = format!("{SELECT_EVENT} WHERE seq > $1 ORDER BY seq LIMIT $2");
    let mut after = ends.anchor_seq;
    let mut purges: Vec<(i64, Purge)> = Vec::new();
    loop {
        let batch: Vec<Event> = with_conn!(tx, c => {
            sqlx::query_as::<_, EventRow>(&sql).bind(after).bind(VERIFY_BATCH).fetch_all(c).await?
        })
        .into_iter()
        .map(Event::from)
        .collect();
        let Some(last) = batch.last() else { break };
        after = last.record.seq;
        for event in &batch {
            if let Err(b) = verifier.check(event) {
                return Ok(Verification::Broken(b));
            }
            if event.record.action == Action::AuditPurged.as_str() {
                let seq = event.record.seq;
                let purge = serde_json::from_str(&event.record.changes);
                purges.push((seq, purge.map_err(|_| StoreError::Corrupt(format!("audit event {seq}")))?));
            }
        }
    }
    let events = match verifier.finish(ends.head_seq, &ends.head_hash) {
        Ok(events) => events,
        Err(b) => return Ok(Verification::Broken(b)),
    };
    let anchored = match purges.last() {
        None => ends.anchor_seq == 0,
        Some((_, p)) => p.through_seq == ends.anchor_seq && p.anchor_hash == ends.anchor_hash,
    };
    if !anchored {
        return Ok(Verification::Broken(ChainBreak::Anchor { anchor: ends.anchor_seq }));
    }
    for (seq, p) in &purges {
        let kept: Option<(String, Vec<u8>)> = with_conn!(tx, c => {
            sqlx::query_as("SELECT sha256, bytes FROM audit_archive WHERE name = $1").bind(&p.archive).fetch_optional(c).await?
        });
        let intact = kept.is_some_and(|(sha, bytes)| {
            sha == p.archive_sha256 && hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)) == sha
        });
        if !intact {
            return Ok(Verification::Broken(ChainBreak::Archive { seq: *seq }));
        }
    }
    Ok(Verification::Intact { events, head_seq: ends.head_seq })
}
