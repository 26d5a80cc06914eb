//! The audit core seen from outside: start, stop and configuration errors
//! are recorded; `mamori audit verify` detects tampering; PostgreSQL too.

use crate::harness::{self, run, sqlite_store, Opts, Server};
use mamori_store::{DatabaseLocation, Store};
use std::sync::Arc;
use tempfile::TempDir;

#[tokio::test]
async fn start_and_stop_are_audited_and_the_chain_verifies() {
    let s = Server::start(Opts::default()).await;
    let (_keep, dir) = (s.dir.clone(), s.data_dir());
    assert_eq!(s.stop().await, 0, "SIGTERM ends the server cleanly");
    let store = sqlite_store(&dir).await;
    let events = store.audit_recent(10).await.unwrap();
    store.close().await;
    let actions: Vec<&str> = events.iter().map(|e| e.record.action.as_str()).collect();
    assert_eq!(
        actions,
        ["server.stop", "server.start", "catalog.imported"],
        "the shipped catalog is imported at first start"
    );
    assert_eq!(events[0].record.actor_login, "system");
    assert!(events[0].record.changes.contains("SIGTERM"));
    assert!(events[1].record.changes.contains("self-signed"));

    let (code, out, err) = run(&["audit", "verify", "--data-dir", dir.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("正常") && out.contains("3 件"), "{out}");
}

#[tokio::test]
async fn audit_verify_names_the_tampered_event() {
    let (_keep, dir) = harness::started_once().await;
    let store = sqlite_store(&dir).await;
    store
        .execute_unchecked_for_tests("UPDATE audit_event SET changes = '{\"tls\":\"configured\"}' WHERE seq = 2")
        .await
        .unwrap();
    store.close().await;
    let (code, out, err) = run(&["audit", "verify", "--data-dir", dir.to_str().unwrap()]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("#2"), "{err}");
}

#[tokio::test]
async fn configuration_errors_are_refused_clearly_and_audited() {
    let dir = Arc::new(TempDir::new().unwrap());
    let s = Server::start(Opts::default().data_dir(&dir)).await;
    let data = s.data_dir();
    s.stop().await;

    let (code, _, err) = run(&[
        "serve",
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "not-an-address",
        "--admin-networks",
        "10.0.0.0/99",
    ])
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("listen の値 \"not-an-address\""), "{err}");
    assert!(err.contains("10.0.0.0/99"), "{err}");

    // A port already taken is a configuration error too.
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = blocker.local_addr().unwrap().to_string();
    let (code, _, err) = run(&["serve", "--data-dir", data.to_str().unwrap(), "--listen", &taken]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("待ち受けできません"), "{err}");

    let store = sqlite_store(&data).await;
    let events = store.audit_recent(10).await.unwrap();
    store.close().await;
    let errors: Vec<_> = events.iter().filter(|e| e.record.action == "config.error").collect();
    assert_eq!(errors.len(), 2, "{events:#?}");
    assert!(errors.iter().all(|e| e.record.outcome == "failure"));
    assert!(errors[1].record.changes.contains("not-an-address"));
    assert!(errors[0].record.changes.contains(&taken));
}

#[tokio::test]
async fn a_broken_configuration_never_creates_a_database() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let (code, _, _) = run(&["serve", "--data-dir", data.to_str().unwrap(), "--listen", "x"]).await;
    assert_eq!(code, 2);
    assert!(!data.exists());
}

#[tokio::test]
async fn server_runs_on_postgresql() {
    let Some(url) = mamori_testkit::fresh_pg_database().await else {
        return;
    };
    let s = Server::start(Opts::default().args(&["--database-url", &url])).await;
    let first_dir = s.dir.clone();
    let res = s.get("/healthz").await;
    assert_eq!(res.status(), 200);
    assert!(!s.data_dir().join("mamori.db").exists(), "no SQLite file when PostgreSQL is configured");
    assert_eq!(s.stop().await, 0);

    // DATABASE_URL is honoured as well.
    // (The same data directory: it holds the data key.)
    let s = Server::start(Opts::default().data_dir(&first_dir).env("DATABASE_URL", &url)).await;
    let store = Store::open(&DatabaseLocation::parse(&url).unwrap(), harness::keys_of(&s.data_dir())).await.unwrap();
    let actions: Vec<String> = store.audit_recent(10).await.unwrap().into_iter().map(|e| e.record.action).collect();
    assert_eq!(actions, ["server.start", "server.stop", "server.start", "catalog.imported"]);
    store.close().await;

    // The database goes away: /healthz says so, with the same hygiene, no detail.
    mamori_testkit::drop_pg_database(&url).await;
    let res = s.get("/healthz").await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("x-frame-options").is_some());
    let body = res.text().await.unwrap();
    assert_eq!(body, r#"{"database":"error","status":"error"}"#);
    let res = s.get("/metrics").await;
    assert_eq!(res.status(), 500, "metrics need the database");
    let body = res.text().await.unwrap();
    assert!(body.contains("エラーが発生しました") && !body.to_lowercase().contains("database"), "{body}");
    assert!(!body.contains("sqlx") && !body.contains("postgres"), "{body}");
    s.kill().await;
}

#[tokio::test]
async fn check_config_validates_and_reaches_the_database() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("d");
    std::fs::create_dir(&data).unwrap();
    let (code, out, err) = run(&["check-config", "--data-dir", data.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("設定は正しく"), "{out}");

    let (code, _, err) = run(&["check-config", "--database-url", "mysql://x/y"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("sqlite:// または postgres://"), "{err}");

    let cfg = dir.path().join("mamori.toml");
    std::fs::write(&cfg, "listen = \"127.0.0.1:1\"\nlisen = \"typo\"\n").unwrap();
    let (code, _, err) = run(&["check-config", "--config", cfg.to_str().unwrap()]).await;
    assert_eq!(code, 2);
    assert!(err.contains("lisen"), "an unknown key is named: {err}");
    let _ = harness::BIN;
}

#[tokio::test]
async fn item_29_retention_below_two_years_is_refused() {
    let dir = TempDir::new().unwrap();
    let cfg = dir.path().join("mamori.toml");
    std::fs::write(&cfg, "[audit]\nretention_days = 700\n").unwrap();
    let (code, _, err) =
        run(&["check-config", "--config", cfg.to_str().unwrap(), "--data-dir", dir.path().to_str().unwrap()]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("730日(2年)以上"), "{err}");
    let (code, _, err) =
        run(&["serve", "--config", cfg.to_str().unwrap(), "--data-dir", dir.path().join("d").to_str().unwrap()]).await;
    assert_eq!(code, 2);
    assert!(err.contains("retention"), "{err}");
}

/// The log replaced by `old` events written three years ago, a day apart,
/// then one of now: written through the store, so the chain is valid.
async fn old_log(store: &mamori_store::Store, old: i64) {
    use mamori_core::audit::{Action, Actor, NewEvent, Origin, Outcome};
    store.execute_unchecked_for_tests("DELETE FROM audit_event").await.unwrap();
    store
        .execute_unchecked_for_tests(
            "UPDATE audit_chain SET head_seq = 0, head_hash = '0000000000000000000000000000000000000000000000000000000000000000'",
        )
        .await
        .unwrap();
    let at = time::OffsetDateTime::now_utc() - time::Duration::days(1200);
    for i in 0..old {
        let e = NewEvent::new(Actor::system(), Origin::default(), Action::SignOut, Outcome::Success);
        store.audit_record(at + time::Duration::days(i), e).await.unwrap();
    }
    let e = NewEvent::new(Actor::system(), Origin::default(), Action::SignInSuccess, Outcome::Success);
    store.audit_record(time::OffsetDateTime::now_utc(), e).await.unwrap();
}

#[tokio::test]
async fn audit_export_purge_and_the_archive_kept_in_the_database_on_the_console() {
    use std::io::Read;
    let (_keep, dir) = harness::started_once().await;
    let store = sqlite_store(&dir).await;
    old_log(&store, 4).await;
    store.close().await;
    let d = dir.to_str().unwrap();

    let (code, out, err) =
        run(&["audit", "export", "--format", "jsonl", "--since", "2020-01-01", "--data-dir", d]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 5);
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["action"], "signout");
    let recent = (time::OffsetDateTime::now_utc() - time::Duration::days(1)).date().to_string();
    let (_, out, _) = run(&["audit", "export", "--format", "csv", "--since", &recent, "--data-dir", d]).await;
    assert_eq!(out.lines().count(), 3, "header, the recent event and the first export's: {out}");
    assert!(out.lines().nth(2).is_some_and(|l| l.contains("audit.exported")), "{out}");
    let (code, _, err) = run(&["audit", "export", "--since", "last week", "--data-dir", d]).await;
    assert_eq!(code, 2);
    assert!(err.contains("--since"), "{err}");

    let (code, out, err) = run(&["audit", "purge", "--data-dir", d]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("4 件"), "{out}");
    let archive = dir.join("audit-archive/audit-000000000001-000000000004.jsonl.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&archive).unwrap()).read_to_string(&mut text).unwrap();
    assert_eq!(text.lines().count(), 4, "the archive holds the purged events");
    // The same archive is kept in the database (every instance reads it,
    // every backup carries it): listed, and written out byte for byte.
    let name = "audit-000000000001-000000000004.jsonl.gz";
    let (code, out, err) = run(&["audit", "archives", "--data-dir", d]).await;
    assert_eq!(code, 0, "{err}");
    let file = std::fs::read(&archive).unwrap();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&file));
    assert!(out.starts_with(&format!("{name}\t#1-#4\t{} bytes\tsha256:{sha}", file.len())), "{out}");
    let copy = dir.join("copy.jsonl.gz");
    let (code, _, err) =
        run(&["audit", "archive", "--name", name, "--output", copy.to_str().unwrap(), "--data-dir", d]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&copy).unwrap(), file);
    let (code, _, err) = run(&["audit", "archive", "--name", "audit-9.jsonl.gz", "--data-dir", d]).await;
    assert_eq!(code, 1);
    assert!(err.contains("audit archives"), "{err}");
    // Every export from the console is audited, as the web page's is: the
    // two exports with their counts, the archive by its name (the missing
    // one is no export).
    let store = sqlite_store(&dir).await;
    let exports: Vec<(String, String)> = store
        .audit_recent(100)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .filter(|e| e.record.action == "audit.exported")
        .map(|e| (e.record.actor_login.clone(), e.record.changes.clone()))
        .collect();
    store.close().await;
    assert_eq!(exports.len(), 3, "{exports:?}");
    assert!(exports.iter().all(|(who, _)| who.starts_with("console")), "{exports:?}");
    assert!(exports[0].1.contains("\"format\":\"jsonl\"") && exports[0].1.contains("\"events\":5"), "{exports:?}");
    assert!(exports[1].1.contains("\"format\":\"csv\"") && exports[1].1.contains("\"events\":2"), "{exports:?}");
    assert!(exports[2].1.contains(&format!("\"archive\":\"{name}\"")), "{exports:?}");
    let (code, out, _) = run(&["audit", "verify", "--data-dir", d]).await;
    assert_eq!(code, 0, "the chain verifies from its new anchor: {out}");
    let (_, out, _) = run(&["audit", "purge", "--data-dir", d]).await;
    assert!(out.contains("ありません"), "{out}");
}

/// Someone with the database's files changes an event older than the
/// retention: `audit verify` fails, but the purge archived the changed
/// event with the rest, moved the anchor past it, and from then on the
/// chain verified, the tampering purged with it. Now a purge over events
/// that do not verify removes nothing and says why, the job's as the
/// console's (both purge through one function), and verify still fails.
#[tokio::test]
async fn a_purge_over_changed_or_removed_events_removes_nothing_and_the_chain_still_fails_to_verify() {
    let (_keep, dir) = harness::started_once().await;
    let d = dir.to_str().unwrap();
    let store = sqlite_store(&dir).await;
    old_log(&store, 6).await;
    let count = || async {
        let store = sqlite_store(&dir).await;
        let n = store.audit_recent(100).await.unwrap().len();
        store.close().await;
        n
    };
    // One event changed; then, on a copy of the log put right, one removed.
    store
        .execute_unchecked_for_tests("UPDATE audit_event SET changes = '{\"note\":\"x\"}' WHERE seq = 2")
        .await
        .unwrap();
    store.close().await;
    for (what, (code, _, err)) in [
        ("verify", run(&["audit", "verify", "--data-dir", d]).await),
        ("purge", run(&["audit", "purge", "--data-dir", d]).await),
    ] {
        assert_eq!(code, 1, "{what}: {err}");
        if what == "purge" {
            assert!(
                err.contains("監査ログの連鎖が壊れている") && err.contains("事象 #2 の内容がハッシュと一致しません"),
                "{err}"
            );
        }
    }
    assert_eq!(count().await, 7, "nothing removed");
    assert!(!dir.join("audit-archive/audit-000000000001-000000000006.jsonl.gz").exists(), "no archive written");
    let (code, out, _) = run(&["audit", "verify", "--data-dir", d]).await;
    assert_eq!(code, 1, "the change is still found: {out}");

    let store = sqlite_store(&dir).await;
    store.execute_unchecked_for_tests("DELETE FROM audit_event WHERE seq = 2").await.unwrap();
    store.close().await;
    let (code, _, err) = run(&["audit", "purge", "--data-dir", d]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("事象 #2 が見つかりません"), "{err}");
    assert_eq!(count().await, 6, "nothing removed");
}

/// `mamori verify` checks a data directory as a restore must leave it: the
/// schema, the audit chain and every stored file's bytes against its
/// SHA-256. A changed evidence file and a lost library revision are named
/// by their ids and fail the command; an intact directory passes.
#[tokio::test]
async fn verify_checks_the_schema_the_chain_and_every_stored_file_and_names_what_changed() {
    let (_keep, dir) = harness::started_once().await;
    let d = dir.to_str().unwrap();
    harness::create_orgs(d).await;
    let store = sqlite_store(&dir).await;
    let (sys, _) = harness::create_web_system(&store, vec![]).await;
    let ctx = harness::system_ctx();
    let sha = |b: &[u8]| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b));
    let (a, b) = (b"first file".as_slice(), b"second file".as_slice());
    for bytes in [a, b] {
        let e = mamori_store::evidence::NewEvidence {
            number: 1,
            original_name: "a.txt",
            content_type: "text/plain",
            sha256: &sha(bytes),
            expires_on: None,
            content: bytes,
            replaces: None,
            by: None,
        };
        store.add_evidence(&ctx, sys, &e).await.unwrap();
    }
    let vendor = store.organisations().await.unwrap().into_iter().find(|o| o.name == "ベンダーA").unwrap().id;
    let doc = mamori_store::library::NewDocFile {
        original_name: "chart.txt",
        content_type: "text/plain",
        sha256: &sha(b"chart"),
        expires_on: None,
        content: b"chart",
    };
    store.add_document(&ctx, vendor, "体制図", &doc).await.unwrap();
    store.close().await;

    let (code, out, err) = run(&["verify", "--data-dir", d]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("スキーマ: 版") && out.contains("監査ログ: 正常") && out.contains("3 件を検証"), "{out}");

    let store = sqlite_store(&dir).await;
    let second = store.evidence_for(sys, 1, 1).await.unwrap()[1].id;
    store
        .execute_unchecked_for_tests(&format!(
            "UPDATE evidence_content SET content = X'00' WHERE evidence_id = {second}"
        ))
        .await
        .unwrap();
    store.execute_unchecked_for_tests("DELETE FROM document_content").await.unwrap();
    store.close().await;
    let (code, out, err) = run(&["verify", "--data-dir", d]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains(&format!("証跡 #{second}: 内容がハッシュと一致しません")), "{err}");
    assert!(err.contains("ライブラリの文書の版 #1: 内容がありません"), "{err}");
    assert!(!err.contains(&format!("証跡 #{}:", second - 1)), "the intact file is not named: {err}");
}

/// `mamori verify` and `mamori audit verify` where there is no mamori
/// data (a mistyped `--data-dir`, the database file lost or left empty, an
/// empty PostgreSQL database) fail and prepare nothing. Before, each made
/// a new database (or migrated the empty one and imported the catalog)
/// and reported it sound, and the recovery procedure reads exit 0 as "the
/// data is intact".
#[tokio::test]
async fn verifying_where_there_is_no_mamori_data_fails_and_prepares_nothing() {
    let root = tempfile::TempDir::new().unwrap();
    let typo = root.path().join("mamori-dat");
    let d = typo.to_str().unwrap();
    for cmd in [vec!["verify", "--data-dir", d], vec!["audit", "verify", "--data-dir", d]] {
        let (code, out, err) = run(&cmd).await;
        assert_eq!(code, 1, "{cmd:?}: {out}{err}");
        assert!(err.contains("mamori のデータがありません"), "{cmd:?}: {err}");
        assert!(!typo.exists(), "{cmd:?}: nothing created");
    }
    // A data directory whose database file was lost, its key still there;
    // then the file there but empty.
    let (_keep, dir) = harness::started_once().await;
    let db = dir.join("mamori.db");
    std::fs::remove_file(&db).unwrap();
    let (code, _, err) = run(&["verify", "--data-dir", dir.to_str().unwrap()]).await;
    assert_eq!(code, 1, "{err}");
    assert!(!db.exists(), "not made afresh");
    std::fs::write(&db, b"").unwrap();
    for cmd in [vec!["verify"], vec!["audit", "verify"]] {
        let (code, out, err) = run(&[cmd.as_slice(), &["--data-dir", dir.to_str().unwrap()]].concat()).await;
        assert_eq!(code, 1, "{cmd:?}: {out}{err}");
        assert!(err.contains("mamori のデータがありません"), "{cmd:?}: {err}");
        assert_eq!(std::fs::metadata(&db).unwrap().len(), 0, "{cmd:?}: the empty file is left as it was");
    }
    // An empty PostgreSQL database (a wiped one, or a mistyped name).
    let Some(url) = mamori_testkit::fresh_pg_database().await else { return };
    let pg_dir = tempfile::TempDir::new().unwrap();
    for cmd in [vec!["verify"], vec!["audit", "verify"]] {
        let args = [cmd.as_slice(), &["--data-dir", pg_dir.path().to_str().unwrap(), "--database-url", &url]].concat();
        let (code, out, err) = run(&args).await;
        assert_eq!(code, 1, "{cmd:?}: {out}{err}");
        assert!(err.contains("mamori のデータがありません"), "{cmd:?}: {err}");
    }
    let location = mamori_store::DatabaseLocation::Postgres(url.clone());
    assert!(!location.holds_mamori().await.unwrap(), "nothing migrated into it");
    mamori_testkit::drop_pg_database(&url).await;
}

/// Settings far beyond any use are refused with a message, as 0 is: a
/// huge duration stopped the server with a panic (a date moved past the
/// calendar), and a count of 2^32 wrapped to 0 past "at least 1" (no
/// sign-in failure allowed from any address); a wait of 2^63 seconds
/// between looks for due work stopped the job worker or the notifier.
#[tokio::test]
async fn settings_beyond_any_use_are_refused_with_a_message_never_a_panic_or_a_wrap() {
    let dir = TempDir::new().unwrap();
    let cfg = dir.path().join("mamori.toml");
    for (section, key, value) in [
        ("security", "password_max_age_days", "200000000000000"),
        ("security", "session_idle_minutes", "9223372036854775807"),
        ("security", "address_max_failures", "4294967296"),
        ("security", "block_max_failures", "4294967296"),
        ("security", "account_max_signins", "4294967296"),
        ("security", "lockout_failures", "5000000"),
        ("audit", "retention_days", "9223372036854775807"),
        ("audit", "spike_floor", "4294967296"),
        ("notify", "remind_after_hours", "9223372036854775807"),
        ("scan", "timeout_secs", "9223372036854775807"),
        // A wait that overflowed the clock stopped the job worker, or the
        // notifier, with a panic on its first tick; no job ran again.
        ("jobs", "poll_secs", "9223372036854775807"),
        ("notify", "poll_secs", "9223372036854775807"),
        ("scan", "poll_secs", "3601"),
        // A stored file of 1 GiB was backed up "verified" and could not be
        // restored (a restore reads chunks of at most 1 GiB).
        ("evidence", "max_mb", "1024"),
    ] {
        std::fs::write(&cfg, format!("[{section}]\n{key} = {value}\n")).unwrap();
        let (code, out, err) =
            run(&["check-config", "--config", cfg.to_str().unwrap(), "--data-dir", dir.path().to_str().unwrap()]).await;
        assert_eq!(code, 2, "{key} = {value}: {out}{err}");
        assert!(err.contains(key) && err.contains("以下"), "{key}: {err}");
        assert!(!err.contains("panicked"), "{key}: {err}");
    }
}

/// The audit log's export is written a page at a time: 100,000 events of
/// about a kilobyte each (over 100 MB of CSV) leave the server's peak
/// memory under its size before the export + 48 MB; every event is in the
/// file once, in the chain's order, and the export is audited with its
/// count.
#[tokio::test]
async fn an_export_of_a_long_audit_log_streams_every_event_in_bounded_memory() {
    use crate::harness::{create_user, memory, reset_peak, MB};
    use futures_util::StreamExt;
    const EVENTS: i64 = 100_000;
    let dir = Arc::new(TempDir::new().unwrap());
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let (code, _, err) = create_user(d, "auditor1", "監査 一郎", "a@x.jp", "auditor", None, "Correct-Horse-42\n").await;
    assert_eq!(code, 0, "{err}");
    let s = Server::start(Opts::default().data_dir(&dir)).await;
    let r = s.first_sign_in("auditor1", "Correct-Horse-42", "Battery-Staple-43").await;
    if r.headers().get("location").is_some_and(|l| l == "/account/totp") {
        assert_eq!(s.enrol_second_factor().await.status(), 303);
    }

    // A long log, written beside the running server in one transaction.
    let store = sqlite_store(&data).await;
    let note = "監査証跡".repeat(80);
    store
        .execute_unchecked_for_tests(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {EVENTS}) \
             INSERT INTO audit_event (seq, occurred_at_us, actor_login, action, changes, outcome, prev_hash, hash) \
             SELECT (SELECT head_seq FROM audit_chain) + i, 1764000000000000 + i, 'filler', 'signin.failure', \
                    '{{\"note\":\"{note}\",\"i\":' || i || '}}', 'failure', '', '' FROM n; \
             UPDATE audit_chain SET head_seq = head_seq + {EVENTS};"
        ))
        .await
        .unwrap();

    let pid = s.pid();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (idle, _) = memory(pid);
    reset_peak(pid);
    let r = s.get("/audit/export.csv?actor=filler").await;
    assert_eq!(r.status(), 200);
    let (mut total, mut rows, mut line) = (0usize, 0i64, Vec::new());
    let mut first_seq = None;
    let mut body = r.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("the whole file arrives");
        total += chunk.len();
        for &b in chunk.iter() {
            if b != b'\n' {
                line.push(b);
                continue;
            }
            let text = String::from_utf8(std::mem::take(&mut line)).unwrap();
            if text.starts_with("\u{feff}seq,") {
                continue;
            }
            let seq: i64 = text.split(',').next().unwrap().parse().unwrap_or_else(|_| panic!("{text}"));
            let first = *first_seq.get_or_insert(seq);
            assert_eq!(seq, first + rows, "each event once, in order");
            assert!(text.contains(&note) && text.contains(&format!("\"\"i\"\":{}}}", rows + 1)), "{text}");
            rows += 1;
        }
    }
    let (now, peak) = memory(pid);
    assert_eq!(rows, EVENTS, "every event is in the file");
    assert!(total > 100 * MB as usize, "{} MB", total / MB as usize);
    assert!(peak < idle + 48 * MB, "peak {} MB, idle {} MB, after {} MB", peak / MB, idle / MB, now / MB);
    println!("export of {} MB: idle {} MB, peak {} MB", total / MB as usize, idle / MB, peak / MB);

    let exported = store.audit_recent(1).await.unwrap().remove(0);
    assert_eq!(exported.record.action, "audit.exported");
    assert!(exported.record.changes.contains(&format!("\"events\":{EVENTS}")), "{}", exported.record.changes);
    store.close().await;
    s.stop().await;
}
