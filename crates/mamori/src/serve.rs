//! `mamori serve`: wiring of configuration, database, TLS and listeners;
//! and `mamori check-config`, which stops before the listeners.

use crate::config::{self, Config, ConfigErrors, ServeArgs, TlsSource};
use crate::settings::GlobalArgs;
use crate::shared::{outln, prepare, report_config_errors, Unprepared, EXIT_CONFIG, EXIT_PROBLEM};
use ipnet::IpNet;
use mamori_core::audit::{Action, Actor, Changes, NewEvent, Origin, Outcome};
use mamori_core::clock::{Clock, SystemClock};
use mamori_store::Store;
use mamori_web::refusals::Refusals;
use mamori_web::{server, tls, AppState, WebConfig};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub async fn run(global: &GlobalArgs, args: &ServeArgs) -> ExitCode {
    let _log = config::init_logging(global, args);
    let (cfg, store) = match resolve_and_prepare(global, args, true).await {
        Ok(ready) => ready,
        Err(code) => return code,
    };
    let code = run_with_store(cfg, store.clone()).await;
    store.close().await;
    code
}

/// `mamori check-config`: the configuration resolves, and the database is
/// reached (and a new data directory prepared, as by `serve`).
pub async fn check_config(global: &GlobalArgs, args: &ServeArgs) -> ExitCode {
    let _log = config::init_logging(global, args);
    let Ok((cfg, store)) = resolve_and_prepare(global, args, false).await else {
        return ExitCode::from(EXIT_CONFIG);
    };
    store.close().await;
    outln!("設定は正しく、データベースに接続できました (configuration OK, database reachable): {}", cfg.database);
    ExitCode::SUCCESS
}

/// The configuration and the prepared store, or the exit code once what is
/// wrong has been shown (and, when `record`, written to the audit log, as
/// `serve` does; `check-config` only looks).
pub(crate) async fn resolve_and_prepare(
    global: &GlobalArgs,
    args: &ServeArgs,
    record: bool,
) -> Result<(Config, Store), ExitCode> {
    let cfg = match Config::resolve(global, args) {
        Ok(c) => c,
        Err(errors) => {
            report_config_errors(&errors.errors);
            if record {
                record_config_errors(&errors).await;
            }
            return Err(ExitCode::from(EXIT_CONFIG));
        }
    };
    match prepare(&cfg.data_dir, &cfg.database, &SystemClock).await {
        Ok(store) => Ok((cfg, store)),
        Err(e) => {
            let message = e.message(&cfg.data_dir, &cfg.database);
            eprintln!("mamori: {message}");
            if let Unprepared::Catalog(store, _) = e {
                if record {
                    let changes = Changes::new().with("error", message);
                    audit(&store, &SystemClock, Action::ConfigError, Outcome::Failure, changes).await;
                }
                store.close().await;
            }
            Err(ExitCode::from(EXIT_CONFIG))
        }
    }
}

async fn run_with_store(cfg: Config, store: Store) -> ExitCode {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let fail = |message: String| {
        let store = store.clone();
        let clock = clock.clone();
        async move {
            eprintln!("mamori: {message}");
            audit(&store, &*clock, Action::ConfigError, Outcome::Failure, Changes::new().with("error", message)).await;
            ExitCode::from(EXIT_CONFIG)
        }
    };

    let (cert, key, self_signed) = match &cfg.tls {
        TlsSource::Files { cert, key } => (cert.clone(), key.clone(), false),
        TlsSource::SelfSigned => match tls::ensure_self_signed(&cfg.data_dir, Some(cfg.listen.ip())) {
            Ok((c, k, made)) => {
                if made {
                    tracing::info!("generated a self-signed certificate at {}", c.display());
                }
                (c, k, true)
            }
            Err(e) => return fail(format!("自己署名証明書を用意できません (self-signed certificate): {e}")).await,
        },
    };
    if self_signed {
        tracing::warn!(
            "自己署名証明書で HTTPS を提供しています。ブラウザは警告を表示します。本番では --tls-cert と --tls-key で正規の証明書を設定してください (checklist item 56). \
             Serving HTTPS with a self-signed certificate: browsers will warn. Configure a real certificate for production."
        );
    }
    let tls_config = match tls::server_config(&cert, &key) {
        Ok(c) => c,
        Err(e) => return fail(format!("証明書または秘密鍵を読み込めません (certificate or key): {e}")).await,
    };

    let mut cfg = cfg;
    match open_files_for(&mut cfg.limits) {
        Ok(Some(lowered)) => tracing::warn!("{lowered}"),
        Ok(None) => {}
        Err(e) => return fail(e).await,
    }
    let https = match TcpListener::bind(cfg.listen).await {
        Ok(l) => l,
        Err(e) => return fail(format!("{} で待ち受けできません (cannot listen): {e}", cfg.listen)).await,
    };
    let https_addr = https.local_addr().unwrap_or(cfg.listen);
    let redirect = match cfg.http_redirect_listen {
        Some(addr) => match TcpListener::bind(addr).await {
            Ok(l) => Some(l),
            Err(e) => return fail(format!("{addr} で待ち受けできません (cannot listen): {e}")).await,
        },
        None => None,
    };

    let public_origin = cfg.public_url.clone().unwrap_or_else(|| default_origin(https_addr));
    let mut notify_config = cfg.notify.config.clone();
    notify_config.public_origin = public_origin.clone();
    let notifier = match mamori_app::notify::Notifier::new(notify_config) {
        Ok(n) => std::sync::Arc::new(n),
        Err(e) => return fail(format!("通知の設定 (notify): {e}")).await,
    };
    let web_config = WebConfig {
        public_origin: public_origin.clone(),
        trusted_proxies: cfg.trusted_proxies.clone(),
        admin_networks: cfg.admin_networks.clone(),
        limits: cfg.limits,
        security: cfg.security,
        evidence: cfg.evidence.clone(),
        vendor_scan_gap: cfg.scan.vendor_gap,
        report_month: cfg.report_month,
        round_days: cfg.round_days,
        support_warn_days: cfg.support_warn_days,
        notifier: Some(notifier.clone()),
    };
    let sessions = match store.sessions().await {
        Ok(s) => s,
        Err(e) => return fail(format!("セッションの保存先を準備できません (session store): {e}")).await,
    };
    let state = AppState::new(store.clone(), sessions.clone(), web_config, clock.clone());
    if let Err(e) = state.prepare().await {
        return fail(format!("鍵を準備できません (server keys): {e}")).await;
    }
    let refusals = state.refusals.clone();
    let setup_url = match crate::jobs::setup_token(&store, &*clock, &public_origin).await {
        Ok(u) => u,
        Err(e) => return fail(format!("初回セットアップを準備できません (setup token): {e}")).await,
    };

    let backend = format!("{:?}", store.backend()).to_lowercase();
    let started = Changes::new()
        .with("listen", https_addr.to_string())
        .with("database", backend)
        .with("tls", if self_signed { "self-signed" } else { "configured" });
    if !audit(&store, &*clock, Action::ServerStart, Outcome::Success, started).await {
        return ExitCode::from(EXIT_PROBLEM);
    }

    // Handlers are in place before the URL is announced: a SIGTERM that
    // follows the announcement at once still stops the server cleanly.
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => return fail(format!("シグナルを受け取れません (cannot install signal handlers): {e}")).await,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_rx_jobs = stop_rx.clone();
    let mut tasks = tokio::task::JoinSet::new();
    let proxies: Arc<[IpNet]> = cfg.trusted_proxies.clone().into();
    // One count of connections for both listeners.
    let slots = server::Slots::new(&cfg.limits, proxies);
    let limits = (cfg.limits, slots.clone());
    tasks.spawn(server::serve(https, Some(tls_config), mamori_web::app(state.clone()), limits, stop_rx.clone()));
    // The URL goes to standard output once the server accepts connections;
    // logs go to standard error. Unlike a command's output
    // (`shared::write_stdout`), a standard output nobody reads does not end
    // the server: these writes may fail.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "mamori: {public_origin}/ で待ち受けています (listening on https://{https_addr}/)");
    if let Some(l) = redirect {
        let addr = l.local_addr().unwrap_or(https_addr);
        let _ = writeln!(out, "mamori: http://{addr}/ は {public_origin}/ へ転送します (redirecting to HTTPS)");
        tasks.spawn(server::serve(l, None, mamori_web::redirect_app(state), (cfg.limits, slots), stop_rx));
    }
    // The setup URL holds a secret: it is shown on the console once and
    // never written to the log, which is kept and shipped elsewhere.
    if let Some(url) = &setup_url {
        let _ = writeln!(
            out,
            "mamori: 初回セットアップ URL (30分間、1回限り有効 / first-run setup, valid 30 minutes, once): {url}"
        );
        tracing::warn!(
            "管理者アカウントがありません。初回セットアップ URL を標準出力に表示しました \
             (no administrator yet; the first-run setup URL was printed to standard output)"
        );
    }
    // The last line of the announcement: tools and tests wait for it.
    let _ = writeln!(out, "mamori: ready");
    let _ = out.flush();
    drop(out);
    let background = crate::jobs::Background {
        store: store.clone(),
        sessions,
        clock: clock.clone(),
        security: cfg.security,
        audit: cfg.audit.clone(),
        scan: cfg.scan.clone(),
        refusals: refusals.clone(),
        jobs: cfg.jobs.clone(),
        notifier: notifier.clone(),
        report_month: cfg.report_month,
        support_warn_days: cfg.support_warn_days,
    };
    crate::notifying::spawn(notifier, store.clone(), clock.clone(), cfg.notify.poll, stop_rx_jobs.clone());
    let jobs = crate::jobs::spawn(background, stop_rx_jobs);

    let signal = signals.wait().await;
    tracing::info!("{signal}: stopping; finishing requests in flight (at most {:?})", cfg.limits.shutdown_grace);
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    let _ = jobs.await;
    // Refusals counted in the last minutes are written before the stop.
    let now = clock.now();
    Refusals::write(&store, now, refusals.take_finished(now + time::Duration::minutes(1))).await;
    audit(&store, &*clock, Action::ServerStop, Outcome::Success, Changes::new().with("signal", signal)).await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// `https://HOST:PORT` for the address actually bound; an unspecified
/// address is shown as localhost.
fn default_origin(addr: SocketAddr) -> String {
    match addr.ip() {
        ip if ip.is_unspecified() => format!("https://localhost:{}", addr.port()),
        IpAddr::V6(ip) => format!("https://[{ip}]:{}", addr.port()),
        IpAddr::V4(ip) => format!("https://{ip}:{}", addr.port()),
    }
}

struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals { term: signal(SignalKind::terminate())?, int: signal(SignalKind::interrupt())? })
    }

    async fn wait(mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

/// Records a server event; returns false (after logging) when it could not.
async fn audit(store: &Store, clock: &dyn Clock, action: Action, outcome: Outcome, changes: Changes) -> bool {
    let event =
        NewEvent::new(Actor::system(), Origin::default(), action, outcome).target("server", "mamori").changes(changes);
    match store.audit_record(clock.now(), event).await {
        Ok(_) => true,
        Err(e) => {
            tracing::error!("cannot write the audit event {}: {e}", action.as_str());
            false
        }
    }
}

/// A configuration error is recorded in the audit log when the database is
/// known and already exists: a broken configuration never creates one.
async fn record_config_errors(errors: &ConfigErrors) {
    let Some(location) = &errors.database else {
        return;
    };
    let exists = match location {
        mamori_store::DatabaseLocation::SqliteFile(p) => p.is_file(),
        mamori_store::DatabaseLocation::Postgres(_) => true,
    };
    if !exists {
        return;
    }
    // Never a new key for it: only a database whose key is there.
    let keys = match crate::shared::key_file(&errors.data_dir) {
        Some(path) => mamori_store::crypt::Keyring::from_file(&path),
        None => mamori_store::crypt::Keyring::from_text(&std::env::var("MAMORI_DATA_KEY").unwrap_or_default(), None),
    };
    let Ok(keys) = keys else {
        return;
    };
    let Ok(store) = Store::open(location, std::sync::Arc::new(keys)).await else {
        return;
    };
    let list: Vec<String> = errors.errors.iter().map(|e| e.to_string()).collect();
    audit(&store, &SystemClock, Action::ConfigError, Outcome::Failure, Changes::new().with("errors", list)).await;
    store.close().await;
}

/// What mamori opens besides the connections it serves: the database's
/// connections, the log, backups, evidence scans by clamd, mail, webhooks,
/// the scanner's probes.
const OPEN_FILES_RESERVE: u64 = 256;

/// Fewer connections than this is no server: refused at start.
const FEWEST_CONNECTIONS: u64 = 64;

/// Every connection is an open file: past the limit, `accept` fails for
/// everyone, and so does every file and connection mamori opens (the
/// database's among them). Raises the soft limit of open files to the hard
/// one (systemd starts a service at 1,024 unless told), and lowers
/// `limits.max_connections` (and the share of one address with it) to what
/// fits beside [`OPEN_FILES_RESERVE`], saying so; refuses when fewer than
/// [`FEWEST_CONNECTIONS`] would.
fn open_files_for(limits: &mut mamori_web::Limits) -> Result<Option<String>, String> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit read or write only the struct given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(format!("開けるファイル数の上限を読めません (RLIMIT_NOFILE): {}", std::io::Error::last_os_error()));
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit { rlim_cur: limit.rlim_max, ..limit };
        // SAFETY: as above. A refusal (a hard limit the kernel caps) keeps the soft one.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        }
    }
    let room = limit.rlim_cur.saturating_sub(OPEN_FILES_RESERVE);
    if room >= limits.max_connections as u64 {
        return Ok(None);
    }
    if room < FEWEST_CONNECTIONS {
        return Err(format!(
            "開けるファイル数の上限 {} では接続を {FEWEST_CONNECTIONS} も受けられません (予備 {OPEN_FILES_RESERVE})。LimitNOFILE を上げてください (open files limit {} leaves fewer than {FEWEST_CONNECTIONS} connections beside a reserve of {OPEN_FILES_RESERVE}: raise LimitNOFILE)",
            limit.rlim_cur, limit.rlim_cur
        ));
    }
    // One address keeps the part of all it had (half, by default), so that
    // it still cannot hold every slot.
    let wanted = limits.max_connections;
    let share = (limits.max_connections_per_address as u64 * room / wanted as u64).max(1);
    limits.max_connections = room as usize;
    limits.max_connections_per_address = share as usize;
    Ok(Some(format!(
        "開けるファイル数の上限 {} に合わせ、max_connections を {wanted} から {room} に、1アドレスあたりを {share} に下げました。LimitNOFILE を上げると元に戻ります (open files limit {}: max_connections lowered from {wanted} to {room}, per address to {share}; raise LimitNOFILE)",
        limit.rlim_cur, limit.rlim_cur
    )))
}
