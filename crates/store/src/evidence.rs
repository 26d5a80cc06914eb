//! Evidence files attached to an answer, stored in the database.

use crate::audit::append;
use crate::identity::Ctx;
use crate::revision::Key;
use crate::{timestamp, with_conn, with_read_conn, Store, StoreError, Tx};
use mamori_core::audit::{Action, Changes, NewEvent, Outcome};
use mamori_core::checklist::HistoryKind;
use mamori_core::clock::to_unix_micros;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub id: i64,
    pub system_id: i64,
    pub round: i64,
    pub number: u32,
    pub original_name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub expires_on: Option<String>,
    pub uploaded_at: OffsetDateTime,
    pub uploaded_by: String,
}

/// A file to store, already checked (type, size, malware).
pub struct NewEvidence<'a> {
    pub number: u32,
    pub original_name: &'a str,
    pub content_type: &'a str,
    pub sha256: &'a str,
    pub expires_on: Option<&'a str>,
    pub content: &'a [u8],
    /// A file of the same answer this one replaces: removed in the same
    /// transaction, so that the answer never stands without either.
    pub replaces: Option<i64>,
    /// The organisation adding it, which must answer the item (`None`:
    /// whoever does).
    pub by: Option<i64>,
}

const SELECT: &str = "SELECT id, system_id, round, number, original_name, content_type, size, sha256, expires_on, \
     uploaded_at_us, uploaded_by FROM evidence";

#[derive(sqlx::FromRow)]
struct EvidenceRow {
    id: i64,
    system_id: i64,
    round: i64,
    number: i64,
    original_name: String,
    content_type: String,
    size: i64,
    sha256: String,
    expires_on: Option<String>,
    uploaded_at_us: i64,
    uploaded_by: String,
}

impl EvidenceRow {
    fn into_record(self) -> Result<Evidence, StoreError> {
        Ok(Evidence {
            id: self.id,
            system_id: self.system_id,
            round: self.round,
            number: self.number as u32,
            original_name: self.original_name,
            content_type: self.content_type,
            size: self.size,
            sha256: self.sha256,
            expires_on: self.expires_on,
            uploaded_at: timestamp(self.uploaded_at_us)?,
            uploaded_by: self.uploaded_by,
        })
    }
}

/// The most files one answer holds (each file is listed in the answer's
/// cell of every workbook, and a vendor could otherwise add them without
/// end); library documents linked to it count apart, to the same limit.
pub const MAX_FILES_PER_ITEM: usize = 50;

impl Store {
    /// Sets the most bytes one organisation may store, its evidence files
    /// and its library's revisions together (the `[evidence] quota_mb`
    /// setting, set once at start).
    pub fn set_organisation_quota(&self, bytes: u64) {
        self.shared.quota.store(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    /// The quota set, if any.
    pub fn organisation_quota(&self) -> Option<u64> {
        Some(self.shared.quota.load(std::sync::atomic::Ordering::Relaxed)).filter(|q| *q != u64::MAX)
    }

    /// The bytes organisation `org` stores: evidence files it added (since
    /// files were attributed) and every revision in its library, deleted
    /// documents' included (their files are kept).
    pub async fn stored_by(&self, org: i64) -> Result<u64, StoreError> {
        self.read(async |tx| stored_in(tx, org).await).await
    }

    /// Stores a file with its audit event; returns its id. A file is a
    /// change of its answer: the workflow decides inside this transaction
    /// whether it may be added now, and a decided answer goes back to 審査待ち.
    /// An answer holds at most [`MAX_FILES_PER_ITEM`] files (`Limit`); an
    /// organisation's files stay within its quota (`Quota`).
    pub async fn add_evidence(&self, ctx: &Ctx, system_id: i64, e: &NewEvidence<'_>) -> Result<i64, StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        if let Some(org) = e.by {
            // Before any row is locked: every path takes this lock first.
            self.lock_storage(&mut tx, org).await?;
        }
        // The replaced file's event is appended with the new one's, after
        // the insert: appending takes the audit log's head, and held across
        // the insert of a file of many MB it kept every other audited write
        // of every instance waiting.
        let removed = match e.replaces {
            Some(old) => Some(self.remove_in(&mut tx, ctx, system_id, old, (Some(e.number), e.by)).await?),
            None => None,
        };
        let change = (HistoryKind::Evidence, e.original_name);
        let system = self.evidence_changes_answer(&mut tx, ctx, system_id, (e.number, e.by), change).await?;
        let held: i64 = with_conn!(tx, c => {
            sqlx::query_scalar("SELECT COUNT(*) FROM evidence WHERE system_id = $1 AND round = $2 AND number = $3")
                .bind(system.id).bind(system.round).bind(i64::from(e.number)).fetch_one(c).await?
        });
        if held >= MAX_FILES_PER_ITEM as i64 {
            return Err(StoreError::Limit(MAX_FILES_PER_ITEM));
        }
        if let Some(org) = e.by {
            self.within_quota(&mut tx, org, e.content.len()).await?;
        }
        let sealed = tx.keys().seal_bytes("evidence_content.content", e.content);
        let id: i64 = with_conn!(tx, c => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO evidence (system_id, round, number, original_name, content_type, size, sha256, expires_on, uploaded_at_us, uploaded_by, organisation_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
            )
            .bind(system.id).bind(system.round).bind(i64::from(e.number)).bind(e.original_name).bind(e.content_type)
            .bind(e.content.len() as i64).bind(e.sha256).bind(e.expires_on).bind(to_unix_micros(ctx.now)).bind(&ctx.actor.login)
            .bind(e.by)
            .fetch_one(&mut *c).await?;
            sqlx::query("INSERT INTO evidence_content (evidence_id, content) VALUES ($1, $2)")
                .bind(id).bind(&sealed).execute(&mut *c).await?;
            id
        });
        let ev = ctx.event_on(Action::EvidenceUploaded, "evidence", id).changes(
            Changes::new()
                .with("system_id", system.id)
                .with("number", e.number)
                .with("name", e.original_name)
                .with("type", e.content_type)
                .with("size", e.content.len())
                .with("sha256", e.sha256),
        );
        if let Some(removed) = removed {
            append(&mut tx, ctx.now, removed).await?;
        }
        tx.commit_audited(ctx.now, ev).await?;
        Ok(id)
    }

    /// Removes a file of the current round while its answer may change (not
    /// while the system is with the officer or approved): like adding one,
    /// a change of the answer, with its history line and audit event. The
    /// content goes with it. `Missing` if there is no such file in this
    /// system's current round.
    /// `by`: the organisation removing it, which must answer its item
    /// (`None`: whoever does).
    pub async fn remove_evidence(
        &self,
        ctx: &Ctx,
        system_id: i64,
        evidence_id: i64,
        by: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        let ev = self.remove_in(&mut tx, ctx, system_id, evidence_id, (None, by)).await?;
        tx.commit_audited(ctx.now, ev).await
    }

    /// Removes a file in `tx` (of item `number` only, when given) and
    /// returns the audit event that says so.
    async fn remove_in(
        &self,
        tx: &mut Tx,
        ctx: &Ctx,
        system_id: i64,
        evidence_id: i64,
        (number, by): (Option<u32>, Option<i64>),
    ) -> Result<NewEvent, StoreError> {
        let sql =
            format!("{SELECT} WHERE id = $1 AND system_id = $2 AND round = (SELECT round FROM system WHERE id = $2)");
        let row = with_conn!(tx, c => {
            sqlx::query_as::<_, EvidenceRow>(&sql).bind(evidence_id).bind(system_id).fetch_optional(&mut *c).await?
        });
        let e = row.ok_or(StoreError::Missing)?.into_record()?;
        if number.is_some_and(|n| n != e.number) {
            return Err(StoreError::Missing);
        }
        let change = (HistoryKind::EvidenceRemoved, e.original_name.as_str());
        let s = self.evidence_changes_answer(tx, ctx, system_id, (e.number, by), change).await?;
        // The row was read before the system's lock: a new round started
        // meanwhile leaves it in the last round, which stays as approved.
        if e.round != s.round {
            return Err(StoreError::Missing);
        }
        // Removed by another request between the read and the lock (two
        // clicks, a removal and a replacement): nothing to remove, and no
        // history line or event saying otherwise.
        let removed = with_conn!(tx, c => {
            sqlx::query("DELETE FROM evidence_content WHERE evidence_id = $1").bind(e.id).execute(&mut *c).await?;
            sqlx::query("DELETE FROM evidence WHERE id = $1").bind(e.id).execute(&mut *c).await?.rows_affected()
        });
        if removed == 0 {
            return Err(StoreError::Missing);
        }
        Ok(ctx.event_on(Action::EvidenceRemoved, "evidence", e.id).changes(
            Changes::new()
                .with("system_id", system_id)
                .with("number", e.number)
                .with("name", e.original_name.as_str())
                .with("sha256", e.sha256.as_str()),
        ))
    }

    /// Files of one requirement of one system's round, oldest first.
    pub async fn evidence_for(&self, system_id: i64, round: i64, number: u32) -> Result<Vec<Evidence>, StoreError> {
        self.kept(Key::EvidenceFor(system_id, round, number), async || {
            let sql = format!("{SELECT} WHERE system_id = $1 AND round = $2 AND number = $3 ORDER BY id");
            let rows = with_read_conn!(self, c => {
                sqlx::query_as::<_, EvidenceRow>(&sql).bind(system_id).bind(round).bind(i64::from(number)).fetch_all(c).await?
            })?;
            rows.into_iter().map(EvidenceRow::into_record).collect()
        })
        .await
    }

    /// Every file of a system's round, by requirement, oldest first.
    pub async fn evidence_of_round(&self, system_id: i64, round: i64) -> Result<Vec<Evidence>, StoreError> {
        self.kept(Key::EvidenceOfRound(system_id, round), async || {
            let sql = format!("{SELECT} WHERE system_id = $1 AND round = $2 ORDER BY number, id");
            let rows = with_read_conn!(self, c => {
                sqlx::query_as::<_, EvidenceRow>(&sql).bind(system_id).bind(round).fetch_all(c).await?
            })?;
            rows.into_iter().map(EvidenceRow::into_record).collect()
        })
        .await
    }

    /// Files whose expiry date is on or before `until` (YYYY-MM-DD), soonest first.
    pub async fn evidence_expiring(&self, until: &str) -> Result<Vec<Evidence>, StoreError> {
        self.kept(Key::EvidenceExpiring(until.to_owned()), async || {
            let sql = format!("{SELECT} WHERE expires_on IS NOT NULL AND expires_on <= $1 ORDER BY expires_on, id");
            let rows =
                with_read_conn!(self, c => sqlx::query_as::<_, EvidenceRow>(&sql).bind(until).fetch_all(c).await?)?;
            rows.into_iter().map(EvidenceRow::into_record).collect()
        })
        .await
    }

    pub async fn evidence(&self, id: i64) -> Result<Option<Evidence>, StoreError> {
        let sql = format!("{SELECT} WHERE id = $1");
        let row = with_read_conn!(self, c => sqlx::query_as::<_, EvidenceRow>(&sql).bind(id).fetch_optional(c).await?)?;
        row.map(EvidenceRow::into_record).transpose()
    }

    /// The bytes of a file, once the audit event of its download is
    /// written ([`Store::read_stored_file`]).
    pub async fn download_evidence(&self, ctx: &Ctx, e: &Evidence) -> Result<Vec<u8>, StoreError> {
        let ev = ctx
            .event_on(Action::EvidenceDownloaded, "evidence", e.id)
            .changes(Changes::new().with("system_id", e.system_id).with("number", e.number));
        self.read_stored_file(StoredFile::Evidence, e.id, ctx, ev).await
    }

    /// A stored file's bytes, read and decrypted on a reading connection
    /// (SQLite's one writer is not held while megabytes are read), given
    /// only once `downloaded`, its audit event, is written.
    pub(crate) async fn read_stored_file(
        &self,
        file: StoredFile,
        id: i64,
        ctx: &Ctx,
        downloaded: NewEvent,
    ) -> Result<Vec<u8>, StoreError> {
        let (sql, what) = match file {
            StoredFile::Evidence => {
                ("SELECT content FROM evidence_content WHERE evidence_id = $1", "evidence_content.content")
            }
            StoredFile::Document => {
                ("SELECT content FROM document_content WHERE revision_id = $1", "document_content.content")
            }
        };
        let sealed: Vec<u8> = with_read_conn!(self, c => sqlx::query_scalar(sql).bind(id).fetch_one(c).await?)?;
        let bytes = self.keys().open_bytes(what, &sealed)?;
        self.audit_record_as(ctx, downloaded).await?;
        Ok(bytes)
    }

    /// A refused upload (type, size, malware) is audited too.
    pub async fn record_rejected_evidence(
        &self,
        ctx: &Ctx,
        system_id: i64,
        number: u32,
        name: &str,
        why: &str,
    ) -> Result<(), StoreError> {
        let ev = NewEvent::new(ctx.actor.clone(), ctx.origin.clone(), Action::EvidenceRejected, Outcome::Denied)
            .target("system", system_id.to_string())
            .changes(Changes::new().with("number", number).with("name", name).with("why", why));
        self.audit_record_as(ctx, ev).await.map(drop)
    }

    /// A file refused for an organisation's library is audited too.
    pub async fn record_rejected_document(&self, ctx: &Ctx, org: i64, name: &str, why: &str) -> Result<(), StoreError> {
        let ev = NewEvent::new(ctx.actor.clone(), ctx.origin.clone(), Action::EvidenceRejected, Outcome::Denied)
            .target("organisation", org.to_string())
            .changes(Changes::new().with("library", true).with("name", name).with("why", why));
        self.audit_record_as(ctx, ev).await.map(drop)
    }
}

/// The bytes organisation `org` stores, read in `tx`.
async fn stored_in(tx: &mut Tx, org: i64) -> Result<u64, StoreError> {
    let n: i64 = with_conn!(tx, c => {
        sqlx::query_scalar(
            "SELECT CAST(COALESCE((SELECT SUM(size) FROM evidence WHERE organisation_id = $1), 0) \
                  + COALESCE((SELECT SUM(r.size) FROM document_revision r JOIN document d ON d.id = r.document_id \
                              WHERE d.organisation_id = $1), 0) AS BIGINT)",
        )
        .bind(org).fetch_one(c).await?
    });
    Ok(u64::try_from(n).unwrap_or(0))
}

impl Store {
    /// Organisation `org`'s files, one change at a time (PostgreSQL; SQLite
    /// writes one at a time anyway): two uploads cannot each pass the
    /// quota on the same total, and a document cannot be linked (to an
    /// answer or a record) while it is being deleted, so no link outlives
    /// its document. Taken first in the transaction, before any row lock,
    /// so that two paths never wait on each other.
    pub(crate) async fn lock_storage(&self, tx: &mut Tx, org: i64) -> Result<(), StoreError> {
        tx.lock_named(&format!("mamori.storage.{org}")).await
    }

    /// Refuses `adding` more bytes of organisation `org` beyond its quota;
    /// under [`Store::lock_storage`].
    pub(crate) async fn within_quota(&self, tx: &mut Tx, org: i64, adding: usize) -> Result<(), StoreError> {
        let Some(quota) = self.organisation_quota() else { return Ok(()) };
        if stored_in(tx, org).await?.saturating_add(adding as u64) > quota {
            return Err(StoreError::Quota(quota));
        }
        Ok(())
    }
}

/// Where a file's content is kept.
#[derive(Debug, Clone, Copy)]
pub(crate) enum StoredFile {
    Evidence,
    Document,
}
