//! The route table walked: CSRF on every state-changing route (item 45),
//! and every route × every role answering as its access says (items 6, 35,
//! 36, 75).

use crate::harness::{App, Client, Options};
use mamori_core::identity::{OrgKind, Role};
use mamori_web::routes::{route_table, RouteSpec};
use mamori_web_access::expected;
use reqwest::StatusCode;

/// What a role may do with a route, from the declaration alone.
mod mamori_web_access {
    use mamori_core::identity::Role;
    use mamori_web::routes::RouteSpec;

    #[derive(Debug, PartialEq, Eq)]
    pub enum Expect {
        /// Served (any answer but "go and sign in" or a hidden 404).
        Served,
        /// Sent to sign in.
        SignIn,
        /// 404: the route is not theirs, and they learn nothing from it.
        Hidden,
    }

    pub fn expected(route: &RouteSpec, role: Option<Role>) -> Expect {
        use mamori_web::routes::Access;
        match (route.access_kind(), role) {
            (Access::Public, _) => Expect::Served,
            (_, None) => Expect::SignIn,
            (Access::Permission(p), Some(r)) if !r.can(p) => Expect::Hidden,
            _ => Expect::Served,
        }
    }
}

fn concrete(path: &str, account: i64, system: i64) -> String {
    concrete_with(path, account, system, (system, system, system))
}

/// [`concrete`] with a component of the system's inventory and a match of
/// it with an advisory.
fn concrete_with(path: &str, account: i64, system: i64, (component, matched, record): (i64, i64, i64)) -> String {
    let path = path
        .replace("{cid}", &component.to_string())
        .replace("{mid}", &matched.to_string())
        .replace("{rid}", &record.to_string());
    let path = path.as_str();
    let about_system = ["/systems/", "/evidence/", "/library/", "/documents/"].iter().any(|p| path.starts_with(p));
    let id = if about_system { system } else { account };
    let id = if path.starts_with("/alerts/") { 1 } else { id };
    path.replace("{id}", &id.to_string())
        .replace("{number}", "1")
        .replace("{file}", &system.to_string())
        .replace("{seq}", "1")
        .replace("{token}", "not-a-token")
}

async fn state_snapshot(app: &App) -> String {
    let accounts = app.store.accounts().await.unwrap();
    let orgs = app.store.organisations().await.unwrap();
    let reviews = app.store.access_reviews().await.unwrap();
    format!(
        "{accounts:?}{:?}{orgs:?}{reviews:?}",
        accounts.iter().map(|a| (&a.display_name, a.session_generation, a.failed_count)).collect::<Vec<_>>()
    )
}

#[tokio::test]
async fn item_45_every_state_changing_route_refuses_a_forged_request() {
    for app in App::each(Options::default()).await {
        let (admin, admin_id) = app.signed_in("admin1", Role::Admin, None).await;
        let token = admin.token();
        let before = state_snapshot(&app).await;
        let posts: Vec<RouteSpec> = route_table().into_iter().filter(|r| r.method != reqwest::Method::GET).collect();
        assert!(posts.len() >= 15, "the table lists the state-changing routes");
        for (n, route) in posts.iter().enumerate() {
            // Four refusals a route, five routes a minute: each recorded one
            // by one (past twenty a minute, they are counted).
            if n % 5 == 0 {
                app.clock.advance(time::Duration::minutes(1));
            }
            let path = concrete(route.path, admin_id, 1);
            for (origin, tok, why) in [
                (Some(app.base.as_str()), None, "no token"),
                (Some(app.base.as_str()), Some("f".repeat(64)), "wrong token"),
                (Some("https://evil.example"), Some(token.clone()), "foreign origin"),
                (None, Some(token.clone()), "no origin"),
            ] {
                let r = admin.post_raw(&path, origin, tok.as_deref()).await;
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: POST {path} with {why}", app.backend);
            }
        }
        assert_eq!(state_snapshot(&app).await, before, "{}: a refused request changed something", app.backend);
        // Still signed in: the refusals did not end the session either.
        assert_eq!(admin.get("/dashboard").await.status, StatusCode::OK);
        let refused = app.audit_actions().await.iter().filter(|a| *a == "csrf.rejected").count();
        assert_eq!(refused, posts.len() * 4, "{}: every refusal is audited", app.backend);
        app.close().await;
    }
}

struct Who {
    role: Option<Role>,
    client: Client,
    /// A vendor of another company than the system's.
    foreign: bool,
    /// Answers item 1 of the system (the builder's).
    answers_item: bool,
    /// Answers some item of the system (has a part to submit).
    has_part: bool,
}

#[tokio::test]
async fn role_by_route_matrix_has_no_surprise() {
    for app in App::each(Options::unpaced()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let vendor_b = app.org("ベンダーB", OrgKind::Vendor).await;
        let maintenance = app.org("保守ベンダー", OrgKind::Vendor).await;
        let cloud = app.org("クラウド事業者", OrgKind::Vendor).await;
        let mut people =
            vec![Who { role: None, client: app.client(), foreign: false, answers_item: false, has_part: false }];
        let mut target = 0;
        for (login, role, org) in [
            ("m-admin", Role::Admin, None),
            ("m-officer", Role::SecurityOfficer, None),
            ("m-dept", Role::Department, Some(dept)),
            ("m-vendor", Role::Vendor, Some(vendor)),
            ("m-auditor", Role::Auditor, None),
            ("m-vendor-b", Role::Vendor, Some(vendor_b)),
            // The system's other vendors: each sees it as its builder does.
            ("m-maintenance", Role::Vendor, Some(maintenance)),
            ("m-cloud", Role::Vendor, Some(cloud)),
        ] {
            let (c, id) = app.signed_in(login, role, org).await;
            if role == Role::Auditor {
                target = id;
            }
            people.push(Who {
                role: Some(role),
                client: c,
                foreign: org == Some(vendor_b),
                answers_item: org == Some(vendor),
                // The builder answers 1-6, 19-29 and 79 here, the
                // maintenance vendor 8-12; the cloud provider's items do not
                // apply, and the department's are moved to the builder.
                has_part: org == Some(vendor) || org == Some(maintenance),
            });
        }
        let system = crate::checklist::system(&app, dept, Some(vendor), "台帳システム").await;
        let before = app.store.system(system).await.unwrap().unwrap();
        let input = mamori_store::systems::SystemInput {
            maintenance_id: Some(maintenance),
            cloud_id: Some(cloud),
            ..before.input.clone()
        };
        app.store.update_system(&app.ctx(), before.id, &input).await.unwrap();
        // An evidence file whose id equals the system's, so one {id} serves both.
        let file = mamori_store::evidence::NewEvidence {
            number: 1,
            original_name: "a.txt",
            content_type: "text/plain",
            sha256: "0",
            expires_on: None,
            content: b"x",
            replaces: None,
            by: None,
        };
        let evidence = app.store.add_evidence(&app.ctx(), system, &file).await.unwrap();
        assert_eq!(evidence, system, "the first evidence and the first system share id 1");
        // A library document of the builder, its first revision and its
        // link to item 1 share that id too.
        let doc = mamori_store::library::NewDocFile {
            original_name: "a.txt",
            content_type: "text/plain",
            sha256: "0",
            expires_on: None,
            content: b"x",
        };
        let document = app.store.add_document(&app.ctx(), vendor, "体制図", &doc).await.unwrap();
        app.store.link_document(&app.ctx(), document, vendor, system, 1, false).await.unwrap();
        assert_eq!(document, system);
        assert_eq!(app.store.document_links(system, 1).await.unwrap()[0].id, system);
        let now = app.now();
        let alert =
            app.store.raise_alert(now, "test", mamori_core::monitoring::Severity::Info, "matrix", "").await.unwrap();
        assert_eq!(alert, 1);
        // A component of the system's inventory: made again each time a
        // person who may removes it, so the next person finds one.
        let component_input = mamori_core::inventory::ComponentInput::parse(&mamori_core::inventory::ComponentFields {
            product: "nginx",
            version: "1.24.0",
            ..Default::default()
        })
        .unwrap();
        let mut component = app.store.save_component(&app.ctx(), system, None, &component_input).await.unwrap();
        let advisory = mamori_core::vulns::Advisory {
            source: mamori_core::vulns::VulnSource::Nvd,
            ident: "CVE-2023-44487".into(),
            title: "t".into(),
            link: String::new(),
            cvss: None,
            cves: vec![],
            modified: "1".into(),
            affected: vec![mamori_core::vulns::Affected {
                part: Some('a'),
                vendor: "f5".into(),
                product: "nginx".into(),
                versions: mamori_core::vulns::Versions::Any,
                on: vec![],
            }],
        };
        let feed = [advisory];
        app.store
            .import_advisories(&app.ctx(), "n.json", "0", mamori_core::vulns::VulnSource::Nvd, &feed)
            .await
            .unwrap();
        let match_of = async || app.store.vuln_matches(Some(system)).await.unwrap()[0].id;
        let mut matched = match_of().await;
        // A record of the system, made again each time a person who may removes it.
        let domain = crate::checklist::domain_record();
        let kind = mamori_core::records::RecordKind::Domain;
        let mut record = app
            .store
            .save_record(&app.ctx(), system, None, kind, &domain, mamori_store::records::Keeper::CONSOLE)
            .await
            .unwrap();
        let mut surprises = Vec::new();
        for route in route_table() {
            for who in &people {
                let path = concrete_with(route.path, target, system, (component, matched, record));
                let r = if route.method == reqwest::Method::GET {
                    who.client.get(&path).await
                } else {
                    if route.path == "/logout" {
                        continue; // would end the session the rest of the walk needs
                    }
                    who.client.get("/dashboard").await; // a fresh token
                                                        // A download's sealed form: with a password, so that
                                                        // what answers is the access, not the form's check.
                    let fields: &[(&str, &str)] = if mamori_web::sealed::is_download(route.path) {
                        &[("zip_password", "matrix-password-1"), ("zip_password_confirm", "matrix-password-1")]
                    } else {
                        &[]
                    };
                    who.client.post(&path, fields).await
                };
                if route.path.ends_with("/inventory/{cid}/remove") && r.location().ends_with("/inventory") {
                    component = app.store.save_component(&app.ctx(), system, None, &component_input).await.unwrap();
                    matched = match_of().await;
                }
                if route.path.ends_with("/records/{rid}/remove") && r.location().ends_with("/records") {
                    record = app
                        .store
                        .save_record(&app.ctx(), system, None, kind, &domain, mamori_store::records::Keeper::CONSOLE)
                        .await
                        .unwrap();
                }
                let about_the_system = route.path.starts_with("/systems/{id}")
                    || route.path.starts_with("/evidence/")
                    || route.path.starts_with("/documents/");
                let answers = who.role.is_some_and(|r| r.can(mamori_core::identity::Permission::AnswerChecklist));
                let changes_item = route.method != reqwest::Method::GET
                    && route.path.starts_with("/systems/{id}/items/{number}")
                    && !route.path.ends_with("/review");
                let want = if who.foreign && about_the_system {
                    // Another company's system: as if it did not exist.
                    mamori_web_access::Expect::Hidden
                } else if answers && changes_item && !who.answers_item {
                    // Another party's item: read, never changed.
                    mamori_web_access::Expect::Hidden
                } else if answers && route.path.starts_with("/library/{id}") && !who.answers_item {
                    // Another organisation's document: as if it did not exist.
                    mamori_web_access::Expect::Hidden
                } else if answers && route.path == "/systems/{id}/submit" && !who.has_part {
                    // Nothing of theirs to submit.
                    mamori_web_access::Expect::Hidden
                } else if answers
                    && who.role != Some(mamori_core::identity::Role::Department)
                    && route.path.starts_with("/systems/{id}/records/{rid}")
                    && !route.path.ends_with("/review")
                {
                    // The record is the department's (made at the console):
                    // a vendor changes only its own organisation's.
                    mamori_web_access::Expect::Hidden
                } else if route.path == "/systems/{id}/records/{rid}/remove"
                    && who.role.is_some_and(|r| !answers && !r.can(mamori_core::identity::Permission::ReviewAnswers))
                {
                    // Neither keeps the records nor reviews them (decided in
                    // the operation): as if the record did not exist.
                    mamori_web_access::Expect::Hidden
                } else {
                    expected(&route, who.role)
                };
                use mamori_web_access::Expect::*;
                let ok = match want {
                    Served if route.access_kind() == mamori_web::routes::Access::Public => r.status.as_u16() < 500,
                    Served => r.status != StatusCode::NOT_FOUND && r.location() != "/login" && r.status.as_u16() < 500,
                    SignIn => r.status == StatusCode::SEE_OTHER && r.location() == "/login",
                    Hidden => r.status == StatusCode::NOT_FOUND,
                };
                if !ok {
                    surprises.push(format!(
                        "{} {path} as {:?}: expected {want:?}, got {} {}",
                        route.method,
                        who.role,
                        r.status,
                        r.location()
                    ));
                }
            }
        }
        assert!(surprises.is_empty(), "{}:\n{}", app.backend, surprises.join("\n"));
        app.close().await;
    }
}

#[tokio::test]
async fn items_35_75_account_management_answers_only_to_admin_networks() {
    let opts = Options { admin_networks: Some(vec!["10.0.0.0/8".parse().unwrap()]), ..Options::default() };
    for app in App::each(opts).await {
        let (admin, id) = app.signed_in("admin1", Role::Admin, None).await;
        for path in
            ["/admin/users/new".to_owned(), "/admin/organisations".to_owned(), format!("/admin/users/{id}/edit")]
        {
            assert_eq!(admin.get(&path).await.status, StatusCode::NOT_FOUND, "{}: {path}", app.backend);
        }
        // Reading the list is not administration.
        assert_eq!(admin.get("/admin/users").await.status, StatusCode::OK);
        app.close().await;
    }
}

/// A vendor reaching for what is not theirs is recorded with who, where
/// and why, whether the route itself is closed to it (the audit log) or the
/// thing is another's (another vendor's system, which answers "not found"
/// as if it did not exist). A page of its own is not.
#[tokio::test]
async fn a_vendor_reaching_for_another_s_system_or_a_closed_route_is_recorded_as_refused() {
    for app in App::each(Options::default()).await {
        let crate::checklist::Cast { sys, x, v, .. } = crate::checklist::cast(&app).await;
        let denied = async || {
            let events = app.store.audit_recent(100).await.unwrap();
            events
                .into_iter()
                .filter(|e| e.record.action == "access.denied")
                .map(|e| e.record.changes)
                .collect::<Vec<_>>()
        };
        assert_eq!(v.get(&format!("/systems/{sys}")).await.status, StatusCode::OK);
        assert!(denied().await.is_empty(), "{}: its own page", app.backend);
        assert_eq!(x.get(&format!("/systems/{sys}")).await.status, StatusCode::NOT_FOUND, "{}", app.backend);
        assert_eq!(x.get("/audit").await.status, StatusCode::NOT_FOUND, "{}", app.backend);
        let events = denied().await;
        assert_eq!(events.len(), 2, "{}: {events:?}", app.backend);
        assert!(events.iter().any(|c| c.contains(&format!("/systems/{sys}")) && c.contains("not_found")), "{events:?}");
        assert!(events.iter().any(|c| c.contains("/audit") && c.contains("permission")), "{events:?}");
        app.close().await;
    }
}

/// A reverse proxy on the server's own host that is not named in
/// `trusted_proxies` makes every user arrive from 127.0.0.1, inside the
/// default admin networks: account management and the operations' details
/// were then open to everyone through it. A request that says it was
/// forwarded by a peer not trusted is refused them.
#[tokio::test]
async fn a_request_forwarded_by_a_proxy_not_trusted_never_counts_as_from_the_admin_networks() {
    let app = App::spawn("sqlite", Options::default()).await;
    let (admin, _) = app.signed_in("admin1", Role::Admin, None).await;
    let get = async |path: &str, forwarded: bool| {
        let mut r = admin.http.get(format!("{}{path}", app.base));
        if forwarded {
            r = r.header("x-forwarded-for", "198.51.100.7");
        }
        let r = r.send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    };
    assert_eq!(get("/admin/users/new", false).await.0, StatusCode::OK);
    assert_eq!(get("/admin/users/new", true).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get("/metrics", false).await.0, StatusCode::OK);
    assert_eq!(get("/metrics", true).await.0, StatusCode::NOT_FOUND);
    let (_, health) = get("/healthz", true).await;
    assert_eq!(health, r#"{"database":"ok","status":"ok"}"#, "only whether it is up");
    app.close().await;
}
