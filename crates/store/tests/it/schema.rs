use crate::each_backend;
use mamori_store::Backend;

/// The two migration folders must describe the same tables and columns.
#[tokio::test]
async fn sqlite_and_postgres_schemas_agree() {
    let dbs = each_backend().await;
    let mut described = Vec::new();
    for db in &dbs {
        described.push(db.store.describe_schema().await.unwrap());
    }
    assert!(described[0].iter().any(|(t, _)| t == "audit_event"), "{:?}", described[0]);
    if let [sqlite, postgres] = &described[..] {
        assert_eq!(sqlite, postgres);
    } else {
        assert_eq!(dbs[0].store.backend(), Backend::Sqlite);
    }
    for db in dbs {
        db.cleanup().await;
    }
}
