//! How often one signed-in person may change something. Every change may
//! leave rows kept for years (an answer's history line, a version, an
//! audit event kept two years), and so does every audited download: one
//! account, or a script holding its session, could otherwise grow the
//! database as fast as the server answers. A person makes at most
//! `writes_per_minute` such requests in a minute and `writes_per_day` in a
//! day (in Japan); past either they are answered 429 with the time to wait,
//! having changed nothing, and the refusal is audited (as other refusals of
//! a signed-in person, one by one up to a limit a minute, then counted).
//! Signing out is never refused.
//!
//! Fixed windows, counted in memory per account (accounts are few and
//! known, so the table is bounded by them). Each instance counts the
//! requests it serves: behind a balancer over several instances a person
//! may make that many times as many.

use crate::auth::CurrentUser;
use crate::context::origin_of;
use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mamori_core::audit::{Action, Changes, NewEvent, Outcome};
use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;

/// Routes a signed-in person may always post to.
const NEVER_REFUSED: [&str; 1] = ["/logout"];

/// Seconds Japan is ahead of UTC: a day's count starts at midnight there.
const JST_SECS: i64 = 9 * 3600;

#[derive(Default)]
pub struct Pace {
    counts: Mutex<HashMap<i64, Count>>,
}

#[derive(Default, Clone, Copy)]
struct Count {
    minute: i64,
    in_minute: u32,
    day: i64,
    in_day: u32,
}

/// Which limit refused a request, and the seconds until its window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    Minute(i64),
    Day(i64),
}

impl Pace {
    /// Counts one request of `account` at `now`, or refuses it (uncounted)
    /// when it would pass `per_minute` in its minute or `per_day` in its day.
    pub fn take(&self, account: i64, now: OffsetDateTime, per_minute: u32, per_day: u32) -> Result<(), Wait> {
        let t = now.unix_timestamp();
        let (minute, day) = (t.div_euclid(60), (t + JST_SECS).div_euclid(86_400));
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let c = counts.entry(account).or_default();
        if c.minute != minute {
            (c.minute, c.in_minute) = (minute, 0);
        }
        if c.day != day {
            (c.day, c.in_day) = (day, 0);
        }
        if c.in_day >= per_day {
            return Err(Wait::Day((day + 1) * 86_400 - JST_SECS - t));
        }
        if c.in_minute >= per_minute {
            return Err(Wait::Minute((minute + 1) * 60 - t));
        }
        c.in_minute += 1;
        c.in_day += 1;
        Ok(())
    }
}

/// Does this request count: a change (anything but a read), or a download
/// that writes an audit event?
fn counts(req: &Request) -> bool {
    let route = req.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    if route.is_some_and(|r| NEVER_REFUSED.contains(&r)) {
        return false;
    }
    match *req.method() {
        Method::GET | Method::HEAD => route.is_some_and(crate::download::is_audited),
        Method::OPTIONS => false,
        _ => true,
    }
}

/// The layer: after [`crate::auth::resolve`], so that the person is known.
pub async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(user) = req.extensions().get::<CurrentUser>().cloned() else {
        return next.run(req).await;
    };
    if !counts(&req) {
        return next.run(req).await;
    }
    let limits = state.config.limits;
    let now = state.clock.now();
    let Err(wait) = state.pace.take(user.account().id, now, limits.writes_per_minute, limits.writes_per_day) else {
        return next.run(req).await;
    };
    let (window, secs) = match wait {
        Wait::Minute(s) => ("minute", s),
        Wait::Day(s) => ("day", s),
    };
    let path = req.extensions().get::<MatchedPath>().map_or("", MatchedPath::as_str);
    let event = NewEvent::new(user.actor(), origin_of(req.extensions()), Action::RequestsLimited, Outcome::Denied)
        .changes(Changes::new().with("path", path).with("window", window));
    state.refused_person(user.account().id, event).await;
    let mut res = StatusCode::TOO_MANY_REQUESTS.into_response();
    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res.extensions_mut().insert(crate::error::ErrorDetail(format!("past the {window}'s limit of changes")));
    if let Wait::Day(_) = wait {
        // Not "wait a moment": not before midnight in Japan.
        res.extensions_mut().insert(crate::error_page::Explained("error-429-day"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_person_is_refused_past_the_minute_s_and_the_day_s_limits_and_counted_again_when_they_end() {
        let pace = Pace::default();
        let t = datetime!(2026-12-07 14:59:10 UTC); // 23:59:10 in Japan
        for _ in 0..3 {
            assert_eq!(pace.take(1, t, 3, 5), Ok(()));
        }
        assert_eq!(pace.take(1, t, 3, 5), Err(Wait::Minute(50)));
        assert_eq!(pace.take(2, t, 3, 5), Ok(()), "another person");
        let next = datetime!(2026-12-07 15:00:00 UTC) - time::Duration::seconds(30);
        assert_eq!(pace.take(1, next, 3, 5), Err(Wait::Minute(30)), "refusals are not counted, nor do they push on");
        // 23:59:40 in Japan: the next minute is the next day.
        let (a, b) = (datetime!(2026-12-07 14:58:00 UTC), datetime!(2026-12-07 14:59:59 UTC));
        let other = Pace::default();
        for _ in 0..3 {
            assert_eq!(other.take(1, a, 3, 5), Ok(()));
        }
        for _ in 0..2 {
            assert_eq!(other.take(1, b, 3, 5), Ok(()));
        }
        assert_eq!(other.take(1, b, 3, 5), Err(Wait::Day(1)), "five in the day");
        assert_eq!(other.take(1, datetime!(2026-12-07 15:00:00 UTC), 3, 5), Ok(()), "midnight in Japan");
    }
}
