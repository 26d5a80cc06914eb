//! The notifier's bookkeeping on both backends: one message per alert, a
//! reminder after the quiet period, a failed attempt tried again, a claim
//! held against other instances, and two instances claiming at once never
//! take the same alert.

use crate::each_backend;
use mamori_core::monitoring::Severity;
use mamori_store::notify::Attempt;
use mamori_store::Store;
use time::{Duration, OffsetDateTime};

fn ids(a: &[mamori_store::auditlog::Alert]) -> Vec<i64> {
    a.iter().map(|a| a.id).collect()
}

fn attempt(ok: bool) -> Vec<Attempt> {
    vec![Attempt {
        channel: "mail",
        recipient: "admin (1 件)".into(),
        ok,
        error: if ok { String::new() } else { "refused".into() },
    }]
}

#[tokio::test]
async fn an_alert_is_sent_once_reminded_after_the_quiet_period_retried_after_a_hold_when_it_failed_and_never_claimed_twice(
) {
    for db in each_backend().await {
        let s = &db.store;
        let t0 = OffsetDateTime::now_utc();
        let day = Duration::hours(24);
        let hold = Duration::minutes(5);
        let claim =
            |at: OffsetDateTime| async move { ids(&s.claim_alerts_to_notify(at, at - day, hold, 20).await.unwrap()) };
        let mut raised = Vec::new();
        for subject in ["a", "b", "c", "d"] {
            raised.push(s.raise_alert(t0, "signin.spraying", Severity::Warning, subject, "").await.unwrap());
        }
        let acked = raised[3];
        s.acknowledge_alert(&crate::system_ctx(t0), acked, None).await.unwrap();
        assert_eq!(claim(t0).await, raised[..3], "{}: the open ones", db.name);
        assert_eq!(claim(t0).await, Vec::<i64>::new(), "{}: held", db.name);
        // Raised again while held: still one alert, no second claim.
        s.raise_alert(t0, "signin.spraying", Severity::Warning, "a", "").await.unwrap();
        assert_eq!(claim(t0 + Duration::seconds(1)).await, Vec::<i64>::new(), "{}", db.name);

        s.record_deliveries(Some(raised[0]), t0, &attempt(true)).await.unwrap();
        s.record_deliveries(Some(raised[1]), t0, &attempt(false)).await.unwrap();
        // The failed one is tried again once its hold runs out, as the
        // third, never sent, is; the sent one waits.
        assert_eq!(claim(t0 + Duration::seconds(30)).await, Vec::<i64>::new(), "{}: not at every poll", db.name);
        assert_eq!(claim(t0 + Duration::minutes(6)).await, [raised[1], raised[2]], "{}", db.name);
        for id in &raised[1..3] {
            s.record_deliveries(Some(*id), t0 + Duration::minutes(6), &attempt(true)).await.unwrap();
        }
        assert_eq!(claim(t0 + Duration::hours(23)).await, Vec::<i64>::new(), "{}: quiet", db.name);
        assert_eq!(claim(t0 + day + Duration::minutes(3)).await, [raised[0]], "{}: a reminder", db.name);

        let attempts = s.deliveries(10).await.unwrap();
        assert_eq!(attempts.len(), 4, "{}", db.name);
        assert!(attempts.iter().any(|d| !d.ok && d.error == "refused" && d.alert_id == Some(raised[1])));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn two_instances_claiming_at_once_never_take_the_same_alert() {
    for db in each_backend().await {
        let t0 = OffsetDateTime::now_utc();
        for i in 0..40 {
            db.store.raise_alert(t0, "signin.spike", Severity::Info, &format!("s{i}"), "").await.unwrap();
        }
        let other = Store::open(&db.location, db.store.keys().clone()).await.unwrap();
        let mut tasks = Vec::new();
        for (n, store) in [db.store.clone(), other.clone()].into_iter().cycle().take(8).enumerate() {
            tasks.push(tokio::spawn(async move {
                let at = t0 + Duration::milliseconds(n as i64);
                store.claim_alerts_to_notify(at, at - Duration::hours(24), Duration::minutes(5), 20).await.unwrap()
            }));
        }
        let mut all: Vec<i64> = Vec::new();
        for t in tasks {
            all.extend(ids(&t.await.unwrap()));
        }
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!((n, all.len()), (40, 40), "{}: every alert claimed exactly once", db.name);
        other.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_delivery_failing_again_and_again_waits_5_10_then_20_minutes_and_a_success_starts_over() {
    for db in each_backend().await {
        let s = &db.store;
        let t0 = OffsetDateTime::from_unix_timestamp(OffsetDateTime::now_utc().unix_timestamp()).unwrap();
        let hold = mamori_core::monitoring::NOTIFY_HOLD;
        let claim = |at: OffsetDateTime| async move {
            ids(&s.claim_alerts_to_notify(at, at - Duration::days(30), hold, 20).await.unwrap())
        };
        let id = s.raise_alert(t0, "backup.failed", Severity::Critical, "backup", "").await.unwrap();
        let mut at = t0;
        for wait in [5, 10, 20] {
            assert_eq!(claim(at).await, [id], "{}: at +{}", db.name, (at - t0).whole_minutes());
            s.record_deliveries(Some(id), at, &attempt(false)).await.unwrap();
            let next = at + Duration::minutes(wait);
            assert_eq!(claim(next - Duration::seconds(1)).await, Vec::<i64>::new(), "{}: waits {wait} min", db.name);
            at = next;
        }
        // Delivered at last; a new failure (the reminder, a day on) waits 5 minutes again.
        assert_eq!(claim(at).await, [id]);
        s.record_deliveries(Some(id), at, &attempt(true)).await.unwrap();
        let reminder = at + Duration::days(31);
        assert_eq!(claim(reminder).await, [id], "{}", db.name);
        s.record_deliveries(Some(id), reminder, &attempt(false)).await.unwrap();
        assert_eq!(claim(reminder + Duration::minutes(5)).await, [id], "{}: the count started over", db.name);
        db.cleanup().await;
    }
}

/// The steps of a review leave their notices in their own transaction, for
/// those concerned: the last part submitted (not the first) one for the
/// security office; a return one for each organisation whose items came
/// back, with their numbers, and none for the others; an approval one for
/// each organisation that answered. A step refused leaves none. Each is
/// claimed by one notifier at a time, tried again after a failure, sent
/// once, and not sent at all once it is days old.
#[tokio::test]
async fn review_steps_leave_one_notice_each_for_those_concerned_claimed_once_and_none_when_refused() {
    use mamori_core::checklist::{AnswerInput, Review, SystemStatus};
    use mamori_core::monitoring::{NoticeKind, NOTICE_FRESH};
    for db in each_backend().await {
        let s = &db.store;
        let t0 = OffsetDateTime::from_unix_timestamp(OffsetDateTime::now_utc().unix_timestamp()).unwrap();
        let ctx = crate::system_ctx(t0);
        let catalog = s.ensure_catalog(&ctx).await.unwrap().unwrap();
        let kind = mamori_core::identity::OrgKind::Department;
        let dept = s.create_organisation_audited(&ctx, "総務課", kind, "").await.unwrap();
        let kind = mamori_core::identity::OrgKind::Vendor;
        let vendor = s.create_organisation_audited(&ctx, "ベンダーA", kind, "").await.unwrap();
        let input = mamori_store::systems::SystemInput {
            vendor_id: Some(vendor),
            attrs: mamori_core::catalog::SystemAttributes { web_system: true, ..Default::default() },
            ..mamori_store::systems::SystemInput::new("文書管理システム", dept)
        };
        let id = s.create_system(&ctx, &input, catalog).await.unwrap();
        let parts = s.parts(&s.system(id).await.unwrap().unwrap()).await.unwrap();
        let (mine, theirs) = (parts.numbers_of(vendor), parts.numbers_of(dept));
        assert!(!mine.is_empty() && !theirs.is_empty(), "{}: both answer", db.name);
        for n in mine.iter().chain(&theirs) {
            s.save_answer(&ctx, id, *n, &AnswerInput::done("実施")).await.unwrap();
        }
        let claim = |at: OffsetDateTime| async move { s.claim_notice(at).await.unwrap() };

        s.submit_part(&ctx, id, vendor).await.unwrap();
        assert_eq!(claim(t0).await, None, "{}: a part, the system not yet submitted", db.name);
        s.submit_part(&ctx, id, dept).await.unwrap();
        let n = claim(t0).await.expect("the last part: the office hears");
        assert_eq!((n.kind, n.system_id, n.round, n.organisation_id), (NoticeKind::Submitted, id, 1, None));
        assert_eq!(claim(t0).await, None, "{}: held by its claim", db.name);
        // Failed: not at the next poll, again after the hold.
        s.record_notice(&n, t0, &attempt(false), "文書管理システム", false).await.unwrap();
        assert_eq!(claim(t0 + Duration::seconds(30)).await, None, "{}", db.name);
        let again = claim(t0 + Duration::minutes(6)).await.expect("tried again");
        assert_eq!(again.id, n.id);
        s.record_notice(&n, t0, &attempt(true), "文書管理システム", false).await.unwrap();
        assert_eq!(claim(t0 + Duration::hours(1)).await, None, "{}: sent once", db.name);

        // Two of the vendor's items returned, the rest approved.
        let returned = [mine[0], mine[mine.len() - 1]];
        for a in s.answers(id, 1).await.unwrap() {
            let (review, comment) = if returned.contains(&a.number) {
                (Review::Returned, "証跡を添付してください")
            } else {
                (Review::Approved, "")
            };
            s.decide(&ctx, id, a.number, &a.seen(), review, comment).await.unwrap();
        }
        assert_eq!(s.finish_review(&ctx, id).await.unwrap(), SystemStatus::Returned);
        // Refused (the review is over): nothing more is told.
        assert!(s.finish_review(&ctx, id).await.is_err(), "{}", db.name);
        let n = claim(t0).await.expect("the return");
        assert_eq!(
            (n.kind, n.organisation_id, n.items.clone()),
            (NoticeKind::Returned, Some(vendor), returned.to_vec()),
            "{}: to the vendor, its items",
            db.name
        );
        s.record_notice(&n, t0, &attempt(true), "文書管理システム", false).await.unwrap();
        assert_eq!(claim(t0).await, None, "{}: the department had nothing returned", db.name);

        for n in returned {
            s.save_answer(&ctx, id, n, &AnswerInput::done("証跡を添付")).await.unwrap();
        }
        s.submit_part(&ctx, id, vendor).await.unwrap();
        let n = claim(t0).await.expect("submitted again");
        assert_eq!((n.kind, n.organisation_id), (NoticeKind::Submitted, None));
        // Nobody to tell: done, not tried again.
        s.record_notice(&n, t0, &attempt(false), "文書管理システム", true).await.unwrap();
        assert_eq!(claim(t0 + Duration::hours(1)).await, None, "{}", db.name);
        for a in s.answers(id, 1).await.unwrap().into_iter().filter(|a| returned.contains(&a.number)) {
            s.decide(&ctx, id, a.number, &a.seen(), Review::Approved, "").await.unwrap();
        }
        assert_eq!(s.finish_review(&ctx, id).await.unwrap(), SystemStatus::Approved);
        // Days later, the approval is not told any more.
        assert_eq!(claim(t0 + NOTICE_FRESH + Duration::minutes(1)).await, None, "{}: stale", db.name);
        // Two notifiers at once: each notice once.
        let other = Store::open(&db.location, s.keys().clone()).await.unwrap();
        let tasks: Vec<_> = [s.clone(), other.clone(), s.clone(), other.clone()]
            .into_iter()
            .map(|st| tokio::spawn(async move { st.claim_notice(t0).await.unwrap() }))
            .collect();
        let mut told = Vec::new();
        for t in tasks {
            told.extend(t.await.unwrap());
        }
        told.sort_by_key(|n| n.organisation_id);
        let approved: Vec<_> = told.iter().map(|n| (n.kind, n.organisation_id)).collect();
        let mut want = vec![(NoticeKind::Approved, Some(dept)), (NoticeKind::Approved, Some(vendor))];
        want.sort_by_key(|n| n.1);
        assert_eq!(approved, want, "{}: each who answered, once", db.name);
        other.close().await;
        db.cleanup().await;
    }
}

/// A thousand warnings raised at once (a vendor's inventory under many
/// advisories), then a failed backup: the backup's critical alert is in the
/// next claim, first, not fifty polls of twenty later; the warnings follow
/// oldest first.
#[tokio::test]
async fn a_critical_alert_raised_behind_a_thousand_warnings_is_claimed_first() {
    for db in each_backend().await {
        let s = &db.store;
        let t0 = OffsetDateTime::now_utc();
        let mut warnings = Vec::new();
        for i in 0..1000 {
            warnings.push(s.raise_alert(t0, "vuln.matched", Severity::Warning, &format!("w{i}"), "").await.unwrap());
        }
        let info = s.raise_alert(t0, "signin.spike", Severity::Info, "spike", "").await.unwrap();
        let critical = s.raise_alert(t0, "backup.failed", Severity::Critical, "backup", "").await.unwrap();
        let first =
            ids(&s.claim_alerts_to_notify(t0, t0 - Duration::hours(24), Duration::minutes(5), 20).await.unwrap());
        assert_eq!(first[0], critical, "{}", db.name);
        assert_eq!(first[1..], warnings[..19], "{}: then the warnings, oldest first", db.name);
        assert!(!first.contains(&info), "{}", db.name);
        db.cleanup().await;
    }
}
