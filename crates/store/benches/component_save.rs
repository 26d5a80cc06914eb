//! Saving one component of a large system. A save matches the whole
//! system with the advisories again (the component may be another's
//! platform: Firefox on Windows), so its cost grows with the system.
//!
//! `cargo bench -p mamori-store --bench component_save`
//! On SQLite; on PostgreSQL too when `MAMORI_TEST_DATABASE_URL` is set
//! (`scripts/test` prints how to start the test cluster).
//! Sizes: 200 components (a large system) and 2,000 (the most one may have,
//! `MAX_COMPONENTS`), with as many advisories, a tenth of them bound to a
//! platform. Reference: the time a person waits after pressing 保存; one
//! second is where a form starts to feel slow.

use mamori_core::audit::{Actor, Origin};
use mamori_core::inventory::{ComponentInput, ComponentKind};
use mamori_core::vulns::{Advisory, Affected, Bound, Versions, VulnSource};
use mamori_store::identity::Ctx;
use mamori_store::systems::SystemInput;
use mamori_store::{DatabaseLocation, Store};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

const SIZES: [usize; 2] = [200, 2_000];
const REFERENCE_MS: f64 = 1_000.0;

fn ctx() -> Ctx {
    Ctx { now: OffsetDateTime::now_utc(), actor: Actor::system(), origin: Origin::default(), standing: None }
}

fn component(i: usize, version: &str) -> ComponentInput {
    ComponentInput {
        kind: if i.is_multiple_of(10) { ComponentKind::Os } else { ComponentKind::Middleware },
        product: format!("product{i}"),
        vendor: format!("vendor{}", i % 50),
        version: version.into(),
        runs_on: "app01".into(),
        cpe: None,
        support_end: None,
        reason: String::new(),
    }
}

/// One advisory a component: every second one in range of the version the
/// component has, every tenth only on a platform (another component).
fn advisory(i: usize, n: usize) -> Advisory {
    let end = if i.is_multiple_of(2) { "2.0" } else { "0.5" };
    let on = if i % 10 == 5 { vec![vec![product_of((i + 1) % n, Versions::Any)]] } else { Vec::new() };
    let versions = Versions::Range { start: None, end: Some(Bound { version: end.into(), included: false }) };
    Advisory {
        source: VulnSource::Nvd,
        ident: format!("CVE-2026-{i:05}"),
        title: format!("advisory {i}"),
        link: format!("https://nvd.example/{i}"),
        cvss: Some(7.5),
        cves: Vec::new(),
        modified: "2026-01-01".into(),
        affected: vec![Affected { on, ..product_of(i, versions) }],
    }
}

fn product_of(i: usize, versions: Versions) -> Affected {
    Affected {
        part: Some('a'),
        vendor: format!("vendor{}", i % 50),
        product: format!("product{i}"),
        versions,
        on: Vec::new(),
    }
}

async fn run(name: &str, store: &Store) {
    let c = ctx();
    let catalog = store.ensure_catalog(&c).await.expect("catalog").expect("catalog id");
    let dept = store
        .create_organisation_audited(&c, "情報政策課", mamori_core::identity::OrgKind::Department, "")
        .await
        .expect("organisation");
    for n in SIZES {
        let system =
            store.create_system(&c, &SystemInput::new(&format!("system {n}"), dept), catalog).await.expect("system");
        let rows: Vec<ComponentInput> = (0..n).map(|i| component(i, "1.0")).collect();
        store.import_components(&c, system, "bench.csv", &rows).await.expect("components");
        let list: Vec<Advisory> = (0..n).map(|i| advisory(i, n)).collect();
        let imported = Instant::now();
        store.import_advisories(&c, &format!("bench-{n}.json"), "0", VulnSource::Nvd, &list).await.expect("advisories");
        let import = imported.elapsed();
        let matches = store.vuln_matches(Some(system)).await.expect("matches").len();
        let listed = store.components(system).await.expect("list");
        let id = listed.iter().find(|c| c.input.product == format!("product{}", n / 2)).expect("the component").id;
        let mut times = Vec::new();
        for round in 0..11 {
            // Each save changes the version, so every save writes.
            let version = if round % 2 == 0 { "1.1" } else { "1.0" };
            let t = Instant::now();
            store.save_component(&ctx(), system, Some(id), &component(n / 2, version)).await.expect("save");
            times.push(t.elapsed());
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "| {name} | {n} | {matches} | {:.0} ms | {:.1} ms | {:.1} ms | {REFERENCE_MS:.0} ms |",
            ms(import),
            ms(times[5]),
            ms(times[10])
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("| backend | components | matches | advisory import | save median | save max | reference |");
    println!("|---|---|---|---|---|---|---|");
    let keys = std::sync::Arc::new(mamori_store::crypt::Keyring::random_for_tests());
    let dir = tempfile::TempDir::new().expect("temporary directory");
    let store = Store::open(&DatabaseLocation::in_data_dir(dir.path()), keys.clone()).await.expect("open");
    run("SQLite", &store).await;
    store.close().await;
    if let Some(url) = mamori_testkit::fresh_pg_database().await {
        let store = Store::open(&DatabaseLocation::parse(&url).expect("url"), keys).await.expect("open");
        run("PostgreSQL", &store).await;
        store.close().await;
        mamori_testkit::drop_pg_database(&url).await;
    }
}
