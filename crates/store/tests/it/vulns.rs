use crate::each_backend;
use mamori_core::inventory::{ComponentInput, ComponentKind};
use mamori_core::vulns::{Advisory, Affected, Bound, MatchState, Versions, VulnSource};
use mamori_store::systems::SystemInput;
use time::OffsetDateTime;

fn component(i: usize, version: &str) -> ComponentInput {
    ComponentInput {
        kind: ComponentKind::Middleware,
        product: format!("product{i}"),
        vendor: "vendor".into(),
        version: version.into(),
        runs_on: "app01".into(),
        cpe: None,
        support_end: None,
        reason: String::new(),
    }
}

/// A department's system, 基幹システム, on the shipped catalog.
async fn a_system(store: &mamori_store::Store, ctx: &mamori_store::identity::Ctx) -> i64 {
    let catalog = store.ensure_catalog(ctx).await.unwrap().unwrap();
    let dept = store
        .create_organisation_audited(ctx, "情報政策課", mamori_core::identity::OrgKind::Department, "")
        .await
        .unwrap();
    store.create_system(ctx, &SystemInput::new("基幹システム", dept), catalog).await.unwrap()
}

/// Before 2.0 for every third product.
fn advisory(i: usize) -> Advisory {
    Advisory {
        source: VulnSource::Nvd,
        ident: format!("CVE-2026-{i:05}"),
        title: format!("advisory {i}"),
        link: String::new(),
        cvss: Some(5.0),
        cves: Vec::new(),
        modified: "2026-01-01".into(),
        affected: vec![Affected {
            part: Some('a'),
            vendor: "vendor".into(),
            product: format!("product{i}"),
            versions: Versions::Range { start: None, end: Some(Bound { version: "2.0".into(), included: false }) },
            on: Vec::new(),
        }],
    }
}

/// Matching reads the advisories and matches of many components a few
/// hundred at a time: 1,200 components take three reads of each, and every
/// match is found; a change then drops the matches that no longer hold,
/// a decided one too (it stood decided when its component came back into
/// the range): back, it opens afresh.
#[tokio::test]
async fn matching_more_components_than_one_read_takes_finds_every_match_and_drops_those_that_no_longer_hold() {
    for db in each_backend().await {
        let ctx = crate::system_ctx(OffsetDateTime::now_utc());
        let system = a_system(&db.store, &ctx).await;
        let rows: Vec<ComponentInput> = (0..1_200).map(|i| component(i, "1.0")).collect();
        db.store.import_components(&ctx, system, "inventory.csv", &rows).await.unwrap();
        let list: Vec<Advisory> = (0..1_200).step_by(3).map(advisory).collect();
        let import = db.store.import_advisories(&ctx, "nvd.json", "0", VulnSource::Nvd, &list).await.unwrap();
        assert_eq!((import.records, import.changed), (400, 400), "{}", db.name);
        let matches = db.store.vuln_matches(Some(system)).await.unwrap();
        assert_eq!(matches.len(), 400, "{}", db.name);
        let products: std::collections::BTreeSet<String> = matches.iter().map(|m| m.product.clone()).collect();
        let want: std::collections::BTreeSet<String> = (0..1_200).step_by(3).map(|i| format!("product{i}")).collect();
        assert_eq!(products, want, "{}", db.name);

        // product999 is decided 影響なし; then it and product1197 go past the range.
        let decided = matches.iter().find(|m| m.product == "product999").unwrap();
        db.store.decide_match(&ctx, (system, decided.id, None), MatchState::NotAffected, "設定で無効").await.unwrap();
        let components = db.store.components(system).await.unwrap();
        for i in [999, 1197] {
            let id = components.iter().find(|c| c.input.product == format!("product{i}")).unwrap().id;
            db.store.save_component(&ctx, system, Some(id), &component(i, "2.1")).await.unwrap();
        }
        let after = db.store.vuln_matches(Some(system)).await.unwrap();
        assert_eq!(after.len(), 398, "{}", db.name);
        assert!(!after.iter().any(|m| m.product == "product1197" || m.product == "product999"), "{}", db.name);
        let id = components.iter().find(|c| c.input.product == "product999").unwrap().id;
        db.store.save_component(&ctx, system, Some(id), &component(999, "1.0")).await.unwrap();
        let back = db.store.vuln_matches(Some(system)).await.unwrap();
        let again = back.iter().find(|m| m.product == "product999").unwrap();
        assert_eq!(again.state, MatchState::Open, "{}: back in the range, open afresh", db.name);
        db.cleanup().await;
    }
}

/// Waits until `n` of the database's connections wait for a lock.
/// A connection holding the audit log's head until it ends (`ROLLBACK`):
/// a writer stops there, its work done and its commit to come.
pub(crate) async fn holding_the_audit_head(url: &str) -> sqlx::PgConnection {
    use sqlx::{Connection, Executor};
    let mut other = sqlx::PgConnection::connect(url).await.unwrap();
    other.execute("BEGIN").await.unwrap();
    other.execute("SELECT head_seq FROM audit_chain WHERE id = 1 FOR UPDATE").await.unwrap();
    other
}

pub(crate) async fn waiting_for_locks(url: &str, n: i64) {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    for _ in 0..200 {
        let w: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut c)
        .await
        .unwrap();
        if w >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{n} connections never came to wait for a lock");
}

/// On PostgreSQL, a component saved while advisories are imported: the
/// save matched against the advisories before the import's were
/// committed, the import matched the components before the save's was,
/// and the match was missing until the next import. Here both stop at the
/// audit log's head, which another connection holds, after their matching
/// and before their commit: the import now waits for the save to end first
/// and then finds the match.
#[tokio::test]
async fn a_component_saved_while_advisories_are_imported_is_matched() {
    use sqlx::Executor;
    for db in each_backend().await {
        let Some(url) = db.pg_url.clone() else {
            db.cleanup().await;
            continue;
        };
        let ctx = crate::system_ctx(OffsetDateTime::now_utc());
        let system = a_system(&db.store, &ctx).await;

        let mut other = crate::vulns::holding_the_audit_head(&url).await;
        let (store, save_ctx) = (db.store.clone(), ctx.clone());
        let save =
            tokio::spawn(async move { store.save_component(&save_ctx, system, None, &component(1, "1.0")).await });
        waiting_for_locks(&url, 1).await;
        let (store, import_ctx) = (db.store.clone(), ctx.clone());
        let import = tokio::spawn(async move {
            store.import_advisories(&import_ctx, "nvd.json", "0", VulnSource::Nvd, &[advisory(1)]).await
        });
        waiting_for_locks(&url, 2).await;
        other.execute("ROLLBACK").await.unwrap();
        save.await.unwrap().unwrap();
        import.await.unwrap().unwrap();

        let matches = db.store.vuln_matches(Some(system)).await.unwrap();
        assert_eq!(matches.iter().map(|m| m.product.as_str()).collect::<Vec<_>>(), ["product1"], "{}", db.name);
        db.cleanup().await;
    }
}

/// On PostgreSQL, a component removed while advisories are imported (the
/// import stopped after its matching, before its commit): the removal
/// takes the feeds lock as every writer of components does, and the
/// component goes with every match, none left naming it.
#[tokio::test]
async fn a_component_removed_while_advisories_are_imported_goes_with_every_match() {
    use sqlx::Executor;
    for db in each_backend().await {
        let Some(url) = db.pg_url.clone() else {
            db.cleanup().await;
            continue;
        };
        let ctx = crate::system_ctx(OffsetDateTime::now_utc());
        let system = a_system(&db.store, &ctx).await;
        let id = db.store.save_component(&ctx, system, None, &component(1, "1.0")).await.unwrap();

        // The import stops at the audit log's head, after its matching.
        let mut other = crate::vulns::holding_the_audit_head(&url).await;
        let (store, import_ctx) = (db.store.clone(), ctx.clone());
        let import = tokio::spawn(async move {
            store.import_advisories(&import_ctx, "nvd.json", "0", VulnSource::Nvd, &[advisory(1)]).await
        });
        waiting_for_locks(&url, 1).await;
        let (store, remove_ctx) = (db.store.clone(), ctx.clone());
        let remove = tokio::spawn(async move { store.remove_component(&remove_ctx, system, id).await });
        waiting_for_locks(&url, 2).await;
        other.execute("ROLLBACK").await.unwrap();
        import.await.unwrap().unwrap();
        remove.await.unwrap().unwrap();

        assert!(db.store.vuln_matches(Some(system)).await.unwrap().is_empty(), "{}", db.name);
        db.cleanup().await;
    }
}
