//! Asking for scans: a vendor's requests are spaced, whatever it sends at
//! once; the officer's are not.

use crate::checklist::supplied_system;
use crate::harness::{App, Options};
use mamori_core::identity::{OrgKind, Role};
use mamori_store::scans::{AddressCheck, Requested, ScanStatus};
use time::Duration;

/// Takes up and finishes every queued scan as one worker would, without
/// contacting anything: (system, who asked) in the order taken.
async fn claimed_in_turn(app: &App) -> Vec<(i64, String)> {
    let mut order = Vec::new();
    while let Some(run) = app.store.claim_scan(app.now(), Duration::hours(1)).await.unwrap() {
        order.push((run.system_id, run.requested_by.clone()));
        app.store.finish_scan(&app.system_ctx(), &run, true, &Default::default(), "test").await.unwrap();
    }
    order
}

/// Runs the queued scan to its end, as the worker would, without contacting anything.
async fn finish_queued(app: &App) {
    let run = app.store.claim_scan(app.now(), Duration::hours(1)).await.unwrap().expect("a queued scan");
    let ctx = app.system_ctx();
    app.store.finish_scan(&ctx, &run, true, &Default::default(), "test").await.unwrap();
}

#[tokio::test]
async fn a_vendor_asking_twenty_times_at_once_queues_one_scan_and_again_only_after_ten_minutes() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let mut input = app.store.system(sys).await.unwrap().unwrap().input;
        input.urls = vec!["https://127.0.0.1:9/".into()];
        let before = app.store.system(sys).await.unwrap().unwrap();
        app.store.update_system(&app.system_ctx(), before.id, &input).await.unwrap();
        let page = format!("/systems/{sys}");
        let path = format!("/systems/{sys}/scans");
        vendor.get(&page).await;
        let tries: Vec<_> = (0..20).map(|_| vendor.post(&path, &[])).collect();
        for r in futures_util::future::join_all(tries).await {
            assert_eq!(r.location(), page, "{}", app.backend);
        }
        let runs = app.store.scans(sys, 100).await.unwrap();
        assert_eq!(runs.len(), 1, "{}: one scan queued of twenty requests", app.backend);
        finish_queued(&app).await;

        // Within ten minutes of the last, the vendor is told to wait and nothing is queued.
        app.clock.advance(Duration::seconds(9 * 60 + 59));
        vendor.get(&page).await;
        let r = vendor.post(&path, &[]).await;
        assert_eq!(r.location(), page);
        let shown = vendor.get(&page).await;
        assert!(shown.body.contains("前回の確認の依頼から間もないため"), "{}", shown.body);
        assert_eq!(app.store.scans(sys, 100).await.unwrap().len(), 1, "{}", app.backend);

        // Ten minutes on, the vendor may ask again.
        app.clock.advance(Duration::seconds(1));
        vendor.get(&page).await;
        vendor.post(&path, &[]).await;
        let runs = app.store.scans(sys, 100).await.unwrap();
        assert_eq!(runs.len(), 2, "{}", app.backend);
        assert_eq!(runs[0].status, ScanStatus::Queued);
        finish_queued(&app).await;

        // The officer is not spaced: a request right after is queued.
        let (officer, _) = app.signed_in("officer", Role::SecurityOfficer, None).await;
        officer.get(&page).await;
        officer.post(&path, &[]).await;
        assert_eq!(app.store.scans(sys, 100).await.unwrap().len(), 3, "{}", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn a_scan_left_running_by_a_stopped_worker_is_taken_up_again_after_the_timeout() {
    for app in App::each(Options::default()).await {
        let (sys, _) = supplied_system(&app, "文書管理システム").await;
        assert!(matches!(app.store.request_scan(&app.system_ctx(), sys, None).await.unwrap(), Requested::Queued(_)));
        let now = app.now();
        let first = app.store.claim_scan(now, Duration::minutes(20)).await.unwrap().expect("claimed");
        // The worker stops here. Another finds nothing to do until the run is stale.
        let soon = now + Duration::minutes(19);
        assert!(app.store.claim_scan(soon, Duration::minutes(20)).await.unwrap().is_none(), "{}", app.backend);
        let later = now + Duration::minutes(21);
        let again = app.store.claim_scan(later, Duration::minutes(20)).await.unwrap().expect("taken up again");
        assert_eq!(again.id, first.id, "{}", app.backend);
        assert!(app.store.claim_scan(later, Duration::minutes(20)).await.unwrap().is_none(), "taken once");
        app.close().await;
    }
}

/// The worker thought stopped was only slow: it finishes after another
/// took the run up. Its result is refused (it overwrote the newer one,
/// with a second event); the one holding the run finishes it.
#[tokio::test]
async fn a_scan_taken_up_again_is_finished_by_the_worker_that_holds_it_only() {
    for app in App::each(Options::default()).await {
        let (sys, _) = supplied_system(&app, "文書管理システム").await;
        app.store.request_scan(&app.system_ctx(), sys, None).await.unwrap();
        let now = app.now();
        let slow = app.store.claim_scan(now, Duration::minutes(20)).await.unwrap().expect("claimed");
        let later = now + Duration::minutes(21);
        let holder = app.store.claim_scan(later, Duration::minutes(20)).await.unwrap().expect("taken up again");
        let ctx = app.system_ctx();
        let late = app.store.finish_scan(&ctx, &slow, false, &Default::default(), "slow").await;
        assert!(matches!(late, Err(mamori_store::StoreError::Stale)), "{}: {late:?}", app.backend);
        app.store.finish_scan(&ctx, &holder, true, &Default::default(), "holder").await.unwrap();
        let runs = app.store.scans(sys, 5).await.unwrap();
        assert_eq!(runs[0].status.as_str(), "done", "{}: the holder's result", app.backend);
        let finished = app.audit_actions().await.iter().filter(|a| *a == "scan.finished").count();
        assert_eq!(finished, 1, "{}: one event", app.backend);
        let again = app.store.finish_scan(&ctx, &holder, true, &Default::default(), "twice").await;
        assert!(matches!(again, Err(mamori_store::StoreError::Stale)), "{}: once only", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn the_officer_confirms_a_moved_address_and_a_vendor_cannot() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let host = "www.vendor.example";
        let now = app.now();
        let first = app.store.check_scan_address(now, sys, host, ("203.0.113.5", "public"), true).await.unwrap();
        assert_eq!(first, AddressCheck::First);
        let same = app.store.check_scan_address(now, sys, host, ("198.51.100.9", "public"), true).await.unwrap();
        assert_eq!(same, AddressCheck::Same, "a move between public addresses is no reach into the ward");
        let moved = app.store.check_scan_address(now, sys, host, ("10.1.2.3", "10.1.2.0/24"), true).await.unwrap();
        assert!(matches!(moved, AddressCheck::Moved { .. }), "{}", app.backend);
        let page = format!("/systems/{sys}");
        let path = format!("/systems/{sys}/scan-addresses");

        // The vendor sees no notice and cannot confirm.
        let shown = vendor.get(&page).await;
        assert!(!shown.body.contains("10.1.2.3"), "{}", shown.body);
        let r = vendor.post(&path, &[("host", host)]).await;
        assert_eq!(r.status, reqwest::StatusCode::NOT_FOUND, "{}", app.backend);
        assert!(app.store.scan_addresses(sys).await.unwrap()[0].pending_address.is_some());

        let (officer, _) = app.signed_in("officer", Role::SecurityOfficer, None).await;
        let shown = officer.get(&page).await;
        assert!(shown.body.contains("203.0.113.5 (public) → 10.1.2.3 (10.1.2.0/24)"), "{}", shown.body);
        assert!(shown.body.contains("name=\"address\" value=\"10.1.2.3\""), "the form carries what it shows");
        let r = officer.post(&path, &[("host", host), ("address", "10.1.2.3")]).await;
        assert_eq!(r.location(), page, "{}", app.backend);
        let a = &app.store.scan_addresses(sys).await.unwrap()[0];
        assert_eq!(
            (a.address.as_str(), a.network.as_str(), a.pending_address.as_deref()),
            ("10.1.2.3", "10.1.2.0/24", None)
        );
        assert!(app.audit_actions().await.contains(&"scan.address_confirmed".to_owned()));
        // Confirmed, the same network is scanned again; nothing is left to confirm.
        let again = app.store.check_scan_address(now, sys, host, ("10.1.2.3", "10.1.2.0/24"), true).await.unwrap();
        assert_eq!(again, AddressCheck::Same);
        officer.get(&page).await;
        let r = officer.post(&path, &[("host", host), ("address", "10.1.2.3")]).await;
        assert_eq!(r.location(), page, "{}", app.backend);
        assert!(officer.get(&page).await.body.contains("承認を待っているアドレスはありません"));
        app.close().await;
    }
}

/// The office confirms the new address its page showed, and no other: a
/// scan that found the name at yet another address meanwhile had that
/// one promoted, unseen, under an event naming the first. Now nothing is
/// confirmed and the page says the name moved again; the address shown
/// now is confirmed from the page that shows it.
#[tokio::test]
async fn a_name_that_moved_again_after_the_page_was_shown_is_not_confirmed_unseen() {
    for app in App::each(Options::default()).await {
        let (sys, _) = supplied_system(&app, "文書管理システム").await;
        let host = "www.vendor.example";
        let now = app.now();
        app.store.check_scan_address(now, sys, host, ("203.0.113.5", "public"), true).await.unwrap();
        app.store.check_scan_address(now, sys, host, ("10.1.2.3", "10.1.2.0/24"), true).await.unwrap();
        let (officer, _) = app.signed_in("officer", Role::SecurityOfficer, None).await;
        let page = format!("/systems/{sys}");
        let path = format!("/systems/{sys}/scan-addresses");
        assert!(officer.get(&page).await.body.contains("→ 10.1.2.3 (10.1.2.0/24)"), "{}", app.backend);
        app.store.check_scan_address(now, sys, host, ("10.7.7.7", "10.7.7.0/24"), true).await.unwrap();
        let r = officer.post(&path, &[("host", host), ("address", "10.1.2.3")]).await;
        assert_eq!(r.location(), page, "{}", app.backend);
        let shown = officer.get(&page).await.body;
        assert!(shown.contains("さらに別のアドレスを指すようになりました"), "{}: {shown}", app.backend);
        let a = &app.store.scan_addresses(sys).await.unwrap()[0];
        assert_eq!(
            (a.address.as_str(), a.pending_address.as_deref()),
            ("203.0.113.5", Some("10.7.7.7")),
            "{}",
            app.backend
        );
        assert!(!app.audit_actions().await.contains(&"scan.address_confirmed".to_owned()), "{}", app.backend);
        let r = officer.post(&path, &[("host", host), ("address", "10.7.7.7")]).await;
        assert_eq!(r.location(), page, "{}", app.backend);
        assert_eq!(app.store.scan_addresses(sys).await.unwrap()[0].address, "10.7.7.7", "{}", app.backend);
        app.close().await;
    }
}

/// A name's first address found by a scan the office did not ask for is
/// recorded as nowhere, the address pending: the officer is shown where
/// the name points and confirms it (the vendor sees nothing of it); a
/// later such scan keeps it pending at the address it found.
#[tokio::test]
async fn a_first_address_the_office_did_not_vouch_for_waits_on_the_system_page_for_the_officer() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let host = "www.vendor.example";
        let now = app.now();
        let check = |address: &'static str| {
            let store = app.store.clone();
            async move { store.check_scan_address(now, sys, host, (address, "10.1.2.0/24"), false).await.unwrap() }
        };
        assert_eq!(check("10.1.2.3").await, AddressCheck::Unconfirmed, "{}", app.backend);
        assert_eq!(check("10.1.2.4").await, AddressCheck::Unconfirmed, "{}: still", app.backend);
        let page = format!("/systems/{sys}");
        let shown = vendor.get(&page).await.body;
        assert!(!shown.contains("10.1.2.4"), "{}: {shown}", app.backend);
        let (officer, _) = app.signed_in("officer", Role::SecurityOfficer, None).await;
        let shown = officer.get(&page).await.body;
        assert!(
            shown.contains("www.vendor.example は 10.1.2.4 (10.1.2.0/24) を指しています"),
            "{}: {shown}",
            app.backend
        );
        assert!(!shown.contains("確認先のアドレス"), "{}: nothing recorded yet", app.backend);
        let r =
            officer.post(&format!("/systems/{sys}/scan-addresses"), &[("host", host), ("address", "10.1.2.4")]).await;
        assert_eq!(r.location(), page, "{}", app.backend);
        assert!(
            officer.get(&page).await.body.contains("www.vendor.example: 10.1.2.4 (10.1.2.0/24)"),
            "{}",
            app.backend
        );
        assert_eq!(check("10.1.2.4").await, AddressCheck::Same, "{}", app.backend);
        app.close().await;
    }
}

/// The address a name had at its system's first scan is taken as the one
/// registered: the office sees each name's recorded address and network on
/// the system page, to notice a name pointed somewhere it should not be
/// before that scan; the vendor sees none of it.
#[tokio::test]
async fn the_office_sees_the_address_each_name_was_first_scanned_at_and_a_vendor_does_not() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let host = "www.vendor.example";
        let first =
            app.store.check_scan_address(app.now(), sys, host, ("10.9.8.7", "10.9.8.0/24"), true).await.unwrap();
        assert_eq!(first, AddressCheck::First);
        let (officer, _) = app.signed_in("officer", Role::SecurityOfficer, None).await;
        let page = officer.get(&format!("/systems/{sys}")).await.body;
        assert!(page.contains("確認先のアドレス"), "{}: {page}", app.backend);
        assert!(page.contains("www.vendor.example: 10.9.8.7 (10.9.8.0/24)"), "{}", app.backend);
        let page = vendor.get(&format!("/systems/{sys}")).await.body;
        assert!(!page.contains("10.9.8.7") && !page.contains("確認先のアドレス"), "{}", app.backend);
        app.close().await;
    }
}

/// A vendor may ask for a scan every ten minutes, and every run was kept
/// for good with its report (in the database and every backup): 144 a day
/// for each system. The newest 200 runs of a system are kept; an older one
/// goes as the next finishes, and the event says how many went.
#[tokio::test]
async fn a_system_keeps_its_newest_two_hundred_scans_and_no_more() {
    use mamori_store::scans::KEPT_RUNS;
    for app in App::each(Options::default()).await {
        let (sys, _) = supplied_system(&app, "文書管理システム").await;
        let ctx = app.system_ctx();
        let mut ids = Vec::new();
        for _ in 0..KEPT_RUNS + 5 {
            app.store.request_scan(&ctx, sys, None).await.unwrap();
            let run = app.store.claim_scan(app.now(), Duration::hours(1)).await.unwrap().expect("a queued scan");
            ids.push(run.id);
            app.store.finish_scan(&ctx, &run, true, &Default::default(), "test").await.unwrap();
        }
        let kept: Vec<i64> = app.store.scans(sys, 1000).await.unwrap().iter().map(|r| r.id).collect();
        let newest: Vec<i64> = ids.iter().rev().take(KEPT_RUNS as usize).copied().collect();
        assert_eq!(kept, newest, "{}: the newest 200, newest first", app.backend);
        let last = app.store.audit_recent(1).await.unwrap().remove(0).record;
        assert!(
            last.action == "scan.finished" && last.changes.contains("\"pruned\":1"),
            "{}: {}",
            app.backend,
            last.changes
        );
        app.close().await;
    }
}

/// The daily schedule queues every system's scan at once; a person asking
/// meanwhile waits behind none of them. A new request is taken first, and
/// the schedule's waiting run of the system a person asks for becomes
/// theirs and goes first too (one run, not two; twenty requests at once
/// take it over once, with one event). Before, the queue was
/// first come, first served, and the vendor on the page waited for the
/// whole ward's nightly runs.
#[tokio::test]
async fn a_persons_scan_goes_before_the_daily_schedule() {
    use mamori_core::audit::{Actor, Origin};
    use mamori_store::identity::Ctx;
    use mamori_store::scans::SCHEDULED_BY;
    for app in App::each(Options::default()).await {
        let (a, vendor) = supplied_system(&app, "システムA").await;
        let s = app.store.system(a).await.unwrap().unwrap();
        let (dept, vendor_org) = (s.input.department_id, s.input.vendor_id);
        let b = crate::checklist::system(&app, dept, vendor_org, "システムB").await;
        let c = crate::checklist::system(&app, dept, vendor_org, "システムC").await;
        let d = crate::checklist::system(&app, dept, vendor_org, "システムD").await;
        for id in [b, d] {
            let before = app.store.system(id).await.unwrap().unwrap();
            let input =
                mamori_store::systems::SystemInput { urls: vec!["https://127.0.0.1:9/".into()], ..before.input };
            app.store.update_system(&app.system_ctx(), id, &input).await.unwrap();
        }
        let schedule = Ctx {
            now: app.now(),
            actor: Actor { account_id: None, login: SCHEDULED_BY.into() },
            origin: Origin::default(),
            standing: None,
        };
        for id in [a, b, c] {
            assert!(matches!(app.store.request_scan(&schedule, id, None).await.unwrap(), Requested::Queued(_)));
        }
        vendor.get(&format!("/systems/{d}")).await;
        vendor.post(&format!("/systems/{d}/scans"), &[]).await;
        // Twenty at once on the scheduled run: taken over once.
        vendor.get(&format!("/systems/{b}")).await;
        let path = format!("/systems/{b}/scans");
        let tries: Vec<_> = (0..20).map(|_| vendor.post(&path, &[])).collect();
        futures_util::future::join_all(tries).await;
        let runs_b = app.store.scans(b, 10).await.unwrap();
        assert_eq!(runs_b.len(), 1, "{}: the scheduled run taken over", app.backend);
        assert_eq!(runs_b[0].requested_by, "vendor-a", "{}", app.backend);
        let order = claimed_in_turn(&app).await;
        let by = |id: i64, who: &str| (id, who.to_owned());
        assert_eq!(
            order,
            [by(b, "vendor-a"), by(d, "vendor-a"), by(a, SCHEDULED_BY), by(c, SCHEDULED_BY)],
            "{}",
            app.backend
        );
        let requested = app.audit_actions().await.iter().filter(|a| *a == "scan.requested").count();
        assert_eq!(requested, 5, "{}: three scheduled, the vendor's two", app.backend);
        app.close().await;
    }
}

/// One person asking for many systems' scans keeps no one else waiting
/// behind them all: the persons' requests take turns (each person's first,
/// then each one's second…), in the order each person asked. Before, the
/// queue was first come, first served among persons, and a vendor that
/// asked for its one system waited for another vendor's whole list.
#[tokio::test]
async fn persons_scans_take_turns_so_one_asking_for_many_keeps_no_one_waiting_behind_them_all() {
    for app in App::each(Options::default()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let (va, vb) = (app.org("ベンダーA", OrgKind::Vendor).await, app.org("ベンダーB", OrgKind::Vendor).await);
        let with_url = async |vendor: i64, name: &str| {
            let id = crate::checklist::system(&app, dept, Some(vendor), name).await;
            let before = app.store.system(id).await.unwrap().unwrap();
            let input =
                mamori_store::systems::SystemInput { urls: vec!["https://127.0.0.1:9/".into()], ..before.input };
            app.store.update_system(&app.system_ctx(), id, &input).await.unwrap();
            id
        };
        let mut many = Vec::new();
        for name in ["システムA1", "システムA2", "システムA3"] {
            many.push(with_url(va, name).await);
        }
        let one = with_url(vb, "システムB1").await;
        let (a, _) = app.signed_in("vendor-a", Role::Vendor, Some(va)).await;
        let (b, _) = app.signed_in("vendor-b", Role::Vendor, Some(vb)).await;
        for (c, id) in many.iter().map(|id| (&a, *id)).chain([(&b, one)]) {
            c.get(&format!("/systems/{id}")).await;
            let r = c.post(&format!("/systems/{id}/scans"), &[]).await;
            assert_eq!(r.status, reqwest::StatusCode::SEE_OTHER, "{}: {id}: {}", app.backend, r.body);
        }
        let order = claimed_in_turn(&app).await;
        let by = |id: i64, who: &str| (id, who.to_owned());
        assert_eq!(
            order,
            [by(many[0], "vendor-a"), by(one, "vendor-b"), by(many[1], "vendor-a"), by(many[2], "vendor-a")],
            "{}",
            app.backend
        );
        app.close().await;
    }
}

/// A retired (廃止) system is scanned neither on request nor by the
/// schedule: its servers went with its disposal record, and its addresses
/// may be another's by now. Its page offers no scan, and a request sent
/// anyway queues nothing and says why. Before, the vendor's or the
/// officer's request scanned them.
#[tokio::test]
async fn a_retired_system_is_never_scanned_on_request() {
    for app in App::each(Options::default()).await {
        let (live, vendor) = supplied_system(&app, "稼働中システム").await;
        let before = app.store.system(live).await.unwrap().unwrap();
        let retired = mamori_store::systems::SystemInput {
            name: "廃止済みシステム".into(),
            phase: mamori_core::checklist::Phase::Retired,
            urls: vec!["https://127.0.0.1:9/".into()],
            ..before.input.clone()
        };
        let version = app.store.catalog_versions().await.unwrap()[0].id;
        let gone = app.store.create_system(&app.ctx(), &retired, version).await.unwrap();
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        for c in [&vendor, &officer] {
            let page = c.get(&format!("/systems/{gone}")).await.body;
            assert!(!page.contains(&format!("action=\"/systems/{gone}/scans\"")), "{}: no scan offered", app.backend);
            let r = c.post(&format!("/systems/{gone}/scans"), &[]).await;
            assert_eq!(r.status, reqwest::StatusCode::SEE_OTHER, "{}", app.backend);
            let shown = c.get(r.location()).await.body;
            assert!(shown.contains("廃止されたシステムは確認しません"), "{}: {shown}", app.backend);
        }
        assert!(app.store.scans(gone, 10).await.unwrap().is_empty(), "{}: nothing queued", app.backend);
        assert!(!app.audit_actions().await.contains(&"scan.requested".to_owned()), "{}", app.backend);
        app.close().await;
    }
}

/// No.57 answered 対応済 while the last scan found TLS 1.0 accepted: the
/// system page flagged it, until the vendor asked for another scan. A run
/// queued, running or failed has no verdicts, and the page and the item's
/// page showed none (the workbook, the same moment, said 不適合). The
/// newest finished scan's verdicts stand until another finishes.
#[tokio::test]
async fn a_scan_queued_or_failed_since_hides_no_verdict_of_the_last_finished_one() {
    use mamori_core::checklist::AnswerInput;
    use mamori_core::verification::{CheckId, CheckResult, ScanReport, TargetReport, Verdict};
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let mut input = app.store.system(sys).await.unwrap().unwrap().input;
        input.urls = vec!["https://127.0.0.1:9/".into()];
        input.attrs.web_system = true;
        app.store.update_system(&app.system_ctx(), sys, &input).await.unwrap();
        app.store.save_answer(&app.ctx(), sys, 57, &AnswerInput::done("TLS 1.2 以上のみ")).await.unwrap();
        let check =
            CheckResult::new(CheckId::TlsVersions, &[57], Verdict::Fail, "accepts TLS 1.0", serde_json::json!({}));
        let report = ScanReport {
            targets: vec![TargetReport { target: "https://127.0.0.1:9/".into(), checks: vec![check] }],
            errors: vec![],
        };
        app.store.request_scan(&app.ctx(), sys, None).await.unwrap();
        let run = app.store.claim_scan(app.now(), Duration::hours(1)).await.unwrap().expect("the queued scan");
        app.store.finish_scan(&app.system_ctx(), &run, true, &report, "test").await.unwrap();
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let flagged = async || {
            let list = officer.get(&format!("/systems/{sys}?show=contradiction")).await.body;
            let item = officer.get(&format!("/systems/{sys}/items/57")).await.body;
            (
                list.contains("/items/57\"") && list.contains("回答(対応済)と一致しません"),
                item.contains("accepts TLS 1.0"),
            )
        };
        assert_eq!(flagged().await, (true, true), "{}: the finished scan's verdict", app.backend);
        // The vendor asks again: queued, then failed.
        app.clock.advance(Duration::minutes(11));
        vendor.get(&format!("/systems/{sys}")).await;
        vendor.post(&format!("/systems/{sys}/scans"), &[]).await;
        let queued = app.store.scans(sys, 1).await.unwrap().remove(0);
        assert_eq!(queued.status, ScanStatus::Queued, "{}", app.backend);
        assert_eq!(flagged().await, (true, true), "{}: while queued", app.backend);
        let run = app.store.claim_scan(app.now(), Duration::hours(1)).await.unwrap().expect("the vendor's scan");
        app.store.finish_scan(&app.system_ctx(), &run, false, &Default::default(), "refused").await.unwrap();
        assert_eq!(app.store.scans(sys, 1).await.unwrap()[0].status, ScanStatus::Failed, "{}", app.backend);
        assert_eq!(flagged().await, (true, true), "{}: once failed", app.backend);
        app.close().await;
    }
}
