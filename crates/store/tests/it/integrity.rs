//! What `mamori verify` reads from the store, on both backends: the schema
//! version, and every stored file checked against its SHA-256.

use crate::each_backend;
use mamori_core::identity::OrgKind;
use mamori_store::integrity::FileProblem;
use mamori_store::library::NewDocFile;
use time::OffsetDateTime;

#[tokio::test]
async fn stored_files_are_checked_one_by_one_and_a_changed_or_missing_one_is_named() {
    for db in each_backend().await {
        let ctx = crate::system_ctx(OffsetDateTime::now_utc());
        assert!(db.store.schema_version().await.unwrap() >= 16, "{}: every migration applied", db.name);
        let vendor = db.store.create_organisation_audited(&ctx, "ベンダーA", OrgKind::Vendor, "").await.unwrap();
        let sha = |b: &[u8]| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b));
        for body in [b"one".as_slice(), b"two", b"three"] {
            let f = NewDocFile {
                original_name: "a.txt",
                content_type: "text/plain",
                sha256: &sha(body),
                expires_on: None,
                content: body,
            };
            db.store.add_document(&ctx, vendor, "体制図", &f).await.unwrap();
        }
        let check = db.store.verify_files().await.unwrap();
        assert_eq!((check.files, check.problems.len()), (3, 0), "{}", db.name);
        // Another file's bytes under revision 2's record; revision 3's bytes gone.
        let swap =
            "UPDATE document_content SET content = (SELECT c.content FROM document_content c WHERE c.revision_id = 1) \
                    WHERE revision_id = 2";
        db.store.execute_unchecked_for_tests(swap).await.unwrap();
        db.store.execute_unchecked_for_tests("DELETE FROM document_content WHERE revision_id = 3").await.unwrap();
        let check = db.store.verify_files().await.unwrap();
        assert_eq!(
            check.problems,
            [FileProblem::Changed { kind: "document", id: 2 }, FileProblem::Missing { kind: "document", id: 3 }],
            "{}",
            db.name
        );
        db.cleanup().await;
    }
}
