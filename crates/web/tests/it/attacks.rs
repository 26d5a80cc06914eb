//! The attacks of the Trust capability, performed over HTTPS against the
//! real server: parallel guesses past the lockout, the second factor and the
//! password page, telling unknown user IDs from known ones, anonymous
//! refusals flooding the audit log, and bodies sent where no body belongs.

use crate::harness::{App, Client, Options, FAILED, PASSWORD};
use mamori_core::identity::{OrgKind, Role};
use mamori_core::policy::LockoutPolicy;
use mamori_core::totp;
use reqwest::StatusCode;
use time::Duration;

/// The default lockout, with an address throttle high enough that a
/// flood from the test's one address meets the account's lock first.
fn lockout_only() -> Options {
    Options {
        lockout: Some(LockoutPolicy { address_max_failures: 100_000, ..LockoutPolicy::default() }),
        ..Options::default()
    }
}

/// Audit events of `action` whose changes contain `needle`.
async fn count(app: &App, action: &str, needle: &str) -> usize {
    app.store
        .audit_recent(100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.record.action == action && e.record.changes.contains(needle))
        .count()
}

/// A code the account's authenticator shows at none of the accepted steps.
fn wrong_code(app: &App, secret: &str) -> String {
    let now = app.now();
    let near: Vec<String> =
        [-60, -30, 0, 30, 60].iter().map(|s| totp::code_at(secret, now + Duration::seconds(*s)).unwrap()).collect();
    (0..1_000_000).map(|n| format!("{n:06}")).find(|c| !near.contains(c)).unwrap()
}

#[tokio::test]
async fn item_41_of_100_parallel_wrong_passwords_exactly_10_are_checked_and_a_right_one_after_the_lock_is_refused_unchecked(
) {
    for app in App::each(lockout_only()).await {
        let org = app.org("ベンダーA", OrgKind::Vendor).await;
        app.user("target", Role::Vendor, Some(org)).await;
        let c = app.client_on("/login").await;
        let checks = app.state.hasher.checks();
        let mut flood = Vec::new();
        for k in 0..100 {
            let c = c.clone();
            flood.push(tokio::spawn(async move {
                let guess = format!("Wrong-Guess-{k}");
                c.post("/login", &[("login", "target"), ("password", &guess)]).await
            }));
        }
        // The right password, sent as soon as the account is locked.
        let store = app.store.clone();
        let right = app.client();
        let right_again = right.clone();
        let late = tokio::spawn(async move {
            right.get("/login").await;
            while store.account_by_login("target").await.unwrap().unwrap().locked_until.is_none() {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            right.post("/login", &[("login", "target"), ("password", PASSWORD)]).await
        });
        // A refusal of the locked account waits in the checks' queue as a
        // check does (64 places on two cores): past it, busy, unchecked.
        let busy = |r: &crate::harness::Res| {
            r.status == StatusCode::SERVICE_UNAVAILABLE && r.body.contains("ただいまサインインが混み合っています")
        };
        let mut refused_busy = 0;
        for t in flood {
            let r = t.await.unwrap();
            refused_busy += usize::from(busy(&r));
            assert!(busy(&r) || r.status == StatusCode::OK && r.body.contains(FAILED), "{}: {}", app.backend, r.status);
        }
        let r = late.await.unwrap();
        assert!(
            (busy(&r) || r.body.contains(FAILED)) && r.location().is_empty(),
            "{}: the right password",
            app.backend
        );
        let late_busy = usize::from(busy(&r));
        let r = right_again.post("/login", &[("login", "target"), ("password", PASSWORD)]).await;
        assert!(r.body.contains(FAILED) && r.location().is_empty(), "{}: the right one, queue empty", app.backend);
        assert_eq!(app.state.hasher.checks() - checks, 10, "{}: exactly ten passwords were checked", app.backend);
        assert_eq!(count(&app, "signin.failure", "bad_password").await, 10, "{}", app.backend);
        let locked = count(&app, "signin.failure", "\"locked\"").await;
        assert_eq!(locked, 90 - refused_busy + 1 - late_busy + 1, "{}: the rest, and the right ones", app.backend);
        assert_eq!(count(&app, "account.locked", "").await, 1, "{}", app.backend);
        assert_eq!(count(&app, "signin.success", "").await, 0, "{}", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn item_39_a_refusal_for_a_locked_account_takes_as_long_as_a_checked_password() {
    let app = App::spawn("sqlite", lockout_only()).await;
    let org = app.org("ベンダーA", OrgKind::Vendor).await;
    app.user("target", Role::Vendor, Some(org)).await;
    let c = app.client_on("/login").await;
    let mut checked = Vec::new();
    for _ in 0..10 {
        let t = std::time::Instant::now();
        c.post("/login", &[("login", "target"), ("password", "Wrong-Guess-1")]).await;
        checked.push(t.elapsed());
    }
    let checks = app.state.hasher.checks();
    let mut refused = Vec::new();
    for _ in 0..10 {
        let t = std::time::Instant::now();
        let r = c.post("/login", &[("login", "target"), ("password", "Wrong-Guess-2")]).await;
        assert!(r.body.contains(FAILED));
        refused.push(t.elapsed());
    }
    assert_eq!(app.state.hasher.checks(), checks, "locked: nothing was checked");
    checked.sort();
    refused.sort();
    let (checked, refused) = (checked[5], refused[5]);
    assert!(refused * 2 >= checked, "median refusal {refused:?} against median check {checked:?}");
    app.close().await;
}

#[tokio::test]
async fn item_41_of_100_parallel_second_factor_codes_at_most_10_are_checked_then_the_right_code_is_refused() {
    for app in App::each(lockout_only()).await {
        let (_, secret) = app.user("officer1", Role::SecurityOfficer, None).await;
        let secret = secret.unwrap();
        let c = app.client_on("/login").await;
        let r = c.post("/login", &[("login", "officer1"), ("password", PASSWORD)]).await;
        assert_eq!(r.location(), "/login/totp", "{}", app.backend);
        c.get("/login/totp").await;
        let code = wrong_code(&app, &secret);
        let mut flood = Vec::new();
        for _ in 0..100 {
            let (c, code) = (c.clone(), code.clone());
            flood.push(tokio::spawn(async move { c.post("/login/totp", &[("code", &code)]).await }));
        }
        // Refused unchecked: as locked, or sent back to the password once
        // the lock has ended the pending sign-in.
        let mut sent_back = 0;
        for t in flood {
            let r = t.await.unwrap();
            sent_back += usize::from(r.location() == "/login");
        }
        assert_eq!(count(&app, "signin.failure", "bad_code").await, 10, "{}: codes checked", app.backend);
        let locked = count(&app, "signin.failure", "\"locked\"").await;
        assert_eq!(locked + sent_back, 90, "{}: {locked} locked, {sent_back} sent back", app.backend);
        assert_eq!(count(&app, "account.locked", "").await, 1, "{}", app.backend);
        // The right code now: refused, back to the password.
        let right = totp::code_at(&secret, app.now()).unwrap();
        let r = c.post("/login/totp", &[("code", &right)]).await;
        assert!(r.location() == "/login" || r.body.contains(FAILED), "{}: {}", app.backend, r.status);
        assert_eq!(count(&app, "signin.success", "").await, 0, "{}", app.backend);
        assert!(app.store.account_by_login("officer1").await.unwrap().unwrap().locked_until.is_some());
        app.close().await;
    }
}

#[tokio::test]
async fn item_41_wrong_current_passwords_on_the_password_page_count_toward_the_lock_and_are_audited() {
    for app in App::each(lockout_only()).await {
        let org = app.org("ベンダーA", OrgKind::Vendor).await;
        let (c, id) = app.signed_in("vendor-a", Role::Vendor, Some(org)).await;
        c.get("/password").await;
        let change = |current: &'static str| {
            let c = c.clone();
            async move { c.change_password(current, "Another-Good-1").await }
        };
        for _ in 0..10 {
            assert!(change("Not-The-Password-1").await.body.contains("現在のパスワードが正しくありません"));
        }
        let events = count(&app, "password.changed", "bad_current_password").await;
        assert_eq!(events, 10, "{}: every wrong current password is audited", app.backend);
        assert_eq!(count(&app, "account.locked", "").await, 1, "{}", app.backend);
        // Locked: even the right current password is refused, and nothing changes.
        let hash = app.store.account_by_id(id).await.unwrap().unwrap().password_hash;
        assert!(change(PASSWORD).await.body.contains("アカウントがロックされています"), "{}", app.backend);
        assert_eq!(app.store.account_by_id(id).await.unwrap().unwrap().password_hash, hash);
        let r = app.client().sign_in(&app, "vendor-a", PASSWORD, None).await;
        assert!(r.body.contains(FAILED), "{}: the account is locked for sign-in too", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn changing_ones_password_ends_every_other_session_of_the_account() {
    for app in App::each(Options::default()).await {
        let org = app.org("ベンダーA", OrgKind::Vendor).await;
        let (here, _) = app.signed_in("vendor-a", Role::Vendor, Some(org)).await;
        let elsewhere = app.client();
        elsewhere.sign_in(&app, "vendor-a", PASSWORD, None).await;
        assert_eq!(elsewhere.get("/dashboard").await.status, StatusCode::OK);
        here.get("/password").await;
        let r = here.change_password(PASSWORD, "Another-Good-1").await;
        assert_eq!(r.location(), "/dashboard", "{}: {}", app.backend, r.body);
        assert_eq!(here.get("/dashboard").await.status, StatusCode::OK, "{}: this session goes on", app.backend);
        assert_eq!(elsewhere.get("/dashboard").await.location(), "/login", "{}: the other one ended", app.backend);
        app.close().await;
    }
}

/// Item 46: a person who left themselves signed in elsewhere, or fears a
/// session was taken, ends every other session from "my account" without
/// changing their password; this one carries on under a new id, and the
/// act is audited.
#[tokio::test]
async fn signing_out_everywhere_else_ends_every_other_session_and_keeps_this_one() {
    for app in App::each(Options::default()).await {
        let org = app.org("ベンダーA", OrgKind::Vendor).await;
        let (here, id) = app.signed_in("vendor-a", Role::Vendor, Some(org)).await;
        let elsewhere = app.client();
        elsewhere.sign_in(&app, "vendor-a", PASSWORD, None).await;
        assert_eq!(elsewhere.get("/dashboard").await.status, StatusCode::OK);
        let page = here.get("/account").await;
        assert!(page.body.contains("他の端末からすべてサインアウトする"), "{}", app.backend);
        let r = here.post("/account/sessions", &[]).await;
        assert_eq!(r.location(), "/account", "{}: {}", app.backend, r.body);
        assert!(!crate::signin::set_cookie(&r, "__Host-mamori_session").is_empty(), "{}: a new id", app.backend);
        let after = here.get("/account").await;
        assert!(after.body.contains("他の端末のセッションをすべて終了しました"), "{}", app.backend);
        assert_eq!(here.get("/dashboard").await.status, StatusCode::OK, "{}: this session goes on", app.backend);
        assert_eq!(elsewhere.get("/dashboard").await.location(), "/login", "{}: the other one ended", app.backend);
        let events = app.store.audit_recent(20).await.unwrap();
        let ended = events.iter().find(|e| e.record.action == "sessions.ended").expect("audited");
        assert_eq!(ended.record.target_id.as_deref(), Some(id.to_string().as_str()), "{}", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn an_administrator_resetting_the_second_factor_ends_the_persons_sessions() {
    for app in App::each(Options::default()).await {
        let (officer, officer_id) = app.signed_in("officer1", Role::SecurityOfficer, None).await;
        assert_eq!(officer.get("/dashboard").await.status, StatusCode::OK);
        let (admin, _) = app.signed_in("admin1", Role::Admin, None).await;
        admin.get(&format!("/admin/users/{officer_id}")).await;
        let r = admin.post(&format!("/admin/users/{officer_id}/reset-totp"), &[("reason", "端末を紛失したため")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}: {}", app.backend, r.body);
        assert_eq!(officer.get("/dashboard").await.location(), "/login", "{}", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn item_39_an_unknown_user_id_does_the_same_database_writes_as_a_wrong_password_and_is_recorded_as_a_keyed_hash()
{
    for app in App::each(Options::default()).await {
        let org = app.org("ベンダーA", OrgKind::Vendor).await;
        app.user("known-one", Role::Vendor, Some(org)).await;
        let c = app.client_on("/login").await;
        // Warm-up: the first attempt makes the keyed hash's key.
        c.post("/login", &[("login", "warm-up"), ("password", "x")]).await;
        let typed = "Secret-Typed-Into-Id-1";
        let before = app.store.write_transactions();
        c.post("/login", &[("login", typed), ("password", "Wrong-Guess-1")]).await;
        let unknown = app.store.write_transactions() - before;
        let before = app.store.write_transactions();
        c.post("/login", &[("login", "known-one"), ("password", "Wrong-Guess-1")]).await;
        let known = app.store.write_transactions() - before;
        assert_eq!(unknown, known, "{}: write transactions for an unknown and a known user ID", app.backend);
        c.post("/login", &[("login", typed), ("password", "Wrong-Guess-2")]).await;
        let events = app.store.audit_recent(100).await.unwrap();
        assert!(events.iter().all(|e| !e.record.changes.contains(typed)), "{}: the typed text is kept", app.backend);
        let digests: Vec<String> = events
            .iter()
            .filter(|e| e.record.action == "signin.failure" && e.record.changes.contains("unknown_login"))
            .map(|e| e.record.changes.clone())
            .collect();
        assert_eq!(digests.len(), 3, "{}", app.backend);
        assert_eq!(digests[0], digests[1], "{}: the same ID correlates", app.backend);
        assert_ne!(digests[0], digests[2], "{}: another ID, another digest", app.backend);
        assert!(digests[0].contains("unknown:"), "{}", digests[0]);
        app.close().await;
    }
}

#[tokio::test]
async fn of_200_parallel_sign_ins_from_one_address_exactly_50_are_checked_and_the_refusals_are_counted_not_logged() {
    for app in App::each(Options::default()).await {
        let c = app.client_on("/login").await;
        let checks = app.state.hasher.checks();
        let events = app.store.audit_recent(100_000).await.unwrap().len();
        let mut flood = Vec::new();
        for k in 0..200 {
            let c = c.clone();
            flood.push(tokio::spawn(async move {
                let login = format!("nobody-{k}");
                c.post("/login", &[("login", &login), ("password", "Wrong-Guess-1")]).await
            }));
        }
        for t in flood {
            assert!(t.await.unwrap().body.contains(FAILED));
        }
        assert_eq!(app.state.hasher.checks() - checks, 50, "{}: the address limit", app.backend);
        let written = app.store.audit_recent(100_000).await.unwrap().len() - events;
        assert_eq!(written, 50, "{}: one event per checked attempt, none yet for the refused", app.backend);
        app.clock.advance(Duration::minutes(1));
        c.post("/login", &[("login", "nobody-x"), ("password", "x")]).await;
        let ev = app.store.audit_recent(1).await.unwrap().remove(0).record;
        assert_eq!(ev.action, "requests.refused", "{}", app.backend);
        assert!(ev.changes.contains("\"count\":150") && ev.changes.contains("signin_throttled"), "{}", ev.changes);
        app.close().await;
    }
}

#[tokio::test]
async fn an_address_throttled_by_spraying_still_lets_its_known_users_sign_in() {
    for app in App::each(Options::default()).await {
        let org = app.org("ベンダーA", OrgKind::Vendor).await;
        app.user("regular", Role::Vendor, Some(org)).await;
        app.user("newcomer", Role::Vendor, Some(org)).await;
        // The regular user has signed in from this (the office's) address before.
        let r = app.client().sign_in(&app, "regular", PASSWORD, None).await;
        assert_eq!(r.location(), "/dashboard");
        let sprayer = app.client_on("/login").await;
        for i in 0..50 {
            let login = format!("guess-{i}");
            sprayer.post("/login", &[("login", &login), ("password", "Spring2026!!x")]).await;
        }
        let r = app.client().sign_in(&app, "regular", PASSWORD, None).await;
        assert_eq!(r.location(), "/dashboard", "{}: a known user of the address", app.backend);
        let r = app.client().sign_in(&app, "newcomer", PASSWORD, None).await;
        assert!(r.body.contains(FAILED), "{}: a new one waits for the window", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn a_refused_post_to_the_setup_link_keeps_its_token_out_of_the_log() {
    for app in App::each(Options::default()).await {
        let token = "Zk3pQ9vX2mN7bR4tW8yL1cH6";
        app.setup_token(token).await;
        let c = app.client_on("/login").await;
        let r = c.post_raw(&format!("/setup/{token}"), Some("https://evil.example"), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", app.backend);
        app.clock.advance(Duration::minutes(1));
        c.post_raw("/login", None, None).await;
        let ev = app.store.audit_recent(1).await.unwrap().remove(0).record;
        assert_eq!(ev.action, "requests.refused", "{}", app.backend);
        assert!(ev.changes.contains("/setup/{token}"), "{}: the route is named", ev.changes);
        let all = app.store.audit_recent(100_000).await.unwrap();
        assert!(!all.iter().any(|e| e.record.changes.contains(token)), "{}: the token is in no event", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn anonymous_refused_posts_write_one_event_per_address_and_minute_and_unknown_routes_none() {
    for app in App::each(Options::default()).await {
        let c = app.client_on("/login").await;
        let before = app.store.audit_recent(100_000).await.unwrap().len();
        let long = format!("/setup/{}", "a".repeat(8000));
        for k in 0..400 {
            let path = if k % 2 == 0 { "/login" } else { long.as_str() };
            let r = c.post_raw(path, Some("https://evil.example"), None).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN);
            let r = c.post_raw(&format!("/no/such/route/{}", "b".repeat(4000)), None, None).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND);
        }
        assert_eq!(app.store.audit_recent(100_000).await.unwrap().len(), before, "{}: nothing yet", app.backend);
        app.clock.advance(Duration::minutes(1));
        c.post_raw("/login", None, None).await;
        let all = app.store.audit_recent(100_000).await.unwrap();
        assert_eq!(all.len(), before + 1, "{}: one event for 400 refusals", app.backend);
        let ev = &all[0].record;
        assert_eq!(ev.action, "requests.refused");
        assert!(ev.changes.contains("\"count\":400"), "{}", ev.changes);
        assert!(ev.changes.len() < 600, "{}: the sample path is cut", app.backend);
        assert!(!ev.changes.contains("/no/such/route"), "{}", app.backend);
        app.close().await;
    }
}

/// Posts a multipart form as a page of this site would, with the fields in
/// the order given.
async fn multipart(c: &Client, app: &App, path: &str, fields: Vec<(&str, Vec<u8>, Option<&str>)>) -> StatusCode {
    let mut form = reqwest::multipart::Form::new();
    for (name, bytes, file) in fields {
        let mut part = reqwest::multipart::Part::bytes(bytes);
        if let Some(f) = file {
            part = part.file_name(f.to_owned());
        }
        form = form.part(name.to_owned(), part);
    }
    c.http
        .post(format!("{}{path}", app.base))
        .header("origin", &app.base)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_multipart_body_is_refused_unread_outside_the_upload_route_and_its_token_comes_first() {
    for app in App::each(Options::default()).await {
        let (sys, c) = crate::checklist::supplied_system(&app, "会計システム").await;
        c.get(&format!("/systems/{sys}/items/1")).await;
        let token = c.token().into_bytes();
        // A state-changing route that takes a form: multipart is refused.
        let fields = vec![
            ("csrf_token", token.clone(), None),
            ("status", b"done".to_vec(), None),
            ("measures", b"x".to_vec(), None),
        ];
        let status = multipart(&c, &app, &format!("/systems/{sys}/items/1"), fields).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{}", app.backend);
        let status =
            multipart(&c, &app, &format!("/systems/{sys}/submit"), vec![("csrf_token", token.clone(), None)]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{}", app.backend);
        assert!(app.store.answers(sys, 1).await.unwrap().is_empty());
        // The upload route: the token must be the first field, and right.
        let pdf = b"%PDF-1.4\n%%EOF\n".to_vec();
        let late = vec![("file", pdf.clone(), Some("a.pdf")), ("csrf_token", token.clone(), None)];
        let path = format!("/systems/{sys}/items/1/evidence");
        assert_eq!(multipart(&c, &app, &path, late).await, StatusCode::FORBIDDEN, "{}", app.backend);
        let wrong = vec![("csrf_token", b"0".repeat(64), None), ("file", pdf.clone(), Some("a.pdf"))];
        assert_eq!(multipart(&c, &app, &path, wrong).await, StatusCode::FORBIDDEN, "{}", app.backend);
        assert!(app.store.evidence_for(sys, 1, 1).await.unwrap().is_empty(), "{}", app.backend);
        let right = vec![("csrf_token", token, None), ("file", pdf, Some("a.pdf"))];
        assert_eq!(multipart(&c, &app, &path, right).await, StatusCode::SEE_OTHER, "{}", app.backend);
        assert_eq!(app.store.evidence_for(sys, 1, 1).await.unwrap().len(), 1, "{}", app.backend);
        app.close().await;
    }
}

#[tokio::test]
async fn sign_ins_are_checked_off_the_async_workers_never_more_at_once_than_the_cores() {
    let app = App::spawn("sqlite", Options::default()).await;
    let c = app.client_on("/login").await;
    let mut flood = Vec::new();
    for k in 0..32 {
        let c = c.clone();
        flood.push(tokio::spawn(async move {
            let login = format!("nobody-{k}");
            c.post("/login", &[("login", &login), ("password", "Wrong-Guess-1")]).await
        }));
    }
    // The server answers other requests meanwhile.
    let health = app.client().get("/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    for t in flood {
        assert!(t.await.unwrap().body.contains(FAILED));
    }
    let h = &app.state.hasher;
    assert_eq!(h.checks(), 32, "every unknown user ID is checked against the dummy hash");
    assert!(h.peak_concurrency() as usize <= h.limit(), "{} at once, limit {}", h.peak_concurrency(), h.limit());
    assert!(h.peak_concurrency() >= 1);
    app.close().await;
}

/// Item 51: a redirect target carrying a line break (a header split) or
/// another site never reaches a response header; the person goes home.
#[tokio::test]
async fn item_51_a_header_split_or_another_site_in_a_redirect_target_never_reaches_a_header() {
    let app = App::spawn("sqlite", Options::default()).await;
    let dept = app.org("総務課", OrgKind::Department).await;
    let (c, _) = app.signed_in("dept1", Role::Department, Some(dept)).await;
    for next in [
        "/dashboard\r\nSet-Cookie: injected=1",
        "/dashboard\nLocation: https://evil.example/",
        "/%0d%0aSet-Cookie:%20injected=1",
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        c.get("/dashboard").await;
        let r = c.post("/lang", &[("lang", "ja"), ("next", next)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{next:?}");
        let location = r.location().to_owned();
        assert!(location == "/" || location == "/%0d%0aSet-Cookie:%20injected=1", "{next:?} → {location:?}");
        assert!(!location.contains('\r') && !location.contains('\n') && !location.contains("evil"), "{location:?}");
        // An encoded break stays an encoded part of the path; no other
        // header carries anything of the target.
        for (name, value) in r.headers.iter().filter(|(n, _)| *n != "location") {
            let v = value.to_str().unwrap_or("");
            assert!(!v.contains("injected") && !v.contains("evil.example"), "{name}: {v} ({next:?})");
        }
    }
    // A valid local target is kept.
    c.get("/dashboard").await;
    assert_eq!(c.post("/lang", &[("lang", "ja"), ("next", "/systems")]).await.location(), "/systems");
    app.close().await;
}

/// Item 48: mamori starts no program and no shell: no source file of the
/// server, its store, its scanner or its console builds a process (the
/// malware scanner is reached over its socket).
#[test]
fn item_48_no_source_of_mamori_starts_a_process_or_a_shell() {
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    // Not the test helpers' crate: it starts the lab's servers.
    let shipped: Vec<_> = std::fs::read_dir(crates)
        .unwrap()
        .flatten()
        .filter(|k| k.file_name() != "testkit")
        .map(|k| k.path().join("src"))
        .collect();
    let sources: Vec<_> = mamori_testkit::files_under(&shipped)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    assert!(sources.len() > 100, "the sources were found: {}", sources.len());
    for p in sources {
        let text = std::fs::read_to_string(&p).unwrap();
        // Only the code that ships: a file's unit tests may start helpers.
        let shipped = text.split("#[cfg(test)]").next().unwrap();
        for needle in ["process::Command", "Command::new(", "libc::exec", "libc::system", "/bin/sh"] {
            assert!(!shipped.contains(needle), "{} holds {needle}", p.display());
        }
    }
}

/// One address opens more connections than its share and holds them idle
/// (as a slow-loris client does, reopening them before the handshake times
/// out): its share is held, the next is closed at once, and a client at
/// another address is still served. Before, one address could hold all
/// 1,024 slots and lock every user out. (The share is set small here: the
/// test's process holds both ends of every connection.)
#[tokio::test]
async fn one_address_holds_at_most_its_share_of_connections_and_another_address_is_still_served() {
    use tokio::io::AsyncReadExt;
    let share = 24;
    let app = App::spawn("sqlite", Options { max_connections_per_address: Some(share), ..Options::default() }).await;
    assert!(share < mamori_web::Limits::default().max_connections);
    let addr = app.base.trim_start_matches("https://").trim_end_matches('/').to_owned();
    let mut held = Vec::new();
    for _ in 0..share {
        held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let mut over = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(std::time::Duration::from_secs(3), over.read(&mut byte)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "the connection over the share is closed: {closed:?}");
    let last = held.last_mut().unwrap();
    let open = tokio::time::timeout(std::time::Duration::from_millis(300), last.read(&mut byte)).await;
    assert!(open.is_err(), "the share is held open: {open:?}");
    let other = app.client_from("127.0.0.2".parse().unwrap());
    let r = other.get(format!("{}/login", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "another address is served");
    drop(held);
    app.close().await;
}

/// Two addresses, each within its share (half the connections), held
/// every connection idle, and nobody else could connect. Past three
/// quarters, an address holding sixteen or more is refused: the second
/// holds a quarter, and another address is still served.
#[tokio::test]
async fn two_addresses_holding_their_shares_leave_a_quarter_of_the_connections_to_others() {
    use tokio::io::AsyncReadExt;
    let opts = Options { max_connections: Some(64), max_connections_per_address: Some(32), ..Options::default() };
    let app = App::spawn("sqlite", opts).await;
    let addr: std::net::SocketAddr =
        app.base.trim_start_matches("https://").trim_end_matches('/').parse().expect("an address and port");
    let connect = async |from: &str| {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
        socket.connect(addr).await.unwrap()
    };
    // Whether the server keeps a connection open (refused, it is closed at
    // once); all looked at together, well within the handshake's time.
    let kept = async |c: &mut tokio::net::TcpStream| {
        let mut byte = [0u8; 1];
        tokio::time::timeout(std::time::Duration::from_millis(500), c.read(&mut byte)).await.is_err()
    };
    let mut held = Vec::new();
    for (from, want) in [("127.0.0.1", 32), ("127.0.0.3", 16)] {
        let mut opened = Vec::new();
        for _ in 0..40 {
            opened.push(connect(from).await);
        }
        let open = futures_util::future::join_all(opened.iter_mut().map(kept)).await;
        assert_eq!(open.iter().filter(|k| **k).count(), want, "{from}: {open:?}");
        held.extend(opened);
    }
    let other = app.client_from("127.0.0.2".parse().unwrap());
    let r = other.get(format!("{}/login", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "another address is served");
    drop(held);
    app.close().await;
}

/// The share is one across the server's listeners: an address holding its
/// share on the plain listener that redirects is refused on the HTTPS one
/// too. Before, each listener counted on its own: one address held twice
/// its share, and the process twice its connections (past the open-files
/// limit, `accept` failed for everyone).
#[tokio::test]
async fn an_address_s_share_of_connections_counts_the_redirect_listener_too() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let share = 24;
    let app = App::spawn("sqlite", Options { max_connections_per_address: Some(share), ..Options::default() }).await;
    let addr = app.base.trim_start_matches("https://").trim_end_matches('/').to_owned();
    // Each held connection has had its answer (so the server took it up and
    // counted it) and stays open (HTTP/1.1 keeps it alive).
    let mut held = Vec::new();
    for _ in 0..share {
        let mut c = tokio::net::TcpStream::connect(&app.redirect).await.unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
        let mut answer = [0u8; 12];
        c.read_exact(&mut answer).await.unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 30"), "{}", String::from_utf8_lossy(&answer));
        held.push(c);
    }
    for to in [&addr, &app.redirect] {
        let mut over = tokio::net::TcpStream::connect(to).await.unwrap();
        let mut byte = [0u8; 1];
        let closed = tokio::time::timeout(std::time::Duration::from_secs(3), over.read(&mut byte)).await;
        assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{to}: the connection over the share is closed: {closed:?}");
    }
    let other = app.client_from("127.0.0.2".parse().unwrap());
    let r = other.get(format!("{}/login", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "another address is served");
    drop(held);
    // Released, the plain listener answers again: with its redirect.
    let mut again = tokio::net::TcpStream::connect(&app.redirect).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut again, b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    again.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 30"), "{answer}");
    app.close().await;
}

/// Behind a trusted proxy, sign-ins come from sixty addresses of one IPv6
/// /64, a client that owns the /64: they count as one source, so exactly 50
/// are checked, as from one address. Before, each address was a source of
/// its own and none was throttled. Another /64 is checked still.
#[tokio::test]
async fn sign_ins_from_sixty_addresses_of_one_ipv6_64_are_throttled_as_one_address() {
    let opts = Options { trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()], ..Options::default() };
    for app in App::each(opts).await {
        let c = app.client_on("/login").await;
        let checks = app.state.hasher.checks();
        let attempt = async |from: String, k: usize| {
            let form =
                [("login", format!("nobody-{k}")), ("password", "Wrong-Guess-1".into()), ("csrf_token", c.token())];
            let r = c.http.post(format!("{}/login", app.base)).header("origin", &app.base);
            let r = r.header("x-forwarded-for", from).form(&form).send().await.unwrap();
            r.text().await.unwrap()
        };
        for k in 0..60 {
            assert!(attempt(format!("2001:db8:1:2::{:x}", k + 1), k).await.contains(FAILED));
        }
        assert_eq!(app.state.hasher.checks() - checks, 50, "{}: one /64, one address limit", app.backend);
        attempt("2001:db8:1:3::1".into(), 99).await;
        assert_eq!(app.state.hasher.checks() - checks, 51, "{}: another /64 is checked", app.backend);
        app.close().await;
    }
}

/// Behind a trusted proxy, sign-ins come from thirty /64s of one IPv6 /48
/// (a client given the /48: 65,536 /64s), all at once, each under its own
/// limit: with the block's limit at 20, exactly 20 are checked, the other
/// ten refused before any password is checked. An account that signed in from the
/// block before is still checked and signs in, from another /64 of it;
/// another /48 is checked. Before, each /64 was held back alone and all
/// thirty were checked.
#[tokio::test]
async fn thirty_parallel_sign_ins_from_thirty_64s_of_one_ipv6_48_are_throttled_at_the_block_s_limit_but_a_known_account_signs_in(
) {
    let lockout = LockoutPolicy { block_max_failures: 20, ..LockoutPolicy::default() };
    let opts = Options {
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        lockout: Some(lockout),
        ..Options::default()
    };
    for app in App::each(opts).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        app.issue("tanto01", Role::Department, Some(dept)).await;
        let attempt = async |from: &str, login: &str, password: &str| {
            let c = app.client_on("/login").await;
            let form = [("login", login), ("password", password), ("csrf_token", &c.token())];
            let r = c.http.post(format!("{}/login", app.base)).header("origin", &app.base);
            let r = r.header("x-forwarded-for", from).form(&form).send().await.unwrap();
            let signed_in = r.headers().get("location").is_some_and(|l| l == "/dashboard");
            (signed_in, r.text().await.unwrap())
        };
        // Known in the block: a sign-in from one of its /64s.
        assert!(attempt("2001:db8:7:ff::1", "tanto01", PASSWORD).await.0, "{}", app.backend);
        let checks = app.state.hasher.checks();
        let flood = (0..30).map(|k| async move {
            let (_, page) =
                attempt(&format!("2001:db8:7:{:x}::1", k + 1), &format!("nobody-{k}"), "Wrong-Guess-1").await;
            assert!(page.contains(FAILED), "{}: {k}", app.backend);
        });
        futures_util::future::join_all(flood).await;
        assert_eq!(app.state.hasher.checks() - checks, 20, "{}: one /48, the block's limit", app.backend);
        let (signed_in, page) = attempt("2001:db8:7:abcd::5", "tanto01", PASSWORD).await;
        assert!(signed_in, "{}: known in the block, signed in: {page}", app.backend);
        assert_eq!(app.state.hasher.checks() - checks, 21, "{}", app.backend);
        let (_, page) = attempt("2001:db8:8:1::1", "nobody-x", "Wrong-Guess-1").await;
        assert!(page.contains(FAILED), "{}", app.backend);
        assert_eq!(app.state.hasher.checks() - checks, 22, "{}: another /48 is checked", app.backend);
        app.close().await;
    }
}

/// Someone holding a department's password (no second factor) signs in
/// again and again: each sign-in was a password check (the hashing every
/// sign-in waits for, queued 32 a core), a session and an attempt kept 90
/// days, without end, a right password resetting every count. With the
/// account's limit at three, the fourth is refused before its password is
/// checked, with the page every refusal shows; another account signs in,
/// and so does this one once the window has moved on.
#[tokio::test]
async fn an_account_signing_in_again_and_again_is_refused_unchecked_past_its_limit_under_its_name_and_no_other_is() {
    let lockout = LockoutPolicy { account_max_signins: 3, ..LockoutPolicy::default() };
    for app in App::each(Options { lockout: Some(lockout), ..Options::default() }).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        app.issue("tanto01", Role::Department, Some(dept)).await;
        app.issue("tanto02", Role::Department, Some(dept)).await;
        let sign_in = async |login: &str| app.client().sign_in(&app, login, PASSWORD, None).await;
        for k in 0..3 {
            assert_eq!(sign_in("tanto01").await.location(), "/dashboard", "{}: sign-in {k}", app.backend);
        }
        let checks = app.state.hasher.checks();
        let r = sign_in("tanto01").await;
        assert!(r.body.contains(FAILED), "{}: the fourth refused: {}", app.backend, r.body);
        assert_eq!(app.state.hasher.checks(), checks, "{}: before its password was checked", app.backend);
        // Recorded under the account's name, not as the address's throttle.
        let events = app.store.audit_recent(100_000).await.unwrap();
        let limited: Vec<_> = events.iter().filter(|e| e.record.action == "requests.limited").collect();
        assert_eq!(limited.len(), 1, "{}", app.backend);
        assert_eq!(limited[0].record.actor_login, "tanto01", "{}", app.backend);
        assert!(limited[0].record.changes.contains("account_max_signins"), "{}", app.backend);
        assert_eq!(sign_in("tanto02").await.location(), "/dashboard", "{}: another account", app.backend);
        app.clock.advance(Duration::minutes(16));
        assert_eq!(sign_in("tanto01").await.location(), "/dashboard", "{}: the window moved on", app.backend);
        app.close().await;
    }
}

/// Anyone can fail a sign-in, and each failure was an event of its own in
/// the audit log kept two years: the per-address throttle bounds one
/// address, not a client with thousands (and a refusal of a locked account
/// costs no password check). Behind a trusted proxy, 170 failed sign-ins
/// from 170 addresses in one minute: ten lock one account, 150 more knock
/// on it locked, ten lock another. Each failure counted against an account
/// (ten an account in a lock window) is logged alone: before, the ten on
/// the second account, past the minute's budget, were only counted, so a
/// flood hid which account was guessed at. Of the others, the first 120
/// are logged one by one, each refused the same way; the other 30 are
/// counted, one event per address with its count once the minute is over.
#[tokio::test]
async fn failed_sign_ins_from_170_addresses_log_those_counted_against_an_account_and_120_others_a_minute_alone() {
    use mamori_app::passwords::FAILURES_EACH;
    let opts = Options { trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()], ..Options::default() };
    for app in App::each(opts).await {
        app.user("kanri01", Role::SecurityOfficer, None).await;
        app.user("kanri02", Role::SecurityOfficer, None).await;
        let c = app.client_on("/login").await;
        let before = app.store.audit_recent(100_000).await.unwrap().len();
        let attempt = async |k: usize, login: &str| {
            let form = [("login", login), ("password", "Wrong-Guess-1"), ("csrf_token", &c.token())];
            let r = c.http.post(format!("{}/login", app.base)).header("origin", &app.base);
            let r = r.header("x-forwarded-for", format!("10.0.{}.{}", k / 250, k % 250 + 1)).form(&form);
            let body = r.send().await.unwrap().text().await.unwrap();
            assert!(body.contains(FAILED), "{}: {k}", app.backend);
        };
        for k in 0..10 {
            attempt(k, "kanri01").await;
        }
        // Locked: refused unchecked, ten at a time.
        for chunk in (10..160).collect::<Vec<_>>().chunks(10) {
            futures_util::future::join_all(chunk.iter().map(|k| attempt(*k, "kanri01"))).await;
        }
        for k in 160..170 {
            attempt(k, "kanri02").await;
        }
        let minute = app.store.audit_recent(100_000).await.unwrap();
        let new: Vec<_> = minute[..minute.len() - before].iter().map(|e| &e.record).collect();
        let alone: Vec<_> = new.iter().filter(|e| e.action == "signin.failure").collect();
        assert_eq!(alone.len() as u64, 10 + FAILURES_EACH + 10, "{}", app.backend);
        let on_the_second = alone.iter().filter(|e| e.actor_login == "kanri02").count();
        assert_eq!(on_the_second, 10, "{}: every guess at the second account, past the budget", app.backend);
        assert_eq!(new.iter().filter(|e| e.action == "account.locked").count(), 2, "{}: both locks", app.backend);
        for login in ["kanri01", "kanri02"] {
            assert!(app.store.account_by_login(login).await.unwrap().unwrap().locked_until.is_some(), "{login}");
        }

        // The minute's counts are written with the next refusal (or by the
        // server's periodic job).
        app.clock.advance(Duration::minutes(1));
        let r = c.http.post(format!("{}/login", app.base)).header("origin", "https://evil.example");
        assert_eq!(r.form(&[("login", "x")]).send().await.unwrap().status(), StatusCode::FORBIDDEN);
        let all = app.store.audit_recent(100_000).await.unwrap();
        let counted: Vec<_> = all[..all.len() - minute.len()]
            .iter()
            .map(|e| &e.record)
            .filter(|e| e.action == "requests.refused" && e.changes.contains("signin_failure"))
            .collect();
        assert_eq!(counted.len(), 150 - FAILURES_EACH as usize, "{}: one event per address", app.backend);
        let total: u64 = counted
            .iter()
            .map(|e| serde_json::from_str::<serde_json::Value>(&e.changes).unwrap()["count"].as_u64().unwrap())
            .sum();
        assert_eq!(total, 150 - FAILURES_EACH, "{}: every failure counted", app.backend);
        app.close().await;
    }
}

/// Behind a trusted proxy, 200 refused posts come from 200 addresses of one
/// IPv6 /64: they are one event, under the /64, with the count. Before,
/// each address was a key of its own, and one client could write 10,000
/// events a minute into the audit chain. Another /64 is an event of its own.
#[tokio::test]
async fn refusals_from_two_hundred_addresses_of_one_ipv6_64_are_one_event() {
    let opts = Options { trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()], ..Options::default() };
    for app in App::each(opts).await {
        let c = app.client_on("/login").await;
        let before = app.store.audit_recent(100_000).await.unwrap().len();
        let refused = async |from: String| {
            let r = c.http.post(format!("{}/login", app.base)).header("origin", "https://evil.example");
            let r = r.header("x-forwarded-for", from).form(&[("login", "x")]).send().await.unwrap();
            r.status()
        };
        for k in 0..200 {
            assert_eq!(refused(format!("2001:db8:1:2::{:x}", k + 1)).await, StatusCode::FORBIDDEN);
        }
        assert_eq!(refused("2001:db8:1:3::1".into()).await, StatusCode::FORBIDDEN);
        app.clock.advance(Duration::minutes(1));
        refused("2001:db8:1:4::1".into()).await;
        let all = app.store.audit_recent(100_000).await.unwrap();
        let new: Vec<_> = all[..all.len() - before].iter().map(|e| &e.record).collect();
        assert_eq!(new.len(), 2, "{}: one event for each /64", app.backend);
        let of = |net: &str| new.iter().find(|e| e.client_addr.as_deref() == Some(net)).map(|e| e.changes.clone());
        let one = of("2001:db8:1:2::").unwrap_or_default();
        assert!(one.contains("\"count\":200") && one.contains("csrf"), "{}: {one}", app.backend);
        assert!(of("2001:db8:1:3::").unwrap_or_default().contains("\"count\":1"), "{}", app.backend);
        assert!(new.iter().all(|e| e.action == "requests.refused"), "{}", app.backend);
        app.close().await;
    }
}

/// A visitor's form is read up to 64 KiB; with the token sent in the
/// X-CSRF-Token header instead, the body was read up to the signed-in
/// limit (1 MiB). Either way it is refused at 64 KiB now.
#[tokio::test]
async fn a_visitor_s_body_is_capped_alike_with_the_token_in_a_header_or_in_the_form() {
    let app = App::spawn("sqlite", Options::default()).await;
    let c = app.client_on("/login").await;
    let big = format!("login=x&password={}", "a".repeat(200 * 1024));
    let url = format!("{}/login", app.base);
    let send = |with_header: bool| {
        let mut r = c.http.post(&url).header("origin", &app.base);
        r = r.header("content-type", "application/x-www-form-urlencoded");
        let body = if with_header {
            r = r.header("x-csrf-token", c.token());
            big.clone()
        } else {
            format!("{big}&csrf_token={}", c.token())
        };
        r.body(body).send()
    };
    assert_eq!(send(false).await.unwrap().status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(send(true).await.unwrap().status(), StatusCode::PAYLOAD_TOO_LARGE);
    let small = c.http.post(&url).header("origin", &app.base).header("x-csrf-token", c.token());
    let small = small.form(&[("login", "x"), ("password", "y")]).send().await.unwrap();
    assert_eq!(small.status(), StatusCode::OK, "a small one with the header is read");
    app.close().await;
}

/// A signed-in vendor asks, again and again, for another vendor's system:
/// each "not found" was one more permanent event in the audit chain, so
/// one account could grow the log without bound. The first twenty of a
/// minute are recorded one by one (who, where, which path); the rest of
/// the minute become one event under the same name with their count.
/// Another person's refusals in that minute are still recorded one by one.
#[tokio::test]
async fn a_signed_in_person_s_refusals_are_recorded_each_up_to_twenty_a_minute_then_counted_in_one() {
    for app in App::each(Options::default()).await {
        let crate::checklist::Cast { sys, x, v, .. } = crate::checklist::cast(&app).await;
        let denied = async || {
            let events = app.store.audit_recent(1_000).await.unwrap();
            events.into_iter().filter(|e| e.record.action == "access.denied").collect::<Vec<_>>()
        };
        for _ in 0..100 {
            assert_eq!(x.get(&format!("/systems/{sys}")).await.status, StatusCode::NOT_FOUND);
        }
        assert_eq!(v.get("/audit").await.status, StatusCode::NOT_FOUND, "{}", app.backend);
        let now = denied().await;
        let of = |login: &str| now.iter().filter(|e| e.record.actor_login == login).count();
        assert_eq!((of("vendor-b"), of("vendor-a")), (20, 1), "{}: twenty, and the other person's one", app.backend);
        assert!(now.iter().all(|e| e.record.changes.contains("/systems/") || e.record.changes.contains("/audit")));

        // The minute over, its other 80 are one event.
        app.clock.advance(Duration::minutes(1));
        assert_eq!(x.get(&format!("/systems/{sys}")).await.status, StatusCode::NOT_FOUND);
        let after = denied().await;
        let mine: Vec<_> = after.into_iter().filter(|e| e.record.actor_login == "vendor-b").collect();
        let counted = one_for_the_other_80(&mine, app.backend);
        assert!(counted.record.changes.contains(&format!("/systems/{sys}")), "{}", app.backend);
        app.close().await;
    }
}

/// Of a person's refusals after 100 in one minute and one in the next:
/// 22 events (twenty one by one, one for the other 80, the new minute's
/// first); the one that counts the 80.
fn one_for_the_other_80<'a>(events: &'a [mamori_core::audit::Event], backend: &str) -> &'a mamori_core::audit::Event {
    assert_eq!(events.len(), 22, "{backend}: 20, one for the other 80, the new minute's first");
    let counted: Vec<_> = events.iter().filter(|e| e.record.changes.contains("\"count\":80")).collect();
    let changes: Vec<_> = events.iter().map(|e| &e.record.changes).collect();
    assert_eq!(counted.len(), 1, "{backend}: {changes:?}");
    counted[0]
}

/// The same for forged posts: a signed-in person's page (or script)
/// sending posts without the token wrote one permanent event each, without
/// limit, where every other refusal of theirs is counted past twenty a
/// minute. Now the first twenty of a minute are recorded one by one, the
/// rest in one event with their count.
#[tokio::test]
async fn a_signed_in_person_s_forged_posts_are_recorded_each_up_to_twenty_a_minute_then_counted_in_one() {
    for app in App::each(Options::default()).await {
        let crate::checklist::Cast { sys, x, .. } = crate::checklist::cast(&app).await;
        let rejected = async || {
            let events = app.store.audit_recent(1_000).await.unwrap();
            events.into_iter().filter(|e| e.record.action == "csrf.rejected").collect::<Vec<_>>()
        };
        let path = format!("/systems/{sys}/submit");
        for _ in 0..100 {
            let r = x.post_raw(&path, Some(app.base.as_str()), None).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", app.backend);
        }
        assert_eq!(rejected().await.len(), 20, "{}: twenty one by one", app.backend);
        app.clock.advance(Duration::minutes(1));
        assert_eq!(x.post_raw(&path, Some(app.base.as_str()), None).await.status, StatusCode::FORBIDDEN);
        let after = rejected().await;
        let counted = one_for_the_other_80(&after, app.backend);
        assert!(counted.record.changes.contains("/systems/{id}/submit"), "{}", counted.record.changes);
        assert!(counted.record.changes.contains("\"account_id\""), "whose: {}", counted.record.changes);
        app.close().await;
    }
}

/// A sign-in posted through the trusted proxy for the /64 numbered `k`:
/// (status, body), sent as called, awaited when polled.
fn sign_in_from(
    app: &App,
    c: &Client,
    login: String,
    password: &'static str,
    k: usize,
) -> impl std::future::Future<Output = (StatusCode, String)> + Send + 'static {
    let form = [("login", login), ("password", password.into()), ("csrf_token", c.token())];
    let r = c.http.post(format!("{}/login", app.base)).header("origin", &app.base);
    let r = r.header("x-forwarded-for", format!("2001:db8:{k:x}::1")).form(&form).send();
    async move {
        let r = r.await.unwrap();
        (r.status(), r.text().await.unwrap())
    }
}

/// Waits until `n` sign-ins wait for a check's turn.
async fn until_waiting(app: &App, n: u64) {
    for _ in 0..200 {
        if app.state.hasher.waiting() == n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.state.hasher.waiting(), n, "{}: sign-ins waiting", app.backend);
}

/// A locked account's sign-in skipped the checks' queue: with the queue
/// full, every other ID was answered 503 "busy" and a locked one a 200
/// refusal, at once, which told who exists and is locked (and under load
/// it was answered sooner than a check). It now takes its place in the
/// queue as a check does: with a place left it waits behind the held
/// checks and is refused with them, checked by nobody; with the queue full
/// it is busy as an unknown ID is.
#[tokio::test]
async fn a_locked_account_waits_its_turn_among_the_checks_and_is_busy_as_an_unknown_id_when_they_are_full() {
    let opts = Options { trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()], ..Options::default() };
    for app in App::each(opts).await {
        let org = app.org("ベンダーA", OrgKind::Vendor).await;
        let (person, _) = app.user("vendor-a", Role::Vendor, Some(org)).await;
        let c = app.client_on("/login").await;
        let post = |login: &str, k: usize| sign_in_from(&app, &c, login.to_owned(), "Wrong-Guess-1", k);
        for k in 0..LockoutPolicy::default().max_failures as usize {
            let (status, body) = post("vendor-a", k).await;
            assert!(status == StatusCode::OK && body.contains(FAILED), "{}: {status} {body}", app.backend);
        }
        assert!(app.store.account_by_id(person).await.unwrap().unwrap().locked_until.is_some(), "{}", app.backend);

        let hasher = app.state.hasher.clone();
        let (max, checks) = (hasher.max_waiting(), hasher.checks());
        let held = hasher.hold_every_turn().await;
        let locked = tokio::spawn(post("vendor-a", 100));
        until_waiting(&app, 1).await;
        let others: Vec<_> = (1..max as usize).map(|k| tokio::spawn(post(&format!("nobody-{k}"), 100 + k))).collect();
        until_waiting(&app, max).await;
        assert!(!locked.is_finished(), "{}: the locked account waits its turn", app.backend);
        for (n, login) in ["vendor-a", "nobody-else"].into_iter().enumerate() {
            let (status, body) = post(login, 1_000 + n).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{}: {login}: {body}", app.backend);
            assert!(body.contains("ただいまサインインが混み合っています") && !body.contains(FAILED), "{body}");
        }
        drop(held);
        for w in std::iter::once(locked).chain(others) {
            let (status, body) = w.await.unwrap();
            assert!(status == StatusCode::OK && body.contains(FAILED), "{}: {status} {body}", app.backend);
        }
        assert_eq!(hasher.checks() - checks, max - 1, "{}: all but the locked one checked", app.backend);
        app.close().await;
    }
}

/// Sign-ins from more /64s than the address throttle holds back (an IPv6
/// block has millions): each runs to its end even when its client gives
/// up, so they piled up without end behind the password checks, every
/// real person's sign-in behind them. Now the checks' queue holds
/// `max_waiting` (32 a core); with every check's turn held, that many
/// wait, and the next twenty, all for a real account, are answered 503
/// "busy" at once: not checked, not counted against the account (twenty
/// failures would have locked it), the queue no longer. Released, the
/// waiting ones are checked and refused as usual, exactly that many
/// checks, and the person's password is taken.
#[tokio::test]
async fn sign_ins_past_the_bounded_queue_of_checks_are_told_to_retry_unchecked_and_uncounted() {
    let opts = Options { trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()], ..Options::default() };
    for app in App::each(opts).await {
        let org = app.org("ベンダーA", OrgKind::Vendor).await;
        let (person, _) = app.user("vendor-a", Role::Vendor, Some(org)).await;
        let c = app.client_on("/login").await;
        let post = |login: String, password: &'static str, k: usize| sign_in_from(&app, &c, login, password, k);
        let hasher = app.state.hasher.clone();
        let (max, checks) = (hasher.max_waiting(), hasher.checks());
        let held = hasher.hold_every_turn().await;
        let waiting: Vec<_> =
            (0..max as usize).map(|k| tokio::spawn(post(format!("nobody-{k}"), "Wrong-Guess-1", k))).collect();
        until_waiting(&app, max).await;
        for k in 0..20 {
            let (status, body) = post("vendor-a".into(), "Wrong-Guess-1", 1_000 + k).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{}: {body}", app.backend);
            assert!(body.contains("ただいまサインインが混み合っています") && !body.contains(FAILED), "{body}");
        }
        assert_eq!(hasher.waiting(), max, "{}: the queue no longer", app.backend);
        let a = app.store.account_by_id(person).await.unwrap().unwrap();
        assert_eq!((a.failed_count, a.locked_until), (0, None), "{}: uncounted", app.backend);
        drop(held);
        for w in waiting {
            let (status, body) = w.await.unwrap();
            assert!(status == StatusCode::OK && body.contains(FAILED), "{}: {status} {body}", app.backend);
        }
        assert_eq!(hasher.checks() - checks, max, "{}: the queue's, checked; the rest, not", app.backend);
        let (status, _) = post("vendor-a".into(), PASSWORD, 2_000).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{}: the person's password is taken", app.backend);
        app.close().await;
    }
}

/// Someone who has a person's password but not their second factor sends
/// it again and again from one address: each was a password check (the
/// hashing that everyone's sign-in waits for), a new session and an
/// attempt kept for good, without end, since a right password counted as
/// a success. It stays a failure for the address until the second factor
/// passes: of sixty, fifty are checked, as of a guesser's, and the rest
/// refused unchecked; the person, from another address, signs in, and
/// the second factor passing counts their password as a success again.
#[tokio::test]
async fn a_right_password_sent_again_and_again_without_the_second_factor_is_throttled_as_guesses_are() {
    for app in App::each(Options::default()).await {
        let (_, secret) = app.user("officer1", Role::SecurityOfficer, None).await;
        assert!(secret.is_some(), "the office signs in with a second factor");
        let c = app.client_on("/login").await;
        let checks = app.state.hasher.checks();
        let mut second_factor = 0;
        for _ in 0..60 {
            let r = c.post("/login", &[("login", "officer1"), ("password", PASSWORD)]).await;
            if r.location() == "/login/totp" {
                second_factor += 1;
            } else {
                assert!(r.body.contains(FAILED), "{}: {}", app.backend, r.body);
            }
        }
        assert_eq!(app.state.hasher.checks() - checks, 50, "{}: the address limit", app.backend);
        assert_eq!(second_factor, 50, "{}", app.backend);

        let person = app.client_at("127.0.0.2".parse().unwrap());
        person.get("/login").await;
        let r = person.sign_in(&app, "officer1", PASSWORD, secret.as_deref()).await;
        assert_eq!(r.location(), "/dashboard", "{}: the person, from their own address", app.backend);
        let failed = app.store.purge_failed_attempts(app.now() + Duration::days(1)).await.unwrap();
        assert_eq!(
            failed, 50,
            "{}: the flood's; the person's password, the second factor passed, a success",
            app.backend
        );
        app.close().await;
    }
}

/// A person, or a script holding their session, saving as fast as the
/// server answered grew the database without bound (each save a history
/// line and an event kept for years). With the test's limits (five a
/// minute, eight a day): five saves pass; fifteen more at once are each
/// answered 429 with the time to wait and the Japanese page, change
/// nothing, and are audited one by one under the person's name; an audited
/// download is refused with them, a page is still read, and a colleague
/// saves. The next minute serves three more; past eight the person is told
/// to wait for midnight in Japan, and may still sign out.
#[tokio::test]
async fn a_person_saving_past_the_minute_s_and_the_day_s_limits_is_refused_429_having_changed_nothing() {
    use crate::checklist::system;
    for app in App::each(Options { writes: Some((5, 8)), ..Options::default() }).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let sys = system(&app, dept, Some(vendor), "申請受付システム").await;
        let (a, _) = app.signed_in("vendor-a", Role::Vendor, Some(vendor)).await;
        let (b, _) = app.signed_in("vendor-b", Role::Vendor, Some(vendor)).await;
        let save = async |c: &Client, k: usize| {
            let m = format!("対策 {k}");
            c.answer(sys, 1, &[("status", "done"), ("measures", &m)]).await
        };
        let measures = async || app.store.answer(sys, 1, 1).await.unwrap().unwrap().input.measures;
        for k in 0..5 {
            assert_eq!(save(&a, k).await.status, StatusCode::SEE_OTHER, "{}: save {k}", app.backend);
        }
        let saved = count(&app, "answer.saved", "").await;
        let refused = futures_util::future::join_all((5..20).map(|k| save(&a, k))).await;
        for r in &refused {
            assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", app.backend);
            assert!(
                r.body.contains("操作が多すぎます") && r.body.contains("しばらく待って"),
                "{}: {}",
                app.backend,
                r.body
            );
            let wait: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=60).contains(&wait), "{}: {wait}", app.backend);
        }
        assert_eq!(measures().await, "対策 4", "{}: nothing changed", app.backend);
        assert_eq!(count(&app, "answer.saved", "").await, saved, "{}", app.backend);
        let limited = app.store.audit_recent(100_000).await.unwrap();
        let limited: Vec<_> = limited.iter().filter(|e| e.record.action == "requests.limited").collect();
        assert_eq!(limited.len(), 15, "{}", app.backend);
        assert!(limited.iter().all(|e| e.record.actor_login == "vendor-a" && e.record.changes.contains("minute")));
        let download = a.get(&format!("/systems/{sys}/answers.xlsx")).await;
        assert_eq!(download.status, StatusCode::TOO_MANY_REQUESTS, "{}: an audited download", app.backend);
        assert_eq!(a.get(&format!("/systems/{sys}/items/1")).await.status, StatusCode::OK, "{}: a page", app.backend);
        assert_eq!(save(&b, 99).await.status, StatusCode::SEE_OTHER, "{}: a colleague", app.backend);

        app.clock.advance(Duration::minutes(1));
        for k in 20..23 {
            assert_eq!(save(&a, k).await.status, StatusCode::SEE_OTHER, "{}: save {k}", app.backend);
        }
        let r = save(&a, 23).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}: the ninth of the day", app.backend);
        let wait: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(wait > 3600, "{}: waits for midnight in Japan: {wait}", app.backend);
        assert!(r.body.contains("本日の操作の上限に達しました"), "{}: said so: {}", app.backend, r.body);
        assert_eq!(count(&app, "requests.limited", "day").await, 1, "{}", app.backend);
        assert_eq!(measures().await, "対策 22", "{}", app.backend);
        assert_eq!(a.post("/logout", &[]).await.status, StatusCode::SEE_OTHER, "{}: signs out", app.backend);
        app.close().await;
    }
}

/// Behind a balancer over two instances, a person's changes are counted
/// once whichever instance serves them: each instance counted only its own,
/// so that two gave a person twice the minute's and the day's changes.
#[tokio::test]
async fn a_person_s_changes_through_two_instances_are_counted_together_against_the_minute_s_and_the_day_s_limits() {
    use crate::checklist::system;
    let opts = Options { writes: Some((5, 8)), ..Options::default() };
    for app in App::each(opts.clone()).await {
        let other = app.another_instance(opts.clone()).await;
        let dept = app.org("総務課", OrgKind::Department).await;
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let sys = system(&app, dept, Some(vendor), "申請受付システム").await;
        let (here, _) = app.signed_in("vendor-a", Role::Vendor, Some(vendor)).await;
        let there = here.to(&other.base);
        let save = async |c: &Client, k: usize| {
            let m = format!("対策 {k}");
            c.answer(sys, 1, &[("status", "done"), ("measures", &m)]).await.status
        };
        let measures = async || app.store.answer(sys, 1, 1).await.unwrap().unwrap().input.measures;
        for k in 0..3 {
            assert_eq!(save(&here, k).await, StatusCode::SEE_OTHER, "{}: save {k} here", app.backend);
        }
        for k in 3..5 {
            assert_eq!(save(&there, k).await, StatusCode::SEE_OTHER, "{}: save {k} there", app.backend);
        }
        assert_eq!(save(&there, 5).await, StatusCode::TOO_MANY_REQUESTS, "{}: the sixth of the minute", app.backend);
        assert_eq!(save(&here, 6).await, StatusCode::TOO_MANY_REQUESTS, "{}", app.backend);
        assert_eq!(measures().await, "対策 4", "{}: nothing changed", app.backend);

        app.clock.advance(Duration::minutes(1));
        for (k, c) in [(7, &there), (8, &here), (9, &there)] {
            assert_eq!(save(c, k).await, StatusCode::SEE_OTHER, "{}: save {k}", app.backend);
        }
        assert_eq!(save(&here, 10).await, StatusCode::TOO_MANY_REQUESTS, "{}: the ninth of the day", app.backend);
        assert_eq!(save(&there, 11).await, StatusCode::TOO_MANY_REQUESTS, "{}: the ninth of the day", app.backend);
        assert_eq!(count(&app, "requests.limited", "day").await, 2, "{}", app.backend);
        assert_eq!(measures().await, "対策 9", "{}", app.backend);
        other.close().await;
        app.close().await;
    }
}

/// A person past the minute's limit who posts on: each refusal asked the
/// database again, taking the write lock a count takes (SQLite's one
/// writer, the person's row on PostgreSQL). Refused once, the person is
/// refused without it until the window ends: on PostgreSQL the person's
/// row is held locked here (as a count on another instance would) and ten
/// more posts at once are each refused 429, none waiting for the lock
/// until the request's time runs out. The next minute counts again.
#[tokio::test]
async fn a_person_past_the_limit_is_refused_without_the_database_until_the_window_ends() {
    use crate::checklist::system;
    let opts = Options {
        writes: Some((3, 1_000)),
        request_timeout: Some(std::time::Duration::from_secs(3)),
        ..Options::default()
    };
    for app in App::each(opts).await {
        let dept = app.org("総務課", OrgKind::Department).await;
        let vendor = app.org("ベンダーA", OrgKind::Vendor).await;
        let sys = system(&app, dept, Some(vendor), "申請受付システム").await;
        let (a, id) = app.signed_in("vendor-a", Role::Vendor, Some(vendor)).await;
        a.get(&format!("/systems/{sys}/items/1")).await;
        let save = |k: usize| {
            let (a, m) = (&a, format!("対策 {k}"));
            async move { a.post(&format!("/systems/{sys}/items/1"), &[("status", "done"), ("measures", &m)]).await.status }
        };
        for k in 0..3 {
            assert_ne!(save(k).await, StatusCode::TOO_MANY_REQUESTS, "{}: save {k}", app.backend);
        }
        for k in 3..28 {
            assert_eq!(save(k).await, StatusCode::TOO_MANY_REQUESTS, "{}: save {k}", app.backend);
        }
        let held = match app.pg_url() {
            Some(url) => {
                let sql = format!("SELECT 1 FROM change_pace WHERE account_id = {id} FOR UPDATE");
                Some(mamori_testkit::OpenTx::begin(url, &sql).await)
            }
            None => None,
        };
        let refused = futures_util::future::join_all((28..38).map(save)).await;
        assert!(refused.iter().all(|s| *s == StatusCode::TOO_MANY_REQUESTS), "{}: {refused:?}", app.backend);
        if let Some(held) = held {
            held.commit().await;
        }
        app.clock.advance(Duration::minutes(1));
        assert_ne!(save(38).await, StatusCode::TOO_MANY_REQUESTS, "{}: the next minute", app.backend);
        app.close().await;
    }
}

/// Sign-ins from one address are counted under its block's lock in the
/// database, and waiting for it there held a connection of the pool each:
/// forty at once took all sixteen, and another person's page waited behind
/// them. Here the block's lock is held (as another instance holding it
/// would) while forty sign-ins from the address come in: they wait on this
/// instance, one of them in the database, and another person's page is
/// served meanwhile; once the lock is given back, all forty are answered.
/// (PostgreSQL's: on SQLite the one writer is the lock.)
#[tokio::test]
async fn forty_sign_ins_waiting_for_their_block_s_lock_hold_one_database_connection_and_others_are_served() {
    for app in App::each(Options::default()).await {
        let Some(url) = app.pg_url().map(str::to_owned) else { continue };
        let (officer, _) = app.signed_in("kanri01", Role::SecurityOfficer, None).await;
        let held = mamori_testkit::OpenTx::begin(&url, "SELECT pg_advisory_xact_lock(hashtext('127.0.0.1'))").await;
        let c = app.client_on("/login").await;
        let attempt = async |k: usize| {
            let form = [("login", "tanto01"), ("password", "Wrong-Guess-1"), ("csrf_token", &c.token())];
            let r = c.http.post(format!("{}/login", app.base)).header("origin", &app.base).form(&form);
            let body = r.send().await.unwrap().text().await.unwrap();
            assert!(body.contains(FAILED), "{}: {k}", app.backend);
        };
        let others = async {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            // Who waits for the lock in the database, each on a connection of its own.
            let mut watch = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
            let waiting: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                    .fetch_one(&mut watch)
                    .await
                    .unwrap();
            let page = tokio::time::timeout(std::time::Duration::from_secs(10), officer.get("/dashboard")).await;
            held.commit().await;
            (waiting, page)
        };
        let (_, (waiting, page)) = tokio::join!(futures_util::future::join_all((0..40).map(attempt)), others);
        assert_eq!(waiting, 1, "{}: one of the forty waits in the database", app.backend);
        let page = page.expect("the page was served while the forty waited");
        assert_eq!(page.status, StatusCode::OK, "{}", app.backend);
        assert_eq!(app.state.hasher.blocks.blocks(), 0, "{}: the blocks are forgotten", app.backend);
        app.close().await;
    }
}
