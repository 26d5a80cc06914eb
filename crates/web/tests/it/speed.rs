//! Work per request that must not grow with the ward: the dashboard's SQL
//! statements, counted as sqlx runs them (its `sqlx::query` events).

use crate::checklist::system;
use crate::harness::{App, Options};
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
            let input = AnswerInput {
                status: AnswerStatus::Done,
                measures: "実施済み".into(),
                planned: None,
                reason: String::new(),
            };
            app.store.save_answer(&ctx, id, *n, &input).await.unwrap();
        }
        app.store.submit_system(&ctx, id).await.unwrap();
        for a in app.store.answers(id, s.round).await.unwrap().iter().step_by(2) {
            app.store.decide(&ctx, id, a.number, a.revision, Review::Approved, "").await.unwrap();
        }
    }
}

#[tokio::test]
async fn the_dashboard_and_the_systems_list_run_as_many_statements_for_30_systems_as_for_3() {
    let log = statements();
    for app in App::each(Options::default()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let (officer, _) = app.signed_in("officer", Role::SecurityOfficer, None).await;
        let measure = async |expect_rows: usize| {
            let mut runs = Vec::new();
            // The first view after a change reads the changed systems; the
            // second reads nothing of them.
            for path in ["/dashboard", "/dashboard", "/systems", "/systems"] {
                // Work of earlier requests (a connection returned to its
                // pool) settles first.
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                let before = log.len();
                let r = officer.get(path).await;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                runs.push(log.since(before));
                assert_eq!(r.status, StatusCode::OK, "{}", app.backend);
                assert!(r.body.matches("業務システム ").count() >= expect_rows, "{}", app.backend);
            }
            runs
        };
        // A first view takes the one-time message of the sign-in.
        officer.get("/dashboard").await;
        add_systems(&app, dept, vendor, 0, 3).await;
        let three = measure(3).await;
        add_systems(&app, dept, vendor, 3, 27).await;
        let thirty = measure(30).await;
        let n = |runs: &[Vec<String>]| runs.iter().map(Vec::len).collect::<Vec<_>>();
        assert!(!three[0].is_empty() && !three[1].is_empty(), "{}: statements are counted", app.backend);
        assert_eq!(n(&three), n(&thirty), "{}: {three:#?} {thirty:#?}", app.backend);
        assert!(three[1].len() < three[0].len(), "{}: an unchanged ward is read from memory {three:#?}", app.backend);
        // Renamed through the store (as another instance would do it): the
        // list shows the new name at once.
        let s = app.store.system(system(&app, dept, Some(vendor), "改名前のシステム").await).await.unwrap().unwrap();
        assert!(officer.get("/systems").await.body.contains("改名前のシステム"), "{}", app.backend);
        let renamed = mamori_store::systems::SystemInput { name: "改名後のシステム".into(), ..s.input.clone() };
        app.store.update_system(&app.system_ctx(), &s, &renamed).await.unwrap();
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
