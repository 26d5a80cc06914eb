//! Test helpers shared by the crates' integration tests.
//!
//! PostgreSQL: `scripts/test` starts a throwaway cluster and exports
//! `MAMORI_TEST_DATABASE_URL` (a superuser URL). Each test gets a database of
//! its own. Without that variable the PostgreSQL leg is skipped loudly on a
//! developer's machine and fails in CI (`CI=true`), where it must run.

use rand::Rng;
use sqlx::{Connection, Executor, PgConnection};

pub const PG_ENV: &str = "MAMORI_TEST_DATABASE_URL";

/// A fresh, empty PostgreSQL database for one test, or `None` (with a loud
/// message) when no test cluster is configured outside CI.
pub async fn fresh_pg_database() -> Option<String> {
    let Ok(admin_url) = std::env::var(PG_ENV) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{PG_ENV} is not set: the PostgreSQL leg must run in CI (scripts/test starts it)");
        }
        eprintln!("\n*** SKIPPED the PostgreSQL leg: {PG_ENV} is not set. Run ./scripts/test to include it. ***\n");
        return None;
    };
    let name = format!("mamori_test_{:016x}", rand::thread_rng().gen::<u64>());
    let mut conn = PgConnection::connect(&admin_url).await.expect("connect to the test PostgreSQL cluster");
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create a test database");
    conn.close().await.ok();
    Some(replace_database(&admin_url, &name))
}

/// Drops a database made by [`fresh_pg_database`], even while connections are open.
pub async fn drop_pg_database(url: &str) {
    let admin_url = std::env::var(PG_ENV).expect("only called after fresh_pg_database");
    let path = url.split('?').next().unwrap_or(url);
    let name = path.rsplit('/').next().expect("a database URL has a path");
    let mut conn = PgConnection::connect(&admin_url).await.expect("connect to the test PostgreSQL cluster");
    conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await
        .expect("drop the test database");
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let prefix = base.rsplit_once('/').map(|(p, _)| p).unwrap_or(base);
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

/// A throwaway clamd on a unix socket in a temporary directory, with one
/// signature: the EICAR test file (by MD5), so no download is needed.
pub struct Clamd {
    pub socket: std::path::PathBuf,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

/// The EICAR anti-malware test string (harmless by design).
pub const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// Starts clamd, or `None` (loudly) when it is not installed outside CI.
pub async fn start_clamd() -> Option<Clamd> {
    let Some(bin) = ["/usr/sbin/clamd", "/usr/bin/clamd"].into_iter().find(|p| std::path::Path::new(p).exists()) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "clamd is not installed: the malware-scan tests must run in CI (scripts/test installs clamav-daemon)"
            );
        }
        eprintln!("\n*** SKIPPED the clamd leg: clamd is not installed. Run ./scripts/test to include it. ***\n");
        return None;
    };
    let dir = tempfile::TempDir::new().expect("a temporary directory");
    let db = dir.path().join("db");
    std::fs::create_dir(&db).expect("the database directory");
    // clamd's hash signature format: md5:size:name.
    std::fs::write(db.join("test.hdb"), "44d88612fea8a8f36de82e1278abb02f:68:Mamori-Test-EICAR\n")
        .expect("signature file");
    let socket = dir.path().join("clamd.sock");
    let conf = dir.path().join("clamd.conf");
    std::fs::write(
        &conf,
        format!(
            "LocalSocket {}\nForeground yes\nDatabaseDirectory {}\nTemporaryDirectory {}\nLogFile {}\nUser root\n",
            socket.display(),
            db.display(),
            dir.path().display(),
            dir.path().join("clamd.log").display()
        ),
    )
    .expect("clamd.conf");
    let child = tokio::process::Command::new(bin)
        .arg(format!("--config-file={}", conf.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start clamd");
    for _ in 0..300 {
        if tokio::net::UnixStream::connect(&socket).await.is_ok() {
            return Some(Clamd { socket, _child: child, _dir: dir });
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("clamd did not open its socket within 30 s");
}
