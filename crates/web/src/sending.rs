//! Stored files sent (evidence, library documents): each is read whole,
//! decrypted and held until its last byte is written, to a client that may
//! read slowly. So many are held at a time, and one person holds at most
//! two of them: a vendor opening hundreds of downloads of a 20 MB file over
//! the connections one address may hold would otherwise hold them all.

use crate::error::AppError;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::Response;
use mamori_app::turns::{Turn, Turns};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Stored files held (read, being sent) at once; others wait for a turn
/// within the request's time.
pub const SENDING_AT_ONCE: usize = 8;
/// Of them, held for one person at once; a further one is answered busy
/// (503) at once, so that one person's slow downloads cannot hold every
/// turn.
pub const SENDING_PER_PERSON: usize = 2;
static SENDING: Turns = Turns::new(SENDING_AT_ONCE);
static PEOPLE: Mutex<BTreeMap<i64, usize>> = Mutex::new(BTreeMap::new());

/// The size of the pieces a file is sent in.
const PIECE: usize = 64 * 1024;

/// The most stored files held at once since start.
pub fn sending_peak() -> usize {
    SENDING.peak()
}

/// One person's place among those sending: given back when dropped.
struct Place(i64);

impl Place {
    fn take(person: i64) -> Option<Place> {
        let mut people = PEOPLE.lock().expect("not poisoned");
        let held = people.entry(person).or_default();
        if *held >= SENDING_PER_PERSON {
            return None;
        }
        *held += 1;
        Some(Place(person))
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut people = PEOPLE.lock().expect("not poisoned");
        if let Some(held) = people.get_mut(&self.0) {
            *held -= 1;
            if *held == 0 {
                people.remove(&self.0);
            }
        }
    }
}

/// A turn to send a stored file for `person`: `AppError::Busy` when the
/// person holds [`SENDING_PER_PERSON`] already, else waits for one.
pub struct Sending {
    _place: Place,
    _turn: Turn,
}

impl Sending {
    pub async fn take(person: i64) -> Result<Sending, AppError> {
        let place = Place::take(person).ok_or(AppError::Busy)?;
        let turn = SENDING.take().await?;
        Ok(Sending { _place: place, _turn: turn })
    }

    /// `bytes` as a download ([`crate::download::file`]) sent a piece at a
    /// time, this turn held until the last piece is taken (or the client
    /// goes).
    pub fn file(self, content_type: &str, filename: &str, bytes: Vec<u8>) -> Response {
        let length = bytes.len();
        let mut res = crate::download::file(content_type, filename, self.body(bytes));
        res.headers_mut().insert(header::CONTENT_LENGTH, length.into());
        res
    }

    fn body(self, bytes: Vec<u8>) -> Body {
        let pieces = futures_util::stream::unfold((Bytes::from(bytes), Some(self)), |(mut rest, held)| async move {
            if rest.is_empty() {
                drop(held);
                return None;
            }
            let piece = rest.split_to(rest.len().min(PIECE));
            Some((Ok::<_, std::convert::Infallible>(piece), (rest, held)))
        });
        Body::from_stream(pieces)
    }
}
