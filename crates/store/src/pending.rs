//! An answer workbook uploaded, read and previewed, waiting for its
//! person's confirmation: one an account, in a table of its own. It was
//! kept in the session, which every request of the person reads (up to
//! megabytes of answers), and one a session: a person signing in again and
//! again kept one in each.

use crate::{with_conn, Store, StoreError};
use mamori_core::clock::to_unix_micros;
use time::OffsetDateTime;

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
    /// `system_id`, if it was kept since `since`.
    pub async fn take_pending_import(
        &self,
        account_id: i64,
        system_id: i64,
        since: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.begin().await?;
        let changes: Option<String> = with_conn!(tx, c => {
            sqlx::query_scalar(
                "DELETE FROM pending_import WHERE account_id = $1 AND system_id = $2 AND created_at_us >= $3 RETURNING changes",
            )
            .bind(account_id).bind(system_id).bind(to_unix_micros(since)).fetch_optional(c).await?
        });
        tx.commit().await?;
        Ok(changes)
    }

    /// Forgets the account's pending import, if any.
    pub async fn drop_pending_import(&self, account_id: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        with_conn!(tx, c => {
            sqlx::query("DELETE FROM pending_import WHERE account_id = $1").bind(account_id).execute(c).await?;
        });
        tx.commit().await
    }
}
