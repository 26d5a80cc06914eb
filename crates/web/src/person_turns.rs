//! Turns shared by everyone, of which one person holds only a few, one
//! organisation's people together only some, and the people of every
//! organisation together (departments and companies: everyone but the
//! office) not all: what a person holds while a client sends or reads
//! slowly (an upload form, a stored file being sent) must not let one
//! person, or one company's people, or two companies', take every turn and
//! keep the office from its review. A further request waits for one of the
//! person's (or the company's, or the parties') own to end.

use crate::error::AppError;
use mamori_app::turns::{Turn, Turns};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// `at_once` turns for all, `per_person` of them for one person at once,
/// `per_organisation` for one organisation's people together, and
/// `for_parties` for the people of all organisations together.
pub struct PersonTurns {
    turns: Turns,
    per_person: usize,
    per_organisation: usize,
    for_parties: usize,
    /// The people and organisations holding or waiting for turns, each with
    /// their own few.
    holders: Mutex<BTreeMap<Holder, Arc<Semaphore>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Holder {
    Person(i64),
    Organisation(i64),
    /// The people of every organisation together.
    Parties,
}

/// A turn held for a person: given back, with the person's (and their
/// organisation's) place, when dropped (a panic's unwinding, a client gone,
/// included).
pub struct PersonTurn {
    _turn: Turn,
    _place: Place,
    _organisation: Option<(Place, Place)>,
}

/// One of a holder's places: its permit, and whom to forget once none is
/// held or awaited.
struct Place {
    of: &'static PersonTurns,
    holder: Holder,
    permit: Option<OwnedSemaphorePermit>,
}

impl PersonTurns {
    pub const fn new(at_once: usize, per_person: usize) -> PersonTurns {
        PersonTurns::shared_by(at_once, per_person, (at_once, at_once))
    }

    /// Besides [`PersonTurns::new`]'s limits, `per_organisation` turns for
    /// the people of one organisation together and `for_parties` for those
    /// of every organisation together (the rest are the office's).
    pub const fn shared_by(
        at_once: usize,
        per_person: usize,
        (per_organisation, for_parties): (usize, usize),
    ) -> PersonTurns {
        PersonTurns {
            turns: Turns::new(at_once),
            per_person,
            per_organisation,
            for_parties,
            holders: Mutex::new(BTreeMap::new()),
        }
    }

    /// Turns held now.
    pub fn running(&self) -> usize {
        self.turns.running()
    }

    /// The most turns held at once since start.
    pub fn peak(&self) -> usize {
        self.turns.peak()
    }

    /// A turn for `person`: first one of the person's own (waiting while
    /// they hold `per_person`), then one of everyone's (within the
    /// request's time, as every wait).
    pub async fn take(&'static self, person: i64) -> Result<PersonTurn, AppError> {
        self.take_for(person, None).await
    }

    /// [`PersonTurns::take`] for a person of `organisation` (none: the
    /// office's people, who are not counted together): after the person's
    /// own place, one of the organisation's, then one of the parties'.
    pub async fn take_for(&'static self, person: i64, organisation: Option<i64>) -> Result<PersonTurn, AppError> {
        let place = self.place(Holder::Person(person), self.per_person).await?;
        let organisation = match organisation {
            Some(o) => {
                let own = self.place(Holder::Organisation(o), self.per_organisation).await?;
                Some((own, self.place(Holder::Parties, self.for_parties).await?))
            }
            None => None,
        };
        let turn = self.turns.take().await?;
        Ok(PersonTurn { _turn: turn, _place: place, _organisation: organisation })
    }

    async fn place(&'static self, holder: Holder, size: usize) -> Result<Place, AppError> {
        let own = {
            let mut holders = self.holders.lock().expect("not poisoned");
            holders.entry(holder).or_insert_with(|| Arc::new(Semaphore::new(size))).clone()
        };
        let mut place = Place { of: self, holder, permit: None };
        place.permit = Some(own.acquire_owned().await.map_err(|_| AppError::Internal("closed".into()))?);
        Ok(place)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut holders = self.of.holders.lock().expect("not poisoned");
        drop(self.permit.take());
        // Forgotten when no one else holds or awaits a place of theirs
        // (each such holds the semaphore too).
        if holders.get(&self.holder).is_some_and(|own| Arc::strong_count(own) == 1) {
            holders.remove(&self.holder);
        }
    }
}
