//! The server's scan worker: runs queued scans of systems' URLs, stores the
//! results, and raises alerts on regressions and expiring certificates.

use mamori_core::audit::{Actor, Origin};
use mamori_core::clock::Clock;
use mamori_core::monitoring::Severity;
use mamori_scan::{scan, ScanOptions, Verdict};
use mamori_store::identity::Ctx;
use mamori_store::{Store, StoreError};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn scanner() -> Actor {
    Actor { account_id: None, login: "scanner".into() }
}

/// Check id → the worst verdict over the system's URLs, from a stored report.
fn verdicts(report: &Value) -> BTreeMap<String, String> {
    let rank = |v: &str| ["pass", "warn", "error", "fail"].iter().position(|x| *x == v).unwrap_or(0);
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for t in report["targets"].as_array().into_iter().flatten() {
        for c in t["checks"].as_array().into_iter().flatten() {
            let (id, v) = (c["id"].as_str().unwrap_or("").to_owned(), c["verdict"].as_str().unwrap_or("").to_owned());
            if out.get(&id).is_none_or(|old| rank(old) < rank(&v)) {
                out.insert(id, v);
            }
        }
    }
    out
}

/// Runs one queued scan, if any; true when one ran.
pub async fn run_one(store: &Store, clock: &dyn Clock, opts: &ScanOptions) -> Result<bool, StoreError> {
    let Some(run) = store.claim_scan(clock.now()).await? else { return Ok(false) };
    let Some(system) = store.system(run.system_id).await? else {
        let ctx = Ctx { now: clock.now(), actor: scanner(), origin: Origin::default() };
        store.finish_scan(&ctx, &run, false, "{}", "the system no longer exists").await?;
        return Ok(true);
    };
    let mut targets = Vec::new();
    let mut problems = Vec::new();
    for url in system.input.urls.iter().filter(|u| u.starts_with("https://")) {
        match scan(url, opts).await {
            Ok(r) => targets.push(serde_json::to_value(&r).unwrap_or(Value::Null)),
            Err(e) => problems.push(format!("{url}: {e}")),
        }
    }
    let report = json!({ "targets": targets, "errors": problems });
    let now = clock.now();
    // Regressions against the previous finished scan.
    let previous = store.scans(system.id, 10).await?.into_iter().find(|r| r.id != run.id && r.status == "done");
    if let Some(prev) = previous.and_then(|p| p.report).and_then(|r| serde_json::from_str::<Value>(&r).ok()) {
        let before = verdicts(&prev);
        for (check, verdict) in verdicts(&report) {
            if verdict == "fail" && before.get(&check).map(String::as_str) == Some("pass") {
                let subject = format!("{}: {check}", system.input.name);
                store.raise_alert(now, "scan.regression", Severity::Warning, &subject, "pass → fail").await?;
            }
        }
    }
    for t in &targets {
        for c in t["checks"].as_array().into_iter().flatten().filter(|c| c["id"] == "tls.certificate") {
            if let Some(days) = c["evidence"]["days_left"].as_i64().filter(|d| *d < 30) {
                let subject = format!("{}: {}", system.input.name, t["target"].as_str().unwrap_or(""));
                store
                    .raise_alert(
                        now,
                        "scan.certificate_expiring",
                        Severity::Warning,
                        &subject,
                        &format!("{days} days left"),
                    )
                    .await?;
            }
        }
    }
    let fails = verdicts(&report).values().filter(|v| v.as_str() == Verdict::Fail.as_str_lower()).count();
    let summary = format!("{} target(s), {fails} failed check(s)", targets.len());
    let ctx = Ctx { now, actor: scanner(), origin: Origin::default() };
    store.finish_scan(&ctx, &run, problems.is_empty() || !targets.is_empty(), &report.to_string(), &summary).await?;
    Ok(true)
}

/// Queues the daily scan of every system with URLs not scanned for a day.
pub async fn schedule(store: &Store, clock: &dyn Clock) -> Result<usize, StoreError> {
    let now = clock.now();
    let due = store.systems_due_for_scan(now - time::Duration::days(1)).await?;
    let ctx = Ctx { now, actor: scanner(), origin: Origin::default() };
    for id in &due {
        store.request_scan(&ctx, *id).await?;
    }
    Ok(due.len())
}
