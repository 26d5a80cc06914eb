//! The audit log viewer, exports, sign-in monitoring and alerts over HTTPS.

use crate::harness::{App, Options};
use mamori_core::identity::Role;
use mamori_core::monitoring::Severity;
use reqwest::StatusCode;

#[tokio::test]
async fn officers_and_auditors_filter_page_and_export_the_audit_log() {
    for app in App::each(Options::default()).await {
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        // Signed in before the failures below throttle this address.
        let (auditor, _) = app.signed_in("auditor1", Role::Auditor, None).await;
        for i in 0..60 {
            if i == 45 {
                // Past the address throttle's window, so all 60 are checked and logged.
                app.clock.advance(time::Duration::minutes(16));
            }
            app.client().sign_in(&app, &format!("nobody{i}"), "Wrong-Password-1", None).await;
        }
        let page = officer.get("/audit?action=signin.failure").await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.body.matches("<td>サインイン失敗</td>").count(), 50, "{}: one page of 50", app.backend);
        let next = page
            .body
            .split("href=\"/audit?")
            .find(|s| s.contains("before="))
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .replace("&amp;", "&")
            .replace("&#38;", "&");
        let page2 = officer.get(&format!("/audit?{next}")).await;
        assert_eq!(page2.body.matches("<td>サインイン失敗</td>").count(), 10, "{}: {next}", app.backend);
        let bad = officer.get("/audit?from=yesterday").await;
        assert!(bad.body.contains("2027-03-31 の形式"), "{}", bad.body);
        // The last day there is: until its end, everything (before, adding
        // the day overflowed and the page was an internal error).
        let last = officer.get("/audit?action=signin.failure&until=9999-12-31").await;
        assert_eq!(last.status, StatusCode::OK, "{}", app.backend);
        assert_eq!(last.body.matches("<td>サインイン失敗</td>").count(), 50, "{}", app.backend);
        let r = officer.http.get(format!("{}/audit/export.csv?until=9999-12-31", app.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", app.backend);

        let seq = page.body.split("/audit/events/").nth(1).unwrap().split('"').next().unwrap().to_owned();
        let ev = officer.get(&format!("/audit/events/{seq}")).await;
        assert!(ev.body.contains("直前の事象のハッシュ") && ev.body.contains("unknown:"), "{}", app.backend);
        assert!(!ev.body.contains("nobody59"), "{}: an unknown ID is kept as a keyed hash", app.backend);

        // CSV: UTF-8 with a BOM, or Shift_JIS; JSON Lines.
        let csv =
            officer.http.get(format!("{}/audit/export.csv?action=signin.failure", app.base)).send().await.unwrap();
        let bytes = csv.bytes().await.unwrap();
        assert_eq!(&bytes[..3], &[0xEF, 0xBB, 0xBF]);
        let text = std::str::from_utf8(&bytes[3..]).unwrap();
        assert!(text.starts_with("seq,time,actor_id,actor_login"));
        assert_eq!(text.lines().count(), 61, "{}", app.backend);
        let sjis = officer
            .http
            .get(format!("{}/audit/export.csv?encoding=sjis&actor=officer1", app.base))
            .send()
            .await
            .unwrap();
        let sjis = sjis.bytes().await.unwrap();
        let (decoded, _, bad) = encoding_rs::SHIFT_JIS.decode(&sjis);
        assert!(!bad && decoded.contains("officer1"));
        // An ID typed as people write it (a capital, spaces) is the ID.
        let typed = officer.get("/audit?actor=+Officer1+").await;
        assert!(typed.body.contains("<td>officer1</td>"), "{}: {}", app.backend, typed.body);
        let jsonl = officer
            .http
            .get(format!("{}/audit/export.jsonl?action=signin.failure", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let first: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
        for key in ["time", "actor_login", "client_addr", "action", "target_type", "outcome", "request_id"] {
            assert!(first.get(key).is_some(), "{key}");
        }
        assert_eq!(first["client_addr"], "127.0.0.1");
        assert!(!jsonl.contains("Wrong-Password-1"), "no password in any event");

        assert_eq!(auditor.get("/audit").await.status, StatusCode::OK);
        let actions = app.audit_actions().await;
        assert_eq!(actions.iter().filter(|a| *a == "audit.exported").count(), 4, "each export, the last day's too");
        app.close().await;
    }
}

#[tokio::test]
async fn monitoring_page_log_reviews_and_alert_acknowledgement() {
    for app in App::each(Options::default()).await {
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        app.user("ghost", Role::Auditor, None).await;
        for _ in 0..3 {
            app.client().sign_in(&app, "ghost", "Wrong-Password-1", None).await;
            app.client().sign_in(&app, "no-such-id", "Wrong-Password-1", None).await;
        }
        let page = officer.get("/audit/signins").await;
        assert!(page.body.contains("<svg") && page.body.contains("ghost"), "{}", app.backend);
        // An ID that matches no account is listed by its keyed hash, never as typed.
        assert!(page.body.contains("unknown:") && !page.body.contains("no-such-id"), "{}", app.backend);
        assert!(page.body.contains("officer1"), "the new-address sign-in is listed");
        let r = officer.post("/audit/reviews", &[("from", "2026-11-01"), ("to", "2026-10-01"), ("findings", "")]).await;
        assert!(r.body.contains("終了日は開始日以降") && r.body.contains("所見を入力してください"), "{}", app.backend);
        let r = officer
            .post("/audit/reviews", &[("from", "2026-11-01"), ("to", "2026-11-30"), ("findings", "不審なログインなし")])
            .await;
        assert_eq!(r.location(), "/audit/signins");
        assert!(officer.get("/audit/signins").await.body.contains("不審なログインなし"));

        let now = app.now();
        let id = app
            .store
            .raise_alert(now, "signin.spraying", Severity::Warning, "203.0.113.9", "12 accounts")
            .await
            .unwrap();
        let dash = officer.get("/alerts").await;
        assert!(dash.body.contains("アラート (1)") && dash.body.contains("203.0.113.9"), "{}", app.backend);
        let (auditor, _) = app.signed_in("auditor1", Role::Auditor, None).await;
        assert!(!auditor.get("/alerts").await.body.contains("/ack"), "auditors read, they do not acknowledge");
        // Acknowledged as shown, once; it occurs again before the button is
        // pressed: not acknowledged unseen, the page says so.
        assert!(officer.get("/alerts").await.body.contains("name=\"count\" value=\"1\""), "{}", app.backend);
        app.store.raise_alert(now, "signin.spraying", Severity::Warning, "203.0.113.9", "13 accounts").await.unwrap();
        let r = officer.post(&format!("/alerts/{id}/ack"), &[("count", "1")]).await;
        assert_eq!(r.location(), "/alerts");
        let again = officer.get("/alerts").await.body;
        assert!(again.contains("また発生した") && again.contains("アラート (1)"), "{}: {again}", app.backend);
        let r = officer.post(&format!("/alerts/{id}/ack"), &[("count", "2")]).await;
        assert_eq!(r.location(), "/alerts");
        let after = officer.get("/alerts").await.body;
        assert!(!after.contains("アラート (1)") && after.contains("officer1"));
        assert!(app.audit_actions().await.contains(&"alert.acknowledged".to_owned()));
        app.close().await;
    }
}

/// The action filter offered every action, not three of them.
#[tokio::test]
async fn the_audit_viewers_action_filter_lists_every_action() {
    let app = App::spawn("sqlite", Options::default()).await;
    let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    let page = officer.get("/audit").await.body;
    let offered = page.matches("<option value=\"").count();
    for a in mamori_core::audit::Action::ALL {
        assert!(page.contains(&format!("<option value=\"{}\"", a.as_str())), "{} is not offered", a.as_str());
    }
    assert!(mamori_core::audit::Action::ALL.len() >= 45);
    assert!(offered > mamori_core::audit::Action::ALL.len(), "every action and the other filters");
    app.close().await;
}

/// Actions and outcomes read in the reader's language, never as codes;
/// on the event's page the codes are kept behind the toggle that shows the
/// record as stored.
#[tokio::test]
async fn the_audit_viewer_names_actions_and_outcomes_in_japanese_and_english() {
    let app = App::spawn("sqlite", Options::default()).await;
    let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    let page = officer.get("/audit").await.body;
    assert!(page.contains("<option value=\"signin.success\">サインイン成功</option>"), "{page}");
    assert!(page.contains("<option value=\"denied\">拒否</option>"));
    let rows = page.split("<tbody>").nth(1).unwrap().split("</tbody>").next().unwrap();
    assert!(rows.contains("<td>サインイン成功</td>") && rows.contains("<td class=\"nowrap\">成功</td>"), "{rows}");
    assert!(!rows.contains("<td>signin.success</td>") && !rows.contains("<td>success</td>"), "{rows}");
    let seq = rows.split("/audit/events/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let event = officer.get(&format!("/audit/events/{seq}")).await.body;
    let raw = event.split("<details>").nth(1).expect("the toggle").split("</details>").next().unwrap();
    assert!(raw.contains("<code>signin.success</code> <code>success</code>"), "the codes behind it: {event}");
    let shown = event.replace(raw, "");
    assert!(!shown.contains("signin.success") && shown.contains("サインイン成功"), "{shown}");
    officer.get("/dashboard").await;
    officer.post("/lang", &[("lang", "en"), ("next", "/audit")]).await;
    let english = officer.get("/audit").await.body;
    assert!(english.contains("<option value=\"signin.success\">Signed in</option>"), "{english}");
    app.close().await;
}

/// The sign-in chart reads against a time axis: each midnight (JST) of the
/// week shown is ticked and dated, and the bars' scale is labelled.
#[tokio::test]
async fn the_sign_in_chart_has_a_dated_time_axis_and_a_labelled_scale() {
    let app = App::spawn("sqlite", Options::default()).await;
    let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    for _ in 0..4 {
        app.client().sign_in(&app, "officer1", "Wrong-Password-1", None).await;
    }
    let page = officer.get("/audit/signins").await.body;
    let jst = time::UtcOffset::from_hms(9, 0, 0).unwrap();
    let now = app.now().to_offset(jst);
    // The midnights within the 168 hours shown, from the hour the week starts.
    let start = now - time::Duration::hours(24 * 7);
    let first_hour = start.replace_minute(0).unwrap().replace_second(0).unwrap().replace_nanosecond(0).unwrap();
    let last_hour = first_hour + time::Duration::hours(24 * 7 - 1);
    let mut want = Vec::new();
    let mut day = start.date();
    while day <= now.date() {
        let midnight = day.midnight().assume_offset(jst);
        if midnight >= first_hour && midnight <= last_hour {
            want.push(format!("{}/{}", u8::from(day.month()), day.day()));
        }
        day = day.next_day().unwrap();
    }
    let ticks: Vec<String> = page
        .split("<text class=\"tick\"")
        .skip(1)
        .map(|t| t.split('>').nth(1).unwrap().split('<').next().unwrap().to_owned())
        .collect();
    assert_eq!(ticks, want, "{page}");
    assert!(page.contains(">4</text>"), "the scale's top is the busiest hour: {page}");
    app.close().await;
}

/// What an event is about reads as a kind and a name (「システム: 文書管理
/// システム」), never as `system:3`; what mamori did by itself is named so;
/// the kinds are a list to choose from.
#[tokio::test]
async fn the_audit_viewer_names_each_target_by_kind_and_name_and_filters_by_kind() {
    let app = App::spawn("sqlite", Options::default()).await;
    let dept = app.org("総務課", mamori_core::identity::OrgKind::Department).await;
    let sys = crate::checklist::system(&app, dept, None, "文書管理システム").await;
    let (officer, officer_id) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    let name = app.store.account_by_id(officer_id).await.unwrap().unwrap().display_name;
    let page = officer.get("/audit").await.body;
    let rows = page.split("<tbody>").nth(1).unwrap().split("</tbody>").next().unwrap();
    assert!(rows.contains("<td>システム: 文書管理システム</td>"), "{rows}");
    assert!(rows.contains(&format!("<td>アカウント: {name} (officer1)</td>")), "{rows}");
    assert!(rows.contains("<td>mamori(自動処理)</td>"), "the system's own steps: {rows}");
    assert!(!rows.contains(&format!("system:{sys}")) && !rows.contains(&format!("account:{officer_id}")), "{rows}");
    assert!(page.contains("<option value=\"system\">システム</option>"), "the kinds to choose from");

    let only = officer.get("/audit?target_type=system").await.body;
    let rows = only.split("<tbody>").nth(1).unwrap().split("</tbody>").next().unwrap();
    assert!(rows.contains("システム: 文書管理システム") && !rows.contains("アカウント:"), "{rows}");
    let seq = rows.split("/audit/events/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let event = officer.get(&format!("/audit/events/{seq}")).await.body;
    assert!(event.contains("<dd>システム: 文書管理システム</dd>"), "{event}");
    app.close().await;
}

/// The time heading turns the log round: oldest first, paged onwards from
/// the last event shown, and back.
#[tokio::test]
async fn the_audit_log_reads_oldest_first_from_its_time_heading_page_after_page() {
    let app = App::spawn("sqlite", Options::default()).await;
    let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    for i in 0..60 {
        app.client().sign_in(&app, &format!("nobody{i}"), "Wrong-Password-1", None).await;
    }
    let seqs = |body: &str| -> Vec<i64> {
        body.split("<tbody>")
            .nth(1)
            .unwrap()
            .split("</tbody>")
            .next()
            .unwrap()
            .split("/audit/events/")
            .skip(1)
            .map(|s| s.split('"').next().unwrap().parse().unwrap())
            .collect()
    };
    let newest = officer.get("/audit").await.body;
    assert!(newest.contains("<th aria-sort=\"descending\"><a href=\"/audit?dir=asc\">"), "{newest}");
    let n = seqs(&newest);
    assert!(n.windows(2).all(|w| w[0] > w[1]) && n.len() == 50);

    let oldest = officer.get("/audit?dir=asc").await.body;
    assert!(oldest.contains("<th aria-sort=\"ascending\"><a href=\"/audit?\">"), "{oldest}");
    let o = seqs(&oldest);
    assert_eq!(o[0], 1);
    assert!(o.windows(2).all(|w| w[0] < w[1]) && o.len() == 50);
    let next = format!("href=\"/audit?dir=asc&#38;after={}\"", o[49]);
    assert!(oldest.contains(&next) && oldest.contains("さらに新しい事象"), "{oldest}");
    let more = seqs(&officer.get(&format!("/audit?dir=asc&after={}", o[49])).await.body);
    assert_eq!(more[0], o[49] + 1, "page two carries on");
    // Filters hold in either order.
    let failures = officer.get("/audit?action=signin.failure&dir=asc").await.body;
    let f = seqs(&failures);
    assert!(!f.is_empty() && f.windows(2).all(|w| w[0] < w[1]), "{f:?}");
    assert!(!failures.contains("<td>サインイン成功</td>"), "{failures}");
    app.close().await;
}

/// The alerts come 50 a page, open ones first.
#[tokio::test]
async fn the_alerts_show_fifty_a_page_open_ones_first() {
    let app = App::spawn("sqlite", Options::default()).await;
    let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    for i in 0..60 {
        let subject = format!("192.0.2.{i}");
        app.store
            .raise_alert(app.now(), "signin.spraying", mamori_core::monitoring::Severity::Warning, &subject, "詳細")
            .await
            .unwrap();
    }
    // The newest acknowledged: it goes to the end.
    let newest = app.store.alerts(false).await.unwrap()[0].clone();
    assert!(app.store.acknowledge_alert(&app.ctx(), newest.id, None).await.unwrap());
    let rows =
        |body: &str| body.split("<tbody>").nth(1).unwrap().split("</tbody>").next().unwrap().matches("<tr").count();
    let first = officer.get("/alerts").await.body;
    assert!(!first.contains(&format!(">{}<", newest.subject)), "not among the open ones");
    assert_eq!(rows(&first), 50, "{first}");
    assert!(first.contains("href=\"/alerts?page=2\" rel=\"next\""), "{first}");
    let second = officer.get("/alerts?page=2").await.body;
    assert_eq!(rows(&second), 10);
    assert!(second.contains("href=\"/alerts?page=1\" rel=\"prev\""));
    let last_row = second.split("<tr").last().unwrap();
    assert!(last_row.contains(&format!(">{}<", newest.subject)), "acknowledged, last: {last_row}");
    app.close().await;
}

/// The alerts page read the newest 500 alerts and paged them: past 500
/// open ones, the oldest open ones were on no page at all. 560: the
/// twelfth page shows the ten oldest.
#[tokio::test]
async fn every_alert_is_on_a_page_of_the_alerts_past_five_hundred_open_ones() {
    for app in App::each(Options::default()).await {
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let t0 = app.now();
        for i in 0..560 {
            let subject = format!("192.0.{}.{}", i / 250, i % 250);
            let at = t0 + time::Duration::seconds(i);
            app.store
                .raise_alert(at, "signin.spraying", mamori_core::monitoring::Severity::Warning, &subject, "詳細")
                .await
                .unwrap();
        }
        let last = officer.get("/alerts?page=12").await.body;
        let shown = last.split("<tbody>").nth(1).unwrap().split("</tbody>").next().unwrap();
        assert_eq!(shown.matches("<tr").count(), 10, "{}: {shown}", app.backend);
        assert!(shown.contains(">192.0.0.0<") && shown.contains(">192.0.0.9<"), "{}: the oldest: {shown}", app.backend);
        assert!(!last.contains("rel=\"next\""), "{}: the last page", app.backend);
        app.close().await;
    }
}

/// Every kind of alert mamori raises (the scanner's included) reads in
/// Japanese on the alerts page, never as its stored code.
#[tokio::test]
async fn every_alert_kind_mamori_raises_reads_in_japanese_on_the_alerts_page() {
    let app = App::spawn("sqlite", Options::default()).await;
    let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    let kinds = [
        ("signin.spike", "サインイン"),
        ("signin.spraying", "一つの接続元から多数のIDへのサインイン試行"),
        ("audit.chain_broken", "監査ログ"),
        ("backup.failed", "バックアップの失敗"),
        ("scan.regression", "スキャン結果の悪化"),
        ("scan.certificate_expiring", "サーバ証明書の有効期限が近い"),
        ("scan.address_changed", "スキャン先のアドレスが変わった"),
        ("scan.address_new", "スキャン先のアドレスの確認待ち"),
        ("job.failed", "定期処理の失敗"),
    ];
    for (kind, _) in kinds {
        app.store.raise_alert(app.now(), kind, Severity::Warning, "s", "d").await.unwrap();
    }
    let page = officer.get("/alerts").await.body;
    for (kind, label) in kinds {
        assert!(page.contains(label), "{kind}: {label}");
        assert!(!page.contains(&format!("<td>{kind}</td>")), "{kind} shown as its code");
    }
    app.close().await;
}

/// A page on another site sends a signed-in auditor's browser to the audit
/// log's export (or an officer's to the ledger's): the session cookie went
/// with it, and the export was recorded under their name. Now an audited
/// download asked for from another site (`Sec-Fetch-Site: cross-site` or
/// `same-site`) is refused and records nothing of the export; from mamori's
/// own pages, or typed (`none`), it is given.
#[tokio::test]
async fn an_audited_download_asked_for_from_another_site_is_refused_and_records_no_export() {
    let app = App::spawn("sqlite", Options::default()).await;
    let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    let exports = || async { app.audit_actions().await.iter().filter(|a| *a == "audit.exported").count() };
    let from = |site: &'static str| {
        let c = officer.clone();
        async move {
            c.http.get(format!("{}/audit/export.csv", c.base)).header("sec-fetch-site", site).send().await.unwrap()
        }
    };
    for site in ["cross-site", "same-site"] {
        assert_eq!(from(site).await.status(), StatusCode::FORBIDDEN, "{site}");
    }
    assert_eq!(exports().await, 0, "nothing exported");
    let refused = app.audit_actions().await.iter().filter(|a| *a == "csrf.rejected").count();
    assert_eq!(refused, 2, "each refusal recorded");
    for site in ["same-origin", "none"] {
        assert_eq!(from(site).await.status(), StatusCode::OK, "{site}");
    }
    assert_eq!(exports().await, 2);
    let ledger = officer.http.get(format!("{}/admin/ledger.csv", officer.base)).header("sec-fetch-site", "cross-site");
    assert_eq!(ledger.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    // Pages stay open to links from anywhere (a notice's link in mail).
    let page = officer.http.get(format!("{}/dashboard", officer.base)).header("sec-fetch-site", "cross-site");
    assert_eq!(page.send().await.unwrap().status(), StatusCode::OK);
    app.close().await;
}
