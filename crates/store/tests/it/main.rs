//! Storage tests, each run on SQLite and on a real PostgreSQL.

mod audit;
mod auditlog;
mod catalog;
mod integrity;
mod jobs;
mod keys;
mod notify;
mod pace;
mod pools;
mod revision;
mod schema;
mod sessions;
mod standing;
mod systems;
mod vulns;

use mamori_core::audit::{Actor, Origin};
use mamori_store::accounts::NewAccount;
use mamori_store::audit::Verification;
use mamori_store::identity::Ctx;
use mamori_store::{DatabaseLocation, Store};
use tempfile::TempDir;
use time::OffsetDateTime;

/// A store on a fresh database, and what keeps it alive.
pub struct TestDb {
    pub store: Store,
    pub name: &'static str,
    pub location: DatabaseLocation,
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
    Ctx { now, actor: Actor::system(), origin: Origin::default(), standing: None }
}

/// SQLite always; PostgreSQL when the test cluster is there (required in CI).
pub async fn each_backend() -> Vec<TestDb> {
    let dir = TempDir::new().unwrap();
    let location = DatabaseLocation::in_data_dir(dir.path());
    let store = Store::open(&location, test_keys()).await.unwrap();
    let mut dbs = vec![TestDb { store, name: "sqlite", location, _dir: Some(dir), pg_url: None }];
    if let Some(url) = mamori_testkit::fresh_pg_database().await {
        let location = DatabaseLocation::parse(&url).unwrap();
        let store = Store::open(&location, test_keys()).await.unwrap();
        dbs.push(TestDb { store, name: "postgres", location, _dir: None, pg_url: Some(url) });
    }
    dbs
}

/// A data key of the test's own.
pub fn test_keys() -> std::sync::Arc<mamori_store::crypt::Keyring> {
    std::sync::Arc::new(mamori_store::crypt::Keyring::random_for_tests())
}

/// A new account of `role` in `organisation` (its name and address made of
/// its login; no real password: the tests do not sign in).
pub fn new_account(login: &str, role: mamori_core::identity::Role, organisation_id: Option<i64>) -> NewAccount {
    NewAccount {
        login: mamori_core::identity::Login::parse(login).unwrap(),
        display_name: login.into(),
        email: format!("{login}@example.jp"),
        role,
        organisation_id,
        password_hash: "x".into(),
        must_change_password: false,
    }
}
