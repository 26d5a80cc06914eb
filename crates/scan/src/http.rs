//! HTTP for the checks: no redirects followed, no proxy, any certificate
//! accepted (the certificate is `tls.certificate`'s business), short
//! timeouts, the host pinned to the address the scan resolved, and bodies
//! read only up to [`MAX_BODY`].

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub const USER_AGENT: &str = "mamori-scan (security requirements verification)";

/// The most of a body a check reads; the rest is never received.
pub const MAX_BODY: usize = 256 * 1024;

pub struct Fetched {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

/// A client that reaches `host` only at `addr`, whatever DNS says later.
pub fn client(host: &str, addr: IpAddr, timeout: Duration) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(USER_AGENT);
    if host.parse::<IpAddr>().is_err() {
        // The port is taken from each URL (reqwest ignores this one).
        b = b.resolve(host, SocketAddr::new(addr, 0));
    }
    b.build().expect("a client with these settings always builds")
}

/// GET a URL; the body is read up to [`MAX_BODY`] and the connection is
/// dropped there, so an endless body costs no more than that.
pub async fn get(client: &reqwest::Client, url: &str) -> Result<Fetched, String> {
    let mut r = client.get(url).send().await.map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let mut bytes = Vec::new();
    while let Some(chunk) = r.chunk().await.map_err(|e| e.to_string())? {
        let room = MAX_BODY - bytes.len();
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if bytes.len() == MAX_BODY {
            break;
        }
    }
    let body = String::from_utf8_lossy(&bytes).into_owned();
    Ok(Fetched { status, headers, body })
}
