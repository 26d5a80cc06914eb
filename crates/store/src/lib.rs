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
pub mod crypt;
mod db;
pub mod evidence;
pub mod figures;
pub mod identity;
pub mod integrity;
pub mod inventory;
pub mod jobs;
pub mod keys;
pub mod library;
pub mod notify;
pub mod parties;
pub mod records;
pub mod revision;
pub mod scans;
pub mod sessions;
pub mod systems;
pub mod vulns;
pub mod yearly;

pub(crate) use db::{corrupt, opt_timestamp, parsed, timestamp};
pub use db::{Backend, DatabaseLocation, PoolStats, Store, StoreError, Tx};

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
