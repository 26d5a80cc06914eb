//! Every state-changing route leaves an audit event with the right actor,
//! action and target (checklist items 27, 66), and no event carries a
//! secret (54④).

use crate::harness::{
    hidden_in, totp_secret_in, vendor_account_form, vendor_change_form, App, Client, Options, INITIAL_PASSWORD,
    PASSWORD,
};
use mamori_core::identity::{OrgKind, Role};
use mamori_core::totp;
use mamori_web::routes::route_table;
use reqwest::StatusCode;
use std::collections::BTreeSet;

struct Walk<'a> {
    app: &'a App,
    covered: BTreeSet<&'static str>,
}

impl Walk<'_> {
    /// The newest event must be `action` by `actor` on `target_type`.
    async fn expect(&mut self, route: &'static str, action: &str, actor: &str, target_type: Option<&str>) {
        let e = self.app.store.audit_recent(1).await.unwrap().remove(0).record;
        assert_eq!(
            (e.action.as_str(), e.actor_login.as_str(), e.target_type.as_deref()),
            (action, actor, target_type),
            "{}: POST {route}",
            self.app.backend
        );
        assert!(e.client_addr.is_some() && e.request_id.is_some(), "{route}: where and which request");
        self.covered.insert(route);
    }
}

async fn post_ok(c: &Client, page: &str, path: &str, fields: &[(&str, &str)]) {
    c.get(page).await;
    let r = c.post(path, fields).await;
    assert!(matches!(r.status, StatusCode::SEE_OTHER | StatusCode::OK), "POST {path}: {} {}", r.status, r.body);
}

#[tokio::test]
async fn every_state_changing_route_is_audited_and_no_event_holds_a_secret() {
    for app in App::each(Options::unpaced()).await {
        let mut w = Walk { app: &app, covered: BTreeSet::new() };
        let mut secrets: Vec<String> = vec![PASSWORD.to_owned()];

        // First-run setup.
        let token = "ab".repeat(32);
        app.setup_token(&token).await;
        let setup = app.client();
        let path = format!("/setup/{token}");
        let admin_pw = "Admin-Setup-Pass-1";
        secrets.push(admin_pw.into());
        post_ok(
            &setup,
            &path,
            &path,
            &[
                ("login", "admin1"),
                ("display_name", "管理者"),
                ("email", "a@x.jp"),
                ("new_password", admin_pw),
                ("confirm_password", admin_pw),
            ],
        )
        .await;
        w.expect("/setup/{token}", "setup.completed", "setup", Some("account")).await;

        // Sign-in with the second factor: enrolment first.
        let admin = app.client();
        admin.sign_in(&app, "admin1", admin_pw, None).await;
        w.expect("/login", "signin.success", "admin1", Some("account")).await;
        let secret = totp_secret_in(&admin.get("/account/totp").await.body);
        secrets.push(secret.clone());
        let code = totp::code_at(&secret, app.now()).unwrap();
        admin.post("/account/totp", &[("code", &code)]).await;
        w.expect("/account/totp", "totp.enrolled", "admin1", Some("account")).await;
        post_ok(&admin, "/dashboard", "/logout", &[]).await;
        w.expect("/logout", "signout", "admin1", Some("account")).await;
        app.clock.advance(time::Duration::seconds(30));
        admin.sign_in(&app, "admin1", admin_pw, Some(&secret)).await;
        w.expect("/login/totp", "signin.success", "admin1", Some("account")).await;
        app.clock.advance(time::Duration::seconds(30));
        admin.get("/account").await;
        let code = totp::code_at(&secret, app.now()).unwrap();
        let renewed = admin.post("/account/recovery-codes", &[("code", &code)]).await;
        let codes = renewed.body.split("class=\"recovery-code\">").skip(1).map(|s| s.split('<').next().unwrap());
        secrets.extend(codes.map(str::to_owned));
        assert_eq!(secrets.len(), 13, "{}: the new codes shown", app.backend);
        w.expect("/account/recovery-codes", "totp.recovery_renewed", "admin1", Some("account")).await;

        // Organisations and accounts.
        post_ok(
            &admin,
            "/admin/organisations",
            "/admin/organisations",
            &[("name", "総務課"), ("kind", "department"), ("contact", "")],
        )
        .await;
        w.expect("/admin/organisations", "organisation.created", "admin1", Some("organisation")).await;
        let vendor_org = app.org("ベンダーA", OrgKind::Vendor).await;
        let dept = app.store.organisations().await.unwrap().into_iter().find(|o| o.name == "総務課").unwrap().id;
        secrets.push(INITIAL_PASSWORD.into());
        post_ok(
            &admin,
            "/admin/users/new",
            "/admin/users",
            &vendor_account_form("vendor1", "事業者", "v@x.jp", &vendor_org.to_string(), "発行"),
        )
        .await;
        w.expect("/admin/users", "account.created", "admin1", Some("account")).await;
        let vid = app.store.account_by_login("vendor1").await.unwrap().unwrap().id;
        let detail = format!("/admin/users/{vid}");
        let seen = hidden_in(&admin.get(&format!("{detail}/edit")).await.body, "seen");
        post_ok(
            &admin,
            &format!("{detail}/edit"),
            &detail,
            &vendor_change_form("事業者 一郎", "v@x.jp", &vendor_org.to_string(), "改名", &seen),
        )
        .await;
        w.expect("/admin/users/{id}", "account.updated", "admin1", Some("account")).await;
        for (action_path, action, route) in [
            ("disable", "account.disabled", "/admin/users/{id}/disable"),
            ("enable", "account.enabled", "/admin/users/{id}/enable"),
        ] {
            post_ok(&admin, &detail, &format!("{detail}/{action_path}"), &[("reason", "確認")]).await;
            w.expect(route, action, "admin1", Some("account")).await;
        }
        let reset = "Reset-Pass-1234";
        secrets.push(reset.into());
        post_ok(&admin, &detail, &format!("{detail}/reset-password"), &[("reason", "忘れた"), ("new_password", reset)])
            .await;
        w.expect("/admin/users/{id}/reset-password", "password.reset", "admin1", Some("account")).await;
        // Lock the vendor, then unlock.
        app.lock("vendor1").await;
        post_ok(&admin, &detail, &format!("{detail}/unlock"), &[("reason", "本人確認済み")]).await;
        w.expect("/admin/users/{id}/unlock", "account.unlocked", "admin1", Some("account")).await;
        let (officer, oid) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        post_ok(
            &admin,
            &format!("/admin/users/{oid}"),
            &format!("/admin/users/{oid}/reset-totp"),
            &[("reason", "端末紛失")],
        )
        .await;
        w.expect("/admin/users/{id}/reset-totp", "totp.reset", "admin1", Some("account")).await;
        let r = admin
            .post_from("/admin/access-review", "/admin/access-review", &["shown"], &[("comment", "問題なし")])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        w.expect("/admin/access-review", "access_review.signed_off", "admin1", Some("access_review")).await;

        // The vendor changes its password.
        let vendor = app.client();
        vendor.sign_in(&app, "vendor1", reset, None).await;
        post_ok(
            &vendor,
            "/password",
            "/password",
            &[("current_password", reset), ("new_password", PASSWORD), ("confirm_password", PASSWORD)],
        )
        .await;
        w.expect("/password", "password.changed", "vendor1", Some("account")).await;
        // Vendors sign in with a second factor too (by default): enrolment next.
        assert_eq!(vendor.get("/dashboard").await.location(), "/account/totp", "{}", app.backend);
        let secret = totp_secret_in(&vendor.get("/account/totp").await.body);
        let code = totp::code_at(&secret, app.now()).unwrap();
        vendor.post("/account/totp", &[("code", &code)]).await;
        w.expect("/account/totp", "totp.enrolled", "vendor1", Some("account")).await;
        post_ok(&vendor, "/account", "/account/sessions", &[]).await;
        w.expect("/account/sessions", "sessions.ended", "vendor1", Some("account")).await;

        // The checklist.
        let (officer2, _) = app.signed_in("officer2", Role::SecurityOfficer, None).await;
        let _ = officer;
        let officer = officer2;
        post_ok(
            &officer,
            "/systems/new",
            "/systems",
            &[
                ("name", "文書管理"),
                ("department_id", &dept.to_string()),
                ("vendor_id", &vendor_org.to_string()),
                ("phase", "building"),
            ],
        )
        .await;
        w.expect("/systems", "system.created", "officer2", Some("system")).await;
        let sys = app.store.systems(mamori_core::scope::Scope::All, &Default::default()).await.unwrap()[0].id;
        let s = format!("/systems/{sys}");
        let seen = hidden_in(&officer.get(&format!("{s}/edit")).await.body, "seen");
        post_ok(
            &officer,
            &format!("{s}/edit"),
            &s,
            &[
                ("name", "文書管理システム"),
                ("department_id", &dept.to_string()),
                ("vendor_id", &vendor_org.to_string()),
                ("phase", "building"),
                ("seen", &seen),
            ],
        )
        .await;
        w.expect("/systems/{id}", "system.updated", "officer2", Some("system")).await;
        post_ok(&officer, &s, &format!("{s}/scans"), &[]).await;
        assert!(app.store.scans(sys, 1).await.unwrap().is_empty(), "no URL, no scan");
        let (dept_s, vendor_s) = (dept.to_string(), vendor_org.to_string());
        let seen = hidden_in(&officer.get(&format!("{s}/edit")).await.body, "seen");
        let with_url = [
            ("name", "文書管理システム"),
            ("department_id", dept_s.as_str()),
            ("vendor_id", vendor_s.as_str()),
            ("phase", "building"),
            ("urls", "https://127.0.0.1:9/"),
            ("seen", &seen),
        ];
        post_ok(&officer, &format!("{s}/edit"), &s, &with_url).await;
        post_ok(&officer, &s, &format!("{s}/scans"), &[]).await;
        w.expect("/systems/{id}/scans", "scan.requested", "officer2", Some("system")).await;
        let now = app.now();
        app.store.check_scan_address(now, sys, "www.vendor.example", ("203.0.113.5", "public"), true).await.unwrap();
        app.store.check_scan_address(now, sys, "www.vendor.example", ("10.1.2.3", "10.1.2.0/24"), true).await.unwrap();
        let confirm = [("host", "www.vendor.example"), ("address", "10.1.2.3")];
        post_ok(&officer, &s, &format!("{s}/scan-addresses"), &confirm).await;
        w.expect("/systems/{id}/scan-addresses", "scan.address_confirmed", "officer2", Some("system")).await;
        post_ok(
            &officer,
            &s,
            &format!("{s}/overrides"),
            &[("number", "13"), ("applies", "no"), ("reason", "サーバなし")],
        )
        .await;
        w.expect("/systems/{id}/overrides", "applicability.overridden", "officer2", Some("system")).await;
        post_ok(&officer, &s, &format!("{s}/catalog"), &[("version", "1")]).await;
        w.expect("/systems/{id}/catalog", "system.catalog_changed", "officer2", Some("system")).await;
        // The department's own items go to the vendor, which answers all.
        for n in ["7", "15", "16", "17", "18", "30"] {
            post_ok(&officer, &s, &format!("{s}/moves"), &[("number", n), ("party", "builder")]).await;
        }
        w.expect("/systems/{id}/moves", "item.party_moved", "officer2", Some("system")).await;
        let applicable: Vec<u32> = (1..=12).chain(15..=30).chain([79]).collect();
        for n in &applicable {
            let r = vendor.answer(sys, *n, &[("status", "done"), ("measures", "実施")]).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "No.{n}: {}", r.body);
        }
        w.expect("/systems/{id}/items/{number}", "answer.saved", "vendor1", Some("system")).await;
        let r = vendor.upload(sys, 4, "a.pdf", b"%PDF-1.4\n".to_vec()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        w.expect("/systems/{id}/items/{number}/evidence", "evidence.uploaded", "vendor1", Some("evidence")).await;
        let r = vendor.upload(sys, 4, "b.pdf", b"%PDF-1.4\n".to_vec()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let b = app.store.evidence_for(sys, 1, 4).await.unwrap().last().unwrap().id;
        post_ok(&vendor, &format!("{s}/items/4"), &format!("{s}/items/4/evidence/{b}/remove"), &[]).await;
        w.expect(
            "/systems/{id}/items/{number}/evidence/{file}/remove",
            "evidence.removed",
            "vendor1",
            Some("evidence"),
        )
        .await;
        // The library: a document registered, attached, revised, detached, removed.
        let pdf = b"%PDF-1.4\n".to_vec();
        let form = |c: &Client, name: &str| {
            reqwest::multipart::Form::new()
                .text("csrf_token", c.token())
                .text("title", "体制図")
                .part("file", reqwest::multipart::Part::bytes(pdf.clone()).file_name(name.to_owned()))
        };
        vendor.get("/library").await;
        let r = vendor.post_multipart("/library", form(&vendor, "chart.pdf")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        w.expect("/library", "document.uploaded", "vendor1", Some("document")).await;
        let doc = app.store.documents(vendor_org).await.unwrap()[0].id;
        post_ok(&vendor, &format!("{s}/items/4"), &format!("{s}/items/4/documents"), &[("document", &doc.to_string())])
            .await;
        w.expect("/systems/{id}/items/{number}/documents", "document.linked", "vendor1", Some("document")).await;
        vendor.get(&format!("/library/{doc}")).await;
        let r = vendor.post_multipart(&format!("/library/{doc}/revisions"), form(&vendor, "chart-2.pdf")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        w.expect("/library/{id}/revisions", "document.uploaded", "vendor1", Some("document")).await;
        let link = app.store.document_links(sys, 1).await.unwrap()[0].id;
        post_ok(&vendor, &format!("{s}/items/4"), &format!("{s}/items/4/documents/{link}/remove"), &[]).await;
        w.expect(
            "/systems/{id}/items/{number}/documents/{file}/remove",
            "document.unlinked",
            "vendor1",
            Some("document"),
        )
        .await;
        post_ok(&vendor, &format!("/library/{doc}"), &format!("/library/{doc}/delete"), &[]).await;
        w.expect("/library/{id}/delete", "document.deleted", "vendor1", Some("document")).await;
        // The software inventory: a component added, changed, imported, removed.
        let inv = format!("{s}/inventory");
        let component = [("kind", "os"), ("product", "Ubuntu"), ("version", "22.04.3"), ("runs_on", "web01")];
        post_ok(&vendor, &inv, &inv, &component).await;
        w.expect("/systems/{id}/inventory", "component.saved", "vendor1", Some("system")).await;
        let cid = app.store.components(sys).await.unwrap()[0].id;
        let changed = [("kind", "os"), ("product", "Ubuntu"), ("version", "22.04.4"), ("runs_on", "web01")];
        let r = vendor.save_component(sys, cid, &changed).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        w.expect("/systems/{id}/inventory/{cid}", "component.saved", "vendor1", Some("system")).await;
        let sheet = b"product,vendor,version,cpe,support_end\nnginx,F5,1.24.0,,\n".to_vec();
        let r = vendor.post_file(&inv, &format!("{inv}/import"), "inventory.csv", sheet).await;
        assert!(r.body.contains("追加 1 件"), "{}", r.body);
        w.expect("/systems/{id}/inventory/import", "inventory.imported", "vendor1", Some("system")).await;
        post_ok(&vendor, &format!("{inv}/{cid}"), &format!("{inv}/{cid}/remove"), &[]).await;
        w.expect("/systems/{id}/inventory/{cid}/remove", "component.removed", "vendor1", Some("system")).await;
        let feed = br#"[{"cycle":"1.24","eol":"2024-04-23"}]"#.to_vec();
        let r = officer.post_file("/feeds", "/feeds", "nginx.json", feed).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        w.expect("/feeds", "feed.imported", "officer2", None).await;
        let cve = br#"{"format":"NVD_CVE","vulnerabilities":[{"cve":{"id":"CVE-2023-44487","lastModified":"1","configurations":[{"nodes":[{"cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:f5:nginx:*:*:*:*:*:*:*:*"}]}]}]}}]}"#;
        let r = officer.post_file("/feeds", "/feeds", "nvdcve.json", cve.to_vec()).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let mid = app.store.vuln_matches(Some(sys)).await.unwrap()[0].id;
        post_ok(
            &vendor,
            &inv,
            &format!("{s}/vulns/{mid}"),
            &[("state", "fixed"), ("reason", "1.25.3 に更新"), ("seen", "0")],
        )
        .await;
        w.expect("/systems/{id}/vulns/{mid}", "vuln.decided", "vendor1", Some("system")).await;
        // Records: one added, changed, approved, removed.
        let recs = format!("{s}/records");
        let domain =
            [("kind", "domain"), ("domain", "docs.example.lg.jp"), ("expires", "2030-01-01"), ("retired", "no")];
        post_ok(&vendor, &format!("{recs}/new?kind=domain"), &recs, &domain).await;
        w.expect("/systems/{id}/records", "record.saved", "vendor1", Some("system")).await;
        let rid = app.store.records(sys).await.unwrap()[0].id;
        let r = vendor.save_record(sys, rid, &domain).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        w.expect("/systems/{id}/records/{rid}", "record.saved", "vendor1", Some("system")).await;
        let seen = app.store.records(sys).await.unwrap()[0].seen();
        let revision = seen.revision.to_string();
        let decision = [("decision", "approve"), ("note", ""), ("revision", &revision), ("decided", &seen.decision)];
        post_ok(&officer, &recs, &format!("{recs}/{rid}/review"), &decision).await;
        w.expect("/systems/{id}/records/{rid}/review", "record.reviewed", "officer2", Some("system")).await;
        // Approved, it is the office's to remove.
        post_ok(&officer, &recs, &format!("{recs}/{rid}/remove"), &[]).await;
        w.expect("/systems/{id}/records/{rid}/remove", "record.removed", "officer2", Some("system")).await;
        post_ok(&vendor, &s, &format!("{s}/submit"), &[]).await;
        w.expect("/systems/{id}/submit", "system.submitted", "vendor1", Some("system")).await;
        // No.1 approved from the list; the others one by one.
        let list = officer.get(&s).await.body;
        let seen = hidden_in(&list, "revision");
        let r = officer
            .post(&format!("{s}/approvals"), &[("revision", seen.as_str()), ("confirm", "yes"), ("item", "1")])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        w.expect("/systems/{id}/approvals", "answer.reviewed", "officer2", Some("system")).await;
        for n in &applicable[1..] {
            let page = officer.get(&format!("{s}/items/{n}")).await.body;
            let (revision, decided) = (hidden_in(&page, "revision"), hidden_in(&page, "decided"));
            let r = officer
                .post(
                    &format!("{s}/items/{n}/review"),
                    &[("decision", "approve"), ("comment", ""), ("revision", &revision), ("decided", &decided)],
                )
                .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "No.{n}: {}", r.body);
        }
        w.expect("/systems/{id}/items/{number}/review", "answer.reviewed", "officer2", Some("system")).await;
        post_ok(&officer, &s, &format!("{s}/review"), &[]).await;
        w.expect("/systems/{id}/review", "review.finished", "officer2", Some("system")).await;
        post_ok(&officer, &s, &format!("{s}/rounds"), &[]).await;
        w.expect("/systems/{id}/rounds", "system.round_started", "officer2", Some("system")).await;
        // Rounds started together: each an event of its own, as from the page.
        let other = crate::checklist::system(&app, dept, Some(vendor_org), "一括開始システム").await;
        crate::library::approve_round(&app, other, 1).await;
        post_ok(&officer, "/rounds", "/rounds", &[("system", &other.to_string()), ("due_on", "2099-03-31")]).await;
        w.expect("/rounds", "system.round_started", "officer2", Some("system")).await;
        assert_eq!(app.store.system(other).await.unwrap().unwrap().round, 2, "{}", app.backend);

        // Answers from Excel: the upload only previews (it changes no
        // record); applying it is one audited revision per changed answer.
        let copy = vendor.http.get(format!("{}{s}/answers.xlsx", app.base)).send().await.unwrap();
        let copy = copy.bytes().await.unwrap().to_vec();
        let filled = mamori_testkit::xlsx::edited(
            &copy,
            &[("チェックリスト", 12, 4, "対応済"), ("チェックリスト", 12, 5, "Excel で回答")],
        );
        let preview = vendor.post_file(&s, &format!("{s}/answers.xlsx"), "answers.xlsx", filled).await;
        assert!(preview.body.contains("answers/apply"), "{}", preview.body);
        let mark = crate::harness::hidden_in(&preview.body, "mark");
        let r = vendor.post(&format!("{s}/answers/apply"), &[("mark", &mark)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        w.expect("/systems/{id}/answers/apply", "answer.saved", "vendor1", Some("system")).await;

        // The yearly report of item 68.
        let yearly = format!("{s}/yearly?year=2026");
        post_ok(
            &vendor,
            &yearly,
            &format!("{s}/signoffs"),
            &[("year", "2026"), ("kind", "logs"), ("comment", "異常なし")],
        )
        .await;
        w.expect("/systems/{id}/signoffs", "system.review_signed_off", "vendor1", Some("system")).await;
        post_ok(&officer, &yearly, &format!("{s}/report-month"), &[("month", "6"), ("year", "2026")]).await;
        w.expect("/systems/{id}/report-month", "system.report_month_set", "officer2", Some("system")).await;
        let r = officer.post_from(&yearly, &format!("{s}/yearly/received"), &["shown"], &[("year", "2026")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        w.expect("/systems/{id}/yearly/received", "yearly_report.received", "officer2", Some("system")).await;

        // A new catalog version from the web: read (a preview), then imported.
        let mut catalog = mamori_core::catalog::CatalogFile::shipped();
        catalog.catalog.version = "2".into();
        let r = officer.post_file("/catalog/import", "/catalog/import", "c.yaml", catalog.to_yaml().into_bytes()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let mark = crate::harness::hidden_in(&r.body, "mark");
        post_ok(&officer, "/catalog/import", "/catalog/import/apply", &[("mark", &mark)]).await;
        w.expect("/catalog/import/apply", "catalog.imported", "officer2", Some("catalog_version")).await;

        // The audit log's own upkeep.
        post_ok(
            &officer,
            "/audit/signins",
            "/audit/reviews",
            &[("from", "2026-11-01"), ("to", "2026-11-30"), ("findings", "異常なし")],
        )
        .await;
        w.expect("/audit/reviews", "log_review.signed_off", "officer2", Some("log_review")).await;
        let now = app.now();
        let alert = app.store.raise_alert(now, "test", mamori_core::monitoring::Severity::Info, "x", "").await.unwrap();
        post_ok(&officer, "/alerts", &format!("/alerts/{alert}/ack"), &[("count", "1")]).await;
        w.expect("/alerts/{id}/ack", "alert.acknowledged", "officer2", Some("alert")).await;
        post_ok(&officer, "/alerts", "/alerts/notify-test", &[]).await;
        w.expect("/alerts/notify-test", "notification.tested", "officer2", Some("notification")).await;
        assert!(
            app.hook.hooks().iter().any(|h| h.body == br#"{"kind":"test","test":true}"#),
            "{}: the test message went out",
            app.backend
        );

        // Every download sealed in a password ZIP (item 18); never the password.
        let zip_password = "a-zip-password-of-the-office";
        secrets.push(zip_password.into());
        let sealed = [("zip_password", zip_password), ("zip_password_confirm", zip_password)];
        for (who, login, page, route) in [
            (&admin, "admin1", "/admin/ledger".to_owned(), "/admin/ledger.csv"),
            (&admin, "admin1", "/admin/ledger".to_owned(), "/admin/ledger.xlsx"),
            (&officer, "officer2", "/audit".to_owned(), "/audit/export.csv"),
            (&officer, "officer2", "/audit".to_owned(), "/audit/export.jsonl"),
            (&officer, "officer2", "/systems".to_owned(), "/systems.xlsx"),
            (&officer, "officer2", format!("/systems/{sys}"), "/systems/{id}/report.xlsx"),
            (&officer, "officer2", format!("/systems/{sys}"), "/systems/{id}/report.csv"),
            (&officer, "officer2", format!("/systems/{sys}/yearly"), "/systems/{id}/yearly.xlsx"),
            (&officer, "officer2", format!("/systems/{sys}/inventory"), "/systems/{id}/inventory.xlsx"),
            (&officer, "officer2", format!("/systems/{sys}/inventory"), "/systems/{id}/inventory.csv"),
        ] {
            post_ok(who, &page, &route.replace("{id}", &sys.to_string()), &sealed).await;
            w.expect(route, "export.sealed", login, Some("export")).await;
        }

        // Every state-changing route was walked; only the language switch
        // and the uploads of an answer workbook and of a catalog (previews),
        // which change no record, are exempt.
        let all: BTreeSet<&str> =
            route_table().into_iter().filter(|r| r.method != reqwest::Method::GET).map(|r| r.path).collect();
        let exempt = ["/lang", "/systems/{id}/answers.xlsx", "/catalog/import"];
        let missing: Vec<&&str> = all.iter().filter(|p| !w.covered.contains(**p) && !exempt.contains(*p)).collect();
        assert!(missing.is_empty(), "{}: routes without an audit check: {missing:?}", app.backend);

        // No event holds a password, a TOTP secret, a session id or a CSRF token.
        secrets.push(officer.token());
        secrets.push(vendor.token());
        let mut text = String::new();
        app.store
            .audit_for_each(&Default::default(), |e| {
                text.push_str(&mamori_files::audit_export::json(e).to_string());
                Ok(())
            })
            .await
            .unwrap();
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "{}: a secret is in the audit log", app.backend);
        }
        assert!(!text.contains("__Host-mamori_session"), "no session cookie");
        assert!(!text.contains("argon2"), "no password hash");
        app.close().await;
    }
}
