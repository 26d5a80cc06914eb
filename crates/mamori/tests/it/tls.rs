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
