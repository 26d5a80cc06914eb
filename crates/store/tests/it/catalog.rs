use crate::each_backend;
use mamori_core::catalog::CatalogFile;
use mamori_store::catalog::ImportOutcome;
use time::OffsetDateTime;

#[tokio::test]
async fn catalog_versions_are_kept_whole_and_never_duplicated() {
    for db in each_backend().await {
        let ctx = crate::system_ctx(OffsetDateTime::now_utc());
        let first = db.store.ensure_catalog(&ctx).await.unwrap().expect("imported at first");
        assert_eq!(db.store.ensure_catalog(&ctx).await.unwrap(), None, "{}: only once", db.name);
        let shipped = CatalogFile::shipped();
        assert_eq!(db.store.import_catalog(&ctx, &shipped).await.unwrap(), ImportOutcome::AlreadyImported(first));
        let mut changed = shipped.clone();
        changed.requirements[0].evidence_hint = "ID管理簿".into();
        let ImportOutcome::Imported(second) = db.store.import_catalog(&ctx, &changed).await.unwrap() else { panic!() };
        let versions = db.store.catalog_versions().await.unwrap();
        assert_eq!(
            versions.iter().map(|v| (v.id, v.requirements)).collect::<Vec<_>>(),
            [(second, 79), (first, 79)],
            "{}",
            db.name
        );
        assert_eq!(
            *db.store.catalog_document(first).await.unwrap().unwrap(),
            shipped,
            "{}: version 1 unchanged",
            db.name
        );
        assert_eq!(*db.store.catalog_document(second).await.unwrap().unwrap(), changed);
        let actions: Vec<String> =
            db.store.audit_recent(10).await.unwrap().into_iter().map(|e| e.record.action).collect();
        assert_eq!(actions, ["catalog.imported", "catalog.imported"], "{}", db.name);
        db.cleanup().await;
    }
}
