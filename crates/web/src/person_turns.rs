//! Turns shared by everyone, of which one person holds only a few: what a
//! person holds while a client sends or reads slowly (an upload form, a
//! stored file being sent) must not let one person take every turn.

use crate::error::AppError;
use mamori_app::turns::{Turn, Turns};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// `at_once` turns for all, `per_person` of them for one person at once.
pub struct PersonTurns {
    turns: Turns,
    per_person: usize,
    people: Mutex<BTreeMap<i64, usize>>,
}

/// A turn held for a person: given back, with the person's place, when
/// dropped (a panic's unwinding, a client gone, included).
pub struct PersonTurn {
    _turn: Turn,
    _place: Place,
}

/// One person's place among those holding turns.
struct Place {
    of: &'static PersonTurns,
    person: i64,
}

impl PersonTurns {
    pub const fn new(at_once: usize, per_person: usize) -> PersonTurns {
        PersonTurns { turns: Turns::new(at_once), per_person, people: Mutex::new(BTreeMap::new()) }
    }

    /// The most turns held at once since start.
    pub fn peak(&self) -> usize {
        self.turns.peak()
    }

    /// A turn for `person`: busy (503) at once when the person holds
    /// `per_person` already, else a wait for one (within the request's
    /// time).
    pub async fn take(&'static self, person: i64) -> Result<PersonTurn, AppError> {
        let place = {
            let mut people = self.people.lock().expect("not poisoned");
            let held = people.entry(person).or_default();
            if *held >= self.per_person {
                return Err(AppError::Busy);
            }
            *held += 1;
            Place { of: self, person }
        };
        let turn = self.turns.take().await?;
        Ok(PersonTurn { _turn: turn, _place: place })
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut people = self.of.people.lock().expect("not poisoned");
        if let Some(held) = people.get_mut(&self.person) {
            *held -= 1;
            if *held == 0 {
                people.remove(&self.person);
            }
        }
    }
}
