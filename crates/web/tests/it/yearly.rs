//! Item 68's yearly report over HTTPS: the vendor and the department sign
//! off their reviews, the office receives the report once, the document
//! comes out as a workbook and a print page, and reminders reach every
//! dashboard from thirty days before the due date until it is received.

use crate::checklist::supplied_system;
use crate::harness::{App, Client, Options};
use calamine::{Data, Reader, Xlsx};
use mamori_core::identity::{OrgKind, Role};
use mamori_core::jst::JST;
use reqwest::StatusCode;
use time::Duration;

async fn department_of(app: &App, name: &str) -> i64 {
    app.store.organisations().await.unwrap().into_iter().find(|o| o.name == name).unwrap().id
}

fn texts(bytes: Vec<u8>) -> Vec<String> {
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range("年次報告").unwrap();
    sheet
        .rows()
        .flat_map(|r| r.iter().filter_map(|c| if let Data::String(s) = c { Some(s.clone()) } else { None }))
        .collect()
}

async fn sign(c: &Client, sys: i64, year: i32, kind: &str, comment: &str) -> crate::harness::Res {
    c.get(&format!("/systems/{sys}/yearly?year={year}")).await;
    c.post(&format!("/systems/{sys}/signoffs"), &[("year", &year.to_string()), ("kind", kind), ("comment", comment)])
        .await
}

#[tokio::test]
async fn the_yearly_report_carries_the_signoffs_open_items_and_a_signature_block_and_is_received_once() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let ctx = app.ctx();
        let open = mamori_core::checklist::AnswerInput {
            status: mamori_core::checklist::AnswerStatus::Partial,
            measures: "一部の端末で対応済".into(),
            planned: Some(time::macros::date!(2020 - 01 - 31)),
            reason: String::new(),
        };
        app.store.save_answer(&ctx, sys, 4, &open).await.unwrap();
        let dept = department_of(&app, "総務課").await;
        let (staff, _) = app.signed_in("dept1", Role::Department, Some(dept)).await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let year = app.now().to_offset(JST).year();

        let page = vendor.get(&format!("/systems/{sys}/yearly")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", app.backend);
        assert!(page.body.contains(&format!("年次報告 (No.68) {year}")), "this year by default");
        assert!(page.body.contains("システムの「ソフトウェア構成」で登録します"), "no software listed yet");
        // Once listed, the inventory stands in the report with its state that day.
        let input = mamori_core::inventory::ComponentInput::parse(&mamori_core::inventory::ComponentFields {
            kind: "os",
            product: "CentOS",
            version: "7.9",
            support_end: "2024-06-30",
            reason: "移行は来年度",
            ..Default::default()
        })
        .unwrap();
        app.store.save_component(&ctx, sys, None, &input).await.unwrap();
        let r = sign(&vendor, sys, year, "admin_accounts", "不要な管理者IDはなし").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let r = sign(&staff, sys, year, "logs", "四半期ごとに確認、異常なし").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let bad = sign(&vendor, sys, year, "everything", "").await;
        assert_eq!(bad.status, StatusCode::OK);
        assert!(bad.body.contains("確認したことを選んでください") && bad.body.contains("コメント"), "{}", bad.body);
        assert_eq!(app.store.signoffs(sys, year).await.unwrap().len(), 2, "the bad one changed nothing");
        // A year still to come offers no form, and takes no sign-off (before,
        // 2031's review could be marked done in advance).
        let next = year + 1;
        let page = vendor.get(&format!("/systems/{sys}/yearly?year={next}")).await;
        assert!(!page.body.contains("/signoffs"), "{}: no form for {next}", app.backend);
        let ahead = sign(&vendor, sys, next, "admin_accounts", "先に済ませました").await;
        assert_eq!(ahead.status, StatusCode::OK, "{}", app.backend);
        assert!(ahead.body.contains("来年以降の年の確認は記録できません"), "{}", ahead.body);
        assert!(app.store.signoffs(sys, next).await.unwrap().is_empty(), "{}", app.backend);

        // Only the security office records the receipt, once.
        vendor.get(&format!("/systems/{sys}/yearly")).await;
        let refused = vendor.post(&format!("/systems/{sys}/yearly/received"), &[("year", &year.to_string())]).await;
        assert_ne!(refused.status, StatusCode::SEE_OTHER);
        officer.get(&format!("/systems/{sys}/yearly")).await;
        let r = receive(&officer, sys, year).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        officer.get(&format!("/systems/{sys}/yearly")).await;
        receive(&officer, sys, year).await;
        let page = officer.get(&format!("/systems/{sys}/yearly")).await;
        assert!(page.body.contains("この年の年次報告は受領済みです"), "{}", page.body);
        assert!(page.body.contains("officer1"), "received by");

        let xlsx =
            officer.http.get(format!("{}/systems/{sys}/yearly.xlsx?year={year}", app.base)).send().await.unwrap();
        assert_eq!(xlsx.status(), StatusCode::OK);
        let cells = texts(xlsx.bytes().await.unwrap().to_vec());
        for expected in [
            "管理者アカウントの棚卸し",
            "不要な管理者IDはなし",
            "vendor-a",
            "四半期ごとに確認、異常なし",
            "dept1",
            "一部対応",
            "一部の端末で対応済",
            "2020-01-31",
            "超過",
            "確認欄",
            "報告者 (事業者)",
            "CentOS",
            "2024-06-30",
            "サポート終了",
            "移行は来年度",
            "6. 未対応の脆弱性情報 (No.63)",
            // Items nobody answered this round are open too (before, the
            // section listed answers only).
            "5. 未対応・一部対応・未回答の項目",
            "未回答",
        ] {
            assert!(cells.iter().any(|c| c == expected), "{expected} in {cells:?}");
        }
        let print = staff.get(&format!("/systems/{sys}/yearly/report?year={year}")).await;
        assert!(print.body.contains("<table class=\"signatures\">") && print.body.contains("CentOS"));
        let other = app.org("ベンダーB", OrgKind::Vendor).await;
        let (stranger, _) = app.signed_in("vendor-b", Role::Vendor, Some(other)).await;
        for path in ["yearly", "yearly.xlsx", "yearly/report"] {
            assert_eq!(stranger.get(&format!("/systems/{sys}/{path}")).await.status, StatusCode::NOT_FOUND, "{path}");
        }
        stranger.get("/dashboard").await;
        let r = stranger
            .post(
                &format!("/systems/{sys}/signoffs"),
                &[("year", &year.to_string()), ("kind", "logs"), ("comment", "x")],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "another vendor's system does not exist for them");
        assert_eq!(app.store.signoffs(sys, year).await.unwrap().len(), 2);
        let actions = app.audit_actions().await;
        assert_eq!(actions.iter().filter(|a| *a == "system.review_signed_off").count(), 2);
        assert_eq!(actions.iter().filter(|a| *a == "yearly_report.received").count(), 1);
        app.close().await;
    }
}

/// Item 68 asks for the last vulnerability diagnosis: the report section
/// read only files uploaded to No.78, and said 「登録されていません」 when
/// the vendor linked its diagnosis report from the library (which the
/// phase gate counts as evidence). And it listed any file attached to
/// No.78 as the diagnosis, reviewed or not (the office receiving the
/// report froze the vendor's claim): each file now says where the office's
/// review of it stands.
#[tokio::test]
async fn the_yearly_report_names_the_diagnosis_report_uploaded_or_linked_and_whether_the_office_approved_it() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let mut input = app.store.system(sys).await.unwrap().unwrap().input;
        input.attrs.web_system = true;
        app.store.update_system(&app.system_ctx(), sys, &input).await.unwrap();
        let vendor_org = department_of(&app, "ベンダーA").await;
        let ctx = app.ctx();
        let year = app.now().to_offset(JST).year();
        let report = async || {
            let r = vendor.http.get(format!("{}/systems/{sys}/yearly.xlsx?year={year}", app.base)).send().await;
            texts(r.unwrap().bytes().await.unwrap().to_vec())
        };
        assert!(report().await.iter().any(|c| c == "登録されていません"), "{}: nothing yet", app.backend);

        let doc = mamori_store::library::NewDocFile {
            original_name: "shindan-2026.pdf",
            content_type: "application/pdf",
            sha256: "ab12",
            expires_on: None,
            content: b"%PDF-1.4",
        };
        let id = app.store.add_document(&ctx, vendor_org, "脆弱性診断報告書", &doc).await.unwrap();
        app.store.link_document(&ctx, id, vendor_org, sys, 78, false).await.unwrap();
        let cells = report().await;
        assert!(cells.iter().any(|c| c == "脆弱性診断報告書 (shindan-2026.pdf)"), "{}: {cells:?}", app.backend);
        assert!(cells.iter().any(|c| c == "ab12"), "{cells:?}");
        assert!(!cells.iter().any(|c| c == "登録されていません"), "{cells:?}");

        let file = mamori_store::evidence::NewEvidence {
            number: 78,
            original_name: "追加診断.pdf",
            content_type: "application/pdf",
            sha256: "cd34",
            expires_on: None,
            content: b"%PDF-1.4",
            replaces: None,
            by: None,
        };
        app.store.add_evidence(&ctx, sys, &file).await.unwrap();
        let cells = report().await;
        for name in ["追加診断.pdf", "脆弱性診断報告書 (shindan-2026.pdf)"] {
            assert!(cells.iter().any(|c| c == name), "{name}: {cells:?}");
        }
        assert!(cells.iter().any(|c| c == "審査"), "{}: the column: {cells:?}", app.backend);
        assert_eq!(cells.iter().filter(|c| *c == "審査待ち").count(), 2, "{}: {cells:?}", app.backend);
        assert!(!cells.iter().any(|c| c == "承認"), "{}: {cells:?}", app.backend);

        crate::checklist::answer_all(&app, sys).await;
        app.store.submit_system(&ctx, sys).await.unwrap();
        let a = app.store.answer(sys, 1, 78).await.unwrap().unwrap();
        app.store.decide(&ctx, sys, 78, &a.seen(), mamori_core::checklist::Review::Approved, "").await.unwrap();
        let cells = report().await;
        assert_eq!(cells.iter().filter(|c| *c == "承認").count(), 2, "{}: {cells:?}", app.backend);
        assert!(!cells.iter().any(|c| c == "審査待ち"), "{}: {cells:?}", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn reminders_reach_every_dashboard_from_thirty_days_before_until_the_report_is_received() {
    for app in App::each(Options::default()).await {
        let (sys, _) = supplied_system(&app, "文書管理システム").await;
        let dept = department_of(&app, "総務課").await;
        let vendor_org = department_of(&app, "ベンダーA").await;
        let today = app.now().to_offset(JST).date();
        let this_month = u8::from(today.month());
        let later_month = (this_month + 2 - 1) % 12 + 1;
        let ctx = app.ctx();
        let mut clients = Vec::new();
        for (login, role, org) in [
            ("vendor-x", Role::Vendor, Some(vendor_org)),
            ("dept1", Role::Department, Some(dept)),
            ("officer1", Role::SecurityOfficer, None),
        ] {
            clients.push(app.signed_in(login, role, org).await.0);
        }
        let reminded =
            |body: &str| body.contains("年次報告の期限") && body.contains(&format!("/systems/{sys}/yearly?year="));

        app.store.set_report_month(&ctx, sys, later_month).await.unwrap();
        for c in &clients {
            assert!(!reminded(&c.get("/dashboard").await.body), "due in two months: no reminder yet");
        }
        app.store.set_report_month(&ctx, sys, this_month).await.unwrap();
        for c in &clients {
            let body = c.get("/dashboard").await.body;
            assert!(reminded(&body) && body.contains("あと"), "{}: {body}", app.backend);
        }

        // Past the due date: overdue, for everyone who sees the system.
        app.clock.advance(Duration::days(40));
        let (officer, _) = app.signed_in("officer2", Role::SecurityOfficer, None).await;
        let body = officer.get("/dashboard").await.body;
        assert!(reminded(&body) && body.contains("日超過"), "{body}");
        let year = today.year();
        let seen = app.store.system(sys).await.unwrap().unwrap().revision;
        app.store.receive_yearly(&ctx, sys, year, None, seen).await.unwrap();
        let body = officer.get("/dashboard").await.body;
        assert!(!body.contains(&format!("/systems/{sys}/yearly?year={year}")), "received: no more reminder");
        app.close().await;
    }
}

/// A received report does not change afterwards. It was made again at
/// each view: a party that signed off the year after the receipt, or
/// answered an open item (not yet approved), or a scan run since, changed
/// what the office had received, and nothing showed it. The report is kept
/// as it was at the receipt and shown from that; the year takes no sign-off
/// more, and its form is gone.
#[tokio::test]
async fn a_received_yearly_report_stays_as_it_was_received() {
    use mamori_core::checklist::{AnswerInput, AnswerStatus};
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let ctx = app.ctx();
        let open = AnswerInput {
            status: AnswerStatus::Partial,
            measures: "一部の端末で対応済".into(),
            planned: Some(time::macros::date!(2020 - 01 - 31)),
            reason: String::new(),
        };
        app.store.save_answer(&ctx, sys, 4, &open).await.unwrap();
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let year = app.now().to_offset(JST).year();
        let path = format!("/systems/{sys}/yearly?year={year}");
        officer.get(&path).await;
        let r = receive(&officer, sys, year).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let received = officer.get(&path).await.body;
        assert!(received.contains("一部の端末で対応済"), "{}", app.backend);

        // After the receipt: a sign-off, the open item answered, a scan.
        let page = vendor.get(&path).await.body;
        assert!(!page.contains("/signoffs"), "{}: no sign-off form for a received year", app.backend);
        let r = sign(&vendor, sys, year, "logs", "後から記録").await;
        assert_eq!(r.status, StatusCode::OK, "{}", app.backend);
        assert!(r.body.contains("この年の年次報告は受領済みです"), "{}: {}", app.backend, r.body);
        assert!(app.store.signoffs(sys, year).await.unwrap().is_empty(), "{}: nothing recorded", app.backend);
        let done = AnswerInput { status: AnswerStatus::Done, measures: "全端末で対応".into(), ..open };
        app.store.save_answer(&ctx, sys, 4, &done).await.unwrap();
        app.store.request_scan(&ctx, sys, None).await.unwrap();
        let run = app.store.claim_scan(app.now(), Duration::hours(1)).await.unwrap().expect("the queued scan");
        let check = mamori_core::verification::CheckResult::new(
            mamori_core::verification::CheckId::TlsVersions,
            &[57],
            mamori_core::verification::Verdict::Pass,
            "TLS 1.2 and 1.3 only",
            serde_json::json!({}),
        );
        let report = mamori_core::verification::ScanReport {
            targets: vec![mamori_core::verification::TargetReport {
                target: "https://127.0.0.1:9/".into(),
                checks: vec![check],
            }],
            errors: vec![],
        };
        app.store.finish_scan(&app.system_ctx(), &run, true, &report, "test").await.unwrap();

        for c in [&officer, &vendor] {
            let page = c.get(&path).await.body;
            assert!(page.contains("一部の端末で対応済") && !page.contains("全端末で対応"), "{}: {page}", app.backend);
            assert!(!page.contains("後から記録") && !page.contains("TLS 1.2 and 1.3 only"), "{}", app.backend);
            let print = c.get(&format!("/systems/{sys}/yearly/report?year={year}")).await.body;
            assert!(print.contains("一部の端末で対応済") && !print.contains("TLS 1.2 and 1.3 only"), "{}", app.backend);
        }
        let xlsx =
            officer.http.get(format!("{}/systems/{sys}/yearly.xlsx?year={year}", app.base)).send().await.unwrap();
        let cells = texts(xlsx.bytes().await.unwrap().to_vec());
        assert!(cells.iter().any(|c| c == "一部の端末で対応済"), "{}: {cells:?}", app.backend);
        assert!(!cells.iter().any(|c| c == "全端末で対応"), "{}", app.backend);
        app.close().await;
    }
}

/// Which ports are open is a map of the network, the officer's only: the
/// yearly report's scan section hides it from the parties and the auditor
/// as the system page does, on the page, the print page and the workbook.
#[tokio::test]
async fn the_yearly_report_shows_which_ports_are_open_to_the_officer_only() {
    use mamori_core::verification::{CheckId, CheckResult, ScanReport, TargetReport, Verdict};
    use serde_json::json;
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let checks = vec![
            CheckResult::new(CheckId::Ports, &[], Verdict::Warn, "open, review whether needed: 22, 3389", json!({})),
            CheckResult::new(CheckId::TlsVersions, &[], Verdict::Pass, "TLS 1.2 and 1.3 only", json!({})),
        ];
        let report = ScanReport {
            targets: vec![TargetReport { target: "https://127.0.0.1:9/".into(), checks }],
            errors: vec![],
        };
        app.store.request_scan(&app.ctx(), sys, None).await.unwrap();
        let run = app.store.claim_scan(app.now(), Duration::hours(1)).await.unwrap().expect("the queued scan");
        app.store.finish_scan(&app.system_ctx(), &run, true, &report, "test").await.unwrap();
        let dept = department_of(&app, "総務課").await;
        let (staff, _) = app.signed_in("dept1", Role::Department, Some(dept)).await;
        let (auditor, _) = app.signed_in("auditor1", Role::Auditor, None).await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let year = app.now().to_offset(JST).year();
        let shown = async |c: &Client| {
            let page = c.get(&format!("/systems/{sys}/yearly?year={year}")).await.body;
            let print = c.get(&format!("/systems/{sys}/yearly/report?year={year}")).await.body;
            let xlsx = c.http.get(format!("{}/systems/{sys}/yearly.xlsx?year={year}", app.base)).send().await.unwrap();
            assert_eq!(xlsx.status(), StatusCode::OK);
            let cells = texts(xlsx.bytes().await.unwrap().to_vec()).join("\n");
            assert!(page.contains("TLS 1.2 and 1.3 only") && cells.contains("TLS 1.2 and 1.3 only"), "{page}");
            [page, print, cells].map(|text| text.contains("3389"))
        };
        for (who, c) in [("vendor", &vendor), ("department", &staff), ("auditor", &auditor)] {
            assert_eq!(shown(c).await, [false; 3], "{who} on {}", app.backend);
        }
        assert_eq!(shown(&officer).await, [true; 3], "{}", app.backend);
        // Received, the report is shown as it was then: to the same eyes.
        let r = receive(&officer, sys, year).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        for (who, c) in [("vendor", &vendor), ("department", &staff), ("auditor", &auditor)] {
            assert_eq!(shown(c).await, [false; 3], "{who}, received, on {}", app.backend);
        }
        assert_eq!(shown(&officer).await, [true; 3], "received, on {}", app.backend);
        app.close().await;
    }
}

/// The report month set twice at once (two officers, or a double click):
/// on PostgreSQL each deleted the row and inserted its own, and the
/// second failed on the key, an error page. Both land now; one month is
/// kept, with an event for each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_month_set_ten_times_at_once_is_set_each_time_without_an_error() {
    for app in App::each(Options::default()).await {
        let (sys, _) = supplied_system(&app, "文書管理システム").await;
        let mut set = tokio::task::JoinSet::new();
        for month in 1..=10u8 {
            let (store, ctx) = (app.store.clone(), app.ctx());
            set.spawn(async move { store.set_report_month(&ctx, sys, month).await });
        }
        while let Some(done) = set.join_next().await {
            assert!(done.unwrap().is_ok(), "{}", app.backend);
        }
        let events = app.audit_actions().await.iter().filter(|a| *a == "system.report_month_set").count();
        assert_eq!(events, 10, "{}", app.backend);
        app.close().await;
    }
}

/// A sign-off sent twice at once (a double click; the pages have no
/// script to stop it) is recorded once, with one event: a year's review,
/// a review of the logs and a review of the accounts. Each was written
/// twice, two signatures in the yearly report and the records. Another
/// sign-off with other words is a sign-off of its own.
#[tokio::test]
async fn a_sign_off_sent_twice_at_once_is_recorded_once() {
    for app in App::each(Options::default()).await {
        let (sys, _) = supplied_system(&app, "文書管理システム").await;
        let (o, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let dept = department_of(&app, "総務課").await;
        let (staff, _) = app.signed_in("dept1", Role::Department, Some(dept)).await;
        let year = app.now().to_offset(JST).year();
        let (a, b) =
            tokio::join!(sign(&staff, sys, year, "logs", "確認済み"), sign(&staff, sys, year, "logs", "確認済み"));
        assert_eq!((a.status, b.status), (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER), "{}", app.backend);
        o.get("/audit/signins").await;
        let review = [("from", "2026-11-01"), ("to", "2026-11-30"), ("findings", "不審なログインなし")];
        let (a, b) = tokio::join!(o.post("/audit/reviews", &review), o.post("/audit/reviews", &review));
        assert_eq!((a.location(), b.location()), ("/audit/signins", "/audit/signins"), "{}", app.backend);
        let shown = crate::harness::hidden_in(&o.get("/admin/access-review").await.body, "shown");
        let access = [("comment", "不要アカウントなし"), ("shown", shown.as_str())];
        let (a, b) = tokio::join!(o.post("/admin/access-review", &access), o.post("/admin/access-review", &access));
        assert_eq!((a.location(), b.location()), ("/admin/access-review", "/admin/access-review"), "{}", app.backend);
        assert_eq!(app.store.signoffs(sys, year).await.unwrap().len(), 1, "{}", app.backend);
        assert_eq!(app.store.log_reviews().await.unwrap().len(), 1, "{}", app.backend);
        assert_eq!(app.store.access_reviews().await.unwrap().len(), 1, "{}", app.backend);
        let actions = app.audit_actions().await;
        for action in ["system.review_signed_off", "log_review.signed_off", "access_review.signed_off"] {
            assert_eq!(actions.iter().filter(|a| *a == action).count(), 1, "{}: {action}", app.backend);
        }
        sign(&staff, sys, year, "logs", "追記: 再確認済み").await;
        assert_eq!(app.store.signoffs(sys, year).await.unwrap().len(), 2, "{}: other words", app.backend);
        app.close().await;
    }
}

/// A retired system reports no more (it is reminded of nothing), yet its
/// vendor could still add audited sign-offs to its yearly report. Now its
/// page offers no form and a sign-off is refused with a message.
#[tokio::test]
async fn a_retired_system_s_yearly_reviews_are_signed_off_no_more() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        // No.79 approved with its evidence, as retiring asks.
        let applicable = crate::checklist::answer_all(&app, sys).await;
        let r = vendor.upload(sys, 79, "廃棄証明書.pdf", b"%PDF-1.4\n".to_vec()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        app.store.submit_system(&app.ctx(), sys).await.unwrap();
        let s = app.store.system(sys).await.unwrap().unwrap();
        app.store.approve_seen(&app.ctx(), sys, s.revision, &applicable).await.unwrap();
        crate::checklist::retire(&app, sys).await;
        let year = app.now().to_offset(JST).year();
        let page = vendor.get(&format!("/systems/{sys}/yearly?year={year}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", app.backend);
        assert!(!page.body.contains("/signoffs"), "{}: no form", app.backend);
        let r = sign(&vendor, sys, year, "admin_accounts", "不要な管理者IDはなし").await;
        assert_eq!(r.status, StatusCode::OK, "{}", app.backend);
        assert!(r.body.contains("廃止したシステムの年次の確認は記録できません"), "{}", r.body);
        assert!(app.store.signoffs(sys, year).await.unwrap().is_empty(), "{}", app.backend);
        // Judged under the system's lock, where a retirement landing while
        // the sign-off was on its way is seen (it was judged before).
        let kind = mamori_core::yearly::SignoffKind::AdminAccounts;
        let r = app.store.add_signoff(&app.ctx(), sys, year, kind, "不要な管理者IDはなし").await;
        let retired = mamori_core::checklist::WorkflowError::Retired;
        assert!(matches!(r, Err(mamori_store::StoreError::Refused(ref w)) if *w == retired), "{}: {r:?}", app.backend);
        assert!(app.store.signoffs(sys, year).await.unwrap().is_empty(), "{}", app.backend);
        app.close().await;
    }
}

/// A receipt made from a report read before a sign-off was recorded: the
/// office built the report (no sign-off yet), the vendor's sign-off
/// committed, and the receipt froze the report without it for good (later
/// sign-offs refused as received). The receipt is refused as stale,
/// nothing is received, and the next one carries the sign-off.
#[tokio::test]
async fn a_receipt_of_a_report_read_before_a_sign_off_is_refused_and_the_next_carries_it() {
    for app in App::each(Options::default()).await {
        let (sys, _) = supplied_system(&app, "文書管理システム").await;
        let year = app.now().to_offset(JST).year();
        let ctx = app.ctx();
        // As the office's receipt reads the system, before the sign-off.
        let seen = app.store.system(sys).await.unwrap().unwrap().revision;
        let kind = mamori_core::yearly::SignoffKind::AdminAccounts;
        app.store.add_signoff(&ctx, sys, year, kind, "不要な管理者IDはなし").await.unwrap();
        let r = app.store.receive_yearly(&ctx, sys, year, Some("{}"), seen).await;
        assert!(matches!(r, Err(mamori_store::StoreError::Stale)), "{}: {r:?}", app.backend);
        assert_eq!(app.store.yearly_frozen(sys, year).await.unwrap(), None, "{}: nothing received", app.backend);

        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let path = format!("/systems/{sys}/yearly?year={year}");
        officer.get(&path).await;
        let r = receive(&officer, sys, year).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let frozen = app.store.yearly_frozen(sys, year).await.unwrap().expect("received");
        assert!(frozen.contains("不要な管理者IDはなし"), "{}: {frozen}", app.backend);
        app.close().await;
    }
}

/// The office opens the year's report; the vendor records a sign-off
/// after that; the office presses 受領 on the page it read. The receipt
/// read the system when it was pressed, so it froze a report with a
/// sign-off the office never saw. The form carries what the page showed:
/// the receipt is refused as stale, nothing received, and the next one,
/// made from the page as it reads now, carries the sign-off.
#[tokio::test]
async fn a_receipt_pressed_on_a_page_read_before_a_sign_off_is_refused_and_the_next_carries_it() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let year = app.now().to_offset(JST).year();
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let page = officer.get(&format!("/systems/{sys}/yearly?year={year}")).await.body;
        let shown = crate::harness::hidden_in(&page, "shown");
        let r = sign(&vendor, sys, year, "logs", "ログを確認した").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let form = [("year", year.to_string()), ("shown", shown)];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = officer.post(&format!("/systems/{sys}/yearly/received"), &form).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let told = officer.get(r.location()).await.body;
        assert!(told.contains("受領していません"), "{}: {told}", app.backend);
        assert_eq!(app.store.yearly_frozen(sys, year).await.unwrap(), None, "{}: nothing received", app.backend);

        assert_eq!(receive(&officer, sys, year).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let frozen = app.store.yearly_frozen(sys, year).await.unwrap().expect("received");
        assert!(frozen.contains("ログを確認した"), "{}: {frozen}", app.backend);
        app.close().await;
    }
}

/// The officer records the year's report as received from its page (the
/// form carries the mark of what the page showed).
async fn receive(c: &crate::harness::Client, sys: i64, year: i32) -> crate::harness::Res {
    let page = format!("/systems/{sys}/yearly?year={year}");
    c.post_from(&page, &format!("/systems/{sys}/yearly/received"), &["shown"], &[("year", &year.to_string())]).await
}
