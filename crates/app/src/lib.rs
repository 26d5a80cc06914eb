//! Operations: what a person can do in mamori, one function each.
//!
//! An operation takes the acting [`Person`], decides access through the one
//! scope rule of `core` and the person's permissions, and carries out the
//! change through the store, which checks the workflow and writes the audit
//! event in the same transaction. The web handlers only parse a request,
//! call an operation and render its result; the console calls the same
//! operations.

pub mod accounts;
pub mod catalog;
pub mod checklist;
pub mod credentials;
pub mod evidence;
pub mod gates;
pub mod inventory;
pub mod library;
mod notices;
pub mod notify;
pub mod oversight;
pub mod passwords;
pub mod records;
pub mod reminders;
pub mod reports;
pub mod signin;
pub mod turns;
pub mod workbook;
pub mod yearly;

use mamori_core::audit::{Actor, Origin};
use mamori_core::checklist::WorkflowError;
use mamori_core::identity::{Permission, Role};
use mamori_core::scope::Scope;
use mamori_store::accounts::Account;
use mamori_store::identity::{Ctx, Standing};
use mamori_store::{Store, StoreError};
use time::OffsetDateTime;

/// Who acts.
#[derive(Debug, Clone)]
pub struct Person {
    pub account_id: Option<i64>,
    pub login: String,
    pub role: Role,
    pub organisation_id: Option<i64>,
    /// The generation of the sessions the request came in (checked against
    /// the account when the request began).
    pub generation: Option<i64>,
}

impl Person {
    pub fn of(a: &Account) -> Person {
        Person {
            account_id: Some(a.id),
            login: a.login.clone(),
            role: a.role,
            organisation_id: a.organisation_id,
            generation: Some(a.session_generation),
        }
    }

    /// The operator at the server's console, who has the machine: acts in
    /// `role` (the security office's reads, the administrator's account
    /// commands), recorded under `login` (`console`, or `console:USER`).
    pub fn console(role: Role, login: String) -> Person {
        Person { account_id: None, login, role, organisation_id: None, generation: None }
    }

    pub fn scope(&self) -> Scope {
        Scope::of(self.role, self.organisation_id)
    }

    pub fn can(&self, p: Permission) -> bool {
        self.role.can(p)
    }

    pub fn actor(&self) -> Actor {
        Actor { account_id: self.account_id, login: self.login.clone() }
    }
}

/// One request to do something: the store, the person, where the request
/// came from and when.
pub struct Op<'a> {
    pub store: &'a Store,
    pub who: &'a Person,
    pub origin: Origin,
    pub now: OffsetDateTime,
}

impl Op<'_> {
    fn ctx(&self) -> Ctx {
        let standing = self.who.account_id.map(|_| Standing {
            role: self.who.role,
            organisation_id: self.who.organisation_id,
            generation: self.who.generation,
        });
        Ctx { now: self.now, actor: self.who.actor(), origin: self.origin.clone(), standing }
    }

    /// Missing permission answers as an unknown thing would: nothing is
    /// learnt from it.
    fn require(&self, p: Permission) -> Result<(), Refused> {
        if self.who.can(p) {
            Ok(())
        } else {
            Err(Refused::NotFound)
        }
    }
}

/// Every system's name by id, for the subjects of alerts raised by the
/// daily checks (which act for no one, so see every system).
pub(crate) async fn system_names(store: &Store) -> Result<std::collections::HashMap<i64, String>, StoreError> {
    let all = store.systems(Scope::All, &mamori_store::systems::SystemFilter::default()).await?;
    Ok(all.into_iter().map(|s| (s.id, s.input.name)).collect())
}

/// The names of the systems still in use, by id: a retired (廃止) system's
/// software raises no alert (its servers are gone, with the disposal
/// record of item 79), as it is scanned and reminded of no more.
pub(crate) async fn live_system_names(store: &Store) -> Result<std::collections::HashMap<i64, String>, StoreError> {
    let all = store.systems(Scope::All, &mamori_store::systems::SystemFilter::default()).await?;
    Ok(all
        .into_iter()
        .filter(|s| s.input.phase != mamori_core::checklist::Phase::Retired)
        .map(|s| (s.id, s.input.name))
        .collect())
}

/// Works run by [`off_the_workers`] since start.
static OFF_THE_WORKERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many works [`off_the_workers`] has run since start (a test's proof
/// that a reading went there).
pub fn runs_off_the_workers() -> usize {
    OFF_THE_WORKERS.load(std::sync::atomic::Ordering::SeqCst)
}

/// Runs `work` (reading an uploaded file: parsing and decompressing,
/// hashing, tens to hundreds of milliseconds) on the blocking pool, as many
/// at once as the machine has cores, so that the request workers go on
/// serving.
pub async fn off_the_workers<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Refused> {
    OFF_THE_WORKERS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    static CORES: turns::Turns = turns::Turns::new(0);
    CORES.run(work).await
}

/// Why an operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// No such thing, or not this person's to see or do (the same answer).
    #[error("not found")]
    NotFound,
    /// The workflow does not allow it now.
    #[error("refused by the workflow: {0:?}")]
    Workflow(WorkflowError),
    /// Someone changed it first.
    #[error("changed meanwhile")]
    Stale,
    /// A unique name is taken already.
    #[error("taken")]
    Taken,
    /// Asked again too soon; possible from this time.
    #[error("too soon; again after {0}")]
    TooSoon(OffsetDateTime),
    /// Input that cannot be accepted (the reason is for the person).
    #[error("invalid: {0}")]
    Invalid(&'static str),
    /// The database failed.
    #[error("database: {0}")]
    Store(StoreError),
    /// The person's account was disabled, or given another role or
    /// organisation, while the request ran: they sign in again (their
    /// sessions ended with the change) and act as they are now.
    #[error("the account changed")]
    AccountChanged,
    /// The server failed otherwise (a password could not be hashed).
    #[error("{0}")]
    Internal(&'static str),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Missing => Refused::NotFound,
            StoreError::Stale => Refused::Stale,
            StoreError::Taken => Refused::Taken,
            StoreError::Refused(w) => Refused::Workflow(w),
            StoreError::LastAdministrator => Refused::Invalid("last_administrator"),
            StoreError::AccountChanged => Refused::AccountChanged,
            other => Refused::Store(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::off_the_workers;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// On a runtime of one worker, the work waits for a task that only
    /// that worker can run: read on the worker itself, it would wait out
    /// its ten seconds and fail; off the workers, the task runs meanwhile.
    /// Three times as many as the cores at once, never more than the cores
    /// run together (without the limit, the blocking pool runs them all).
    #[tokio::test(flavor = "current_thread")]
    async fn uploaded_workbooks_are_read_off_the_request_workers_never_more_at_once_than_the_cores() {
        let (tx, rx) = std::sync::mpsc::channel();
        let worker_task = tokio::spawn(async move { tx.send(()).unwrap() });
        let read = off_the_workers(move || rx.recv_timeout(Duration::from_secs(10)).is_ok()).await.unwrap();
        assert!(read, "the worker ran its task while the work was being done");
        worker_task.await.unwrap();

        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let works: Vec<_> = (0..cores * 3)
            .map(|_| {
                let (running, peak) = (running.clone(), peak.clone());
                tokio::spawn(off_the_workers(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(50));
                    running.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for w in works {
            w.await.unwrap().unwrap();
        }
        let peak = peak.load(Ordering::SeqCst);
        assert!((1..=cores).contains(&peak), "{peak} at once, {cores} cores");
    }

    /// A request given up (its client gone, or past its time) drops the
    /// work's future while the work runs on. Its turn went with the future:
    /// as many works again started beside it, and a client that sent a
    /// workbook and hung up, again and again, ran the pool past the cores.
    /// The turn now goes with the work: works given up keep theirs to their
    /// end, and the next wait.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_given_up_by_its_request_keeps_its_turn_until_it_ends() {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let start = |ms: u64| {
            let (running, peak) = (running.clone(), peak.clone());
            tokio::spawn(off_the_workers(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(ms));
                running.fetch_sub(1, Ordering::SeqCst);
            }))
        };
        let given_up: Vec<_> = (0..cores).map(|_| start(500)).collect();
        while running.load(Ordering::SeqCst) < cores {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for request in &given_up {
            request.abort();
        }
        let next: Vec<_> = (0..cores).map(|_| start(10)).collect();
        for w in next {
            w.await.unwrap().unwrap();
        }
        let peak = peak.load(Ordering::SeqCst);
        assert_eq!(peak, cores, "{peak} at once, {cores} cores");
        assert_eq!(running.load(Ordering::SeqCst), 0, "the works given up ended before the next began");
    }
}
