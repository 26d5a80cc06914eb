//! Who does a change, from where, when: what every write is given (its own
//! module, so that the audit log's alerts and the accounts' changes can
//! both use it without importing each other).

use mamori_core::audit::{Actor, Origin};
use mamori_core::identity::Role;
use time::OffsetDateTime;

/// Who does it, from where, when.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub now: OffsetDateTime,
    pub actor: Actor,
    pub origin: Origin,
    /// What a signed-in person's request was allowed as: `None` for the
    /// console, mamori's own jobs and the steps of signing in (which check
    /// the account themselves).
    pub standing: Option<Standing>,
}

/// The role and organisation a person's request was checked against, when
/// it began, and the generation of the sessions it came in. Every write
/// made for it is refused, in its own transaction, if the account is
/// disabled, holds another role or organisation, or has had its sessions
/// ended (a sign-out everywhere else, a password changed or reset) by
/// then: one request's authority does not outlive a demotion, or the end
/// of the session it came in, made while it ran ([`crate::Store::begin_as`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub role: Role,
    pub organisation_id: Option<i64>,
    /// `None`: not checked (a change of the person's own sessions, which
    /// checks the generation itself and answers `Stale`).
    pub generation: Option<i64>,
}
