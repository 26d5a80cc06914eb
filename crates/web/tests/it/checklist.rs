//! The checklist over HTTPS: the officer registers a system, the vendor
//! answers and submits, the officer returns two items, the vendor fixes
//! them, the officer approves; another vendor sees nothing of it.

use crate::harness::{first_of_two_landed, hidden_in, App, Client, Options};
use mamori_core::checklist::Phase;
use mamori_core::identity::{OrgKind, Role};
use mamori_store::systems::SystemInput;
use reqwest::StatusCode;

/// A system registered directly in the store (for tests that need one),
/// its vendor answering every item: the department's own items (7, 15–18,
/// 30) moved to the builder, as the officer may. Without a vendor, the
/// department answers all. [`system_with_parties`] keeps the catalog's
/// parties.
pub async fn system(app: &App, dept: i64, vendor: Option<i64>, name: &str) -> i64 {
    let id = system_with_parties(app, dept, vendor, name).await;
    if vendor.is_some() {
        for n in [7, 15, 16, 17, 18, 30] {
            app.store.move_item(&app.system_ctx(), id, n, mamori_core::parties::Party::Builder).await.unwrap();
        }
    }
    id
}

/// A domain record: docs.example.lg.jp, held until 2030, not retired.
pub fn domain_record() -> mamori_core::records::Values {
    mamori_core::records::parse(mamori_core::records::RecordKind::Domain, |f| {
        match f {
            "domain" => "docs.example.lg.jp",
            "expires" => "2030-01-01",
            "retired" => "no",
            _ => "",
        }
        .to_owned()
    })
    .unwrap()
}

/// Retires `sys` in the store as the office does, No.79 being approved
/// with its evidence: a disposal record saved and approved, then 廃止.
pub async fn retire(app: &App, sys: i64) {
    use mamori_core::records::{RecordKind, RecordReview};
    let values = mamori_core::records::parse(RecordKind::Disposal, |f| {
        match f {
            "what" => "サーバ 2 台",
            "disposed_on" => "2026-10-01",
            "method" => "物理破壊",
            _ => "",
        }
        .to_owned()
    })
    .unwrap();
    let rec = app
        .store
        .save_record(&app.ctx(), sys, None, RecordKind::Disposal, &values, mamori_store::records::Keeper::CONSOLE)
        .await
        .unwrap();
    let seen = app.store.records(sys).await.unwrap().into_iter().find(|r| r.id == rec).unwrap().seen();
    app.store.review_record(&app.ctx(), (sys, rec, &seen), RecordReview::Approved, "").await.unwrap();
    let mut input = app.store.system(sys).await.unwrap().unwrap().input;
    input.phase = Phase::Retired;
    app.store.update_system(&app.system_ctx(), sys, &input).await.unwrap();
}

/// Answers every applicable item of `sys` 対応済; returns their numbers.
pub async fn answer_all(app: &App, sys: i64) -> Vec<u32> {
    let s = app.store.system(sys).await.unwrap().unwrap();
    let applicable: Vec<u32> = app.store.figures(&[s]).await.unwrap()[0].items.iter().map(|i| i.number).collect();
    for n in &applicable {
        let a = mamori_core::checklist::AnswerInput::done(format!("No.{n} を実施"));
        app.store.save_answer(&app.ctx(), sys, *n, &a).await.unwrap();
    }
    applicable
}

/// The cast of the records and inventory tests: 文書管理システム of 総務課
/// built by ベンダーA, another vendor (ベンダーB) with nothing to do with it,
/// and a signed-in person of each: the builder (`v`), the other vendor
/// (`x`), the department (`d`) and the security office (`o`).
pub struct Cast {
    pub sys: i64,
    pub dept: i64,
    pub vendor: i64,
    pub other: i64,
    pub v: crate::harness::Client,
    pub x: crate::harness::Client,
    pub d: crate::harness::Client,
    pub o: crate::harness::Client,
}

pub async fn cast(app: &App) -> Cast {
    let dept = app.org("総務課", OrgKind::Department).await;
    let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
    let other = app.org("ベンダーB", OrgKind::Vendor).await;
    let sys = system(app, dept, Some(vendor), "文書管理システム").await;
    let (v, _) = app.signed_in("vendor-a", Role::Vendor, Some(vendor)).await;
    let (x, _) = app.signed_in("vendor-b", Role::Vendor, Some(other)).await;
    let (d, _) = app.signed_in("dept1", Role::Department, Some(dept)).await;
    let (o, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    Cast { sys, dept, vendor, other, v, x, d, o }
}

/// A system registered directly in the store, each item answered by the
/// party the catalog names.
pub async fn system_with_parties(app: &App, dept: i64, vendor: Option<i64>, name: &str) -> i64 {
    let ctx = app.system_ctx();
    let catalog = match app.store.ensure_catalog(&ctx).await.unwrap() {
        Some(id) => id,
        None => app.store.catalog_versions().await.unwrap()[0].id,
    };
    let input = SystemInput { vendor_id: vendor, ..SystemInput::new(name, dept) };
    app.store.create_system(&ctx, &input, catalog).await.unwrap()
}

/// A system `name` of 総務課 supplied by ベンダーA, and the supplier's
/// person `vendor-a` signed in: (system id, client).
pub async fn supplied_system(app: &App, name: &str) -> (i64, Client) {
    let dept = app.org("総務課", OrgKind::Department).await;
    let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
    let sys = system(app, dept, Some(vendor), name).await;
    let (c, _) = app.signed_in("vendor-a", Role::Vendor, Some(vendor)).await;
    (sys, c)
}

/// Submits the system from its page.
pub(crate) async fn submit(c: &Client, sys: i64) -> crate::harness::Res {
    c.get(&format!("/systems/{sys}")).await;
    c.post(&format!("/systems/{sys}/submit"), &[]).await
}

/// Ends the review from the system's page.
pub(crate) async fn finish_review(c: &Client, sys: i64) -> crate::harness::Res {
    c.get(&format!("/systems/{sys}")).await;
    c.post(&format!("/systems/{sys}/review"), &[]).await
}

/// Saves an answer from the item's page, with the revision the page showed.
pub(crate) async fn answer(c: &Client, sys: i64, n: u32, fields: &[(&str, &str)]) -> crate::harness::Res {
    c.answer(sys, n, fields).await
}

/// The revision in an item page's review form.
fn revision_in(body: &str) -> String {
    let marker = "name=\"revision\" value=\"";
    body.find(marker).map(|i| &body[i + marker.len()..]).and_then(|r| r.split('"').next()).unwrap_or("").to_owned()
}

/// The mark of the decision an item page's review form names ("" without one).
fn decided_in(body: &str) -> String {
    let marker = "name=\"decided\" value=\"";
    body.find(marker).map(|i| &body[i + marker.len()..]).and_then(|r| r.split('"').next()).unwrap_or("").to_owned()
}

pub(crate) async fn decide(c: &Client, sys: i64, n: u32, decision: &str, comment: &str) -> crate::harness::Res {
    let page = c.get(&format!("/systems/{sys}/items/{n}")).await;
    let (revision, decided) = (revision_in(&page.body), decided_in(&page.body));
    c.post(
        &format!("/systems/{sys}/items/{n}/review"),
        &[("decision", decision), ("comment", comment), ("revision", &revision), ("decided", &decided)],
    )
    .await
}

#[tokio::test]
async fn the_whole_flow_from_registration_to_approval_with_history() {
    for app in App::each(Options::default()).await {
        app.store.ensure_catalog(&app.system_ctx()).await.unwrap();
        let dept = app.org("総務課", OrgKind::Department).await;
        let vendor_a = app.org("ベンダーA", OrgKind::Vendor).await;
        let vendor_b = app.org("ベンダーB", OrgKind::Vendor).await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let (vendor, _) = app.signed_in("vendor-a", Role::Vendor, Some(vendor_a)).await;
        let (other, _) = app.signed_in("vendor-b", Role::Vendor, Some(vendor_b)).await;

        // The officer registers the system; bad input first.
        officer.get("/systems/new").await;
        let bad = officer
            .post("/systems", &[("name", ""), ("department_id", "999"), ("phase", "building"), ("urls", "ftp://x")])
            .await;
        assert_eq!(bad.status, StatusCode::OK);
        for msg in ["システム名を入力してください", "所管課を選択してください", "ftp://x"] {
            assert!(bad.body.contains(msg), "{}: {msg}", app.backend);
        }
        assert!(
            app.store.systems(mamori_core::scope::Scope::All, &Default::default()).await.unwrap().is_empty(),
            "nothing created"
        );
        let r = officer
            .post(
                "/systems",
                &[
                    ("name", "文書管理システム"),
                    ("department_id", &dept.to_string()),
                    ("vendor_id", &vendor_a.to_string()),
                    ("phase", "building"),
                    ("uses_servers", "on"),
                    ("urls", "https://docs.example.lg.jp/"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let sys: i64 = r.location().rsplit('/').next().unwrap().parse().unwrap();
        // The department's own items (7, 15-18, 30) go to the vendor here.
        for n in ["7", "15", "16", "17", "18", "30"] {
            officer.get(&format!("/systems/{sys}")).await;
            let r = officer.post(&format!("/systems/{sys}/moves"), &[("number", n), ("party", "builder")]).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: No.{n}: {}", app.backend, r.body);
        }
        let page = officer.get(&format!("/systems/{sys}")).await;
        assert!(page.body.contains("未着手"));
        // Every system: 1-12, 15-30, 79; with servers: 13, 14.
        let applicable: Vec<u32> = (1..=30).chain([79]).collect();
        assert!(page.body.contains(&format!("<strong>{}</strong>", applicable.len())), "{}", app.backend);

        // Vendor B sees nothing: not the system, not its items, not a count.
        for path in [format!("/systems/{sys}"), format!("/systems/{sys}/items/1"), format!("/systems/{sys}/history")] {
            assert_eq!(other.get(&path).await.status, StatusCode::NOT_FOUND, "{}: {path}", app.backend);
        }
        let list = other.get("/systems").await;
        assert!(!list.body.contains("文書管理システム") && list.body.contains("該当するシステムはありません"));
        let list = other.get(&format!("/systems?vendor={vendor_a}")).await;
        assert!(!list.body.contains("文書管理システム"), "a filter cannot widen the scope");
        other.get("/dashboard").await;
        let forged = other.post(&format!("/systems/{sys}/items/1"), &[("status", "done"), ("measures", "x")]).await;
        assert_eq!(forged.status, StatusCode::NOT_FOUND);

        // Vendor A: a bad answer is explained and changes nothing.
        let r = answer(&vendor, sys, 1, &[("status", "partial"), ("measures", ""), ("planned_date", "")]).await;
        assert!(r.body.contains("対応内容を入力") && r.body.contains("対応予定日を入力"), "{}", r.body);
        assert!(app.store.answers(sys, 1).await.unwrap().is_empty());
        // Submitting early lists what is missing.
        let r = submit(&vendor, sys).await;
        assert!(r.body.contains("未回答または差戻し後に未修正の項目があります"), "{}", app.backend);
        for n in &applicable {
            let r = if *n == 17 {
                answer(&vendor, sys, *n, &[("status", "not_applicable"), ("reason", "外部記録媒体を使わない")]).await
            } else {
                answer(&vendor, sys, *n, &[("status", "done"), ("measures", &format!("No.{n} の対策を実施"))]).await
            };
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: No.{n}: {}", app.backend, r.body);
        }
        // No.13 applies (servers): answered again as not done, with a date.
        answer(&vendor, sys, 13, &[("status", "not_done"), ("planned_date", "2027-03-31")]).await;
        let r = submit(&vendor, sys).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        // Submitted: no more editing.
        let r = answer(&vendor, sys, 1, &[("status", "done"), ("measures", "変更")]).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(!r.body.contains("下書きとして保存する"), "the form is gone after submission");

        // The officer returns two items with comments and approves the rest.
        // 13 and 14 apply because the system uses servers: all are in 1..=30.
        let all = applicable.clone();
        for n in &all {
            let r = match n {
                4 => decide(&officer, sys, *n, "return", "パスワード規則の証跡を添付してください").await,
                17 => decide(&officer, sys, *n, "return", "").await,
                _ => decide(&officer, sys, *n, "approve", "").await,
            };
            if *n == 17 {
                assert!(r.body.contains("差戻しの場合はコメントを入力"), "{}", app.backend);
                decide(&officer, sys, 17, "return", "USB の利用を制限していることを記載してください").await;
            } else {
                assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: No.{n}: {}", app.backend, r.body);
            }
        }
        let r = finish_review(&officer, sys).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert!(officer.get(&format!("/systems/{sys}")).await.body.contains("差戻し"));

        // The vendor sees the comments, fixes the two and resubmits.
        let item = vendor.get(&format!("/systems/{sys}/items/4")).await;
        assert!(item.body.contains("パスワード規則の証跡を添付してください"), "{}", app.backend);
        let r = submit(&vendor, sys).await;
        assert!(r.body.contains("No.4") && r.body.contains("No.17"), "returned items must be answered again");
        answer(
            &vendor,
            sys,
            4,
            &[("status", "done"), ("measures", "12文字以上・3種類以上を強制(設定画面の写しを添付)")],
        )
        .await;
        answer(&vendor, sys, 17, &[("status", "done"), ("measures", "USB メモリの利用を禁止")]).await;
        assert_eq!(submit(&vendor, sys).await.status, StatusCode::SEE_OTHER);

        // The officer approves the two; the review finishes approved.
        let early = finish_review(&officer, sys).await;
        assert!(early.body.contains("審査が済んでいない項目があります"), "{}", app.backend);
        decide(&officer, sys, 4, "approve", "").await;
        decide(&officer, sys, 17, "approve", "").await;
        finish_review(&officer, sys).await;
        let page = officer.get(&format!("/systems/{sys}")).await;
        assert!(page.body.contains("<strong>承認</strong>"), "{}", app.backend);

        // History: every step of No.4, in order.
        let h = officer.get(&format!("/systems/{sys}/items/4")).await.body;
        let order = ["回答を保存", "差戻し", "回答を保存", "承認"];
        let mut from = h.find("履歴").unwrap();
        for step in order {
            let i =
                h[from..].find(step).unwrap_or_else(|| panic!("{}: {step} missing after position {from}", app.backend));
            from += i + step.len();
        }
        assert!(h.contains("変更点: 対応内容"), "a revision names what changed: {}", app.backend);
        let full = officer.get(&format!("/systems/{sys}/history")).await.body;
        assert_eq!(full.matches("提出").count(), 2, "two submissions");
        assert_eq!(full.matches("審査完了").count(), 2, "two reviews finished");
        // Next year: a new round from the approved one, answers carried over
        // and awaiting review again; the first round stays as it was.
        let r = officer.post(&format!("/systems/{sys}/rounds"), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let page = officer.get(&format!("/systems/{sys}")).await.body;
        assert!(page.contains("<strong>回答中</strong>") && page.contains("<dd>2</dd>"), "{}", app.backend);
        let round2 = app.store.answers(sys, 2).await.unwrap();
        assert_eq!(round2.len(), all.len());
        assert!(round2.iter().all(|a| a.review == mamori_core::checklist::Review::Pending));
        assert!(app
            .store
            .answers(sys, 1)
            .await
            .unwrap()
            .iter()
            .all(|a| a.review == mamori_core::checklist::Review::Approved));
        let again = officer.post(&format!("/systems/{sys}/rounds"), &[]).await;
        assert!(again.body.contains("承認済みのシステムでのみ"), "{}", app.backend);
        let actions = app.audit_actions().await;
        for a in [
            "system.created",
            "answer.saved",
            "system.submitted",
            "answer.reviewed",
            "review.finished",
            "system.round_started",
        ] {
            assert!(actions.contains(&a.to_owned()), "{a}");
        }
        app.close().await;
    }
}

#[tokio::test]
async fn overrides_need_a_reason_and_change_what_applies() {
    for app in App::each(Options::default()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let sys = system(&app, dept, Some(vendor), "会計システム").await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        officer.get(&format!("/systems/{sys}")).await;
        let r = officer
            .post(&format!("/systems/{sys}/overrides"), &[("number", "72"), ("applies", "yes"), ("reason", "")])
            .await;
        assert!(r.body.contains("理由を入力してください"), "{}", app.backend);
        let r = officer
            .post(&format!("/systems/{sys}/overrides"), &[("number", "999"), ("applies", "yes"), ("reason", "x")])
            .await;
        assert!(r.body.contains("要件の番号を正しく"), "{}", app.backend);
        let r = officer
            .post(
                &format!("/systems/{sys}/overrides"),
                &[("number", "72"), ("applies", "yes"), ("reason", "一部クラウドを利用")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let page = officer.get(&format!("/systems/{sys}")).await;
        assert!(page.body.contains("/items/72") && page.body.contains("一部クラウドを利用"), "{}", app.backend);
        // The department sees its own system, read-only.
        let (staff, _) = app.signed_in("staff1", Role::Department, Some(dept)).await;
        let page = staff.get(&format!("/systems/{sys}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains("/overrides"));
        app.close().await;
    }
}

#[tokio::test]
async fn dashboards_show_charts_and_only_what_each_may_see() {
    for app in App::each(Options::default()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let vendor_a = app.org("ベンダーA", OrgKind::Vendor).await;
        let vendor_b = app.org("ベンダーB", OrgKind::Vendor).await;
        let a = system(&app, dept, Some(vendor_a), "Aのシステム").await;
        system(&app, dept, Some(vendor_b), "Bのシステム").await;
        let (vendor, _) = app.signed_in("vendor-a", Role::Vendor, Some(vendor_a)).await;
        answer(&vendor, a, 1, &[("status", "not_done"), ("planned_date", "2020-01-31")]).await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let board = officer.get("/dashboard").await.body;
        assert!(
            board.contains("<svg") && board.contains("Aのシステム") && board.contains("Bのシステム"),
            "{}",
            app.backend
        );
        assert!(board.contains("ID管理について"), "categories are charted");
        assert!(board.contains(&format!("/systems/{a}/items/1")), "the overdue item is listed");
        let filtered = officer.get(&format!("/dashboard?vendor={vendor_b}")).await.body;
        assert!(!filtered.contains("Aのシステム") && filtered.contains("Bのシステム"));
        let mine = vendor.get("/dashboard").await.body;
        assert!(mine.contains("Aのシステム") && !mine.contains("Bのシステム"), "{}: a vendor's dashboard", app.backend);
        let widened = vendor.get(&format!("/dashboard?vendor={vendor_b}")).await.body;
        assert!(!widened.contains("Bのシステム"));
        app.close().await;
    }
}

/// Uploads a file that expires on 2027-03-31, with the CSRF token unless `with_token` is false.
async fn upload(c: &Client, sys: i64, n: u32, name: &str, bytes: Vec<u8>, with_token: bool) -> crate::harness::Res {
    c.upload_form(sys, n, name, bytes, Some("2027-03-31"), with_token).await
}

#[tokio::test]
async fn evidence_is_typed_by_content_scanned_and_shown_only_to_those_who_may_see_the_system() {
    let clamd = mamori_testkit::start_clamd().await;
    let opts = Options {
        evidence_max_bytes: Some(64 * 1024),
        clamd: clamd.as_ref().map(|c| c.socket.clone()),
        ..Options::default()
    };
    for app in App::each(opts).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let vendor_b = app.org("ベンダーB", OrgKind::Vendor).await;
        let (other, _) = app.signed_in("vendor-b", Role::Vendor, Some(vendor_b)).await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;

        let pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
        let r = upload(&vendor, sys, 4, "../../etc/パスワード設定.pdf", pdf.clone(), true).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let page = vendor.get(&format!("/systems/{sys}/items/4")).await.body;
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&pdf));
        assert!(
            page.contains("パスワード設定.pdf") && !page.contains("../"),
            "the name is kept as data, without its path"
        );
        assert!(page.contains(&sha), "the SHA-256 is shown");
        assert!(page.contains("2027-03-31"));
        let href = page.split("href=\"/evidence/").nth(1).unwrap().split('"').next().unwrap().to_owned();
        let get = |c: &Client| {
            let url = format!("{}/evidence/{href}", app.base);
            let http = c.http.clone();
            async move { http.get(url).send().await.unwrap() }
        };
        let d = get(&vendor).await;
        assert_eq!(d.status(), StatusCode::OK);
        assert_eq!(d.headers().get("content-type").unwrap(), "application/pdf");
        let cd = d.headers().get("content-disposition").unwrap().to_str().unwrap().to_owned();
        assert!(cd.starts_with("attachment;") && cd.contains("filename*=UTF-8''"), "{cd}");
        assert_eq!(d.bytes().await.unwrap().to_vec(), pdf);
        assert_eq!(get(&officer).await.status(), StatusCode::OK);
        assert_eq!(get(&other).await.status(), StatusCode::NOT_FOUND, "{}: another vendor", app.backend);

        // Refusals: each with its message, nothing stored.
        let before = app.store.evidence_for(sys, 1, 4).await.unwrap().len();
        let r = upload(&vendor, sys, 4, "report.pdf", b"MZ\x90\x00\x03\x00\x00\x00binary".to_vec(), true).await;
        assert!(r.body.contains("登録できる種類のファイルではありません"), "{}: {}", app.backend, r.body);
        let r = upload(&vendor, sys, 4, "big.txt", vec![b'a'; 70 * 1024], true).await;
        assert!(r.body.contains("ファイルが大きすぎます"), "{}", app.backend);
        let r = upload(&vendor, sys, 4, "x.txt", b"hello".to_vec(), false).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: an upload without the token", app.backend);
        if clamd.is_some() {
            let r = upload(&vendor, sys, 4, "eicar.txt", mamori_testkit::EICAR.as_bytes().to_vec(), true).await;
            assert!(r.body.contains("ウイルスが検出された"), "{}: {}", app.backend, r.body);
            let rejected = app
                .store
                .audit_recent(50)
                .await
                .unwrap()
                .into_iter()
                .find(|e| e.record.action == "evidence.rejected" && e.record.changes.contains("infected"));
            assert!(rejected.is_some(), "{}: the infected upload is audited", app.backend);
            // A clean text file passes the scanner.
            let r = upload(&vendor, sys, 4, "memo.txt", "設定の記録".as_bytes().to_vec(), true).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        }
        assert!(!vendor.get("/dashboard").await.body.contains("有効期限が近い"), "{}: 2027-03-31 is far", app.backend);
        let after = app.store.evidence_for(sys, 1, 4).await.unwrap().len();
        assert_eq!(after, before + usize::from(clamd.is_some()), "{}", app.backend);
        let actions = app.audit_actions().await;
        assert!(
            actions.contains(&"evidence.uploaded".to_owned()) && actions.contains(&"evidence.downloaded".to_owned())
        );
        app.close().await;
    }
}

#[tokio::test]
async fn uploads_are_refused_when_the_scanner_is_down() {
    let opts = Options { clamd: Some("/nonexistent/clamd.sock".into()), ..Options::default() };
    let app = App::spawn("sqlite", opts).await;
    let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
    let r = upload(&vendor, sys, 4, "memo.txt", b"hello".to_vec(), true).await;
    assert!(r.body.contains("ウイルス検査ができなかった"), "fail closed: {}", r.body);
    assert!(app.store.evidence_for(sys, 1, 4).await.unwrap().is_empty());
    app.close().await;
}

/// A clamd that takes the file and never answers held the upload past the
/// request's time limit (it was given 60 s, the request 30): the request
/// was cut off with a bare 408 and nothing said why. Its verdict is now
/// awaited only for what is left of the request's time: the upload is
/// refused with the scanner-down message, and nothing is stored.
#[tokio::test]
async fn a_clamd_that_never_answers_refuses_the_upload_within_the_request_s_time() {
    let dir = tempfile::TempDir::new().unwrap();
    let socket = dir.path().join("clamd.sock");
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let limit = std::time::Duration::from_secs(6);
    let opts = Options { clamd: Some(socket), request_timeout: Some(limit), ..Options::default() };
    let app = App::spawn("sqlite", opts).await;
    let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
    let started = std::time::Instant::now();
    let r = upload(&vendor, sys, 4, "memo.txt", b"hello".to_vec(), true).await;
    assert_eq!(r.status, StatusCode::OK, "the form again, not a timeout: {}", r.body);
    assert!(r.body.contains("ウイルス検査ができなかった"), "{}", r.body);
    assert!(started.elapsed() < limit, "answered within the request's time");
    assert!(app.store.evidence_for(sys, 1, 4).await.unwrap().is_empty());
    app.close().await;
}

#[tokio::test]
async fn evidence_near_or_past_its_expiry_is_listed_on_the_dashboard() {
    let app = App::spawn("sqlite", Options::default()).await;
    let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
    let today = app.now().date();
    let soon = (today + time::Duration::days(10)).to_string();
    let past = (today - time::Duration::days(1)).to_string();
    let far = (today + time::Duration::days(60)).to_string();
    for (name, date) in [("soon.txt", &soon), ("past.txt", &past), ("far.txt", &far)] {
        let r = vendor.upload_form(sys, 4, name, b"certificate".to_vec(), Some(date.as_str()), true).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    let board = vendor.get("/dashboard").await.body;
    let section = &board[board.find("有効期限が近い").expect("the reminder")..];
    assert!(section.contains("soon.txt") && section.contains("past.txt") && !section.contains("far.txt"));
    assert_eq!(section.matches("期限切れ").count(), 1, "only the past one is expired");
    app.close().await;
}

/// Answers every applicable item of a plain system (1-12, 15-30, 79) and
/// submits it.
async fn answer_all_and_submit(app: &App, vendor: &Client, sys: i64) -> Vec<u32> {
    let applicable: Vec<u32> = (1..=12).chain(15..=30).chain([79]).collect();
    for n in &applicable {
        let r = answer(vendor, sys, *n, &[("status", "done"), ("measures", &format!("No.{n} の対策を実施"))]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: No.{n}: {}", app.backend, r.body);
    }
    let r = submit(vendor, sys).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
    applicable
}

/// The attack: the officer approves No.4 and returns No.17; while the
/// system is 差戻し the vendor rewrites the approved No.4 as 未対応 and
/// adds evidence to the approved No.5, answers No.17 again and resubmits.
/// Before, No.4 and No.5 kept their approval and the system could reach
/// 承認 with content nobody reviewed.
#[tokio::test]
async fn item_9_an_approved_answer_changed_while_returned_goes_back_to_review() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "税務システム").await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let applicable = answer_all_and_submit(&app, &vendor, sys).await;
        for n in &applicable {
            let r = if *n == 17 {
                decide(&officer, sys, *n, "return", "記載が不足しています").await
            } else {
                decide(&officer, sys, *n, "approve", "").await
            };
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: No.{n}: {}", app.backend, r.body);
        }
        finish_review(&officer, sys).await;
        assert!(officer.get(&format!("/systems/{sys}")).await.body.contains("<strong>差戻し</strong>"));

        // The vendor changes the approved No.4 and adds a file to the approved No.5.
        let r = answer(&vendor, sys, 4, &[("status", "not_done"), ("planned_date", "2027-03-31")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let r = vendor.upload(sys, 5, "new.pdf", b"%PDF-1.4\n%%EOF\n".to_vec()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        answer(&vendor, sys, 17, &[("status", "done"), ("measures", "USB メモリの利用を禁止")]).await;
        let answers = app.store.answers(sys, 1).await.unwrap();
        for n in [4, 5, 17] {
            let a = answers.iter().find(|a| a.number == n).unwrap();
            assert_eq!(a.review, mamori_core::checklist::Review::Pending, "{}: No.{n} awaits review", app.backend);
        }
        let r = submit(&vendor, sys).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);

        // The officer sees what changed after approval, against the approved revision.
        let list = officer.get(&format!("/systems/{sys}")).await.body;
        assert_eq!(list.matches("承認後に変更").count(), 2, "{}: No.4 and No.5 are marked", app.backend);
        let item = officer.get(&format!("/systems/{sys}/items/4")).await.body;
        assert!(item.contains("承認後に変更"), "{}", app.backend);
        assert!(item.contains("<del>対応済</del>") && item.contains("<ins>未対応</ins>"), "{}: {item}", app.backend);
        assert!(item.contains("<del>No.4 の対策を実施</del>"), "{}", app.backend);
        assert!(item.contains("<ins>2027-03-31</ins>"), "{}", app.backend);
        let item5 = officer.get(&format!("/systems/{sys}/items/5")).await.body;
        assert!(item5.contains("証跡が追加されています"), "{}", app.backend);

        // Finishing the review now cannot approve: three items have no decision.
        let r = officer.post(&format!("/systems/{sys}/review"), &[]).await;
        assert!(r.body.contains("審査が済んでいない項目があります: No.4、No.5、No.17"), "{}: {}", app.backend, r.body);
        assert!(officer.get(&format!("/systems/{sys}")).await.body.contains("<strong>提出済</strong>"));

        // A decision made on the revision the officer saw before the change is stale.
        let decided = hidden_in(&officer.get(&format!("/systems/{sys}/items/4")).await.body, "decided");
        let stale = officer
            .post(
                &format!("/systems/{sys}/items/4/review"),
                &[("decision", "approve"), ("comment", ""), ("revision", "1"), ("decided", &decided)],
            )
            .await;
        assert!(stale.body.contains("画面を開いた後に変更されました"), "{}", app.backend);
        for n in [4, 5, 17] {
            decide(&officer, sys, n, "approve", "").await;
        }
        finish_review(&officer, sys).await;
        assert!(
            officer.get(&format!("/systems/{sys}")).await.body.contains("<strong>承認</strong>"),
            "{}",
            app.backend
        );
        // Every approved item's approval is on its current revision.
        for a in app.store.answers(sys, 1).await.unwrap() {
            assert_eq!(a.approved.as_ref().map(|x| x.revision), Some(a.revision), "{}: No.{}", app.backend, a.number);
        }
        app.close().await;
    }
}

/// A submission racing answers: the workflow rule is checked inside the
/// write transaction, so no answer is saved into a submitted system.
#[tokio::test]
async fn item_9_answers_racing_a_submission_never_land_in_a_submitted_system() {
    for app in App::each(Options::unpaced()).await {
        let (sys, vendor) = supplied_system(&app, "税務システム").await;
        let applicable: Vec<u32> = (1..=12).chain(15..=30).chain([79]).collect();
        for n in &applicable {
            answer(&vendor, sys, *n, &[("status", "done"), ("measures", "実施")]).await;
        }
        vendor.get(&format!("/systems/{sys}")).await;
        // Each save carries the revision its page showed: the first save of
        // an item may land (before the submission), the later ones of the
        // same item are refused as changed meanwhile, which is not counted.
        let revisions: Vec<String> =
            app.store.answers(sys, 1).await.unwrap().iter().map(|a| a.revision.to_string()).collect();
        assert_eq!(revisions.len(), applicable.len());
        let mut tasks = Vec::new();
        for k in 0..100 {
            let c = vendor.clone();
            let (n, revision) = (applicable[k % applicable.len()], revisions[k % applicable.len()].clone());
            tasks.push(tokio::spawn(async move {
                if k == 50 {
                    c.post(&format!("/systems/{sys}/submit"), &[]).await
                } else {
                    let m = format!("変更 {k}");
                    let fields = [("status", "done"), ("measures", &m), ("revision", &revision)];
                    c.post(&format!("/systems/{sys}/items/{n}"), &fields).await
                }
            }));
        }
        let mut refused = 0;
        for t in tasks {
            let r = t.await.unwrap();
            refused += usize::from(r.status == StatusCode::OK && !r.body.contains("他の人が変更したため"));
        }
        let s = app.store.system(sys).await.unwrap().unwrap();
        assert_eq!(s.status, mamori_core::checklist::SystemStatus::Submitted, "{}", app.backend);
        let history = app.store.history(sys, 1).await.unwrap();
        let submitted = history.iter().position(|h| h.kind == mamori_core::checklist::HistoryKind::Submit).unwrap();
        let late: Vec<_> =
            history[submitted..].iter().filter(|h| h.kind == mamori_core::checklist::HistoryKind::Answer).collect();
        assert!(late.is_empty(), "{}: {} answers saved after the submission", app.backend, late.len());
        assert!(refused > 0, "{}: the race ran (answers were sent after the submission)", app.backend);
        app.close().await;
    }
}

/// The external-service fields said nothing when refused: the form came
/// back without a message next to them.
#[tokio::test]
async fn refused_external_service_fields_say_why_next_to_the_field() {
    let app = App::spawn("sqlite", Options::default()).await;
    let dept = app.org("総務課", OrgKind::Department).await;
    let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    officer.get("/systems/new").await;
    let long = "あ".repeat(120);
    let r = officer
        .post(
            "/systems",
            &[
                ("name", "クラウド会計"),
                ("department_id", &dept.to_string()),
                ("phase", "building"),
                ("external_service", "on"),
                ("service_name", &long),
                ("ismap_number", &long),
                ("service_region", &long),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for (id, label) in [
        ("service_name", "field-service-name"),
        ("ismap_number", "field-ismap"),
        ("service_region", "field-service-region"),
    ] {
        let at = r.body.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("{id} in the form"));
        let after = &r.body[at..];
        let next_label = after[1..].find("<label").map_or(after.len(), |i| i + 1);
        assert!(after[..next_label].contains("class=\"field-error\""), "{id} ({label}): no message next to it");
    }
    assert!(app.store.systems(mamori_core::scope::Scope::All, &Default::default()).await.unwrap().is_empty());
    app.close().await;
}

/// The system's revision in its page's approval form.
fn seen_revision(body: &str) -> String {
    let marker = "name=\"revision\" value=\"";
    body.split(marker).nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_owned()
}

/// How many answers of the system's first round are approved.
async fn approved(app: &App, sys: i64) -> usize {
    let answers = app.store.answers(sys, 1).await.unwrap();
    answers.iter().filter(|a| a.review == mamori_core::checklist::Review::Approved).count()
}

/// The attack: the officer's list is shown, then another officer returns
/// No.2; the bulk approval made from the old list would approve an item
/// whose state the officer never saw. It is refused whole.
#[tokio::test]
async fn bulk_approval_is_refused_whole_when_the_system_changed_after_the_list_was_shown() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "税務システム").await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let (other, _) = app.signed_in("officer2", Role::SecurityOfficer, None).await;
        let applicable = answer_all_and_submit(&app, &vendor, sys).await;
        let list = officer.get(&format!("/systems/{sys}?select=pending")).await.body;
        let revision = seen_revision(&list);
        assert!(!revision.is_empty(), "{}: the list carries the revision", app.backend);
        assert_eq!(list.matches("name=\"item\"").count(), applicable.len(), "{}", app.backend);
        assert_eq!(list.matches(" checked>").count(), applicable.len(), "{}: all ticked", app.backend);

        let r = decide(&other, sys, 2, "return", "根拠が不足").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let numbers: Vec<String> = applicable.iter().map(u32::to_string).collect();
        let mut fields = vec![("revision", revision.as_str()), ("confirm", "yes")];
        fields.extend(numbers.iter().map(|n| ("item", n.as_str())));
        let r = officer.post(&format!("/systems/{sys}/approvals"), &fields).await;
        assert_eq!(r.status, StatusCode::OK, "{}: the list again, with the reason", app.backend);
        assert!(r.body.contains("一覧を開いた後にこのシステムが変更されました"), "{}: {}", app.backend, r.body);
        assert!(r.body.contains("id=\"error-summary\""), "{}", app.backend);
        assert_eq!(approved(&app, sys).await, 0, "{}: none approved", app.backend);

        // From a fresh list, the same selection goes through.
        let list = officer.get(&format!("/systems/{sys}")).await.body;
        let revision = seen_revision(&list);
        let mut fields = vec![("revision", revision.as_str()), ("confirm", "yes")];
        fields.extend(numbers.iter().map(|n| ("item", n.as_str())));
        let r = officer.post(&format!("/systems/{sys}/approvals"), &fields).await;
        assert_eq!(r.location(), format!("/systems/{sys}"), "{}: {}", app.backend, r.body);
        assert_eq!(approved(&app, sys).await, applicable.len(), "{}", app.backend);
        app.close().await;
    }
}

/// Another officer's decision the first never saw: officer1 has No.2 open
/// (its page, and the list with its quick buttons); officer2 returns No.2
/// with a comment. officer1's approval from either page was taken before,
/// replacing the return and its comment unseen, and the review could end
/// 承認. Now both are refused as changed; No.2 stays returned with
/// officer2's comment, and the review ends 差戻し.
#[tokio::test]
async fn a_decision_from_a_page_shown_before_another_officer_s_decision_is_refused() {
    use mamori_core::checklist::{Review, SystemStatus};
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "税務システム").await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let (other, _) = app.signed_in("officer2", Role::SecurityOfficer, None).await;
        let applicable = answer_all_and_submit(&app, &vendor, sys).await;
        let item = officer.get(&format!("/systems/{sys}/items/2")).await.body;
        let list = officer.get(&format!("/systems/{sys}")).await.body;
        let quick = &list[list.find("id=\"approve-2\"").expect("the list's approve button for No.2")..];
        let (item_revision, item_decided) = (revision_in(&item), hidden_in(&item, "decided"));
        let (list_revision, list_decided) = (hidden_in(quick, "revision"), hidden_in(quick, "decided"));
        let from_item =
            [("decision", "approve"), ("comment", ""), ("revision", &item_revision), ("decided", &item_decided)];
        let from_list =
            [("decision", "approve"), ("then", "list"), ("revision", &list_revision), ("decided", &list_decided)];

        assert_eq!(decide(&other, sys, 2, "return", "根拠が不足").await.status, StatusCode::SEE_OTHER);
        for form in [&from_item, &from_list] {
            let r = officer.post(&format!("/systems/{sys}/items/2/review"), form).await;
            assert!(r.body.contains("画面を開いた後に変更されました"), "{}: {}", app.backend, r.body);
        }
        let a = app.store.answer(sys, 1, 2).await.unwrap().unwrap();
        assert_eq!((a.review, a.review_comment.as_str()), (Review::Returned, "根拠が不足"), "{}", app.backend);
        let reviewed = app.audit_actions().await.into_iter().filter(|a| a == "answer.reviewed").count();
        assert_eq!(reviewed, 1, "{}: officer2's decision only", app.backend);

        for n in applicable.iter().filter(|n| **n != 2) {
            assert_eq!(decide(&officer, sys, *n, "approve", "").await.status, StatusCode::SEE_OTHER);
        }
        finish_review(&officer, sys).await;
        let status = app.store.system(sys).await.unwrap().unwrap().status;
        assert_eq!(status, SystemStatus::Returned, "{}", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn only_the_security_office_approves_in_bulk_and_hostile_selections_change_nothing() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "税務システム").await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let dept_id = app.store.organisations().await.unwrap().iter().find(|o| o.name == "総務課").unwrap().id;
        let (dept, _) = app.signed_in("dept1", Role::Department, Some(dept_id)).await;
        answer_all_and_submit(&app, &vendor, sys).await;
        let revision = seen_revision(&officer.get(&format!("/systems/{sys}")).await.body);
        let path = format!("/systems/{sys}/approvals");
        let all = [("revision", revision.as_str()), ("confirm", "yes"), ("item", "1"), ("item", "2")];

        // The vendor and the department may not.
        for c in [&vendor, &dept] {
            c.get(&format!("/systems/{sys}")).await;
            let r = c.post(&path, &all).await;
            assert!(
                r.status == StatusCode::NOT_FOUND || r.status == StatusCode::FORBIDDEN,
                "{}: {}",
                app.backend,
                r.status
            );
        }
        assert_eq!(approved(&app, sys).await, 0, "{}", app.backend);

        // Hostile selections: nothing, garbage, an item that does not apply,
        // a number past the catalog, no revision.
        officer.get(&format!("/systems/{sys}")).await;
        let tries: [&[(&str, &str)]; 6] = [
            &[("revision", &revision), ("confirm", "yes")],
            &[("revision", &revision), ("confirm", "yes"), ("item", "abc"), ("item", "-1")],
            &[("revision", &revision), ("confirm", "yes"), ("item", "1"), ("item", "13")],
            &[("revision", &revision), ("confirm", "yes"), ("item", "1"), ("item", "4294967295")],
            &[("confirm", "yes"), ("item", "1")],
            &[("revision", "x' OR 1=1 --"), ("confirm", "yes"), ("item", "1")],
        ];
        for fields in tries {
            let r = officer.post(&path, fields).await;
            assert!(
                r.status.is_client_error() || r.status == StatusCode::OK,
                "{}: {fields:?}: {}",
                app.backend,
                r.status
            );
            assert!(!r.body.contains("panicked") && !r.body.contains("sqlx"), "{}", app.backend);
            assert_eq!(approved(&app, sys).await, 0, "{}: {fields:?} changed nothing", app.backend);
        }
        app.close().await;
    }
}

#[tokio::test]
async fn the_system_page_shows_its_description_external_service_ismap_number_region_and_each_requirements_text() {
    let app = App::spawn("sqlite", Options::default()).await;
    let (sys, vendor) = supplied_system(&app, "電子申請システム").await;
    let before = app.store.system(sys).await.unwrap().unwrap();
    let mut input = before.input.clone();
    input.description = "住民が申請を行うシステム".into();
    input.service_name = "クラウド基盤サービス".into();
    input.ismap_number = "C21-0001-1".into();
    input.service_region = "東京リージョン".into();
    app.store.update_system(&app.system_ctx(), before.id, &input).await.unwrap();
    let page = vendor.get(&format!("/systems/{sys}")).await.body;
    for (label, value) in [
        ("説明", "住民が申請を行うシステム"),
        ("外部サービス名", "クラウド基盤サービス"),
        ("ISMAP 登録番号", "C21-0001-1"),
        ("リージョン", "東京リージョン"),
    ] {
        assert!(page.contains(&format!("<dt>{label}</dt>")) && page.contains(value), "{label}: {page}");
    }
    // Each listed requirement carries its text, folded.
    let folded = page.matches("<details class=\"requirement-text\"><summary>内容</summary><p class=\"pre\">").count();
    assert_eq!(folded, 29, "the 29 items of a plain system");
    app.close().await;
}

#[tokio::test]
async fn item_pages_lead_to_the_neighbouring_applicable_items_and_save_and_next_goes_on() {
    let app = App::spawn("sqlite", Options::default()).await;
    let (sys, vendor) = supplied_system(&app, "税務システム").await;
    // A plain system: 1–12, 15–30 and 79 apply; 13 and 14 do not.
    let page = vendor.get(&format!("/systems/{sys}/items/12")).await.body;
    assert!(page.contains(&format!("href=\"/systems/{sys}/items/11\" rel=\"prev\"")), "{page}");
    assert!(page.contains(&format!("href=\"/systems/{sys}/items/15\" rel=\"next\"")), "skips 13 and 14: {page}");
    assert!(page.contains("保存して次へ"));
    let first = vendor.get(&format!("/systems/{sys}/items/1")).await.body;
    assert!(!first.contains("rel=\"prev\""), "nothing before No.1");
    let last = vendor.get(&format!("/systems/{sys}/items/79")).await.body;
    assert!(!last.contains("rel=\"next\"") && !last.contains("保存して次へ"), "nothing after No.79");

    let fields = [("status", "done"), ("measures", "実施"), ("then", "next")];
    let r = answer(&vendor, sys, 12, &fields).await;
    assert_eq!(r.location(), format!("/systems/{sys}/items/15"), "on to the next that applies");
    let r = answer(&vendor, sys, 79, &fields).await;
    assert_eq!(r.location(), format!("/systems/{sys}/items/79"), "the last stays");
    let r = answer(&vendor, sys, 1, &[("status", "done"), ("measures", "実施")]).await;
    assert_eq!(r.location(), format!("/systems/{sys}/items/1"), "a plain save stays");

    // The officer's decision goes on the same way.
    let applicable = answer_all_and_submit(&app, &vendor, sys).await;
    assert_eq!(applicable.len(), 29);
    let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    let page = officer.get(&format!("/systems/{sys}/items/12")).await.body;
    let (revision, decided) = (revision_in(&page), hidden_in(&page, "decided"));
    let r = officer
        .post(
            &format!("/systems/{sys}/items/12/review"),
            &[
                ("decision", "approve"),
                ("comment", ""),
                ("revision", &revision),
                ("decided", &decided),
                ("then", "next"),
            ],
        )
        .await;
    assert_eq!(r.location(), format!("/systems/{sys}/items/15"));
    app.close().await;
}

/// The rows of a system page's list: (number, review label).
fn review_labels(body: &str) -> Vec<(u32, String)> {
    let table = body.split("<tbody>").last().unwrap_or("");
    table
        .split("\" class=\"review-")
        .skip(1)
        .filter_map(|row| {
            let n = row.split("/items/").nth(1)?.split('"').next()?.parse().ok()?;
            let last_cell = row.split("</tr>").next()?.rsplit("<td").next()?;
            let label = last_cell.split("<span class=\"nowrap\">").nth(1)?.split("</span>").next()?;
            let last = label.trim().to_owned();
            Some((n, last))
        })
        .collect()
}

#[tokio::test]
async fn the_return_cycle_reads_draft_waiting_returned_and_fixed_with_the_comment_in_sight() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "税務システム").await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let page = format!("/systems/{sys}");
        answer(&vendor, sys, 2, &[("status", "done"), ("measures", "実施")]).await;
        let labels = review_labels(&vendor.get(&page).await.body);
        assert!(labels.contains(&(2, "下書き".into())), "{}: saved, not submitted: {labels:?}", app.backend);

        let applicable = answer_all_and_submit(&app, &vendor, sys).await;
        let labels = review_labels(&officer.get(&page).await.body);
        assert!(labels.iter().all(|(_, l)| l == "審査待ち"), "{}: {labels:?}", app.backend);
        for n in &applicable {
            let (decision, comment) =
                if *n == 2 { ("return", "根拠資料を添付してください") } else { ("approve", "") };
            decide(&officer, sys, *n, decision, comment).await;
        }
        finish_review(&officer, sys).await;

        // Returned: the item says so, the submission names it apart from
        // unanswered items, and its comment stands out on its page.
        let body = vendor.get(&page).await.body;
        assert!(review_labels(&body).contains(&(2, "差戻し".into())), "{}", app.backend);
        assert!(body.contains("差戻しの項目を修正してください:"), "{}: {body}", app.backend);
        assert!(!body.contains("未回答の項目があります"), "{}: No.2 is answered", app.backend);
        let item = vendor.get(&format!("{page}/items/2")).await.body;
        assert!(
            item.contains("<div class=\"review-comment\" role=\"note\"><h2>審査担当者のコメント</h2><p class=\"pre\">根拠資料を添付してください</p></div>"),
            "{}: {item}",
            app.backend
        );

        // Answered again: 修正済み, until it is resubmitted.
        answer(&vendor, sys, 2, &[("status", "done"), ("measures", "証跡を追加")]).await;
        let body = vendor.get(&page).await.body;
        assert!(review_labels(&body).contains(&(2, "修正済み".into())), "{}: {:?}", app.backend, review_labels(&body));
        assert!(!body.contains("差戻しの項目を修正してください"), "{}", app.backend);

        // The officer's filters.
        submit(&vendor, sys).await;
        let shown = officer.get(&format!("{page}?show=pending")).await.body;
        assert_eq!(review_labels(&shown).iter().map(|(n, _)| *n).collect::<Vec<_>>(), [2], "{}", app.backend);
        assert!(
            shown.contains("未審査 (1)") && shown.contains(&format!("すべて ({})", applicable.len())),
            "{}",
            app.backend
        );
        let all = officer.get(&format!("{page}?show=nonsense")).await.body;
        assert_eq!(review_labels(&all).len(), applicable.len(), "{}: an unknown filter shows all", app.backend);
        app.close().await;
    }
}

/// The chart's words and bars say the same: a system fully answered and not
/// yet approved reads 回答 100% / 承認 0% beside a full light bar.
#[tokio::test]
async fn the_dashboard_chart_names_both_shares_its_bars_draw() {
    let app = App::spawn("sqlite", Options::default()).await;
    let (sys, vendor) = supplied_system(&app, "税務システム").await;
    answer_all_and_submit(&app, &vendor, sys).await;
    let body = vendor.get("/dashboard").await.body;
    let bar = body.split("<title>税務システム").nth(1).expect("the system's bar").split("</g>").next().unwrap();
    assert!(bar.contains("width=\"300\" height=\"18\" fill=\"#9cc3f5\""), "answered: full: {bar}");
    assert!(bar.contains("width=\"0\" height=\"18\" fill=\"#1a5fb4\""), "approved: none: {bar}");
    assert!(bar.contains(">回答 100% / 承認 0%</text>"), "{bar}");
    app.close().await;
}

/// The words of the dashboard's 次にすること, in order.
fn next_steps(body: &str) -> Vec<String> {
    let Some(section) = body.split("<section class=\"card next-steps\" id=\"next\">").nth(1) else { return vec![] };
    let section = section.split("</section>").next().unwrap();
    section
        .split("<li><a href=\"")
        .skip(1)
        .map(|li| li.split('>').nth(1).unwrap().split('<').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn each_dashboard_starts_with_what_its_reader_does_next() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "税務システム").await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let dept_id = app.store.organisations().await.unwrap().iter().find(|o| o.name == "総務課").unwrap().id;
        let (dept, _) = app.signed_in("dept1", Role::Department, Some(dept_id)).await;

        let body = vendor.get("/dashboard").await.body;
        assert_eq!(next_steps(&body), ["「税務システム」: 未回答の項目が 29 件あります"], "{}", app.backend);
        assert!(body.find("次にすること") < body.find("<svg"), "{}: before the charts", app.backend);
        assert!(body.contains(&format!("<a href=\"/systems/{sys}\">「税務システム」")), "{}", app.backend);
        assert_eq!(next_steps(&officer.get("/dashboard").await.body), Vec::<String>::new(), "{}", app.backend);
        assert!(officer.get("/dashboard").await.body.contains("今すぐ必要な作業はありません"), "{}", app.backend);
        let (auditor, _) = app.signed_in("auditor1", Role::Auditor, None).await;
        let body = auditor.get("/dashboard").await.body;
        assert!(!body.contains("id=\"next\""), "{}: the auditor has no turn in the workflow", app.backend);

        let applicable = answer_all_and_submit(&app, &vendor, sys).await;
        assert!(next_steps(&vendor.get("/dashboard").await.body).is_empty(), "{}: with the officer now", app.backend);
        let body = officer.get("/dashboard").await.body;
        assert_eq!(next_steps(&body), ["「税務システム」: 審査待ちの項目が 29 件あります"], "{}", app.backend);
        assert!(body.contains(&format!("<a href=\"/systems/{sys}?show=pending#list\">")), "{}", app.backend);
        assert_eq!(
            next_steps(&dept.get("/dashboard").await.body),
            ["「税務システム」: 提出済(承認 0 / 29 件)"],
            "{}",
            app.backend
        );

        decide(&officer, sys, 2, "return", "根拠が不足").await;
        for n in applicable.iter().filter(|n| **n != 2) {
            decide(&officer, sys, *n, "approve", "").await;
        }
        finish_review(&officer, sys).await;
        let body = vendor.get("/dashboard").await.body;
        assert_eq!(
            next_steps(&body),
            ["「税務システム」: 差戻しの項目が 1 件あります。修正してください"],
            "{}",
            app.backend
        );
        assert!(body.contains(&format!("<a href=\"/systems/{sys}?show=returned#list\">")), "{}", app.backend);
        app.close().await;
    }
}

/// Two catalog versions side by side: each changed field of each changed
/// requirement, the old text with what went struck through and the new
/// with what came marked, conditions in words, and any markup in a
/// catalog shown as text.
#[tokio::test]
async fn the_catalog_comparison_shows_each_changed_field_side_by_side_with_the_changes_marked() {
    let app = App::spawn("sqlite", Options::default()).await;
    let (viewer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    let (first, second) = second_version(&app).await;
    let page = viewer.get(&format!("/catalog?version={second}&compare={first}")).await.body;
    let table = side_by_side(&page);
    let rows: Vec<&str> = table.split("<tr><td>").skip(1).collect();
    assert_eq!(rows.len(), 2, "two fields of No.4 changed: {table}");
    assert!(rows[0].starts_with("4</td><td>内容</td>"), "{}", rows[0]);
    assert!(
        rows[0].contains("<ins>&#60;script&#62;alert(1)&#60;/script&#62;年1回以上見直すこと。</ins>"),
        "{}",
        rows[0]
    );
    assert!(!rows[0].contains("<del>"), "nothing of the old text went: {}", rows[0]);
    assert!(rows[1].starts_with("4</td><td>適用条件</td>"), "{}", rows[1]);
    assert!(rows[1].contains("<del>すべての</del>") && rows[1].contains("<ins>Web</ins>"), "in words: {}", rows[1]);
    assert!(!page.contains("<script>alert(1)"), "markup is text");
    assert!(page.contains("No.4 が変更されました(内容、適用条件)"), "{page}");
    app.close().await;
}

/// A second catalog version: No.4's text longer (with markup) and its
/// condition narrower. The first version's id and the second's.
async fn second_version(app: &App) -> (i64, i64) {
    let first = app.store.catalog_versions().await.unwrap()[0].id;
    let mut next = (*app.store.catalog_document(first).await.unwrap().unwrap()).clone();
    next.catalog.version = "令和8年度版".into();
    let r4 = next.requirements.iter_mut().find(|r| r.number == 4).unwrap();
    let old_text = r4.text.clone();
    r4.text = format!("{old_text}<script>alert(1)</script>年1回以上見直すこと。");
    r4.applies_when = "web_system".into();
    match app.store.import_catalog(&app.system_ctx(), &next).await.unwrap() {
        mamori_store::catalog::ImportOutcome::Imported(second) => (first, second),
        other => panic!("{other:?}"),
    }
}

/// The side-by-side table of a comparison page.
fn side_by_side(page: &str) -> &str {
    page.split("<table class=\"list diff-table\">")
        .nth(1)
        .expect("the side-by-side table")
        .split("</table>")
        .next()
        .unwrap()
}

/// Any signed-in person may ask for any pair of versions, and a pair with
/// long texts takes the diff up to its deadline: a comparison waits its
/// turn off the request workers (other pages are served meanwhile), one is
/// made at a time, and a pair is compared once however many ask for it.
#[tokio::test]
async fn a_comparison_asked_by_many_at_once_is_made_once_per_pair_one_at_a_time_while_other_pages_are_served() {
    let app = App::spawn("sqlite", Options::default()).await;
    let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
    let (v, _) = app.signed_in("vendor-a", Role::Vendor, Some(vendor)).await;
    let (first, second) = second_version(&app).await;
    let forward = format!("/catalog?version={second}&compare={first}");
    let backward = format!("/catalog?version={first}&compare={second}");
    let comparisons = &app.state.comparisons;

    // Five each of four people: a person's requests are worked on six at
    // a time, and the sixth of the first person's is the dashboard below.
    let mut people = vec![v.clone()];
    for k in 2..=4 {
        people.push(app.signed_in(&format!("vendor-a{k}"), Role::Vendor, Some(vendor)).await.0);
    }
    let held = comparisons.hold_turn().await;
    let asking: Vec<_> = (0..20)
        .map(|i| {
            let path = if i % 2 == 0 { forward.clone() } else { backward.clone() };
            let asker = people[i / 5].clone();
            tokio::spawn(async move { asker.get(&path).await })
        })
        .collect();
    for _ in 0..3 {
        assert_eq!(v.get("/dashboard").await.status, StatusCode::OK, "served while the comparisons wait");
    }
    assert!(asking.iter().all(|a| !a.is_finished()), "every comparison waits for the turn");
    assert_eq!(comparisons.made(), 0);
    drop(held);

    let mut tables = std::collections::BTreeSet::new();
    for (i, asked) in asking.into_iter().enumerate() {
        let res = asked.await.unwrap();
        assert_eq!(res.status, StatusCode::OK);
        assert!(res.body.contains("No.4 が変更されました(内容、適用条件)"), "{i}: {}", res.body);
        tables.insert((i % 2, side_by_side(&res.body).to_owned()));
    }
    assert_eq!(tables.len(), 2, "each pair answered alike every time");
    assert_eq!(comparisons.made(), 2, "one comparison per pair, for twenty asking");
    assert_eq!(comparisons.peak(), 1, "one made at a time");
    v.get(&forward).await;
    assert_eq!(comparisons.made(), 2, "a pair compared is kept");
    app.close().await;
}

/// The names of the systems listed, in order.
fn listed(body: &str) -> Vec<String> {
    let table = body.split("<tbody>").nth(1).unwrap_or("").split("</tbody>").next().unwrap_or("");
    table
        .split("<tr><td><a href=\"/systems/")
        .skip(1)
        .map(|r| r.split('>').nth(1).unwrap().split('<').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_systems_list_sorts_by_any_heading_both_ways_and_its_pages_keep_the_order() {
    let app = App::spawn("sqlite", Options::default()).await;
    let dept = app.org("総務課", OrgKind::Department).await;
    for i in (1..=52).rev() {
        system(&app, dept, None, &format!("S{i:03}")).await;
    }
    let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    let asc = officer.get("/systems?sort=name&dir=asc").await.body;
    let names = listed(&asc);
    assert_eq!(names.len(), 50);
    assert_eq!((names[0].as_str(), names[49].as_str()), ("S001", "S050"));
    assert!(asc.contains("<th aria-sort=\"ascending\"><a href=\"/systems?sort=name&#38;dir=desc\">"), "{asc}");
    assert!(asc.contains("<th aria-sort=\"none\"><a href=\"/systems?sort=status&#38;dir=asc\">"), "{asc}");
    // The next page goes on in the same order.
    assert!(asc.contains("href=\"/systems?sort=name&#38;dir=asc&#38;page=2\" rel=\"next\""), "{asc}");
    let second = officer.get("/systems?sort=name&dir=asc&page=2").await.body;
    assert_eq!(listed(&second), ["S051", "S052"]);
    let desc = officer.get("/systems?sort=name&dir=desc").await.body;
    assert_eq!(listed(&desc)[0], "S052");
    assert!(desc.contains("<th aria-sort=\"descending\">"));
    // A column that does not exist changes nothing.
    let hostile = officer.get("/systems?sort=password_hash&dir=asc").await;
    assert_eq!(hostile.status, StatusCode::OK);
    assert_eq!(listed(&hostile.body).len(), 50);
    app.close().await;
}

/// The numbers of the items a system's page lists.
fn listed_items(page: &str) -> Vec<u32> {
    page.split("<tr id=\"item-").skip(1).filter_map(|r| r.split('"').next()?.parse().ok()).collect()
}

/// The seed's own limits on three rules, each set on the system's form and
/// seen in the list of its items: No.13 (where the servers stand) for a
/// cloud service too; No.11–12 (hardware maintenance) not for a cloud
/// service without hardware of its own; No.69–71 (domain management) not
/// for a web system under the ward's domain. The requirements page says
/// each rule in words.
#[tokio::test]
async fn applicability_follows_the_seed_for_cloud_services_hardware_and_domains_set_on_the_systems_form() {
    for app in App::each(Options::default()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let sys = system(&app, dept, None, "申請受付システム").await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let edit = |attrs: &'static [&'static str]| {
            let officer = &officer;
            let dept = dept.to_string();
            async move {
                let seen = hidden_in(&officer.get(&format!("/systems/{sys}/edit")).await.body, "seen");
                let mut form = vec![
                    ("name", "申請受付システム".to_owned()),
                    ("department_id", dept),
                    ("phase", "building".to_owned()),
                    ("seen", seen),
                ];
                form.extend(attrs.iter().map(|a| (*a, "on".to_owned())));
                let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let r = officer.post(&format!("/systems/{sys}"), &pairs).await;
                assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
                listed_items(&officer.get(&format!("/systems/{sys}")).await.body)
            }
        };
        let has = |items: &[u32], n: u32| items.contains(&n);

        // No.13: a SaaS (an external service, no servers) reports where it runs.
        let plain = edit(&[]).await;
        assert!(!has(&plain, 13) && has(&plain, 11) && has(&plain, 12), "{}: {plain:?}", app.backend);
        let saas = edit(&["external_service"]).await;
        assert!(has(&saas, 13) && !has(&saas, 14), "{}: {saas:?}", app.backend);
        let servers = edit(&["uses_servers"]).await;
        assert!(has(&servers, 13) && has(&servers, 14), "{}", app.backend);

        // No.11–12: a cloud service with no hardware of its own has no hardware maintenance.
        let cloud = edit(&["external_service", "cloud_only"]).await;
        assert!(!has(&cloud, 11) && !has(&cloud, 12) && has(&cloud, 10), "{}: {cloud:?}", app.backend);
        let attrs = app.store.system(sys).await.unwrap().unwrap().input.attrs;
        assert!(attrs.cloud_only && attrs.external_service && !attrs.ward_domain, "{}: stored", app.backend);

        // No.69–71: a web system under the ward's domain manages no domain.
        let own = edit(&["web_system"]).await;
        assert!([69, 70, 71].iter().all(|n| has(&own, *n)), "{}: {own:?}", app.backend);
        let ward = edit(&["web_system", "ward_domain"]).await;
        assert!([69, 70, 71].iter().all(|n| !has(&ward, *n)) && has(&ward, 68), "{}: {ward:?}", app.backend);
        let page = officer.get(&format!("/systems/{sys}")).await.body;
        assert!(
            page.contains("区のドメインで運用し、独自のドメインを取得しない"),
            "{}: the attribute shown",
            app.backend
        );

        // Each rule in words on the requirements page.
        let catalog = officer.get("/catalog").await.body;
        for words in [
            "自前の機器を持たないクラウドサービスでない場合",
            "サーバ・ネットワーク機器を利用する、または外部サービスを利用する場合",
            "Webシステムである、かつ区のドメインで運用しない場合",
        ] {
            assert!(catalog.contains(words), "{}: {words}", app.backend);
        }
        app.close().await;
    }
}

/// A phase is entered on the registration it is entered with: one form
/// that made a system a web system and put it into 本稼働 was judged on
/// the old registration (no web system, so neither No.37 nor No.78
/// applied) and went through with both unanswered.
#[tokio::test]
async fn entering_a_phase_is_judged_on_the_registration_it_is_entered_with() {
    for app in App::each(Options::default()).await {
        let (sys, _vendor) = supplied_system(&app, "申請受付システム").await;
        let input = app.store.system(sys).await.unwrap().unwrap().input;
        assert!(!input.attrs.web_system);
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let (dept, vendor_org) = (input.department_id.to_string(), input.vendor_id.unwrap().to_string());
        let seen = hidden_in(&officer.get(&format!("/systems/{sys}/edit")).await.body, "seen");
        let form = [
            ("name", "申請受付システム"),
            ("department_id", dept.as_str()),
            ("vendor_id", vendor_org.as_str()),
            ("phase", "production"),
            ("web_system", "on"),
            ("seen", &seen),
        ];
        let r = officer.post(&format!("/systems/{sys}"), &form).await;
        assert_eq!(r.status, StatusCode::OK, "{}: the form again", app.backend);
        assert!(r.body.contains("No.37、No.78"), "{}: both named: {}", app.backend, r.body);
        let after = app.store.system(sys).await.unwrap().unwrap().input;
        assert_eq!((after.phase, after.attrs.web_system), (Phase::Building, false), "{}: unchanged", app.backend);
        app.close().await;
    }
}

/// A new system may be registered in any phase but 廃止, which waits for
/// the disposal record (item 79) a new system cannot have yet: registered
/// as retired, it skipped that duty.
#[tokio::test]
async fn a_new_system_cannot_be_registered_as_retired() {
    for app in App::each(Options::default()).await {
        app.store.ensure_catalog(&app.system_ctx()).await.unwrap();
        let dept = app.org("総務課", OrgKind::Department).await.to_string();
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let register = async |name: &str, phase: &str| {
            officer.get("/systems/new").await;
            officer.post("/systems", &[("name", name), ("department_id", dept.as_str()), ("phase", phase)]).await
        };
        let r = register("廃止済みシステム", "retired").await;
        assert_eq!(r.status, StatusCode::OK, "{}: the form again", app.backend);
        assert!(r.body.contains("「廃棄」の記録が必要です"), "{}: {}", app.backend, r.body);
        assert!(
            r.body.contains("新しいシステムは「廃止」では登録できません"),
            "{}: said as a new system's",
            app.backend
        );
        let all = app.store.systems(mamori_core::scope::Scope::All, &Default::default()).await.unwrap();
        assert!(all.is_empty(), "{}: nothing registered", app.backend);
        let r = register("稼働中システム", "production").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: already running: {}", app.backend, r.body);
        app.close().await;
    }
}

/// The phase a system is in moves with its duties: 本稼働 waits for No.37
/// (unneeded accounts removed before operation) and No.78 (the
/// vulnerability diagnosis) approved with their evidence; 廃止 waits for
/// No.79 (the data erased). A refusal names what is missing and changes
/// nothing.
#[tokio::test]
async fn phases_change_only_when_the_items_of_that_moment_are_approved_with_evidence() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "申請受付システム").await;
        let before = app.store.system(sys).await.unwrap().unwrap();
        let mut input = before.input.clone();
        input.attrs.web_system = true;
        app.store.update_system(&app.system_ctx(), before.id, &input).await.unwrap();
        answer_all(&app, sys).await;
        for n in [37, 78] {
            let r = vendor.upload(sys, n, &format!("No{n}の報告書.pdf"), b"%PDF-1.4\n".to_vec()).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        }
        app.store.submit_system(&app.ctx(), sys).await.unwrap();
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let (dept, vendor_org) = (input.department_id.to_string(), input.vendor_id.unwrap().to_string());
        let to = |phase: &'static str| {
            let (officer, dept, vendor_org) = (&officer, dept.clone(), vendor_org.clone());
            async move {
                let seen = hidden_in(&officer.get(&format!("/systems/{sys}/edit")).await.body, "seen");
                let form = [
                    ("name", "申請受付システム"),
                    ("department_id", dept.as_str()),
                    ("vendor_id", vendor_org.as_str()),
                    ("phase", phase),
                    ("web_system", "on"),
                    ("seen", &seen),
                ];
                officer.post(&format!("/systems/{sys}"), &form).await
            }
        };
        let phase = async || app.store.system(sys).await.unwrap().unwrap().input.phase;
        let approve = async |numbers: &[u32]| {
            let s = app.store.system(sys).await.unwrap().unwrap();
            app.store.approve_seen(&app.ctx(), sys, s.revision, numbers).await.unwrap();
        };

        let r = to("production").await;
        assert_eq!(r.status, StatusCode::OK, "{}: the form again", app.backend);
        assert!(r.body.contains("No.37、No.78"), "{}: both named: {}", app.backend, r.body);
        assert_eq!(phase().await, Phase::Building, "{}: unchanged", app.backend);
        approve(&[78]).await;
        let r = to("production").await;
        assert!(r.body.contains("No.37") && !r.body.contains("No.37、No.78"), "{}: {}", app.backend, r.body);
        approve(&[37]).await;
        assert_eq!(to("production").await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        assert_eq!(phase().await, Phase::Production, "{}", app.backend);

        // 廃止: No.79 approved is not enough, neither without the disposal
        // record among the system's records nor without its evidence.
        approve(&[79]).await;
        let r = to("retired").await;
        assert!(r.body.contains("No.79 の「廃棄」の記録が必要です"), "{}: {}", app.backend, r.body);
        assert_eq!(phase().await, Phase::Production, "{}", app.backend);
        let disposal = [
            ("kind", "disposal"),
            ("what", "サーバ 2 台の HDD"),
            ("disposed_on", "2027-03-31"),
            ("method", "物理破壊"),
        ];
        let add_disposal = async |s: i64| {
            vendor.get(&format!("/systems/{s}/records/new?kind=disposal")).await;
            let r = vendor.post(&format!("/systems/{s}/records"), &disposal).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        };
        add_disposal(sys).await;
        let r = to("retired").await;
        assert!(
            r.body.contains("No.79") && !r.body.contains("記録が必要です"),
            "{}: the evidence: {}",
            app.backend,
            r.body
        );
        assert_eq!(phase().await, Phase::Production, "{}", app.backend);

        // A second system whose No.79 carries its evidence: retired once the record is there.
        let second = crate::checklist::system(&app, input.department_id, input.vendor_id, "廃止予定システム").await;
        let applicable = answer_all(&app, second).await;
        let r = vendor.upload(second, 79, "廃棄証明書.pdf", b"%PDF-1.4\n".to_vec()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        app.store.submit_system(&app.ctx(), second).await.unwrap();
        let s2 = app.store.system(second).await.unwrap().unwrap();
        app.store.approve_seen(&app.ctx(), second, s2.revision, &applicable).await.unwrap();
        let retire = async || {
            let seen = hidden_in(&officer.get(&format!("/systems/{second}/edit")).await.body, "seen");
            let form = [
                ("name", "廃止予定システム"),
                ("department_id", dept.as_str()),
                ("vendor_id", vendor_org.as_str()),
                ("phase", "retired"),
                ("seen", &seen),
            ];
            officer.post(&format!("/systems/{second}"), &form).await
        };
        let r = retire().await;
        assert!(r.body.contains("「廃棄」の記録が必要です"), "{}: {}", app.backend, r.body);
        add_disposal(second).await;
        // The record is there, but the office has not approved it: neither
        // while it waits nor once returned.
        let only = app.store.records(second).await.unwrap()[0].id;
        let decide = async |decision: &str| {
            officer.get(&format!("/systems/{second}/records")).await;
            let seen = app.store.records(second).await.unwrap()[0].seen();
            let revision = seen.revision.to_string();
            let form = [
                ("decision", decision),
                ("note", "証明書の日付を確認"),
                ("revision", &revision),
                ("decided", &seen.decision),
            ];
            let r = officer.post(&format!("/systems/{second}/records/{only}/review"), &form).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        };
        let unapproved = "「廃棄」の記録を情報セキュリティ担当が承認している必要があります";
        let r = retire().await;
        assert!(r.body.contains(unapproved), "{}: pending: {}", app.backend, r.body);
        decide("return").await;
        let r = retire().await;
        assert!(r.body.contains(unapproved), "{}: returned: {}", app.backend, r.body);
        assert_ne!(app.store.system(second).await.unwrap().unwrap().input.phase, Phase::Retired, "{}", app.backend);
        decide("approve").await;
        assert_eq!(retire().await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        assert_eq!(app.store.system(second).await.unwrap().unwrap().input.phase, Phase::Retired, "{}", app.backend);
        // Retired, its only disposal record stays (the office removes an
        // approved one); with a second, one may go.
        let remove = async |rid: i64| {
            officer.get(&format!("/systems/{second}/records/{rid}")).await;
            officer.post(&format!("/systems/{second}/records/{rid}/remove"), &[]).await
        };
        let r = remove(only).await;
        assert!(
            officer.get(r.location()).await.body.contains("ほかに廃棄の記録がない限り削除できません"),
            "{}",
            app.backend
        );
        assert_eq!(app.store.records(second).await.unwrap().len(), 1, "{}", app.backend);
        add_disposal(second).await;
        assert_eq!(remove(only).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let kept = app.store.records(second).await.unwrap();
        assert_eq!(kept.len(), 1, "{}", app.backend);
        assert_ne!(kept[0].id, only, "{}: the first removed, the second kept", app.backend);
        app.close().await;
    }
}

/// A retired (廃止) system's round is closed as it stood. Before, a system
/// retired while an item was returned stayed open: its vendor could answer
/// and submit again, the vendor's dashboard asked for the returned item,
/// and the office could review it, change what applies or its catalog
/// version, or start a new round. Now each of those is refused with a
/// message and changes nothing, the pages offer none of them, and the
/// dashboard leaves the system out unless 廃止 is asked for. Brought back
/// to another phase, the round opens again.
#[tokio::test]
async fn a_retired_system_s_round_is_closed_as_it_stood_and_opens_again_if_it_comes_back() {
    use mamori_core::checklist::Review;
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "旧人事給与システム").await;
        let applicable = answer_all(&app, sys).await;
        let r = vendor.upload(sys, 79, "廃棄証明書.pdf", b"%PDF-1.4\n".to_vec()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        app.store.submit_system(&app.ctx(), sys).await.unwrap();
        let s = app.store.system(sys).await.unwrap().unwrap();
        let rest: Vec<u32> = applicable.iter().copied().filter(|n| *n != 1).collect();
        app.store.approve_seen(&app.ctx(), sys, s.revision, &rest).await.unwrap();
        let one = app.store.answers(sys, 1).await.unwrap().into_iter().find(|a| a.number == 1).unwrap();
        app.store.decide(&app.ctx(), sys, 1, &one.seen(), Review::Returned, "証跡を添付してください").await.unwrap();
        app.store.finish_review(&app.ctx(), sys).await.unwrap();
        // A library document linked to No.2 while the round was open.
        const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
        let r = crate::library::post_document(&vendor, "/library", Some("体制図"), "taisei.pdf", PDF, "").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let vendor_org = app.store.system(sys).await.unwrap().unwrap().input.vendor_id.unwrap();
        let doc = app.store.documents(vendor_org).await.unwrap()[0].id.to_string();
        vendor.get(&format!("/systems/{sys}/items/2")).await;
        let r = vendor.post(&format!("/systems/{sys}/items/2/documents"), &[("document", &doc)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        retire(&app, sys).await;

        let state = async || {
            let s = app.store.system(sys).await.unwrap().unwrap();
            let answers: Vec<_> = app
                .store
                .answers(sys, s.round)
                .await
                .unwrap()
                .into_iter()
                .map(|a| (a.number, a.revision, a.review))
                .collect();
            let files = app.store.evidence_of_round(sys, s.round).await.unwrap().len();
            let moves = app.store.item_moves(sys).await.unwrap().len();
            format!("{:?} {} {answers:?} {files} {moves}", s.status, s.round)
        };
        let before = state().await;
        assert!(before.starts_with("Returned 1"), "{}: {before}", app.backend);
        let closed = "この回は廃止の時点のまま閉じられており";
        let said = async |c: &Client, r: crate::harness::Res| {
            if r.status == StatusCode::SEE_OTHER {
                c.get(r.location()).await.body
            } else {
                r.body
            }
        };
        // The vendor: the returned item answered again, a file, the submission.
        let item = vendor.get(&format!("/systems/{sys}/items/1")).await.body;
        assert!(
            !item.contains(&format!("action=\"/systems/{sys}/items/1\"")),
            "{}: no answer form: {item}",
            app.backend
        );
        assert!(item.contains(r#"id="round-closed""#), "{}: and why: {item}", app.backend);
        let rev = one.revision + 1;
        let r = vendor
            .post(
                &format!("/systems/{sys}/items/1"),
                &[("status", "done"), ("measures", "証跡を添付しました"), ("revision", &rev.to_string())],
            )
            .await;
        assert!(said(&vendor, r).await.contains(closed), "{}: the answer", app.backend);
        let r = vendor.upload(sys, 1, "設定画面.pdf", b"%PDF-1.4\n".to_vec()).await;
        assert!(said(&vendor, r).await.contains(closed), "{}: the file", app.backend);
        // The library: a new revision leaves the closed round's link on the
        // revision it showed (the answer unchanged); a new link is refused.
        let revisions = format!("/library/{doc}/revisions");
        let r = crate::library::post_document(&vendor, &revisions, None, "taisei-2.pdf", PDF, "").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let shows: Vec<i64> =
            app.store.document_links(sys, 1).await.unwrap().iter().map(|l| l.shows.revision).collect();
        assert_eq!(shows, [1], "{}: the closed round keeps revision 1", app.backend);
        vendor.get(&format!("/systems/{sys}/items/3")).await;
        let r = vendor.post(&format!("/systems/{sys}/items/3/documents"), &[("document", &doc)]).await;
        assert!(said(&vendor, r).await.contains(closed), "{}: the link", app.backend);
        let page = vendor.get(&format!("/systems/{sys}")).await.body;
        assert!(page.contains(r#"id="round-closed""#), "{}: {page}", app.backend);
        assert!(!page.contains(&format!("action=\"/systems/{sys}/submit\"")), "{}: no submit form", app.backend);
        let r = vendor.post(&format!("/systems/{sys}/submit"), &[]).await;
        assert!(said(&vendor, r).await.contains(closed), "{}: the submission", app.backend);
        let board = vendor.get("/dashboard").await.body;
        assert!(
            !board.contains(&format!("/systems/{sys}/items/1")) && !board.contains("旧人事給与システム"),
            "{}: {board}",
            app.backend
        );

        // The office: a decision, a move, a new round.
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let page = officer.get(&format!("/systems/{sys}")).await.body;
        assert!(
            !page.contains(&format!("action=\"/systems/{sys}/items/1/review\"")),
            "{}: no review form",
            app.backend
        );
        assert!(!page.contains(&format!("action=\"/systems/{sys}/rounds\"")), "{}: no new round", app.backend);
        for form in ["moves", "overrides", "catalog"] {
            assert!(!page.contains(&format!("action=\"/systems/{sys}/{form}\"")), "{}: no {form}", app.backend);
        }
        let r = officer
            .post(
                &format!("/systems/{sys}/items/1/review"),
                &[
                    ("decision", "approve"),
                    ("comment", ""),
                    ("revision", &one.revision.to_string()),
                    ("decided", &one.seen().decision),
                ],
            )
            .await;
        assert!(said(&officer, r).await.contains(closed), "{}: the decision", app.backend);
        let r = officer.post(&format!("/systems/{sys}/moves"), &[("number", "1"), ("party", "maintenance")]).await;
        assert!(said(&officer, r).await.contains(closed), "{}: the move", app.backend);
        let r = officer.post(&format!("/systems/{sys}/rounds"), &[]).await;
        assert!(said(&officer, r).await.contains(closed), "{}: the new round", app.backend);
        let r = officer
            .post(&format!("/systems/{sys}/overrides"), &[("number", "2"), ("applies", "no"), ("reason", "機器なし")])
            .await;
        assert!(said(&officer, r).await.contains(closed), "{}: what applies", app.backend);
        let version = app.store.system(sys).await.unwrap().unwrap().catalog_version_id.to_string();
        let r = officer.post(&format!("/systems/{sys}/catalog"), &[("version", &version)]).await;
        assert!(said(&officer, r).await.contains(closed), "{}: the catalog version", app.backend);
        assert!(app.store.overrides(sys).await.unwrap().is_empty(), "{}", app.backend);
        // Nor through its registration: a web system now, staying retired.
        let retired = app.store.system(sys).await.unwrap().unwrap().input;
        let web = SystemInput {
            attrs: mamori_core::catalog::SystemAttributes { web_system: true, ..retired.attrs },
            ..retired.clone()
        };
        let r = app.store.update_system(&app.system_ctx(), sys, &web).await;
        assert!(
            matches!(r, Err(mamori_store::StoreError::Refused(mamori_core::checklist::WorkflowError::Retired))),
            "{}: {r:?}",
            app.backend
        );
        let renamed = SystemInput { name: "旧人事給与システム (2019)".into(), ..retired.clone() };
        app.store.update_system(&app.system_ctx(), sys, &renamed).await.unwrap();
        // Another vendor may take it over (its answers kept as given).
        let other = app.org("ベンダーB", OrgKind::Vendor).await;
        let taken_over = SystemInput { vendor_id: Some(other), ..retired.clone() };
        app.store.update_system(&app.system_ctx(), sys, &taken_over).await.unwrap();
        app.store.update_system(&app.system_ctx(), sys, &retired).await.unwrap();
        assert_eq!(state().await, before, "{}: nothing changed", app.backend);
        let board = officer.get("/dashboard").await.body;
        assert!(!board.contains("旧人事給与システム"), "{}", app.backend);
        let board = officer.get("/dashboard?phase=retired").await.body;
        assert!(board.contains("旧人事給与システム"), "{}: asked for", app.backend);

        // Brought back (retired by mistake), the round is open again.
        let mut input = app.store.system(sys).await.unwrap().unwrap().input;
        input.phase = Phase::Production;
        app.store.update_system(&app.system_ctx(), sys, &input).await.unwrap();
        let r = vendor.answer(sys, 1, &[("status", "done"), ("measures", "証跡を添付しました")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        app.close().await;
    }
}

/// A diagnosis planned, not made: No.78 answered 未対応 with the plan
/// attached and approved by the office as a plan let the system into
/// 運用中 as if the diagnosis had been made (the gate counted any approved
/// answer with evidence), and its page named no duty skipped. Only 対応済
/// meets a phase's duty.
#[tokio::test]
async fn a_duty_answered_as_planned_and_approved_neither_opens_the_next_phase_nor_counts_as_met() {
    use mamori_core::checklist::{AnswerInput, AnswerStatus, WorkflowError};
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "申請受付システム").await;
        let mut input = app.store.system(sys).await.unwrap().unwrap().input;
        input.attrs.web_system = true;
        app.store.update_system(&app.system_ctx(), sys, &input).await.unwrap();
        let applicable = answer_all(&app, sys).await;
        let plan = AnswerInput {
            status: AnswerStatus::NotDone,
            measures: String::new(),
            planned: Some(time::macros::date!(2027 - 06 - 30)),
            reason: "稼働後に実施する予定".into(),
        };
        app.store.save_answer(&app.ctx(), sys, 78, &plan).await.unwrap();
        for n in [37, 78] {
            let r = vendor.upload(sys, n, &format!("No{n}の計画書.pdf"), b"%PDF-1.4\n".to_vec()).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        }
        app.store.submit_system(&app.ctx(), sys).await.unwrap();
        let s = app.store.system(sys).await.unwrap().unwrap();
        app.store.approve_seen(&app.ctx(), sys, s.revision, &applicable).await.unwrap();
        input.phase = Phase::Production;
        let r = app.store.update_system(&app.system_ctx(), sys, &input).await;
        assert!(
            matches!(&r, Err(mamori_store::StoreError::Refused(WorkflowError::PhaseDuties(Phase::Production, m))) if m == &[78]),
            "{}: {r:?}",
            app.backend
        );
        // Registered as running (no gate passed): its page names No.78.
        let running = crate::checklist::system(&app, input.department_id, input.vendor_id, "稼働中システム").await;
        let mut r_input = app.store.system(running).await.unwrap().unwrap().input;
        r_input.phase = Phase::Production;
        app.store.update_system(&app.system_ctx(), running, &r_input).await.unwrap();
        r_input.attrs.web_system = true;
        app.store.update_system(&app.system_ctx(), running, &r_input).await.unwrap();
        let applicable = answer_all(&app, running).await;
        app.store.save_answer(&app.ctx(), running, 78, &plan).await.unwrap();
        for n in [37, 78] {
            let r = vendor.upload(running, n, &format!("No{n}の計画書.pdf"), b"%PDF-1.4\n".to_vec()).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        }
        app.store.submit_system(&app.ctx(), running).await.unwrap();
        let s = app.store.system(running).await.unwrap().unwrap();
        app.store.approve_seen(&app.ctx(), running, s.revision, &applicable).await.unwrap();
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let body = officer.get(&format!("/systems/{running}")).await.body;
        let named = section(&body, "unproven");
        assert!(named.contains("No.78") && !named.contains("No.37"), "{}: {named}", app.backend);
        app.close().await;
    }
}

/// The gate into 運用中 holds only as a system moves into it: one
/// registered as already running, or one that becomes a web system while
/// running, passed no gate, and No.37 and No.78 were never asked for with
/// nothing on its page to say so. Its page and the dashboard now name them
/// until they are approved with evidence in some round; a later round
/// (decisions cleared) does not bring the notice back.
#[tokio::test]
async fn a_running_system_that_skipped_the_gate_into_production_names_the_items_it_skipped() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "申請受付システム").await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let notice = "「運用中」になる前に求められる項目が";
        let page = async || officer.get(&format!("/systems/{sys}")).await.body;
        let mut input = app.store.system(sys).await.unwrap().unwrap().input;
        // Not a web system: no duty before production, nothing to name.
        input.phase = Phase::Production;
        app.store.update_system(&app.system_ctx(), sys, &input).await.unwrap();
        assert!(!page().await.contains(notice), "{}: 37 and 78 do not apply", app.backend);
        // A web system now, while running: both named, as links.
        input.attrs.web_system = true;
        app.store.update_system(&app.system_ctx(), sys, &input).await.unwrap();
        let body = page().await;
        assert!(body.contains(notice), "{}: {body}", app.backend);
        let named = section(&body, "unproven");
        assert!(
            named.contains(&format!("/systems/{sys}/items/37\">No.37")) && named.contains("No.78"),
            "{}: {named}",
            app.backend
        );
        // ...and the dashboard lists both, item by item.
        let dashboard = async || officer.get("/dashboard").await.body;
        let board = dashboard().await;
        let listed = board.split("id=\"unproven\"").nth(1).and_then(|x| x.split("</ul>").next()).unwrap_or_default();
        for n in [37, 78] {
            assert!(
                listed.contains(&format!("/systems/{sys}/items/{n}\">申請受付システム No.{n}")),
                "{}: No.{n} on the dashboard: {listed}",
                app.backend
            );
        }
        // No.78 approved with its evidence, No.37 approved without any:
        // No.37 still named.
        answer_all(&app, sys).await;
        let r = vendor.upload(sys, 78, "脆弱性診断報告書.pdf", b"%PDF-1.4\n".to_vec()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        app.store.submit_system(&app.ctx(), sys).await.unwrap();
        let s = app.store.system(sys).await.unwrap().unwrap();
        app.store.approve_seen(&app.ctx(), sys, s.revision, &[37, 78]).await.unwrap();
        let body = page().await;
        let named = section(&body, "unproven");
        assert!(named.contains("No.37") && !named.contains("No.78"), "{}: {named}", app.backend);
        // Evidence for No.37 in a later round, approved there: nothing named,
        // and the round after that does not bring it back.
        let applicable = app.store.figures(std::slice::from_ref(&s)).await.unwrap()[0]
            .items
            .iter()
            .map(|i| i.number)
            .collect::<Vec<_>>();
        let s = app.store.system(sys).await.unwrap().unwrap();
        app.store.approve_seen(&app.ctx(), sys, s.revision, &applicable).await.unwrap();
        app.store.finish_review(&app.ctx(), sys).await.unwrap();
        app.store.start_round(&app.ctx(), sys, None).await.unwrap();
        answer_all(&app, sys).await;
        let r = vendor.upload(sys, 37, "アカウント棚卸し.pdf", b"%PDF-1.4\n".to_vec()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        assert!(page().await.contains(notice), "{}: not approved yet", app.backend);
        app.store.submit_system(&app.ctx(), sys).await.unwrap();
        let s = app.store.system(sys).await.unwrap().unwrap();
        app.store.approve_seen(&app.ctx(), sys, s.revision, &applicable).await.unwrap();
        app.store.finish_review(&app.ctx(), sys).await.unwrap();
        assert!(!page().await.contains(notice), "{}: both approved with evidence once", app.backend);
        assert!(!dashboard().await.contains("id=\"unproven\""), "{}: nor on the dashboard", app.backend);
        app.store.start_round(&app.ctx(), sys, None).await.unwrap();
        assert!(!page().await.contains(notice), "{}: a new round does not undo it", app.backend);

        // Registered as running and a web system from the start: named.
        let dept = input.department_id.to_string();
        officer.get("/systems/new").await;
        let form = [
            ("name", "稼働中Webシステム"),
            ("department_id", dept.as_str()),
            ("phase", "production"),
            ("web_system", "on"),
        ];
        let r = officer.post("/systems", &form).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let at = r.location().to_owned();
        let body = officer.get(&at).await.body;
        assert!(body.contains(notice) && section(&body, "unproven").contains("No.37"), "{}: {at}", app.backend);
        app.close().await;
    }
}

/// The element with id `id` in `body`, from its tag to the end of its line.
fn section<'a>(body: &'a str, id: &str) -> &'a str {
    let at = body.find(&format!("id=\"{id}\"")).unwrap_or(body.len());
    let rest = &body[at..];
    &rest[..rest.find('\n').unwrap_or(rest.len())]
}

/// The round's due date reminds those who answer and follow the system 30,
/// 7 and 1 days before, on their dashboards; the security office sees it
/// once it is overdue; a submission ends the reminders. Days pass on an
/// injected clock.
#[tokio::test]
async fn due_date_reminders_reach_the_right_dashboards_30_7_and_1_days_before_and_overdue_after() {
    for app in App::each(Options::default()).await {
        let (sys, _) = supplied_system(&app, "申請受付システム").await;
        let jst = time::UtcOffset::from_hms(9, 0, 0).unwrap();
        let today = app.now().to_offset(jst).date();
        let due = today + time::Duration::days(30);
        let before = app.store.system(sys).await.unwrap().unwrap();
        let input = SystemInput { due_on: Some(due), ..before.input.clone() };
        app.store.update_system(&app.system_ctx(), before.id, &input).await.unwrap();
        let (_, dept_secret) = app.user("busho01", Role::Department, Some(before.input.department_id)).await;
        let (_, officer_secret) = app.user("officer1", Role::SecurityOfficer, None).await;
        // Days pass: each look at a dashboard is a fresh sign-in (a second
        // factor's code is taken once, so half a minute apart).
        let section = async |login: &str, secret: &Option<String>| -> Option<String> {
            app.clock.advance(time::Duration::seconds(31));
            let c = app.client();
            c.sign_in(&app, login, crate::harness::PASSWORD, secret.as_deref()).await;
            let body = c.get("/dashboard").await.body;
            let s = body.split("<section class=\"card\" id=\"round-due\">").nth(1)?;
            Some(s.split("</section>").next()?.to_owned())
        };
        let (none, date) = (None, due.to_string());
        let vendor_sees = async || section("vendor-a", &none).await.expect("a reminder for the vendor");

        let v = vendor_sees().await;
        assert!(
            v.contains(&format!("回答期限 {date} まであと 30 日です")) && !v.contains("attention"),
            "{}: {v}",
            app.backend
        );
        assert!(section("busho01", &dept_secret).await.is_some(), "{}: the department too", app.backend);
        assert!(section("officer1", &officer_secret).await.is_none(), "{}: not yet the officer's", app.backend);

        app.clock.advance(time::Duration::days(23));
        let v = vendor_sees().await;
        assert!(v.contains("あと 7 日です") && v.contains("class=\"attention\""), "{}: {v}", app.backend);
        app.clock.advance(time::Duration::days(6));
        assert!(vendor_sees().await.contains("あと 1 日です"), "{}", app.backend);
        app.clock.advance(time::Duration::days(1));
        let v = vendor_sees().await;
        assert!(v.contains(&format!("回答期限は今日 ({date}) です")), "{}: {v}", app.backend);
        app.clock.advance(time::Duration::days(2));
        let v = vendor_sees().await;
        assert!(v.contains(&format!("回答期限 {date} を 2 日過ぎています")), "{}: {v}", app.backend);
        let o = section("officer1", &officer_secret).await.expect("overdue: the officer's list");
        assert!(o.contains("申請受付システム") && o.contains("2 日過ぎています"), "{}: {o}", app.backend);

        // Submitted: no reminder for anyone.
        let vendor = app.client();
        vendor.sign_in(&app, "vendor-a", crate::harness::PASSWORD, None).await;
        answer_all_and_submit(&app, &vendor, sys).await;
        for (login, secret) in [("vendor-a", &none), ("busho01", &dept_secret), ("officer1", &officer_secret)] {
            assert!(section(login, secret).await.is_none(), "{}: {login}", app.backend);
        }
        app.close().await;
    }
}

/// Next year's round starts with its own due date, the configured days
/// (60 here) from the day it starts, recorded with the round.
#[tokio::test]
async fn a_new_round_is_due_the_configured_days_from_the_day_it_starts() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "申請受付システム").await;
        let applicable = answer_all_and_submit(&app, &vendor, sys).await;
        let s = app.store.system(sys).await.unwrap().unwrap();
        app.store.approve_seen(&app.ctx(), sys, s.revision, &applicable).await.unwrap();
        app.store.finish_review(&app.ctx(), sys).await.unwrap();
        app.clock.advance(time::Duration::days(100));
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        officer.get(&format!("/systems/{sys}")).await;
        let r = officer.post(&format!("/systems/{sys}/rounds"), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let jst = time::UtcOffset::from_hms(9, 0, 0).unwrap();
        let want = app.now().to_offset(jst).date() + time::Duration::days(60);
        let s = app.store.system(sys).await.unwrap().unwrap();
        assert_eq!((s.round, s.input.due_on), (2, Some(want)), "{}", app.backend);
        let page = officer.get(&format!("/systems/{sys}")).await.body;
        assert!(page.contains(&format!("<dt>回答期限</dt><dd>{want}</dd>")), "{}", app.backend);
        let started = mamori_core::audit::Action::RoundStarted.as_str();
        let event = app.store.audit_recent(20).await.unwrap().into_iter().find(|e| e.record.action == started);
        assert!(event.unwrap().record.changes.contains(&want.to_string()), "{}", app.backend);
        app.close().await;
    }
}

/// When a year turns before the review ended, the next round starts from
/// the answers as last submitted; never while the vendor is changing them.
#[tokio::test]
async fn a_round_starts_from_the_last_submission_when_the_review_never_ended_and_not_from_a_return() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "申請受付システム").await;
        answer_all_and_submit(&app, &vendor, sys).await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let page = officer.get(&format!("/systems/{sys}")).await.body;
        assert!(page.contains("このラウンドの審査は終わっていません"), "{}: said before", app.backend);
        let r = officer.post(&format!("/systems/{sys}/rounds"), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let s = app.store.system(sys).await.unwrap().unwrap();
        assert_eq!((s.round, s.status), (2, mamori_core::checklist::SystemStatus::Answering), "{}", app.backend);
        let carried = app.store.answers(sys, 2).await.unwrap();
        assert_eq!(carried.len(), app.store.answers(sys, 1).await.unwrap().len(), "{}", app.backend);
        assert!(carried.iter().all(|a| a.input.measures == format!("No.{} の対策を実施", a.number)), "{}", app.backend);

        // Returned to the vendor: the answers are being changed; no new round.
        answer_all_and_submit(&app, &vendor, sys).await;
        decide(&officer, sys, 1, "return", "根拠を添えてください").await;
        assert_eq!(finish_review(&officer, sys).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        officer.get(&format!("/systems/{sys}")).await;
        officer.post(&format!("/systems/{sys}/rounds"), &[]).await;
        let s = app.store.system(sys).await.unwrap().unwrap();
        assert_eq!((s.round, s.status), (2, mamori_core::checklist::SystemStatus::Returned), "{}", app.backend);
        app.close().await;
    }
}

/// The officer imports a new catalog version from the web: the file is
/// read with the console's checks, a bad row is named and nothing is
/// imported; a good file is previewed against the newest version, and only
/// the confirmation imports it (audited). Nobody else reaches the routes.
#[tokio::test]
async fn the_officer_imports_a_catalog_version_from_the_web_after_a_preview_and_a_bad_row_changes_nothing() {
    use mamori_core::catalog::CatalogFile;
    for app in App::each(Options::default()).await {
        app.store.ensure_catalog(&app.system_ctx()).await.unwrap();
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let vendor_org = app.org("ベンダーA", OrgKind::Vendor).await;
        let (vendor, _) = app.signed_in("vendor1", Role::Vendor, Some(vendor_org)).await;
        let versions = async || app.store.catalog_versions().await.unwrap().len();
        assert_eq!(versions().await, 1);
        assert!(officer.get("/catalog").await.body.contains("href=\"/catalog/import\""), "{}", app.backend);
        assert!(!vendor.get("/catalog").await.body.contains("href=\"/catalog/import\""));
        assert_eq!(vendor.get("/catalog/import").await.status, StatusCode::NOT_FOUND);
        let theirs =
            vendor.post_file("/catalog", "/catalog/import", "c.yaml", CatalogFile::shipped().to_yaml().into()).await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}: a vendor cannot upload", app.backend);

        // A file with bad rows: every problem named by its number, nothing imported.
        let mut bad = CatalogFile::shipped();
        bad.requirements[4].text = " ".into();
        bad.requirements[5].applies_when = "sometimes".into();
        let r = officer.post_file("/catalog/import", "/catalog/import", "bad.yaml", bad.to_yaml().into_bytes()).await;
        assert_eq!(r.status, StatusCode::OK);
        for words in ["何も取り込んでいません", "<td>5</td><td>内容</td>", "<td>6</td><td>適用条件</td>"]
        {
            assert!(r.body.contains(words), "{}: {words}", app.backend);
        }
        assert!(!r.body.contains("action=\"/catalog/import/apply\""), "{}: nothing to confirm", app.backend);
        let r = officer.post("/catalog/import/apply", &[]).await;
        assert!(r.body.contains("確認中の内容が見つかりません"), "{}: nothing waits", app.backend);
        let r = officer.post_file("/catalog/import", "/catalog/import", "x.bin", vec![0xff, 0xfe, 0]).await;
        assert!(r.body.contains("UTF-8 の YAML か Excel"), "{}", app.backend);
        assert_eq!(versions().await, 1, "{}: nothing imported", app.backend);

        // A good workbook with one text changed: previewed, then imported.
        let mut good = CatalogFile::shipped();
        good.requirements[0].text.push_str("\n(追記)");
        let xlsx = mamori_files::catalog_io::export(&good).unwrap();
        let r = officer.post_file("/catalog/import", "/catalog/import", "new.xlsx", xlsx).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains("No.1 が変更されました") && r.body.contains("<ins>"), "{}: {}", app.backend, r.body);
        assert!(r.body.contains("<dd>79</dd>"), "{}: the count", app.backend);
        assert_eq!(versions().await, 1, "{}: not before the confirmation", app.backend);
        let mark = crate::harness::hidden_in(&r.body, "mark");
        let r = officer.post("/catalog/import/apply", &[("mark", &mark)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        assert_eq!(versions().await, 2, "{}", app.backend);
        let newest = app.store.catalog_versions().await.unwrap()[0].id;
        let stored = app.store.catalog(newest).await.unwrap();
        assert!(
            stored.requirements[0].text.ends_with("(追記)")
                && stored.requirements[7].party == good.requirements[7].party
        );
        assert!(app.audit_actions().await.contains(&"catalog.imported".to_owned()));
        // Confirming again finds nothing waiting.
        let r = officer.post("/catalog/import/apply", &[("mark", &mark)]).await;
        assert!(r.body.contains("確認中の内容が見つかりません"), "{}", app.backend);
        assert_eq!(versions().await, 2);
        app.close().await;
    }
}

/// A catalog previewed waits in the store, not in the session (which
/// every request of the officer reads, megabytes from a large workbook):
/// it is its account's one, the second upload in place of the first,
/// confirmed from another sign-in of the same officer, and nobody else's.
/// Confirmed on the first upload's page (another tab), the second catalog
/// was imported unseen; that is now refused, nothing imported.
#[tokio::test]
async fn a_previewed_catalog_is_its_officer_s_one_confirmed_only_as_its_page_showed_it_and_not_another_officer_s() {
    use mamori_core::catalog::CatalogFile;
    for app in App::each(Options::default()).await {
        app.store.ensure_catalog(&app.system_ctx()).await.unwrap();
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let (colleague, _) = app.signed_in("officer2", Role::SecurityOfficer, None).await;
        let mut marks = Vec::new();
        for added in ["(一回目)", "(二回目)"] {
            let mut file = CatalogFile::shipped();
            file.requirements[0].text.push_str(added);
            let r = officer.post_file("/catalog/import", "/catalog/import", "c.yaml", file.to_yaml().into()).await;
            assert!(r.body.contains("action=\"/catalog/import/apply\""), "{}: {}", app.backend, r.body);
            marks.push(crate::harness::hidden_in(&r.body, "mark"));
        }
        let versions = app.store.catalog_versions().await.unwrap().len();
        colleague.get("/catalog/import").await;
        let r = colleague.post("/catalog/import/apply", &[("mark", &marks[1])]).await;
        assert!(r.body.contains("確認中の内容が見つかりません"), "{}: another officer's", app.backend);
        let r = officer.post("/catalog/import/apply", &[("mark", &marks[0])]).await;
        assert!(r.body.contains("別の画面で別のファイルが読み込まれています"), "{}: {}", app.backend, r.body);
        assert_eq!(app.store.catalog_versions().await.unwrap().len(), versions, "{}: nothing imported", app.backend);

        let again = app.client();
        let r = again.sign_in(&app, "officer1", crate::harness::PASSWORD, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        again.get("/catalog/import").await;
        let r = again.post("/catalog/import/apply", &[("mark", &marks[1])]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let newest = app.store.catalog_versions().await.unwrap()[0].id;
        let text = &app.store.catalog(newest).await.unwrap().requirements[0].text;
        assert!(text.ends_with("(二回目)"), "{}: the second upload: {text}", app.backend);
        let r = officer.post("/catalog/import/apply", &[("mark", &marks[1])]).await;
        assert!(r.body.contains("確認中の内容が見つかりません"), "{}: taken", app.backend);
        app.close().await;
    }
}

/// An answer's text was checked for its length alone: a NUL stored on
/// SQLite went out in every export, and on PostgreSQL (whose text refuses
/// it) the save failed with the error page; an escape sequence or a mark
/// that reorders text (`請求書\u{202E}fdp.exe`) was kept as typed. Each is
/// refused with a message in the form, nothing saved; line ends and tabs
/// are kept. A system's name with such a mark is refused alike.
#[tokio::test]
async fn an_answer_or_a_name_holding_a_nul_an_escape_or_a_reordering_mark_is_refused_with_a_message_and_saves_nothing()
{
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        for bad in ["a\0b", "画面\u{1b}[2J消去", "請求書\u{202E}fdp.exe"] {
            let r = vendor.answer(sys, 4, &[("status", "done"), ("measures", bad)]).await;
            assert_eq!(r.status, StatusCode::OK, "{}: {bad:?}", app.backend);
            assert!(
                r.body.contains("制御文字や文字の向きを変える記号は使えません"),
                "{}: {bad:?}: {}",
                app.backend,
                r.body
            );
            assert!(app.store.answer(sys, 1, 4).await.unwrap().is_none(), "{}: {bad:?} saved nothing", app.backend);
        }
        let r = vendor.answer(sys, 4, &[("status", "done"), ("measures", "一行目\r\n\t二行目")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        assert_eq!(app.store.answer(sys, 1, 4).await.unwrap().unwrap().input.measures, "一行目\n\t二行目");

        let dept = app.org("情報政策課", OrgKind::Department).await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        officer.get("/systems/new").await;
        let form = [("name", "請求書\u{202E}fdp.exe"), ("department_id", &dept.to_string()), ("phase", "building")];
        let r = officer.post("/systems", &form).await;
        assert_eq!(r.status, StatusCode::OK, "{}", app.backend);
        let all = app.store.systems(mamori_core::scope::Scope::All, &Default::default()).await.unwrap();
        assert_eq!(all.len(), 1, "{}: nothing created", app.backend);
        app.close().await;
    }
}

/// An officer's page of round 1 names the answer's revision; another
/// officer approves the round and starts round 2; the vendor changes the
/// answer and submits. The first officer's decision, made on round 1's
/// content, must not approve round 2's (answers started again from
/// revision 1 each round, so the numbers met): refused as changed, the
/// answer still awaiting review. Read again, it is approved.
#[tokio::test]
async fn a_decision_made_on_the_last_round_s_page_does_not_approve_this_round_s_answer() {
    use mamori_core::checklist::{AnswerInput, Review};
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let ctx = app.ctx();
        let all = answer_all(&app, sys).await;
        app.store.save_answer(&ctx, sys, 4, &AnswerInput::done("全端末に導入済")).await.unwrap();
        app.store.submit_system(&ctx, sys).await.unwrap();
        let page = officer.get(&format!("/systems/{sys}/items/4")).await.body;
        let (seen, decided) = (revision_in(&page), hidden_in(&page, "decided"));
        assert_eq!(seen, "2", "{}", app.backend);

        let s = app.store.system(sys).await.unwrap().unwrap();
        app.store.approve_seen(&ctx, sys, s.revision, &all).await.unwrap();
        app.store.finish_review(&ctx, sys).await.unwrap();
        app.store.start_round(&ctx, sys, None).await.unwrap();
        let r = answer(&vendor, sys, 4, &[("status", "done"), ("measures", "一部の端末のみ導入")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        assert_eq!(submit(&vendor, sys).await.status, StatusCode::SEE_OTHER, "{}", app.backend);

        let form = [("decision", "approve"), ("comment", ""), ("revision", seen.as_str()), ("decided", &decided)];
        let r = officer.post(&format!("/systems/{sys}/items/4/review"), &form).await;
        assert!(r.body.contains("この回答は画面を開いた後に変更されました"), "{}: {}", app.backend, r.body);
        let now = app.store.answer(sys, 2, 4).await.unwrap().unwrap();
        assert_eq!(
            (now.review, now.input.measures.as_str()),
            (Review::Pending, "一部の端末のみ導入"),
            "{}",
            app.backend
        );

        assert_eq!(decide(&officer, sys, 4, "approve", "").await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        assert_eq!(app.store.answer(sys, 2, 4).await.unwrap().unwrap().review, Review::Approved, "{}", app.backend);
        app.close().await;
    }
}

/// The catalog version changes only while nothing of the system is with
/// the officer: once a party has submitted its part (the system still
/// 回答中 for the others), those answers were given to this version's
/// requirements, and the change is refused with a message, under the
/// system's lock, changing nothing.
#[tokio::test]
async fn the_catalog_version_does_not_change_under_a_part_already_submitted() {
    for app in App::each(Options::default()).await {
        let Cast { dept, vendor, o, .. } = cast(&app).await;
        let sys = system_with_parties(&app, dept, Some(vendor), "庶務事務システム").await;
        let version = app.store.system(sys).await.unwrap().unwrap().catalog_version_id.to_string();
        let change = async || {
            o.get(&format!("/systems/{sys}")).await;
            o.post(&format!("/systems/{sys}/catalog"), &[("version", &version)]).await
        };
        assert_eq!(change().await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        answer_all(&app, sys).await;
        app.store.submit_part(&app.ctx(), sys, dept).await.unwrap();
        let s = app.store.system(sys).await.unwrap().unwrap();
        assert_eq!(
            s.status,
            mamori_core::checklist::SystemStatus::Answering,
            "{}: the vendor's part is open",
            app.backend
        );
        let refused = change().await;
        assert_eq!(refused.status, StatusCode::OK, "{}", app.backend);
        assert!(refused.body.contains("現在の状況ではこの操作はできません"), "{}: {}", app.backend, refused.body);
        let changed = app.audit_actions().await.into_iter().filter(|a| a == "system.catalog_changed").count();
        assert_eq!(changed, 1, "{}: the first change only", app.backend);
        assert_eq!(app.store.system(sys).await.unwrap().unwrap().revision, s.revision, "{}", app.backend);
        app.close().await;
    }
}

/// Two officers edit one system's registration from forms shown before
/// either saved. The second save went through on what its form showed and
/// undid the first: a system moved from one vendor to another was handed
/// back to the first vendor by a change of its URL. Now exactly one of two
/// saves at once goes through; a form shown before a change saves nothing
/// and shows the registration as it is; a form without its mark saves
/// nothing; the vendor the system was moved away from does not see it.
#[tokio::test]
async fn a_registration_changed_meanwhile_is_not_overwritten_by_a_form_shown_before() {
    for app in App::each(Options::default()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let (x, y, z) = (
            app.org("ベンダーX", OrgKind::Vendor).await,
            app.org("ベンダーY", OrgKind::Vendor).await,
            app.org("ベンダーZ", OrgKind::Vendor).await,
        );
        let sys = system(&app, dept, Some(x), "申請受付システム").await;
        let (a, _) = app.signed_in("officer-a", Role::SecurityOfficer, None).await;
        let (b, _) = app.signed_in("officer-b", Role::SecurityOfficer, None).await;
        let (vendor_x, _) = app.signed_in("vendor-x", Role::Vendor, Some(x)).await;
        let (edit, to) = (format!("/systems/{sys}/edit"), format!("/systems/{sys}"));
        let seen_a = hidden_in(&a.get(&edit).await.body, "seen");
        let seen_b = hidden_in(&b.get(&edit).await.body, "seen");
        let d = dept.to_string();
        // The registration form as posted: vendor, URLs and the mark shown.
        let save = async |who: &crate::harness::Client, vendor: i64, url: &str, seen: &str| {
            let vendor = vendor.to_string();
            let fields = [
                ("name", "申請受付システム"),
                ("department_id", d.as_str()),
                ("vendor_id", vendor.as_str()),
                ("phase", "building"),
                ("urls", url),
                ("seen", seen),
            ];
            who.post(&to, &fields).await
        };
        let (ra, rb) = tokio::join!(save(&a, y, "", &seen_a), save(&b, z, "", &seen_b));
        let saved = |r: &crate::harness::Res| r.status == StatusCode::SEE_OTHER && r.location() == to;
        let a_first =
            first_of_two_landed(&ra, &rb, app.backend, "この間に他の担当者がこのシステムの登録内容を変更した");
        let (won, saved_one, lost) = if a_first { (y, &ra, &rb) } else { (z, &rb, &ra) };
        assert_eq!(saved_one.location(), to, "{}", app.backend);
        let now = app.store.system(sys).await.unwrap().unwrap();
        assert_eq!(now.input.vendor_id, Some(won), "{}", app.backend);
        assert_eq!(hidden_in(&lost.body, "seen"), now.input.edit_mark(), "{}: the form shows it as it is", app.backend);

        // A's form, shown while X still built it, adds a URL: it would have
        // handed the system back to X. Nothing is saved, nor without a mark.
        let url = "https://127.0.0.1:9/";
        assert_eq!(save(&a, x, url, &seen_a).await.status, StatusCode::OK, "{}", app.backend);
        assert_eq!(save(&a, won, url, "").await.status, StatusCode::OK, "{}", app.backend);
        let after = app.store.system(sys).await.unwrap().unwrap();
        assert_eq!((after.input.vendor_id, after.input.urls.len()), (Some(won), 0), "{}", app.backend);
        assert_eq!(vendor_x.get(&to).await.status, StatusCode::NOT_FOUND, "{}: X no longer sees it", app.backend);

        // From the form as it is now, the URL is added.
        let seen = hidden_in(&a.get(&edit).await.body, "seen");
        let r = save(&a, won, url, &seen).await;
        assert!(saved(&r), "{}: {}", app.backend, r.body);
        assert_eq!(app.store.system(sys).await.unwrap().unwrap().input.urls.len(), 1, "{}", app.backend);
        app.close().await;
    }
}

/// Two people of one vendor answer the same item from pages opened before
/// either saved. The second save replaced the first unseen. Now exactly
/// one of two saves at once lands; the other saves nothing, keeps what its
/// author typed on the page with a message, and the page's history shows
/// the answer that landed; saving from that page replaces it knowingly.
/// A save without the revision its page showed saves nothing.
#[tokio::test]
async fn an_answer_changed_meanwhile_is_not_replaced_unseen() {
    for app in App::each(Options::default()).await {
        let (sys, first) = supplied_system(&app, "税務システム").await;
        let vendor = app.store.system(sys).await.unwrap().unwrap().input.vendor_id;
        let (second, _) = app.signed_in("vendor-a2", Role::Vendor, vendor).await;
        let item = format!("/systems/{sys}/items/4");
        let seen = hidden_in(&first.get(&item).await.body, "revision");
        assert_eq!(seen, hidden_in(&second.get(&item).await.body, "revision"));
        let save = async |c: &Client, measures: &str, revision: &str| {
            c.post(&item, &[("status", "done"), ("measures", measures), ("revision", revision)]).await
        };
        let (r1, r2) = tokio::join!(save(&first, "一人目の対策", &seen), save(&second, "二人目の対策", &seen));
        let first_landed = first_of_two_landed(&r1, &r2, app.backend, "他の人が変更したため、保存していません");
        let (kept, lost, typed) = if first_landed {
            ("一人目の対策", &r2, "二人目の対策")
        } else {
            ("二人目の対策", &r1, "一人目の対策")
        };
        assert!(lost.body.contains(typed), "{}: what was typed is kept", app.backend);
        assert!(
            lost.body.contains("いま保存されている回答") && lost.body.contains(kept),
            "{}: beside the stored one",
            app.backend
        );
        let history = app.store.history(sys, 1).await.unwrap();
        let answers = history.iter().filter(|h| h.kind == mamori_core::checklist::HistoryKind::Answer && h.number == 4);
        assert_eq!(answers.count(), 1, "{}: one save landed", app.backend);
        let answer = async || app.store.answers(sys, 1).await.unwrap().into_iter().find(|a| a.number == 4);
        assert_eq!(answer().await.unwrap().input.measures, kept, "{}", app.backend);

        // Without the revision, nothing is saved either.
        let r = first.post(&item, &[("status", "done"), ("measures", "印なし")]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", app.backend);
        assert_eq!(answer().await.unwrap().input.measures, kept, "{}", app.backend);

        // The refused page carries the revision now current: saving from it
        // replaces the answer knowingly.
        let r = save(if first_landed { &second } else { &first }, typed, &hidden_in(&lost.body, "revision")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        assert_eq!(answer().await.unwrap().input.measures, typed, "{}", app.backend);
        app.close().await;
    }
}

/// A clamd that answers only when told to: it reads a file to the end,
/// says so on `read`, and gives its verdict (clean) when `go` fires.
async fn clamd_on_cue(socket: &std::path::Path) -> (tokio::sync::mpsc::Receiver<()>, tokio::sync::mpsc::Sender<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::UnixListener::bind(socket).unwrap();
    let (read_tx, read_rx) = tokio::sync::mpsc::channel(1);
    let (go_tx, mut go_rx) = tokio::sync::mpsc::channel::<()>(1);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut command = [0u8; 10];
            s.read_exact(&mut command).await.unwrap();
            assert_eq!(&command, b"zINSTREAM\0");
            loop {
                let len = s.read_u32().await.unwrap() as usize;
                if len == 0 {
                    break;
                }
                let mut chunk = vec![0u8; len];
                s.read_exact(&mut chunk).await.unwrap();
            }
            read_tx.send(()).await.unwrap();
            go_rx.recv().await.unwrap();
            s.write_all(b"stream: OK\0").await.unwrap();
            s.shutdown().await.unwrap();
        }
    });
    (read_rx, go_tx)
}

/// A request is checked when it begins; its write comes later (here, after
/// clamd has read the file). A vendor made 監査 (read-only, seeing every
/// system) while its upload waited for the verdict still stored the file:
/// the write re-checked only that the system was still in sight. The
/// write now reads the account again in its own transaction: an upload
/// held the same way is stored while the account is unchanged, and refused
/// (nothing stored, no event; the vendor sent to sign in again, its
/// sessions ended by the change, and told the upload was not done) once
/// the role has changed.
#[tokio::test]
async fn an_upload_begun_before_the_vendor_was_made_read_only_is_refused_when_it_comes_to_be_written() {
    let dir = tempfile::TempDir::new().unwrap();
    let socket = dir.path().join("clamd.sock");
    let (mut read, go) = clamd_on_cue(&socket).await;
    for app in App::each(Options { clamd: Some(socket), ..Options::default() }).await {
        let backend = app.backend;
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;

        let held = |name: &'static str| {
            let vendor = vendor.clone();
            tokio::spawn(async move { upload(&vendor, sys, 4, name, b"hello".to_vec(), true).await })
        };
        let unchanged = held("first.txt");
        read.recv().await.unwrap();
        go.send(()).await.unwrap();
        let r = unchanged.await.unwrap();
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{backend}: held, unchanged, stored: {}", r.body);
        assert_eq!(app.store.evidence_for(sys, 1, 4).await.unwrap().len(), 1, "{backend}");

        let demoted = held("second.txt");
        read.recv().await.unwrap();
        let id = app.store.account_by_login("vendor-a").await.unwrap().unwrap().id;
        app.change_role(id, Role::Auditor, None).await;
        go.send(()).await.unwrap();
        let r = demoted.await.unwrap();
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{backend}: {}", r.body);
        assert_eq!(r.location(), "/login?changed=1", "{backend}: sent to sign in again, as the account is now");
        let told = vendor.get(r.location()).await;
        let said = "操作中にアカウントの権限・所属・状態が変更されたため、最後の操作は行われませんでした。";
        assert!(told.body.contains(said), "{backend}: told the upload was not done: {}", told.body);
        let files = app.store.evidence_for(sys, 1, 4).await.unwrap();
        assert_eq!(files.len(), 1, "{backend}: the second file is not stored");
        assert_eq!(files[0].original_name, "first.txt", "{backend}");
        let uploads = app.audit_actions().await.iter().filter(|a| *a == "evidence.uploaded").count();
        assert_eq!(uploads, 1, "{backend}: one upload event, the first's");
        app.close().await;
    }
}

/// A round's history of thousands of saves was one page of them all. It
/// shows 200 lines a page, oldest first, with links to the next and the
/// previous; the first line of a page still names what it changed against
/// the revision before it, on the page before.
#[tokio::test]
async fn a_round_s_history_shows_two_hundred_lines_a_page_and_each_names_what_it_changed() {
    // The web crate's `HISTORY_PER_PAGE`.
    const HISTORY_PER_PAGE: usize = 200;
    let app = App::spawn("sqlite", Options::default()).await;
    let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
    let ctx = app.ctx();
    for i in 1..=HISTORY_PER_PAGE + 20 {
        let answer = mamori_core::checklist::AnswerInput::done(format!("rev-{i:04}-end"));
        app.store.save_answer(&ctx, sys, 1, &answer).await.unwrap();
    }
    let lines = app.store.history(sys, 1).await.unwrap().len();
    assert!(lines > HISTORY_PER_PAGE, "{lines} lines");
    let first = vendor.get(&format!("/systems/{sys}/history")).await.body;
    let second = vendor.get(&format!("/systems/{sys}/history?round=1&page=2")).await.body;
    let on = |page: &str, i: usize| page.contains(&format!("rev-{i:04}-end"));
    let firsts = (1..=HISTORY_PER_PAGE + 20).filter(|i| on(&first, *i)).count();
    let seconds = (1..=HISTORY_PER_PAGE + 20).filter(|i| on(&second, *i)).count();
    assert_eq!(firsts + seconds, HISTORY_PER_PAGE + 20, "every save on one page or the other");
    assert!(firsts <= HISTORY_PER_PAGE && on(&first, 1) && !on(&first, HISTORY_PER_PAGE + 20), "page 1: the oldest");
    assert!(first.contains("href=\"?round=1&#38;page=2\" rel=\"next\""), "{first}");
    assert!(second.contains("href=\"?round=1&#38;page=1\" rel=\"prev\"") && !second.contains("rel=\"next\""));
    let top = &second[second.find("<tbody>").unwrap()..];
    let top = &top[..top.find("</tr>").unwrap()];
    assert!(top.contains("変更点: 対応内容"), "the first line of page 2, against the revision before: {top}");
    app.close().await;
}

/// Every save of an answer is a line of its history, with the answer's
/// text, and the item's page showed them all: a thousand saves of ten
/// thousand characters were sixty megabytes of page at each view. The
/// item's page shows the latest twenty and links to the item's own history
/// on the round's history page for the rest.
#[tokio::test]
async fn an_item_s_page_shows_its_latest_twenty_history_lines_and_links_the_round_s_history_for_the_rest() {
    let app = App::spawn("sqlite", Options::default()).await;
    let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
    for i in 1..=55 {
        let r = answer(&vendor, sys, 1, &[("status", "done"), ("measures", &format!("rev-{i:02}-end"))]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "save {i}: {}", r.body);
    }
    let item = vendor.get(&format!("/systems/{sys}/items/1")).await.body;
    let history = &item[item.find("<h2>履歴</h2>").expect("the history")..];
    let earlier = format!("<a href=\"/systems/{sys}/history?round=1&amp;item=1\">それより前の履歴 35 件");
    assert!(history.contains(&earlier), "{history}");
    assert!((36..=55).all(|i| history.contains(&format!("rev-{i:02}-end"))), "the latest twenty");
    assert!(!history.contains("rev-35-end"), "and no more");

    let whole = vendor.get(&format!("/systems/{sys}/history")).await.body;
    assert!((1..=55).all(|i| whole.contains(&format!("rev-{i:02}-end"))), "the round's history is whole");
    // The item's own history, which the link opens: every line of it, and
    // no other item's.
    answer(&vendor, sys, 2, &[("status", "done"), ("measures", "item-2-line")]).await;
    let own = vendor.get(&format!("/systems/{sys}/history?round=1&item=1")).await.body;
    assert!(own.contains("<h1>No.1 履歴"), "{own}");
    assert!((1..=55).all(|i| own.contains(&format!("rev-{i:02}-end"))), "every line of the item");
    assert!(!own.contains("item-2-line"), "and no other item's");
    assert!(vendor.get(&format!("/systems/{sys}/history")).await.body.contains("item-2-line"));
    app.close().await;
}
