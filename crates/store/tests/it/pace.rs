//! A person's changes counted in the database: every instance counts in
//! one row, and requests at once are counted one after another.

use crate::{each_backend, system_ctx};
use mamori_core::identity::Role;
use mamori_store::{Full, Store};
use time::OffsetDateTime;

/// A hundred changes of one person at once, half through another instance
/// (another store over the same database): exactly ten are counted, the
/// other ninety are refused for the minute, and the row says ten.
#[tokio::test]
async fn of_a_hundred_changes_at_once_on_two_instances_exactly_the_minute_s_ten_are_counted() {
    for db in each_backend().await {
        let other = Store::open(&db.location, db.store.keys().clone()).await.unwrap();
        let ctx = system_ctx(OffsetDateTime::now_utc());
        let person =
            db.store.issue_account(&ctx, &crate::new_account("busy-one", Role::Vendor, None), "t").await.unwrap();
        let at = (29_000_000, 20_000);
        let all = futures_util::future::join_all((0..100).map(|k| {
            let store = if k % 2 == 0 { db.store.clone() } else { other.clone() };
            async move { store.count_change(person, at, 10, 1_000).await.unwrap() }
        }))
        .await;
        assert_eq!(all.iter().filter(|r| r.is_ok()).count(), 10, "{}", db.name);
        assert!(all.iter().all(|r| *r == Ok(()) || *r == Err(Full::Minute)), "{}: {all:?}", db.name);
        assert_eq!(
            other.count_change(person, at, 11, 1_000).await.unwrap(),
            Ok(()),
            "{}: the eleventh of eleven",
            db.name
        );
        other.close().await;
        db.cleanup().await;
    }
}

/// The minute's count starts again in the next minute, the day's at the
/// next day; a refusal is not counted; people are counted apart.
#[tokio::test]
async fn a_person_is_refused_past_the_minute_s_and_the_day_s_limits_and_counted_again_when_they_end() {
    for db in each_backend().await {
        let ctx = system_ctx(OffsetDateTime::now_utc());
        let new = |login: &str| crate::new_account(login, Role::Vendor, None);
        let one = db.store.issue_account(&ctx, &new("one-person"), "t").await.unwrap();
        let two = db.store.issue_account(&ctx, &new("two-person"), "t").await.unwrap();
        let take = |who: i64, minute: i64, day: i64| {
            let store = db.store.clone();
            async move { store.count_change(who, (minute, day), 3, 5).await.unwrap() }
        };
        for _ in 0..3 {
            assert_eq!(take(one, 100, 7).await, Ok(()), "{}", db.name);
        }
        assert_eq!(take(one, 100, 7).await, Err(Full::Minute), "{}", db.name);
        assert_eq!(take(one, 100, 7).await, Err(Full::Minute), "{}: refusals are not counted", db.name);
        assert_eq!(take(two, 100, 7).await, Ok(()), "{}: another person", db.name);
        for _ in 0..2 {
            assert_eq!(take(one, 101, 7).await, Ok(()), "{}: the next minute", db.name);
        }
        assert_eq!(take(one, 101, 7).await, Err(Full::Day), "{}: five in the day", db.name);
        assert_eq!(take(one, 102, 7).await, Err(Full::Day), "{}: the day is full whatever the minute", db.name);
        assert_eq!(take(one, 102, 8).await, Ok(()), "{}: the next day", db.name);
        assert_eq!(db.store.count_change(one, (102, 8), 0, 5).await.unwrap(), Err(Full::Minute), "{}", db.name);
        db.cleanup().await;
    }
}
