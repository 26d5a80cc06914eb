//! The server's scan worker: runs queued scans of systems' URLs, stores the
//! results, and raises alerts on regressions and expiring certificates.

use crate::settings::{parse_networks, positive, ConfigError};
use mamori_core::audit::{Actor, Origin};
use mamori_core::clock::Clock;
use mamori_core::monitoring::Severity;
use mamori_core::verification::{CheckId, ScanReport, Verdict};
use mamori_scan::{network_of, scan, scan_at, scan_ports, scan_ports_at, Given, ScanOptions, TargetError};
use mamori_store::identity::Ctx;
use mamori_store::scans::AddressCheck;
use mamori_store::scans::ScanStatus;
use mamori_store::{Store, StoreError};
use serde::Deserialize;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;
use time::Duration as TimeDuration;

fn scanner() -> Actor {
    Actor { account_id: None, login: "scanner".into() }
}

/// How many of one scan's deadlines one system's run may take in all.
const RUN_DEADLINES: u32 = 5;

/// A run still `running` after this long was left by a worker that
/// stopped; another takes it up (twice the longest a run may take).
pub fn stale_after(opts: &ScanOptions) -> time::Duration {
    time::Duration::try_from(opts.deadline * RUN_DEADLINES * 2).unwrap_or(time::Duration::hours(1))
}

/// Runs one queued scan, if any; true when one ran. The scan runs in a
/// task of its own: should the scanner panic on what a server sent, the
/// scan is recorded as failed and the worker goes on (never a scan taken up
/// again and again, never a worker gone quiet).
pub async fn run_one(store: &Store, clock: &std::sync::Arc<dyn Clock>, opts: &ScanOptions) -> Result<bool, StoreError> {
    let Some(run) = store.claim_scan(clock.now(), stale_after(opts)).await? else { return Ok(false) };
    let (s, c, o, r) = (store.clone(), clock.clone(), opts.clone(), run.clone());
    match tokio::spawn(async move { run_claimed(&s, &*c, &o, r).await }).await {
        Ok(result) => result.map(|()| true),
        Err(e) => {
            tracing::error!("the scanner stopped on scan {}: {e}", run.id);
            let ctx = Ctx { now: clock.now(), actor: scanner(), origin: Origin::default() };
            let why = "スキャナが予期しない内部エラーで止まりました (the scanner stopped: internal error)";
            store.finish_scan(&ctx, &run, false, &ScanReport::default(), why).await?;
            Ok(true)
        }
    }
}

/// Scans the systems' targets of a claimed run and records the result.
async fn run_claimed(
    store: &Store,
    clock: &dyn Clock,
    opts: &ScanOptions,
    run: mamori_store::scans::ScanRun,
) -> Result<(), StoreError> {
    let Some(system) = store.system(run.system_id).await? else {
        let ctx = Ctx { now: clock.now(), actor: scanner(), origin: Origin::default() };
        store.finish_scan(&ctx, &run, false, &ScanReport::default(), "the system no longer exists").await?;
        return Ok(());
    };
    let mut report = ScanReport::default();
    let all = async {
        for (target, web) in
            system.input.urls.iter().map(|u| (u, true)).chain(system.input.hosts.iter().map(|h| (h, false)))
        {
            let result = match pin(store, clock, &system, target, opts).await? {
                Pinned::At(ip) if web => scan_at(target, ip, opts).await,
                Pinned::At(ip) => scan_ports_at(target, ip, opts).await,
                Pinned::Unresolved if web => scan(target, opts).await,
                Pinned::Unresolved => scan_ports(target, opts).await,
                Pinned::Held(why) => {
                    report.errors.push(format!("{target}: {why}"));
                    continue;
                }
            };
            match result {
                Ok(r) => report.targets.push(r),
                Err(e) => report.errors.push(format!("{target}: {e}")),
            }
        }
        Ok::<(), StoreError>(())
    };
    match tokio::time::timeout(opts.deadline * RUN_DEADLINES, all).await {
        Ok(done) => done?,
        Err(_) => report.errors.push(format!("the scan did not finish within {:?}", opts.deadline * RUN_DEADLINES)),
    }
    let now = clock.now();
    let worst = report.worst_by_check();
    // Regressions against the previous finished scan.
    let previous =
        store.scans(system.id, 10).await?.into_iter().find(|r| r.id != run.id && r.status == ScanStatus::Done);
    if let Some(before) = previous.and_then(|p| p.report).map(|r| r.worst_by_check()) {
        for (check, verdict) in &worst {
            if *verdict == Verdict::Fail && before.get(check) == Some(&Verdict::Pass) {
                let subject = format!("{}: {}", system.input.name, check.as_str());
                store.raise_alert(now, "scan.regression", Severity::Warning, &subject, "pass → fail").await?;
            }
        }
    }
    for t in &report.targets {
        let days_left = t.check(CheckId::TlsCertificate).and_then(|c| c.evidence["days_left"].as_i64());
        if let Some(days) = days_left.filter(|d| *d < 30) {
            let subject = format!("{}: {}", system.input.name, t.target);
            let detail = format!("{days} days left");
            store.raise_alert(now, "scan.certificate_expiring", Severity::Warning, &subject, &detail).await?;
        }
    }
    let fails = worst.values().filter(|v| **v == Verdict::Fail).count();
    let summary = format!("{} target(s), {fails} failed check(s)", report.targets.len());
    let ctx = Ctx { now, actor: scanner(), origin: Origin::default() };
    let ok = report.errors.is_empty() || !report.targets.is_empty();
    store.finish_scan(&ctx, &run, ok, &report, &summary).await?;
    Ok(())
}

/// Where a target of a system may be scanned.
enum Pinned {
    /// At this address, resolved once for the whole scan of the target.
    At(IpAddr),
    /// Not resolved here (an unreadable address, a name that does not
    /// resolve, or one the policy denies): the scanner says why.
    Unresolved,
    /// Not at all: the name moved to another network since the first scan.
    Held(String),
}

/// Resolves a target's host once and compares its network with the one
/// recorded at the system's first scan. A name in another network is held
/// back, with an alert, until the officer confirms the new address: a
/// vendor that controls its name must not turn the scanner on the ward's
/// own network. Addresses written as such (no name) are taken as they are.
async fn pin(
    store: &Store,
    clock: &dyn Clock,
    system: &mamori_store::systems::SystemRecord,
    target: &str,
    opts: &ScanOptions,
) -> Result<Pinned, StoreError> {
    let Ok(given) = Given::parse(target, opts.http_port) else { return Ok(Pinned::Unresolved) };
    let ip = match given.resolve(&opts.policy, opts.timeout).await {
        Ok(ip) => ip,
        Err(TargetError::Denied(_) | TargetError::Resolve(_) | TargetError::BadUrl(_)) => {
            return Ok(Pinned::Unresolved)
        }
    };
    if given.host.parse::<IpAddr>().is_ok() {
        return Ok(Pinned::At(ip));
    }
    let network = network_of(ip);
    match store.check_scan_address(clock.now(), system.id, &given.host, &ip.to_string(), &network).await? {
        AddressCheck::First | AddressCheck::Same => Ok(Pinned::At(ip)),
        AddressCheck::Moved { address, network: was } => {
            let detail = format!("{address} ({was}) → {ip} ({network})");
            let subject = format!("{}: {}", system.input.name, given.host);
            store.raise_alert(clock.now(), "scan.address_changed", Severity::Warning, &subject, &detail).await?;
            Ok(Pinned::Held(format!(
                "resolves to {ip} ({network}), not {address} ({was}) as at the first scan: not scanned until the security officer confirms the new address"
            )))
        }
    }
}

/// Queues the daily scan of every system with URLs not scanned for a day.
pub async fn schedule(store: &Store, clock: &dyn Clock) -> Result<usize, StoreError> {
    let now = clock.now();
    let due = store.systems_due_for_scan(now - time::Duration::days(1)).await?;
    let ctx = Ctx { now, actor: scanner(), origin: Origin::default() };
    for id in &due {
        store.request_scan(&ctx, *id, None).await?;
    }
    Ok(due.len())
}

/// `[scan]`: the server's scans of systems' URLs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileScan {
    /// Trust anchors for the certificate check (PEM); the public roots otherwise.
    ca_file: Option<PathBuf>,
    http_port: Option<u16>,
    ports: Option<Vec<u16>>,
    timeout_secs: Option<u64>,
    /// How often the worker looks for queued scans.
    poll_secs: Option<u64>,
    /// The most one scan of one URL may take.
    deadline_secs: Option<u64>,
    /// Where scans may connect (CIDR); the longest match decides, a tie
    /// denies. Denied by default: loopback, link-local, metadata,
    /// unspecified and multicast addresses (`mamori_scan::target::DEFAULT_DENIED`).
    allowed_networks: Option<Vec<String>>,
    denied_networks: Option<Vec<String>>,
    /// The least time between two scans of one system a vendor asks for.
    vendor_interval_secs: Option<u64>,
}

/// The scan worker's settings.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub options: mamori_scan::ScanOptions,
    pub poll: Duration,
    pub vendor_gap: TimeDuration,
}

pub(crate) fn resolve_scan(f: &FileScan, errors: &mut Vec<ConfigError>) -> ScanConfig {
    let mut options = mamori_scan::ScanOptions::default();
    if let Some(p) = &f.ca_file {
        match std::fs::read(p) {
            Ok(b) => options.ca_pem = Some(b),
            Err(e) => errors.push(ConfigError(format!("scan.ca_file {} を読めません (cannot read): {e}", p.display()))),
        }
    }
    if let Some(p) = f.http_port {
        options.http_port = p;
    }
    if let Some(p) = &f.ports {
        options.ports = p.clone();
    }
    options.timeout = Duration::from_secs(positive("scan.timeout_secs", f.timeout_secs, 5, errors));
    options.deadline = Duration::from_secs(positive("scan.deadline_secs", f.deadline_secs, 120, errors));
    options.policy = mamori_scan::TargetPolicy::server_default();
    if let Some(nets) = &f.allowed_networks {
        options.policy.allowed = parse_networks("scan.allowed_networks", nets, errors);
    }
    if let Some(nets) = &f.denied_networks {
        options.policy.denied = parse_networks("scan.denied_networks", nets, errors);
    }
    let vendor_gap = positive("scan.vendor_interval_secs", f.vendor_interval_secs, 600, errors);
    ScanConfig {
        options,
        poll: Duration::from_secs(positive("scan.poll_secs", f.poll_secs, 5, errors)),
        vendor_gap: TimeDuration::seconds(vendor_gap as i64),
    }
}
