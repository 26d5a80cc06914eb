//! The server's scan worker: runs queued scans of systems' URLs, stores the
//! results, and raises alerts on regressions and expiring certificates.

use crate::settings::{parse_networks, positive, ConfigError};
use mamori_core::audit::{Actor, Origin};
use mamori_core::checklist::Phase;
use mamori_core::clock::Clock;
use mamori_core::identity::Permission;
use mamori_core::monitoring::{Severity, SCAN_ADDRESS_NEW};
use mamori_core::verification::{CheckId, ScanReport, Verdict};
use mamori_scan::{
    network_of, refused_target, scan_at, scan_ports_at, unscanned_target, Given, ScanError, ScanOptions, TargetError,
    TargetReport,
};
use mamori_store::auditlog::{about_system, Raise};
use mamori_store::identity::Ctx;
use mamori_store::scans::AddressCheck;
use mamori_store::scans::ScanStatus;
use mamori_store::{Store, StoreError};
use serde::Deserialize;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;
use time::Duration as TimeDuration;

fn scanner() -> Actor {
    Actor { account_id: None, login: mamori_store::scans::SCHEDULED_BY.into() }
}

/// How many of one scan's deadlines one system's run may take in all.
const RUN_DEADLINES: u32 = 5;

/// A run still `running` after this long was left by a worker that
/// stopped; another takes it up (twice the longest a run may take).
pub fn stale_after(opts: &ScanOptions) -> time::Duration {
    time::Duration::try_from(opts.deadline * RUN_DEADLINES * 2).unwrap_or(time::Duration::hours(1))
}

/// Runs one queued scan, if any; true when one ran. The scan runs in a
/// task of its own: should the scanner panic on what a server sent, the
/// scan is recorded as failed and the worker goes on (never a scan taken up
/// again and again, never a worker gone quiet).
pub async fn run_one(store: &Store, clock: &std::sync::Arc<dyn Clock>, opts: &ScanOptions) -> Result<bool, StoreError> {
    let Some(run) = store.claim_scan(clock.now(), stale_after(opts)).await? else { return Ok(false) };
    let (s, c, o, r) = (store.clone(), clock.clone(), opts.clone(), run.clone());
    match tokio::spawn(async move { run_claimed(&s, &*c, &o, r).await }).await {
        Ok(result) => result.map(|()| true),
        Err(e) => {
            tracing::error!("the scanner stopped on scan {}: {e}", run.id);
            let ctx = Ctx { now: clock.now(), actor: scanner(), origin: Origin::default(), standing: None };
            let why = "スキャナが予期しない内部エラーで止まりました (the scanner stopped: internal error)";
            store.finish_scan(&ctx, &run, false, &ScanReport::default(), why).await?;
            Ok(true)
        }
    }
}

/// Scans the systems' targets of a claimed run and records the result.
async fn run_claimed(
    store: &Store,
    clock: &dyn Clock,
    opts: &ScanOptions,
    run: mamori_store::scans::ScanRun,
) -> Result<(), StoreError> {
    let Some(system) = store.system(run.system_id).await? else {
        let ctx = Ctx { now: clock.now(), actor: scanner(), origin: Origin::default(), standing: None };
        store.finish_scan(&ctx, &run, false, &ScanReport::default(), "the system no longer exists").await?;
        return Ok(());
    };
    if system.input.phase == Phase::Retired {
        // Queued before the system was retired (a vendor's request racing
        // the office's change, the daily run): its servers went with it,
        // and their addresses may be another's by now.
        let ctx = Ctx { now: clock.now(), actor: scanner(), origin: Origin::default(), standing: None };
        let why = "廃止されたシステムは確認しません (the system was retired after the scan was asked for)";
        let report = ScanReport { errors: vec![why.to_owned()], ..ScanReport::default() };
        store.finish_scan(&ctx, &run, false, &report, why).await?;
        return Ok(());
    }
    let vouched = vouched_for(store, &run.requested_by).await?;
    let mut report = ScanReport::default();
    let all = async {
        for (target, web) in
            system.input.urls.iter().map(|u| (u, true)).chain(system.input.hosts.iter().map(|h| (h, false)))
        {
            let pinned = pin(store, clock, (&system, vouched), target, opts).await?;
            match scan_pinned(target, web, pinned, opts).await {
                Ok(r) => report.targets.push(r),
                Err(e) => {
                    // Every check of it `error`: a target not scanned must
                    // not leave the others' verdicts to stand for it.
                    report.targets.push(unscanned_target(target, &e, web, opts));
                    report.errors.push(format!("{target}: {e}"));
                }
            }
        }
        Ok::<(), StoreError>(())
    };
    let targets: Vec<(&String, bool)> =
        system.input.urls.iter().map(|u| (u, true)).chain(system.input.hosts.iter().map(|h| (h, false))).collect();
    match tokio::time::timeout(opts.deadline * RUN_DEADLINES, all).await {
        Ok(done) => done?,
        Err(_) => {
            let why = format!("the scan did not finish within {:?}", opts.deadline * RUN_DEADLINES);
            // Each target yields one report, in order: those after are the ones not reached.
            for (target, web) in targets.iter().skip(report.targets.len()) {
                report.targets.push(unscanned_target(target, &why, *web, opts));
            }
            report.errors.push(why);
        }
    }
    let now = clock.now();
    let worst = report.worst_by_check();
    // Regressions against the previous finished scan.
    let previous =
        store.scans(system.id, 10).await?.into_iter().find(|r| r.id != run.id && r.status == ScanStatus::Done);
    if let Some(before) = previous.and_then(|p| p.report).map(|r| r.worst_by_check()) {
        for (check, verdict) in &worst {
            // A check that passed and now fails, or can no longer be run
            // (the server gone, or turned away from the scanner).
            if *verdict >= Verdict::Error && before.get(check) == Some(&Verdict::Pass) {
                let (subject, key) = about_system(system.id, &system.input.name, check.as_str());
                let detail = format!("pass → {}", verdict.as_str());
                let (kind, severity) = ("scan.regression", Severity::Warning);
                store
                    .raise(&Raise { now, kind, severity, subject: &subject, detail: &detail, key: Some(&key) })
                    .await?;
            }
        }
    }
    for t in &report.targets {
        let days_left = t.check(CheckId::TlsCertificate).and_then(|c| c.evidence["days_left"].as_i64());
        if let Some(days) = days_left.filter(|d| *d < 30) {
            // One certificate per server: the target without a page's path
            // (`https://host:port/shinsei/` → `https://host:port`).
            let server = t.target.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
            let (subject, key) = about_system(system.id, &system.input.name, &server);
            let detail = format!("{days} days left");
            let (kind, severity) = ("scan.certificate_expiring", Severity::Warning);
            store.raise(&Raise { now, kind, severity, subject: &subject, detail: &detail, key: Some(&key) }).await?;
        }
    }
    let fails = worst.values().filter(|v| **v == Verdict::Fail).count();
    let summary = format!("{} target(s), {fails} failed check(s)", report.targets.len());
    let ctx = Ctx { now, actor: scanner(), origin: Origin::default(), standing: None };
    let ok = report.errors.is_empty() || !report.targets.is_empty();
    match store.finish_scan(&ctx, &run, ok, &report, &summary).await {
        Err(StoreError::Stale) => {
            tracing::warn!("scan {}: taken up by another worker meanwhile; its result stands", run.id);
            Ok(())
        }
        done => done,
    }
}

/// Where a target of a system may be scanned.
enum Pinned {
    /// At this address, resolved once for the whole scan of the target.
    At(IpAddr),
    /// Nowhere: the name resolved to an address the policy denies. Every
    /// check says so; the name is not looked up again (a name its owner
    /// controls could answer the second lookup with an address inside).
    Denied(String),
    /// Nowhere: the target is unreadable or its name does not resolve.
    Failed(String),
    /// Not at all: the name moved to another network since the first scan.
    Held(String),
}

/// Scans `target` (a web server, or a host whose ports only are scanned)
/// where its pinning allows, and only there: nothing is resolved again.
/// The scan runs on the scanner's own threads ([`on_scan_threads`]).
async fn scan_pinned(target: &str, web: bool, pinned: Pinned, opts: &ScanOptions) -> Result<TargetReport, String> {
    let ip = match pinned {
        Pinned::At(ip) => ip,
        Pinned::Denied(why) => return refused_target(target, &why, web, opts).map_err(|e| e.to_string()),
        Pinned::Failed(why) | Pinned::Held(why) => return Err(why),
    };
    let (target, opts) = (target.to_owned(), opts.clone());
    let scanned = on_scan_threads(async move {
        if web {
            scan_at(&target, ip, &opts).await
        } else {
            scan_ports_at(&target, ip, &opts).await
        }
    });
    scanned.await?.map_err(|e| e.to_string())
}

/// Runs `work` on the scanner's own threads, as many as the machine has
/// cores, never on those that answer requests: what a scanned server makes
/// mamori compute is the server's to choose. A made-up DH group of 9,999
/// bits (which the OpenSSL fallback, at security level 0, accepts) costs
/// most of a second of work a handshake, and a scan makes dozens; on the
/// request workers each one stopped every page behind it. `work` is
/// stopped when the caller gives up on it (the run's deadline).
async fn on_scan_threads<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, String> {
    static THREADS: std::sync::OnceLock<Option<tokio::runtime::Runtime>> = std::sync::OnceLock::new();
    let runtime = THREADS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let built = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cores)
            .thread_name("mamori-scan")
            .enable_all()
            .build();
        built.inspect_err(|e| tracing::error!("cannot start the scanner's threads: {e}")).ok()
    });
    let Some(runtime) = runtime else {
        return Err("スキャナを開始できませんでした (cannot start the scanner's threads)".to_owned());
    };
    struct StopOnDrop(tokio::task::AbortHandle);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let task = runtime.spawn(work);
    let _stop = StopOnDrop(task.abort_handle());
    task.await.map_err(|e| {
        tracing::error!("the scanner stopped: {e}");
        "スキャナが予期しない内部エラーで止まりました (the scanner stopped: internal error)".to_owned()
    })
}

/// Did the office ask for this run (an officer or an administrator, or
/// mamori itself at the console's or a test's bidding, never the daily
/// run)? Only then is a name's first address taken as it resolves.
async fn vouched_for(store: &Store, requested_by: &str) -> Result<bool, StoreError> {
    // The daily run's name, even if an account were given it.
    if requested_by == mamori_store::scans::SCHEDULED_BY {
        return Ok(false);
    }
    Ok(match store.account_by_login(requested_by).await? {
        Some(a) => a.role.can(Permission::ManageSystems) && a.disabled_at.is_none(),
        None => requested_by == Actor::system().login,
    })
}

/// Resolves a target's host once and compares its network with the one
/// recorded at the system's first scan. A name in another network is held
/// back, with an alert, until the officer confirms the new address: a
/// vendor that controls its name must not turn the scanner on the ward's
/// own network. So is a name's first address, unless the office asked for
/// the scan (`vouched`): a vendor's own first scan, or the daily run,
/// would otherwise let the name's owner choose which inside address is
/// recorded, and then move it within that network unnoticed. Addresses
/// written as such (no name) are taken as they are.
async fn pin(
    store: &Store,
    clock: &dyn Clock,
    (system, vouched): (&mamori_store::systems::SystemRecord, bool),
    target: &str,
    opts: &ScanOptions,
) -> Result<Pinned, StoreError> {
    let given = match Given::parse(target, opts.http_port) {
        Ok(given) => given,
        Err(e) => return Ok(Pinned::Failed(ScanError::from(e).to_string())),
    };
    let ip = match given.resolve(&opts.policy, opts.timeout).await {
        Ok(ip) => ip,
        Err(TargetError::Denied(why)) => return Ok(Pinned::Denied(why)),
        Err(e) => return Ok(Pinned::Failed(ScanError::from(e).to_string())),
    };
    if given.host.parse::<IpAddr>().is_ok() {
        return Ok(Pinned::At(ip));
    }
    let network = network_of(ip);
    let resolved = (ip.to_string(), network.clone());
    match store.check_scan_address(clock.now(), system.id, &given.host, (&resolved.0, &resolved.1), vouched).await? {
        AddressCheck::First | AddressCheck::Same => Ok(Pinned::At(ip)),
        AddressCheck::Unconfirmed => {
            let (subject, key) = about_system(system.id, &system.input.name, &given.host);
            let detail = format!("{ip} ({network})");
            let (now, kind, severity) = (clock.now(), SCAN_ADDRESS_NEW, Severity::Warning);
            store.raise(&Raise { now, kind, severity, subject: &subject, detail: &detail, key: Some(&key) }).await?;
            // The address is the office's to see (the alert, the system
            // page): the reason reaches the vendor.
            Ok(Pinned::Held(
                "its first address was found at a scan the security office did not ask for: not scanned until the security officer confirms the address".into(),
            ))
        }
        AddressCheck::Moved { address, network: was } => {
            let detail = format!("{address} ({was}) → {ip} ({network})");
            let (subject, key) = about_system(system.id, &system.input.name, &given.host);
            let (now, kind, severity) = (clock.now(), "scan.address_changed", Severity::Warning);
            store.raise(&Raise { now, kind, severity, subject: &subject, detail: &detail, key: Some(&key) }).await?;
            Ok(Pinned::Held(
                "resolves into another network than at its first scan: not scanned until the security officer confirms the new address".into(),
            ))
        }
    }
}

/// Queues the daily scan of every system with URLs not scanned for a day.
pub async fn schedule(store: &Store, clock: &dyn Clock) -> Result<usize, StoreError> {
    let now = clock.now();
    let due = store.systems_due_for_scan(now - time::Duration::days(1)).await?;
    let ctx = Ctx { now, actor: scanner(), origin: Origin::default(), standing: None };
    for id in &due {
        store.request_scan(&ctx, *id, None).await?;
    }
    Ok(due.len())
}

/// `[scan]`: the server's scans of systems' URLs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileScan {
    /// Trust anchors for the certificate check (PEM); the public roots otherwise.
    ca_file: Option<PathBuf>,
    http_port: Option<u16>,
    ports: Option<Vec<u16>>,
    timeout_secs: Option<u64>,
    /// How often the worker looks for queued scans.
    poll_secs: Option<u64>,
    /// The most one scan of one URL may take.
    deadline_secs: Option<u64>,
    /// Where scans may connect (CIDR); the longest match decides, a tie
    /// denies. Denied by default: loopback, link-local, metadata,
    /// unspecified and multicast addresses (`mamori_scan::target::DEFAULT_DENIED`).
    allowed_networks: Option<Vec<String>>,
    denied_networks: Option<Vec<String>>,
    /// The least time between two scans of one system a vendor asks for.
    vendor_interval_secs: Option<u64>,
    /// How many scans run at once (each a system).
    workers: Option<u64>,
}

/// The scan worker's settings.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub options: mamori_scan::ScanOptions,
    pub poll: Duration,
    pub vendor_gap: TimeDuration,
    /// Scans run at once: a system whose server answers slowly (its own
    /// doing, or on purpose) holds one worker for up to its run's deadline,
    /// never the others' scans.
    pub workers: usize,
}

pub(crate) fn resolve_scan(f: &FileScan, errors: &mut Vec<ConfigError>) -> ScanConfig {
    let mut options = mamori_scan::ScanOptions::default();
    if let Some(p) = &f.ca_file {
        match std::fs::read(p) {
            Ok(b) => options.ca_pem = Some(b),
            Err(e) => errors.push(ConfigError(format!("scan.ca_file {} を読めません (cannot read): {e}", p.display()))),
        }
    }
    if let Some(p) = f.http_port {
        options.http_port = p;
    }
    if let Some(p) = &f.ports {
        options.ports = p.clone();
    }
    options.timeout = Duration::from_secs(positive("scan.timeout_secs", f.timeout_secs, 5, errors));
    options.deadline = Duration::from_secs(positive("scan.deadline_secs", f.deadline_secs, 120, errors));
    options.policy = mamori_scan::TargetPolicy::server_default();
    if let Some(nets) = &f.allowed_networks {
        options.policy.allowed = parse_networks("scan.allowed_networks", nets, errors);
    }
    // Denied networks add to the defaults: an operator shielding one more
    // subnet must not open loopback and the metadata addresses again by
    // doing so (they did, when the list replaced the defaults). A default is
    // lifted only by allowing a longer network.
    if let Some(nets) = &f.denied_networks {
        options.policy.denied.extend(parse_networks("scan.denied_networks", nets, errors));
    }
    let vendor_gap = positive("scan.vendor_interval_secs", f.vendor_interval_secs, 600, errors);
    ScanConfig {
        options,
        poll: Duration::from_secs(crate::settings::positive_up_to(
            "scan.poll_secs",
            f.poll_secs,
            5,
            crate::settings::POLL_MAX,
            errors,
        )),
        vendor_gap: TimeDuration::seconds(vendor_gap as i64),
        workers: positive("scan.workers", f.workers, 2, errors).min(16) as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// The daily scans' name is one no account may take.
    #[test]
    fn the_scanner_acts_under_a_name_no_account_takes() {
        assert!(mamori_core::identity::SERVER_LOGINS.contains(&scanner().login.as_str()));
    }

    /// A target whose name resolved to a denied address was scanned by name
    /// again, and a name its owner controls can answer that second lookup
    /// with an address the policy allows (loopback is allowed here, and
    /// `localhost` resolves to it): such a target is reported as refused,
    /// every check an error, and no connection reaches any address.
    #[tokio::test]
    async fn a_target_denied_when_pinned_is_never_contacted_though_its_name_now_resolves_to_an_allowed_address() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(conn);
            }
        });
        let opts = ScanOptions {
            timeout: Duration::from_millis(500),
            ports: vec![port],
            http_port: port,
            ..ScanOptions::default()
        };
        let web = format!("https://localhost:{port}/");
        let host = format!("localhost:{port}");
        let denied = || Pinned::Denied("localhost: 10.0.0.8 is in a denied network".into());
        let report = scan_pinned(&web, true, denied(), &opts).await.unwrap();
        assert_eq!(report.checks.len(), CheckId::ALL.len());
        assert!(report.checks.iter().all(|c| c.verdict == Verdict::Error), "{report:?}");
        assert!(report.checks.iter().all(|c| c.summary.contains("not allowed by the scan policy")), "{report:?}");
        let report = scan_pinned(&host, false, denied(), &opts).await.unwrap();
        assert_eq!(report.checks.len(), 1);
        assert!(report.checks[0].id == CheckId::Ports && report.checks[0].verdict == Verdict::Error, "{report:?}");
        assert_eq!(accepted.load(Ordering::SeqCst), 0, "no connection");
        // Pinned at the allowed address, the same targets are reached.
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        scan_pinned(&host, false, Pinned::At(ip), &opts).await.unwrap();
        // The scan ran on the scanner's threads: the listener, on this one,
        // counts once it is its turn.
        for _ in 0..200 {
            if accepted.load(Ordering::SeqCst) > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(accepted.load(Ordering::SeqCst) > 0, "the listener counts what reaches it");
    }

    /// A TLS server that speaks only DHE suites (which rustls does not, so
    /// the scanner falls back to OpenSSL) with a made-up group: a random odd
    /// number of 9,999 bits, no prime needed. Each handshake costs the
    /// client most of a second. Counts the handshakes done.
    fn a_server_whose_handshakes_cost_most_of_a_second() -> (u16, Arc<AtomicUsize>) {
        use openssl::asn1::Asn1Time;
        use openssl::bn::{BigNum, MsbOption};
        use openssl::dh::Dh;
        use openssl::hash::MessageDigest;
        use openssl::pkey::PKey;
        use openssl::rsa::Rsa;
        use openssl::ssl::{SslAcceptor, SslMethod, SslVersion};
        use openssl::x509::{X509NameBuilder, X509};
        use std::io::{Read, Write};
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "127.0.0.1").unwrap();
        let name = name.build();
        let mut cert = X509::builder().unwrap();
        cert.set_version(2).unwrap();
        cert.set_pubkey(&key).unwrap();
        cert.set_subject_name(&name).unwrap();
        cert.set_issuer_name(&name).unwrap();
        cert.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
        cert.set_not_after(&Asn1Time::days_from_now(2).unwrap()).unwrap();
        cert.sign(&key, MessageDigest::sha256()).unwrap();
        let mut p = BigNum::new().unwrap();
        p.rand(9_999, MsbOption::ONE, true).unwrap();
        let group = Dh::from_pqg(p, None, BigNum::from_u32(2).unwrap()).unwrap();
        let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
        b.set_security_level(0);
        b.set_cipher_list("DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-SHA:@SECLEVEL=0").unwrap();
        b.set_max_proto_version(Some(SslVersion::TLS1_2)).unwrap();
        b.set_tmp_dh(&group).unwrap();
        b.set_private_key(&key).unwrap();
        b.set_certificate(&cert.build()).unwrap();
        let acceptor = Arc::new(b.build());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let done = Arc::new(AtomicUsize::new(0));
        let counter = done.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (acceptor, counter) = (acceptor.clone(), counter.clone());
                std::thread::spawn(move || {
                    let Ok(mut tls) = acceptor.accept(conn) else { return };
                    counter.fetch_add(1, Ordering::SeqCst);
                    let _ = tls.read(&mut [0u8; 4096]);
                    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
                    let _ = tls.shutdown();
                });
            }
        });
        (port, done)
    }

    /// The scan of a server whose handshakes each cost most of a second
    /// ran on the threads that answer requests: each one stopped every
    /// page behind it. Here the test's one thread stands for them: while
    /// the scan goes through such handshakes, a timer on it is never late
    /// by more than a fraction of one handshake's cost.
    #[tokio::test(flavor = "current_thread")]
    async fn a_server_whose_handshakes_cost_most_of_a_second_is_scanned_off_the_threads_that_answer_requests() {
        let (port, handshakes) = a_server_whose_handshakes_cost_most_of_a_second();
        // Time enough for two costly handshakes on a machine busy with
        // other work (one alone was seen in 6 s under a parallel build).
        let opts = ScanOptions {
            timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(10),
            ports: vec![],
            http_port: port,
            ..ScanOptions::default()
        };
        let late = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let most = late.clone();
        let timer = tokio::spawn(async move {
            loop {
                let t = std::time::Instant::now();
                tokio::time::sleep(Duration::from_millis(10)).await;
                let by = t.elapsed().saturating_sub(Duration::from_millis(10)).as_millis() as u64;
                most.fetch_max(by, Ordering::SeqCst);
            }
        });
        let target = format!("https://127.0.0.1:{port}/");
        let at = Pinned::At("127.0.0.1".parse().unwrap());
        let _ = tokio::time::timeout(Duration::from_secs(12), scan_pinned(&target, true, at, &opts)).await;
        timer.abort();
        let (handshakes, late) = (handshakes.load(Ordering::SeqCst), late.load(Ordering::SeqCst));
        assert!(handshakes >= 2, "the scanner went through costly handshakes: {handshakes}");
        assert!(late < 400, "the request thread was held {late} ms");
    }

    /// `[scan] denied_networks` adds to the denied defaults; before, it
    /// replaced them, and shielding one subnet let the server's scans reach
    /// loopback and the cloud metadata address again. `allowed_networks`
    /// is where scans may go at all; a longer allowed network lifts a
    /// default for one address only.
    #[test]
    fn denied_networks_add_to_the_defaults_and_allowed_networks_say_where_scans_may_go() {
        let policy = |allowed: Option<&[&str]>, denied: Option<&[&str]>| {
            let list = |l: &[&str]| l.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
            let f = FileScan {
                allowed_networks: allowed.map(list),
                denied_networks: denied.map(list),
                ..Default::default()
            };
            let mut errors = Vec::new();
            let c = resolve_scan(&f, &mut errors);
            assert!(errors.is_empty());
            move |ip: &str| c.options.policy.refuses(ip.parse().unwrap()).is_none()
        };
        let shielded = policy(None, Some(&["10.99.0.0/16"]));
        for denied in ["10.99.1.1", "127.0.0.1", "169.254.169.254", "::1", "fe80::1", "0.0.0.0", "::ffff:127.0.0.1"] {
            assert!(!shielded(denied), "{denied}");
        }
        for allowed in ["10.1.2.3", "192.168.1.10", "192.0.2.1", "2001:db8::1"] {
            assert!(shielded(allowed), "{allowed}");
        }
        let only_ward = policy(Some(&["10.0.0.0/8"]), None);
        assert!(only_ward("10.1.2.3") && !only_ward("192.0.2.1") && !only_ward("2001:db8::1"));
        let one_loopback = policy(Some(&["0.0.0.0/0", "::/0", "127.0.0.1/32"]), None);
        assert!(one_loopback("127.0.0.1") && one_loopback("192.0.2.1"));
        assert!(!one_loopback("127.0.0.2") && !one_loopback("169.254.169.254"));
    }
}
