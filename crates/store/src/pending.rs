//! What an upload previewed waits with for its person's confirmation: an
//! answer workbook, or the security office's catalog file; one of each an
//! account, in tables of their own. They were kept in the session, which
//! every request of the person reads (up to megabytes), and one a session:
//! a person signing in again and again kept one in each.

use crate::{with_conn, Store, StoreError};
use mamori_core::clock::to_unix_micros;
use time::OffsetDateTime;

/// A row read to be taken is held to the commit on PostgreSQL (SQLite's
/// write transaction holds the database).
fn held(tx: &crate::Tx) -> &'static str {
    if tx.backend() == crate::Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    }
}

/// What a page confirming a pending import carries of it: the SHA-256 of
/// what was kept, in hex.
pub fn pending_mark(kept: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(kept.as_bytes()))
}

impl Store {
    /// Keeps `changes` (the preview, as the caller wrote it) as the
    /// account's one pending import, in place of any before.
    pub async fn keep_pending_import(
        &self,
        account_id: i64,
        system_id: i64,
        changes: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        with_conn!(tx, c => {
            sqlx::query(
                "INSERT INTO pending_import (account_id, system_id, changes, created_at_us) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (account_id) DO UPDATE SET system_id = $2, changes = $3, created_at_us = $4",
            )
            .bind(account_id).bind(system_id).bind(changes).bind(to_unix_micros(now)).execute(c).await?;
        });
        tx.commit().await
    }

    /// Takes (reads and removes) the account's pending import of
    /// `system_id`, if it was kept since `since` and is the one whose
    /// [`pending_mark`] the confirming page showed: another, kept since
    /// from another tab, is `Stale` and stays (confirmed on the first
    /// tab's page, the second file was applied unseen).
    pub async fn take_pending_import(
        &self,
        account_id: i64,
        system_id: i64,
        since: OffsetDateTime,
        mark: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.begin().await?;
        // Held to the commit: two confirmations at once take it once.
        let sql = format!(
            "SELECT changes FROM pending_import WHERE account_id = $1 AND system_id = $2 AND created_at_us >= $3{}",
            held(&tx)
        );
        let changes: Option<String> = with_conn!(tx, c => {
            sqlx::query_scalar(&sql).bind(account_id).bind(system_id).bind(to_unix_micros(since)).fetch_optional(c).await?
        });
        let Some(changes) = changes else { return Ok(None) };
        if pending_mark(&changes) != mark {
            return Err(StoreError::Stale);
        }
        with_conn!(tx, c => {
            sqlx::query("DELETE FROM pending_import WHERE account_id = $1").bind(account_id).execute(c).await?;
        });
        tx.commit().await?;
        Ok(Some(changes))
    }

    /// Forgets the account's pending import, if any.
    pub async fn drop_pending_import(&self, account_id: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        with_conn!(tx, c => {
            sqlx::query("DELETE FROM pending_import WHERE account_id = $1").bind(account_id).execute(c).await?;
        });
        tx.commit().await
    }

    /// Keeps `yaml` (a catalog file read and previewed) as the account's
    /// one waiting for confirmation, in place of any before.
    pub async fn keep_pending_catalog(
        &self,
        account_id: i64,
        yaml: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        with_conn!(tx, c => {
            sqlx::query(
                "INSERT INTO pending_catalog (account_id, yaml, created_at_us) VALUES ($1, $2, $3) \
                 ON CONFLICT (account_id) DO UPDATE SET yaml = $2, created_at_us = $3",
            )
            .bind(account_id).bind(yaml).bind(to_unix_micros(now)).execute(c).await?;
        });
        tx.commit().await
    }

    /// Takes (reads and removes) the account's catalog waiting for
    /// confirmation, if it was kept since `since` and is the one whose
    /// [`pending_mark`] the confirming page showed (another, kept since
    /// from another tab, is `Stale` and stays); with `since` `None`,
    /// removes it.
    pub async fn take_pending_catalog(
        &self,
        account_id: i64,
        since: Option<OffsetDateTime>,
        mark: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.begin().await?;
        let sql = format!("SELECT yaml, created_at_us FROM pending_catalog WHERE account_id = $1{}", held(&tx));
        let kept: Option<(String, i64)> = with_conn!(tx, c => {
            sqlx::query_as(&sql).bind(account_id).fetch_optional(c).await?
        });
        let wanted = match (kept, since) {
            (Some((yaml, at)), Some(since)) if at >= to_unix_micros(since) => Some(yaml),
            _ => None,
        };
        if wanted.as_deref().is_some_and(|yaml| pending_mark(yaml) != mark) {
            return Err(StoreError::Stale);
        }
        with_conn!(tx, c => {
            sqlx::query("DELETE FROM pending_catalog WHERE account_id = $1").bind(account_id).execute(c).await?;
        });
        tx.commit().await?;
        Ok(wanted)
    }
}
