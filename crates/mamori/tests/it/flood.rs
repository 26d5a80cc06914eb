//! Floods from clients without an account against the real binary, with
//! the server's memory read from /proc: what anyone can send must not grow
//! the server without bound.

use crate::harness::{memory, reset_peak, token_in, Opts, Server, MB};
use std::time::Duration;

/// Item 9 (Trust): 40 parallel 21 MB bodies from a client with a session
/// but no account (multipart to the upload route and to other routes, and
/// forms to the sign-in route), then 200 parallel sign-ins for unknown
/// users: the server's peak memory stays under its idle size + 64 MB, every
/// body is refused, and the server still answers afterwards.
#[tokio::test]
async fn anonymous_floods_of_large_bodies_and_sign_ins_stay_under_idle_plus_64_mb() {
    let s = Server::start(Opts::default()).await;
    let pid = s.pid();
    // Warm up: the pages an anonymous visitor sees, and one sign-in.
    let login = s.get("/login").await.text().await.unwrap();
    let token = token_in(&login);
    let _ = s
        .client
        .post(s.url("/login"))
        .header("origin", &s.base)
        .form(&[("login", "warm-up"), ("password", "x"), ("csrf_token", &token)])
        .send()
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (idle, _) = memory(pid);
    reset_peak(pid);

    let body = bytes_of(21 * MB as usize);
    let mut tasks = Vec::new();
    for k in 0..40 {
        let (client, base, token, body) = (s.client.clone(), s.base.clone(), token.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let (path, content_type) = match k % 4 {
                0 => ("/systems/1/items/1/evidence", "multipart/form-data; boundary=x"),
                1 => ("/systems/1/items/1", "multipart/form-data; boundary=x"),
                2 => ("/login", "application/x-www-form-urlencoded"),
                _ => ("/no/such/route", "multipart/form-data; boundary=x"),
            };
            // Half announce their length; half are sent in chunks without one.
            let body = if k % 8 < 4 {
                reqwest::Body::from(body)
            } else {
                let chunks = (0..body.len())
                    .step_by(MB as usize)
                    .map(|i| body.slice(i..(i + MB as usize).min(body.len())))
                    .collect::<Vec<_>>();
                reqwest::Body::wrap_stream(futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>)))
            };
            let r = client
                .post(format!("{base}{path}?csrf_token={token}"))
                .header("origin", &base)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await;
            // Refused, or cut off while sending: either way not accepted.
            r.map(|r| r.status().as_u16()).unwrap_or(0)
        }));
    }
    for t in tasks {
        let status = t.await.unwrap();
        assert!(matches!(status, 0 | 303 | 403 | 404 | 413), "a 21 MB anonymous body got {status}");
    }
    let mut tasks = Vec::new();
    for k in 0..200 {
        let (client, base, token) = (s.client.clone(), s.base.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let login = format!("nobody-{k}");
            client
                .post(format!("{base}/login"))
                .header("origin", &base)
                .form(&[("login", login.as_str()), ("password", "Wrong-Password-1"), ("csrf_token", &token)])
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200, "every sign-in is refused with the sign-in page");
    }
    let (now, peak) = memory(pid);
    assert!(peak < idle + 64 * MB, "peak {} MB, idle {} MB, after {} MB", peak / MB, idle / MB, now / MB);
    assert_eq!(s.get("/healthz").await.status(), 200, "the server still answers");
    println!("memory: idle {} MB, peak {} MB, after {} MB", idle / MB, peak / MB, now / MB);
    s.stop().await;
}

/// A signed-in person's form is read up to 1 MiB, and its CSRF token was
/// found by making the whole body a list of pairs: 1 MiB of `a&a&…` was
/// half a million of them (about 80 MB). Twenty such bodies at once from an
/// auditor's session, each with its right token at the end: every one gets
/// past the token (none refused 403), the server's peak memory stays under
/// its idle size + 64 MB, and the server still answers.
#[tokio::test]
async fn twenty_signed_in_forms_of_half_a_million_fields_stay_under_idle_plus_64_mb() {
    use crate::harness::create_user;
    let dir = std::sync::Arc::new(tempfile::TempDir::new().unwrap());
    let data = dir.path().join("data");
    let (code, _, err) =
        create_user(data.to_str().unwrap(), "kansa01", "監査 一郎", "a@x.jp", "auditor", None, "Correct-Horse-42\n")
            .await;
    assert_eq!(code, 0, "{err}");
    let s = Server::start(Opts::default().data_dir(&dir)).await;
    s.first_sign_in("kansa01", "Correct-Horse-42", "Battery-Staple-43").await;
    let form = pairs_with_token(&s).await;
    for status in twenty_at_once(&s, "/lang", "application/x-www-form-urlencoded", form).await {
        assert!(status != 0 && status != 403 && status < 500, "past the token, answered: {status}");
    }
    s.stop().await;
}

/// The forms that repeat a field (ticked items or systems, a record's
/// documents) were read into a list of every pair: 1 MiB of `a&a&…` with
/// the right token at the end (past the check of the token) was half a
/// million pairs, tens of MB a request. Twenty such bodies at once from an
/// officer's session to the form that starts rounds: each refused 400 as
/// more fields than such a form has, the server's peak memory under its
/// idle size + 64 MB, and the server still answers.
#[tokio::test]
async fn twenty_forms_of_half_a_million_repeated_fields_are_refused_and_stay_under_idle_plus_64_mb() {
    let dir = std::sync::Arc::new(tempfile::TempDir::new().unwrap());
    let s = officer_server(&dir).await;
    let form = pairs_with_token(&s).await;
    for status in twenty_at_once(&s, "/rounds", "application/x-www-form-urlencoded", form).await {
        assert_eq!(status, 400, "refused as more fields than the form has");
    }
    s.stop().await;
}

/// An upload's first field, its token, was read whole, up to the whole
/// form's limit, before the upload's turn was taken: a token of 10 MB in
/// each of twenty catalog uploads at once from an officer's session held
/// 10 MB each. The token field is read to 256 bytes: each is refused
/// (403, or the connection closed before the rest is sent), none gets
/// past, the server's peak memory stays under its idle size + 64 MB, and
/// the server still answers.
#[tokio::test]
async fn twenty_uploads_whose_token_field_is_ten_megabytes_are_refused_and_stay_under_idle_plus_64_mb() {
    let dir = std::sync::Arc::new(tempfile::TempDir::new().unwrap());
    let s = officer_server(&dir).await;
    assert_eq!(s.get("/catalog/import").await.status(), 200, "the officer's upload page");
    let boundary = "mamori-boundary-1";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n");
    body.push_str(&"a".repeat(10 * MB as usize));
    body.push_str(&format!("\r\n--{boundary}--\r\n"));
    let content_type = format!("multipart/form-data; boundary={boundary}");
    for status in twenty_at_once(&s, "/catalog/import", &content_type, bytes::Bytes::from(body)).await {
        assert!(status == 403 || status == 0, "refused: {status}");
    }
    s.stop().await;
}

/// 1 MiB of `a&a&…` with the signed-in person's CSRF token at the end.
async fn pairs_with_token(s: &Server) -> bytes::Bytes {
    let token = token_in(&s.get("/account").await.text().await.unwrap());
    let mut body = "a&".repeat(MB as usize / 2 - 64);
    body.push_str(&format!("csrf_token={token}"));
    bytes::Bytes::from(body)
}

/// Posts `body` to `path` twenty times at once from the signed-in session
/// (this site's origin): the statuses (0: no answer). The server's peak
/// memory meanwhile stays under its idle size + 64 MB, and it still
/// answers after.
async fn twenty_at_once(s: &Server, path: &str, content_type: &str, body: bytes::Bytes) -> Vec<u16> {
    let pid = s.pid();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (idle, _) = memory(pid);
    reset_peak(pid);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (client, url, base, body) = (s.client.clone(), s.url(path), s.base.clone(), body.clone());
            let content_type = content_type.to_owned();
            tokio::spawn(async move {
                let r = client
                    .post(url)
                    .header("origin", &base)
                    .header("content-type", content_type)
                    .body(body)
                    .send()
                    .await;
                r.map(|r| r.status().as_u16()).unwrap_or(0)
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let (now, peak) = memory(pid);
    assert!(peak < idle + 64 * MB, "peak {} MB, idle {} MB, after {} MB", peak / MB, idle / MB, now / MB);
    println!("memory: idle {} MB, peak {} MB, after {} MB", idle / MB, peak / MB, now / MB);
    assert_eq!(s.get("/healthz").await.status(), 200, "the server still answers");
    statuses
}

/// A server with a security officer signed in (password changed, second
/// factor enrolled).
async fn officer_server(dir: &std::sync::Arc<tempfile::TempDir>) -> Server {
    let data = dir.path().join("data");
    let (code, _, err) = crate::harness::create_user(
        data.to_str().unwrap(),
        "officer1",
        "情報 一郎",
        "o@x.jp",
        "security-officer",
        None,
        "Correct-Horse-42\n",
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let s = Server::start(Opts::default().data_dir(dir)).await;
    let r = s.first_sign_in("officer1", "Correct-Horse-42", "Battery-Staple-43").await;
    if r.headers().get("location").is_some_and(|l| l == "/account/totp") {
        assert!(s.enrol_second_factor().await.status().is_success());
    }
    s
}

fn bytes_of(n: usize) -> bytes::Bytes {
    bytes::Bytes::from(vec![b'a'; n])
}
