//! Password checks off the async workers (items 39, 41), and the rule
//! that the checks on one account run one at a time.
//!
//! An argon2 check costs tens of milliseconds of CPU and 19 MiB of memory.
//! Checks run on the blocking pool behind a semaphore sized to the cores,
//! so a flood of sign-ins neither stalls other requests nor holds more than
//! that many hashes' memory at once. That memory is allocated once per
//! check slot and reused, never freed: how the allocator keeps or returns
//! freed blocks does not change what a flood costs. A refusal decided without a check
//! (a throttled address, a locked account) is padded to the typical time
//! of one, so the response time does not tell it apart.
//!
//! The sign-in checks wait in a queue of bounded length
//! ([`WAITING_PER_CORE`] a core): each sign-in runs to its end even when
//! its client has gone, so a flood from more addresses than the throttle
//! can hold back (an IPv6 block holds millions of /64s) would otherwise
//! pile up without end, every real person's sign-in behind it. Past the
//! queue's length a sign-in is answered "busy, try again" at once,
//! unchecked and uncounted against the account.

use crate::turns::{Turn, Turns};
use hmac::{Hmac, Mac};
use mamori_core::password::hash;
use sha2::Sha256;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

pub struct Hasher {
    /// A turn per core; the checks running in them now, and the most that
    /// ever ran at once, are counted by the checks themselves, which run on
    /// after a request given up.
    turns: Turns,
    /// A moving average of one check's duration, in microseconds (0: none yet).
    typical_us: AtomicU64,
    /// How many checks ran (a metric, and proof in tests that a refusal
    /// checked nothing).
    checks: AtomicU64,
    /// Sign-in checks waiting for their turn.
    waiting: AtomicU64,
    /// Key of the keyed hash that records user IDs matching no account.
    login_key: OnceCell<Vec<u8>>,
    /// Working memory of the checks, at most one per permit.
    memory: Arc<Mutex<Vec<hash::Memory>>>,
    /// Attempts on one account's second factor (or current password) are
    /// evaluated one at a time: one lock per stripe of account ids.
    accounts: Box<[tokio::sync::Mutex<()>]>,
    /// Failed sign-ins of the current minute (minutes since the epoch,
    /// count): past [`FAILURES_EACH`], they are counted, not logged one by one.
    failures: Mutex<(i64, u64)>,
    /// Sign-ins of one block reach the database's gate one at a time
    /// ([`crate::gates`]).
    pub blocks: crate::gates::BlockGates,
}

/// Failed passwords logged one by one in a minute (on each instance). Past
/// it, the rest of the minute is counted per source, as refused requests
/// are: anyone can fail a sign-in, each failure was a permanent event in
/// the audit log kept two years, and the per-address throttle bounds one
/// address, not an attacker with thousands of them (a refusal of a locked
/// account costs no password check, only a timer). A failure counted
/// against an account is always logged alone, outside this budget: there
/// are at most `max_failures` of them an account in a lock window, and a
/// flood of unknown IDs must not hide the guesses at a real one.
pub const FAILURES_EACH: u64 = 120;

/// Sign-in checks that may wait for their turn, per core: with a check of
/// some 40 ms, the last waits two to three seconds.
pub const WAITING_PER_CORE: u64 = 32;

/// The check did not run: the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

impl Hasher {
    pub fn new() -> Self {
        Hasher {
            turns: Turns::new(0),
            typical_us: AtomicU64::new(0),
            checks: AtomicU64::new(0),
            waiting: AtomicU64::new(0),
            login_key: OnceCell::new(),
            memory: Arc::default(),
            accounts: (0..64).map(|_| tokio::sync::Mutex::new(())).collect(),
            failures: Mutex::new((0, 0)),
            blocks: crate::gates::BlockGates::default(),
        }
    }

    /// Counts one failed sign-in at `now`: whether it is among the minute's
    /// first [`FAILURES_EACH`], to be logged on its own.
    pub fn failure_logged_alone(&self, now: time::OffsetDateTime) -> bool {
        let minute = now.unix_timestamp().div_euclid(60);
        let Ok(mut f) = self.failures.lock() else { return true };
        if f.0 != minute {
            *f = (minute, 0);
        }
        f.1 += 1;
        f.1 <= FAILURES_EACH
    }

    /// Holds every check's turn until dropped, so that checks wait: for
    /// tests of what a request given up while waiting leaves behind.
    #[doc(hidden)]
    pub async fn hold_every_turn(&self) -> Turn {
        self.turns.hold_all().await
    }

    /// Holds the checks on one account in this process until dropped.
    pub async fn one_at_a_time(&self, account_id: i64) -> tokio::sync::MutexGuard<'_, ()> {
        self.accounts[account_id.rem_euclid(self.accounts.len() as i64) as usize].lock().await
    }

    /// [`Hasher::verify`] for a sign-in: it waits in the bounded queue, or
    /// is refused `Busy` at once when the queue is full.
    pub async fn verify_queued(&self, password: &str, phc: Option<&str>) -> Result<bool, Busy> {
        let turn = self.queued_turn().await?;
        Ok(self.verify_now(password, phc, turn).await)
    }

    /// For a sign-in refused without a check (a locked account): its place
    /// in the queue, and its turn held for as long as `hashes` checks take
    /// (a timer, no work). It is answered as a checked one is: busy when
    /// the queue is full, and never sooner than the checks ahead of it. A
    /// refusal that skipped the queue was a 200 where every other ID got
    /// 503 busy, and quicker under load: a locked account was told apart.
    pub async fn wait_as_checked(&self, hashes: u32) -> Result<(), Busy> {
        let _turn = self.queued_turn().await?;
        self.pad(Instant::now(), hashes).await;
        Ok(())
    }

    /// A turn, after waiting in the bounded queue; `Busy` at once when the
    /// queue is full.
    async fn queued_turn(&self) -> Result<Turn, Busy> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting() {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Busy);
        }
        let waited = Waiting(&self.waiting);
        let turn = self.turns.take().await;
        drop(waited);
        turn.map_err(|_| Busy)
    }

    /// Sign-in checks waiting for their turn now.
    pub fn waiting(&self) -> u64 {
        self.waiting.load(Ordering::SeqCst)
    }

    /// The most sign-in checks that wait at once.
    pub fn max_waiting(&self) -> u64 {
        self.limit() as u64 * WAITING_PER_CORE
    }

    /// Checks `password` against `phc`, or against a dummy hash when there
    /// is no account (the same work, item 39); false for the dummy.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> bool {
        let Ok(turn) = self.turns.take().await else { return false };
        self.verify_now(password, phc, turn).await
    }

    /// [`Hasher::verify`] in its turn.
    async fn verify_now(&self, password: &str, phc: Option<&str>, turn: Turn) -> bool {
        let weight = mamori_core::password::checks_for(password);
        let password = password.to_owned();
        let phc = phc.map(str::to_owned);
        let pool = self.memory.clone();
        self.run_held(weight, turn, move || {
            let taken = pool.lock().map(|mut p| p.pop()).unwrap_or(None);
            let mut memory = taken.unwrap_or_else(hash::memory);
            let ok = match phc {
                Some(phc) => hash::verify_in(&password, &phc, &mut memory),
                None => {
                    hash::verify_dummy_in(&password, &mut memory);
                    false
                }
            };
            if let Ok(mut p) = pool.lock() {
                p.push(memory);
            }
            ok
        })
        .await
        .unwrap_or(false)
    }

    /// Hashes a new password, under the same limit.
    pub async fn hash(&self, password: &str) -> Option<String> {
        let password = password.to_owned();
        let turn = self.turns.take().await.ok()?;
        self.run_held(1, turn, move || hash::hash(&password)).await
    }

    /// Runs `f`, `weight` hashes, on the blocking pool in its `turn`; the
    /// typical duration learnt is one hash's. The turn goes with the work
    /// ([`Turn::run`]): a request given up drops this future, the hash runs
    /// on, and its turn with its memory is not another's until it ends.
    async fn run_held<T: Send + 'static>(
        &self,
        weight: u32,
        turn: Turn,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let started = Instant::now();
        let out = turn.run(f).await.ok();
        let took = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u64 / u64::from(weight.max(1));
        let old = self.typical_us.load(Ordering::Relaxed);
        let new = if old == 0 { took } else { (old * 7 + took) / 8 };
        self.typical_us.store(new, Ordering::Relaxed);
        self.checks.fetch_add(1, Ordering::Relaxed);
        out
    }

    /// The most checks that ran at once since start.
    pub fn peak_concurrency(&self) -> u64 {
        self.turns.peak() as u64
    }

    /// How many checks may run at once (the cores).
    pub fn limit(&self) -> usize {
        self.turns.at_once()
    }

    /// Password checks run since start.
    pub fn checks(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }

    /// Waits until `started` plus the typical duration of `hashes` hashes
    /// (a check of the password typed computes
    /// [`mamori_core::password::checks_for`]), with a little jitter. Costs
    /// no CPU: a timer.
    pub async fn pad(&self, started: Instant, hashes: u32) {
        let typical = self.typical_us.load(Ordering::Relaxed);
        let typical = if typical == 0 { 30_000 } else { typical } * u64::from(hashes.max(1));
        let jitter = rand::random::<u64>() % (typical / 10 + 1);
        tokio::time::sleep_until((started + Duration::from_micros(typical + jitter)).into()).await;
    }

    /// The key for [`Hasher::login_digest`], made once per installation and
    /// kept in the database so every instance agrees.
    pub async fn login_key(&self, store: &mamori_store::Store) -> Result<&[u8], mamori_store::StoreError> {
        self.login_key
            .get_or_try_init(|| async {
                let candidate: [u8; 32] = rand::random();
                let stored = store.server_secret("signin-login-key", &hex::encode(candidate)).await?;
                Ok(hex::decode(stored).unwrap_or_else(|_| candidate.to_vec()))
            })
            .await
            .map(Vec::as_slice)
    }
}

/// A typed user ID that matches no account, as recorded: a keyed hash, so
/// repeated attempts still correlate, while a password typed into the ID
/// field is never written down.
pub fn login_digest(key: &[u8], typed: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(typed.as_bytes());
    format!("unknown:{}", &hex::encode(mac.finalize().into_bytes())[..16])
}

/// One sign-in waiting for its turn, counted until dropped (also when the
/// wait is given up).
struct Waiting<'a>(&'a AtomicU64);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_ids_are_recorded_as_a_keyed_hash() {
        let a = login_digest(b"key-1", "Secret-Password-1");
        assert_eq!(a, login_digest(b"key-1", "Secret-Password-1"), "the same ID correlates");
        assert_ne!(a, login_digest(b"key-2", "Secret-Password-1"), "another installation, another digest");
        assert!(a.starts_with("unknown:") && !a.contains("Secret"));
    }

    #[tokio::test]
    async fn checks_are_counted_and_timed() {
        let h = Hasher::new();
        let phc = h.hash("Correct-Horse-42").await.unwrap();
        assert!(h.verify("Correct-Horse-42", Some(&phc)).await);
        assert!(!h.verify("wrong", Some(&phc)).await);
        assert!(!h.verify("anything", None).await);
        assert_eq!(h.checks(), 4);
        assert!(h.typical_us.load(Ordering::Relaxed) > 0);
    }

    /// A password hashed for a request given up (its client gone, its time
    /// out) runs on to its end; its turn went with the request, and as many
    /// hashes again started beside it, each with its 19 MiB. The turn now
    /// goes with the hash: those given up keep theirs until they end, and
    /// never more run at once than the turns.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hash_given_up_by_its_request_keeps_its_turn_until_it_ends() {
        let h = Arc::new(Hasher::new());
        let turns = h.limit() as u64;
        let start = |h: &Arc<Hasher>| {
            let h = h.clone();
            tokio::spawn(async move { h.hash("Correct-Horse-42").await })
        };
        let given_up: Vec<_> = (0..turns).map(|_| start(&h)).collect();
        while (h.turns.running() as u64) < turns {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        for request in &given_up {
            request.abort();
        }
        let next: Vec<_> = (0..turns).map(|_| start(&h)).collect();
        for n in next {
            assert!(n.await.unwrap().is_some());
        }
        assert_eq!(h.peak_concurrency(), turns, "never more at once than the turns");
        while h.turns.running() > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }
}
