//! A webhook receiver on loopback: keeps each POST's headers and body and
//! answers with the status the test sets (200 by default); the next
//! requests can be held unanswered until the test releases them (a slow
//! receiver).

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone, Default)]
pub struct Hook {
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Hook {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|h| h.0 == name).map(|h| h.1.as_str())
    }
}

pub struct WebhookReceiver {
    pub url: String,
    pub status: Arc<AtomicU16>,
    received: Arc<Mutex<Vec<Hook>>>,
    to_hold: Arc<AtomicUsize>,
    released: Arc<AtomicBool>,
}

impl WebhookReceiver {
    pub async fn start() -> WebhookReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}/hook", listener.local_addr().unwrap().port());
        let status = Arc::new(AtomicU16::new(200));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (to_hold, released) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
        let (st, store, hold, free) = (status.clone(), received.clone(), to_hold.clone(), released.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (st, store, hold, free) = (st.clone(), store.clone(), hold.clone(), free.clone());
                tokio::spawn(async move {
                    let mut s = BufReader::new(stream);
                    let mut first = String::new();
                    if s.read_line(&mut first).await.is_err() {
                        return;
                    }
                    let path = first.split_whitespace().nth(1).unwrap_or("").to_owned();
                    let mut headers = Vec::new();
                    loop {
                        let mut l = String::new();
                        if s.read_line(&mut l).await.unwrap_or(0) == 0 || l == "\r\n" {
                            break;
                        }
                        if let Some((k, v)) = l.split_once(':') {
                            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                        }
                    }
                    let len: usize =
                        headers.iter().find(|h| h.0 == "content-length").and_then(|h| h.1.parse().ok()).unwrap_or(0);
                    let mut body = vec![0; len.min(1 << 20)];
                    if s.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    store.lock().unwrap().push(Hook { path, headers, body });
                    if hold.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
                        while !free.load(Ordering::SeqCst) {
                            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        }
                    }
                    let code = st.load(Ordering::Relaxed);
                    let reply = format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                    let _ = s.get_mut().write_all(reply.as_bytes()).await;
                });
            }
        });
        WebhookReceiver { url, status, received, to_hold, released }
    }

    /// The next `n` requests are kept (as they arrive) and answered only
    /// after [`WebhookReceiver::release`].
    pub fn hold_next(&self, n: usize) {
        self.released.store(false, Ordering::SeqCst);
        self.to_hold.store(n, Ordering::SeqCst);
    }

    /// Answers the held requests.
    pub fn release(&self) {
        self.released.store(true, Ordering::SeqCst);
    }

    pub fn hooks(&self) -> Vec<Hook> {
        self.received.lock().unwrap().clone()
    }

    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Hook> {
        for _ in 0..secs * 10 {
            if self.hooks().len() >= n {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        self.hooks()
    }
}
