//! The notifier (items 22, 23): each open alert reaches the people whose
//! role its kind is routed to by e-mail (SMTP with STARTTLS or TLS,
//! through lettre), and a webhook by a JSON POST signed with HMAC-SHA-256.
//! One alert, one message; a reminder when it is still open after a quiet
//! period. The review's steps (items returned, a system submitted, a round
//! approved) are mailed to those concerned, once ([`crate::notices`]).
//! Headers are fixed: whatever people or attackers typed (a login,
//! an address, a detail) is only ever in the body (item 52).

use hmac::{Hmac, Mac};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mamori_core::identity::Role;
use mamori_store::auditlog::Alert;
use mamori_store::notices::Notice;
use mamori_store::notify::Attempt;
use mamori_store::{Store, StoreError};
use sha2::Sha256;
use time::{Duration, OffsetDateTime};

/// How mail leaves: TLS from the first byte, or STARTTLS (required).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailSecurity {
    Tls,
    StartTls,
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    pub host: String,
    pub port: u16,
    pub security: MailSecurity,
    pub user: Option<String>,
    pub password: Option<String>,
    pub from: String,
    /// A certificate authority to trust besides the public ones (PEM).
    pub ca_pem: Option<String>,
}

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub url: String,
    pub secret: String,
    /// The alert kinds it carries (`*`: every kind). A chat channel read by
    /// more people than the office need not hear of every system's
    /// findings.
    pub kinds: Vec<String>,
}

impl WebhookConfig {
    /// Does it carry alerts of `kind`?
    pub fn carries(&self, kind: &str) -> bool {
        self.kinds.iter().any(|k| k == "*" || k == kind)
    }
}

/// Which roles hear of which alert kinds (`*`: every kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub kinds: Vec<String>,
    pub roles: Vec<Role>,
}

#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub mail: Option<MailConfig>,
    pub webhook: Option<WebhookConfig>,
    pub routes: Vec<Route>,
    /// A still-open alert is sent again after this long.
    pub remind_after: Duration,
    /// Where the alerts page is, for the message's link.
    pub public_origin: String,
}

impl NotifyConfig {
    /// Every kind to the administrators and the security office (those
    /// naming a system to the office only: [`Notifier::roles`]).
    pub fn default_routes() -> Vec<Route> {
        vec![Route { kinds: vec!["*".into()], roles: vec![Role::Admin, Role::SecurityOfficer] }]
    }
}

/// Sends alerts; cheap to share.
pub struct Notifier {
    config: NotifyConfig,
    mailer: Option<AsyncSmtpTransport<Tokio1Executor>>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("mail", &self.mailer.is_some())
            .field("webhook", &self.config.webhook.is_some())
            .finish()
    }
}

/// How long a claimed alert is held by the instance sending it.
const HOLD: Duration = mamori_core::monitoring::NOTIFY_HOLD;

/// Alerts handled per round at the most.
const ROUND: usize = 20;

impl Notifier {
    pub fn new(config: NotifyConfig) -> Result<Notifier, String> {
        let mailer = match &config.mail {
            None => None,
            Some(m) => {
                m.from.parse::<Mailbox>().map_err(|_| {
                    format!("notify.mail.from \"{}\" はメールアドレスではありません (not an address)", m.from)
                })?;
                let mut tls = TlsParameters::builder(m.host.clone());
                if let Some(pem) = &m.ca_pem {
                    let cert = Certificate::from_pem(pem.as_bytes()).map_err(|e| format!("notify.mail ca: {e}"))?;
                    tls = tls.add_root_certificate(cert);
                }
                let tls = tls.build_rustls().map_err(|e| format!("notify.mail: {e}"))?;
                let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&m.host)
                    .port(m.port)
                    .tls(match m.security {
                        MailSecurity::Tls => Tls::Wrapper(tls),
                        MailSecurity::StartTls => Tls::Required(tls),
                    })
                    .hello_name(ClientId::Domain("mamori".into()))
                    .timeout(Some(std::time::Duration::from_secs(15)));
                if let (Some(u), Some(p)) = (&m.user, &m.password) {
                    b = b.credentials(Credentials::new(u.clone(), p.clone()));
                }
                Some(b.build())
            }
        };
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("notify.webhook: {e}"))?;
        Ok(Notifier { config, mailer, http })
    }

    /// Is any channel configured?
    pub fn configured(&self) -> bool {
        self.mailer.is_some() || self.config.webhook.is_some()
    }

    /// Sends what is due, up to [`ROUND`] alerts and notices of the review
    /// (mail only): claims one open alert due a message, delivers it,
    /// records the attempts, then the next; the notices after the alerts.
    /// Each is claimed at the time it is taken up (`now` and the time
    /// since): a batch claimed at once could outlive its hold behind slow
    /// deliveries, and another instance send the rest as well. Returns how
    /// many alerts and notices were handled.
    pub async fn run_once(&self, store: &Store, now: OffsetDateTime) -> Result<usize, StoreError> {
        if !self.configured() {
            return Ok(0);
        }
        let started = std::time::Instant::now();
        let at = || now + started.elapsed();
        let mut handled = 0;
        while handled < ROUND {
            let taken_at = at();
            let Some(a) =
                store.claim_alerts_to_notify(taken_at, taken_at - self.config.remind_after, HOLD, 1).await?.pop()
            else {
                break;
            };
            let attempts = self.deliver(store, Some(&a)).await;
            store.record_deliveries(Some(a.id), at(), &attempts).await?;
            handled += 1;
        }
        while handled < ROUND && self.mailer.is_some() {
            let Some(n) = store.claim_notice(at()).await? else { break };
            self.mail_notice(store, &n, at()).await?;
            handled += 1;
        }
        Ok(handled)
    }

    /// Mails a notice of the review to those it is for, and records the
    /// attempt (on the alerts page, about its system). Nobody to tell (no
    /// enabled account that may see the system now) is recorded as such,
    /// and not tried again.
    async fn mail_notice(&self, store: &Store, n: &Notice, now: OffsetDateTime) -> Result<(), StoreError> {
        let Some(s) = store.system(n.system_id).await? else {
            return store.record_notice(n, now, &[], "", true).await;
        };
        let to = crate::notices::recipients(&store.accounts().await?, n, &s.input.parties());
        let name = s.input.name;
        let (subject, body) = crate::notices::text(self.origin(), n, &name);
        let Some(attempt) = self.mail_people(&to, &subject, &body).await else { return Ok(()) };
        store.record_notice(n, now, &[attempt], &name, to.is_empty()).await
    }

    /// A test message on every channel, recorded like any other.
    pub async fn send_test(&self, store: &Store, now: OffsetDateTime) -> Result<Vec<Attempt>, StoreError> {
        let attempts = self.deliver(store, None).await;
        store.record_deliveries(None, now, &attempts).await?;
        Ok(attempts)
    }

    async fn deliver(&self, store: &Store, alert: Option<&Alert>) -> Vec<Attempt> {
        let mut attempts = Vec::new();
        if let Some(mailer) = &self.mailer {
            attempts.push(self.mail(mailer, store, alert).await);
        }
        if let Some(hook) = self.config.webhook.as_ref().filter(|h| alert.is_none_or(|a| h.carries(&a.kind))) {
            attempts.push(self.post(hook, alert).await);
        }
        attempts
    }

    /// The roles a kind is routed to, of those who may hear of it
    /// ([`mamori_core::monitoring::may_hear_of`]).
    fn roles(&self, kind: &str) -> Vec<Role> {
        let mut roles: Vec<Role> = Vec::new();
        for r in &self.config.routes {
            if r.kinds.iter().any(|k| k == "*" || k == kind) {
                for role in &r.roles {
                    if !roles.contains(role) && mamori_core::monitoring::may_hear_of(*role, kind) {
                        roles.push(*role);
                    }
                }
            }
        }
        roles
    }

    async fn mail(&self, mailer: &AsyncSmtpTransport<Tokio1Executor>, store: &Store, alert: Option<&Alert>) -> Attempt {
        let m = self.config.mail.as_ref().expect("a mailer has its configuration");
        let roles = self.roles(alert.map_or("*", |a| a.kind.as_str()));
        let role_names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        let mut attempt =
            Attempt { channel: "mail", recipient: role_names.join(", "), ok: false, error: String::new() };
        let accounts = match store.accounts().await {
            Ok(a) => a,
            Err(e) => {
                attempt.error = format!("accounts: {e}");
                return attempt;
            }
        };
        let to: Vec<Mailbox> = accounts
            .iter()
            .filter(|a| a.disabled_at.is_none() && roles.contains(&a.role))
            .filter_map(|a| a.email.parse().ok())
            .collect();
        attempt.recipient = format!("{} ({} 件)", role_names.join(", "), to.len());
        let Ok(from) = m.from.parse::<Mailbox>() else {
            attempt.error = "notify.mail.from is not an address".into();
            return attempt;
        };
        if to.is_empty() {
            attempt.error = "宛先がありません (no recipient)".into();
            return attempt;
        }
        let (subject, body) = self.text(alert);
        let total = to.len();
        let errors = self.send_each(mailer, from, to, &subject, &body).await;
        (attempt.ok, attempt.error) = delivered(total, errors);
        attempt
    }

    /// Mails `body` to each of `to` under the fixed `subject`, one message
    /// each (no one sees the others' addresses); returns the failures.
    async fn send_each(
        &self,
        mailer: &AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
        to: Vec<Mailbox>,
        subject: &str,
        body: &str,
    ) -> Vec<Undelivered> {
        let mut errors = Vec::new();
        for rcpt in to {
            // Base64: whatever the body holds (a line of a single dot, a
            // CR or LF anywhere) travels as data, never as SMTP.
            let Ok(encoded) = Body::new_with_encoding(body.to_owned(), ContentTransferEncoding::Base64) else {
                errors.push(Undelivered { error: "body".into(), permanent: true });
                continue;
            };
            let message = Message::builder()
                .from(from.clone())
                .to(rcpt)
                .subject(subject)
                .header(ContentType::TEXT_PLAIN)
                .body(encoded);
            match message {
                Ok(msg) => {
                    if let Err(e) = mailer.send(msg).await {
                        errors.push(Undelivered { error: e.to_string(), permanent: e.is_permanent() });
                    }
                }
                Err(e) => errors.push(Undelivered { error: e.to_string(), permanent: true }),
            }
        }
        errors
    }

    /// Mails people (a reminder): one attempt, described by how many it
    /// was for; `None` when no mail is configured.
    pub async fn mail_people(&self, to: &[String], subject: &str, body: &str) -> Option<Attempt> {
        let (mailer, m) = (self.mailer.as_ref()?, self.config.mail.as_ref()?);
        let mut attempt =
            Attempt { channel: "mail", recipient: format!("{} 件", to.len()), ok: false, error: String::new() };
        let Ok(from) = m.from.parse::<Mailbox>() else {
            attempt.error = "notify.mail.from is not an address".into();
            return Some(attempt);
        };
        let to: Vec<Mailbox> = to.iter().filter_map(|a| a.parse().ok()).collect();
        if to.is_empty() {
            attempt.error = "宛先がありません (no recipient)".into();
            return Some(attempt);
        }
        let total = to.len();
        let errors = self.send_each(mailer, from, to, subject, body).await;
        (attempt.ok, attempt.error) = delivered(total, errors);
        Some(attempt)
    }

    /// Is mail configured?
    pub fn can_mail(&self) -> bool {
        self.mailer.is_some()
    }

    /// Where people open mamori (links in messages).
    pub fn origin(&self) -> &str {
        &self.config.public_origin
    }

    /// The fixed subject and the body of a message.
    fn text(&self, alert: Option<&Alert>) -> (String, String) {
        let link = format!("{}/alerts", self.config.public_origin);
        let Some(a) = alert else {
            return (
                "[mamori] テスト送信 (test message)".into(),
                format!("mamori からのテスト送信です。この通知経路は届いています。\n\n{link}\n"),
            );
        };
        let severity = match a.severity.as_str() {
            "critical" => "重大",
            "warning" => "警告",
            _ => "情報",
        };
        let fmt = |t: OffsetDateTime| {
            let t = t.to_offset(mamori_core::jst::JST);
            format!("{:04}-{:02}-{:02} {:02}:{:02} JST", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
        };
        let subject = format!("[mamori][{severity}] {}", kind_label(&a.kind));
        let body = format!(
            "mamori が警告を検知しました。\n\n種類: {}\n重大度: {severity}\n対象: {}\n詳細: {}\n初回: {}\n最終: {}\n回数: {}\n\n確認と対応の記録: {link}\n",
            kind_label(&a.kind),
            a.subject,
            a.detail,
            fmt(a.first_seen),
            fmt(a.last_seen),
            a.count
        );
        (subject, body)
    }

    async fn post(&self, hook: &WebhookConfig, alert: Option<&Alert>) -> Attempt {
        let host =
            reqwest::Url::parse(&hook.url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
        let mut attempt = Attempt { channel: "webhook", recipient: host, ok: false, error: String::new() };
        let body = match alert {
            Some(a) => serde_json::json!({
                "kind": a.kind, "severity": a.severity, "subject": a.subject, "detail": a.detail,
                "first_seen": a.first_seen.unix_timestamp(), "last_seen": a.last_seen.unix_timestamp(),
                "count": a.count, "id": a.id, "test": false,
            }),
            None => serde_json::json!({ "kind": "test", "test": true }),
        }
        .to_string();
        let timestamp = OffsetDateTime::now_utc().unix_timestamp().to_string();
        let mut mac = Hmac::<Sha256>::new_from_slice(hook.secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        let sent = self
            .http
            .post(&hook.url)
            .header("content-type", "application/json")
            .header("x-mamori-timestamp", &timestamp)
            .header("x-mamori-signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => attempt.ok = true,
            Ok(r) => attempt.error = format!("HTTP {}", r.status().as_u16()),
            Err(e) => attempt.error = if e.is_timeout() { "timeout".into() } else { "connection failed".into() },
        }
        attempt
    }
}

/// A kind's name in a message (fixed text: the subject line never holds
/// anything stored).
pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        "signin.spike" => "サインイン失敗の急増",
        "signin.spraying" => "一つの接続元から多数のIDへのサインイン試行",
        "audit.chain_broken" => "監査ログの改ざんの疑い",
        "backup.failed" => "バックアップの失敗",
        "scan.regression" => "スキャン結果の悪化 (合格から不合格へ)",
        "scan.certificate_expiring" => "サーバ証明書の有効期限が近い",
        "scan.address_changed" => "スキャン先のアドレスが変わった",
        "scan.address_new" => "スキャン先のアドレスの確認待ち",
        "account.locked" => "アカウントのロック (サインインの失敗)",
        "job.failed" => "定期処理の失敗",
        "inventory.support_ending" => "ソフトウェアのサポート終了が近い",
        "inventory.support_ended" => "ソフトウェアのサポート終了",
        "vuln.matched" => "脆弱性情報に該当するソフトウェア",
        "vuln.matches_full" => "脆弱性情報の該当が上限に達し、新しい該当を記録できない",
        "record.due_soon" => "記録の期日が近い (契約・認証・ドメイン・復元テスト)",
        "record.overdue" => "記録の期日を過ぎた (契約・認証・ドメイン・復元テスト)",
        "account.credentials_reset" => "管理者によるパスワードまたは二要素認証の再設定",
        "account.privileged" => "管理者・情報セキュリティ担当・監査のアカウントの発行または権限の付与",
        _ => "警告",
    }
}

/// A message that did not reach its person, and whether it never will
/// (the relay answered 5xx: no such mailbox) or may when sent again.
struct Undelivered {
    error: String,
    permanent: bool,
}

/// Whether a message sent to `total` people, with `errors`, counts as
/// delivered, and what to record. One that reached someone and failed
/// only for good elsewhere is delivered (sent again, it went again to
/// all who had it, every run); a failure that may pass (the relay busy,
/// the connection dropped) has it sent again, rather than lost. Either way
/// the record says to how many it did not go.
fn delivered(total: usize, errors: Vec<Undelivered>) -> (bool, String) {
    match errors.first() {
        None => (true, String::new()),
        Some(first) => {
            let n = errors.len();
            let ok = n < total && errors.iter().all(|e| e.permanent);
            (ok, format!("{total} 件中 {n} 件に届きませんでした (not delivered to {n} of {total}): {}", first.error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{delivered, Undelivered};

    /// A mail that reached some and failed for good for one (a mailbox
    /// gone) is delivered; one that failed for a while for one (the relay
    /// busy) is sent again, not lost; one that reached nobody is not.
    #[test]
    fn a_mail_is_delivered_when_it_reached_someone_and_failed_only_for_good() {
        let failed = |permanent| Undelivered { error: "550".into(), permanent };
        assert_eq!(delivered(3, vec![]), (true, String::new()));
        assert!(delivered(3, vec![failed(true)]).0);
        assert!(delivered(3, vec![failed(true)]).1.contains("3 件中 1 件に届きませんでした"));
        assert!(!delivered(3, vec![failed(true), failed(false)]).0, "the busy one is sent again");
        assert!(!delivered(2, vec![failed(true), failed(true)]).0, "nobody reached");
    }

    /// Each kind mamori raises has a subject of its own, never the catch-all.
    #[test]
    fn every_alert_kind_has_its_own_subject() {
        for kind in mamori_core::monitoring::ALERT_KINDS {
            assert_ne!(super::kind_label(kind), "警告", "{kind}");
        }
    }
}
