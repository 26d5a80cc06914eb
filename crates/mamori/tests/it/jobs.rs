//! The server's scheduled work: two instances on one PostgreSQL run each of
//! 200 queued scans and each of the day's jobs exactly once; the daily
//! backup is taken by the server itself, and a failed one is retried,
//! alerted and shown on /healthz.

use crate::harness::{system_ctx, Opts, Server};
use mamori_core::identity::OrgKind;
use mamori_store::crypt::Keyring;
use mamori_store::{DatabaseLocation, Store};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// Waits until `done` holds, at most `secs` seconds.
async fn until<F: std::future::Future<Output = bool>>(secs: u64, what: &str, mut done: impl FnMut() -> F) {
    let end = std::time::Instant::now() + Duration::from_secs(secs);
    while !done().await {
        assert!(std::time::Instant::now() < end, "not within {secs} s: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn two_instances_on_one_postgresql_run_each_of_200_queued_scans_and_each_of_the_days_jobs_exactly_once() {
    let Some(url) = mamori_testkit::fresh_pg_database().await else {
        return;
    };
    let key = mamori_store::crypt::new_key_line(1);
    let (a_dir, b_dir) = (Arc::new(TempDir::new().unwrap()), Arc::new(TempDir::new().unwrap()));
    let cfg = a_dir.path().join("mamori.toml");
    std::fs::write(&cfg, "[scan]\npoll_secs = 1\n[jobs]\npoll_secs = 1\nreminders_at = \"00:00\"\n").unwrap();
    let opts = |dir: &Arc<TempDir>| {
        Opts::default()
            .data_dir(dir)
            .args(&["--database-url", &url, "--config", cfg.to_str().unwrap()])
            .env("MAMORI_DATA_KEY", &key)
    };
    let today = mamori_core::jst::format_jst_date(time::OffsetDateTime::now_utc());
    let (a, b) = tokio::join!(Server::start(opts(&a_dir)), Server::start(opts(&b_dir)));

    // 200 systems, each with a scan queued, while both instances run.
    let keys = Arc::new(Keyring::from_text(&key, None).unwrap());
    let store = Store::open(&DatabaseLocation::parse(&url).unwrap(), keys).await.unwrap();
    let ctx = system_ctx();
    let department = store.create_organisation_audited(&ctx, "総務課", OrgKind::Department, "").await.unwrap();
    let vendor = store.create_organisation_audited(&ctx, "ベンダーA", OrgKind::Vendor, "").await.unwrap();
    assert!(department > 0 && vendor > 0);
    let (_, mut input) = crate::harness::create_web_system(&store, vec![]).await;
    let version = store.catalog_versions().await.unwrap()[0].id;
    let mut systems = Vec::new();
    for i in 0..200 {
        input.name = format!("システム {i}");
        let id = store.create_system(&ctx, &input, version).await.unwrap();
        store.request_scan(&ctx, id, None).await.unwrap();
        systems.push(id);
    }
    let sql = |q: &'static str| {
        let url = url.clone();
        async move {
            let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
            sqlx::query_scalar::<_, i64>(q).fetch_one(&mut c).await.unwrap()
        }
    };
    let sql = &sql;
    let done = "SELECT COUNT(*) FROM scan_run WHERE status = 'done'";
    until(120, "every scan finished", || async move { sql(done).await >= 200 }).await;

    // One run and one audit event per scan: none twice, none lost.
    let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let events: Vec<String> = sqlx::query_scalar("SELECT changes FROM audit_event WHERE action = 'scan.finished'")
        .fetch_all(&mut c)
        .await
        .unwrap();
    let mut per_scan: HashMap<i64, usize> = HashMap::new();
    for changes in &events {
        let v: serde_json::Value = serde_json::from_str(changes).unwrap();
        *per_scan.entry(v["scan"].as_i64().unwrap_or_else(|| panic!("{changes}"))).or_default() += 1;
    }
    assert_eq!(per_scan.len(), 200, "the 200 queued");
    assert!(per_scan.values().all(|n| *n == 1), "a scan finished twice: {per_scan:?}");
    assert_eq!(sql("SELECT COUNT(*) FROM scan_run WHERE status <> 'done'").await, 0);

    // The day's jobs: one run each, done at the first attempt, by one of the two.
    let daily_done = "SELECT COUNT(*) FROM job WHERE state = 'done' AND kind <> 'signins.watch'";
    until(30, "the day's jobs done", || async move { sql(daily_done).await >= 6 }).await;
    // Unless midnight in Japan passed during the test (a second day's runs
    // may or may not be queued yet), the day's runs are counted.
    if mamori_core::jst::format_jst_date(time::OffsetDateTime::now_utc()) == today {
        let runs: Vec<(String, String, String, i64, Option<String>)> =
            sqlx::query_as("SELECT kind, run_key, state, attempts, claimed_by FROM job ORDER BY kind")
                .fetch_all(&mut c)
                .await
                .unwrap();
        let daily: Vec<&str> = runs.iter().filter(|r| r.0 != "signins.watch").map(|r| r.0.as_str()).collect();
        assert_eq!(
            daily,
            [
                "accounts.disable_inactive",
                "audit.purge",
                "audit.verify",
                "inventory.check_support",
                "reminders.send",
                "scans.queue_daily"
            ],
            "each daily kind once, no backup without [backup]: {runs:?}"
        );
        assert!(runs.iter().filter(|r| r.0 != "signins.watch").all(|r| r.1 == today), "today's: {runs:?}");
        let (pa, pb) = (format!(":{}", a.pid()), format!(":{}", b.pid()));
        // (The watch of a ten-minute slot begun meanwhile may still be running.)
        for (kind, key, state, attempts, by) in runs.iter().filter(|r| r.0 != "signins.watch" || r.2 == "done") {
            assert_eq!((state.as_str(), *attempts), ("done", 1), "{kind} {key}");
            let by = by.as_deref().unwrap_or_default();
            assert!(by.ends_with(&pa) || by.ends_with(&pb), "{kind} run by {by}");
        }
    }
    drop(c);
    store.close().await;
    a.stop().await;
    b.stop().await;
    mamori_testkit::drop_pg_database(&url).await;
}

#[tokio::test]
async fn the_server_takes_the_daily_backup_itself_and_a_failed_one_is_alerted_retried_and_shown_on_healthz() {
    // Configured: at 00:00 Japan time, so due whenever the test runs.
    let root = TempDir::new().unwrap();
    let (to, second) = (root.path().join("backups"), root.path().join("second"));
    let pass = root.path().join("passphrase");
    std::fs::write(&pass, "a long passphrase for the ward\n").unwrap();
    let cfg = root.path().join("mamori.toml");
    std::fs::write(
        &cfg,
        format!(
            "[jobs]\npoll_secs = 1\n[backup]\ndir = {:?}\ncopy_to = {:?}\npassphrase_file = {:?}\nat = \"00:00\"\n",
            to, second, pass
        ),
    )
    .unwrap();
    let s = Server::start(Opts::default().args(&["--config", cfg.to_str().unwrap()])).await;
    // Finished archives only: a copy being written is a hidden `.….partial`
    // until it is whole (seen mid-copy, it failed the comparison below).
    let listed = |dir: std::path::PathBuf| async move {
        std::fs::read_dir(&dir)
            .map(|d| d.map(|e| e.unwrap().file_name().into_string().unwrap()).filter(|n| !n.starts_with('.')).collect())
            .unwrap_or_else(|_| Vec::<String>::new())
    };
    until(60, "the archive and its copy", || {
        let (to, second) = (to.clone(), second.clone());
        async move { listed(to).await.len() == 1 && listed(second).await.len() == 1 }
    })
    .await;
    let name = listed(to.clone()).await.remove(0);
    assert!(name.starts_with("mamori-") && name.ends_with(".tar.age"), "sealed: {name}");
    assert_eq!(listed(second.clone()).await, vec![name.clone()], "the same archive in the second location");
    let store = crate::harness::sqlite_store(&s.data_dir()).await;
    let job = store.jobs(50).await.unwrap().into_iter().find(|j| j.kind == mamori_core::jobs::JobKind::Backup).unwrap();
    until(10, "the run recorded", || {
        let store = store.clone();
        async move {
            store.jobs(50).await.unwrap().iter().any(|j| j.id == job.id && j.state == mamori_core::jobs::JobState::Done)
        }
    })
    .await;
    let job = store.jobs(50).await.unwrap().into_iter().find(|j| j.id == job.id).unwrap();
    assert_eq!((job.outcome.as_str(), job.attempts), (name.as_str(), 1));
    let taken = store.audit_recent(20).await.unwrap().into_iter().find(|e| e.record.action == "backup.taken").unwrap();
    assert_eq!((taken.record.actor_login.as_str(), taken.record.outcome.as_str()), ("system", "success"));
    let health: serde_json::Value = s.get("/healthz").await.json().await.unwrap();
    assert_eq!(health["backup"]["last"], "ok", "{health}");
    store.close().await;
    s.stop().await;

    // The backup folder is a file: the attempt fails, a critical alert is
    // raised, the run waits to be tried again, and /healthz says so.
    let blocked = root.path().join("not-a-folder");
    std::fs::write(&blocked, "").unwrap();
    // At 00:00 Japan time again: the default, 02:00, is not due between
    // midnight and two in Japan, and the test failed at that hour.
    std::fs::write(
        &cfg,
        format!("[jobs]\npoll_secs = 1\n[backup]\ndir = {blocked:?}\nunencrypted = true\nat = \"00:00\"\n"),
    )
    .unwrap();
    let s = Server::start(Opts::default().args(&["--config", cfg.to_str().unwrap()])).await;
    let store = crate::harness::sqlite_store(&s.data_dir()).await;
    until(60, "the failed attempt recorded", || {
        let store = store.clone();
        async move { store.job_counts(time::OffsetDateTime::now_utc()).await.unwrap().retrying == 1 }
    })
    .await;
    let job = store.jobs(50).await.unwrap().into_iter().find(|j| j.kind == mamori_core::jobs::JobKind::Backup).unwrap();
    assert_eq!((job.state, job.attempts), (mamori_core::jobs::JobState::Queued, 1));
    assert!(job.run_after > time::OffsetDateTime::now_utc(), "waits before the next attempt");
    assert!(!job.outcome.is_empty(), "the error is kept");
    let alert = store.alerts(true).await.unwrap().into_iter().find(|a| a.kind == "backup.failed").expect("alerted");
    assert_eq!(alert.severity, "critical");
    let health: serde_json::Value = s.get("/healthz").await.json().await.unwrap();
    assert_eq!(
        (health["backup"]["last"].as_str(), health["jobs"]["retrying"].as_i64()),
        (Some("failed"), Some(1)),
        "{health}"
    );
    store.close().await;
    s.stop().await;

    // Neither a passphrase nor `unencrypted`: the server refuses to start.
    std::fs::write(&cfg, format!("[backup]\ndir = {to:?}\n")).unwrap();
    let err =
        Server::try_start(Opts::default().args(&["--config", cfg.to_str().unwrap()])).await.err().expect("refused");
    assert!(err.contains("backup") && err.contains("パスフレーズがありません"), "{err}");
    // Object storage over plain HTTP, or without its secret: refused too.
    for (endpoint, why) in [("http://127.0.0.1:9", "HTTPS"), ("https://127.0.0.1:9", "MAMORI_S3_SECRET_KEY")] {
        let s3 = format!("[backup.s3]\nendpoint = \"{endpoint}\"\nbucket = \"b\"\naccess_key = \"k\"\n");
        std::fs::write(&cfg, format!("[backup]\ndir = {to:?}\nunencrypted = true\n{s3}")).unwrap();
        let err =
            Server::try_start(Opts::default().args(&["--config", cfg.to_str().unwrap()])).await.err().expect("refused");
        assert!(err.contains("backup.s3") && err.contains(why), "{err}");
    }
}
