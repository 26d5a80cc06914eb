//! Storage tests, each run on SQLite and on a real PostgreSQL.

mod audit;
mod auditlog;
mod catalog;
mod integrity;
mod revision;
mod schema;
mod systems;

use mamori_core::audit::{Actor, Origin};
use mamori_store::audit::Verification;
use mamori_store::identity::Ctx;
use mamori_store::{DatabaseLocation, Store};
use tempfile::TempDir;
use time::OffsetDateTime;

/// A store on a fresh database, and what keeps it alive.
pub struct TestDb {
    pub store: Store,
    pub name: &'static str,
    _dir: Option<TempDir>,
    pg_url: Option<String>,
}

impl TestDb {
    /// Verifying the audit chain gives `want`.
    pub async fn assert_chain(&self, want: Verification) {
        assert_eq!(self.store.audit_verify().await.unwrap(), want, "{}", self.name);
    }

    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some(url) = &self.pg_url {
            mamori_testkit::drop_pg_database(url).await;
        }
    }
}

/// A change made by the system itself at `now`.
pub fn system_ctx(now: OffsetDateTime) -> Ctx {
    Ctx { now, actor: Actor::system(), origin: Origin::default() }
}

/// SQLite always; PostgreSQL when the test cluster is there (required in CI).
pub async fn each_backend() -> Vec<TestDb> {
    let dir = TempDir::new().unwrap();
    let store = Store::open(&DatabaseLocation::in_data_dir(dir.path())).await.unwrap();
    let mut dbs = vec![TestDb { store, name: "sqlite", _dir: Some(dir), pg_url: None }];
    if let Some(url) = mamori_testkit::fresh_pg_database().await {
        let store = Store::open(&DatabaseLocation::parse(&url).unwrap()).await.unwrap();
        dbs.push(TestDb { store, name: "postgres", _dir: None, pg_url: Some(url) });
    }
    dbs
}
