//! The audit viewer's reads, retention, alerts and sign-in watch, on both backends.

use crate::each_backend;
use mamori_core::audit::{Action, Actor, ChainBreak, NewEvent, Origin, Outcome};
use mamori_core::monitoring::{Severity, SignInWatch};
use mamori_core::policy::Keeping;
use mamori_store::audit::{append, Verification};
use mamori_store::auditlog::AuditFilter;
use mamori_store::StoreError;
use time::{Duration, OffsetDateTime};

fn ev(login: &str, action: Action) -> NewEvent {
    NewEvent::new(Actor { account_id: None, login: login.into() }, Origin::default(), action, Outcome::Success)
}

/// Five events of 800 days ago (past the retention), then three of `now`.
async fn five_old_three_new(db: &crate::TestDb, now: OffsetDateTime) {
    for i in 0..5 {
        db.store
            .audit_record(now - Duration::days(800) + Duration::minutes(i), ev("old", Action::SignInSuccess))
            .await
            .unwrap();
    }
    for _ in 0..3 {
        db.store.audit_record(now, ev("new", Action::SignInSuccess)).await.unwrap();
    }
}

#[tokio::test]
async fn keyset_pages_cover_every_event_once_across_equal_timestamps() {
    for db in each_backend().await {
        let same = OffsetDateTime::now_utc();
        let mut tx = db.store.begin().await.unwrap();
        for i in 0..120 {
            let action = if i % 3 == 0 { Action::SignOut } else { Action::SignInSuccess };
            append(&mut tx, same, ev(if i % 2 == 0 { "even" } else { "odd" }, action)).await.unwrap();
        }
        tx.commit().await.unwrap();
        let f = AuditFilter::default();
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = db.store.audit_page(&f, cursor, 50).await.unwrap();
            let Some(last) = page.last() else { break };
            cursor = Some(last.record.seq);
            seen.extend(page.iter().map(|e| e.record.seq));
        }
        assert_eq!(seen, (1..=120).rev().collect::<Vec<_>>(), "{}: newest first, each once", db.name);
        let f = AuditFilter { actor_login: Some("even".into()), action: Some("signout".into()), ..Default::default() };
        let page = db.store.audit_page(&f, None, 100).await.unwrap();
        assert_eq!(page.len(), 20, "{}: i % 6 == 0", db.name);
        assert!(page.iter().all(|e| e.record.actor_login == "even" && e.record.action == "signout"));
        let f = AuditFilter { from: Some(same + Duration::seconds(1)), ..Default::default() };
        assert!(db.store.audit_page(&f, None, 10).await.unwrap().is_empty());
        let mut n = 0;
        db.store
            .audit_for_each(&AuditFilter::default(), |_| {
                n += 1;
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(n, 120);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn item_29_purge_removes_only_old_events_and_the_chain_still_verifies() {
    for db in each_backend().await {
        let now = OffsetDateTime::now_utc();
        five_old_three_new(&db, now).await;
        let cutoff = now - Duration::days(730);
        assert_eq!(db.store.purgeable(cutoff).await.unwrap(), Some((1, 5)), "{}", db.name);
        let ctx = crate::system_ctx(now);
        let archive = b"\x1f\x8b the compressed events".to_vec();
        let purged = db.store.purge_audit(&ctx, 1, 5, "audit-1-5.jsonl.gz", &archive).await.unwrap();
        assert_eq!(purged.events, 5);
        // The archive is kept in the database, with its hash.
        let kept = db.store.audit_archives().await.unwrap();
        assert_eq!(kept.len(), 1, "{}", db.name);
        assert_eq!((kept[0].name.as_str(), kept[0].from_seq, kept[0].through_seq), ("audit-1-5.jsonl.gz", 1, 5));
        assert_eq!((kept[0].size, kept[0].sha256.len()), (archive.len() as i64, 64), "{}", db.name);
        assert_eq!(db.store.audit_archive("audit-1-5.jsonl.gz").await.unwrap(), Some(archive), "{}", db.name);
        assert_eq!(db.store.audit_archive("audit-9-9.jsonl.gz").await.unwrap(), None);
        let left = db.store.audit_page(&AuditFilter::default(), None, 100).await.unwrap();
        assert_eq!(left.iter().map(|e| e.record.seq).collect::<Vec<_>>(), [9, 8, 7, 6], "{}", db.name);
        assert_eq!(left[0].record.action, "audit.purged");
        assert!(left[0].record.changes.contains("audit-1-5.jsonl.gz"));
        db.assert_chain(Verification::Intact { events: 4, head_seq: 9 }).await;
        assert_eq!(db.store.purgeable(cutoff).await.unwrap(), None, "nothing more to purge");
        // Tampering after a purge is still found.
        db.store.execute_unchecked_for_tests("UPDATE audit_event SET actor_login = 'x' WHERE seq = 6").await.unwrap();
        assert!(matches!(db.store.verify_and_alert(now).await.unwrap(), Verification::Broken(_)));
        let alerts = db.store.alerts(true).await.unwrap();
        assert_eq!(
            (alerts.len(), alerts[0].kind.as_str(), alerts[0].severity.as_str()),
            (1, "audit.chain_broken", "critical")
        );
        db.cleanup().await;
    }
}

/// A purge over an event changed, a stretch rewritten whole with its
/// hashes made again, or a stretch with one removed, was archived and the
/// anchor moved past it: the chain then verified, the tampering gone with
/// the events. Now the purge checks what it removes, and the link of the
/// event after it, in its transaction, and removes nothing when they do
/// not verify.
#[tokio::test]
async fn a_purge_over_a_changed_or_removed_event_removes_nothing() {
    for db in each_backend().await {
        let now = OffsetDateTime::now_utc();
        five_old_three_new(&db, now).await;
        let ctx = crate::system_ctx(now);
        db.store.execute_unchecked_for_tests("UPDATE audit_event SET actor_login = 'x' WHERE seq = 3").await.unwrap();
        let r = db.store.purge_audit(&ctx, 1, 5, "audit-1-5.jsonl.gz", b"a").await;
        assert!(matches!(r, Err(StoreError::ChainBroken(ChainBreak::Tampered { seq: 3 }))), "{}: {r:?}", db.name);
        // Past the purge's end, the change is not its business.
        let r = db.store.purge_audit(&ctx, 1, 2, "audit-1-2.jsonl.gz", b"a").await;
        assert!(r.is_ok(), "{}: {r:?}", db.name);
        // Events 3 to 5 rewritten whole, their hashes made again: the
        // stretch verifies alone, and breaks at the event after it.
        rewrite(&db, 3..=5).await;
        let r = db.store.purge_audit(&ctx, 3, 5, "audit-3-5.jsonl.gz", b"a").await;
        assert!(matches!(r, Err(StoreError::ChainBroken(ChainBreak::Link { seq: 6 }))), "{}: {r:?}", db.name);
        // Event 4 removed: a gap.
        db.store.execute_unchecked_for_tests("DELETE FROM audit_event WHERE seq = 4").await.unwrap();
        let r = db.store.purge_audit(&ctx, 3, 5, "audit-3-5.jsonl.gz", b"a").await;
        assert!(
            matches!(r, Err(StoreError::ChainBroken(ChainBreak::Gap { expected: 4, found: 5 }))),
            "{}: {r:?}",
            db.name
        );
        let left = db.store.audit_page(&AuditFilter::default(), None, 100).await.unwrap();
        assert_eq!(left.iter().map(|e| e.record.seq).collect::<Vec<_>>(), [9, 8, 7, 6, 5, 3], "{}", db.name);
        assert_eq!(db.store.audit_archives().await.unwrap().len(), 1, "{}: only the first", db.name);
        assert!(matches!(db.store.audit_verify().await.unwrap(), Verification::Broken(_)), "{}", db.name);
        db.cleanup().await;
    }
}

/// Events `seqs` rewritten (their actor), each hash made again from the
/// one before: the stretch verifies alone.
async fn rewrite(db: &crate::TestDb, seqs: std::ops::RangeInclusive<i64>) {
    let events = db.store.audit_page(&AuditFilter::default(), None, 100).await.unwrap();
    let of = |seq: i64| events.iter().find(|e| e.record.seq == seq).unwrap();
    let mut prev = of(*seqs.start()).prev_hash.clone();
    for seq in seqs {
        let mut record = of(seq).record.clone();
        record.actor_login = "forged".into();
        let hash = mamori_core::audit::chain_hash(&prev, &record);
        let sql = format!(
            "UPDATE audit_event SET actor_login = 'forged', prev_hash = '{prev}', hash = '{hash}' WHERE seq = {seq}"
        );
        db.store.execute_unchecked_for_tests(&sql).await.unwrap();
        prev = hash;
    }
}

/// The whole log past the retention, rewritten with its hashes made
/// again and the recorded head left: a purge of all of it ends at the
/// recorded head and is refused there.
#[tokio::test]
async fn a_purge_of_the_whole_log_rewritten_is_refused_at_the_recorded_head() {
    for db in each_backend().await {
        let now = OffsetDateTime::now_utc();
        five_old_three_new(&db, now).await;
        rewrite(&db, 1..=8).await;
        let r = db.store.purge_audit(&crate::system_ctx(now), 1, 8, "audit-1-8.jsonl.gz", b"a").await;
        assert!(matches!(r, Err(StoreError::ChainBroken(ChainBreak::Head { last: 8, head: 8 }))), "{}: {r:?}", db.name);
        assert_eq!(db.store.audit_page(&AuditFilter::default(), None, 100).await.unwrap().len(), 8, "{}", db.name);
        db.cleanup().await;
    }
}

/// A client trying three IDs from each of thirty /64s of its /48 was never
/// seen spraying (the watch counted each address alone), and a client with
/// many addresses opened an alert a source every hour, each a mail to the
/// office. The watch counts by block, as the throttle does, and past twenty
/// sources open at once counts the others in one alert.
#[tokio::test]
async fn spraying_from_thirty_64s_of_one_48_is_seen_and_past_twenty_open_sources_the_rest_are_counted_in_one() {
    use mamori_store::auditlog::{SPRAYING_OPEN, SPRAYING_OTHERS};
    for db in each_backend().await {
        let now = OffsetDateTime::now_utc();
        let watch = SignInWatch::default();
        let at = now - Duration::minutes(5);
        for i in 0..30 {
            for j in 0..3 {
                let addr = format!("2001:db8:7:{i:x}::1");
                db.store.record_attempt(at, &addr, &format!("user{}", i * 3 + j), false).await.unwrap();
            }
        }
        for i in 0..25 {
            for j in 0..10 {
                db.store.record_attempt(at, &format!("203.0.113.{}", 100 + i), &format!("id{j}"), false).await.unwrap();
            }
        }
        let spraying = async || {
            let open = db.store.alerts(true).await.unwrap();
            let mut seen: Vec<(String, i64)> =
                open.into_iter().filter(|a| a.kind == "signin.spraying").map(|a| (a.subject, a.count)).collect();
            seen.sort();
            seen
        };
        db.store.watch_signins(now, &watch).await.unwrap();
        let first = spraying().await;
        assert_eq!(first.len(), SPRAYING_OPEN + 1, "{}: {first:?}", db.name);
        assert!(first.contains(&("2001:db8:7::/48".to_owned(), 1)), "{}: {first:?}", db.name);
        assert!(first.contains(&(SPRAYING_OTHERS.to_owned(), 6)), "{}: the six past twenty: {first:?}", db.name);
        db.store.watch_signins(now, &watch).await.unwrap();
        let second = spraying().await;
        assert_eq!(second.len(), SPRAYING_OPEN + 1, "{}: no new alert: {second:?}", db.name);
        assert!(second.contains(&(SPRAYING_OTHERS.to_owned(), 12)), "{}: {second:?}", db.name);
        assert!(second.contains(&("2001:db8:7::/48".to_owned(), 2)), "{}: {second:?}", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn items_28_67_spikes_and_spraying_raise_alerts_and_normal_days_do_not() {
    for db in each_backend().await {
        let now = OffsetDateTime::now_utc();
        let watch = SignInWatch::default();
        // A normal week: two failures an hour from the office.
        for h in 1..=168 {
            for _ in 0..2 {
                db.store.record_attempt(now - Duration::hours(h), "10.0.0.5", "yamada", false).await.unwrap();
            }
        }
        db.store.record_attempt(now - Duration::minutes(10), "10.0.0.5", "yamada", false).await.unwrap();
        db.store.watch_signins(now, &watch).await.unwrap();
        assert!(db.store.alerts(true).await.unwrap().is_empty(), "{}: a normal week raises nothing", db.name);

        // Password spraying: one address, many accounts, in the last hour.
        for i in 0..12 {
            db.store
                .record_attempt(now - Duration::minutes(5), "203.0.113.9", &format!("user{i}"), false)
                .await
                .unwrap();
        }
        // A spike: 30 more failures in the last hour.
        for _ in 0..30 {
            db.store.record_attempt(now - Duration::minutes(20), "198.51.100.7", "sato", false).await.unwrap();
        }
        db.store.watch_signins(now, &watch).await.unwrap();
        db.store.watch_signins(now, &watch).await.unwrap();
        let alerts = db.store.alerts(true).await.unwrap();
        let kinds: Vec<(&str, &str, i64)> =
            alerts.iter().map(|a| (a.kind.as_str(), a.subject.as_str(), a.count)).collect();
        assert!(kinds.contains(&("signin.spraying", "203.0.113.9", 2)), "{}: {kinds:?}", db.name);
        assert!(kinds.iter().any(|(k, _, _)| *k == "signin.spike"), "{}: {kinds:?}", db.name);
        assert!(!kinds.iter().any(|(_, s, _)| *s == "198.51.100.7"), "one account from one address is not spraying");
        let ctx = crate::system_ctx(now);
        assert!(db.store.acknowledge_alert(&ctx, alerts[0].id, None).await.unwrap());
        assert!(!db.store.acknowledge_alert(&ctx, alerts[0].id, None).await.unwrap(), "once");
        assert_eq!(db.store.alerts(true).await.unwrap().len(), alerts.len() - 1);
        db.cleanup().await;
    }
}

/// Failed sign-ins, which anyone may cause, are removed after their time;
/// successful ones (which tell the users an address has known) and recent
/// failures stay.
#[tokio::test]
async fn failed_sign_in_attempts_are_purged_after_their_time_and_successes_are_kept() {
    for db in each_backend().await {
        let now = OffsetDateTime::now_utc();
        let old = now - Duration::days(100);
        db.store.record_attempt(old, "203.0.113.9", "guess", false).await.unwrap();
        db.store.record_attempt(old, "203.0.113.9", "guess2", false).await.unwrap();
        db.store.record_attempt(old, "10.0.0.5", "yamada", true).await.unwrap();
        db.store.record_attempt(now - Duration::days(1), "203.0.113.9", "guess3", false).await.unwrap();
        assert_eq!(db.store.purge_failed_attempts(now - Duration::days(90)).await.unwrap(), 2, "{}", db.name);
        assert_eq!(db.store.purge_failed_attempts(now - Duration::days(90)).await.unwrap(), 0, "{}", db.name);
        assert_eq!(db.store.purge_failed_attempts(now).await.unwrap(), 1, "{}: the recent one", db.name);
    }
}

/// The daily housekeeping kept failed sign-ins, one row each and anyone's
/// to cause, ninety days: what attackers could grow the database by was
/// ninety days of password checks. They stay eight days (the sign-in
/// watch and the statistics page read a week), successes ninety.
#[tokio::test]
async fn the_housekeeping_keeps_failed_sign_ins_eight_days_and_successful_ones_ninety() {
    for db in each_backend().await {
        let now = OffsetDateTime::now_utc();
        let days = |n: i64| now - Duration::days(n);
        for (at, login) in [(9, "guess9"), (8, "guess8"), (30, "guess30")] {
            db.store.record_attempt(days(at) - Duration::minutes(1), "203.0.113.9", login, false).await.unwrap();
        }
        db.store.record_attempt(days(7), "203.0.113.9", "guess7", false).await.unwrap();
        for at in [89, 60, 30] {
            db.store.record_attempt(days(at), "10.0.0.5", "alice", true).await.unwrap();
        }
        let p = db.store.purge_housekeeping(&crate::system_ctx(now), &Keeping::default()).await.unwrap();
        assert_eq!((p.failed_signins, p.old_signins), (3, 0), "{}: the failures of 8, 9 and 30 days", db.name);
        let top: Vec<String> =
            db.store.top_failures(days(1000), false, 10).await.unwrap().into_iter().map(|(l, _, _)| l).collect();
        assert_eq!(top, ["guess7"], "{}: the week's failure stays", db.name);
        let successes = db.store.new_address_signins(days(1000)).await.unwrap();
        assert_eq!(successes.len(), 1, "{}: alice's first sign-in stays", db.name);
        let again = db.store.purge_housekeeping(&crate::system_ctx(now), &Keeping::default()).await.unwrap();
        assert_eq!((again.failed_signins, again.old_signins), (0, 0), "{}", db.name);
        db.cleanup().await;
    }
}

/// Every successful sign-in was kept for good, one row each. Now, of an
/// address and login, the first and the last stay (the address is still
/// the person's own to the throttle, and a sign-in from it is not taken for
/// one from a new address), and every one of the last 90 days; an address
/// unused for the audit log's retention is forgotten, both rows.
#[tokio::test]
async fn successful_sign_ins_keep_each_address_s_first_and_last_and_forget_an_address_unused_for_the_retention() {
    use mamori_core::policy::LockoutPolicy;
    use mamori_store::accounts::Gate;
    for db in each_backend().await {
        let now = OffsetDateTime::now_utc();
        let days = |n: i64| now - Duration::days(n);
        for at in [400, 300, 200, 100, 10] {
            db.store.record_attempt(days(at), "10.0.0.5", "alice", true).await.unwrap();
        }
        db.store.record_attempt(days(60), "10.0.0.5", "alice", true).await.unwrap();
        for at in [800, 750] {
            db.store.record_attempt(days(at), "10.0.0.6", "bob", true).await.unwrap();
        }
        db.store.record_attempt(days(120), "10.0.0.7", "carol", true).await.unwrap();
        let ctx = crate::system_ctx(now);
        let keep = Keeping::default();
        assert_eq!((keep.signins, keep.alerts), (Duration::days(90), Duration::days(730)));
        let p = db.store.purge_housekeeping(&ctx, &keep).await.unwrap();
        assert_eq!(p.old_signins, 3 + 2, "{}: alice's 300, 200, 100; bob's both", db.name);
        let again = db.store.purge_housekeeping(&ctx, &keep).await.unwrap();
        assert_eq!(again.old_signins, 0, "{}", db.name);

        // Alice's first stays: her recent sign-ins are from a known address.
        let new: Vec<String> = db
            .store
            .new_address_signins(days(1000))
            .await
            .unwrap()
            .into_iter()
            .map(|(_, l, a)| format!("{l}@{a}"))
            .collect();
        assert_eq!(new, ["carol@10.0.0.7", "alice@10.0.0.5"], "{}: the first of each pair kept", db.name);
        // Her address still lets her past the throttle; bob's no longer does.
        let policy = LockoutPolicy { address_max_failures: 1, ..Default::default() };
        for (addr, login) in [("10.0.0.5", "guess"), ("10.0.0.6", "guess")] {
            db.store.record_attempt(now, addr, login, false).await.unwrap();
        }
        let gate = |addr: &'static str, login: &'static str| {
            let store = db.store.clone();
            async move { store.open_signin_attempt(now, addr, login, None, &policy).await.unwrap() }
        };
        assert!(!matches!(gate("10.0.0.5", "alice").await, Gate::Throttled), "{}: alice's own address", db.name);
        assert!(matches!(gate("10.0.0.6", "bob").await, Gate::Throttled), "{}: forgotten after two years", db.name);
        db.cleanup().await;
    }
}

/// The daily housekeeping removes old job runs and failed sign-ins with one
/// audit event saying how many, in the same transaction: they went with no
/// word in the log before. A run that removes nothing writes nothing. It
/// removes the alerts acknowledged and quiet since the cutoff too, with
/// their delivery attempts (they stayed for good, however many anyone
/// raised); an open alert, or one acknowledged since, stays.
#[tokio::test]
async fn housekeeping_records_what_it_removed_in_the_audit_log() {
    use mamori_core::jobs::JobKind;
    use mamori_core::monitoring::Severity;
    use mamori_store::notify::Attempt;
    for db in each_backend().await {
        let now = OffsetDateTime::now_utc();
        let old = now - Duration::days(100);
        db.store.record_attempt(old, "203.0.113.9", "guess", false).await.unwrap();
        db.store.record_attempt(old, "10.0.0.5", "yamada", true).await.unwrap();
        assert!(db.store.queue_job(old, JobKind::VerifyAudit, "2026-08-28", old).await.unwrap());
        let job = db.store.claim_job(old, "a").await.unwrap().unwrap();
        db.store.finish_job(old, &job, Ok("ok".into())).await.unwrap();
        let ctx = crate::system_ctx(now);
        let d90 = Duration::days(90);
        let keep = Keeping { done_jobs: d90, failed_jobs: d90, failed_signins: d90, signins: d90, alerts: d90 };
        let raise = async |at: OffsetDateTime, subject: &str, acknowledged: bool| {
            let id = db.store.raise_alert(at, "signin.spraying", Severity::Warning, subject, "").await.unwrap();
            let sent = Attempt { channel: "mail", recipient: "admin (1 件)".into(), ok: true, error: String::new() };
            db.store.record_deliveries(Some(id), at, &[sent]).await.unwrap();
            if acknowledged {
                db.store.acknowledge_alert(&crate::system_ctx(at), id, None).await.unwrap();
            }
            id
        };
        raise(old, "203.0.113.1", true).await;
        let open = raise(old, "203.0.113.2", false).await;
        let recent = raise(now, "203.0.113.3", true).await;
        let purge = async || {
            let p = db.store.purge_housekeeping(&ctx, &keep).await.unwrap();
            (p.job_runs, p.failed_signins, p.alerts)
        };
        assert_eq!(purge().await, (1, 1, 1), "{}", db.name);
        assert_eq!(purge().await, (0, 0, 0), "{}", db.name);
        let left: Vec<i64> = db.store.alerts(false).await.unwrap().iter().map(|a| a.id).collect();
        assert_eq!(left.len(), 2, "{}: {left:?}", db.name);
        assert!(left.contains(&open) && left.contains(&recent), "{}", db.name);
        let deliveries = db.store.deliveries(10).await.unwrap();
        assert_eq!(deliveries.iter().map(|d| d.alert_id).collect::<Vec<_>>(), [Some(recent)], "{}", db.name);
        let events: Vec<_> = db
            .store
            .audit_recent(50)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.record.action == "housekeeping.purged")
            .collect();
        assert_eq!(events.len(), 1, "{}: one event, none for the empty run", db.name);
        let changes: serde_json::Value = serde_json::from_str(&events[0].record.changes).unwrap();
        assert_eq!(
            (changes["job_runs"].as_u64(), changes["failed_signins"].as_u64(), changes["alerts"].as_u64()),
            (Some(1), Some(1), Some(1)),
            "{}",
            db.name
        );
        assert_eq!(events[0].record.actor_login, "system", "{}", db.name);
        db.cleanup().await;
    }
}

/// Twenty alerts of one kind and subject raised at once open one alert,
/// counted twenty times (ten rounds, each a subject of its own). On
/// PostgreSQL each read that none was open and inserted its own (twenty
/// alerts, twenty notifications).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_alerts_raised_at_once_open_one_counted_twenty_times() {
    use mamori_core::monitoring::Severity;
    for db in each_backend().await {
        let now = OffsetDateTime::now_utc();
        for round in 0..10 {
            let subject = format!("文書管理システム: tls {round}");
            let mut raises = tokio::task::JoinSet::new();
            for _ in 0..20 {
                let (store, subject) = (db.store.clone(), subject.clone());
                raises.spawn(async move {
                    store.raise_alert(now, "scan.regression", Severity::Warning, &subject, "").await
                });
            }
            while let Some(r) = raises.join_next().await {
                r.unwrap().unwrap();
            }
            let open: Vec<_> =
                db.store.alerts(true).await.unwrap().into_iter().filter(|a| a.subject == subject).collect();
            assert_eq!(open.len(), 1, "{}: round {round}: one open alert", db.name);
            assert_eq!(open[0].count, 20, "{}: round {round}: counted twenty times", db.name);
        }
        db.cleanup().await;
    }
}

/// Someone who can write to the database removes the start of the log and
/// moves the chain's anchor to the first event kept, or changes what a
/// retention purge archived: the chain verified from any anchor, and the
/// archives were never looked at.
#[tokio::test]
async fn item_27_the_start_of_the_log_cut_with_its_anchor_moved_or_a_purge_s_archive_changed_is_found() {
    use mamori_core::audit::ChainBreak;
    for db in each_backend().await {
        let now = OffsetDateTime::now_utc();
        five_old_three_new(&db, now).await;
        // Never purged: the chain begins at the genesis.
        let cut = |through: i64| {
            format!("UPDATE audit_chain SET anchor_seq = {through}, anchor_hash = (SELECT hash FROM audit_event WHERE seq = {through}) WHERE id = 1")
        };
        db.store.execute_unchecked_for_tests(&cut(2)).await.unwrap();
        db.store.execute_unchecked_for_tests("DELETE FROM audit_event WHERE seq <= 2").await.unwrap();
        db.assert_chain(Verification::Broken(ChainBreak::Anchor { anchor: 2 })).await;
        db.cleanup().await;
    }
    for db in each_backend().await {
        let now = OffsetDateTime::now_utc();
        five_old_three_new(&db, now).await;
        let ctx = crate::system_ctx(now);
        db.store.purge_audit(&ctx, 1, 5, "audit-1-5.jsonl.gz", b"\x1f\x8b the events").await.unwrap();
        db.assert_chain(Verification::Intact { events: 4, head_seq: 9 }).await;
        // The archive's recorded hash, then its bytes.
        let sha = db.store.audit_archives().await.unwrap().remove(0).sha256;
        db.store
            .execute_unchecked_for_tests(&format!("UPDATE audit_archive SET sha256 = '{}'", "0".repeat(64)))
            .await
            .unwrap();
        db.assert_chain(Verification::Broken(ChainBreak::Archive { seq: 9 })).await;
        db.store.execute_unchecked_for_tests(&format!("UPDATE audit_archive SET sha256 = '{sha}'")).await.unwrap();
        db.assert_chain(Verification::Intact { events: 4, head_seq: 9 }).await;
        db.store.execute_unchecked_for_tests("UPDATE audit_archive SET bytes = substr(bytes, 2)").await.unwrap();
        db.assert_chain(Verification::Broken(ChainBreak::Archive { seq: 9 })).await;
        // Purged once: the anchor is where that purge left it, no later.
        db.store
            .execute_unchecked_for_tests("UPDATE audit_chain SET anchor_seq = 7, anchor_hash = (SELECT hash FROM audit_event WHERE seq = 7) WHERE id = 1")
            .await
            .unwrap();
        db.store.execute_unchecked_for_tests("DELETE FROM audit_event WHERE seq <= 7").await.unwrap();
        db.assert_chain(Verification::Broken(ChainBreak::Anchor { anchor: 7 })).await;
        db.cleanup().await;
    }
}

/// Two purges at once on PostgreSQL (the daily job and `mamori audit
/// purge`), the later one decided on the chain as it was before the other
/// committed: it deleted nothing and moved the anchor back, and the chain
/// read as broken (a gap) for good. Now the second waits for the chain and
/// finds it purged meanwhile.
#[tokio::test]
async fn of_two_purges_at_once_the_second_finds_the_chain_purged_and_it_stays_intact() {
    use sqlx::Executor;
    for db in each_backend().await {
        let now = OffsetDateTime::now_utc();
        five_old_three_new(&db, now).await;
        let ctx = crate::system_ctx(now);
        let Some(url) = db.pg_url.clone() else {
            // One writer at a time: the stale purge is refused all the same.
            db.store.purge_audit(&ctx, 1, 5, "audit-1-5.jsonl.gz", b"a").await.unwrap();
            let stale = db.store.purge_audit(&ctx, 1, 3, "audit-1-3.jsonl.gz", b"b").await;
            assert!(matches!(stale, Err(mamori_store::StoreError::Stale)), "{stale:?}");
            db.assert_chain(Verification::Intact { events: 4, head_seq: 9 }).await;
            db.cleanup().await;
            continue;
        };
        // Another writer holds the chain while both purges begin.
        let mut other = crate::vulns::holding_the_audit_head(&url).await;
        let (store, c) = (db.store.clone(), ctx.clone());
        let first = tokio::spawn(async move { store.purge_audit(&c, 1, 5, "audit-1-5.jsonl.gz", b"a").await });
        mamori_testkit::waiting_for_locks(&url, 1).await;
        let (store, c) = (db.store.clone(), ctx.clone());
        let second = tokio::spawn(async move { store.purge_audit(&c, 1, 3, "audit-1-3.jsonl.gz", b"b").await });
        mamori_testkit::waiting_for_locks(&url, 2).await;
        other.execute("ROLLBACK").await.unwrap();
        let (first, second) = (first.await.unwrap(), second.await.unwrap());
        assert_eq!(first.unwrap().events, 5, "{}", db.name);
        assert!(matches!(second, Err(mamori_store::StoreError::Stale)), "{second:?}");
        db.assert_chain(Verification::Intact { events: 4, head_seq: 9 }).await;
        db.cleanup().await;
    }
}

/// An occurrence raised while its open alert is being acknowledged: it read
/// the alert as open, the acknowledgement committed, and the occurrence was
/// counted on the acknowledged alert: no open alert, no notice, a critical
/// failure unseen. It opens a new alert.
#[tokio::test]
async fn an_alert_raised_while_it_is_acknowledged_opens_a_new_one_and_is_not_lost() {
    use mamori_core::monitoring::Severity;
    use sqlx::{Connection, Executor};
    for db in each_backend().await {
        let now = OffsetDateTime::now_utc();
        let first =
            db.store.raise_alert(now, "backup.failed", Severity::Critical, "mamori", "disk full").await.unwrap();
        let ctx = crate::system_ctx(now);
        let Some(url) = db.pg_url.clone() else {
            // One writer at a time: an occurrence after the acknowledgement opens a new one.
            assert!(db.store.acknowledge_alert(&ctx, first, None).await.unwrap());
            let again =
                db.store.raise_alert(now, "backup.failed", Severity::Critical, "mamori", "again").await.unwrap();
            assert_ne!(again, first);
            assert_eq!(db.store.alerts(true).await.unwrap().len(), 1, "{}", db.name);
            db.cleanup().await;
            continue;
        };
        // Another transaction holds the alert's row: the occurrence reads it
        // as open and waits to count on it.
        let mut other = sqlx::PgConnection::connect(&url).await.unwrap();
        other.execute("BEGIN").await.unwrap();
        other.execute(sqlx::query("SELECT id FROM alert WHERE id = $1 FOR UPDATE").bind(first)).await.unwrap();
        let store = db.store.clone();
        let raised = tokio::spawn(async move {
            store.raise_alert(now, "backup.failed", Severity::Critical, "mamori", "again").await
        });
        mamori_testkit::waiting_for_locks(&url, 1).await;
        // The acknowledgement, as the store makes it, commits first.
        other
            .execute(
                sqlx::query("UPDATE alert SET acknowledged_by = 'officer', acknowledged_at_us = 1 WHERE id = $1")
                    .bind(first),
            )
            .await
            .unwrap();
        other.execute("COMMIT").await.unwrap();
        let again = raised.await.unwrap().unwrap();
        assert_ne!(again, first, "not counted on the acknowledged alert");
        let open = db.store.alerts(true).await.unwrap();
        assert_eq!(open.iter().map(|a| (a.id, a.count)).collect::<Vec<_>>(), [(again, 1)], "{}", db.name);
        db.cleanup().await;
    }
}

/// A system's alert is found by the system's number and its topic, not by
/// its subject (which names the system): raised again under a new name, it
/// counts on the alert open and shows the new name; another system's alert
/// of the same topic is its own, and an alert without a key is still found
/// by its subject.
#[tokio::test]
async fn a_system_s_alert_raised_again_under_a_new_name_counts_on_the_open_one() {
    use mamori_store::auditlog::{about_system, Raise};
    for db in each_backend().await {
        let now = OffsetDateTime::now_utc();
        let raise = async |id: i64, name: &str| {
            let (subject, key) = about_system(id, name, "https://a.example");
            let (kind, severity) = ("scan.certificate_expiring", Severity::Warning);
            db.store
                .raise(&Raise { now, kind, severity, subject: &subject, detail: "9 days left", key: Some(&key) })
                .await
                .unwrap()
        };
        let first = raise(7, "旧システム").await;
        assert_eq!(raise(7, "新システム").await, first, "{}", db.name);
        assert_ne!(raise(8, "新システム").await, first, "{}: another system's", db.name);
        let plain = db.store.raise_alert(now, "backup.failed", Severity::Critical, "backup", "x").await.unwrap();
        assert_eq!(db.store.raise_alert(now, "backup.failed", Severity::Critical, "backup", "y").await.unwrap(), plain);
        let open = db.store.alerts(true).await.unwrap();
        let a = open.iter().find(|a| a.id == first).unwrap();
        assert_eq!((a.count, a.subject.as_str()), (2, "新システム: https://a.example"), "{}", db.name);
        assert_eq!(open.len(), 3, "{}: {open:?}", db.name);
        db.cleanup().await;
    }
}
