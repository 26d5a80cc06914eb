//! Starting the next round of many systems at once (the security office at
//! the start of a year).

use crate::checklist::system;
use crate::harness::{App, Options};
use crate::library::approve_round;
use mamori_core::checklist::SystemStatus;
use mamori_core::identity::{OrgKind, Role};
use reqwest::StatusCode;

/// Retires `sys` as the office does: evidence on No.79, the round
/// approved, the disposal record approved, then 廃止.
async fn retired(app: &App, sys: i64) {
    let file = mamori_store::evidence::NewEvidence {
        number: 79,
        original_name: "廃棄証明書.pdf",
        content_type: "application/pdf",
        sha256: "0",
        expires_on: None,
        content: b"%PDF-1.4\n",
        replaces: None,
        by: None,
    };
    app.store.add_evidence(&app.ctx(), sys, &file).await.unwrap();
    approve_round(app, sys, 1).await;
    crate::checklist::retire(app, sys).await;
}

/// Of five systems, the three approved are offered, each ticked (not the
/// one still answering, nor the retired one). Bad input (a past due date,
/// nothing ticked, a value that is no system, more than 1,000 systems) is
/// named and starts nothing.
/// The two left ticked start, due on the date given, each audited as one
/// started from its page; the third offered and the others are as they
/// were. The one still answering and the retired one, sent anyway, and an
/// unknown number are named as not started. Sent again (a reload), nothing more starts; and
/// a department's person who sends the form starts nothing.
#[tokio::test]
async fn the_office_starts_the_ticked_approved_systems_rounds_at_once_and_nothing_else_changes() {
    for app in App::each(Options::default()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let mut ids = Vec::new();
        for name in [
            "文書管理システム",
            "財務会計システム",
            "<script>alert(1)</script>施設予約",
            "電子申請システム",
            "旧人事給与システム",
        ] {
            ids.push(system(&app, dept, Some(vendor), name).await);
        }
        let [a, b, c, answering, gone] = ids[..] else { unreachable!() };
        for s in [a, b, c] {
            approve_round(&app, s, 1).await;
        }
        retired(&app, gone).await;
        let state = async || {
            let mut out = Vec::new();
            for s in app.store.systems(mamori_core::scope::Scope::All, &Default::default()).await.unwrap() {
                out.push((s.id, s.status, s.round, s.input.due_on));
            }
            out.sort();
            format!("{out:?}")
        };
        let started_events = async || app.audit_actions().await.iter().filter(|a| *a == "system.round_started").count();
        let before = state().await;

        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        assert!(officer.get("/systems").await.body.contains(r#"href="/rounds""#), "{}: linked", app.backend);
        let form = officer.get("/rounds").await.body;
        for s in [a, b, c] {
            let tick = format!(r#"name="system" value="{s}" id="system-{s}" checked>"#);
            assert!(form.contains(&tick), "{}: {s} offered, ticked: {form}", app.backend);
        }
        for s in [answering, gone] {
            assert!(!form.contains(&format!(r#"value="{s}""#)), "{}: {s} not offered", app.backend);
        }
        assert!(
            form.contains("&#60;script&#62;alert(1)&#60;/script&#62;施設予約"),
            "{}: a name is text: {form}",
            app.backend
        );
        assert!(!form.contains("<script>alert(1)"), "{}", app.backend);
        let default_due = app.now().date() + time::Duration::days(60);
        assert!(form.contains(&format!(r#"value="{default_due}""#)), "{}: the due date: {form}", app.backend);

        let (a_s, b_s) = (a.to_string(), b.to_string());
        for (fields, says) in [
            (vec![("system", a_s.as_str()), ("due_on", "2000-04-01")], "今日以降の日付"),
            (vec![("system", a_s.as_str()), ("due_on", "来年")], "日付"),
            (vec![("due_on", "2027-06-30")], "チェックを付けてください"),
            (
                vec![("system", a_s.as_str()), ("system", "x"), ("due_on", "2027-06-30")],
                "選択されたシステムが正しくありません",
            ),
        ] {
            let r = officer.post("/rounds", &fields).await;
            assert_eq!(r.status, StatusCode::OK, "{}", app.backend);
            assert!(r.body.contains(says), "{}: {fields:?}: {}", app.backend, r.body);
            assert!(r.body.contains(r#"id="error-summary""#), "{}", app.backend);
        }
        // More than may start at once (1,000): refused whole.
        let many: Vec<String> = (1..=1_001).map(|n| n.to_string()).collect();
        let mut fields: Vec<(&str, &str)> = many.iter().map(|n| ("system", n.as_str())).collect();
        fields.push(("due_on", "2027-06-30"));
        let r = officer.post("/rounds", &fields).await;
        assert!(r.body.contains("一度に始められるのは 1000 件まで"), "{}: {}", app.backend, r.body);
        assert_eq!(state().await, before, "{}: nothing started", app.backend);

        // A department's person sends the form: refused, nothing starts.
        let (d, _) = app.signed_in("dept1", Role::Department, Some(dept)).await;
        d.get("/dashboard").await;
        let r = d.post("/rounds", &[("system", a_s.as_str()), ("due_on", "2027-06-30")]).await;
        assert!(
            r.status == StatusCode::FORBIDDEN || r.status == StatusCode::NOT_FOUND,
            "{}: {}",
            app.backend,
            r.status
        );
        assert_eq!(state().await, before, "{}", app.backend);

        let (answering_s, gone_s) = (answering.to_string(), gone.to_string());
        let fields = [
            ("system", a_s.as_str()),
            ("system", b_s.as_str()),
            ("system", answering_s.as_str()),
            ("system", gone_s.as_str()),
            ("system", "999999"),
            ("due_on", "2027/6/30"),
        ];
        let r = officer.post("/rounds", &fields).await;
        assert_eq!(r.status, StatusCode::OK, "{}: {}", app.backend, r.body);
        let started = &r.body[r.body.find(r#"id="started""#).expect("the started")..];
        let (started, not_started) = started.split_at(started.find(r#"id="not-started""#).expect("the others"));
        for s in [a, b] {
            assert!(started.contains(&format!(r#"href="/systems/{s}""#)), "{}: {s}: {started}", app.backend);
        }
        assert!(started.contains("第2回") && r.body.contains("2027-06-30"), "{}", app.backend);
        assert!(not_started.contains(&format!(r#"href="/systems/{answering}""#)), "{}: {not_started}", app.backend);
        assert!(not_started.contains("承認済みではないため"), "{}: {not_started}", app.backend);
        // The retired one, approved before it was retired: its round is closed.
        let gone_line = &not_started[not_started.find(&format!(r#"href="/systems/{gone}""#)).expect("the retired")..];
        assert!(gone_line.contains("廃止の時点のまま閉じられており"), "{}: {not_started}", app.backend);
        assert!(not_started.contains("システム 999999: このシステムはありません"), "{}: {not_started}", app.backend);
        assert!(!r.body.contains(&format!(r#"href="/systems/{c}""#)), "{}: not ticked", app.backend);
        let june = time::Date::from_calendar_date(2027, time::Month::June, 30).unwrap();
        for s in [a, b] {
            let now = app.store.system(s).await.unwrap().unwrap();
            assert_eq!((now.status, now.round, now.input.due_on), (SystemStatus::Answering, 2, Some(june)));
        }
        for s in [c, answering, gone] {
            let now = format!("{:?}", app.store.system(s).await.unwrap().unwrap().status);
            assert!(before.contains(&format!("({s}, {now}, 1,")), "{}: {s} as it was: {before}", app.backend);
        }
        assert_eq!(started_events().await, 2, "{}: one event each", app.backend);

        // Sent again (a reload of the page after): nothing more starts.
        let after = state().await;
        let r = officer.post("/rounds", &fields).await;
        assert!(!r.body.contains(r#"id="started""#), "{}: {}", app.backend, r.body);
        assert_eq!(state().await, after, "{}", app.backend);
        assert_eq!(started_events().await, 2, "{}", app.backend);
        app.close().await;
    }
}
