//! The accept loops: HTTPS for the application and, optionally, plain HTTP
//! that only redirects.
//!
//! Written on hyper-util's connection builder rather than a ready-made
//! server because mamori needs, together, a TLS handshake timeout, a cap on
//! concurrent connections, a header read timeout and size limit against
//! slow clients, the peer address on every request, and bounded graceful
//! shutdown.

use crate::client::PeerAddr;
use crate::Limits;
use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use ipnet::IpNet;
use mamori_core::policy::source_of;
use rustls::ServerConfig;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Resolves once shutdown has been asked for.
pub type ShutdownSignal = watch::Receiver<bool>;

/// The connections open from each source ([`source_of`]), so that one
/// address cannot hold every slot of [`Limits::max_connections`]: each may
/// hold [`Limits::max_connections_per_address`]. The reverse proxies the server trusts are
/// exempt (every user comes through them; limiting them is theirs). The
/// map holds an entry only while its source has a connection open.
struct PerAddress {
    cap: usize,
    exempt: Arc<[IpNet]>,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted against its source; uncounted when dropped.
struct Counted(Arc<PerAddress>, Option<IpAddr>);

impl PerAddress {
    fn admit(this: &Arc<PerAddress>, peer: IpAddr) -> Option<Counted> {
        if this.exempt.iter().any(|n| n.contains(&peer.to_canonical())) {
            return Some(Counted(this.clone(), None));
        }
        let source = source_of(peer);
        let mut open = this.open.lock().expect("not poisoned");
        let n = open.entry(source).or_insert(0);
        if *n >= this.cap {
            return None;
        }
        *n += 1;
        Some(Counted(this.clone(), Some(source)))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let Some(source) = self.1 else { return };
        let mut open = self.0.open.lock().expect("not poisoned");
        if let Some(n) = open.get_mut(&source) {
            *n -= 1;
            if *n == 0 {
                open.remove(&source);
            }
        }
    }
}

/// The connections the server may hold: [`Limits::max_connections`] in
/// all and [`Limits::max_connections_per_address`] from one source,
/// across every listener (the HTTPS one and the plain one that redirects).
/// Each listener counting on its own let one address hold twice its share,
/// and the process twice the connections, which the open-files limit
/// might not hold: past it, `accept` fails for everyone, and so does every
/// file and connection mamori opens.
pub struct Slots {
    all: Arc<Semaphore>,
    per_address: Arc<PerAddress>,
}

impl Slots {
    /// Connections from `trusted_proxies` are not counted per address.
    pub fn new(limits: &Limits, trusted_proxies: Arc<[IpNet]>) -> Arc<Slots> {
        Arc::new(Slots {
            all: Arc::new(Semaphore::new(limits.max_connections)),
            per_address: Arc::new(PerAddress {
                cap: limits.max_connections_per_address,
                exempt: trusted_proxies,
                open: Mutex::default(),
            }),
        })
    }
}

/// Serves `app` on `listener` until `shutdown`, then lets in-flight requests
/// finish for at most `limits.shutdown_grace`. With `tls`, every connection
/// is HTTPS; without, plain HTTP (the redirect listener only). Each
/// connection takes one of `slots`, shared with the server's other listener.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    app: Router,
    (limits, slots): (Limits, Arc<Slots>),
    mut shutdown: ShutdownSignal,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    let mut refused = RefusedLog::default();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors, for example: wait, do not spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let Some(counted) = PerAddress::admit(&slots.per_address, peer.ip()) else {
            refused.note(peer, "connection limit of one address reached; connection refused");
            continue;
        };
        let Ok(slot) = slots.all.clone().try_acquire_owned() else {
            refused.note(peer, "connection limit reached; connection refused");
            continue;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _slot = (slot, counted);
            let _ = tcp.set_nodelay(true);
            // hyper sets no deadline on writing a response: a client that
            // stops reading (pipelined requests, a receive window of almost
            // nothing) held its connection, and its slot, for ever. No write
            // stalls longer than a request may take.
            let mut tcp = tokio_io_timeout::TimeoutStream::new(tcp);
            tcp.set_write_timeout(Some(limits.request_timeout));
            let tcp = Box::pin(tcp);
            let service = TowerToHyperService::new(app.map_request(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(PeerAddr(peer));
                req
            }));
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_buf_size(limits.max_header_bytes.max(8192));
            let result = match acceptor {
                Some(acceptor) => {
                    let stream = match tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, "TLS handshake failed: {e}");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                    watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await
                }
                None => watcher.watch(http.serve_connection(TokioIo::new(tcp), service)).await,
            };
            if let Err(e) = result {
                tracing::debug!(%peer, "connection ended with an error: {e}");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::debug!("all connections closed"),
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!("requests still running after {:?}; closing them", limits.shutdown_grace);
        }
    }
}

/// Refused connections, logged at most once a second with the number left
/// unlogged since: a flood of connections wrote one line each, and the
/// log waits for its writer, so a slow one held up the accept loop.
#[derive(Default)]
struct RefusedLog {
    last: Option<std::time::Instant>,
    unlogged: u64,
}

impl RefusedLog {
    fn note(&mut self, peer: std::net::SocketAddr, what: &'static str) {
        let now = std::time::Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < std::time::Duration::from_secs(1)) {
            self.unlogged += 1;
            return;
        }
        tracing::warn!(%peer, more = self.unlogged, "{what} ({} more refused since the last line)", self.unlogged);
        (self.last, self.unlogged) = (Some(now), 0);
    }
}
