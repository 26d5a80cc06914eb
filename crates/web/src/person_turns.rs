//! Turns shared by everyone, of which one person holds only a few: what a
//! person holds while a client sends or reads slowly (an upload form, a
//! stored file being sent) must not let one person take every turn. A
//! person's further request waits for one of their own to end.

use crate::error::AppError;
use mamori_app::turns::{Turn, Turns};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// `at_once` turns for all, `per_person` of them for one person at once.
pub struct PersonTurns {
    turns: Turns,
    per_person: usize,
    /// The people holding or waiting for turns, each with their own few.
    people: Mutex<BTreeMap<i64, Arc<Semaphore>>>,
}

/// A turn held for a person: given back, with the person's place, when
/// dropped (a panic's unwinding, a client gone, included).
pub struct PersonTurn {
    _turn: Turn,
    _place: Place,
}

/// One of a person's places: its permit, and whom to forget once none is
/// held or awaited.
struct Place {
    of: &'static PersonTurns,
    person: i64,
    permit: Option<OwnedSemaphorePermit>,
}

impl PersonTurns {
    pub const fn new(at_once: usize, per_person: usize) -> PersonTurns {
        PersonTurns { turns: Turns::new(at_once), per_person, people: Mutex::new(BTreeMap::new()) }
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
        let own = {
            let mut people = self.people.lock().expect("not poisoned");
            people.entry(person).or_insert_with(|| Arc::new(Semaphore::new(self.per_person))).clone()
        };
        let mut place = Place { of: self, person, permit: None };
        place.permit = Some(own.acquire_owned().await.map_err(|_| AppError::Internal("closed".into()))?);
        let turn = self.turns.take().await?;
        Ok(PersonTurn { _turn: turn, _place: place })
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut people = self.of.people.lock().expect("not poisoned");
        drop(self.permit.take());
        // Forgotten when no one else holds or awaits a place of theirs
        // (each such holds the semaphore too).
        if people.get(&self.person).is_some_and(|own| Arc::strong_count(own) == 1) {
            people.remove(&self.person);
        }
    }
}
