//! Sign-in, lockout, sessions, second factor, passwords (items 2, 4, 5, 36,
//! 39, 41-46, 75).

use crate::harness::{totp_secret_in, App, Options, FAILED, PASSWORD};
use mamori_core::identity::{OrgKind, Role};
use mamori_core::totp;
use reqwest::StatusCode;
use time::Duration;

pub(crate) fn set_cookie(r: &crate::harness::Res, name: &str) -> String {
    r.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_default()
}

#[tokio::test]
async fn sign_in_sets_a_host_cookie_and_a_new_session_id() {
    for app in App::each(Options::default()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        app.user("staff-a", Role::Department, Some(dept)).await;
        app.user("officer-x", Role::SecurityOfficer, None).await;
        let c = app.client();
        c.get("/login").await;
        // A session made before sign-in, as a fixation attack would plant
        // one: here the password step of an account with a second factor,
        // left waiting for its code.
        let before = c.post("/login", &[("login", "officer-x"), ("password", PASSWORD)]).await;
        let cookie = |r: &crate::harness::Res| set_cookie(r, "__Host-mamori_session");
        let first = cookie(&before);
        assert!(!first.is_empty(), "{}: the second factor's wait is a session", app.backend);
        c.get("/login").await;
        let r = c.post("/login", &[("login", "Staff-A"), ("password", PASSWORD)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        assert_eq!(r.location(), "/dashboard");
        let second = cookie(&r);
        // item 44: the attributes
        for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(second.contains(attr), "{}: {attr} missing in {second}", app.backend);
        }
        assert!(!second.to_lowercase().contains("domain="), "__Host- cookies carry no Domain");
        // session fixation: a new id at sign-in
        let id = |c: &str| c.split(';').next().unwrap().to_owned();
        assert_ne!(id(&first), id(&second), "{}: the session id did not change at sign-in", app.backend);
        // item 42②: at least 128 bits (tower-sessions: i128 as 22 base64url characters)
        assert!(id(&second).len() >= "__Host-mamori_session=".len() + 22);
        let d = c.get("/dashboard").await;
        assert_eq!(d.status, StatusCode::OK);
        assert!(d.body.contains("staff-a さん"), "{}", d.body);
        assert!(app.audit_actions().await.contains(&"signin.success".to_owned()));
        app.close().await;
    }
}

/// A visitor's choice of language is a cookie of its own: twenty visitors
/// choosing one write no session and nothing to the database (a session
/// row for each was a write anyone could repeat without end), and the pages
/// speak the language chosen. Signed in, the choice is the session's.
#[tokio::test]
async fn a_visitor_choosing_a_language_writes_nothing_and_the_pages_speak_it() {
    for app in App::each(Options::default()).await {
        let (writes, session_writes) = (app.store.write_transactions(), app.state.sessions.writes());
        for _ in 0..20 {
            let c = app.client();
            c.get("/login").await;
            let r = c.post("/lang", &[("lang", "en"), ("next", "/login")]).await;
            assert_eq!(r.location(), "/login", "{}", app.backend);
            assert_eq!(set_cookie(&r, "__Host-mamori_session"), "", "{}: no session", app.backend);
            let lang = set_cookie(&r, "__Host-mamori_lang");
            for attr in ["__Host-mamori_lang=en", "Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
                assert!(lang.contains(attr), "{}: {attr} missing in {lang}", app.backend);
            }
            assert!(c.get("/login").await.body.contains("Sign in"), "{}: the page in English", app.backend);
        }
        assert_eq!(app.store.write_transactions(), writes, "{}: a database write", app.backend);
        assert_eq!(app.state.sessions.writes(), session_writes, "{}: a session written", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn viewing_the_sign_in_page_anonymously_writes_nothing_and_its_signed_token_signs_in() {
    for app in App::each(Options::default()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        app.user("staff-a", Role::Department, Some(dept)).await;
        let (writes, session_writes) = (app.store.write_transactions(), app.state.sessions.writes());
        let events = app.store.audit_recent(100_000).await.unwrap().len();
        let mut clients = Vec::new();
        for _ in 0..20 {
            let c = app.client();
            let r = c.get("/login").await;
            assert_eq!(r.status, StatusCode::OK);
            assert_eq!(set_cookie(&r, "__Host-mamori_session"), "", "{}: no session for a visitor", app.backend);
            let csrf = set_cookie(&r, "__Host-mamori_csrf");
            for attr in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
                assert!(csrf.contains(attr), "{}: {attr} missing in {csrf}", app.backend);
            }
            assert_eq!(c.token().len(), 64);
            // Seen again, the page keeps the same token.
            let token = c.token();
            c.get("/login").await;
            assert_eq!(c.token(), token, "{}", app.backend);
            clients.push(c);
        }
        assert_eq!(app.store.write_transactions(), writes, "{}: a database write", app.backend);
        assert_eq!(app.state.sessions.writes(), session_writes, "{}: a session written", app.backend);
        assert_eq!(app.store.audit_recent(100_000).await.unwrap().len(), events, "{}", app.backend);
        // Another visitor's token, or a token without its cookie, is refused.
        let (a, b) = (&clients[0], &clients[1]);
        let r = a.post_raw("/login", Some(&app.base), Some(&b.token())).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: another visitor's token", app.backend);
        let stranger = app.client();
        let r = stranger.post_raw("/login", Some(&app.base), Some(&a.token())).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: a token without its cookie", app.backend);
        // The visitor's own token signs in.
        let r = a.post("/login", &[("login", "staff-a"), ("password", PASSWORD)]).await;
        assert_eq!(r.location(), "/dashboard", "{}: {}", app.backend, r.body);
        app.close().await;
    }
}

#[tokio::test]
async fn item_39_every_failure_shows_the_same_message() {
    for app in App::each(Options::default()).await {
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let (disabled_id, _) = app.user("disabled-one", Role::Vendor, Some(vendor)).await;
        app.user("locked-one", Role::Vendor, Some(vendor)).await;
        app.user("known-one", Role::Vendor, Some(vendor)).await;
        app.store.set_account_disabled(&app.system_ctx(), disabled_id, true, "test").await.unwrap();
        app.lock("locked-one").await;
        let mut bodies = Vec::new();
        for (login, password) in [
            ("nobody-here", PASSWORD),
            ("known-one", "Wrong-Password-1"),
            ("locked-one", PASSWORD),
            ("disabled-one", PASSWORD),
        ] {
            let c = app.client();
            let r = c.sign_in(&app, login, password, None).await;
            assert_eq!(r.status, StatusCode::OK, "{}: {login}", app.backend);
            assert!(r.body.contains(FAILED), "{}: {login}: {}", app.backend, r.body);
            assert!(!r.body.contains(password), "the password is never echoed");
            // Same page but for the login typed and the token.
            bodies.push(r.body.replace(login, "LOGIN").replace(&c.token(), "TOKEN"));
        }
        assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{}: failure pages differ", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn item_41_lock_falls_at_exactly_ten_of_100_parallel_failures_and_lifts_after_30_minutes() {
    for app in App::each(Options::default()).await {
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let (id, _) = app.user("target", Role::Vendor, Some(vendor)).await;
        let c = app.client_on("/login").await;
        let attempts: Vec<_> = (0..100)
            .map(|_| {
                let c = c.clone();
                tokio::spawn(
                    async move { c.post("/login", &[("login", "target"), ("password", "Wrong-Password-1")]).await },
                )
            })
            .collect();
        for a in attempts {
            let r = a.await.unwrap();
            assert!(r.body.contains(FAILED));
        }
        let a = app.store.account_by_id(id).await.unwrap().unwrap();
        assert_eq!(a.failed_count, 10, "{}", app.backend);
        assert!(a.locked_until.is_some());
        let locks = app.audit_actions().await.iter().filter(|a| *a == "account.locked").count();
        assert_eq!(locks, 1, "{}: one lock event", app.backend);

        // The right password is refused while locked, with the same message.
        app.clock.advance(Duration::minutes(29));
        let r = app.client().sign_in(&app, "target", PASSWORD, None).await;
        assert!(r.body.contains(FAILED), "{}: still locked at 29 minutes", app.backend);
        app.clock.advance(Duration::minutes(2));
        let r = app.client().sign_in(&app, "target", PASSWORD, None).await;
        assert_eq!(r.location(), "/dashboard", "{}: released after 30 minutes", app.backend);
        assert_eq!(app.store.account_by_id(id).await.unwrap().unwrap().failed_count, 0);
        app.close().await;
    }
}

/// Anyone who knows a login can lock its account, an administrator's
/// included, again each time the lock lifts: the office was never told (the
/// lock was an audit event only). Each lock now raises the alert
/// `account.locked` naming the login and the last address, one alert
/// counted up while unacknowledged; a failure short of the limit raises
/// none.
#[tokio::test]
async fn each_lock_of_an_account_alerts_the_office_naming_the_login() {
    for app in App::each(Options::default()).await {
        app.user("admin2", Role::Admin, None).await;
        let locked = || async {
            let alerts = app.store.alerts(true).await.unwrap();
            alerts.into_iter().filter(|a| a.kind == "account.locked").map(|a| (a.subject, a.count)).collect::<Vec<_>>()
        };
        let c = app.client_on("/login").await;
        for i in 1..=10 {
            c.post("/login", &[("login", "admin2"), ("password", "Wrong-Password-1")]).await;
            if i == 9 {
                assert!(locked().await.is_empty(), "{}: nothing before the lock", app.backend);
            }
        }
        assert_eq!(locked().await, [("admin2".to_owned(), 1)], "{}", app.backend);
        let alert = app.store.alerts(true).await.unwrap().into_iter().find(|a| a.kind == "account.locked").unwrap();
        assert!(alert.detail.starts_with("10 failures, the last from 127.0.0.1"), "{}: {}", app.backend, alert.detail);
        app.clock.advance(Duration::minutes(31));
        for _ in 0..10 {
            c.post("/login", &[("login", "admin2"), ("password", "Wrong-Password-1")]).await;
        }
        assert_eq!(locked().await, [("admin2".to_owned(), 2)], "{}: locked again", app.backend);
        let (officer, _) = app.signed_in("officer9", Role::SecurityOfficer, None).await;
        let page = officer.get("/alerts").await.body;
        assert!(page.contains("アカウントのロック(サインインの失敗)") && page.contains("admin2"), "{}", app.backend);
        app.close().await;
    }
}

/// Someone signed in who signs in again as another (at a shared desk):
/// the new session id kept everything else of the first person's session,
/// so that until the second factor was given the first person stayed
/// signed in, and the second found the first one's second factor being
/// enrolled. Now a password accepted clears what was the person's.
#[tokio::test]
async fn a_sign_in_as_another_person_keeps_nothing_of_the_first_one_s_session() {
    for app in App::each(Options::default()).await {
        app.issue("officer", Role::SecurityOfficer, None).await;
        app.issue("admin2", Role::Admin, None).await;
        let c = app.client();
        assert_eq!(c.sign_in(&app, "officer", PASSWORD, None).await.location(), "/account/totp");
        let first = totp_secret_in(&c.get("/account/totp").await.body);
        let r = c.post("/login", &[("login", "admin2"), ("password", PASSWORD)]).await;
        assert_eq!(r.location(), "/account/totp", "{}", app.backend);
        let second = totp_secret_in(&c.get("/account/totp").await.body);
        assert_ne!(first, second, "{}: the officer's secret is not offered to the administrator", app.backend);

        let code = totp::code_at(&second, app.now()).unwrap();
        c.post("/account/totp", &[("code", &code)]).await;
        assert_eq!(c.get("/dashboard").await.status, StatusCode::OK, "{}: the administrator", app.backend);
        c.post("/logout", &[]).await;
        let org = app.org("総務課", OrgKind::Department).await;
        let (d, _) = app.signed_in("staff", Role::Department, Some(org)).await;
        assert_eq!(d.get("/dashboard").await.status, StatusCode::OK);
        let r = d.post("/login", &[("login", "admin2"), ("password", PASSWORD)]).await;
        assert_eq!(r.location(), "/login/totp", "{}", app.backend);
        let r = d.get("/dashboard").await;
        assert_eq!(r.location(), "/login", "{}: the department's sign-in went with the password accepted", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn item_46_idle_and_absolute_timeouts_end_the_session_recorded_under_the_person() {
    for app in App::each(Options::default()).await {
        let org = app.org("総務課", OrgKind::Department).await;
        let (c, _) = app.signed_in("staff", Role::Department, Some(org)).await;
        app.clock.advance(Duration::minutes(59));
        assert_eq!(c.get("/dashboard").await.status, StatusCode::OK, "{}", app.backend);
        app.clock.advance(Duration::minutes(60));
        let r = c.get("/dashboard").await;
        assert_eq!(r.location(), "/login?expired=1", "{}: idle for 60 minutes", app.backend);
        assert!(c.get("/login?expired=1").await.body.contains("ログアウトしました"));
        // The event names whose session it was, so the audit log's filter
        // by person finds it.
        let events = app.store.audit_recent(20).await.unwrap();
        let ev = events.iter().find(|e| e.record.action == "session.timeout").expect("the timeout's event");
        assert_eq!(ev.record.actor_login, "staff", "{}", app.backend);

        // Busy all day, still out at 12 hours.
        let (c, _) = app.signed_in("staff2", Role::Department, Some(org)).await;
        for _ in 0..14 {
            app.clock.advance(Duration::minutes(50));
            assert_eq!(c.get("/dashboard").await.status, StatusCode::OK, "{}", app.backend);
        }
        app.clock.advance(Duration::minutes(20));
        assert_eq!(c.get("/dashboard").await.location(), "/login?expired=1", "{}: 12 hours", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn a_signed_in_page_view_writes_its_session_at_most_once_a_minute_and_nothing_else() {
    for app in App::each(Options::default()).await {
        let org = app.org("総務課", OrgKind::Department).await;
        let (c, _) = app.signed_in("staff", Role::Department, Some(org)).await;
        assert_eq!(c.get("/dashboard").await.status, StatusCode::OK);
        let (writes, session_writes) = (app.store.write_transactions(), app.state.sessions.writes());
        for path in ["/dashboard", "/systems", "/account", "/catalog"].iter().cycle().take(40) {
            assert_eq!(c.get(path).await.status, StatusCode::OK, "{}: {path}", app.backend);
        }
        assert_eq!(app.state.sessions.writes(), session_writes, "{}: page views wrote the session", app.backend);
        assert_eq!(app.store.write_transactions(), writes, "{}: page views wrote the database", app.backend);
        // A minute on, the first view records the activity, once.
        app.clock.advance(Duration::seconds(61));
        for _ in 0..5 {
            assert_eq!(c.get("/dashboard").await.status, StatusCode::OK);
        }
        assert_eq!(app.state.sessions.writes(), session_writes + 1, "{}", app.backend);
        // And the idle limit counts from that view: 59 minutes later still in.
        app.clock.advance(Duration::minutes(59));
        assert_eq!(c.get("/dashboard").await.status, StatusCode::OK, "{}", app.backend);
        app.close().await;
    }
}

/// The session cookie a sign-in sets, as a `cookie` header's value.
fn session_cookie(r: &crate::harness::Res) -> String {
    r.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|v| v.starts_with("__Host-mamori_session="))
        .expect("a session cookie at sign-in")
}

#[tokio::test]
async fn item_46_sign_out_destroys_the_server_side_session() {
    for app in App::each(Options::default()).await {
        let org = app.org("総務課", OrgKind::Department).await;
        app.user("staff", Role::Department, Some(org)).await;
        let c = app.client();
        let r = c.sign_in(&app, "staff", PASSWORD, None).await;
        let cookie = session_cookie(&r);
        // The same cookie from elsewhere works while the session lives...
        let thief = app.raw_client();
        let stolen = thief.get(format!("{}/dashboard", app.base)).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(stolen.status(), StatusCode::OK, "{}", app.backend);
        c.get("/dashboard").await;
        let r = c.post("/logout", &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        // ...and not after sign-out: the server-side session is gone.
        let stolen = thief.get(format!("{}/dashboard", app.base)).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(stolen.status(), StatusCode::SEE_OTHER, "{}", app.backend);
        assert_eq!(stolen.headers().get("location").unwrap(), "/login");
        assert_eq!(c.get("/dashboard").await.location(), "/login");
        assert!(app.audit_actions().await.contains(&"signout".to_owned()));
        app.close().await;
    }
}

/// A sign-out whose session cannot be removed from the database writes no
/// sign-out event: the event was written first, and a failed removal left
/// a session that still worked under an audit log saying it had ended. On
/// PostgreSQL, a trigger refuses the removal once; the stolen cookie still
/// works, and the log shows no sign-out until one goes through.
#[tokio::test]
async fn a_sign_out_that_cannot_remove_its_session_records_no_sign_out() {
    use sqlx::{Connection, Executor};
    for app in App::each(Options::default()).await {
        let Some(url) = app.pg_url() else { continue };
        let org = app.org("総務課", OrgKind::Department).await;
        app.user("staff", Role::Department, Some(org)).await;
        let c = app.client();
        let r = c.sign_in(&app, "staff", PASSWORD, None).await;
        let cookie = session_cookie(&r);
        let mut db = sqlx::PgConnection::connect(url).await.unwrap();
        db.execute(
            "CREATE FUNCTION keep_sessions() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'sessions are kept'; END $$; \
             CREATE TRIGGER keep_sessions BEFORE DELETE ON tower_sessions.session \
             FOR EACH ROW EXECUTE FUNCTION keep_sessions();",
        )
        .await
        .unwrap();
        let signouts = async || app.audit_actions().await.iter().filter(|a| *a == "signout").count();
        c.get("/dashboard").await;
        let r = c.post("/logout", &[]).await;
        assert_ne!(r.status, StatusCode::SEE_OTHER, "{}: the sign-out failed", app.backend);
        assert!(!r.body.contains("sessions are kept"), "no database error reaches the page");
        assert_eq!(signouts().await, 0, "{}: no sign-out recorded", app.backend);
        let thief = app.raw_client();
        let stolen = thief.get(format!("{}/dashboard", app.base)).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(stolen.status(), StatusCode::OK, "{}: the session stands, as the log says", app.backend);

        db.execute("DROP TRIGGER keep_sessions ON tower_sessions.session").await.unwrap();
        let again = app.client();
        again.sign_in(&app, "staff", PASSWORD, None).await;
        again.get("/dashboard").await;
        assert_eq!(again.post("/logout", &[]).await.status, StatusCode::SEE_OTHER, "{}", app.backend);
        assert_eq!(signouts().await, 1, "{}", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn item_75_second_factor_is_required_for_admin_and_officer_and_codes_work_once() {
    for app in App::each(Options::default()).await {
        // An officer issued without a second factor must enrol before anything else.
        app.issue("officer", Role::SecurityOfficer, None).await;
        let c = app.client();
        let r = c.sign_in(&app, "officer", PASSWORD, None).await;
        assert_eq!(r.location(), "/account/totp", "{}", app.backend);
        assert_eq!(c.get("/admin/users").await.location(), "/account/totp", "nothing else before enrolment");
        let page = c.get("/account/totp").await;
        assert!(page.body.contains("<svg"), "the QR code is inline SVG");
        let secret = totp_secret_in(&page.body);
        let bad = c.post("/account/totp", &[("code", "000000")]).await;
        assert!(bad.body.contains("確認コードが正しくありません"));
        let code = totp::code_at(&secret, app.now()).unwrap();
        let done = c.post("/account/totp", &[("code", &code)]).await;
        let codes = recovery_codes_in(&done.body);
        assert_eq!(codes.len(), 10, "{}", done.body);
        assert_eq!(c.get("/admin/users").await.status, StatusCode::OK);
        c.post("/logout", &[]).await;

        // The code used for enrolment cannot sign in again (RFC 6238 §5.2).
        let c2 = app.client_on("/login").await;
        assert_eq!(c2.post("/login", &[("login", "officer"), ("password", PASSWORD)]).await.location(), "/login/totp");
        c2.get("/login/totp").await;
        let replay = c2.post("/login/totp", &[("code", &code)]).await;
        assert!(replay.body.contains("確認コードが正しくありません"), "{}: replay accepted", app.backend);
        // A recovery code works, once.
        let ok = c2.post("/login/totp", &[("code", ""), ("recovery_code", &codes[0])]).await;
        assert_eq!(ok.location(), "/dashboard", "{}", app.backend);
        c2.post("/logout", &[]).await;
        let c3 = app.client_on("/login").await;
        c3.post("/login", &[("login", "officer"), ("password", PASSWORD)]).await;
        c3.get("/login/totp").await;
        let again = c3.post("/login/totp", &[("code", ""), ("recovery_code", &codes[0])]).await;
        assert!(again.body.contains("確認コードが正しくありません"), "{}: recovery code reused", app.backend);
        // The next step's code works.
        app.clock.advance(Duration::seconds(30));
        let next = totp::code_at(&secret, app.now()).unwrap();
        assert_eq!(c3.post("/login/totp", &[("code", &next)]).await.location(), "/dashboard");
        app.close().await;
    }
}

/// The confirmation of a second factor sent twice at once (a double
/// click): before, both were accepted, two events were written, and each
/// replaced the other's recovery codes, so the codes the page showed could
/// be void. Now one confirms and shows its codes; the other goes to the
/// account page saying it is done, or, when it is checked after the first
/// has ended every other session and renewed the session's id, to sign in
/// again or is refused; one event; the codes shown work.
#[tokio::test]
async fn confirming_the_second_factor_twice_at_once_enrols_once_and_the_codes_shown_are_kept() {
    for app in App::each(Options::default()).await {
        app.issue("officer", Role::SecurityOfficer, None).await;
        let c = app.client();
        assert_eq!(c.sign_in(&app, "officer", PASSWORD, None).await.location(), "/account/totp");
        let secret = totp_secret_in(&c.get("/account/totp").await.body);
        let code = totp::code_at(&secret, app.now()).unwrap();
        let form = [("code", code.as_str())];
        let (one, two) = tokio::join!(c.post("/account/totp", &form), c.post("/account/totp", &form));
        let shown = |r: &crate::harness::Res| recovery_codes_in(&r.body);
        let (confirmed, other) = if shown(&one).is_empty() { (two, one) } else { (one, two) };
        let codes = shown(&confirmed);
        assert_eq!(codes.len(), 10, "{}: one shows its codes", app.backend);
        match other.location() {
            "/account/totp" => {
                assert_eq!(c.get("/account/totp").await.location(), "/account", "{}", app.backend);
                assert!(c.get("/account").await.body.contains("二要素認証は設定済みです"), "{}", app.backend);
            }
            // Which of the two cookies the client keeps depends on which
            // answer came last.
            "/login" => {}
            // Its session went with the old id, and its form's token with
            // it: refused as a forged request would be, changing nothing.
            "" if other.status == StatusCode::FORBIDDEN => {}
            elsewhere => panic!("{}: the other went to {elsewhere}: {}", app.backend, other.body),
        }
        let enrolled = app.audit_actions().await.iter().filter(|a| *a == "totp.enrolled").count();
        assert_eq!(enrolled, 1, "{}: one event", app.backend);
        c.post("/logout", &[]).await;
        let again = app.client_on("/login").await;
        again.post("/login", &[("login", "officer"), ("password", PASSWORD)]).await;
        again.get("/login/totp").await;
        let r = again.post("/login/totp", &[("code", ""), ("recovery_code", &codes[3])]).await;
        assert_eq!(r.location(), "/dashboard", "{}: a code shown works", app.backend);
        app.close().await;
    }
}

/// An officer signed in on the password alone (no second factor yet)
/// waits at the enrolment page; before, once the owner enrolled in another
/// browser, that waiting session went on to everything without ever giving
/// a code, and the secret begun was kept on the account, so whoever opened
/// the page first (the holder of an initial password) saw the secret its
/// owner would enrol. Now each session begins its own secret, the other's
/// secret enrols nothing, and enrolling ends every other session.
#[tokio::test]
async fn enrolling_a_second_factor_ends_every_other_session_and_a_secret_begun_elsewhere_is_never_shown() {
    for app in App::each(Options::default()).await {
        app.issue("officer", Role::SecurityOfficer, None).await;
        let (early, owner) = (app.client(), app.client());
        assert_eq!(early.sign_in(&app, "officer", PASSWORD, None).await.location(), "/account/totp");
        let seen_early = totp_secret_in(&early.get("/account/totp").await.body);
        assert_eq!(owner.sign_in(&app, "officer", PASSWORD, None).await.location(), "/account/totp");
        let secret = totp_secret_in(&owner.get("/account/totp").await.body);
        assert_ne!(secret, seen_early, "{}: the secret begun in another session is not shown", app.backend);
        assert_eq!(totp_secret_in(&owner.get("/account/totp").await.body), secret, "the page shown again keeps it");

        let theirs = totp::code_at(&seen_early, app.now()).unwrap();
        let refused = owner.post("/account/totp", &[("code", &theirs)]).await;
        assert!(refused.body.contains("確認コードが正しくありません"), "{}: {}", app.backend, refused.body);
        let code = totp::code_at(&secret, app.now()).unwrap();
        let done = owner.post("/account/totp", &[("code", &code)]).await;
        assert!(done.body.contains("class=\"recovery-code\""), "{}: {}", app.backend, done.body);
        assert_eq!(
            owner.get("/dashboard").await.status,
            StatusCode::OK,
            "{}: the enrolling session goes on",
            app.backend
        );

        let r = early.get("/dashboard").await;
        assert_eq!(r.location(), "/login", "{}: the session begun on the password alone has ended", app.backend);
        assert_eq!(early.get("/account/totp").await.location(), "/login", "{}", app.backend);

        // The secret the early session saw signs nobody in.
        let c = app.client_on("/login").await;
        assert_eq!(c.post("/login", &[("login", "officer"), ("password", PASSWORD)]).await.location(), "/login/totp");
        c.get("/login/totp").await;
        app.clock.advance(Duration::seconds(30));
        let theirs = totp::code_at(&seen_early, app.now()).unwrap();
        assert!(c.post("/login/totp", &[("code", &theirs)]).await.body.contains("確認コードが正しくありません"));
        let next = totp::code_at(&secret, app.now()).unwrap();
        assert_eq!(c.post("/login/totp", &[("code", &next)]).await.location(), "/dashboard", "{}", app.backend);
        app.close().await;
    }
}

/// The recovery codes a page shows.
fn recovery_codes_in(body: &str) -> Vec<String> {
    body.split("class=\"recovery-code\">").skip(1).map(|s| s.split('<').next().unwrap().to_owned()).collect()
}

/// New recovery codes, for a person who lost those shown at enrolment (or
/// the page, to a double click), or has used most: given a fresh code from
/// the authenticator, ten new ones, and every earlier one stops working. A
/// wrong code, or the one already spent, changes nothing, is audited and
/// counts towards the lock; once locked, even the right code is not
/// checked. Without a second factor there is nothing to renew.
#[tokio::test]
async fn new_recovery_codes_need_a_fresh_authenticator_code_and_void_the_earlier_ones() {
    let lockout = mamori_core::policy::LockoutPolicy { max_failures: 3, ..Default::default() };
    for app in App::each(Options { lockout: Some(lockout), ..Options::default() }).await {
        let officer = app.issue("officer", Role::SecurityOfficer, None).await;
        let c = app.client();
        assert_eq!(c.sign_in(&app, "officer", PASSWORD, None).await.location(), "/account/totp");
        let secret = totp_secret_in(&c.get("/account/totp").await.body);
        let spent = totp::code_at(&secret, app.now()).unwrap();
        let old = recovery_codes_in(&c.post("/account/totp", &[("code", &spent)]).await.body);
        assert_eq!(old.len(), 10, "{}", app.backend);
        assert!(c.get("/account").await.body.contains("未使用のリカバリーコードは残り 10 個です"), "{}", app.backend);
        let failures = || async { app.store.account_by_id(officer).await.unwrap().unwrap().failed_count };
        let renewals = || async {
            let events = app.store.audit_recent(200).await.unwrap();
            let of = |outcome: &str| {
                events
                    .iter()
                    .filter(|e| e.record.action == "totp.recovery_renewed" && e.record.outcome == outcome)
                    .count()
            };
            (of("success"), of("failure"))
        };

        for code in ["000000", spent.as_str()] {
            let r = c.post("/account/recovery-codes", &[("code", code)]).await;
            assert_eq!(r.location(), "/account", "{}: {code}", app.backend);
            let page = c.get("/account").await;
            assert!(page.body.contains("リカバリーコードは変わっていません"), "{}: {code}", app.backend);
            assert!(!page.body.contains("class=\"recovery-code\""), "{}", app.backend);
        }
        assert_eq!(failures().await, 2, "{}: each counts towards the lock", app.backend);
        assert_eq!(renewals().await, (0, 2), "{}: each audited", app.backend);

        app.clock.advance(Duration::seconds(30));
        let (fresh, fresh_step) = (totp::code_at(&secret, app.now()).unwrap(), app.now().unix_timestamp() / 30);
        let new = recovery_codes_in(&c.post("/account/recovery-codes", &[("code", &fresh)]).await.body);
        assert_eq!(new.len(), 10, "{}", app.backend);
        assert!(new.iter().all(|n| !old.contains(n)), "{}", app.backend);
        assert_eq!(failures().await, 0, "{}: a right code clears the failures", app.backend);
        assert_eq!(renewals().await, (1, 2), "{}", app.backend);
        let again = c.post("/account/recovery-codes", &[("code", &fresh)]).await;
        assert_eq!(again.location(), "/account", "{}: the same code twice renews once", app.backend);
        assert_eq!(renewals().await, (1, 3), "{}", app.backend);

        let other = app.client_on("/login").await;
        other.post("/login", &[("login", "officer"), ("password", PASSWORD)]).await;
        other.get("/login/totp").await;
        let r = other.post("/login/totp", &[("code", ""), ("recovery_code", &old[0])]).await;
        assert!(r.body.contains("確認コードが正しくありません"), "{}: an earlier code is void", app.backend);
        let r = other.post("/login/totp", &[("code", ""), ("recovery_code", &new[0])]).await;
        assert_eq!(r.location(), "/dashboard", "{}: a new one works", app.backend);
        assert!(c.get("/account").await.body.contains("未使用のリカバリーコードは残り 9 個です"), "{}", app.backend);

        // The sign-in above cleared the failures: three lock.
        for _ in 0..3 {
            c.post("/account/recovery-codes", &[("code", "000000")]).await;
        }
        assert!(app.audit_actions().await.iter().any(|a| a == "account.locked"), "{}: locked", app.backend);
        app.clock.advance(Duration::seconds(30));
        let right = totp::code_at(&secret, app.now()).unwrap();
        assert_eq!(c.post("/account/recovery-codes", &[("code", &right)]).await.location(), "/account");
        assert!(c.get("/account").await.body.contains("アカウントがロックされています"), "{}", app.backend);
        assert_eq!(renewals().await, (1, 6), "{}: nothing renewed while locked", app.backend);
        let last_step = app.store.account_by_id(officer).await.unwrap().unwrap().totp_last_step;
        assert_eq!(last_step, fresh_step, "{}: the right code was not even checked", app.backend);

        let dept = app.org("総務課", OrgKind::Department).await;
        let (staff, _) = app.signed_in("staff", Role::Department, Some(dept)).await;
        assert!(!staff.get("/account").await.body.contains("/account/recovery-codes"), "{}", app.backend);
        let r = staff.post("/account/recovery-codes", &[("code", "000000")]).await;
        assert_eq!(r.location(), "/account/totp", "{}: no second factor, nothing to renew", app.backend);
        app.close().await;
    }
}

/// A lock at three failures, and requests given up after half a second.
fn three_failures_half_a_second() -> Options {
    let lockout = mamori_core::policy::LockoutPolicy { max_failures: 3, ..Default::default() };
    Options {
        lockout: Some(lockout),
        request_timeout: Some(std::time::Duration::from_millis(500)),
        ..Options::default()
    }
}

/// Wrong current passwords on the password page whose checks wait past
/// the request's time limit: each failure was counted in advance, and the
/// request given up took its event and the lock's with it, so the account
/// locked with nothing in the log. Now each check runs to its end: every
/// failure is audited, and the lock at the limit too.
#[tokio::test]
async fn wrong_current_passwords_whose_requests_time_out_are_each_audited_and_the_lock_too() {
    for app in App::each(three_failures_half_a_second()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let (c, _) = app.signed_in("staff", Role::Department, Some(dept)).await;
        c.get("/password").await;
        let held = app.state.hasher.hold_every_turn().await;
        for _ in 0..3 {
            let r = c.change_password("Wrong-Password-1", "Another-Long-Pass-9").await;
            assert_eq!(r.status, StatusCode::REQUEST_TIMEOUT, "{}", app.backend);
        }
        drop(held);
        let wrong = |all: &[mamori_core::audit::Event]| {
            all.iter()
                .filter(|e| e.record.action == "password.changed" && e.record.changes.contains("bad_current_password"))
                .count()
        };
        let mut events = Vec::new();
        for _ in 0..100 {
            events = app.store.audit_recent(100).await.unwrap();
            if wrong(&events) == 3 && events.iter().any(|e| e.record.action == "account.locked") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(wrong(&events), 3, "{}: each failure is audited", app.backend);
        assert!(events.iter().any(|e| e.record.action == "account.locked"), "{}: the lock too", app.backend);
        app.close().await;
    }
}

/// A right password whose check waits past the request's time limit (the
/// server busy): the request is given up, and the sign-in step went with
/// it, leaving the failure it counted in advance. Three such, with a
/// limit of three, locked the person out with their own right password.
/// Now the step runs to its end on its own: each is recorded as the
/// success it was, nothing is locked, and the next sign-in goes through.
#[tokio::test]
async fn right_passwords_whose_requests_time_out_while_checked_never_lock_the_account() {
    for app in App::each(three_failures_half_a_second()).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        app.user("staff", Role::Department, Some(dept)).await;
        let c = app.client_on("/login").await;
        let held = app.state.hasher.hold_every_turn().await;
        for _ in 0..3 {
            let r = c.post("/login", &[("login", "staff"), ("password", PASSWORD)]).await;
            assert_eq!(r.status, StatusCode::REQUEST_TIMEOUT, "{}", app.backend);
        }
        drop(held);
        let mut recorded = 0;
        for _ in 0..100 {
            recorded = app.audit_actions().await.iter().filter(|a| *a == "signin.success").count();
            if recorded == 3 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(recorded, 3, "{}: each went to its end", app.backend);
        assert!(!app.audit_actions().await.contains(&"account.locked".to_owned()), "{}", app.backend);
        let r = app.client().sign_in(&app, "staff", PASSWORD, None).await;
        assert_eq!(r.location(), "/dashboard", "{}: not locked", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn items_4_5_password_expiry_policy_and_history() {
    for app in App::each(Options::default()).await {
        let org = app.org("総務課", OrgKind::Department).await;
        app.user("staff", Role::Department, Some(org)).await;
        app.clock.advance(Duration::days(90));
        let c = app.client();
        let r = c.sign_in(&app, "staff", PASSWORD, None).await;
        assert_eq!(r.location(), "/password", "{}: expired after 90 days", app.backend);
        assert_eq!(c.get("/dashboard").await.location(), "/password");
        let page = c.get("/password").await;
        assert!(page.body.contains("12文字以上"), "the policy is stated");
        let cases = [
            ("short1A!", "12文字以上"),
            ("alllowercaseletters", "12文字以上"),
            ("xStaff-Is-Long-1", "ユーザIDを含める"),
            (PASSWORD, "直近5回"),
        ];
        for (pw, msg) in cases {
            let r = c.change_password(PASSWORD, pw).await;
            assert_eq!(r.status, StatusCode::OK, "{pw}");
            assert!(r.body.contains(msg), "{}: {pw}: {msg}", app.backend);
            assert!(!r.body.contains(pw), "a password is never shown again");
        }
        let r = c.change_password("nope", "Another-Good-1").await;
        assert!(r.body.contains("現在のパスワードが正しくありません"));
        let r = c.change_password(PASSWORD, "Another-Good-1").await;
        assert_eq!(r.location(), "/dashboard", "{}", app.backend);
        assert!(c.get("/dashboard").await.body.contains("パスワードを変更しました"));
        assert!(app.audit_actions().await.contains(&"password.changed".to_owned()));
        app.close().await;
    }
}

#[tokio::test]
async fn item_37_no_account_exists_and_setup_creates_the_first_administrator_once_by_the_password_rules() {
    for app in App::each(Options::default()).await {
        assert!(app.store.accounts().await.unwrap().is_empty(), "{}: a fresh database has no account", app.backend);
        let token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        app.setup_token(token).await;
        let c = app.client();
        assert_eq!(c.get("/setup/wrong-token").await.status, StatusCode::NOT_FOUND);
        let path = format!("/setup/{token}");
        assert_eq!(c.get(&path).await.status, StatusCode::OK, "{}", app.backend);
        let bad = c
            .post(
                &path,
                &[
                    ("login", "x"),
                    ("display_name", ""),
                    ("email", "nope"),
                    ("new_password", "short"),
                    ("confirm_password", "short"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::OK);
        for msg in ["ユーザIDは3文字以上", "氏名を入力してください", "メールアドレスの形式", "12文字以上"]
        {
            assert!(bad.body.contains(msg), "{msg}: {}", bad.body);
        }
        assert!(app.store.accounts().await.unwrap().is_empty(), "bad input changes nothing");
        // The ID typed with spaces is the ID kept: the password may not hold it.
        let spaced = c
            .post(
                &path,
                &[
                    ("login", " boss "),
                    ("display_name", "管理者"),
                    ("email", "a@example.lg.jp"),
                    ("new_password", "Boss-Passw0rd!"),
                    ("confirm_password", "Boss-Passw0rd!"),
                ],
            )
            .await;
        assert_eq!(spaced.status, StatusCode::OK, "{}", app.backend);
        assert!(spaced.body.contains("パスワードにユーザIDを含めることはできません"), "{}", spaced.body);
        assert!(app.store.accounts().await.unwrap().is_empty(), "{}: no administrator made", app.backend);
        let ok = c
            .post(
                &path,
                &[
                    ("login", "admin1"),
                    ("display_name", "管理者"),
                    ("email", "a@example.lg.jp"),
                    ("new_password", PASSWORD),
                    ("confirm_password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(ok.location(), "/login", "{}: {}", app.backend, ok.body);
        assert_eq!(c.get(&path).await.status, StatusCode::NOT_FOUND, "the setup route is gone");
        let accounts = app.store.accounts().await.unwrap();
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].role, Role::Admin);
        assert!(app.audit_actions().await.contains(&"setup.completed".to_owned()));
        // Expired tokens are refused too.
        app.close().await;
    }
}

#[tokio::test]
async fn many_accounts_failing_from_one_address_are_throttled() {
    for app in App::each(Options::default()).await {
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        app.user("real-user", Role::Vendor, Some(vendor)).await;
        let c = app.client_on("/login").await;
        // 50 failures over many logins (password spraying) from one address.
        for i in 0..50 {
            let login = format!("guess-{i}");
            c.post("/login", &[("login", &login), ("password", "Spring2026!!x")]).await;
        }
        let r = app.client().sign_in(&app, "real-user", PASSWORD, None).await;
        assert!(r.body.contains(FAILED), "{}: the address is throttled, whatever the account", app.backend);
        // Throttled refusals are counted per address and minute: the next
        // minute's first refusal writes the last one's count.
        app.clock.advance(Duration::minutes(1));
        app.client().sign_in(&app, "real-user", PASSWORD, None).await;
        let ev = app.store.audit_recent(1).await.unwrap().remove(0).record;
        assert_eq!(ev.action, "requests.refused", "{}", app.backend);
        assert!(ev.changes.contains("signin_throttled") && ev.changes.contains("\"count\":1"), "{}", ev.changes);
        // The window passes.
        app.clock.advance(Duration::minutes(15));
        let r = app.client().sign_in(&app, "real-user", PASSWORD, None).await;
        assert_eq!(r.location(), "/dashboard", "{}", app.backend);
        app.close().await;
    }
}

/// An address past its failures is told so without a write: each of its
/// attempts took the one writer (SQLite's; a write connection on
/// PostgreSQL) to count them, so a flood of them held up everyone's
/// writes. Twenty more attempts begin no write transaction, and are
/// refused; an account that signed in from that address before is still
/// checked, and signs in.
#[tokio::test]
async fn attempts_from_a_throttled_address_begin_no_write_and_a_known_account_still_signs_in() {
    for app in App::each(Options::default()).await {
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        app.user("real-user", Role::Vendor, Some(vendor)).await;
        let r = app.client().sign_in(&app, "real-user", PASSWORD, None).await;
        assert_eq!(r.location(), "/dashboard", "{}", app.backend);
        let c = app.client_on("/login").await;
        for i in 0..50 {
            c.post("/login", &[("login", &format!("guess-{i}")), ("password", "Spring2026!!x")]).await;
        }
        let before = app.store.write_transactions();
        for i in 0..20 {
            let r = c.post("/login", &[("login", &format!("more-{i}")), ("password", "Spring2026!!x")]).await;
            assert!(r.body.contains(FAILED), "{}", app.backend);
        }
        assert_eq!(app.store.write_transactions(), before, "{}: no write for a throttled attempt", app.backend);
        let r = app.client().sign_in(&app, "real-user", PASSWORD, None).await;
        assert_eq!(r.location(), "/dashboard", "{}: known at this address, still checked", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn english_is_kept_for_the_session_once_chosen() {
    let app = App::spawn("sqlite", Options::default()).await;
    let c = app.client();
    let page = c.get("/login").await;
    assert!(page.body.contains("ログイン"));
    let r = c.post("/lang", &[("lang", "en"), ("next", "/login")]).await;
    assert_eq!(r.location(), "/login");
    let page = c.get("/login").await;
    assert!(page.body.contains("<html lang=\"en\">") && page.body.contains("Sign in"), "{}", page.body);
    let r = c.post("/login", &[("login", "nobody"), ("password", "x")]).await;
    assert!(r.body.contains("The user ID or password is incorrect"));
    // An open redirect is refused.
    let r = c.post("/lang", &[("lang", "ja"), ("next", "//evil.example/")]).await;
    assert_eq!(r.location(), "/");
    app.close().await;
}

/// Vendors see every weakness of their systems: by default they sign in
/// with a second factor too, enrolled before anything else; a department's
/// person does not have to (the ward may add it, `second_factor_roles`).
#[tokio::test]
async fn item_75_vendors_enrol_a_second_factor_before_anything_else_by_default_and_departments_need_not() {
    for app in App::each(Options::default()).await {
        let vendor_org = app.org("ベンダーA", OrgKind::Vendor).await;
        let dept = app.org("総務課", OrgKind::Department).await;
        app.issue("vendor-new", Role::Vendor, Some(vendor_org)).await;
        app.issue("busho-new", Role::Department, Some(dept)).await;
        let v = app.client();
        let r = v.sign_in(&app, "vendor-new", PASSWORD, None).await;
        assert_eq!(r.location(), "/account/totp", "{}", app.backend);
        for path in ["/dashboard", "/systems", "/account"] {
            assert_eq!(v.get(path).await.location(), "/account/totp", "{}: {path} waits", app.backend);
        }
        let secret = totp_secret_in(&v.get("/account/totp").await.body);
        let code = totp::code_at(&secret, app.now()).unwrap();
        let done = v.post("/account/totp", &[("code", &code)]).await;
        assert!(done.body.contains("class=\"recovery-code\""), "{}", app.backend);
        assert_eq!(v.get("/dashboard").await.status, StatusCode::OK, "{}", app.backend);
        // From now on the password alone is not enough.
        let again = app.client();
        again.get("/login").await;
        let r = again.post("/login", &[("login", "vendor-new"), ("password", PASSWORD)]).await;
        assert_eq!(r.location(), "/login/totp", "{}", app.backend);
        assert_eq!(again.get("/dashboard").await.location(), "/login", "{}: not signed in yet", app.backend);

        let d = app.client();
        let r = d.sign_in(&app, "busho-new", PASSWORD, None).await;
        assert_eq!(r.location(), "/dashboard", "{}: the department signs in with its password", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn a_password_set_in_full_width_signs_in_typed_in_half_width_and_the_other_way() {
    for app in App::each(Options::default()).await {
        let org = app.org("総務課", OrgKind::Department).await;
        let (c, _) = app.signed_in("staff", Role::Department, Some(org)).await;
        c.get("/password").await;
        let full = "Ｓｐｒｉｎｇ-Ｔｉｍｅ-２０２６";
        let r = c.change_password(PASSWORD, full).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        c.post("/logout", &[]).await;
        let half = app.client().sign_in(&app, "staff", "Spring-Time-2026", None).await;
        assert_eq!(half.location(), "/dashboard", "{}: typed in half width", app.backend);
        let same = app.client().sign_in(&app, "staff", full, None).await;
        assert_eq!(same.location(), "/dashboard", "{}: typed as set", app.backend);
        let wrong = app.client().sign_in(&app, "staff", "Ｓｐｒｉｎｇ-Ｔｉｍｅ-２０２７", None).await;
        assert!(wrong.body.contains(FAILED), "{}", app.backend);
        // Set again in the other width it is the same password, used before.
        let c = app.client();
        c.sign_in(&app, "staff", "Spring-Time-2026", None).await;
        c.get("/password").await;
        let again = c.change_password("Spring-Time-2026", full).await;
        assert_eq!(again.status, StatusCode::OK, "{}: refused", app.backend);
        assert!(again.body.contains("直近"), "{}: {}", app.backend, again.body);
        app.close().await;
    }
}
