//! A system's records (items 8, 10–13, 19–21, 69–79): kept by those who
//! answer the system, the contact chart sealed at rest, each date warned
//! about on its day, and nothing of it reachable by another vendor.

use crate::checklist::system;
use crate::harness::{App, Client, Options, Res};
use mamori_core::identity::{OrgKind, Role};
use mamori_core::monitoring::{RECORD_DUE_SOON, RECORD_OVERDUE};
use mamori_core::records::RecordKind;
use reqwest::StatusCode;
use time::Duration;

pub(crate) async fn add(c: &Client, sys: i64, kind: &str, fields: &[(&str, &str)]) -> Res {
    c.get(&format!("/systems/{sys}/records/new?kind={kind}")).await;
    let mut form = vec![("kind", kind)];
    form.extend_from_slice(fields);
    c.post(&format!("/systems/{sys}/records"), &form).await
}

async fn kinds(app: &App, sys: i64) -> Vec<(RecordKind, String)> {
    app.store.records(sys).await.unwrap().into_iter().map(|r| (r.kind, r.title)).collect()
}

#[tokio::test]
async fn records_of_each_kind_are_kept_by_those_who_answer_the_system_the_contact_chart_sealed_and_none_reachable_by_another_vendor(
) {
    for app in App::each(Options::default()).await {
        let crate::checklist::Cast { sys, v, x, d, o, .. } = crate::checklist::cast(&app).await;

        // Every problem named, nothing stored.
        let r = add(
            &v,
            sys,
            "contract",
            &[("scope", "firmware"), ("vendor", ""), ("starts", "2027-04-01"), ("ends", "2027-03-31")],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", app.backend);
        for field in ["scope", "vendor", "ends"] {
            assert!(r.body.contains(&format!("href=\"#{field}\"")), "{}: {field}: {}", app.backend, r.body);
        }
        let r = add(&v, sys, "cloud", &[("service", "x"), ("measures_url", "javascript:alert(1)")]).await;
        assert!(r.body.contains("href=\"#measures_url\""), "{}", app.backend);
        assert!(kinds(&app, sys).await.is_empty(), "{}", app.backend);

        // One of several kinds, by the vendor and by the department.
        let ok = [
            (
                &v,
                "contract",
                vec![
                    ("scope", "both"),
                    ("vendor", "保守ベンダー株式会社"),
                    ("starts", "2026-04-01"),
                    ("ends", "2027-03-31"),
                ],
            ),
            (
                &v,
                "contact",
                vec![
                    ("order", "1"),
                    ("person", "山田 太郎"),
                    ("role", "保守窓口"),
                    ("phone", "03-1234-5678"),
                    ("hours", "平日 9-18 時"),
                ],
            ),
            (
                &d,
                "domain",
                vec![
                    ("domain", "docs.example.lg.jp"),
                    ("registrar", "JPRS"),
                    ("expires", "2027-06-30"),
                    ("retired", "no"),
                ],
            ),
            (
                &v,
                "site",
                vec![
                    ("place", "cloud"),
                    ("site_name", "クラウドA"),
                    ("region", "東京"),
                    ("ismap_number", "C21-0001-1"),
                    ("in_japan", "yes"),
                ],
            ),
            (&v, "backup", vec![("frequency", "毎日"), ("generations", "7"), ("last_restore_test", "2026-10-01")]),
        ];
        for (c, kind, fields) in &ok {
            let r = add(c, sys, kind, fields).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {kind}: {}", app.backend, r.body);
        }
        assert_eq!(kinds(&app, sys).await.len(), 5, "{}", app.backend);
        let page = o.get(&format!("/systems/{sys}/records")).await.body;
        assert!(
            page.contains("山田 太郎") && page.contains("docs.example.lg.jp") && page.contains("クラウド"),
            "{}: the office reads them",
            app.backend
        );
        assert!(!page.contains("/records/new?kind="), "{}: and adds none", app.backend);
        assert_eq!(add(&o, sys, "contract", &ok[0].2).await.status, StatusCode::NOT_FOUND, "{}", app.backend);
        // ISMAP numbers: checked once the office imports the published list.
        assert!(page.contains("ISMAP クラウドサービスリストを取り込むと照合されます"), "{}", app.backend);
        let list = "ISMAP クラウドサービスリスト\r\n登録番号,クラウドサービス名,クラウドサービス事業者名\r\nC21-0001-1,クラウドA,A 株式会社\r\n";
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(list);
        let r = o.post_file("/feeds", "/feeds", "ismap_list.csv", sjis.to_vec()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let cert = [("scheme", "ismap"), ("holder", "A 株式会社"), ("cert_number", "ｃ９９－９９９９－９")];
        assert_eq!(add(&v, sys, "certification", &cert).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let page = o.get(&format!("/systems/{sys}/records")).await.body;
        assert!(
            page.contains("リストに登録あり: クラウドA (A 株式会社)"),
            "{}: the site's number is listed",
            app.backend
        );
        assert!(page.contains("ISMAP クラウドサービスリストにありません"), "{}: the certificate's is not", app.backend);
        v.get(&format!("/systems/{sys}/records")).await;
        let cert_id =
            app.store.records(sys).await.unwrap().into_iter().find(|r| r.kind == RecordKind::Certification).unwrap().id;
        let r = v.post(&format!("/systems/{sys}/records/{cert_id}/remove"), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);

        // Item pages point to the records that answer them.
        let item = v.get(&format!("/systems/{sys}/items/8")).await.body;
        assert!(item.contains(&format!("/systems/{sys}/records#contract")), "{}", app.backend);
        assert!(
            item.contains("保守契約: 保守ベンダー株式会社 (期日 2027-03-31)"),
            "{}: the record itself",
            app.backend
        );

        // The contact chart is sealed at rest, and the audit log holds no name or number.
        // Every stored value, as a backup reads the tables.
        let mut raw = String::new();
        app.store
            .export(1 << 20, |_, rows: Vec<Vec<mamori_store::backup::Value>>| -> Result<(), mamori_store::StoreError> {
                for v in rows.into_iter().flatten() {
                    if let mamori_store::backup::Value::Text(t) = v {
                        raw.push_str(&t);
                        raw.push(' ');
                    }
                }
                Ok(())
            })
            .await
            .unwrap();
        assert!(raw.contains("docs.example.lg.jp"), "{}: the domain's name is a title, in clear", app.backend);
        for secret in ["山田", "03-1234-5678", "保守窓口"] {
            assert!(!raw.contains(secret), "{}: {secret} readable in the raw database", app.backend);
        }
        let events = app.store.audit_recent(50).await.unwrap();
        assert!(events.iter().filter(|e| e.record.action == "record.saved").count() == 6, "{}", app.backend);
        assert!(
            events
                .iter()
                .all(|e| !e.record.changes.to_string().contains("山田")
                    && !e.record.changes.to_string().contains("03-1234")),
            "{}",
            app.backend
        );

        // Changed by the department, removed by the vendor.
        let contract =
            app.store.records(sys).await.unwrap().into_iter().find(|r| r.kind == RecordKind::Contract).unwrap();
        let mut changed = vec![("kind", "contract")];
        changed.extend([("scope", "software"), ("vendor", "保守ベンダー株式会社"), ("ends", "2028-03-31")]);
        let r = d.save_record(sys, contract.id, &changed).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let after = app.store.records(sys).await.unwrap().into_iter().find(|r| r.id == contract.id).unwrap();
        assert_eq!(
            (after.values.get("scope"), after.due_on.map(|d| d.to_string())),
            ("software", Some("2028-03-31".into())),
            "{}",
            app.backend
        );
        // A record cannot change its kind through the form.
        let r = d
            .post(
                &format!("/systems/{sys}/records/{}", contract.id),
                &[("kind", "domain"), ("domain", "x.jp"), ("expires", "2030-01-01"), ("retired", "no")],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", app.backend);

        // Another vendor: as unknown everywhere, nothing changes.
        let before = kinds(&app, sys).await;
        assert_eq!(x.get(&format!("/systems/{sys}/records")).await.status, StatusCode::NOT_FOUND, "{}", app.backend);
        assert_eq!(x.get(&format!("/systems/{sys}/records/{}", contract.id)).await.status, StatusCode::NOT_FOUND);
        assert_eq!(x.get(&format!("/systems/{sys}/records/new?kind=contract")).await.status, StatusCode::NOT_FOUND);
        x.get("/dashboard").await;
        let r = x
            .post(
                &format!("/systems/{sys}/records"),
                &[("kind", "contract"), ("scope", "both"), ("vendor", "x"), ("ends", "2030-01-01")],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", app.backend);
        assert_eq!(
            x.post(&format!("/systems/{sys}/records/{}", contract.id), &changed).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            x.post(&format!("/systems/{sys}/records/{}/remove", contract.id), &[]).await.status,
            StatusCode::NOT_FOUND
        );
        assert!(!x.get("/records").await.body.contains("docs.example.lg.jp"), "{}", app.backend);
        assert_eq!(kinds(&app, sys).await, before, "{}", app.backend);

        v.get(&format!("/systems/{sys}/records/{}", contract.id)).await;
        let r = v.post(&format!("/systems/{sys}/records/{}/remove", contract.id), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        assert_eq!(kinds(&app, sys).await.len(), 4, "{}", app.backend);
        assert!(app.audit_actions().await.contains(&"record.removed".to_owned()), "{}", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn each_record_date_warns_on_its_day_once_with_an_injected_clock() {
    for app in App::each(Options::default()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let sys = system(&app, dept, Some(vendor), "文書管理システム").await;
        let (v, _) = app.signed_in("vendor-a", Role::Vendor, Some(vendor)).await;
        let today = app.now().to_offset(mamori_core::jst::JST).date();
        // A contract ending 91 days on (warned from 90), a restore test a year ago today.
        let ends = (today + Duration::days(91)).to_string();
        let tested = (today - Duration::days(365)).to_string();
        assert_eq!(
            add(&v, sys, "contract", &[("scope", "both"), ("vendor", "保守ベンダー"), ("ends", &ends)]).await.status,
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            add(&v, sys, "backup", &[("frequency", "毎日"), ("generations", "7"), ("last_restore_test", &tested)])
                .await
                .status,
            StatusCode::SEE_OTHER
        );
        let warn = async |app: &App| mamori_app::records::warn_records(&app.store, app.now()).await.unwrap();
        let alerts = async |app: &App, kind: &str, what: &str| {
            app.store
                .alerts(false)
                .await
                .unwrap()
                .into_iter()
                .filter(|a| a.kind == kind && a.subject.contains(what))
                .count()
        };

        // The restore test is a year old today: the last day, still due soon.
        assert_eq!(warn(&app).await, 1, "{}", app.backend);
        assert_eq!(alerts(&app, RECORD_DUE_SOON, "復元テスト").await, 1, "{}", app.backend);
        assert_eq!(alerts(&app, RECORD_DUE_SOON, "保守契約").await, 0, "{}: 91 days before", app.backend);
        // The next day: the test is overdue (critical), the contract 90 days off.
        app.clock.advance(Duration::days(1));
        assert_eq!(warn(&app).await, 2, "{}", app.backend);
        assert_eq!(warn(&app).await, 0, "{}: once", app.backend);
        assert_eq!(alerts(&app, RECORD_OVERDUE, "復元テスト").await, 1, "{}", app.backend);
        assert_eq!(alerts(&app, RECORD_DUE_SOON, "保守契約").await, 1, "{}", app.backend);
        let overdue = app.store.alerts(false).await.unwrap().into_iter().find(|a| a.kind == RECORD_OVERDUE).unwrap();
        assert_eq!(overdue.severity, "critical", "{}", app.backend);
        // Past the contract's last day: overdue too; the page and the list say so.
        app.clock.advance(Duration::days(91));
        assert_eq!(warn(&app).await, 1, "{}", app.backend);
        assert_eq!(alerts(&app, RECORD_OVERDUE, "保守契約").await, 1, "{}", app.backend);
        let (o, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let list = o.get("/records").await.body;
        let (a, b) = (list.find("バックアップ").unwrap(), list.find("保守契約").unwrap());
        assert!(a < b && list.contains("期日を過ぎています"), "{}: sorted by date", app.backend);
        // A new test date clears it: nothing more to warn.
        let backup = app.store.records(sys).await.unwrap().into_iter().find(|r| r.kind == RecordKind::Backup).unwrap();
        let (v2, _) = app.signed_in("vendor-a2", Role::Vendor, Some(vendor)).await;
        let now = app.now().to_offset(mamori_core::jst::JST).date().to_string();
        let r = v2
            .save_record(
                sys,
                backup.id,
                &[("kind", "backup"), ("frequency", "毎日"), ("generations", "7"), ("last_restore_test", &now)],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        assert_eq!(warn(&app).await, 0, "{}", app.backend);
        app.close().await;
    }
}

/// The department and the vendor both change one record from pages opened
/// before either saved (a contract's end date): the second save replaced
/// the first unseen. Now exactly one of two saves at once lands; the other
/// saves nothing, keeps what was typed and says so; saving from that page
/// replaces it knowingly. A save without its revision saves nothing.
#[tokio::test]
async fn a_record_changed_meanwhile_is_not_replaced_unseen() {
    for app in App::each(Options::default()).await {
        let crate::checklist::Cast { sys, v, d, .. } = crate::checklist::cast(&app).await;
        let contract = [("scope", "both"), ("vendor", "保守ベンダー株式会社"), ("ends", "2027-03-31")];
        assert_eq!(add(&v, sys, "contract", &contract).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let rid = app.store.records(sys).await.unwrap()[0].id;
        let page = format!("/systems/{sys}/records/{rid}");
        let seen = crate::harness::hidden_in(&v.get(&page).await.body, "revision");
        assert_eq!(seen, crate::harness::hidden_in(&d.get(&page).await.body, "revision"));
        let save = async |c: &Client, ends: &str, revision: &str| {
            let fields = [("kind", "contract"), ("scope", "both"), ("vendor", "保守ベンダー株式会社"), ("ends", ends)];
            let mut form = fields.to_vec();
            if !revision.is_empty() {
                form.push(("revision", revision));
            }
            c.post(&page, &form).await
        };
        let (rv, rd) = tokio::join!(save(&v, "2028-03-31", &seen), save(&d, "2029-03-31", &seen));
        let first_landed =
            crate::harness::first_of_two_landed(&rv, &rd, app.backend, "他の人が変更したため、保存していません");
        let (kept, lost, typed, loser) =
            if first_landed { ("2028-03-31", &rd, "2029-03-31", &d) } else { ("2029-03-31", &rv, "2028-03-31", &v) };
        assert!(lost.body.contains(&format!("value=\"{typed}\"")), "{}: what was typed is kept", app.backend);
        let ends = async || app.store.records(sys).await.unwrap()[0].values.get("ends").to_owned();
        assert_eq!(ends().await, kept, "{}", app.backend);
        assert_eq!(app.store.records(sys).await.unwrap()[0].revision, seen.parse::<i64>().unwrap() + 1);

        // Without the revision, nothing is saved either.
        assert_eq!(save(&v, "2030-03-31", "").await.status, StatusCode::OK, "{}", app.backend);
        assert_eq!(ends().await, kept, "{}", app.backend);

        // The refused page carries the revision now current.
        let r = save(loser, typed, &crate::harness::hidden_in(&lost.body, "revision")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        assert_eq!(ends().await, typed, "{}", app.backend);
        app.close().await;
    }
}

/// A record's date is marked as warned and its alert raised in one
/// transaction. Before, the mark came first and the alert after, each on
/// its own: an alert that could not be written (here a trigger refuses
/// it) left the record marked, and the daily check never warned again.
/// Now the check fails, nothing is marked, and the next run raises it.
#[tokio::test]
async fn a_warning_that_cannot_be_raised_leaves_its_record_to_warn_again() {
    for app in App::each(Options::default()).await {
        let (sys, v) = crate::checklist::supplied_system(&app, "文書管理システム").await;
        let ends = (app.now().to_offset(mamori_core::jst::JST).date() + Duration::days(10)).to_string();
        let contract = [("scope", "both"), ("vendor", "保守ベンダー"), ("ends", ends.as_str())];
        assert_eq!(add(&v, sys, "contract", &contract).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let block: &[&str] = if app.backend == "sqlite" {
            &["CREATE TRIGGER block_alerts BEFORE INSERT ON alert BEGIN SELECT RAISE(ABORT, 'blocked'); END"]
        } else {
            &[
                "CREATE FUNCTION block_alerts() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'blocked'; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER block_alerts BEFORE INSERT ON alert FOR EACH ROW EXECUTE FUNCTION block_alerts()",
            ]
        };
        for sql in block {
            app.store.execute_unchecked_for_tests(sql).await.unwrap();
        }
        assert!(mamori_app::records::warn_records(&app.store, app.now()).await.is_err(), "{}", app.backend);
        let unwarned = app.store.records(sys).await.unwrap().iter().all(|r| r.warned.is_none());
        assert!(unwarned, "{}: nothing marked without its alert", app.backend);
        let unblock =
            if app.backend == "sqlite" { "DROP TRIGGER block_alerts" } else { "DROP TRIGGER block_alerts ON alert" };
        app.store.execute_unchecked_for_tests(unblock).await.unwrap();
        assert_eq!(mamori_app::records::warn_records(&app.store, app.now()).await.unwrap(), 1, "{}", app.backend);
        let raised = app.store.alerts(true).await.unwrap().into_iter().filter(|a| a.kind == RECORD_DUE_SOON).count();
        assert_eq!(raised, 1, "{}: raised on the next run", app.backend);
        app.close().await;
    }
}

/// Several parties keep a system's records: a vendor changes or removes
/// only its own organisation's, the department that owns the system any of
/// them. The maintenance vendor could change and remove the builder's and
/// the department's records (any keeper could any record); now it is not
/// offered them, and is answered as for an unknown record, nothing changed,
/// when it asks anyway.
#[tokio::test]
async fn a_vendor_changes_and_removes_only_its_own_organisation_s_records_and_the_department_any_of_its_system_s() {
    for app in App::each(Options::default()).await {
        let backend = app.backend;
        let crate::checklist::Cast { sys, v, d, .. } = crate::checklist::cast(&app).await;
        let maintenance = app.org("保守ベンダーC", OrgKind::Vendor).await;
        let before = app.store.system(sys).await.unwrap().unwrap();
        let input = mamori_store::systems::SystemInput { maintenance_id: Some(maintenance), ..before.input.clone() };
        app.store.update_system(&app.ctx(), sys, &input).await.unwrap();
        let (m, _) = app.signed_in("vendor-c", Role::Vendor, Some(maintenance)).await;

        let contract = [("scope", "both"), ("vendor", "ベンダーA"), ("starts", "2026-04-01"), ("ends", "2027-03-31")];
        assert_eq!(add(&v, sys, "contract", &contract).await.status, StatusCode::SEE_OTHER, "{backend}");
        let domain =
            [("domain", "docs.example.lg.jp"), ("registrar", "JPRS"), ("expires", "2027-06-30"), ("retired", "no")];
        assert_eq!(add(&d, sys, "domain", &domain).await.status, StatusCode::SEE_OTHER, "{backend}");
        let backup = [("frequency", "毎日"), ("generations", "7"), ("last_restore_test", "2026-10-01")];
        assert_eq!(add(&m, sys, "backup", &backup).await.status, StatusCode::SEE_OTHER, "{backend}");
        let id_of = |kind: RecordKind| {
            let store = app.store.clone();
            async move { store.records(sys).await.unwrap().into_iter().find(|r| r.kind == kind).unwrap().id }
        };
        let (builders, departments, own) =
            (id_of(RecordKind::Contract).await, id_of(RecordKind::Domain).await, id_of(RecordKind::Backup).await);
        let edit = |rid: i64| format!("href=\"/systems/{sys}/records/{rid}\"");

        let page = m.get(&format!("/systems/{sys}/records")).await.body;
        assert!(page.contains(&edit(own)), "{backend}: its own offered to change");
        assert!(!page.contains(&edit(builders)) && !page.contains(&edit(departments)), "{backend}: no other's");
        let records = app.store.records(sys).await.unwrap();
        for (rid, kind, fields) in [(builders, "contract", &contract[..]), (departments, "domain", &domain[..])] {
            assert_eq!(
                m.get(&format!("/systems/{sys}/records/{rid}")).await.status,
                StatusCode::NOT_FOUND,
                "{backend}"
            );
            m.get(&format!("/systems/{sys}/records")).await;
            let mut form = vec![("kind", kind), ("revision", "1")];
            form.extend_from_slice(fields);
            form[3].1 = "書き換え";
            let r = m.post(&format!("/systems/{sys}/records/{rid}"), &form).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{backend}: {kind} changed by another vendor: {}", r.body);
            let r = m.post(&format!("/systems/{sys}/records/{rid}"), &[("kind", kind), ("revision", "1")]).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{backend}: {kind}: not even the form's problems shown");
            let r = m.post(&format!("/systems/{sys}/records/{rid}/remove"), &[]).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{backend}: {kind} removed by another vendor");
        }
        assert_eq!(app.store.records(sys).await.unwrap(), records, "{backend}: nothing changed");
        let saves = app.audit_actions().await.iter().filter(|a| *a == "record.saved").count();
        assert_eq!(saves, 3, "{backend}: no event but the three adds");

        // Its own, it changes; the builder may not change the department's;
        // the department changes the builder's.
        let mut changed = vec![("kind", "backup")];
        changed.extend([("frequency", "毎週"), ("generations", "4"), ("last_restore_test", "2026-10-01")]);
        assert_eq!(m.save_record(sys, own, &changed).await.status, StatusCode::SEE_OTHER, "{backend}");
        let mut renamed = vec![("kind", "domain")];
        renamed.extend([
            ("domain", "x.example.lg.jp"),
            ("registrar", "JPRS"),
            ("expires", "2027-06-30"),
            ("retired", "no"),
        ]);
        assert_eq!(v.save_record(sys, departments, &renamed).await.status, StatusCode::NOT_FOUND, "{backend}");
        let mut moved = vec![("kind", "contract")];
        moved.extend([("scope", "software"), ("vendor", "ベンダーA"), ("ends", "2028-03-31")]);
        assert_eq!(d.save_record(sys, builders, &moved).await.status, StatusCode::SEE_OTHER, "{backend}");
        let after = app.store.records(sys).await.unwrap();
        let value = |rid: i64, field: &str| after.iter().find(|r| r.id == rid).unwrap().values.get(field).to_owned();
        assert_eq!(value(own, "frequency"), "毎週", "{backend}");
        assert_eq!(value(departments, "domain"), "docs.example.lg.jp", "{backend}");
        assert_eq!(value(builders, "scope"), "software", "{backend}");
        app.close().await;
    }
}
