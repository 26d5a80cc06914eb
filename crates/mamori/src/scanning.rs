//! The server's scan worker: runs queued scans of systems' URLs, stores the
//! results, and raises alerts on regressions and expiring certificates.

use mamori_core::audit::{Actor, Origin};
use mamori_core::clock::Clock;
use mamori_core::monitoring::Severity;
use mamori_core::verification::{CheckId, ScanReport, Verdict};
use mamori_scan::{scan, scan_ports, ScanOptions};
use mamori_store::identity::Ctx;
use mamori_store::scans::ScanStatus;
use mamori_store::{Store, StoreError};

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

/// Runs one queued scan, if any; true when one ran.
pub async fn run_one(store: &Store, clock: &dyn Clock, opts: &ScanOptions) -> Result<bool, StoreError> {
    let Some(run) = store.claim_scan(clock.now(), stale_after(opts)).await? else { return Ok(false) };
    let Some(system) = store.system(run.system_id).await? else {
        let ctx = Ctx { now: clock.now(), actor: scanner(), origin: Origin::default() };
        store.finish_scan(&ctx, &run, false, &ScanReport::default(), "the system no longer exists").await?;
        return Ok(true);
    };
    let mut report = ScanReport::default();
    let all = async {
        for url in &system.input.urls {
            match scan(url, opts).await {
                Ok(r) => report.targets.push(r),
                Err(e) => report.errors.push(format!("{url}: {e}")),
            }
        }
        for host in &system.input.hosts {
            match scan_ports(host, opts).await {
                Ok(r) => report.targets.push(r),
                Err(e) => report.errors.push(format!("{host}: {e}")),
            }
        }
    };
    if tokio::time::timeout(opts.deadline * RUN_DEADLINES, all).await.is_err() {
        report.errors.push(format!("the scan did not finish within {:?}", opts.deadline * RUN_DEADLINES));
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
    Ok(true)
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
