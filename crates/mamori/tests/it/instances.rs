//! Several instances on one PostgreSQL, behind no proxy: started together
//! they apply each migration and import the catalog once; a person signs
//! in on one and goes on on the other; signing out on one ends the
//! session on both.

use crate::harness::{command, Opts, Server};
use reqwest::cookie::CookieStore;
use std::sync::Arc;
use tempfile::TempDir;

#[tokio::test]
async fn two_instances_started_together_migrate_once_and_a_person_goes_on_from_one_to_the_other() {
    let Some(url) = mamori_testkit::fresh_pg_database().await else {
        return;
    };
    let key = mamori_store::crypt::new_key_line(1);
    let (a_dir, b_dir) = (Arc::new(TempDir::new().unwrap()), Arc::new(TempDir::new().unwrap()));
    let opts =
        |dir: &Arc<TempDir>| Opts::default().data_dir(dir).args(&["--database-url", &url]).env("MAMORI_DATA_KEY", &key);
    let (a, b) = tokio::join!(Server::start(opts(&a_dir)), Server::start(opts(&b_dir)));

    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let (applied, distinct): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT version) FROM _sqlx_migrations")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(applied >= 18 && applied == distinct, "each migration applied once: {applied} of {distinct}");
    let count = |sql: &'static str| {
        let url = url.clone();
        async move {
            let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
            sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut c).await.unwrap()
        }
    };
    assert_eq!(count("SELECT COUNT(*) FROM audit_event WHERE action = 'server.start'").await, 2, "both started");
    assert_eq!(count("SELECT COUNT(*) FROM catalog_version").await, 1, "the shipped catalog imported once");

    // An account made on the console, with the same key.
    let d = a_dir.path().join("data");
    let args = [
        "user",
        "create",
        "--login",
        "kansa",
        "--name",
        "監査 次郎",
        "--email",
        "kansa@example.lg.jp",
        "--role",
        "auditor",
        "--password-stdin",
        "--data-dir",
        d.to_str().unwrap(),
        "--database-url",
        &url,
    ];
    let mut child = command()
        .args(args)
        .env("MAMORI_DATA_KEY", &key)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut child.stdin.take().unwrap(), b"Correct-Horse-42\n").await.unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Signed in on A; the same browser goes on on B (cookies know no port).
    a.first_sign_in("kansa", "Correct-Horse-42", "Own-Battery-Staple-7").await;
    let session = a.jar.cookies(&a.url("/").parse().unwrap()).expect("a session cookie");
    let on_b = b.client.get(b.url("/dashboard")).header("cookie", session.clone()).send().await.unwrap();
    assert_eq!(on_b.status(), 200, "B knows the session A began");
    let page = on_b.text().await.unwrap();
    assert!(page.contains("監査 次郎"), "{page}");

    // Signed out on B: A refuses the session as well.
    let token = crate::harness::token_in(&page);
    let out = b
        .client
        .post(b.url("/logout"))
        .header("cookie", session)
        .header("origin", &b.base)
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let again = a.client.get(a.url("/dashboard")).send().await.unwrap();
    assert_eq!(again.status(), 303, "signed out on both");
    a.stop().await;
    b.stop().await;
    drop(conn);
    mamori_testkit::drop_pg_database(&url).await;
}
