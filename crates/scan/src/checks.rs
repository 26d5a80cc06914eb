//! The checks. Each has a stable id, the requirements it evidences, and a
//! verdict with evidence.

use crate::http::{self, Fetched};
use crate::legacy;
use crate::report::{CheckId, CheckResult, TargetReport, Verdict};
use crate::target::{Given, TargetError, TargetPolicy};
use crate::tls::{self, TlsVersion, VersionAnswer};
use rand::Rng;
use serde_json::json;
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Ports probed by `ports.open` unless told otherwise.
pub const DEFAULT_PORTS: &[u16] = &[
    21, 22, 23, 25, 53, 110, 135, 139, 143, 445, 1433, 1521, 2049, 3306, 3389, 5432, 5900, 6379, 8080, 8443, 9200,
    11211, 27017,
];

#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// For each connection and each read.
    pub timeout: Duration,
    /// For the whole scan of one target.
    pub deadline: Duration,
    /// Trust anchors for `tls.certificate` (PEM); the public roots otherwise.
    pub ca_pem: Option<Vec<u8>>,
    pub ports: Vec<u16>,
    /// Where plain HTTP is looked for (for `https.redirect`); default 80.
    pub http_port: u16,
    /// Which addresses may be contacted at all.
    pub policy: TargetPolicy,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            timeout: Duration::from_secs(5),
            deadline: Duration::from_secs(120),
            ca_pem: None,
            ports: DEFAULT_PORTS.to_vec(),
            http_port: 80,
            policy: TargetPolicy::open(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("cannot connect to {0}")]
    Unreachable(String),
    #[error("the scan did not finish within {0:?}")]
    Deadline(Duration),
}

/// One web server, resolved and pinned.
struct Target {
    given: Given,
    ip: IpAddr,
    /// Something answers on the HTTPS port.
    https: bool,
    /// Where the HTTP-level checks fetch: the HTTPS origin, or the plain one
    /// when the server has no HTTPS.
    url: String,
}

impl Target {
    fn tls_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.given.https_port)
    }
}

async fn connects(addr: SocketAddr, timeout: Duration) -> bool {
    knock(addr, timeout).await == Knock::Open
}

/// What a port answered a connection with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Knock {
    Open,
    /// Refused (a reset): the host is there, the port closed.
    Refused,
    /// Nothing in time, or unreachable: the host down, or a filter.
    Silent,
}

async fn knock(addr: SocketAddr, timeout: Duration) -> Knock {
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Knock::Open,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Knock::Refused,
        _ => Knock::Silent,
    }
}

/// Scans one web server with every check: `input` is an https:// or
/// http:// URL or a bare host name. HTTPS is looked for on 443 (or the
/// URL's port) and plain HTTP on `http_port` (or the http:// URL's port); a
/// server without HTTPS is still scanned over plain HTTP, and fails item 55.
/// A target whose name resolves to an address the policy denies is never
/// contacted: every check answers `error` with the reason.
pub async fn scan(input: &str, opts: &ScanOptions) -> Result<TargetReport, ScanError> {
    match tokio::time::timeout(opts.deadline, scan_within(input, None, opts)).await {
        Ok(r) => r,
        Err(_) => Err(ScanError::Deadline(opts.deadline)),
    }
}

/// As [`scan`], at `ip`, an address the caller resolved (and checked) for
/// the input's host: nothing is resolved again.
pub async fn scan_at(input: &str, ip: IpAddr, opts: &ScanOptions) -> Result<TargetReport, ScanError> {
    match tokio::time::timeout(opts.deadline, scan_within(input, Some(ip), opts)).await {
        Ok(r) => r,
        Err(_) => Err(ScanError::Deadline(opts.deadline)),
    }
}

async fn scan_within(input: &str, pinned: Option<IpAddr>, opts: &ScanOptions) -> Result<TargetReport, ScanError> {
    let given = Given::parse(input, opts.http_port)?;
    let ip = match address(&given, pinned, opts).await {
        Ok(ip) => ip,
        Err(TargetError::Denied(why)) => return Ok(unscanned_target(input, &policy_refusal(&why), true, opts)),
        Err(e) => return Err(e.into()),
    };
    let mut client = http::Fetcher::new(&given.host, ip, opts.timeout);
    let https = connects(SocketAddr::new(ip, given.https_port), opts.timeout).await;
    // No connection at all (refused, or dropped by a firewall) is nothing
    // served; a connection taken is asked for a page. (The request's own
    // time limit outruns its connect limit: a dropped connection read as
    // unanswered.)
    let plain_at = |path: &str| format!("{}{path}", given.base(false));
    let mut plain = vec![if connects(SocketAddr::new(ip, given.http_port), opts.timeout).await {
        client.get_plain(&plain_at("/")).await
    } else {
        Err(http::NoAnswer::NotServed("no connection".into()))
    }];
    // The page named, too: a server may redirect `/` and serve the rest.
    if given.path != "/" && !matches!(plain[0], Err(http::NoAnswer::NotServed(_))) {
        plain.push(client.get_plain(&plain_at(&given.path)).await);
    }
    if !https && plain[0].is_err() {
        return Err(ScanError::Unreachable(given.base(!given.plain)));
    }
    let t = Target { url: given.base(https), given, ip, https };
    // The entry page, as a browser reaches it: redirects on the same origin
    // followed (`/` → `/portal/`), each answer on the way read too.
    let entry_url = format!("{}{}", t.url, t.given.path);
    let start = url::Url::parse(&entry_url).map_err(|_| TargetError::BadUrl(input.to_owned()))?;
    if t.https && client.tls_refused(&entry_url).await {
        // rustls could not talk to it: an old server's suites or key. Only
        // the first page's handshake decides (a request that times out, there
        // or later, says nothing of the server's TLS).
        let _ = client.try_legacy(&entry_url).await;
    }
    let client = client;
    let chain = client.follow(&entry_url, http::MAX_REDIRECTS).await;
    let (entry, entry_at, via) = match chain.map(|mut hops| (hops.pop(), hops)) {
        Ok((Some((at, last)), hops)) => (Ok(last), at, hops.into_iter().map(|(_, f)| f).collect()),
        Ok((None, _)) => (Err("no answer".to_owned()), start, Vec::new()),
        Err(e) => (Err(e), start, Vec::new()),
    };
    let missing = client.get(&format!("{}/mamori-probe-{:016x}", t.url, rand::thread_rng().gen::<u64>())).await;
    // The sign-in page, when the entry page links to one.
    let login_url = entry.as_ref().ok().and_then(|e| login_link(&e.body, &entry_at));
    let login = match &login_url {
        Some(url) => client.get(url.as_str()).await.ok(),
        None => None,
    };
    // Every answer read: the redirects on the way, the entry page, the sign-in page.
    let pages: Vec<&Fetched> = via.iter().chain(entry.as_ref().ok()).chain(login.as_ref()).collect();
    let mut checks = vec![
        tls_versions(&t, opts).await,
        tls_certificate(&t, opts).await,
        https_only(&t, &entry, &via, &plain),
        clickjacking(&entry, &entry_at, login.as_ref()),
        disclosure(&entry, &via, &missing),
        cookies(&entry, &pages),
        session_in_url(&pages),
        credentials_in_url(&pages),
        exposed(&t, &client, &missing).await,
        listing(&client, &entry, &entry_at).await,
        admin(&t, &client).await,
        error_detail(&t, &client).await,
    ];
    let skip = [t.given.https_port, t.given.http_port];
    checks.push(open_ports(t.ip, &skip, opts).await);
    checks.push(password_field(&pages));
    checks.push(csrf_token(&pages));
    // The page that sets the session cookie, fetched afresh a few times,
    // the redirects on the way included (a cookie is often set on `/`'s).
    let issuing = login_url.map_or(entry_url, |u| u.to_string());
    let mut fresh = Vec::new();
    for _ in 0..SESSION_SAMPLES {
        if let Ok(hops) = client.follow(&issuing, http::MAX_REDIRECTS).await {
            // Only their cookies are read: the pages are not kept.
            fresh.extend(hops.into_iter().map(|(_, f)| Fetched { body: String::new(), ..f }));
        }
    }
    checks.push(session_id_strength(&pages, &fresh));
    if client.legacy() {
        // Said where the TLS verdicts are: modern clients cannot talk to it.
        if let Some(serde_json::Value::Object(ev)) = checks.first_mut().map(|c| &mut c.evidence) {
            ev.insert(
                "pages fetched with".into(),
                json!("OpenSSL at security level 0: modern TLS clients refuse this server"),
            );
        }
    }
    Ok(TargetReport { target: t.given.page(t.https), checks })
}

/// Scans a server without a web interface (a system's `hosts`): only its
/// open ports (items 31, 32), under the same policy.
pub async fn scan_ports(host: &str, opts: &ScanOptions) -> Result<TargetReport, ScanError> {
    scan_ports_within(host, None, opts).await
}

/// As [`scan_ports`], at `ip`, an address the caller resolved for `host`.
pub async fn scan_ports_at(host: &str, ip: IpAddr, opts: &ScanOptions) -> Result<TargetReport, ScanError> {
    scan_ports_within(host, Some(ip), opts).await
}

async fn scan_ports_within(host: &str, pinned: Option<IpAddr>, opts: &ScanOptions) -> Result<TargetReport, ScanError> {
    let go = async {
        let given = Given::parse(host, opts.http_port)?;
        let target = given.url_host();
        match address(&given, pinned, opts).await {
            Ok(ip) => Ok(TargetReport { target, checks: vec![open_ports(ip, &[], opts).await] }),
            Err(TargetError::Denied(why)) => refused_target(host, &why, false, opts),
            Err(e) => Err(e.into()),
        }
    };
    tokio::time::timeout(opts.deadline, go).await.unwrap_or(Err(ScanError::Deadline(opts.deadline)))
}

/// The report of target `input` (a web server, or a host whose ports only
/// are scanned) whose address the policy denies, made without resolving or
/// contacting it: a caller that resolved the name and was refused must not
/// let a second lookup answer otherwise.
pub fn refused_target(input: &str, why: &str, web: bool, opts: &ScanOptions) -> Result<TargetReport, ScanError> {
    Given::parse(input, opts.http_port)?;
    Ok(unscanned_target(input, &policy_refusal(why), web, opts))
}

fn policy_refusal(why: &str) -> String {
    format!("address not allowed by the scan policy: {why}")
}

/// The report of target `input` that could not be scanned (refused by the
/// policy, not reached, its name not resolved, held back, past the
/// deadline): every check it would have run is `error` with the reason, so
/// that no other target's verdict stands for it.
pub fn unscanned_target(input: &str, why: &str, web: bool, opts: &ScanOptions) -> TargetReport {
    let checks: &[CheckId] = if web { CheckId::ALL } else { &[CheckId::Ports] };
    let target = match Given::parse(input, opts.http_port) {
        Ok(g) if web => g.page(!g.plain),
        Ok(g) => g.url_host(),
        Err(_) => input.to_owned(),
    };
    TargetReport { target, checks: checks.iter().map(|id| unreachable(*id, id.requirements(), why)).collect() }
}

/// The address to scan `given` at: `pinned` (resolved by the caller) or
/// resolved now, and in either case allowed by the policy.
async fn address(given: &Given, pinned: Option<IpAddr>, opts: &ScanOptions) -> Result<IpAddr, TargetError> {
    match pinned {
        Some(ip) => match opts.policy.refuses(ip) {
            Some(why) => Err(TargetError::Denied(given.refusal(&why))),
            None => Ok(ip),
        },
        None => given.resolve(&opts.policy, opts.timeout).await,
    }
}

fn unreachable(id: CheckId, reqs: &[u32], e: &str) -> CheckResult {
    CheckResult::new(id, reqs, Verdict::Error, format!("could not run: {e}"), json!({ "error": e }))
}

// ----- TLS ---------------------------------------------------------------------------------

/// Items 56, 57 on a server without HTTPS: nothing to probe.
fn no_https(t: &Target, id: CheckId, reqs: &[u32]) -> CheckResult {
    let port = t.given.https_port;
    CheckResult::new(id, reqs, Verdict::Error, format!("no HTTPS on port {port}"), json!({ "https_port": port }))
}

/// Item 57: SSL 2.0, SSL 3.0, TLS 1.0 and 1.1 refused and TLS 1.2 or 1.3
/// accepted; of TLS 1.2's cipher suites, broken kinds (NULL, EXPORT, RC4,
/// 3DES, anonymous) fail, and CBC without any AEAD suite, or RSA key
/// exchange, warn.
async fn tls_versions(t: &Target, opts: &ScanOptions) -> CheckResult {
    const ID: CheckId = CheckId::TlsVersions;
    if !t.https {
        return no_https(t, ID, &[57]);
    }
    let sni = Some(t.given.host.as_str());
    let mut evidence = serde_json::Map::new();
    let mut accepted = Vec::new();
    let mut errors = 0;
    let describe = |answer: &VersionAnswer| match answer {
        VersionAnswer::Accepted => "accepted".to_owned(),
        VersionAnswer::Alert(code) => format!("refused (alert {code})"),
        VersionAnswer::OtherVersion(w) => format!("refused (server chose 0x{w:04x})"),
        VersionAnswer::Closed => "refused (connection closed)".to_owned(),
    };
    let sslv2 = tls::probe_sslv2(t.tls_addr(), opts.timeout).await;
    // Legacy versions and broken suites whose probe failed: whether the
    // server refuses them is not known.
    let mut unprobed = Vec::new();
    match &sslv2 {
        Ok(a) => evidence.insert("SSLv2".into(), json!(describe(a))),
        Err(e) => {
            unprobed.push("SSLv2");
            evidence.insert("SSLv2".into(), json!(format!("error: {e}")))
        }
    };
    for v in TlsVersion::ALL {
        match tls::probe_version(t.tls_addr(), sni, v, opts.timeout).await {
            Ok(answer) => {
                if answer.accepted() {
                    accepted.push(v);
                }
                evidence.insert(v.name().into(), json!(describe(&answer)));
            }
            Err(e) => {
                errors += 1;
                // TLS 1.2 too: its broken suites go unprobed with it.
                if v <= TlsVersion::Tls12 {
                    unprobed.push(v.name());
                }
                evidence.insert(v.name().into(), json!(format!("error: {e}")));
            }
        }
    }
    if errors == TlsVersion::ALL.len() {
        return CheckResult::new(ID, &[57], Verdict::Error, "no TLS answer at all", json!(evidence));
    }
    let mut suites = serde_json::Map::new();
    let mut kinds = Vec::new();
    if accepted.contains(&TlsVersion::Tls12) {
        for kind in tls::SuiteKind::ALL {
            let answer = tls::probe_suites(t.tls_addr(), sni, kind.suites(), opts.timeout).await;
            let text = match &answer {
                Ok((VersionAnswer::Accepted, Some(suite))) => format!("accepted (0x{suite:04x})"),
                Ok((a, _)) => describe(a),
                Err(e) => format!("error: {e}"),
            };
            match answer {
                Ok((VersionAnswer::Accepted, _)) => kinds.push(kind),
                Err(_) if kind.broken() => unprobed.push(kind.name()),
                _ => {}
            }
            suites.insert(kind.name().into(), json!(text));
        }
        evidence.insert("TLS 1.2 cipher suites".into(), json!(suites));
    }
    let sslv2 = matches!(sslv2, Ok(VersionAnswer::Accepted));
    let (verdict, summary) = versions_verdict(&accepted, sslv2, &kinds, &unprobed);
    CheckResult::new(ID, &[57], verdict, summary, json!(evidence))
}

/// Item 57's verdict from what the probes found: the versions accepted
/// (and SSL 2.0), TLS 1.2's suite kinds accepted, and the legacy versions
/// or broken suites whose probe failed. A pass needs every one of those
/// probed: a server that refused the connection for TLS 1.0 (a rate limit,
/// an IPS) has not shown that it refuses TLS 1.0.
fn versions_verdict(
    accepted: &[TlsVersion],
    sslv2: bool,
    kinds: &[tls::SuiteKind],
    unprobed: &[&str],
) -> (Verdict, String) {
    let mut old: Vec<&str> = accepted.iter().filter(|v| **v < TlsVersion::Tls12).map(|v| v.name()).collect();
    if sslv2 {
        old.insert(0, "SSLv2");
    }
    let broken: Vec<&str> = kinds.iter().filter(|k| k.broken()).map(|k| k.name()).collect();
    let modern = accepted.iter().any(|v| *v >= TlsVersion::Tls12);
    let mut weak = Vec::new();
    if kinds.contains(&tls::SuiteKind::Cbc) && !kinds.contains(&tls::SuiteKind::ModernAead) {
        weak.push("CBC suites only (no AEAD)");
    }
    if kinds.contains(&tls::SuiteKind::RsaKeyExchange) {
        weak.push("RSA key exchange (no forward secrecy)");
    }
    if !old.is_empty() {
        (Verdict::Fail, format!("accepts {}", old.join(", ")))
    } else if !modern {
        (Verdict::Fail, "accepts neither TLS 1.2 nor TLS 1.3".to_owned())
    } else if !broken.is_empty() {
        (Verdict::Fail, format!("TLS 1.2 accepts broken suites: {}", broken.join(", ")))
    } else if !unprobed.is_empty() {
        (Verdict::Error, format!("could not probe {}: whether they are refused is not known", unprobed.join(", ")))
    } else if !weak.is_empty() {
        (Verdict::Warn, format!("TLS 1.2 accepts {}", weak.join(" and ")))
    } else {
        let names: Vec<&str> = accepted.iter().map(|v| v.name()).collect();
        (Verdict::Pass, format!("only {}", names.join(", ")))
    }
}

/// Accepts any certificate and keeps the chain, so that an invalid one can
/// still be described.
#[derive(Debug)]
struct Keep(std::sync::Mutex<Vec<Vec<u8>>>, Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for Keep {
    fn verify_server_cert(
        &self,
        end_entity: &rustls_pki_types::CertificateDer<'_>,
        intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _: &rustls_pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.to_vec()];
        chain.extend(intermediates.iter().map(|c| c.to_vec()));
        *self.0.lock().expect("not poisoned") = chain;
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    /// The handshake only fetches the chain: a signature made with a key
    /// rustls refuses (RSA under 2048 bits) must not stop it, since that key
    /// is exactly what the check reports.
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.1.signature_verification_algorithms.supported_schemes()
    }
}

/// A certificate error by its kind alone (`NotValidForName`, `Expired`,
/// `UnknownIssuer`…). Its details name what the certificate presents: a
/// vendor reading the summary of a host its name was pointed at would
/// learn the names on an internal host's certificate.
fn certificate_error(c: &rustls::CertificateError) -> String {
    let debug = format!("{c:?}");
    let kind: String = debug.chars().take_while(char::is_ascii_alphanumeric).collect();
    kind.strip_suffix("Context").unwrap_or(&kind).to_owned()
}

async fn handshake(t: &Target, config: rustls::ClientConfig, timeout: Duration) -> Result<(), String> {
    let name = rustls_pki_types::ServerName::try_from(t.given.host.clone()).map_err(|e| e.to_string())?;
    let go = async {
        let tcp = tokio::net::TcpStream::connect(t.tls_addr()).await.map_err(|e| e.to_string())?;
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.map(drop).map_err(|e| {
            match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
                Some(rustls::Error::InvalidCertificate(c)) => format!("invalid certificate: {}", certificate_error(c)),
                Some(other) => other.to_string(),
                None => e.to_string(),
            }
        })
    };
    tokio::time::timeout(timeout, go).await.map_err(|_| "timed out".to_owned())?
}

async fn tls_certificate(t: &Target, opts: &ScanOptions) -> CheckResult {
    const ID: CheckId = CheckId::TlsCertificate;
    if !t.https {
        return no_https(t, ID, &[56]);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    match &opts.ca_pem {
        Some(pem) => {
            use rustls_pki_types::pem::PemObject;
            for c in rustls_pki_types::CertificateDer::pem_slice_iter(pem).flatten() {
                let _ = roots.add(c);
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let anchors: Vec<Vec<u8>> = roots.roots.iter().map(|a| a.subject.to_vec()).collect();
    let builder =
        || rustls::ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions();
    let Ok(strict) = builder().map(|b| b.with_root_certificates(roots).with_no_client_auth()) else {
        return unreachable(ID, &[56], "no TLS configuration");
    };
    let keep = Arc::new(Keep(Default::default(), provider.clone()));
    let Ok(lax) = builder().map(|b| b.dangerous().with_custom_certificate_verifier(keep.clone()).with_no_client_auth())
    else {
        return unreachable(ID, &[56], "no TLS configuration");
    };
    // rustls first; a server it cannot talk to (old suites, a short key) is
    // read over OpenSSL, which also gives the chain's verification.
    let (chain, openssl_verdict) = match handshake(t, lax, opts.timeout).await {
        Ok(()) => (keep.0.lock().expect("not poisoned").clone(), None),
        Err(e) => {
            let port = t.given.https_port;
            match legacy::certificate(t.ip, port, &t.given.host, opts.ca_pem.as_deref(), opts.timeout).await {
                Ok((chain, verdict)) => (chain, Some(verdict)),
                Err(_) => return unreachable(ID, &[56], &e),
            }
        }
    };
    let Some(leaf) = chain.first() else { return unreachable(ID, &[56], "no certificate") };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(leaf) else {
        return unreachable(ID, &[56], "the certificate does not parse");
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let days_left = (cert.validity().not_after.timestamp() - now) / 86_400;
    let key = cert.public_key().parsed();
    let key_bits = key.as_ref().map(|k| k.key_size()).unwrap_or(0);
    let rsa = matches!(key, Ok(x509_parser::public_key::PublicKey::RSA(_)));
    let signature = cert.signature_algorithm.algorithm.to_id_string();
    let weak_hash = WEAK_HASHES.contains(&signature.as_str());
    let evidence = json!({
        "subject": cert.subject().to_string(),
        "issuer": cert.issuer().to_string(),
        "not_before": cert.validity().not_before.to_string(),
        "not_after": cert.validity().not_after.to_string(),
        "days_left": days_left,
        "key_bits": key_bits,
        "signature_algorithm": signature,
        "chain_length": chain.len(),
    });
    if rsa && key_bits < 2048 {
        return CheckResult::new(
            ID,
            &[56],
            Verdict::Fail,
            format!("RSA key of {key_bits} bits (under 2048)"),
            evidence,
        );
    }
    if weak_hash {
        return CheckResult::new(ID, &[56], Verdict::Fail, "signed with SHA-1 (or MD5)", evidence);
    }
    // The rest of the path to a trust anchor is held to the same: OpenSSL
    // at security level 0 (the fallback's) verifies SHA-1 signatures and
    // short keys without a word. What the server sends beyond it (a
    // cross-certificate of the anchor by an older root, often signed with
    // SHA-1) no client uses: it stops at the anchor it trusts.
    for c in path_to_anchor(&chain, &anchors).iter().skip(1) {
        let algorithm = c.signature_algorithm.algorithm.to_id_string();
        let key = c.public_key().parsed();
        let bits = key.as_ref().map(|k| k.key_size()).unwrap_or(0);
        let short = matches!(key, Ok(x509_parser::public_key::PublicKey::RSA(_))) && bits < 2048;
        let why = if WEAK_HASHES.contains(&algorithm.as_str()) {
            "is signed with SHA-1 (or MD5)".to_owned()
        } else if short {
            format!("has an RSA key of {bits} bits (under 2048)")
        } else {
            continue;
        };
        let summary = format!("the chain's certificate {} {why}", c.subject());
        return CheckResult::new(ID, &[56], Verdict::Fail, summary, evidence);
    }
    let verified = match openssl_verdict {
        Some(v) => v,
        None => handshake(t, strict, opts.timeout).await,
    };
    match verified {
        Err(e) => CheckResult::new(ID, &[56], Verdict::Fail, e, evidence),
        Ok(()) if days_left < 30 => {
            CheckResult::new(ID, &[56], Verdict::Warn, format!("valid, but expires in {days_left} days"), evidence)
        }
        Ok(()) => CheckResult::new(ID, &[56], Verdict::Pass, format!("valid for {days_left} more days"), evidence),
    }
}

/// The certificates of `chain` from the leaf along issuer names, up to the
/// first one issued by a trust anchor (`anchors`: their subjects), or as
/// far as the chain goes; those the server sends besides are left out.
fn path_to_anchor<'a>(chain: &'a [Vec<u8>], anchors: &[Vec<u8>]) -> Vec<x509_parser::certificate::X509Certificate<'a>> {
    let mut rest: Vec<_> =
        chain.iter().filter_map(|der| x509_parser::parse_x509_certificate(der).ok()).map(|(_, c)| c).collect();
    if rest.is_empty() {
        return rest;
    }
    let mut path = vec![rest.remove(0)];
    loop {
        let issuer = path[path.len() - 1].issuer().as_raw();
        if anchors.iter().any(|a| same_name(issuer, a)) {
            return path;
        }
        // A self-signed certificate ends the path.
        let Some(next) = rest.iter().position(|c| c.subject().as_raw() == issuer && c.subject() != c.issuer()) else {
            return path;
        };
        path.push(rest.remove(next));
    }
}

/// Is the name `der` (with its SEQUENCE tag and length) the trust anchor's
/// `anchor` (as webpki keeps it: the SEQUENCE's contents, without them)?
fn same_name(der: &[u8], anchor: &[u8]) -> bool {
    // The tag and a length of up to three bytes.
    der == anchor || (der.len() > anchor.len() && der.len() - anchor.len() <= 4 && der.ends_with(anchor))
}

/// sha1WithRSA, ecdsa-with-SHA1, dsaWithSHA1, md5WithRSA: collisions are practical.
const WEAK_HASHES: [&str; 4] =
    ["1.2.840.113549.1.1.5", "1.2.840.10045.4.1", "1.2.840.10040.4.3", "1.2.840.113549.1.1.4"];

// ----- HTTP --------------------------------------------------------------------------------

/// A response header's value; bytes that are not UTF-8 (a server's raw
/// Shift_JIS or Latin-1) are replaced, not a reason to pass over the
/// header (a cookie without `Secure` must not vanish from the check).
fn header<'a>(f: &'a Fetched, name: &str) -> Option<Cow<'a, str>> {
    f.headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()))
}

/// Every value of a response header, as [`header`] reads one.
fn headers<'a>(f: &'a Fetched, name: &'a str) -> impl Iterator<Item = Cow<'a, str>> {
    f.headers.get_all(name).iter().map(|v| String::from_utf8_lossy(v.as_bytes()))
}

/// Does redirect target `loc` go to `host` (any port) over HTTPS? The
/// scheme in any case; the host is what follows the last `@` (in
/// `https://host:443@other/` the host is `other`, not `host`).
fn https_on_host(loc: &str, host: &str) -> bool {
    let Some(rest) = loc.get(..8).filter(|s| s.eq_ignore_ascii_case("https://")).map(|_| &loc[8..]) else {
        return false;
    };
    let auth = rest.split(['/', '?', '#', '\\']).next().unwrap_or("");
    let at = auth.rsplit('@').next().unwrap_or("");
    at.eq_ignore_ascii_case(host) || at.rsplit_once(':').is_some_and(|(h, _)| h.eq_ignore_ascii_case(host))
}

/// Item 55 「すべてのページをHTTPSで通信すること」: plain HTTP that serves
/// a page fails; a redirect to the same host over HTTPS, or no plain HTTP at
/// all, passes. HSTS is advice the item does not ask for: missing or shorter
/// than a year, it warns.
fn https_only(
    t: &Target,
    entry: &Result<Fetched, String>,
    via: &[Fetched],
    plain: &[Result<Fetched, http::NoAnswer>],
) -> CheckResult {
    const ID: CheckId = CheckId::HttpsRedirect;
    let host = t.given.url_host();
    // Each plain-HTTP answer (`/`, and the page named): every one must be
    // a redirect to HTTPS on the host, or nothing served.
    let mut plain_ok = true;
    let mut notes = Vec::new();
    for answer in plain {
        let (ok, note) = match answer {
            Err(http::NoAnswer::NotServed(_)) => (true, "plain HTTP not served".to_owned()),
            // A connection taken and no page read (silence past the time, or
            // an answer the client refuses though a browser may show it):
            // whether it serves pages is not known, so it is no pass.
            Err(http::NoAnswer::Unread(e)) if t.https => {
                let note = format!("plain HTTP took the connection but gave no readable answer: {e}");
                return CheckResult::new(ID, &[55], Verdict::Error, note.clone(), json!({ "plain_http": note }));
            }
            Err(http::NoAnswer::Unread(e)) => (false, format!("plain HTTP gave no readable answer: {e}")),
            Ok(p) if matches!(p.status, 301 | 302 | 303 | 307 | 308) => {
                let loc = header(p, "location").unwrap_or_default();
                (https_on_host(&loc, &host), format!("{} → {loc}", p.status))
            }
            Ok(p) => (false, format!("plain HTTP answers {} without redirecting to HTTPS", p.status)),
        };
        plain_ok &= ok;
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    let plain_note = notes.join("; ");
    if !t.https {
        let evidence = json!({ "https_port": t.given.https_port, "plain_http": plain_note });
        return CheckResult::new(ID, &[55], Verdict::Fail, format!("no HTTPS; {plain_note}"), evidence);
    }
    let entry = match entry {
        Ok(e) => e,
        Err(e) => return unreachable(ID, &[55], e),
    };
    let hsts = hsts_kept(via.iter().chain([entry]));
    let max_age = max_age_of(&hsts);
    let evidence = json!({ "plain_http": plain_note, "hsts": hsts, "hsts_max_age": max_age });
    match (plain_ok, max_age >= 31_536_000) {
        (false, _) => CheckResult::new(ID, &[55], Verdict::Fail, plain_note, evidence),
        (true, true) => CheckResult::new(ID, &[55], Verdict::Pass, "HTTPS only, HSTS at least a year", evidence),
        (true, false) => CheckResult::new(
            ID,
            &[55],
            Verdict::Warn,
            "HTTPS only; advice: send HSTS (Strict-Transport-Security) of at least a year",
            evidence,
        ),
    }
}

/// The HSTS policy a browser holds after the answers `pages`, in order:
/// each header sent replaces the one before (RFC 6797 8.1), `max-age=0`
/// included, so the last one sent counts (the longest did: a redirect's
/// year, then `max-age=0` from the entry page, which leaves none, passed).
fn hsts_kept<'a>(pages: impl Iterator<Item = &'a Fetched>) -> String {
    // One without a max-age is no policy, and is ignored (RFC 6797 6.1.1).
    let valid = |h: &Cow<'_, str>| max_age_in(h).is_some();
    pages
        .filter_map(|f| header(f, "strict-transport-security"))
        .filter(valid)
        .last()
        .map(Cow::into_owned)
        .unwrap_or_default()
}

fn max_age_of(h: &str) -> i64 {
    max_age_in(h).unwrap_or(0)
}

/// The max-age directive's value, spaces around `=` allowed (RFC 6797's
/// grammar); `None` without one.
fn max_age_in(h: &str) -> Option<i64> {
    h.split(';').find_map(|d| {
        let (name, value) = d.split_once('=')?;
        name.trim().eq_ignore_ascii_case("max-age").then(|| value.trim().trim_matches('"').parse().unwrap_or(0))
    })
}

/// What a page's CSP `frame-ancestors` says, read over every
/// Content-Security-Policy header sent (each is enforced): `None` when none
/// names it; `Some(true)` when one restricts framing to named origins
/// (`'none'`, `'self'`, hosts); `Some(false)` when each that names it lets
/// any site frame the page (`*`, or a scheme alone such as `https:`).
fn frame_ancestors(f: &Fetched) -> Option<bool> {
    let mut named = None;
    let policies: Vec<String> = headers(f, "content-security-policy").map(Cow::into_owned).collect();
    // Policies joined in one header are separated by commas, each enforced.
    for policy in policies.iter().flat_map(|p| p.split(',')) {
        for directive in policy.split(';') {
            let mut words = directive.split_ascii_whitespace();
            if !words.next().is_some_and(|w| w.eq_ignore_ascii_case("frame-ancestors")) {
                continue;
            }
            let sources: Vec<String> = words.map(str::to_ascii_lowercase).collect();
            let open = sources.iter().any(|s| any_host(s));
            named = Some(named.unwrap_or(false) || !open);
            break;
        }
    }
    named
}

/// Does a CSP source let any site in: `*`, a scheme alone (`https:`), or
/// a host-source whose host is the wildcard with a port or path
/// (`*:*`, `https://*:443`, `https://*/`). `https://*.example.jp` names
/// one domain's hosts and does not.
fn any_host(source: &str) -> bool {
    if source.ends_with(':') && !source.contains('/') {
        return true;
    }
    let host = source.split_once("://").map_or(source, |(_, rest)| rest);
    host.split([':', '/']).next() == Some("*")
}

/// Item 53 「X-Frame-Optionsヘッダを出力すること」: DENY or SAMEORIGIN on every
/// page passes; CSP frame-ancestors alone protects as well but is not what
/// the item names, so it warns; neither fails. A frame-ancestors that lets
/// any site frame the page fails whatever X-Frame-Options says: browsers
/// ignore X-Frame-Options where frame-ancestors is present (CSP Level 3).
fn clickjacking(entry: &Result<Fetched, String>, entry_at: &url::Url, login: Option<&Fetched>) -> CheckResult {
    const ID: CheckId = CheckId::Clickjacking;
    let e = match entry {
        Ok(e) => e,
        Err(err) => return unreachable(ID, &[53], err),
    };
    let mut evidence = Vec::new();
    let mut worst = Verdict::Pass;
    for (page, f) in [("entry", Some(e)), ("login", login)] {
        let Some(f) = f else { continue };
        let xfo = header(f, "x-frame-options").unwrap_or_default().trim().to_ascii_uppercase();
        let csp = headers(f, "content-security-policy").collect::<Vec<_>>().join(", ").to_ascii_lowercase();
        let verdict = match (frame_ancestors(f), xfo == "DENY" || xfo == "SAMEORIGIN") {
            (Some(false), _) => Verdict::Fail,
            (_, true) => Verdict::Pass,
            (Some(true), false) => Verdict::Warn,
            (None, false) => Verdict::Fail,
        };
        worst = worst.max(verdict);
        let mut line = json!({ "page": page, "x-frame-options": xfo, "content-security-policy": csp });
        if page == "entry" {
            line["path"] = json!(entry_at.path());
        }
        evidence.push(line);
    }
    let summary = match worst {
        Verdict::Pass => "X-Frame-Options sent",
        Verdict::Warn => {
            "no X-Frame-Options; framing restricted by CSP frame-ancestors only (the item names X-Frame-Options)"
        }
        _ if evidence.iter().any(|e| e["content-security-policy"].as_str().is_some_and(|c| c.contains("frame-ancestors"))) => {
            "CSP frame-ancestors lets any site frame the page (browsers then ignore X-Frame-Options), or no X-Frame-Options"
        }
        _ => "no X-Frame-Options (nor CSP frame-ancestors)",
    };
    CheckResult::new(ID, &[53], worst, summary, json!(evidence))
}

/// The first link on the page at `at` that looks like a sign-in page, on
/// the same origin, read relative to the page (`login.jsp` under
/// `/shinsei/` is `/shinsei/login.jsp`).
fn login_link(body: &str, at: &url::Url) -> Option<url::Url> {
    hrefs(body).find_map(|h| {
        let l = h.to_ascii_lowercase();
        let looks = ["login", "signin", "sign-in", "logon"].iter().any(|k| l.contains(k));
        looks.then(|| same_origin(at, &h)).flatten()
    })
}

/// The `href` of every tag on a page, in order, whatever its case and
/// quotes (`<A HREF='login.jsp'>`).
fn hrefs(body: &str) -> impl Iterator<Item = String> + '_ {
    body.split('<')
        .skip(1)
        .filter_map(|t| t.split('>').next())
        .filter_map(|tag| attr_until(tag, "href", char::is_whitespace))
}

/// Link `href` on the page at `at`, resolved, when it stays on that origin.
fn same_origin(at: &url::Url, href: &str) -> Option<url::Url> {
    let mut u = at.join(href).ok()?;
    u.set_fragment(None);
    (u.origin() == at.origin()).then_some(u)
}

/// Checklist item 43: a session id in a link, a form action or a redirect.
fn session_in_url(pages: &[&Fetched]) -> CheckResult {
    const ID: CheckId = CheckId::SessionInUrl;
    const MARKERS: &[&str] = &[";jsessionid=", "phpsessid=", "aspsessionid", "sessionid=", "sid="];
    let mut found = Vec::new();
    for f in pages {
        let mut urls = urls_in(&f.body);
        urls.extend(header(f, "location").map(Cow::into_owned));
        for u in urls {
            let l = u.to_ascii_lowercase();
            if MARKERS.iter().any(|m| {
                l.contains(m) && (m.starts_with(';') || l.contains(&format!("?{m}")) || l.contains(&format!("&{m}")))
            }) {
                found.push(u);
            }
        }
    }
    if pages.is_empty() {
        return unreachable(ID, &[43], "no page fetched");
    }
    if found.is_empty() {
        CheckResult::new(ID, &[43], Verdict::Pass, "no session id in URLs", json!({ "found": found }))
    } else {
        CheckResult::new(
            ID,
            &[43],
            Verdict::Fail,
            format!("session id in URL: {}", found[0]),
            json!({ "found": found }),
        )
    }
}

/// Checklist item 54①: user ids or passwords in URLs, and sign-in forms sent with GET.
fn credentials_in_url(pages: &[&Fetched]) -> CheckResult {
    const ID: CheckId = CheckId::CredentialsInUrl;
    const NAMES: &[&str] = &["password=", "passwd=", "pwd=", "pass=", "userid=", "user_id=", "loginid="];
    let mut found = Vec::new();
    for f in pages {
        for u in urls_in(&f.body) {
            let l = u.to_ascii_lowercase();
            if NAMES.iter().any(|n| l.contains(&format!("?{n}")) || l.contains(&format!("&{n}"))) {
                found.push(format!("link {u}"));
            }
        }
        let lower = f.body.to_ascii_lowercase();
        for form in lower.split("<form").skip(1) {
            let form = form.split("</form>").next().unwrap_or("");
            let tag = form.split('>').next().unwrap_or("");
            let post = attr(tag, "method").is_some_and(|m| m == "post");
            let password = inputs(form).iter().any(|i| attr(i, "type").is_some_and(|t| t == "password"));
            if password && !post {
                found.push("a sign-in form sent with GET".to_owned());
            }
        }
    }
    if pages.is_empty() {
        return unreachable(ID, &[54], "no page fetched");
    }
    if found.is_empty() {
        CheckResult::new(ID, &[54], Verdict::Pass, "no credentials in URLs", json!({ "found": found }))
    } else {
        CheckResult::new(ID, &[54], Verdict::Fail, found[0].clone(), json!({ "found": found }))
    }
}

/// Redirects followed from an administration path: enough for a sign-in
/// page (`/admin/` → `/admin/login/`), few enough for eight paths within
/// the scan's deadline.
const ADMIN_REDIRECTS: usize = 2;

/// Checklist items 35, 36: common administration interfaces reachable from
/// here. Redirects on the origin are followed (Django's `/admin/` goes to
/// its sign-in page, WordPress's `/wp-admin/` to `/wp-login.php`): a
/// sign-in page or a refusal at the end is reachable; a page without either,
/// still under the path asked for, answers without authentication; one
/// elsewhere (the front page) or the same as a path that does not exist
/// answers nothing of its own.
async fn admin(t: &Target, client: &http::Fetcher) -> CheckResult {
    const ID: CheckId = CheckId::Admin;
    const PATHS: &[&str] = &[
        "/admin/",
        "/administrator/",
        "/wp-admin/",
        "/wp-login.php",
        "/phpmyadmin/",
        "/manager/html",
        "/admin.php",
        "/console/",
    ];
    // What the server makes of a path it does not have, followed the same way.
    let probe = format!("{}/mamori-probe-{:016x}/", t.url, rand::thread_rng().gen::<u64>());
    let baseline = client.follow(&probe, ADMIN_REDIRECTS).await.ok().and_then(|mut hops| hops.pop());
    let baseline = baseline.as_ref().map(|(at, f)| (at.path(), shape(&f.body)));
    let mut reachable = Vec::new();
    let mut open = Vec::new();
    let mut unanswered = Vec::new();
    for p in PATHS {
        let Ok(Some((at, f))) =
            client.follow(&format!("{}{p}", t.url), ADMIN_REDIRECTS).await.map(|mut hops| hops.pop())
        else {
            unanswered.push(*p);
            continue;
        };
        let shown = if at.path() == *p { (*p).to_owned() } else { format!("{p} → {}", at.path()) };
        let soft = baseline.as_ref().is_some_and(|(path, body)| *path == at.path() || *body == shape(&f.body));
        let sign_in = inputs(&f.body).iter().any(|tag| attr(tag, "type").as_deref() == Some("password"));
        // Under the path asked for (`/admin/` → `/admin/dashboard/`), or the
        // same file without its slash; `/admin` is not `/administrator/`.
        let asked = p.trim_end_matches('/');
        let within = at.path().strip_prefix(asked).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        match f.status {
            401 | 403 => reachable.push(format!("{shown} ({})", f.status)),
            200 if soft => {}
            200 if sign_in => reachable.push(format!("{shown} (sign-in page)")),
            200 if within => open.push(shown),
            _ => {}
        }
    }
    if unanswered.len() == PATHS.len() {
        return unreachable(ID, &[35, 36], "no path could be fetched");
    }
    let evidence = json!({ "without_authentication": open, "reachable": reachable, "unanswered": unanswered });
    if !open.is_empty() {
        CheckResult::new(
            ID,
            &[35, 36],
            Verdict::Fail,
            format!("answers without authentication: {}", open.join(", ")),
            evidence,
        )
    } else if !unanswered.is_empty() {
        let among = "no administration interface open without authentication";
        CheckResult::new(ID, &[35, 36], Verdict::Error, unanswered_summary(among, &unanswered), evidence)
    } else if !reachable.is_empty() {
        CheckResult::new(
            ID,
            &[35, 36],
            Verdict::Warn,
            format!("reachable from here (restrict by address): {}", reachable.join(", ")),
            evidence,
        )
    } else {
        CheckResult::new(ID, &[35, 36], Verdict::Pass, "no common administration interface reachable", evidence)
    }
}

/// Checklist items 47②, 54③: provoked errors show no stack trace, SQL or debug page.
async fn error_detail(t: &Target, client: &http::Fetcher) -> CheckResult {
    const ID: CheckId = CheckId::ErrorDetail;
    let long = "a".repeat(2048);
    let probes = ["/?id='\"<>".to_owned(), "/%ZZ".to_owned(), format!("/{long}"), "/index.php?x[]=1".to_owned()];
    let mut found = Vec::new();
    let mut unanswered = Vec::new();
    for p in &probes {
        let shown = &p[..p.len().min(40)];
        let Ok(f) = client.get(&format!("{}{p}", t.url)).await else {
            unanswered.push(shown);
            continue;
        };
        if let Some(sign) = error_sign(&f.body) {
            found.push(format!("{shown} → {sign}"));
        }
    }
    if unanswered.len() == probes.len() {
        return unreachable(ID, &[47, 54], "no provoked request was answered");
    }
    let evidence = json!({ "found": found, "unanswered": unanswered });
    if found.is_empty() && !unanswered.is_empty() {
        CheckResult::new(ID, &[47, 54], Verdict::Error, unanswered_summary("no error detail", &unanswered), evidence)
    } else if found.is_empty() {
        CheckResult::new(ID, &[47, 54], Verdict::Pass, "no error detail shown", evidence)
    } else {
        CheckResult::new(ID, &[47, 54], Verdict::Fail, format!("error detail shown: {}", found[0]), evidence)
    }
}

/// The first sign of a stack trace, SQL or a debug page in an error page.
fn error_sign(body: &str) -> Option<&'static str> {
    const SIGNS: &[&str] = &[
        "stack trace",
        "traceback (most recent call last)",
        "exception in thread",
        "at java.",
        "sqlstate",
        "sql syntax",
        "ora-0",
        "pg::",
        "psycopg2",
        "warning: mysql",
        "fatal error:",
        "debug = true",
        "whitelabel error page",
        "server error in '/' application",
        "microsoft ole db",
        "unhandled exception",
        "undefined index",
        "system.data.sqlclient.sqlexception",
        // ASP.NET's error page as Japanese Windows writes it.
        "アプリケーションでサーバー エラーが発生しました",
        "スタック トレース:",
        "例外の詳細:",
    ];
    let body = body.to_ascii_lowercase();
    SIGNS.iter().find(|s| body.contains(**s)).copied()
}

/// A product name followed by a version number, as servers announce them.
fn version_in(s: &str) -> Option<String> {
    const PRODUCTS: &[&str] = &[
        "nginx/",
        "apache/",
        "microsoft-iis/",
        "php/",
        "openssl/",
        "tomcat/",
        "jetty(",
        "jetty:// ",
        "squid/",
        "varnish/",
        "express",
        "lighttpd/",
        "iis/",
    ];
    let lower = s.to_ascii_lowercase();
    PRODUCTS.iter().find_map(|p| {
        let i = lower.find(p)? + p.len();
        let rest = &s[i..];
        rest.chars().next().filter(|c| c.is_ascii_digit()).map(|_| {
            let v: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '.').collect();
            format!("{}{v}", &s[i - p.len()..i])
        })
    })
}

fn disclosure(entry: &Result<Fetched, String>, via: &[Fetched], missing: &Result<Fetched, String>) -> CheckResult {
    const ID: CheckId = CheckId::Disclosure;
    let e = match entry {
        Ok(e) => e,
        Err(err) => return unreachable(ID, &[33, 54], err),
    };
    let mut found = Vec::new();
    const HEADERS: [&str; 8] = [
        "server",
        "x-powered-by",
        "x-aspnet-version",
        "x-aspnetmvc-version",
        "x-generator",
        "x-owa-version",
        "microsoftsharepointteamservices",
        "x-mod-pagespeed",
    ];
    for name in HEADERS.into_iter().chain(["via"]) {
        // Every copy of a header: IIS with PHP sends `X-Powered-By: ASP.NET`
        // and then `X-Powered-By: PHP/8.1.2`; each proxy adds its own Via.
        for f in via.iter().chain([e]).chain(missing.as_ref().ok()) {
            for v in headers(f, name) {
                // Via begins with the protocol's version (`1.1 proxy`): only
                // a product's version after it counts.
                let shown =
                    if name == "via" { version_in(&v).is_some() } else { v.chars().any(|c| c.is_ascii_digit()) };
                if shown && !found.iter().any(|(n, _): &(String, String)| n == name) {
                    found.push((name.to_owned(), v.into_owned()));
                }
            }
        }
    }
    if let Some(v) = missing.as_ref().ok().and_then(|m| version_in(&m.body)) {
        found.push(("error page".to_owned(), v));
    }
    let evidence = json!(found.iter().map(|(n, v)| json!({ "where": n, "value": v })).collect::<Vec<_>>());
    if found.is_empty() {
        CheckResult::new(ID, &[33, 54], Verdict::Pass, "no version disclosed", evidence)
    } else {
        let list: Vec<String> = found.iter().map(|(n, v)| format!("{n}: {v}")).collect();
        CheckResult::new(ID, &[33, 54], Verdict::Fail, format!("version disclosed ({})", list.join("; ")), evidence)
    }
}

/// Item 44 「HTTPS通信で利用するCookieにはsecure属性を設定すること」: any cookie
/// set without Secure fails, whatever it holds. HttpOnly and SameSite are
/// good practice the item does not ask for: their absence warns, as advice.
/// Every answer read counts (`pages`: the redirects on the way to the entry
/// page, the entry page, the sign-in page): a cookie set on a redirect is
/// sent like any other.
fn cookies(entry: &Result<Fetched, String>, pages: &[&Fetched]) -> CheckResult {
    const ID: CheckId = CheckId::Cookies;
    if let Err(err) = entry {
        return unreachable(ID, &[44], err);
    }
    let mut worst = Verdict::Pass;
    let mut list = Vec::new();
    let set_cookies: Vec<Cow<'_, str>> = pages.iter().flat_map(|f| headers(f, "set-cookie")).collect();
    let mut insecure = Vec::new();
    for v in set_cookies {
        let name = v.split('=').next().unwrap_or("").trim().to_owned();
        let attrs: Vec<String> = v.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect();
        let has = |a: &str| attrs.iter().any(|x| x == a || x.starts_with(&format!("{a}=")));
        let secure = has("secure");
        let advice: Vec<&str> = [("httponly", "HttpOnly"), ("samesite", "SameSite")]
            .into_iter()
            .filter(|(a, _)| !has(a))
            .map(|(_, n)| n)
            .collect();
        let verdict = match (secure, advice.is_empty()) {
            (false, _) => Verdict::Fail,
            (true, false) => Verdict::Warn,
            (true, true) => Verdict::Pass,
        };
        worst = worst.max(verdict);
        if !secure {
            insecure.push(name.clone());
        }
        list.push(json!({ "name": name, "secure": secure, "advice": advice }));
    }
    let summary = match worst {
        Verdict::Pass if list.is_empty() => "no cookie set".to_owned(),
        Verdict::Pass => "every cookie is Secure, HttpOnly and SameSite".to_owned(),
        Verdict::Warn => "every cookie is Secure; advice: add HttpOnly and SameSite where missing".to_owned(),
        _ => format!("cookies without Secure: {}", insecure.join(", ")),
    };
    CheckResult::new(ID, &[44], worst, summary, json!(list))
}

/// A page with what changes from one answer to the next taken out (runs of
/// letters and digits with a digit in them: a token, a time, a request
/// id), to tell a catch-all page that answers every path from a page of
/// its own.
fn shape(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().any(|c| c.is_ascii_digit()) {
            out.push('#');
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in body.chars() {
        if c.is_ascii_alphanumeric() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The `<input …>` tags of a page, lower-cased, each as its attribute text.
fn inputs(body: &str) -> Vec<String> {
    body.to_ascii_lowercase().split("<input").skip(1).map(|s| s.split('>').next().unwrap_or("").to_owned()).collect()
}

/// The `href`, `action` and `src` of every tag of a page, quoted or not
/// (`href='…'` and `href=…` hid a session id or a password from the checks
/// that read only double quotes).
fn urls_in(body: &str) -> Vec<String> {
    body.split('<')
        .skip(1)
        .filter_map(|t| t.split('>').next())
        .flat_map(|tag| {
            ["href", "action", "src"]
                .into_iter()
                .filter_map(|a| attr_until(tag, a, char::is_whitespace))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The value of attribute `name` in a tag's attribute text (quoted or not;
/// unquoted, up to a space or `/`).
fn attr(tag: &str, name: &str) -> Option<String> {
    attr_until(tag, name, |c| c.is_whitespace() || c == '/')
}

/// [`attr`], an unquoted value ending where `ends` says (a URL holds `/`).
fn attr_until(tag: &str, name: &str, ends: fn(char) -> bool) -> Option<String> {
    // Found in any case, read as written: lowering ASCII keeps every
    // byte's place, so the two are cut at the same offsets.
    let lower = tag.to_ascii_lowercase();
    let mut at = 0;
    while let Some(i) = lower[at..].find(name).map(|i| at + i) {
        let before = tag[..i].chars().last();
        let after = &tag[i + name.len()..];
        at = i + name.len();
        if before.is_some_and(|c| !c.is_whitespace()) {
            continue;
        }
        let Some(v) = after.trim_start().strip_prefix('=') else { continue };
        let v = v.trim_start();
        return Some(match v.chars().next() {
            Some(q @ ('"' | '\'')) => v[1..].split(q).next().unwrap_or("").to_owned(),
            _ => v.split(ends).next().unwrap_or("").to_owned(),
        });
    }
    None
}

/// Item 38② 「画面にパスワード文字列を表示しないこと」: on the entry and
/// sign-in pages, a field named like a password must be `type=password`.
fn password_field(pages: &[&Fetched]) -> CheckResult {
    const ID: CheckId = CheckId::PasswordField;
    if pages.is_empty() {
        return unreachable(ID, &[38], "no page fetched");
    }
    let mut masked = Vec::new();
    let mut shown = Vec::new();
    for tag in pages.iter().flat_map(|f| inputs(&f.body)) {
        let kind = attr(&tag, "type").unwrap_or_else(|| "text".to_owned());
        let name = attr(&tag, "name").or_else(|| attr(&tag, "id")).unwrap_or_default();
        let password_like = ["password", "passwd", "passwort", "pwd", "pass"].iter().any(|p| name.contains(p));
        if kind == "password" {
            masked.push(name);
        } else if password_like && matches!(kind.as_str(), "text" | "search" | "tel" | "email" | "") {
            shown.push(name);
        }
    }
    let evidence = json!({ "masked": masked, "shown_as_text": shown });
    if !shown.is_empty() {
        CheckResult::new(
            ID,
            &[38],
            Verdict::Fail,
            format!("password field shown as text: {}", shown.join(", ")),
            evidence,
        )
    } else if !masked.is_empty() {
        CheckResult::new(ID, &[38], Verdict::Pass, "password fields are type=password", evidence)
    } else {
        CheckResult::new(
            ID,
            &[38],
            Verdict::Error,
            "no sign-in form found on the entry page or a linked sign-in page",
            evidence,
        )
    }
}

/// Item 45 (CSRF): every POST form on the entry and sign-in pages carries a
/// hidden field that looks like a token (a token-like name, or a long
/// random value). None warns: the token may come another way (a header, a
/// re-entered password), which only the vendor's answer can tell.
fn csrf_token(pages: &[&Fetched]) -> CheckResult {
    const ID: CheckId = CheckId::CsrfToken;
    const NAMES: &[&str] = &["csrf", "xsrf", "token", "authenticity", "nonce", "__requestverificationtoken", "state"];
    if pages.is_empty() {
        return unreachable(ID, &[45], "no page fetched");
    }
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for f in pages {
        let lower = f.body.to_ascii_lowercase();
        for form in lower.split("<form").skip(1) {
            let tag = form.split('>').next().unwrap_or("");
            if attr(tag, "method").as_deref() != Some("post") {
                continue;
            }
            let action = attr(tag, "action").unwrap_or_default();
            let body = form.split("</form>").next().unwrap_or("");
            let token = inputs(body).iter().any(|i| {
                let hidden = attr(i, "type").as_deref() == Some("hidden");
                let name = attr(i, "name").unwrap_or_default();
                let value = attr(i, "value").unwrap_or_default();
                let random = value.len() >= 16 && value.chars().filter(|c| c.is_ascii_digit()).count() >= 2;
                hidden && (NAMES.iter().any(|n| name.contains(n)) || random)
            });
            if token {
                with.push(action);
            } else {
                without.push(action);
            }
        }
    }
    let evidence = json!({ "with_token": with, "without_token": without });
    if !without.is_empty() {
        let summary = format!("POST form without a hidden token: {}", without.join(", "));
        CheckResult::new(ID, &[45], Verdict::Warn, summary, evidence)
    } else if !with.is_empty() {
        CheckResult::new(ID, &[45], Verdict::Pass, "every POST form carries a hidden token", evidence)
    } else {
        CheckResult::new(ID, &[45], Verdict::Error, "no POST form on the entry page or a linked sign-in page", evidence)
    }
}

/// How many fresh responses item 42② looks at.
const SESSION_SAMPLES: usize = 4;

/// Item 42② 「セッションIDを推測が困難なものにすること」: the cookie a visitor is
/// given afresh on each request, read over several requests. Short (under
/// 16 characters), of one kind of character, or counting up, it warns: only
/// the framework's documentation proves the rest (42①).
fn session_id_strength(pages: &[&Fetched], fresh: &[Fetched]) -> CheckResult {
    const ID: CheckId = CheckId::SessionIdStrength;
    if pages.is_empty() {
        return unreachable(ID, &[42], "no page fetched");
    }
    let mut values: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for f in pages.iter().copied().chain(fresh) {
        for v in headers(f, "set-cookie") {
            let pair = v.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                values.entry(name.trim().to_owned()).or_default().push(value.trim().to_owned());
            }
        }
    }
    // The session cookie: one whose value changes from response to response.
    let Some((name, seen)) = values.into_iter().find(|(_, v)| {
        let mut d = v.clone();
        d.sort();
        d.dedup();
        d.len() >= 2
    }) else {
        return CheckResult::new(ID, &[42], Verdict::Error, "no cookie issued afresh to a visitor", json!({}));
    };
    let shortest = seen.iter().map(|v| v.chars().count()).min().unwrap_or(0);
    let kinds = |v: &str| {
        [
            v.chars().any(|c| c.is_ascii_digit()),
            v.chars().any(|c| c.is_ascii_lowercase()),
            v.chars().any(|c| c.is_ascii_uppercase()),
        ]
        .iter()
        .filter(|k| **k)
        .count()
    };
    let one_kind = seen.iter().all(|v| kinds(v) <= 1 && v.chars().all(|c| c.is_ascii_alphanumeric()));
    let numbers: Vec<u128> = seen.iter().filter_map(|v| v.parse().ok()).collect();
    let counting = numbers.len() == seen.len() && numbers.windows(2).all(|w| w[1].abs_diff(w[0]) < 1000);
    let mut problems = Vec::new();
    if shortest < 16 {
        problems.push(format!("{shortest} characters"));
    }
    if counting {
        problems.push("values count up".to_owned());
    } else if one_kind {
        problems.push("one kind of character".to_owned());
    }
    let evidence = json!({ "cookie": name, "samples": seen.len(), "shortest": shortest });
    if problems.is_empty() {
        CheckResult::new(
            ID,
            &[42],
            Verdict::Pass,
            format!("{name}: {shortest}+ characters, varied, not sequential"),
            evidence,
        )
    } else {
        CheckResult::new(
            ID,
            &[42],
            Verdict::Warn,
            format!("{name} may be guessable: {}", problems.join(", ")),
            evidence,
        )
    }
}

/// Does a body prove that the file is really there?
type Proof = fn(&str) -> bool;

/// Files that must not be served, each with what proves it is the real file.
const EXPOSED: &[(&str, Proof)] = &[
    ("/.git/HEAD", |b| {
        b.starts_with("ref: refs/") || (b.trim().len() == 40 && b.trim().chars().all(|c| c.is_ascii_hexdigit()))
    }),
    ("/.git/config", |b| b.contains("[core]")),
    ("/.env", |b| {
        b.lines().any(|l| {
            l.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
            })
        })
    }),
    ("/.svn/entries", |b| b.trim_start().starts_with(|c: char| c.is_ascii_digit()) || b.contains("svn:")),
    ("/.DS_Store", |b| b.contains("Bud1")),
    ("/server-status", |b| b.contains("Apache Server Status") || b.contains("Server Version")),
    ("/phpinfo.php", |b| b.contains("phpinfo()") || b.contains("PHP Version")),
    ("/index.html~", |b| b.to_ascii_lowercase().contains("<html")),
    ("/index.html.bak", |b| b.to_ascii_lowercase().contains("<html")),
    ("/index.php.bak", |b| b.contains("<?php")),
];

async fn exposed(t: &Target, client: &http::Fetcher, missing: &Result<Fetched, String>) -> CheckResult {
    const ID: CheckId = CheckId::Exposed;
    let baseline = missing.as_ref().ok().map(|m| shape(&m.body));
    let mut found = Vec::new();
    let mut unanswered = Vec::new();
    for (path, proves) in EXPOSED {
        let Ok(f) = client.get(&format!("{}{path}", t.url)).await else {
            unanswered.push(*path);
            continue;
        };
        // A "soft 404" answers 200 to everything: the same page is no finding.
        let soft = baseline.as_deref() == Some(shape(&f.body).as_str());
        if f.status == 200 && !soft && proves(&f.body) {
            found.push(*path);
        }
    }
    if unanswered.len() == EXPOSED.len() {
        return unreachable(ID, &[34], "no path could be fetched");
    }
    let evidence = json!({
        "found": found,
        "probed": EXPOSED.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        "unanswered": unanswered,
    });
    if !found.is_empty() {
        CheckResult::new(ID, &[34], Verdict::Fail, format!("exposed: {}", found.join(", ")), evidence)
    } else if !unanswered.is_empty() {
        CheckResult::new(ID, &[34], Verdict::Error, unanswered_summary("no exposed file", &unanswered), evidence)
    } else {
        CheckResult::new(ID, &[34], Verdict::Pass, "no exposed file found", evidence)
    }
}

/// A path check some of whose requests got no answer (a timeout, a reset:
/// a rate limit or an IPS cutting the scanner off part way) has not shown
/// what the unanswered paths hold: never a pass.
fn unanswered_summary(among: &str, unanswered: &[&str]) -> String {
    let named: Vec<&str> = unanswered.iter().take(5).copied().collect();
    format!(
        "{among} among the paths that answered; {} did not answer (timeout or reset): {}",
        unanswered.len(),
        named.join(", ")
    )
}

fn is_listing(body: &str) -> bool {
    let b = body.to_ascii_lowercase();
    (b.contains("<title>index of /") || b.contains("<h1>index of /"))
        || b.contains("[to parent directory]")
        // Tomcat, Python's http.server, Jetty.
        || b.contains("<title>directory listing for")
        || b.contains("<title>directory: /")
        || (b.contains("index of") && b.contains("parent directory"))
        // IIS at a site's root (no parent to link; titled `host - /path`),
        // Node's serve-index.
        || (b.contains("<pre>") && b.contains("&lt;dir&gt;") && b.contains(" - /"))
        || b.contains("<title>listing directory /")
}

/// At most this many distinct links of the entry page are read for
/// directories: a hostile page holds tens of thousands, and each was joined
/// to the page's URL (up to [`http::MAX_URL`]) before ten were picked.
const MAX_DIR_LINKS: usize = 64;

/// Directories linked from the entry page at `at` (`href="/dir/"`, or
/// `href="dir/"` read relative to the page), on its origin: the first ten
/// by URL of those among its first [`MAX_DIR_LINKS`] distinct links.
fn linked_dirs(body: &str, at: &url::Url) -> Vec<url::Url> {
    let mut links = std::collections::BTreeSet::new();
    let candidates = hrefs(body).filter(|h| h.ends_with('/') && !h.contains(".."));
    for h in candidates {
        if links.len() == MAX_DIR_LINKS {
            break;
        }
        links.insert(h);
    }
    let mut dirs: Vec<url::Url> = links
        .into_iter()
        .filter_map(|h| same_origin(at, &h))
        .filter(|u| u.path() != at.path() && u.query().is_none())
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs.truncate(10);
    dirs
}

async fn listing(client: &http::Fetcher, entry: &Result<Fetched, String>, at: &url::Url) -> CheckResult {
    const ID: CheckId = CheckId::Listing;
    let e = match entry {
        Ok(e) => e,
        Err(err) => return unreachable(ID, &[34], err),
    };
    let mut found = Vec::new();
    if e.status == 200 && is_listing(&e.body) {
        found.push(at.path().to_owned());
    }
    let mut unanswered = Vec::new();
    for dir in linked_dirs(&e.body, at) {
        match client.get(dir.as_str()).await {
            Ok(f) if f.status == 200 && is_listing(&f.body) => found.push(dir.path().to_owned()),
            Ok(_) => {}
            Err(_) => unanswered.push(dir.path().to_owned()),
        }
    }
    let evidence = json!({ "listings": found, "unanswered": unanswered });
    if !found.is_empty() {
        CheckResult::new(ID, &[34], Verdict::Fail, format!("directory listing at {}", found.join(", ")), evidence)
    } else if !unanswered.is_empty() {
        let paths: Vec<&str> = unanswered.iter().map(String::as_str).collect();
        CheckResult::new(ID, &[34], Verdict::Error, unanswered_summary("no directory listing", &paths), evidence)
    } else {
        CheckResult::new(ID, &[34], Verdict::Pass, "no directory listing", evidence)
    }
}

/// Items 31, 32: listed ports open at `ip`, other than `skip` (the web
/// server's own).
/// The listed ports of `ip` but `skip` (the web server's, which answered).
/// Without a web server (`skip` empty: a host whose ports only are
/// scanned), a host that answered on no port at all, not even to refuse,
/// is down or filters the scanner: whether a port is open is not known,
/// and the check says so (`error`), never "none open".
async fn open_ports(ip: IpAddr, skip: &[u16], opts: &ScanOptions) -> CheckResult {
    const ID: CheckId = CheckId::Ports;
    let timeout = opts.timeout.min(Duration::from_secs(2));
    let probes = opts
        .ports
        .iter()
        .copied()
        .filter(|p| !skip.contains(p))
        .map(|p| async move { (p, knock(SocketAddr::new(ip, p), timeout).await) });
    let results = futures_join(probes.collect()).await;
    let silent = !results.is_empty() && results.iter().all(|(_, k)| *k == Knock::Silent);
    let open: Vec<u16> = results.into_iter().filter(|(_, k)| *k == Knock::Open).map(|(p, _)| p).collect();
    let evidence = json!({ "open": open, "probed": opts.ports });
    if skip.is_empty() && silent {
        CheckResult::new(
            ID,
            &[31, 32],
            Verdict::Error,
            "no listed port answered, not even to refuse: the host is down or filters the scanner",
            evidence,
        )
    } else if open.is_empty() {
        CheckResult::new(ID, &[31, 32], Verdict::Pass, "no other listed port open", evidence)
    } else {
        let list: Vec<String> = open.iter().map(u16::to_string).collect();
        CheckResult::new(
            ID,
            &[31, 32],
            Verdict::Warn,
            format!("open, review whether needed: {}", list.join(", ")),
            evidence,
        )
    }
}

/// Runs the futures concurrently, at most 32 at a time (bounded per host).
async fn futures_join<F: std::future::Future<Output = (u16, Knock)> + Send + 'static>(
    futs: Vec<F>,
) -> Vec<(u16, Knock)> {
    let mut out = Vec::new();
    let mut set = tokio::task::JoinSet::new();
    for f in futs {
        if set.len() >= 32 {
            if let Some(Ok(r)) = set.join_next().await {
                out.push(r);
            }
        }
        set.spawn(f);
    }
    while let Some(r) = set.join_next().await {
        if let Ok(r) = r {
            out.push(r);
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A TLS 1.0 probe that could not connect (a rate limit, an IPS) said
    /// nothing of TLS 1.0, and a broken suite's failed probe nothing of
    /// that suite: the check passed on them as if refused. Not known is
    /// an error now; a version or suite found accepted still fails.
    #[test]
    fn a_legacy_version_or_broken_suite_whose_probe_failed_is_not_a_pass() {
        use tls::SuiteKind::{Cbc, ModernAead, Rc4};
        use TlsVersion::{Tls10, Tls12, Tls13};
        let modern = [Tls12, Tls13];
        assert_eq!(
            versions_verdict(&modern, false, &[ModernAead], &[]),
            (Verdict::Pass, "only TLS 1.2, TLS 1.3".into())
        );
        let (v, summary) = versions_verdict(&modern, false, &[ModernAead], &["TLS 1.0"]);
        assert_eq!(v, Verdict::Error);
        assert!(summary.contains("could not probe TLS 1.0"), "{summary}");
        let (v, summary) = versions_verdict(&modern, false, &[ModernAead, Cbc], &["RC4"]);
        assert_eq!(v, Verdict::Error, "not a mere warning on CBC: {summary}");
        assert!(summary.contains("RC4"), "{summary}");
        assert_eq!(versions_verdict(&[Tls10, Tls12], false, &[], &["SSLv2"]).0, Verdict::Fail);
        assert_eq!(versions_verdict(&modern, false, &[Rc4], &["TLS 1.1"]).0, Verdict::Fail);
        assert_eq!(versions_verdict(&modern, true, &[], &[]).0, Verdict::Fail, "SSL 2.0 accepted");
    }

    const LOGIN_PAGE: &str = r#"<!doctype html><html><head><title>Index of /</title></head><body>
<a href="/login?next=/">ログイン</a><a href="signin.php?jsessionid=abc">x</a>
<form method="post" action="/login;jsessionid=0123456789abcdef"><input type="hidden" name="csrf_token" value="t">
<input name=password type=text><input type='password' name='pw' autocomplete=off><input name="user"></form>
<address>Apache/2.4.57 (Debian) Server at example.jp Port 443</address><center>nginx/1.22.1</center></body></html>"#;

    fn header_values() -> impl Strategy<Value = Vec<(&'static str, String)>> {
        let name = prop::sample::select(vec![
            "set-cookie",
            "server",
            "x-powered-by",
            "location",
            "x-frame-options",
            "content-security-policy",
        ]);
        let value = prop_oneof![
            any::<String>(),
            Just("sid=0123456789abcdef0123456789abcdef; Path=/; Secure; HttpOnly; SameSite=Lax".to_owned()),
            Just("id=; Max-Age=0; secure;httponly=;samesite".to_owned()),
            Just("frame-ancestors 'none'; default-src 'self'".to_owned()),
            Just("/login;jsessionid=42?password=x&user=y".to_owned()),
        ];
        prop::collection::vec((name, value), 0..8)
    }

    fn page(status: u16, body: String, headers: &[(&'static str, String)]) -> Fetched {
        let mut map = reqwest::header::HeaderMap::new();
        for (n, v) in headers {
            if let Ok(v) = reqwest::header::HeaderValue::from_str(v) {
                map.append(*n, v);
            }
        }
        Fetched { status, headers: map, body }
    }

    fn bodies() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            (any::<usize>(), any::<usize>(), any::<String>()).prop_map(|(at, cut, insert)| {
                // The page cut and spliced at char boundaries.
                let chars: Vec<char> = LOGIN_PAGE.chars().collect();
                let at = at % chars.len();
                let end = (at + cut % 64).min(chars.len());
                chars[..at].iter().chain(insert.chars().collect::<Vec<_>>().iter()).chain(chars[end..].iter()).collect()
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3_000, failure_persistence: None, ..ProptestConfig::default() })]

        /// A server under scan may answer anything: no page, header or
        /// cookie it sends makes a check panic.
        #[test]
        fn every_check_reading_a_page_survives_whatever_the_server_sends(
            status in any::<u16>(),
            body in bodies(),
            headers in header_values(),
            login_body in bodies(),
        ) {
            let entry = page(status, body.clone(), &headers);
            let login = page(200, login_body, &headers);
            let pages = [&entry, &login];
            let at = url::Url::parse("https://example.lg.jp/shinsei/").unwrap();
            let _ = (login_link(&body, &at), linked_dirs(&body, &at));
            for tag in inputs(&body) {
                let _ = (attr(&tag, "type"), attr(&tag, "name"));
            }
            let _ = (version_in(&body), is_listing(&body));
            let ok = Ok(page(status, body.clone(), &headers));
            let _ = clickjacking(&ok, &at, Some(&login));
            let _ = disclosure(&ok, std::slice::from_ref(&login), &Ok(page(404, login.body.clone(), &headers)));
            let _ = cookies(&ok, &pages);
            let _ = (session_in_url(&pages), credentials_in_url(&pages), password_field(&pages), csrf_token(&pages));
            let _ = session_id_strength(&pages, std::slice::from_ref(&login));
        }
    }

    /// A redirect sent HSTS for a year and the entry page `max-age=0`: a
    /// browser then holds no policy, but the longest was taken and passed.
    #[test]
    fn the_hsts_kept_is_the_last_sent_on_the_way_to_the_entry_page() {
        let hsts = |v: &str| page(200, String::new(), &[("strict-transport-security", v.to_owned())]);
        let none = page(200, String::new(), &[]);
        let kept = |pages: &[&Fetched]| max_age_of(&hsts_kept(pages.iter().copied()));
        assert_eq!(kept(&[&hsts("max-age=31536000"), &hsts("max-age=0")]), 0);
        assert_eq!(kept(&[&hsts("max-age=0"), &hsts("max-age=31536000; includeSubDomains")]), 31_536_000);
        assert_eq!(kept(&[&hsts("max-age=31536000"), &none]), 31_536_000, "no header changes nothing");
        assert_eq!(kept(&[&none, &none]), 0);
        assert_eq!(kept(&[&hsts("max-age=31536000"), &hsts("includeSubDomains")]), 31_536_000, "no max-age: ignored");
        assert_eq!(kept(&[&hsts("max-age=31536000"), &hsts("includeSubDomains; MAX-AGE = 0")]), 0, "spaces around =");
    }

    /// `X-Frame-Options: DENY` beside `frame-ancestors *` passed, but
    /// browsers ignore X-Frame-Options where frame-ancestors is present:
    /// any site could frame the page. Every CSP header is read.
    #[test]
    fn a_frame_ancestors_open_to_any_site_fails_whatever_x_frame_options_says() {
        let with = |h: &[(&'static str, &str)]| {
            let h: Vec<(&'static str, String)> = h.iter().map(|(n, v)| (*n, v.to_string())).collect();
            clickjacking(&Ok(page(200, String::new(), &h)), &url::Url::parse("https://x/").unwrap(), None).verdict
        };
        let xfo = ("x-frame-options", "DENY");
        let csp = "content-security-policy";
        assert_eq!(with(&[xfo]), Verdict::Pass);
        assert_eq!(with(&[xfo, (csp, "default-src 'self'; frame-ancestors *")]), Verdict::Fail);
        assert_eq!(with(&[xfo, (csp, "frame-ancestors https:")]), Verdict::Fail);
        assert_eq!(with(&[(csp, "FRAME-ANCESTORS *")]), Verdict::Fail);
        assert_eq!(with(&[xfo, (csp, "frame-ancestors 'self' https://portal.example.lg.jp")]), Verdict::Pass);
        assert_eq!(with(&[(csp, "frame-ancestors 'none'")]), Verdict::Warn);
        // Two policies: each is enforced, so the restrictive one holds.
        assert_eq!(with(&[(csp, "default-src 'self'"), (csp, "frame-ancestors 'none'")]), Verdict::Warn);
        assert_eq!(with(&[(csp, "frame-ancestors *"), (csp, "frame-ancestors 'self'")]), Verdict::Warn);
        assert_eq!(with(&[xfo, (csp, "frame-ancestors https://*")]), Verdict::Fail);
        assert_eq!(with(&[xfo, (csp, "frame-ancestors *, default-src 'self'")]), Verdict::Fail);
        // The wildcard host written with a port or a path is any site too.
        for open in ["*:*", "*:443", "https://*:443", "https://*:*", "https://*/", "HTTPS://*/x/"] {
            assert_eq!(with(&[xfo, (csp, &format!("frame-ancestors {open}"))]), Verdict::Fail, "{open}");
        }
        assert_eq!(with(&[xfo, (csp, "frame-ancestors https://*.portal.example.lg.jp:443")]), Verdict::Pass);
        assert_eq!(with(&[]), Verdict::Fail);
    }

    /// Attributes in single quotes or none: a sign-in form sent with GET
    /// (`type=password`) and a session id in `href='…'` were not seen.
    #[test]
    fn urls_and_password_fields_are_read_whatever_their_quotes() {
        let body = |b: &str| page(200, b.to_owned(), &[]);
        let get_form = body("<form action=/login><input type=password name=pw></form>");
        assert_eq!(credentials_in_url(&[&get_form]).verdict, Verdict::Fail);
        let quoted = body("<FORM action='/login'><INPUT TYPE='password' name='pw'></FORM>");
        assert_eq!(credentials_in_url(&[&quoted]).verdict, Verdict::Fail);
        let post = body("<form method=POST action=/login><input type=password name=pw></form>");
        assert_eq!(credentials_in_url(&[&post]).verdict, Verdict::Pass);
        let link = body("<a href=/menu?userid=taro&password=x>menu</a>");
        assert_eq!(credentials_in_url(&[&link]).verdict, Verdict::Fail);
        for b in ["<a href='/app;jsessionid=ABC123'>x</a>", "<a href=/app;jsessionid=ABC123>x</a>"] {
            assert_eq!(session_in_url(&[&body(b)]).verdict, Verdict::Fail, "{b}");
        }
        assert_eq!(session_in_url(&[&body("<a href=\"/app\">x</a>")]).verdict, Verdict::Pass);
    }

    /// Versions named in headers other than Server and X-Powered-By, and
    /// listings that name no parent directory, were passed over.
    #[test]
    fn versions_in_other_headers_other_listings_and_japanese_error_pages_are_found() {
        let with = |h: (&'static str, &str)| {
            let f = || page(200, String::new(), &[(h.0, h.1.to_owned())]);
            disclosure(&Ok(f()), &[], &Ok(f())).verdict
        };
        assert_eq!(with(("via", "1.1 squid/3.5.20")), Verdict::Fail);
        assert_eq!(with(("via", "1.1 varnish, 1.1 proxy.example.lg.jp")), Verdict::Pass);
        assert_eq!(with(("microsoftsharepointteamservices", "16.0.0.5335")), Verdict::Fail);
        assert_eq!(with(("x-owa-version", "15.1.2507.6")), Verdict::Fail);
        // A header sent twice is read twice: the version in the second copy.
        let twice = |name: &'static str, first: &str, second: &str| {
            let f = || page(200, String::new(), &[(name, first.to_owned()), (name, second.to_owned())]);
            disclosure(&Ok(f()), &[], &Ok(f())).verdict
        };
        assert_eq!(twice("x-powered-by", "ASP.NET", "PHP/8.1.2"), Verdict::Fail);
        assert_eq!(twice("via", "1.1 varnish", "1.1 squid/3.5.20"), Verdict::Fail);
        assert_eq!(twice("x-powered-by", "ASP.NET", "Express"), Verdict::Pass);
        assert_eq!(version_in("<small>Powered by Jetty:// 9.4.51</small>").as_deref(), Some("Jetty:// 9.4.51"));
        assert!(is_listing("<html><head><title>www.example - /</title></head><body><H1>www.example - /</H1><hr>\n<pre> 1/1/2024 10:00 AM &lt;dir&gt; <A HREF=\"/docs/\">docs</A></pre>"));
        assert!(is_listing("<title>listing directory /backup/</title>"));
        assert!(!is_listing("<pre>select * from t</pre>"));
        assert!(!is_listing("<p>Use:</p><pre>cd &lt;dir&gt;</pre>"));
        // ASP.NET's error page on Japanese Windows.
        let page = "<h1>'/' アプリケーションでサーバー エラーが発生しました。</h1><b>例外の詳細:</b> System.Data.SqlClient.SqlException";
        assert!(error_sign(page).is_some());
        assert_eq!(error_sign("<h1>エラーが発生しました。お問い合わせください。</h1>"), None);
    }

    /// A Set-Cookie carrying raw UTF-8 (a Japanese value, as many ward
    /// applications send) is not visible ASCII: it was passed over, and a
    /// page whose only cookie lacked `Secure` passed as "no cookie set".
    /// A Server header so written hid its version the same way.
    #[test]
    fn a_cookie_or_server_header_with_bytes_beyond_ascii_is_read_not_passed_over() {
        let raw = |v: &str| reqwest::header::HeaderValue::from_bytes(v.as_bytes()).unwrap();
        let fetched = || {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.append("set-cookie", raw("sid=abc; Path=/; HttpOnly; SameSite=Lax; comment=ログイン"));
            headers.append("server", raw("Apache/2.4.57 (社内)"));
            Fetched { status: 200, headers, body: String::new() }
        };
        let c = cookies(&Ok(fetched()), &[&fetched()]);
        assert_eq!(c.verdict, Verdict::Fail, "{c:?}");
        assert!(c.summary.contains("sid"), "{c:?}");
        let d = disclosure(&Ok(fetched()), &[], &Ok(fetched()));
        assert_eq!(d.verdict, Verdict::Fail, "{d:?}");
        assert!(d.summary.contains("2.4.57"), "{d:?}");
    }

    /// A redirect to `https://host:443@other/` goes to `other`; it was
    /// taken for the scanned host. `HTTPS://` in capitals is HTTPS.
    #[test]
    fn a_redirect_is_on_the_host_by_what_follows_the_last_at_sign_whatever_the_scheme_s_case() {
        assert!(https_on_host("https://app.example.jp/login", "app.example.jp"));
        assert!(https_on_host("HTTPS://App.Example.jp:8443/", "app.example.jp"));
        assert!(https_on_host("https://[::1]:8443/", "[::1]"));
        assert!(!https_on_host("https://app.example.jp:443@evil.example/", "app.example.jp"));
        assert!(!https_on_host("https://app.example.jp@evil.example/", "app.example.jp"));
        assert!(!https_on_host("https://evil.example\\@app.example.jp/", "app.example.jp"));
        assert!(!https_on_host("http://app.example.jp/", "app.example.jp"));
        assert!(!https_on_host("/login", "app.example.jp"));
    }

    /// A catch-all page that differs only by a token or a time was taken
    /// for an admin page answering without authentication; a sign-in form
    /// written `type=password` (unquoted, as minifiers leave it) for one
    /// without a password field.
    #[test]
    fn a_catch_all_page_with_a_fresh_token_and_an_unquoted_password_field_are_read_for_what_they_are() {
        let page = |t: &str| {
            format!("<html><body data-request=\"{t}\"><div id=app></div>2026-12-05T10:00:0{}</body>", t.len() % 10)
        };
        assert_eq!(shape(&page("a1b2c3d4e5f6")), shape(&page("0f9e8d7c6b5a4")));
        assert_ne!(shape("<h1>Admin</h1><p>users</p>"), shape("<h1>Not here</h1>"));
        let login = "<form method=post><input name=user><input type=password name=pw></form>";
        assert!(inputs(login).iter().any(|tag| attr(tag, "type").as_deref() == Some("password")));
    }

    /// Tomcat's, Python's and Jetty's listings were taken for pages.
    #[test]
    fn directory_listings_of_tomcat_python_and_jetty_are_recognised() {
        assert!(is_listing("<html><head><title>Directory Listing For [/]</title></head>"));
        assert!(is_listing("<!DOCTYPE HTML><html><head><title>Directory listing for /files/</title>"));
        assert!(is_listing("<HTML><HEAD><TITLE>Directory: /static/</TITLE>"));
        assert!(!is_listing("<title>社内ポータル</title><p>directory of staff</p>"));
    }

    #[test]
    fn attributes_are_read_quoted_or_not() {
        assert_eq!(attr(r#" type="password" name=pw"#, "type").as_deref(), Some("password"));
        assert_eq!(attr(r#" type="password" name=pw"#, "name").as_deref(), Some("pw"));
        assert_eq!(attr(" data-type='x' type='hidden'", "type").as_deref(), Some("hidden"));
        assert_eq!(attr(" name=a", "type"), None);
    }

    #[test]
    fn versions_are_found_in_banners() {
        assert_eq!(version_in("<center>nginx/1.22.1</center>").as_deref(), Some("nginx/1.22.1"));
        assert_eq!(version_in("Apache/2.4.57 (Debian) Server").as_deref(), Some("Apache/2.4.57"));
        assert_eq!(version_in("<center>nginx</center>"), None);
    }

    #[test]
    fn listings_and_links_to_directories_and_the_sign_in_page_are_found_whatever_their_case_and_quotes() {
        assert!(is_listing("<html><head><title>Index of /files/</title></head><body><h1>Index of /files/</h1>"));
        assert!(is_listing("<H1>Index of /x</H1><a href=\"/\">Parent Directory</a>"));
        assert!(!is_listing("<title>Welcome</title>"));
        let dirs = |at: &str, body: &str| -> Vec<String> {
            linked_dirs(body, &url::Url::parse(at).unwrap()).iter().map(|u| u.path().to_owned()).collect()
        };
        let body = "<a href=\"docs/\">d</a><a href=\"/img/\">i</a><a href=\"https://x/y/\"><a href=\"//x/z/\">";
        assert_eq!(dirs("https://w/", body), ["/docs/", "/img/"]);
        // Read relative to the entry page, which is not a directory of its own.
        assert_eq!(dirs("https://w/shinsei/", body), ["/img/", "/shinsei/docs/"]);
        assert_eq!(dirs("https://w/shinsei/", "<a href=\"./\">"), Vec::<String>::new());
        let login = |at: &str, body: &str| login_link(body, &url::Url::parse(at).unwrap()).map(|u| u.to_string());
        assert_eq!(login("https://w/shinsei/", "<a href=\"login.jsp\">"), Some("https://w/shinsei/login.jsp".into()));
        assert_eq!(login("https://w/shinsei/", "<a href=\"https://idp.example/login\">"), None);
        assert_eq!(login("https://w:8443/", "<a href=\"//w/login\">"), None, "another port is another origin");
        // An older system's markup: upper case, single quotes, none.
        assert_eq!(login("https://w/", "<A HREF='login.jsp'>ログイン</A>"), Some("https://w/login.jsp".into()));
        assert_eq!(login("https://w/", "<a class=x href=/logon.asp>"), Some("https://w/logon.asp".into()));
        assert_eq!(dirs("https://w/", "<A HREF='docs/'><a href=img/ >"), ["/docs/", "/img/"]);
    }
}
