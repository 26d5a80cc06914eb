//! The command line: subcommands, and flags > environment > file.

use crate::harness::{run, Opts, Server};
use tempfile::TempDir;

#[tokio::test]
async fn help_lists_the_subcommands() {
    let (code, out, _) = run(&["--help"]).await;
    assert_eq!(code, 0);
    for sub in ["serve", "check-config", "audit"] {
        assert!(out.contains(sub), "{sub} missing from\n{out}");
    }
}

async fn redirect_origin(opts: Opts) -> String {
    let s = Server::start(opts.args(&["--http-redirect-listen", "127.0.0.1:0"])).await;
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = plain.get(format!("{}/", s.redirect.clone().unwrap())).send().await.unwrap();
    let location = res.headers().get("location").unwrap().to_str().unwrap().to_owned();
    s.kill().await;
    location
}

#[tokio::test]
async fn flags_win_over_environment_and_environment_over_file() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("mamori.toml");
    std::fs::write(&file, "public_url = \"https://file.example.lg.jp\"\n").unwrap();
    let f = file.to_str().unwrap();

    let from_file = redirect_origin(Opts::default().args(&["--config", f])).await;
    assert_eq!(from_file, "https://file.example.lg.jp/");

    let from_env =
        redirect_origin(Opts::default().args(&["--config", f]).env("MAMORI_PUBLIC_URL", "https://env.example.lg.jp"))
            .await;
    assert_eq!(from_env, "https://env.example.lg.jp/");

    let from_flag = redirect_origin(
        Opts::default()
            .args(&["--config", f, "--public-url", "https://flag.example.lg.jp"])
            .env("MAMORI_PUBLIC_URL", "https://env.example.lg.jp"),
    )
    .await;
    assert_eq!(from_flag, "https://flag.example.lg.jp/");

    // The config file can be named by the environment too.
    let via_env_config = redirect_origin(Opts::default().env("MAMORI_CONFIG", f)).await;
    assert_eq!(via_env_config, "https://file.example.lg.jp/");
}

#[tokio::test]
async fn configured_certificate_is_used_instead_of_the_self_signed_one() {
    let dir = TempDir::new().unwrap();
    // A certificate for localhost: let one server generate it, then hand a
    // copy to another as if it were the operator's own.
    let first = Server::start(Opts::default()).await;
    let crt = dir.path().join("site.crt");
    let key = dir.path().join("site.key");
    std::fs::copy(first.data_dir().join("tls/self-signed.crt"), &crt).unwrap();
    std::fs::copy(first.data_dir().join("tls/self-signed.key"), &key).unwrap();
    first.kill().await;

    let data = TempDir::new().unwrap();
    let out = run(&[
        "check-config",
        "--data-dir",
        data.path().to_str().unwrap(),
        "--tls-cert",
        crt.to_str().unwrap(),
        "--tls-key",
        dir.path().join("missing.key").to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.0, 2, "a missing key file is refused: {}", out.2);
    assert!(out.2.contains("missing.key"), "{}", out.2);

    let s = Server::start(
        Opts::default().args(&["--tls-cert", crt.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]).trust(&crt),
    )
    .await;
    assert_eq!(s.get("/healthz").await.status(), 200, "served with the configured certificate");
    assert!(!s.data_dir().join("tls/self-signed.crt").exists(), "no self-signed certificate is generated");
    // Read once the health check's line is in: a warning at start would be before it.
    assert!(!s.logs_with("/healthz").await.contains("自己署名証明書で HTTPS"), "no self-signed warning");
    s.kill().await;
}

/// Runs `mamori ARGS…` with its standard output on a pipe whose reader is
/// gone before the command writes anything; returns how it ended and what
/// it wrote to standard error.
async fn with_stdout_closed(args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = crate::harness::command()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn mamori");
    // The command opens its database before it prints: by then the only
    // reader of the pipe is closed.
    drop(child.stdout.take());
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("mamori ends when nobody reads its output")
        .expect("wait for mamori");
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test]
async fn commands_end_quietly_when_their_reader_goes_away() {
    use std::os::unix::process::ExitStatusExt;
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let (code, _, err) = run(&["demo", "--data-dir", d]).await;
    assert_eq!(code, 0, "{err}");
    // Imports print after their commit: a reader gone is no failure of
    // the import (they panicked, exit 101, as if nothing was imported).
    let sheet = dir.path().join("inventory.csv");
    std::fs::write(&sheet, "product,version,vendor,cpe,support_end,runs_on\nnginx,1.24.0,F5,,,web01\n").unwrap();
    let feed = dir.path().join("nginx.json");
    std::fs::write(&feed, r#"[{"cycle":"1.24","eol":"2024-04-23","latest":"1.24.0"}]"#).unwrap();
    let (sheet, feed) = (sheet.to_str().unwrap(), feed.to_str().unwrap());
    for args in [
        &["system", "list", "--data-dir", d][..],
        &["catalog", "export", "--format", "yaml", "--data-dir", d],
        &["audit", "export", "--format", "csv", "--data-dir", d],
        &["user", "list", "--format", "json", "--data-dir", d],
        &["inventory", "import", "--system", "1", sheet, "--data-dir", d],
        &["feed", "import", feed, "--data-dir", d],
    ] {
        let (status, err) = with_stdout_closed(args).await;
        assert!(!err.contains("panicked") && !err.contains("backtrace"), "{args:?} panicked:\n{err}");
        assert!(
            status.code() == Some(0) || status.signal() == Some(libc::SIGPIPE),
            "{args:?} ends with success or by SIGPIPE, not {status:?}:\n{err}"
        );
    }
}

/// The database holds every session's id in the clear (the cookie's value)
/// and the server's secrets. In a data directory prepared by hand (0755)
/// with a database file made readable by others (as under a umask of 022),
/// any local user could take over a session. The database and its WAL and
/// shared-memory files are now the owner's only, whatever they were made
/// with, while the server runs.
#[tokio::test]
async fn the_database_and_its_wal_are_the_owner_s_only_whatever_they_were_made_with() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::sync::Arc::new(TempDir::new().unwrap());
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = data.join("mamori.db");
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let s = Server::start(Opts::default().data_dir(&dir)).await;
    assert_eq!(s.get("/healthz").await.status(), 200);
    for name in ["mamori.db", "mamori.db-wal", "mamori.db-shm"] {
        let mode = std::fs::metadata(data.join(name)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name}");
    }
    s.kill().await;
}

#[tokio::test]
async fn commands_prepare_a_missing_data_directory_as_the_server_does() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("new/missing/dir");
    let (code, out, err) = run(&["catalog", "export", "--format", "yaml", "--data-dir", data.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{err}");
    let catalog = mamori_core::catalog::CatalogFile::from_yaml(&out).expect("the export is a catalog");
    assert_eq!(catalog.requirements.len(), 79, "the shipped catalog");
    let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "only the server's user may read the data directory");

    // An empty directory that exists: the catalog is there at once, as
    // version 1, imported by the system as at the server's first start.
    let fresh = TempDir::new().unwrap();
    let f = fresh.path().to_str().unwrap();
    let (code, out, err) = run(&["catalog", "list", "--data-dir", f]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("1\t"), "version 1: {out}");
    assert!(out.contains("79件"), "{out}");
    let store = crate::harness::sqlite_store(fresh.path()).await;
    let events = store.audit_recent(10).await.unwrap();
    store.close().await;
    let actions: Vec<(&str, &str)> =
        events.iter().map(|e| (e.record.action.as_str(), e.record.actor_login.as_str())).collect();
    assert_eq!(actions, [("catalog.imported", "system")]);

    // check-config reaches a database that does not exist yet the same way.
    let other = dir.path().join("other");
    let (code, out, err) = run(&["check-config", "--data-dir", other.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(other.join("mamori.db").is_file());
}

/// `mamori catalog import` and `mamori inventory import` read the file
/// named whole and only then measured it: a file of 1 GiB was held whole
/// to be refused as too large. Each now reads no more than its limit (the
/// page's: 10 MB, 4 MB) and refuses the rest unread.
#[tokio::test]
async fn a_file_of_1_gib_named_to_an_import_is_refused_without_being_read_whole() {
    let dir = tempfile::TempDir::new().unwrap();
    let big = dir.path().join("big.xlsx");
    // Sparse: a gibibyte of zeros that takes no disk.
    std::fs::File::create(&big).unwrap().set_len(1 << 30).unwrap();
    let data = dir.path().join("data");
    let (data, big) = (data.to_str().unwrap(), big.to_str().unwrap());
    for command in [&["catalog", "import", big][..], &["inventory", "import", "--system", "1", big]] {
        let args: Vec<&str> = ["--data-dir", data].iter().chain(command).copied().collect();
        let (code, out, err, peak) = crate::harness::run_measured(&args, dir.path());
        assert_ne!(code, 0, "{command:?}: {out}{err}");
        assert!(peak > 0 && peak < 128 << 20, "{command:?}: held {} MB", peak >> 20);
        assert!(err.contains("が大きすぎます"), "{command:?}: {err}");
    }
}
