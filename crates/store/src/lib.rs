//! Persistence for mamori. One schema in two dialects: SQLite (the default,
//! a file in the data directory) and PostgreSQL (for several instances).
//! Every query is parameterised (checklist item 47).
//!
//! Each aggregate has its own module; a module's queries run on a [`Tx`] so
//! that a change and its audit event commit together or not at all.

pub mod accounts;
pub mod audit;
pub mod auditlog;
pub mod backup;
pub mod catalog;
mod context;
pub mod crypt;
mod db;
mod error;
pub mod evidence;
pub mod figures;
pub mod identity;
pub mod integrity;
pub mod inventory;
pub mod jobs;
pub mod keys;
pub mod library;
mod matching;
pub mod notices;
pub mod notify;
mod pace;
pub mod parties;
pub mod pending;
pub mod records;
pub mod revision;
pub mod scans;
pub mod sessions;
pub mod systems;
pub mod vulns;
pub mod yearly;

pub use db::{Backend, DatabaseLocation, PoolStats, Tx};
pub use error::StoreError;
pub(crate) use error::{corrupt, opt_timestamp, parsed, timestamp};
pub use pace::Full;

/// A mark of the values an edit form shows (see [`accounts::Account::edit_mark`],
/// [`systems::SystemInput::edit_mark`]): the form carries the mark of what
/// it showed, and a save is refused as `Stale` when the record no longer
/// bears it, so that nobody undoes a change they did not see. Each value
/// goes in with its length, so no two records share a mark by moving
/// characters from one field to the next.
pub(crate) fn edit_mark(values: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for v in values {
        hash.update((v.len() as u64).to_le_bytes());
        hash.update(v.as_bytes());
    }
    hex::encode(&hash.finalize()[..12])
}

/// An answer or a record as the officer saw it when deciding on it: its
/// revision (what was answered) and the mark of the decision it bore then
/// (what another officer had decided, with their comment), so that a
/// decision never undoes another the officer did not see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    pub revision: i64,
    pub decision: String,
}

/// The database. Cheap to clone: one shared part, and the revision a
/// request's copy is bound to ([`Store::at`]).
#[derive(Clone)]
pub struct Store {
    pub(crate) shared: std::sync::Arc<Shared>,
    /// The revision this store's reads are kept at, if bound ([`Store::at`]).
    pub(crate) bound: Option<revision::Bound>,
}

/// What every copy of a [`Store`] shares.
pub(crate) struct Shared {
    pub(crate) pools: db::Pools,
    /// The data keys ([`crate::crypt`]).
    pub(crate) keys: std::sync::Arc<crypt::Keyring>,
    /// Write transactions begun since start (a cheap counter: tests use it
    /// to show that two requests did the same database work).
    pub(crate) writes: std::sync::atomic::AtomicU64,
    /// The most bytes one organisation may store, evidence and library
    /// together ([`Store::set_organisation_quota`]; none until set).
    pub(crate) quota: std::sync::atomic::AtomicU64,
    /// Parsed catalog versions. A version never changes once imported, so
    /// each is parsed once per process and shared.
    pub(crate) catalogs: std::sync::Mutex<std::collections::HashMap<i64, catalog::Cached>>,
    /// Each system's figures at a revision ([`crate::figures`]).
    pub(crate) figures: figures::Cache,
    /// Every system, with the state of the table it was read at
    /// (`Store::systems`).
    #[allow(clippy::type_complexity)]
    pub(crate) systems: std::sync::Mutex<Option<((i64, i64), std::sync::Arc<Vec<systems::SystemRecord>>)>>,
    /// Reads kept at the data's revision ([`crate::revision`]).
    pub(crate) kept: std::sync::Mutex<revision::Kept>,
    /// SQLite reads on the calling thread ([`revision::Direct`]).
    pub(crate) direct: Option<std::sync::Arc<revision::Direct>>,
}

impl Store {
    /// The pools and the caches, nothing read or written yet.
    async fn connect(location: &DatabaseLocation, keys: std::sync::Arc<crypt::Keyring>) -> Result<Store, StoreError> {
        let pools = db::Pools::connect(location).await?;
        let direct = match location {
            DatabaseLocation::SqliteFile(path) => Some(std::sync::Arc::new(revision::Direct::new(path))),
            DatabaseLocation::Postgres(_) => None,
        };
        let shared = Shared {
            pools,
            keys,
            writes: Default::default(),
            quota: std::sync::atomic::AtomicU64::new(u64::MAX),
            catalogs: Default::default(),
            figures: Default::default(),
            systems: Default::default(),
            kept: Default::default(),
            direct,
        };
        Ok(Store { shared: std::sync::Arc::new(shared), bound: None })
    }
}

/// Runs `$body` with `$c` bound to the transaction's connection, once per
/// backend. The body is compiled for each backend, so the same query text
/// (placeholders `$1`, `$2`, … which both SQLite and PostgreSQL accept) and
/// the same binds serve both.
macro_rules! with_conn {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx.inner_mut() {
            $crate::db::TxInner::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::db::TxInner::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}
pub(crate) use with_conn;

/// Runs `$body` as [`with_conn!`] does, in a read-only transaction of
/// `$store` of its own ([`Store::read`]): for a read that is one query.
macro_rules! with_read_conn {
    // One statement needs no transaction: it runs on a connection of the
    // read pool (SQLite) or the pool (PostgreSQL) as it is, saving the
    // BEGIN and COMMIT round trips. Reads of several statements that must
    // agree use `Store::read`.
    ($store:expr, $c:ident => $body:expr) => {
        async {
            match &$store.shared.pools {
                $crate::db::Pools::Sqlite { read, .. } => {
                    let mut conn = read.acquire().await?;
                    let $c = &mut *conn;
                    Ok::<_, $crate::StoreError>($body)
                }
                $crate::db::Pools::Postgres(pool) => {
                    let mut conn = pool.acquire().await?;
                    let $c = &mut *conn;
                    Ok::<_, $crate::StoreError>($body)
                }
            }
        }
        .await
    };
}
pub(crate) use with_read_conn;
