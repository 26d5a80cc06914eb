//! Evidence files that could run on the receiver's computer, over HTTPS:
//! programs, scripts and Office files with macros are refused at upload
//! with a message, and a file stored before that rule downloads under a
//! name ending in the extension of its content.

use crate::checklist::supplied_system;
use crate::harness::{App, Options};
use mamori_core::identity::{OrgKind, Role};
use reqwest::StatusCode;
use std::io::Write;

/// A zip holding `entries` (name, content).
fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        w.write_all(content.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// The reasons of the `evidence.rejected` audit events, oldest first.
async fn rejections(app: &App) -> Vec<(String, String)> {
    let mut events = app.store.audit_recent(1000).await.unwrap();
    events.reverse();
    events
        .into_iter()
        .filter(|e| e.record.action == "evidence.rejected")
        .map(|e| {
            let c: serde_json::Value = serde_json::from_str(&e.record.changes).unwrap();
            (c["name"].as_str().unwrap().to_owned(), c["why"].as_str().unwrap().to_owned())
        })
        .collect()
}

#[tokio::test]
async fn office_files_with_macros_are_refused_with_a_message_audited_and_not_stored() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let xlsx = mamori_files::export::xlsx_bytes("s", &["a".into()], &[]).unwrap();
        let types = r#"<Types><Default Extension="xml" ContentType="application/xml"/></Types>"#;
        let with_vba = zip_of(&[("[Content_Types].xml", types), ("xl/workbook.xml", ""), ("xl/vbaProject.bin", "")]);
        let docm_as_pdf =
            zip_of(&[("[Content_Types].xml", types), ("word/document.xml", ""), ("Word/VBAPROJECT.bin", "")]);
        let uploads = [("集計.xlsm", xlsx), ("集計.xlsx", with_vba), ("報告書.pdf", docm_as_pdf)];
        for (name, bytes) in uploads.clone() {
            let r = vendor.upload(sys, 4, name, bytes).await;
            assert_eq!(r.status, StatusCode::OK, "{}: {name}: the form again, not a redirect", app.backend);
            let beside = format!("<p class=\"field-error\" id=\"file-error\">「{name}」: マクロを含む Office ファイルは証跡として受け付けられません");
            assert!(r.body.contains(&beside), "{}: {name}: the reason beside the file: {}", app.backend, r.body);
            assert!(r.body.contains("aria-describedby=\"file-error\""), "{}", app.backend);
        }
        assert!(app.store.evidence_for(sys, 1, 4).await.unwrap().is_empty(), "{}: nothing stored", app.backend);
        let want: Vec<(String, String)> = uploads.iter().map(|(n, _)| ((*n).to_owned(), "macro".to_owned())).collect();
        assert_eq!(rejections(&app).await, want, "{}", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn programs_and_scripts_are_refused_by_name_with_a_message_audited_and_not_stored() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
        let script = b"<script>new ActiveXObject('WScript.Shell').Run('calc')</script>".to_vec();
        let uploads =
            [("x.hta", script.clone()), ("setup.EXE", pdf), ("run.bat.", script.clone()), ("deploy.ps1", script)];
        for (name, bytes) in uploads.clone() {
            let r = vendor.upload(sys, 4, name, bytes).await;
            assert_eq!(r.status, StatusCode::OK, "{}: {name}: the form again, not a redirect", app.backend);
            assert!(
                r.body.contains(
                    "実行ファイルやスクリプト(.exe、.bat、.ps1、.js、.hta など)は証跡として受け付けられません"
                ),
                "{}: {name}: {}",
                app.backend,
                r.body
            );
        }
        assert!(app.store.evidence_for(sys, 1, 4).await.unwrap().is_empty(), "{}: nothing stored", app.backend);
        let want: Vec<(String, String)> =
            uploads.iter().map(|(n, _)| ((*n).to_owned(), "executable".to_owned())).collect();
        assert_eq!(rejections(&app).await, want, "{}", app.backend);
        app.close().await;
    }
}

/// A program zipped, under a name whose right-to-left mark shows
/// `請求書\u{202E}fdp.zip` as `請求書piz.pdf`: before, it was stored (a ZIP is
/// evidence) and an officer saw a PDF's name. Now it is refused with a
/// message, recorded under its name without the mark, and not stored; a
/// clean ZIP under such a name is stored, without the mark.
#[tokio::test]
async fn a_zipped_program_is_refused_and_names_lose_the_marks_that_reorder_text() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let bundle = zip_of(&[("請求書.pdf.exe", "MZ\u{90}"), ("説明.txt", "開いてください")]);
        let r = vendor.upload(sys, 4, "請求書\u{202E}fdp.zip", bundle).await;
        assert_eq!(r.status, StatusCode::OK, "{}: the form again, not a redirect", app.backend);
        assert!(r.body.contains("ZIP の中に、実行ファイルやスクリプト"), "{}: {}", app.backend, r.body);
        assert!(!r.body.contains('\u{202E}'), "{}: the name is shown without the mark", app.backend);
        assert!(app.store.evidence_for(sys, 1, 4).await.unwrap().is_empty(), "{}: nothing stored", app.backend);
        let want = vec![("請求書fdp.zip".to_owned(), "zip_content".to_owned())];
        assert_eq!(rejections(&app).await, want, "{}", app.backend);
        let clean = zip_of(&[("手順書.pdf", "%PDF-1.4\n"), ("画面/一覧.txt", "一覧")]);
        let r = vendor.upload(sys, 4, "資料\u{202E}\u{2066}一式.zip", clean).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let names: Vec<String> =
            app.store.evidence_for(sys, 1, 4).await.unwrap().into_iter().map(|e| e.original_name).collect();
        assert_eq!(names, ["資料一式.zip"], "{}", app.backend);
        app.close().await;
    }
}

/// A vendor's CSV reached the office's Excel as uploaded, and a cell such
/// as `=HYPERLINK(…)` or a DDE call was live there when the officer opened
/// it (mamori's own CSVs neutralise such cells; evidence cannot be changed,
/// its hash is the record). Such a CSV, in UTF-8 or Shift_JIS, or zipped,
/// is now refused with a message naming the row and the column, audited
/// and not stored; a CSV of negative numbers, telephone numbers and notes
/// is stored.
#[tokio::test]
async fn a_csv_with_a_cell_excel_would_run_is_refused_with_its_place_and_a_plain_one_is_stored() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("項目,値\n台帳,-2+3+cmd|' /C calc'!A0\n");
        let link = "名前,リンク\n手順,\"=HYPERLINK(\"\"https://evil.example/\"\",\"\"手順書\"\")\"\n";
        let uploads = [
            ("一覧.csv", link.as_bytes().to_vec(), "CSV の 2 行目 2 列目のセルは、Excel で開くと式として動きます"),
            ("台帳.csv", sjis.into_owned(), "CSV の 2 行目 2 列目のセルは、Excel で開くと式として動きます"),
            (
                "一式.zip",
                zip_of(&[("説明.txt", "一覧"), ("データ/一覧.csv", "a,b\n1,2\n3,@SUM(A1:A2)\n")]),
                "ZIP の中の CSV ファイルの 3 行目 2 列目のセルは",
            ),
        ];
        for (name, bytes, why) in uploads.clone() {
            let r = vendor.upload(sys, 4, name, bytes).await;
            assert_eq!(r.status, StatusCode::OK, "{}: {name}: the form again, not a redirect", app.backend);
            assert!(r.body.contains(&format!("「{name}」: {why}")), "{}: {name}: {}", app.backend, r.body);
        }
        assert!(app.store.evidence_for(sys, 1, 4).await.unwrap().is_empty(), "{}: nothing stored", app.backend);
        let want: Vec<(String, String)> =
            uploads.iter().map(|(n, ..)| ((*n).to_owned(), "formula".to_owned())).collect();
        assert_eq!(rejections(&app).await, want, "{}", app.backend);
        let plain = "番号,金額,電話,備考\n1,-500,+81-3-1234-5678,- 注記のとおり\n";
        let r = vendor.upload(sys, 4, "明細.csv", plain.as_bytes().to_vec()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        assert_eq!(app.store.evidence_for(sys, 1, 4).await.unwrap().len(), 1, "{}", app.backend);
        app.close().await;
    }
}

/// A text file named `x.hta` stored before uploads of that name were
/// refused (written straight into the store) downloads as `x.hta.txt`.
#[tokio::test]
async fn a_text_file_stored_as_x_hta_downloads_as_x_hta_txt() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let content = b"<script>alert(1)</script>\n".to_vec();
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&content));
        let old = mamori_store::evidence::NewEvidence {
            number: 4,
            original_name: "x.hta",
            content_type: "text/plain",
            sha256: &sha,
            expires_on: None,
            content: &content,
            replaces: None,
            by: None,
        };
        let id = app.store.add_evidence(&app.ctx(), sys, &old).await.unwrap();
        let r = vendor.http.get(format!("{}/evidence/{id}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", app.backend);
        assert_eq!(r.headers().get("content-type").unwrap(), "text/plain", "{}", app.backend);
        let cd = r.headers().get("content-disposition").unwrap().to_str().unwrap().to_owned();
        assert_eq!(cd, "attachment; filename=\"x.hta.txt\"; filename*=UTF-8''x.hta.txt", "{}", app.backend);
        assert_eq!(r.bytes().await.unwrap().to_vec(), content, "{}: the content unchanged", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn evidence_is_removed_by_its_vendor_before_submission_with_history_and_audit_and_by_no_one_else() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let pdf = b"%PDF-1.4\n".to_vec();
        for name in ["古い手順書.pdf", "手順書.pdf"] {
            assert_eq!(vendor.upload(sys, 4, name, pdf.clone()).await.status, StatusCode::SEE_OTHER);
        }
        let files = app.store.evidence_for(sys, 1, 4).await.unwrap();
        let (old, kept) = (files[0].id, files[1].id);
        let item = format!("/systems/{sys}/items/4");
        let page = vendor.get(&item).await.body;
        assert!(page.contains(&format!("{item}/evidence/{old}/remove")), "{}: a remove button", app.backend);

        // Another company's person, the officer, a wrong item, a made-up id.
        let other_vendor = app.org("ベンダーB", mamori_core::identity::OrgKind::Vendor).await;
        let (stranger, _) = app.signed_in("vendor-b", mamori_core::identity::Role::Vendor, Some(other_vendor)).await;
        let (officer, _) = app.signed_in("officer1", mamori_core::identity::Role::SecurityOfficer, None).await;
        for (who, path) in [
            (&stranger, format!("{item}/evidence/{old}/remove")),
            (&officer, format!("{item}/evidence/{old}/remove")),
            (&vendor, format!("/systems/{sys}/items/5/evidence/{old}/remove")),
            (&vendor, format!("{item}/evidence/999999/remove")),
        ] {
            who.get("/dashboard").await;
            let r = who.post(&path, &[]).await;
            assert!(
                r.status == StatusCode::NOT_FOUND || r.status == StatusCode::FORBIDDEN,
                "{}: {path}: {}",
                app.backend,
                r.status
            );
        }
        assert_eq!(app.store.evidence_for(sys, 1, 4).await.unwrap().len(), 2, "{}: nothing removed", app.backend);

        // The vendor removes the old one: gone, with its history line and event.
        vendor.get(&item).await;
        let r = vendor.post(&format!("{item}/evidence/{old}/remove"), &[]).await;
        assert_eq!(r.location(), item, "{}", app.backend);
        let left: Vec<i64> = app.store.evidence_for(sys, 1, 4).await.unwrap().iter().map(|e| e.id).collect();
        assert_eq!(left, [kept], "{}", app.backend);
        assert!(app.store.evidence(old).await.unwrap().is_none(), "{}", app.backend);
        assert!(app.audit_actions().await.contains(&"evidence.removed".to_owned()), "{}", app.backend);
        let history = vendor.get(&format!("/systems/{sys}/history")).await.body;
        assert!(history.contains("証跡を削除") && history.contains("古い手順書.pdf"), "{}: {history}", app.backend);

        // Once submitted, files stay.
        for n in (1..=12).chain(15..=30).chain([79]) {
            vendor.answer(sys, n, &[("status", "done"), ("measures", "実施")]).await;
        }
        vendor.get(&format!("/systems/{sys}")).await;
        assert_eq!(vendor.post(&format!("/systems/{sys}/submit"), &[]).await.status, StatusCode::SEE_OTHER);
        let page = vendor.get(&item).await.body;
        assert!(!page.contains("/remove\""), "{}: no remove button once submitted", app.backend);
        let r = vendor.post(&format!("{item}/evidence/{kept}/remove"), &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{}: the item with the reason", app.backend);
        assert!(r.body.contains("id=\"error-summary\""), "{}", app.backend);
        assert_eq!(app.store.evidence_for(sys, 1, 4).await.unwrap().len(), 1, "{}: kept", app.backend);
        app.close().await;
    }
}

/// A file replaced while the answer may change: the new one in and the
/// old one out in one step, each with its history line and audit event;
/// a refused new file leaves the old one in place; only a file of the same
/// answer can be replaced (not another item's, not another system's).
#[tokio::test]
async fn evidence_is_replaced_in_one_step_and_a_refused_replacement_leaves_the_old_file() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let pdf = b"%PDF-1.4\n".to_vec();
        assert_eq!(vendor.upload(sys, 4, "手順書_旧版.pdf", pdf.clone()).await.status, StatusCode::SEE_OTHER);
        assert_eq!(vendor.upload(sys, 5, "設定書.pdf", pdf.clone()).await.status, StatusCode::SEE_OTHER);
        let old = app.store.evidence_for(sys, 1, 4).await.unwrap()[0].id;
        let other_item = app.store.evidence_for(sys, 1, 5).await.unwrap()[0].id;
        let item = format!("/systems/{sys}/items/4");
        let page = vendor.get(&item).await.body;
        assert!(page.contains(&format!("<option value=\"{old}\">手順書_旧版.pdf</option>")), "{}", app.backend);

        let replace = |name: &'static str, bytes: Vec<u8>, replaces: String| {
            let vendor = &vendor;
            let item = item.clone();
            async move {
                vendor.get(&item).await;
                let form = reqwest::multipart::Form::new()
                    .text("csrf_token", vendor.token())
                    .text("replaces", replaces)
                    .part("file", reqwest::multipart::Part::bytes(bytes).file_name(name));
                vendor.post_multipart(&format!("{item}/evidence"), form).await
            }
        };
        // A program in place of the old file: refused, the old one stays.
        let r = replace("手順書.exe", b"MZ\x90\x00".to_vec(), old.to_string()).await;
        assert_eq!(r.status, StatusCode::OK, "{}: the form again", app.backend);
        let names = |files: Vec<mamori_store::evidence::Evidence>| -> Vec<String> {
            files.into_iter().map(|e| e.original_name).collect()
        };
        assert_eq!(names(app.store.evidence_for(sys, 1, 4).await.unwrap()), ["手順書_旧版.pdf"], "{}", app.backend);
        // Another system's file (another company's, same item number).
        let dept = app.store.system(sys).await.unwrap().unwrap().input.department_id;
        let other_sys = crate::checklist::system(&app, dept, None, "他社のシステム").await;
        let theirs = mamori_store::evidence::NewEvidence {
            number: 4,
            original_name: "他社の手順書.pdf",
            content_type: "application/pdf",
            sha256: &"1".repeat(64),
            expires_on: None,
            content: b"%PDF-1.4\n",
            replaces: None,
            by: None,
        };
        let other_system = app.store.add_evidence(&app.ctx(), other_sys, &theirs).await.unwrap();
        // Another item's file, another system's, a made-up id, a word: nothing changes.
        for bad in [other_item.to_string(), other_system.to_string(), "999999".into(), "abc".into()] {
            let r = replace("手順書.pdf", pdf.clone(), bad.clone()).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{}: {bad}", app.backend);
        }
        assert_eq!(names(app.store.evidence_for(sys, 1, 4).await.unwrap()), ["手順書_旧版.pdf"], "{}", app.backend);
        assert_eq!(names(app.store.evidence_for(sys, 1, 5).await.unwrap()), ["設定書.pdf"], "{}", app.backend);
        assert_eq!(
            names(app.store.evidence_for(other_sys, 1, 4).await.unwrap()),
            ["他社の手順書.pdf"],
            "{}",
            app.backend
        );

        // The new edition replaces the old.
        let before = app.store.audit_recent(1).await.unwrap()[0].record.seq;
        let r = replace("手順書_新版.pdf", pdf.clone(), old.to_string()).await;
        assert_eq!(r.location(), item, "{}", app.backend);
        assert_eq!(names(app.store.evidence_for(sys, 1, 4).await.unwrap()), ["手順書_新版.pdf"], "{}", app.backend);
        assert!(app.store.evidence(old).await.unwrap().is_none(), "{}", app.backend);
        let mut events: Vec<String> = app
            .store
            .audit_recent(10)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.record.seq > before)
            .map(|e| e.record.action)
            .collect();
        events.reverse();
        assert_eq!(events, ["evidence.removed", "evidence.uploaded"], "{}", app.backend);
        let history = vendor.get(&format!("/systems/{sys}/history")).await.body;
        assert!(history.contains("手順書_旧版.pdf") && history.contains("手順書_新版.pdf"), "{}", app.backend);
        app.close().await;
    }
}

/// PostgreSQL: a new round is being started (another instance holds the
/// system's row) when the vendor removes a file. The request read the file
/// of the old round, waited for the lock, then deleted it: the approved
/// round lost its evidence. It now finds the file no longer the round's and
/// removes nothing. (SQLite runs one write at a time: no such interleaving.)
#[tokio::test]
async fn a_file_removed_while_a_new_round_starts_is_left_to_the_round_it_belongs_to() {
    let app = App::spawn("postgres", Options::default()).await;
    let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
    assert_eq!(vendor.upload(sys, 4, "手順書.pdf", b"%PDF-1.4\n".to_vec()).await.status, StatusCode::SEE_OTHER);
    let file = app.store.evidence_for(sys, 1, 4).await.unwrap()[0].id;
    let item = format!("/systems/{sys}/items/4");
    vendor.get(&item).await;
    let url = app.pg_url().expect("the PostgreSQL leg").to_owned();
    let round =
        mamori_testkit::OpenTx::begin(&url, &format!("UPDATE system SET round = round + 1 WHERE id = {sys}")).await;
    let path = format!("{item}/evidence/{file}/remove");
    let removing = tokio::spawn(async move { vendor.post(&path, &[]).await.status });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!removing.is_finished(), "the request waits for the system's lock");
    round.commit().await;
    assert_eq!(removing.await.unwrap(), StatusCode::NOT_FOUND);
    assert!(app.store.evidence(file).await.unwrap().is_some(), "the first round's file is kept");
    app.close().await;
}

/// A vendor (or whoever holds its account) fills the server's disk by
/// uploading file after file: nothing bounded what one organisation
/// stored. Its evidence and its library now stay within its quota, also
/// when ten files are sent at once (exactly as many land as fit); a file
/// beyond it is refused with a message and recorded; removing a file
/// makes room; another organisation's room is its own; and one answer
/// holds at most fifty files.
#[tokio::test]
async fn an_organisation_s_files_stay_within_its_quota_even_sent_at_once_and_an_answer_holds_at_most_fifty() {
    let opts = Options { evidence_quota_bytes: Some(1_000_000), ..Options::unpaced() };
    for app in App::each(opts).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let org = app.store.system(sys).await.unwrap().unwrap().input.vendor_id.unwrap();
        let dept = app.store.system(sys).await.unwrap().unwrap().input.department_id;
        let second = crate::checklist::system(&app, dept, Some(org), "電子申請システム").await;
        let text = |k: usize, size: usize| format!("証跡 {k:02}\n{}", "a".repeat(size)).into_bytes();
        let r = vendor.upload(sys, 20, "first.txt", text(0, 90_000)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let first = app.store.evidence_for(sys, 1, 20).await.unwrap()[0].id;

        // Nine files of 300 kB at once, to two systems and the library
        // (which locks no system): with 90 kB held, three fit in 1 MB.
        let sent: Vec<_> = (1..=9u32)
            .map(|n| {
                let (c, bytes) = (vendor.clone(), text(n as usize, 300_000));
                tokio::spawn(async move {
                    match n % 3 {
                        0 => c.upload(sys, n, &format!("big-{n}.txt"), bytes).await,
                        1 => c.upload(second, n, &format!("big-{n}.txt"), bytes).await,
                        _ => {
                            let title = format!("資料 {n}");
                            crate::library::post_document(&c, "/library", Some(&title), "big.txt", &bytes, "").await
                        }
                    }
                })
            })
            .collect();
        let mut landed = 0;
        for t in sent {
            let r = t.await.unwrap();
            if r.status == StatusCode::SEE_OTHER {
                landed += 1;
            } else {
                assert!(r.body.contains("組織ごとに保存できる容量"), "{}: {}", app.backend, r.body);
            }
        }
        let files = async |sys: i64| app.store.evidence_of_round(sys, 1).await.unwrap();
        let held = files(sys).await.len() + files(second).await.len() + app.store.documents(org).await.unwrap().len();
        assert_eq!((landed, held), (3, 4), "{}: three of 300 kB fit beside the first", app.backend);
        let used = app.store.stored_by(org).await.unwrap();
        assert!((990_000..=1_000_000).contains(&used), "{}: {used}", app.backend);
        let events = app.store.audit_recent(200).await.unwrap();
        let over = |action: &str| {
            events.iter().filter(|e| e.record.action == action && e.record.changes.contains("over_quota")).count()
        };
        assert_eq!(over("evidence.rejected") + over("document.rejected"), 6, "{}: each refusal recorded", app.backend);

        // Whatever still fits, fits; the rest is refused.
        let r = crate::library::post_document(&vendor, "/library", Some("手順書"), "a.txt", &[b'x'; 20_000], "").await;
        assert!(r.body.contains("組織ごとに保存できる容量"), "{}: {}", app.backend, r.body);
        let room = (1_000_000 - used) as usize;
        let r =
            crate::library::post_document(&vendor, "/library", Some("手順書"), "a.txt", &vec![b'x'; room], "").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        assert_eq!(app.store.stored_by(org).await.unwrap(), 1_000_000, "{}", app.backend);
        let library = vendor.get("/library").await.body;
        assert!(library.contains("保存している容量: 1.0 MB (上限 1.0 MB"), "{}: the library says so", app.backend);

        // Another organisation has room of its own.
        let b = app.org("ベンダーB", OrgKind::Vendor).await;
        let other_sys = crate::checklist::system(&app, dept, Some(b), "財務会計システム").await;
        let (other, _) = app.signed_in("vendor-b", Role::Vendor, Some(b)).await;
        let r = other.upload(other_sys, 1, "b.txt", text(0, 300_000)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);

        // Removing a file makes room again.
        let page = format!("/systems/{sys}/items/20");
        vendor.get(&page).await;
        let r = vendor.post(&format!("{page}/evidence/{first}/remove"), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let r = vendor.upload(sys, 20, "again.txt", text(0, 80_000)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);

        // One answer holds fifty files; the fifty-first is refused.
        app.store.set_organisation_quota(u64::MAX);
        let on_12 = async |k: usize| vendor.upload(sys, 12, &format!("小-{k}.txt"), text(k, 10)).await;
        for k in 0..50 {
            assert_eq!(on_12(k).await.status, StatusCode::SEE_OTHER, "{}: file {k}", app.backend);
        }
        let r = on_12(50).await;
        assert!(r.body.contains("登録できるのは 50 件までです"), "{}: {}", app.backend, r.body);
        assert_eq!(app.store.evidence_for(sys, 1, 12).await.unwrap().len(), 50, "{}", app.backend);
        app.close().await;
    }
}

/// A new round carries each file into it as a copy (stored again): the
/// copy keeps its organisation and counts toward its quota, and removing
/// it in the new round gives that room back.
#[tokio::test]
async fn a_file_carried_into_a_new_round_counts_toward_its_organisation_s_quota_as_the_copy_it_is() {
    for app in App::each(Options::default()).await {
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let org = app.store.system(sys).await.unwrap().unwrap().input.vendor_id.unwrap();
        let bytes = format!("手順書\n{}", "a".repeat(10_000)).into_bytes();
        let size = bytes.len() as u64;
        assert_eq!(vendor.upload(sys, 4, "手順書.txt", bytes).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        assert_eq!(app.store.stored_by(org).await.unwrap(), size, "{}", app.backend);
        crate::library::approve_round(&app, sys, 1).await;
        app.store.start_round(&app.ctx(), sys, None).await.unwrap();
        assert_eq!(app.store.stored_by(org).await.unwrap(), 2 * size, "{}: the copy counts", app.backend);
        let carried = app.store.evidence_for(sys, 2, 4).await.unwrap()[0].id;
        let page = format!("/systems/{sys}/items/4");
        vendor.get(&page).await;
        let r = vendor.post(&format!("{page}/evidence/{carried}/remove"), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        assert_eq!(app.store.stored_by(org).await.unwrap(), size, "{}: its room given back", app.backend);
        app.close().await;
    }
}

/// An uploaded file's type (a zip's directory read up to three times) and
/// its hash, 20 MB at most, were taken on a request worker, as was an
/// imported catalog (a workbook of 10 MB): each is now read on the blocking
/// pool (`mamori_app::off_the_workers`), and its answer is the same. The
/// workbooks downloaded (the filled checklist, the one to fill in) were
/// assembled on a request worker, any number at once: made there too.
#[tokio::test]
async fn evidence_and_catalog_uploads_and_workbook_and_csv_downloads_are_done_off_the_request_workers() {
    use mamori_app::runs_off_the_workers;
    let app = App::spawn("sqlite", Options::default()).await;
    let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
    let before = runs_off_the_workers();
    let r = vendor.upload(sys, 4, "手順書.pdf", b"%PDF-1.7 steps".to_vec()).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(runs_off_the_workers(), before + 1, "the file read off the workers");
    let r = vendor.upload(sys, 4, "setup.zip", b"PK\x03\x04 not a zip".to_vec()).await;
    assert_eq!(r.status, StatusCode::OK, "the form again");
    assert!(r.body.contains("登録できる種類のファイルではありません"), "{}", r.body);
    assert_eq!(runs_off_the_workers(), before + 2);

    let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    let catalog = app.store.catalog_document(app.store.catalog_versions().await.unwrap()[0].id).await.unwrap().unwrap();
    let r = officer.post_file("/catalog/import", "/catalog/import", "c.yaml", catalog.to_yaml().into_bytes()).await;
    assert!(r.body.contains("79"), "the preview: {}", r.body);
    assert_eq!(runs_off_the_workers(), before + 3, "the catalog read off the workers");
    // The workbooks downloaded are assembled there too.
    for (path, count) in [("report.xlsx", 4), ("answers.xlsx", 5), ("inventory.xlsx", 6), ("yearly.xlsx", 7)] {
        let r = vendor.http.get(format!("{}/systems/{sys}/{path}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert!(r.bytes().await.unwrap().starts_with(b"PK"), "{path}");
        assert_eq!(runs_off_the_workers(), before + count, "{path} made off the workers");
    }
    let r = vendor.http.get(format!("{}/systems/{sys}/report.csv", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().await.unwrap().starts_with("\u{feff}".as_bytes()), "the CSV, with its BOM");
    assert_eq!(runs_off_the_workers(), before + 8, "the CSV encoded off the workers");
    app.close().await;
}

/// A multipart form sent as a browser would, its body cut after `cut`
/// (no closing boundary): the parts are (field, file name, value).
async fn post_cut(
    c: &crate::harness::Client,
    path: &str,
    parts: &[(&str, Option<&str>, &str)],
    cut: &str,
) -> crate::harness::Res {
    let mut body = String::new();
    for (name, file, value) in parts {
        let file = file.map(|f| format!("; filename=\"{f}\"\r\nContent-Type: text/plain")).unwrap_or_default();
        body.push_str(&format!(
            "--B0und4ry\r\nContent-Disposition: form-data; name=\"{name}\"{file}\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(cut);
    let r = c
        .http
        .post(format!("{}{path}", c.base))
        .header("origin", &c.base)
        .header("content-type", "multipart/form-data; boundary=B0und4ry")
        .body(body)
        .send()
        .await
        .unwrap();
    c.finish(r).await
}

/// A form broken off on its way (the connection lost mid-file, or after
/// the file and before its date) was taken as far as it came: cut in the
/// file, it was refused as too large and recorded as such
/// (`evidence.rejected`, `too_large`); cut after the file, the file was
/// stored without the date the form gave it. Each is now a bad request,
/// with nothing stored and nothing recorded, for an answer's evidence and
/// for a library document alike; the same forms whole are taken.
#[tokio::test]
async fn an_upload_form_broken_off_is_a_bad_request_that_stores_and_records_nothing() {
    for app in App::each(Options::default()).await {
        let backend = app.backend;
        let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
        let item = format!("/systems/{sys}/items/4");
        vendor.get(&item).await;
        let token = vendor.token();
        let evidence = format!("{item}/evidence");
        let in_the_file = [("csrf_token", None, token.as_str())];
        let r = post_cut(
            &vendor,
            &evidence,
            &in_the_file,
            "--B0und4ry\r\nContent-Disposition: form-data; name=\"file\"; filename=\"memo.txt\"\r\n\r\nhello wor",
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{backend}: cut in the file: {}", r.body);
        let after_the_file = [("csrf_token", None, token.as_str()), ("file", Some("memo.txt"), "hello world")];
        let date_cut = "--B0und4ry\r\nContent-Disposition: form-data; name=\"expires_on\"\r\n\r\n2027-";
        let r = post_cut(&vendor, &evidence, &after_the_file, date_cut).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{backend}: cut after the file: {}", r.body);
        assert!(!r.body.contains("hello"), "{backend}");
        assert!(app.store.evidence_for(sys, 1, 4).await.unwrap().is_empty(), "{backend}: nothing stored");
        assert!(rejections(&app).await.is_empty(), "{backend}: nothing recorded");

        vendor.get("/library").await;
        let token = vendor.token();
        let library =
            [("csrf_token", None, token.as_str()), ("title", None, "運用手順書"), ("file", Some("manual.txt"), "手順")];
        let r = post_cut(&vendor, "/library", &library, date_cut).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{backend}: library, cut after the file: {}", r.body);
        let org = app.store.account_by_login("vendor-a").await.unwrap().unwrap().organisation_id.unwrap();
        assert!(app.store.documents(org).await.unwrap().is_empty(), "{backend}: no document");

        // Whole, the same forms are taken.
        let whole =
            "--B0und4ry\r\nContent-Disposition: form-data; name=\"expires_on\"\r\n\r\n2027-03-31\r\n--B0und4ry--\r\n";
        let r = post_cut(&vendor, &evidence, &after_the_file, whole).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{backend}: {}", r.body);
        let files = app.store.evidence_for(sys, 1, 4).await.unwrap();
        assert_eq!(files.len(), 1, "{backend}");
        assert_eq!(files[0].expires_on.as_deref(), Some("2027-03-31"), "{backend}");
        let r = post_cut(&vendor, "/library", &library, whole).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{backend}: {}", r.body);
        assert_eq!(app.store.documents(org).await.unwrap().len(), 1, "{backend}");
        app.close().await;
    }
}

/// A vendor sends sixteen files of 19 MB at once. Each form was read whole
/// into memory as it came, with the copies its checks make: all sixteen at
/// once. Now one person's forms are read two at a time, the others waiting
/// unread; every one is answered (refused with why: the bytes are no PDF),
/// and the test process's peak (the server's, with one shared copy of the
/// file on the client's side) grows by less than ten files' worth (sixteen
/// held at once: 420 MB).
#[tokio::test]
async fn sixteen_19_mb_uploads_at_once_by_one_person_are_read_two_at_a_time_in_bounded_memory() {
    const MB: usize = 1024 * 1024;
    let peak = || -> usize {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap() * 1024
    };
    let app = App::spawn("sqlite", Options::default()).await;
    let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
    let page = format!("/systems/{sys}/items/4");
    vendor.get(&page).await;
    let data: &'static [u8] = Vec::leak(vec![0u8; 19 * MB]);
    let before = peak();
    let uploads = (0..16).map(|k| {
        let (vendor, page) = (&vendor, &page);
        async move {
            let file = reqwest::multipart::Part::stream_with_length(reqwest::Body::from(data), data.len() as u64);
            let form = reqwest::multipart::Form::new()
                .text("csrf_token", vendor.token())
                .part("file", file.file_name(format!("資料{k}.pdf")));
            vendor.post_multipart(&format!("{page}/evidence"), form).await
        }
    });
    for r in futures_util::future::join_all(uploads).await {
        assert_eq!(r.status, StatusCode::OK, "the form again, with why: {}", r.body);
        assert!(r.body.contains("field-error"), "{}", r.body);
    }
    let grew = peak().saturating_sub(before);
    println!("peak grew by {} MB", grew / MB);
    assert_eq!(mamori_web::uploads::uploads_peak(), mamori_web::uploads::UPLOADS_PER_PERSON, "two at a time");
    // About 35 MB a form held: sixteen at once grew it by 420 MB; two at a
    // time, 72 MB alone and 119 MB beside the whole suite (the allocator's
    // arenas, one a thread, keep what they freed).
    assert!(grew < 10 * 19 * MB, "the peak grew by {} MB", grew / MB);
    assert!(app.store.evidence_for(sys, 1, 4).await.unwrap().is_empty(), "nothing stored");
    app.close().await;
}

/// An upload form posted by `c` to `path` whose token and the start of its
/// file are sent, and the rest never: it holds its turn until the task is
/// ended (its connection closed).
fn an_upload_held_open(c: &crate::harness::Client, path: &str) -> tokio::task::JoinHandle<()> {
    use futures_util::StreamExt;
    let head = format!(
        "--held\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{}\r\n--held\r\n\
         Content-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n%PDF-1.4\n",
        c.token()
    );
    let head: &'static [u8] = head.leak().as_bytes();
    let frames = futures_util::stream::iter([Ok::<_, std::io::Error>(http_body::Frame::data(head))])
        .chain(futures_util::stream::pending());
    let body = reqwest::Body::wrap(http_body_util::StreamBody::new(frames));
    let r = c.http.post(format!("{}{path}", c.base)).header("origin", &c.base);
    let r = r.header("content-type", "multipart/form-data; boundary=held").body(body);
    tokio::spawn(async move {
        let _ = r.send().await;
    })
}

/// Waits until `n` upload forms are held.
async fn until_uploads(n: usize) {
    for _ in 0..200 {
        if mamori_web::uploads::uploads_now() == n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(mamori_web::uploads::uploads_now(), n, "upload forms held");
}

/// One company's people read four upload forms at once together, and
/// every organisation's people six: four vendors' people, each posting two
/// forms and trickling their bodies, held all eight turns again and again,
/// and the office's catalog import waited behind them. Two of a vendor's
/// people hold two forms each: a third's waits. A department's person
/// holds two more: another of the department's waits (the department holds
/// two), while the office's import is read and answered; each waiting one
/// is read once one of the held is let go.
#[tokio::test]
async fn a_company_s_people_hold_four_upload_forms_and_the_parties_six_and_the_office_s_import_is_read() {
    use mamori_web::uploads::{uploads_now, UPLOADS_FOR_PARTIES, UPLOADS_PER_ORGANISATION};
    let app = App::spawn("sqlite", unhurried()).await;
    let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
    let org = app.store.account_by_login("vendor-a").await.unwrap().unwrap().organisation_id;
    let dept = Some(app.store.system(sys).await.unwrap().unwrap().input.department_id);
    let (page, path) = (format!("/systems/{sys}"), format!("/systems/{sys}/answers.xlsx"));
    let second = app.signed_in("vendor-a2", Role::Vendor, org).await.0;
    let third = app.signed_in("vendor-a3", Role::Vendor, org).await.0;
    let clerk = app.signed_in("soumu1", Role::Department, dept).await.0;
    let other_clerk = app.signed_in("soumu2", Role::Department, dept).await.0;
    let mut held = Vec::new();
    let mut hold = async |people: &[&crate::harness::Client], want: usize| {
        for person in people {
            person.get(&page).await;
            held.extend([an_upload_held_open(person, &path), an_upload_held_open(person, &path)]);
        }
        until_uploads(want).await;
    };
    let waiting = |c: &crate::harness::Client| {
        let (c, page, path) = (c.clone(), page.clone(), path.clone());
        tokio::spawn(async move { c.post_file(&page, &path, "answers.xlsx", b"not a workbook".to_vec()).await })
    };
    hold(&[&vendor, &second], UPLOADS_PER_ORGANISATION).await;
    let company_s_fifth = waiting(&third);
    hold(&[&clerk], UPLOADS_FOR_PARTIES).await;
    let parties_seventh = waiting(&other_clerk);
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(!company_s_fifth.is_finished(), "the company's fifth waits");
    assert!(!parties_seventh.is_finished(), "the parties' seventh waits");
    assert_eq!(uploads_now(), UPLOADS_FOR_PARTIES, "only the parties' six are read");
    let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    let r = officer.post_file("/catalog/import", "/catalog/import", "x.bin", vec![0xff, 0xfe, 0]).await;
    assert!(r.body.contains("UTF-8 の YAML か Excel"), "the office's import is read and answered: {}", r.body);
    // One of the vendor's and one of the department's let go: both are read.
    held.remove(0).abort();
    held.pop().unwrap().abort();
    for waiter in [company_s_fifth, parties_seventh] {
        let r = waiter.await.unwrap();
        assert!(r.body.contains("class=\"error-message\""), "read once the held are let go: {}", r.body);
    }
    for h in held {
        h.abort();
    }
    app.close().await;
}

/// Each stored file sent is read whole, decrypted and held until its last
/// byte is written, and a vendor could open hundreds of downloads of a
/// 19 MB file at once, reading none (all held). One person now holds two
/// at once: with two held open unread, a third waits (not answered within a
/// second), the office's download is served meanwhile, and once one of the
/// two is let go the third is sent, the whole file.
#[tokio::test]
async fn a_person_holds_two_stored_files_at_once_a_third_waits_for_one_of_them_and_others_are_served() {
    const MB: usize = 1024 * 1024;
    let app = App::spawn("sqlite", unhurried()).await;
    let (sys, vendor) = supplied_system(&app, "文書管理システム").await;
    let mut pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\n".to_vec();
    pdf.resize(19 * MB, b' ');
    pdf.extend_from_slice(b"\ntrailer <<>>\n%%EOF\n");
    let r = vendor.upload(sys, 4, "大きな報告書.pdf", pdf.clone()).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let file = app.store.evidence_for(sys, 1, 4).await.unwrap()[0].id;
    let url = format!("{}/evidence/{file}", app.base);
    // Two held open: their headers read, their bodies not.
    let mut held = Vec::new();
    for _ in 0..2 {
        let r = vendor.http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        held.push(r);
    }
    let third = a_download_that_waits(&vendor.http, &url, "a third for the same person waits").await;
    assert_eq!(mamori_web::sending::sending_now(), 2, "without a turn: only the two are held");
    let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    let r = officer.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "another person is served");
    assert_eq!(r.bytes().await.unwrap().len(), pdf.len());
    held.pop();
    assert_eq!(sent(third).await, pdf, "sent whole once one of the two is let go");
    assert!(mamori_web::sending::sending_peak() >= 3, "two held and the office's");
    app.close().await;
}

/// A system of ベンダーA's with a 19 MB file stored for No.4, its vendor
/// signed in: (system, vendor, the file, where it is downloaded).
async fn a_stored_19_mb_file(app: &App) -> (i64, crate::harness::Client, Vec<u8>, String) {
    let (sys, vendor) = supplied_system(app, "文書管理システム").await;
    let mut pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\n".to_vec();
    pdf.resize(19 * 1024 * 1024, b' ');
    let r = vendor.upload(sys, 4, "大きな報告書.pdf", pdf.clone()).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let file = app.store.evidence_for(sys, 1, 4).await.unwrap()[0].id;
    let url = format!("{}/evidence/{file}", app.base);
    (sys, vendor, pdf, url)
}

/// A download of `url` started now, still waiting a second later (`why`):
/// its bytes, once sent.
async fn a_download_that_waits(http: &reqwest::Client, url: &str, why: &str) -> tokio::task::JoinHandle<Vec<u8>> {
    let (client, to) = (http.clone(), url.to_owned());
    let waiting = tokio::spawn(async move { client.get(&to).send().await.unwrap().bytes().await.unwrap().to_vec() });
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(!waiting.is_finished(), "{why}");
    waiting
}

/// Downloads of `url` opened by each of `people`, as many as a person may
/// hold at once, answered and left unread.
async fn a_person_s_share_each(people: &[&crate::harness::Client], url: &str) -> Vec<reqwest::Response> {
    let mut held = Vec::new();
    for person in people {
        for _ in 0..mamori_web::sending::SENDING_PER_PERSON {
            let r = person.http.get(url).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            held.push(r);
        }
    }
    held
}

/// The bytes of a download that waited, within 20 seconds.
async fn sent(waiting: tokio::task::JoinHandle<Vec<u8>>) -> Vec<u8> {
    tokio::time::timeout(std::time::Duration::from_secs(20), waiting).await.unwrap().unwrap()
}

/// Downloads held open and unread for as long as a slow machine takes to
/// open them all: the server closes a connection whose client reads
/// nothing for the request's time (30 s), and under load that gave a turn
/// back before the test looked.
fn unhurried() -> Options {
    Options { request_timeout: Some(std::time::Duration::from_secs(600)), ..Options::default() }
}

/// A person's requests are worked on six at a time, each until its
/// response is sent: one person, or a script holding their session, asked
/// for a large page (a round's history, megabytes) thirty times at once and
/// the server built and held thirty copies. Here six downloads of a 19 MB
/// file are held open and unread by one person (two sending, four waiting
/// for their turn to send): the person's seventh request, a page, waits;
/// another person's page is served; once a download is let go, the seventh
/// is answered.
#[tokio::test]
async fn a_person_s_requests_are_worked_on_six_at_a_time_until_sent_a_seventh_waits_and_others_are_served() {
    use mamori_web::in_flight::PER_PERSON;
    let app = App::spawn("sqlite", unhurried()).await;
    let (sys, vendor, _, url) = a_stored_19_mb_file(&app).await;
    let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    let opened: Vec<_> = (0..PER_PERSON)
        .map(|_| {
            let (client, to) = (vendor.http.clone(), url.clone());
            tokio::spawn(async move { client.get(&to).send().await.unwrap() })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let (client, page) = (vendor.http.clone(), format!("{}/systems/{sys}", app.base));
    let seventh = tokio::spawn(async move { client.get(&page).send().await.unwrap().status() });
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(!seventh.is_finished(), "the person's seventh waits");
    assert_eq!(officer.get(&format!("/systems/{sys}")).await.status, StatusCode::OK, "another person is served");
    // The two being sent have answered; let one go (its turns come back).
    let mut answered = Vec::new();
    for o in opened {
        if o.is_finished() {
            answered.push(o.await.unwrap());
        }
    }
    assert_eq!(answered.len(), 2, "two sent at once, four waiting to be");
    drop(answered.pop());
    let status = tokio::time::timeout(std::time::Duration::from_secs(20), seventh).await.unwrap().unwrap();
    assert_eq!(status, StatusCode::OK, "answered once one of the six is let go");
    app.close().await;
}

/// Eight stored files are held at once for everyone: two of the vendor's
/// people and two of the office's hold two each, open and unread; a fifth
/// person's download waits for a turn (not answered within a second), and
/// is sent whole once one of the eight is let go.
#[tokio::test]
async fn stored_files_are_held_eight_at_a_time_and_a_ninth_waits_for_a_turn() {
    use mamori_web::sending::{sending_peak, SENDING_AT_ONCE};
    let app = App::spawn("sqlite", unhurried()).await;
    let (_, vendor, pdf, url) = a_stored_19_mb_file(&app).await;
    let org = app.store.account_by_login("vendor-a").await.unwrap().unwrap().organisation_id;
    let mut people = vec![vendor, app.signed_in("vendor-a2", Role::Vendor, org).await.0];
    for k in 1..=3 {
        people.push(app.signed_in(&format!("officer{k}"), Role::SecurityOfficer, None).await.0);
    }
    let mut held = a_person_s_share_each(&people[..4].iter().collect::<Vec<_>>(), &url).await;
    assert_eq!(held.len(), SENDING_AT_ONCE);
    let waiting = a_download_that_waits(&people[4].http, &url, "the ninth waits for a turn").await;
    assert_eq!(mamori_web::sending::sending_now(), SENDING_AT_ONCE, "without one: only the eight are held");
    held.pop();
    assert_eq!(sent(waiting).await.len(), pdf.len(), "sent whole once a turn is free");
    assert_eq!(sending_peak(), SENDING_AT_ONCE, "never more than eight");
    app.close().await;
}

/// One company's people hold four stored files at once together: four of
/// the vendor's people reading slowly held every turn for five minutes.
/// Two of them hold two each, open and unread; a third's download waits
/// (not answered within a second) while the office is served, and is sent
/// whole once one of the four is let go.
#[tokio::test]
async fn a_company_s_people_hold_four_stored_files_at_once_a_fifth_waits_and_the_office_is_served() {
    use mamori_web::sending::{sending_now, SENDING_PER_ORGANISATION};
    let app = App::spawn("sqlite", unhurried()).await;
    let (_, vendor, pdf, url) = a_stored_19_mb_file(&app).await;
    let org = app.store.account_by_login("vendor-a").await.unwrap().unwrap().organisation_id;
    let second = app.signed_in("vendor-a2", Role::Vendor, org).await.0;
    let third = app.signed_in("vendor-a3", Role::Vendor, org).await.0;
    let mut held = a_person_s_share_each(&[&vendor, &second], &url).await;
    assert_eq!(held.len(), SENDING_PER_ORGANISATION);
    let waiting = a_download_that_waits(&third.http, &url, "the company's fifth waits").await;
    assert_eq!(sending_now(), SENDING_PER_ORGANISATION, "without one: only the company's four are held");
    let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    let r = officer.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the office is served");
    assert_eq!(r.bytes().await.unwrap().len(), pdf.len());
    held.pop();
    assert_eq!(sent(waiting).await.len(), pdf.len(), "sent whole once one of the four is let go");
    app.close().await;
}

/// The people of every organisation together hold six stored files at
/// once, the office's two stay free: two companies' people (here a vendor's
/// and the department's) reading slowly held all eight for five minutes,
/// and the office's review waited. The vendor's two people and a
/// department person hold six, open and unread; another department
/// person's download waits (its department holds only two) while two of
/// the office are served, and is sent whole once one of the six is let go.
#[tokio::test]
async fn the_parties_people_hold_six_stored_files_at_once_a_seventh_waits_and_the_office_is_served() {
    use mamori_web::sending::{sending_now, SENDING_AT_ONCE, SENDING_FOR_PARTIES};
    let app = App::spawn("sqlite", unhurried()).await;
    let (sys, vendor, pdf, url) = a_stored_19_mb_file(&app).await;
    let org = app.store.account_by_login("vendor-a").await.unwrap().unwrap().organisation_id;
    let dept = Some(app.store.system(sys).await.unwrap().unwrap().input.department_id);
    let second = app.signed_in("vendor-a2", Role::Vendor, org).await.0;
    let clerk = app.signed_in("soumu1", Role::Department, dept).await.0;
    let other_clerk = app.signed_in("soumu2", Role::Department, dept).await.0;
    let mut held = a_person_s_share_each(&[&vendor, &second, &clerk], &url).await;
    assert_eq!(held.len(), SENDING_FOR_PARTIES);
    let waiting = a_download_that_waits(&other_clerk.http, &url, "the parties' seventh waits").await;
    assert_eq!(sending_now(), SENDING_FOR_PARTIES, "without one: only the parties' six are held");
    let mut office = Vec::new();
    for k in 1..=2 {
        let (officer, _) = app.signed_in(&format!("officer{k}"), Role::SecurityOfficer, None).await;
        let r = officer.http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "officer{k} is served");
        office.push(r);
    }
    assert_eq!(sending_now(), SENDING_AT_ONCE, "the office's two beside the six");
    for r in office {
        assert_eq!(r.bytes().await.unwrap().len(), pdf.len());
    }
    assert!(!waiting.is_finished(), "the office's turns are not the parties'");
    held.pop();
    assert_eq!(sent(waiting).await.len(), pdf.len(), "sent whole once one of the six is let go");
    app.close().await;
}
