//! Steps of the review told by mail (items 22, 23): a notice is written in
//! the transaction of the step it tells of (so a step refused or rolled
//! back tells nobody), then claimed by one notifier at a time and mailed
//! once. Who hears it is decided when it is sent: the people of its
//! organisation, or the security office.

use crate::notify::{insert_attempts, Attempt};
use crate::systems::SystemRecord;
use crate::{corrupt, timestamp, with_conn, Store, StoreError, Tx};
use mamori_core::clock::to_unix_micros;
use mamori_core::monitoring::{notify_retry_wait, NoticeKind, NOTICE_FRESH, NOTIFY_HOLD};
use time::{Duration, OffsetDateTime};

/// How long a notice is kept, sent or not.
const KEPT: Duration = Duration::days(30);

/// One step to tell of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub id: i64,
    pub kind: NoticeKind,
    pub system_id: i64,
    pub round: i64,
    /// Whose people hear it; `None`: the security office.
    pub organisation_id: Option<i64>,
    /// The items it is about (returned ones), in order.
    pub items: Vec<u32>,
    pub created_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct NoticeRow {
    id: i64,
    kind: String,
    system_id: i64,
    round: i64,
    organisation_id: Option<i64>,
    items: String,
    created_at_us: i64,
}

impl NoticeRow {
    fn into_notice(self) -> Result<Notice, StoreError> {
        let items = self
            .items
            .split(',')
            .filter(|n| !n.is_empty())
            .map(|n| n.parse().map_err(|_| corrupt("workflow_notice.items", n)))
            .collect::<Result<_, _>>()?;
        Ok(Notice {
            id: self.id,
            kind: NoticeKind::parse(&self.kind).ok_or_else(|| corrupt("workflow_notice.kind", &self.kind))?,
            system_id: self.system_id,
            round: self.round,
            organisation_id: self.organisation_id,
            items,
            created_at: timestamp(self.created_at_us)?,
        })
    }
}

/// Writes a notice of `kind` about `s`'s round in `tx`, the transaction of
/// the step itself; notices older than a month go at the same time.
pub(crate) async fn queue(
    tx: &mut Tx,
    now: OffsetDateTime,
    kind: NoticeKind,
    s: &SystemRecord,
    organisation_id: Option<i64>,
    items: &[u32],
) -> Result<(), StoreError> {
    let items = items.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    with_conn!(tx, c => {
        sqlx::query("DELETE FROM workflow_notice WHERE created_at_us < $1")
            .bind(to_unix_micros(now - KEPT)).execute(&mut *c).await?;
        sqlx::query(
            "INSERT INTO workflow_notice (kind, system_id, round, organisation_id, items, created_at_us) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(kind.as_str()).bind(s.id).bind(s.round).bind(organisation_id).bind(items).bind(to_unix_micros(now))
        .execute(&mut *c).await?;
    });
    Ok(())
}

impl Store {
    /// Claims the oldest notice due a message: never sent, written within
    /// [`NOTICE_FRESH`], not held by another claim (nor waiting after a
    /// failure). The claim holds for [`NOTIFY_HOLD`].
    pub async fn claim_notice(&self, now: OffsetDateTime) -> Result<Option<Notice>, StoreError> {
        let (now_us, fresh_us, stale_us) =
            (to_unix_micros(now), to_unix_micros(now - NOTICE_FRESH), to_unix_micros(now - NOTIFY_HOLD));
        let due = "sent_at_us IS NULL AND created_at_us >= $2 AND (claimed_us IS NULL OR claimed_us <= $3)";
        let lock = self.skip_locked();
        let sql = format!(
            "UPDATE workflow_notice SET claimed_us = $1 WHERE {due} \
             AND id IN (SELECT id FROM workflow_notice WHERE {due} ORDER BY id LIMIT 1 {lock}) \
             RETURNING id, kind, system_id, round, organisation_id, items, created_at_us"
        );
        let mut tx = self.begin().await?;
        let row: Option<NoticeRow> = with_conn!(tx, c => {
            sqlx::query_as(&sql).bind(now_us).bind(fresh_us).bind(stale_us).fetch_optional(&mut *c).await?
        });
        tx.commit().await?;
        row.map(NoticeRow::into_notice).transpose()
    }

    /// Records the attempts to deliver notice `n`, `about` its system. It
    /// is done when one reached someone, or when `done` says there is
    /// nobody to try again for; otherwise it waits like an alert
    /// ([`notify_retry_wait`]) and is tried again.
    pub async fn record_notice(
        &self,
        n: &Notice,
        now: OffsetDateTime,
        attempts: &[Attempt],
        about: &str,
        done: bool,
    ) -> Result<(), StoreError> {
        let at = to_unix_micros(now);
        let mut tx = self.begin().await?;
        insert_attempts(&mut tx, None, at, attempts, about, Some(n.kind)).await?;
        let id = n.id;
        if done || attempts.iter().any(|a| a.ok) {
            with_conn!(tx, c => sqlx::query("UPDATE workflow_notice SET sent_at_us = $2, claimed_us = NULL WHERE id = $1")
                .bind(id).bind(at).execute(&mut *c).await?.rows_affected());
        } else {
            let failures: i64 = with_conn!(tx, c => sqlx::query_scalar::<_, i64>(
                "UPDATE workflow_notice SET failures = failures + 1 WHERE id = $1 RETURNING failures",
            )
            .bind(id).fetch_one(&mut *c).await?);
            let claimed = now + notify_retry_wait(failures) - NOTIFY_HOLD;
            with_conn!(tx, c => sqlx::query("UPDATE workflow_notice SET claimed_us = $2 WHERE id = $1")
                .bind(id).bind(to_unix_micros(claimed)).execute(&mut *c).await?.rows_affected());
        }
        tx.commit().await
    }
}
