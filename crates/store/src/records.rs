//! Records of each system (items 8, 10–13, 19–21, 69–79), each with its
//! audit event in the transaction of the change. The fields are sealed
//! (the contact chart holds names and telephone numbers); the title (never
//! a personal field) and the watched date stay in clear for lists and
//! warnings.

use crate::identity::Ctx;
use crate::systems::{disposal_records, lock_system};
use crate::{timestamp, with_conn, with_read_conn, Seen, Store, StoreError, Tx};
use mamori_core::audit::{Action, Changes};
use mamori_core::checklist::{Phase, WorkflowError};
use mamori_core::clock::to_unix_micros;
use mamori_core::inventory::SupportState;
use mamori_core::records::{due, RecordKind, RecordReview, Values};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: i64,
    pub system_id: i64,
    pub kind: RecordKind,
    pub values: Values,
    pub title: String,
    pub due_on: Option<time::Date>,
    pub warned: Option<SupportState>,
    pub updated_at: OffsetDateTime,
    pub updated_by: String,
    pub review: RecordReview,
    /// The office's note with its decision (why it was returned).
    pub review_note: String,
    /// Who decided, and when.
    pub reviewed: Option<(String, OffsetDateTime)>,
    /// Changed since the office approved it.
    pub changed_after_approval: bool,
    /// Raised by every save; a decision names the revision it was made on.
    pub revision: i64,
    /// The organisation that keeps it (none: made at the console).
    pub organisation_id: Option<i64>,
}

/// Who saves or removes a record, for [`Store::save_record`] and
/// [`Store::remove_record`]: their organisation, whether they keep every
/// record of the system (its department, the console) or only their
/// organisation's (a vendor), and the documents of their library linked.
#[derive(Debug, Clone, Copy)]
pub struct Keeper<'a> {
    pub organisation_id: Option<i64>,
    pub every_record: bool,
    pub documents: &'a [i64],
}

impl<'a> Keeper<'a> {
    /// The console: every record, no organisation, no documents.
    pub const CONSOLE: Keeper<'static> = Keeper { organisation_id: None, every_record: true, documents: &[] };

    /// A vendor of `organisation`, linking `documents` of its library.
    pub fn vendor(organisation: i64, documents: &'a [i64]) -> Self {
        Keeper { organisation_id: Some(organisation), every_record: false, documents }
    }

    /// May they change or remove `r`?
    pub fn keeps(&self, r: &Record) -> bool {
        self.every_record || (r.organisation_id.is_some() && r.organisation_id == self.organisation_id)
    }
}

impl Record {
    /// What a review form shows of the record, for [`Store::review_record`].
    pub fn seen(&self) -> Seen {
        let reviewed =
            self.reviewed.as_ref().map(|(by, at)| format!("{by} {}", to_unix_micros(*at))).unwrap_or_default();
        Seen {
            revision: self.revision,
            decision: crate::edit_mark(&[self.review.as_str(), &self.review_note, &reviewed]),
        }
    }
}

/// A record as it stood at a moment (for reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordAsOf {
    pub record_id: i64,
    pub kind: RecordKind,
    pub values: Values,
    pub title: String,
}

/// A library document behind a record, with its newest revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordDocument {
    pub record_id: i64,
    pub document_id: i64,
    pub organisation_id: i64,
    pub title: String,
    pub revision_id: i64,
    pub deleted: bool,
}

const SELECT: &str = "SELECT id, system_id, kind, fields, title, due_on, warned, updated_at_us, updated_by, \
                      review_state, review_note, reviewed_by, reviewed_at_us, changed_after_approval, revision, organisation_id FROM record";
const AAD: &str = "record.fields";
const VERSION_AAD: &str = "record_version.fields";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    system_id: i64,
    kind: String,
    fields: String,
    title: String,
    due_on: Option<String>,
    warned: Option<String>,
    updated_at_us: i64,
    updated_by: String,
    review_state: String,
    review_note: String,
    reviewed_by: Option<String>,
    reviewed_at_us: Option<i64>,
    changed_after_approval: bool,
    revision: i64,
    organisation_id: Option<i64>,
}

impl Row {
    fn into_record(self, keys: &crate::crypt::Keyring) -> Result<Record, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("record {}: {what}", self.id));
        let json = keys.open_text(AAD, &self.fields)?;
        Ok(Record {
            id: self.id,
            system_id: self.system_id,
            kind: RecordKind::parse(&self.kind).ok_or_else(|| corrupt("kind"))?,
            values: Values(serde_json::from_str(&json).map_err(|_| corrupt("fields"))?),
            due_on: self.due_on.as_deref().and_then(mamori_core::jst::parse_date),
            warned: self.warned.as_deref().and_then(SupportState::parse),
            updated_at: timestamp(self.updated_at_us)?,
            review: RecordReview::parse(&self.review_state).ok_or_else(|| corrupt("review"))?,
            reviewed: match (self.reviewed_by, self.reviewed_at_us) {
                (Some(by), Some(at)) => Some((by, timestamp(at)?)),
                _ => None,
            },
            review_note: self.review_note,
            changed_after_approval: self.changed_after_approval,
            revision: self.revision,
            organisation_id: self.organisation_id,
            title: self.title,
            updated_by: self.updated_by,
        })
    }
}

/// Keeps the record's state as it is now among its versions.
async fn add_version(tx: &mut Tx, ctx: &Ctx, id: i64, json: &str, removed: bool) -> Result<(), StoreError> {
    let sealed = tx.keys().seal(VERSION_AAD, json);
    with_conn!(tx, c => {
        sqlx::query(
            "INSERT INTO record_version (record_id, system_id, at_us, kind, fields, title, removed) \
             SELECT id, system_id, $2, kind, $3, title, $4 FROM record WHERE id = $1",
        )
        .bind(id).bind(to_unix_micros(ctx.now)).bind(sealed).bind(removed).execute(c).await?;
    });
    Ok(())
}

/// Replaces the links of a record to the documents of `org` (others'
/// links stay): each document must be `org`'s and in its library.
async fn set_documents(tx: &mut Tx, id: i64, org: Option<i64>, documents: &[i64]) -> Result<(), StoreError> {
    let Some(org) = org else {
        return if documents.is_empty() { Ok(()) } else { Err(StoreError::Missing) };
    };
    with_conn!(tx, c => {
        sqlx::query(
            "DELETE FROM record_document WHERE record_id = $1 AND document_id IN \
             (SELECT id FROM document WHERE organisation_id = $2)",
        )
        .bind(id).bind(org).execute(&mut *c).await?;
    });
    for d in documents {
        let ok: i64 = with_conn!(tx, c => {
            sqlx::query_scalar("SELECT COUNT(*) FROM document WHERE id = $1 AND organisation_id = $2 AND deleted_at_us IS NULL")
                .bind(d).bind(org).fetch_one(&mut *c).await?
        });
        if ok == 0 {
            return Err(StoreError::Missing);
        }
        with_conn!(tx, c => {
            sqlx::query("INSERT INTO record_document (record_id, document_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(id).bind(d).execute(&mut *c).await?;
        });
    }
    Ok(())
}

fn title_of(kind: RecordKind, v: &Values) -> String {
    v.get(kind.title_field()).chars().take(200).collect()
}

/// A record to change, and the revision its form showed (`None`: the
/// console and tests, which show no form).
#[derive(Debug, Clone, Copy)]
pub struct Editing {
    pub id: i64,
    pub seen: Option<i64>,
}

impl Store {
    /// The records of one system, by kind and title.
    pub async fn records(&self, system_id: i64) -> Result<Vec<Record>, StoreError> {
        let rows = with_read_conn!(self, c => {
            sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE system_id = $1 ORDER BY kind, title, id")).bind(system_id).fetch_all(c).await?
        })?;
        rows.into_iter().map(|r| r.into_record(self.keys())).collect()
    }

    /// Every record with a date to watch, soonest first.
    /// Of `systems` only, when given (a person who sees a few systems reads
    /// theirs, not the ward's).
    pub async fn dated_records(&self, systems: Option<&[i64]>) -> Result<Vec<Record>, StoreError> {
        let mut rows = match systems {
            None => with_read_conn!(self, c => {
                sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE due_on IS NOT NULL ORDER BY due_on, id")).fetch_all(c).await?
            })?,
            Some(ids) => {
                let select = format!("{SELECT} WHERE due_on IS NOT NULL AND system_id IN");
                self.read(async |tx| crate::matching::in_chunks::<Row, _>(tx, &select, ids).await).await?
            }
        };
        rows.sort_by(|a, b| (&a.due_on, a.id).cmp(&(&b.due_on, b.id)));
        rows.into_iter().map(|r| r.into_record(self.keys())).collect()
    }

    /// Adds a record (`id` None), kept by the keeper's organisation, or
    /// changes one of the system's the keeper keeps (`Missing` for
    /// another's): `Stale` when it is no longer at the revision its form
    /// showed.
    pub async fn save_record(
        &self,
        ctx: &Ctx,
        system_id: i64,
        id: Option<Editing>,
        kind: RecordKind,
        values: &Values,
        keeper: Keeper<'_>,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        // The documents linked are not deleted meanwhile: their
        // organisation's lock, taken before the system's.
        if let Some(org) = keeper.organisation_id {
            self.lock_storage(&mut tx, org).await?;
        }
        lock_system(&mut tx, ctx, system_id).await?;
        let json = serde_json::to_string(&values.0).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sealed = tx.keys().seal(AAD, &json);
        let title = title_of(kind, values);
        let due_on = due(kind, values).map(|(d, _)| d.to_string());
        let now_us = to_unix_micros(ctx.now);
        let (id, change) = match id {
            Some(Editing { id, seen }) => {
                let before = record_in(&mut tx, system_id, id).await?.ok_or(StoreError::Missing)?;
                if before.kind != kind || !keeper.keeps(&before) {
                    return Err(StoreError::Missing);
                }
                if seen.is_some_and(|seen| seen != before.revision) {
                    return Err(StoreError::Stale);
                }
                let new_date = before.due_on.map(|d| d.to_string()) != due_on;
                with_conn!(tx, c => {
                    sqlx::query(
                        "UPDATE record SET fields = $2, title = $3, due_on = $4, updated_at_us = $5, updated_by = $6, \
                         warned = CASE WHEN $7 THEN NULL ELSE warned END, \
                         changed_after_approval = (changed_after_approval OR review_state = 'approved'), \
                         review_state = 'pending', revision = revision + 1 WHERE id = $1",
                    )
                    .bind(id).bind(&sealed).bind(&title).bind(&due_on).bind(now_us).bind(&ctx.actor.login).bind(new_date)
                    .execute(c).await?;
                });
                (id, "changed")
            }
            None => {
                let kept: i64 = with_conn!(tx, c => {
                    sqlx::query_scalar("SELECT COUNT(*) FROM record WHERE system_id = $1 AND kind = $2")
                        .bind(system_id).bind(kind.as_str()).fetch_one(c).await?
                });
                if kept as usize >= mamori_core::records::MAX_PER_KIND {
                    return Err(StoreError::Limit(mamori_core::records::MAX_PER_KIND));
                }
                let id: i64 = with_conn!(tx, c => {
                    sqlx::query_scalar(
                        "INSERT INTO record (system_id, kind, fields, title, due_on, created_at_us, created_by, updated_at_us, updated_by, organisation_id) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $7, $8) RETURNING id",
                    )
                    .bind(system_id).bind(kind.as_str()).bind(&sealed).bind(&title).bind(&due_on).bind(now_us).bind(&ctx.actor.login)
                    .bind(keeper.organisation_id).fetch_one(c).await?
                });
                (id, "added")
            }
        };
        set_documents(&mut tx, id, keeper.organisation_id, keeper.documents).await?;
        add_version(&mut tx, ctx, id, &json, false).await?;
        // The fields themselves may be personal (the contact chart): the
        // event names the record, and the sealed row says what it holds.
        let ev = ctx.event_on(Action::RecordSaved, "system", system_id).changes(
            Changes::new().with("record", kind.as_str()).with("title", title).with("change", change).with("id", id),
        );
        tx.commit_audited(ctx.now, ev).await?;
        Ok(id)
    }

    /// Removes a record (a version marks it removed). The disposal record
    /// of a 廃止 system is its item 79 and stays while it is the only one.
    /// One the office approved (now, or before its last change) is removed
    /// only `by_office`: a keeper's removal would take it out of the
    /// review unseen. A keeper removes only what they keep (`Missing` for
    /// another's); the office, any (`keeper` None).
    pub async fn remove_record(
        &self,
        ctx: &Ctx,
        system_id: i64,
        id: i64,
        keeper: Option<Keeper<'_>>,
    ) -> Result<(), StoreError> {
        let by_office = keeper.is_none();
        let mut tx = self.begin_as(ctx).await?;
        let s = lock_system(&mut tx, ctx, system_id).await?;
        let before = record_in(&mut tx, system_id, id).await?.ok_or(StoreError::Missing)?;
        if keeper.is_some_and(|k| !k.keeps(&before)) {
            return Err(StoreError::Missing);
        }
        if !by_office && (before.review == RecordReview::Approved || before.changed_after_approval) {
            return Err(StoreError::Refused(WorkflowError::RecordApproved));
        }
        if before.kind == RecordKind::Disposal
            && s.input.phase == Phase::Retired
            && disposal_records(&mut tx, s.id).await?.0 == 1
        {
            return Err(StoreError::Refused(WorkflowError::MissingRecord(Phase::Retired, RecordKind::Disposal)));
        }
        let json = serde_json::to_string(&before.values.0).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        add_version(&mut tx, ctx, id, &json, true).await?;
        with_conn!(tx, c => {
            sqlx::query("DELETE FROM record WHERE id = $1").bind(id).execute(c).await?;
        });
        let ev = ctx
            .event_on(Action::RecordRemoved, "system", system_id)
            .changes(Changes::new().with("record", before.kind.as_str()).with("title", before.title).with("id", id));
        tx.commit_audited(ctx.now, ev).await
    }

    /// The office approves a record or returns it with a note, as it was
    /// shown ([`Record::seen`]): a record saved since, or decided on by
    /// another officer meanwhile, is [`StoreError::Stale`] and keeps its
    /// state.
    pub async fn review_record(
        &self,
        ctx: &Ctx,
        (system_id, id, seen): (i64, i64, &Seen),
        decision: RecordReview,
        note: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        lock_system(&mut tx, ctx, system_id).await?;
        let before = record_in(&mut tx, system_id, id).await?.ok_or(StoreError::Missing)?;
        if before.seen() != *seen {
            return Err(StoreError::Stale);
        }
        let seen = seen.revision;
        let approved = decision == RecordReview::Approved;
        with_conn!(tx, c => {
            sqlx::query(
                "UPDATE record SET review_state = $2, review_note = $3, reviewed_by = $4, reviewed_at_us = $5, \
                 changed_after_approval = CASE WHEN $6 THEN FALSE ELSE changed_after_approval END \
                 WHERE id = $1 AND revision = $7",
            )
            .bind(id).bind(decision.as_str()).bind(note).bind(&ctx.actor.login).bind(to_unix_micros(ctx.now)).bind(approved)
            .bind(seen).execute(c).await?;
        });
        let ev = ctx.event_on(Action::RecordReviewed, "system", system_id).changes(
            Changes::new()
                .with("record", before.kind.as_str())
                .with("title", before.title)
                .with("id", id)
                .with("decision", decision.as_str())
                .with("note", note),
        );
        tx.commit_audited(ctx.now, ev).await
    }

    /// The system's records as they stood at `at`: the newest version of
    /// each up to then, and records kept unchanged since before versions
    /// were kept.
    pub async fn records_as_of(&self, system_id: i64, at: OffsetDateTime) -> Result<Vec<RecordAsOf>, StoreError> {
        let at_us = to_unix_micros(at);
        type VersionRow = (i64, String, String, String, bool);
        let (versions, older): (Vec<VersionRow>, Vec<Row>) = with_read_conn!(self, c => {
            let v = sqlx::query_as(
                "SELECT v.record_id, v.kind, v.fields, v.title, v.removed FROM record_version v WHERE v.system_id = $1 \
                 AND v.id = (SELECT MAX(w.id) FROM record_version w WHERE w.record_id = v.record_id AND w.at_us <= $2) \
                 ORDER BY v.kind, v.title, v.record_id",
            )
            .bind(system_id).bind(at_us).fetch_all(&mut *c).await?;
            let o = sqlx::query_as::<_, Row>(&format!(
                "{SELECT} WHERE system_id = $1 AND updated_at_us <= $2 AND NOT EXISTS \
                 (SELECT 1 FROM record_version w WHERE w.record_id = record.id) ORDER BY kind, title, id"
            ))
            .bind(system_id).bind(at_us).fetch_all(&mut *c).await?;
            (v, o)
        })?;
        let mut out = Vec::new();
        for (record_id, kind, fields, title, removed) in versions {
            if removed {
                continue;
            }
            let corrupt = || StoreError::Corrupt(format!("record version of {record_id}"));
            let json = self.keys().open_text(VERSION_AAD, &fields)?;
            let values = Values(serde_json::from_str(&json).map_err(|_| corrupt())?);
            out.push(RecordAsOf { record_id, kind: RecordKind::parse(&kind).ok_or_else(corrupt)?, values, title });
        }
        for r in older {
            let r = r.into_record(self.keys())?;
            out.push(RecordAsOf { record_id: r.id, kind: r.kind, values: r.values, title: r.title });
        }
        out.sort_by(|a, b| (a.kind.as_str(), &a.title, a.record_id).cmp(&(b.kind.as_str(), &b.title, b.record_id)));
        Ok(out)
    }

    /// The library documents behind the system's records.
    pub async fn record_documents(&self, system_id: i64) -> Result<Vec<RecordDocument>, StoreError> {
        type DocRow = (i64, i64, i64, String, i64, Option<i64>);
        let rows: Vec<DocRow> = with_read_conn!(self, c => {
            sqlx::query_as(
                "SELECT rd.record_id, d.id, d.organisation_id, d.title, \
                 (SELECT MAX(v.id) FROM document_revision v WHERE v.document_id = d.id \
                  AND (rd.pinned_revision IS NULL OR v.revision = rd.pinned_revision)), d.deleted_at_us \
                 FROM record_document rd JOIN record r ON r.id = rd.record_id JOIN document d ON d.id = rd.document_id \
                 WHERE r.system_id = $1 ORDER BY rd.record_id, d.title, d.id",
            )
            .bind(system_id).fetch_all(c).await?
        })?;
        Ok(rows
            .into_iter()
            .map(|(record_id, document_id, organisation_id, title, revision_id, deleted)| RecordDocument {
                record_id,
                document_id,
                organisation_id,
                title,
                revision_id,
                deleted: deleted.is_some(),
            })
            .collect())
    }

    /// Records that `state` was alerted for a record's current date; `false`
    /// when it was already.
    pub async fn mark_record_warned(
        &self,
        id: i64,
        state: SupportState,
        alert: &crate::auditlog::Raise<'_>,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE record SET warned = $2 WHERE id = $1 AND (warned IS NULL OR warned <> $2)";
        self.mark_warned(sql, id, state, alert).await
    }
}

async fn record_in(tx: &mut Tx, system_id: i64, id: i64) -> Result<Option<Record>, StoreError> {
    let row = with_conn!(tx, c => {
        sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE id = $1 AND system_id = $2")).bind(id).bind(system_id).fetch_optional(c).await?
    });
    row.map(|r| r.into_record(tx.keys())).transpose()
}

impl Store {
    /// Replaces the ISMAP cloud service list with the one imported.
    /// `changed`: services added or whose names changed; `skipped`: rows
    /// whose number came twice.
    pub async fn import_ismap(
        &self,
        ctx: &Ctx,
        name: &str,
        sha256: &str,
        list: &[mamori_core::records::IsmapService],
    ) -> Result<crate::inventory::FeedImport, StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        // Reference data, one import at a time (the same file sent twice at
        // once failed on a key in the second, an error page).
        tx.lock_named(crate::inventory::FEEDS_LOCK).await?;
        let now_us = to_unix_micros(ctx.now);
        let before: Vec<(String, String, String)> = with_conn!(tx, c => {
            sqlx::query_as("SELECT number, service, provider FROM ismap_service").fetch_all(&mut *c).await?
        });
        with_conn!(tx, c => {
            sqlx::query("DELETE FROM ismap_service").execute(c).await?;
        });
        let (mut changed, mut skipped) = (0i64, 0i64);
        let mut seen = std::collections::BTreeSet::new();
        for s in list {
            if !seen.insert(s.number.as_str()) {
                skipped += 1;
                continue;
            }
            if !before.iter().any(|(n, sv, p)| *n == s.number && *sv == s.service && *p == s.provider) {
                changed += 1;
            }
            with_conn!(tx, c => {
                sqlx::query("INSERT INTO ismap_service (number, service, provider, imported_at_us) VALUES ($1, $2, $3, $4)")
                    .bind(&s.number).bind(&s.service).bind(&s.provider).bind(now_us).execute(c).await?;
            });
        }
        let f = crate::inventory::FeedImport::of(ctx, "ismap", name, sha256, (list.len() as i64, changed, skipped));
        crate::inventory::finish_import(tx, ctx, f, &[]).await
    }

    /// The services of the ISMAP list by number, and whether a list was
    /// imported at all.
    pub async fn ismap_list(&self) -> Result<std::collections::HashMap<String, (String, String)>, StoreError> {
        let rows: Vec<(String, String, String)> = with_read_conn!(self, c => {
            sqlx::query_as("SELECT number, service, provider FROM ismap_service").fetch_all(c).await?
        })?;
        Ok(rows.into_iter().map(|(n, s, p)| (n, (s, p))).collect())
    }
}
