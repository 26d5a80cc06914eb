//! Encryption at rest (item 61) on both backends: personal data, TOTP
//! secrets and stored files are unreadable in the raw database, read back
//! through the store, still read after a rotation while another store
//! keeps writing, and a missing or wrong key opens nothing.

use crate::each_backend;
use mamori_core::identity::{Login, OrgKind, Role};
use mamori_store::accounts::NewAccount;
use mamori_store::backup::Value;
use mamori_store::crypt::{new_key_line, Keyring};
use mamori_store::library::NewDocFile;
use mamori_store::{Store, StoreError};
use std::sync::Arc;
use time::OffsetDateTime;

const SECRETS: [&str; 5] = ["千代田 花子", "hanako@example.lg.jp", "JBSWY3DPEHPK3PXP", "03-1234-5678", "秘密の体制図"];

/// Every value of every table, as text (bytes as lossy UTF-8).
async fn raw(store: &Store) -> String {
    let mut all = String::new();
    store
        .export(1 << 20, |t, rows: Vec<Vec<Value>>| -> Result<(), StoreError> {
            for v in rows.into_iter().flatten() {
                match v {
                    Value::Text(s) => all.push_str(&s),
                    Value::Bytes(b) => all.push_str(&String::from_utf8_lossy(&b)),
                    _ => {}
                }
                all.push(' ');
            }
            all.push_str(&t.name);
            Ok(())
        })
        .await
        .unwrap();
    all
}

#[tokio::test]
async fn sealed_values_are_unreadable_raw_read_back_survive_a_rotation_and_a_wrong_key_opens_nothing() {
    for db in each_backend().await {
        let ctx = crate::system_ctx(OffsetDateTime::now_utc());
        let org = db
            .store
            .create_organisation_audited(&ctx, "情報政策課", OrgKind::Department, "03-1234-5678")
            .await
            .unwrap();
        let new = NewAccount {
            login: Login::parse("hanako").unwrap(),
            display_name: "千代田 花子".into(),
            email: "hanako@example.lg.jp".into(),
            role: Role::Department,
            organisation_id: Some(org),
            password_hash: "x".into(),
            must_change_password: false,
        };
        let id = db.store.issue_account(&ctx, &new, "着任").await.unwrap();
        let seen = db.store.account_by_id(id).await.unwrap().unwrap().session_generation;
        db.store.confirm_totp(&ctx, (id, seen), ("JBSWY3DPEHPK3PXP", 1), &[]).await.unwrap();
        let body = "秘密の体制図".as_bytes();
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body));
        let file = NewDocFile {
            original_name: "a.txt",
            content_type: "text/plain",
            sha256: &sha,
            expires_on: None,
            content: body,
        };
        db.store.add_document(&ctx, org, "体制図", &file).await.unwrap();

        let raw_now = raw(&db.store).await;
        for secret in SECRETS {
            assert!(!raw_now.contains(secret), "{}: {secret} is readable in the raw database", db.name);
        }
        let read_back = |store: Store| async move {
            let a = store.account_by_id(id).await.unwrap().unwrap();
            let org = store.organisations().await.unwrap().into_iter().find(|o| o.id == org).unwrap();
            let ledger = store.ledger_of(id).await.unwrap();
            let docs = store.documents(org.id).await.unwrap();
            let rev = docs[0].revisions[0].clone();
            let bytes = store.download_document(&crate::system_ctx(OffsetDateTime::now_utc()), &rev).await.unwrap();
            assert_eq!(
                (a.display_name.as_str(), a.email.as_str(), a.totp_secret.as_deref(), org.contact.as_str()),
                ("千代田 花子", "hanako@example.lg.jp", Some("JBSWY3DPEHPK3PXP"), "03-1234-5678")
            );
            assert!(ledger.iter().any(|l| l.after.contains("department")), "{ledger:?}");
            assert_eq!(bytes, body);
        };
        read_back(db.store.clone()).await;
        assert_eq!(db.store.verify_files().await.unwrap().problems, [], "{}", db.name);

        // A wrong key under the same id, and no key for the id: refused.
        for other in [Keyring::random_for_tests(), Keyring::from_text(&new_key_line(2), None).unwrap()] {
            match Store::open(&db.location, Arc::new(other)).await {
                Err(StoreError::Keys(m)) => assert!(m.contains("#1"), "{}: {m}", db.name),
                Err(e) => panic!("{}: {e}", db.name),
                Ok(_) => panic!("{}: opened with a wrong key", db.name),
            }
        }

        // Rotation: key 2 seals; every value is sealed again under it.
        let first = db.store.keys().to_text();
        let both = Arc::new(Keyring::from_text(&format!("{first}{}", new_key_line(2)), None).unwrap());
        let rotating = Store::open(&db.location, both.clone()).await.unwrap();
        let rotated = rotating.rotate_keys(&ctx).await.unwrap();
        assert_eq!(rotated.key, 2, "{}", db.name);
        assert!(rotated.values >= 7, "{}: {rotated:?}", db.name);
        let raw_after = raw(&rotating).await;
        assert!(!raw_after.contains("mk1:1:") && raw_after.contains("mk1:2:"), "{}", db.name);
        for secret in SECRETS {
            assert!(!raw_after.contains(secret), "{}: {secret}", db.name);
        }
        read_back(rotating.clone()).await;
        // Key 1 is retired: the new key alone opens the database now.
        let only_two = Keyring::from_text(both.to_text().lines().last().unwrap(), None).unwrap();
        let later = Store::open(&db.location, Arc::new(only_two)).await.unwrap();
        read_back(later.clone()).await;
        let events = later.audit_recent(3).await.unwrap();
        assert!(events.iter().any(|e| e.record.action == "keys.rotated"), "{}", db.name);
        later.close().await;
        rotating.close().await;
        db.cleanup().await;
    }
}

/// What was stored before encryption at rest is sealed at the next start.
#[tokio::test]
async fn values_stored_before_encryption_are_sealed_at_the_next_start_and_no_plain_copy_is_left_in_sqlite_s_files() {
    for db in each_backend().await {
        let ctx = crate::system_ctx(OffsetDateTime::now_utc());
        let org = db.store.create_organisation_audited(&ctx, "情報政策課", OrgKind::Department, "x").await.unwrap();
        // As a version without encryption at rest left it: a plain value,
        // and no data key recorded.
        db.store
            .execute_unchecked_for_tests(&format!("UPDATE organisation SET contact = '03-1234-5678' WHERE id = {org}"))
            .await
            .unwrap();
        db.store.execute_unchecked_for_tests("DELETE FROM data_key").await.unwrap();
        assert!(raw(&db.store).await.contains("03-1234-5678"), "{}: plain as an older version left it", db.name);
        let again = Store::open(&db.location, db.store.keys().clone()).await.unwrap();
        assert!(!raw(&again).await.contains("03-1234-5678"), "{}", db.name);
        let contact = again.organisations().await.unwrap().into_iter().find(|o| o.id == org).unwrap().contact;
        assert_eq!(contact, "03-1234-5678", "{}", db.name);
        if let mamori_store::DatabaseLocation::SqliteFile(path) = &db.location {
            // Nor in SQLite's files: not in a page the sealing freed, not in
            // the write-ahead log (both kept as they were before).
            let mut files = vec![std::fs::read(path).unwrap()];
            files.extend(std::fs::read(format!("{}-wal", path.display())).ok());
            for bytes in files {
                assert!(!bytes.windows(12).any(|w| w == b"03-1234-5678"), "the plain text is left in the file");
            }
        }
        again.close().await;
        db.cleanup().await;
    }
}

/// Two instances opening a database without a recorded key at the same
/// moment, each with a key of its own, with values stored before
/// encryption at rest: one key is recorded, the other instance is refused
/// having sealed nothing, and the first reads every value.
#[tokio::test]
async fn of_two_instances_opening_at_once_with_different_keys_one_is_refused_having_sealed_nothing() {
    for db in each_backend().await {
        let ctx = crate::system_ctx(OffsetDateTime::now_utc());
        for i in 0..120 {
            db.store.create_organisation_audited(&ctx, &format!("課{i}"), OrgKind::Department, "x").await.unwrap();
        }
        // As a version without encryption at rest left them.
        db.store.execute_unchecked_for_tests("UPDATE organisation SET contact = 'tel-' || name").await.unwrap();
        db.store.execute_unchecked_for_tests("DELETE FROM data_key").await.unwrap();
        let (a, b) = tokio::join!(
            Store::open(&db.location, Arc::new(Keyring::random_for_tests())),
            Store::open(&db.location, Arc::new(Keyring::random_for_tests()))
        );
        let refused = [&a, &b].iter().filter(|r| matches!(r, Err(StoreError::Keys(_)))).count();
        assert_eq!(
            (a.is_ok() as u8 + b.is_ok() as u8, refused),
            (1, 1),
            "{}: {:?} {:?}",
            db.name,
            a.as_ref().err(),
            b.as_ref().err()
        );
        let opened = [a, b].into_iter().flatten().next().unwrap();
        let orgs = opened.organisations().await.unwrap();
        assert_eq!(orgs.len(), 120, "{}", db.name);
        for o in orgs {
            assert_eq!(o.contact, format!("tel-{}", o.name), "{}: every value opens with the recorded key", db.name);
        }
        assert!(!raw(&opened).await.contains("tel-課"), "{}: and every one is sealed", db.name);
        opened.close().await;
        db.cleanup().await;
    }
}
