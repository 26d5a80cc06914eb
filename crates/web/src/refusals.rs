//! Refused requests of people without an account are counted, not logged
//! one by one: one audit event per client address, kind and minute, with
//! the count and a sample path cut to 256 characters. Anyone can send
//! refused requests; without this, each would be a permanent link in the
//! audit chain. An IPv6 address counts by its /64 ([`source_of`]), as the
//! sign-in throttle does: a client given a /64 would otherwise write one
//! event for each address it takes from it. The table is bounded: past
//! [`MAX_KEYS`] sources in one minute, the rest are counted together
//! under `*`.
//!
//! A signed-in person's refusals are recorded one by one, each with its
//! path, up to [`SIGNED_IN_EACH`] a minute; past that, the rest of the
//! minute is counted into one event under their name, so that one account
//! cannot grow the audit log without bound by asking for what is not
//! theirs.

use mamori_core::audit::{Action, Actor, Changes, NewEvent, Origin, Outcome};
use mamori_core::policy::source_of;
use mamori_store::Store;
use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;

/// Sources written one by one in a minute: what anyone can add to the
/// audit log, which keeps it two years, is bounded in total.
const MAX_KEYS: usize = 100;
const MAX_PATH_CHARS: usize = 256;

/// A signed-in person's refusals recorded one by one in a minute.
pub const SIGNED_IN_EACH: u64 = 20;

#[derive(Default)]
pub struct Refusals {
    inner: Mutex<Bucket>,
}

#[derive(Default)]
struct Bucket {
    /// Minutes since the epoch of the events in `counts`.
    minute: i64,
    counts: HashMap<(String, &'static str), Entry>,
    /// By account: refusals this minute, and those past [`SIGNED_IN_EACH`].
    signed_in: HashMap<i64, Counted>,
}

struct Entry {
    count: u64,
    sample_path: String,
}

struct Counted {
    seen: u64,
    /// The event that will carry the count (the first one counted).
    over: Option<NewEvent>,
}

fn minute_of(t: OffsetDateTime) -> i64 {
    t.unix_timestamp().div_euclid(60)
}

impl Refusals {
    /// Counts one refusal. Returns the events of a minute that has ended,
    /// for the caller to write ([`Refusals::write`]).
    pub fn note(&self, now: OffsetDateTime, addr: &str, why: &'static str, path: &str) -> Vec<NewEvent> {
        let mut b = self.inner.lock().expect("refusal table poisoned");
        let minute = minute_of(now);
        let done = if b.minute != minute { Self::drain(&mut b, minute) } else { Vec::new() };
        let source = addr.parse().map_or_else(|_| addr.to_owned(), |ip| source_of(ip).to_string());
        let key_addr = if b.counts.len() >= MAX_KEYS && !b.counts.contains_key(&(source.clone(), why)) {
            "*".to_owned()
        } else {
            source
        };
        b.counts
            .entry((key_addr, why))
            .or_insert_with(|| Entry { count: 0, sample_path: path.chars().take(MAX_PATH_CHARS).collect() })
            .count += 1;
        done
    }

    /// A refusal of signed-in person `account`: `Some(event)` back while it
    /// is among the first [`SIGNED_IN_EACH`] of the minute (the caller
    /// records it), `None` once they are counted into one event for the
    /// minute. Also returns the events of a minute that has ended.
    pub fn note_signed_in(
        &self,
        now: OffsetDateTime,
        account: i64,
        event: NewEvent,
    ) -> (Option<NewEvent>, Vec<NewEvent>) {
        let mut b = self.inner.lock().expect("refusal table poisoned");
        let minute = minute_of(now);
        let done = if b.minute != minute { Self::drain(&mut b, minute) } else { Vec::new() };
        // Accounts are few and known: the table is bounded by them.
        let c = b.signed_in.entry(account).or_insert(Counted { seen: 0, over: None });
        c.seen += 1;
        if c.seen <= SIGNED_IN_EACH {
            return (Some(event), done);
        }
        c.over.get_or_insert(event);
        (None, done)
    }

    /// The events of every minute before `now`'s (called by the server's
    /// periodic job and at shutdown, with a time past the last minute).
    pub fn take_finished(&self, now: OffsetDateTime) -> Vec<NewEvent> {
        let mut b = self.inner.lock().expect("refusal table poisoned");
        let minute = minute_of(now);
        if b.minute < minute {
            Self::drain(&mut b, minute)
        } else {
            Vec::new()
        }
    }

    fn drain(b: &mut Bucket, next_minute: i64) -> Vec<NewEvent> {
        let at = b.minute * 60;
        b.minute = next_minute;
        let anonymous = std::mem::take(&mut b.counts).into_iter().map(|((addr, why), e)| {
            let origin = Origin { client_addr: Some(addr), user_agent: None, request_id: None };
            NewEvent::new(Actor::anonymous(), origin, Action::RequestsRefused, Outcome::Denied).changes(
                Changes::new()
                    .with("why", why)
                    .with("count", e.count)
                    .with("minute", at)
                    .with("sample_path", e.sample_path),
            )
        });
        // The first refusal past the limit stands for the rest: its own
        // fields, the count and the minute added.
        let signed_in = std::mem::take(&mut b.signed_in).into_values().filter_map(|c| {
            let counted = c.seen - SIGNED_IN_EACH.min(c.seen);
            c.over.map(|ev| {
                let changes = ev.changes.clone().with("count", counted).with("minute", at);
                ev.changes(changes)
            })
        });
        anonymous.chain(signed_in).collect()
    }

    /// Writes finished minutes' events to the audit log.
    pub async fn write(store: &Store, now: OffsetDateTime, events: Vec<NewEvent>) {
        for ev in events {
            if let Err(e) = store.audit_record(now, ev).await {
                tracing::error!("cannot audit refused requests: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn one_event_per_address_and_minute_with_the_count() {
        let r = Refusals::default();
        let t0 = datetime!(2026-11-29 10:00:05 UTC);
        assert!(r.note(t0, "192.0.2.1", "csrf", "/x").is_empty());
        let long = format!("/{}", "a".repeat(8000));
        for _ in 0..399 {
            assert!(r.note(t0, "192.0.2.1", "csrf", &long).is_empty());
        }
        r.note(t0, "192.0.2.2", "csrf", "/y");
        let events = r.note(t0 + time::Duration::minutes(1), "192.0.2.1", "csrf", "/z");
        assert_eq!(events.len(), 2);
        let one = events.iter().find(|e| e.origin.client_addr.as_deref() == Some("192.0.2.1")).unwrap();
        let changes = format!("{:?}", one.changes);
        assert!(changes.contains("\"count\": Number(400)") && changes.contains("String(\"/x\")"), "{changes}");
        assert_eq!(r.take_finished(t0 + time::Duration::minutes(2)).len(), 1, "the /z minute");
    }

    #[test]
    fn the_table_is_bounded() {
        let r = Refusals::default();
        let t0 = datetime!(2026-11-29 10:00:00 UTC);
        for i in 0..(MAX_KEYS + 500) {
            r.note(t0, &format!("2001:db8:{i:x}::1"), "csrf", "/");
        }
        let events = r.take_finished(t0 + time::Duration::minutes(1));
        assert_eq!(events.len(), MAX_KEYS + 1, "the rest under *");
        let star = events.iter().find(|e| e.origin.client_addr.as_deref() == Some("*")).unwrap();
        assert!(format!("{:?}", star.changes).contains("\"count\": Number(500)"));
    }
}
