use crate::each_backend;
use mamori_core::inventory::{ComponentInput, ComponentKind};
use mamori_core::vulns::{Advisory, Affected, Bound, MatchState, Versions, VulnSource};
use mamori_store::systems::SystemInput;
use mamori_testkit::waiting_for_locks;
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

/// A connection holding the audit log's head until it ends (`ROLLBACK`):
/// a writer stops there, its work done and its commit to come.
pub(crate) async fn holding_the_audit_head(url: &str) -> sqlx::PgConnection {
    use sqlx::{Connection, Executor};
    let mut other = sqlx::PgConnection::connect(url).await.unwrap();
    other.execute("BEGIN").await.unwrap();
    other.execute("SELECT head_seq FROM audit_chain WHERE id = 1 FOR UPDATE").await.unwrap();
    other
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

/// When nginx 1.24's support ended.
const NGINX_ENDED: time::Date = time::macros::date!(2024 - 04 - 23);

/// Release data of nginx 1.24, ended.
fn nginx_ended() -> mamori_core::inventory::EolProduct {
    use mamori_core::inventory::{EolProduct, EolRelease};
    let release =
        EolRelease { cycle: "1.24".into(), released: None, eol: Some(NGINX_ENDED), latest: Some("1.24.0".into()) };
    EolProduct { name: "nginx".into(), label: "nginx".into(), aliases: vec![], cpes: vec![], releases: vec![release] }
}

/// Two systems (ids rising), each running nginx 1.24 with no support end
/// yet; the second's component saved first when `second_first`. Returns
/// the systems and the first's component.
async fn two_systems_running_nginx(
    store: &mamori_store::Store,
    ctx: &mamori_store::identity::Ctx,
    second_first: bool,
) -> (i64, i64, i64) {
    let first = a_system(store, ctx).await;
    let one = &store.systems(mamori_core::scope::Scope::All, &Default::default()).await.unwrap()[0];
    let (dept, catalog) = (one.input.department_id, one.catalog_version_id);
    let second = store.create_system(ctx, &SystemInput::new("会計システム", dept), catalog).await.unwrap();
    assert!(first < second);
    let nginx = ComponentInput { product: "nginx".into(), version: "1.24.0".into(), ..component(0, "") };
    let save = async |s: i64| store.save_component(ctx, s, None, &nginx).await.unwrap();
    if second_first {
        save(second).await;
        (first, second, save(first).await)
    } else {
        let held = save(first).await;
        save(second).await;
        (first, second, held)
    }
}

/// On PostgreSQL, release data imported while a library document's new
/// revision was saved could end in a deadlock (one of them aborted, an
/// error page): the import locked the systems in the order of their
/// components, every other writer of several systems locks them in the
/// order of their ids. Here the first system is held by another
/// connection, which then asks for the second, as the library's save
/// does. The import now waits for the first system before it holds the
/// second: the other connection gets the second at once, and when it has
/// ended the import fills both components.
#[tokio::test]
async fn release_data_locks_the_systems_it_fills_in_the_order_every_writer_does() {
    use sqlx::{Connection, Executor};
    for db in each_backend().await {
        let Some(url) = db.pg_url.clone() else {
            db.cleanup().await;
            continue;
        };
        let ctx = crate::system_ctx(OffsetDateTime::now_utc());
        // The second system's component is the older: components' order is
        // not the systems'.
        let (first, second, _) = two_systems_running_nginx(&db.store, &ctx, true).await;

        let mut other = sqlx::PgConnection::connect(&url).await.unwrap();
        other.execute("BEGIN").await.unwrap();
        other.execute(format!("UPDATE system SET revision = revision + 1 WHERE id = {first}").as_str()).await.unwrap();
        let (store, import_ctx) = (db.store.clone(), ctx.clone());
        let import = tokio::spawn(async move {
            store.import_eol(&import_ctx, "nginx.json", &"a".repeat(64), &[nginx_ended()]).await
        });
        waiting_for_locks(&url, 1).await;
        other.execute("SET lock_timeout = '10s'").await.unwrap();
        let took =
            other.execute(format!("UPDATE system SET revision = revision + 1 WHERE id = {second}").as_str()).await;
        assert!(took.is_ok(), "{}: the second system was free: {took:?}", db.name);
        other.execute("COMMIT").await.unwrap();
        let imported = import.await.unwrap().unwrap();
        assert_eq!(imported.changed, 2, "{}", db.name);
        for s in [first, second] {
            let c = &db.store.components(s).await.unwrap()[0];
            assert_eq!(c.input.support_end, Some(NGINX_ENDED), "{}: system {s}", db.name);
        }
        db.cleanup().await;
    }
}

/// On PostgreSQL, the data's revision was counted at the end of each
/// statement that changed a counted table, and its one row held from
/// there to the commit. Release data filling the components of two
/// systems held it from the first system on; a save in the second system
/// (its row taken, waiting for the revision's) then met the import
/// coming for that system: a deadlock, one aborted. Here the import is
/// stopped at the first system's component (another connection holds that
/// row) and a save begins in the second system. The revision is now
/// counted at the commit: the save commits at once, and the import, let
/// go, fills both components.
#[tokio::test]
async fn a_save_in_one_system_while_release_data_fills_several_neither_waits_on_the_other_to_a_deadlock() {
    use sqlx::{Connection, Executor};
    for db in each_backend().await {
        let Some(url) = db.pg_url.clone() else {
            db.cleanup().await;
            continue;
        };
        let ctx = crate::system_ctx(OffsetDateTime::now_utc());
        let (first, second, held) = two_systems_running_nginx(&db.store, &ctx, false).await;
        let revision = db.store.revision().await.unwrap();

        let mut holder = sqlx::PgConnection::connect(&url).await.unwrap();
        holder.execute("BEGIN").await.unwrap();
        holder.execute(format!("SELECT id FROM component WHERE id = {held} FOR UPDATE").as_str()).await.unwrap();
        let (store, import_ctx) = (db.store.clone(), ctx.clone());
        let import = tokio::spawn(async move {
            store.import_eol(&import_ctx, "nginx.json", &"a".repeat(64), &[nginx_ended()]).await
        });
        waiting_for_locks(&url, 1).await;
        let mut save = sqlx::PgConnection::connect(&url).await.unwrap();
        save.execute("SET lock_timeout = '10s'").await.unwrap();
        save.execute("BEGIN").await.unwrap();
        let saved =
            save.execute(format!("UPDATE system SET revision = revision + 1 WHERE id = {second}").as_str()).await;
        assert!(saved.is_ok(), "{}: the save waited for nothing: {saved:?}", db.name);
        let committed = save.execute("COMMIT").await;
        assert!(committed.is_ok(), "{}: {committed:?}", db.name);
        holder.execute("ROLLBACK").await.unwrap();
        let imported = import.await.unwrap().unwrap();
        assert_eq!(imported.changed, 2, "{}", db.name);
        for s in [first, second] {
            let c = &db.store.components(s).await.unwrap()[0];
            assert_eq!(c.input.support_end, Some(NGINX_ENDED), "{}: system {s}", db.name);
        }
        let after = db.store.revision().await.unwrap();
        assert_eq!(after.0, revision.0 + 2, "{}: each transaction counted once", db.name);
        db.cleanup().await;
    }
}

/// A component is one per product and place, and one of a product's
/// advisories' range matches it on every host it runs on: 101 hosts of one
/// product under 101 advisories were 10,201 matches, and a sheet of 2,000
/// hosts under every kernel advisory millions, read again at each save.
/// A system now holds [`MAX_MATCHES_PER_SYSTEM`] at the most, the most
/// severe taken first; another system's matches are its own. The office
/// hears of a system at its limit whose new matches were left out, an
/// alert counted again at each change that leaves some out.
#[tokio::test]
async fn a_system_holds_ten_thousand_matches_at_the_most_the_most_severe_first_the_office_alerted_and_another_system_its_own(
) {
    use mamori_core::vulns::MAX_MATCHES_PER_SYSTEM;
    for db in each_backend().await {
        let ctx = crate::system_ctx(OffsetDateTime::now_utc());
        let (crowded, other, _) = two_systems_running_nginx(&db.store, &ctx, false).await;
        let on_host = |h: usize| ComponentInput { runs_on: format!("host{h}"), ..component(0, "1.0") };
        let hosts: Vec<ComponentInput> = (0..101).map(on_host).collect();
        db.store.import_components(&ctx, crowded, "inventory.csv", &hosts).await.unwrap();
        db.store.save_component(&ctx, other, None, &on_host(0)).await.unwrap();
        let of_product0 = |i: usize| {
            let mut a = advisory(i);
            a.affected[0].product = "product0".into();
            a
        };
        // The last advisory is critical: of the 10,201 found, its 101 are kept.
        let mut list: Vec<Advisory> = (0..101).map(of_product0).collect();
        list[100].cvss = Some(9.8);
        db.store.import_advisories(&ctx, "nvd.json", "0", VulnSource::Nvd, &list).await.unwrap();
        let held = db.store.vuln_matches(Some(crowded)).await.unwrap();
        assert_eq!(held.len(), MAX_MATCHES_PER_SYSTEM, "{}: 10,201 found", db.name);
        let critical = held.iter().filter(|m| m.ident == "CVE-2026-00100").count();
        assert_eq!(critical, 101, "{}: the most severe first, on every host", db.name);
        assert_eq!(db.store.vuln_matches(Some(other)).await.unwrap().len(), 101, "{}", db.name);
        let full = async || {
            let alerts = db.store.alerts(true).await.unwrap();
            let full = alerts.into_iter().filter(|a| a.kind == mamori_core::monitoring::VULN_MATCHES_FULL);
            full.map(|a| (a.subject, a.count, a.detail)).collect::<Vec<_>>()
        };
        let name = db.store.system(crowded).await.unwrap().unwrap().input.name;
        let alerted = full().await;
        assert_eq!(alerted.len(), 1, "{}: one alert, the crowded system's: {alerted:?}", db.name);
        assert_eq!((alerted[0].0.as_str(), alerted[0].1), (name.as_str(), 1), "{}", db.name);
        assert!(alerted[0].2.starts_with("201 new matches not recorded"), "{}: {}", db.name, alerted[0].2);
        // A save in the full system keeps it at the limit, and counts again.
        db.store.save_component(&ctx, crowded, None, &on_host(101)).await.unwrap();
        assert_eq!(db.store.vuln_matches(Some(crowded)).await.unwrap().len(), MAX_MATCHES_PER_SYSTEM, "{}", db.name);
        assert_eq!(full().await.iter().map(|a| a.1).collect::<Vec<_>>(), [2], "{}", db.name);
        db.cleanup().await;
    }
}

/// Twenty checks of one name's address at once (runs of one system scanning
/// it together, on any instance): on PostgreSQL each found the name
/// unrecorded and inserted it, and all but one failed on the key (their
/// runs left running). Each is answered: one records the address, the
/// others find it recorded.
#[tokio::test]
async fn twenty_checks_of_one_name_s_address_at_once_record_it_once_and_every_one_is_answered() {
    use mamori_store::scans::AddressCheck;
    for db in each_backend().await {
        let ctx = crate::system_ctx(OffsetDateTime::now_utc());
        let system = a_system(&db.store, &ctx).await;
        let all = futures_util::future::join_all((0..20).map(|_| {
            let store = db.store.clone();
            async move {
                store.check_scan_address(ctx.now, system, "app.example.lg.jp", ("10.1.2.3", "10.1.2.0/24"), true).await
            }
        }))
        .await;
        let firsts = all.iter().filter(|r| matches!(r, Ok(AddressCheck::First))).count();
        let same = all.iter().filter(|r| matches!(r, Ok(AddressCheck::Same))).count();
        assert_eq!((firsts, same), (1, 19), "{}: {all:?}", db.name);
        db.cleanup().await;
    }
}
