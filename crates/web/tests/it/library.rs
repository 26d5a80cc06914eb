//! The organisation's library: a document uploaded once, linked to items
//! of several systems, carried into the next round without a copy,
//! superseded by revisions, never deleted from under an approved answer.

use crate::checklist::system;
use crate::harness::{App, Client, Options};
use mamori_core::checklist::{AnswerInput, Review};
use mamori_core::identity::{OrgKind, Role};
use reqwest::StatusCode;

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

pub(crate) async fn post_document(
    c: &Client,
    path: &str,
    title: Option<&str>,
    name: &str,
    bytes: &[u8],
    expires_on: &str,
) -> crate::harness::Res {
    c.get("/library").await;
    let mut form = reqwest::multipart::Form::new().text("csrf_token", c.token());
    if let Some(t) = title {
        form = form.text("title", t.to_owned());
    }
    form = form
        .part("file", reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_owned()))
        .text("expires_on", expires_on.to_owned());
    c.post_multipart(path, form).await
}

async fn link(c: &Client, sys: i64, n: u32, doc: i64) -> crate::harness::Res {
    c.get(&format!("/systems/{sys}/items/{n}")).await;
    c.post(&format!("/systems/{sys}/items/{n}/documents"), &[("document", &doc.to_string())]).await
}

/// Answers every applicable item, submits, approves all and finishes the
/// review, in the store.
pub(crate) async fn approve_round(app: &App, sys: i64, round: i64) {
    let ctx = app.ctx();
    let applicable: Vec<u32> = (1..=12).chain(15..=30).chain([79]).collect();
    for n in &applicable {
        let input = AnswerInput::done("実施");
        app.store.save_answer(&ctx, sys, *n, &input).await.unwrap();
    }
    app.store.submit_system(&ctx, sys).await.unwrap();
    for a in app.store.answers(sys, round).await.unwrap() {
        app.store.decide(&ctx, sys, a.number, &a.seen(), Review::Approved, "").await.unwrap();
    }
    app.store.finish_review(&ctx, sys).await.unwrap();
}

#[tokio::test]
async fn one_library_document_linked_to_three_items_of_two_systems_carries_into_the_next_round_without_a_copy() {
    for app in App::each(Options::default()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let other = app.org("ベンダーB", OrgKind::Vendor).await;
        let one = system(&app, dept, Some(vendor), "文書管理システム").await;
        let two = system(&app, dept, Some(vendor), "財務会計システム").await;
        let (v, _) = app.signed_in("vendor1", Role::Vendor, Some(vendor)).await;
        let (x, _) = app.signed_in("other1", Role::Vendor, Some(other)).await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;

        // Uploaded once; a program or a missing title is refused and nothing is stored.
        let r = post_document(&v, "/library", Some("ISMS認証書"), "a.exe", b"MZ\x90\x00program", "").await;
        assert_eq!(r.status, StatusCode::OK, "{}", app.backend);
        let r = post_document(&v, "/library", Some(" "), "isms.pdf", PDF, "").await;
        assert!(r.body.contains("文書名を入力してください"), "{}", app.backend);
        assert!(app.store.documents(vendor).await.unwrap().is_empty(), "{}: nothing stored", app.backend);
        // Expiring in ten days: the vendor's dashboard reminds it.
        let soon = (app.now().date() + time::Duration::days(10)).to_string();
        let r = post_document(&v, "/library", Some("ISMS認証書"), "isms.pdf", PDF, &soon).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let doc = app.store.documents(vendor).await.unwrap()[0].clone();
        assert!(v.get("/library").await.body.contains("ISMS認証書"));
        let board = v.get("/dashboard").await.body;
        let section = &board[board.find("id=\"library-expiring\"").expect("the reminder")..];
        assert!(section.contains("ISMS認証書") && section.contains(&soon), "{}", app.backend);
        assert!(!x.get("/dashboard").await.body.contains("ISMS認証書"), "{}: not another company's", app.backend);

        // Linked to three items of two systems (and to No.79 of the first,
        // as its disposal record).
        for (sys, n) in [(one, 1), (one, 2), (two, 1), (one, 79)] {
            let r = link(&v, sys, n, doc.id).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {sys} No.{n}: {}", app.backend, r.body);
        }
        let r = link(&v, one, 1, doc.id).await;
        assert!(r.body.contains("既にこの項目に添付されています"), "{}: not twice", app.backend);
        let r = v.post(&format!("/systems/{one}/items/3/documents"), &[("document", "x")]).await;
        assert!(r.body.contains("添付する文書を選択してください"), "{}: a bad choice is named", app.backend);
        assert!(app.store.document_links(one, 1).await.unwrap().iter().all(|l| l.number != 3));
        let item = officer.get(&format!("/systems/{one}/items/2")).await.body;
        let rev1 = doc.newest().id;
        assert!(item.contains(&format!("href=\"/documents/{rev1}\"")), "{}: the officer sees it", app.backend);
        assert_eq!(officer.get(&format!("/documents/{rev1}")).await.status, StatusCode::OK);
        // Another company reaches neither the document nor the library page, nor links it.
        assert_eq!(x.get(&format!("/documents/{rev1}")).await.status, StatusCode::NOT_FOUND);
        assert_eq!(x.get(&format!("/library/{}", doc.id)).await.status, StatusCode::NOT_FOUND);
        let x_sys = system(&app, dept, Some(other), "他社システム").await;
        let r = link(&x, x_sys, 1, doc.id).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}: another's document is as unknown", app.backend);
        assert!(app.store.document_links(x_sys, 1).await.unwrap().is_empty(), "{}", app.backend);

        // System one is approved and goes into its second round.
        approve_round(&app, one, 1).await;
        app.store.start_round(&app.ctx(), one, None).await.unwrap();
        let first = app.store.document_links(one, 1).await.unwrap();
        let second = app.store.document_links(one, 2).await.unwrap();
        assert_eq!(second.len(), 3, "{}: every link carried", app.backend);
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(
                (a.document_id, a.number, a.shows.id),
                (b.document_id, b.number, b.shows.id),
                "same stored revision"
            );
        }
        assert_eq!(app.store.document(doc.id).await.unwrap().unwrap().revisions.len(), 1, "no copy was made");

        // Linked to an approved answer: it cannot be deleted, only superseded.
        v.get(&format!("/library/{}", doc.id)).await;
        let r = v.post(&format!("/library/{}/delete", doc.id), &[]).await;
        assert!(r.body.contains("削除できません"), "{}: {}", app.backend, r.status);
        assert!(!app.store.document(doc.id).await.unwrap().unwrap().deleted);
        v.get(&format!("/library/{}", doc.id)).await;
        let r = post_document(&v, &format!("/library/{}/revisions", doc.id), None, "isms-2027.pdf", PDF, "2028-03-31")
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let shows =
            |links: Vec<mamori_store::library::DocLink>| links.iter().map(|l| l.shows.revision).collect::<Vec<_>>();
        assert_eq!(
            shows(app.store.document_links(one, 1).await.unwrap()),
            [1, 1, 1],
            "{}: the approved round keeps revision 1",
            app.backend
        );
        assert_eq!(
            shows(app.store.document_links(one, 2).await.unwrap()),
            [2, 2, 2],
            "{}: the open round follows",
            app.backend
        );
        assert_eq!(shows(app.store.document_links(two, 1).await.unwrap()), [2], "{}", app.backend);

        // Removing a link is audited and a change of the answer.
        let link_id = app.store.document_links(two, 1).await.unwrap()[0].id;
        v.get(&format!("/systems/{two}/items/1")).await;
        let r = v.post(&format!("/systems/{two}/items/1/documents/{link_id}/remove"), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        assert!(app.store.document_links(two, 1).await.unwrap().is_empty());
        let actions = app.audit_actions().await;
        for a in ["document.uploaded", "document.linked", "document.unlinked", "document.downloaded"] {
            assert!(actions.contains(&a.to_owned()), "{}: {a}", app.backend);
        }
        let audit = officer.get("/audit?target_type=document").await.body;
        assert!(audit.contains("<td>文書: ISMS認証書</td>"), "{}: named in the audit log", app.backend);
        let history = app.store.item_history(two, 1, 1).await.unwrap();
        assert!(history
            .iter()
            .any(|h| h.kind == mamori_core::checklist::HistoryKind::EvidenceRemoved && h.comment == "ISMS認証書"));

        // A library document is evidence for the phase gate too: No.79
        // approved with it attached (the link carried into the second
        // round), the system may be retired.
        approve_round(&app, one, 2).await;
        let s1 = app.store.system(one).await.unwrap().unwrap();
        let retired =
            mamori_store::systems::SystemInput { phase: mamori_core::checklist::Phase::Retired, ..s1.input.clone() };
        let refused = app.store.update_system(&app.ctx(), s1.id, &retired).await.unwrap_err();
        assert!(matches!(refused, mamori_store::StoreError::Refused(_)), "{}: no disposal record yet", app.backend);
        crate::checklist::retire(&app, one).await;
        assert_eq!(app.store.system(one).await.unwrap().unwrap().input.phase, retired.phase, "{}", app.backend);
        app.close().await;
    }
}

/// Hostile input in the library's fields: an overlong or control-character
/// title, a path for a file name, an empty file, a bad date. Each is named
/// and nothing is stored; a name is data, its last component only.
#[tokio::test]
async fn hostile_library_input_is_refused_with_a_message_and_a_path_is_only_a_name() {
    for app in App::each(Options::default()).await {
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let (v, _) = app.signed_in("vendor1", Role::Vendor, Some(vendor)).await;
        let long = "題".repeat(201);
        for (title, name, bytes, date, message) in [
            (long.as_str(), "a.pdf", PDF, "", "文書名を入力してください"),
            ("改行\u{7}あり", "a.pdf", PDF, "", "文書名を入力してください"),
            ("体制図", "a.pdf", b"".as_slice(), "", "ファイルを選択"),
            ("体制図", "a.pdf", PDF, "2027-02-30", "日付"),
        ] {
            let r = post_document(&v, "/library", Some(title), name, bytes, date).await;
            assert_eq!(r.status, StatusCode::OK, "{}: {message}", app.backend);
            assert!(r.body.contains(message), "{}: {message}: {}", app.backend, r.body.len());
        }
        assert!(app.store.documents(vendor).await.unwrap().is_empty(), "{}: nothing stored", app.backend);
        let r = post_document(&v, "/library", Some("<script>alert(1)</script>"), "../../etc/passwd.pdf", PDF, "").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let doc = app.store.documents(vendor).await.unwrap()[0].clone();
        assert_eq!(doc.newest().original_name, "passwd.pdf", "{}", app.backend);
        let page = v.get("/library").await.body;
        assert!(page.contains("alert(1)") && !page.contains("<script>alert"), "{}: escaped", app.backend);
        app.close().await;
    }
}

/// A vendor's document linked to an item of a ward system, the item
/// approved: the link keeps showing the revision approved. The vendor's
/// next revision (made, perhaps, for another customer) was downloadable by
/// anyone who sees the first system, by its number; now only a revision a
/// system they see shows is. Linked to a second system that follows the
/// newest, it is shown there, and downloadable.
#[tokio::test]
async fn a_revision_no_system_one_sees_shows_is_not_downloadable_by_its_number() {
    for app in App::each(Options::default()).await {
        let crate::checklist::Cast { sys: one, dept, vendor, v, d, .. } = crate::checklist::cast(&app).await;
        let doc = chart(&app, &v, vendor).await;
        assert_eq!(link(&v, one, 7, doc.id).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        approve_round(&app, one, 1).await;
        let r = post_document(&v, &format!("/library/{}/revisions", doc.id), None, "chart-b.pdf", PDF, "").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let revisions = app.store.document(doc.id).await.unwrap().unwrap().revisions;
        let (first, second) = (revisions[0].id, revisions[1].id);
        assert_eq!(app.store.document_links(one, 1).await.unwrap()[0].shows.id, first, "{}: pinned", app.backend);

        let get = async |c: &Client, rev: i64| c.get(&format!("/documents/{rev}")).await.status;
        assert_eq!(get(&d, first).await, StatusCode::OK, "{}: shown on the approved item", app.backend);
        assert_eq!(get(&d, second).await, StatusCode::NOT_FOUND, "{}: shown nowhere they look", app.backend);
        assert_eq!(get(&v, second).await, StatusCode::OK, "{}: the vendor's own", app.backend);

        let two = system(&app, dept, Some(vendor), "財務会計システム").await;
        assert_eq!(link(&v, two, 7, doc.id).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        assert_eq!(get(&d, second).await, StatusCode::OK, "{}: shown on the second system", app.backend);
        app.close().await;
    }
}

/// A vendor's document behind a record of a ward system (a contact chart);
/// the office gives the system to another vendor; the first vendor makes
/// a new revision (for another customer). The record went on showing the
/// newest revision to everyone who sees the system, the new vendor among
/// them, and it was downloadable by its number. Now the record keeps
/// showing the revision it showed, and the new one is the first vendor's
/// own only.
#[tokio::test]
async fn a_record_s_document_shows_no_revision_made_after_its_vendor_left_the_system() {
    for app in App::each(Options::default()).await {
        let crate::checklist::Cast { sys, vendor, other, v, x, d, .. } = crate::checklist::cast(&app).await;
        let (doc, _) = contact_record_showing_a_document(&app, &v, sys, vendor).await;

        give_to(&app, sys, other).await;
        let r = post_document(&v, &format!("/library/{}/revisions", doc.id), None, "chart-b.pdf", PDF, "").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let revisions = app.store.document(doc.id).await.unwrap().unwrap().revisions;
        let (first, second) = (revisions[0].id, revisions[1].id);

        let page = x.get(&format!("/systems/{sys}/records")).await.body;
        assert!(page.contains(&format!("/documents/{first}")), "{}: the revision it showed: {page}", app.backend);
        assert!(!page.contains(&format!("/documents/{second}")), "{}: not the new one", app.backend);
        let get = async |c: &Client, rev: i64| c.get(&format!("/documents/{rev}")).await.status;
        assert_eq!(get(&x, first).await, StatusCode::OK, "{}", app.backend);
        for (who, c) in [("the new vendor", &x), ("the department", &d)] {
            assert_eq!(get(c, second).await, StatusCode::NOT_FOUND, "{}: {who}", app.backend);
        }
        assert_eq!(get(&v, second).await, StatusCode::OK, "{}: the vendor's own", app.backend);
        app.close().await;
    }
}

/// The same, the first vendor deleting its document instead: the records
/// of the system it left went back to 確認待ち, a new revision and an event
/// under its name on a system it no longer sees, and lost the document,
/// which nobody could then download. Now a record of a system the
/// organisation no longer keeps goes on showing the revision it showed,
/// unchanged; one of a system it keeps loses it, as before.
#[tokio::test]
async fn a_vendor_that_left_a_system_deleting_its_document_leaves_that_system_s_records_as_they_were() {
    for app in App::each(Options::default()).await {
        let crate::checklist::Cast { sys, vendor, other, v, x, .. } = crate::checklist::cast(&app).await;
        let (doc, _) = contact_record_showing_a_document(&app, &v, sys, vendor).await;
        let values = mamori_core::records::Values([("name".to_owned(), "保守窓口".to_owned())].into());
        let kind = mamori_core::records::RecordKind::Contact;
        let kept = crate::checklist::system(
            &app,
            app.store.system(sys).await.unwrap().unwrap().input.department_id,
            Some(vendor),
            "別のシステム",
        )
        .await;
        app.store
            .save_record(
                &app.ctx(),
                kept,
                None,
                kind,
                &values,
                mamori_store::records::Keeper::vendor(vendor, &[doc.id]),
            )
            .await
            .unwrap();
        let record = |s: i64| {
            let store = app.store.clone();
            async move { store.records(s).await.unwrap().into_iter().next().unwrap() }
        };
        let before = record(sys).await;

        give_to(&app, sys, other).await;
        let events = app.audit_actions().await.len();
        v.get("/library").await;
        let r = v.post(&format!("/library/{}/delete", doc.id), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);

        let after = record(sys).await;
        assert_eq!((after.revision, after.review), (before.revision, before.review), "{}: unchanged", app.backend);
        let trail = app.store.audit_recent(20).await.unwrap();
        let on_left = trail.iter().take(app.audit_actions().await.len() - events).any(|e| {
            e.record.action == "record.saved" && e.record.target_id.as_deref() == Some(sys.to_string().as_str())
        });
        assert!(!on_left, "{}: no event on the system it left", app.backend);
        let first = app.store.document(doc.id).await.unwrap().unwrap().revisions[0].id;
        let page = x.get(&format!("/systems/{sys}/records")).await.body;
        assert!(page.contains(&format!("/documents/{first}")), "{}: still shown: {page}", app.backend);
        assert_eq!(x.get(&format!("/documents/{first}")).await.status, StatusCode::OK, "{}", app.backend);
        assert!(!app.store.record_documents(sys).await.unwrap().is_empty(), "{}", app.backend);
        let own = app.store.record_documents(kept).await.unwrap();
        assert!(own.is_empty(), "{}: the system it keeps loses it: {own:?}", app.backend);
        app.close().await;
    }
}

/// A vendor taken off a system could not delete its document while the
/// next vendor's round still showed it: the removal reached into that
/// system's answer, was refused there (404), or by an approved record
/// there, and so told the vendor what became of it. The removal now leaves
/// that system's answer and record showing the revision they showed,
/// pinned, with no event on it.
#[tokio::test]
async fn a_vendor_taken_off_a_system_deletes_its_document_and_that_system_s_answer_and_approved_record_keep_showing_it()
{
    for app in App::each(Options::default()).await {
        use mamori_core::records::RecordReview;
        let crate::checklist::Cast { sys, vendor, other, v, x, .. } = crate::checklist::cast(&app).await;
        // A record of the system showing it too, approved by the office.
        let (doc, rec) = contact_record_showing_a_document(&app, &v, sys, vendor).await;
        let shown = app.store.records(sys).await.unwrap().into_iter().find(|r| r.id == rec).unwrap().seen();
        app.store.review_record(&app.ctx(), (sys, rec, &shown), RecordReview::Approved, "").await.unwrap();
        app.store.link_document(&app.ctx(), doc.id, vendor, sys, 15, false).await.unwrap();
        give_to(&app, sys, other).await;
        let events = app.audit_actions().await.len();
        v.get("/library").await;
        let r = v.post(&format!("/library/{}/delete", doc.id), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        assert!(app.store.document(doc.id).await.unwrap().unwrap().deleted, "{}", app.backend);

        let links = app.store.document_links(sys, 1).await.unwrap();
        let shown: Vec<(u32, bool, i64)> = links.iter().map(|l| (l.number, l.pinned, l.shows.revision)).collect();
        assert_eq!(shown, [(15, true, 1)], "{}: the answer keeps showing it", app.backend);
        let first = doc.revisions[0].id;
        assert_eq!(x.get(&format!("/documents/{first}")).await.status, StatusCode::OK, "{}", app.backend);
        let record = app.store.records(sys).await.unwrap().into_iter().find(|r| r.id == rec).unwrap();
        assert_eq!(record.review, RecordReview::Approved, "{}: the record as it was approved", app.backend);
        assert!(!app.store.record_documents(sys).await.unwrap().is_empty(), "{}: still shown", app.backend);
        let trail = app.store.audit_recent(20).await.unwrap();
        let new = app.audit_actions().await.len() - events;
        let on_left = trail.iter().take(new).any(|e| {
            e.record.action == "document.unlinked"
                || e.record.action == "answer.saved"
                || e.record.action == "evidence.removed"
        });
        assert!(!on_left, "{}: nothing written on the system it left", app.backend);
        app.close().await;
    }
}

/// A vendor taken off a system went on seeing, on its document's page, the
/// links the system's items had to it: whether the next vendor kept or
/// removed them. Now the page lists links in the systems it sees only.
#[tokio::test]
async fn a_document_s_page_lists_no_link_in_a_system_its_vendor_was_taken_off() {
    for app in App::each(Options::default()).await {
        let crate::checklist::Cast { sys, vendor, other, v, .. } = crate::checklist::cast(&app).await;
        let doc = chart(&app, &v, vendor).await;
        app.store.link_document(&app.ctx(), doc.id, vendor, sys, 15, false).await.unwrap();
        let page = v.get(&format!("/library/{}", doc.id)).await.body;
        assert!(page.contains(&format!("/systems/{sys}/items/15")), "{}: listed while it is its: {page}", app.backend);

        give_to(&app, sys, other).await;
        let page = v.get(&format!("/library/{}", doc.id)).await.body;
        assert!(!page.contains(&format!("/systems/{sys}")), "{}: {page}", app.backend);
        app.close().await;
    }
}

/// A new revision of a document behind an approved record changed what
/// the record shows, and the approval stood (a stale page could even
/// approve the new revision unseen); and the answers it changed on other
/// systems were named nowhere in those systems' trail. The record now goes
/// back to 確認待ち (marked as changed after approval), an approval made on
/// the page shown before is refused, and every answer and record the
/// revision changed has its own event on its system.
#[tokio::test]
async fn a_new_revision_of_a_document_sends_its_approved_record_back_for_review_and_each_change_is_audited() {
    use mamori_core::records::RecordReview;
    for app in App::each(Options::default()).await {
        let crate::checklist::Cast { sys, vendor, v, .. } = crate::checklist::cast(&app).await;
        let (doc, rec) = contact_record_showing_a_document(&app, &v, sys, vendor).await;
        app.store.link_document(&app.ctx(), doc.id, vendor, sys, 15, false).await.unwrap();
        let shown = app.store.records(sys).await.unwrap().into_iter().find(|r| r.id == rec).unwrap().seen();
        app.store.review_record(&app.ctx(), (sys, rec, &shown), RecordReview::Approved, "").await.unwrap();
        let approved = app.store.records(sys).await.unwrap().into_iter().find(|r| r.id == rec).unwrap();
        // The page the office has open shows the approved record.
        let open = approved.seen();

        let r = post_document(&v, &format!("/library/{}/revisions", doc.id), None, "chart-b.pdf", PDF, "").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let after = app.store.records(sys).await.unwrap().into_iter().find(|r| r.id == rec).unwrap();
        assert_eq!(after.review, RecordReview::Pending, "{}: back to 確認待ち", app.backend);
        assert!(after.changed_after_approval, "{}", app.backend);
        let stale = app.store.review_record(&app.ctx(), (sys, rec, &open), RecordReview::Approved, "").await;
        assert!(matches!(stale, Err(mamori_store::StoreError::Stale)), "{}: {stale:?}", app.backend);

        let trail = app.store.audit_recent(20).await.unwrap();
        let on_system = |action: &str| {
            trail.iter().any(|e| {
                e.record.action == action
                    && e.record.target_id.as_deref() == Some(sys.to_string().as_str())
                    && e.record.changes.contains("document_revised")
            })
        };
        assert!(on_system("answer.saved"), "{}: the answer's change: {trail:#?}", app.backend);
        assert!(on_system("record.saved"), "{}: the record's change", app.backend);
        app.close().await;
    }
}

/// Gives system `sys` to vendor `other`, as the office does.
async fn give_to(app: &App, sys: i64, other: i64) {
    let mut input = app.store.system(sys).await.unwrap().unwrap().input;
    input.vendor_id = Some(other);
    app.store.update_system(&app.ctx(), sys, &input).await.unwrap();
}

/// The vendor's document 体制図 (chart.pdf), uploaded to its library by `v`.
async fn chart(app: &App, v: &crate::harness::Client, vendor: i64) -> mamori_store::library::Document {
    let r = post_document(v, "/library", Some("体制図"), "chart.pdf", PDF, "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
    app.store.documents(vendor).await.unwrap()[0].clone()
}

/// The vendor's document 体制図, uploaded to its library, and a contact
/// record of `sys` showing it (確認待ち): (document, record id).
async fn contact_record_showing_a_document(
    app: &App,
    v: &crate::harness::Client,
    sys: i64,
    vendor: i64,
) -> (mamori_store::library::Document, i64) {
    let doc = chart(app, v, vendor).await;
    let values = mamori_core::records::Values([("name".to_owned(), "保守窓口".to_owned())].into());
    let kind = mamori_core::records::RecordKind::Contact;
    let rec = app
        .store
        .save_record(&app.ctx(), sys, None, kind, &values, mamori_store::records::Keeper::vendor(vendor, &[doc.id]))
        .await
        .unwrap();
    (doc, rec)
}

/// A library document removed from under a record waiting for review left
/// the record as it was: its revision unchanged, the office approved, from
/// the page it had open, a record whose document had gone. The removal is
/// a change of the record now: 確認待ち, its revision raised, audited on
/// its system.
#[tokio::test]
async fn a_document_removed_from_a_record_the_office_has_open_is_not_approved_unseen() {
    use mamori_core::records::RecordReview;
    for app in App::each(Options::default()).await {
        let crate::checklist::Cast { sys, vendor, v, o, .. } = crate::checklist::cast(&app).await;
        let (doc, rec) = contact_record_showing_a_document(&app, &v, sys, vendor).await;
        let shown = app.store.records(sys).await.unwrap().into_iter().find(|r| r.id == rec).unwrap().seen();
        let open = shown.revision;
        o.get(&format!("/systems/{sys}/records")).await;

        v.get(&format!("/library/{}", doc.id)).await;
        let r = v.post(&format!("/library/{}/delete", doc.id), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        assert!(app.store.document(doc.id).await.unwrap().unwrap().deleted, "{}", app.backend);
        // Deleted and shown nowhere: gone for its own company too (before,
        // its files stayed downloadable by number).
        let file = v.http.get(format!("{}/documents/{}", app.base, doc.newest().id)).send().await.unwrap();
        assert_eq!(file.status(), StatusCode::NOT_FOUND, "{}", app.backend);
        let after = app.store.records(sys).await.unwrap().into_iter().find(|r| r.id == rec).unwrap();
        assert!(after.revision > open, "{}: past the page the office has open", app.backend);
        assert_eq!(after.review, RecordReview::Pending, "{}", app.backend);

        let form =
            [("decision", "approve"), ("note", ""), ("revision", &open.to_string()), ("decided", &shown.decision)];
        let r = o.post(&format!("/systems/{sys}/records/{rec}/review"), &form).await;
        assert!(o.get(r.location()).await.body.contains("この記録は表示の後に変更されました"), "{}", app.backend);
        let still = app.store.records(sys).await.unwrap().into_iter().find(|r| r.id == rec).unwrap();
        assert_eq!(still.review, RecordReview::Pending, "{}: nothing approved unseen", app.backend);
        let trail = app.store.audit_recent(20).await.unwrap();
        assert!(
            trail.iter().any(|e| e.record.action == "record.saved"
                && e.record.target_id.as_deref() == Some(sys.to_string().as_str())
                && e.record.changes.contains("document_removed")),
            "{}: the record's change on its system: {trail:#?}",
            app.backend
        );
        app.close().await;
    }
}

/// A document removed from the library took its links out of earlier
/// rounds too: a round submitted and never approved (the year turned) lost
/// the evidence it was submitted with, and its history said nothing. The
/// open round's link goes, as a change of its answer; the earlier round
/// keeps its own, and the file behind it stays readable there.
#[tokio::test]
async fn a_document_removed_from_the_library_leaves_an_earlier_round_as_it_was_submitted() {
    for app in App::each(Options::default()).await {
        let crate::checklist::Cast { sys, vendor, v, o, .. } = crate::checklist::cast(&app).await;
        let doc = chart(&app, &v, vendor).await;
        app.store.link_document(&app.ctx(), doc.id, vendor, sys, 15, false).await.unwrap();
        crate::checklist::answer_all(&app, sys).await;
        app.store.submit_system(&app.ctx(), sys).await.unwrap();
        assert_eq!(app.store.start_round(&app.ctx(), sys, None).await.unwrap(), 2, "{}", app.backend);
        let unlinked_before = app.audit_actions().await.iter().filter(|a| *a == "document.unlinked").count();

        v.get(&format!("/library/{}", doc.id)).await;
        let r = v.post(&format!("/library/{}/delete", doc.id), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        assert!(
            app.store.document_links(sys, 2).await.unwrap().is_empty(),
            "{}: the open round's link went",
            app.backend
        );
        let kept = app.store.document_links(sys, 1).await.unwrap();
        assert_eq!(kept.len(), 1, "{}: the submitted round keeps its evidence", app.backend);
        let history = app.store.item_history(sys, 2, 15).await.unwrap();
        assert_eq!(
            history.last().unwrap().kind,
            mamori_core::checklist::HistoryKind::EvidenceRemoved,
            "{}",
            app.backend
        );
        let unlinked = app.audit_actions().await.iter().filter(|a| *a == "document.unlinked").count();
        assert_eq!(unlinked - unlinked_before, 1, "{}: one link removed", app.backend);
        let file = o.http.get(format!("{}/documents/{}", app.base, kept[0].shows.id)).send().await.unwrap();
        assert_eq!(file.status(), StatusCode::OK, "{}: the office still reads it there", app.backend);
        let file = v.http.get(format!("{}/documents/{}", app.base, kept[0].shows.id)).send().await.unwrap();
        assert_eq!(file.status(), StatusCode::OK, "{}: and so does its company", app.backend);
        app.close().await;
    }
}

/// On PostgreSQL, deleting a document linked in two systems locked the
/// second system while it held the audit chain: an answer saved in that
/// system at the same moment waited for the chain while holding the
/// system, a deadlock (an error page for one of them). And a link made at
/// the same moment as the delete could outlive it, pointing to a deleted
/// document. Twenty rounds, each a delete, an answer and a link at once:
/// every answer lands, the delete lands, and no link to the document is
/// left (a link that landed first was removed with its unlink event).
#[tokio::test]
async fn deleting_a_document_while_its_systems_change_neither_deadlocks_nor_leaves_a_link_to_it() {
    for app in App::each(Options::default()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let a = system(&app, dept, Some(vendor), "文書管理システム").await;
        let b = system(&app, dept, Some(vendor), "申請受付システム").await;
        let ctx = app.ctx();
        for k in 0..20 {
            let doc = mamori_store::library::NewDocFile {
                original_name: "体制図.txt",
                content_type: "text/plain",
                sha256: "0",
                expires_on: None,
                content: b"x",
            };
            let id = app.store.add_document(&ctx, vendor, &format!("体制図{k}"), &doc).await.unwrap();
            app.store.link_document(&ctx, id, vendor, a, 7, false).await.unwrap();
            app.store.link_document(&ctx, id, vendor, b, 7, false).await.unwrap();
            let answer = AnswerInput {
                status: mamori_core::checklist::AnswerStatus::Done,
                measures: format!("実施 {k}"),
                planned: None,
                reason: String::new(),
            };
            let (deleted, saved, linked) = tokio::join!(
                app.store.delete_document(&ctx, id, vendor),
                app.store.save_answer(&ctx, b, 16, &answer),
                app.store.link_document(&ctx, id, vendor, b, 15, false),
            );
            assert!(deleted.is_ok(), "{}: round {k}: the delete: {deleted:?}", app.backend);
            assert!(saved.is_ok(), "{}: round {k}: the answer: {saved:?}", app.backend);
            assert!(
                matches!(linked, Ok(()) | Err(mamori_store::StoreError::Missing)),
                "{}: round {k}: the link: {linked:?}",
                app.backend
            );
            for (sys, n) in [(a, 7), (b, 7), (b, 15)] {
                let left = app.store.document_links(sys, 1).await.unwrap();
                assert!(
                    !left.iter().any(|l| l.document_id == id && l.number == n),
                    "{}: round {k}: a link to the deleted document is left in {sys}/{n}",
                    app.backend
                );
            }
        }
        app.close().await;
    }
}
