//! What a store operation can fail with, and the readers of stored values
//! that fail with it.

use mamori_core::clock::from_unix_micros;
use std::time::Duration;
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL must start with sqlite:// or postgres://: {0}")]
    BadUrl(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A read on the calling thread (`crate::revision::Direct`).
    #[error("database error: {0}")]
    Direct(#[from] rusqlite::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database's files could not be prepared (their mode, for one).
    #[error("database file: {0}")]
    Io(String),
    #[error("database did not answer within {0:?}")]
    Timeout(Duration),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The audit chain does not verify where an operation needs it to (a
    /// retention purge over events changed or removed).
    #[error("the audit chain is broken: {0}")]
    ChainBroken(mamori_core::audit::ChainBreak),
    /// The data keys do not fit the database (missing, or another key
    /// under an id it knows); the message is for the operator.
    #[error("{0}")]
    Keys(String),
    /// A unique value (a login, an organisation name) is taken already.
    #[error("already exists")]
    Taken,
    /// The record changed since the caller read it (a decision on a
    /// revision that is no longer the current one).
    #[error("changed meanwhile")]
    Stale,
    /// The record does not exist (or the requirement does not apply).
    #[error("not found")]
    Missing,
    /// The workflow does not allow the step now.
    #[error("refused by the workflow: {0:?}")]
    Refused(mamori_core::checklist::WorkflowError),
    /// The change would take a list beyond its limit.
    #[error("over the limit of {0}")]
    Limit(usize),
    /// The organisation's files would pass its storage quota (in bytes).
    #[error("over the storage quota of {0} bytes")]
    Quota(u64),
    /// The change would leave no enabled administrator.
    #[error("the last administrator")]
    LastAdministrator,
    /// The person acting has been disabled, or given another role or
    /// organisation, since their request was checked
    /// ([`crate::identity::Standing`]): nothing was changed.
    #[error("the acting account changed")]
    AccountChanged,
}

/// A stored time (microseconds since the Unix epoch, UTC).
pub(crate) fn timestamp(us: i64) -> Result<OffsetDateTime, StoreError> {
    from_unix_micros(us).ok_or_else(|| StoreError::Corrupt(format!("time {us} out of range")))
}

pub(crate) fn opt_timestamp(us: Option<i64>) -> Result<Option<OffsetDateTime>, StoreError> {
    us.map(timestamp).transpose()
}

/// A stored value that makes no sense.
pub(crate) fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {v}"))
}

/// A stored value of a closed set (a role, a status), parsed by `parse`.
pub(crate) fn parsed<T>(what: &str, v: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T, StoreError> {
    parse(v).ok_or_else(|| corrupt(what, v))
}
