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

/// The same catalog file imported five times at once (a double click, two
/// officers), five rounds: one import each, four told it is there
/// already. On PostgreSQL the others failed on the file's hash instead,
/// an error page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_catalog_sent_five_times_at_once_is_imported_once_and_the_rest_told_so() {
    for db in each_backend().await {
        let ctx = crate::system_ctx(OffsetDateTime::now_utc());
        db.store.ensure_catalog(&ctx).await.unwrap();
        for round in 0..5 {
            let mut changed = CatalogFile::shipped();
            changed.requirements[0].evidence_hint = format!("ID管理簿 {round}");
            let mut sent = tokio::task::JoinSet::new();
            for _ in 0..5 {
                let (store, ctx, file) = (db.store.clone(), ctx.clone(), changed.clone());
                sent.spawn(async move { store.import_catalog(&ctx, &file).await });
            }
            let (mut imported, mut there) = (0, 0);
            while let Some(done) = sent.join_next().await {
                match done.unwrap() {
                    Ok(ImportOutcome::Imported(_)) => imported += 1,
                    Ok(ImportOutcome::AlreadyImported(_)) => there += 1,
                    other => panic!("{}: round {round}: {other:?}", db.name),
                }
            }
            assert_eq!((imported, there), (1, 4), "{}: round {round}", db.name);
        }
        assert_eq!(db.store.catalog_versions().await.unwrap().len(), 6, "{}", db.name);
        db.cleanup().await;
    }
}

/// The same reference data (end-of-life dates) imported five times at once,
/// five rounds: each import lands. On PostgreSQL the second deleted and
/// inserted the same releases as the first and failed on their key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_feed_sent_five_times_at_once_is_imported_each_time_without_an_error() {
    use mamori_core::inventory::{EolProduct, EolRelease};
    for db in each_backend().await {
        for round in 0..5 {
            let ctx = crate::system_ctx(OffsetDateTime::now_utc());
            let nginx = EolProduct {
                name: "nginx".into(),
                label: "nginx".into(),
                aliases: vec![],
                cpes: vec![],
                releases: (20..30)
                    .map(|minor| EolRelease {
                        cycle: format!("1.{minor}"),
                        released: None,
                        eol: None,
                        latest: Some(format!("1.{minor}.{round}")),
                    })
                    .collect(),
            };
            let mut sent = tokio::task::JoinSet::new();
            for _ in 0..5 {
                let (store, ctx, p) = (db.store.clone(), ctx.clone(), nginx.clone());
                sent.spawn(async move { store.import_eol(&ctx, "nginx.json", &"a".repeat(64), &[p]).await });
            }
            while let Some(done) = sent.join_next().await {
                assert!(done.unwrap().is_ok(), "{}: round {round}", db.name);
            }
        }
        db.cleanup().await;
    }
}
