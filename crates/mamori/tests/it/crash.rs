//! Nothing acknowledged is lost when the process dies without warning.

use crate::harness::{run, sqlite_store, Opts, Server};
use std::sync::Arc;
use tempfile::TempDir;

/// Each start writes its audit event before the server announces its URL
/// (the acknowledgement). Killing it with SIGKILL right after must lose
/// none of them and leave the chain intact.
#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let dir = Arc::new(TempDir::new().unwrap());
    for _ in 0..5 {
        let s = Server::start(Opts::default().data_dir(&dir)).await;
        assert_eq!(s.get("/healthz").await.status(), 200);
        s.kill().await;
    }
    let data = dir.path().join("data");
    let store = sqlite_store(&data).await;
    let events = store.audit_recent(100).await.unwrap();
    store.close().await;
    let starts = events.iter().filter(|e| e.record.action == "server.start").count();
    assert_eq!(starts, 5, "{events:#?}");
    assert_eq!(events.len(), 6, "five starts and the first start's catalog import: {events:#?}");
    let (code, out, err) = run(&["audit", "verify", "--data-dir", data.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{out}{err}");
}
