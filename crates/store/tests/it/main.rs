//! Storage tests, each run on SQLite and on a real PostgreSQL.

mod audit;
mod auditlog;
mod catalog;
mod schema;
mod systems;

use mamori_store::{DatabaseLocation, Store};
use tempfile::TempDir;

/// A store on a fresh database, and what keeps it alive.
pub struct TestDb {
    pub store: Store,
    pub name: &'static str,
    _dir: Option<TempDir>,
    pg_url: Option<String>,
}

impl TestDb {
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some(url) = &self.pg_url {
            mamori_testkit::drop_pg_database(url).await;
        }
    }
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
