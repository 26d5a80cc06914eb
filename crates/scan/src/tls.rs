//! Which protocol versions and which kinds of TLS 1.2 cipher suite a server
//! accepts (checklist item 57).
//!
//! rustls cannot speak below TLS 1.2 nor offer broken suites, and OpenSSL is
//! not a dependency, so a ClientHello for one exact version (and an SSL 2.0
//! CLIENT-HELLO) with exactly the suites to test is built by hand here: no
//! crate builds a ClientHello for a legacy version or suite. The server's first record is parsed
//! with tls-parser. The handshake is never completed: one ClientHello, one
//! answer, and the connection is closed.

use rand::RngCore;
use std::net::SocketAddr;
use std::time::Duration;
use tls_parser::{
    parse_tls_message_alert, parse_tls_message_handshake, parse_tls_server_hello_extensions, TlsExtension, TlsMessage,
    TlsMessageHandshake,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    Ssl3,
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

impl TlsVersion {
    pub const ALL: [TlsVersion; 5] =
        [TlsVersion::Ssl3, TlsVersion::Tls10, TlsVersion::Tls11, TlsVersion::Tls12, TlsVersion::Tls13];

    pub fn wire(self) -> u16 {
        match self {
            TlsVersion::Ssl3 => 0x0300,
            TlsVersion::Tls10 => 0x0301,
            TlsVersion::Tls11 => 0x0302,
            TlsVersion::Tls12 => 0x0303,
            TlsVersion::Tls13 => 0x0304,
        }
    }

    pub fn from_wire(v: u16) -> Option<Self> {
        TlsVersion::ALL.into_iter().find(|t| t.wire() == v)
    }

    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::Ssl3 => "SSLv3",
            TlsVersion::Tls10 => "TLS 1.0",
            TlsVersion::Tls11 => "TLS 1.1",
            TlsVersion::Tls12 => "TLS 1.2",
            TlsVersion::Tls13 => "TLS 1.3",
        }
    }
}

/// What the server answered to a ClientHello offering one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionAnswer {
    /// A ServerHello for exactly that version.
    Accepted,
    /// A TLS alert (for example 70 protocol_version or 40 handshake_failure).
    Alert(u8),
    /// A ServerHello for another version (raw wire value).
    OtherVersion(u16),
    /// The connection was closed or reset without an answer.
    Closed,
}

impl VersionAnswer {
    pub fn accepted(&self) -> bool {
        *self == VersionAnswer::Accepted
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("could not connect to {0}: {1}")]
    Connect(SocketAddr, std::io::Error),
    #[error("no answer from {0} within {1:?}")]
    Timeout(SocketAddr, Duration),
    #[error("{0} answered with something that is not TLS: {1}")]
    NotTls(SocketAddr, String),
}

/// Largest record a server may send: 2^14 bytes of plaintext plus expansion.
const MAX_RECORD: usize = 16_384 + 2_048;

/// Offers exactly `version` to `addr` and reports the answer. `server_name`
/// goes into SNI when it is a host name (never an IP address).
pub async fn probe_version(
    addr: SocketAddr,
    server_name: Option<&str>,
    version: TlsVersion,
    timeout: Duration,
) -> Result<VersionAnswer, ProbeError> {
    let hello = client_hello(version, server_name);
    exchange(addr, version, &hello, timeout).await.map(|(answer, _)| answer)
}

/// Offers TLS 1.2 with only `suites` and reports the answer, with the suite
/// the server chose when it accepted.
pub async fn probe_suites(
    addr: SocketAddr,
    server_name: Option<&str>,
    suites: &[u16],
    timeout: Duration,
) -> Result<(VersionAnswer, Option<u16>), ProbeError> {
    let hello = client_hello_with(TlsVersion::Tls12, server_name, suites);
    exchange(addr, TlsVersion::Tls12, &hello, timeout).await
}

async fn exchange(
    addr: SocketAddr,
    version: TlsVersion,
    hello: &[u8],
    timeout: Duration,
) -> Result<(VersionAnswer, Option<u16>), ProbeError> {
    let closed = Ok((VersionAnswer::Closed, None));
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.map_err(|e| ProbeError::Connect(addr, e))?;
        if stream.write_all(hello).await.is_err() {
            return closed;
        }
        // A warning-level alert (`unrecognized_name` before the
        // ServerHello, as some servers send) ends nothing (RFC 5246 §7.2):
        // the answer is the record after it. A few are read past, then
        // the next record is the answer whatever it is.
        for _ in 0..WARNINGS_READ_PAST {
            let (content_type, body) = match read_record(&mut stream, addr).await? {
                Some(record) => record,
                None => return closed,
            };
            if !(content_type == 0x15 && body.len() == 2 && body[0] == 1 && body[1] != 0) {
                return interpret(addr, version, content_type, &body);
            }
        }
        match read_record(&mut stream, addr).await? {
            Some((content_type, body)) => interpret(addr, version, content_type, &body),
            None => closed,
        }
    };
    tokio::time::timeout(timeout, exchange).await.map_err(|_| ProbeError::Timeout(addr, timeout))?
}

/// How many warning alerts an answer may begin with ([`exchange`]).
const WARNINGS_READ_PAST: usize = 4;

/// The next record's type and body; `None` when the connection ends first.
async fn read_record(stream: &mut TcpStream, addr: SocketAddr) -> Result<Option<(u8, Vec<u8>)>, ProbeError> {
    let mut header = [0u8; 5];
    if stream.read_exact(&mut header).await.is_err() {
        return Ok(None);
    }
    let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
    if header[1] != 0x03 || len > MAX_RECORD {
        return Err(ProbeError::NotTls(addr, format!("record header {header:02x?}")));
    }
    let mut body = vec![0u8; len];
    if stream.read_exact(&mut body).await.is_err() {
        return Ok(None);
    }
    Ok(Some((header[0], body)))
}

fn interpret(
    addr: SocketAddr,
    asked: TlsVersion,
    content_type: u8,
    body: &[u8],
) -> Result<(VersionAnswer, Option<u16>), ProbeError> {
    let not_tls = |what: &str| ProbeError::NotTls(addr, what.to_owned());
    match content_type {
        // alert
        0x15 => match parse_tls_message_alert(body) {
            Ok((_, TlsMessage::Alert(a))) => Ok((VersionAnswer::Alert(a.code.0), None)),
            _ => Err(not_tls("malformed alert")),
        },
        // handshake
        0x16 => match parse_tls_message_handshake(body) {
            Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ServerHello(sh)))) => {
                let mut negotiated = sh.version.0;
                if let Some(Ok((_, exts))) = sh.ext.map(parse_tls_server_hello_extensions) {
                    for ext in exts {
                        if let TlsExtension::SupportedVersions(v) = ext {
                            if let Some(first) = v.first() {
                                negotiated = first.0;
                            }
                        }
                    }
                }
                Ok(if negotiated == asked.wire() {
                    (VersionAnswer::Accepted, Some(sh.cipher.0))
                } else {
                    (VersionAnswer::OtherVersion(negotiated), None)
                })
            }
            // A HelloRetryRequest exists only in TLS 1.3.
            Ok((_, TlsMessage::Handshake(TlsMessageHandshake::HelloRetryRequest(_)))) => {
                Ok(if asked == TlsVersion::Tls13 {
                    (VersionAnswer::Accepted, None)
                } else {
                    (VersionAnswer::OtherVersion(TlsVersion::Tls13.wire()), None)
                })
            }
            _ => Err(not_tls("handshake message is not a ServerHello")),
        },
        other => Err(not_tls(&format!("record type {other}"))),
    }
}

/// Cipher suites offered below TLS 1.3: modern ones and the legacy ones old
/// servers still pick (CBC, RSA key exchange, 3DES), so a server that would
/// accept the version is not refused for want of a common suite.
const LEGACY_SUITES: &[u16] = &[
    0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, // ECDHE with AES-GCM and ChaCha20
    0xc023, 0xc027, 0xc009, 0xc013, 0xc00a, 0xc014, // ECDHE with AES-CBC
    0x009e, 0x009f, 0x0033, 0x0039, // DHE
    0x009c, 0x009d, 0x003c, 0x002f, 0x0035, 0x000a, // RSA key exchange, 3DES
    0x00ff, // renegotiation info SCSV
];
/// Suites of no kind probed alone that old servers may still take: SEED,
/// IDEA, Camellia and ARIA (on CRYPTREC's list, so found in Japan), DSS
/// certificates, AES-CCM.
#[rustfmt::skip]
const OTHER_OLD_SUITES: &[u16] = &[
    0x0096, 0x0097, 0x0098, 0x0099, 0x009a, 0x0007, 0x0044, 0x0087, 0x00ba, 0x00be, 0x00c0, 0x00c4,
    0xc072, 0xc073, 0xc076, 0xc077, 0x0032, 0x0038, 0x0040, 0x006a, 0x00a2, 0x00a3, 0xc03c, 0xc03d,
    0xc050, 0xc051, 0xc060, 0xc061, 0xc09c, 0xc09d, 0xc0ac, 0xc0ad,
];

/// What a version probe below TLS 1.3 offers: every suite the probes know
/// (so a server taking TLS 1.0 only with Camellia, SEED or single DES is
/// not taken to refuse it for want of a common suite), the renegotiation
/// SCSV last. SSL 3.0's hello carries no extension to pad it with
/// ([`client_hello_with`]): it offers what SSL 3.0 servers had, and stays
/// under 256 bytes.
fn version_probe_suites(version: TlsVersion) -> Vec<u16> {
    let mut all: Vec<u16> = Vec::new();
    let kinds: &[SuiteKind] = if version == TlsVersion::Ssl3 {
        &[SuiteKind::Rc4, SuiteKind::TripleDes, SuiteKind::Des, SuiteKind::Export]
    } else {
        &SuiteKind::ALL
    };
    let others: &[u16] = if version == TlsVersion::Ssl3 { &[0x0007, 0x0096] } else { OTHER_OLD_SUITES };
    let known = kinds.iter().flat_map(|k| k.suites().iter());
    for s in LEGACY_SUITES.iter().chain(known).chain(others).copied().filter(|s| *s != 0x00ff) {
        if !all.contains(&s) {
            all.push(s);
        }
    }
    all.push(0x00ff);
    all
}

const TLS13_SUITES: &[u16] = &[0x1301, 0x1302, 0x1303];
const GROUPS: &[u16] = &[0x001d, 0x0017, 0x0018]; // x25519, secp256r1, secp384r1
const SIGNATURE_SCHEMES: &[u16] =
    &[0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0807, 0x0201, 0x0203];

/// A complete TLS record holding a ClientHello that offers only `version`.
pub fn client_hello(version: TlsVersion, server_name: Option<&str>) -> Vec<u8> {
    if version == TlsVersion::Tls13 {
        client_hello_with(version, server_name, TLS13_SUITES)
    } else {
        client_hello_with(version, server_name, &version_probe_suites(version))
    }
}

/// A ClientHello offering only `version` and only `suites`.
fn client_hello_with(version: TlsVersion, server_name: Option<&str>, suites: &[u16]) -> Vec<u8> {
    let mut rng = rand::thread_rng();
    let mut random = [0u8; 32];
    rng.fill_bytes(&mut random);

    let mut body = Vec::with_capacity(512);
    let legacy_version = version.min(TlsVersion::Tls12).wire();
    body.extend_from_slice(&legacy_version.to_be_bytes());
    body.extend_from_slice(&random);
    body.push(0); // no session id
    put_u16_list(&mut body, suites);
    body.extend_from_slice(&[1, 0]); // compression: null only

    // SSLv3 servers predate extensions; some choke on them.
    if version != TlsVersion::Ssl3 {
        let mut ext = Vec::new();
        if let Some(name) = server_name.filter(|n| n.parse::<std::net::IpAddr>().is_err()) {
            let name = name.as_bytes();
            let mut sni = Vec::new();
            sni.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
            sni.push(0); // host_name
            sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
            sni.extend_from_slice(name);
            put_extension(&mut ext, 0x0000, &sni);
        }
        let mut groups = Vec::new();
        put_u16_list(&mut groups, GROUPS);
        put_extension(&mut ext, 0x000a, &groups);
        put_extension(&mut ext, 0x000b, &[1, 0]); // EC point formats: uncompressed
        if version >= TlsVersion::Tls12 {
            let mut sigs = Vec::new();
            put_u16_list(&mut sigs, SIGNATURE_SCHEMES);
            put_extension(&mut ext, 0x000d, &sigs);
        }
        if version == TlsVersion::Tls13 {
            put_extension(&mut ext, 0x002b, &[2, 0x03, 0x04]); // supported_versions: 1.3 only
                                                               // key_share: an x25519 share. Any 32 bytes are a valid public
                                                               // key; the handshake stops at the ServerHello anyway.
            let mut key = [0u8; 32];
            rng.fill_bytes(&mut key);
            let mut share = Vec::new();
            share.extend_from_slice(&(36u16).to_be_bytes());
            share.extend_from_slice(&0x001du16.to_be_bytes());
            share.extend_from_slice(&(32u16).to_be_bytes());
            share.extend_from_slice(&key);
            put_extension(&mut ext, 0x0033, &share);
            put_extension(&mut ext, 0x002d, &[1, 1]); // psk_key_exchange_modes: psk_dhe_ke
        }
        put_extension(&mut ext, 0xff01, &[0]); // renegotiation_info: empty
                                               // Some servers (F5's, among others) drop a ClientHello of 256 to 511
                                               // bytes: one that would be is padded to 512 (RFC 7685), as browsers do.
        let unpadded = 4 + body.len() + 2 + ext.len();
        if (256..512).contains(&unpadded) {
            let zeros = 512usize.saturating_sub(unpadded + 4);
            put_extension(&mut ext, 0x0015, &vec![0; zeros]);
        }
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
    }

    let mut handshake = Vec::with_capacity(body.len() + 4);
    handshake.push(1); // client_hello
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);

    let record_version = if version == TlsVersion::Ssl3 { 0x0300u16 } else { 0x0301 };
    let mut record = Vec::with_capacity(handshake.len() + 5);
    record.push(0x16);
    record.extend_from_slice(&record_version.to_be_bytes());
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// Kinds of TLS 1.2 cipher suite, each offered alone to learn whether the
/// server accepts any of its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuiteKind {
    /// No encryption.
    Null,
    /// Export grade (40 or 56 bits).
    Export,
    Rc4,
    TripleDes,
    /// Single DES (56 bits).
    Des,
    /// No authentication of the server.
    Anonymous,
    /// AES-GCM or ChaCha20 with forward secrecy: what a server should offer.
    ModernAead,
    /// CBC mode (AES or Camellia), with or without forward secrecy.
    Cbc,
    /// RSA key exchange: no forward secrecy.
    RsaKeyExchange,
}

impl SuiteKind {
    pub const ALL: [SuiteKind; 9] = [
        SuiteKind::Null,
        SuiteKind::Export,
        SuiteKind::Rc4,
        SuiteKind::TripleDes,
        SuiteKind::Des,
        SuiteKind::Anonymous,
        SuiteKind::ModernAead,
        SuiteKind::Cbc,
        SuiteKind::RsaKeyExchange,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SuiteKind::Null => "NULL",
            SuiteKind::Export => "EXPORT",
            SuiteKind::Rc4 => "RC4",
            SuiteKind::TripleDes => "3DES",
            SuiteKind::Des => "DES",
            SuiteKind::Anonymous => "anonymous",
            SuiteKind::ModernAead => "AEAD with forward secrecy",
            SuiteKind::Cbc => "CBC",
            SuiteKind::RsaKeyExchange => "RSA key exchange",
        }
    }

    /// Broken: accepting any of them fails item 57.
    pub fn broken(self) -> bool {
        matches!(
            self,
            SuiteKind::Null
                | SuiteKind::Export
                | SuiteKind::Rc4
                | SuiteKind::TripleDes
                | SuiteKind::Des
                | SuiteKind::Anonymous
        )
    }

    /// The IANA code points of the kind (the ones servers still ship).
    pub fn suites(self) -> &'static [u16] {
        match self {
            SuiteKind::Null => {
                &[0x0001, 0x0002, 0x003b, 0xc001, 0xc006, 0xc00b, 0xc010, 0xc015, 0x002c, 0x002d, 0x002e]
            }
            SuiteKind::Export => {
                &[0x0003, 0x0006, 0x0008, 0x000b, 0x000e, 0x0011, 0x0014, 0x0017, 0x0019, 0x0062, 0x0064]
            }
            SuiteKind::Rc4 => &[0x0004, 0x0005, 0xc002, 0xc007, 0xc00c, 0xc011, 0xc016, 0x0018, 0x008a, 0x008e, 0x0092],
            SuiteKind::TripleDes => {
                &[0x000a, 0x000d, 0x0010, 0x0013, 0x0016, 0xc003, 0xc008, 0xc00d, 0xc012, 0x001b, 0x008b]
            }
            SuiteKind::Des => &[0x0009, 0x000c, 0x000f, 0x0012, 0x0015, 0x001a],
            SuiteKind::Anonymous => {
                &[0x0034, 0x003a, 0x006c, 0x006d, 0x00a6, 0x00a7, 0x0046, 0x0089, 0xc018, 0xc019, 0x0018, 0x001b]
            }
            SuiteKind::ModernAead => &[0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0x009e, 0x009f, 0xccaa],
            SuiteKind::Cbc => &[
                0xc009, 0xc013, 0xc00a, 0xc014, 0xc023, 0xc027, 0xc024, 0xc028, 0x0033, 0x0039, 0x0067, 0x006b, 0x002f,
                0x0035, 0x003c, 0x003d, 0x0041, 0x0084, 0x0045, 0x0088,
            ],
            SuiteKind::RsaKeyExchange => &[0x009c, 0x009d, 0x002f, 0x0035, 0x003c, 0x003d, 0x0041, 0x0084],
        }
    }
}

/// Whether the server speaks SSL 2.0: a hand-built SSL 2.0 CLIENT-HELLO
/// (RFC draft, 2-byte record header), answered by a SERVER-HELLO only by a
/// server that still has it. Anything else (a TLS alert, a close) is a
/// refusal.
pub async fn probe_sslv2(addr: SocketAddr, timeout: Duration) -> Result<VersionAnswer, ProbeError> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.map_err(|e| ProbeError::Connect(addr, e))?;
        if stream.write_all(&sslv2_client_hello()).await.is_err() {
            return Ok(VersionAnswer::Closed);
        }
        let mut head = [0u8; 3];
        if stream.read_exact(&mut head).await.is_err() {
            return Ok(VersionAnswer::Closed);
        }
        Ok(match head {
            // A 2-byte SSL 2.0 header, then SERVER-HELLO (4).
            [h, _, 4] if h & 0x80 != 0 => VersionAnswer::Accepted,
            // A TLS alert record.
            [0x15, 0x03, _] => {
                let mut rest = [0u8; 4];
                let code = match stream.read_exact(&mut rest).await {
                    Ok(_) => rest[3],
                    Err(_) => 0,
                };
                VersionAnswer::Alert(code)
            }
            [0x16, 0x03, v] => VersionAnswer::OtherVersion(0x0300 | u16::from(v)),
            _ => VersionAnswer::Closed,
        })
    };
    tokio::time::timeout(timeout, exchange).await.map_err(|_| ProbeError::Timeout(addr, timeout))?
}

/// An SSL 2.0 CLIENT-HELLO offering the SSL 2.0 cipher kinds.
fn sslv2_client_hello() -> Vec<u8> {
    const SPECS: &[[u8; 3]] = &[
        [0x01, 0x00, 0x80], // RC4_128_WITH_MD5
        [0x02, 0x00, 0x80], // RC4_128_EXPORT40_WITH_MD5
        [0x03, 0x00, 0x80], // RC2_128_CBC_WITH_MD5
        [0x04, 0x00, 0x80], // RC2_128_CBC_EXPORT40_WITH_MD5
        [0x05, 0x00, 0x80], // IDEA_128_CBC_WITH_MD5
        [0x06, 0x00, 0x40], // DES_64_CBC_WITH_MD5
        [0x07, 0x00, 0xc0], // DES_192_EDE3_CBC_WITH_MD5
    ];
    let mut challenge = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut challenge);
    let mut msg = vec![0x01, 0x00, 0x02]; // CLIENT-HELLO, version 2.0
    msg.extend_from_slice(&((SPECS.len() * 3) as u16).to_be_bytes());
    msg.extend_from_slice(&0u16.to_be_bytes()); // no session id
    msg.extend_from_slice(&(challenge.len() as u16).to_be_bytes());
    for spec in SPECS {
        msg.extend_from_slice(spec);
    }
    msg.extend_from_slice(&challenge);
    let mut record = ((msg.len() as u16) | 0x8000).to_be_bytes().to_vec();
    record.extend_from_slice(&msg);
    record
}

fn put_u16_list(out: &mut Vec<u8>, items: &[u16]) {
    out.extend_from_slice(&((items.len() * 2) as u16).to_be_bytes());
    for i in items {
        out.extend_from_slice(&i.to_be_bytes());
    }
}

fn put_extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use tls_parser::{parse_tls_plaintext, TlsMessage, TlsMessageHandshake};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A ServerHello for TLS 1.3 (supported_versions), as servers send it.
    fn server_hello() -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend([7u8; 32]);
        body.push(0); // session id
        body.extend([0x13, 0x01, 0x00]); // suite, compression
        body.extend([0x00, 0x06, 0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]);
        let mut msg = vec![0x02, 0, 0, body.len() as u8];
        msg.extend(body);
        msg
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 5_000, failure_persistence: None, ..Default::default()
        })]

        /// Whatever record a server answers with (a real ServerHello or
        /// alert with random edits, or random bytes): an answer or an
        /// error, never a panic.
        #[test]
        fn any_record_a_server_sends_is_read_without_panic(
            content_type in proptest::prop_oneof![proptest::strategy::Just(0x16u8), proptest::strategy::Just(0x15u8), proptest::prelude::any::<u8>()],
            seed in 0usize..3,
            edits in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 0..6),
            cut in proptest::prelude::any::<usize>(),
            asked in proptest::sample::select(TlsVersion::ALL.to_vec()),
        ) {
            let mut body = match seed {
                0 => server_hello(),
                1 => vec![0x02, 0x46],
                _ => client_hello(asked, Some("example.jp"))[5..].to_vec(),
            };
            for (i, b) in edits {
                let i = i % body.len();
                body[i] = b;
            }
            body.truncate(cut % (body.len() + 1));
            let addr = "127.0.0.1:443".parse().unwrap();
            let _ = interpret(addr, asked, content_type, &body);
        }
    }

    #[test]
    fn the_hand_built_server_hello_is_read_as_tls_1_3() {
        let addr = "127.0.0.1:443".parse().unwrap();
        let (answer, suite) = interpret(addr, TlsVersion::Tls13, 0x16, &server_hello()).unwrap();
        assert_eq!((answer, suite), (VersionAnswer::Accepted, Some(0x1301)));
    }

    /// The hand-built hello must parse as the ClientHello we meant.
    #[test]
    fn client_hello_parses_back() {
        for v in TlsVersion::ALL {
            let rec = client_hello(v, Some("example.jp"));
            let (rest, plain) = parse_tls_plaintext(&rec).expect("a well-formed record");
            assert!(rest.is_empty());
            let TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)) = &plain.msg[0] else {
                panic!("not a ClientHello: {:?}", plain.msg[0]);
            };
            assert_eq!(ch.version.0, v.min(TlsVersion::Tls12).wire(), "{v:?}");
            assert_eq!(ch.ext.is_some(), v != TlsVersion::Ssl3, "{v:?}");
        }
    }

    /// A fake server's answer to every hello: `before` (raw records), then
    /// a ServerHello of AES128-SHA at the version `version` gives it (from
    /// the version the hello asked for).
    async fn fake_server(before: &'static [u8], version: fn([u8; 2]) -> [u8; 2]) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                // The version the ClientHello offers (record 5 + handshake 4).
                let v = version([buf[9.min(n)], buf[10.min(n)]]);
                let mut hello = vec![0x02, 0x00, 0x00, 0x26, v[0], v[1]];
                hello.extend_from_slice(&[7u8; 32]);
                hello.extend_from_slice(&[0x00, 0x00, 0x2f, 0x00]);
                let mut out = before.to_vec();
                out.extend_from_slice(&[0x16, v[0], v[1], 0x00, hello.len() as u8]);
                out.extend_from_slice(&hello);
                let _ = s.write_all(&out).await;
            }
        });
        addr
    }

    /// Debian cannot serve SSLv3: a small fake server answers every hello
    /// with a canned SSLv3 ServerHello.
    async fn fake_sslv3_server() -> std::net::SocketAddr {
        fake_server(&[], |_| [0x03, 0x00]).await
    }

    /// A server that sends a warning (`unrecognized_name`) before its
    /// ServerHello: the warning was read as a refusal, and a server
    /// accepting TLS 1.0 passed item 57.
    #[tokio::test]
    async fn a_warning_alert_before_the_server_hello_is_read_past() {
        let addr = fake_server(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x01, 0x70], |asked| asked).await;
        let t = Duration::from_secs(3);
        assert_eq!(probe_version(addr, None, TlsVersion::Tls10, t).await.unwrap(), VersionAnswer::Accepted);
        assert_eq!(probe_version(addr, None, TlsVersion::Tls12, t).await.unwrap(), VersionAnswer::Accepted);
    }

    /// A version probe offers every suite the probes know, in a hello that
    /// is never 256 to 511 bytes long.
    #[test]
    fn version_probes_offer_old_suites_in_a_hello_of_a_safe_length() {
        let long = "x".repeat(200);
        for v in TlsVersion::ALL {
            for name in [None, Some("a.example.lg.jp"), Some(long.as_str())] {
                let hello = client_hello(v, name);
                let handshake = hello.len() - 5;
                assert!(!(256..512).contains(&handshake), "{v:?} {name:?}: {handshake}");
            }
        }
        let offered = version_probe_suites(TlsVersion::Tls10);
        for suite in [0x0045, 0x0096, 0x0007, 0x0015, 0x0032, 0xc02f, 0x000a] {
            assert!(offered.contains(&suite), "0x{suite:04x}");
        }
        assert_eq!(offered.last(), Some(&0x00ff));
    }

    #[tokio::test]
    async fn an_sslv3_server_is_recognised() {
        let addr = fake_sslv3_server().await;
        let t = Duration::from_secs(3);
        assert_eq!(probe_version(addr, None, TlsVersion::Ssl3, t).await.unwrap(), VersionAnswer::Accepted);
        assert_eq!(probe_version(addr, None, TlsVersion::Tls12, t).await.unwrap(), VersionAnswer::OtherVersion(0x0300));
    }

    /// No server Debian ships speaks SSL 2.0: a fake one answers every
    /// hello with an SSL 2.0 SERVER-HELLO header.
    #[tokio::test]
    async fn an_sslv2_server_is_recognised_and_a_tls_server_is_not() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                // It saw a CLIENT-HELLO of version 2.0.
                if n > 5 && buf[0] & 0x80 != 0 && buf[2] == 1 && buf[3..5] == [0, 2] {
                    let _ = s.write_all(&[0x80, 0x2a, 0x04, 0x00, 0x01, 0x00, 0x02]).await;
                }
            }
        });
        let t = Duration::from_secs(3);
        assert_eq!(probe_sslv2(addr, t).await.unwrap(), VersionAnswer::Accepted);
        let sslv3 = fake_sslv3_server().await;
        assert_eq!(probe_sslv2(sslv3, t).await.unwrap(), VersionAnswer::OtherVersion(0x0300));
        let hello = sslv2_client_hello();
        assert_eq!(usize::from(u16::from_be_bytes([hello[0], hello[1]]) & 0x7fff), hello.len() - 2);
    }

    #[tokio::test]
    async fn a_silent_or_foreign_server_is_an_error_not_a_pass() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            }
        });
        assert!(matches!(
            probe_version(addr, None, TlsVersion::Tls12, Duration::from_secs(3)).await,
            Err(ProbeError::NotTls(..))
        ));
    }

    #[test]
    fn sni_is_never_an_ip_address() {
        let with_ip = client_hello(TlsVersion::Tls12, Some("127.0.0.1"));
        let with_name = client_hello(TlsVersion::Tls12, Some("example.jp"));
        assert!(!with_ip.windows(9).any(|w| w == b"127.0.0.1"));
        assert!(with_name.windows(10).any(|w| w == b"example.jp"));
    }
}
