//! Scheduled work as rows on both backends: a run queued by several
//! instances exists once; two instances claiming at once run each of 200
//! runs exactly once; a failed attempt waits a growing time and the last
//! one fails for good with an alert; a run left past its lease is taken up
//! again, and the instance that left it cannot overwrite the result.

use crate::each_backend;
use mamori_core::jobs::{JobKind, JobState};
use mamori_store::Store;
use std::collections::HashMap;
use time::{Duration, OffsetDateTime};

#[tokio::test]
async fn two_instances_queue_a_run_once_and_claiming_at_once_run_each_of_200_runs_exactly_once() {
    for db in each_backend().await {
        let t0 = now();
        let other = Store::open(&db.location, db.store.keys().clone()).await.unwrap();
        let instances = [("a", db.store.clone()), ("b", other.clone())];

        // Both instances queue the same 200 runs, at once.
        let mut queuing = Vec::new();
        for (_, store) in &instances {
            for i in 0..200 {
                let store = store.clone();
                queuing.push(tokio::spawn(async move {
                    store.queue_job(t0, JobKind::QueueScans, &format!("run {i}"), t0).await.unwrap()
                }));
            }
        }
        let mut queued = 0;
        for q in queuing {
            queued += q.await.unwrap() as usize;
        }
        assert_eq!(queued, 200, "{}: each run queued by one of the two", db.name);
        assert_eq!(db.store.jobs(1000).await.unwrap().len(), 200, "{}", db.name);

        // Four workers per instance claim and finish until nothing is left.
        let mut workers = Vec::new();
        for (name, store) in &instances {
            for w in 0..4 {
                let (store, worker) = (store.clone(), format!("{name}{w}"));
                workers.push(tokio::spawn(async move {
                    let mut ran = Vec::new();
                    let now = t0 + Duration::seconds(1);
                    while let Some(job) = store.claim_job(now, &worker).await.unwrap() {
                        assert_eq!(job.claimed_by.as_deref(), Some(worker.as_str()));
                        let state = store.finish_job(now, &job, Ok(format!("ran by {worker}"))).await.unwrap();
                        assert_eq!(state, Some(JobState::Done));
                        ran.push(job.id);
                    }
                    ran
                }));
            }
        }
        let mut runs: HashMap<i64, usize> = HashMap::new();
        let mut busy_workers = 0;
        for w in workers {
            let ran = w.await.unwrap();
            busy_workers += usize::from(!ran.is_empty());
            for id in ran {
                *runs.entry(id).or_default() += 1;
            }
        }
        assert_eq!(runs.len(), 200, "{}: every run ran", db.name);
        assert!(runs.values().all(|n| *n == 1), "{}: none twice", db.name);
        assert!(busy_workers >= 2, "{}: the work was shared", db.name);
        let jobs = db.store.jobs(1000).await.unwrap();
        assert!(jobs.iter().all(|j| j.state == JobState::Done && j.attempts == 1), "{}", db.name);
        assert_eq!(
            db.store.job_counts(t0).await.unwrap(),
            mamori_store::jobs::JobCounts::default(),
            "{}: nothing waits",
            db.name
        );
        other.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_failed_attempt_waits_a_growing_time_and_the_last_one_fails_for_good_with_a_critical_alert() {
    for db in each_backend().await {
        let s = &db.store;
        let t0 = now();
        assert!(s.queue_job(t0, JobKind::Backup, "2026-12-04", t0).await.unwrap());
        assert!(s.claim_job(t0 - Duration::seconds(1), "a").await.unwrap().is_none(), "{}: not before", db.name);
        let mut at = t0;
        for (attempt, wait) in [(1, 1), (2, 2), (3, 4)] {
            let job = s.claim_job(at, "a").await.unwrap().expect("due");
            assert_eq!(job.attempts, attempt, "{}", db.name);
            let state = s.finish_job(at, &job, Err(format!("disk full {attempt}"))).await.unwrap();
            assert_eq!(state, Some(JobState::Queued), "{}", db.name);
            let counts = s.job_counts(at).await.unwrap();
            assert_eq!((counts.retrying, counts.waiting, counts.running), (1, 0, 0), "{}", db.name);
            let next = at + Duration::minutes(wait);
            assert!(s.claim_job(next - Duration::seconds(1), "a").await.unwrap().is_none(), "{}: waits", db.name);
            at = next;
        }
        assert!(s.alerts(true).await.unwrap().is_empty(), "{}: no alert while attempts remain", db.name);
        let job = s.claim_job(at, "b").await.unwrap().expect("the last attempt");
        assert_eq!(job.attempts, 4);
        assert_eq!(s.finish_job(at, &job, Err("disk full 4".into())).await.unwrap(), Some(JobState::Failed));
        let stored = &s.jobs(10).await.unwrap()[0];
        assert_eq!((stored.state, stored.outcome.as_str()), (JobState::Failed, "disk full 4"), "{}", db.name);
        assert!(s.claim_job(at + Duration::days(1), "a").await.unwrap().is_none(), "{}: not again", db.name);
        let alerts = s.alerts(true).await.unwrap();
        assert_eq!(alerts.len(), 1, "{}", db.name);
        assert_eq!((alerts[0].kind.as_str(), alerts[0].severity.as_str()), ("job.failed", "critical"));
        assert_eq!(alerts[0].subject, "backup");
        assert!(alerts[0].detail.contains("disk full 4"), "{}", alerts[0].detail);
        assert_eq!(s.job_counts(at).await.unwrap().failed_24h, 1, "{}", db.name);

        // Old finished runs go; newer ones and failed ones stay longer.
        assert!(s.queue_job(at, JobKind::VerifyAudit, "2026-12-04", at).await.unwrap());
        let done = s.claim_job(at, "a").await.unwrap().unwrap();
        s.finish_job(at, &done, Ok("ok".into())).await.unwrap();
        assert_eq!(s.purge_jobs(at, at).await.unwrap(), 0, "{}: nothing before", db.name);
        let later = at + Duration::seconds(1);
        assert_eq!(s.purge_jobs(later, at).await.unwrap(), 1, "{}: the done one", db.name);
        assert_eq!(s.purge_jobs(later, later).await.unwrap(), 1, "{}: the failed one", db.name);
        assert!(s.jobs(10).await.unwrap().is_empty(), "{}", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_run_left_past_its_lease_is_taken_up_again_and_the_instance_that_left_it_cannot_overwrite_the_result() {
    for db in each_backend().await {
        let s = &db.store;
        let t0 = now();
        let lease = JobKind::DisableInactive.lease();
        s.queue_job(t0, JobKind::DisableInactive, "2026-12-04", t0).await.unwrap();
        let first = s.claim_job(t0, "a").await.unwrap().unwrap();
        assert_eq!(first.lease_until, Some(t0 + lease), "{}", db.name);
        assert!(s.claim_job(t0 + lease - Duration::seconds(1), "b").await.unwrap().is_none(), "{}: held", db.name);
        let again = s.claim_job(t0 + lease + Duration::seconds(1), "b").await.unwrap().expect("taken up");
        assert_eq!((again.id, again.attempts, again.claimed_by.as_deref()), (first.id, 2, Some("b")));
        // The late instance's result is refused…
        let late = s.finish_job(t0 + lease, &first, Err("interrupted".into())).await.unwrap();
        assert_eq!(late, None, "{}: fenced", db.name);
        assert_eq!(s.jobs(1).await.unwrap()[0].state, JobState::Running, "{}", db.name);
        // …and the one that holds the run ends it.
        let end = t0 + lease + Duration::minutes(1);
        assert_eq!(s.finish_job(end, &again, Ok("2 accounts".into())).await.unwrap(), Some(JobState::Done));
        let stored = &s.jobs(1).await.unwrap()[0];
        assert_eq!((stored.outcome.as_str(), stored.finished_at), ("2 accounts", Some(end)), "{}", db.name);
        db.cleanup().await;
    }
}

/// Now, to the second: what the store keeps compares equal.
fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(OffsetDateTime::now_utc().unix_timestamp()).unwrap()
}
