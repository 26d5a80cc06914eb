//! Starts the real binary on an ephemeral port with a temporary data
//! directory, and gives a client that trusts its self-signed certificate.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_mamori");

/// A `mamori` command with a clean environment: no MAMORI_* or DATABASE_URL
/// from the developer's shell leaks into a test.
pub fn command() -> Command {
    let mut cmd = Command::from(std_command());
    cmd.kill_on_drop(true);
    cmd
}

/// `mamori` with this process's `MAMORI_*` settings left out.
fn std_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("MAMORI_") || k == "DATABASE_URL" {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUST_LOG", "info,sqlx=warn");
    cmd
}

/// Runs `mamori ARGS…` to the end, its output kept in files in `dir`:
/// (exit code, stdout, stderr, the most memory it held, in bytes). The
/// peak is the process's own (VmHWM), read every 2 ms while it runs: the
/// kernel's count at exit (`ru_maxrss`) misses a peak a threaded process
/// let go of before it ended.
pub fn run_measured(args: &[&str], dir: &Path) -> (i32, String, String, u64) {
    let (out, err) = (dir.join("measured.out"), dir.join("measured.err"));
    let mut child = std_command()
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("run mamori");
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        // A process that has ended and is not yet reaped has no memory lines.
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", child.id())) {
            let hwm = status.lines().find_map(|l| l.strip_prefix("VmHWM:"));
            let kb = hwm.and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok());
            peak = peak.max(kb.unwrap_or(0) * 1024);
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    (status.code().unwrap_or(-1), read(&out), read(&err), peak)
}

/// Runs `mamori ARGS…` to the end: (exit code, stdout, stderr).
pub async fn run(args: &[&str]) -> (i32, String, String) {
    let out = command().args(args).output().await.expect("run mamori");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `mamori ARGS…` with `stdin` as its standard input: (exit code, stdout, stderr).
pub async fn run_with_stdin(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child =
        command().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).await.unwrap();
    let out = child.wait_with_output().await.unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// `mamori user create` in data directory `d`, the password on standard
/// input (`password`, with its newline): (exit code, stdout, stderr).
pub async fn create_user(
    d: &str,
    login: &str,
    name: &str,
    email: &str,
    role: &str,
    org: Option<&str>,
    password: &str,
) -> (i32, String, String) {
    let mut args = vec!["user", "create", "--login", login, "--name", name, "--email", email, "--role", role];
    if let Some(org) = org {
        args.extend(["--org", org]);
    }
    args.extend(["--password-stdin", "--data-dir", d]);
    run_with_stdin(&args, password).await
}

/// Creates the organisations 総務課 (department) and ベンダーA (vendor) with
/// `mamori org create` in data directory `d`.
pub async fn create_orgs(d: &str) {
    for (name, kind) in [("総務課", "department"), ("ベンダーA", "vendor")] {
        let (code, _, err) = run(&["org", "create", name, "--kind", kind, "--data-dir", d]).await;
        assert_eq!(code, 0, "{err}");
    }
}

/// Starts a server on a fresh data directory and stops it cleanly: the
/// database exists and holds the shipped catalog. Returns what keeps the
/// directory, and the data directory.
pub async fn started_once() -> (Arc<TempDir>, PathBuf) {
    let s = Server::start(Opts::default()).await;
    let (keep, dir) = (s.dir.clone(), s.data_dir());
    s.stop().await;
    (keep, dir)
}

/// The CSRF token in a page.
pub fn token_in(body: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let from = body.find(marker).expect("a CSRF token") + marker.len();
    body[from..from + 64].to_owned()
}

#[derive(Default)]
pub struct Opts {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub data_dir: Option<Arc<TempDir>>,
    pub trust: Option<PathBuf>,
    /// The server's open-files limit (soft, hard), set as it starts.
    pub open_files: Option<(u64, u64)>,
}

impl Opts {
    /// Trust this certificate instead of the generated self-signed one.
    pub fn trust(mut self, cert: &Path) -> Self {
        self.trust = Some(cert.to_owned());
        self
    }

    pub fn args(mut self, a: &[&str]) -> Self {
        self.args.extend(a.iter().map(|s| (*s).to_owned()));
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.to_owned(), v.to_owned()));
        self
    }

    pub fn data_dir(mut self, d: &Arc<TempDir>) -> Self {
        self.data_dir = Some(d.clone());
        self
    }
}

pub struct Server {
    child: Child,
    /// `https://127.0.0.1:PORT`
    pub base: String,
    /// `http://127.0.0.1:PORT` of the redirect listener, when asked for.
    pub redirect: Option<String>,
    /// The first-run setup URL, when the server printed one.
    pub setup_url: Option<String>,
    pub dir: Arc<TempDir>,
    pub client: reqwest::Client,
    /// The client's cookies.
    pub jar: Arc<reqwest::cookie::Jar>,
    log: PathBuf,
}

impl Server {
    pub async fn start(opts: Opts) -> Server {
        Self::try_start(opts).await.unwrap_or_else(|logs| panic!("mamori did not start:\n{logs}"))
    }

    /// Starts the server; on failure returns what it logged.
    pub async fn try_start(opts: Opts) -> Result<Server, String> {
        let dir = opts.data_dir.unwrap_or_else(|| Arc::new(TempDir::new().unwrap()));
        let log = dir.path().join(format!("server-{}.log", rand_suffix()));
        let mut cmd = command();
        cmd.arg("serve").arg("--data-dir").arg(dir.path().join("data")).args(["--listen", "127.0.0.1:0"]);
        cmd.args(&opts.args);
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        if let Some((soft, hard)) = opts.open_files {
            // SAFETY: between fork and exec the child calls only setrlimit,
            // which is async-signal-safe.
            unsafe {
                cmd.pre_exec(move || {
                    let limit = libc::rlimit { rlim_cur: soft, rlim_max: hard };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        cmd.stdout(Stdio::piped()).stderr(std::fs::File::create(&log).unwrap());
        let mut child = cmd.spawn().expect("spawn mamori");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut base = None;
        let mut redirect = None;
        let mut setup_url = None;
        // The server prints its URLs, then the setup URL if there is one,
        // and closes nothing: read until the line that ends the announcement.
        let wait = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = between(&line, "(listening on ", "/)") {
                    base = Some(url.to_owned());
                } else if let Some(url) = between(&line, "mamori: ", "/ は") {
                    redirect = Some(url.to_owned());
                } else if let Some(i) = line.find("once): ") {
                    setup_url = Some(line[i + "once): ".len()..].trim().to_owned());
                } else if line.starts_with("mamori: ready") {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(60), wait).await;
        let Some(base) = base else {
            let _ = child.kill().await;
            return Err(std::fs::read_to_string(&log).unwrap_or_default());
        };
        let cert_path = opts.trust.clone().unwrap_or_else(|| dir.path().join("data/tls/self-signed.crt"));
        let cert = std::fs::read(cert_path).expect("the server's certificate");
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = client_with_jar(&cert, jar.clone());
        Ok(Server { child, base, redirect, setup_url, dir, client, jar, log })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The server's process id (for /proc).
    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// Opens `page` and posts `fields` to `path` as its form does (with the
    /// page's CSRF token and this site's origin).
    pub async fn post_form(&self, page: &str, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = token_in(&self.get(page).await.text().await.unwrap());
        let mut form = fields.to_vec();
        form.push(("csrf_token", &token));
        self.client.post(self.url(path)).header("origin", &self.base).form(&form).send().await.unwrap()
    }

    /// Signs in on the sign-in page.
    pub async fn sign_in(&self, login: &str, password: &str) -> reqwest::Response {
        self.post_form("/login", "/login", &[("login", login), ("password", password)]).await
    }

    /// The first sign-in of an account issued on the console: the password
    /// it was given, which must be changed (as one an administrator sets on
    /// the web), then `own`. Returns the answer to the change (the next
    /// step: enrolling a second factor, or the dashboard).
    pub async fn first_sign_in(&self, login: &str, given: &str, own: &str) -> reqwest::Response {
        let r = self.sign_in(login, given).await;
        assert_eq!(r.headers().get("location").unwrap(), "/password", "{login}: a given password is changed first");
        let form = [("current_password", given), ("new_password", own), ("confirm_password", own)];
        let r = self.post_form("/password", "/password", &form).await;
        assert_eq!(r.status(), 303, "{login}: the password changed");
        r
    }

    /// Enrols the signed-in person's second factor from the page that asks
    /// for it (the server's own clock gives the code).
    pub async fn enrol_second_factor(&self) -> reqwest::Response {
        let page = self.get("/account/totp").await.text().await.unwrap();
        let marker = "class=\"secret\">";
        let from = page.find(marker).expect("the secret on the enrolment page") + marker.len();
        let secret = page[from..].split('<').next().unwrap().to_owned();
        let now = time::OffsetDateTime::now_utc();
        let code = mamori_core::totp::code_at(&secret, now).unwrap();
        self.post_form("/account/totp", "/account/totp", &[("code", &code)]).await
    }

    /// SIGTERM, then wait for a clean exit; returns the exit code.
    pub async fn stop(mut self) -> i32 {
        let pid = self.child.id().expect("running") as i32;
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("mamori stops within 30 s of SIGTERM")
            .unwrap();
        status.code().unwrap_or(-1)
    }

    /// SIGKILL: no chance to clean up.
    pub async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log once it holds `needle` (log lines are written by a thread of
    /// their own, a moment after the response), or as it is after 5 s.
    pub async fn logs_with(&self, needle: &str) -> String {
        self.logs_until(|logs| logs.contains(needle)).await
    }

    /// The log once `ready` holds for it, or as it is after 5 s.
    pub async fn logs_until(&self, ready: impl Fn(&str) -> bool) -> String {
        for _ in 0..100 {
            let logs = self.logs();
            if ready(&logs) {
                return logs;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        self.logs()
    }
}

fn between<'a>(line: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = line.find(start)? + start.len();
    let to = line[from..].find(end)? + from;
    Some(&line[from..to])
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// A client trusting `cert_pem` whose cookies are kept in `jar`.
pub fn client_with_jar(cert_pem: &[u8], jar: Arc<reqwest::cookie::Jar>) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem).unwrap())
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Opens the store of a stopped (or running) server's data directory.
pub async fn sqlite_store(data_dir: &Path) -> mamori_store::Store {
    mamori_store::Store::open(&mamori_store::DatabaseLocation::in_data_dir(data_dir), keys_of(data_dir)).await.unwrap()
}

/// The data keys of a data directory (`DATA_DIR/data.key`), made as a
/// first start makes them when there are none yet.
pub fn keys_of(data_dir: &Path) -> std::sync::Arc<mamori_store::crypt::Keyring> {
    use mamori_store::crypt::Keyring;
    let path = data_dir.join("data.key");
    std::fs::create_dir_all(data_dir).unwrap();
    std::sync::Arc::new(if path.exists() { Keyring::from_file(&path) } else { Keyring::create_file(&path) }.unwrap())
}

/// The context of a change made by the system itself, for tests that write to the store directly.
pub fn system_ctx() -> mamori_store::identity::Ctx {
    mamori_store::identity::Ctx {
        now: time::OffsetDateTime::now_utc(),
        actor: mamori_core::audit::Actor::system(),
        origin: Default::default(),
        standing: None,
    }
}

/// Registers a production web system of 総務課 supplied by ベンダーA (both organisations must exist)
/// and returns its id with the input, for tests that later change it.
pub async fn create_web_system(
    store: &mamori_store::Store,
    urls: Vec<String>,
) -> (i64, mamori_store::systems::SystemInput) {
    let orgs = store.organisations().await.unwrap();
    let department = orgs.iter().find(|o| o.name == "総務課").unwrap().id;
    let input = mamori_store::systems::SystemInput {
        vendor_id: Some(orgs.iter().find(|o| o.name == "ベンダーA").unwrap().id),
        phase: mamori_core::checklist::Phase::Production,
        attrs: mamori_core::catalog::SystemAttributes { web_system: true, ..Default::default() },
        urls,
        ..mamori_store::systems::SystemInput::new("文書管理システム", department)
    };
    let version = store.catalog_versions().await.unwrap()[0].id;
    let id = store.create_system(&system_ctx(), &input, version).await.unwrap();
    (id, input)
}

pub const MB: u64 = 1024 * 1024;

/// (VmRSS, VmHWM) of a process, in bytes.
pub fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} in /proc"));
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Resets the peak (VmHWM) to the current size (Linux: clear_refs 5).
pub fn reset_peak(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("write /proc/PID/clear_refs");
}

/// A test that fails shows the server's log beside its assertion: an
/// answer of 500 says nothing of its cause, which only the log holds.
impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let logs = self.logs();
            let lines: Vec<&str> = logs.lines().collect();
            let from = lines.len().saturating_sub(200);
            eprintln!("--- the server's log, its last {} lines ---", lines.len() - from);
            for line in &lines[from..] {
                eprintln!("{line}");
            }
        }
    }
}
