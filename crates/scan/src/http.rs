//! HTTP for the checks: redirects followed only within a page's origin
//! and only where a check asks ([`Fetcher::follow`]), no proxy, any certificate
//! accepted (the certificate is `tls.certificate`'s business), short
//! timeouts, the host pinned to the address the scan resolved, and bodies
//! read only up to [`MAX_BODY`].
//!
//! HTTPS goes over rustls (through reqwest) unless the server speaks only
//! what rustls refuses (CBC suites with RSA key exchange, a 1024-bit key: a
//! ward's ten-year-old systems). Then, for that target only, pages are
//! fetched over the system's OpenSSL at security level 0 with every suite
//! enabled: the verdict on such a server is what the ward needs, and a scan
//! must not end in `error` for it. mamori's own server is never touched by
//! this: it is rustls with TLS 1.2 and 1.3 only.

use http_body_util::BodyExt;
use openssl::ssl::SslConnector;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub const USER_AGENT: &str = "mamori-scan (security requirements verification)";

/// The most of a body a check reads; the rest is never received.
pub const MAX_BODY: usize = 256 * 1024;

/// The most redirects [`Fetcher::follow`] takes from one page.
pub const MAX_REDIRECTS: usize = 5;

/// The longest URL a redirect is followed to: what common servers take in a
/// request line (8 KiB). Every link on the page it leads to is read against
/// it, and a hostile server's `Location` may run to hundreds of kilobytes.
pub const MAX_URL: usize = 8 * 1024;

pub struct Fetched {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

/// Fetches the pages of one target.
pub struct Fetcher {
    client: reqwest::Client,
    host: String,
    ip: IpAddr,
    timeout: Duration,
    /// Set once rustls could not talk to the server and OpenSSL could.
    legacy: Option<SslConnector>,
}

impl Fetcher {
    /// A fetcher that reaches `host` only at `ip`, whatever DNS says later.
    pub fn new(host: &str, ip: IpAddr, timeout: Duration) -> Fetcher {
        let mut b = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(USER_AGENT);
        if host.parse::<IpAddr>().is_err() {
            // The port is taken from each URL (reqwest ignores this one).
            b = b.resolve(host, SocketAddr::new(ip, 0));
        }
        let client = b.build().expect("a client with these settings always builds");
        Fetcher { client, host: host.to_owned(), ip, timeout, legacy: None }
    }

    /// Fetches `https_url` over OpenSSL; if that works where rustls did not,
    /// every later HTTPS fetch of this target goes that way too.
    pub async fn try_legacy(&mut self, https_url: &str) -> Result<Fetched, String> {
        let connector = crate::legacy::connector(None)?;
        let fetched = self.legacy_get(&connector, https_url).await?;
        self.legacy = Some(connector);
        Ok(fetched)
    }

    /// Whether HTTPS pages come over OpenSSL.
    pub fn legacy(&self) -> bool {
        self.legacy.is_some()
    }

    async fn legacy_get(&self, connector: &SslConnector, url: &str) -> Result<Fetched, String> {
        let u = url::Url::parse(url).map_err(|e| e.to_string())?;
        let port = u.port_or_known_default().unwrap_or(443);
        let path = match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        };
        let authority = match u.port() {
            Some(p) => format!("{}:{p}", u.host_str().unwrap_or_default()),
            None => u.host_str().unwrap_or_default().to_owned(),
        };
        let deadline = tokio::time::Instant::now() + self.timeout;
        let go = async {
            let tcp =
                tokio::net::TcpStream::connect(SocketAddr::new(self.ip, port)).await.map_err(|e| e.to_string())?;
            let named = self.host.parse::<IpAddr>().is_err();
            let ssl = connector
                .configure()
                .map_err(|e| e.to_string())?
                .verify_hostname(false)
                .use_server_name_indication(named)
                .into_ssl(&self.host)
                .map_err(|e| e.to_string())?;
            let mut tls = tokio_openssl::SslStream::new(ssl, tcp).map_err(|e| e.to_string())?;
            std::pin::Pin::new(&mut tls).connect().await.map_err(|e| e.to_string())?;
            let io = hyper_util::rt::TokioIo::new(tls);
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.map_err(|e| e.to_string())?;
            // The connection is dropped with the task once the body is read
            // (or the cap is reached).
            let conn = tokio::spawn(conn);
            let req = hyper::Request::get(path)
                .header("host", authority)
                .header("user-agent", USER_AGENT)
                .body(http_body_util::Empty::<hyper::body::Bytes>::new())
                .map_err(|e| e.to_string())?;
            let res = sender.send_request(req).await.map_err(|e| e.to_string())?;
            Ok::<_, String>((res, conn))
        };
        let (mut res, conn) = tokio::time::timeout_at(deadline, go).await.map_err(|_| "timed out".to_owned())??;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let mut bytes = Vec::new();
        // The status and headers arrived: they are the answer, with what of
        // the body came before it broke off or the time ran out.
        let read = async {
            while let Some(Ok(frame)) = res.body_mut().frame().await {
                let Ok(data) = frame.into_data() else { continue };
                let room = MAX_BODY - bytes.len();
                bytes.extend_from_slice(&data[..data.len().min(room)]);
                if bytes.len() == MAX_BODY {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout_at(deadline, read).await;
        conn.abort();
        Ok(Fetched { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() })
    }

    /// Whether this client cannot talk TLS to `https_url` at all (the
    /// connection made, the handshake refused: an old server's suites or
    /// key), as against no answer in time, which says nothing of the
    /// server's TLS; `false` when it answered.
    pub async fn tls_refused(&self, https_url: &str) -> bool {
        match self.client.get(https_url).send().await {
            Ok(_) => false,
            Err(e) => e.is_connect() && !e.is_timeout(),
        }
    }

    /// GET a URL; the body is read up to [`MAX_BODY`] and the connection is
    /// dropped there, so an endless body costs no more than that. Once the
    /// status and headers arrived, they are the answer, with what of the
    /// body came before it broke off or the time ran out: a page that
    /// breaks off (an exposed file served short, an error page cut by the
    /// crash it reports) is still the page it began, never "not answered".
    pub async fn get(&self, url: &str) -> Result<Fetched, String> {
        if let (Some(connector), true) = (&self.legacy, url.starts_with("https://")) {
            return self.legacy_get(connector, url).await;
        }
        let r = match self.client.get(url).send().await {
            Ok(r) => r,
            // A kept-alive connection the server closed as this request
            // went out on it (an idle timeout, a server under load) fails
            // before any answer: asked once more, on a new connection. A
            // path taken as not served for it hid an exposed file.
            Err(e) if !e.is_timeout() => self.client.get(url).send().await.map_err(|e| e.to_string())?,
            Err(e) => return Err(e.to_string()),
        };
        Ok(read(r).await)
    }

    /// [`Fetcher::get`] of `url`, then of each redirect's target while it
    /// stays on the same origin (scheme, host and port: the pinned address,
    /// never another server), up to `most` ([`MAX_REDIRECTS`] at the most) and never twice the
    /// same URL: every answer in order with its URL, the last the page a
    /// browser would show (or the redirect that leaves the origin, or the
    /// one past `most`). A hop that cannot be fetched is an error: the page
    /// is not known.
    pub async fn follow(&self, url: &str, most: usize) -> Result<Vec<(url::Url, Fetched)>, String> {
        let mut at = url::Url::parse(url).map_err(|e| e.to_string())?;
        let mut hops: Vec<(url::Url, Fetched)> = Vec::new();
        loop {
            let f = self.get(at.as_str()).await?;
            let next = matches!(f.status, 301 | 302 | 303 | 307 | 308)
                .then(|| f.headers.get("location"))
                .flatten()
                .and_then(|l| at.join(&String::from_utf8_lossy(l.as_bytes())).ok())
                .map(|mut n| {
                    n.set_fragment(None);
                    n
                })
                .filter(|n| n.as_str().len() <= MAX_URL)
                .filter(|n| n.origin() == at.origin() && n != &at && !hops.iter().any(|(u, _)| u == n));
            hops.push((at, f));
            match next {
                Some(n) if hops.len() <= most.min(MAX_REDIRECTS) => at = n,
                _ => return Ok(hops),
            }
        }
    }

    /// [`Fetcher::get`] of a plain-HTTP URL, telling a connection never
    /// made (refused, or dropped by a firewall: nothing is served there)
    /// from one made and not answered as HTTP within the time or in a form
    /// the client refuses (`Err(NoAnswer::Unread)`), which a browser may
    /// still render: that serves something, as far as anyone can tell.
    pub async fn get_plain(&self, url: &str) -> Result<Fetched, NoAnswer> {
        match self.client.get(url).send().await {
            Ok(r) => Ok(read(r).await),
            Err(e) if e.is_connect() => Err(NoAnswer::NotServed(e.to_string())),
            Err(e) => Err(NoAnswer::Unread(e.to_string())),
        }
    }
}

/// Why plain HTTP gave no page ([`Fetcher::get_plain`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoAnswer {
    /// No connection: refused, or nothing answered the connection.
    NotServed(String),
    /// Connected, and no answer read: silence, or what the client refuses.
    Unread(String),
}

/// The status, headers and body (up to [`MAX_BODY`]) of an answer.
async fn read(mut r: reqwest::Response) -> Fetched {
    {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let mut bytes = Vec::new();
        while let Ok(Some(chunk)) = r.chunk().await {
            let room = MAX_BODY - bytes.len();
            bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if bytes.len() == MAX_BODY {
                break;
            }
        }
        let body = String::from_utf8_lossy(&bytes).into_owned();
        Fetched { status, headers, body }
    }
}
