//! The filled checklist leaves mamori as the ward's documents: the
//! workbook, the CSV in both encodings, and the print page, for those who
//! may see the system and no one else, each export audited.

use crate::checklist::supplied_system;
use crate::harness::{App, Options};
use calamine::{Data, Reader, Xlsx};
use mamori_core::checklist::{AnswerInput, AnswerStatus, Review};
use mamori_core::identity::{OrgKind, Role};
use mamori_store::evidence::NewEvidence;
use reqwest::StatusCode;
use time::macros::date;

fn text(d: Option<&Data>) -> String {
    match d {
        Some(Data::String(s)) => s.clone(),
        Some(Data::Float(f)) => f.to_string(),
        _ => String::new(),
    }
}

/// A submitted system: every applicable item answered (No.1 with a
/// formula-like answer and 𠮷, No.4 not done and overdue, No.7 not
/// applicable), evidence on No.1, No.13 overridden to apply, No.2
/// approved and No.4 returned with a comment.
async fn seeded(app: &App) -> (i64, crate::harness::Client) {
    let (sys, vendor) = supplied_system(app, "文書管理システム").await;
    let ctx = app.ctx();
    app.store.set_override(&ctx, sys, 13, true, "庁舎外にサーバを置く").await.unwrap();
    let s = app.store.system(sys).await.unwrap().unwrap();
    let figures = app.store.figures(std::slice::from_ref(&s)).await.unwrap();
    for item in &figures[0].items {
        let input = match item.number {
            1 => AnswerInput::done("=HYPERLINK(\"x\") 𠮷田が管理"),
            4 => AnswerInput {
                status: AnswerStatus::NotDone,
                measures: String::new(),
                planned: Some(date!(2020 - 01 - 31)),
                reason: String::new(),
            },
            7 => AnswerInput {
                status: AnswerStatus::NotApplicable,
                measures: String::new(),
                planned: None,
                reason: "共有端末を使わない".into(),
            },
            n => AnswerInput::done(format!("No.{n} の対策を実施")),
        };
        app.store.save_answer(&ctx, sys, item.number, &input).await.unwrap();
    }
    let content = b"%PDF-1.4 test";
    let new = NewEvidence {
        number: 1,
        original_name: "ID管理簿.pdf",
        content_type: "application/pdf",
        sha256: &"0f".repeat(32),
        expires_on: None,
        content,
        replaces: None,
        by: None,
    };
    app.store.add_evidence(&ctx, sys, &new).await.unwrap();
    app.store.submit_system(&ctx, sys).await.unwrap();
    for (n, review, comment) in [(2, Review::Approved, ""), (4, Review::Returned, "予定日が過ぎています")] {
        let a = app.store.answer(sys, 1, n).await.unwrap().unwrap();
        app.store.decide(&ctx, sys, n, &a.seen(), review, comment).await.unwrap();
    }
    (sys, vendor)
}

#[tokio::test]
async fn the_filled_checklist_downloads_as_the_wards_workbook_with_every_column() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = seeded(&app).await;
        let r = vendor.http.get(format!("{}/systems/{sys}/report.xlsx", app.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", app.backend);
        assert!(r.headers()["content-type"].to_str().unwrap().contains("spreadsheetml"));
        assert!(r.headers()["content-disposition"].to_str().unwrap().starts_with("attachment;"));
        let bytes = r.bytes().await.unwrap().to_vec();
        let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        let sheet = book.worksheet_range("チェックリスト").unwrap();
        let at = |row: u32, col: u32| text(sheet.get_value((row, col)));
        let header: Vec<(String, String)> = (1..10).map(|i| (at(i, 0), at(i, 1))).collect();
        assert_eq!(header[0], ("所管課".into(), "総務課".into()));
        assert_eq!(header[1], ("事業者".into(), "ベンダーA".into()));
        assert_eq!(header[3], ("状態".into(), "提出済".into()), "{header:?}");
        assert_eq!(header[4], ("回".into(), "第1回".into()));
        assert!(header[5].1.starts_with("20"), "提出日 {header:?}");
        assert_eq!(header[6], ("審査日".into(), "-".into()));
        assert!(header[7].1.contains("第"), "要件の版 {header:?}");
        let head = 11;
        assert_eq!(at(head, 0), "No");
        let row_of = |n: u32| head + n;
        assert_eq!(
            (0..12).map(|c| at(row_of(1), c)).collect::<Vec<_>>()[..9],
            [
                "1".to_owned(),
                "ID管理について".into(),
                "IDの共有禁止".into(),
                at(row_of(1), 3),
                "対応済".into(),
                "=HYPERLINK(\"x\") 𠮷田が管理".into(),
                String::new(),
                String::new(),
                format!("ID管理簿.pdf (SHA-256: {})", "0f".repeat(32)),
            ]
        );
        assert!(at(row_of(1), 3).starts_with("①IDの共有の禁止"));
        assert_eq!((at(row_of(1), 10), at(row_of(1), 11)), ("審査待ち".into(), String::new()));
        assert_eq!(at(row_of(2), 10), "承認");
        assert_eq!(
            (at(row_of(4), 4), at(row_of(4), 6), at(row_of(4), 10), at(row_of(4), 11)),
            ("未対応".into(), "2020-01-31".into(), "差戻し".into(), "予定日が過ぎています".into())
        );
        // The plan past its date is said in its row, beside the document's columns.
        assert_eq!(
            (at(head, 13), at(row_of(4), 13), at(row_of(2), 13)),
            ("注意".into(), "期限超過".into(), String::new())
        );
        assert_eq!((at(row_of(7), 4), at(row_of(7), 7)), ("対象外".into(), "共有端末を使わない".into()));
        // Not a web system: No.31 does not apply, by its condition; No.13
        // applies by the officer's decision.
        assert_eq!(
            (at(row_of(31), 4), at(row_of(31), 7)),
            ("適用外".into(), "適用条件 (Webシステム) に該当しない".into())
        );
        assert_eq!(at(row_of(13), 4), "対応済");
        assert_eq!(at(row_of(79), 0), "79", "every requirement is a row");
        app.close().await;
    }
}

#[tokio::test]
async fn csv_comes_in_utf8_and_shift_jis_and_names_what_shift_jis_cannot_hold() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = seeded(&app).await;
        let get = |q: &'static str| vendor.http.get(format!("{}/systems/{sys}/report.csv{q}", app.base)).send();
        let utf8 = get("").await.unwrap();
        assert_eq!(utf8.headers()["content-type"], "text/csv; charset=utf-8");
        let utf8 = utf8.bytes().await.unwrap();
        assert_eq!(&utf8[..3], [0xEF, 0xBB, 0xBF]);
        let text = std::str::from_utf8(&utf8[3..]).unwrap();
        assert!(text.starts_with(
            "No,大項目,中項目,内容,対応状況,対応内容,予定日,理由,証跡,自動確認,審査,審査コメント,回答者,注意\r\n"
        ));
        // No.4's record from its date on (its text has line breaks in it).
        let no4 = &text[text.find(",未対応,,2020-01-31,").unwrap()..];
        let no4 = &no4[..no4.find("\r\n").unwrap()];
        assert!(no4.ends_with(",予定日が過ぎています,ベンダーA (構築事業者),期限超過"), "{no4}");
        assert!(text.contains(",対応済,\"'=HYPERLINK(\"\"x\"\") 𠮷田が管理\","), "formula neutralised: {text}");

        // 𠮷 has no Shift_JIS form: a page says where it stands, no file.
        let refused = get("?encoding=cp932").await.unwrap();
        assert_eq!(refused.status(), StatusCode::OK);
        assert!(refused.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        assert!(refused.headers().get("content-disposition").is_none());
        let page = refused.text().await.unwrap();
        assert!(page.contains("<td>1</td><td>対応内容</td><td>𠮷</td><td>U+20BB7</td>"), "{page}");

        let substituted = get("?encoding=cp932&substitute=1").await.unwrap();
        assert_eq!(substituted.headers()["content-type"], "text/csv; charset=shift_jis");
        let bytes = substituted.bytes().await.unwrap();
        let (decoded, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
        assert!(!bad);
        assert!(decoded.contains("〓田が管理"), "{decoded}");
        assert_eq!(decoded.replace('〓', "𠮷"), text, "the same document but for the stand-in");
        app.close().await;
    }
}

#[tokio::test]
async fn the_print_page_has_every_requirement_its_notes_column_and_links_its_print_stylesheet() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = seeded(&app).await;
        let page = vendor.get(&format!("/systems/{sys}/report")).await;
        assert_eq!(page.status, StatusCode::OK);
        for n in 1..=79 {
            assert!(page.body.contains(&format!("<tr id=\"item-{n}\"")), "No.{n}");
        }
        assert!(page.body.contains("<tr id=\"item-31\" class=\"not-applicable\">"));
        // The workbook's 注意 column, as its fourteenth: No.4's plan is past
        // its date; No.2 has nothing to say.
        assert!(page.body.contains("<th>回答者</th><th>注意</th></tr>"), "{}", app.backend);
        let row = |n: u32| {
            let start = page.body.find(&format!("<tr id=\"item-{n}\"")).unwrap();
            page.body[start..start + page.body[start..].find("</tr>").unwrap()].to_owned()
        };
        assert!(row(4).ends_with("<td class=\"note\">期限超過</td>\n"), "{}", row(4));
        assert!(row(2).ends_with("<td></td>\n"), "{}", row(2));
        assert!(page.body.contains("<link rel=\"stylesheet\" href=\"/static/report.css\">"));
        assert!(!page.body.contains("<style>"), "the CSP allows no inline style");
        assert!(page.body.contains("&#61;HYPERLINK") || page.body.contains("=HYPERLINK(&#34;x&#34;)"), "escaped");
        let css = vendor.get("/static/report.css").await;
        assert!(css.body.contains("size: A4 landscape") && css.body.contains("break-inside: avoid"));
        let system_page = vendor.get(&format!("/systems/{sys}")).await;
        for link in ["report\"", "report.xlsx\"", "report.csv\"", "report.csv?encoding=cp932\""] {
            assert!(system_page.body.contains(&format!("href=\"/systems/{sys}/{link}")), "{link}");
        }
        app.close().await;
    }
}

#[tokio::test]
async fn reports_are_for_those_who_may_see_the_system_and_every_export_is_audited() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = seeded(&app).await;
        let other = app.org("ベンダーB", OrgKind::Vendor).await;
        let (stranger, _) = app.signed_in("vendor-b", Role::Vendor, Some(other)).await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let anonymous = app.client();
        for path in ["report", "report.xlsx", "report.csv", "report.csv?encoding=cp932"] {
            let url = format!("/systems/{sys}/{path}");
            assert_eq!(stranger.get(&url).await.status, StatusCode::NOT_FOUND, "{path}");
            let r = anonymous.get(&url).await;
            assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/login"), "{path}");
            assert_eq!(officer.get(&url).await.status, StatusCode::OK, "{path}");
            assert_eq!(vendor.get(&url).await.status, StatusCode::OK, "{path}");
        }
        assert_eq!(officer.get("/systems/999999/report.xlsx").await.status, StatusCode::NOT_FOUND);
        let events = app.store.audit_recent(1000).await.unwrap();
        let formats: Vec<(String, String)> = events
            .iter()
            .filter(|e| e.record.action == "report.exported")
            .map(|e| (e.record.actor_login.clone(), e.record.changes.clone()))
            .collect();
        // Refusals export nothing; the Shift_JIS request that listed 𠮷 sent no file.
        assert_eq!(formats.len(), 6, "{formats:?}");
        assert_eq!(formats.iter().filter(|(who, _)| who == "vendor-a").count(), 3);
        for f in ["\"html\"", "\"xlsx\"", "\"csv\""] {
            assert!(formats.iter().any(|(_, c)| c.contains(f)), "{f}: {formats:?}");
        }
        app.close().await;
    }
}

/// The seeded system after its review: every item approved but No.4,
/// returned; the vendor may answer again.
async fn returned(app: &App) -> (i64, crate::harness::Client) {
    let (sys, vendor) = seeded(app).await;
    let ctx = app.ctx();
    for a in app.store.answers(sys, 1).await.unwrap() {
        if a.review == Review::Pending {
            app.store.decide(&ctx, sys, a.number, &a.seen(), Review::Approved, "").await.unwrap();
        }
    }
    app.store.finish_review(&ctx, sys).await.unwrap();
    (sys, vendor)
}

async fn upload(_: &App, c: &crate::harness::Client, sys: i64, bytes: Vec<u8>) -> crate::harness::Res {
    c.post_file(&format!("/systems/{sys}"), &format!("/systems/{sys}/answers.xlsx"), "answers.xlsx", bytes).await
}

/// The workbook a person downloads to answer in.
async fn answer_copy(app: &App, c: &crate::harness::Client, sys: i64) -> Vec<u8> {
    let r = c.http.get(format!("{}/systems/{sys}/answers.xlsx", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", app.backend);
    r.bytes().await.unwrap().to_vec()
}

fn answer_table(answers: &[mamori_store::systems::AnswerRecord]) -> Vec<(u32, String, String, i64, Review)> {
    answers
        .iter()
        .map(|a| (a.number, a.input.status.as_str().to_owned(), a.input.measures.clone(), a.revision, a.review))
        .collect()
}

#[tokio::test]
async fn vendors_answer_in_excel_and_exactly_the_edited_answers_change() {
    use mamori_testkit::xlsx::{edited, Workbook};
    for app in App::each(Options::default()).await {
        let (sys, vendor) = returned(&app).await;
        let copy = answer_copy(&app, &vendor, sys).await;
        let x = Workbook::open(&copy);
        assert!(x.sheet(1).find("sheetProtection").is_some(), "the vendor's copy is protected");
        assert!(x.sheet(1).find("dataValidation").is_some_and(|v| v.attr("type") == Some("list")));
        let before = app.store.answers(sys, 1).await.unwrap();
        let events_before = app.audit_actions().await.iter().filter(|a| *a == "answer.saved").count();

        let (sheet, row) = ("チェックリスト", |n: u32| 11 + n);
        let file = edited(
            &copy,
            &[
                (sheet, row(4), 4, "対応済"),
                (sheet, row(4), 5, "予定を前倒しして実施"),
                (sheet, row(4), 6, ""),
                (sheet, row(5), 5, "No.5 の対策を実施し、手順書を改訂"),
            ],
        );
        let preview = upload(&app, &vendor, sys, file.clone()).await;
        assert_eq!(preview.status, StatusCode::OK);
        assert!(preview.body.contains("次の 2 件の回答が変わります"), "{}", preview.body);
        assert!(preview.body.contains("<ins>予定を前倒しして実施</ins>"));
        assert!(preview.body.contains("承認 → 審査待ちに戻ります"), "No.5 was approved");
        assert_eq!(app.store.answers(sys, 1).await.unwrap(), before, "a preview changes nothing");

        let mark = crate::harness::hidden_in(&preview.body, "mark");
        let applied = vendor.post(&format!("/systems/{sys}/answers/apply"), &[("mark", &mark)]).await;
        assert_eq!((applied.status, applied.location()), (StatusCode::SEE_OTHER, &*format!("/systems/{sys}")));
        let after = app.store.answers(sys, 1).await.unwrap();
        let (was, now) = (answer_table(&before), answer_table(&after));
        assert_eq!(was.len(), now.len());
        for (b, a) in was.iter().zip(&now) {
            match b.0 {
                4 => assert_eq!(
                    (a.1.as_str(), a.2.as_str(), a.3, a.4),
                    ("done", "予定を前倒しして実施", b.3 + 1, Review::Pending)
                ),
                5 => assert_eq!(
                    (a.2.as_str(), a.3, a.4),
                    ("No.5 の対策を実施し、手順書を改訂", b.3 + 1, Review::Pending)
                ),
                _ => assert_eq!(a, b, "No.{} unchanged, approved stays approved", b.0),
            }
        }
        let events = app.audit_actions().await.iter().filter(|a| *a == "answer.saved").count();
        assert_eq!(events - events_before, 2, "one audited revision per changed answer");

        // The same file again: those answers are what it says; nothing changes.
        let again = upload(&app, &vendor, sys, file).await;
        assert!(again.body.contains("変更はありません"), "{}", again.body);
        // The first copy, edited otherwise: No.4 changed since it was made.
        let stale = upload(&app, &vendor, sys, edited(&copy, &[(sheet, row(4), 5, "別の対策")])).await;
        assert!(stale.body.contains("No.4 はこのファイルの作成後に変更されています (vendor-a)"), "{}", stale.body);
        assert_eq!(app.store.answers(sys, 1).await.unwrap(), after);
        app.close().await;
    }
}

/// A previewed workbook waited in the session that uploaded it: megabytes
/// of answers read with every request of the person's, and one in each of
/// their sessions. It is now its account's one, in the store: previewed
/// twice in one sign-in (two tabs), the first tab's confirmation applied
/// the second file, never shown on its page; it is now refused, nothing
/// changed, and the second tab's preview is the one confirmed, from
/// another sign-in of the same person; once confirmed, nothing waits.
#[tokio::test]
async fn a_previewed_workbook_is_its_account_s_one_confirmed_only_as_its_page_showed_it() {
    use mamori_testkit::xlsx::edited;
    for app in App::each(Options::default()).await {
        let (sys, vendor) = returned(&app).await;
        let copy = answer_copy(&app, &vendor, sys).await;
        let (sheet, row) = ("チェックリスト", |n: u32| 11 + n);
        let mut marks = Vec::new();
        for measures in ["最初の対策", "二つ目の対策"] {
            let preview = upload(&app, &vendor, sys, edited(&copy, &[(sheet, row(4), 5, measures)])).await;
            assert!(preview.body.contains(&format!("<ins>{measures}</ins>")), "{}: {}", app.backend, preview.body);
            marks.push(crate::harness::hidden_in(&preview.body, "mark"));
        }
        let before = app.store.answers(sys, 1).await.unwrap();
        let apply = |c: &crate::harness::Client, mark: &str| {
            let (c, path, mark) = (c.clone(), format!("/systems/{sys}/answers/apply"), mark.to_owned());
            async move { c.post(&path, &[("mark", &mark)]).await }
        };
        let first = apply(&vendor, &marks[0]).await;
        assert!(first.body.contains("別の画面で別のファイルが読み込まれています"), "{}: {}", app.backend, first.body);
        assert_eq!(app.store.answers(sys, 1).await.unwrap(), before, "{}: nothing applied", app.backend);
        let other = app.client();
        let r = other.sign_in(&app, "vendor-a", crate::harness::PASSWORD, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        other.get(&format!("/systems/{sys}")).await;
        let applied = apply(&other, &marks[1]).await;
        assert_eq!(applied.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, applied.body);
        let no4 = app.store.answers(sys, 1).await.unwrap().into_iter().find(|a| a.number == 4).unwrap();
        assert_eq!(no4.input.measures, "二つ目の対策", "{}", app.backend);
        let again = apply(&vendor, &marks[1]).await;
        assert!(again.body.contains("確認した変更が見つかりません"), "{}: {}", app.backend, again.body);
        app.close().await;
    }
}

/// A workbook previewed under one catalog version, confirmed after the
/// office moved the system to another (where No.4 says something else):
/// refused, nothing written; the upload itself refuses such a file, and
/// the confirmation now does too.
#[tokio::test]
async fn a_previewed_workbook_confirmed_after_the_system_moved_to_another_catalog_version_changes_nothing() {
    use mamori_testkit::xlsx::edited;
    for app in App::each(Options::default()).await {
        let (sys, vendor) = returned(&app).await;
        let copy = answer_copy(&app, &vendor, sys).await;
        let file = edited(&copy, &[("チェックリスト", 11 + 4, 5, "予定を前倒しして実施")]);
        let preview = upload(&app, &vendor, sys, file).await;
        assert!(preview.body.contains("answers/apply"), "{}", preview.body);

        let first = app.store.system(sys).await.unwrap().unwrap().catalog_version_id;
        let mut next = (*app.store.catalog_document(first).await.unwrap().unwrap()).clone();
        next.catalog.version = "令和9年度版".into();
        next.requirements.iter_mut().find(|r| r.number == 4).unwrap().text = "別の要件に変わった No.4".into();
        let second = match app.store.import_catalog(&app.system_ctx(), &next).await.unwrap() {
            mamori_store::catalog::ImportOutcome::Imported(id) => id,
            other => panic!("{other:?}"),
        };
        app.store.change_catalog_version(&app.system_ctx(), sys, second).await.unwrap();
        let before = app.store.answers(sys, 1).await.unwrap();

        let mark = crate::harness::hidden_in(&preview.body, "mark");
        let applied = vendor.post(&format!("/systems/{sys}/answers/apply"), &[("mark", &mark)]).await;
        assert_ne!(applied.status, StatusCode::SEE_OTHER, "{}: not applied", app.backend);
        assert!(applied.body.contains("ダウンロードし直してください"), "{}", applied.body);
        assert_eq!(app.store.answers(sys, 1).await.unwrap(), before, "{}: nothing written", app.backend);
        app.close().await;
    }
}

/// An approval was kept when the office moved the system to a catalog
/// version that words the item otherwise: the review ended 承認 on answers
/// given to requirements the system no longer has. Such an item goes back
/// to 審査待ち (in its history and the audit log); one whose wording is the
/// same keeps its approval. And an approved system keeps its version: the
/// approved round stands as answered, the next round may move.
#[tokio::test]
async fn an_approval_given_to_other_words_goes_back_to_review_when_the_system_moves_to_another_catalog_version() {
    use mamori_core::checklist::{HistoryKind, SystemStatus};
    for app in App::each(Options::default()).await {
        let (sys, _vendor) = returned(&app).await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let review_of =
            async |n: u32| app.store.answers(sys, 1).await.unwrap().iter().find(|a| a.number == n).unwrap().review;
        assert_eq!((review_of(2).await, review_of(3).await), (Review::Approved, Review::Approved), "{}", app.backend);

        let first = app.store.system(sys).await.unwrap().unwrap().catalog_version_id;
        let mut next = (*app.store.catalog_document(first).await.unwrap().unwrap()).clone();
        next.catalog.version = "令和9年度版".into();
        next.requirements.iter_mut().find(|r| r.number == 2).unwrap().text =
            "パスワードは 12 文字以上とすること".into();
        next.requirements.iter_mut().find(|r| r.number == 3).unwrap().evidence_hint = "別の例".into();
        let second = match app.store.import_catalog(&app.system_ctx(), &next).await.unwrap() {
            mamori_store::catalog::ImportOutcome::Imported(id) => id,
            other => panic!("{other:?}"),
        };
        let page = format!("/systems/{sys}");
        officer.get(&page).await;
        let r = officer.post(&format!("/systems/{sys}/catalog"), &[("version", &second.to_string())]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        assert_eq!(app.store.system(sys).await.unwrap().unwrap().catalog_version_id, second);
        assert_eq!(review_of(2).await, Review::Pending, "{}: reworded, back to review", app.backend);
        assert_eq!(review_of(3).await, Review::Approved, "{}: only its example changed", app.backend);
        let history = app.store.item_history(sys, 1, 2).await.unwrap();
        assert_eq!(history.last().unwrap().kind, HistoryKind::RequirementChanged, "{}", app.backend);
        let item = officer.get(&format!("/systems/{sys}/items/2")).await.body;
        assert!(item.contains("要件の文言が変わったため審査待ちに戻しました"), "{}: {item}", app.backend);
        let trail = app.store.audit_recent(5).await.unwrap();
        let moved = trail.iter().find(|e| e.record.action == "system.catalog_changed").unwrap();
        assert!(moved.record.changes.contains("\"reopened\":[2]"), "{}: {}", app.backend, moved.record.changes);

        // Answered again, submitted and approved: the approved system keeps
        // its version.
        let ctx = app.ctx();
        for a in app.store.answers(sys, 1).await.unwrap() {
            if a.review == Review::Returned {
                app.store.save_answer(&ctx, sys, a.number, &AnswerInput::done("実施した")).await.unwrap();
            }
        }
        app.store.submit_system(&ctx, sys).await.unwrap();
        for a in app.store.answers(sys, 1).await.unwrap() {
            if a.review == Review::Pending {
                app.store.decide(&ctx, sys, a.number, &a.seen(), Review::Approved, "").await.unwrap();
            }
        }
        assert_eq!(app.store.finish_review(&ctx, sys).await.unwrap(), SystemStatus::Approved, "{}", app.backend);
        officer.get(&page).await;
        let r = officer.post(&format!("/systems/{sys}/catalog"), &[("version", &first.to_string())]).await;
        assert!(r.body.contains("承認済みのシステムの要件一覧の版は切り替えられません"), "{}: {}", app.backend, r.body);
        assert_eq!(app.store.system(sys).await.unwrap().unwrap().catalog_version_id, second, "{}", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn one_bad_row_or_a_zip_bomb_changes_nothing_and_the_problem_is_named() {
    use mamori_testkit::xlsx::edited;
    for app in App::each(Options::default()).await {
        let (sys, vendor) = returned(&app).await;
        let copy = answer_copy(&app, &vendor, sys).await;
        let before = app.store.answers(sys, 1).await.unwrap();
        let sheet = "チェックリスト";
        let file = edited(&copy, &[(sheet, 15, 5, "別の対策"), (sheet, 17, 4, "済み"), (sheet, 11 + 31, 4, "対応済")]);
        let r = upload(&app, &vendor, sys, file).await;
        assert!(r.body.contains("何も反映していません"), "{}", r.body);
        assert!(r.body.contains("<td>18</td><td>対応状況</td><td>「済み」は選べません"), "row 18 (No.6): {}", r.body);
        assert!(
            r.body.contains("<td>43</td><td>対応状況</td><td>この項目はこのシステムに適用されないため"),
            "No.31: {}",
            r.body
        );
        assert!(!r.body.contains("answers/apply"), "nothing to apply");
        let applied = vendor.post(&format!("/systems/{sys}/answers/apply"), &[]).await;
        assert!(applied.body.contains("確認した変更が見つかりません"), "{}", applied.body);
        assert_eq!(app.store.answers(sys, 1).await.unwrap(), before);

        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        z.start_file("xl/worksheets/sheet1.xml", zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut z, &vec![0u8; 64 * 1024 * 1024]).unwrap();
        let bomb = z.finish().unwrap().into_inner();
        let r = upload(&app, &vendor, sys, bomb).await;
        assert!(r.body.contains("展開後のサイズが大きすぎます"), "{}", r.body);
        assert_eq!(app.store.answers(sys, 1).await.unwrap(), before);
        app.close().await;
    }
}

#[tokio::test]
async fn another_vendor_can_neither_download_nor_upload_the_workbook() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = returned(&app).await;
        let copy = answer_copy(&app, &vendor, sys).await;
        let other = app.org("ベンダーB", OrgKind::Vendor).await;
        let (stranger, _) = app.signed_in("vendor-b", Role::Vendor, Some(other)).await;
        let r = stranger.http.get(format!("{}/systems/{sys}/answers.xlsx", app.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        stranger.get("/dashboard").await;
        let r = upload(&app, &stranger, sys, copy.clone()).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        // A department's staff may read the report, not answer.
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let r = officer.http.get(format!("{}/systems/{sys}/answers.xlsx", app.base)).send().await.unwrap();
        assert_ne!(r.status(), StatusCode::OK);
        app.close().await;
    }
}

async fn sheet_names(c: &crate::harness::Client, app: &App, query: &str) -> Vec<String> {
    let r = c.http.get(format!("{}/systems.xlsx{query}", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{query}");
    let bytes = r.bytes().await.unwrap().to_vec();
    let book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    book.sheet_names()
}

#[tokio::test]
async fn the_all_systems_workbook_keeps_the_lists_filters_and_the_persons_scope() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = seeded(&app).await;
        let tax = app.org("税務課", OrgKind::Department).await;
        let other = app.org("ベンダーB", OrgKind::Vendor).await;
        let sys2 = crate::checklist::system(&app, tax, Some(other), "税務システム").await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let (one, two) = (format!("{sys} 文書管理システム"), format!("{sys2} 税務システム"));
        assert_eq!(sheet_names(&officer, &app, "").await, ["一覧", "大項目別", one.as_str(), two.as_str()]);
        assert_eq!(
            sheet_names(&officer, &app, &format!("?department={tax}")).await,
            ["一覧", "大項目別", two.as_str()]
        );
        assert_eq!(sheet_names(&vendor, &app, "").await, ["一覧", "大項目別", one.as_str()], "the vendor's own only");
        assert_eq!(sheet_names(&vendor, &app, &format!("?department={tax}")).await, ["一覧", "大項目別"]);
        let list = officer.get(&format!("/systems?department={tax}")).await;
        assert!(list.body.contains(&format!("href=\"/systems.xlsx?department={tax}\"")), "{}", list.body);
        let board = officer.get(&format!("/dashboard?department={tax}")).await;
        assert!(
            board.body.contains(&format!("href=\"/systems.xlsx?department={tax}\"")),
            "the dashboard's filters too"
        );
        let counts: Vec<String> = app
            .store
            .audit_recent(1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.record.action == "report.exported")
            .map(|e| e.record.changes)
            .collect();
        assert_eq!(counts.len(), 4);
        assert!(counts.iter().any(|c| c.contains("\"systems\":2")), "{counts:?}");
        app.close().await;
    }
}

/// An answer of ten thousand characters Shift_JIS cannot hold, each
/// another, made the Shift_JIS download's page list every one: megabytes
/// of page, made again at each request. The page lists the first hundred
/// and says how many more there are; the UTF-8 CSV holds them all.
#[tokio::test]
async fn a_shift_jis_download_refused_lists_a_hundred_places_and_counts_the_rest() {
    let app = App::spawn("sqlite", Options::default()).await;
    let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
    let hangul: String = (0xAC00..0xAC00 + 10_000).filter_map(char::from_u32).collect();
    let r = vendor.answer(sys, 1, &[("status", "done"), ("measures", &hangul)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = vendor.get(&format!("/systems/{sys}/report.csv?encoding=cp932")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body.matches("<td>対応内容</td>").count(), 100, "a hundred places listed");
    assert!(page.body.contains("<td>1</td><td>対応内容</td><td>가</td><td>U+AC00</td>"));
    assert!(page.body.contains("ほかに 9900 か所あります"), "the rest counted");
    assert!(page.body.len() < 64 * 1024, "{} bytes", page.body.len());
    let utf8 = vendor.http.get(format!("{}/systems/{sys}/report.csv", app.base)).send().await.unwrap();
    assert!(utf8.text().await.unwrap().contains(&hangul));
    app.close().await;
}

/// The print pages of the report and of the yearly report record an
/// export as they are shown, but were not among the audited downloads: a
/// page on another site could send a signed-in officer's browser to them
/// and have the export recorded under the officer's name, and a person
/// could ask for them without end, each an audit event, past the limit on
/// their changes. Now each is refused from another site, recording
/// nothing, and counted against the person's limit.
#[tokio::test]
async fn a_print_page_asked_for_from_another_site_is_refused_and_each_is_counted_against_the_person_s_limit() {
    let app = App::spawn("sqlite", Options { writes: Some((3, 100)), ..Options::default() }).await;
    let (sys, vendor) = seeded(&app).await;
    let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    let exports = || async {
        let actions = app.audit_actions().await;
        actions.iter().filter(|a| *a == "report.exported").count()
    };
    let year = app.now().year();
    for path in [format!("/systems/{sys}/report"), format!("/systems/{sys}/yearly/report?year={year}")] {
        let r = officer.http.get(format!("{}{path}", officer.base)).header("sec-fetch-site", "cross-site");
        assert_eq!(r.send().await.unwrap().status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(exports().await, 0, "nothing recorded as exported");
    let refused = app.audit_actions().await.iter().filter(|a| *a == "csrf.rejected").count();
    assert_eq!(refused, 2, "each refusal recorded");
    for _ in 0..3 {
        assert_eq!(vendor.get(&format!("/systems/{sys}/report")).await.status, StatusCode::OK);
    }
    let past = vendor.get(&format!("/systems/{sys}/report")).await;
    assert_eq!(past.status, StatusCode::TOO_MANY_REQUESTS, "the fourth in a minute of a limit of three");
    assert_eq!(exports().await, 3, "the refused one recorded nothing");
    app.close().await;
}
