//! What a scan connects to: the address a person gives (an https:// or
//! http:// URL, or a bare host name), resolved once and checked against the
//! target policy before anything is contacted. Every probe of the scan uses
//! that one address, so a name cannot point somewhere else half way through
//! (no DNS rebinding).

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Where a scan may connect. The longest network that holds an address
/// decides; where an allowed and a denied network are equally long, the
/// address is denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPolicy {
    pub allowed: Vec<IpNet>,
    pub denied: Vec<IpNet>,
}

/// Denied to the server's scans unless allowed on purpose: the server's own
/// machine, link-local addresses (among them the cloud metadata services),
/// unspecified, multicast and broadcast addresses. Private ranges are
/// allowed: a ward's systems are internal.
pub const DEFAULT_DENIED: &[&str] = &[
    "0.0.0.0/8",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "100.100.100.200/32",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "fe80::/10",
    "fd00:ec2::254/128",
    "ff00::/8",
];

impl TargetPolicy {
    /// Everything allowed: the console's `mamori scan`, run by the person
    /// who has the machine.
    pub fn open() -> Self {
        TargetPolicy { allowed: vec![any_v4(), any_v6()], denied: Vec::new() }
    }

    /// The server's default: everything but [`DEFAULT_DENIED`].
    pub fn server_default() -> Self {
        let denied = DEFAULT_DENIED.iter().map(|n| n.parse().expect("the default networks parse")).collect();
        TargetPolicy { allowed: vec![any_v4(), any_v6()], denied }
    }

    /// Why `ip` may not be scanned, or `None` when it may. An IPv6 address
    /// that carries an IPv4 one (NAT64, 6to4, Teredo, IPv4-compatible) is
    /// judged as both: a gateway on the way would deliver it to the IPv4
    /// address, which the policy may deny.
    pub fn refuses(&self, ip: IpAddr) -> Option<String> {
        let ip = ip.to_canonical();
        if let IpAddr::V6(v6) = ip {
            for v4 in embedded_v4(v6).into_iter().chain(local_nat64_v4s(v6)) {
                if let Some(why) = self.refuses_one(IpAddr::V4(v4)) {
                    return Some(format!("{ip} carries {v4}: {why}"));
                }
            }
        }
        self.refuses_one(ip)
    }

    fn refuses_one(&self, ip: IpAddr) -> Option<String> {
        let longest = |nets: &[IpNet]| nets.iter().filter(|n| n.contains(&ip)).map(|n| n.prefix_len()).max();
        let denied_by = self.denied.iter().filter(|n| n.contains(&ip)).max_by_key(|n| n.prefix_len());
        match (longest(&self.allowed), denied_by) {
            (Some(a), Some(d)) if a > d.prefix_len() => None,
            // The network itself is not named: the reason reaches the
            // vendor whose host name it was, and would map the denials.
            (_, Some(_)) => Some(format!("{ip} is in a denied network")),
            (None, None) => Some(format!("{ip} is in no allowed network")),
            (Some(_), None) => None,
        }
    }
}

/// The network an address belongs to, as a scan records it for a host name:
/// `public` for any global address (a move between public hosts is no
/// reach into the ward), otherwise the kind and the /24 (IPv4) or /64
/// (IPv6) it lies in, so that a name moved into or across internal
/// networks is noticed.
pub fn network_of(ip: IpAddr) -> String {
    let ip = match ip.to_canonical() {
        IpAddr::V6(v6) => embedded_v4(v6).map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let internal = match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || is_local_nat64(v6)
        }
    };
    if !internal {
        return "public".to_owned();
    }
    let prefix = if ip.is_ipv4() { 24 } else { 64 };
    IpNet::new(ip, prefix).map(|n| n.trunc().to_string()).unwrap_or_else(|_| ip.to_string())
}

/// The IPv4 address an IPv6 one carries by a standard embedding: NAT64's
/// well-known prefix 64:ff9b::/96 (RFC 6052), 6to4's 2002::/16 (RFC 3056),
/// Teredo's 2001::/32 (the client's address, inverted; RFC 4380) and the
/// deprecated IPv4-compatible ::/96 (but `::` and `::1`). IPv4-mapped
/// addresses are made IPv4 by `to_canonical` before this is asked.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(v4(hi, lo)),
        [0x2002, hi, lo, ..] => Some(v4(hi, lo)),
        [0x2001, 0, .., hi, lo] => Some(v4(!hi, !lo)),
        [0, 0, 0, 0, 0, 0, hi, lo] if (hi, lo) != (0, 0) && (hi, lo) != (0, 1) => Some(v4(hi, lo)),
        _ => None,
    }
}

/// NAT64's local-use prefix 64:ff9b:1::/48 (RFC 8215): a network chooses
/// its own prefix within it, to translate IPv4 addresses that are not
/// global (its own), so the IPv4 address may sit where RFC 6052 puts it
/// for a prefix of 48, 56, 64 or 96 bits.
fn is_local_nat64(v6: Ipv6Addr) -> bool {
    v6.segments()[..3] == [0x64, 0xff9b, 1]
}

/// Every IPv4 address a local-use NAT64 address may carry (one for each
/// prefix length the network may have chosen): the policy refuses the
/// address when it would refuse any of them.
fn local_nat64_v4s(v6: Ipv6Addr) -> Vec<Ipv4Addr> {
    if !is_local_nat64(v6) {
        return Vec::new();
    }
    let a = u128::from(v6);
    // The 32 bits from `start`, skipping bits 64 to 71 (RFC 6052's u octet).
    let bits = |start: u32| -> Ipv4Addr {
        let mut out: u32 = 0;
        let (mut at, mut taken) = (start, 0);
        while taken < 32 {
            if !(64..72).contains(&at) {
                out = (out << 1) | ((a >> (127 - at)) & 1) as u32;
                taken += 1;
            }
            at += 1;
        }
        Ipv4Addr::from(out)
    };
    // Where the network's prefix does not put it, a reading is mostly the
    // zeros around the address: "this network" (0.0.0.0/8) is no host, and
    // is left, or every such address would be refused by its zeros.
    // All of them there (64:ff9b:1::1): judged as they are.
    let all = [bits(48), bits(56), bits(72), bits(96)];
    let hosts: Vec<Ipv4Addr> = all.into_iter().filter(|v4| v4.octets()[0] != 0).collect();
    if hosts.is_empty() {
        all.to_vec()
    } else {
        hosts
    }
}

fn any_v4() -> IpNet {
    "0.0.0.0/0".parse().expect("a network")
}

fn any_v6() -> IpNet {
    "::/0".parse().expect("a network")
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("not a web address (https://…, http://… or a host name): {0}")]
    BadUrl(String),
    #[error("cannot resolve {0}")]
    Resolve(String),
    #[error("address not allowed by the scan policy: {0}")]
    Denied(String),
}

/// The server a person named, before resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Given {
    /// The host as it goes on the wire: an IDN in its ASCII form, an IPv6
    /// literal without brackets.
    pub host: String,
    pub https_port: u16,
    pub http_port: u16,
    /// `http://` was given: the person's address is plain HTTP.
    pub plain: bool,
    /// The page the person named (path and query), `/` when none: the
    /// system's entry page (`https://host/shinsei/` is a system of its own
    /// beside the host's other pages).
    pub path: String,
}

impl Given {
    /// Reads `input`. A bare host (`www.example.lg.jp`, `[2001:db8::1]:8443`)
    /// is an https:// address; `http_port` is where plain HTTP is looked for
    /// unless the input is an http:// URL with its own port.
    pub fn parse(input: &str, http_port: u16) -> Result<Given, TargetError> {
        let bad = || TargetError::BadUrl(input.to_owned());
        let input = input.trim();
        let with_scheme = if input.contains("://") { input.to_owned() } else { format!("https://{input}") };
        let url = url::Url::parse(&with_scheme).map_err(|_| bad())?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad());
        }
        let host = match url.host().ok_or_else(bad)? {
            url::Host::Domain(d) => d.trim_end_matches('.').to_owned(),
            url::Host::Ipv4(ip) => ip.to_string(),
            url::Host::Ipv6(ip) => ip.to_string(),
        };
        if host.is_empty() {
            return Err(bad());
        }
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        match url.scheme() {
            "https" => Ok(Given { host, https_port: url.port().unwrap_or(443), http_port, plain: false, path }),
            "http" => Ok(Given { host, https_port: 443, http_port: url.port().unwrap_or(80), plain: true, path }),
            _ => Err(bad()),
        }
    }

    /// The host as written in a URL (an IPv6 literal in brackets).
    pub fn url_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// `scheme://host[:port]`, the port left out where it is the scheme's own.
    pub fn base(&self, https: bool) -> String {
        match (https, self.https_port, self.http_port) {
            (true, 443, _) => format!("https://{}", self.url_host()),
            (true, p, _) => format!("https://{}:{p}", self.url_host()),
            (false, _, 80) => format!("http://{}", self.url_host()),
            (false, _, p) => format!("http://{}:{p}", self.url_host()),
        }
    }

    /// The page a report is of: [`Given::base`], and the path when one was
    /// named.
    pub fn page(&self, https: bool) -> String {
        match self.path.as_str() {
            "/" => self.base(https),
            path => format!("{}{path}", self.base(https)),
        }
    }

    /// Why the target is refused (`why`: [`TargetPolicy::refuses`]), as its
    /// report says it to whoever sees the system: for an address given,
    /// that address and why; for a name, only that its address is not
    /// allowed. The addresses a name resolves to in the ward's DNS are not
    /// the vendor's to learn: a name pointed at an internal one would read
    /// the ward's DNS through the scanner.
    pub fn refusal(&self, why: &str) -> String {
        if self.host.parse::<IpAddr>().is_ok() {
            format!("{}: {why}", self.host)
        } else {
            format!("{}: resolves to an address the scan policy does not allow", self.host)
        }
    }

    /// Resolves the host once (on tokio's resolver threads, never blocking
    /// the runtime) and checks every address it has against `policy`: a name
    /// with one denied address among allowed ones is refused whole.
    pub async fn resolve(&self, policy: &TargetPolicy, timeout: Duration) -> Result<IpAddr, TargetError> {
        let addrs: Vec<IpAddr> = match self.host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => {
                let found = tokio::time::timeout(timeout, tokio::net::lookup_host((self.host.as_str(), 0)))
                    .await
                    .map_err(|_| TargetError::Resolve(self.host.clone()))?
                    .map_err(|_| TargetError::Resolve(self.host.clone()))?;
                found.map(|a: SocketAddr| a.ip().to_canonical()).collect()
            }
        };
        if let Some(why) = addrs.iter().find_map(|ip| policy.refuses(*ip)) {
            return Err(TargetError::Denied(self.refusal(&why)));
        }
        addrs.first().copied().ok_or_else(|| TargetError::Resolve(self.host.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 5_000, failure_persistence: None, ..Default::default()
        })]

        /// Whatever a person types as a target: read or refused, never a
        /// panic, and never an empty host.
        #[test]
        fn any_target_text_is_read_or_refused(
            text in proptest::prop_oneof![
                proptest::prelude::any::<String>(),
                "(https?://)?[a-z0-9.\\[\\]:%-]{0,40}(:[0-9]{0,6})?(/.{0,10})?",
            ],
            port in proptest::prelude::any::<u16>(),
        ) {
            if let Ok(g) = Given::parse(&text, port) {
                proptest::prop_assert!(!g.host.is_empty());
                proptest::prop_assert!(g.path.starts_with('/'));
            }
        }
    }

    #[test]
    fn every_form_of_address_a_person_has_is_read() {
        let g = |s| Given::parse(s, 80).unwrap();
        assert_eq!(
            g("https://127.0.0.1:8443/path"),
            Given { host: "127.0.0.1".into(), https_port: 8443, http_port: 80, plain: false, path: "/path".into() }
        );
        assert_eq!(
            g("http://127.0.0.1:8080/"),
            Given { host: "127.0.0.1".into(), https_port: 443, http_port: 8080, plain: true, path: "/".into() }
        );
        assert_eq!(
            g("www.example.lg.jp"),
            Given { host: "www.example.lg.jp".into(), https_port: 443, http_port: 80, plain: false, path: "/".into() }
        );
        // The page named is kept, with its query: a system under a path is
        // judged on its own page, not on the host's front page.
        assert_eq!(g("https://host.example/shinsei/index.jsp?lang=ja#top").path, "/shinsei/index.jsp?lang=ja");
        assert_eq!(g("[::1]:8443").host, "::1");
        assert_eq!(g("[::1]:8443").base(true), "https://[::1]:8443");
        assert_eq!(g("https://例え.jp/").host, "xn--r8jz45g.jp");
        assert_eq!(g("HTTPS://Example.LG.JP.").host, "example.lg.jp");
        for bad in ["ftp://x/", "https://user@x/", "https://u:p@x/", "", "https://", "http://[::1/"] {
            assert!(Given::parse(bad, 80).is_err(), "{bad}");
        }
    }

    #[test]
    fn networks_are_public_or_the_internal_subnet() {
        let n = |s: &str| network_of(s.parse().unwrap());
        assert_eq!(n("203.0.113.5"), "public");
        assert_eq!(n("198.51.100.7"), "public");
        assert_eq!(n("10.1.2.3"), "10.1.2.0/24");
        assert_eq!(n("192.168.10.20"), "192.168.10.0/24");
        assert_eq!(n("127.0.0.1"), "127.0.0.0/24");
        assert_eq!(n("::ffff:10.1.2.3"), "10.1.2.0/24");
        assert_eq!(n("fd12:3456::1"), "fd12:3456::/64");
        assert_eq!(n("2001:db8::1"), "public");
    }

    #[test]
    fn the_longest_network_decides_and_a_tie_is_denied() {
        let p = TargetPolicy::server_default();
        for denied in ["127.0.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1", "fe80::1", "0.0.0.0", "224.0.0.1"] {
            assert!(p.refuses(denied.parse().unwrap()).is_some(), "{denied}");
        }
        for allowed in ["10.1.2.3", "192.168.0.10", "203.0.113.5", "2001:db8::1"] {
            assert_eq!(p.refuses(allowed.parse().unwrap()), None, "{allowed}");
        }
        let mut one_loopback = TargetPolicy::server_default();
        one_loopback.allowed.push("127.0.0.1/32".parse().unwrap());
        assert_eq!(one_loopback.refuses("127.0.0.1".parse().unwrap()), None);
        assert!(one_loopback.refuses("127.0.0.2".parse().unwrap()).is_some());
        let tie =
            TargetPolicy { allowed: vec!["10.0.0.0/8".parse().unwrap()], denied: vec!["10.0.0.0/8".parse().unwrap()] };
        assert!(tie.refuses("10.1.1.1".parse().unwrap()).is_some());
        let only_private = TargetPolicy { allowed: vec!["10.0.0.0/8".parse().unwrap()], denied: vec![] };
        assert!(only_private.refuses("203.0.113.5".parse().unwrap()).is_some());
    }

    /// A NAT64 gateway delivers 64:ff9b::7f00:1 to 127.0.0.1, a 6to4 relay
    /// 2002:a9fe:a9fe:: to the metadata address: an IPv4 address inside an
    /// IPv6 one is judged as itself, and a refused one refuses the whole.
    /// Before, each was judged as a public IPv6 address and scanned.
    #[test]
    fn an_ipv4_address_inside_an_ipv6_one_is_judged_as_itself() {
        let p = TargetPolicy::server_default();
        for denied in [
            "64:ff9b::7f00:1",
            "64:ff9b::169.254.169.254",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::",
            "::127.0.0.1",
            "::169.254.169.254",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
        ] {
            let why = p.refuses(denied.parse().unwrap());
            assert!(
                why.as_deref().is_some_and(|w| w.contains("carries") && w.contains("denied network")),
                "{denied}: {why:?}"
            );
        }
        for allowed in ["64:ff9b::a01:203", "2002:cb00:7105::1", "2001:db8::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2"]
        {
            assert_eq!(p.refuses(allowed.parse().unwrap()), None, "{allowed}");
        }
        // Where only the ward's IPv4 networks are allowed, the IPv6 form of
        // one of their addresses is still in no allowed network.
        let only_ward = TargetPolicy { allowed: vec!["10.0.0.0/8".parse().unwrap()], denied: vec![] };
        assert!(only_ward.refuses("64:ff9b::a01:203".parse().unwrap()).is_some());
        assert_eq!(network_of("64:ff9b::a01:203".parse().unwrap()), "10.1.2.0/24");
        assert_eq!(network_of("2002:c0a8:a14::1".parse().unwrap()), "192.168.10.0/24");
        assert_eq!(network_of("64:ff9b::cb00:7105".parse().unwrap()), "public");
    }

    /// NAT64's local-use prefix 64:ff9b:1::/48 translates a network's own
    /// IPv4 addresses, wherever its chosen prefix puts them: 10.99.1.2
    /// behind it was judged a public IPv6 address, and scanned past a
    /// policy denying 10.99.0.0/16.
    #[test]
    fn a_local_use_nat64_address_is_judged_by_every_ipv4_address_it_may_carry() {
        let mut p = TargetPolicy::server_default();
        p.denied.push("10.99.0.0/16".parse().unwrap());
        // 10.99.1.2 (0a63:0102) as a prefix of 48, 56, 64 and 96 bits puts it.
        for carried in
            ["64:ff9b:1:a63:1:200::", "64:ff9b:1:a:63:102::", "64:ff9b:1:0:a:6301:200:0", "64:ff9b:1::a63:102"]
        {
            let why = p.refuses(carried.parse().unwrap());
            assert!(why.as_deref().is_some_and(|w| w.contains("carries 10.99.1.2")), "{carried}: {why:?}");
            assert_ne!(network_of(carried.parse().unwrap()), "public", "{carried}");
        }
        // Its readings where the address is not are zeros around it, never
        // a reason to refuse: 203.0.113.5 and the ward's 10.1.2.3 are scanned.
        for allowed in
            ["64:ff9b:1::cb00:7105", "64:ff9b:1::a01:203", "64:ff9b:1:a01:2:300::", "64:ff9b:1:0:a:102:300:0"]
        {
            assert_eq!(p.refuses(allowed.parse().unwrap()), None, "{allowed}");
        }
        assert_eq!(p.refuses("64:ff9b:2::a63:102".parse().unwrap()), None, "outside the local-use prefix");
        assert!(p.refuses("64:ff9b:1::1".parse().unwrap()).is_some(), "0.0.0.1 wherever it is read");
    }

    /// The reason a vendor reads on its system's page names the address
    /// its own name resolved to, never the office's denied network: asked
    /// again with the name moved, it would map them.
    #[test]
    fn a_refusal_names_no_network_of_the_policy() {
        let p = TargetPolicy { allowed: vec![any_v4()], denied: vec!["10.99.0.0/16".parse().unwrap()] };
        let why = p.refuses("10.99.3.4".parse().unwrap()).unwrap();
        assert_eq!(why, "10.99.3.4 is in a denied network");
        let typed = Given::parse("10.99.3.4", 80).unwrap();
        assert_eq!(typed.refusal(&why), "10.99.3.4: 10.99.3.4 is in a denied network");
    }

    /// A name's refusal says nothing of what it resolved to (the address
    /// and why name it), only that it is not allowed.
    #[test]
    fn a_name_s_refusal_names_no_address() {
        let why = "10.99.3.4 is in a denied network";
        let name = Given::parse("https://intranet.example.lg.jp/", 80).unwrap();
        assert_eq!(name.refusal(why), "intranet.example.lg.jp: resolves to an address the scan policy does not allow");
    }
}
