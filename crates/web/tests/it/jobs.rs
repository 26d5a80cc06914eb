//! The jobs page: every run with its state, attempts, instance and error,
//! in Japanese; the counts of waiting, retrying and failed runs; for those
//! who read the audit log only.

use crate::harness::{App, Options};
use mamori_core::identity::{OrgKind, Role};
use mamori_core::jobs::JobKind;
use time::Duration;

#[tokio::test]
async fn the_jobs_page_shows_each_run_its_attempts_and_errors_in_japanese_to_those_who_read_the_audit_log() {
    for app in App::each(Options::default()).await {
        let s = &app.store;
        let now = app.now();
        s.queue_job(now, JobKind::VerifyAudit, "2026-12-04", now).await.unwrap();
        s.queue_job(now, JobKind::Backup, "2026-12-04", now).await.unwrap();
        s.queue_job(now, JobKind::DisableInactive, "2026-12-05", now + Duration::days(1)).await.unwrap();
        let done = s.claim_job(now, "web-1:4242").await.unwrap().unwrap();
        s.finish_job(now, &done, Ok("12 件を検証 (verified)".into())).await.unwrap();
        let failing = s.claim_job(now, "web-2:77").await.unwrap().unwrap();
        s.finish_job(now, &failing, Err("バックアップ先に書けません <disk full>".into())).await.unwrap();

        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let page = officer.get("/jobs").await;
        assert_eq!(page.status, 200, "{}", app.backend);
        let body = &page.body;
        for shown in [
            "監査ログの検証",
            "バックアップ",
            "長期未使用アカウントの無効化",
            "完了",
            "待機中",
            "web-1:4242",
            "12 件を検証",
            "1 / 4",
            "2026-12-05",
        ] {
            assert!(body.contains(shown), "{}: {shown}", app.backend);
        }
        // The error is shown escaped, on a row marked for attention.
        assert!(body.contains("&#60;disk full&#62;") && !body.contains("<disk full>"), "{}", app.backend);
        assert!(body.contains(r#"<tr class="attention"><td>バックアップ</td>"#), "{}", app.backend);
        for code in ["audit.verify", "backup</td>", "accounts.disable_inactive", ">queued<", ">done<"] {
            assert!(!body.contains(code), "{}: shows {code}", app.backend);
        }
        // Counts: the retrying backup; the disabling is not due yet.
        let dd = |label: &str| {
            let at = body.find(&format!("<dt>{label}</dt>")).unwrap_or_else(|| panic!("{label}"));
            body[at..].split("<dd").nth(1).unwrap().split('>').nth(1).unwrap().split('<').next().unwrap().to_owned()
        };
        assert_eq!((dd("待機中"), dd("再試行待ち"), dd("実行中")), ("0".into(), "1".into(), "0".into()));
        assert!(officer.get("/alerts").await.body.contains(r#"href="/jobs""#), "linked from the alerts");

        let (auditor, _) = app.signed_in("auditor1", Role::Auditor, None).await;
        assert_eq!(auditor.get("/jobs").await.status, 200, "{}", app.backend);
        let vendor_org = app.org("ベンダーA", OrgKind::Vendor).await;
        let (vendor, _) = app.signed_in("vendor1", Role::Vendor, Some(vendor_org)).await;
        let refused = vendor.get("/jobs").await;
        assert_eq!(refused.status, 404, "{}: as any page not theirs", app.backend);
        assert!(!refused.body.contains("web-1:4242"));
        app.close().await;
    }
}
