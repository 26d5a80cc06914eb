//! `[notify]` of the configuration file (items 22, 23) and the loop that
//! sends what is due. The sending itself is `mamori_app::notify`'s.
//!
//! ```toml
//! [notify]
//! poll_secs = 30
//! remind_after_hours = 24
//! [notify.mail]
//! host = "smtp.example.lg.jp"
//! port = 587
//! security = "starttls"          # or "tls"
//! user = "mamori"                # password in MAMORI_SMTP_PASSWORD
//! from = "mamori@example.lg.jp"
//! [notify.webhook]
//! url = "https://chat.example.lg.jp/hooks/mamori"   # secret in MAMORI_WEBHOOK_SECRET
//! [[notify.route]]
//! kinds = ["backup.failed", "audit.chain_broken"]
//! roles = ["admin"]
//! ```

use crate::settings::ConfigError;
use mamori_app::notify::{MailConfig, MailSecurity, NotifyConfig, Route, WebhookConfig};
use mamori_core::identity::Role;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileNotify {
    poll_secs: Option<u64>,
    remind_after_hours: Option<u64>,
    mail: Option<FileMail>,
    webhook: Option<FileWebhook>,
    #[serde(default)]
    route: Vec<FileRoute>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMail {
    host: String,
    port: Option<u16>,
    security: Option<String>,
    user: Option<String>,
    from: String,
    ca_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWebhook {
    url: String,
    /// The alert kinds it carries; every kind when not given.
    kinds: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRoute {
    kinds: Vec<String>,
    roles: Vec<String>,
}

/// The notifier's settings and how often it looks.
#[derive(Debug, Clone)]
pub struct Notify {
    pub config: NotifyConfig,
    pub poll: Duration,
}

fn err(errors: &mut Vec<ConfigError>, text: String) {
    errors.push(ConfigError(text));
}

/// The settings; the public origin (for the messages' link) is set by
/// `serve`, which knows it.
/// A webhook goes over HTTPS, or in plain HTTP to this host alone (a
/// loopback address or `localhost`, as the URL is read, not as it begins:
/// `http://localhost.example.net/` and `http://127.0.0.1:1@example.net/`
/// are other hosts). No credentials in the URL: the secret signs instead.
fn webhook_url_allowed(url: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else { return false };
    if !u.username().is_empty() || u.password().is_some() {
        return false;
    }
    let loopback = |host: &str| {
        host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    match (u.scheme(), u.host_str()) {
        ("https", Some(_)) => true,
        ("http", Some(host)) => loopback(host),
        _ => false,
    }
}

pub fn resolve(f: &FileNotify, errors: &mut Vec<ConfigError>) -> Notify {
    let mail = f.mail.as_ref().and_then(|m| {
        let security = match m.security.as_deref().unwrap_or("starttls") {
            "starttls" => MailSecurity::StartTls,
            "tls" => MailSecurity::Tls,
            other => {
                err(errors, format!("notify.mail.security \"{other}\" は starttls か tls です (notify.mail.security: starttls or tls)"));
                return None;
            }
        };
        let ca_pem = match &m.ca_file {
            Some(p) => match std::fs::read_to_string(p) {
                Ok(t) => Some(t),
                Err(e) => {
                    err(errors, format!("notify.mail.ca_file {} を読めません (cannot read): {e}", p.display()));
                    None
                }
            },
            None => None,
        };
        let password = std::env::var("MAMORI_SMTP_PASSWORD").ok().filter(|p| !p.is_empty());
        if m.user.is_some() && password.is_none() {
            err(errors, "notify.mail.user にはパスワードを MAMORI_SMTP_PASSWORD で渡してください (the SMTP password comes from MAMORI_SMTP_PASSWORD)".into());
        }
        let port = m.port.unwrap_or(if security == MailSecurity::Tls { 465 } else { 587 });
        Some(MailConfig { host: m.host.clone(), port, security, user: m.user.clone(), password, from: m.from.clone(), ca_pem })
    });
    let webhook = f.webhook.as_ref().and_then(|w| {
        let kinds = w.kinds.clone().unwrap_or_else(|| vec!["*".into()]);
        if kinds.is_empty() {
            err(errors, "notify.webhook.kinds が空です。すべてなら [\"*\"] と書いてください (notify.webhook.kinds is empty: [\"*\"] for every kind)".into());
        }
        for k in &kinds {
            if k != "*" && !mamori_core::monitoring::ALERT_KINDS.contains(&k.as_str()) {
                err(errors, format!("notify.webhook.kinds \"{k}\" は警告の種類ではありません (not an alert kind)"));
            }
        }
        if !webhook_url_allowed(&w.url) {
            err(errors, format!("notify.webhook.url \"{}\" は https:// で始めてください (HTTPS only, but for loopback)", w.url));
            return None;
        }
        match std::env::var("MAMORI_WEBHOOK_SECRET") {
            Ok(secret) if secret.len() >= 16 => Some(WebhookConfig { url: w.url.clone(), secret, kinds }),
            _ => {
                err(errors, "notify.webhook には署名の鍵を MAMORI_WEBHOOK_SECRET (16 文字以上) で渡してください (the webhook's signing secret: 16 characters or more)".into());
                None
            }
        }
    });
    let mut routes = Vec::new();
    for r in &f.route {
        let roles: Vec<Role> = r
            .roles
            .iter()
            .filter_map(|name| {
                let role = Role::parse(name);
                match role {
                    None => err(errors, format!("notify.route.roles \"{name}\" は役割ではありません (not a role)")),
                    // An alert names a system of any vendor or department:
                    // mailed by role, it would reach them all.
                    Some(Role::Vendor | Role::Department) => err(
                        errors,
                        format!("notify.route.roles \"{name}\": 警告はどのシステムのものも送られるため、事業者と所管課には送れません (alerts of every system: not to vendors or departments)"),
                    ),
                    Some(_) => {}
                }
                role
            })
            .collect();
        for k in &r.kinds {
            if k != "*" && !mamori_core::monitoring::ALERT_KINDS.contains(&k.as_str()) {
                err(errors, format!("notify.route.kinds \"{k}\" は警告の種類ではありません (not an alert kind)"));
            } else if k != "*"
                && !roles.is_empty()
                && !roles.iter().any(|role| mamori_core::monitoring::may_hear_of(*role, k))
            {
                // Named on purpose, and heard by nobody.
                err(
                    errors,
                    format!("notify.route.kinds \"{k}\": システムを名指す警告は、システムを見られない役割には送られません (an alert naming a system reaches only roles that see systems: not these roles)"),
                );
            }
        }
        routes.push(Route { kinds: r.kinds.clone(), roles });
    }
    if routes.is_empty() {
        routes = NotifyConfig::default_routes();
    }
    let hours = f.remind_after_hours.unwrap_or(24);
    if hours == 0 || hours > crate::settings::DURATION_MAX {
        let max = crate::settings::DURATION_MAX;
        err(
            errors,
            format!("notify.remind_after_hours は 1 以上 {max} 以下です (notify.remind_after_hours: 1 to {max})"),
        );
    }
    let poll = crate::settings::positive_up_to("notify.poll_secs", f.poll_secs, 30, crate::settings::POLL_MAX, errors);
    let config = NotifyConfig {
        mail,
        webhook,
        routes,
        remind_after: time::Duration::hours(hours.min(crate::settings::DURATION_MAX) as i64),
        public_origin: String::new(),
    };
    // What only the sender can tell (an address it cannot parse, a CA
    // file that is no certificate) is a configuration error too.
    if let Err(e) = mamori_app::notify::Notifier::new(config.clone()) {
        err(errors, e);
    }
    Notify { config, poll: Duration::from_secs(poll.max(1)) }
}

/// Sends what is due every `poll` until `stop`.
pub fn spawn(
    notifier: std::sync::Arc<mamori_app::notify::Notifier>,
    store: mamori_store::Store,
    clock: std::sync::Arc<dyn mamori_core::clock::Clock>,
    poll: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    if !notifier.configured() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(poll);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = tick.tick() => {
                    if let Err(e) = notifier.run_once(&store, clock.now()).await {
                        tracing::warn!("notifier: {e}");
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_webhook_in_plain_http_goes_to_this_host_alone() {
        for fine in ["https://hooks.example.lg.jp/x", "http://127.0.0.1:8080/x", "http://[::1]/x", "http://localhost/x"]
        {
            assert!(super::webhook_url_allowed(fine), "{fine}");
        }
        for refused in [
            "http://hooks.example.lg.jp/x",
            "http://localhost.hooks.example.net/x",
            "http://127.0.0.1:1@hooks.example.net/x",
            "http://127.0.0.1.example.net/x",
            "https://user:password@hooks.example.lg.jp/x",
            "ftp://127.0.0.1/x",
            "not a url",
        ] {
            assert!(!super::webhook_url_allowed(refused), "{refused}");
        }
    }
}
