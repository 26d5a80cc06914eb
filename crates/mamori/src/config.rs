//! Configuration: flags win over environment variables (`MAMORI_*`), which
//! win over the TOML file given by `--config`, which wins over defaults.
//! Every problem is reported at once, in Japanese with English alongside.

use crate::settings::{parse_networks, positive, positive_up_to, ConfigError, GlobalArgs, LogFormat, DURATION_MAX};
use clap::Args;
use ipnet::IpNet;
use mamori_core::policy::SecondFactorPolicy;
use mamori_store::DatabaseLocation;
use mamori_web::{Limits, Security};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use time::Duration as TimeDuration;

/// Options of `serve` (and of `check-config`, which validates them).
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// HTTPS で待ち受けるアドレス / HTTPS listen address [default: 127.0.0.1:8443]
    #[arg(long, env = "MAMORI_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// HTTPS へ転送するだけの HTTP の待ち受けアドレス / plain-HTTP listener that only redirects
    #[arg(long, env = "MAMORI_HTTP_REDIRECT_LISTEN", value_name = "ADDR:PORT")]
    pub http_redirect_listen: Option<String>,
    /// サーバ証明書 (PEM、中間証明書を含む) / certificate chain (PEM)
    #[arg(long, env = "MAMORI_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// 秘密鍵 (PEM) / private key (PEM)
    #[arg(long, env = "MAMORI_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// 利用者が使う URL (リダイレクト先の基準) / public URL, e.g. https://mamori.example.lg.jp
    #[arg(long, env = "MAMORI_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// X-Forwarded-For を信頼するリバースプロキシ (CIDR、カンマ区切り) / trusted proxies
    #[arg(long, env = "MAMORI_TRUSTED_PROXIES", value_name = "CIDR,…", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<String>>,
    /// 管理用の接続元 (CIDR、カンマ区切り) [default: 127.0.0.0/8,::1/128] / admin networks
    #[arg(long, env = "MAMORI_ADMIN_NETWORKS", value_name = "CIDR,…", value_delimiter = ',')]
    pub admin_networks: Option<Vec<String>>,
    /// リクエスト本文の上限 (バイト) [default: 1048576]
    #[arg(long, env = "MAMORI_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<u64>,
    /// 1 リクエストの時間制限 (秒) [default: 30]
    #[arg(long, env = "MAMORI_REQUEST_TIMEOUT_SECS", value_name = "SECS")]
    pub request_timeout_secs: Option<u64>,
    /// 同時接続数の上限 [default: 1024]
    #[arg(long, env = "MAMORI_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<u64>,
    /// 1 つのアドレス (IPv6 は /64) からの同時接続数の上限 [default: 同時接続数の半分]
    #[arg(long, env = "MAMORI_MAX_CONNECTIONS_PER_ADDRESS", value_name = "N")]
    pub max_connections_per_address: Option<u64>,
    /// 1 つのアドレス (IPv6 は /64) が 1 秒に開ける新しい接続の数 (10 秒単位で数える) [default: 60]
    #[arg(long, env = "MAMORI_NEW_CONNECTIONS_PER_ADDRESS", value_name = "N")]
    pub new_connections_per_address: Option<u64>,
    /// リクエストヘッダの受信を待つ時間 (秒、遅いクライアント対策) [default: 10]
    #[arg(long, env = "MAMORI_HEADER_READ_TIMEOUT_SECS", value_name = "SECS")]
    pub header_read_timeout_secs: Option<u64>,
    /// 停止時に処理中のリクエストを待つ時間 (秒) [default: 10]
    #[arg(long, env = "MAMORI_SHUTDOWN_GRACE_SECS", value_name = "SECS")]
    pub shutdown_grace_secs: Option<u64>,
}

/// The TOML file. Unknown keys are refused, so a typo is not silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    log_format: Option<LogFormat>,
    listen: Option<String>,
    http_redirect_listen: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    public_url: Option<String>,
    trusted_proxies: Option<Vec<String>>,
    admin_networks: Option<Vec<String>>,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    security: FileSecurity,
    #[serde(default)]
    evidence: FileEvidence,
    #[serde(default)]
    audit: FileAudit,
    #[serde(default)]
    scan: crate::scanning::FileScan,
    #[serde(default)]
    reports: FileReports,
    #[serde(default)]
    notify: crate::notifying::FileNotify,
    #[serde(default)]
    jobs: crate::jobs::FileJobs,
    #[serde(default)]
    backup: crate::jobs::FileBackup,
}

/// `[reports]`: the yearly report of item 68.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileReports {
    /// The month each system's yearly report falls due (at its end), unless
    /// the system has its own; 4 (April) by default.
    month: Option<u8>,
    /// The days a round gives to answer, from the day it starts (or the
    /// system is recorded) to its due date; 60 by default.
    round_days: Option<u16>,
    /// How many days before a component's support ends it is warned about
    /// (items 62, 68); 180 by default.
    support_warn_days: Option<u16>,
}

/// `[audit]`: retention and monitoring (checklist items 28, 29, 67).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAudit {
    retention_days: Option<u64>,
    archive_dir: Option<PathBuf>,
    spike_multiplier: Option<u64>,
    spike_floor: Option<u64>,
    spraying_accounts: Option<u64>,
}

fn resolve_audit(f: &FileAudit, data_dir: &Path, errors: &mut Vec<ConfigError>) -> crate::auditlog::AuditConfig {
    let days = positive_up_to("audit.retention_days", f.retention_days, 1095, DURATION_MAX, errors);
    let retention = TimeDuration::days(days as i64);
    if !mamori_core::monitoring::retention_ok(retention) {
        errors.push(ConfigError(format!(
            "audit.retention_days は730日(2年)以上にしてください。{days} 日では監査ログの保存期間の要件(項目29)を満たしません (retention below two years is refused)"
        )));
    }
    let d = mamori_core::monitoring::SignInWatch::default();
    crate::auditlog::AuditConfig {
        retention,
        archive_dir: f.archive_dir.clone().unwrap_or_else(|| data_dir.join("audit-archive")),
        watch: mamori_core::monitoring::SignInWatch {
            spike_multiplier: positive(
                "audit.spike_multiplier",
                f.spike_multiplier,
                u64::from(d.spike_multiplier),
                errors,
            ) as u32,
            spike_floor: positive("audit.spike_floor", f.spike_floor, u64::from(d.spike_floor), errors) as u32,
            spraying_accounts: positive(
                "audit.spraying_accounts",
                f.spraying_accounts,
                u64::from(d.spraying_accounts),
                errors,
            ) as u32,
        },
    }
}

/// The `[audit]` settings for commands beside the server (`mamori audit purge`).
/// `[backup.s3]` for `mamori backup`: the copy in object storage, if any.
pub fn backup_s3(global: &GlobalArgs) -> Result<Option<crate::offsite::S3Plan>, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let file = load_file(global.config.as_deref(), &mut errors);
    let plan = file.backup.s3.as_ref().and_then(|f| crate::offsite::resolve(f, &mut errors));
    if errors.is_empty() {
        Ok(plan)
    } else {
        Err(errors)
    }
}

pub fn audit_config(global: &GlobalArgs) -> Result<crate::auditlog::AuditConfig, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let file = load_file(global.config.as_deref(), &mut errors);
    let dir = data_dir(global, &file);
    let cfg = resolve_audit(&file.audit, &dir, &mut errors);
    if errors.is_empty() {
        Ok(cfg)
    } else {
        Err(errors)
    }
}

/// `[evidence]`: uploads (PRODUCT.md step 3, checklist item 58).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEvidence {
    max_mb: Option<u64>,
    /// `unix:/run/clamav/clamd.ctl` or `tcp:127.0.0.1:3310`
    clamd: Option<String>,
    /// What one organisation stores, evidence and library together.
    quota_mb: Option<u64>,
}

/// `[security]`: the rules of identity (checklist items 4, 5, 41, 46, 65).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSecurity {
    session_idle_minutes: Option<u64>,
    session_absolute_hours: Option<u64>,
    lockout_failures: Option<u64>,
    lockout_minutes: Option<u64>,
    address_max_failures: Option<u64>,
    address_window_minutes: Option<u64>,
    block_max_failures: Option<u64>,
    account_max_signins: Option<u64>,
    password_max_age_days: Option<u64>,
    inactive_review_days: Option<u64>,
    inactive_disable_days: Option<u64>,
    /// Roles that sign in with a second factor besides the administrator
    /// and the security office; `["vendor"]` by default.
    second_factor_roles: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_body_bytes: Option<u64>,
    request_timeout_secs: Option<u64>,
    max_connections: Option<u64>,
    max_connections_per_address: Option<u64>,
    new_connections_per_address: Option<u64>,
    header_read_timeout_secs: Option<u64>,
    shutdown_grace_secs: Option<u64>,
    writes_per_minute: Option<u64>,
    writes_per_day: Option<u64>,
}

/// Everything that was wrong, and where the database is if that much is known
/// (so that the error can be recorded in the audit log).
#[derive(Debug)]
pub struct ConfigErrors {
    pub errors: Vec<ConfigError>,
    pub database: Option<DatabaseLocation>,
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone)]
pub enum TlsSource {
    Files { cert: PathBuf, key: PathBuf },
    SelfSigned,
}

/// The resolved configuration of `serve`.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database: DatabaseLocation,
    pub listen: SocketAddr,
    pub http_redirect_listen: Option<SocketAddr>,
    pub tls: TlsSource,
    pub public_url: Option<String>,
    pub trusted_proxies: Vec<IpNet>,
    pub admin_networks: Vec<IpNet>,
    pub limits: Limits,
    pub security: Security,
    pub evidence: mamori_web::EvidenceConfig,
    pub audit: crate::auditlog::AuditConfig,
    pub scan: crate::scanning::ScanConfig,
    /// The month yearly reports fall due (1–12).
    pub report_month: u8,
    /// The days a round gives to answer (1–366).
    pub round_days: u16,
    /// The days before a support end that warn (1–730).
    pub support_warn_days: u16,
    pub notify: crate::notifying::Notify,
    pub jobs: crate::jobs::Jobs,
}

fn load_file(path: Option<&Path>, errors: &mut Vec<ConfigError>) -> FileConfig {
    let Some(path) = path else {
        return FileConfig::default();
    };
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).unwrap_or_else(|e| {
            errors.push(ConfigError(format!(
                "設定ファイル {} を読み取れません (cannot parse the configuration file): {}",
                path.display(),
                e.message()
            )));
            FileConfig::default()
        }),
        Err(e) => {
            errors.push(ConfigError(format!(
                "設定ファイル {} を開けません (cannot open the configuration file): {e}",
                path.display()
            )));
            FileConfig::default()
        }
    }
}

fn resolve_database(global: &GlobalArgs, file: &FileConfig, data_dir: &Path) -> Result<DatabaseLocation, ConfigError> {
    let url = global
        .database_url
        .clone()
        .or_else(|| std::env::var("DATABASE_URL").ok().filter(|s| !s.is_empty()))
        .or_else(|| file.database_url.clone());
    match url {
        None => Ok(DatabaseLocation::in_data_dir(data_dir)),
        Some(u) => DatabaseLocation::parse(&u).map_err(|e| {
            ConfigError(format!(
                "database_url は sqlite:// または postgres:// で始めてください (database_url must start with sqlite:// or postgres://): {e}"
            ))
        }),
    }
}

fn data_dir(global: &GlobalArgs, file: &FileConfig) -> PathBuf {
    global.data_dir.clone().or_else(|| file.data_dir.clone()).unwrap_or_else(|| PathBuf::from("./data"))
}

/// The data directory and the database, for commands that need nothing else.
/// The month yearly reports fall due (`[reports] month`, April unless set).
pub fn report_month(global: &GlobalArgs) -> Result<u8, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let file = load_file(global.config.as_deref(), &mut errors);
    match file.reports.month.unwrap_or(4) {
        m @ 1..=12 if errors.is_empty() => Ok(m),
        m => {
            errors.push(ConfigError(format!("reports.month は 1 から 12 です ({m}) (reports.month must be 1 to 12)")));
            Err(errors)
        }
    }
}

pub fn data_location(global: &GlobalArgs) -> Result<(PathBuf, DatabaseLocation), Vec<ConfigError>> {
    let mut errors = Vec::new();
    let file = load_file(global.config.as_deref(), &mut errors);
    let dir = data_dir(global, &file);
    let db = resolve_database(global, &file, &dir).map_err(|e| vec![e])?;
    if errors.is_empty() {
        Ok((dir, db))
    } else {
        Err(errors)
    }
}

/// Where the audit log's archives go (`[audit] archive_dir`, or
/// `audit-archive` in the data directory), for the commands that write one
/// without resolving the whole of `serve`'s configuration.
pub fn audit_archive_dir(global: &GlobalArgs) -> Result<PathBuf, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let file = load_file(global.config.as_deref(), &mut errors);
    let dir = data_dir(global, &file);
    let archive = resolve_audit(&file.audit, &dir, &mut errors).archive_dir;
    if errors.is_empty() {
        Ok(archive)
    } else {
        Err(errors)
    }
}

fn parse_addr(key: &str, value: &str, errors: &mut Vec<ConfigError>) -> Option<SocketAddr> {
    value.parse().map_err(|_| {
        errors.push(ConfigError(format!(
            "{key} の値 \"{value}\" は「アドレス:ポート」の形式ではありません。例: 127.0.0.1:8443 または [::]:8443 ({key} must be ADDRESS:PORT)"
        )))
    }).ok()
}

/// `https://host[:port]` with no path, query or fragment; trailing slash dropped.
fn parse_public_url(value: &str, errors: &mut Vec<ConfigError>) -> Option<String> {
    let v = value.trim_end_matches('/');
    let rest = v.strip_prefix("https://");
    let ok = rest.is_some_and(|r| !r.is_empty() && !r.contains(['/', '?', '#', '@', ' ']));
    if ok {
        Some(v.to_owned())
    } else {
        errors.push(ConfigError(format!(
            "public_url \"{value}\" は https://ホスト名[:ポート] の形式にしてください (public_url must be https://host[:port] with no path)"
        )));
        None
    }
}

impl Config {
    pub fn resolve(global: &GlobalArgs, args: &ServeArgs) -> Result<Config, ConfigErrors> {
        let mut errors = Vec::new();
        let file = load_file(global.config.as_deref(), &mut errors);
        let data_dir = data_dir(global, &file);
        let database = resolve_database(global, &file, &data_dir).map_err(|e| errors.push(e)).ok();

        let listen_s = args.listen.clone().or(file.listen.clone()).unwrap_or_else(|| "127.0.0.1:8443".to_owned());
        let listen = parse_addr("listen", &listen_s, &mut errors);
        let http_redirect_listen = args
            .http_redirect_listen
            .clone()
            .or(file.http_redirect_listen.clone())
            .and_then(|s| parse_addr("http_redirect_listen", &s, &mut errors));

        let cert = args.tls_cert.clone().or(file.tls_cert.clone());
        let key = args.tls_key.clone().or(file.tls_key.clone());
        let tls = match (cert, key) {
            (Some(cert), Some(key)) => {
                for (k, p) in [("tls_cert", &cert), ("tls_key", &key)] {
                    if !p.is_file() {
                        errors.push(ConfigError(format!(
                            "{k} のファイル {} が見つかりません ({k}: file not found)",
                            p.display()
                        )));
                    }
                }
                TlsSource::Files { cert, key }
            }
            (None, None) => TlsSource::SelfSigned,
            _ => {
                errors.push(ConfigError(
                    "tls_cert と tls_key は両方を指定してください (give both tls_cert and tls_key, or neither)"
                        .to_owned(),
                ));
                TlsSource::SelfSigned
            }
        };

        let public_url =
            args.public_url.clone().or(file.public_url.clone()).and_then(|u| parse_public_url(&u, &mut errors));
        let trusted_proxies = parse_networks(
            "trusted_proxies",
            args.trusted_proxies.as_ref().or(file.trusted_proxies.as_ref()).map_or(&[][..], |v| v),
            &mut errors,
        );
        let default_admin = vec!["127.0.0.0/8".to_owned(), "::1/128".to_owned()];
        let admin_networks = parse_networks(
            "admin_networks",
            args.admin_networks.as_ref().or(file.admin_networks.as_ref()).unwrap_or(&default_admin),
            &mut errors,
        );

        let d = Limits::default();
        let fl = &file.limits;
        let max_connections = positive(
            "max_connections",
            args.max_connections.or(fl.max_connections),
            d.max_connections as u64,
            &mut errors,
        ) as usize;
        let limits = Limits {
            max_body_bytes: positive(
                "max_body_bytes",
                args.max_body_bytes.or(fl.max_body_bytes),
                d.max_body_bytes as u64,
                &mut errors,
            ) as usize,
            request_timeout: Duration::from_secs(positive(
                "request_timeout_secs",
                args.request_timeout_secs.or(fl.request_timeout_secs),
                d.request_timeout.as_secs(),
                &mut errors,
            )),
            max_connections,
            max_connections_per_address: positive(
                "max_connections_per_address",
                args.max_connections_per_address.or(fl.max_connections_per_address),
                (max_connections / 2).max(1) as u64,
                &mut errors,
            )
            .min(max_connections as u64) as usize,
            new_connections_per_address: positive(
                "new_connections_per_address",
                args.new_connections_per_address.or(fl.new_connections_per_address),
                d.new_connections_per_address.into(),
                &mut errors,
            )
            .min(u32::MAX.into()) as u32,
            header_read_timeout: Duration::from_secs(positive(
                "header_read_timeout_secs",
                args.header_read_timeout_secs.or(fl.header_read_timeout_secs),
                d.header_read_timeout.as_secs(),
                &mut errors,
            )),
            shutdown_grace: Duration::from_secs(positive(
                "shutdown_grace_secs",
                args.shutdown_grace_secs.or(fl.shutdown_grace_secs),
                d.shutdown_grace.as_secs(),
                &mut errors,
            )),
            writes_per_minute: positive(
                "writes_per_minute",
                fl.writes_per_minute,
                d.writes_per_minute.into(),
                &mut errors,
            )
            .min(u32::MAX.into()) as u32,
            writes_per_day: positive("writes_per_day", fl.writes_per_day, d.writes_per_day.into(), &mut errors)
                .min(u32::MAX.into()) as u32,
            ..d
        };

        let security = resolve_security(&file.security, &mut errors);
        // A stored file is one row: past 900 MB it exceeds what SQLite
        // keeps in a value (1,000,000,000 bytes), and with the rows before
        // it in a backup's chunk, what a restore reads (1 GiB). A backup of
        // a 1 GiB file was reported verified and could not be restored.
        let max_mb = positive_up_to("evidence.max_mb", file.evidence.max_mb, 20, 900, &mut errors) as usize;
        let clamd = file.evidence.clamd.as_deref().and_then(|c| {
            let parsed = mamori_files::evidence::Clamd::parse(c);
            if parsed.is_none() {
                errors.push(ConfigError(format!(
                    "evidence.clamd \"{c}\" は unix:/パス または tcp:ホスト:ポート の形式にしてください (evidence.clamd: unix:PATH or tcp:HOST:PORT)"
                )));
            }
            parsed
        });
        let quota_mb = positive("evidence.quota_mb", file.evidence.quota_mb, 10_240, &mut errors).min(1 << 30);
        let evidence =
            mamori_web::EvidenceConfig { max_bytes: max_mb * 1024 * 1024, clamd, quota_bytes: quota_mb << 20 };
        let audit = resolve_audit(&file.audit, &data_dir, &mut errors);
        let scan = crate::scanning::resolve_scan(&file.scan, &mut errors);
        let notify = crate::notifying::resolve(&file.notify, &mut errors);
        let jobs = crate::jobs::resolve(&file.jobs, &file.backup, &mut errors);
        let report_month = file.reports.month.unwrap_or(4);
        if !(1..=12).contains(&report_month) {
            errors.push(ConfigError(format!(
                "reports.month は 1 から 12 です ({report_month}) (reports.month must be 1 to 12)"
            )));
        }

        let round_days = file.reports.round_days.unwrap_or(60);
        if !(1..=366).contains(&round_days) {
            errors.push(ConfigError(format!(
                "reports.round_days は 1 から 366 です ({round_days}) (reports.round_days must be 1 to 366)"
            )));
        }

        let support_warn_days = file.reports.support_warn_days.unwrap_or(180);
        if !(1..=730).contains(&support_warn_days) {
            errors.push(ConfigError(format!(
                "reports.support_warn_days は 1 から 730 です ({support_warn_days}) (reports.support_warn_days must be 1 to 730)"
            )));
        }

        match (errors.is_empty(), database, listen) {
            (true, Some(database), Some(listen)) => Ok(Config {
                data_dir,
                database,
                listen,
                http_redirect_listen,
                tls,
                public_url,
                trusted_proxies,
                admin_networks,
                limits,
                security,
                evidence,
                audit,
                scan,
                notify,
                jobs,
                report_month,
                round_days,
                support_warn_days,
            }),
            (_, database, _) => Err(ConfigErrors { errors, database, data_dir: data_dir.clone() }),
        }
    }
}

fn resolve_security(f: &FileSecurity, errors: &mut Vec<ConfigError>) -> Security {
    let d = Security::default();
    // Durations and counts alike: none has a use beyond DURATION_MAX.
    let mut n = |key: &str, v: Option<u64>, default: i64| -> i64 {
        i64::try_from(positive_up_to(key, v, default as u64, DURATION_MAX, errors)).unwrap_or(default)
    };
    let mut s = d;
    s.session.idle = TimeDuration::minutes(n(
        "security.session_idle_minutes",
        f.session_idle_minutes,
        d.session.idle.whole_minutes(),
    ));
    s.session.absolute = TimeDuration::hours(n(
        "security.session_absolute_hours",
        f.session_absolute_hours,
        d.session.absolute.whole_hours(),
    ));
    s.lockout.max_failures =
        n("security.lockout_failures", f.lockout_failures, i64::from(d.lockout.max_failures)) as u32;
    s.lockout.lock_for =
        TimeDuration::minutes(n("security.lockout_minutes", f.lockout_minutes, d.lockout.lock_for.whole_minutes()));
    s.lockout.address_max_failures =
        n("security.address_max_failures", f.address_max_failures, i64::from(d.lockout.address_max_failures)) as u32;
    s.lockout.address_window = TimeDuration::minutes(n(
        "security.address_window_minutes",
        f.address_window_minutes,
        d.lockout.address_window.whole_minutes(),
    ));
    s.lockout.block_max_failures =
        n("security.block_max_failures", f.block_max_failures, i64::from(d.lockout.block_max_failures)) as u32;
    s.lockout.account_max_signins =
        n("security.account_max_signins", f.account_max_signins, i64::from(d.lockout.account_max_signins)) as u32;
    s.password.max_age = TimeDuration::days(n(
        "security.password_max_age_days",
        f.password_max_age_days,
        d.password.max_age.whole_days(),
    ));
    s.inactivity.review_after = TimeDuration::days(n(
        "security.inactive_review_days",
        f.inactive_review_days,
        d.inactivity.review_after.whole_days(),
    ));
    s.inactivity.disable_after = TimeDuration::days(n(
        "security.inactive_disable_days",
        f.inactive_disable_days,
        d.inactivity.disable_after.whole_days(),
    ));
    if s.inactivity.disable_after < s.inactivity.review_after {
        errors.push(ConfigError(
            "security.inactive_disable_days は inactive_review_days 以上にしてください (disable after review)"
                .to_owned(),
        ));
    }
    if s.session.absolute < s.session.idle {
        errors.push(ConfigError(
            "security.session_absolute_hours は session_idle_minutes より長くしてください (absolute timeout shorter than idle)".to_owned(),
        ));
    }
    if let Some(roles) = &f.second_factor_roles {
        match SecondFactorPolicy::of_roles(roles) {
            Ok(p) => s.second_factor = p,
            Err(bad) => errors.push(ConfigError(format!(
                "security.second_factor_roles の \"{bad}\" は役割ではありません (department, vendor, auditor) (not a role)"
            ))),
        }
    }
    s
}

/// Logs to standard error: readable text by default, JSON on request.
/// The format is read before the rest of the configuration, so that
/// configuration errors are logged in it too. Lines are written by a thread
/// of their own (tracing-appender), so a request does not wait for its
/// access-log line to reach the file; none is dropped (a full buffer makes
/// the logger wait), and the returned guard writes out the rest at exit.
pub fn init_logging(global: &GlobalArgs, _args: &ServeArgs) -> tracing_appender::non_blocking::WorkerGuard {
    let format = global.log_format.or_else(|| {
        let mut ignored = Vec::new();
        load_file(global.config.as_deref(), &mut ignored).log_format
    });
    // rustls warns of a server name it cannot read with the name in full
    // (escaped): 64 KB from any client, a line of hundreds of KB each
    // connection. Its errors are enough; mamori logs failed handshakes
    // itself.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"))
        .add_directive("rustls=error".parse().expect("a fixed directive"));
    use std::io::IsTerminal;
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("mamori-log")
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal());
    if format == Some(LogFormat::Json) {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
    guard
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global() -> GlobalArgs {
        GlobalArgs { config: None, data_dir: None, database_url: None, log_format: None }
    }

    #[test]
    fn defaults_resolve() {
        let c = Config::resolve(&global(), &ServeArgs::default()).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8443".parse().unwrap());
        assert!(matches!(c.tls, TlsSource::SelfSigned));
        assert_eq!(c.admin_networks.len(), 2);
        assert_eq!(c.database, DatabaseLocation::in_data_dir(Path::new("./data")));
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let args = ServeArgs {
            listen: Some("nonsense".into()),
            tls_cert: Some("/nonexistent.pem".into()),
            public_url: Some("http://x".into()),
            admin_networks: Some(vec!["10.0.0.0/33".into()]),
            max_connections: Some(0),
            ..ServeArgs::default()
        };
        let errs = Config::resolve(&global(), &args).unwrap_err();
        let text: Vec<String> = errs.errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(text.len(), 5, "{text:#?}");
        assert!(text[0].contains("listen の値 \"nonsense\""), "{text:#?}");
        assert!(text.iter().any(|t| t.contains("tls_cert と tls_key")));
        assert!(text.iter().any(|t| t.contains("public_url")));
        assert!(text.iter().any(|t| t.contains("10.0.0.0/33")));
        assert!(text.iter().any(|t| t.contains("max_connections")));
        assert!(errs.database.is_some(), "the database is still known, so the error can be audited");
    }

    #[test]
    fn one_address_holds_half_the_connections_unless_told_and_never_more_than_all() {
        let with = |all: Option<u64>, per: Option<u64>| {
            let args = ServeArgs { max_connections: all, max_connections_per_address: per, ..ServeArgs::default() };
            let l = Config::resolve(&global(), &args).unwrap().limits;
            (l.max_connections, l.max_connections_per_address)
        };
        assert_eq!(with(None, None), (1024, 512));
        assert_eq!(with(Some(100), None), (100, 50));
        assert_eq!(with(None, Some(64)), (1024, 64));
        assert_eq!(with(Some(100), Some(500)), (100, 100));
        let zero = ServeArgs { max_connections_per_address: Some(0), ..ServeArgs::default() };
        let errs = Config::resolve(&global(), &zero).unwrap_err();
        assert!(errs.errors.iter().any(|e| e.to_string().contains("max_connections_per_address")));
    }

    #[test]
    fn a_round_gives_60_days_unless_the_file_says_1_to_366() {
        assert_eq!(Config::resolve(&global(), &ServeArgs::default()).unwrap().round_days, 60);
        let dir = tempfile::TempDir::new().unwrap();
        let at = |days: i64| {
            let path = dir.path().join(format!("mamori-{days}.toml"));
            std::fs::write(&path, format!("[reports]\nround_days = {days}\n")).unwrap();
            let g = GlobalArgs { config: Some(path), ..global() };
            Config::resolve(&g, &ServeArgs::default()).map(|c| c.round_days)
        };
        assert_eq!(at(90).ok(), Some(90));
        for bad in [0, 367] {
            let errs = at(bad).unwrap_err();
            assert!(errs.errors.iter().any(|e| e.to_string().contains("reports.round_days")), "{bad}");
        }
    }

    #[test]
    fn the_second_factor_roles_come_from_the_file_and_an_unknown_one_is_an_error() {
        use mamori_core::identity::Role;
        assert!(Config::resolve(&global(), &ServeArgs::default())
            .unwrap()
            .security
            .second_factor
            .required(Role::Vendor));
        let dir = tempfile::TempDir::new().unwrap();
        let at = |roles: &str| {
            let path = dir.path().join("mamori.toml");
            std::fs::write(&path, format!("[security]\nsecond_factor_roles = [{roles}]\n")).unwrap();
            let g = GlobalArgs { config: Some(path), ..global() };
            Config::resolve(&g, &ServeArgs::default()).map(|c| c.security.second_factor)
        };
        let p = at("\"department\", \"auditor\"").unwrap();
        assert!(p.required(Role::Department) && p.required(Role::Auditor) && !p.required(Role::Vendor));
        assert!(at("").unwrap().required(Role::SecurityOfficer), "the office always");
        let errs = at("\"vendors\"").unwrap_err();
        assert!(errs.errors.iter().any(|e| e.to_string().contains("\"vendors\" は役割ではありません")));
    }

    #[test]
    fn public_url_forms() {
        let mut e = Vec::new();
        assert_eq!(
            parse_public_url("https://mamori.example.lg.jp/", &mut e).as_deref(),
            Some("https://mamori.example.lg.jp")
        );
        assert_eq!(parse_public_url("https://h:8443", &mut e).as_deref(), Some("https://h:8443"));
        assert!(e.is_empty());
        for bad in ["http://h", "https://", "https://h/path", "https://u@h", "h"] {
            assert!(parse_public_url(bad, &mut e).is_none(), "{bad}");
        }
    }

    #[test]
    fn plain_ip_counts_as_a_single_host_network() {
        let mut e = Vec::new();
        let nets = parse_networks("trusted_proxies", &["10.0.0.1".into(), " ".into()], &mut e);
        assert_eq!(nets, vec!["10.0.0.1/32".parse::<IpNet>().unwrap()]);
    }
}
