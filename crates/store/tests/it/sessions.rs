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
