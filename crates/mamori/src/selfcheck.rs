//! `mamori self-check`: mamori's own answers to the checklist items that
//! software can verify, from the running instance (its scanner against the
//! URL) and from the configuration and data directory. It never says pass
//! for what it cannot see: an item it cannot decide is `unknown`, and the
//! items that belong to the operator (contracts, premises, terminals…) are
//! not its to answer (docs/self-assessment/ says what each needs).

use crate::config::{Config, ServeArgs};
use crate::settings::GlobalArgs;
use crate::shared::{outln, EXIT_CONFIG, EXIT_PROBLEM};
use clap::{Args, ValueEnum};
use mamori_scan::{scan, ScanOptions, Verdict};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct SelfCheckArgs {
    /// 確認する mamori の URL / the running instance's URL
    #[arg(long, value_name = "URL")]
    url: String,
    /// その証明書を発行した CA (PEM) / the CA that issued its certificate
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// 出力形式 / output format
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// 1 回の接続の待ち時間 (秒) / per-connection timeout in seconds
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

/// An item's verdict, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemVerdict {
    Pass,
    Warn,
    Unknown,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub number: u32,
    pub verdict: ItemVerdict,
    pub evidence: Vec<String>,
}

/// Adds what was found of item `number`; the worst finding decides.
fn found(items: &mut BTreeMap<u32, Item>, number: u32, verdict: ItemVerdict, evidence: String) {
    let item = items.entry(number).or_insert(Item { number, verdict, evidence: Vec::new() });
    item.verdict = item.verdict.max(verdict);
    item.evidence.push(evidence);
}

/// Items 31–34, 44, 53, 55–57 and the others the scanner verifies.
async fn from_scanner(items: &mut BTreeMap<u32, Item>, args: &SelfCheckArgs, ca_pem: Option<Vec<u8>>) {
    let opts =
        ScanOptions { timeout: Duration::from_secs(args.timeout.clamp(1, 60)), ca_pem, ..ScanOptions::default() };
    match scan(&args.url, &opts).await {
        Ok(report) => {
            for c in &report.checks {
                let v = match c.verdict {
                    Verdict::Pass => ItemVerdict::Pass,
                    Verdict::Warn => ItemVerdict::Warn,
                    Verdict::Fail => ItemVerdict::Fail,
                    Verdict::Error => ItemVerdict::Unknown,
                };
                for n in &c.requirements {
                    found(items, *n, v, format!("scan {}: {}", c.id.as_str(), c.summary));
                }
            }
        }
        Err(e) => {
            // Not reachable: every item the scanner would answer is unknown.
            for n in [31, 32, 33, 34, 44, 53, 55, 56, 57] {
                found(items, n, ItemVerdict::Unknown, format!("scan: {e}"));
            }
        }
    }
}

/// The items the configuration and the data answer.
async fn from_configuration(items: &mut BTreeMap<u32, Item>, cfg: &Config, store: &mamori_store::Store) {
    use ItemVerdict::{Fail, Pass, Warn};
    let days = cfg.audit.retention.whole_days();
    found(items, 29, if days >= 730 { Pass } else { Fail }, format!("audit retention {days} days (at least 730)"));
    let lock = &cfg.security.lockout;
    found(
        items,
        41,
        if lock.max_failures <= 10 { Pass } else { Fail },
        format!("account locked after {} failures for {} minutes", lock.max_failures, lock.lock_for.whole_minutes()),
    );
    let s = &cfg.security.session;
    let short = s.idle.whole_minutes() <= 60 && s.absolute.whole_hours() <= 12;
    found(
        items,
        46,
        if short { Pass } else { Warn },
        format!("session idle {} min, absolute {} h", s.idle.whole_minutes(), s.absolute.whole_hours()),
    );
    let p = &cfg.security.password;
    found(
        items,
        4,
        if p.min_len >= 8 && p.min_classes >= 3 { Pass } else { Fail },
        format!(
            "password at least {} characters of {} classes, {} earlier ones refused",
            p.min_len, p.min_classes, p.history
        ),
    );
    let open = cfg.admin_networks.iter().any(|n| n.prefix_len() == 0);
    found(
        items,
        35,
        if cfg.admin_networks.is_empty() || open { Warn } else { Pass },
        format!(
            "administration only from {}",
            cfg.admin_networks.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        ),
    );
    let f = &cfg.security.second_factor;
    found(
        items,
        75,
        Pass,
        format!(
            "second factor: admin, security_officer{}{}{}",
            if f.vendor { ", vendor" } else { "" },
            if f.department { ", department" } else { "" },
            if f.auditor { ", auditor" } else { "" }
        ),
    );
    match &cfg.jobs.backup {
        None => found(items, 19, Fail, "no backup configured ([backup] dir)".into()),
        Some(plan) => {
            let ops = store.operations(time::OffsetDateTime::now_utc()).await.ok();
            let last = ops.as_ref().and_then(|o| o.last_backup_ok);
            let recent = last.is_some_and(|t| time::OffsetDateTime::now_utc() - t <= time::Duration::days(2));
            let when = last
                .map_or_else(|| "none taken yet".to_owned(), |t| format!("last {}", mamori_core::jst::format_jst(t)));
            found(
                items,
                19,
                if recent { Pass } else { Fail },
                format!("daily backup to {}; {when}", plan.to.display()),
            );
            let second = plan.copy_to.is_some() || plan.s3.is_some();
            found(
                items,
                21,
                if second { Pass } else { Fail },
                if second {
                    "a copy in a second location".into()
                } else {
                    "no second location ([backup] copy_to or [backup.s3])".into()
                },
            );
        }
    }
    let n = &cfg.notify.config;
    let told = n.mail.is_some() || n.webhook.is_some();
    found(
        items,
        23,
        if told { Pass } else { Fail },
        if told { "alerts sent by mail or webhook".into() } else { "no notification configured ([notify])".into() },
    );
    found(items, 61, Pass, "values sealed at rest under the data key".into());
}

pub async fn run(global: &GlobalArgs, args: &SelfCheckArgs) -> ExitCode {
    let ca_pem = match crate::shared::read_ca_file(args.ca_file.as_deref()) {
        Ok(pem) => pem,
        Err(code) => return code,
    };
    let Ok((cfg, store)) = crate::serve::resolve_and_prepare(global, &ServeArgs::default(), false).await else {
        return ExitCode::from(EXIT_CONFIG);
    };
    let mut items = BTreeMap::new();
    from_scanner(&mut items, args, ca_pem).await;
    from_configuration(&mut items, &cfg, &store).await;
    store.close().await;
    let all_pass = items.values().all(|i| i.verdict == ItemVerdict::Pass);
    match args.format {
        Format::Json => {
            let items: Vec<&Item> = items.values().collect();
            outln!("{}", serde_json::json!({ "items": items }));
        }
        Format::Text => {
            for i in items.values() {
                let word = match i.verdict {
                    ItemVerdict::Pass => "適合 (pass)",
                    ItemVerdict::Warn => "注意 (warn)",
                    ItemVerdict::Unknown => "不明 (unknown)",
                    ItemVerdict::Fail => "不適合 (fail)",
                };
                outln!("No.{:<3} {word}", i.number);
                for e in &i.evidence {
                    outln!("        {e}");
                }
            }
        }
    }
    if all_pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PROBLEM)
    }
}
