//! Work per request that must not grow with the ward: the dashboard's SQL
//! statements, counted as sqlx runs them (its `sqlx::query` events).

use crate::checklist::system;
use crate::harness::{App, Client, Options};
use mamori_core::checklist::{AnswerInput, AnswerStatus, Review};
use mamori_core::identity::{OrgKind, Role};
use reqwest::StatusCode;
use std::sync::{Arc, Mutex, OnceLock};
use tracing_subscriber::layer::SubscriberExt;

/// The statements sqlx runs in this process (each test runs in its own
/// process under the test command), by the start of their text.
#[derive(Clone, Default)]
struct Statements(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Statements {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Summary(String);
        impl tracing::field::Visit for Summary {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                if f.name() == "summary" {
                    self.0 = format!("{v:?}");
                }
            }
        }
        if event.metadata().target() == "sqlx::query" {
            let mut s = Summary(String::new());
            event.record(&mut s);
            // A pool opening one more connection sets it up once; that is
            // not the request's work.
            if !s.0.starts_with("\"PRAGMA ") {
                self.0.lock().unwrap().push(s.0);
            }
        }
    }
}

impl Statements {
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    fn since(&self, from: usize) -> Vec<String> {
        self.0.lock().unwrap()[from..].to_vec()
    }
}

fn statements() -> &'static Statements {
    static LOG: OnceLock<Statements> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Statements::default();
        let subscriber = tracing_subscriber::registry().with(log.clone());
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this process");
        log
    })
}

/// What `request` read: each statement sqlx ran, and one "(direct)" line
/// per statement run on the calling thread (SQLite's session and revision
/// reads, `mamori_store::revision`).
async fn reads<T>(app: &App, log: &Statements, request: impl std::future::Future<Output = T>) -> (T, Vec<String>) {
    // Work of earlier requests (a connection returned to its pool) settles
    // first.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (before, direct) = (log.len(), app.store.direct_reads());
    let out = request.await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut run = log.since(before);
    run.extend((direct..app.store.direct_reads()).map(|_| "(direct)".to_owned()));
    (out, run)
}

/// A department, a vendor and the security officer, signed in, who has
/// seen the one-time message of the sign-in: where most tests here start.
async fn ward(app: &App) -> (i64, i64, Client, i64) {
    let dept = app.org("総務課", OrgKind::Department).await;
    let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
    let (officer, officer_id) = app.signed_in("officer", Role::SecurityOfficer, None).await;
    officer.get("/dashboard").await;
    (dept, vendor, officer, officer_id)
}

/// Adds `n` systems, each with every applicable item answered and half of
/// them decided, and an override on the first.
async fn add_systems(app: &App, dept: i64, vendor: i64, from: usize, n: usize) {
    let ctx = app.system_ctx();
    for i in from..from + n {
        let id = system(app, dept, Some(vendor), &format!("業務システム {i:03}")).await;
        let s = app.store.system(id).await.unwrap().unwrap();
        let catalog = app.store.catalog(s.catalog_version_id).await.unwrap();
        let numbers: Vec<u32> = mamori_core::checklist::applicable(&catalog.requirements, &s.input.attrs, &[])
            .iter()
            .map(|r| r.number)
            .collect();
        app.store.set_override(&ctx, id, numbers[0], false, "対象機器なし").await.unwrap();
        for n in &numbers[1..] {
            let input = AnswerInput::done("実施済み");
            app.store.save_answer(&ctx, id, *n, &input).await.unwrap();
        }
        app.store.submit_system(&ctx, id).await.unwrap();
        for a in app.store.answers(id, s.round).await.unwrap().iter().step_by(2) {
            app.store.decide(&ctx, id, a.number, &a.seen(), Review::Approved, "").await.unwrap();
        }
    }
}

#[tokio::test]
async fn the_dashboard_and_the_systems_list_run_as_many_statements_for_30_systems_as_for_3() {
    let log = statements();
    for app in App::each(Options::default()).await {
        let (dept, vendor, officer, _) = ward(&app).await;
        let measure = async |expect_rows: usize| {
            let mut runs = Vec::new();
            // The first view after a change reads the changed systems; the
            // second reads nothing of them.
            for path in ["/dashboard", "/dashboard", "/systems", "/systems"] {
                let (r, run) = reads(&app, log, officer.get(path)).await;
                runs.push(run);
                assert_eq!(r.status, StatusCode::OK, "{}", app.backend);
                assert!(r.body.matches("業務システム ").count() >= expect_rows, "{}", app.backend);
            }
            runs
        };
        add_systems(&app, dept, vendor, 0, 3).await;
        let three = measure(3).await;
        add_systems(&app, dept, vendor, 3, 27).await;
        let thirty = measure(30).await;
        let n = |runs: &[Vec<String>]| runs.iter().map(Vec::len).collect::<Vec<_>>();
        assert!(three[0].len() > 2, "{}: statements are counted {three:#?}", app.backend);
        assert_eq!(n(&three), n(&thirty), "{}: {three:#?} {thirty:#?}", app.backend);
        // Unchanged: the session and the data's revision, nothing else.
        assert_eq!(three[1].len(), 2, "{}: an unchanged ward is read from memory {three:#?}", app.backend);
        assert_eq!(three[3].len(), 2, "{}: an unchanged ward is read from memory {three:#?}", app.backend);
        // Renamed through the store (as another instance would do it): the
        // list shows the new name at once.
        let s = app.store.system(system(&app, dept, Some(vendor), "改名前のシステム").await).await.unwrap().unwrap();
        assert!(officer.get("/systems").await.body.contains("改名前のシステム"), "{}", app.backend);
        let renamed = mamori_store::systems::SystemInput { name: "改名後のシステム".into(), ..s.input.clone() };
        app.store.update_system(&app.system_ctx(), s.id, &renamed).await.unwrap();
        let list = officer.get("/systems").await.body;
        assert!(list.contains("改名後のシステム") && !list.contains("改名前のシステム"), "{}", app.backend);
        // A change through the store (as another instance would make it) is
        // seen at once: the figures follow the system's revision.
        let first = app.store.systems(mamori_core::scope::Scope::All, &Default::default()).await.unwrap()[0].clone();
        let before = app.store.figures(std::slice::from_ref(&first)).await.unwrap()[0].clone();
        let ctx = app.system_ctx();
        app.store.set_override(&ctx, first.id, before.items[1].number, false, "対象外").await.unwrap();
        let moved = app.store.system(first.id).await.unwrap().unwrap();
        let after = app.store.figures(std::slice::from_ref(&moved)).await.unwrap()[0].clone();
        assert_eq!(after.items.len(), before.items.len() - 1, "{}", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn every_page_of_an_unchanged_ward_reads_only_its_session_and_the_revision() {
    let log = statements();
    for app in App::each(Options::default()).await {
        let (dept, vendor, officer, _) = ward(&app).await;
        let (vendor_user, _) = app.signed_in("vendor", Role::Vendor, Some(vendor)).await;
        vendor_user.get("/dashboard").await;
        add_systems(&app, dept, vendor, 0, 3).await;
        let id = app.store.systems(mamori_core::scope::Scope::All, &Default::default()).await.unwrap()[0].id;
        let paths = [
            "/dashboard".to_owned(),
            "/systems".to_owned(),
            format!("/systems/{id}"),
            format!("/systems/{id}/items/2"),
            "/account".to_owned(),
        ];
        for (who, client) in [("officer", &officer), ("vendor", &vendor_user)] {
            for path in &paths {
                let (first, _) = reads(&app, log, client.get(path)).await;
                let (again, run) = reads(&app, log, client.get(path)).await;
                assert_eq!(first.status, StatusCode::OK, "{} {who} {path}", app.backend);
                assert_eq!(again.body, first.body, "{} {who} {path}: the same page", app.backend);
                assert_eq!(run.len(), 2, "{} {who} {path}: {run:#?}", app.backend);
            }
        }
        app.close().await;
    }
}

#[tokio::test]
async fn what_another_instance_changes_shows_at_the_next_request_and_a_disabled_account_is_refused_at_once() {
    for app in App::each(Options::default()).await {
        let (dept, vendor, officer, officer_id) = ward(&app).await;
        add_systems(&app, dept, vendor, 0, 1).await;
        let s = app.store.systems(mamori_core::scope::Scope::All, &Default::default()).await.unwrap()[0].clone();
        let pages = ["/dashboard".to_owned(), "/systems".to_owned(), format!("/systems/{}", s.id)];
        for path in &pages {
            // Twice: the second view is the one kept in memory.
            officer.get(path).await;
            assert!(officer.get(path).await.body.contains("業務システム 000"), "{} {path}", app.backend);
        }
        let account = officer.get("/account").await.body;
        assert!(!account.contains("アラート (1)"), "{}", app.backend);

        // Another instance (its own store and memory, the same database).
        let other = mamori_store::Store::open(&app.location, app.store.keys().clone()).await.unwrap();
        let renamed = mamori_store::systems::SystemInput { name: "別名のシステム".into(), ..s.input.clone() };
        other.update_system(&app.system_ctx(), s.id, &renamed).await.unwrap();
        other.raise_alert(app.now(), "test", mamori_core::monitoring::Severity::Warning, "x", "y").await.unwrap();
        for path in &pages {
            let body = officer.get(path).await.body;
            assert!(body.contains("別名のシステム") && !body.contains("業務システム 000"), "{} {path}", app.backend);
        }
        assert!(officer.get("/account").await.body.contains("アラート (1)"), "{}", app.backend);

        // Disabled by the other instance: the account kept in memory is not
        // used, the very next request is signed out.
        let mut tx = other.begin().await.unwrap();
        mamori_store::accounts::set_disabled(&mut tx, app.now(), officer_id, true).await.unwrap();
        tx.commit().await.unwrap();
        let r = officer.get(&format!("/systems/{}", s.id)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        assert!(r.location().starts_with("/login"), "{} {}", app.backend, r.location());
        assert!(!r.body.contains("別名のシステム"), "{}", app.backend);
        other.close().await;
        app.close().await;
    }
}

#[tokio::test]
async fn the_dashboard_shows_the_twenty_systems_needing_attention_most_and_links_to_every_system() {
    for app in App::each(Options::default()).await {
        let (dept, vendor, officer, _) = ward(&app).await;
        add_systems(&app, dept, vendor, 0, 25).await;
        // The last by name gets an item returned: it needs attention most.
        let all = app.store.systems(mamori_core::scope::Scope::All, &Default::default()).await.unwrap();
        let last = all.iter().find(|s| s.input.name == "業務システム 024").unwrap();
        let open = app.store.answers(last.id, last.round).await.unwrap();
        let a = &open[1];
        app.store
            .decide(&app.system_ctx(), last.id, a.number, &a.seen(), Review::Returned, "根拠が不足")
            .await
            .unwrap();

        let body = officer.get(&format!("/dashboard?department={dept}")).await.body;
        let rows: Vec<&str> = body.split("<tr><td><a href=\"/systems/").skip(1).collect();
        assert_eq!(rows.len(), 20, "{}: twenty rows", app.backend);
        assert!(rows[0].contains("業務システム 024"), "{}: returned first: {}", app.backend, rows[0]);
        assert!(body.contains("20 件を表示しています(全 25 件)"), "{}", app.backend);
        assert!(
            body.contains(&format!("href=\"/systems?department={dept}\"")),
            "{}: the list, same filter",
            app.backend
        );
        // The list shows all 25.
        let list = officer.get(&format!("/systems?department={dept}")).await.body;
        for i in 0..25 {
            assert!(list.contains(&format!("業務システム {i:03}")), "{}: {i}", app.backend);
        }
        app.close().await;
    }
}

#[tokio::test]
async fn the_systems_list_shows_fifty_a_page_with_links_that_keep_the_filter() {
    for app in App::each(Options::default()).await {
        let (dept, vendor, officer, _) = ward(&app).await;
        let other = app.org("税務課", OrgKind::Department).await;
        for i in 0..55 {
            system(&app, dept, Some(vendor), &format!("業務システム {i:03}")).await;
        }
        system(&app, other, Some(vendor), "税務のシステム").await;
        let shown =
            |body: &str| (0..55).filter(|i| body.contains(&format!("業務システム {i:03}<"))).collect::<Vec<_>>();
        let first = officer.get(&format!("/systems?department={dept}")).await.body;
        assert_eq!(shown(&first), (0..50).collect::<Vec<_>>(), "{}", app.backend);
        assert!(first.contains("全 55 件中 1–50 件") && !first.contains("税務のシステム"), "{}", app.backend);
        let next = format!("href=\"/systems?department={dept}&#38;page=2\"");
        assert!(first.contains(&next) && !first.contains("rel=\"prev\""), "{}: {first}", app.backend);
        let second = officer.get(&format!("/systems?department={dept}&page=2")).await.body;
        assert_eq!(shown(&second), (50..55).collect::<Vec<_>>(), "{}", app.backend);
        assert!(second.contains("全 55 件中 51–55 件") && !second.contains("rel=\"next\""), "{}", app.backend);
        assert!(second.contains(&format!("href=\"/systems?department={dept}&#38;page=1\"")), "{}", app.backend);
        // A page out of range, or not a number: the first.
        for bad in ["0", "3", "-1", "x", "99999999999999999999999"] {
            let body = officer.get(&format!("/systems?department={dept}&page={bad}")).await.body;
            assert_eq!(shown(&body), (0..50).collect::<Vec<_>>(), "{} {bad}", app.backend);
        }
        // Hostile search text stays text in the links.
        let body = officer.get("/systems?q=%22%3E%3Cscript%3E&page=1").await.body;
        assert!(!body.contains("\"><script>"), "{}", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn the_item_list_kept_in_memory_follows_another_instances_decision_and_the_date_and_is_never_another_viewers() {
    for app in App::each(Options::default()).await {
        let (dept, vendor, officer, _) = ward(&app).await;
        let (vendor_user, _) = app.signed_in("vendor", Role::Vendor, Some(vendor)).await;
        vendor_user.get("/dashboard").await;
        add_systems(&app, dept, vendor, 0, 1).await;
        let s = app.store.systems(mamori_core::scope::Scope::All, &Default::default()).await.unwrap()[0].clone();
        let path = format!("/systems/{}", s.id);
        let boxes = |body: &str| body.matches("type=\"checkbox\" name=\"item\"").count();
        let ticked = |body: &str| body.matches(" checked>").count();
        // Twice each: the second view is the one kept in memory.
        let view = async |client: &Client, path: &str| {
            client.get(path).await;
            client.get(path).await.body
        };
        let pending =
            app.store.answers(s.id, s.round).await.unwrap().iter().filter(|a| a.review == Review::Pending).count();
        assert!(pending > 1, "{}", app.backend);
        let officers = view(&officer, &path).await;
        assert_eq!(boxes(&officers), pending, "{}: the officer may decide each pending item", app.backend);
        assert_eq!(ticked(&officers), 0, "{}", app.backend);
        // The same list for the vendor, right after: no box, no decision.
        let vendors = view(&vendor_user, &path).await;
        assert!(vendors.contains("実施済み"), "{}: the vendor sees the answers", app.backend);
        assert_eq!(boxes(&vendors), 0, "{}: the officer's list is not the vendor's", app.backend);
        assert!(!vendors.contains("id=\"approve-"), "{}", app.backend);
        // The officer's own list again, and with every box ticked.
        assert_eq!(boxes(&view(&officer, &path).await), pending, "{}", app.backend);
        assert_eq!(ticked(&view(&officer, &format!("{path}?select=pending")).await), pending, "{}", app.backend);
        assert_eq!(ticked(&view(&officer, &path).await), 0, "{}", app.backend);
        // Only the returned: none yet.
        assert_eq!(boxes(&view(&officer, &format!("{path}?show=returned")).await), 0, "{}", app.backend);

        // Another instance returns one item: the next view shows it.
        let other = mamori_store::Store::open(&app.location, app.store.keys().clone()).await.unwrap();
        let answers = other.answers(s.id, s.round).await.unwrap();
        let a = answers.iter().find(|a| a.review == Review::Pending).unwrap();
        other.decide(&app.system_ctx(), s.id, a.number, &a.seen(), Review::Returned, "別の手段で返却").await.unwrap();
        let after = officer.get(&path).await.body;
        assert_eq!(boxes(&after), pending - 1, "{}: one decided elsewhere", app.backend);
        assert!(after.contains("別の手段で返却"), "{}: its comment in the list", app.backend);
        let returned = officer.get(&format!("{path}?show=returned")).await.body;
        assert!(returned.contains(&format!("id=\"item-{}\"", a.number)), "{}", app.backend);
        other.close().await;

        // A planned date passes with no change to the data: after midnight
        // in Japan the list marks the item overdue.
        let jst = time::UtcOffset::from_hms(9, 0, 0).unwrap();
        let planned = AnswerInput {
            status: AnswerStatus::Partial,
            measures: "一部実施".into(),
            planned: Some(app.now().to_offset(jst).date()),
            reason: String::new(),
        };
        let dated = system(&app, dept, Some(vendor), "期日のあるシステム").await;
        let first = app.store.answers(s.id, s.round).await.unwrap()[0].number;
        app.store.save_answer(&app.system_ctx(), dated, first, &planned).await.unwrap();
        let path = format!("/systems/{dated}");
        let overdue = |body: &str| body.contains(&format!("id=\"item-{first}\" class=\"review-draft attention\""));
        // The test's clock starts at noon: ten minutes to midnight, then
        // ten minutes past (well inside the session's idle limit).
        app.clock.advance(time::Duration::minutes(11 * 60 + 50));
        let (late, _) = app.signed_in("vendor2", Role::Vendor, Some(vendor)).await;
        let before = view(&late, &path).await;
        assert!(before.contains("一部実施") && !overdue(&before), "{}: due today, not overdue", app.backend);
        app.clock.advance(time::Duration::minutes(20));
        assert!(overdue(&late.get(&path).await.body), "{}: overdue the next day", app.backend);
        app.close().await;
    }
}
