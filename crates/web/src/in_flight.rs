//! A signed-in person's requests are worked on a few at a time, each until
//! its response is sent; the others wait, unread, for one of theirs to end
//! (within the request's time). A page can be large (a round's history:
//! 200 lines, each up to 10,000 characters of answer), and one person, or a
//! script holding their session, asking for it thirty times at once had the
//! server build and hold thirty copies.

use crate::auth::CurrentUser;
use crate::person_turns::{PersonTurn, PersonTurns};
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A person's requests worked on (and sent) at once.
pub const PER_PERSON: usize = 6;
static IN_FLIGHT: PersonTurns = PersonTurns::new(1 << 16, PER_PERSON);

/// The layer: after [`crate::auth::resolve`], so that the person is known.
pub async fn limit(req: Request, next: Next) -> Response {
    let Some(user) = req.extensions().get::<CurrentUser>().cloned() else {
        return next.run(req).await;
    };
    let turn = match IN_FLIGHT.take(user.account().id).await {
        Ok(turn) => turn,
        Err(e) => return e.into_response(),
    };
    next.run(req).await.map(|body| Body::new(Held { body, _turn: turn }))
}

/// A response body holding its request's turn until its last byte is
/// taken, or the connection goes.
struct Held {
    body: Body,
    _turn: PersonTurn,
}

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
