//! Asking for scans: a vendor's requests are spaced, whatever it sends at
//! once; the officer's are not.

use crate::checklist::supplied_system;
use crate::harness::{App, Options};
use mamori_core::identity::Role;
use mamori_store::scans::{Requested, ScanStatus};
use time::Duration;

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
        app.store.update_system(&app.system_ctx(), &before, &input).await.unwrap();
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
