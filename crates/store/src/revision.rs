//! Reads kept in memory until the data changes.
//!
//! Every change to the tables signed-in pages show counts up one number in
//! the database, `data_revision` (triggers keep it: migration 0010, so a
//! change made by another process or instance counts too; on PostgreSQL
//! once per transaction, at its commit: migration 0033). A request reads
//! it once ([`Store::revision`]) and binds a store to it ([`Store::at`]).
//! Reads through that store are kept in memory under the number, and
//! reused by every request that reads the same number; when it moves they
//! are read again. So a page of an unchanged ward reads the number and its
//! session, and nothing else.
//!
//! A bound store that writes reads everything from the database for the
//! rest of the request, so a request always sees its own change.

use crate::db::Pools;
use crate::{Store, StoreError};
use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The data's revision a request read (see the module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Revision(pub i64);

/// What is kept: one entry per read and its arguments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Account(i64),
    RecoveryCodesLeft(i64),
    OpenAlerts,
    AllSystems,
    System(i64),
    Overrides(i64),
    ItemMoves(i64),
    Documents(i64),
    DocumentTitles(i64),
    DocumentLinks(i64, i64),
    /// Library documents expiring on or before a date (YYYY-MM-DD).
    DocumentsExpiring(String),
    PartsSubmitted(i64, i64),
    Scans(i64, i64),
    LastReport(i64),
    ScanAddresses(i64),
    CatalogVersions,
    Organisations,
    Answer(i64, i64, u32),
    Answers(i64, i64),
    ItemHistory(i64, i64, u32),
    History(i64, i64),
    HistoryLen(i64, i64, Option<u32>),
    /// Lines of a round's history (of one item): from, to.
    HistoryLines(i64, i64, Option<u32>, usize, usize),
    EvidenceFor(i64, i64, u32),
    EvidenceOfRound(i64, i64),
    /// Files expiring on or before a date (YYYY-MM-DD).
    EvidenceExpiring(String),
    /// Something a caller computes from reads ([`Store::remember`]).
    Named(&'static str, String),
}

/// At most this many reads are kept; past it the cache starts again empty.
/// Only signed-in requests read through it, and the keys are ids of rows
/// that exist, so this is a guard, not a limit anyone reaches in use.
const MAX_KEPT: usize = 20_000;

/// At most this many values are remembered under one name
/// ([`Store::remember`]); past it more are computed and not kept.
const MAX_NAMED: usize = 64;

/// The reads kept at one revision.
#[derive(Default)]
pub(crate) struct Kept {
    at: Option<Revision>,
    reads: HashMap<Key, Arc<dyn Any + Send + Sync>>,
    /// How many [`Key::Named`] entries each name has.
    named: HashMap<&'static str, usize>,
}

/// A store bound to the revision its request read.
#[derive(Clone)]
pub(crate) struct Bound {
    at: Revision,
    wrote: Arc<AtomicBool>,
}

impl Store {
    /// The data's revision now: for SQLite on the calling thread (a
    /// primary-key read of one row), for PostgreSQL one query.
    pub async fn revision(&self) -> Result<Revision, StoreError> {
        let n = match &self.shared.pools {
            Pools::Sqlite { .. } => {
                let direct =
                    self.shared.direct.as_ref().ok_or_else(|| StoreError::Corrupt("no direct reader".into()))?;
                direct.read(|c| {
                    c.prepare_cached("SELECT n FROM data_revision WHERE id = 1")?.query_row([], |r| r.get::<_, i64>(0))
                })?
            }
            Pools::Postgres(pool) => {
                sqlx::query_scalar::<_, i64>("SELECT n FROM data_revision WHERE id = 1").fetch_one(pool).await?
            }
        };
        Ok(Revision(n))
    }

    /// Statements run on the calling thread since start (SQLite; none on
    /// PostgreSQL, where every statement is one sqlx runs).
    pub fn direct_reads(&self) -> u64 {
        self.shared.direct.as_ref().map_or(0, |d| d.reads.load(Ordering::Relaxed))
    }

    /// This store, with its reads kept in memory at `at` (see the module).
    pub fn at(&self, at: Revision) -> Store {
        Store { shared: self.shared.clone(), bound: Some(Bound { at, wrote: Arc::default() }) }
    }

    /// Called by every write: a bound store reads from the database from
    /// now on.
    pub(crate) fn writing(&self) {
        if let Some(b) = &self.bound {
            b.wrote.store(true, Ordering::Relaxed);
        }
    }

    /// What `compute()` returns, kept as reads are (see the module) under
    /// `name` and `key`, which must name everything the value depends on
    /// besides the data (who asks, the filter, the date, the language). At
    /// most a few dozen values are kept per name.
    pub async fn remember<T, E, F, Fut>(&self, name: &'static str, key: String, compute: F) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.kept(Key::Named(name, key), compute).await
    }

    /// `load()`, or what it returned for the same key at the same revision.
    pub(crate) async fn kept<T, E, F, Fut>(&self, key: Key, load: F) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let Some(bound) = self.bound.as_ref().filter(|b| !b.wrote.load(Ordering::Relaxed)) else {
            return load().await;
        };
        {
            let kept = self.shared.kept.lock().expect("kept reads poisoned");
            if kept.at == Some(bound.at) {
                if let Some(v) = kept.reads.get(&key).and_then(|v| v.downcast_ref::<T>()) {
                    return Ok(v.clone());
                }
            }
        }
        let v = load().await?;
        let mut kept = self.shared.kept.lock().expect("kept reads poisoned");
        // A request that read an older revision than the kept one neither
        // uses nor replaces what is kept.
        if kept.at.is_none_or(|at| at < bound.at) {
            kept.at = Some(bound.at);
            kept.reads.clear();
            kept.named.clear();
        }
        if kept.at != Some(bound.at) {
            return Ok(v);
        }
        if kept.reads.len() >= MAX_KEPT {
            kept.reads.clear();
            kept.named.clear();
        }
        if let Key::Named(name, _) = &key {
            let n = kept.named.entry(name).or_default();
            if *n >= MAX_NAMED {
                return Ok(v);
            }
            *n += 1;
        }
        kept.reads.insert(key, Arc::new(v.clone()));
        Ok(v)
    }
}

/// Read-only SQLite connections used on the calling thread.
///
/// sqlx runs each SQLite statement on a worker thread of its connection
/// and hands the rows back through a channel; for the two primary-key reads
/// every signed-in request makes (its session and the data's revision) the
/// two thread hand-offs cost several times the query itself. rusqlite runs
/// them where they are called: a few microseconds, never waiting for a
/// writer (WAL readers do not block).
#[derive(Debug)]
pub(crate) struct Direct {
    path: std::path::PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
    /// Statements run since start (tests count a request's work with it).
    reads: std::sync::atomic::AtomicU64,
}

/// Connections kept open between reads; more are opened under load and
/// closed when returned beyond this.
const DIRECT_IDLE: usize = 8;

impl Direct {
    pub(crate) fn new(path: &std::path::Path) -> Direct {
        Direct { path: path.to_owned(), idle: Mutex::new(Vec::new()), reads: Default::default() }
    }

    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let conn = self.idle.lock().expect("direct readers poisoned").pop();
        let conn = match conn {
            Some(c) => c,
            None => self.open()?,
        };
        let out = f(&conn)?;
        let mut idle = self.idle.lock().expect("direct readers poisoned");
        if idle.len() < DIRECT_IDLE {
            idle.push(conn);
        }
        Ok(out)
    }

    /// Closes the idle connections ([`crate::Store::close`]).
    pub(crate) fn close(&self) {
        self.idle.lock().expect("direct readers poisoned").clear();
    }

    fn open(&self) -> Result<rusqlite::Connection, StoreError> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let c = rusqlite::Connection::open_with_flags(&self.path, flags)?;
        c.busy_timeout(std::time::Duration::from_secs(2))?;
        Ok(c)
    }
}
