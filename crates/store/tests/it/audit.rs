use crate::each_backend;
use mamori_core::audit::{Action, Actor, ChainBreak, Changes, NewEvent, Origin, Outcome};
use mamori_store::audit::{append, Verification};
use time::OffsetDateTime;

fn start_event(n: usize) -> NewEvent {
    let origin = Origin {
        client_addr: Some("192.0.2.7".into()),
        user_agent: Some("test/1.0".into()),
        request_id: Some(format!("req-{n}")),
    };
    NewEvent::new(Actor::system(), origin, Action::ServerStart, Outcome::Success)
        .target("server", "main")
        .changes(Changes::new().with("n", n).with("password", "never-stored"))
}

#[tokio::test]
async fn event_commits_with_its_transaction_and_not_without() {
    for db in each_backend().await {
        let now = OffsetDateTime::now_utc();
        let mut tx = db.store.begin().await.unwrap();
        append(&mut tx, now, start_event(1)).await.unwrap();
        tx.rollback().await.unwrap();
        assert!(db.store.audit_recent(10).await.unwrap().is_empty(), "{}: rolled back event is stored", db.name);

        let mut tx = db.store.begin().await.unwrap();
        let e = append(&mut tx, now, start_event(2)).await.unwrap();
        tx.commit().await.unwrap();
        let stored = db.store.audit_recent(10).await.unwrap();
        assert_eq!(stored, vec![e.clone()], "{}", db.name);
        assert_eq!(e.record.seq, 1, "{}: a rolled back event leaves no gap", db.name);
        assert_eq!(e.record.actor_login, "system");
        assert_eq!(e.record.client_addr.as_deref(), Some("192.0.2.7"));
        assert_eq!(e.record.request_id.as_deref(), Some("req-2"));
        assert!(!e.record.changes.contains("never-stored"), "{}: secret stored", db.name);
        db.assert_chain(Verification::Intact { events: 1, head_seq: 1 }).await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn concurrent_appends_keep_one_unbroken_chain() {
    for db in each_backend().await {
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let store = db.store.clone();
                tokio::spawn(async move {
                    for j in 0..5 {
                        store.audit_record(OffsetDateTime::now_utc(), start_event(i * 10 + j)).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        db.assert_chain(Verification::Intact { events: 200, head_seq: 200 }).await;
        db.cleanup().await;
    }
}

async fn five_events(db: &crate::TestDb) {
    for i in 0..5 {
        db.store.audit_record(OffsetDateTime::now_utc(), start_event(i)).await.unwrap();
    }
}

#[tokio::test]
async fn tampering_is_detected_and_named() {
    for db in each_backend().await {
        five_events(&db).await;
        db.store
            .execute_unchecked_for_tests("UPDATE audit_event SET actor_login = 'mallory' WHERE seq = 3")
            .await
            .unwrap();
        db.assert_chain(Verification::Broken(ChainBreak::Tampered { seq: 3 })).await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn removed_and_truncated_events_are_detected() {
    for db in each_backend().await {
        five_events(&db).await;
        db.store.execute_unchecked_for_tests("DELETE FROM audit_event WHERE seq = 5").await.unwrap();
        db.assert_chain(Verification::Broken(ChainBreak::Head { last: 4, head: 5 })).await;
        db.store.execute_unchecked_for_tests("DELETE FROM audit_event WHERE seq = 2").await.unwrap();
        db.assert_chain(Verification::Broken(ChainBreak::Gap { expected: 2, found: 3 })).await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn verify_reads_past_one_batch() {
    for db in each_backend().await {
        let mut tx = db.store.begin().await.unwrap();
        for i in 0..12_000 {
            append(&mut tx, OffsetDateTime::now_utc(), start_event(i)).await.unwrap();
        }
        tx.commit().await.unwrap();
        db.assert_chain(Verification::Intact { events: 12_000, head_seq: 12_000 }).await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn items_3_65_unused_accounts_are_disabled_with_a_ledger_line() {
    use mamori_core::identity::Role;
    use mamori_store::accounts::NewAccount;
    for db in each_backend().await {
        let t0 = OffsetDateTime::now_utc();
        let ctx = crate::system_ctx;
        let new = |login: &str| crate::new_account(login, Role::Auditor, None);
        let old = db.store.issue_account(&ctx(t0), &new("old-one"), "t").await.unwrap();
        let active = db.store.issue_account(&ctx(t0), &new("active-one"), "t").await.unwrap();
        db.store.record_signin(active, t0 + time::Duration::days(100), "192.0.2.1").await.unwrap();
        let now = t0 + time::Duration::days(181);
        let cutoff = now - time::Duration::days(180);
        assert_eq!(db.store.inactive_accounts(cutoff).await.unwrap().len(), 1, "{}", db.name);
        let done = db.store.disable_inactive(&ctx(now), cutoff, "180日").await.unwrap();
        assert_eq!(done, ["old-one"], "{}", db.name);
        assert!(db.store.account_by_id(old).await.unwrap().unwrap().disabled_at.is_some());
        assert!(db.store.account_by_id(active).await.unwrap().unwrap().disabled_at.is_none());
        let ledger = db.store.ledger().await.unwrap();
        assert!(ledger.iter().any(|l| l.account_id == old
            && l.change == mamori_core::identity::LedgerChange::Disabled
            && l.reason == "180日"));
        assert!(db.store.audit_recent(1).await.unwrap()[0].record.action == "account.disabled");
        db.assert_chain(Verification::Intact { events: 3, head_seq: 3 }).await;
        // The only administrator, unused as long, is kept: without one,
        // nobody could enable the others again.
        let admin = NewAccount { role: Role::Admin, ..new("the-admin") };
        let admin = db.store.issue_account(&ctx(t0), &admin, "t").await.unwrap();
        assert_eq!(db.store.inactive_accounts(cutoff).await.unwrap().len(), 1, "{}", db.name);
        assert!(db.store.disable_inactive(&ctx(now), cutoff, "180日").await.unwrap().is_empty(), "{}", db.name);
        assert!(db.store.account_by_id(admin).await.unwrap().unwrap().disabled_at.is_none(), "{}", db.name);
        db.cleanup().await;
    }
}

/// The daily job reads the unused accounts, then disables them one by
/// one: a person who signed in between was disabled all the same. The
/// account is read again in the write, and kept.
#[tokio::test]
async fn an_account_signed_in_after_the_inactivity_job_read_it_is_not_disabled() {
    use mamori_core::identity::Role;
    for db in each_backend().await {
        let t0 = OffsetDateTime::now_utc();
        let ctx = crate::system_ctx;
        let new = crate::new_account("back-again", Role::Auditor, None);
        let id = db.store.issue_account(&ctx(t0), &new, "t").await.unwrap();
        let now = t0 + time::Duration::days(181);
        let cutoff = now - time::Duration::days(180);
        let read = db.store.inactive_accounts(cutoff).await.unwrap();
        assert_eq!(read.len(), 1, "{}", db.name);
        // The person signs in after the job read the list.
        db.store.record_signin(id, now, "192.0.2.1").await.unwrap();
        assert!(!db.store.disable_if_inactive(&ctx(now), read[0].id, cutoff, "180日").await.unwrap(), "{}", db.name);
        assert!(db.store.account_by_id(id).await.unwrap().unwrap().disabled_at.is_none(), "{}", db.name);
        let ledger = db.store.ledger().await.unwrap();
        assert!(!ledger.iter().any(|l| l.change == mamori_core::identity::LedgerChange::Disabled), "{}", db.name);
        db.cleanup().await;
    }
}

/// An account disabled as unused (item 65), enabled again by an
/// administrator for a person coming back: the next day's check disabled
/// it again, its unused time counted from the last sign-in of long ago.
/// It counts from the return now, and a given-back account left unused
/// for the whole period again is disabled again.
#[tokio::test]
async fn an_account_enabled_again_is_not_disabled_as_unused_the_next_day() {
    use mamori_core::identity::Role;
    for db in each_backend().await {
        let t0 = OffsetDateTime::now_utc();
        let ctx = crate::system_ctx;
        let days = time::Duration::days;
        let new = crate::new_account("returning", Role::Auditor, None);
        let id = db.store.issue_account(&ctx(t0), &new, "t").await.unwrap();
        let check =
            async |now: OffsetDateTime| db.store.disable_inactive(&ctx(now), now - days(180), "180日").await.unwrap();
        assert_eq!(check(t0 + days(181)).await, ["returning"], "{}", db.name);
        db.store.set_account_disabled(&ctx(t0 + days(182)), id, false, "復職").await.unwrap();
        assert!(check(t0 + days(183)).await.is_empty(), "{}: enabled again yesterday", db.name);
        assert!(db.store.account_by_id(id).await.unwrap().unwrap().disabled_at.is_none(), "{}", db.name);
        assert_eq!(check(t0 + days(182 + 181)).await, ["returning"], "{}: unused since its return", db.name);
        db.cleanup().await;
    }
}
