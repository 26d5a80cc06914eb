use crate::{with_conn, Store, StoreError};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Postgres, Sqlite, Transaction};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a query waits for a locked SQLite database or a free connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const PING_TIMEOUT: Duration = Duration::from_secs(3);

/// Where the database lives.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    SqliteFile(PathBuf),
    Postgres(String),
}

impl DatabaseLocation {
    /// The default: `mamori.db` in the data directory.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        DatabaseLocation::SqliteFile(data_dir.join("mamori.db"))
    }

    /// `sqlite://PATH`, `sqlite:PATH`, `postgres://…` or `postgresql://…`.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseLocation::Postgres(url.to_owned()));
        }
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"));
        match path {
            Some(p) if !p.is_empty() => Ok(DatabaseLocation::SqliteFile(PathBuf::from(p))),
            _ => Err(StoreError::BadUrl(redact_url(url))),
        }
    }

    /// Whether the database holds mamori's data (its migrations' table),
    /// read without writing anything: a SQLite file is opened read-only
    /// and never made. The commands that check what is there ask this
    /// first, so that an empty file or database (a wiped one, a mistyped
    /// name) is reported, never prepared afresh and found sound.
    pub async fn holds_mamori(&self) -> Result<bool, StoreError> {
        use sqlx::Connection;
        Ok(match self {
            DatabaseLocation::SqliteFile(path) => {
                if !path.exists() {
                    return Ok(false);
                }
                let options = SqliteConnectOptions::new().filename(path).read_only(true).busy_timeout(BUSY_TIMEOUT);
                let mut c = sqlx::SqliteConnection::connect_with(&options).await?;
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
                )
                .fetch_one(&mut c)
                .await?;
                c.close().await?;
                n > 0
            }
            DatabaseLocation::Postgres(url) => {
                let mut c = sqlx::PgConnection::connect(url).await?;
                let found: bool =
                    sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL").fetch_one(&mut c).await?;
                c.close().await?;
                found
            }
        })
    }
}

/// Shows a location without the password of a PostgreSQL URL.
impl fmt::Display for DatabaseLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseLocation::SqliteFile(p) => write!(f, "sqlite://{}", p.display()),
            DatabaseLocation::Postgres(url) => f.write_str(&redact_url(url)),
        }
    }
}

impl fmt::Debug for DatabaseLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`; a
/// `password=` (or `sslpassword=`) in the query is masked too, and the
/// user's part ends at the last `@`, so a password holding `/` or `?`
/// unencoded is masked whole. Text that is no URL (a libpq connection
/// string `host=db password=…`, a typo `postgres:/u:pw@h/db`) is shown only
/// up to its first `:`, `=` or space: anything past it could be a password;
/// text without any, not at all (it could be a password alone).
fn redact_url(url: &str) -> String {
    let is_scheme = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    };
    let Some((scheme, rest)) = url.split_once("://").filter(|(scheme, _)| is_scheme(scheme)) else {
        // No separator at all: the text could be a password alone.
        let Some(end) = url.find([':', '=', ' ']) else { return "…".into() };
        let head: String = url[..end].chars().take(20).collect();
        return format!("{head}…");
    };
    // Query values first: a password there may hold an `@`.
    let mut masked = String::with_capacity(rest.len());
    let mut in_secret = false;
    let mut key = String::new();
    for c in rest.chars() {
        match c {
            '?' | '&' => {
                in_secret = false;
                key.clear();
                masked.push(c);
            }
            '=' if !in_secret && key.to_ascii_lowercase().ends_with("password") => {
                in_secret = true;
                masked.push_str("=***");
            }
            _ if in_secret => {}
            _ => {
                key.push(c);
                masked.push(c);
            }
        }
    }
    match masked.rfind('@') {
        Some(at) => {
            let (userinfo, host) = (&masked[..at], &masked[at + 1..]);
            let user = userinfo.split(':').next().unwrap_or("");
            let user = if userinfo.contains(':') { format!("{user}:***") } else { user.to_owned() };
            format!("{scheme}://{user}@{host}")
        }
        None => format!("{scheme}://{masked}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Connections open and idle, for the metrics endpoint.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
}

/// A pool with no idle timeout and no connection lifetime, so that sqlx
/// starts no task to reap its connections. That task (sqlx 0.8) counts the
/// idle connections in a number that a connection returned while another
/// is taken can wrap to `usize::MAX` for an instant; read then, it loops
/// that many times without yielding: a server seen spinning a core at 100%
/// after a burst of requests, and never ending when told to stop
/// (sqlx issue 3645). A dead PostgreSQL connection is still found before
/// use (sqlx tests each one as it is taken), and a SQLite file has nothing
/// to reap.
fn without_reaper<DB: sqlx::Database>(options: sqlx::pool::PoolOptions<DB>) -> sqlx::pool::PoolOptions<DB> {
    options.idle_timeout(None).max_lifetime(None).min_connections(0)
}

/// The idle connections of a pool, at most its size: sqlx lowers its count
/// as one is taken and raises it a moment after one is returned, so taken
/// in that moment, the count reads as `usize::MAX` for an instant.
fn idle_in<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> u32 {
    u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(pool.size())
}

#[derive(Clone)]
pub(crate) enum Pools {
    /// SQLite allows one writer at a time: every write goes through a pool of
    /// one connection and begins with `BEGIN IMMEDIATE`, so writers queue
    /// instead of failing with "database is locked".
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
    },
    Postgres(PgPool),
}

/// The SQLite database and its WAL and shared-memory files are their
/// owner's only: they hold every session's id in the clear (the cookie's
/// value) and the server's own secrets. With `create`, a database not there
/// yet is made so before SQLite opens it (it makes its WAL and
/// shared-memory files with the database's mode); then each of the three
/// that exists is made so, for files made otherwise (a data directory
/// prepared by hand, a database outside it, a umask of 022).
fn owner_only(path: &std::path::Path, create: bool) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    if create {
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    // SAFETY: geteuid cannot fail and touches no memory.
    let me = unsafe { libc::geteuid() };
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        // A link is not followed, and a file of another user is left as it
        // is (SQLite opens none it may not).
        match std::fs::symlink_metadata(&file) {
            Ok(m) if m.is_file() && m.uid() == me && m.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl Pools {
    /// The pools, nothing read or written yet.
    pub(crate) async fn connect(location: &DatabaseLocation) -> Result<Pools, StoreError> {
        Ok(match location {
            DatabaseLocation::SqliteFile(path) => {
                owner_only(path, true).map_err(|e| StoreError::Io(format!("{}: {e}", path.display())))?;
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // FULL: an acknowledged write survives power loss, not
                    // only a crash of the process.
                    .synchronous(SqliteSynchronous::Full)
                    // What a change or deletion frees in a page is zeroed
                    // where that costs no extra write (a purged audit event,
                    // a value sealed over its plain text); pages freed whole
                    // keep theirs, except after the first sealing, which
                    // rebuilds the file ([`Store::clear_freed`]).
                    .pragma("secure_delete", "FAST")
                    .foreign_keys(true)
                    .busy_timeout(BUSY_TIMEOUT);
                let write = without_reaper(SqlitePoolOptions::new())
                    .max_connections(1)
                    .acquire_timeout(BUSY_TIMEOUT)
                    .connect_with(options.clone())
                    .await?;
                let read = without_reaper(SqlitePoolOptions::new())
                    .max_connections(8)
                    .acquire_timeout(BUSY_TIMEOUT)
                    .connect_with(options.read_only(true))
                    .await?;
                owner_only(path, false).map_err(|e| StoreError::Io(format!("{}: {e}", path.display())))?;
                Pools::Sqlite { read, write }
            }
            DatabaseLocation::Postgres(url) => {
                let pool = without_reaper(PgPoolOptions::new())
                    .max_connections(16)
                    .acquire_timeout(BUSY_TIMEOUT)
                    .connect(url)
                    .await?;
                Pools::Postgres(pool)
            }
        })
    }
}

impl Store {
    /// Connects, checks the data keys against the database, applies every
    /// pending migration and, at the first opening with encryption at rest,
    /// seals every value stored before ([`crate::crypt`]). Keys that are
    /// not the database's are refused before any migration runs: a wrong
    /// key changes nothing, not even the schema.
    pub async fn open(
        location: &DatabaseLocation,
        keys: std::sync::Arc<crate::crypt::Keyring>,
    ) -> Result<Store, StoreError> {
        let store = Store::connect(location, keys).await?;
        let ready = async {
            if store.records_data_keys().await? {
                store.check_keys().await?;
            }
            store.migrate().await?;
            store.prepare_keys().await
        };
        if let Err(e) = ready.await {
            // Closed here, not left to the pools' threads while the process
            // exits: what a refused start leaves on disk is then decided.
            store.close().await;
            return Err(e);
        }
        Ok(store)
    }

    /// Whether the database already has the table of its data keys (not a
    /// new one, nor one made before encryption at rest).
    async fn records_data_keys(&self) -> Result<bool, StoreError> {
        Ok(match &self.shared.pools {
            Pools::Sqlite { write, .. } => {
                sqlx::query_scalar::<_, i64>(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'data_key'",
                )
                .fetch_one(write)
                .await?
                    > 0
            }
            Pools::Postgres(pool) => {
                sqlx::query_scalar::<_, bool>("SELECT to_regclass('data_key') IS NOT NULL").fetch_one(pool).await?
            }
        })
    }

    /// Applies every pending migration.
    async fn migrate(&self) -> Result<(), StoreError> {
        match &self.shared.pools {
            Pools::Sqlite { write, .. } => sqlx::migrate!("./migrations/sqlite").run(write).await?,
            // sqlx takes an advisory lock, so instances starting together
            // apply each migration once.
            Pools::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Opens without checking the keys against the database or sealing
    /// anything: for a restore, which replaces every row (the data keys'
    /// checks included) and checks the restored keys before it commits.
    pub async fn open_for_restore(
        location: &DatabaseLocation,
        keys: std::sync::Arc<crate::crypt::Keyring>,
    ) -> Result<Store, StoreError> {
        let store = Store::connect(location, keys).await?;
        if let Err(e) = store.migrate().await {
            store.close().await;
            return Err(e);
        }
        Ok(store)
    }

    /// The data keys.
    pub fn keys(&self) -> &std::sync::Arc<crate::crypt::Keyring> {
        &self.shared.keys
    }

    pub fn backend(&self) -> Backend {
        match self.shared.pools {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// The end of a claim's `SELECT`: on PostgreSQL the rows are locked and
    /// those another instance holds skipped, so claimers never wait on each
    /// other; SQLite has one writer, so nothing is needed there.
    pub(crate) fn skip_locked(&self) -> &'static str {
        match self.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        }
    }

    /// Answers when the database does, within a few seconds.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let q = async {
            match &self.shared.pools {
                Pools::Sqlite { read, .. } => sqlx::query("SELECT 1").execute(read).await.map(drop),
                Pools::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
            }
        };
        tokio_timeout(PING_TIMEOUT, q).await?.map_err(StoreError::from)
    }

    pub fn pool_stats(&self) -> PoolStats {
        match &self.shared.pools {
            Pools::Sqlite { read, write } => {
                PoolStats { size: read.size() + write.size(), idle: idle_in(read) + idle_in(write) }
            }
            Pools::Postgres(pool) => PoolStats { size: pool.size(), idle: idle_in(pool) },
        }
    }

    /// Closes every connection. On SQLite the write-ahead log is first
    /// copied into the database and emptied: SQLite would do so only when
    /// the last connection closes, and a read-only connection whose thread
    /// ends after the write one's cannot, which left the log beside the
    /// database for whichever process opened it next to fold in (a refused
    /// start then changed the database file).
    pub async fn close(&self) {
        if let Some(direct) = &self.shared.direct {
            direct.close();
        }
        match &self.shared.pools {
            Pools::Sqlite { read, write } => {
                read.close().await;
                // Best effort: a failure leaves the log for the next opening,
                // as before.
                let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(write).await;
                write.close().await;
            }
            Pools::Postgres(pool) => pool.close().await,
        }
    }

    /// Clears what SQLite keeps of removed content (pages left on its free
    /// list, the write-ahead log) by rebuilding the database file and
    /// emptying the log: after the first sealing, at start before anything
    /// is served, no plain text the sealing replaced is left in the files.
    /// It holds the writer for as long as the rebuild takes, so it is not
    /// run after a rotation while the server runs (what is left then is
    /// sealed under a retired key). PostgreSQL is left to itself: its
    /// `VACUUM` marks dead rows' space for reuse and clears nothing.
    pub(crate) async fn clear_freed(&self) -> Result<(), StoreError> {
        if let Pools::Sqlite { write, .. } = &self.shared.pools {
            sqlx::query("VACUUM").execute(write).await?;
            // (busy, log frames, frames copied): busy when a reader held the
            // log, which then keeps what it held. A reader at start is
            // another instance opening at the same moment (refused, or
            // reading the key), gone within moments: tried again for a few
            // seconds before giving up.
            let mut tries = 0;
            loop {
                let (busy, _, _): (i64, i64, i64) =
                    sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(write).await?;
                if busy == 0 {
                    break;
                }
                tries += 1;
                if tries == 100 {
                    return Err(StoreError::Io("the write-ahead log could not be emptied after the sealing".into()));
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// Write transactions begun since this store was opened.
    pub fn write_transactions(&self) -> u64 {
        self.shared.writes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A transaction for writing.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        self.writing();
        self.shared.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let inner = match &self.shared.pools {
            Pools::Sqlite { write, .. } => TxInner::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?),
            Pools::Postgres(pool) => TxInner::Postgres(pool.begin().await?),
        };
        Ok(Tx(inner, self.shared.keys.clone()))
    }

    /// A transaction for a write made for `ctx`: when a signed-in person
    /// acts, their account is read first, in the transaction, and the write
    /// is refused (`AccountChanged`) if it has been disabled or given
    /// another role or organisation since their request was checked
    /// ([`crate::identity::Standing`]). On PostgreSQL the row is read
    /// `FOR SHARE` and held to the commit: a change of the account waits
    /// for the write to end, so none is committed between this read and
    /// the write (SQLite's one writer has the same effect). A write that
    /// changes the acting person's own account row begins with
    /// [`Store::begin_as_self`]; one that changes another's, with
    /// [`Store::begin_administering`].
    pub async fn begin_as(&self, ctx: &crate::identity::Ctx) -> Result<Tx, StoreError> {
        let mut tx = self.begin().await?;
        tx.stand(ctx, "FOR SHARE").await?;
        Ok(tx)
    }

    /// [`Store::begin_as`] for a write that changes the acting person's own
    /// account row (their password, second factor, sessions): the row is
    /// held for that change from the start (`FOR NO KEY UPDATE`), as two
    /// shared holds each waiting for the other to change it would be a
    /// deadlock (a button pressed twice). Their other writes wait for it.
    /// The change checks the session's generation itself (`Stale`).
    pub async fn begin_as_self(&self, ctx: &crate::identity::Ctx) -> Result<Tx, StoreError> {
        let mut own = ctx.clone();
        if let Some(s) = own.standing.as_mut() {
            s.generation = None;
        }
        let mut tx = self.begin().await?;
        tx.stand(&own, "FOR NO KEY UPDATE").await?;
        Ok(tx)
    }

    /// A transaction that only reads, from one consistent snapshot.
    pub async fn begin_read(&self) -> Result<Tx, StoreError> {
        let inner = match &self.shared.pools {
            Pools::Sqlite { read, .. } => TxInner::Sqlite(read.begin().await?),
            Pools::Postgres(pool) => {
                TxInner::Postgres(pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?)
            }
        };
        Ok(Tx(inner, self.shared.keys.clone()))
    }

    /// Runs `read` in a read-only transaction ([`Store::begin_read`]) and
    /// ends the transaction.
    pub(crate) async fn read<T>(
        &self,
        read: impl AsyncFnOnce(&mut Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut tx = self.begin_read().await?;
        let value = read(&mut tx).await?;
        tx.rollback().await?;
        Ok(value)
    }

    /// Every table of mamori's schema with its columns, sorted: lets a test
    /// prove the SQLite and PostgreSQL migrations describe the same schema.
    pub async fn describe_schema(&self) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let pairs: Vec<(String, String)> = match &self.shared.pools {
            Pools::Sqlite { read, .. } => {
                sqlx::query_as(
                    "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
                     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> 'tower_sessions' AND m.name NOT LIKE '\\_sqlx%' ESCAPE '\\'",
                )
                .fetch_all(read)
                .await?
            }
            Pools::Postgres(pool) => {
                sqlx::query_as(
                    "SELECT table_name::text, column_name::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_sqlx%'",
                )
                .fetch_all(pool)
                .await?
            }
        };
        let mut tables = std::collections::BTreeMap::<String, Vec<String>>::new();
        for (table, column) in pairs {
            tables.entry(table).or_default().push(column);
        }
        Ok(tables
            .into_iter()
            .map(|(t, mut cols)| {
                cols.sort();
                (t, cols)
            })
            .collect())
    }

    /// Runs one raw statement; only for tests that must damage the data.
    #[doc(hidden)]
    pub async fn execute_unchecked_for_tests(&self, sql: &str) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let n = crate::with_conn!(tx, c => sqlx::query(sql).execute(c).await?.rows_affected());
        tx.commit().await?;
        Ok(n)
    }
}

async fn tokio_timeout<F: std::future::Future>(d: Duration, f: F) -> Result<F::Output, StoreError> {
    tokio::time::timeout(d, f).await.map_err(|_| StoreError::Timeout(d))
}

pub(crate) enum TxInner {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// A database transaction on either backend. Dropped without
/// [`Tx::commit`], it rolls back.
pub struct Tx(TxInner, std::sync::Arc<crate::crypt::Keyring>);

impl Tx {
    /// Holds the lock named `key` until the transaction ends: an advisory
    /// lock on PostgreSQL, where instances and connections write at once;
    /// nothing on SQLite, whose one writer holds every write in turn.
    pub(crate) async fn lock_named(&mut self, key: &str) -> Result<(), StoreError> {
        if let TxInner::Postgres(tx) = &mut self.0 {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(key).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Holds the lock named `key` until the transaction ends, shared with
    /// every other holder in shared mode and exclusive of one in
    /// [`Tx::lock_named`]'s; nothing on SQLite, as there.
    pub(crate) async fn lock_named_shared(&mut self, key: &str) -> Result<(), StoreError> {
        if let TxInner::Postgres(tx) = &mut self.0 {
            sqlx::query("SELECT pg_advisory_xact_lock_shared(hashtext($1))").bind(key).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Reads the account of `ctx`'s person (held with `hold` on
    /// PostgreSQL) and refuses when it no longer stands as their request
    /// was checked ([`Store::begin_as`]).
    pub(crate) async fn stand(&mut self, ctx: &crate::identity::Ctx, hold: &'static str) -> Result<(), StoreError> {
        let (Some(id), Some(standing)) = (ctx.actor.account_id, ctx.standing) else {
            return Ok(());
        };
        let hold = if self.backend() == crate::Backend::Postgres { hold } else { "" };
        let sql = format!(
            "SELECT role, organisation_id, disabled_at_us, session_generation FROM account WHERE id = $1 {hold}"
        );
        let now: Option<(String, Option<i64>, Option<i64>, i64)> =
            with_conn!(self, c => sqlx::query_as(&sql).bind(id).fetch_optional(c).await?);
        let holds = now.is_some_and(|(role, org, disabled, generation)| {
            disabled.is_none()
                && mamori_core::identity::Role::parse(&role) == Some(standing.role)
                && org == standing.organisation_id
                && standing.generation.is_none_or(|g| g == generation)
        });
        if holds {
            Ok(())
        } else {
            Err(StoreError::AccountChanged)
        }
    }

    /// Takes the lock of `who`'s sign-offs in `table` and gives the time
    /// from which one with the same words is the same sign-off sent again
    /// (a double click; the pages have no script to stop it): the caller
    /// answers such a one with the first and writes no second.
    pub(crate) async fn signoff_window(
        &mut self,
        table: &str,
        who: &str,
        now: time::OffsetDateTime,
    ) -> Result<i64, StoreError> {
        self.lock_named(&format!("mamori.signoff.{table}.{who}")).await?;
        Ok(mamori_core::clock::to_unix_micros(now - time::Duration::minutes(1)))
    }

    /// The data keys, for the values a query seals or opens.
    pub(crate) fn keys(&self) -> &crate::crypt::Keyring {
        &self.1
    }

    pub(crate) fn inner_mut(&mut self) -> &mut TxInner {
        &mut self.0
    }

    pub fn backend(&self) -> Backend {
        match &self.0 {
            TxInner::Sqlite(_) => Backend::Sqlite,
            TxInner::Postgres(_) => Backend::Postgres,
        }
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self.0 {
            TxInner::Sqlite(t) => t.commit().await?,
            TxInner::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.0 {
            TxInner::Sqlite(t) => t.rollback().await?,
            TxInner::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pools start no task to reap connections ([`without_reaper`]):
    /// a server was seen spinning a core for an hour after a burst of
    /// requests, in that task, and never ending when told to stop.
    #[tokio::test]
    async fn no_pool_runs_a_task_to_reap_its_connections() {
        let dir = tempfile::TempDir::new().unwrap();
        let Pools::Sqlite { read, write } = Pools::connect(&DatabaseLocation::in_data_dir(dir.path())).await.unwrap()
        else {
            panic!("a SQLite file");
        };
        for pool in [&read, &write] {
            let o = pool.options();
            assert_eq!((o.get_idle_timeout(), o.get_max_lifetime(), o.get_min_connections()), (None, None, 0));
        }
        let pg = without_reaper(PgPoolOptions::new());
        assert_eq!((pg.get_idle_timeout(), pg.get_max_lifetime(), pg.get_min_connections()), (None, None, 0));
    }

    #[test]
    fn parses_locations() {
        assert_eq!(
            DatabaseLocation::parse("sqlite:///var/lib/mamori/m.db").unwrap(),
            DatabaseLocation::SqliteFile("/var/lib/mamori/m.db".into())
        );
        assert!(matches!(DatabaseLocation::parse("postgresql://h/db").unwrap(), DatabaseLocation::Postgres(_)));
        assert!(DatabaseLocation::parse("mysql://h/db").is_err());
        assert!(DatabaseLocation::parse("sqlite://").is_err());
    }

    #[test]
    fn never_shows_a_password() {
        let loc = DatabaseLocation::parse("postgres://mamori:s3cret@db.example:5432/mamori").unwrap();
        assert_eq!(loc.to_string(), "postgres://mamori:***@db.example:5432/mamori");
        assert!(!format!("{loc:?}").contains("s3cret"));
        let err = DatabaseLocation::parse("mysql://u:s3cret@h/db").unwrap_err();
        assert!(!err.to_string().contains("s3cret"));
        // No URL at all: a libpq connection string, a scheme mistyped. Each
        // was shown whole, password and all.
        for (text, shown) in [
            ("host=db user=m password=s3cret", "host…"),
            ("postgres:/u:s3cret@h/db", "postgres…"),
            ("user:s3cret@db", "user…"),
            ("host=db password=s3cret sslrootcert=file://x", "host…"),
            ("s3cret", "…"),
        ] {
            let err = DatabaseLocation::parse(text).unwrap_err().to_string();
            assert!(err.ends_with(&format!(": {shown}")) && !err.contains("s3cret"), "{text}: {err}");
        }
        // A password in the query, or holding `/`, `?` or `@` unencoded:
        // each was shown whole.
        for (url, shown) in [
            ("postgres://u@127.0.0.1:1/db?password=hunter2", "postgres://u@127.0.0.1:1/db?password=***"),
            ("postgres://u:hun/ter2@127.0.0.1:1/db", "postgres://u:***@127.0.0.1:1/db"),
            ("postgres://u:hu?nter2@h/db", "postgres://u:***@h/db"),
            (
                "postgres://u@h/db?sslmode=require&PassWord=hun@ter2&sslpassword=key2&application_name=m",
                "postgres://u@h/db?sslmode=require&PassWord=***&sslpassword=***&application_name=m",
            ),
        ] {
            let loc = DatabaseLocation::parse(url).unwrap();
            assert_eq!(loc.to_string(), shown, "{url}");
            for secret in ["hunter2", "hun", "ter2", "key2"] {
                assert!(!format!("{loc} {loc:?}").contains(secret), "{url}: {secret}");
            }
        }
    }
}
