//! Records reviewed like answers (the office approves or returns them, a
//! change sets them back to pending), the library documents behind them
//! readable only by those who see the system, and a received yearly report
//! keeping the inventory and the records as they stood when received.

use crate::checklist::system;
use crate::harness::{App, Client, Options, Res};
use crate::records::add;
use mamori_core::identity::{OrgKind, Role};
use mamori_core::jst::JST;
use mamori_core::records::{RecordKind, RecordReview};
use mamori_store::records::Editing;
use reqwest::StatusCode;

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

async fn upload(c: &Client, title: &str) -> Res {
    c.get("/library").await;
    let form = reqwest::multipart::Form::new()
        .text("csrf_token", c.token())
        .text("title", title.to_owned())
        .part("file", reqwest::multipart::Part::bytes(PDF.to_vec()).file_name("doc.pdf"))
        .text("expires_on", "");
    c.post_multipart("/library", form).await
}

/// The revision of record `id` a records page's review form names, and
/// the mark of the decision it bore, as a browser sends them back (empty
/// when the page has no form for it).
fn shown_revision(page: &str, id: i64) -> (String, String) {
    let Some(at) = page.find(&format!("/records/{id}/review\"")) else { return Default::default() };
    let form = &page[at..];
    (crate::harness::hidden_in(form, "revision"), crate::harness::hidden_in(form, "decided"))
}

/// Decides on record `id` from the records page, as shown then.
async fn review(c: &Client, sys: i64, id: i64, decision: &str, note: &str) -> Res {
    let page = c.get(&format!("/systems/{sys}/records")).await.body;
    let (revision, decided) = shown_revision(&page, id);
    let form = [("decision", decision), ("note", note), ("revision", &revision), ("decided", &decided)];
    c.post(&format!("/systems/{sys}/records/{id}/review"), &form).await
}

#[tokio::test]
async fn records_are_approved_or_returned_by_the_office_a_change_after_approval_is_pending_again_and_their_documents_reach_no_other_vendor(
) {
    for app in App::each(Options::default()).await {
        let crate::checklist::Cast { sys, vendor, other, v, x, d, o, .. } = crate::checklist::cast(&app).await;

        // The disposal certificate and a photograph, in the vendor's library;
        // another vendor's document cannot be attached.
        assert_eq!(upload(&v, "廃棄証明書").await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        assert_eq!(upload(&v, "廃棄時の写真").await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        assert_eq!(upload(&x, "他社の文書").await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let docs = |org| {
            let store = app.store.clone();
            async move { store.documents(org).await.unwrap().into_iter().map(|d| (d.title, d.id)).collect::<Vec<_>>() }
        };
        let mine = docs(vendor).await;
        let id_of = |title: &str| mine.iter().find(|(t, _)| t == title).unwrap().1.to_string();
        let (cert, photo) = (id_of("廃棄証明書"), id_of("廃棄時の写真"));
        let theirs = docs(other).await[0].1.to_string();
        let disposal = [("what", "サーバのハードディスク 4 台"), ("disposed_on", "2026-10-01"), ("method", "物理破壊")];
        let form = |docs: &[&str]| {
            let mut f: Vec<(&'static str, String)> = disposal.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
            f.extend(docs.iter().map(|d| ("document_id", (*d).to_owned())));
            f
        };
        let r = add(&v, sys, "disposal", &to_refs(&form(&[&cert, &theirs]))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", app.backend);
        assert!(r.body.contains("自組織のライブラリにありません"), "{}: {}", app.backend, r.body);
        assert!(app.store.records(sys).await.unwrap().is_empty(), "{}: nothing stored", app.backend);
        let r = add(&v, sys, "disposal", &to_refs(&form(&[&cert, &photo]))).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let rec = app.store.records(sys).await.unwrap().remove(0);
        assert_eq!((rec.review, rec.changed_after_approval), (RecordReview::Pending, false), "{}", app.backend);

        // Everyone who sees the system reads the documents; another vendor gets 404.
        let page = o.get(&format!("/systems/{sys}/records")).await.body;
        assert!(page.contains("確認待ち") && page.contains("廃棄証明書"), "{}", app.backend);
        let linked = app.store.record_documents(sys).await.unwrap();
        assert_eq!(linked.len(), 2, "{}", app.backend);
        for doc in &linked {
            let path = format!("/documents/{}", doc.revision_id);
            assert_eq!(o.get(&path).await.status, StatusCode::OK, "{}: the office", app.backend);
            assert_eq!(d.get(&path).await.status, StatusCode::OK, "{}: the department", app.backend);
            assert_eq!(x.get(&path).await.status, StatusCode::NOT_FOUND, "{}: another vendor", app.backend);
        }

        // Only the office reviews; returning needs a comment; neither vendor
        // nor department may decide.
        for c in [&v, &d, &x] {
            let r = review(c, sys, rec.id, "approve", "").await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", app.backend);
        }
        let r = review(&o, sys, rec.id, "return", "  ").await;
        assert_eq!(r.location(), format!("/systems/{sys}/records#record-{}", rec.id), "{}", app.backend);
        assert!(o.get(r.location()).await.body.contains("差し戻すときはコメントを書いてください"));
        assert_eq!(app.store.records(sys).await.unwrap()[0].review, RecordReview::Pending, "{}", app.backend);
        assert_eq!(
            review(&o, sys, rec.id, "return", "証明書の日付を確認してください").await.status,
            StatusCode::SEE_OTHER
        );
        let page = v.get(&format!("/systems/{sys}/records")).await.body;
        assert!(page.contains("差戻し") && page.contains("証明書の日付を確認してください"), "{}", app.backend);
        assert!(
            !page.contains(&format!("/records/{}/review", rec.id)),
            "{}: no review form for the vendor",
            app.backend
        );

        // The vendor corrects it: pending again; the office approves.
        let mut again = form(&[&cert, &photo]);
        again.push(("kind", "disposal".into()));
        let r = v.save_record(sys, rec.id, &to_refs(&again)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        assert_eq!(app.store.records(sys).await.unwrap()[0].review, RecordReview::Pending, "{}", app.backend);
        assert_eq!(review(&o, sys, rec.id, "approve", "").await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let approved = app.store.records(sys).await.unwrap().remove(0);
        assert_eq!((approved.review, approved.review_note.as_str()), (RecordReview::Approved, ""), "{}", app.backend);
        assert!(o.get(&format!("/systems/{sys}/records")).await.body.contains("承認済み"), "{}", app.backend);
        // A document behind an approved record stays in the library.
        v.get("/library").await;
        v.post(&format!("/library/{cert}/delete"), &[]).await;
        assert!(!app.store.document(cert.parse().unwrap()).await.unwrap().unwrap().deleted, "{}", app.backend);

        // The department changes it after approval: pending, and says so;
        // the vendor's documents stay attached.
        let mut changed: Vec<(&str, String)> = vec![("kind", "disposal".into())];
        changed.extend(disposal.iter().map(|(k, v)| (*k, (*v).to_owned())));
        changed[3].1 = "溶解".into();
        let r = d.save_record(sys, rec.id, &to_refs(&changed)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let after = app.store.records(sys).await.unwrap().remove(0);
        assert_eq!((after.review, after.changed_after_approval), (RecordReview::Pending, true), "{}", app.backend);
        assert_eq!(app.store.record_documents(sys).await.unwrap().len(), 2, "{}", app.backend);
        assert!(
            o.get(&format!("/systems/{sys}/records")).await.body.contains("承認後に変更されました"),
            "{}",
            app.backend
        );
        let events = app.store.audit_recent(50).await.unwrap();
        let reviewed: Vec<_> = events.iter().filter(|e| e.record.action == "record.reviewed").collect();
        assert_eq!(reviewed.len(), 2, "{}: one event per decision", app.backend);
        app.close().await;
    }
}

/// The office opens the records page; a vendor saves a record after that;
/// the office's approval, made on what it was shown, is refused with a
/// message and the record stays pending with the vendor's change. Shown
/// again, it is approved.
/// A keeper removed a record the office had approved, and it left the
/// review without a trace there (the audit log aside). A record approved
/// now, or before its last change, is removed by the security office only,
/// from the records page; the keeper is told so, and the record stays.
#[tokio::test]
async fn an_approved_record_is_removed_by_the_security_office_only() {
    for app in App::each(Options::default()).await {
        let crate::checklist::Cast { sys, v, o, vendor, .. } = crate::checklist::cast(&app).await;
        let kept_by_the_vendor = mamori_store::records::Keeper::vendor(vendor, &[]);
        let values = mamori_core::records::Values([("name".to_owned(), "保守窓口".to_owned())].into());
        let rid = app
            .store
            .save_record(&app.ctx(), sys, None, RecordKind::Contact, &values, kept_by_the_vendor)
            .await
            .unwrap();
        let r = review(&o, sys, rid, "approve", "").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let exists = async || app.store.records(sys).await.unwrap().iter().any(|r| r.id == rid);

        let remove = async |c: &Client| {
            c.get(&format!("/systems/{sys}/records")).await;
            c.post(&format!("/systems/{sys}/records/{rid}/remove"), &[]).await
        };
        let r = remove(&v).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let page = v.get(&format!("/systems/{sys}/records")).await.body;
        assert!(page.contains("情報セキュリティ担当だけが削除できます"), "{}: {page}", app.backend);
        assert!(exists().await, "{}: the approved record stays", app.backend);
        // Changed since the approval (pending again): still the office's.
        let edit = Editing { id: rid, seen: None };
        app.store
            .save_record(&app.ctx(), sys, Some(edit), RecordKind::Contact, &values, kept_by_the_vendor)
            .await
            .unwrap();
        remove(&v).await;
        assert!(exists().await, "{}: approved before its last change", app.backend);

        let page = o.get(&format!("/systems/{sys}/records")).await.body;
        assert!(page.contains(&format!("/records/{rid}/remove")), "{}: the office's button", app.backend);
        let r = remove(&o).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        assert!(!exists().await, "{}: removed by the office", app.backend);
        let ev = app.store.audit_recent(5).await.unwrap().into_iter().find(|e| e.record.action == "record.removed");
        assert_eq!(ev.map(|e| e.record.actor_login), Some("officer1".to_owned()), "{}", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn a_record_saved_after_the_office_opened_it_is_not_approved_unseen() {
    for app in App::each(Options::default()).await {
        let crate::checklist::Cast { sys, v, o, .. } = crate::checklist::cast(&app).await;
        let domain = [("domain", "docs.example.lg.jp"), ("expires", "2030-01-01"), ("retired", "no")];
        assert_eq!(add(&v, sys, "domain", &domain).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let rec = app.store.records(sys).await.unwrap().remove(0);
        let shown = o.get(&format!("/systems/{sys}/records")).await.body;
        let (seen, decided) = shown_revision(&shown, rec.id);
        assert_eq!(seen, rec.revision.to_string(), "{}", app.backend);
        assert!(shown.contains("2030-01-01"), "{}", app.backend);

        let changed =
            [("kind", "domain"), ("domain", "docs.example.lg.jp"), ("expires", "2026-12-31"), ("retired", "no")];
        let r = v.save_record(sys, rec.id, &changed).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);

        let form = [("decision", "approve"), ("note", ""), ("revision", seen.as_str()), ("decided", &decided)];
        let r = o.post(&format!("/systems/{sys}/records/{}/review", rec.id), &form).await;
        assert_eq!(r.location(), format!("/systems/{sys}/records#record-{}", rec.id), "{}", app.backend);
        let again = o.get(r.location()).await.body;
        assert!(again.contains("この記録は表示の後に変更されました"), "{}: {again}", app.backend);
        let after = app.store.records(sys).await.unwrap().remove(0);
        assert_eq!(after.review, RecordReview::Pending, "{}", app.backend);
        assert_eq!(after.values.get("expires"), "2026-12-31", "{}", app.backend);
        let reviewed = app.audit_actions().await.into_iter().filter(|a| a == "record.reviewed").count();
        assert_eq!(reviewed, 0, "{}: nothing decided", app.backend);

        assert_eq!(review(&o, sys, rec.id, "approve", "").await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let approved = app.store.records(sys).await.unwrap().remove(0);
        assert_eq!(approved.review, RecordReview::Approved, "{}", app.backend);
        assert_eq!(approved.revision, after.revision, "{}: the revision shown the second time", app.backend);
        app.close().await;
    }
}

/// officer1 has the records page open; officer2 returns the record with a
/// note. officer1's approval from the page open before replaced the return
/// and its note unseen; now it is refused as changed and the record stays
/// returned with officer2's note.
#[tokio::test]
async fn a_record_decided_by_another_officer_after_the_page_was_shown_is_not_decided_again_unseen() {
    for app in App::each(Options::default()).await {
        let crate::checklist::Cast { sys, v, o, .. } = crate::checklist::cast(&app).await;
        let (other, _) = app.signed_in("officer2", Role::SecurityOfficer, None).await;
        let domain = [("domain", "docs.example.lg.jp"), ("expires", "2030-01-01"), ("retired", "no")];
        assert_eq!(add(&v, sys, "domain", &domain).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let rec = app.store.records(sys).await.unwrap().remove(0);
        let (seen, decided) = shown_revision(&o.get(&format!("/systems/{sys}/records")).await.body, rec.id);

        let r = review(&other, sys, rec.id, "return", "更新日を確認してください").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let form = [("decision", "approve"), ("note", ""), ("revision", seen.as_str()), ("decided", &decided)];
        let r = o.post(&format!("/systems/{sys}/records/{}/review", rec.id), &form).await;
        let again = o.get(r.location()).await.body;
        assert!(again.contains("この記録は表示の後に変更されました"), "{}: {again}", app.backend);
        let after = app.store.records(sys).await.unwrap().remove(0);
        assert_eq!(after.review, RecordReview::Returned, "{}", app.backend);
        assert_eq!(after.review_note, "更新日を確認してください", "{}", app.backend);
        let reviewed = app.audit_actions().await.into_iter().filter(|a| a == "record.reviewed").count();
        assert_eq!(reviewed, 1, "{}: officer2's decision only", app.backend);
        app.close().await;
    }
}

fn to_refs<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn a_received_yearly_report_keeps_the_inventory_and_records_as_they_stood_when_the_office_received_it() {
    for app in App::each(Options::default()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let sys = system(&app, dept, Some(vendor), "文書管理システム").await;
        let ctx = app.ctx();
        let year = app.now().to_offset(JST).year();
        let component = |version: &str| {
            mamori_core::inventory::ComponentInput::parse(&mamori_core::inventory::ComponentFields {
                kind: "middleware",
                product: "nginx",
                version,
                ..Default::default()
            })
            .unwrap()
        };
        let cid = app.store.save_component(&ctx, sys, None, &component("1.24.0")).await.unwrap();
        let backup = |generations: &str| {
            mamori_core::records::parse(RecordKind::Backup, |f| {
                match f {
                    "frequency" => "毎日",
                    "generations" => generations,
                    _ => "",
                }
                .to_owned()
            })
            .unwrap()
        };
        let rid = app
            .store
            .save_record(&ctx, sys, None, RecordKind::Backup, &backup("7"), mamori_store::records::Keeper::CONSOLE)
            .await
            .unwrap();
        let seen = app.store.system(sys).await.unwrap().unwrap().revision;
        app.store.receive_yearly(&ctx, sys, year, None, seen).await.unwrap();

        // Into the next year: an upgrade, more generations, a new domain.
        let next = time::Date::from_calendar_date(year + 1, time::Month::January, 15).unwrap();
        let today = app.now().to_offset(JST).date();
        app.clock.advance(time::Duration::days((next - today).whole_days()));
        let ctx = app.ctx();
        app.store.save_component(&ctx, sys, Some(cid), &component("1.26.2")).await.unwrap();
        app.store
            .save_record(
                &ctx,
                sys,
                Some(Editing { id: rid, seen: None }),
                RecordKind::Backup,
                &backup("14"),
                mamori_store::records::Keeper::CONSOLE,
            )
            .await
            .unwrap();
        let domain = crate::checklist::domain_record();
        app.store
            .save_record(&ctx, sys, None, RecordKind::Domain, &domain, mamori_store::records::Keeper::CONSOLE)
            .await
            .unwrap();

        let (o, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let last = o.get(&format!("/systems/{sys}/yearly?year={year}")).await.body;
        let received = today.to_string();
        assert!(last.contains(&received), "{}: the day it was received is the day", app.backend);
        assert!(last.contains("1.24.0") && !last.contains("1.26.2"), "{}: the version that year", app.backend);
        assert!(last.contains("7 世代") && !last.contains("14 世代"), "{}: the record that year", app.backend);
        assert!(!last.contains("docs.example.lg.jp"), "{}: not yet kept then", app.backend);
        // This year's, not received yet, is made of what stands today.
        let this = o.get(&format!("/systems/{sys}/yearly?year={}", year + 1)).await.body;
        assert!(this.contains("1.26.2") && !this.contains("1.24.0"), "{}: as they stand today", app.backend);
        assert!(this.contains("14 世代") && this.contains("docs.example.lg.jp"), "{}", app.backend);
        // A removed component and record leave this year's report, not last year's.
        app.store.remove_component(&ctx, sys, cid).await.unwrap();
        app.store.remove_record(&ctx, sys, rid, Some(mamori_store::records::Keeper::CONSOLE)).await.unwrap();
        let this = o.get(&format!("/systems/{sys}/yearly?year={}", year + 1)).await.body;
        assert!(!this.contains("nginx") && !this.contains("世代"), "{}", app.backend);
        let last = o.get(&format!("/systems/{sys}/yearly?year={year}")).await.body;
        assert!(last.contains("1.24.0") && last.contains("7 世代"), "{}", app.backend);
        app.close().await;
    }
}
