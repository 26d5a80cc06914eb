//! Sessions in the database (checklist item 42①: the framework's session
//! management, not a hand-rolled one), so any instance can serve any user.
//!
//! Reads go through the read pool; creating, saving and deleting through
//! the write pool. A session is written only when it changes: at sign-in,
//! when its data changes, and for activity alone at most once a minute
//! (`mamori_web::auth`), so a page view is a read.
//!
//! Saving changes a session that exists and never makes one again: the
//! store's own save inserts when the row is gone, so a request that read
//! the session before a sign-out deleted it, and saved it after (a touch,
//! a message for the next page), brought the signed-in session back.

use crate::db::Pools;
use crate::Store;
use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// tower-sessions' SQL store for whichever backend is configured. Cheap to
/// clone (the session layer clones it for every request).
#[derive(Debug, Clone)]
pub struct Sessions(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    read: Backend,
    write: Backend,
    /// Where [`SessionStore::save`] updates rows.
    update: Update,
    /// Sessions created, saved or deleted since start (tests use it to
    /// show that viewing a page writes nothing).
    writes: AtomicU64,
    /// SQLite: sessions are read on the calling thread
    /// ([`crate::revision::Direct`]).
    direct: Option<Arc<crate::revision::Direct>>,
}

#[derive(Debug)]
enum Update {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Store {
    /// The session store, with its table created if missing.
    pub async fn sessions(&self) -> Result<Sessions, sqlx::Error> {
        let (read, write, update) = match &self.shared.pools {
            Pools::Sqlite { read, write } => {
                let w = SqliteStore::new(write.clone());
                w.migrate().await?;
                (Backend::Sqlite(SqliteStore::new(read.clone())), Backend::Sqlite(w), Update::Sqlite(write.clone()))
            }
            Pools::Postgres(pool) => {
                let s = PostgresStore::new(pool.clone());
                s.migrate().await?;
                (Backend::Postgres(s.clone()), Backend::Postgres(s), Update::Postgres(pool.clone()))
            }
        };
        let inner = Inner { read, write, update, writes: Default::default(), direct: self.shared.direct.clone() };
        Ok(Sessions(Arc::new(inner)))
    }
}

impl Sessions {
    pub fn writes(&self) -> u64 {
        self.0.writes.load(Ordering::Relaxed)
    }

    fn wrote(&self) {
        self.0.writes.fetch_add(1, Ordering::Relaxed);
    }
}

/// Runs `$body` with `$s` bound to whichever store `$backend` holds.
macro_rules! on_either {
    ($backend:expr, $s:ident => $body:expr) => {
        match $backend {
            Backend::Sqlite($s) => $body,
            Backend::Postgres($s) => $body,
        }
    };
}

#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.wrote();
        on_either!(&self.0.write, s => s.create(record).await)
    }

    /// Changes the session if it is still there; one deleted meanwhile (a
    /// sign-out, a new id at sign-in, an expiry) stays deleted.
    /// (tower-sessions calls `save` only for a session it loaded, and
    /// `create` for a new one.)
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.wrote();
        let data = rmp_serde::to_vec(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let id = record.id.to_string();
        let done = match &self.0.update {
            Update::Sqlite(pool) => sqlx::query("UPDATE tower_sessions SET data = ?1, expiry_date = ?2 WHERE id = ?3")
                .bind(data)
                .bind(record.expiry_date)
                .bind(id)
                .execute(pool)
                .await
                .map(drop),
            Update::Postgres(pool) => {
                sqlx::query(r#"UPDATE "tower_sessions"."session" SET data = $1, expiry_date = $2 WHERE id = $3"#)
                    .bind(data)
                    .bind(record.expiry_date)
                    .bind(id)
                    .execute(pool)
                    .await
                    .map(drop)
            }
        };
        done.map_err(|e| session_store::Error::Backend(e.to_string()))
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match &self.0.direct {
            Some(direct) => load_direct(direct, id),
            None => on_either!(&self.0.read, s => s.load(id).await),
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.wrote();
        on_either!(&self.0.write, s => s.delete(id).await)
    }
}

#[async_trait]
impl ExpiredDeletion for Sessions {
    async fn delete_expired(&self) -> session_store::Result<()> {
        on_either!(&self.0.write, s => s.delete_expired().await)
    }
}

/// [`SqliteStore::load`]'s statement and decoding, run on the calling
/// thread: the same table, the same expiry test (sqlx stores the expiry as
/// RFC 3339 text in UTC, which sorts as time does), the same MessagePack.
fn load_direct(direct: &crate::revision::Direct, id: &Id) -> session_store::Result<Option<Record>> {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| session_store::Error::Encode(e.to_string()))?;
    let data: Option<Vec<u8>> = direct
        .read(|c| {
            use rusqlite::OptionalExtension;
            c.prepare_cached("SELECT data FROM tower_sessions WHERE id = ?1 AND expiry_date > ?2")?
                .query_row((id.to_string(), now), |r| r.get(0))
                .optional()
        })
        .map_err(|e| session_store::Error::Backend(e.to_string()))?;
    data.map(|d| rmp_serde::from_slice(&d).map_err(|e| session_store::Error::Decode(e.to_string()))).transpose()
}
