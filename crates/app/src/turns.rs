//! Turns for heavy work (reading an uploaded file, building a workbook,
//! sealing a ZIP, holding an upload in memory): so many at a time, each
//! turn held by its work to its end.

use crate::Refused;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Turns, `at_once` at a time. A turn taken goes with its work, not with
/// the request that asked: a request given up (its client gone, its time
/// out) drops its future while the work runs on on its thread, and the
/// turn is free only when the work ends, so that a client asking and
/// hanging up again and again runs no more at once than the turns.
pub struct Turns {
    at_once: usize,
    shared: OnceLock<Arc<Shared>>,
}

/// The turns, and the turns taken (the works running in them) now and at
/// the most.
struct Shared {
    semaphore: Arc<Semaphore>,
    running: AtomicUsize,
    peak: AtomicUsize,
}

/// One turn, held until dropped or handed to its work ([`Turn::run`]);
/// counted as running while it is held (a panicking work's too).
pub struct Turn {
    _permit: OwnedSemaphorePermit,
    shared: Arc<Shared>,
    counted: bool,
}

impl Drop for Turn {
    fn drop(&mut self) {
        if self.counted {
            self.shared.running.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Turns {
    /// `at_once` at a time; 0: as many as the machine has cores.
    pub const fn new(at_once: usize) -> Turns {
        Turns { at_once, shared: OnceLock::new() }
    }

    /// How many at a time.
    pub fn at_once(&self) -> usize {
        match self.at_once {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        }
    }

    fn shared(&self) -> &Arc<Shared> {
        self.shared.get_or_init(|| {
            let semaphore = Arc::new(Semaphore::new(self.at_once()));
            Arc::new(Shared { semaphore, running: AtomicUsize::new(0), peak: AtomicUsize::new(0) })
        })
    }

    /// Turns taken now: works running in them (a given-up request's too),
    /// and turns held over what comes before a work.
    pub fn running(&self) -> usize {
        self.shared().running.load(Ordering::SeqCst)
    }

    /// The most turns taken at once since the start.
    pub fn peak(&self) -> usize {
        self.shared().peak.load(Ordering::SeqCst)
    }

    /// Waits for a turn: one held over what comes before the work (reading
    /// what it works on), then given to [`Turn::run`].
    pub async fn take(&self) -> Result<Turn, Refused> {
        let shared = self.shared().clone();
        let permit =
            shared.semaphore.clone().acquire_owned().await.map_err(|_| Refused::Internal("the turns are closed"))?;
        let now = shared.running.fetch_add(1, Ordering::SeqCst) + 1;
        shared.peak.fetch_max(now, Ordering::SeqCst);
        Ok(Turn { _permit: permit, shared, counted: true })
    }

    /// Runs `work` on the blocking pool in a turn of its own.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Refused> {
        self.take().await?.run(work).await
    }

    /// Holds every turn until dropped, so that others wait: for tests of
    /// those who wait.
    #[doc(hidden)]
    pub async fn hold_all(&self) -> Turn {
        let n = u32::try_from(self.at_once()).unwrap_or(u32::MAX);
        let shared = self.shared().clone();
        let permit = shared.semaphore.clone().acquire_many_owned(n).await.expect("the semaphore is never closed");
        Turn { _permit: permit, shared, counted: false }
    }
}

impl Turn {
    /// Runs `work` on the blocking pool, this turn held until it ends.
    pub async fn run<T: Send + 'static>(self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Refused> {
        let work = move || {
            // The whole turn moves in (its permit too), not only what is
            // used of it, and is given back when the work ends.
            let _turn = self;
            work()
        };
        tokio::task::spawn_blocking(work).await.map_err(|_| Refused::Internal("a work on the blocking pool stopped"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Two turns; two works of half a second whose requests are given up
    /// at once: every turn is free only when both have ended (never more
    /// than two at once), and a turn held over what comes before the work
    /// counts as one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_turn_goes_with_its_work_to_its_end_not_with_the_request_that_asked() {
        static TWO: Turns = Turns::new(2);
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let work = |ms: u64| {
            let (running, peak) = (running.clone(), peak.clone());
            move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(ms));
                running.fetch_sub(1, Ordering::SeqCst);
            }
        };
        let given_up: Vec<_> = (0..2).map(|_| tokio::spawn(TWO.run(work(500)))).collect();
        while running.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for request in &given_up {
            request.abort();
        }
        let every = TWO.hold_all().await;
        assert_eq!(running.load(Ordering::SeqCst), 0, "the turns are free only when the works given up have ended");
        drop(every);
        let held = TWO.take().await.unwrap();
        let next = tokio::spawn(TWO.run(work(10)));
        held.run(work(10)).await.unwrap();
        next.await.unwrap().unwrap();
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        assert_eq!((TWO.peak(), TWO.running()), (2, 0), "as the turns count them");
    }
}
