//! A system's software inventory (items 62, 68): kept by those who answer
//! the system, imported from and exported to sheets, its support ends
//! filled from the release data the office imports, warned about on the
//! day they come near and the day they pass, and invisible to any other
//! vendor.

use crate::checklist::system;
use crate::harness::{App, Client, Options, Res};
use mamori_core::identity::{OrgKind, Role};
use mamori_core::monitoring::{SUPPORT_ENDED, SUPPORT_ENDING};
use reqwest::StatusCode;
use time::Duration;

async fn add(c: &Client, sys: i64, fields: &[(&str, &str)]) -> Res {
    c.get(&format!("/systems/{sys}/inventory")).await;
    c.post(&format!("/systems/{sys}/inventory"), fields).await
}

async fn import(c: &Client, sys: i64, name: &str, bytes: &[u8]) -> Res {
    let page = format!("/systems/{sys}/inventory");
    c.post_file(&page, &format!("/systems/{sys}/inventory/import"), name, bytes.to_vec()).await
}

/// A department's system that ベンダーA answers, with that vendor and the
/// security officer signed in.
async fn vendors_system(app: &App) -> (i64, Client, Client) {
    let dept = app.org("総務課", OrgKind::Department).await;
    let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
    let sys = system(app, dept, Some(vendor), "文書管理システム").await;
    let (v, _) = app.signed_in("vendor-a", Role::Vendor, Some(vendor)).await;
    let (o, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
    (sys, v, o)
}

async fn download(c: &Client, path: &str) -> (StatusCode, Vec<u8>) {
    let r = c.http.get(format!("{}{path}", c.base)).send().await.unwrap();
    (r.status(), r.bytes().await.unwrap().to_vec())
}

/// What the store lists for a system: (product, version, support end).
async fn listed(app: &App, sys: i64) -> Vec<(String, String, Option<String>)> {
    let mut v: Vec<_> = app
        .store
        .components(sys)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.input.product, c.input.version, c.input.support_end.map(|d| d.to_string())))
        .collect();
    v.sort();
    v
}

const SHEET: &str = "種別,製品,ベンダ,バージョン,稼働場所,CPE,サポート終了日,最新版でない理由\r\n\
OS,Ubuntu,Canonical,22.04.3,Web サーバ,cpe:2.3:o:canonical:ubuntu_linux:22.04:*:*:*:*:*:*:*,,\r\n\
ミドルウェア,nginx,F5,1.24.0,Web サーバ,,2025/4/23,保守契約の範囲で更新予定\r\n\
ライブラリ,jQuery,OpenJS,3.7.1,,,,\r\n";

#[tokio::test]
async fn those_who_answer_a_system_keep_its_inventory_through_forms_and_sheets_and_another_vendor_reaches_none_of_it() {
    for app in App::each(Options::default()).await {
        let crate::checklist::Cast { sys, dept, other, v, x, d, o, .. } = crate::checklist::cast(&app).await;

        // Hostile and missing fields: each named, nothing stored.
        let r = add(
            &v,
            sys,
            &[("kind", "firmware"), ("product", ""), ("version", "1\u{7}"), ("cpe", "nginx"), ("support_end", "来年")],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", app.backend);
        for field in ["kind", "product", "version", "cpe", "support_end"] {
            assert!(r.body.contains(&format!("href=\"#{field}\"")), "{}: {field} named: {}", app.backend, r.body);
        }
        assert!(listed(&app, sys).await.is_empty(), "{}", app.backend);

        // A component by the form; the same product on the same server again is refused.
        let fields = [
            ("kind", "middleware"),
            ("product", "<script>alert(1)</script>"),
            ("vendor", "F5"),
            ("version", "1.24.0"),
            ("runs_on", "Web サーバ"),
        ];
        let r = add(&v, sys, &fields).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let page = v.get(&format!("/systems/{sys}/inventory")).await.body;
        assert!(
            page.contains("&#60;script&#62;alert(1)&#60;/script&#62;") && !page.contains("<script>alert"),
            "{}: escaped",
            app.backend
        );
        let r = add(&v, sys, &fields).await;
        assert!(r.body.contains("既に登録されています"), "{}: {}", app.backend, r.status);
        assert_eq!(listed(&app, sys).await.len(), 1, "{}", app.backend);

        // A sheet with one bad row imports nothing and names the row.
        let bad = format!("{SHEET}OS,,,,,,,\r\nOS,CentOS,Red Hat,7,,,2024-02-30,\r\n");
        let r = import(&v, sys, "inventory.csv", bad.as_bytes()).await;
        assert!(
            r.body.contains("5行目 製品") && r.body.contains("6行目 サポート終了日"),
            "{}: {}",
            app.backend,
            r.body
        );
        assert_eq!(listed(&app, sys).await.len(), 1, "{}: nothing imported", app.backend);

        // The sheet in Shift_JIS, as Excel saves it: three rows, added.
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(SHEET);
        let r = import(&v, sys, "構成.csv", &sjis).await;
        assert!(r.body.contains("追加 3 件、更新 0 件、変更なし 0 件"), "{}: {}", app.backend, r.body);
        // Once more, with nginx upgraded: one update, the rest unchanged.
        let again = SHEET.replace("1.24.0", "1.26.2");
        let r = import(&v, sys, "構成.csv", again.as_bytes()).await;
        assert!(r.body.contains("追加 0 件、更新 1 件、変更なし 2 件"), "{}: {}", app.backend, r.body);
        let l = listed(&app, sys).await;
        assert_eq!(l.len(), 4, "{}: {l:?}", app.backend);
        assert!(l.contains(&("nginx".into(), "1.26.2".into(), Some("2025-04-23".into()))), "{}: {l:?}", app.backend);

        // Exported, the sheet reads back as it is stored, in both forms.
        for path in [format!("/systems/{sys}/inventory.csv"), format!("/systems/{sys}/inventory.xlsx")] {
            let (status, bytes) = download(&d, &path).await;
            assert_eq!(status, StatusCode::OK, "{}: {path}", app.backend);
            let rows = mamori_files::inventory::read(&bytes).unwrap();
            assert_eq!(rows.len(), 4, "{}: {path}", app.backend);
            assert!(rows.iter().any(|r| r.get("product") == "nginx" && r.get("support_end") == "2025-04-23"));
            let r = import(&v, sys, "back.xlsx", &bytes).await;
            assert!(
                r.body.contains("追加 0 件、更新 0 件、変更なし 4 件"),
                "{}: {path} imports back unchanged: {}",
                app.backend,
                r.body
            );
        }

        // Items 62, 63 and 68 point to it; others do not.
        for (n, points) in [(62, true), (63, true), (68, true), (61, false)] {
            let item = v.get(&format!("/systems/{sys}/items/{n}")).await.body;
            assert_eq!(item.contains(&format!("/systems/{sys}/inventory\"")), points, "{}: No.{n}", app.backend);
        }

        // The department keeps it too; the officer sees it and changes nothing.
        let nginx = app.store.components(sys).await.unwrap().into_iter().find(|c| c.input.product == "nginx").unwrap();
        let r = d
            .save_component(
                sys,
                nginx.id,
                &[
                    ("kind", "middleware"),
                    ("product", "nginx"),
                    ("vendor", "F5"),
                    ("version", "1.26.3"),
                    ("runs_on", "Web サーバ"),
                    ("support_end", "2026-04-30"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        assert!(o.get(&format!("/systems/{sys}/inventory")).await.body.contains("1.26.3"), "{}", app.backend);
        assert!(
            !o.get(&format!("/systems/{sys}/inventory")).await.body.contains("/inventory/import"),
            "{}",
            app.backend
        );
        assert_eq!(
            add(&o, sys, &fields).await.status,
            StatusCode::NOT_FOUND,
            "{}: the officer answers nothing",
            app.backend
        );

        // Another vendor: every route of it is as unknown, and nothing changes.
        let before = listed(&app, sys).await;
        let counts = async || {
            let actions = app.audit_actions().await;
            let refused = actions.iter().filter(|a| *a == "access.denied").count();
            (actions.len() - refused, refused)
        };
        let (done, refused) = counts().await;
        assert_eq!(x.get(&format!("/systems/{sys}/inventory")).await.status, StatusCode::NOT_FOUND, "{}", app.backend);
        assert_eq!(x.get(&format!("/systems/{sys}/inventory/{}", nginx.id)).await.status, StatusCode::NOT_FOUND);
        for path in [format!("/systems/{sys}/inventory.csv"), format!("/systems/{sys}/inventory.xlsx")] {
            assert_eq!(download(&x, &path).await.0, StatusCode::NOT_FOUND, "{}: {path}", app.backend);
        }
        x.get("/dashboard").await;
        let r = x.post(&format!("/systems/{sys}/inventory"), &fields).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", app.backend);
        let r = x.post(&format!("/systems/{sys}/inventory/{}", nginx.id), &fields).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", app.backend);
        let r = x.post(&format!("/systems/{sys}/inventory/{}/remove", nginx.id), &[]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", app.backend);
        let r = import(&x, sys, "x.csv", SHEET.as_bytes()).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", app.backend);
        assert!(!x.get("/inventory").await.body.contains("nginx"), "{}: not in its support list", app.backend);
        assert_eq!(listed(&app, sys).await, before, "{}", app.backend);
        let after = counts().await;
        assert_eq!(after.0, done, "{}: nothing recorded as done", app.backend);
        // Nine requests answered "not found" (the import opens the page first).
        assert_eq!(after.1, refused + 9, "{}: each reach recorded as refused", app.backend);
        // The vendor's own component in another system cannot be reached through this one.
        let x_sys = system(&app, dept, Some(other), "他社システム").await;
        let r = x.post(&format!("/systems/{x_sys}/inventory/{}", nginx.id), &fields).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}: a component of another system", app.backend);

        // Removed by its vendor; every change is in the audit log.
        v.get(&format!("/systems/{sys}/inventory/{}", nginx.id)).await;
        let r = v.post(&format!("/systems/{sys}/inventory/{}/remove", nginx.id), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        assert_eq!(listed(&app, sys).await.len(), 3, "{}", app.backend);
        let actions = app.audit_actions().await;
        for a in ["component.saved", "component.removed", "inventory.imported", "inventory.exported"] {
            assert!(actions.contains(&a.to_owned()), "{}: {a}", app.backend);
        }
        app.close().await;
    }
}

/// endoflife.date's data for a product (API v1), with `cycles` of
/// (name, last day of support).
fn release_data(name: &str, label: &str, cycles: &[(&str, &str)]) -> String {
    let releases: Vec<String> = cycles
        .iter()
        .map(|(c, eol)| format!(r#"{{"name":"{c}","releaseDate":"2020-01-01","isEol":false,"eolFrom":"{eol}","latest":{{"name":"{c}.9"}}}}"#))
        .collect();
    format!(
        r#"{{"schema_version":"1.2.0","result":{{"name":"{name}","label":"{label}","aliases":[],"identifiers":[{{"type":"cpe","id":"cpe:/o:canonical:ubuntu_linux"}}],"releases":[{}]}}}}"#,
        releases.join(",")
    )
}

async fn import_feed(c: &Client, name: &str, bytes: &[u8]) -> Res {
    c.post_file("/feeds", "/feeds", name, bytes.to_vec()).await
}

#[tokio::test]
async fn release_data_the_office_imports_fills_support_ends_by_cycle_and_a_date_the_person_gives_wins() {
    for app in App::each(Options::default()).await {
        let (sys, v, o) = vendors_system(&app).await;
        for f in [
            [
                ("kind", "os"),
                ("product", "Ubuntu Server"),
                ("version", "22.04.3"),
                ("cpe", "cpe:/o:canonical:ubuntu_linux:22.04"),
            ],
            [("kind", "os"), ("product", "ubuntu"), ("version", "22.10"), ("cpe", "")],
            [("kind", "middleware"), ("product", "nginx"), ("version", "1.2.9"), ("cpe", "")],
            [("kind", "middleware"), ("product", "Nginx"), ("version", "1.20.1"), ("cpe", "")],
        ] {
            let mut fields = f.to_vec();
            fields.push(("runs_on", f[2].1));
            assert_eq!(add(&v, sys, &fields).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        }
        // A date the vendor gives for one of them.
        let r = add(
            &v,
            sys,
            &[
                ("kind", "os"),
                ("product", "Ubuntu"),
                ("version", "20.04.6"),
                ("runs_on", "db"),
                ("support_end", "2030-04-30"),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);

        // The vendor cannot reach the office's import.
        assert_eq!(v.get("/feeds").await.status, StatusCode::NOT_FOUND, "{}", app.backend);
        // A file that is not release data: refused with a reason, nothing recorded.
        let r = import_feed(&o, "feed.json", br#"{"vulnerabilities":[]}"#).await;
        assert!(r.body.contains("対応していない形式"), "{}: {}", app.backend, r.body);
        assert!(app.store.feed_imports(10).await.unwrap().is_empty(), "{}", app.backend);

        let ubuntu = release_data(
            "ubuntu",
            "Ubuntu",
            &[("22.04", "2027-06-01"), ("22.10", "2023-07-20"), ("20.04", "2025-05-31")],
        );
        let r = import_feed(&o, "ubuntu.json", ubuntu.as_bytes()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        // The older per-product form, named after its product; 1.2 and 1.20 are different cycles.
        let nginx = br#"[{"cycle":"1.20","eol":"2022-05-24","latest":"1.20.2"},{"cycle":"1.2","eol":"2013-04-01","latest":"1.2.9"},{"cycle":"1.27","eol":false}]"#;
        let r = import_feed(&o, "nginx.json", nginx).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);

        let l = listed(&app, sys).await;
        let end = |p: &str, ver: &str| l.iter().find(|(a, b, _)| a == p && b == ver).unwrap().2.clone();
        assert_eq!(end("Ubuntu Server", "22.04.3").as_deref(), Some("2027-06-01"), "{}: by its CPE", app.backend);
        assert_eq!(end("ubuntu", "22.10").as_deref(), Some("2023-07-20"), "{}: by its name", app.backend);
        assert_eq!(end("nginx", "1.2.9").as_deref(), Some("2013-04-01"), "{}: cycle 1.2", app.backend);
        assert_eq!(end("Nginx", "1.20.1").as_deref(), Some("2022-05-24"), "{}: cycle 1.20", app.backend);
        assert_eq!(
            end("Ubuntu", "20.04.6").as_deref(),
            Some("2030-04-30"),
            "{}: the vendor's date stands",
            app.backend
        );
        let page = v.get(&format!("/systems/{sys}/inventory")).await.body;
        assert!(
            page.contains("参照データ") && page.contains("手入力") && page.contains("22.04.9"),
            "{}: source and latest shown",
            app.backend
        );

        // The same file again changes nothing and is recorded as such.
        import_feed(&o, "ubuntu.json", ubuntu.as_bytes()).await;
        assert_eq!(listed(&app, sys).await, l, "{}", app.backend);
        let imports = app.store.feed_imports(10).await.unwrap();
        assert_eq!(imports.len(), 3, "{}", app.backend);
        assert_eq!((imports[0].records, imports[0].changed), (3, 0), "{}: {:?}", app.backend, imports[0]);
        assert_eq!(
            (imports[1].records, imports[1].skipped),
            (3, 1),
            "{}: the cycle without an end date counted",
            app.backend
        );
        let page = o.get("/feeds").await.body;
        assert!(page.contains("endoflife.date") && page.contains("ubuntu.json"), "{}", app.backend);

        // New data moves a date that followed the data, never the person's.
        let moved = release_data("ubuntu", "Ubuntu", &[("22.04", "2027-04-01"), ("20.04", "2025-05-31")]);
        import_feed(&o, "ubuntu-2.json", moved.as_bytes()).await;
        let l = listed(&app, sys).await;
        let end = |p: &str, ver: &str| l.iter().find(|(a, b, _)| a == p && b == ver).unwrap().2.clone();
        assert_eq!(end("Ubuntu Server", "22.04.3").as_deref(), Some("2027-04-01"), "{}", app.backend);
        assert_eq!(end("ubuntu", "22.10"), None, "{}: its cycle is gone from the data", app.backend);
        assert_eq!(end("Ubuntu", "20.04.6").as_deref(), Some("2030-04-30"), "{}", app.backend);
        assert!(app.audit_actions().await.contains(&"feed.imported".to_owned()), "{}", app.backend);
        app.close().await;
    }
}

/// A sheet exported while the release data said one date and imported
/// back after newer data moved it: the old date was taken as the person's
/// own and pinned for good. A date left as the data gave it keeps
/// following the data; a date changed in the sheet is the person's.
#[tokio::test]
async fn a_sheet_brought_back_after_the_data_moved_a_date_follows_the_data_and_a_date_changed_in_it_is_the_person_s() {
    use mamori_core::inventory::SupportSource;
    use mamori_files::{export::CsvEncoding, inventory as sheet};
    for app in App::each(Options::default()).await {
        let (sys, v, o) = vendors_system(&app).await;
        let ubuntu = [
            ("kind", "os"),
            ("product", "Ubuntu Server"),
            ("version", "22.04.3"),
            ("runs_on", "web"),
            ("cpe", "cpe:/o:canonical:ubuntu_linux:22.04"),
        ];
        assert_eq!(add(&v, sys, &ubuntu).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let nginx =
            [("kind", "middleware"), ("product", "nginx"), ("version", "1.24.0"), ("support_end", "2030-04-30")];
        assert_eq!(add(&v, sys, &nginx).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let data = release_data("ubuntu", "Ubuntu", &[("22.04", "2027-06-01")]);
        assert_eq!(import_feed(&o, "ubuntu.json", data.as_bytes()).await.status, StatusCode::SEE_OTHER);

        // The exports carry the data's date beside the support end, where the date is the data's.
        let mut sheets = Vec::new();
        for path in [format!("/systems/{sys}/inventory.csv"), format!("/systems/{sys}/inventory.xlsx")] {
            let (status, bytes) = download(&v, &path).await;
            assert_eq!(status, StatusCode::OK, "{}: {path}", app.backend);
            let rows = sheet::read(&bytes).unwrap();
            let cells = |p: &str| {
                let r = rows.iter().find(|r| r.get("product") == p).unwrap();
                (r.get("support_end").to_owned(), r.get("data_end").to_owned())
            };
            assert_eq!(cells("Ubuntu Server"), ("2027-06-01".into(), "2027-06-01".into()), "{}: {path}", app.backend);
            assert_eq!(cells("nginx"), ("2030-04-30".into(), String::new()), "{}: {path}", app.backend);
            sheets.push((path, bytes, rows));
        }

        // Newer data moves the date; the old sheets come back, unchanged.
        let moved = release_data("ubuntu", "Ubuntu", &[("22.04", "2027-04-01")]);
        assert_eq!(import_feed(&o, "ubuntu-2.json", moved.as_bytes()).await.status, StatusCode::SEE_OTHER);
        for (path, bytes, _) in &sheets {
            let r = import(&v, sys, path.rsplit('/').next().unwrap(), bytes).await;
            assert!(r.body.contains("追加 0 件、更新 0 件、変更なし 2 件"), "{}: {path}: {}", app.backend, r.body);
            let kept = app.store.components(sys).await.unwrap();
            let of = |p: &str| {
                let c = kept.iter().find(|c| c.input.product == p).unwrap();
                (c.input.support_end.map(|d| d.to_string()), c.source)
            };
            assert_eq!(
                of("Ubuntu Server"),
                (Some("2027-04-01".into()), Some(SupportSource::Feed)),
                "{}: {path}: still the data's date",
                app.backend
            );
            assert_eq!(
                of("nginx"),
                (Some("2030-04-30".into()), Some(SupportSource::Manual)),
                "{}: {path}",
                app.backend
            );
        }

        // A date the person changes in the sheet is theirs, and stays when the data moves again.
        let (_, _, rows) = &sheets[0];
        let at = sheet::COLUMNS.iter().position(|(field, _, _)| *field == "support_end").unwrap();
        let edited: Vec<[String; sheet::WIDTH]> = rows
            .iter()
            .map(|r| {
                let mut cells = r.cells.clone();
                if r.get("product") == "Ubuntu Server" {
                    cells[at] = "2028-01-31".into();
                }
                cells
            })
            .collect();
        let r = import(&v, sys, "edited.csv", &sheet::csv(&edited, CsvEncoding::Utf8Bom)).await;
        assert!(r.body.contains("追加 0 件、更新 1 件、変更なし 1 件"), "{}: {}", app.backend, r.body);
        let again = release_data("ubuntu", "Ubuntu", &[("22.04", "2027-05-01")]);
        assert_eq!(import_feed(&o, "ubuntu-3.json", again.as_bytes()).await.status, StatusCode::SEE_OTHER);
        let c =
            app.store.components(sys).await.unwrap().into_iter().find(|c| c.input.product == "Ubuntu Server").unwrap();
        assert_eq!(
            (c.input.support_end.map(|d| d.to_string()), c.source),
            (Some("2028-01-31".into()), Some(SupportSource::Manual)),
            "{}",
            app.backend
        );
        app.close().await;
    }
}

#[tokio::test]
async fn each_support_warning_fires_on_its_date_once_with_an_injected_clock() {
    for app in App::each(Options::default()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let other = app.org("ベンダーB", OrgKind::Vendor).await;
        let sys = system(&app, dept, Some(vendor), "文書管理システム").await;
        let theirs = system(&app, dept, Some(other), "他社システム").await;
        let (v, _) = app.signed_in("vendor-a", Role::Vendor, Some(vendor)).await;
        let (x, _) = app.signed_in("vendor-b", Role::Vendor, Some(other)).await;
        app.signed_in("officer1", Role::SecurityOfficer, None).await;
        // Support ends 181 days after today (JST): the last day without a warning.
        let today = app.now().to_offset(mamori_core::jst::JST).date();
        let last_day = today + Duration::days(181);
        let fields = |product: &'static str, end: &'static str| {
            vec![("kind", "middleware"), ("product", product), ("version", "1.0"), ("support_end", end)]
        };
        // The other vendor's ends a day earlier: its steps come a day before.
        let (last_day, day_before) = (last_day.to_string(), (last_day - Duration::days(1)).to_string());
        let (last_day, day_before): (&'static str, &'static str) = (last_day.leak(), day_before.leak());
        assert_eq!(add(&v, sys, &fields("Tomcat", last_day)).await.status, StatusCode::SEE_OTHER);
        assert_eq!(add(&x, theirs, &fields("他社ミドルウェア", day_before)).await.status, StatusCode::SEE_OTHER);
        // Each look after the clock moved is by a person issued then: the
        // sessions and, months later, the passwords ran out.
        let issued = std::cell::Cell::new(0);
        let fresh = async |login: &str| {
            issued.set(issued.get() + 1);
            let (role, org) =
                if login == "officer1" { (Role::SecurityOfficer, None) } else { (Role::Vendor, Some(vendor)) };
            app.signed_in(&format!("{login}-{}", issued.get()), role, org).await.0
        };
        let warn = async |app: &App| mamori_app::inventory::warn_support(&app.store, app.now(), 180).await.unwrap();
        let alerts = async |app: &App, kind: &str| {
            app.store
                .alerts(false)
                .await
                .unwrap()
                .into_iter()
                .filter(|a| a.kind == kind && a.subject.contains("Tomcat"))
                .count()
        };

        // 181 days before: nothing.
        assert_eq!(warn(&app).await, 1, "{}: only the other system's, 180 days before its end", app.backend);
        assert_eq!(alerts(&app, SUPPORT_ENDING).await, 0, "{}", app.backend);
        let page = v.get(&format!("/systems/{sys}/inventory")).await.body;
        assert!(!page.contains("id=\"support-warning\"") && page.contains("サポート中"), "{}", app.backend);

        // 180 days before: warned on the page and alerted once, however often the check runs.
        app.clock.advance(Duration::days(1));
        let v = fresh("vendor-a").await;
        assert_eq!(warn(&app).await, 1, "{}", app.backend);
        assert_eq!(warn(&app).await, 0, "{}: not again", app.backend);
        assert_eq!(alerts(&app, SUPPORT_ENDING).await, 1, "{}", app.backend);
        let page = v.get(&format!("/systems/{sys}/inventory")).await.body;
        assert!(page.contains("id=\"support-warning\"") && page.contains("あと 180 日"), "{}", app.backend);
        let list = v.get("/inventory?state=ending").await.body;
        assert!(list.contains("Tomcat") && !list.contains("他社ミドルウェア"), "{}: its own systems only", app.backend);

        // The last day: still ending, no new alert for it (the other's ended yesterday).
        app.clock.advance(Duration::days(180));
        let v = fresh("vendor-a").await;
        assert_eq!(warn(&app).await, 1, "{}: the other's end", app.backend);
        assert_eq!(alerts(&app, SUPPORT_ENDED).await, 0, "{}", app.backend);
        assert!(v.get(&format!("/systems/{sys}/inventory")).await.body.contains("あと 0 日"), "{}", app.backend);

        // The day after: ended, a critical alert, once.
        app.clock.advance(Duration::days(1));
        let (v, o) = (fresh("vendor-a").await, fresh("officer1").await);
        assert_eq!(warn(&app).await, 1, "{}", app.backend);
        assert_eq!(warn(&app).await, 0, "{}", app.backend);
        assert_eq!(alerts(&app, SUPPORT_ENDED).await, 1, "{}", app.backend);
        let ended = app
            .store
            .alerts(false)
            .await
            .unwrap()
            .into_iter()
            .find(|a| a.kind == SUPPORT_ENDED && a.subject.contains("Tomcat"))
            .unwrap();
        assert_eq!(ended.severity, "critical", "{}", app.backend);
        let page = v.get(&format!("/systems/{sys}/inventory")).await.body;
        assert!(page.contains("サポート終了: 1 件"), "{}", app.backend);
        // The office's list has both systems, soonest end first.
        let list = o.get("/inventory?state=ended").await.body;
        let (a, b) = (list.find("他社ミドルウェア").unwrap(), list.find("Tomcat").unwrap());
        assert!(a < b, "{}: sorted by date", app.backend);
        assert!(o.get("/alerts").await.body.contains("ソフトウェアのサポート終了"), "{}", app.backend);

        // A new date (an extended support contract) is alerted afresh when it nears.
        let tomcat = app.store.components(sys).await.unwrap()[0].id;
        let soon = app.now().to_offset(mamori_core::jst::JST).date() + Duration::days(30);
        let r = v.save_component(sys, tomcat, &fields("Tomcat", soon.to_string().leak())).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        assert_eq!(warn(&app).await, 1, "{}: ending again, for the new date", app.backend);
        app.close().await;
    }
}

/// A retired (廃止) system's software raises no alert: its support's end
/// and an advisory naming it were alerted to the office as those of a
/// system in use were, about servers disposed of with item 79's record,
/// and headed the office's lists across systems.
#[tokio::test]
async fn a_retired_system_s_software_raises_no_support_or_advisory_alert_and_leaves_the_lists_across_systems() {
    use mamori_core::monitoring::VULN_MATCHED;
    for app in App::each(Options::default()).await {
        let (live, v, o) = vendors_system(&app).await;
        let before = app.store.system(live).await.unwrap().unwrap();
        let retired = mamori_store::systems::SystemInput {
            name: "廃止済みシステム".into(),
            phase: mamori_core::checklist::Phase::Retired,
            ..before.input.clone()
        };
        let version = app.store.catalog_versions().await.unwrap()[0].id;
        let gone = app.store.create_system(&app.ctx(), &retired, version).await.unwrap();
        let fields = mamori_core::inventory::ComponentFields {
            kind: "middleware",
            product: "nginx",
            version: "1.24.0",
            support_end: "2020-01-31",
            ..Default::default()
        };
        let nginx = mamori_core::inventory::ComponentInput::parse(&fields).unwrap();
        for sys in [live, gone] {
            app.store.save_component(&app.ctx(), sys, None, &nginx).await.unwrap();
        }
        let subjects = async |kind: &str| -> Vec<String> {
            let all = app.store.alerts(false).await.unwrap();
            all.into_iter().filter(|a| a.kind == kind).map(|a| a.subject).collect()
        };

        let warned = mamori_app::inventory::warn_support(&app.store, app.now(), 180).await.unwrap();
        assert_eq!(warned, 1, "{}", app.backend);
        let ended = subjects(SUPPORT_ENDED).await;
        assert_eq!(ended, ["文書管理システム: nginx 1.24.0 ()"], "{}", app.backend);

        let r = import_feed(&o, "nvd.json", nvd("2024-01-01T00:00:00.000").as_bytes()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        assert_eq!(matched(&app, gone).await.len(), 1, "{}: matched, as recorded data", app.backend);
        let found = subjects(VULN_MATCHED).await;
        assert_eq!(found, ["文書管理システム: nginx 1.24.0: CVE-2023-44487"], "{}", app.backend);
        assert_eq!(mamori_app::inventory::alert_matches(&app.store, app.now()).await.unwrap(), 0, "{}", app.backend);
        assert_eq!(subjects(VULN_MATCHED).await.len(), 1, "{}: the daily check raises none", app.backend);
        // The lists across systems leave it out; its own inventory page shows it.
        for list in ["/vulns", "/inventory?state=ended"] {
            let page = o.get(list).await.body;
            assert!(page.contains("文書管理システム") && !page.contains("廃止済みシステム"), "{}: {list}", app.backend);
        }
        let own = o.get(&format!("/systems/{gone}/inventory")).await.body;
        assert!(own.contains("CVE-2023-44487") && own.contains("サポート終了"), "{}", app.backend);
        // The lists across systems read a vendor's systems only: its own
        // match, and nothing of another's.
        let other = app.org("ベンダーX", OrgKind::Vendor).await;
        let (x, _) = app.signed_in("vendor-x", Role::Vendor, Some(other)).await;
        for list in ["/vulns", "/inventory?state=ended"] {
            assert!(v.get(list).await.body.contains("文書管理システム"), "{}: {list}", app.backend);
            assert!(!x.get(list).await.body.contains("文書管理システム"), "{}: {list}", app.backend);
        }
        app.close().await;
    }
}

/// NVD's answer for one CVE: nginx before 1.25.3 (excluded), Apache HTTP
/// Server 2.4.57 exactly; `modified` as NVD dates its last change.
fn nvd(modified: &str) -> String {
    format!(
        r#"{{"format":"NVD_CVE","version":"2.0","vulnerabilities":[{{"cve":{{"id":"CVE-2023-44487","lastModified":"{modified}",
        "descriptions":[{{"lang":"en","value":"HTTP/2 rapid reset <script>alert(1)</script>"}}],
        "metrics":{{"cvssMetricV31":[{{"cvssData":{{"baseScore":7.5}}}}]}},
        "configurations":[{{"nodes":[{{"cpeMatch":[
          {{"vulnerable":true,"criteria":"cpe:2.3:a:f5:nginx:*:*:*:*:*:*:*:*","versionStartIncluding":"1.9.5","versionEndExcluding":"1.25.3"}},
          {{"vulnerable":true,"criteria":"cpe:2.3:a:apache:http_server:2.4.57:*:*:*:*:*:*:*"}}]}}]}}]}}}}]}}"#
    )
}

const JVN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns="http://purl.org/rss/1.0/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:sec="http://jvn.jp/rss/mod_sec/3.0/" xmlns:dcterms="http://purl.org/dc/terms/">
<item rdf:about="https://jvndb.jvn.jp/ja/contents/2023/JVNDB-2023-019153.html">
<title>複数の HTTP/2 実装に DoS の脆弱性</title>
<link>https://jvndb.jvn.jp/ja/contents/2023/JVNDB-2023-019153.html</link>
<sec:identifier>JVNDB-2023-019153</sec:identifier>
<sec:references source="NVD" id="CVE-2023-44487">https://nvd.nist.gov/vuln/detail/CVE-2023-44487</sec:references>
<sec:cpe version="2.2" vendor="F5" product="nginx">cpe:/a:f5:nginx</sec:cpe>
<sec:cvss score="9.8" severity="Critical" version="3.0" type="Base"/>
<dcterms:modified>2024-01-10T17:43+09:00</dcterms:modified>
</item>
</rdf:RDF>"#;

/// (advisory, product, version) of each match of the system.
async fn matched(app: &App, sys: i64) -> Vec<(String, String, String)> {
    let mut v: Vec<_> =
        app.store.vuln_matches(Some(sys)).await.unwrap().into_iter().map(|m| (m.ident, m.product, m.version)).collect();
    v.sort();
    v
}

#[tokio::test]
async fn advisories_from_nvd_and_jvn_match_by_cpe_and_version_range_once_and_those_who_keep_the_system_record_what_was_done(
) {
    for app in App::each(Options::default()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let other = app.org("ベンダーB", OrgKind::Vendor).await;
        let sys = system(&app, dept, Some(vendor), "文書管理システム").await;
        let (v, _) = app.signed_in("vendor-a", Role::Vendor, Some(vendor)).await;
        let (x, _) = app.signed_in("vendor-b", Role::Vendor, Some(other)).await;
        let (o, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        // The last version before the fix by CPE, the fixed one by name; the
        // one Apache version the advisory names by its whole name, and the next.
        for f in [
            [
                ("product", "nginx"),
                ("vendor", "F5"),
                ("version", "1.25.2"),
                ("runs_on", "web01"),
                ("cpe", "cpe:2.3:a:f5:nginx:1.25.2:*:*:*:*:*:*:*"),
            ],
            [("product", "nginx"), ("vendor", "F5"), ("version", "1.25.3"), ("runs_on", "web02"), ("cpe", "")],
            [
                ("product", "Apache HTTP Server"),
                ("vendor", "Apache"),
                ("version", "2.4.57"),
                ("runs_on", "web03"),
                ("cpe", ""),
            ],
            [
                ("product", "Apache HTTP Server"),
                ("vendor", "Apache"),
                ("version", "2.4.58"),
                ("runs_on", "web04"),
                ("cpe", ""),
            ],
        ] {
            assert_eq!(add(&v, sys, &f).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        }
        let alerts = async |app: &App| {
            app.store
                .alerts(false)
                .await
                .unwrap()
                .into_iter()
                .filter(|a| a.kind == mamori_core::monitoring::VULN_MATCHED)
                .collect::<Vec<_>>()
        };

        let r = import_feed(&o, "nvdcve.json", nvd("2025-01-01T00:00:00.000").as_bytes()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let cve = "CVE-2023-44487".to_owned();
        assert_eq!(
            matched(&app, sys).await,
            [
                (cve.clone(), "Apache HTTP Server".into(), "2.4.57".into()),
                (cve.clone(), "nginx".into(), "1.25.2".into())
            ],
            "{}: 1.25.3 is where the range ends, 2.4.58 is not named",
            app.backend
        );
        assert_eq!(alerts(&app).await.len(), 2, "{}: one alert per new match", app.backend);

        // The same file again: nothing new.
        import_feed(&o, "nvdcve.json", nvd("2025-01-01T00:00:00.000").as_bytes()).await;
        assert_eq!(matched(&app, sys).await.len(), 2, "{}", app.backend);
        assert_eq!(alerts(&app).await.len(), 2, "{}: no alert again", app.backend);
        let imports = app.store.feed_imports(1).await.unwrap();
        assert_eq!(
            (imports[0].kind.as_str(), imports[0].changed, imports[0].skipped),
            ("nvd", 0, 1),
            "{}",
            app.backend
        );

        // JVN's overview names nginx without versions: both nginx, to be checked.
        let r = import_feed(&o, "jvndb.rdf", JVN.as_bytes()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let jvn: Vec<_> = matched(&app, sys).await.into_iter().filter(|m| m.0.starts_with("JVNDB")).collect();
        assert_eq!(jvn.len(), 2, "{}: {jvn:?}", app.backend);
        let critical = alerts(&app).await.into_iter().filter(|a| a.severity == "critical").count();
        assert_eq!(critical, 2, "{}: CVSS 9.8 is critical", app.backend);

        let page = v.get(&format!("/systems/{sys}/inventory")).await.body;
        assert!(
            page.contains("JVNDB-2023-019153")
                && page.contains("バージョンは要確認")
                && page.contains("CPE とバージョンで一致"),
            "{}",
            app.backend
        );
        assert!(
            page.contains("&#60;script&#62;") && !page.contains("<script>alert"),
            "{}: the advisory's text escaped",
            app.backend
        );

        // The vendor records that Apache is not affected: a reason is required.
        let apache = app
            .store
            .vuln_matches(Some(sys))
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.product.starts_with("Apache"))
            .unwrap();
        let decide = format!("/systems/{sys}/vulns/{}", apache.id);
        let r = v.post(&decide, &[("state", "not_affected"), ("reason", "  "), ("seen", "0")]).await;
        assert!(r.body.contains("理由"), "{}: {}", app.backend, r.status);
        let r = v.post(&decide, &[("state", "gone"), ("reason", "x"), ("seen", "0")]).await;
        assert!(r.body.contains("対応状況を選んでください"), "{}", app.backend);
        let r =
            v.post(&decide, &[("state", "not_affected"), ("reason", "HTTP/2 は無効にしている"), ("seen", "0")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        // A form from a page shown before that decision changes nothing: it
        // would have overwritten the decision unseen.
        let r = v.post(&decide, &[("state", "fixed"), ("reason", "古い画面から"), ("seen", "0")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let page = v.get(r.location()).await.body;
        assert!(page.contains("他の利用者が先に状況を変更しました"), "{}: {page}", app.backend);
        // Another vendor can neither decide nor see it.
        x.get("/dashboard").await;
        assert_eq!(
            x.post(&decide, &[("state", "fixed"), ("reason", "x"), ("seen", "0")]).await.status,
            StatusCode::NOT_FOUND,
            "{}",
            app.backend
        );
        assert!(!x.get("/vulns?state=all").await.body.contains("CVE-2023-44487"), "{}", app.backend);
        let decided = app.store.vuln_matches(Some(sys)).await.unwrap().into_iter().find(|m| m.id == apache.id).unwrap();
        assert_eq!(
            (decided.state, decided.reason.as_str()),
            (mamori_core::vulns::MatchState::NotAffected, "HTTP/2 は無効にしている"),
            "{}",
            app.backend
        );
        assert!(app.audit_actions().await.contains(&"vuln.decided".to_owned()), "{}", app.backend);

        // Upgraded past the range: the open NVD match goes, JVN's stays to be checked.
        let nginx = app.store.components(sys).await.unwrap().into_iter().find(|c| c.input.runs_on == "web01").unwrap();
        let r = v
            .save_component(
                sys,
                nginx.id,
                &[
                    ("kind", "middleware"),
                    ("product", "nginx"),
                    ("vendor", "F5"),
                    ("version", "1.25.3"),
                    ("runs_on", "web01"),
                    ("cpe", "cpe:2.3:a:f5:nginx:1.25.3:*:*:*:*:*:*:*"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let now: Vec<_> = matched(&app, sys).await;
        assert!(!now.contains(&(cve.clone(), "nginx".into(), "1.25.3".into())), "{}: {now:?}", app.backend);
        assert_eq!(now.iter().filter(|m| m.0.starts_with("JVNDB")).count(), 2, "{}", app.backend);

        // A changed advisory (NVD moved its date) is taken again; the decision stays.
        import_feed(&o, "nvdcve.json", nvd("2025-02-01T00:00:00.000").as_bytes()).await;
        assert_eq!(app.store.feed_imports(1).await.unwrap()[0].changed, 1, "{}", app.backend);
        let kept = app.store.vuln_matches(Some(sys)).await.unwrap().into_iter().find(|m| m.id == apache.id).unwrap();
        assert_eq!(kept.state, mamori_core::vulns::MatchState::NotAffected, "{}", app.backend);
        let list = o.get("/vulns").await.body;
        assert!(
            list.contains("JVNDB-2023-019153") && !list.contains("HTTP/2 は無効にしている"),
            "{}: open only by default",
            app.backend
        );

        // Out of the range and back (an edit, an old sheet imported again):
        // the decision was about a version it no longer ran; the match
        // opens afresh, with its alert, instead of standing decided unseen.
        let apache_c =
            app.store.components(sys).await.unwrap().into_iter().find(|c| c.input.runs_on == "web03").unwrap();
        let at = |version: &'static str| {
            [
                ("kind", "middleware"),
                ("product", "Apache HTTP Server"),
                ("vendor", "Apache"),
                ("version", version),
                ("runs_on", "web03"),
                ("cpe", ""),
            ]
        };
        let before = alerts(&app).await.iter().map(|a| a.count).sum::<i64>();
        assert_eq!(v.save_component(sys, apache_c.id, &at("2.4.58")).await.status, StatusCode::SEE_OTHER);
        assert_eq!(v.save_component(sys, apache_c.id, &at("2.4.57")).await.status, StatusCode::SEE_OTHER);
        let again = app
            .store
            .vuln_matches(Some(sys))
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.product.starts_with("Apache") && m.ident == cve)
            .unwrap();
        assert_eq!(again.state, mamori_core::vulns::MatchState::Open, "{}", app.backend);
        let after = alerts(&app).await.iter().map(|a| a.count).sum::<i64>();
        assert!(after > before, "{}: alerted again", app.backend);
        app.close().await;
    }
}

/// An NVD CVE of Firefox before 120 on Windows only (an `AND`
/// configuration: the Windows node is not vulnerable itself).
const NVD_ON_WINDOWS: &str = r#"{"format":"NVD_CVE","version":"2.0","vulnerabilities":[{"cve":{"id":"CVE-2023-6209",
  "lastModified":"2025-02-01T00:00:00.000","descriptions":[{"lang":"en","value":"Only on Windows."}],
  "metrics":{"cvssMetricV31":[{"cvssData":{"baseScore":6.5}}]},
  "configurations":[{"operator":"AND","nodes":[
    {"operator":"OR","cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:mozilla:firefox:*:*:*:*:*:*:*:*","versionEndExcluding":"120.0"}]},
    {"operator":"OR","cpeMatch":[{"vulnerable":false,"criteria":"cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*"},
      {"vulnerable":false,"criteria":"cpe:2.3:o:microsoft:windows_server:-:*:*:*:*:*:*:*"}]}]}]}}]}"#;

#[tokio::test]
async fn an_advisory_for_a_product_on_a_platform_names_the_platform_until_the_inventory_lists_it() {
    for app in App::each(Options::default()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let sys = system(&app, dept, Some(vendor), "文書管理システム").await;
        let on_linux = system(&app, dept, Some(vendor), "Linux 端末のシステム").await;
        let (v, _) = app.signed_in("vendor-a", Role::Vendor, Some(vendor)).await;
        let (o, _) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        let firefox = [("product", "Firefox"), ("vendor", "Mozilla"), ("version", "115.0"), ("runs_on", "端末")];
        let linux = [("product", "Linux kernel"), ("vendor", "Linux"), ("version", "6.1"), ("runs_on", "端末")];
        for s in [sys, on_linux] {
            assert_eq!(add(&v, s, &firefox).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        }
        assert_eq!(add(&v, on_linux, &linux).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let r = import_feed(&o, "nvdcve.json", NVD_ON_WINDOWS.as_bytes()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);

        let platforms = async |s: i64| {
            app.store.vuln_matches(Some(s)).await.unwrap().into_iter().map(|m| m.platform).collect::<Vec<_>>()
        };
        let windows = "microsoft windows / microsoft windows_server".to_owned();
        // Matched (the product and version are affected), with the platform
        // it needs named, where the inventory lists no Windows.
        assert_eq!(platforms(sys).await, vec![windows.clone()], "{}", app.backend);
        assert_eq!(platforms(on_linux).await, vec![windows.clone()], "{}", app.backend);
        let note = format!("ただし {} 上で動く場合のみ該当(台帳にないため要確認)", windows);
        let page = v.get(&format!("/systems/{sys}/inventory")).await.body;
        assert!(page.contains(&note.replace('/', "&#x2f;")) || page.contains(&note), "{}: {page}", app.backend);

        // Windows Server added to one system: its match holds without a note.
        let server = [("product", "Windows Server"), ("vendor", "Microsoft"), ("version", "2022"), ("runs_on", "端末")];
        assert_eq!(add(&v, sys, &server).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        assert_eq!(platforms(sys).await, vec![String::new()], "{}", app.backend);
        assert_eq!(platforms(on_linux).await, vec![windows.clone()], "{}: the other system is not met", app.backend);
        let page = v.get(&format!("/systems/{sys}/inventory")).await.body;
        assert!(!page.contains("上で動く場合のみ"), "{}", app.backend);

        // Removed again: the note is back.
        let id = app.store.components(sys).await.unwrap().into_iter().find(|c| c.input.product == "Windows Server");
        app.store.remove_component(&app.ctx(), sys, id.unwrap().id).await.unwrap();
        assert_eq!(platforms(sys).await, vec![windows], "{}", app.backend);
        app.close().await;
    }
}

/// A distribution's package is matched by its upstream version (Debian's
/// Apache 2.4.57-2+deb12u1 by an advisory for exactly 2.4.57, missed
/// before), and its match says the distributor may have backported the fix
/// and sends the person to the distributor's advisory, on the system's
/// inventory and on the office's list; a match on an upstream version
/// (nginx 1.24.0) says nothing of it.
#[tokio::test]
async fn a_distribution_s_package_is_matched_by_its_upstream_version_and_says_the_fix_may_be_backported_and_an_upstream_version_does_not(
) {
    for app in App::each(Options::default()).await {
        let (sys, v, o) = vendors_system(&app).await;
        for (runs_on, version) in [("web01", "1.22.1-9+deb12u1"), ("web02", "1.24.0")] {
            let f = [("product", "nginx"), ("vendor", "F5"), ("version", version), ("runs_on", runs_on)];
            assert_eq!(add(&v, sys, &f).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        }
        let apache = [
            ("product", "Apache HTTP Server"),
            ("vendor", "Apache"),
            ("version", "2.4.57-2+deb12u1"),
            ("runs_on", "web03"),
        ];
        assert_eq!(add(&v, sys, &apache).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let r = import_feed(&o, "nvdcve.json", nvd("2025-01-01T00:00:00.000").as_bytes()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let mut matched: Vec<String> =
            app.store.vuln_matches(Some(sys)).await.unwrap().into_iter().map(|m| m.version).collect();
        matched.sort();
        assert_eq!(matched, ["1.22.1-9+deb12u1", "1.24.0", "2.4.57-2+deb12u1"], "{}", app.backend);
        let note = "配布元のパッケージ、ビルド 9+deb12u1";
        for (who, path) in [(&v, format!("/systems/{sys}/inventory")), (&o, "/vulns".to_string())] {
            let page = who.get(&path).await.body;
            let row_of = |component: &str| {
                let at = page.find(component).unwrap_or_else(|| panic!("{path}: {component}: {page}"));
                let start = page[..at].rfind("<tr").unwrap();
                let end = at + page[at..].find("</tr>").unwrap();
                page[start..end].to_owned()
            };
            assert!(
                row_of("nginx 1.22.1-9+deb12u1").contains(note),
                "{}: {path}: {}",
                app.backend,
                row_of("nginx 1.22.1-9+deb12u1")
            );
            assert!(!row_of("nginx 1.24.0").contains("配布元"), "{}: {path}: {}", app.backend, row_of("nginx 1.24.0"));
            assert!(
                row_of("Apache HTTP Server 2.4.57-2+deb12u1").contains("配布元のパッケージ、ビルド 2+deb12u1"),
                "{}: {path}",
                app.backend
            );
            assert_eq!(page.matches(note).count(), 1, "{}: {path}", app.backend);
        }
        app.close().await;
    }
}

/// NVD's answer with `n` CVEs for nginx before 1.25.3, scores falling.
fn nvd_many(n: usize) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"cve":{{"id":"CVE-2024-{:05}","lastModified":"2025-01-01T00:00:00.000",
                "descriptions":[{{"lang":"en","value":"flaw {i}"}}],
                "metrics":{{"cvssMetricV31":[{{"cvssData":{{"baseScore":{:.1}}}}}]}},
                "configurations":[{{"nodes":[{{"cpeMatch":[{{"vulnerable":true,
                "criteria":"cpe:2.3:a:f5:nginx:*:*:*:*:*:*:*:*","versionEndExcluding":"1.25.3"}}]}}]}}]}}}}"#,
                10_000 + i,
                9.9 - (i as f64) * 0.05
            )
        })
        .collect();
    format!(r#"{{"format":"NVD_CVE","version":"2.0","vulnerabilities":[{}]}}"#, items.join(","))
}

/// The ids of the matches a page shows, in order.
fn match_ids(body: &str) -> Vec<i64> {
    body.split("id=\"match-").skip(1).filter_map(|s| s.split('"').next()?.parse().ok()).collect()
}

/// A vendor's system running nginx 1.20.0, and 120 advisories of nginx
/// imported by the office: (system, vendor, officer).
async fn nginx_under_120_advisories(app: &App) -> (i64, Client, Client) {
    let (sys, v, o) = vendors_system(app).await;
    let nginx = [("product", "nginx"), ("vendor", "F5"), ("version", "1.20.0"), ("runs_on", "web01")];
    assert_eq!(add(&v, sys, &nginx).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
    let r = import_feed(&o, "nvdcve.json", nvd_many(120).as_bytes()).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
    (sys, v, o)
}

/// An inventory matching thousands of advisories (a vendor's sheet, a
/// first import of NVD) raised an alert for each new match, each a message
/// to the office. 120 new matches of a system: one alert for its critical
/// ones and one for the rest, each naming the most severe first; a single
/// new one later: an alert of its own.
#[tokio::test]
async fn a_hundred_and_twenty_new_matches_of_a_system_raise_one_alert_a_severity_and_a_single_one_its_own() {
    use mamori_core::monitoring::VULN_MATCHED;
    for app in App::each(Options::default()).await {
        let (sys, _, o) = nginx_under_120_advisories(&app).await;
        let matches = app.store.vuln_matches(Some(sys)).await.unwrap();
        let critical = matches.iter().filter(|m| m.cvss.is_some_and(|s| s >= 9.0)).count();
        assert!(critical > 10 && 120 - critical > 10, "{}: {critical}", app.backend);
        let alerts = async || {
            let all = app.store.alerts(false).await.unwrap();
            let mut v: Vec<_> = all.into_iter().filter(|a| a.kind == VULN_MATCHED).collect();
            v.sort_by_key(|a| a.id);
            v
        };
        let first = alerts().await;
        assert_eq!(first.len(), 2, "{}: {first:?}", app.backend);
        let (worst, rest) = (&first[0], &first[1]);
        assert_eq!(worst.subject, "文書管理システム: 新しい重大な一致 (new critical matches)", "{}", app.backend);
        assert_eq!(worst.severity, "critical", "{}", app.backend);
        assert!(worst.detail.starts_with(&format!("{critical} 件")), "{}: {}", app.backend, worst.detail);
        assert!(worst.detail.contains("first: CVE-2024-10000 (CVSS 9.9) nginx 1.20.0;"), "{}", worst.detail);
        assert_eq!(rest.subject, "文書管理システム: 新しい一致 (new matches)", "{}", app.backend);
        assert_eq!(rest.severity, "warning", "{}", app.backend);
        assert!(rest.detail.starts_with(&format!("{} 件", 120 - critical)), "{}: {}", app.backend, rest.detail);
        assert_eq!(mamori_app::inventory::alert_matches(&app.store, app.now()).await.unwrap(), 0, "{}", app.backend);

        let r = import_feed(&o, "nvd.json", nvd("2025-01-01T00:00:00.000").as_bytes()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let after = alerts().await;
        assert_eq!(after.len(), 3, "{}: {after:?}", app.backend);
        assert_eq!(after[2].subject, "文書管理システム: nginx 1.20.0: CVE-2023-44487", "{}", app.backend);
        app.close().await;
    }
}

/// An advisory new to many systems in one import (one flaw of a product
/// most systems run) raised an alert a system, each a message to the
/// office. Twelve systems running nginx 1.20.0 under an imported NVD
/// advisory now raise one alert naming the advisory, ten of the systems
/// and how many more, and every match is marked alerted.
#[tokio::test]
async fn an_advisory_new_to_twelve_systems_raises_one_alert_naming_them_not_twelve() {
    use mamori_core::monitoring::VULN_MATCHED;
    for app in App::each(Options::default()).await {
        let (first, v, o) = vendors_system(&app).await;
        let input = app.store.system(first).await.unwrap().unwrap().input;
        let (dept, vendor) = (input.department_id, input.vendor_id.unwrap());
        let nginx = [("product", "nginx"), ("vendor", "F5"), ("version", "1.20.0"), ("runs_on", "web01")];
        let mut systems = vec![first];
        for k in 2..=12 {
            systems.push(system(&app, dept, Some(vendor), &format!("業務システム{k:02}")).await);
        }
        for sys in &systems {
            assert_eq!(add(&v, *sys, &nginx).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        }
        let r = import_feed(&o, "nvd.json", nvd("2025-01-01T00:00:00.000").as_bytes()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        let alerts: Vec<_> =
            app.store.alerts(false).await.unwrap().into_iter().filter(|a| a.kind == VULN_MATCHED).collect();
        assert_eq!(alerts.len(), 1, "{}: {alerts:?}", app.backend);
        let a = &alerts[0];
        assert_eq!(a.subject, "CVE-2023-44487 (nginx): 12 システム (systems)", "{}", app.backend);
        assert_eq!(a.severity, "warning", "{}", app.backend);
        assert!(a.detail.starts_with("CVSS 7.5: "), "{}: {}", app.backend, a.detail);
        assert!(a.detail.contains("業務システム02 (nginx 1.20.0); 業務システム03"), "{}: {}", app.backend, a.detail);
        assert!(a.detail.ends_with("; ほか 2 システム (and 2 more)"), "{}: {}", app.backend, a.detail);
        assert!(app.store.unalerted_matches().await.unwrap().is_empty(), "{}: every match alerted", app.backend);
        for sys in &systems {
            assert_eq!(app.store.vuln_matches(Some(*sys)).await.unwrap().len(), 1, "{}", app.backend);
        }
        app.close().await;
    }
}

/// A system whose component matches 120 advisories (a kernel can match
/// thousands) shows them 50 a page on its inventory and on the office's
/// list, the pages' links keeping the list's filter; a decision made on the
/// second page, or refused there, comes back to the second page, and a page
/// number that is not one is not written into the link.
#[tokio::test]
async fn many_matches_and_support_ends_are_shown_fifty_a_page_and_a_decision_returns_to_its_page() {
    for app in App::each(Options::default()).await {
        let (sys, v, o) = nginx_under_120_advisories(&app).await;
        let all: Vec<i64> = app.store.vuln_matches(Some(sys)).await.unwrap().into_iter().map(|m| m.id).collect();
        assert_eq!(all.len(), 120, "{}", app.backend);

        let inventory = format!("/systems/{sys}/inventory");
        for (asked, want) in
            [("", &all[..50]), ("?page=2", &all[50..100]), ("?page=3", &all[100..]), ("?page=9", &all[..50])]
        {
            let body = v.get(&format!("{inventory}{asked}")).await.body;
            assert_eq!(match_ids(&body), want, "{}: {asked}", app.backend);
        }
        let first = v.get(&inventory).await.body;
        assert!(first.contains(&format!("href=\"{inventory}?page=2#vulns\"")), "{}", app.backend);
        for (asked, want) in [("", &all[..50]), ("?page=3", &all[100..])] {
            assert_eq!(match_ids(&o.get(&format!("/vulns{asked}")).await.body), want, "{}: /vulns{asked}", app.backend);
        }
        let every = o.get("/vulns?state=all").await.body;
        assert!(every.contains("href=\"/vulns?state=all&#38;page=2\""), "{}: the filter kept", app.backend);

        // A decision on the second page returns there; a refused one shows it there.
        let mid = all[60];
        v.get(&format!("{inventory}?page=2")).await;
        let path = format!("/systems/{sys}/vulns/{mid}");
        let r = v.post(&path, &[("state", "fixed"), ("reason", "1.25.3 に更新"), ("page", "2"), ("seen", "0")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        assert_eq!(r.location(), format!("{inventory}?page=2#vulns"), "{}", app.backend);
        let r = v.post(&path, &[("state", ""), ("reason", ""), ("page", "2")]).await;
        assert_eq!(match_ids(&r.body), &all[50..100], "{}", app.backend);
        assert!(r.body.contains("role=\"alert\""), "{}: the refusal beside its match", app.backend);
        let seen = app.store.vuln_matches(Some(sys)).await.unwrap().into_iter().find(|m| m.id == mid).unwrap().mark();
        let r = v.post(&path, &[("state", "open"), ("reason", ""), ("page", "2\"><script>"), ("seen", &seen)]).await;
        assert_eq!(r.location(), format!("{inventory}#vulns"), "{}", app.backend);

        // 60 support ends passed: 50 and then 10, the filter kept.
        let mut sheet = String::from("種別,製品,ベンダ,バージョン,稼働場所,CPE,サポート終了日,最新版でない理由\r\n");
        for i in 0..60 {
            sheet.push_str(&format!("ライブラリ,lib-{i:03},OSS,1.0,,,2020/1/1,\r\n"));
        }
        let r = import(&v, sys, "inventory.csv", sheet.as_bytes()).await;
        assert!(r.body.contains("追加 60 件"), "{}: {}", app.backend, r.body);
        let rows = |body: &str| body.matches("lib-0").count();
        assert_eq!(rows(&o.get("/inventory?state=ended").await.body), 50, "{}", app.backend);
        let second = o.get("/inventory?state=ended&page=2").await.body;
        assert_eq!(rows(&second), 10, "{}", app.backend);
        assert!(second.contains("href=\"/inventory?state=ended&#38;page=1\""), "{}: the filter kept", app.backend);
        app.close().await;
    }
}

/// Two values at opposite corners of Excel's grid, in a file of a few KB:
/// the sheet reader sized the rectangle between them (hundreds of GB) and
/// the allocation aborted the whole server. A vendor's upload of it, as an
/// inventory or as answers, is refused with a message, changes nothing, and
/// the server goes on answering.
#[tokio::test]
async fn a_vendor_s_workbook_spanning_the_whole_grid_is_refused_and_the_server_goes_on() {
    for app in App::each(Options::default()).await {
        let (sys, vendor, _) = vendors_system(&app).await;
        let book = mamori_testkit::xlsx::spanning("mamori", (1_048_575, 16_383));
        assert!(book.len() < 16 * 1024, "{} bytes", book.len());
        let r = import(&vendor, sys, "inventory.xlsx", &book).await;
        assert_eq!(r.status, StatusCode::OK, "{}", app.backend);
        assert!(r.body.contains("シートの使用範囲が広すぎます"), "{}", r.body);
        let s = format!("/systems/{sys}");
        let r = vendor.post_file(&s, &format!("{s}/answers.xlsx"), "answers.xlsx", book).await;
        assert_eq!(r.status, StatusCode::OK, "{}", app.backend);
        assert!(r.body.contains("シートの使用範囲が広すぎます"), "{}", r.body);
        assert!(listed(&app, sys).await.is_empty(), "nothing imported");
        assert_eq!(vendor.get(&format!("/systems/{sys}/inventory")).await.status, StatusCode::OK);
        app.close().await;
    }
}

/// Two people of the vendor change one component from pages opened before
/// either saved (one records the upgrade to 1.26.3, the other a reason):
/// the second save put the old version back unseen. Now exactly one of two
/// saves at once lands; the other saves nothing, keeps what was typed and
/// says so; saving from that page replaces it knowingly. A save without
/// its mark saves nothing.
#[tokio::test]
async fn a_component_changed_meanwhile_is_not_replaced_unseen() {
    for app in App::each(Options::default()).await {
        let (sys, v, _) = vendors_system(&app).await;
        let vendor = app.store.system(sys).await.unwrap().unwrap().input.vendor_id;
        let (v2, _) = app.signed_in("vendor-a2", Role::Vendor, vendor).await;
        let nginx = [("kind", "middleware"), ("product", "nginx"), ("version", "1.24.0"), ("runs_on", "web01")];
        assert_eq!(add(&v, sys, &nginx).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        let cid = app.store.components(sys).await.unwrap()[0].id;
        let page = format!("/systems/{sys}/inventory/{cid}");
        let seen = crate::harness::hidden_in(&v.get(&page).await.body, "seen");
        assert_eq!(seen, crate::harness::hidden_in(&v2.get(&page).await.body, "seen"));
        let save = async |c: &Client, version: &str, reason: &str, seen: &str| {
            let fields = [
                ("kind", "middleware"),
                ("product", "nginx"),
                ("version", version),
                ("runs_on", "web01"),
                ("reason", reason),
                ("seen", seen),
            ];
            c.post(&page, &fields).await
        };
        let (r1, r2) = tokio::join!(save(&v, "1.26.3", "", &seen), save(&v2, "1.24.0", "更新は来月", &seen));
        let first_landed =
            crate::harness::first_of_two_landed(&r1, &r2, app.backend, "他の人が変更したため、保存していません");
        let (kept, lost, loser, typed) = if first_landed {
            ("1.26.3", &r2, &v2, ("1.24.0", "更新は来月"))
        } else {
            ("1.24.0", &r1, &v, ("1.26.3", ""))
        };
        assert!(lost.body.contains(&format!("value=\"{}\"", typed.0)), "{}: what was typed is kept", app.backend);
        let version = async || app.store.components(sys).await.unwrap()[0].input.version.clone();
        assert_eq!(version().await, kept, "{}", app.backend);

        // Without the mark, nothing is saved either.
        assert_eq!(save(&v, "9.9.9", "", "").await.status, StatusCode::OK, "{}", app.backend);
        assert_eq!(version().await, kept, "{}", app.backend);

        // The refused page carries the mark of the component as it is now.
        let r = save(loser, typed.0, typed.1, &crate::harness::hidden_in(&lost.body, "seen")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        assert_eq!(version().await, typed.0, "{}", app.backend);
        app.close().await;
    }
}

/// A system holds at most 2,000 components and 200 records of a kind,
/// counted under the system's lock. Before, each count was taken before
/// the write: ten adds sent at once with one place left each passed it,
/// and ten landed. Now one lands and nine are told the limit.
#[tokio::test]
async fn ten_adds_sent_at_once_with_one_place_left_add_one_component_and_one_record() {
    use mamori_core::inventory::{ComponentInput, ComponentKind, MAX_COMPONENTS};
    use mamori_core::records::{RecordKind, MAX_PER_KIND};
    for app in App::each(Options::default()).await {
        let (sys, v, _) = vendors_system(&app).await;
        let ctx = app.ctx();
        let rows: Vec<ComponentInput> = (1..MAX_COMPONENTS)
            .map(|k| ComponentInput {
                kind: ComponentKind::Library,
                product: format!("lib{k}"),
                vendor: String::new(),
                version: "1.0".into(),
                runs_on: "app01".into(),
                cpe: None,
                support_end: None,
                reason: String::new(),
            })
            .collect();
        app.store.import_components(&ctx, sys, "fill.csv", &rows).await.unwrap();
        let domain = crate::checklist::domain_record();
        for _ in 1..MAX_PER_KIND {
            app.store
                .save_record(&ctx, sys, None, RecordKind::Domain, &domain, mamori_store::records::Keeper::CONSOLE)
                .await
                .unwrap();
        }
        let mut sent = tokio::task::JoinSet::new();
        for k in 0..10 {
            let v = v.clone();
            sent.spawn(async move {
                let product = format!("extra{k}");
                let component = [("kind", "middleware"), ("product", &product), ("version", "1"), ("runs_on", "web01")];
                let record = [("domain", "docs.example.lg.jp"), ("expires", "2030-01-01"), ("retired", "no")];
                let (c, r) = tokio::join!(add(&v, sys, &component), crate::records::add(&v, sys, "domain", &record));
                (c.status, c.body, r.status, r.body)
            });
        }
        let (mut components, mut records) = (0, 0);
        while let Some(done) = sent.join_next().await {
            let (cs, cb, rs, rb) = done.unwrap();
            if cs == StatusCode::SEE_OTHER {
                components += 1;
            } else {
                assert!(cb.contains("1 システムに登録できる件数を超えます"), "{}: {cs}: {cb}", app.backend);
            }
            if rs == StatusCode::SEE_OTHER {
                records += 1;
            } else {
                assert!(rb.contains("この種類の記録は 1 システム 200 件までです"), "{}: {rs}: {rb}", app.backend);
            }
        }
        assert_eq!((components, records), (1, 1), "{}: one of each landed", app.backend);
        assert_eq!(app.store.components(sys).await.unwrap().len(), MAX_COMPONENTS, "{}", app.backend);
        let domains = app.store.records(sys).await.unwrap().iter().filter(|r| r.kind == RecordKind::Domain).count();
        assert_eq!(domains, MAX_PER_KIND, "{}", app.backend);
        app.close().await;
    }
}

/// On PostgreSQL, release data applied to a component read before the
/// system's lock: a person's change that landed meanwhile (a new version
/// and a date of their own) was overwritten with the old version's cycle
/// date, marked as the data's. The row is read again under the lock; a
/// person's date stays.
#[tokio::test]
async fn release_data_applied_while_a_component_changes_never_overwrites_a_person_s_date() {
    use mamori_core::inventory::{EolProduct, EolRelease, SupportSource};
    use sqlx::{Connection, Executor};
    for app in App::each(Options::default()).await {
        let Some(url) = app.pg_url() else { continue };
        let dept = app.org("総務課", OrgKind::Department).await;
        let sys = system(&app, dept, None, "文書管理システム").await;
        let fields = mamori_core::inventory::ComponentFields {
            kind: "middleware",
            product: "nginx",
            version: "1.24.0",
            ..Default::default()
        };
        let input = mamori_core::inventory::ComponentInput::parse(&fields).unwrap();
        let cid = app.store.save_component(&app.ctx(), sys, None, &input).await.unwrap();
        let nginx = EolProduct {
            name: "nginx".into(),
            label: "nginx".into(),
            aliases: vec![],
            cpes: vec![],
            releases: vec![EolRelease {
                cycle: "1.24".into(),
                released: None,
                eol: Some(time::macros::date!(2024 - 04 - 23)),
                latest: Some("1.24.0".into()),
            }],
        };
        // Another connection holds the system and changes the component.
        let mut other = sqlx::PgConnection::connect(url).await.unwrap();
        other.execute("BEGIN").await.unwrap();
        other.execute(format!("UPDATE system SET revision = revision + 1 WHERE id = {sys}").as_str()).await.unwrap();
        let (store, ctx) = (app.store.clone(), app.ctx());
        let import = tokio::spawn(async move { store.import_eol(&ctx, "nginx.json", &"a".repeat(64), &[nginx]).await });
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert!(!import.is_finished(), "the import waits for the system");
        other
            .execute(
                format!(
                    "UPDATE component SET version = '1.26.0', support_end = '2027-01-01', support_source = 'manual' WHERE id = {cid}"
                )
                .as_str(),
            )
            .await
            .unwrap();
        other.execute("COMMIT").await.unwrap();
        import.await.unwrap().unwrap();
        let c = app.store.components(sys).await.unwrap().into_iter().find(|c| c.id == cid).unwrap();
        assert_eq!(c.input.support_end, Some(time::macros::date!(2027 - 01 - 01)), "the person's date stays");
        assert_eq!(c.source, Some(SupportSource::Manual));
        app.close().await;
    }
}

/// A system at its limit of matches says so on its inventory page, where
/// its keepers can change what makes them (a product listed for every host
/// without its version); under the limit, nothing is said.
#[tokio::test]
async fn a_system_at_its_limit_of_matches_says_so_on_its_inventory_page() {
    use mamori_core::inventory::{ComponentInput, ComponentKind};
    use mamori_core::vulns::{Advisory, Affected, Versions, VulnSource, MAX_MATCHES_PER_SYSTEM};
    let app = App::spawn("sqlite", Options::default()).await;
    let (sys, v, _) = vendors_system(&app).await;
    let ctx = app.ctx();
    let on_host = |h: usize| ComponentInput {
        kind: ComponentKind::Os,
        product: "kernel".into(),
        vendor: "linux".into(),
        version: String::new(),
        runs_on: format!("host{h}"),
        cpe: None,
        support_end: None,
        reason: String::new(),
    };
    let hosts: Vec<ComponentInput> = (0..101).map(on_host).collect();
    app.store.import_components(&ctx, sys, "hosts.csv", &hosts).await.unwrap();
    let advisory = |i: usize| Advisory {
        source: VulnSource::Nvd,
        ident: format!("CVE-2026-{i:05}"),
        title: format!("kernel {i}"),
        link: String::new(),
        cvss: Some(5.0),
        cves: Vec::new(),
        modified: "2026-01-01".into(),
        affected: vec![Affected {
            part: Some('o'),
            vendor: "linux".into(),
            product: "kernel".into(),
            versions: Versions::Any,
            on: Vec::new(),
        }],
    };
    let page = format!("/systems/{sys}/inventory");
    let list: Vec<Advisory> = (0..99).map(advisory).collect();
    app.store.import_advisories(&ctx, "nvd.json", "0", VulnSource::Nvd, &list).await.unwrap();
    assert_eq!(app.store.vuln_matches(Some(sys)).await.unwrap().len(), 9_999);
    assert!(!v.get(&page).await.body.contains("上限"), "under the limit, nothing said");
    let list: Vec<Advisory> = (0..100).map(advisory).collect();
    app.store.import_advisories(&ctx, "nvd2.json", "1", VulnSource::Nvd, &list).await.unwrap();
    assert_eq!(app.store.vuln_matches(Some(sys)).await.unwrap().len(), MAX_MATCHES_PER_SYSTEM);
    let body = v.get(&page).await.body;
    assert!(body.contains("照合結果は上限の 10000 件に達した"), "{body}");
    app.close().await;
}

/// A vendor reaching for another system's objects through its own
/// system's path: ベンダーB's system holds a component with its matches, a
/// record, a file and a linked library document; ベンダーA sends their ids
/// under its own system (the path it may use) to show, change, decide on
/// and remove them. Every one is unknown there, and nothing of the other
/// system changes.
#[tokio::test]
async fn another_system_s_ids_under_one_s_own_system_s_path_are_unknown_and_change_nothing() {
    use mamori_core::records::RecordKind;
    for app in App::each(Options::default()).await {
        let backend = app.backend;
        let crate::checklist::Cast { sys, dept, other, v, x, o, .. } = crate::checklist::cast(&app).await;
        let theirs = system(&app, dept, Some(other), "会計システム").await;
        let nginx = [("product", "nginx"), ("vendor", "F5"), ("version", "1.20.0"), ("runs_on", "web01")];
        assert_eq!(add(&x, theirs, &nginx).await.status, StatusCode::SEE_OTHER, "{backend}");
        assert_eq!(import_feed(&o, "nvdcve.json", nvd_many(3).as_bytes()).await.status, StatusCode::SEE_OTHER);
        let values = mamori_core::records::parse(RecordKind::Contract, |f| {
            match f {
                "scope" => "both",
                "vendor" => "ベンダーB",
                "starts" => "2026-04-01",
                "ends" => "2027-03-31",
                _ => "",
            }
            .to_owned()
        })
        .unwrap();
        let keeper = mamori_store::records::Keeper::vendor(other, &[]);
        let rid = app.store.save_record(&app.ctx(), theirs, None, RecordKind::Contract, &values, keeper).await.unwrap();
        let pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
        assert_eq!(x.upload(theirs, 4, "報告書.pdf", pdf.clone()).await.status, StatusCode::SEE_OTHER, "{backend}");
        x.get("/library").await;
        let form = reqwest::multipart::Form::new()
            .text("csrf_token", x.token())
            .text("title", "運用手順書")
            .part("file", reqwest::multipart::Part::bytes(pdf).file_name("手順書.pdf"))
            .text("expires_on", "");
        assert_eq!(x.post_multipart("/library", form).await.status, StatusCode::SEE_OTHER, "{backend}");
        let doc = app.store.documents(other).await.unwrap()[0].id;
        x.get(&format!("/systems/{theirs}/items/4")).await;
        let r = x.post(&format!("/systems/{theirs}/items/4/documents"), &[("document", &doc.to_string())]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{backend}: {}", r.body);
        let link = app.store.document_links(theirs, 1).await.unwrap()[0].id;
        let cid = app.store.components(theirs).await.unwrap()[0].id;
        let mid = app.store.vuln_matches(Some(theirs)).await.unwrap()[0].id;
        let file = app.store.evidence_for(theirs, 1, 4).await.unwrap()[0].id;
        let held = async || {
            (
                app.store.components(theirs).await.unwrap(),
                app.store.vuln_matches(Some(theirs)).await.unwrap(),
                app.store.records(theirs).await.unwrap(),
                app.store.evidence_for(theirs, 1, 4).await.unwrap(),
                app.store.document_links(theirs, 1).await.unwrap(),
            )
        };
        let before = held().await;
        let mine = format!("/systems/{sys}");
        v.get(&format!("{mine}/inventory")).await;
        let asked = vec![
            (format!("{mine}/records/{rid}"), None),
            (format!("{mine}/inventory/{cid}"), None),
            (format!("{mine}/records/{rid}"), Some(vec![("kind", "contract"), ("revision", "1"), ("vendor", "書換")])),
            (format!("{mine}/records/{rid}/remove"), Some(vec![])),
            (format!("{mine}/inventory/{cid}"), Some(nginx.to_vec())),
            (format!("{mine}/inventory/{cid}/remove"), Some(vec![])),
            (format!("{mine}/vulns/{mid}"), Some(vec![("state", "fixed"), ("reason", "更新済み"), ("seen", "0")])),
            (format!("{mine}/items/4/evidence/{file}/remove"), Some(vec![])),
            (format!("{mine}/items/4/documents/{link}/remove"), Some(vec![])),
        ];
        for (path, form) in &asked {
            let r = match form {
                None => v.get(path).await,
                Some(fields) => v.post(path, fields).await,
            };
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{backend}: {path}: {}", r.body);
        }
        assert_eq!(held().await, before, "{backend}: nothing of the other system changed");
        // Under their own system's path, the same ids are known to ベンダーB.
        for path in [format!("/systems/{theirs}/records/{rid}"), format!("/systems/{theirs}/inventory/{cid}")] {
            assert_eq!(x.get(&path).await.status, StatusCode::OK, "{backend}: {path}");
        }
        x.get(&format!("/systems/{theirs}/items/4")).await;
        let r = x.post(&format!("/systems/{theirs}/items/4/documents/{link}/remove"), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{backend}: {}", r.body);
        app.close().await;
    }
}
