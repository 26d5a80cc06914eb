//! Test helpers shared by the crates' integration tests.
//!
//! PostgreSQL: `scripts/test` starts a throwaway cluster and exports
//! `MAMORI_TEST_DATABASE_URL` (a superuser URL). Each test gets a database of
//! its own. Without that variable the PostgreSQL leg is skipped loudly on a
//! developer's machine and fails in CI (`CI=true`), where it must run.

#[cfg(test)]
mod house;
pub mod s3;
pub mod smtp;
pub mod webhook;
pub mod xlsx;

use rand::Rng;
use sqlx::{Connection, Executor, PgConnection};
use std::path::Path;

pub const PG_ENV: &str = "MAMORI_TEST_DATABASE_URL";

/// Every file below the folders `roots`, at any depth (tests that read the
/// project's own sources).
pub fn files_under(roots: &[std::path::PathBuf]) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut dirs = roots.to_vec();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// A transaction on PostgreSQL database `url` from a connection of its
/// own, left open until [`OpenTx::commit`]: another instance's long write
/// (a new round being copied) as the server under test meets it. `sql` is
/// the test's own statement.
pub struct OpenTx(PgConnection);

impl OpenTx {
    pub async fn begin(url: &str, sql: &str) -> OpenTx {
        let mut conn = PgConnection::connect(url).await.expect("a connection of its own");
        conn.execute("BEGIN").await.expect("BEGIN");
        conn.execute(sql).await.expect("the held write");
        OpenTx(conn)
    }

    pub async fn commit(mut self) {
        self.0.execute("COMMIT").await.expect("COMMIT");
    }

    pub async fn roll_back(mut self) {
        self.0.execute("ROLLBACK").await.expect("ROLLBACK");
    }
}

/// Waits until `n` of the database's connections wait for a lock.
pub async fn waiting_for_locks(url: &str, n: i64) {
    let mut c = PgConnection::connect(url).await.unwrap();
    for _ in 0..200 {
        if lock_waiters(&mut c).await >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{n} connections never came to wait for a lock");
}

/// How many of the database's connections wait for a lock now.
pub async fn lock_waiters(c: &mut PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .fetch_one(c)
    .await
    .unwrap()
}

/// A fresh, empty PostgreSQL database for one test, or `None` (with a loud
/// message) when no test cluster is configured outside CI.
pub async fn fresh_pg_database() -> Option<String> {
    let Ok(admin_url) = std::env::var(PG_ENV) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{PG_ENV} is not set: the PostgreSQL leg must run in CI (scripts/test starts it)");
        }
        eprintln!("\n*** SKIPPED the PostgreSQL leg: {PG_ENV} is not set. Run ./scripts/test to include it. ***\n");
        return None;
    };
    let name = format!("mamori_test_{:016x}", rand::thread_rng().gen::<u64>());
    let mut conn = PgConnection::connect(&admin_url).await.expect("connect to the test PostgreSQL cluster");
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create a test database");
    conn.close().await.ok();
    Some(replace_database(&admin_url, &name))
}

/// Drops a database made by [`fresh_pg_database`], even while connections are open.
pub async fn drop_pg_database(url: &str) {
    let admin_url = std::env::var(PG_ENV).expect("only called after fresh_pg_database");
    let path = url.split('?').next().unwrap_or(url);
    let name = path.rsplit('/').next().expect("a database URL has a path");
    let mut conn = PgConnection::connect(&admin_url).await.expect("connect to the test PostgreSQL cluster");
    conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await
        .expect("drop the test database");
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let prefix = base.rsplit_once('/').map(|(p, _)| p).unwrap_or(base);
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

/// A throwaway clamd on a unix socket in a temporary directory, with one
/// signature: the EICAR test file (by MD5), so no download is needed.
pub struct Clamd {
    pub socket: std::path::PathBuf,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

/// The EICAR anti-malware test string (harmless by design).
pub const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// Debian's `program` (in /usr/sbin or /usr/bin), or `None` (loudly) when
/// it is not installed outside CI; in CI its absence fails the test, since
/// `what` must run there (scripts/test installs `package`).
fn installed(program: &str, what: &str, package: &str) -> Option<String> {
    let found = ["/usr/sbin", "/usr/bin"].iter().map(|d| format!("{d}/{program}")).find(|p| Path::new(p).exists());
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{program} is not installed: {what} must run in CI (scripts/test installs {package})");
        }
        eprintln!("\n*** SKIPPED {what}: {program} is not installed. Run ./scripts/test to include them. ***\n");
    }
    found
}

/// Starts a helper server without its output, killed when its handle drops.
fn spawn_quiet(cmd: &mut tokio::process::Command) -> tokio::process::Child {
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start")
}

/// Starts clamd, or `None` (loudly) when it is not installed outside CI.
pub async fn start_clamd() -> Option<Clamd> {
    let bin = installed("clamd", "the malware-scan tests", "clamav-daemon")?;
    let dir = tempfile::TempDir::new().expect("a temporary directory");
    let db = dir.path().join("db");
    std::fs::create_dir(&db).expect("the database directory");
    // clamd's hash signature format: md5:size:name.
    std::fs::write(db.join("test.hdb"), "44d88612fea8a8f36de82e1278abb02f:68:Mamori-Test-EICAR\n")
        .expect("signature file");
    let socket = dir.path().join("clamd.sock");
    let conf = dir.path().join("clamd.conf");
    std::fs::write(
        &conf,
        format!(
            "LocalSocket {}\nForeground yes\nDatabaseDirectory {}\nTemporaryDirectory {}\nLogFile {}\nUser root\n",
            socket.display(),
            db.display(),
            dir.path().display(),
            dir.path().join("clamd.log").display()
        ),
    )
    .expect("clamd.conf");
    let child = spawn_quiet(tokio::process::Command::new(bin).arg(format!("--config-file={}", conf.display())));
    for _ in 0..300 {
        if tokio::net::UnixStream::connect(&socket).await.is_ok() {
            return Some(Clamd { socket, _child: child, _dir: dir });
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("clamd did not open its socket within 30 s");
}

/// A throwaway nginx (Debian's) serving one configuration on loopback ports
/// chosen at start; `master_process off` keeps it to one process.
pub struct Nginx {
    pub https_port: u16,
    pub http_port: u16,
    pub dir: tempfile::TempDir,
    child: tokio::process::Child,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

impl Nginx {
    /// `servers` is the body of the `http {}` block; `HTTPS_PORT`, `HTTP_PORT`
    /// and `DIR` in it are replaced. `files` are written under `DIR/www`.
    /// `None` (loudly) when nginx is not installed outside CI.
    pub async fn start(servers: &str, files: &[(&str, &[u8])]) -> Option<Nginx> {
        Nginx::start_waiting(servers, files, true).await
    }

    /// As [`Nginx::start`], for a configuration that listens on `HTTP_PORT`
    /// only: ready once that port answers.
    pub async fn start_plain(servers: &str, files: &[(&str, &[u8])]) -> Option<Nginx> {
        Nginx::start_waiting(servers, files, false).await
    }

    async fn start_waiting(servers: &str, files: &[(&str, &[u8])], https: bool) -> Option<Nginx> {
        let bin = installed("nginx", "the scanner's lab tests", "nginx")?;
        let dir = lab_dir(files);
        let (https_port, http_port) = (free_port(), free_port());
        let d = dir.path().display().to_string();
        let body = servers
            .replace("HTTPS_PORT", &https_port.to_string())
            .replace("HTTP_PORT", &http_port.to_string())
            .replace("DIR", &d);
        let conf = format!(
            "daemon off;\nmaster_process off;\nuser root;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/tmp-body;\n  proxy_temp_path {d}/tmp-proxy;\n  fastcgi_temp_path {d}/tmp-fcgi;\n  \
             uwsgi_temp_path {d}/tmp-uwsgi;\n  scgi_temp_path {d}/tmp-scgi;\n  default_type text/html;\n{body}\n}}\n"
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("nginx.conf");
        let child = spawn_quiet(tokio::process::Command::new(bin).arg("-p").arg(dir.path()).arg("-c").arg(&conf_path));
        listening(if https { https_port } else { http_port }, dir.path(), "nginx").await;
        Some(Nginx { https_port, http_port, dir, child })
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.https_port)
    }
}

/// A throwaway Apache httpd (Debian's apache2) on two loopback ports chosen
/// at start: `HTTPS_PORT` and `HTTP_PORT` are both listened on, and the
/// test's `body` (directives and virtual hosts, with `HTTPS_PORT`,
/// `HTTP_PORT` and `DIR` replaced) is appended to a minimal configuration
/// serving `DIR/www`. The children run as `nobody`, so the directory is
/// made world-readable.
pub struct Apache {
    pub https_port: u16,
    pub http_port: u16,
    pub dir: tempfile::TempDir,
    child: tokio::process::Child,
}

impl Drop for Apache {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Apache {
    /// `None` (loudly) when apache2 is not installed outside CI.
    pub async fn start(body: &str, files: &[(&str, &[u8])]) -> Option<Apache> {
        use std::os::unix::fs::PermissionsExt;
        let bin = installed("apache2", "the scanner's Apache lab tests", "apache2")?;
        let dir = lab_dir(files);
        for entry in walk(dir.path()) {
            let mode = if entry.is_dir() { 0o755 } else { 0o644 };
            std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).expect("permissions");
        }
        let (https_port, http_port) = (free_port(), free_port());
        let d = dir.path().display().to_string();
        let m = "/usr/lib/apache2/modules";
        let modules =
            ["mpm_event", "authz_core", "dir", "mime", "autoindex", "ssl", "headers", "alias", "socache_shmcb"]
                .iter()
                .map(|name| format!("LoadModule {name}_module {m}/mod_{name}.so\n"))
                .collect::<String>();
        let body = body
            .replace("HTTPS_PORT", &https_port.to_string())
            .replace("HTTP_PORT", &http_port.to_string())
            .replace("DIR", &d);
        let conf = format!(
            "ServerRoot {d}\nServerName 127.0.0.1\nListen 127.0.0.1:{https_port}\nListen 127.0.0.1:{http_port}\n\
             PidFile {d}/httpd.pid\nErrorLog {d}/error.log\nMutex file:{d}\n{modules}User nobody\nGroup nogroup\n\
             TypesConfig /etc/mime.types\nDocumentRoot {d}/www\nDirectoryIndex index.html\n\
             <Directory {d}/www>\n  Require all granted\n</Directory>\n{body}\n"
        );
        let conf_path = dir.path().join("httpd.conf");
        std::fs::write(&conf_path, conf).expect("httpd.conf");
        let child = spawn_quiet(tokio::process::Command::new(bin).arg("-f").arg(&conf_path).arg("-DFOREGROUND"));
        listening(https_port, dir.path(), "apache2").await;
        Some(Apache { https_port, http_port, dir, child })
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.https_port)
    }
}

/// A directory for a lab web server, with `files` under `www`.
fn lab_dir(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::TempDir::new().expect("a temporary directory");
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).expect("www");
    for (path, bytes) in files {
        let p = www.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("directories");
        std::fs::write(&p, bytes).expect("a file");
    }
    dir
}

/// Waits up to 5 s for a lab server to listen on `port`; otherwise fails
/// the test with the server's `dir/error.log`.
async fn listening(port: u16, dir: &Path, what: &str) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
    panic!("{what} did not start:\n{log}");
}

/// Every directory and file below `root`, `root` included.
fn walk(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if out[i].is_dir() {
            if let Ok(entries) = std::fs::read_dir(&out[i]) {
                out.extend(entries.flatten().map(|e| e.path()));
            }
        }
        i += 1;
    }
    out
}
