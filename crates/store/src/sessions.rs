//! Sessions in the database (checklist item 42①: the framework's session
//! management, not a hand-rolled one), so any instance can serve any user.

use crate::db::Pools;
use crate::Store;
use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

/// tower-sessions' SQL store for whichever backend is configured.
#[derive(Debug, Clone)]
pub enum Sessions {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Store {
    /// The session store, with its table created if missing.
    pub async fn sessions(&self) -> Result<Sessions, sqlx::Error> {
        Ok(match &self.pools {
            // Sessions are written on sign-in and at most once a minute
            // after; they go through the single write connection.
            Pools::Sqlite { write, .. } => {
                let s = SqliteStore::new(write.clone());
                s.migrate().await?;
                Sessions::Sqlite(s)
            }
            Pools::Postgres(pool) => {
                let s = PostgresStore::new(pool.clone());
                s.migrate().await?;
                Sessions::Postgres(s)
            }
        })
    }
}

/// Runs `$body` with `$s` bound to whichever store `$sessions` holds.
macro_rules! on_either {
    ($sessions:expr, $s:ident => $body:expr) => {
        match $sessions {
            Sessions::Sqlite($s) => $body,
            Sessions::Postgres($s) => $body,
        }
    };
}

#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        on_either!(self, s => s.create(record).await)
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        on_either!(self, s => s.save(record).await)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        on_either!(self, s => s.load(id).await)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        on_either!(self, s => s.delete(id).await)
    }
}

#[async_trait]
impl ExpiredDeletion for Sessions {
    async fn delete_expired(&self) -> session_store::Result<()> {
        on_either!(self, s => s.delete_expired().await)
    }
}
