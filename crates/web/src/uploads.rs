//! Upload forms held in memory, so many at a time. Each holds its file
//! (up to the evidence limit, 20 MB by default) and the copies its checks
//! and its encryption make, until its handler ends; a person could
//! otherwise send a few hundred at once over the connections one address
//! may hold, and the server would take them all in.

use crate::person_turns::{PersonTurn, PersonTurns};

/// Upload forms read and worked on at once; the others wait for a turn
/// (their bodies unread) within the request's time.
pub const UPLOADS_AT_ONCE: usize = 8;
/// Of them, one person's at once; a further one waits for one of theirs.
pub const UPLOADS_PER_PERSON: usize = 2;
/// Of them, one organisation's people's together, and every
/// organisation's people's together: four vendors' people, each posting
/// two forms and trickling their bodies, held every turn again and again,
/// and the office's catalog import waited behind them. The rest are the
/// office's (as for files sent, [`crate::sending`]).
pub const UPLOADS_PER_ORGANISATION: usize = 4;
pub const UPLOADS_FOR_PARTIES: usize = 6;
static UPLOADS: PersonTurns =
    PersonTurns::shared_by(UPLOADS_AT_ONCE, UPLOADS_PER_PERSON, (UPLOADS_PER_ORGANISATION, UPLOADS_FOR_PARTIES));

/// The most upload forms held at once since start.
pub fn uploads_peak() -> usize {
    UPLOADS.peak()
}

/// Upload forms held now.
pub fn uploads_now() -> usize {
    UPLOADS.running()
}

/// An upload form whose token was checked, read in its turn.
pub struct UploadForm {
    form: multer::Multipart<'static>,
    turn: UploadTurn,
}

/// The turn of an upload form read: kept by its handler to its end, with
/// the bytes read.
pub struct UploadTurn {
    _turn: PersonTurn,
}

impl UploadForm {
    /// Waits for a turn for `person` of `organisation` (none: the
    /// office's) to read `form`.
    pub(crate) async fn take(
        form: multer::Multipart<'static>,
        person: i64,
        organisation: Option<i64>,
    ) -> Result<UploadForm, crate::AppError> {
        Ok(UploadForm { form, turn: UploadTurn { _turn: UPLOADS.take_for(person, organisation).await? } })
    }

    /// The form read: its turn, to keep while what was read is worked on.
    pub(crate) fn into_turn(self) -> UploadTurn {
        self.turn
    }
}

impl std::ops::Deref for UploadForm {
    type Target = multer::Multipart<'static>;
    fn deref(&self) -> &Self::Target {
        &self.form
    }
}

impl std::ops::DerefMut for UploadForm {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.form
    }
}
