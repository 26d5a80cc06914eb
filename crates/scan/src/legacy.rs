//! The system's OpenSSL at security level 0, for servers rustls cannot talk
//! to (CBC suites with RSA key exchange, keys under 2048 bits): used by the
//! scan only, to fetch such a server's pages and certificate. mamori's own
//! server never uses it.

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use openssl::x509::X509;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// A client that speaks every protocol version and suite the library has.
/// With `anchors`, the peer's chain is checked against them (the result is
/// read, never enforced: the handshake goes on either way).
pub fn connector(anchors: Option<&[u8]>) -> Result<SslConnector, String> {
    let e = |e: openssl::error::ErrorStack| e.to_string();
    let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(e)?;
    b.set_security_level(0);
    b.set_cipher_list("ALL:COMPLEMENTOFALL:@SECLEVEL=0").map_err(e)?;
    b.set_min_proto_version(None).map_err(e)?;
    b.set_verify(SslVerifyMode::NONE);
    match anchors {
        Some(pem) => {
            for cert in X509::stack_from_pem(pem).map_err(e)? {
                b.cert_store_mut().add_cert(cert).map_err(e)?;
            }
        }
        None => b.set_default_verify_paths().map_err(e)?,
    }
    Ok(b.build())
}

/// A TLS connection to `ip:port` for `host` (SNI when it is a name; the
/// name or address checked against the certificate).
pub async fn connect(
    connector: &SslConnector,
    ip: IpAddr,
    port: u16,
    host: &str,
) -> Result<tokio_openssl::SslStream<tokio::net::TcpStream>, String> {
    let tcp = tokio::net::TcpStream::connect(SocketAddr::new(ip, port)).await.map_err(|e| e.to_string())?;
    let named = host.parse::<IpAddr>().is_err();
    let mut config = connector.configure().map_err(|e| e.to_string())?;
    if !named {
        // verify_hostname checks names only; an address is set by hand.
        let addr: IpAddr = host.parse().map_err(|_| "bad address".to_owned())?;
        config.param_mut().set_ip(addr).map_err(|e| e.to_string())?;
    }
    let ssl =
        config.verify_hostname(named).use_server_name_indication(named).into_ssl(host).map_err(|e| e.to_string())?;
    let mut tls = tokio_openssl::SslStream::new(ssl, tcp).map_err(|e| e.to_string())?;
    std::pin::Pin::new(&mut tls).connect().await.map_err(|e| e.to_string())?;
    Ok(tls)
}

/// The server's chain (DER, leaf first) and whether it verifies to
/// `anchors` (the system's roots otherwise) for `host`, now.
pub async fn certificate(
    ip: IpAddr,
    port: u16,
    host: &str,
    anchors: Option<&[u8]>,
    timeout: Duration,
) -> Result<(Vec<Vec<u8>>, Result<(), String>), String> {
    let connector = connector(anchors)?;
    let go = async {
        let tls = connect(&connector, ip, port, host).await?;
        let ssl = tls.ssl();
        let chain: Vec<Vec<u8>> = match ssl.peer_cert_chain() {
            Some(stack) => stack.iter().filter_map(|c| c.to_der().ok()).collect(),
            None => ssl.peer_certificate().and_then(|c| c.to_der().ok()).into_iter().collect(),
        };
        let verified = ssl.verify_result();
        let verdict = if verified == openssl::x509::X509VerifyResult::OK {
            Ok(())
        } else {
            Err(format!("invalid certificate: {}", verified.error_string()))
        };
        Ok((chain, verdict))
    };
    tokio::time::timeout(timeout, go).await.map_err(|_| "timed out".to_owned())?
}
