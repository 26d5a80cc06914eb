//! Stored files sent (evidence, library documents): each is read whole,
//! decrypted and held until its last byte is written, to a client that may
//! read slowly. So many are held at a time, one person holds at most two of
//! them (a third waits for one of those), one company's people four, the
//! people of all companies and departments six (two are the office's), and
//! a file not sent within
//! [`SEND_WITHIN`] is given up: a vendor
//! opening hundreds of downloads of a 20 MB file over the connections one
//! address may hold, or reading a few bytes a minute, would otherwise hold
//! them all.

use crate::error::AppError;
use crate::person_turns::{PersonTurn, PersonTurns};
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::Response;
use std::time::{Duration, Instant};

/// Stored files held (read, being sent) at once; others wait for a turn
/// within the request's time.
pub const SENDING_AT_ONCE: usize = 8;
/// Of them, held for one person at once; a further one waits for one of
/// the person's own to end.
pub const SENDING_PER_PERSON: usize = 2;
/// Of them, held for one organisation's people together (a vendor's four
/// people reading slowly held every turn for five minutes); the office's
/// people are not counted together.
pub const SENDING_PER_ORGANISATION: usize = 4;
/// Of them, held for the people of every organisation together (two
/// companies' people reading slowly held every turn): the rest are the
/// office's, whose review does not wait for them.
pub const SENDING_FOR_PARTIES: usize = 6;
static SENDING: PersonTurns =
    PersonTurns::shared_by(SENDING_AT_ONCE, SENDING_PER_PERSON, (SENDING_PER_ORGANISATION, SENDING_FOR_PARTIES));

/// The longest a file is sent for: 20 MB at 70 KB/s. A client slower
/// than that loses the connection, and the turn is free again.
pub const SEND_WITHIN: Duration = Duration::from_secs(300);

/// The size of the pieces a file is sent in.
const PIECE: usize = 64 * 1024;

/// The most stored files held at once since start.
pub fn sending_peak() -> usize {
    SENDING.peak()
}

/// Stored files held now (sent, or read for sending).
pub fn sending_now() -> usize {
    SENDING.running()
}

/// A turn to send a stored file.
pub struct Sending {
    _turn: PersonTurn,
}

impl Sending {
    /// A turn for `person` of `organisation`, waiting while the person
    /// holds [`SENDING_PER_PERSON`], their organisation
    /// [`SENDING_PER_ORGANISATION`] or all organisations
    /// [`SENDING_FOR_PARTIES`], then for one of everyone's.
    pub async fn take(person: i64, organisation: Option<i64>) -> Result<Sending, AppError> {
        Ok(Sending { _turn: SENDING.take_for(person, organisation).await? })
    }

    /// `bytes` as a download ([`crate::download::file`]) sent a piece at a
    /// time, this turn held until the last piece is taken, the client goes
    /// or [`SEND_WITHIN`] passes.
    pub fn file(self, content_type: &str, filename: &str, bytes: Vec<u8>) -> Response {
        let length = bytes.len();
        let mut res = crate::download::file(content_type, filename, self.body(bytes, SEND_WITHIN));
        res.headers_mut().insert(header::CONTENT_LENGTH, length.into());
        res
    }

    fn body(self, bytes: Vec<u8>, within: Duration) -> Body {
        let until = Instant::now() + within;
        let pieces =
            futures_util::stream::unfold((Bytes::from(bytes), Some(self)), move |(mut rest, held)| async move {
                if rest.is_empty() {
                    drop(held);
                    return None;
                }
                if Instant::now() > until {
                    // Given up: the connection ends, the turn with it.
                    return Some((Err(std::io::Error::other("not sent in time")), (Bytes::new(), None)));
                }
                let piece = rest.split_to(rest.len().min(PIECE));
                Some((Ok(piece), (rest, held)))
            });
        Body::from_stream(pieces)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file whose client reads too slowly to have it within the time is
    /// given up (the body ends in an error, the connection with it), and
    /// the person's place and the turn are free again.
    #[tokio::test]
    async fn a_file_not_sent_within_its_time_is_given_up_and_its_turns_are_free_again() {
        const PERSON: i64 = -7;
        let bodies = [Sending::take(PERSON, None).await.unwrap(), Sending::take(PERSON, None).await.unwrap()]
            .map(|s| s.body(vec![b'x'; 3 * PIECE], Duration::ZERO));
        let third = tokio::time::timeout(Duration::from_millis(200), Sending::take(PERSON, None)).await;
        assert!(third.is_err(), "two held: a third waits");
        for body in bodies {
            assert!(axum::body::to_bytes(body, usize::MAX).await.is_err(), "given up");
        }
        let sent = Sending::take(PERSON, None).await.unwrap().body(vec![b'x'; 3 * PIECE], SEND_WITHIN);
        assert_eq!(axum::body::to_bytes(sent, usize::MAX).await.unwrap().len(), 3 * PIECE, "in time, whole");
        let _again = [Sending::take(PERSON, None).await.unwrap(), Sending::take(PERSON, None).await.unwrap()];
    }
}
