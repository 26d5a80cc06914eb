//! How many changes a person made in the current minute and day, counted
//! in the database so that every instance counts alike (the limits are the
//! web layer's: `web/src/pace.rs`).

use crate::{with_conn, Store, StoreError};

/// Which of a person's windows is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    Minute,
    Day,
}

impl Store {
    /// Counts one change of `account_id` in `minute` (minutes since the
    /// epoch) and `day` (days since the epoch, in the ward's time), or
    /// refuses it, uncounted, when it would pass `per_minute` in that
    /// minute or `per_day` in that day. One statement, so that requests at
    /// once, on any instance, are counted one after another: never more
    /// than the limit pass.
    pub async fn count_change(
        &self,
        account_id: i64,
        (minute, day): (i64, i64),
        per_minute: u32,
        per_day: u32,
    ) -> Result<Result<(), Full>, StoreError> {
        let (per_minute, per_day) = (i64::from(per_minute), i64::from(per_day));
        if per_minute < 1 || per_day < 1 {
            return Ok(Err(if per_day < 1 { Full::Day } else { Full::Minute }));
        }
        let mut tx = self.begin().await?;
        let counted: Option<i64> = with_conn!(tx, c => {
            sqlx::query_scalar(
                "INSERT INTO change_pace (account_id, minute, in_minute, day, in_day) VALUES ($1, $2, 1, $3, 1) \
                 ON CONFLICT (account_id) DO UPDATE SET \
                   in_minute = CASE WHEN change_pace.minute = $2 THEN change_pace.in_minute + 1 ELSE 1 END, \
                   in_day = CASE WHEN change_pace.day = $3 THEN change_pace.in_day + 1 ELSE 1 END, \
                   minute = $2, day = $3 \
                 WHERE (change_pace.minute <> $2 OR change_pace.in_minute < $4) \
                   AND (change_pace.day <> $3 OR change_pace.in_day < $5) \
                 RETURNING in_day",
            )
            .bind(account_id).bind(minute).bind(day).bind(per_minute).bind(per_day).fetch_optional(&mut *c).await?
        });
        if counted.is_some() {
            tx.commit().await?;
            return Ok(Ok(()));
        }
        // Refused: the row is as it was; which window is full?
        let in_day: i64 = with_conn!(tx, c => {
            sqlx::query_scalar("SELECT CASE WHEN day = $2 THEN in_day ELSE 0 END FROM change_pace WHERE account_id = $1")
                .bind(account_id).bind(day).fetch_one(&mut *c).await?
        });
        tx.commit().await?;
        Ok(Err(if in_day >= per_day { Full::Day } else { Full::Minute }))
    }
}
