//! Spawns the real router and HTTPS server on an ephemeral port with a
//! fresh database and a clock the test moves; returns a client that keeps
//! cookies, knows the CSRF token and speaks HTTPS.

use mamori_core::audit::{Actor, Origin};
use mamori_core::clock::Clock;
use mamori_core::identity::{Login, OrgKind, Role};
use mamori_core::password::hash;
use mamori_core::totp;
use mamori_store::accounts::{self, NewAccount};
use mamori_store::identity::Ctx;
use mamori_store::{DatabaseLocation, Store};
use mamori_web::{server, tls, AppState, Limits, Security, WebConfig};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use std::sync::{Arc, Mutex};
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};
use tokio::sync::watch;

pub const PASSWORD: &str = "Correct-Horse-42";

/// What every refused sign-in says (item 39).
pub const FAILED: &str = "ユーザIDもしくはパスワードが違います";

/// A clock the test moves by hand.
#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    pub fn advance(&self, d: Duration) {
        *self.0.lock().unwrap() += d;
    }
}

/// The first 12:00 in Japan at or after `now`: a test's clock starts there,
/// so that the half minutes and days a test moves it never cross a date
/// line by the hour at which the test happens to run.
pub fn next_noon_in_japan(now: OffsetDateTime) -> OffsetDateTime {
    let jst = now.to_offset(mamori_core::jst::JST);
    let noon = jst.replace_time(time::Time::from_hms(12, 0, 0).unwrap());
    let noon = if noon < jst { noon + Duration::days(1) } else { noon };
    noon.to_offset(time::UtcOffset::UTC)
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

pub struct App {
    /// Receives the notifier's webhook posts.
    pub hook: mamori_testkit::webhook::WebhookReceiver,
    pub base: String,
    /// The plain-HTTP listener that redirects to `base` (host:port), as
    /// `http_redirect_listen` starts one, sharing the connection slots.
    pub redirect: String,
    pub store: Store,
    pub clock: ManualClock,
    pub backend: &'static str,
    /// The server's state, for what tests observe inside it (password checks).
    pub state: AppState,
    /// The database, for a second store as another instance would open it.
    pub location: DatabaseLocation,
    cert: Vec<u8>,
    stop: watch::Sender<bool>,
    _dir: TempDir,
    pg_url: Option<String>,
}

#[derive(Clone, Default)]
pub struct Options {
    pub admin_networks: Option<Vec<ipnet::IpNet>>,
    pub evidence_max_bytes: Option<usize>,
    pub clamd: Option<std::path::PathBuf>,
    pub lockout: Option<mamori_core::policy::LockoutPolicy>,
    /// Reverse proxies whose X-Forwarded-For is believed (none by default).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The connections the server and one address may hold (the
    /// default's otherwise).
    pub max_connections: Option<usize>,
    pub max_connections_per_address: Option<usize>,
    /// What one organisation may store (the default's otherwise).
    pub evidence_quota_bytes: Option<u64>,
    /// How long a request may take (the default's otherwise).
    pub request_timeout: Option<std::time::Duration>,
    /// Changes one person may make in a minute and in a day (the defaults otherwise).
    pub writes: Option<(u32, u32)>,
}

impl Options {
    /// The defaults without a limit on a person's changes: the test's clock
    /// stands still, and these tests make a day's changes in its one minute.
    pub fn unpaced() -> Options {
        Options { writes: Some((u32::MAX, u32::MAX)), ..Options::default() }
    }
}

/// The server's configuration as `opts` asks, its origin `base`.
fn web_config(base: &str, opts: &Options, notifier: Option<Arc<mamori_app::notify::Notifier>>) -> WebConfig {
    WebConfig {
        public_origin: base.to_owned(),
        trusted_proxies: opts.trusted_proxies.clone(),
        admin_networks: opts.admin_networks.clone().unwrap_or_else(|| vec!["127.0.0.0/8".parse().unwrap()]),
        limits: Limits {
            request_timeout: opts.request_timeout.unwrap_or(Limits::default().request_timeout),
            writes_per_minute: opts.writes.map_or(Limits::default().writes_per_minute, |w| w.0),
            writes_per_day: opts.writes.map_or(Limits::default().writes_per_day, |w| w.1),
            ..Limits::default()
        },
        security: Security { lockout: opts.lockout.unwrap_or_default(), ..Security::default() },
        evidence: mamori_web::EvidenceConfig {
            max_bytes: opts.evidence_max_bytes.unwrap_or(20 * 1024 * 1024),
            clamd: opts.clamd.clone().map(mamori_files::evidence::Clamd::Unix),
            quota_bytes: opts.evidence_quota_bytes.unwrap_or(10 << 30),
        },
        vendor_scan_gap: time::Duration::minutes(10),
        report_month: 4,
        round_days: 60,
        support_warn_days: 180,
        notifier,
    }
}

/// Serves `state` over TLS on `listener`, and the plain-HTTP redirect on a
/// port of its own: the sender that stops both, and the redirect's address.
async fn serve(
    listener: tokio::net::TcpListener,
    tls_config: Arc<rustls::ServerConfig>,
    state: &AppState,
    opts: &Options,
) -> (watch::Sender<bool>, String) {
    let (stop, stop_rx) = watch::channel(false);
    let d = Limits::default();
    let limits = Limits {
        max_connections: opts.max_connections.unwrap_or(d.max_connections),
        max_connections_per_address: opts.max_connections_per_address.unwrap_or(d.max_connections_per_address),
        request_timeout: opts.request_timeout.unwrap_or(d.request_timeout),
        ..d
    };
    let slots = server::Slots::new(&limits, Arc::from([]));
    tokio::spawn(server::serve(
        listener,
        Some(tls_config),
        mamori_web::app(state.clone()),
        (limits, slots.clone()),
        stop_rx.clone(),
    ));
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect = plain.local_addr().unwrap().to_string();
    tokio::spawn(server::serve(plain, None, mamori_web::redirect_app(state.clone()), (limits, slots), stop_rx));
    (stop, redirect)
}

impl App {
    pub async fn spawn(backend: &'static str, opts: Options) -> App {
        let dir = TempDir::new().unwrap();
        let (location, pg_url) = match backend {
            "sqlite" => (DatabaseLocation::in_data_dir(dir.path()), None),
            _ => {
                let url = mamori_testkit::fresh_pg_database().await.expect("PostgreSQL leg");
                (DatabaseLocation::parse(&url).unwrap(), Some(url))
            }
        };
        let store = Store::open(&location, Arc::new(mamori_store::crypt::Keyring::random_for_tests())).await.unwrap();
        // As `mamori serve` does at first start.
        let first =
            Ctx { now: OffsetDateTime::now_utc(), actor: Actor::system(), origin: Origin::default(), standing: None };
        store.ensure_catalog(&first).await.unwrap();
        let sessions = store.sessions().await.unwrap();
        let (cert_path, key_path, _) = tls::ensure_self_signed(dir.path(), None).unwrap();
        let tls_config = tls::server_config(&cert_path, &key_path).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port());
        // A notifier with a webhook on loopback: the alerts page's test
        // button works as in a configured server.
        let hook = mamori_testkit::webhook::WebhookReceiver::start().await;
        let notifier = mamori_app::notify::Notifier::new(mamori_app::notify::NotifyConfig {
            mail: None,
            webhook: Some(mamori_app::notify::WebhookConfig {
                url: hook.url.clone(),
                secret: "a-test-secret-of-some-length".into(),
                kinds: vec!["*".into()],
            }),
            routes: mamori_app::notify::NotifyConfig::default_routes(),
            remind_after: time::Duration::hours(24),
            public_origin: String::new(),
        })
        .unwrap();
        let clock = ManualClock(Arc::new(Mutex::new(next_noon_in_japan(OffsetDateTime::now_utc()))));
        let config = web_config(&base, &opts, Some(Arc::new(notifier)));
        let state = AppState::new(store.clone(), sessions, config, Arc::new(clock.clone()));
        state.prepare().await.unwrap();
        let (stop, redirect) = serve(listener, tls_config, &state, &opts).await;
        let cert = std::fs::read(cert_path).unwrap();
        App { base, redirect, store, clock, backend, state, location, cert, stop, _dir: dir, pg_url, hook }
    }

    /// Another instance over this one's database, as a balancer would have
    /// beside it: its own store, memory and listeners, this one's clock and
    /// certificate. A client goes to it with [`Client::to`] (cookies do not
    /// tell ports apart, so its session goes with it).
    pub async fn another_instance(&self, opts: Options) -> Instance {
        let store = Store::open(&self.location, self.store.keys().clone()).await.unwrap();
        let sessions = store.sessions().await.unwrap();
        let (cert_path, key_path, _) = tls::ensure_self_signed(self._dir.path(), None).unwrap();
        let tls_config = tls::server_config(&cert_path, &key_path).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let config = web_config(&base, &opts, None);
        let state = AppState::new(store.clone(), sessions, config, Arc::new(self.clock.clone()));
        state.prepare().await.unwrap();
        let (stop, _) = serve(listener, tls_config, &state, &opts).await;
        Instance { base, store, stop }
    }

    /// SQLite always; PostgreSQL when the test cluster is there (required in CI).
    pub async fn each(opts: Options) -> Vec<App> {
        let mut apps = vec![App::spawn("sqlite", opts.clone()).await];
        if std::env::var(mamori_testkit::PG_ENV).is_ok() || std::env::var("CI").is_ok_and(|v| v == "true") {
            apps.push(App::spawn("postgres", opts).await);
        } else {
            eprintln!("\n*** SKIPPED the PostgreSQL leg: {} is not set. ***\n", mamori_testkit::PG_ENV);
        }
        apps
    }

    /// The PostgreSQL database's URL (the PostgreSQL leg only).
    pub fn pg_url(&self) -> Option<&str> {
        self.pg_url.as_deref()
    }

    pub async fn close(self) {
        let _ = self.stop.send(true);
        self.store.close().await;
        if let Some(url) = &self.pg_url {
            mamori_testkit::drop_pg_database(url).await;
        }
    }

    pub fn client(&self) -> Client {
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&self.cert).unwrap())
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Client { http, base: self.base.clone(), csrf: Arc::new(Mutex::new(String::new())) }
    }

    /// A client without a cookie jar whose connections come from `local`
    /// (another loopback address: another client as the server counts).
    pub fn client_from(&self, local: std::net::IpAddr) -> reqwest::Client {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&self.cert).unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .local_address(local)
            .build()
            .unwrap()
    }

    /// A client with a cookie jar whose connections come from `local`.
    pub fn client_at(&self, local: std::net::IpAddr) -> Client {
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&self.cert).unwrap())
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .local_address(local)
            .build()
            .unwrap();
        Client { http, base: self.base.clone(), csrf: Arc::new(Mutex::new(String::new())) }
    }

    /// A client without a cookie jar, for hand-made cookies.
    pub fn raw_client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&self.cert).unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// The time on the test's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// A client that has opened `path`: it holds a session and the page's token.
    pub async fn client_on(&self, path: &str) -> Client {
        let c = self.client();
        c.get(path).await;
        c
    }

    pub fn ctx(&self) -> Ctx {
        Ctx {
            now: self.now(),
            actor: Actor { account_id: None, login: "test".into() },
            origin: Origin::default(),
            standing: None,
        }
    }

    /// A change made by the system itself.
    pub fn system_ctx(&self) -> Ctx {
        Ctx { now: self.now(), actor: Actor::system(), origin: Origin::default(), standing: None }
    }

    /// Makes `token` the first-run setup token, valid for 30 minutes.
    pub async fn setup_token(&self, token: &str) {
        let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()));
        self.store.set_setup_token(&hash, self.now() + Duration::minutes(30)).await.unwrap();
    }

    pub async fn org(&self, name: &str, kind: OrgKind) -> i64 {
        self.store.create_organisation_audited(&self.ctx(), name, kind, "").await.unwrap()
    }

    /// An account with [`PASSWORD`] and no second factor.
    pub async fn issue(&self, login: &str, role: Role, org: Option<i64>) -> i64 {
        let new = NewAccount {
            login: Login::parse(login).unwrap(),
            display_name: format!("{login} さん"),
            email: format!("{login}@example.lg.jp"),
            role,
            organisation_id: org,
            password_hash: hash::hash(PASSWORD),
            must_change_password: false,
        };
        self.store.issue_account(&self.ctx(), &new, "test").await.unwrap()
    }

    /// An account with [`PASSWORD`]; the roles that must sign in with a
    /// second factor (admin, officer and, by default, vendor) get one,
    /// whose secret is returned.
    /// One account of each role (the department's of `dept`, the vendor's
    /// of `vendor`): role, login and second-factor secret.
    pub async fn one_of_each_role(&self, dept: i64, vendor: i64) -> Vec<(Role, &'static str, Option<String>)> {
        let mut people = Vec::new();
        for (role, login, org) in [
            (Role::Admin, "kanri01", None),
            (Role::SecurityOfficer, "shinsa01", None),
            (Role::Department, "busho01", Some(dept)),
            (Role::Vendor, "gyosha01", Some(vendor)),
            (Role::Auditor, "kansa01", None),
        ] {
            let (_, secret) = self.user(login, role, org).await;
            people.push((role, login, secret));
        }
        people
    }

    pub async fn user(&self, login: &str, role: Role, org: Option<i64>) -> (i64, Option<String>) {
        let id = self.issue(login, role, org).await;
        let secret = if self.state.config.security.second_factor.required(role) {
            let s = totp::new_secret();
            let mut tx = self.store.begin().await.unwrap();
            accounts::enable_totp(&mut tx, id, &s, 0, &[]).await.unwrap();
            tx.commit().await.unwrap();
            Some(s)
        } else {
            None
        };
        (id, secret)
    }

    /// A signed-in client for a new account of `role`.
    pub async fn signed_in(&self, login: &str, role: Role, org: Option<i64>) -> (Client, i64) {
        let (id, secret) = self.user(login, role, org).await;
        let c = self.client();
        c.sign_in(self, login, PASSWORD, secret.as_deref()).await;
        (c, id)
    }

    /// Gives account `id` another role and organisation, as an
    /// administrator's form does (from the console).
    pub async fn change_role(&self, id: i64, role: Role, org: Option<(i64, &str)>) {
        let before = self.store.account_by_id(id).await.unwrap().unwrap();
        let change = mamori_store::identity::AccountChange {
            display_name: &before.display_name,
            email: &before.email,
            role,
            organisation: org,
            seen: &before.edit_mark(),
        };
        self.store.change_account(&self.ctx(), id, &change, "異動").await.unwrap();
    }

    /// Ten wrong passwords for `login`: the account locks.
    pub async fn lock(&self, login: &str) {
        let c = self.client();
        for _ in 0..10 {
            c.sign_in(self, login, "Wrong-Password-1", None).await;
        }
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        self.store.audit_recent(100_000).await.unwrap().into_iter().map(|e| e.record.action).collect()
    }
}

/// A second instance ([`App::another_instance`]).
pub struct Instance {
    pub base: String,
    store: Store,
    stop: watch::Sender<bool>,
}

impl Instance {
    pub async fn close(self) {
        let _ = self.stop.send(true);
        self.store.close().await;
    }
}

pub struct Res {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Res {
    pub fn location(&self) -> &str {
        self.headers.get("location").map(|v| v.to_str().unwrap()).unwrap_or("")
    }
}

#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub csrf: Arc<Mutex<String>>,
}

/// The initial password [`vendor_account_form`] sets.
pub const INITIAL_PASSWORD: &str = "Initial-Pass-1";

/// The fields of the form that issues an account of a vendor's person in
/// organisation `org`, with [`INITIAL_PASSWORD`].
pub fn vendor_account_form<'a>(
    login: &'a str,
    display_name: &'a str,
    email: &'a str,
    org: &'a str,
    reason: &'a str,
) -> [(&'static str, &'a str); 8] {
    [
        ("login", login),
        ("display_name", display_name),
        ("email", email),
        ("role", "vendor"),
        ("organisation_id", org),
        ("new_password", INITIAL_PASSWORD),
        ("confirm_password", INITIAL_PASSWORD),
        ("reason", reason),
    ]
}

/// The fields of the form that changes a vendor's person's account.
/// The edit form of a vendor's account, carrying `seen`, the edit mark
/// the form was shown with ([`hidden_in`] the edit page).
pub fn vendor_change_form<'a>(
    display_name: &'a str,
    email: &'a str,
    org: &'a str,
    reason: &'a str,
    seen: &'a str,
) -> [(&'static str, &'a str); 6] {
    [
        ("display_name", display_name),
        ("email", email),
        ("role", "vendor"),
        ("organisation_id", org),
        ("reason", reason),
        ("seen", seen),
    ]
}

/// Of two saves sent at once from pages showing the same thing, exactly
/// one landed (a redirect) and the other came back as a page `saying` why:
/// whether the first landed.
pub fn first_of_two_landed(a: &Res, b: &Res, backend: &str, saying: &str) -> bool {
    let landed = |r: &Res| r.status == StatusCode::SEE_OTHER;
    assert_eq!(usize::from(landed(a)) + usize::from(landed(b)), 1, "{backend}: {} / {}", a.status, b.status);
    let refused = if landed(a) { b } else { a };
    assert_eq!(refused.status, StatusCode::OK, "{backend}");
    assert!(refused.body.contains(saying), "{backend}: {}", refused.body);
    landed(a)
}

/// The value of the hidden field `name` in the first form of a page that has one.
pub fn hidden_in(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let from = body.find(&marker).unwrap_or_else(|| panic!("no hidden {name} on the page")) + marker.len();
    body[from..].split('"').next().unwrap().to_owned()
}

/// The TOTP secret shown on the enrolment page.
pub fn totp_secret_in(body: &str) -> String {
    let marker = "class=\"secret\">";
    let from = body.find(marker).expect("the secret on the enrolment page") + marker.len();
    body[from..].split('<').next().unwrap().to_owned()
}

fn token_in(body: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let from = body.find(marker)? + marker.len();
    Some(body[from..from + 64].to_owned())
}

impl Client {
    pub async fn finish(&self, r: reqwest::Response) -> Res {
        let status = r.status();
        let headers = r.headers().clone();
        let body = r.text().await.unwrap();
        if let Some(t) = token_in(&body) {
            *self.csrf.lock().unwrap() = t;
        }
        Res { status, headers, body }
    }

    /// This client, its cookies and CSRF token, speaking to the server at
    /// `base` (another instance).
    pub fn to(&self, base: &str) -> Client {
        Client { http: self.http.clone(), base: base.to_owned(), csrf: self.csrf.clone() }
    }

    pub async fn get(&self, path: &str) -> Res {
        let r = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        self.finish(r).await
    }

    /// A form POST from a page of this site: the Origin and the last CSRF token seen.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Res {
        let token = self.csrf.lock().unwrap().clone();
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", &token));
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .form(&form)
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    /// A POST as a forger would send it: no token, or a chosen one.
    pub async fn post_raw(&self, path: &str, origin: Option<&str>, token: Option<&str>) -> Res {
        let mut form = vec![("reason", "x")];
        if let Some(t) = token {
            form.push(("csrf_token", t));
        }
        let mut req = self.http.post(format!("{}{path}", self.base)).form(&form);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let r = req.send().await.unwrap();
        self.finish(r).await
    }

    pub fn token(&self) -> String {
        self.csrf.lock().unwrap().clone()
    }

    /// Changes the password on the password page (new and confirmation the same).
    pub async fn change_password(&self, current: &str, new: &str) -> Res {
        self.post("/password", &[("current_password", current), ("new_password", new), ("confirm_password", new)]).await
    }

    /// Posts `fields` to `path` as the form on that page does: with the
    /// hidden `carried` value the page showed (a revision or a mark), none
    /// when the page has no such form (another's item, a submitted part).
    pub async fn post_as_shown(&self, path: &str, carried: &str, fields: &[(&str, &str)]) -> Res {
        let page = self.get(path).await;
        let marker = format!("name=\"{carried}\" value=\"");
        let shown = page.body.split(&marker).nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_owned();
        let mut form = fields.to_vec();
        form.push((carried, &shown));
        self.post(path, &form).await
    }

    /// Posts `fields` to `path` as the form on `page` does: with the values
    /// of the hidden fields `carried` the page showed (none where it shows
    /// no such field).
    pub async fn post_from(&self, page: &str, path: &str, carried: &[&str], fields: &[(&str, &str)]) -> Res {
        let shown = self.get(page).await.body;
        let values: Vec<(&str, String)> = carried
            .iter()
            .map(|name| {
                let marker = format!("name=\"{name}\" value=\"");
                let value = shown.split(&marker).nth(1).and_then(|r| r.split('"').next()).unwrap_or("");
                (*name, value.to_owned())
            })
            .collect();
        let mut form = fields.to_vec();
        form.extend(values.iter().map(|(k, v)| (*k, v.as_str())));
        self.post(path, &form).await
    }

    /// Saves the answer to requirement `n` of system `sys` from its page.
    pub async fn answer(&self, sys: i64, n: u32, fields: &[(&str, &str)]) -> Res {
        self.post_as_shown(&format!("/systems/{sys}/items/{n}"), "revision", fields).await
    }

    /// Saves record `rid` of system `sys` from its page.
    pub async fn save_record(&self, sys: i64, rid: i64, fields: &[(&str, &str)]) -> Res {
        self.post_as_shown(&format!("/systems/{sys}/records/{rid}"), "revision", fields).await
    }

    /// Saves component `cid` of system `sys` from its page.
    pub async fn save_component(&self, sys: i64, cid: i64, fields: &[(&str, &str)]) -> Res {
        self.post_as_shown(&format!("/systems/{sys}/inventory/{cid}"), "seen", fields).await
    }

    /// Uploads a file to requirement `n` of system `sys` as the item page's form does.
    pub async fn upload(&self, sys: i64, n: u32, name: &str, bytes: Vec<u8>) -> Res {
        self.upload_form(sys, n, name, bytes, None, true).await
    }

    /// A multipart form posted from a page of this site (the Origin set),
    /// as a browser sends a file.
    pub async fn post_multipart(&self, path: &str, form: reqwest::multipart::Form) -> Res {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .multipart(form)
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    /// One file as field `file`, with the page's CSRF token, after showing `page`.
    pub async fn post_file(&self, page: &str, path: &str, name: &str, bytes: Vec<u8>) -> Res {
        self.get(page).await;
        let form = reqwest::multipart::Form::new()
            .text("csrf_token", self.token())
            .part("file", reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()));
        self.post_multipart(path, form).await
    }

    /// [`Client::upload`] with an expiry date, and without the CSRF token
    /// unless `with_token`.
    pub async fn upload_form(
        &self,
        sys: i64,
        n: u32,
        name: &str,
        bytes: Vec<u8>,
        expires_on: Option<&str>,
        with_token: bool,
    ) -> Res {
        self.get(&format!("/systems/{sys}/items/{n}")).await;
        let mut form = reqwest::multipart::Form::new();
        if with_token {
            form = form.text("csrf_token", self.token());
        }
        if let Some(date) = expires_on {
            form = form.text("expires_on", date.to_owned());
        }
        form = form.part("file", reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()));
        self.post_multipart(&format!("/systems/{sys}/items/{n}/evidence"), form).await
    }

    /// Signs in through the forms; with a second factor, the code of
    /// `totp_secret` or else of the account's own, as its authenticator
    /// shows it: the next one when this one was already taken (RFC 6238).
    pub async fn sign_in(&self, app: &App, login: &str, password: &str, totp_secret: Option<&str>) -> Res {
        self.get("/login").await;
        let r = self.post("/login", &[("login", login), ("password", password)]).await;
        if r.location() == "/login/totp" {
            let account = app.store.account_by_login(login).await.unwrap().expect("the account");
            let secret = totp_secret.map(str::to_owned).or(account.totp_secret).expect("a second factor");
            if account.totp_last_step >= app.clock.now().unix_timestamp() / 30 {
                app.clock.advance(time::Duration::seconds(30));
            }
            self.get("/login/totp").await;
            let code = totp::code_at(&secret, app.clock.now()).unwrap();
            return self.post("/login/totp", &[("code", &code)]).await;
        }
        r
    }
}

#[test]
fn a_tests_clock_starts_at_the_next_noon_in_japan_whatever_the_hour_it_runs() {
    use time::macros::datetime;
    for (now, want) in [
        (datetime!(2026-12-04 14:59:59 UTC), datetime!(2026-12-05 03:00 UTC)),
        (datetime!(2026-12-04 15:00 UTC), datetime!(2026-12-05 03:00 UTC)),
        (datetime!(2026-12-04 02:59 UTC), datetime!(2026-12-04 03:00 UTC)),
        (datetime!(2026-12-04 03:00 UTC), datetime!(2026-12-04 03:00 UTC)),
        (datetime!(2026-12-04 03:01 UTC), datetime!(2026-12-05 03:00 UTC)),
    ] {
        assert_eq!(next_noon_in_japan(now), want, "{now}");
    }
}
