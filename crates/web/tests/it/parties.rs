//! Several parties answer one system: the department its own items, the
//! builder most, the maintenance vendor 8–12. Each answers only its items,
//! submits its part, and the review waits for every part; a return reopens
//! only the part it concerns.

use crate::checklist::{answer, decide, finish_review, submit, system_with_parties};
use crate::harness::{hidden_in, App, Client, Options};
use mamori_core::checklist::SystemStatus;
use mamori_core::identity::{OrgKind, Role};
use reqwest::StatusCode;

/// The items of a plain system (no servers, not a web system) and who
/// answers them by the shipped catalog.
const DEPARTMENT: [u32; 6] = [7, 15, 16, 17, 18, 30];
const MAINTENANCE: [u32; 5] = [8, 9, 10, 11, 12];

fn builder_items() -> Vec<u32> {
    (1..=6).chain(19..=29).chain([79]).collect()
}

async fn answer_done(app: &App, c: &Client, sys: i64, numbers: &[u32]) {
    for n in numbers {
        let r = answer(c, sys, *n, &[("status", "done"), ("measures", &format!("No.{n} を実施"))]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: No.{n}: {}", app.backend, r.body);
    }
}

async fn status(app: &App, sys: i64) -> SystemStatus {
    app.store.system(sys).await.unwrap().unwrap().status
}

#[tokio::test]
async fn a_department_and_two_vendors_each_answer_their_part_and_the_review_waits_for_all() {
    for app in App::each(Options::default()).await {
        app.store.ensure_catalog(&app.system_ctx()).await.unwrap();
        let dept = app.org("総務課", OrgKind::Department).await;
        let builder = app.org("構築ベンダー", OrgKind::Vendor).await;
        let maint = app.org("保守ベンダー", OrgKind::Vendor).await;
        let stranger = app.org("他社", OrgKind::Vendor).await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let (d, _) = app.signed_in("dept1", Role::Department, Some(dept)).await;
        let (b, _) = app.signed_in("builder1", Role::Vendor, Some(builder)).await;
        let (m, _) = app.signed_in("maint1", Role::Vendor, Some(maint)).await;
        let (x, _) = app.signed_in("other1", Role::Vendor, Some(stranger)).await;

        // The officer registers the system with a builder and a maintenance vendor.
        officer.get("/systems/new").await;
        let r = officer
            .post(
                "/systems",
                &[
                    ("name", "複数回答者システム"),
                    ("department_id", &dept.to_string()),
                    ("vendor_id", &builder.to_string()),
                    ("maintenance_id", &maint.to_string()),
                    ("phase", "building"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let sys: i64 = r.location().rsplit('/').next().unwrap().parse().unwrap();

        // The maintenance vendor sees the system; another company does not.
        assert!(m.get("/systems").await.body.contains("複数回答者システム"), "{}", app.backend);
        assert_eq!(m.get(&format!("/systems/{sys}")).await.status, StatusCode::OK);
        assert_eq!(x.get(&format!("/systems/{sys}")).await.status, StatusCode::NOT_FOUND);
        assert!(!x.get("/systems").await.body.contains("複数回答者システム"));

        // Each party reads the others' items and cannot change them: 404,
        // and nothing is written.
        for (c, n) in [(&b, 7), (&b, 8), (&m, 1), (&m, 15), (&d, 1), (&d, 9)] {
            let page = c.get(&format!("/systems/{sys}/items/{n}")).await;
            assert_eq!(page.status, StatusCode::OK, "{}: No.{n} is readable", app.backend);
            assert!(page.body.contains("閲覧のみできます") && !page.body.contains("name=\"measures\""), "No.{n}");
            let r = c.post(&format!("/systems/{sys}/items/{n}"), &[("status", "done"), ("measures", "x")]).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{}: No.{n} is another's", app.backend);
            let r = c.upload(sys, n, "a.txt", b"evidence".to_vec()).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{}: no evidence on another's No.{n}", app.backend);
        }
        assert!(app.store.answers(sys, 1).await.unwrap().is_empty(), "{}: nothing written", app.backend);
        assert!(app.store.evidence_of_round(sys, 1).await.unwrap().is_empty());
        let item8 = d.get(&format!("/systems/{sys}/items/8")).await.body;
        assert!(item8.contains("保守ベンダー (保守事業者)"), "{}: the item names who answers it", app.backend);

        // The builder answers and submits its part: the system goes on
        // being answered, and the part is frozen.
        answer_done(&app, &b, sys, &builder_items()).await;
        assert_eq!(submit(&b, sys).await.status, StatusCode::SEE_OTHER);
        assert_eq!(status(&app, sys).await, SystemStatus::Answering, "{}: two parts still open", app.backend);
        let r = answer(&b, sys, 1, &[("status", "not_done"), ("planned_date", "2027-03-31")]).await;
        assert_eq!(r.status, StatusCode::OK, "{}: refused with a message", app.backend);
        assert_eq!(app.store.answer(sys, 1, 1).await.unwrap().unwrap().input.measures, "No.1 を実施", "unchanged");
        let page = b.get(&format!("/systems/{sys}")).await.body;
        assert!(page.contains("他の回答者の提出を待っています"), "{}", app.backend);

        // The officer reviews the builder's part as it arrives, but cannot
        // finish the review, nor decide on the parts not yet in.
        assert_eq!(decide(&officer, sys, 1, "approve", "").await.status, StatusCode::SEE_OTHER);
        let r = finish_review(&officer, sys).await;
        assert_ne!(status(&app, sys).await, SystemStatus::Approved, "{}: {}", app.backend, r.status);
        answer_done(&app, &m, sys, &MAINTENANCE).await;
        let r = decide(&officer, sys, 8, "approve", "").await;
        assert_ne!(r.status, StatusCode::SEE_OTHER, "{}: the maintenance part is not in", app.backend);
        let eight = app.store.answer(sys, 1, 8).await.unwrap().unwrap();
        assert_eq!(eight.review, mamori_core::checklist::Review::Pending, "{}: no decision", app.backend);

        // The maintenance vendor submits: still waiting for the department.
        assert_eq!(submit(&m, sys).await.status, StatusCode::SEE_OTHER);
        assert_eq!(status(&app, sys).await, SystemStatus::Answering);
        // The department answers its own items and submits the last part.
        answer_done(&app, &d, sys, &DEPARTMENT).await;
        assert_eq!(submit(&d, sys).await.status, StatusCode::SEE_OTHER);
        assert_eq!(status(&app, sys).await, SystemStatus::Submitted, "{}: every part is in", app.backend);
        let page = officer.get(&format!("/systems/{sys}")).await.body;
        for name in ["構築ベンダー", "保守ベンダー", "総務課"] {
            assert!(page.contains(name), "{}: the parts list names {name}", app.backend);
        }

        // The officer returns No.8 and approves the rest: only the
        // maintenance part reopens.
        let everything: Vec<u32> = builder_items().into_iter().chain(MAINTENANCE).chain(DEPARTMENT).collect();
        for n in &everything {
            let (decision, comment) =
                if *n == 8 { ("return", "契約書を添付してください") } else { ("approve", "") };
            let r = decide(&officer, sys, *n, decision, comment).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: No.{n}: {}", app.backend, r.body);
        }
        assert_eq!(finish_review(&officer, sys).await.status, StatusCode::SEE_OTHER);
        assert_eq!(status(&app, sys).await, SystemStatus::Returned);
        let r = answer(&b, sys, 2, &[("status", "not_done"), ("planned_date", "2027-03-31")]).await;
        assert_eq!(r.status, StatusCode::OK, "{}: the builder's part stays submitted", app.backend);
        assert_eq!(app.store.answer(sys, 1, 2).await.unwrap().unwrap().input.measures, "No.2 を実施");
        answer(&m, sys, 8, &[("status", "done"), ("measures", "保守契約書を添付")]).await;
        assert_eq!(submit(&m, sys).await.status, StatusCode::SEE_OTHER);
        assert_eq!(status(&app, sys).await, SystemStatus::Submitted, "{}: the reopened part is back", app.backend);
        decide(&officer, sys, 8, "approve", "").await;
        finish_review(&officer, sys).await;
        assert_eq!(status(&app, sys).await, SystemStatus::Approved, "{}", app.backend);

        // Who answered what is in the record: each answer by its party.
        let answers = app.store.answers(sys, 1).await.unwrap();
        for a in &answers {
            let by = if DEPARTMENT.contains(&a.number) {
                "dept1"
            } else if MAINTENANCE.contains(&a.number) {
                "maint1"
            } else {
                "builder1"
            };
            assert_eq!(a.updated_by, by, "{}: No.{}", app.backend, a.number);
        }
        // The exported checklist names who answers each item.
        let csv = officer.get(&format!("/systems/{sys}/report.csv")).await.body;
        for (who, count) in
            [("保守ベンダー (保守事業者)", 5), ("総務課 (所管課)", 6), ("構築ベンダー (構築事業者)", 18)]
        {
            // The answerer's column, then 注意 (nothing to note here).
            assert_eq!(csv.matches(&format!(",{who},\r\n")).count(), count, "{}: {who}", app.backend);
        }
        let submitted = app.audit_actions().await.iter().filter(|a| *a == "system.submitted").count();
        assert_eq!(submitted, 4, "{}: three parts and one resubmission", app.backend);
        app.close().await;
    }
}

/// Twenty submissions of one part at once: the part is submitted once,
/// with one history line and one audit event.
#[tokio::test]
async fn a_part_submitted_twenty_times_at_once_is_submitted_once() {
    for app in App::each(Options::default()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let sys = system_with_parties(&app, dept, Some(vendor), "並行提出システム").await;
        let (d, _) = app.signed_in("dept1", Role::Department, Some(dept)).await;
        answer_done(&app, &d, sys, &DEPARTMENT).await;
        d.get(&format!("/systems/{sys}")).await;
        let path = format!("/systems/{sys}/submit");
        let all = futures_util::future::join_all((0..20).map(|_| d.post(&path, &[]))).await;
        let done = all.iter().filter(|r| r.status == StatusCode::SEE_OTHER).count();
        assert!(done >= 1, "{}", app.backend);
        let parts = app.store.parts(&app.store.system(sys).await.unwrap().unwrap()).await.unwrap();
        assert_eq!(parts.submitted.len(), 1, "{}: one part, once", app.backend);
        let events = app.audit_actions().await.iter().filter(|a| *a == "system.submitted").count();
        assert_eq!(events, 1, "{}: one audit event", app.backend);
        let lines = app.store.history(sys, 1).await.unwrap();
        let submits = lines.iter().filter(|h| h.kind == mamori_core::checklist::HistoryKind::Submit).count();
        assert_eq!(submits, 1, "{}: one history line", app.backend);
        assert_eq!(status(&app, sys).await, SystemStatus::Answering, "{}: the builder's part is open", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn a_system_without_a_vendor_is_answered_by_its_department() {
    for app in App::each(Options::default()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let other_dept = app.org("財政課", OrgKind::Department).await;
        let sys = system_with_parties(&app, dept, None, "内製システム").await;
        let (d, _) = app.signed_in("dept1", Role::Department, Some(dept)).await;
        let (o, _) = app.signed_in("dept2", Role::Department, Some(other_dept)).await;
        let all: Vec<u32> = (1..=12).chain(15..=30).chain([79]).collect();
        assert_eq!(o.get(&format!("/systems/{sys}")).await.status, StatusCode::NOT_FOUND);
        o.get("/dashboard").await; // a token, so that only the scope refuses
        let r = o.post(&format!("/systems/{sys}/items/1"), &[("status", "done"), ("measures", "x")]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}: another department's system", app.backend);
        answer_done(&app, &d, sys, &all).await;
        assert_eq!(submit(&d, sys).await.status, StatusCode::SEE_OTHER);
        assert_eq!(status(&app, sys).await, SystemStatus::Submitted, "{}", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn the_officer_moves_an_item_to_another_party_and_not_into_a_submitted_part() {
    for app in App::each(Options::default()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let sys = system_with_parties(&app, dept, Some(vendor), "移動システム").await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let (d, _) = app.signed_in("dept1", Role::Department, Some(dept)).await;
        let (v, _) = app.signed_in("vendor1", Role::Vendor, Some(vendor)).await;
        let mv = async |n: &str, party: &str| {
            officer.get(&format!("/systems/{sys}")).await;
            officer.post(&format!("/systems/{sys}/moves"), &[("number", n), ("party", party)]).await
        };
        // The requirements page names each item's default party.
        let catalog = officer.get("/catalog").await.body;
        let row = |n: u32| {
            let from = catalog.find(&format!("<tr id=\"no-{n}\">")).unwrap();
            catalog[from..from + catalog[from..].find("</tr>").unwrap()].to_owned()
        };
        for (n, party) in [(7, "所管課"), (8, "保守事業者"), (31, "構築事業者"), (72, "クラウド事業者")]
        {
            assert!(row(n).contains(&format!(">{party}<")), "{}: No.{n} {party}", app.backend);
        }
        // Bad input is explained and changes nothing.
        for (n, party, msg) in [
            ("31", "builder", "適用される項目の番号"),
            ("x", "builder", "適用される項目の番号"),
            ("7", "vendor", "回答者を選択"),
        ] {
            let r = mv(n, party).await;
            assert!(r.status == StatusCode::OK && r.body.contains(msg), "{}: {n} {party}", app.backend);
        }
        assert!(app.store.item_moves(sys).await.unwrap().is_empty());
        // No.7 (the department's) moves to the vendor: now the vendor answers it.
        assert_eq!(mv("7", "builder").await.status, StatusCode::SEE_OTHER);
        assert!(!d.get(&format!("/systems/{sys}/items/7")).await.body.contains("name=\"measures\""));
        let r = d.post(&format!("/systems/{sys}/items/7"), &[("status", "done"), ("measures", "x")]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}: no longer the department's", app.backend);
        assert_eq!(answer(&v, sys, 7, &[("status", "done"), ("measures", "見直し手順")]).await.status, 303);
        assert!(app.audit_actions().await.contains(&"item.party_moved".to_owned()));
        // Once the department's part is in, nothing moves into it.
        answer_done(&app, &d, sys, &[15, 16, 17, 18, 30]).await;
        assert_eq!(submit(&d, sys).await.status, StatusCode::SEE_OTHER);
        let r = mv("1", "department").await;
        assert!(r.body.contains("提出済みの担当分"), "{}: {}", app.backend, r.status);
        assert_eq!(app.store.item_moves(sys).await.unwrap().len(), 1, "{}: only No.7 moved", app.backend);
        // Nor does No.7 go back to the department's part now.
        let r = mv("7", "department").await;
        assert!(r.body.contains("提出済みの担当分"), "{}: the department's part is in", app.backend);
        app.close().await;
    }
}

/// What applies to a system, and who answers it, changes only where no
/// answer is with the security office. Before, an override or a new
/// registration went through at any time: an item made applicable in a
/// submitted part could be answered by no one, and the review never ended.
#[tokio::test]
async fn what_applies_and_who_answers_change_only_outside_a_submitted_part() {
    for app in App::each(Options::default()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let other_dept = app.org("情報政策課", OrgKind::Department).await;
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let maint = app.org("保守ベンダー", OrgKind::Vendor).await;
        let sys = system_with_parties(&app, dept, Some(vendor), "範囲システム").await;
        let (officer, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let (d, _) = app.signed_in("dept1", Role::Department, Some(dept)).await;
        let (v, _) = app.signed_in("vendor1", Role::Vendor, Some(vendor)).await;
        let page = format!("/systems/{sys}");
        let set = async |n: &str, applies: &str| {
            officer.get(&page).await;
            officer
                .post(&format!("{page}/overrides"), &[("number", n), ("applies", applies), ("reason", "見直し")])
                .await
        };
        let register = async |dept_id: i64, maint_id: Option<i64>| {
            let seen = hidden_in(&officer.get(&format!("{page}/edit")).await.body, "seen");
            let (dept_s, vendor_s) = (dept_id.to_string(), vendor.to_string());
            let maint_s = maint_id.map(|m| m.to_string()).unwrap_or_default();
            let form = [
                ("name", "範囲システム"),
                ("department_id", dept_s.as_str()),
                ("vendor_id", vendor_s.as_str()),
                ("maintenance_id", maint_s.as_str()),
                ("phase", "building"),
                ("seen", seen.as_str()),
            ];
            officer.post(&page, &form).await
        };
        let refused = "審査のため提出された回答に関わるため";
        // The department's part goes in; the vendor's is still open.
        answer_done(&app, &d, sys, &DEPARTMENT).await;
        assert_eq!(submit(&d, sys).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        // No.15 of the submitted part stops applying: refused, nothing kept.
        let r = set("15", "no").await;
        assert!(r.status == StatusCode::OK && r.body.contains(refused) && r.body.contains("No.15"), "{}", app.backend);
        assert!(app.store.overrides(sys).await.unwrap().is_empty(), "{}", app.backend);
        // Another department would take the submitted part's items.
        let r = register(other_dept, None).await;
        assert!(r.status == StatusCode::OK && r.body.contains(refused), "{}: {}", app.backend, r.status);
        assert!(r.body.contains("No.7、No.15、No.16、No.17、No.18、No.30"), "{}", app.backend);
        assert_eq!(app.store.system(sys).await.unwrap().unwrap().input.department_id, dept, "{}", app.backend);
        // What touches the open part only goes through: No.13 applies (the
        // vendor answers it), and a maintenance vendor takes No.8–12.
        assert_eq!(set("13", "yes").await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        assert_eq!(register(dept, Some(maint)).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let (m, _) = app.signed_in("maint1", Role::Vendor, Some(maint)).await;
        answer_done(&app, &m, sys, &MAINTENANCE).await;
        // Submitted whole, nothing changes what applies: not No.13, whose
        // part (the vendor's) is in, nor the maintenance vendor's own.
        let vendor_items: Vec<u32> = builder_items().into_iter().chain([13]).collect();
        answer_done(&app, &v, sys, &vendor_items).await;
        assert_eq!(submit(&m, sys).await.status, StatusCode::SEE_OTHER);
        assert_eq!(submit(&v, sys).await.status, StatusCode::SEE_OTHER);
        assert_eq!(status(&app, sys).await, SystemStatus::Submitted, "{}", app.backend);
        let r = set("13", "no").await;
        assert!(r.body.contains(refused) && r.body.contains("No.13"), "{}", app.backend);
        let r = register(dept, None).await;
        assert!(r.body.contains(refused) && r.body.contains("No.8、No.9"), "{}", app.backend);
        assert_eq!(app.store.overrides(sys).await.unwrap().len(), 1, "{}: No.13's only", app.backend);
        assert_eq!(app.store.system(sys).await.unwrap().unwrap().input.maintenance_id, Some(maint));
        // Once the review has ended, the round stands as decided and the
        // change is answered in the next one.
        let all: Vec<u32> = DEPARTMENT.iter().chain(MAINTENANCE.iter()).copied().chain(vendor_items).collect();
        for n in &all {
            assert_eq!(decide(&officer, sys, *n, "approve", "").await.status, StatusCode::SEE_OTHER, "No.{n}");
        }
        assert_eq!(finish_review(&officer, sys).await.status, StatusCode::SEE_OTHER);
        assert_eq!(status(&app, sys).await, SystemStatus::Approved, "{}", app.backend);
        assert_eq!(set("14", "yes").await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let events = app.audit_actions().await;
        let overrides = events.iter().filter(|a| *a == "applicability.overridden").count();
        assert_eq!(overrides, 2, "{}: the refused ones left no event", app.backend);
        app.close().await;
    }
}
