//! A small SMTP server on loopback for the notifier's tests: EHLO,
//! STARTTLS (a certificate of its own, for "localhost"), MAIL, RCPT, DATA,
//! QUIT; recipients it is told to refuse get 550. Written here because what it must show (the exact bytes each
//! message arrived as, after TLS) is what a test asserts on; it relays
//! nothing.

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One message as received.
#[derive(Debug, Clone, Default)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The DATA as sent, dot-stuffing undone.
    pub data: String,
    /// Whether STARTTLS was in effect when it arrived.
    pub tls: bool,
}

pub struct SmtpServer {
    pub port: u16,
    /// The server's certificate (PEM), to trust.
    pub cert_pem: String,
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        SmtpServer::start_refusing(&[]).await
    }

    /// A server that answers `RCPT TO` for any of `refused` with 550 (a
    /// relay that knows no such user).
    pub async fn start_refusing(refused: &[&str]) -> SmtpServer {
        let refused: Arc<Vec<String>> = Arc::new(refused.iter().map(|r| format!("<{r}>")).collect());
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let cert_pem = cert.cert.pem();
        let der = rustls_pki_types::CertificateDer::from(cert.cert.der().to_vec());
        let key = rustls_pki_types::PrivateKeyDer::try_from(cert.key_pair.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![der], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, store, refused) = (acceptor.clone(), store.clone(), refused.clone());
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    stream.get_mut().write_all(b"220 localhost ESMTP test\r\n").await.ok();
                    if let Some(Upgrade::StartTls) = session(&mut stream, &store, &refused, false).await {
                        if let Ok(tls) = acceptor.accept(stream.into_inner()).await {
                            let mut tls = BufReader::new(tls);
                            session(&mut tls, &store, &refused, true).await;
                        }
                    }
                });
            }
        });
        SmtpServer { port, cert_pem, received }
    }

    pub fn messages(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits up to `secs` seconds until `n` messages have arrived.
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        for _ in 0..secs * 10 {
            if self.messages().len() >= n {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        self.messages()
    }
}

enum Upgrade {
    StartTls,
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    store: &Mutex<Vec<Received>>,
    refused: &[String],
    tls: bool,
) -> Option<Upgrade> {
    let mut msg = Received { tls, ..Received::default() };
    loop {
        let mut line = String::new();
        if s.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            if tls {
                b"250-localhost\r\n250 8BITMIME\r\n"
            } else {
                b"250-localhost\r\n250-8BITMIME\r\n250 STARTTLS\r\n"
            }
        } else if upper.starts_with("STARTTLS") {
            s.get_mut().write_all(b"220 go ahead\r\n").await.ok()?;
            return Some(Upgrade::StartTls);
        } else if upper.starts_with("MAIL FROM:") {
            msg.from = line[10..].trim().to_owned();
            b"250 ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            let to = line[8..].trim().to_owned();
            if refused.contains(&to) {
                b"550 5.1.1 no such user\r\n"
            } else {
                msg.to.push(to);
                b"250 ok\r\n"
            }
        } else if upper.starts_with("DATA") {
            s.get_mut().write_all(b"354 go on\r\n").await.ok()?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if s.read_line(&mut l).await.ok()? == 0 {
                    return None;
                }
                if l == ".\r\n" {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
            }
            msg.data = data;
            store.lock().unwrap().push(std::mem::replace(&mut msg, Received { tls, ..Received::default() }));
            b"250 queued\r\n"
        } else if upper.starts_with("QUIT") {
            s.get_mut().write_all(b"221 bye\r\n").await.ok()?;
            return None;
        } else if upper.starts_with("RSET") {
            msg = Received { tls, ..Received::default() };
            b"250 ok\r\n"
        } else if upper.starts_with("NOOP") {
            b"250 ok\r\n"
        } else {
            b"502 not implemented\r\n"
        };
        s.get_mut().write_all(reply).await.ok()?;
    }
}
