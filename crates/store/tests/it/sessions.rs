//! The session store under tower-sessions: what a request saves at its end
//! never brings back a session deleted while it ran.

use crate::each_backend;
use time::{Duration, OffsetDateTime};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::SessionStore;

/// Two requests of one signed-in session: the first reads the session (a
/// page that will note the time of activity, or leave a message for the
/// next page), the second signs out and deletes it, then the first saves
/// what it read. The session stays deleted (the store's own save inserted
/// it again: signed in after the sign-out, the stolen cookie alive). A
/// session still there is changed as before.
#[tokio::test]
async fn a_session_deleted_by_a_sign_out_is_not_brought_back_by_a_request_that_read_it_before() {
    for db in each_backend().await {
        let sessions = db.store.sessions().await.unwrap();
        let expiry = (OffsetDateTime::now_utc() + Duration::hours(1)).replace_nanosecond(0).unwrap();
        let data = [("signed_in".to_owned(), serde_json::json!({ "account_id": 7 }))].into_iter().collect();
        let mut record = Record { id: Id::default(), data, expiry_date: expiry };
        sessions.create(&mut record).await.unwrap();

        let mut read_before =
            sessions.load(&record.id).await.unwrap().expect("the session, as the first request read it");
        sessions.delete(&record.id).await.unwrap();
        read_before.data.insert("flash".into(), serde_json::json!("saved"));
        sessions.save(&read_before).await.unwrap();
        assert!(sessions.load(&record.id).await.unwrap().is_none(), "{}: still signed out", db.name);

        let mut other = Record { id: Id::default(), data: Default::default(), expiry_date: expiry };
        sessions.create(&mut other).await.unwrap();
        other.data.insert("flash".into(), serde_json::json!("saved"));
        other.expiry_date = expiry + Duration::minutes(30);
        sessions.save(&other).await.unwrap();
        let loaded = sessions.load(&other.id).await.unwrap().expect("a live session is saved");
        assert_eq!(loaded.data.get("flash"), Some(&serde_json::json!("saved")), "{}", db.name);
        assert_eq!(loaded.expiry_date, other.expiry_date, "{}", db.name);
        db.cleanup().await;
    }
}

/// A taken session keeps sending "sign out other sessions" (or a change of
/// password); the person changes their password meanwhile, which ends
/// every session, the taken one included. A request of the taken session
/// checked before that change and writing after it is refused, changes
/// nothing and does not take up the new generation: it would have ended
/// the person's own session and carried on itself, valid for hours.
#[tokio::test]
async fn a_session_ended_while_its_request_ran_can_neither_end_the_others_nor_change_the_password() {
    use mamori_core::identity::Role;
    use mamori_store::accounts::NewAccount;
    use mamori_store::StoreError;
    for db in each_backend().await {
        let ctx = crate::system_ctx(OffsetDateTime::now_utc());
        let new = NewAccount { password_hash: "first".into(), ..crate::new_account("vendor-a", Role::Auditor, None) };
        let id = db.store.issue_account(&ctx, &new, "t").await.unwrap();
        let taken = db.store.account_by_id(id).await.unwrap().unwrap().session_generation;

        // The person, in their own session of the same generation, changes the password.
        let own = db.store.change_own_password(&ctx, id, "second", taken).await.unwrap();
        assert_eq!(own, taken + 1, "{}", db.name);

        // The taken session's requests, checked at the old generation, write now.
        let ended = db.store.end_other_sessions(&ctx, id, taken).await;
        assert!(matches!(ended, Err(StoreError::Stale)), "{}: {ended:?}", db.name);
        let changed = db.store.change_own_password(&ctx, id, "thief's", taken).await;
        assert!(matches!(changed, Err(StoreError::Stale)), "{}: {changed:?}", db.name);
        let a = db.store.account_by_id(id).await.unwrap().unwrap();
        assert_eq!((a.session_generation, a.password_hash.as_str()), (own, "second"), "{}: unchanged", db.name);

        // The person's session, of the new generation, still ends the others.
        assert_eq!(db.store.end_other_sessions(&ctx, id, own).await.unwrap(), own + 1, "{}", db.name);
        db.cleanup().await;
    }
}
