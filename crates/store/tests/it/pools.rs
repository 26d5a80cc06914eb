//! The connection pools under churn: what they report stays within what
//! they hold.

use crate::each_backend;

/// sqlx counts idle connections in a number it lowers as one is taken and
/// raises a moment after one is returned: taken in that moment, the count
/// wraps below zero for an instant. The metrics endpoint added the pools'
/// counts: in a debug build the sum overflowed and the request failed (a
/// 500 from /metrics, seen in a test run under load), in a release build it
/// reported four billion idle connections. Reads churn the pools from many
/// tasks while the counts are read again and again: idle never exceeds the
/// pool's size.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_idle_connections_reported_never_exceed_the_pool_under_churn() {
    for db in each_backend().await {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut readers = Vec::new();
        for _ in 0..16 {
            let (store, stop) = (db.store.clone(), stop.clone());
            readers.push(tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    store.account_count().await.unwrap();
                }
            }));
        }
        let store = db.store.clone();
        let watch = tokio::task::spawn_blocking(move || {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
            let mut reads = 0u64;
            while std::time::Instant::now() < until {
                let s = store.pool_stats();
                assert!(s.idle <= s.size, "{} idle of {} open", s.idle, s.size);
                reads += 1;
            }
            reads
        });
        let reads = watch.await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for r in readers {
            r.await.unwrap();
        }
        let reads = reads.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        assert!(reads > 1000, "{}: {reads} reads of the counts", db.name);
        db.cleanup().await;
    }
}
