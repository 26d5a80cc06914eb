//! Records of each system (items 8, 10–13, 19–21, 69–79), each with its
//! audit event in the transaction of the change. The fields are sealed
//! (the contact chart holds names and telephone numbers); the title (never
//! a personal field) and the watched date stay in clear for lists and
//! warnings.

use crate::identity::Ctx;
use crate::systems::lock_system;
use crate::{timestamp, with_conn, with_read_conn, Store, StoreError, Tx};
use mamori_core::audit::{Action, Changes};
use mamori_core::clock::to_unix_micros;
use mamori_core::inventory::SupportState;
use mamori_core::records::{due, RecordKind, Values};
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
}

const SELECT: &str = "SELECT id, system_id, kind, fields, title, due_on, warned, updated_at_us, updated_by FROM record";
const AAD: &str = "record.fields";

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
            title: self.title,
            updated_by: self.updated_by,
        })
    }
}

fn title_of(kind: RecordKind, v: &Values) -> String {
    v.get(kind.title_field()).chars().take(200).collect()
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
    pub async fn dated_records(&self) -> Result<Vec<Record>, StoreError> {
        let rows = with_read_conn!(self, c => {
            sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE due_on IS NOT NULL ORDER BY due_on, id")).fetch_all(c).await?
        })?;
        rows.into_iter().map(|r| r.into_record(self.keys())).collect()
    }

    /// Adds a record (`id` None) or changes one of the system's.
    pub async fn save_record(
        &self,
        ctx: &Ctx,
        system_id: i64,
        id: Option<i64>,
        kind: RecordKind,
        values: &Values,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        lock_system(&mut tx, system_id).await?;
        let json = serde_json::to_string(&values.0).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sealed = tx.keys().seal(AAD, &json);
        let title = title_of(kind, values);
        let due_on = due(kind, values).map(|(d, _)| d.to_string());
        let now_us = to_unix_micros(ctx.now);
        let (id, change) = match id {
            Some(id) => {
                let before = record_in(&mut tx, system_id, id).await?.ok_or(StoreError::Missing)?;
                if before.kind != kind {
                    return Err(StoreError::Missing);
                }
                let new_date = before.due_on.map(|d| d.to_string()) != due_on;
                with_conn!(tx, c => {
                    sqlx::query(
                        "UPDATE record SET fields = $2, title = $3, due_on = $4, updated_at_us = $5, updated_by = $6, \
                         warned = CASE WHEN $7 THEN NULL ELSE warned END WHERE id = $1",
                    )
                    .bind(id).bind(&sealed).bind(&title).bind(&due_on).bind(now_us).bind(&ctx.actor.login).bind(new_date)
                    .execute(c).await?;
                });
                (id, "changed")
            }
            None => {
                let id: i64 = with_conn!(tx, c => {
                    sqlx::query_scalar(
                        "INSERT INTO record (system_id, kind, fields, title, due_on, created_at_us, created_by, updated_at_us, updated_by) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $7) RETURNING id",
                    )
                    .bind(system_id).bind(kind.as_str()).bind(&sealed).bind(&title).bind(&due_on).bind(now_us).bind(&ctx.actor.login)
                    .fetch_one(c).await?
                });
                (id, "added")
            }
        };
        // The fields themselves may be personal (the contact chart): the
        // event names the record, and the sealed row says what it holds.
        let ev = ctx.event_on(Action::RecordSaved, "system", system_id).changes(
            Changes::new().with("record", kind.as_str()).with("title", title).with("change", change).with("id", id),
        );
        tx.commit_audited(ctx.now, ev).await?;
        Ok(id)
    }

    pub async fn remove_record(&self, ctx: &Ctx, system_id: i64, id: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        lock_system(&mut tx, system_id).await?;
        let before = record_in(&mut tx, system_id, id).await?.ok_or(StoreError::Missing)?;
        with_conn!(tx, c => {
            sqlx::query("DELETE FROM record WHERE id = $1").bind(id).execute(c).await?;
        });
        let ev = ctx
            .event_on(Action::RecordRemoved, "system", system_id)
            .changes(Changes::new().with("record", before.kind.as_str()).with("title", before.title).with("id", id));
        tx.commit_audited(ctx.now, ev).await
    }

    /// Does the system have a record of `kind`?
    pub async fn has_record(&self, system_id: i64, kind: RecordKind) -> Result<bool, StoreError> {
        let n: i64 = with_read_conn!(self, c => {
            sqlx::query_scalar("SELECT COUNT(*) FROM record WHERE system_id = $1 AND kind = $2").bind(system_id).bind(kind.as_str()).fetch_one(c).await?
        })?;
        Ok(n > 0)
    }

    /// Records that `state` was alerted for a record's current date; `false`
    /// when it was already.
    pub async fn mark_record_warned(&self, id: i64, state: SupportState) -> Result<bool, StoreError> {
        self.mark_warned("UPDATE record SET warned = $2 WHERE id = $1 AND (warned IS NULL OR warned <> $2)", id, state)
            .await
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
        let mut tx = self.begin().await?;
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
