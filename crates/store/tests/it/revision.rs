//! Reads kept at the data's revision (`mamori_store::revision`).

use crate::{each_backend, system_ctx};
use mamori_core::identity::OrgKind;
use std::sync::atomic::{AtomicUsize, Ordering};
use time::OffsetDateTime;

#[tokio::test]
async fn every_change_counts_up_the_revision_and_a_kept_read_follows_it() {
    for db in each_backend().await {
        let s = &db.store;
        let ctx = system_ctx(OffsetDateTime::now_utc());
        let r0 = s.revision().await.unwrap();
        assert_eq!(s.revision().await.unwrap(), r0, "{}: reading does not move it", db.name);
        let at0 = s.at(r0);
        assert!(at0.organisations().await.unwrap().is_empty(), "{}", db.name);
        let id = s.create_organisation_audited(&ctx, "総務課", OrgKind::Department, "").await.unwrap();
        let r1 = s.revision().await.unwrap();
        assert!(r1 > r0, "{}: {r0:?} {r1:?}", db.name);
        // At the old revision the kept (empty) list stands; at the new one
        // it is read again.
        assert!(s.at(r0).organisations().await.unwrap().is_empty(), "{}", db.name);
        let now = s.at(r1).organisations().await.unwrap();
        assert_eq!(now.iter().map(|o| o.id).collect::<Vec<_>>(), vec![id], "{}", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_bound_store_that_writes_reads_its_own_change() {
    for db in each_backend().await {
        let s = &db.store;
        let ctx = system_ctx(OffsetDateTime::now_utc());
        let request = s.at(s.revision().await.unwrap());
        assert!(request.organisations().await.unwrap().is_empty(), "{}", db.name);
        request.create_organisation_audited(&ctx, "総務課", OrgKind::Department, "").await.unwrap();
        assert_eq!(request.organisations().await.unwrap().len(), 1, "{}", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn remembered_values_are_kept_per_key_and_at_most_sixty_four_per_name() {
    for db in each_backend().await {
        let s = db.store.at(db.store.revision().await.unwrap());
        let computed = AtomicUsize::new(0);
        let compute = |k: usize| {
            let computed = &computed;
            async move || {
                computed.fetch_add(1, Ordering::Relaxed);
                Ok::<_, std::convert::Infallible>(k)
            }
        };
        for round in 0..2 {
            for k in 0..100 {
                let v = s.remember("test", k.to_string(), compute(k)).await.unwrap();
                assert_eq!(v, k, "{} round {round}", db.name);
            }
        }
        // The first round computes 100; the second only the 36 not kept.
        assert_eq!(computed.load(Ordering::Relaxed), 136, "{}", db.name);
        // Unbound: nothing is kept.
        db.store.remember("test", "0".into(), compute(0)).await.unwrap();
        assert_eq!(computed.load(Ordering::Relaxed), 137, "{}", db.name);
        db.cleanup().await;
    }
}
