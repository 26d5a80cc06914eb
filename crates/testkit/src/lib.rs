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
