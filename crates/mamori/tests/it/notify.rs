//! The notifier through the real server (items 22, 23): an alert reaches
//! the security office by mail over STARTTLS (a real SMTP conversation on
//! loopback) and a webhook signed with HMAC-SHA-256, once; what people or
//! attackers typed (CR, LF, a line of a single dot) stays in the body; the
//! test button sends on every channel; a failed delivery shows on the
//! alerts page and, with the open alerts and the last backup, in /metrics.

use crate::harness::{create_user, sqlite_store, Opts, Server};
use base64::Engine;
use hmac::{Hmac, Mac};
use mamori_core::identity::OrgKind;
use mamori_core::monitoring::Severity;
use mamori_testkit::smtp::SmtpServer;
use mamori_testkit::webhook::WebhookReceiver;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tempfile::TempDir;

const SECRET: &str = "a-webhook-secret-of-32-characters";
const PASSWORD: &str = "Correct-Horse-42";
/// What the person chooses at the first sign-in.
const OWN_PASSWORD: &str = "Own-Battery-Staple-7";

/// A configuration file in `dir` that mails through `smtp` (STARTTLS, its
/// certificate trusted), polling every second, with `more` added.
fn mail_config(dir: &TempDir, smtp: &SmtpServer, more: &str) -> std::path::PathBuf {
    let ca = dir.path().join("smtp-ca.pem");
    std::fs::write(&ca, &smtp.cert_pem).unwrap();
    let config = dir.path().join("mamori.toml");
    let mail = format!(
        "[notify]\npoll_secs = 1\n[notify.mail]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\nfrom = \"mamori@example.lg.jp\"\nca_file = \"{}\"\n",
        smtp.port,
        ca.display()
    );
    std::fs::write(&config, format!("{more}{mail}")).unwrap();
    config
}

/// [`mail_config`] with the reminders sent at every start (from midnight,
/// polled every second) and yearly reports due in `month`.
fn reminders_config(dir: &TempDir, smtp: &SmtpServer, month: u8) -> std::path::PathBuf {
    let jobs = format!("[reports]\nmonth = {month}\n[jobs]\npoll_secs = 1\nreminders_at = \"00:00\"\n");
    mail_config(dir, smtp, &jobs)
}

/// The Subject header of `headers`, its encoded words (RFC 2047, base64
/// as lettre writes them) decoded.
fn subject_of(headers: &str) -> String {
    let unfolded = headers.replace("\r\n ", " ").replace("\r\n\t", " ");
    let line = unfolded.lines().find_map(|l| l.strip_prefix("Subject: ")).expect("a subject");
    // Space between two encoded words is no text; any other is.
    let (mut text, mut encoded_before) = (String::new(), false);
    for word in line.split(' ') {
        let b64 = word
            .strip_prefix("=?utf-8?b?")
            .or_else(|| word.strip_prefix("=?UTF-8?B?"))
            .and_then(|w| w.strip_suffix("?="));
        if !(text.is_empty() || encoded_before && b64.is_some()) {
            text.push(' ');
        }
        match b64 {
            Some(b64) => {
                let bytes = base64::engine::general_purpose::STANDARD.decode(b64).expect("base64");
                text.push_str(&String::from_utf8(bytes).unwrap());
            }
            None => text.push_str(word),
        }
        encoded_before = b64.is_some();
    }
    text
}

fn body_of(data: &str) -> String {
    let (_, body) = data.split_once("\r\n\r\n").expect("headers, then the body");
    let b64: String = body.split_whitespace().collect();
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).expect("a base64 body")).unwrap()
}

#[tokio::test]
async fn an_alert_reaches_the_office_by_mail_and_signed_webhook_once_with_hostile_text_only_in_the_body() {
    let dir = Arc::new(TempDir::new().unwrap());
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    for (login, email, role) in
        [("officer1", "officer@example.lg.jp", "security-officer"), ("auditor1", "auditor@example.lg.jp", "auditor")]
    {
        let (code, _, err) = create_user(d, login, "名前", email, role, None, &format!("{PASSWORD}\n")).await;
        assert_eq!(code, 0, "{err}");
    }
    let smtp = SmtpServer::start().await;
    let hook = WebhookReceiver::start().await;
    let config = mail_config(&dir, &smtp, &format!("[notify.webhook]\nurl = \"{}\"\n", hook.url));
    let s = Server::start(
        Opts::default()
            .data_dir(&dir)
            .args(&["--config", config.to_str().unwrap()])
            .env("MAMORI_WEBHOOK_SECRET", SECRET),
    )
    .await;

    // An alert whose subject and detail carry header and SMTP injections.
    let subject = "203.0.113.9\r\nBcc: evil@example.com\r\nSubject: 乗っ取り";
    let detail = "12 accounts\r\n.\r\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<evil@example.com>\r\nDATA\n.\nX";
    let store = sqlite_store(&data).await;
    let now = time::OffsetDateTime::now_utc();
    store.raise_alert(now, "signin.spraying", Severity::Warning, subject, detail).await.unwrap();

    let mails = smtp.wait_for(1, 20).await;
    let hooks = hook.wait_for(1, 20).await;
    assert_eq!(mails.len(), 1, "one message, no second one smuggled in: {mails:#?}");
    let m = &mails[0];
    assert!(m.tls, "sent after STARTTLS");
    assert_eq!(m.to, ["<officer@example.lg.jp>"], "the office only; the auditor's role is not routed");
    assert_eq!(m.from, "<mamori@example.lg.jp>");
    let (headers, _) = m.data.split_once("\r\n\r\n").unwrap();
    assert!(!headers.contains("evil") && !headers.to_lowercase().contains("bcc"), "{headers}");
    assert_eq!(headers.lines().filter(|l| l.starts_with("Subject:")).count(), 1, "{headers}");
    // Whole, in the body (line ends as the body's text normalises them).
    let body = body_of(&m.data).replace("\r\n", "\n");
    let (subject_lf, detail_lf) = (subject.replace("\r\n", "\n"), detail.replace("\r\n", "\n"));
    assert!(body.contains(&subject_lf) && body.contains(&detail_lf), "{body:?}");
    assert!(body.contains(&format!("{}/alerts", s.base)), "{body}");

    assert_eq!(hooks.len(), 1);
    let h = &hooks[0];
    let (ts, sig) = (h.header("x-mamori-timestamp").unwrap(), h.header("x-mamori-signature").unwrap());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(&h.body);
    assert_eq!(sig, format!("sha256={}", hex::encode(mac.finalize().into_bytes())), "signed");
    let json: serde_json::Value = serde_json::from_slice(&h.body).unwrap();
    assert_eq!((json["subject"].as_str(), json["detail"].as_str()), (Some(subject), Some(detail)));
    assert_eq!(json["kind"], "signin.spraying");

    // Counted again while open: no second message.
    store.raise_alert(now, "signin.spraying", Severity::Warning, subject, detail).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!((smtp.messages().len(), hook.hooks().len()), (1, 1), "one problem, one message");

    // The test button: every channel, audited.
    s.first_sign_in("officer1", PASSWORD, OWN_PASSWORD).await;
    assert!(s.enrol_second_factor().await.status().is_success());
    let r = s.post_form("/alerts", "/alerts/notify-test", &[]).await;
    assert_eq!(r.status(), 303);
    let mails = smtp.wait_for(2, 10).await;
    assert!(body_of(&mails[1].data).contains("テスト送信"), "{:?}", mails[1]);
    assert_eq!(hook.wait_for(2, 10).await[1].body, br#"{"kind":"test","test":true}"#);
    let events = store.audit_recent(10).await.unwrap();
    assert!(events.iter().any(|e| e.record.action == "notification.tested" && e.record.actor_login == "officer1"));

    // A webhook that fails: the attempt shows on the alerts page.
    hook.status.store(500, Ordering::Relaxed);
    store.raise_alert(now, "backup.failed", Severity::Critical, "backup", "disk full").await.unwrap();
    hook.wait_for(3, 20).await;
    smtp.wait_for(3, 20).await;
    let mut page = String::new();
    for _ in 0..50 {
        page = s.get("/alerts").await.text().await.unwrap();
        if page.contains("失敗: HTTP 500") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(page.contains("失敗: HTTP 500") && page.contains("送信済み"), "{page}");
    assert!(
        page.contains("security-officer, admin (1 件)") || page.contains("admin, security-officer (1 件)"),
        "{page}"
    );

    // /metrics tells a monitoring system the same (item 22).
    let metrics = s.get("/metrics").await.text().await.unwrap();
    for line in
        ["mamori_open_alerts 2", "mamori_notifications_failed_24h 1", "mamori_backup_last_ok 0", "mamori_scan_queue 0"]
    {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    let to = dir.path().join("backups");
    let (code, _, err) =
        crate::harness::run(&["backup", "--data-dir", d, "--to", to.to_str().unwrap(), "--unencrypted"]).await;
    assert_eq!(code, 0, "{err}");
    let metrics = s.get("/metrics").await.text().await.unwrap();
    assert!(metrics.lines().any(|l| l == "mamori_backup_last_ok 1"), "{metrics}");
    let last: i64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("mamori_backup_last_success_timestamp_seconds "))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!((last - time::OffsetDateTime::now_utc().unix_timestamp()).abs() < 120, "{last}");
    store.close().await;
    assert_eq!(s.stop().await, 0);
}

/// A notifier configured wrongly stops the start with the reason; so does
/// a route that would mail every system's alerts to every vendor or
/// department.
#[tokio::test]
async fn a_wrong_notify_configuration_is_refused_at_start() {
    let dir = TempDir::new().unwrap();
    let config = dir.path().join("mamori.toml");
    std::fs::write(
        &config,
        "[notify.mail]\nhost = \"smtp.example.lg.jp\"\nsecurity = \"none\"\nfrom = \"not an address\"\n[notify.webhook]\nurl = \"http://hooks.example.lg.jp/x\"\nkinds = [\"backup.failed\", \"nothing.else\"]\n[[notify.route]]\nkinds = [\"nothing\"]\nroles = [\"root\"]\n[[notify.route]]\nkinds = [\"*\"]\nroles = [\"vendor\", \"department\"]\n[[notify.route]]\nkinds = [\"backup.failed\", \"vuln.matched\"]\nroles = [\"admin\"]\n",
    )
    .unwrap();
    let check = |config: std::path::PathBuf| {
        let d = dir.path().to_str().unwrap().to_owned();
        async move { crate::harness::run(&["check-config", "--config", config.to_str().unwrap(), "--data-dir", &d]).await }
    };
    let (code, _, err) = check(config.clone()).await;
    assert_eq!(code, 2, "{err}");
    for expect in [
        "notify.mail.security",
        "notify.webhook.url",
        "notify.webhook.kinds \"nothing.else\"",
        "notify.route.kinds \"nothing\"",
        "notify.route.roles \"root\"",
        "notify.route.roles \"vendor\": 警告はどのシステムのものも送られるため",
        "notify.route.roles \"department\"",
        "notify.route.kinds \"vuln.matched\": システムを名指す警告は",
    ] {
        assert!(err.contains(expect), "{expect}: {err}");
    }
    for fine in
        ["notify.route.kinds \"backup.failed\"", "notify.route.kinds \"*\"", "notify.webhook.kinds \"backup.failed\""]
    {
        assert!(!err.contains(fine), "{fine}: {err}");
    }
    std::fs::write(
        &config,
        "[notify.mail]\nhost = \"smtp.example.lg.jp\"\nfrom = \"not an address\"\nuser = \"mamori\"\n[notify.webhook]\nurl = \"https://hooks.example.lg.jp/x\"\n",
    )
    .unwrap();
    let (code, _, err) = check(config).await;
    assert_eq!(code, 2, "{err}");
    for expect in ["notify.mail.from", "MAMORI_SMTP_PASSWORD", "MAMORI_WEBHOOK_SECRET"] {
        assert!(err.contains(expect), "{expect}: {err}");
    }
}

/// A round just opened is announced to those who must answer it, once.
/// Before, nobody heard of a new round until 30 days before its date (with
/// the default 60-day rounds, a month of silence). A system registered with
/// its first round due in 60 days, and a system whose second round started
/// today, are each mailed to its department and vendor; a round opened ten
/// days ago (before the server mailed) is not; a round due within 30 days
/// gets its reminder, not both. The next run sends nothing again.
#[tokio::test]
async fn a_round_just_opened_is_announced_once_to_those_who_answer_it() {
    let dir = Arc::new(TempDir::new().unwrap());
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    crate::harness::create_orgs(d).await;
    for (login, email, role, org) in [
        ("soumu1", "soumu@example.lg.jp", "department", Some("総務課")),
        ("vendor1", "vendor-a@example.co.jp", "vendor", Some("ベンダーA")),
        ("officer1", "officer@example.lg.jp", "security-officer", None),
    ] {
        let (code, _, err) = create_user(d, login, "名前", email, role, org, &format!("{PASSWORD}\n")).await;
        assert_eq!(code, 0, "{err}");
    }
    let store = sqlite_store(&data).await;
    let orgs = store.organisations().await.unwrap();
    let org = |name: &str| orgs.iter().find(|o| o.name == name).unwrap().id;
    let version = store.catalog_versions().await.unwrap()[0].id;
    let now = crate::harness::system_ctx();
    let ten_days_ago = mamori_store::identity::Ctx { now: now.now - time::Duration::days(10), ..now.clone() };
    let today = now.now.to_offset(mamori_core::jst::JST).date();
    let system = |name: &str, due: i64| mamori_store::systems::SystemInput {
        vendor_id: Some(org("ベンダーA")),
        phase: mamori_core::checklist::Phase::Production,
        attrs: mamori_core::catalog::SystemAttributes { web_system: true, ..Default::default() },
        due_on: Some(today + time::Duration::days(due)),
        ..mamori_store::systems::SystemInput::new(name, org("総務課"))
    };
    let new = store.create_system(&now, &system("新規システム", 60), version).await.unwrap();
    store.create_system(&ten_days_ago, &system("既存システム", 50), version).await.unwrap();
    store.create_system(&now, &system("期限間近システム", 20), version).await.unwrap();
    // The second system's first round, approved; its second starts today.
    let second = store.create_system(&ten_days_ago, &system("二年目システム", 60), version).await.unwrap();
    let s = store.system(second).await.unwrap().unwrap();
    let applicable: Vec<u32> = store.figures(&[s]).await.unwrap()[0].items.iter().map(|i| i.number).collect();
    for n in &applicable {
        store.save_answer(&ten_days_ago, second, *n, &mamori_core::checklist::AnswerInput::done("実施")).await.unwrap();
    }
    store.submit_system(&ten_days_ago, second).await.unwrap();
    for a in store.answers(second, 1).await.unwrap() {
        let approved = mamori_core::checklist::Review::Approved;
        store.decide(&ten_days_ago, second, a.number, &a.seen(), approved, "").await.unwrap();
    }
    store.finish_review(&ten_days_ago, second).await.unwrap();
    store.start_round(&now, second, Some(today + time::Duration::days(60))).await.unwrap();
    store.close().await;

    let smtp = SmtpServer::start().await;
    // The yearly reports are months away: only the rounds are mailed.
    let config = reminders_config(&dir, &smtp, (u8::from(today.month()) + 2) % 12 + 1);
    let opts = || Opts::default().data_dir(&dir).args(&["--config", config.to_str().unwrap()]);
    let s = Server::start(opts()).await;
    // One message to each person: two for each system.
    let mails = smtp.wait_for(6, 30).await;
    assert_eq!(mails.len(), 6, "{mails:#?}");
    let both = vec!["<soumu@example.lg.jp>", "<vendor-a@example.co.jp>"];
    let asked = "チェックリストの回答のお願いです。新しい評価ラウンドが始まりました。";
    let about = |name: &str| {
        let of: Vec<_> = mails.iter().filter(|m| body_of(&m.data).contains(name)).collect();
        let mut to: Vec<String> = of.iter().flat_map(|m| m.to.clone()).collect();
        to.sort();
        (to, of.iter().map(|m| body_of(&m.data).replace("\r\n", "\n")).collect::<Vec<_>>())
    };
    for (id, name, round) in [(new, "新規システム", 1), (second, "二年目システム", 2)] {
        let (to, bodies) = about(name);
        assert_eq!(to, both, "{name}: once to its department and vendor, not the office");
        let due = today + time::Duration::days(60);
        for body in bodies {
            assert!(body.starts_with(asked), "{body}");
            assert!(body.contains(&format!("対象: 第{round}回\n期限: {due} (あと 60 日)")), "{body}");
            assert!(body.contains(&format!("{}/systems/{id}\n", s.base)), "{body}");
        }
    }
    let (to, bodies) = about("期限間近システム");
    assert_eq!(to, both, "{mails:#?}");
    for body in bodies {
        assert!(!body.contains(asked) && body.contains("あと 20 日"), "the reminder only: {body}");
    }
    assert!(!mails.iter().any(|m| body_of(&m.data).contains("既存システム")), "opened ten days ago: {mails:#?}");
    s.stop().await;

    // The next start (or the next day's run): nothing again.
    let s = Server::start(opts()).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(smtp.messages().len(), 6, "once");
    s.stop().await;
}

/// In data directory `data`: 総務課 and its person, ベンダーA with one person
/// and one disabled, ベンダーB with one, the security office and an auditor;
/// ベンダーA's web system of 総務課, its name carrying a header injection.
/// Returns the store, the system and its registration.
async fn people_to_mail(data: &std::path::Path) -> (mamori_store::Store, i64, mamori_store::systems::SystemInput) {
    let d = data.to_str().unwrap();
    crate::harness::create_orgs(d).await;
    let (code, _, err) =
        crate::harness::run(&["org", "create", "ベンダーB", "--kind", "vendor", "--data-dir", d]).await;
    assert_eq!(code, 0, "{err}");
    for (login, email, role, org) in [
        ("soumu1", "soumu@example.lg.jp", "department", Some("総務課")),
        ("vendor1", "vendor-a@example.co.jp", "vendor", Some("ベンダーA")),
        ("vendor2", "gone@example.co.jp", "vendor", Some("ベンダーA")),
        ("other1", "vendor-b@example.co.jp", "vendor", Some("ベンダーB")),
        ("officer1", "officer@example.lg.jp", "security-officer", None),
        ("auditor1", "auditor@example.lg.jp", "auditor", None),
    ] {
        let (code, _, err) = create_user(d, login, "名前", email, role, org, &format!("{PASSWORD}\n")).await;
        assert_eq!(code, 0, "{err}");
    }
    let (code, _, err) = crate::harness::run(&["user", "disable", "vendor2", "--data-dir", d]).await;
    assert_eq!(code, 0, "{err}");
    let store = sqlite_store(data).await;
    let (id, mut input) = crate::harness::create_web_system(&store, vec![]).await;
    input.name = "会計システム\r\nBcc: evil@example.com".into();
    store.update_system(&crate::harness::system_ctx(), id, &input).await.unwrap();
    (store, id, input)
}

/// The office ends the review of system `id`'s `round`: `returned` sent
/// back (with a comment carrying a header injection), the rest approved.
async fn return_these(store: &mamori_store::Store, id: i64, round: i64, returned: &[u32]) {
    use mamori_core::checklist::Review;
    let ctx = crate::harness::system_ctx();
    for a in store.answers(id, round).await.unwrap() {
        let review = if returned.contains(&a.number) { Review::Returned } else { Review::Approved };
        store.decide(&ctx, id, a.number, &a.seen(), review, "証跡を\r\nBcc: x").await.unwrap();
    }
    store.finish_review(&ctx, id).await.unwrap();
}

/// The review's steps by mail, as they happen: the last part submitted
/// reaches the security office (not the first part); items returned reach
/// the people of the organisation that answers them, with the item
/// numbers, and nobody else; an approval reaches every organisation that
/// answered. Another company, the auditor, a disabled account hear
/// nothing; the subject is fixed, a hostile system name only in the body;
/// each is sent once and shows on the alerts page. (Before, nobody was
/// told: the vendor learnt of a return at its next sign-in.)
#[tokio::test]
async fn the_review_s_steps_reach_those_concerned_by_mail_once_and_nobody_else() {
    let dir = Arc::new(TempDir::new().unwrap());
    let data = dir.path().join("data");
    let (store, id, input) = people_to_mail(&data).await;
    let ctx = crate::harness::system_ctx();
    let system = store.system(id).await.unwrap().unwrap();
    let parts = store.parts(&system).await.unwrap();
    let (department, vendor) = (input.department_id, input.vendor_id.unwrap());
    let done = mamori_core::checklist::AnswerInput::done("実施済み");
    for n in parts.items.keys() {
        store.save_answer(&ctx, id, *n, &done).await.unwrap();
    }

    let smtp = SmtpServer::start().await;
    let config = mail_config(&dir, &smtp, "");
    let s = Server::start(Opts::default().data_dir(&dir).args(&["--config", config.to_str().unwrap()])).await;
    let office = vec!["<officer@example.lg.jp>"];
    let (both, vendor_only) =
        (vec!["<soumu@example.lg.jp>", "<vendor-a@example.co.jp>"], vec!["<vendor-a@example.co.jp>"]);
    // Checks the messages after the first `from`: their recipients, a fixed
    // subject, the name whole in the body, the system's link; returns the bodies.
    let check = |mails: &[mamori_testkit::smtp::Received], from: usize, want: &[&str], subject: &str| {
        let mut to: Vec<String> = mails[from..].iter().flat_map(|m| m.to.clone()).collect();
        to.sort();
        assert_eq!(to, want, "{mails:#?}");
        let mut bodies = Vec::new();
        for m in &mails[from..] {
            let (headers, _) = m.data.split_once("\r\n\r\n").unwrap();
            assert!(!headers.contains("evil") && !headers.to_lowercase().contains("bcc"), "{headers}");
            assert_eq!(subject_of(headers), subject, "{headers}");
            let body = body_of(&m.data).replace("\r\n", "\n");
            assert!(body.contains("システム: 会計システム\nBcc: evil@example.com\n対象: 第1回\n"), "{body}");
            assert!(body.contains(&format!("{}/systems/{id}\n", s.base)), "{body}");
            bodies.push(body);
        }
        bodies
    };

    // The department's part, then the vendor's: the last one tells the office.
    store.submit_part(&ctx, id, department).await.unwrap();
    store.submit_part(&ctx, id, vendor).await.unwrap();
    let mails = smtp.wait_for(1, 20).await;
    let bodies = check(&mails, 0, &office, "[mamori] チェックリストの回答が提出されました");
    assert!(bodies[0].starts_with("チェックリストの回答がすべて提出されました。"), "{}", bodies[0]);

    // Two of the vendor's items returned: the vendor's people hear which.
    let returned: Vec<u32> = parts.numbers_of(vendor).into_iter().take(2).collect();
    return_these(&store, id, 1, &returned).await;
    let mails = smtp.wait_for(2, 20).await;
    let bodies = check(&mails, 1, &vendor_only, "[mamori] チェックリストの回答が差し戻されました");
    let items = format!("差し戻された項目: No.{}, No.{}\n", returned[0], returned[1]);
    assert!(bodies[0].contains(&items), "{items} in {}", bodies[0]);

    // Answered again and submitted; approved: the office, then both.
    for n in &returned {
        store.save_answer(&ctx, id, *n, &done).await.unwrap();
    }
    store.submit_part(&ctx, id, vendor).await.unwrap();
    let mails = smtp.wait_for(3, 20).await;
    check(&mails, 2, &office, "[mamori] チェックリストの回答が提出されました");
    for a in store.answers(id, 1).await.unwrap().into_iter().filter(|a| returned.contains(&a.number)) {
        store.decide(&ctx, id, a.number, &a.seen(), mamori_core::checklist::Review::Approved, "").await.unwrap();
    }
    store.finish_review(&ctx, id).await.unwrap();
    let mails = smtp.wait_for(5, 20).await;
    let bodies = check(&mails, 3, &both, "[mamori] チェックリストの回答が承認されました");
    assert!(bodies.iter().all(|b| b.starts_with("チェックリストの回答が承認されました。")), "{bodies:?}");

    // Once: nothing more however long the notifier runs.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(smtp.messages().len(), 5, "{:#?}", smtp.messages());
    s.first_sign_in("officer1", PASSWORD, OWN_PASSWORD).await;
    assert!(s.enrol_second_factor().await.status().is_success());
    let page = s.get("/alerts").await.text().await.unwrap();
    for label in ["提出の通知: 会計システム", "差戻しの通知: 会計システム", "承認の通知: 会計システム"]
    {
        assert!(page.contains(label), "{label} in {page}");
    }
    s.stop().await;

    // The next round, submitted and returned while the server is down; the
    // system then goes to ベンダーB. When the notifier runs, the office
    // hears of the submission; ベンダーA, no longer the system's, hears
    // nothing of the return (before, it still got the name and the items),
    // and neither does ベンダーB, whose items these were not.
    let due = time::OffsetDateTime::now_utc().date() + time::Duration::days(60);
    store.start_round(&ctx, id, Some(due)).await.unwrap();
    store.submit_system(&ctx, id).await.unwrap();
    return_these(&store, id, 2, &returned).await;
    let other = store.organisations().await.unwrap().into_iter().find(|o| o.name == "ベンダーB").unwrap().id;
    let moved = mamori_store::systems::SystemInput { vendor_id: Some(other), ..input.clone() };
    store.update_system(&ctx, id, &moved).await.unwrap();
    let s = Server::start(Opts::default().data_dir(&dir).args(&["--config", config.to_str().unwrap()])).await;
    let mails = smtp.wait_for(6, 20).await;
    assert_eq!(mails[5].to, office, "{mails:#?}");
    assert!(body_of(&mails[5].data).contains("対象: 第2回"), "{:?}", body_of(&mails[5].data));
    let mut deliveries = store.deliveries(1).await.unwrap();
    for _ in 0..50 {
        if deliveries.first().is_some_and(|d| d.notice == Some(mamori_core::monitoring::NoticeKind::Returned)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        deliveries = store.deliveries(1).await.unwrap();
    }
    assert_eq!(deliveries[0].error, "宛先がありません (no recipient)", "{deliveries:?}");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(smtp.messages().len(), 6, "{:#?}", smtp.messages());
    store.close().await;
    s.stop().await;
}

/// Due dates by mail: a round's and a yearly report's reminders, each
/// mailed once per step to the people of the organisations that must act
/// (a yearly report's to the cloud provider too, which was left out),
/// the system's name only in the body, the attempts on the alerts page.
#[tokio::test]
async fn due_date_reminders_reach_those_who_must_answer_once_per_step_and_nobody_else() {
    let dir = Arc::new(TempDir::new().unwrap());
    let data = dir.path().join("data");
    // A round due in seven days (in Japan).
    let (store, id, mut input) = people_to_mail(&data).await;
    let before = store.system(id).await.unwrap().unwrap();
    let today = time::OffsetDateTime::now_utc().to_offset(mamori_core::jst::JST).date();
    input.due_on = Some(today + time::Duration::days(7));
    let ctx = crate::harness::system_ctx();
    // The system's cloud provider answers no item, but signs the year's
    // reviews off: it hears of the yearly report, not of the round (it was
    // reminded of neither).
    let cloud = store.create_organisation_audited(&ctx, "クラウドC", OrgKind::Vendor, "").await.unwrap();
    let person = mamori_store::accounts::NewAccount {
        login: mamori_core::identity::Login::parse("cloud1").unwrap(),
        display_name: "名前".into(),
        email: "cloud@example.co.jp".into(),
        role: mamori_core::identity::Role::Vendor,
        organisation_id: Some(cloud),
        password_hash: "x".into(),
        must_change_password: false,
    };
    store.issue_account(&ctx, &person, "着任").await.unwrap();
    input.cloud_id = Some(cloud);
    store.update_system(&ctx, before.id, &input).await.unwrap();
    // The department has answered and submitted its part: the round owes
    // nothing more from it.
    let system = store.system(id).await.unwrap().unwrap();
    let department = system.input.department_id;
    for n in store.parts(&system).await.unwrap().numbers_of(department) {
        let done = mamori_core::checklist::AnswerInput::done("実施済み");
        store.save_answer(&ctx, id, n, &done).await.unwrap();
    }
    store.submit_part(&ctx, id, department).await.unwrap();
    // A retired system whose round was never finished, due the same day:
    // nobody is reminded of it (before, its vendor was, at every step).
    let retired = mamori_store::systems::SystemInput {
        phase: mamori_core::checklist::Phase::Retired,
        due_on: Some(today + time::Duration::days(7)),
        ..input.clone()
    };
    let version = store.catalog_versions().await.unwrap()[0].id;
    store
        .create_system(
            &ctx,
            &mamori_store::systems::SystemInput { name: "廃止済みシステム".into(), ..retired },
            version,
        )
        .await
        .unwrap();
    store.close().await;

    let smtp = SmtpServer::start().await;
    let config = reminders_config(&dir, &smtp, u8::from(today.month()));
    let opts = || Opts::default().data_dir(&dir).args(&["--config", config.to_str().unwrap()]);
    let s = Server::start(opts()).await;
    // The round due in a week (the vendor's part still open), and this
    // month's yearly report (the department's and the vendor's).
    let mails = smtp.wait_for(4, 30).await;
    assert_eq!(mails.len(), 4, "{mails:#?}");
    let year_end = mamori_core::yearly::due_date(today.year(), u8::from(today.month())).unwrap();
    let both = vec!["<cloud@example.co.jp>", "<soumu@example.lg.jp>", "<vendor-a@example.co.jp>"];
    let vendor = vec!["<vendor-a@example.co.jp>"];
    for (what, due, path, left, want) in [
        ("チェックリストの回答", today + time::Duration::days(7), format!("/systems/{id}\n"), 7, vendor),
        ("年次報告", year_end, format!("/systems/{id}/yearly"), (year_end - today).whole_days(), both),
    ] {
        let of_kind: Vec<_> = mails.iter().filter(|m| body_of(&m.data).contains(what)).collect();
        let mut to: Vec<String> = of_kind.iter().flat_map(|m| m.to.clone()).collect();
        to.sort();
        assert_eq!(
            to, want,
            "{what}: those who still owe it; not a disabled account, another company, the office, or a part submitted"
        );
        for m in of_kind {
            let (headers, _) = m.data.split_once("\r\n\r\n").unwrap();
            assert!(!headers.contains("evil") && !headers.to_lowercase().contains("bcc"), "{headers}");
            let body = body_of(&m.data).replace("\r\n", "\n");
            assert!(body.contains("会計システム\nBcc: evil@example.com"), "the name, whole, in the body: {body}");
            assert!(body.contains(&format!("期限: {due}")), "{body}");
            let when = if left == 0 { "本日が期限です".to_owned() } else { format!("あと {left} 日") };
            assert!(body.contains(&when), "{body}");
            assert!(body.contains(&format!("{}{path}", s.base)), "{body}");
        }
    }
    let store = sqlite_store(&data).await;
    // Each attempt is recorded once its last message is sent: wait for the second.
    let mut deliveries = store.deliveries(10).await.unwrap();
    for _ in 0..50 {
        if deliveries.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        deliveries = store.deliveries(10).await.unwrap();
    }
    assert_eq!(deliveries.len(), 2, "one attempt for each reminder: {deliveries:?}");
    assert!(deliveries.iter().all(|d| d.ok && d.about.starts_with("会計システム")), "{deliveries:?}");
    s.first_sign_in("officer1", PASSWORD, OWN_PASSWORD).await;
    assert!(s.enrol_second_factor().await.status().is_success());
    let page = s.get("/alerts").await.text().await.unwrap();
    assert!(page.contains("回答期限の通知: 会計システム"), "{page}");
    s.stop().await;

    // The next start (or the next day's run at the same step): nothing again.
    let s = Server::start(opts()).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(smtp.messages().len(), 4, "one reminder per step");
    assert_eq!(store.deliveries(10).await.unwrap().len(), 2);
    store.close().await;
    s.stop().await;
}

/// One person's address is refused by the relay (a mailbox gone): the
/// whole reminder counted as failed, and it went again to everyone at the
/// next run, every run of every day until its step changed. Now a reminder
/// that reached someone is sent: the others get it once, and the attempt
/// is recorded as delivered, saying to how many it was not.
#[tokio::test]
async fn a_reminder_one_of_whose_addresses_is_refused_reaches_the_others_once_and_says_who_it_did_not() {
    let dir = Arc::new(TempDir::new().unwrap());
    let data = dir.path().join("data");
    let (store, _, _) = people_to_mail(&data).await;
    store.close().await;
    let today = time::OffsetDateTime::now_utc().to_offset(mamori_core::jst::JST).date();
    let smtp = SmtpServer::start_refusing(&["soumu@example.lg.jp"]).await;
    let config = reminders_config(&dir, &smtp, u8::from(today.month()));
    let opts = || Opts::default().data_dir(&dir).args(&["--config", config.to_str().unwrap()]);
    let s = Server::start(opts()).await;
    // The yearly report's reminder: to the department (refused) and the vendor.
    let mails = smtp.wait_for(1, 30).await;
    let to: Vec<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
    assert_eq!(to, ["<vendor-a@example.co.jp>"], "{mails:#?}");
    let store = sqlite_store(&data).await;
    let mut deliveries = store.deliveries(10).await.unwrap();
    for _ in 0..50 {
        if !deliveries.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        deliveries = store.deliveries(10).await.unwrap();
    }
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert!(deliveries[0].ok, "it reached someone: {deliveries:?}");
    assert!(deliveries[0].error.contains("2 件中 1 件に届きませんでした"), "{deliveries:?}");
    s.stop().await;
    // The next run: nothing again, to anyone.
    let s = Server::start(opts()).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(smtp.messages().len(), 1, "{:#?}", smtp.messages());
    assert_eq!(store.deliveries(10).await.unwrap().len(), 1);
    store.close().await;
    s.stop().await;
}

/// An administrator manages accounts and sees no system, yet every alert
/// was mailed to administrators by default: an advisory naming a system's
/// software and version, a name's internal address. Those naming a system
/// now reach the roles that see systems only, whatever the routes say; the
/// rest (a failed backup) still reaches both.
#[tokio::test]
async fn alerts_naming_a_system_never_reach_administrators_who_see_no_system() {
    use mamori_app::notify::{MailConfig, MailSecurity, Notifier, NotifyConfig, Route};
    use mamori_core::identity::Role;
    let dir = TempDir::new().unwrap();
    let store = sqlite_store(dir.path()).await;
    let ctx = crate::harness::system_ctx();
    for (login, role) in [("admin1", Role::Admin), ("officer1", Role::SecurityOfficer), ("auditor1", Role::Auditor)] {
        let new = mamori_store::accounts::NewAccount {
            login: mamori_core::identity::Login::parse(login).unwrap(),
            display_name: login.into(),
            email: format!("{login}@example.lg.jp"),
            role,
            organisation_id: None,
            password_hash: "x".into(),
            must_change_password: false,
        };
        store.issue_account(&ctx, &new, "着任").await.unwrap();
    }
    let smtp = SmtpServer::start().await;
    let mail = MailConfig {
        host: "127.0.0.1".into(),
        port: smtp.port,
        security: MailSecurity::StartTls,
        user: None,
        password: None,
        from: "mamori@example.lg.jp".into(),
        ca_pem: Some(smtp.cert_pem.clone()),
    };
    let everything_to_everyone = vec![Route { kinds: vec!["*".into()], roles: vec![Role::Admin, Role::Auditor] }];
    for (routes, heard) in [
        (NotifyConfig::default_routes(), ["<officer1@example.lg.jp>"]),
        (everything_to_everyone, ["<auditor1@example.lg.jp>"]),
    ] {
        let config = NotifyConfig {
            mail: Some(mail.clone()),
            webhook: None,
            routes,
            remind_after: time::Duration::hours(24),
            public_origin: "https://mamori.example.lg.jp".into(),
        };
        let notifier = Notifier::new(config).unwrap();
        let now = time::OffsetDateTime::now_utc();
        let before = smtp.messages().len();
        let kinds = [mamori_core::monitoring::VULN_MATCHED, mamori_core::monitoring::SCAN_ADDRESS_NEW, "backup.failed"];
        for kind in kinds {
            store
                .raise_alert(now, kind, Severity::Warning, &format!("{kind}: 文書管理システム"), "10.1.2.3")
                .await
                .unwrap();
        }
        notifier.run_once(&store, now).await.unwrap();
        let mails = smtp.messages().split_off(before);
        let to = |kind: &str| -> Vec<String> {
            let mut to: Vec<String> = mails
                .iter()
                .filter(|m| body_of(&m.data).contains(&format!("{kind}: 文書管理システム")))
                .flat_map(|m| m.to.clone())
                .collect();
            to.sort();
            to
        };
        for kind in &kinds[..2] {
            assert_eq!(to(kind), heard, "{kind}");
        }
        let admin = "<admin1@example.lg.jp>".to_owned();
        assert!(to("backup.failed").contains(&admin), "the rest still reaches the administrators");
        for a in store.alerts(true).await.unwrap() {
            store.acknowledge_alert(&ctx, a.id, None).await.unwrap();
        }
    }
    store.close().await;
}

/// Two instances share the alerts. The first takes up one and waits on a
/// slow receiver past the claim's hold; the second, running then, sends
/// every alert (the held one too: a delivery longer than the hold is sent
/// again); the first, released, sends none of the others again. (It
/// claimed its whole round at once before and sent those alerts a second
/// time.)
#[tokio::test]
async fn alerts_a_slow_instance_has_not_reached_are_sent_by_another_and_not_again_by_it() {
    use mamori_app::notify::{Notifier, NotifyConfig, WebhookConfig};
    let dir = TempDir::new().unwrap();
    let store = sqlite_store(dir.path()).await;
    let hook = WebhookReceiver::start().await;
    let config = || NotifyConfig {
        mail: None,
        webhook: Some(WebhookConfig { url: hook.url.clone(), secret: SECRET.into(), kinds: vec!["*".into()] }),
        routes: NotifyConfig::default_routes(),
        remind_after: time::Duration::hours(24),
        public_origin: "https://mamori.example.lg.jp".into(),
    };
    let (first, second) = (Notifier::new(config()).unwrap(), Notifier::new(config()).unwrap());
    let t0 = time::OffsetDateTime::now_utc();
    for subject in ["alert-one", "alert-two", "alert-three"] {
        store.raise_alert(t0, "signin.spraying", Severity::Warning, subject, "").await.unwrap();
    }

    hook.hold_next(1);
    let slow = {
        let store = store.clone();
        tokio::spawn(async move { first.run_once(&store, t0).await.unwrap() })
    };
    assert_eq!(hook.wait_for(1, 10).await.len(), 1, "the first instance's delivery arrived and is held");
    let later = t0 + mamori_core::monitoring::NOTIFY_HOLD + time::Duration::minutes(1);
    assert_eq!(second.run_once(&store, later).await.unwrap(), 3, "past the hold, the second sends all three");
    hook.release();
    assert_eq!(slow.await.unwrap(), 1, "the first sent only the one it had taken up");

    let subjects: Vec<String> = hook
        .hooks()
        .iter()
        .map(|h| serde_json::from_slice::<serde_json::Value>(&h.body).unwrap()["subject"].as_str().unwrap().to_owned())
        .collect();
    let sent = |s: &str| subjects.iter().filter(|x| *x == s).count();
    assert_eq!((sent("alert-one"), sent("alert-two"), sent("alert-three")), (2, 1, 1), "{subjects:?}");
    store.close().await;
}

/// A webhook posts to a channel that more people may read than the office
/// (a chat room): every alert went there, each system's findings with it.
/// It now carries the kinds it is given: the others are not posted, and,
/// with no other channel, count as handled (not tried again and again).
#[tokio::test]
async fn a_webhook_carries_only_the_alert_kinds_it_is_given() {
    use mamori_app::notify::{Notifier, NotifyConfig, WebhookConfig};
    let dir = TempDir::new().unwrap();
    let store = sqlite_store(dir.path()).await;
    let hook = WebhookReceiver::start().await;
    let notifier = Notifier::new(NotifyConfig {
        mail: None,
        webhook: Some(WebhookConfig {
            url: hook.url.clone(),
            secret: SECRET.into(),
            kinds: vec!["backup.failed".into()],
        }),
        routes: NotifyConfig::default_routes(),
        remind_after: time::Duration::hours(24),
        public_origin: "https://mamori.example.lg.jp".into(),
    })
    .unwrap();
    let t0 = time::OffsetDateTime::now_utc();
    store.raise_alert(t0, "signin.spraying", Severity::Warning, "spraying", "").await.unwrap();
    store.raise_alert(t0, "backup.failed", Severity::Critical, "backup", "").await.unwrap();
    assert_eq!(notifier.run_once(&store, t0).await.unwrap(), 2, "both handled");
    let kinds: Vec<String> = hook
        .wait_for(1, 10)
        .await
        .iter()
        .map(|h| serde_json::from_slice::<serde_json::Value>(&h.body).unwrap()["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["backup.failed"]);
    let later = t0 + mamori_core::monitoring::NOTIFY_HOLD + time::Duration::minutes(1);
    assert_eq!(notifier.run_once(&store, later).await.unwrap(), 0, "neither is taken up again");
    assert_eq!(hook.hooks().len(), 1);
    store.close().await;
}
