//! Who does a change, from where, when: what every write is given (its own
//! module, so that the audit log's alerts and the accounts' changes can
//! both use it without importing each other).

use mamori_core::audit::{Actor, Origin};
use time::OffsetDateTime;

/// Who does it, from where, when.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub now: OffsetDateTime,
    pub actor: Actor,
    pub origin: Origin,
}
