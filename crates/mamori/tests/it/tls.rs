//! Checklist item 57: TLS 1.2 and 1.3 only.

use crate::harness::{Opts, Server};
use mamori_scan::tls::{probe_version, TlsVersion, VersionAnswer};
use std::time::Duration;

#[tokio::test]
async fn item_57_only_tls_1_2_and_1_3_are_accepted() {
    let s = Server::start(Opts::default()).await;
    let addr = format!("127.0.0.1:{}", s.port()).parse().unwrap();
    for v in TlsVersion::ALL {
        let answer = probe_version(addr, Some("localhost"), v, Duration::from_secs(5)).await.unwrap();
        let want = matches!(v, TlsVersion::Tls12 | TlsVersion::Tls13);
        assert_eq!(answer.accepted(), want, "{}: {answer:?}", v.name());
        if !want {
            assert!(
                matches!(answer, VersionAnswer::Alert(_) | VersionAnswer::Closed),
                "{}: refused with an alert or a close, got {answer:?}",
                v.name()
            );
        }
    }
}

/// The same fact from an independent client: OpenSSL's s_client.
#[tokio::test]
async fn item_57_openssl_agrees() {
    let s = Server::start(Opts::default()).await;
    let connect = format!("127.0.0.1:{}", s.port());
    let handshake = |flag: &'static str| {
        let connect = connect.clone();
        async move {
            let out = tokio::process::Command::new("openssl")
                .args(["s_client", "-connect", &connect, flag, "-cipher", "DEFAULT:@SECLEVEL=0"])
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .expect("openssl is installed by scripts/test");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            (out.status.success(), text)
        }
    };
    for flag in ["-tls1", "-tls1_1"] {
        let (ok, text) = handshake(flag).await;
        assert!(!ok, "{flag} was accepted:\n{text}");
    }
    for (flag, proto) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let (ok, text) = handshake(flag).await;
        assert!(ok && text.contains(proto), "{flag} refused:\n{text}");
        assert!(!text.contains("Cipher is (NONE)"), "{flag}:\n{text}");
    }
}

/// Debian's testssl.sh against the server with a certificate from a test CA:
/// no finding of severity MEDIUM or worse but those that only say the test
/// CA is not a public one (no revocation service, no CAA record, no
/// certificate transparency, not in the public trust stores), and the
/// server, not the client, chooses the cipher suite.
#[tokio::test]
async fn item_57_testssl_finds_nothing_medium_or_worse_and_the_server_orders_the_ciphers() {
    let Some(testssl) = program_on_path("testssl") else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("testssl is not installed: the TLS audit must run in CI (scripts/test installs testssl.sh)");
        }
        eprintln!("\n*** SKIPPED the testssl audit: testssl is not installed. Run ./scripts/test to include it. ***\n");
        return;
    };
    let pki = tempfile::TempDir::new().unwrap();
    let path = |name: &str| pki.path().join(name).display().to_string();
    test_ca_and_leaf(pki.path());
    let s = Server::start(
        Opts::default()
            .args(&["--tls-cert", &path("leaf.crt"), "--tls-key", &path("leaf.key")])
            .trust(&pki.path().join("ca.pem")),
    )
    .await;
    assert_eq!(s.get("/healthz").await.status(), 200, "the server answers with the test CA's certificate");

    let started = std::time::Instant::now();
    let out = tokio::time::timeout(
        Duration::from_secs(300),
        tokio::process::Command::new(testssl)
            .args(["--quiet", "--color", "0", "--warnings", "off", "--nodns", "none"])
            .args(["--connect-timeout", "5", "--openssl-timeout", "5"])
            .args(["--add-ca", &path("ca.pem"), "--jsonfile-pretty", &path("testssl.json")])
            // Protocols, cipher categories, forward secrecy, server
            // preferences, certificate and defaults, headers, vulnerabilities.
            .args(["-p", "-s", "-f", "-P", "-S", "-h", "-U"])
            .arg(format!("127.0.0.1:{}", s.port()))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("testssl finishes within 300 s")
    .expect("run testssl");
    eprintln!("testssl took {:.0?}", started.elapsed());
    let text = String::from_utf8_lossy(&out.stdout);
    let json = std::fs::read_to_string(path("testssl.json"))
        .unwrap_or_else(|e| panic!("testssl wrote no JSON ({e}):\n{text}\n{}", String::from_utf8_lossy(&out.stderr)));
    let report: serde_json::Value = serde_json::from_str(&json).expect("testssl's JSON parses");
    let mut findings = Vec::new();
    collect_findings(&report, &mut findings);

    for id in ["TLS1_2", "cipherlist_STRONG", "cipher_order", "cert_keySize", "HSTS_time", "heartbleed", "ROBOT"] {
        assert!(findings.iter().any(|f| f.id == id), "testssl did not report {id}; its output:\n{text}");
    }
    let bad: Vec<String> = findings
        .iter()
        .filter(|f| matches!(f.severity.as_str(), "MEDIUM" | "HIGH" | "CRITICAL" | "FATAL"))
        .filter(|f| !ABOUT_THE_TEST_CA.contains(&f.id.as_str()))
        .map(|f| format!("{} {}: {}", f.severity, f.id, f.finding))
        .collect();
    assert!(bad.is_empty(), "testssl findings:\n{}\n\nits output:\n{text}", bad.join("\n"));
    let order = findings.iter().find(|f| f.id == "cipher_order").expect("checked above");
    assert_eq!(order.severity, "OK", "cipher order: {}", order.finding);
    let offered: Vec<&str> = findings
        .iter()
        .filter(|f| (f.id.starts_with("TLS1") || f.id.starts_with("SSL")) && f.finding.starts_with("offered"))
        .map(|f| f.id.as_str())
        .collect();
    crate::diagnosis::record(
        "testssl",
        &format!(
            "## testssl.sh (TLS)\n\nProtocols, ciphers, forward secrecy, server preference, certificate, headers and \
             known vulnerabilities against mamori with a certificate from a test CA: {} findings, none MEDIUM or worse \
             but those about the test CA itself ({}). Protocols offered: {}.\n",
            findings.len(),
            ABOUT_THE_TEST_CA.join(", "),
            offered.join(", ")
        ),
    );
}

/// testssl's findings that are about the test CA, not about the server: a
/// private CA has no revocation service, CAA record or certificate
/// transparency logs, and is in no public trust store.
const ABOUT_THE_TEST_CA: &[&str] = &[
    "cert_revocation",
    "cert_crlDistributionPoints",
    "cert_ocspURL",
    "OCSP_stapling",
    "cert_mustStapleExtension",
    "DNS_CAArecord",
    "certificate_transparency",
    "cert_trust",
    "cert_chain_of_trust",
];

struct Finding {
    id: String,
    severity: String,
    finding: String,
}

/// Every object with an `id` and a `severity`, wherever it is in the report.
fn collect_findings(v: &serde_json::Value, out: &mut Vec<Finding>) {
    match v {
        serde_json::Value::Object(map) => {
            if let (Some(id), Some(severity)) = (map.get("id"), map.get("severity")) {
                out.push(Finding {
                    id: id.as_str().unwrap_or_default().to_owned(),
                    severity: severity.as_str().unwrap_or_default().to_owned(),
                    finding: map.get("finding").and_then(|f| f.as_str()).unwrap_or_default().to_owned(),
                });
            }
            map.values().for_each(|v| collect_findings(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_findings(v, out)),
        _ => {}
    }
}

/// A test CA (`ca.pem`) and a server certificate it signed for 127.0.0.1
/// and localhost (`leaf.crt`, `leaf.key`), valid for 200 days.
pub(crate) fn test_ca_and_leaf(dir: &std::path::Path) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
    let now = time::OffsetDateTime::now_utc();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.distinguished_name.push(DnType::CommonName, "mamori test CA");
    ca_params.not_before = now - time::Duration::days(1);
    ca_params.not_after = now + time::Duration::days(365);
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, "localhost");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = now - time::Duration::days(1);
    leaf.not_after = now + time::Duration::days(200);
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &ca, &ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("leaf.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("leaf.key"), key.serialize_pem()).unwrap();
}

fn program_on_path(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}
