//! Item 78's vulnerability diagnosis of mamori itself, by the tools an
//! outside assessor brings (Debian's packages): sqlmap against every form
//! and query parameter with a signed-in session of each role, and nmap
//! against the loopback address the server listens on. Each writes its
//! dated result for docs/security/diagnosis.md (`scripts/diagnose`).

use crate::harness::{client_with_jar, command, token_in, Opts, Server};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The demo's accounts as `mamori demo` prints them: login, role, password.
fn demo_accounts(out: &str) -> Vec<(String, String, String)> {
    out.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (login, role, pw) = (w.next()?, w.next()?, w.next()?);
            ["admin", "security-officer", "department", "vendor", "auditor"]
                .contains(&role)
                .then(|| (login.to_owned(), role.to_owned(), pw.to_owned()))
        })
        .collect()
}

/// A signed-in session of `login` (its second factor enrolled when its
/// role needs one): the cookie header that carries it.
async fn session(s: &Server, login: &str, password: &str) -> String {
    let cert = std::fs::read(s.data_dir().join("tls/self-signed.crt")).unwrap();
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let c = client_with_jar(&cert, jar.clone());
    let post = async |page: &str, path: &str, fields: &[(&str, &str)]| {
        let body = c.get(s.url(page)).send().await.unwrap().text().await.unwrap();
        let token = token_in(&body);
        let mut form = fields.to_vec();
        form.push(("csrf_token", &token));
        c.post(s.url(path)).header("origin", &s.base).form(&form).send().await.unwrap()
    };
    let r = post("/login", "/login", &[("login", login), ("password", password)]).await;
    assert_eq!(r.status(), 303, "{login} signs in");
    let to = r.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    if to.starts_with("/account/totp") {
        let page = c.get(s.url("/account/totp")).send().await.unwrap().text().await.unwrap();
        let marker = "class=\"secret\">";
        let from = page.find(marker).expect("the secret on the enrolment page") + marker.len();
        let secret = page[from..].split('<').next().unwrap().to_owned();
        let code = mamori_core::totp::code_at(&secret, time::OffsetDateTime::now_utc()).unwrap();
        // The recovery codes answer a good code; the form again, a bad one.
        let r = post("/account/totp", "/account/totp", &[("code", &code)]).await;
        assert!(!r.text().await.unwrap().contains(marker), "{login} enrols a second factor");
    }
    assert_eq!(c.get(s.url("/dashboard")).send().await.unwrap().status(), 200, "{login} is signed in");
    let url = reqwest::Url::parse(&s.base).unwrap();
    use reqwest::cookie::CookieStore;
    jar.cookies(&url).expect("a session cookie").to_str().unwrap().to_owned()
}

/// The pages of the demo each role reaches: every form on them and every
/// query parameter in them is tried. Forms that end the session or the
/// account (sign-out, password, second factor) are left out: the tool would
/// lock out the very session it tests with.
fn pages(role: &str) -> Vec<&'static str> {
    let everyone = [
        "/dashboard",
        "/systems?q=x&sort=name&dir=asc",
        "/systems/1",
        "/systems/1?show=returned&select=pending",
        "/systems/1/items/1",
        "/systems/1/history?round=1",
        "/systems/1/yearly?year=2026",
        "/systems/1/inventory",
        "/systems/1/records",
        "/inventory",
        "/vulns?state=all&system=1",
        "/records",
        "/catalog?version=1&compare=1",
    ];
    let extra: &[&str] = match role {
        // Another person's account: the forms of one's own would end the session.
        "admin" => &["/admin/users?q=a", "/admin/users/8", "/admin/organisations", "/admin/ledger?account=8"],
        "security-officer" => {
            &["/audit?action=signin.succeeded&login=a&page=2", "/alerts", "/systems/new", "/systems/1/edit", "/feeds"]
        }
        "department" | "vendor" => &["/library", "/systems/1/records/new?kind=contract"],
        _ => &["/audit?action=signin.succeeded&login=a&page=2"],
    };
    if role == "admin" {
        return extra.to_vec();
    }
    everyone.iter().chain(extra).copied().collect()
}

fn program_on_path(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

fn required(name: &str) -> Option<std::path::PathBuf> {
    let found = program_on_path(name);
    if found.is_none() && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{name} is not installed: the diagnosis must run in CI (scripts/test installs it)");
    }
    if found.is_none() {
        eprintln!("\n*** SKIPPED: {name} is not installed. Run ./scripts/test to include it. ***\n");
    }
    found
}

/// Writes one tool's part of the diagnosis where `scripts/diagnose` asked.
pub(crate) fn record(part: &str, text: &str) {
    if let Ok(dir) = std::env::var("MAMORI_DIAGNOSIS_DIR") {
        std::fs::write(std::path::Path::new(&dir).join(format!("{part}.md")), text).unwrap();
    }
}

/// mamori with the demo data, on SQLite or (given its URL) PostgreSQL.
async fn demo_server(database_url: Option<&str>) -> (Server, Vec<(String, String, String)>) {
    let dir = Arc::new(tempfile::TempDir::new().unwrap());
    let data = dir.path().join("data");
    let db: Vec<&str> = database_url.map(|u| vec!["--database-url", u]).unwrap_or_default();
    let out = command().args(["demo", "--data-dir"]).arg(&data).args(&db).output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let accounts = demo_accounts(&String::from_utf8_lossy(&out.stdout));
    assert!(accounts.len() >= 5, "{accounts:?}");
    // An assessor's tools open a connection a request, hundreds a second
    // (sqlmap: 4 threads): paced to the default 60 a second they run at
    // half their speed, so the ward gives the assessor's run room, as the
    // README says.
    let room = ["--new-connections-per-address", "100000"];
    (Server::start(Opts::default().data_dir(&dir).args(&db).args(&room)).await, accounts)
}

/// A form of a page: method, action, and its fields with the values the
/// page gives them.
#[derive(Debug)]
struct Form {
    method: String,
    action: String,
    fields: Vec<(String, String)>,
}

/// The value of attribute `name` in a tag's text.
fn attr(tag: &str, name: &str) -> Option<String> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let v = &tag[at..];
    Some(v[..v.find('"')?].replace("&amp;", "&"))
}

/// The forms of a page (mamori's own markup: attributes double-quoted).
fn forms(page_path: &str, html: &str) -> Vec<Form> {
    let mut out = Vec::new();
    for chunk in html.split("<form").skip(1) {
        let Some(end) = chunk.find("</form>") else { continue };
        let body = &chunk[..end];
        let tag = &body[..body.find('>').unwrap_or(0)];
        let method = attr(tag, "method").unwrap_or_else(|| "get".into()).to_ascii_uppercase();
        let action = attr(tag, "action").unwrap_or_else(|| page_path.split('?').next().unwrap().to_owned());
        let mut fields = Vec::new();
        for (open, kind) in [("<input", "input"), ("<select", "select"), ("<textarea", "textarea")] {
            for el in body.split(open).skip(1) {
                let t = &el[..el.find('>').unwrap_or(el.len())];
                let Some(name) = attr(t, "name") else { continue };
                let ty = attr(t, "type").unwrap_or_default();
                if matches!(ty.as_str(), "file" | "submit") || fields.iter().any(|(n, _)| *n == name) {
                    continue;
                }
                let value = match kind {
                    "select" => {
                        el.split("<option value=\"").nth(1).and_then(|o| o.split('"').next()).unwrap_or("").to_owned()
                    }
                    "textarea" => "1".to_owned(),
                    _ => attr(t, "value").filter(|v| !v.is_empty()).unwrap_or_else(|| match ty.as_str() {
                        "date" => "2027-03-31".into(),
                        "email" => "a@example.lg.jp".into(),
                        "number" => "1".into(),
                        _ => "1".into(),
                    }),
                };
                fields.push((name, value));
            }
        }
        out.push(Form { method, action, fields });
    }
    out
}

/// Forms sqlmap must not send: they end the session or the account it
/// tests with, or take a file (sqlmap sends no files).
fn left_out(action: &str) -> bool {
    [
        "/logout",
        "/account/sessions",
        "/password",
        "/totp",
        "/recovery",
        "/library",
        "/evidence",
        "/import",
        "/feeds",
        "/restore",
    ]
    .iter()
    .any(|p| action.contains(p))
        || action.ends_with("/disable")
}

fn urlencoded(fields: &[(String, String)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

/// What sqlmap's output reports injectable: a confirmed injection point,
/// or a parameter sqlmap said "appears to be … injectable" and did not
/// then take back with its own false-positive check ("does not seem to be
/// injectable"), which it runs on every such first impression.
fn sqlmap_findings(text: &str) -> Vec<String> {
    let parameter = |l: &str| l.split("parameter '").nth(1).and_then(|r| r.split('\'').next()).map(str::to_owned);
    let mut findings = Vec::new();
    // The last first impression not yet checked: parameter and line.
    let mut pending: Option<(String, String)> = None;
    for l in text.lines() {
        if l.contains("appears to be") && l.contains("injectable") {
            findings.extend(pending.take().map(|(_, line)| line));
            pending = parameter(l).map(|p| (p, l.to_owned()));
        } else if l.contains("does not seem to be injectable") {
            if pending.as_ref().is_some_and(|(p, _)| Some(p) == parameter(l).as_ref()) {
                pending = None;
            }
        } else if l.contains("is vulnerable")
            || l.contains("identified the following injection point")
            || (l.contains("' is '") && l.contains("injectable"))
        {
            findings.push(l.to_owned());
        }
    }
    findings.extend(pending.map(|(_, line)| line));
    findings
}

#[test]
fn a_first_impression_sqlmap_takes_back_is_not_a_finding_and_one_it_keeps_is() {
    // As sqlmap wrote it in a run against the audit viewer's `client`.
    let taken_back = "[05:40:12] [INFO] GET parameter 'client' appears to be 'PostgreSQL AND boolean-based blind - WHERE or HAVING clause (CAST)' injectable \n\
        [05:40:12] [INFO] testing 'PostgreSQL > 8.1 AND time-based blind'\n\
        [05:40:12] [INFO] checking if the injection point on GET parameter 'client' is a false positive\n\
        [05:40:13] [WARNING] false positive or unexploitable injection point detected\n\
        [05:40:13] [WARNING] GET parameter 'client' does not seem to be injectable\n";
    assert!(sqlmap_findings(taken_back).is_empty());
    // Kept: no retraction, or a retraction of another parameter.
    let kept = "[INFO] GET parameter 'q' appears to be 'AND boolean-based blind' injectable\n\
        [INFO] checking if the injection point on GET parameter 'q' is a false positive\n";
    assert_eq!(sqlmap_findings(kept).len(), 1);
    let other = "[INFO] GET parameter 'q' appears to be 'AND boolean-based blind' injectable\n\
        [WARNING] GET parameter 'sort' does not seem to be injectable\n";
    assert_eq!(sqlmap_findings(other).len(), 1);
    let confirmed = "[INFO] GET parameter 'q' is 'AND boolean-based blind - WHERE or HAVING clause' injectable\n\
        sqlmap identified the following injection point(s) with a total of 40 HTTP(s) requests:\n";
    assert_eq!(sqlmap_findings(confirmed).len(), 2);
    assert!(sqlmap_findings("[INFO] testing URL 'https://127.0.0.1/x'\n").is_empty());
}

#[tokio::test]
async fn item_78_sqlmap_finds_nothing_injectable_in_any_form_or_query_parameter_for_any_role() {
    let Some(sqlmap) = required("sqlmap") else { return };
    sqlmap_every_role(&sqlmap, None).await;
}

/// The same on PostgreSQL, with PostgreSQL's payloads: the statements are
/// the same parameterised ones, but some differ by backend (`match`
/// arms in the store).
#[tokio::test]
async fn item_78_sqlmap_finds_nothing_injectable_on_postgresql_either() {
    let Some(sqlmap) = required("sqlmap") else { return };
    let Some(url) = mamori_testkit::fresh_pg_database().await else { return };
    sqlmap_every_role(&sqlmap, Some(&url)).await;
    mamori_testkit::drop_pg_database(&url).await;
}

/// The titles of sqlmap's tests left out on PostgreSQL (a regular
/// expression, as `--test-skip` takes it).
const SKIP_ON_POSTGRES: &str = r"^AND boolean-based blind|Parameter replace \(DUAL";

/// Sets TCP_NODELAY on every TCP socket the Python program connects.
const NODELAY: &str = r#"import socket
_connect = socket.socket.connect
def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and self.type == socket.SOCK_STREAM:
        self.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return _connect(self, address)
socket.socket.connect = connect
"#;

/// sqlmap against every form and query of each role's pages, on SQLite or
/// on the PostgreSQL database `database_url`.
async fn sqlmap_every_role(sqlmap: &std::path::Path, database_url: Option<&str>) {
    // On PostgreSQL, the blind techniques only (boolean and time based):
    // they find a statement built from the input even where nothing of the
    // database reaches the page, as on mamori's pages; the union, error and
    // inline payloads, tried on SQLite, would double the run (all of them
    // were run once on PostgreSQL, 2026-12-05: nothing injectable). Of the
    // blind ones, PostgreSQL's own (its CAST, ORDER BY and pg_sleep
    // payloads) and the generic parameter replacements; the generic AND
    // payloads run against the same forms in the SQLite test, and DUAL is
    // not PostgreSQL's.
    let (dbms, part, techniques, skip) = if database_url.is_some() {
        ("PostgreSQL", "sqlmap-postgres", "BT", Some(SKIP_ON_POSTGRES))
    } else {
        ("SQLite", "sqlmap", "BEUSTQ", None)
    };
    let (s, accounts) = demo_server(database_url).await;
    let work = tempfile::TempDir::new().unwrap();
    // Python's http.client writes a request's headers and its body in two
    // writes; on a socket with Nagle's algorithm (sqlmap sets no
    // TCP_NODELAY, as curl and browsers do) the body then waits for the
    // server's delayed acknowledgement, 40 ms on every POST, which made
    // most of these tests' ten minutes. sqlmap's requests are unchanged.
    let python = work.path().join("python");
    std::fs::create_dir(&python).unwrap();
    std::fs::write(python.join("sitecustomize.py"), NODELAY).unwrap();
    let host = s.base.trim_start_matches("https://").to_owned();
    let cert = std::fs::read(s.data_dir().join("tls/self-signed.crt")).unwrap();
    let mut summary = Vec::new();
    let mut problems = Vec::new();
    let mut roles_seen = std::collections::BTreeSet::new();
    // A form or query already tried (by its method, path and parameter
    // names) is not tried again by the next role: the same handler and
    // the same SQL behind it.
    let mut tried = std::collections::BTreeSet::new();
    for (login, role, password) in &accounts {
        if !roles_seen.insert(role.clone()) {
            continue; // one account of each role
        }
        let cookie = session(&s, login, password).await;
        let jar = Arc::new(reqwest::cookie::Jar::default());
        for c in cookie.split("; ") {
            jar.add_cookie_str(c, &reqwest::Url::parse(&s.base).unwrap());
        }
        let c = client_with_jar(&cert, jar);
        // Every page's own query, and every form on it, as a request in a
        // proxy log (the format sqlmap reads with -l).
        let mut log = String::new();
        let mut requests = std::collections::BTreeSet::new();
        let mut params = 0;
        let sep = "=".repeat(54);
        for page in pages(role) {
            let html = c.get(s.url(page)).send().await.unwrap().text().await.unwrap();
            let mut wanted: Vec<(String, String, String)> = Vec::new();
            if page.contains('?') {
                wanted.push(("GET".into(), page.to_owned(), String::new()));
            }
            for f in forms(page, &html) {
                if left_out(&f.action) || f.fields.iter().all(|(n, _)| n == "csrf_token") {
                    continue;
                }
                let body = urlencoded(&f.fields);
                if f.method == "POST" {
                    wanted.push(("POST".into(), f.action, body));
                } else {
                    wanted.push(("GET".into(), format!("{}?{body}", f.action), String::new()));
                }
            }
            for (method, path, body) in wanted {
                let query = path.split_once('?').map_or("", |(_, q)| q);
                let mut names: Vec<String> = url::form_urlencoded::parse(format!("{query}&{body}").as_bytes())
                    .map(|(k, _)| k.into_owned())
                    .collect();
                names.sort();
                // Ids in a path are one route: /systems/1/items/2 is /systems/N/items/N.
                let route: String = path
                    .split('?')
                    .next()
                    .unwrap()
                    .split('/')
                    .map(|p| if p.parse::<u64>().is_ok() { "N" } else { p })
                    .collect::<Vec<_>>()
                    .join("/");
                if !tried.insert((method.clone(), route, names)) {
                    continue;
                }
                requests.insert((method.clone(), path.clone(), body.clone()));
                params += url::form_urlencoded::parse(format!("{query}&{body}").as_bytes())
                    .filter(|(k, _)| k != "csrf_token")
                    .count();
                log.push_str(&format!(
                    "{sep}\n{method} {path} HTTP/1.1\nHost: {host}\nOrigin: {}\nCookie: {cookie}\n",
                    s.base
                ));
                if method == "POST" {
                    log.push_str(&format!(
                        "Content-Type: application/x-www-form-urlencoded\nContent-Length: {}\n\n{body}\n",
                        body.len()
                    ));
                } else {
                    log.push('\n');
                }
                log.push_str(&format!("{sep}\n\n"));
            }
        }
        let log_file = work.path().join(format!("{role}.log"));
        std::fs::write(&log_file, &log).unwrap();
        let started = Instant::now();
        let out = tokio::time::timeout(
            Duration::from_secs(1_200),
            tokio::process::Command::new(sqlmap)
                .arg("-l")
                .arg(&log_file)
                .args(["--batch", "--ignore-stdin", "--force-ssl", "--level", "2", "--risk", "1", "--threads", "4"])
                // The backend's payloads, not MySQL's or Oracle's.
                .args(["--dbms", dbms, "--technique", techniques])
                .args(skip.map(|s| ["--test-skip", s]).into_iter().flatten())
                .args(["--skip", "csrf_token,__Host-mamori_csrf,__Host-mamori_session"])
                .args(["--timeout", "10", "--retries", "1", "--disable-coloring", "--skip-waf"])
                .arg("--output-dir")
                .arg(work.path().join(format!("out-{role}")))
                .env("HOME", work.path())
                .env("PYTHONPATH", &python)
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("sqlmap finishes within 20 minutes")
        .expect("run sqlmap");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        std::fs::write(std::env::temp_dir().join(format!("mamori-{part}-{role}.txt")), &text).unwrap();
        let tested = text.matches("testing if ").count();
        let injectable = sqlmap_findings(&text);
        eprintln!(
            "sqlmap ({dbms}) as {role}: {:.0?}, {} requests, {params} parameters",
            started.elapsed(),
            requests.len()
        );
        assert!(requests.is_empty() || text.contains("testing URL"), "sqlmap ran as {role}:\n{log}\n{text}");
        if skip.is_some() && !requests.is_empty() {
            assert!(
                text.contains("testing 'PostgreSQL AND boolean-based blind")
                    && text.contains("testing 'PostgreSQL > 8.1 AND time-based blind'")
                    && !text.contains("testing 'AND boolean-based blind"),
                "PostgreSQL's own payloads, the generic AND ones left out, as {role}:\n{text}"
            );
        }
        if !injectable.is_empty() {
            problems.push(format!("{role}:\n{}", injectable.join("\n")));
        }
        // The session survived the run: what was tried was tried signed in.
        let still = c.get(s.url("/dashboard")).send().await.unwrap().status();
        assert_eq!(still, 200, "{role}'s session still stands after sqlmap:\n{text}");
        summary.push(format!(
            "| {role} | {} | {params} | {tested} | {} |",
            requests.len(),
            if injectable.is_empty() { "none" } else { "FOUND" }
        ));
    }
    assert!(roles_seen.len() >= 5, "every role: {roles_seen:?}");
    assert!(tried.len() >= 30, "the forms and queries of every role: {}", tried.len());
    assert!(problems.is_empty(), "sqlmap found injectable parameters:\n{}", problems.join("\n\n"));
    record(
        part,
        &format!(
            "## sqlmap (SQL injection), {dbms}\n\n`sqlmap -l REQUESTS --batch --level 2 --risk 1 --dbms {dbms} --technique {techniques}{}`: the query of each page \
             and every form on it (each form or query once, by the first role that reaches it), sent with a signed-in session of each role (the session's CSRF token \
             kept, not tested); forms that sign out, change the password or second factor, disable an account \
             or take a file are left out. A role with no request had nothing left that a role before it had not tried. \
             sqlmap's sockets set TCP_NODELAY, which changes its timing and nothing it sends.\n\n| role | requests | parameters | parameters sqlmap tested | injectable |\n|---|---|---|---|---|\n{}\n",
            skip.map(|s| format!(" --test-skip '{s}'")).unwrap_or_default(),
            summary.join("\n")
        ),
    );
    s.kill().await;
}

#[tokio::test]
async fn item_78_nmap_finds_only_the_configured_port_open_on_loopback() {
    let Some(nmap) = required("nmap") else { return };
    let (s, _) = demo_server(None).await;
    // Every TCP port of the loopback address mamori listens on: only its
    // own HTTPS port may be mamori's (others belong to other tests).
    let out = tokio::process::Command::new(nmap)
        .args(["-Pn", "-n", "-sT", "-p-", "--open", "-T4", "-oG", "-", "127.0.0.1"])
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let open: Vec<u16> = text
        .lines()
        .filter(|l| l.contains("Ports:"))
        .flat_map(|l| {
            l.split("Ports:").nth(1).unwrap_or("").split(',').map(str::trim).map(str::to_owned).collect::<Vec<_>>()
        })
        .filter_map(|p| p.split('/').next().and_then(|n| n.parse().ok()))
        .collect();
    assert!(open.contains(&s.port()), "nmap sees mamori's port {}:\n{text}", s.port());
    // Which of the open ports are mamori's: its process's listening sockets.
    let ours = listening_ports(s.pid());
    assert_eq!(ours, vec![s.port()], "mamori listens on its configured port only:\n{text}");
    record(
        "nmap",
        &format!(
            "## nmap (open ports)\n\n`nmap -sT -p- 127.0.0.1`: mamori's process listens on its configured \
             HTTPS port only ({} in the run; nothing else of its own, no plain HTTP unless configured).\n",
            s.port()
        ),
    );
    s.kill().await;
}

/// The TCP ports process `pid` listens on, from /proc.
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: std::collections::BTreeSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| l.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_owned))
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table).unwrap_or_default().lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local address, state 0A (LISTEN), inode
            if f.len() > 9 && f[3] == "0A" && inodes.contains(f[9]) {
                if let Some(port) = f[1].rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok()) {
                    ports.push(port);
                }
            }
        }
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}
