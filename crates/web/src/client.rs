//! Who is on the other end of a request. The client address used everywhere
//! (logs, audit, admin networks, throttling) comes from [`client_ip`] alone.

use axum::http::{header::HeaderName, HeaderMap};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// The TCP peer of the connection, set by the server for every request.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// The client as mamori sees it, set by the middleware for every request.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: IpAddr,
    pub user_agent: Option<String>,
    /// A trusted proxy says the client spoke plain HTTP to it.
    pub forwarded_plain_http: bool,
    /// The request says it was forwarded (X-Forwarded-For) by a peer that
    /// is not a trusted proxy: a proxy left out of `trusted_proxies`, or a
    /// client posing as one.
    pub forwarded_by_untrusted: bool,
}

impl ClientInfo {
    /// May this client reach what `admin_networks` guards? Not when an
    /// untrusted peer forwarded the request: a reverse proxy on the same
    /// host, not named in `trusted_proxies`, makes every user look like
    /// 127.0.0.1, which the default admin networks hold.
    pub fn in_admin_networks(&self, nets: &[IpNet]) -> bool {
        if self.forwarded_by_untrusted {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                tracing::warn!(
                    "a request forwarded by a proxy that is not in trusted_proxies: admin networks refused to it \
                     (name the proxy in trusted_proxies)"
                );
            });
            return false;
        }
        is_in(self.ip, nets)
    }
}

/// Does the request say it was forwarded, by a peer that is not trusted?
pub fn forwarded_by_untrusted(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> bool {
    !in_any(peer.to_canonical(), trusted_proxies) && headers.contains_key(&X_FORWARDED_FOR)
}

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

fn in_any(ip: IpAddr, nets: &[IpNet]) -> bool {
    nets.iter().any(|n| n.contains(&ip))
}

/// Is `ip` inside one of `nets`? IPv4-mapped IPv6 addresses count as IPv4.
pub fn is_in(ip: IpAddr, nets: &[IpNet]) -> bool {
    in_any(ip.to_canonical(), nets)
}

/// The client address. X-Forwarded-For is believed only when the peer is a
/// trusted proxy; then the hops are read from the right, skipping trusted
/// proxies, and the first untrusted hop is the client. A hop is an address,
/// with or without a port (`192.0.2.1`, `192.0.2.1:5000`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:5000`). Anything else stops the walk: a
/// client cannot push a forged address past it.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !in_any(peer, trusted_proxies) {
        return peer;
    }
    let mut client = peer;
    let hops: Vec<&str> =
        headers.get_all(&X_FORWARDED_FOR).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).collect();
    for hop in hops.iter().rev() {
        let Some(ip) = hop_ip(hop.trim()) else {
            break;
        };
        let ip = ip.to_canonical();
        client = ip;
        if !in_any(ip, trusted_proxies) {
            break;
        }
    }
    client
}

/// The address of one X-Forwarded-For hop, without its port if it has one.
fn hop_ip(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    let inner = hop.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
}

/// True when a trusted proxy reports that the client used plain HTTP.
pub fn forwarded_plain_http(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> bool {
    if !in_any(peer.to_canonical(), trusted_proxies) {
        return false;
    }
    headers
        .get(&X_FORWARDED_PROTO)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next_back())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("http"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn table() {
        let proxies = nets(&["10.0.0.0/8", "::1/128"]);
        let cases: &[(&str, &[&str], &str)] = &[
            // untrusted peer: forwarded headers are ignored
            ("203.0.113.5", &["198.51.100.1"], "203.0.113.5"),
            // trusted peer, one hop
            ("10.0.0.2", &["198.51.100.1"], "198.51.100.1"),
            // a client-supplied value left of the real client is ignored
            ("10.0.0.2", &["1.2.3.4, 198.51.100.1"], "198.51.100.1"),
            // chained trusted proxies are skipped
            ("10.0.0.2", &["198.51.100.1, 10.0.0.9"], "198.51.100.1"),
            // several header lines count as one list
            ("10.0.0.2", &["198.51.100.1", "10.0.0.9"], "198.51.100.1"),
            // garbage stops the walk at the last good hop
            ("10.0.0.2", &["198.51.100.1, garbage"], "10.0.0.2"),
            // trusted peer without the header
            ("10.0.0.2", &[], "10.0.0.2"),
            // IPv4-mapped peer is treated as IPv4
            ("::ffff:10.0.0.2", &["198.51.100.1"], "198.51.100.1"),
            ("::1", &["2001:db8::1"], "2001:db8::1"),
            // hops with a port, and bracketed IPv6 with or without one
            ("10.0.0.2", &["198.51.100.1:52814"], "198.51.100.1"),
            ("10.0.0.2", &["[2001:db8::1]:52814"], "2001:db8::1"),
            ("10.0.0.2", &["[2001:db8::1]"], "2001:db8::1"),
            ("10.0.0.2", &["198.51.100.1, 10.0.0.9:443"], "198.51.100.1"),
            ("10.0.0.2", &["198.51.100.1, [::ffff:10.0.0.9]:443"], "198.51.100.1"),
            ("10.0.0.2", &["1.2.3.4:1, [2001:db8::7]:2"], "2001:db8::7"),
            // forged or malformed hops with ports still stop the walk
            ("10.0.0.2", &["198.51.100.1, 10.0.0.9:99999"], "10.0.0.2"),
            ("10.0.0.2", &["198.51.100.1, [10.0.0.9]:443"], "10.0.0.2"),
            ("10.0.0.2", &["198.51.100.1, [2001:db8::1"], "10.0.0.2"),
            ("10.0.0.2", &["198.51.100.1, 2001:db8::1]:80"], "10.0.0.2"),
            ("10.0.0.2", &["198.51.100.1, [fe80::1%eth0]:80"], "10.0.0.2"),
            ("10.0.0.2", &["1.2.3.4, evil.example:80, 10.0.0.9:443"], "10.0.0.9"),
        ];
        for (peer, xff, want) in cases {
            let got = client_ip(peer.parse().unwrap(), &headers(xff), &proxies);
            assert_eq!(got, want.parse::<IpAddr>().unwrap(), "peer {peer} xff {xff:?}");
        }
    }

    #[test]
    fn forwarded_proto_only_from_trusted_proxies() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-proto", "http".parse().unwrap());
        let proxies = nets(&["10.0.0.0/8"]);
        assert!(forwarded_plain_http("10.1.1.1".parse().unwrap(), &h, &proxies));
        assert!(!forwarded_plain_http("192.0.2.1".parse().unwrap(), &h, &proxies));
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert!(!forwarded_plain_http("10.1.1.1".parse().unwrap(), &h, &proxies));
    }
}
