//! The audit viewer at two years' scale: 10 million events in SQLite, and
//! the time to the first page of each kind of filter.
//!
//! `cargo bench -p mamori-store --bench audit_page [-- EVENTS]`
//! Target (issue "Audit log viewer"): the filtered first page in under 50 ms.

use mamori_store::auditlog::AuditFilter;
use mamori_store::{DatabaseLocation, Store};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

const TARGET_MS: f64 = 50.0;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let events: i64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10_000_000);
    let dir = tempfile::TempDir::new().expect("temporary directory");
    let store = Store::open(
        &DatabaseLocation::in_data_dir(dir.path()),
        std::sync::Arc::new(mamori_store::crypt::Keyring::random_for_tests()),
    )
    .await
    .expect("open");
    // One event every 6 s for `events` events: 10 million cover two years.
    let step_us: i64 = 6_000_000;
    let end = OffsetDateTime::now_utc();
    let start_us = mamori_core::clock::to_unix_micros(end) - events * step_us;
    let started = Instant::now();
    let chunk = 500_000i64;
    let mut from = 1;
    while from <= events {
        let to = (from + chunk - 1).min(events);
        // Generated in SQL: the point is the query, not the generator.
        let sql = format!(
            "WITH RECURSIVE c(x) AS (SELECT {from} UNION ALL SELECT x + 1 FROM c WHERE x < {to}) \
             INSERT INTO audit_event (seq, occurred_at_us, actor_account_id, actor_login, client_addr, user_agent, action, \
             target_type, target_id, changes, outcome, request_id, prev_hash, hash) \
             SELECT x, {start_us} + x * {step_us}, x % 500, 'user' || (x % 500), '10.0.' || (x % 7) || '.' || (x % 250), 'bench', \
             CASE x % 20 WHEN 0 THEN 'signin.failure' WHEN 1 THEN 'account.locked' WHEN 2 THEN 'answer.saved' \
             WHEN 3 THEN 'evidence.uploaded' ELSE 'signin.success' END, \
             'account', CAST(x % 500 AS TEXT), '{{}}', CASE x % 20 WHEN 0 THEN 'failure' ELSE 'success' END, \
             printf('%016x', x), 'p', 'h' FROM c"
        );
        store.execute_unchecked_for_tests(&sql).await.expect("generate");
        from = to + 1;
    }
    store
        .execute_unchecked_for_tests(&format!(
            "UPDATE audit_chain SET head_seq = {events}, head_hash = 'h' WHERE id = 1"
        ))
        .await
        .expect("head");
    store.execute_unchecked_for_tests("ANALYZE").await.expect("analyze");
    println!("generated {events} events in {:.1} s", started.elapsed().as_secs_f64());

    let day = time::Duration::days(1);
    // A day in the middle of the history (a year ago for 10 million events).
    let mid = end - time::Duration::microseconds(events * step_us / 2);
    let cases: Vec<(&str, AuditFilter)> = vec![
        ("no filter", AuditFilter::default()),
        ("actor", AuditFilter { actor_login: Some("user42".into()), ..Default::default() }),
        ("action (5%)", AuditFilter { action: Some("signin.failure".into()), ..Default::default() }),
        ("client address", AuditFilter { client_addr: Some("10.0.3.17".into()), ..Default::default() }),
        (
            "actor + action",
            AuditFilter {
                actor_login: Some("user40".into()),
                action: Some("signin.failure".into()),
                ..Default::default()
            },
        ),
        ("last day", AuditFilter { from: Some(end - day), ..Default::default() }),
        ("one day mid-history", AuditFilter { from: Some(mid), until: Some(mid + day), ..Default::default() }),
        (
            "one day mid-history + action",
            AuditFilter {
                from: Some(mid),
                until: Some(mid + day),
                action: Some("account.locked".into()),
                ..Default::default()
            },
        ),
        (
            "target",
            AuditFilter { target_type: Some("account".into()), target_id: Some("7".into()), ..Default::default() },
        ),
    ];
    println!("\n| filter | first page (50) median | p95 | target |");
    println!("|---|---|---|---|");
    let mut worst: f64 = 0.0;
    for (name, f) in &cases {
        let mut times = Vec::new();
        for _ in 0..21 {
            let t = Instant::now();
            let page = store.audit_page(f, None, 51).await.expect("page");
            times.push(t.elapsed());
            assert!(!page.is_empty(), "{name}: no events");
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let (median, p95) = (ms(times[10]), ms(times[19]));
        worst = worst.max(median);
        println!("| {name} | {median:.2} ms | {p95:.2} ms | < {TARGET_MS} ms |");
    }
    println!(
        "\nworst median {worst:.2} ms against the target of {TARGET_MS} ms: {}",
        if worst < TARGET_MS { "met" } else { "NOT met" }
    );
    store.close().await;
}
