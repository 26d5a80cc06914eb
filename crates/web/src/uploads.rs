//! Upload forms held in memory, so many at a time. Each holds its file
//! (up to the evidence limit, 20 MB by default) and the copies its checks
//! and its encryption make; a person could otherwise send a few hundred at
//! once over the connections one address may hold, and the server would
//! take them all in.

use mamori_app::turns::{Turn, Turns};

/// Upload forms read and worked on at once; the others wait for a turn
/// (their bodies unread) within the request's time.
pub const UPLOADS_AT_ONCE: usize = 4;
static UPLOADS: Turns = Turns::new(UPLOADS_AT_ONCE);

/// The most upload forms held at once since start.
pub fn uploads_peak() -> usize {
    UPLOADS.peak()
}

/// An upload form whose token was checked, read in its turn: the turn is
/// given back when the handler lets go of the form.
pub struct UploadForm {
    form: multer::Multipart<'static>,
    _turn: Turn,
}

impl UploadForm {
    /// Waits for a turn to read `form`.
    pub(crate) async fn take(form: multer::Multipart<'static>) -> Result<UploadForm, crate::AppError> {
        let turn = UPLOADS.take().await?;
        Ok(UploadForm { form, _turn: turn })
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
