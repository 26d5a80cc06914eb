//! Each organisation's library of documents: uploaded once, in revisions,
//! linked to any number of items of the systems the organisation answers.
//! A link is evidence of its answer (adding or removing one is a change of
//! the answer, as a file is); it follows the newest revision unless pinned,
//! and carries into the next round as a row, the content staying where it is.

use crate::audit::append;
use crate::evidence::MAX_FILES_PER_ITEM;
use crate::identity::Ctx;
use crate::revision::Key;
use crate::systems::{lock_system, system_event};
use crate::{timestamp, with_conn, with_read_conn, Store, StoreError, Tx};
use mamori_core::audit::{Action, Changes, NewEvent};
use mamori_core::checklist::{HistoryKind, SystemStatus, WorkflowError};
use mamori_core::clock::to_unix_micros;
use time::OffsetDateTime;

/// One revision of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocRevision {
    pub id: i64,
    pub document_id: i64,
    pub revision: i64,
    pub original_name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub expires_on: Option<String>,
    pub uploaded_at: OffsetDateTime,
    pub uploaded_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: i64,
    pub organisation_id: i64,
    pub title: String,
    pub created_at: OffsetDateTime,
    pub created_by: String,
    pub deleted: bool,
    /// Oldest first; never empty.
    pub revisions: Vec<DocRevision>,
}

impl Document {
    pub fn newest(&self) -> &DocRevision {
        self.revisions.last().expect("a document has a revision")
    }
}

/// A document linked to one item of one system's round, with the revision
/// it shows (pinned, or the newest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocLink {
    pub id: i64,
    pub document_id: i64,
    pub title: String,
    pub system_id: i64,
    pub round: i64,
    pub number: u32,
    pub pinned: bool,
    pub shows: DocRevision,
    pub linked_by: String,
}

/// A file for the library, already checked (type, size, malware).
pub struct NewDocFile<'a> {
    pub original_name: &'a str,
    pub content_type: &'a str,
    pub sha256: &'a str,
    pub expires_on: Option<&'a str>,
    pub content: &'a [u8],
}

const SELECT_REVISION: &str = "SELECT id, document_id, revision, original_name, content_type, size, sha256, \
     expires_on, uploaded_at_us, uploaded_by FROM document_revision";

#[derive(sqlx::FromRow)]
struct RevisionRow {
    id: i64,
    document_id: i64,
    revision: i64,
    original_name: String,
    content_type: String,
    size: i64,
    sha256: String,
    expires_on: Option<String>,
    uploaded_at_us: i64,
    uploaded_by: String,
}

impl RevisionRow {
    fn into_record(self) -> Result<DocRevision, StoreError> {
        Ok(DocRevision {
            id: self.id,
            document_id: self.document_id,
            revision: self.revision,
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

#[derive(sqlx::FromRow)]
struct DocumentRow {
    id: i64,
    organisation_id: i64,
    title: String,
    created_at_us: i64,
    created_by: String,
    deleted_at_us: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    id: i64,
    document_id: i64,
    system_id: i64,
    round: i64,
    number: i64,
    pinned_revision: Option<i64>,
    linked_by: String,
}

const SELECT_DOCUMENT: &str =
    "SELECT id, organisation_id, title, created_at_us, created_by, deleted_at_us FROM document";
const SELECT_LINK: &str =
    "SELECT id, document_id, system_id, round, number, pinned_revision, linked_by FROM document_link";

/// Documents with their revisions, from their rows.
fn assemble(docs: Vec<DocumentRow>, revisions: Vec<RevisionRow>) -> Result<Vec<Document>, StoreError> {
    let mut revs: Vec<DocRevision> = revisions.into_iter().map(RevisionRow::into_record).collect::<Result<_, _>>()?;
    revs.sort_by_key(|r| (r.document_id, r.revision));
    docs.into_iter()
        .map(|d| {
            Ok(Document {
                id: d.id,
                organisation_id: d.organisation_id,
                title: d.title,
                created_at: timestamp(d.created_at_us)?,
                created_by: d.created_by,
                deleted: d.deleted_at_us.is_some(),
                revisions: revs.iter().filter(|r| r.document_id == d.id).cloned().collect(),
            })
        })
        .filter(|d: &Result<Document, StoreError>| d.as_ref().map_or(true, |d| !d.revisions.is_empty()))
        .collect()
}

/// Links with the revision each shows.
fn shown(links: Vec<LinkRow>, docs: &[Document]) -> Vec<DocLink> {
    links
        .into_iter()
        .filter_map(|l| {
            let d = docs.iter().find(|d| d.id == l.document_id)?;
            let shows = match l.pinned_revision {
                Some(r) => d.revisions.iter().find(|x| x.revision == r)?,
                None => d.newest(),
            };
            Some(DocLink {
                id: l.id,
                document_id: d.id,
                title: d.title.clone(),
                system_id: l.system_id,
                round: l.round,
                number: l.number as u32,
                pinned: l.pinned_revision.is_some(),
                shows: shows.clone(),
                linked_by: l.linked_by,
            })
        })
        .collect()
}

async fn document_in(tx: &mut Tx, id: i64) -> Result<Option<Document>, StoreError> {
    let sql = format!("{SELECT_DOCUMENT} WHERE id = $1");
    let rsql = format!("{SELECT_REVISION} WHERE document_id = $1");
    let (doc, revs) = with_conn!(tx, c => {
        let d = sqlx::query_as::<_, DocumentRow>(&sql).bind(id).fetch_optional(&mut *c).await?;
        let r = sqlx::query_as::<_, RevisionRow>(&rsql).bind(id).fetch_all(&mut *c).await?;
        (d, r)
    });
    Ok(assemble(doc.into_iter().collect(), revs)?.pop())
}

/// The systems document `id` is linked in (any round) or shown by a record
/// of, by id.
async fn systems_showing(tx: &mut Tx, id: i64) -> Result<Vec<i64>, StoreError> {
    Ok(with_conn!(tx, c => {
        sqlx::query_scalar(
            "SELECT system_id FROM document_link WHERE document_id = $1 UNION \
             SELECT r.system_id FROM record_document rd JOIN record r ON r.id = rd.record_id WHERE rd.document_id = $1 \
             ORDER BY system_id",
        )
        .bind(id).fetch_all(c).await?
    }))
}

/// Locks, on PostgreSQL, every system document `id` is linked in or shown
/// by a record of, in the order of their ids (SQLite's writes are one at a
/// time already).
async fn lock_systems_of(tx: &mut Tx, id: i64) -> Result<(), StoreError> {
    if tx.backend() != crate::Backend::Postgres {
        return Ok(());
    }
    for s in systems_showing(tx, id).await? {
        with_conn!(tx, c => {
            sqlx::query("SELECT id FROM system WHERE id = $1 FOR UPDATE").bind(s).execute(c).await?;
        });
    }
    Ok(())
}

/// The document `id` of organisation `org`, not removed, in `tx`; `Missing`
/// otherwise (another organisation's document is as unknown).
async fn own_document(tx: &mut Tx, id: i64, org: i64) -> Result<Document, StoreError> {
    document_in(tx, id).await?.filter(|d| d.organisation_id == org && !d.deleted).ok_or(StoreError::Missing)
}

/// The most documents one organisation's library holds, deleted ones
/// included (each is kept, with its files).
pub const MAX_DOCUMENTS: usize = 2_000;

/// The most revisions of one document.
pub const MAX_REVISIONS: i64 = 200;

/// Stores a revision and its content; returns the audit event of the upload.
async fn insert_revision(
    tx: &mut Tx,
    ctx: &Ctx,
    (document_id, title): (i64, &str),
    revision: i64,
    f: &NewDocFile<'_>,
) -> Result<NewEvent, StoreError> {
    let sealed = tx.keys().seal_bytes("document_content.content", f.content);
    let id: i64 = with_conn!(tx, c => {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO document_revision (document_id, revision, original_name, content_type, size, sha256, expires_on, \
             uploaded_at_us, uploaded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(document_id).bind(revision).bind(f.original_name).bind(f.content_type).bind(f.content.len() as i64)
        .bind(f.sha256).bind(f.expires_on).bind(to_unix_micros(ctx.now)).bind(&ctx.actor.login)
        .fetch_one(&mut *c).await?;
        sqlx::query("INSERT INTO document_content (revision_id, content) VALUES ($1, $2)")
            .bind(id).bind(&sealed).execute(&mut *c).await?;
        id
    });
    Ok(ctx.event_on(Action::DocumentUploaded, "document", document_id).changes(
        Changes::new()
            .with("title", title)
            .with("revision", revision)
            .with("name", f.original_name)
            .with("sha256", f.sha256)
            .with("revision_id", id),
    ))
}

impl Store {
    /// Adds a document to organisation `org`'s library (its first revision).
    /// `Quota` beyond the organisation's quota; `Limit` past
    /// [`MAX_DOCUMENTS`] documents, deleted ones included (their files
    /// are kept).
    pub async fn add_document(&self, ctx: &Ctx, org: i64, title: &str, f: &NewDocFile<'_>) -> Result<i64, StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        self.lock_storage(&mut tx, org).await?;
        self.within_quota(&mut tx, org, f.content.len()).await?;
        let held: i64 = with_conn!(tx, c => {
            sqlx::query_scalar("SELECT COUNT(*) FROM document WHERE organisation_id = $1").bind(org).fetch_one(c).await?
        });
        if held >= MAX_DOCUMENTS as i64 {
            return Err(StoreError::Limit(MAX_DOCUMENTS));
        }
        let id: i64 = with_conn!(tx, c => {
            sqlx::query_scalar(
                "INSERT INTO document (organisation_id, title, created_at_us, created_by) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(org).bind(title).bind(to_unix_micros(ctx.now)).bind(&ctx.actor.login).fetch_one(c).await?
        });
        let ev = insert_revision(&mut tx, ctx, (id, title), 1, f).await?;
        tx.commit_audited(ctx.now, ev).await?;
        Ok(id)
    }

    /// A new revision of one of `org`'s documents; returns its number.
    /// Each link that follows the newest revision is a change of its
    /// answer where the answer may change now (history line, back to
    /// 審査待ち); where it may not (submitted, approved, an earlier round),
    /// the link is pinned to the revision it showed, so that nothing
    /// changes under a decision. `Quota` beyond the organisation's quota;
    /// `Limit` past [`MAX_REVISIONS`].
    pub async fn add_document_revision(
        &self,
        ctx: &Ctx,
        id: i64,
        org: i64,
        f: &NewDocFile<'_>,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        self.lock_storage(&mut tx, org).await?;
        let doc = own_document(&mut tx, id, org).await?;
        self.within_quota(&mut tx, org, f.content.len()).await?;
        let was = doc.newest().revision;
        if was >= MAX_REVISIONS {
            return Err(StoreError::Limit(MAX_REVISIONS as usize));
        }
        // Every system that shows it, locked (in the order of their ids)
        // before its links and rounds are read: on PostgreSQL a round
        // started meanwhile otherwise left its approved round's link
        // following the new revision (read as the open round's), and the new
        // round's own link unchanged in its answer's revision. No link is
        // made meanwhile: links take the storage lock.
        lock_systems_of(&mut tx, id).await?;
        let links: Vec<LinkRow> = with_conn!(tx, c => {
            sqlx::query_as::<_, LinkRow>(&format!("{SELECT_LINK} WHERE document_id = $1 AND pinned_revision IS NULL ORDER BY id"))
                .bind(id).fetch_all(c).await?
        });
        let mut changed = Vec::new();
        for l in links {
            let number = l.number as u32;
            let current: i64 = with_conn!(tx, c => {
                sqlx::query_scalar("SELECT round FROM system WHERE id = $1").bind(l.system_id).fetch_one(c).await?
            });
            let change = (HistoryKind::Evidence, doc.title.as_str());
            let follows = current == l.round
                && self
                    .try_in(&mut tx, async |tx, store| {
                        store.evidence_changes_answer(tx, ctx, l.system_id, (number, Some(org)), change).await.map(drop)
                    })
                    .await?;
            if follows {
                // The answer changed: the system's trail names it (written
                // last, once every system is locked: the chain is taken
                // after the systems, never before).
                changed.push(
                    system_event(ctx, Action::AnswerSaved, l.system_id).changes(
                        Changes::new()
                            .with("number", number)
                            .with("document", id)
                            .with("revision", was + 1)
                            .with("change", "document_revised"),
                    ),
                );
            } else {
                with_conn!(tx, c => {
                    sqlx::query("UPDATE document_link SET pinned_revision = $2 WHERE id = $1")
                        .bind(l.id).bind(was).execute(c).await?;
                });
            }
        }
        // A record of a system the organisation keeps shows the new
        // revision: a change of the record, as a save by its keeper is
        // (back to 確認待ち, its revision past any page that showed the
        // old one). One of a system it no longer keeps goes on showing the
        // revision it showed.
        let records: Vec<(i64, i64, String, String)> = with_conn!(tx, c => {
            sqlx::query_as(
                "SELECT rd.record_id, r.system_id, r.kind, r.title FROM record_document rd JOIN record r ON r.id = rd.record_id \
                 WHERE rd.document_id = $1 AND rd.pinned_revision IS NULL ORDER BY r.system_id, rd.record_id",
            )
            .bind(id).fetch_all(c).await?
        });
        for (record_id, system_id, kind, title) in records {
            let kept = crate::systems::parties_of(&mut tx, system_id).await?.is_some_and(|p| p.kept_by(org));
            if kept {
                lock_system(&mut tx, ctx, system_id).await?;
                with_conn!(tx, c => {
                    sqlx::query(
                        "UPDATE record SET changed_after_approval = (changed_after_approval OR review_state = 'approved'), \
                         review_state = 'pending', revision = revision + 1 WHERE id = $1",
                    )
                    .bind(record_id).execute(c).await?;
                });
                changed.push(
                    system_event(ctx, Action::RecordSaved, system_id).changes(
                        Changes::new()
                            .with("record", kind)
                            .with("title", title)
                            .with("change", "document_revised")
                            .with("id", record_id)
                            .with("document", id)
                            .with("revision", was + 1),
                    ),
                );
            } else {
                with_conn!(tx, c => {
                    sqlx::query("UPDATE record_document SET pinned_revision = $3 WHERE record_id = $1 AND document_id = $2")
                        .bind(record_id).bind(id).bind(was).execute(c).await?;
                });
            }
        }
        // The file first, the events after it: appending takes the audit
        // log's head, which every other audited write waits for.
        let ev = insert_revision(&mut tx, ctx, (id, &doc.title), was + 1, f).await?;
        for ev in changed {
            append(&mut tx, ctx.now, ev).await?;
        }
        tx.commit_audited(ctx.now, ev).await?;
        Ok(was + 1)
    }

    /// Runs `step` in a savepoint of `tx`: `Ok(true)` when it did its work,
    /// `Ok(false)` (and nothing of it kept) when the workflow refused it or
    /// the item is no longer the organisation's.
    async fn try_in<F>(&self, tx: &mut Tx, step: F) -> Result<bool, StoreError>
    where
        F: AsyncFnOnce(&mut Tx, &Store) -> Result<(), StoreError>,
    {
        with_conn!(tx, c => { sqlx::query("SAVEPOINT try_step").execute(c).await?; });
        match step(tx, self).await {
            Ok(()) => {
                with_conn!(tx, c => { sqlx::query("RELEASE SAVEPOINT try_step").execute(c).await?; });
                Ok(true)
            }
            Err(StoreError::Refused(_) | StoreError::Missing) => {
                with_conn!(tx, c => {
                    sqlx::query("ROLLBACK TO SAVEPOINT try_step").execute(&mut *c).await?;
                    sqlx::query("RELEASE SAVEPOINT try_step").execute(&mut *c).await?;
                });
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Links one of `org`'s documents to item `number` of a system's
    /// current round (`pin`: to its newest revision as it is now). A change
    /// of the answer: the workflow and the party decide, as for a file.
    pub async fn link_document(
        &self,
        ctx: &Ctx,
        id: i64,
        org: i64,
        system_id: i64,
        number: u32,
        pin: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        self.lock_storage(&mut tx, org).await?;
        let doc = own_document(&mut tx, id, org).await?;
        let change = (HistoryKind::Evidence, doc.title.as_str());
        let s = self.evidence_changes_answer(&mut tx, ctx, system_id, (number, Some(org)), change).await?;
        let linked: i64 = with_conn!(tx, c => {
            sqlx::query_scalar("SELECT COUNT(*) FROM document_link WHERE system_id = $1 AND round = $2 AND number = $3")
                .bind(s.id).bind(s.round).bind(i64::from(number)).fetch_one(c).await?
        });
        if linked >= MAX_FILES_PER_ITEM as i64 {
            return Err(StoreError::Limit(MAX_FILES_PER_ITEM));
        }
        let pinned = pin.then(|| doc.newest().revision);
        with_conn!(tx, c => {
            sqlx::query(
                "INSERT INTO document_link (document_id, system_id, round, number, pinned_revision, linked_at_us, linked_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id).bind(s.id).bind(s.round).bind(i64::from(number)).bind(pinned).bind(to_unix_micros(ctx.now))
            .bind(&ctx.actor.login)
            .execute(c).await.map_err(crate::accounts::unique)?;
        });
        let ev = ctx.event_on(Action::DocumentLinked, "document", id).changes(
            Changes::new().with("system_id", s.id).with("round", s.round).with("number", number).with("pinned", pinned),
        );
        tx.commit_audited(ctx.now, ev).await
    }

    /// Removes link `link_id` from item `number` of a system's current
    /// round (by `org`, which answers the item): audited, a change of the
    /// answer. `Missing` for a link of another item, system or round.
    pub async fn unlink_document(
        &self,
        ctx: &Ctx,
        system_id: i64,
        number: u32,
        link_id: i64,
        org: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        let s = lock_system(&mut tx, ctx, system_id).await?;
        let link: Option<LinkRow> = with_conn!(tx, c => {
            sqlx::query_as::<_, LinkRow>(&format!("{SELECT_LINK} WHERE id = $1 AND system_id = $2 AND round = $3 AND number = $4"))
                .bind(link_id).bind(s.id).bind(s.round).bind(i64::from(number)).fetch_optional(c).await?
        });
        let link = link.ok_or(StoreError::Missing)?;
        let doc = document_in(&mut tx, link.document_id).await?.ok_or(StoreError::Missing)?;
        let change = (HistoryKind::EvidenceRemoved, doc.title.as_str());
        self.evidence_changes_answer(&mut tx, ctx, system_id, (number, org), change).await?;
        with_conn!(tx, c => {
            sqlx::query("DELETE FROM document_link WHERE id = $1").bind(link.id).execute(c).await?;
        });
        let ev = ctx
            .event_on(Action::DocumentUnlinked, "document", doc.id)
            .changes(Changes::new().with("system_id", s.id).with("round", s.round).with("number", number));
        tx.commit_audited(ctx.now, ev).await
    }

    /// Removes one of `org`'s documents from its library, with its links
    /// to answers that may change now (each a change of its answer); the
    /// links of earlier rounds stay, showing what was submitted then.
    /// Refused while a link holds it to an approved answer, or to one with
    /// the officer: such a document is superseded by a new revision, never
    /// deleted.
    pub async fn delete_document(&self, ctx: &Ctx, id: i64, org: i64) -> Result<(), StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        // No link is made meanwhile (links take this lock too).
        self.lock_storage(&mut tx, org).await?;
        let doc = own_document(&mut tx, id, org).await?;
        // Every system it is linked in, locked in the order of their ids
        // before its links are read (a round started meanwhile copies them)
        // and before any change or event: locking the next system after the
        // first event (which holds the audit chain) deadlocked with an
        // answer saved in that system, which holds it and waits for the chain.
        lock_systems_of(&mut tx, id).await?;
        let links: Vec<LinkRow> = with_conn!(tx, c => {
            sqlx::query_as::<_, LinkRow>(&format!("{SELECT_LINK} WHERE document_id = $1 ORDER BY id")).bind(id).fetch_all(c).await?
        });
        // The records that show it (an approved one refuses the removal below).
        let records: Vec<(i64, i64, String, String)> = with_conn!(tx, c => {
            sqlx::query_as(
                "SELECT rd.record_id, r.system_id, r.kind, r.title FROM record_document rd JOIN record r ON r.id = rd.record_id \
                 WHERE rd.document_id = $1 ORDER BY r.system_id, rd.record_id",
            )
            .bind(id).fetch_all(c).await?
        });
        // The systems the organisation is still on: one it was taken off is
        // another party's now, and neither refuses the removal nor hears of
        // it (nor tells the organisation what became of it there).
        let mut on = std::collections::BTreeMap::new();
        for l in &links {
            if let std::collections::btree_map::Entry::Vacant(e) = on.entry(l.system_id) {
                e.insert(crate::systems::parties_of(&mut tx, l.system_id).await?.is_some_and(|p| p.kept_by(org)));
            }
        }
        let approved_in: Vec<i64> = with_conn!(tx, c => {
            sqlx::query_scalar(
                "SELECT l.system_id FROM document_link l JOIN answer a ON a.system_id = l.system_id AND a.round = l.round \
                 AND a.number = l.number WHERE l.document_id = $1 AND a.approved_revision IS NOT NULL",
            )
            .bind(id).fetch_all(c).await?
        });
        let approved = approved_in.iter().filter(|s| on.get(s).copied().unwrap_or(false)).count() as i64;
        let approved_records_in: Vec<i64> = with_conn!(tx, c => {
            sqlx::query_scalar(
                "SELECT r.system_id FROM record_document rd JOIN record r ON r.id = rd.record_id \
                 WHERE rd.document_id = $1 AND r.review_state = 'approved'",
            )
            .bind(id).fetch_all(c).await?
        });
        let mut approved_records = 0i64;
        for system_id in approved_records_in {
            if let std::collections::btree_map::Entry::Vacant(e) = on.entry(system_id) {
                e.insert(crate::systems::parties_of(&mut tx, system_id).await?.is_some_and(|p| p.kept_by(org)));
            }
            approved_records += i64::from(on.get(&system_id).copied().unwrap_or(false));
        }
        if approved + approved_records > 0 {
            return Err(StoreError::Refused(WorkflowError::NotNow(SystemStatus::Approved)));
        }
        let latest = doc.revisions.last().map_or(1, |r| r.revision);
        // An earlier round keeps its links (the document is only marked
        // removed): what was submitted then stays as it was submitted.
        for l in &links {
            let current: i64 = with_conn!(tx, c => {
                sqlx::query_scalar("SELECT round FROM system WHERE id = $1").bind(l.system_id).fetch_one(c).await?
            });
            if current != l.round {
                continue;
            }
            if !on.get(&l.system_id).copied().unwrap_or(false) {
                // Not its system any more: the answer goes on showing the
                // revision it showed, as a record there does.
                with_conn!(tx, c => {
                    sqlx::query("UPDATE document_link SET pinned_revision = COALESCE(pinned_revision, $2) WHERE id = $1")
                        .bind(l.id).bind(latest).execute(c).await?;
                });
                continue;
            }
            let change = (HistoryKind::EvidenceRemoved, doc.title.as_str());
            self.evidence_changes_answer(&mut tx, ctx, l.system_id, (l.number as u32, Some(org)), change).await?;
            with_conn!(tx, c => {
                sqlx::query("DELETE FROM document_link WHERE id = $1").bind(l.id).execute(c).await?;
            });
            append(
                &mut tx,
                ctx.now,
                ctx.event_on(Action::DocumentUnlinked, "document", id).changes(
                    Changes::new().with("system_id", l.system_id).with("round", l.round).with("number", l.number),
                ),
            )
            .await?;
        }
        // A record that showed it changes with it, as a save by its keeper
        // does: 確認待ち, its revision past any page that showed the file
        // (the office approved a record whose document had gone). One of a
        // system the organisation no longer keeps is not its to change: it
        // goes on showing the revision it showed.
        for (record_id, system_id, kind, title) in records {
            let kept = crate::systems::parties_of(&mut tx, system_id).await?.is_some_and(|p| p.kept_by(org));
            if !kept {
                with_conn!(tx, c => {
                    sqlx::query(
                        "UPDATE record_document SET pinned_revision = COALESCE(pinned_revision, $3) \
                         WHERE record_id = $1 AND document_id = $2",
                    )
                    .bind(record_id).bind(id).bind(latest).execute(c).await?;
                });
                continue;
            }
            with_conn!(tx, c => {
                sqlx::query("UPDATE record SET review_state = 'pending', revision = revision + 1 WHERE id = $1")
                    .bind(record_id).execute(&mut *c).await?;
                sqlx::query("DELETE FROM record_document WHERE record_id = $1 AND document_id = $2")
                    .bind(record_id).bind(id).execute(&mut *c).await?;
            });
            let ev = system_event(ctx, Action::RecordSaved, system_id).changes(
                Changes::new()
                    .with("record", kind)
                    .with("title", title)
                    .with("change", "document_removed")
                    .with("id", record_id)
                    .with("document", id),
            );
            append(&mut tx, ctx.now, ev).await?;
        }
        with_conn!(tx, c => {
            sqlx::query("UPDATE document SET deleted_at_us = $2 WHERE id = $1").bind(id).bind(to_unix_micros(ctx.now))
                .execute(&mut *c).await?;
        });
        let ev = ctx.event_on(Action::DocumentDeleted, "document", id).changes(Changes::new().with("title", doc.title));
        tx.commit_audited(ctx.now, ev).await
    }

    /// The library of organisation `org`, by title.
    pub async fn documents(&self, org: i64) -> Result<Vec<Document>, StoreError> {
        self.kept(Key::Documents(org), async || {
            let sql = format!("{SELECT_DOCUMENT} WHERE organisation_id = $1 AND deleted_at_us IS NULL ORDER BY title, id");
            let rsql = format!(
                "{SELECT_REVISION} WHERE document_id IN (SELECT id FROM document WHERE organisation_id = $1 AND deleted_at_us IS NULL)"
            );
            let docs = with_read_conn!(self, c => sqlx::query_as::<_, DocumentRow>(&sql).bind(org).fetch_all(c).await?)?;
            let revs = with_read_conn!(self, c => sqlx::query_as::<_, RevisionRow>(&rsql).bind(org).fetch_all(c).await?)?;
            assemble(docs, revs)
        })
        .await
    }

    /// The ids and titles of an organisation's documents, by title: a pick
    /// list, without every revision of a library of thousands.
    pub async fn document_titles(&self, org: i64) -> Result<Vec<(i64, String)>, StoreError> {
        self.kept(Key::DocumentTitles(org), async || {
            let sql = "SELECT id, title FROM document WHERE organisation_id = $1 AND deleted_at_us IS NULL ORDER BY title, id";
            with_read_conn!(self, c => sqlx::query_as(sql).bind(org).fetch_all(c).await?)
        })
        .await
    }

    /// One document (removed ones too: links of earlier rounds name them).
    pub async fn document(&self, id: i64) -> Result<Option<Document>, StoreError> {
        self.read(async |tx| document_in(tx, id).await).await
    }

    /// The links of a system's round, by item, with what each shows.
    pub async fn document_links(&self, system_id: i64, round: i64) -> Result<Vec<DocLink>, StoreError> {
        self.kept(Key::DocumentLinks(system_id, round), async || {
            let sql = format!("{SELECT_LINK} WHERE system_id = $1 AND round = $2 ORDER BY number, id");
            let links = with_read_conn!(self, c => {
                sqlx::query_as::<_, LinkRow>(&sql).bind(system_id).bind(round).fetch_all(c).await?
            })?;
            self.linked(links).await
        })
        .await
    }

    /// Every link of a document, in every system and round.
    pub async fn links_of_document(&self, id: i64) -> Result<Vec<DocLink>, StoreError> {
        let sql = format!("{SELECT_LINK} WHERE document_id = $1 ORDER BY system_id, round, number");
        let links = with_read_conn!(self, c => sqlx::query_as::<_, LinkRow>(&sql).bind(id).fetch_all(c).await?)?;
        self.linked(links).await
    }

    async fn linked(&self, links: Vec<LinkRow>) -> Result<Vec<DocLink>, StoreError> {
        let mut ids: Vec<i64> = links.iter().map(|l| l.document_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut docs = Vec::new();
        for id in ids {
            docs.extend(self.document(id).await?);
        }
        Ok(shown(links, &docs))
    }

    /// One revision, by its id.
    pub async fn document_revision(&self, revision_id: i64) -> Result<Option<DocRevision>, StoreError> {
        let sql = format!("{SELECT_REVISION} WHERE id = $1");
        let row = with_read_conn!(self, c => sqlx::query_as::<_, RevisionRow>(&sql).bind(revision_id).fetch_optional(c).await?)?;
        row.map(RevisionRow::into_record).transpose()
    }

    /// The systems a document is linked to, in any round or by a record.
    pub async fn systems_of_document(&self, id: i64) -> Result<Vec<i64>, StoreError> {
        self.read(async |tx| systems_showing(tx, id).await).await
    }

    /// The bytes of a revision, and the audit event of its download.
    pub async fn download_document(&self, ctx: &Ctx, r: &DocRevision) -> Result<Vec<u8>, StoreError> {
        let ev = ctx
            .event_on(Action::DocumentDownloaded, "document", r.document_id)
            .changes(Changes::new().with("revision", r.revision));
        self.read_stored_file(crate::evidence::StoredFile::Document, r.id, ctx, ev).await
    }

    /// Newest revisions whose expiry date is on or before `until`
    /// (YYYY-MM-DD), of documents still in a library, soonest first.
    pub async fn documents_expiring(&self, until: &str) -> Result<Vec<(Document, DocRevision)>, StoreError> {
        self.kept(Key::DocumentsExpiring(until.to_owned()), async || self.documents_expiring_now(until).await).await
    }

    async fn documents_expiring_now(&self, until: &str) -> Result<Vec<(Document, DocRevision)>, StoreError> {
        let sql = format!(
            "{SELECT_DOCUMENT} WHERE deleted_at_us IS NULL AND id IN (SELECT r.document_id FROM document_revision r \
             WHERE r.expires_on IS NOT NULL AND r.expires_on <= $1 AND r.revision = \
             (SELECT MAX(x.revision) FROM document_revision x WHERE x.document_id = r.document_id)) ORDER BY id"
        );
        let docs = with_read_conn!(self, c => sqlx::query_as::<_, DocumentRow>(&sql).bind(until).fetch_all(c).await?)?;
        let mut out = Vec::new();
        for d in docs {
            if let Some(doc) = self.document(d.id).await? {
                let newest = doc.newest().clone();
                out.push((doc, newest));
            }
        }
        out.sort_by(|a, b| a.1.expires_on.cmp(&b.1.expires_on));
        Ok(out)
    }
}
