//! Exports sealed in a password ZIP (item 18): the person chooses at the
//! download; the file opens with that password only; a short or mistyped
//! password exports nothing and says why; the choice is in the audit log;
//! a vendor cannot reach another's report this way either.

use crate::checklist::supplied_system;
use crate::harness::{App, Options};
use calamine::Reader;
use mamori_core::identity::Role;
use reqwest::StatusCode;
use std::io::Read;

const PASSWORD: &str = "ward-office-2026";

#[tokio::test]
async fn a_report_sealed_in_a_password_zip_opens_with_that_password_only_and_the_choice_is_audited() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "申請受付システム").await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let page = officer.get(&format!("/systems/{sys}")).await;
        assert!(
            page.body.contains(&format!("action=\"/systems/{sys}/report.xlsx\"")),
            "{}: the form is offered",
            app.backend
        );

        let seal = |password: &'static str, confirm: &'static str| {
            let (officer, path) = (&officer, format!("/systems/{sys}/report.xlsx"));
            async move {
                let token = officer.csrf.lock().unwrap().clone();
                let back = format!("/systems/{sys}");
                let form = [
                    ("zip_password", password),
                    ("zip_password_confirm", confirm),
                    ("back", &back),
                    ("csrf_token", &token),
                ];
                officer
                    .http
                    .post(format!("{}{path}", officer.base))
                    .header("origin", &officer.base)
                    .form(&form)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let r = seal(PASSWORD, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", app.backend);
        assert_eq!(r.headers()["content-type"], "application/zip");
        let disposition = r.headers()["content-disposition"].to_str().unwrap().to_owned();
        assert!(disposition.contains(".xlsx.zip"), "{disposition}");
        let bytes = r.bytes().await.unwrap().to_vec();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let name = zip.name_for_index(0).unwrap().unwrap().to_string();
        assert!(name.ends_with(".xlsx"), "{name}");
        assert!(
            zip.by_index_decrypt(0, b"not-the-password").is_err(),
            "{}: another password opens nothing",
            app.backend
        );
        let mut xlsx = Vec::new();
        zip.by_index_decrypt(0, PASSWORD.as_bytes()).unwrap().read_to_end(&mut xlsx).unwrap();
        let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
        let sheet = book.worksheet_range_at(0).unwrap().unwrap();
        assert!(
            sheet.rows().flatten().any(|c| c.to_string().contains("申請受付システム")),
            "{}: the report itself",
            app.backend
        );

        let events = app.store.audit_recent(5).await.unwrap();
        let sealed = events.iter().find(|e| e.record.action == "export.sealed").expect("the choice is audited");
        assert_eq!(sealed.record.actor_login, "officer1");
        assert!(
            sealed.record.changes.contains("AES-256 ZIP") && sealed.record.changes.contains(".xlsx"),
            "{}",
            sealed.record.changes
        );
        assert!(!sealed.record.changes.contains(PASSWORD), "never the password");
        assert!(events.iter().any(|e| e.record.action == "report.exported"), "the export's own event too");

        // A short password, a mistyped one: nothing exported, the reason shown.
        for (pw, confirm, message) in
            [("short", "short", "12 文字以上"), (PASSWORD, "ward-office-2025", "確認用と一致しません")]
        {
            let before = app.store.audit_recent(1).await.unwrap()[0].record.seq;
            let r = seal(pw, confirm).await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}: {pw}", app.backend);
            assert_eq!(r.headers()["location"], format!("/systems/{sys}"));
            let page = officer.get(&format!("/systems/{sys}")).await.body;
            assert!(page.contains(message), "{}: {message}", app.backend);
            assert_eq!(
                app.store.audit_recent(1).await.unwrap()[0].record.seq,
                before,
                "{}: nothing exported",
                app.backend
            );
        }

        // Another vendor reaches no report, sealed or not.
        let (other, _) = app
            .signed_in(
                "vendor-x",
                Role::Vendor,
                Some(app.org("ベンダーB", mamori_core::identity::OrgKind::Vendor).await),
            )
            .await;
        other.get("/dashboard").await;
        let r = other
            .post(
                &format!("/systems/{sys}/report.xlsx"),
                &[("zip_password", PASSWORD), ("zip_password_confirm", PASSWORD)],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", app.backend);
        let _ = vendor;
        app.close().await;
    }
}

/// A system named with folders (`a/../../x`): the sealed ZIP's entry and
/// the download's name are one file name, with no folder to climb out of
/// the place it is extracted to. The form's way back is a path of this
/// site only: `/\t/evil.example` (a tab the browser drops, leaving
/// `//evil.example`) goes to the dashboard.
#[tokio::test]
async fn a_sealed_export_s_entry_is_one_file_name_and_its_way_back_stays_on_the_site() {
    let app = App::spawn("sqlite", Options::default()).await;
    let (sys, _) = supplied_system(&app, "a/../../x\\..\\y").await;
    let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    officer.get(&format!("/systems/{sys}")).await;
    let seal = async |password: &str, back: &str| {
        let token = officer.csrf.lock().unwrap().clone();
        let form =
            [("zip_password", password), ("zip_password_confirm", password), ("back", back), ("csrf_token", &token)];
        let r =
            officer.http.post(format!("{}/systems/{sys}/report.xlsx", officer.base)).header("origin", &officer.base);
        r.form(&form).send().await.unwrap()
    };
    let r = seal(PASSWORD, "/dashboard").await;
    assert_eq!(r.status(), StatusCode::OK);
    let disposition = r.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(!disposition.contains("%2F") && !disposition.contains("%5C"), "{disposition}");
    let bytes = r.bytes().await.unwrap().to_vec();
    let zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let name = zip.name_for_index(0).unwrap().unwrap().to_string();
    assert!(name.contains("a_.._.._x_.._y") && !name.contains(['/', '\\']), "{name}");
    for back in ["/\t/evil.example", "/\r\n/evil.example", "https://evil.example", "//evil.example"] {
        let r = seal("short", back).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{back:?}");
        assert_eq!(r.headers()["location"], "/dashboard", "{back:?}");
    }
    assert_eq!(
        seal("short", &format!("/systems/{sys}")).await.headers()["location"],
        format!("/systems/{sys}").as_str()
    );
    app.close().await;
}

/// Sealed downloads hold their file and its ZIP in memory (an audit export
/// of years is hundreds of megabytes), and any number were made at once,
/// each encrypted on a request worker. They now take turns,
/// `SEALING_AT_ONCE` at a time: with every turn held, a sealed download
/// waits, and goes on when a turn is free; of eight asked at once, each is
/// a whole ZIP that opens, and no more than two were made at once.
#[tokio::test]
async fn sealed_downloads_take_turns_two_at_a_time_and_each_waits_for_its_own() {
    use mamori_web::sealed::{hold_every_turn, sealing_peak, SEALING_AT_ONCE};
    let app = App::spawn("sqlite", Options::default()).await;
    let (sys, _) = supplied_system(&app, "申請受付システム").await;
    let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    officer.get(&format!("/systems/{sys}")).await;
    let token = officer.csrf.lock().unwrap().clone();
    let seal = || {
        let form = [
            ("zip_password", PASSWORD.to_owned()),
            ("zip_password_confirm", PASSWORD.to_owned()),
            ("csrf_token", token.clone()),
        ];
        let r = officer.http.post(format!("{}/systems/{sys}/report.xlsx", officer.base));
        let sent = r.header("origin", &officer.base).form(&form).send();
        async move {
            let r = sent.await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            let bytes = r.bytes().await.unwrap().to_vec();
            let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
            let mut xlsx = Vec::new();
            zip.by_index_decrypt(0, PASSWORD.as_bytes()).unwrap().read_to_end(&mut xlsx).unwrap();
            xlsx.len()
        }
    };
    let held = hold_every_turn().await;
    let waiting = tokio::spawn(seal());
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert!(!waiting.is_finished(), "made while every turn was held");
    drop(held);
    assert!(waiting.await.unwrap() > 0, "made once a turn was free");
    let all: Vec<_> = (0..8).map(|_| tokio::spawn(seal())).collect();
    for one in all {
        assert!(one.await.unwrap() > 0);
    }
    assert!((1..=SEALING_AT_ONCE).contains(&sealing_peak()), "{} at once", sealing_peak());
    app.close().await;
}
