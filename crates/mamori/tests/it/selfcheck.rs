//! `mamori self-check` on a running instance: the web items its scanner
//! verifies pass with a certificate from a (test) CA, and what the operator
//! has not set up yet is said plainly, never passed.

use crate::harness::{run, Opts, Server};

fn verdicts(out: &str) -> std::collections::BTreeMap<u64, String> {
    let v: serde_json::Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            assert!(i["evidence"].as_array().is_some_and(|e| !e.is_empty()), "evidence for every item: {i}");
            (i["number"].as_u64().unwrap(), i["verdict"].as_str().unwrap().to_owned())
        })
        .collect()
}

#[tokio::test]
async fn self_check_on_a_fresh_install_with_a_test_ca_certificate_passes_the_web_items_and_fails_the_missing_backup() {
    let pki = tempfile::TempDir::new().unwrap();
    crate::tls::test_ca_and_leaf(pki.path());
    let path = |name: &str| pki.path().join(name).display().to_string();
    let s = Server::start(
        Opts::default()
            .args(&["--tls-cert", &path("leaf.crt"), "--tls-key", &path("leaf.key")])
            .trust(&pki.path().join("ca.pem")),
    )
    .await;
    let data = s.data_dir().display().to_string();
    let args = ["self-check", "--url", &s.base, "--ca-file", &path("ca.pem"), "--data-dir", &data, "--format", "json"];
    let (code, out, err) = run(&args).await;
    let got = verdicts(&out);
    for n in [33, 44, 53, 55, 56, 57, 4, 29, 41, 46, 61, 75] {
        assert_eq!(got.get(&n).map(String::as_str), Some("pass"), "No.{n}: {out}\n{err}");
    }
    // Nothing set up for backups or notification: said, not passed.
    assert_eq!(got.get(&19).map(String::as_str), Some("fail"), "{out}");
    assert_eq!(got.get(&23).map(String::as_str), Some("fail"), "{out}");
    assert_eq!(code, 1, "not every item passes: {out}");
    assert!(got.values().all(|v| ["pass", "warn", "fail", "unknown"].contains(&v.as_str())));

    // Without the CA, the certificate cannot be shown good: not a pass.
    let (_, out, _) = run(&["self-check", "--url", &s.base, "--data-dir", &data, "--format", "json"]).await;
    assert_ne!(verdicts(&out).get(&56).map(String::as_str), Some("pass"), "{out}");
    // In words, in Japanese first.
    let (_, text, _) = run(&["self-check", "--url", &s.base, "--ca-file", &path("ca.pem"), "--data-dir", &data]).await;
    assert!(text.contains("No.19  不適合 (fail)") && text.contains("適合 (pass)"), "{text}");
    s.kill().await;
}
