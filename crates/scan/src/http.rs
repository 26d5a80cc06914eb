//! HTTP for the checks: no redirects followed, any certificate accepted
//! (the certificate is `tls.certificate`'s business), short timeouts.

use std::time::Duration;

pub const USER_AGENT: &str = "mamori-scan (security requirements verification)";

pub struct Fetched {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(USER_AGENT)
        .build()
        .expect("a client with these settings always builds")
}

/// GET a URL; bodies are cut at 256 KiB.
pub async fn get(client: &reqwest::Client, url: &str) -> Result<Fetched, String> {
    let r = client.get(url).send().await.map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.map_err(|e| e.to_string())?;
    let body = String::from_utf8_lossy(&bytes[..bytes.len().min(256 * 1024)]).into_owned();
    Ok(Fetched { status, headers, body })
}
