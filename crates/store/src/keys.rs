//! The data keys against the database: the check at start, sealing what
//! was stored before encryption at rest, and re-sealing under a new key
//! (`mamori keys rotate`). The sealing itself is [`crate::crypt`]'s.

use crate::crypt::{Keyring, CHECK};
use crate::{with_conn, with_read_conn, Store, StoreError};
use mamori_core::audit::{Action, Changes, NewEvent};
use time::OffsetDateTime;

/// Every sealed text column: table, key column, column.
pub const SEALED_TEXT: [(&str, &str, &str); 8] = [
    ("account", "id", "display_name"),
    ("account", "id", "email"),
    ("account", "id", "totp_secret"),
    ("organisation", "id", "contact"),
    ("account_ledger", "id", "before"),
    ("account_ledger", "id", "after"),
    ("record", "id", "fields"),
    ("record_version", "id", "fields"),
];

/// Every sealed bytes column.
pub const SEALED_BYTES: [(&str, &str, &str); 2] =
    [("evidence_content", "evidence_id", "content"), ("document_content", "revision_id", "content")];

/// Rows re-sealed per transaction.
const BATCH: i64 = 50;

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    pub key: u32,
    pub values: u64,
}

impl Store {
    /// Each key id the database has seen must be held, and be the same
    /// key. Returns the ids the database has seen (none: it was opened only
    /// by a version without encryption at rest).
    pub(crate) async fn check_keys(&self) -> Result<Vec<i64>, StoreError> {
        let keys = &self.shared.keys;
        let rows: Vec<(i64, Vec<u8>)> = with_read_conn!(self, c => {
            sqlx::query_as("SELECT id, check_value FROM data_key ORDER BY id").fetch_all(c).await?
        })?;
        for (id, check) in &rows {
            let id = u32::try_from(*id).map_err(|_| StoreError::Corrupt(format!("data key id {id}")))?;
            if !keys.ids().contains(&id) {
                return Err(StoreError::Keys(format!(
                    "データベースにはデータ鍵 #{id} で暗号化した値がありますが、その鍵が設定されていません。鍵ファイルを確認してください (the database holds values sealed with data key #{id}, which is not configured)"
                )));
            }
            if !keys.checks(id, check) {
                return Err(StoreError::Keys(format!(
                    "データ鍵 #{id} がこのデータベースの鍵と違います。何も読み書きしていません (data key #{id} is not this database's key; nothing was read or written)"
                )));
            }
        }
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Checks the keys ([`Store::check_keys`]) and records the sealing key
    /// before it seals anything, then, on the first opening with encryption
    /// at rest, seals every value stored before: the only time that needs a
    /// pass over the stored files. A key recorded is the database's for
    /// good, so a start that stops part way leaves nothing sealed under a
    /// key the database does not name, and the next start goes on sealing
    /// (`data_key.sealing`). Instances opening at once with different keys:
    /// the one whose key was recorded second is refused by the check that
    /// follows the recording, having sealed nothing.
    pub(crate) async fn prepare_keys(&self) -> Result<(), StoreError> {
        let seen = self.check_keys().await?;
        let (keys, current) = (&self.shared.keys, self.shared.keys.current());
        if !seen.contains(&i64::from(current)) {
            let check = keys.seal_bytes_with(current, "data_key.check_value", CHECK);
            let now = mamori_core::clock::to_unix_micros(OffsetDateTime::now_utc());
            let mut tx = self.begin().await?;
            with_conn!(tx, c => sqlx::query("INSERT INTO data_key (id, check_value, created_at_us, sealing) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING")
                .bind(i64::from(current)).bind(check).bind(now).bind(i64::from(seen.is_empty())).execute(c).await?.rows_affected());
            tx.commit().await?;
            self.check_keys().await?;
        }
        let unfinished: i64 = with_read_conn!(self, c => {
            sqlx::query_scalar("SELECT count(*) FROM data_key WHERE sealing <> 0").fetch_one(c).await?
        })?;
        if unfinished > 0 {
            self.reseal(false).await?;
            // The plain text the sealing replaced is not left in freed pages;
            // the sealing is done only once that is done too (a rebuild that
            // fails, a full disk, is done again at the next start).
            self.clear_freed().await?;
            let mut tx = self.begin().await?;
            with_conn!(tx, c => sqlx::query("UPDATE data_key SET sealing = 0 WHERE sealing <> 0").execute(c).await?.rows_affected());
            tx.commit().await?;
        }
        Ok(())
    }

    /// Re-seals under the sealing key every value sealed under another (or
    /// not yet sealed), a few rows per transaction while the server runs,
    /// then forgets the keys no value needs any more.
    pub async fn rotate_keys(&self, ctx: &crate::identity::Ctx) -> Result<Rotated, StoreError> {
        self.prepare_keys().await?;
        let values = self.reseal(true).await?;
        let current = i64::from(self.shared.keys.current());
        let mut tx = self.begin_as(ctx).await?;
        let old: Vec<i64> = with_conn!(tx, c => sqlx::query_scalar("SELECT id FROM data_key WHERE id <> $1 ORDER BY id").bind(current).fetch_all(&mut *c).await?);
        with_conn!(tx, c => sqlx::query("DELETE FROM data_key WHERE id <> $1").bind(current).execute(&mut *c).await?.rows_affected());
        let old: Vec<String> = old.iter().map(i64::to_string).collect();
        let event = NewEvent::new(
            ctx.actor.clone(),
            ctx.origin.clone(),
            Action::KeysRotated,
            mamori_core::audit::Outcome::Success,
        )
        .target("data_key", current.to_string())
        .changes(Changes::new().with("values", values as i64).with("retired", old.join(",")));
        tx.commit_audited(ctx.now, event).await?;
        Ok(Rotated { key: self.shared.keys.current(), values })
    }

    /// Seals again each value not sealed under the sealing key (`all`) or
    /// not sealed at all; returns how many.
    async fn reseal(&self, all: bool) -> Result<u64, StoreError> {
        let keys: &Keyring = &self.shared.keys;
        let current = keys.current();
        let text_mark = if all { format!("mk1:{current}:%") } else { "mk1:%".to_owned() };
        let mut bytes_mark = b"\0mk1".to_vec();
        if all {
            bytes_mark.extend_from_slice(&current.to_be_bytes());
        }
        let mut n = 0u64;
        // Table and column names come from the constants above.
        for (table, key, column) in SEALED_TEXT {
            let aad = format!("{table}.{column}");
            let find = format!(
                "SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL AND {column} NOT LIKE $1 ORDER BY {key} LIMIT {BATCH}"
            );
            let set = format!("UPDATE {table} SET {column} = $2 WHERE {key} = $1 AND {column} = $3");
            loop {
                let mut tx = self.begin().await?;
                let rows: Vec<(i64, String)> =
                    with_conn!(tx, c => sqlx::query_as(&find).bind(&text_mark).fetch_all(&mut *c).await?);
                if rows.is_empty() {
                    break;
                }
                for (id, value) in rows {
                    let plain = match Keyring::sealed_text_id(&value) {
                        Some(_) => keys.open_text(&aad, &value)?,
                        None => value.clone(),
                    };
                    let sealed = keys.seal(&aad, &plain);
                    with_conn!(tx, c => sqlx::query(&set).bind(id).bind(sealed).bind(&value).execute(&mut *c).await?.rows_affected());
                    n += 1;
                }
                tx.commit().await?;
            }
        }
        for (table, key, column) in SEALED_BYTES {
            let aad = format!("{table}.{column}");
            let len = bytes_mark.len() as i64;
            let find = format!(
                "SELECT {key}, {column} FROM {table} WHERE substr({column}, 1, {len}) <> $1 ORDER BY {key} LIMIT 1"
            );
            let set = format!("UPDATE {table} SET {column} = $2 WHERE {key} = $1");
            // One file per transaction: memory holds one file.
            loop {
                let mut tx = self.begin().await?;
                let row: Option<(i64, Vec<u8>)> =
                    with_conn!(tx, c => sqlx::query_as(&find).bind(&bytes_mark).fetch_optional(&mut *c).await?);
                let Some((id, value)) = row else { break };
                let plain = match Keyring::sealed_bytes_id(&value) {
                    Some(_) => keys.open_bytes(&aad, &value)?,
                    None => value,
                };
                let sealed = keys.seal_bytes(&aad, &plain);
                with_conn!(tx, c => sqlx::query(&set).bind(id).bind(sealed).execute(&mut *c).await?.rows_affected());
                tx.commit().await?;
                n += 1;
            }
        }
        Ok(n)
    }
}
