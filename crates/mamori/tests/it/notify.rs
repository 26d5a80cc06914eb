//! The notifier through the real server (items 22, 23): an alert reaches
//! the security office by mail over STARTTLS (a real SMTP conversation on
//! loopback) and a webhook signed with HMAC-SHA-256, once; what people or
//! attackers typed (CR, LF, a line of a single dot) stays in the body; the
//! test button sends on every channel; a failed delivery shows on the
//! alerts page and, with the open alerts and the last backup, in /metrics.

use crate::harness::{create_user, sqlite_store, Opts, Server};
use base64::Engine;
use hmac::{Hmac, Mac};
use mamori_core::monitoring::Severity;
use mamori_testkit::smtp::SmtpServer;
use mamori_testkit::webhook::WebhookReceiver;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tempfile::TempDir;

const SECRET: &str = "a-webhook-secret-of-32-characters";
const PASSWORD: &str = "Correct-Horse-42";

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
    let ca = dir.path().join("smtp-ca.pem");
    std::fs::write(&ca, &smtp.cert_pem).unwrap();
    let config = dir.path().join("mamori.toml");
    std::fs::write(
        &config,
        format!(
            "[notify]\npoll_secs = 1\n[notify.mail]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\nfrom = \"mamori@example.lg.jp\"\nca_file = \"{}\"\n[notify.webhook]\nurl = \"{}\"\n",
            smtp.port,
            ca.display(),
            hook.url
        ),
    )
    .unwrap();
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
    assert_eq!(s.sign_in("officer1", PASSWORD).await.status(), 303);
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

/// A notifier configured wrongly stops the start with the reason.
#[tokio::test]
async fn a_wrong_notify_configuration_is_refused_at_start() {
    let dir = TempDir::new().unwrap();
    let config = dir.path().join("mamori.toml");
    std::fs::write(
        &config,
        "[notify.mail]\nhost = \"smtp.example.lg.jp\"\nsecurity = \"none\"\nfrom = \"not an address\"\n[notify.webhook]\nurl = \"http://hooks.example.lg.jp/x\"\n[[notify.route]]\nkinds = [\"nothing\"]\nroles = [\"root\"]\n",
    )
    .unwrap();
    let check = |config: std::path::PathBuf| {
        let d = dir.path().to_str().unwrap().to_owned();
        async move { crate::harness::run(&["check-config", "--config", config.to_str().unwrap(), "--data-dir", &d]).await }
    };
    let (code, _, err) = check(config.clone()).await;
    assert_eq!(code, 2, "{err}");
    for expect in
        ["notify.mail.security", "notify.webhook.url", "notify.route.kinds \"nothing\"", "notify.route.roles \"root\""]
    {
        assert!(err.contains(expect), "{expect}: {err}");
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
