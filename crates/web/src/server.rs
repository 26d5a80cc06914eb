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
use mamori_core::policy::{block_of, source_of};
use rustls::ServerConfig;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Resolves once shutdown has been asked for.
pub type ShutdownSignal = watch::Receiver<bool>;

/// The connections open from each source ([`source_of`]), so that one
/// address cannot hold every slot of [`Limits::max_connections`]: each may
/// hold [`Limits::max_connections_per_address`]; and when each may open
/// its next ([`Pace`]), so that one address cannot keep the cores busy with
/// handshakes. The reverse proxies the server trusts are exempt (every user
/// comes through them; limiting them is theirs). The map of open ones
/// holds an entry only while its source has a connection open.
struct PerAddress {
    cap: usize,
    /// The free slots at which the reserve begins ([`FEW`]).
    reserve: usize,
    exempt: Arc<[IpNet]>,
    open: Mutex<Open>,
    pace: Mutex<Pace>,
}

/// Connections open, by source (an address, an IPv6 /64) and by block (an
/// address, an IPv6 /48).
#[derive(Default)]
struct Open {
    sources: HashMap<IpAddr, usize>,
    blocks: HashMap<IpAddr, usize>,
}

/// The last quarter of the slots ([`Limits::max_connections`] / 4) is kept
/// for sources and blocks holding fewer than this many connections: two
/// sources each under its share (half the slots) held every slot, slow
/// readers or connections that never began their handshake, and nobody
/// else could connect; so could one /48's /64s. A browser opens six.
const FEW: usize = 16;

/// Sources paced at once: past them, the sources not paced yet share one
/// pace (whoever has a /48 has 65,536 /64s), so the map is bounded
/// whatever the addresses.
const MOST_SOURCES: usize = 65_536;

/// A source's connections at once before they are paced: the few a page
/// opens, and an office's people behind one address, never wait.
const BURST_SECONDS: u32 = 2;

/// When each source's next connection is due, by the generic cell rate
/// algorithm (GCRA): a source opens [`Limits::new_connections_per_address`]
/// a second, and a burst of [`BURST_SECONDS`]' worth at once; a
/// connection past that waits its turn before its handshake, reserved in
/// order, and one that would wait longer than the handshake may take is
/// refused. Each handshake is the server's key exchange and signature,
/// asked for with a hello a client can send again and again at no cost of
/// its own. (Written here rather than with the governor crate: its keyed
/// limiter checks without reserving, so hundreds of waiting connections
/// would each poll and wake together.)
struct Pace {
    interval: Duration,
    burst: Duration,
    most_wait: Duration,
    /// By source, when its next connection is due; `None`, the sources
    /// that came past [`MOST_SOURCES`].
    due: HashMap<Option<IpAddr>, Instant>,
    pruned: Instant,
}

impl Pace {
    fn new(limits: &Limits, now: Instant) -> Pace {
        let per_second = limits.new_connections_per_address.max(1);
        let interval = Duration::from_secs(1) / per_second;
        Pace {
            interval,
            burst: interval * per_second * BURST_SECONDS,
            most_wait: limits.tls_handshake_timeout,
            due: HashMap::new(),
            pruned: now,
        }
    }

    /// How long a connection `source` opens at `now` waits for its turn;
    /// `None`: longer than it may, refused (and no turn taken).
    fn turn(&mut self, source: IpAddr, now: Instant) -> Option<Duration> {
        let key = self.key(source, now);
        let due = self.due.get(&key).map_or(now, |d| (*d).max(now));
        let start = due.checked_sub(self.burst).map_or(now, |s| s.max(now));
        let wait = start - now;
        if wait > self.most_wait {
            return None;
        }
        self.due.insert(key, due + self.interval);
        Some(wait)
    }

    /// The key `source` is paced under: its own while the map has room; a
    /// full map forgets, at most once a second, the sources whose turn has
    /// come (each as one never seen), and past that the rest share one.
    fn key(&mut self, source: IpAddr, now: Instant) -> Option<IpAddr> {
        if self.due.len() < MOST_SOURCES || self.due.contains_key(&Some(source)) {
            return Some(source);
        }
        if now.duration_since(self.pruned) >= Duration::from_secs(1) {
            self.pruned = now;
            self.due.retain(|_, due| *due > now);
            if self.due.len() < MOST_SOURCES {
                return Some(source);
            }
        }
        None
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// The source holds its share of connections.
    Held,
    /// The source's connections wait longer than a handshake may take.
    Paced,
    /// The slots left are the reserve, and the source or its block holds
    /// [`FEW`] or more.
    Reserved,
}

/// One connection counted against its source and block; uncounted when
/// dropped.
struct Counted(Arc<PerAddress>, Option<(IpAddr, IpAddr)>);

impl PerAddress {
    /// Admits a connection of `peer` at `now`, `free` slots left, with how
    /// long it waits for its handshake, or says why not.
    fn admit(this: &Arc<PerAddress>, peer: IpAddr, now: Instant, free: usize) -> Result<(Counted, Duration), Refusal> {
        if this.exempt.iter().any(|n| n.contains(&peer.to_canonical())) {
            return Ok((Counted(this.clone(), None), Duration::ZERO));
        }
        let (source, block) = (source_of(peer), block_of(peer));
        let mut open = this.open.lock().expect("not poisoned");
        let held = |map: &HashMap<IpAddr, usize>, key| map.get(&key).copied().unwrap_or(0);
        let (by_source, by_block) = (held(&open.sources, source), held(&open.blocks, block));
        if by_source >= this.cap {
            return Err(Refusal::Held);
        }
        if free <= this.reserve && (by_source >= FEW || by_block >= FEW) {
            return Err(Refusal::Reserved);
        }
        let wait = this.pace.lock().expect("not poisoned").turn(source, now).ok_or(Refusal::Paced)?;
        *open.sources.entry(source).or_insert(0) += 1;
        *open.blocks.entry(block).or_insert(0) += 1;
        Ok((Counted(this.clone(), Some((source, block))), wait))
    }
}

/// Takes one off `key`'s count, forgetting it at none.
fn uncount(map: &mut HashMap<IpAddr, usize>, key: IpAddr) {
    if let Some(n) = map.get_mut(&key) {
        *n -= 1;
        if *n == 0 {
            map.remove(&key);
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let Some((source, block)) = self.1 else { return };
        let mut open = self.0.open.lock().expect("not poisoned");
        uncount(&mut open.sources, source);
        uncount(&mut open.blocks, block);
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
                reserve: limits.max_connections / 4,
                exempt: trusted_proxies,
                open: Mutex::default(),
                pace: Mutex::new(Pace::new(limits, Instant::now())),
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
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let free = slots.all.available_permits();
        let (counted, wait) = match PerAddress::admit(&slots.per_address, peer.ip(), Instant::now(), free) {
            Ok(admitted) => admitted,
            Err(Refusal::Held) => {
                refused.note(peer, "connection limit of one address reached; connection refused");
                continue;
            }
            Err(Refusal::Paced) => {
                refused.note(peer, "new connections of one address past its rate; connection refused");
                continue;
            }
            Err(Refusal::Reserved) => {
                refused.note(
                    peer,
                    "the last quarter of connections is kept for addresses holding few; connection refused",
                );
                continue;
            }
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
            // Its turn among the source's connections ([`Pace`]).
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
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
    last: Option<Instant>,
    unlogged: u64,
}

impl RefusedLog {
    fn note(&mut self, peer: std::net::SocketAddr, what: &'static str) {
        let now = Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
            self.unlogged += 1;
            return;
        }
        tracing::warn!(%peer, more = self.unlogged, "{what} ({} more refused since the last line)", self.unlogged);
        (self.last, self.unlogged) = (Some(now), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn per_address(per_second: u32, cap: usize, exempt: &[&str]) -> Arc<PerAddress> {
        let limits = Limits {
            new_connections_per_address: per_second,
            max_connections_per_address: cap,
            tls_handshake_timeout: Duration::from_secs(10),
            ..Limits::default()
        };
        let exempt: Arc<[IpNet]> = exempt.iter().map(|n| n.parse().unwrap()).collect();
        Slots::new(&limits, exempt).per_address.clone()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A source opens two seconds' worth of connections at once, then one
    /// each turn, each later one waiting its turn in order, up to the
    /// handshake's time; past it, refused with no turn taken. Another
    /// source and a trusted proxy are not held back by it; an IPv6 client
    /// is paced by its /64; a source's turn comes back with the time.
    #[test]
    fn a_source_s_connections_past_its_burst_wait_their_turn_in_order_and_others_do_not() {
        let p = per_address(2, 10_000, &["10.0.0.1/32"]);
        let t0 = Instant::now();
        let mut held = Vec::new();
        let mut waits = Vec::new();
        for _ in 0..30 {
            match PerAddress::admit(&p, ip("192.0.2.1"), t0, usize::MAX) {
                Ok((c, wait)) => (held.push(c), waits.push(wait)).1,
                Err(r) => assert_eq!(r, Refusal::Paced),
            }
        }
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(&ms[..5], [0, 0, 0, 0, 0], "a burst of four and one more: {ms:?}");
        assert_eq!(&ms[5..8], [500, 1000, 1500], "then one each half second: {ms:?}");
        assert_eq!(*ms.last().unwrap(), 10_000, "up to the handshake's ten seconds: {ms:?}");
        assert_eq!(ms.len(), 5 + 20, "the rest refused");
        let other = PerAddress::admit(&p, ip("192.0.2.2"), t0, usize::MAX).unwrap().1;
        assert_eq!(other, Duration::ZERO, "another address has its own");
        assert!(
            (0..100).all(|_| PerAddress::admit(&p, ip("10.0.0.1"), t0, usize::MAX).unwrap().1.is_zero()),
            "a proxy"
        );
        let six: Vec<Duration> = ["2001:db8:1:2::1", "2001:db8:1:2::ffff"]
            .iter()
            .cycle()
            .take(6)
            .map(|a| PerAddress::admit(&p, ip(a), t0, usize::MAX).unwrap().1)
            .collect();
        assert_eq!(six[5], Duration::from_millis(500), "one /64: {six:?}");
        let later = PerAddress::admit(&p, ip("192.0.2.1"), t0 + Duration::from_secs(20), usize::MAX).unwrap().1;
        assert_eq!(later, Duration::ZERO, "its turn came back");
    }

    /// Two sources, each under its share (half the slots), held every slot,
    /// and nobody else could connect; so could one /48's /64s. Past three
    /// quarters of the slots, a source or a block holding [`FEW`] is
    /// refused, and a source holding few is still admitted.
    #[test]
    fn the_last_quarter_of_the_slots_is_kept_for_sources_and_blocks_holding_few() {
        let limits = Limits {
            max_connections: 100,
            max_connections_per_address: 50,
            new_connections_per_address: 100_000,
            ..Limits::default()
        };
        let p = Slots::new(&limits, Arc::from([])).per_address.clone();
        let t0 = Instant::now();
        let mut held = Vec::new();
        let mut take = |peer: &str| -> Result<(), Refusal> {
            let free = 100 - held.len();
            held.push(PerAddress::admit(&p, ip(peer), t0, free)?.0);
            Ok(())
        };
        let mut until_refused =
            |peer: &dyn Fn(usize) -> String| (0..100).find_map(|n| take(&peer(n)).err().map(|why| (n, why))).unwrap();
        assert_eq!(until_refused(&|_| "192.0.2.1".into()), (50, Refusal::Held), "its share");
        assert_eq!(until_refused(&|_| "192.0.2.2".into()), (25, Refusal::Reserved), "to three quarters");
        let many_64s = |n: usize| format!("2001:db8:1:{n:x}::1");
        assert_eq!(until_refused(&many_64s), (FEW, Refusal::Reserved), "one /48's /64s hold few of the reserve");
        // Nine slots left: a source holding few takes them to the last.
        assert!((0..9).all(|_| take("198.51.100.7").is_ok()), "few, to the last slot");
    }

    /// A source holding its share of connections is refused before its
    /// turn is taken; one refused takes no place in the map of open ones.
    #[test]
    fn a_refused_connection_takes_no_turn_and_leaves_nothing_counted() {
        let p = per_address(1, 2, &[]);
        let t0 = Instant::now();
        let held: Vec<_> = (0..2).map(|_| PerAddress::admit(&p, ip("192.0.2.1"), t0, usize::MAX).unwrap()).collect();
        assert_eq!(PerAddress::admit(&p, ip("192.0.2.1"), t0, usize::MAX).err(), Some(Refusal::Held));
        let due = p.pace.lock().unwrap().due[&Some(ip("192.0.2.1"))];
        assert_eq!(due, t0 + Duration::from_secs(2), "two turns taken, not three");
        drop(held);
        for k in 0..20 {
            let _ = PerAddress::admit(&p, ip(&format!("198.51.100.{k}")), t0, usize::MAX);
        }
        let open = p.open.lock().unwrap();
        assert!(open.sources.is_empty() && open.blocks.is_empty(), "none left counted");
    }

    /// Past [`MOST_SOURCES`] sources at once, the others share one pace;
    /// the sources whose turn has come are forgotten when room is needed.
    #[test]
    fn sources_past_the_most_share_one_pace_and_those_whose_turn_came_are_forgotten() {
        let p = per_address(1, 10, &[]);
        let t0 = Instant::now();
        let mut pace = p.pace.lock().unwrap();
        for i in 0..MOST_SOURCES as u32 {
            assert_eq!(pace.turn(IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i)), t0), Some(Duration::ZERO));
        }
        let others: Vec<Option<Duration>> =
            (0..4u32).map(|i| pace.turn(IpAddr::from(std::net::Ipv4Addr::from(0xc000_0200 + i)), t0)).collect();
        assert_eq!(others[3], Some(Duration::from_secs(1)), "the rest share one: {others:?}");
        assert_eq!(pace.due.len(), MOST_SOURCES + 1);
        let later = t0 + Duration::from_secs(5);
        assert_eq!(pace.turn(ip("203.0.113.1"), later), Some(Duration::ZERO));
        assert_eq!(pace.due.len(), 1, "the others forgotten, the new one paced on its own");
    }
}
