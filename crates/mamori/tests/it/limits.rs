//! Limits that keep slow or greedy clients from holding the server, and the
//! request log line.

use crate::harness::{Opts, Server};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

async fn tls_connect(s: &Server) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(("127.0.0.1", s.port())).await?;
    tls_over_from(s, tcp).await
}

async fn tls_over_from(s: &Server, tcp: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
    let pem = std::fs::read(s.data_dir().join("tls/self-signed.crt")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(&pem).unwrap()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config)).connect(ServerName::try_from("localhost").unwrap(), tcp).await
}

/// Reads until the server closes; true if it did within `limit`.
async fn closed_within(stream: &mut TlsStream<TcpStream>, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let s = Server::start(Opts::default().args(&["--header-read-timeout-secs", "1"])).await;
    let mut slow = tls_connect(&s).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").await.unwrap();
    assert!(closed_within(&mut slow, Duration::from_secs(5)).await, "the half-sent request was not cut off");
    assert_eq!(s.get("/healthz").await.status(), 200);
}

/// Every connection is an open file. A server allowed more connections
/// than its open-files limit holds failed `accept` for everyone once there,
/// and every file and database connection with it. A soft limit below the
/// hard one is now raised (systemd starts services at 1,024); connections
/// that still would not fit beside a reserve of 256 are lowered to what
/// does, saying so; a limit that leaves fewer than 64 refuses to start.
#[tokio::test]
async fn connections_are_kept_within_the_open_files_limit() {
    // The limits are lowered for the server only (raising a hard limit
    // needs a privilege the test may not have).
    let mut mine = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes only the struct given.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut mine) }, 0);
    assert!(mine.rlim_max >= 2000, "the test needs a hard limit of 2,000 open files: {}", mine.rlim_max);
    let raised = Server::start(Opts { open_files: Some((300, 2000)), ..Opts::default() }).await;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", raised.pid())).unwrap();
    let soft = limits.lines().find(|l| l.starts_with("Max open files")).and_then(|l| l.split_whitespace().nth(3));
    assert_eq!(soft, Some("2000"), "{limits}");
    assert_eq!(raised.get("/healthz").await.status(), 200);
    // The log is written in order by a thread of its own: once the
    // request's line is there, so is any line of the start.
    let logs = raised.logs_with("/healthz").await;
    assert!(logs.contains("/healthz") && !logs.contains("max_connections lowered"), "1,024 fit: {logs}");

    // One address keeps its half of what is left.
    let low = Server::start(Opts { open_files: Some((1000, 1000)), ..Opts::default() }).await;
    let lowered = "max_connections lowered from 1024 to 744, per address to 372";
    assert!(low.logs_with(lowered).await.contains(lowered), "{}", low.logs());
    assert_eq!(low.get("/healthz").await.status(), 200);

    let none = Server::try_start(Opts { open_files: Some((300, 300)), ..Opts::default() }).await;
    let logs = none.err().expect("refused to start");
    assert!(logs.contains("fewer than 64 connections"), "{logs}");
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused_and_the_server_recovers() {
    let s =
        Server::start(Opts::default().args(&["--max-connections", "2", "--max-connections-per-address", "2"])).await;
    let first = tls_connect(&s).await.unwrap();
    let _second = tls_connect(&s).await.unwrap();
    assert!(tls_connect(&s).await.is_err(), "a third connection was served");
    drop(first);
    // The slot is given back when the first connection's task ends.
    assert!(served_again(&s).await, "no connection served after one was closed");
}

/// Is a connection served within a few seconds?
async fn served_again(s: &Server) -> bool {
    for _ in 0..50 {
        if tls_connect(s).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A flood of connections over the limit wrote one log line each, and the
/// log waits for its writer: a slow one held up the accept loop. Refusals
/// are logged at most once a second, each line with the number refused
/// since the one before; the server serves on.
#[tokio::test]
async fn a_flood_of_refused_connections_is_logged_once_a_second_with_the_count() {
    let s =
        Server::start(Opts::default().args(&["--max-connections", "2", "--max-connections-per-address", "2"])).await;
    let held = (tls_connect(&s).await.unwrap(), tls_connect(&s).await.unwrap());
    let started = std::time::Instant::now();
    let addr = format!("127.0.0.1:{}", s.port());
    for _ in 0..500 {
        let mut tcp = TcpStream::connect(&addr).await.unwrap();
        // Closed by the server at once: read to its end.
        let mut byte = [0u8; 1];
        let _ = tokio::time::timeout(Duration::from_secs(2), tokio::io::AsyncReadExt::read(&mut tcp, &mut byte)).await;
    }
    let seconds = started.elapsed().as_secs() + 1;
    // One more, past a second, tells the count of the rest.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(tls_connect(&s).await.is_err());
    // (lines, refusals logged or counted)
    let tally = |logs: &str| {
        let lines: Vec<&str> = logs.lines().filter(|l| l.contains("connection refused")).collect();
        let counted: u64 =
            lines.iter().filter_map(|l| l.split('(').nth(1)?.split(' ').next()?.parse::<u64>().ok()).sum();
        (lines.len() as u64, counted + lines.len() as u64)
    };
    let logs = s.logs_until(|l| tally(l).1 >= 501).await;
    let (lines, total) = tally(&logs);
    assert!(lines >= 2 && lines <= seconds + 2, "{lines} lines in {seconds} s:\n{logs}");
    assert_eq!(total, 501, "every refusal logged or counted:\n{logs}");
    drop(held);
    assert!(served_again(&s).await, "served again");
}

/// A client that sends requests and never reads the answers (a receive
/// window of almost nothing, a thousand requests pipelined) held its
/// connection for ever: the server waited on the write without end, and
/// two such connections filled a server of two. A write stalled longer
/// than a request may take now ends its connection, and the server
/// serves again.
#[tokio::test]
async fn a_client_that_never_reads_its_answers_is_cut_off() {
    let limits = ["--max-connections", "2", "--max-connections-per-address", "2", "--request-timeout-secs", "1"];
    let s = Server::start(Opts::default().args(&limits)).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let tcp = socket.connect(([127, 0, 0, 1], s.port()).into()).await.unwrap();
        let mut tls = tls_over_from(&s, tcp).await.unwrap();
        let requests = "GET /static/mamori.css HTTP/1.1\r\nHost: localhost\r\n\r\n".repeat(1000);
        held.push(tokio::spawn(async move {
            let _ = tls.write_all(requests.as_bytes()).await;
            // Never read; hold the connection open.
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(tls);
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut served = false;
    for _ in 0..100 {
        if let Ok(mut c) = tls_connect(&s).await {
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
            let mut answer = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut answer)).await;
            if answer.starts_with(b"HTTP/1.1 200") {
                served = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "no connection served while the two that never read were held");
    held.iter().for_each(|h| h.abort());
}

#[tokio::test]
async fn json_logs_have_one_line_per_request() {
    let s = Server::start(Opts::default().args(&["--log-format", "json"])).await;
    let res = s.get("/no-such-page?password=hunter2").await;
    let id = res.headers().get("x-request-id").unwrap().to_str().unwrap().to_owned();
    // The access line is written after the response (by the log's own
    // thread), after the error page's own line with the same id.
    let logs = s.logs_until(|l| l.lines().any(|l| l.contains(&id) && l.contains("mamori::access"))).await;
    let line = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["request_id"] == id.as_str() && v["target"] == "mamori::access")
        .unwrap_or_else(|| panic!("no JSON access line for {id} in\n{logs}"));
    assert_eq!(line["method"], "GET");
    assert_eq!(line["route"], "unmatched");
    assert_eq!(line["status"], 404);
    assert_eq!(line["client"], "127.0.0.1");
    assert!(line["latency_ms"].as_f64().is_some());
    assert!(!logs.contains("hunter2"), "the query string is never logged");
}

/// The first flight of a TLS 1.3 handshake, as a client sends it: the
/// server answers it with its key exchange and a signature, work a client
/// can ask for again and again by sending the same bytes.
fn a_client_hello() -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let mut client =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap()).unwrap();
    let mut hello = Vec::new();
    client.write_tls(&mut hello).unwrap();
    hello
}

/// A TLS ClientHello naming `host` (any bytes) in its server name, in one
/// record: written by hand, since a TLS client sends only valid names.
fn a_client_hello_naming(host: &[u8]) -> Vec<u8> {
    let u16_of = |n: usize| u16::try_from(n).unwrap().to_be_bytes();
    let mut name = vec![0u8];
    name.extend(u16_of(host.len()));
    name.extend(host);
    let mut extensions = vec![0, 0];
    extensions.extend(u16_of(name.len() + 2));
    extensions.extend(u16_of(name.len()));
    extensions.extend(name);
    // supported_versions: TLS 1.3 and 1.2.
    extensions.extend([0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03]);
    let mut body = vec![0x03, 0x03];
    body.extend([7u8; 32]);
    body.extend([0, 0x00, 0x04, 0x13, 0x01, 0xc0, 0x2f, 0x01, 0x00]);
    body.extend(u16_of(extensions.len()));
    body.extend(extensions);
    let mut handshake = vec![0x01];
    handshake.extend(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend(u16_of(handshake.len()));
    record.extend(handshake);
    record
}

/// rustls logs a server name it cannot read in full, escaped, as a
/// warning: a ClientHello any client sends, its name 12,000 bytes of
/// control characters, wrote a line of 70 KB to the log (each connection
/// another; the log's writer holds up the server when it falls behind).
/// Its warnings are left out: the connection is ended and the log holds
/// no such line.
#[tokio::test]
async fn a_server_name_of_12_000_control_bytes_writes_nothing_of_it_to_the_log() {
    let s = Server::start(Opts::default()).await;
    let mut tcp = TcpStream::connect(("127.0.0.1", s.port())).await.unwrap();
    tcp.write_all(&a_client_hello_naming(&[1u8; 12_000])).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the connection is ended");
    assert_eq!(s.get("/healthz").await.status(), 200);
    let logs = s.logs_with("/healthz").await;
    assert!(!logs.contains("Illegal SNI") && !logs.contains("\\u{1}"), "{}", &logs[..logs.len().min(2_000)]);
    assert!(logs.len() < 20_000, "the log holds {} bytes", logs.len());
}

/// The CPU time a process has used, in clock ticks (from /proc).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// One client sends the same hello on new connections as fast as it can
/// for three seconds, two hundred at a time, each waiting two seconds for
/// an answer:
/// each answered was a key exchange and a signature of the server's, for a
/// hello that cost the client nothing, so that one address kept the cores
/// busy (without the pace, 27,000 handshakes took both cores). An address
/// now opens `new_connections_per_address` (5 here) a second after a burst
/// of two seconds' worth, the others waiting their turn before their
/// handshake, or closed unread once the wait would pass the handshake's
/// time: more than the burst are answered (paced, not refused), at most
/// what the pace allows in the five seconds, the server's CPU time stays
/// under one core over the flood, its peak memory under its idle size
/// + 64 MB (the connections waiting their turn are the address's share at
/// most), and another address is served in the middle of it.
#[tokio::test]
async fn hellos_sent_as_fast_as_one_address_can_are_answered_at_its_pace_and_another_address_is_served() {
    let s = Server::start(Opts::default().args(&["--new-connections-per-address", "5"])).await;
    let (pid, port, hello) = (s.pid(), s.port(), Arc::new(a_client_hello()));
    assert_eq!(s.get("/healthz").await.status(), 200);
    let (idle, _) = crate::harness::memory(pid);
    crate::harness::reset_peak(pid);
    let before = cpu_ticks(pid);
    let until = std::time::Instant::now() + Duration::from_secs(3);
    let flood: Vec<_> = (0..200)
        .map(|_| {
            let hello = hello.clone();
            tokio::spawn(async move {
                let (mut answered, mut not) = (0u32, 0u32);
                while std::time::Instant::now() < until {
                    let Ok(mut tcp) = TcpStream::connect(("127.0.0.1", port)).await else { continue };
                    let mut first = [0u8; 1];
                    let read = async {
                        tcp.write_all(&hello).await?;
                        tcp.read(&mut first).await
                    };
                    match tokio::time::timeout(Duration::from_secs(2), read).await {
                        Ok(Ok(1)) if first[0] == 0x16 => answered += 1,
                        _ => not += 1,
                    }
                }
                (answered, not)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let other = tokio::net::TcpSocket::new_v4().unwrap();
    other.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut other = tls_over_from(&s, other.connect(([127, 0, 0, 1], port).into()).await.unwrap()).await.unwrap();
    other.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    other.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "another address is served: {answer}");
    let (mut answered, mut not) = (0, 0);
    for task in flood {
        let (a, n) = task.await.unwrap();
        (answered, not) = (answered + a, not + n);
    }
    let ticks = cpu_ticks(pid) - before;
    // SAFETY: sysconf reads a constant of the system.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    println!("{answered} answered, {not} not; the server's CPU: {ticks} ticks of {per_second} a second");
    let (burst, most) = (2 * 5 + 1, 2 * 5 + 1 + 5 * (3 + 2));
    assert!(answered > burst && answered <= most, "{answered} answered of {}", answered + not);
    assert!(not >= 1_000, "a flood: {not} not answered");
    assert!(ticks < per_second * 3, "{ticks} ticks in three seconds: more than one core");
    const MB: u64 = 1024 * 1024;
    let (_, peak) = crate::harness::memory(pid);
    println!("memory: idle {} MB, peak {} MB", idle / MB, peak / MB);
    assert!(peak < idle + 64 * MB, "peak {} MB, idle {} MB", peak / MB, idle / MB);
}
