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
//! Fixed windows, counted in the database (`change_pace`, one row an
//! account), so that every instance behind a balancer counts alike. A
//! window found full is remembered here until it ends (a full window stays
//! full on every instance): a script posting past its limit is refused
//! without the database, whose write lock each count takes.

use crate::auth::CurrentUser;
use crate::context::origin_of;
use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mamori_core::audit::{Action, Changes, NewEvent, Outcome};
use mamori_store::Full;
use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;

/// Routes a signed-in person may always post to.
const NEVER_REFUSED: [&str; 1] = ["/logout"];

/// Seconds Japan is ahead of UTC: a day's count starts at midnight there.
const JST_SECS: i64 = 9 * 3600;

/// Which limit refused a request, and the seconds until its window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    Minute(i64),
    Day(i64),
}

/// The windows `now` falls in: minutes since the epoch, and days since the
/// epoch in Japan (a day's count starts at midnight there).
fn windows(now: OffsetDateTime) -> (i64, i64) {
    let t = now.unix_timestamp();
    (t.div_euclid(60), (t + JST_SECS).div_euclid(86_400))
}

/// How long a request refused by `full` at `now` waits: to the end of its
/// minute, or to midnight in Japan.
fn wait(full: Full, now: OffsetDateTime) -> Wait {
    let t = now.unix_timestamp();
    let (minute, day) = windows(now);
    match full {
        Full::Minute => Wait::Minute((minute + 1) * 60 - t),
        Full::Day => Wait::Day((day + 1) * 86_400 - JST_SECS - t),
    }
}

/// The windows known to be full: by account, which one and the second
/// (since the epoch) it ends. Bounded by the accounts.
#[derive(Default)]
pub struct Pace {
    full: Mutex<HashMap<i64, (Full, i64)>>,
}

impl Pace {
    /// The window of `account` known to be full at `now`, if any.
    fn known(&self, account: i64, now: OffsetDateTime) -> Option<Full> {
        let mut full = self.full.lock().unwrap_or_else(|e| e.into_inner());
        match full.get(&account) {
            Some(&(which, until)) if now.unix_timestamp() < until => Some(which),
            Some(_) => {
                full.remove(&account);
                None
            }
            None => None,
        }
    }

    /// Remembers that `account`'s `which` window was full at `now`, until it ends.
    fn remember(&self, account: i64, which: Full, now: OffsetDateTime) {
        let until = now.unix_timestamp() + wait(which, now).secs();
        self.full.lock().unwrap_or_else(|e| e.into_inner()).insert(account, (which, until));
    }
}

impl Wait {
    fn secs(self) -> i64 {
        match self {
            Wait::Minute(s) | Wait::Day(s) => s,
        }
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
    let account = user.account().id;
    let full = match state.pace.known(account, now) {
        Some(full) => full,
        None => {
            match state.store.count_change(account, windows(now), limits.writes_per_minute, limits.writes_per_day).await
            {
                Ok(Ok(())) => return next.run(req).await,
                Ok(Err(full)) => {
                    state.pace.remember(account, full, now);
                    full
                }
                Err(e) => return crate::error::AppError::from(e).into_response(),
            }
        }
    };
    let wait = wait(full, now);
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
    fn a_minute_s_refusal_waits_to_its_end_and_a_day_s_to_midnight_in_japan() {
        let t = datetime!(2026-12-07 14:59:10 UTC); // 23:59:10 in Japan
        assert_eq!(wait(Full::Minute, t), Wait::Minute(50));
        assert_eq!(wait(Full::Day, t), Wait::Day(50));
        let (minute, day) = windows(t);
        assert_eq!(windows(datetime!(2026-12-07 15:00:00 UTC)), (minute + 1, day + 1), "midnight in Japan");
        assert_eq!(windows(datetime!(2026-12-07 14:59:59 UTC)), (minute, day));
        assert_eq!(wait(Full::Day, datetime!(2026-12-07 15:00:00 UTC)), Wait::Day(86_400));
    }

    #[test]
    fn a_full_window_is_known_until_it_ends_and_forgotten_after() {
        let pace = Pace::default();
        let t = datetime!(2026-12-07 14:59:10 UTC); // 23:59:10 in Japan
        assert_eq!(pace.known(1, t), None);
        pace.remember(1, Full::Minute, t);
        assert_eq!(pace.known(1, t + time::Duration::seconds(49)), Some(Full::Minute));
        assert_eq!(pace.known(2, t), None, "another person");
        assert_eq!(pace.known(1, datetime!(2026-12-07 15:00:00 UTC)), None, "the next minute");
        assert!(pace.full.lock().unwrap().is_empty(), "forgotten");
        let noon = datetime!(2026-12-07 03:00:00 UTC); // noon in Japan
        pace.remember(1, Full::Day, noon);
        assert_eq!(pace.known(1, datetime!(2026-12-07 14:59:59 UTC)), Some(Full::Day));
        assert_eq!(pace.known(1, datetime!(2026-12-07 15:00:00 UTC)), None, "midnight in Japan");
    }
}
