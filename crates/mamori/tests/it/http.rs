//! Response hygiene on every kind of response (checklist items 33, 34, 47②,
//! 49, 53, 54③, 55), health and metrics endpoints, the redirect listener.

use crate::harness::{Opts, Server};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;

/// Every header of the foundation's response hygiene.
fn assert_hygiene(h: &HeaderMap, hsts: bool, what: &str) {
    assert!(h.get("server").is_none(), "{what}: Server header present");
    assert!(h.get("x-powered-by").is_none(), "{what}: X-Powered-By present");
    let csp = h.get("content-security-policy").map(|v| v.to_str().unwrap()).unwrap_or_default();
    assert!(csp.contains("default-src 'self'"), "{what}: CSP {csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: CSP {csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{what}: CSP {csp}");
    assert_eq!(h.get("x-frame-options").unwrap(), "DENY", "{what}");
    assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff", "{what}");
    assert_eq!(h.get("referrer-policy").unwrap(), "same-origin", "{what}");
    let request_id = h.get("x-request-id").map(|v| v.to_str().unwrap()).unwrap_or_default();
    assert_eq!(request_id.len(), 16, "{what}: request id {request_id:?}");
    match h.get("strict-transport-security") {
        Some(v) if hsts => {
            let v = v.to_str().unwrap();
            let max_age: u64 = v.split(';').find_map(|p| p.trim().strip_prefix("max-age=")).unwrap().parse().unwrap();
            assert!(max_age >= 31_536_000, "{what}: HSTS {v}");
        }
        None if !hsts => {}
        other => panic!("{what}: HSTS {other:?}, expected present = {hsts}"),
    }
    for (name, value) in h {
        let v = value.to_str().unwrap_or_default().to_ascii_lowercase();
        for marker in ["axum", "hyper", "rustls", "mamori/", "0.1.0"] {
            assert!(!v.contains(marker), "{what}: {name} discloses {marker}: {v}");
        }
    }
}

#[tokio::test]
async fn home_page_is_japanese_with_every_security_header() {
    let s = Server::start(Opts::default()).await;
    let res = s.get("/").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_hygiene(res.headers(), true, "home");
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let body = res.text().await.unwrap();
    assert!(body.contains(r#"<html lang="ja">"#), "{body}");
    assert!(body.contains("mamori へようこそ"));
    assert!(body.contains(r#"href="/login""#), "link to sign-in");
    assert!(!body.contains("<script"), "no script on the home page");
    assert!(!body.contains("style="), "no inline style (CSP)");
}

#[tokio::test]
async fn english_is_selectable() {
    let s = Server::start(Opts::default()).await;
    let body = s.get("/?lang=en").await.text().await.unwrap();
    assert!(body.contains(r#"<html lang="en">"#));
    assert!(body.contains("Welcome to mamori"));
}

#[tokio::test]
async fn unknown_path_gets_the_japanese_error_page_with_its_request_id() {
    let s = Server::start(Opts::default()).await;
    let res = s.get("/no/such/page").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_hygiene(res.headers(), true, "404");
    assert!(res.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/html"));
    let id = res.headers().get("x-request-id").unwrap().to_str().unwrap().to_owned();
    let body = res.text().await.unwrap();
    assert!(body.contains("ページが見つかりません"), "{body}");
    assert!(body.contains(&id), "the page shows the request id {id}");
    // The same id is in the server log, so the user can quote it.
    assert!(s.logs_with(&id).await.contains(&id));
}

#[tokio::test]
async fn framework_errors_become_the_error_page_without_detail() {
    let s = Server::start(Opts::default().args(&["--max-body-bytes", "1000"])).await;
    // Wrong method: 405, the page, and the Allow header kept.
    let res = s.client.get(s.url("/logout")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_hygiene(res.headers(), true, "405");
    assert!(res.headers().get("allow").is_some());
    assert!(res.text().await.unwrap().contains("この操作はできません"));
    // Body over the limit: 413 before anything reads it.
    let res = s.client.post(s.url("/healthz")).body(vec![b'a'; 5000]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_hygiene(res.headers(), true, "413");
    let body = res.text().await.unwrap();
    assert!(body.contains("送信内容が大きすぎます"), "{body}");
    // HEAD of an unknown page: status and headers, no body.
    let res = s.client.head(s.url("/nothing")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_hygiene(res.headers(), true, "HEAD 404");
}

#[tokio::test]
async fn static_assets_come_only_from_the_list() {
    let s = Server::start(Opts::default()).await;
    let res = s.get("/static/mamori.css").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers().get("content-type").unwrap(), "text/css; charset=utf-8");
    assert_hygiene(res.headers(), true, "css");
    assert!(res.text().await.unwrap().contains("--accent"));
    for path in [
        "/static/",
        "/static",
        "/static/mamori.css.bak",
        "/static/../Cargo.toml",
        "/static/%2e%2e/%2e%2e/Cargo.toml",
        "/static//etc/passwd",
        "/.git/HEAD",
        "/data/mamori.db",
    ] {
        let res = s.get(path).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!res.text().await.unwrap().contains("[package]"), "{path}");
    }
}

#[tokio::test]
async fn healthz_answers_ok_without_a_version_and_the_operations_state_only_to_admin_networks() {
    // From an admin network (loopback by default): jobs, backup, scans, alerts.
    let s = Server::start(Opts::default()).await;
    let res = s.get("/healthz").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_hygiene(res.headers(), true, "healthz");
    let body: serde_json::Value = res.json().await.unwrap();
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["backup", "database", "jobs", "open_alerts", "scan_queue", "status"], "{body}");
    assert_eq!((body["status"].as_str(), body["database"].as_str()), (Some("ok"), Some("ok")));
    assert_eq!(body["jobs"]["state"], "ok", "{body}");
    assert_eq!(body["jobs"]["failed_24h"], 0, "{body}");
    assert_eq!(body["backup"], serde_json::json!({"last": "none", "last_success": null}), "{body}");
    assert_eq!((body["scan_queue"].as_i64(), body["open_alerts"].as_i64()), (Some(0), Some(0)), "{body}");
    assert!(!body.to_string().contains(env!("CARGO_PKG_VERSION")), "{body}");
    s.stop().await;

    // From anywhere else: up or down, nothing more.
    let s = Server::start(Opts::default().args(&["--admin-networks", "10.0.0.0/8"])).await;
    let body: serde_json::Value = s.get("/healthz").await.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok", "database": "ok"}));
}

#[tokio::test]
async fn metrics_answer_admin_networks_only() {
    let s = Server::start(Opts::default()).await;
    s.get("/").await;
    let res = s.get("/metrics").await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    for metric in [
        r#"mamori_http_requests_total{method="GET",route="/",status="200"} 1"#,
        "mamori_http_request_duration_seconds_bucket",
        r#"mamori_db_connections{state="open"}"#,
        "mamori_audit_events_written 2",
    ] {
        assert!(text.contains(metric), "missing {metric} in\n{text}");
    }

    // Loopback excluded from the admin networks: the same 404 as any unknown path.
    let s = Server::start(Opts::default().args(&["--admin-networks", "10.0.0.0/8"])).await;
    let res = s.get("/metrics").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.text().await.unwrap().contains("ページが見つかりません"));
    // A forged X-Forwarded-For from an untrusted peer changes nothing.
    let res = s.client.get(s.url("/metrics")).header("x-forwarded-for", "10.1.2.3").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// The `mamori_http_requests_total` series in a scrape, without their values.
fn request_series(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter(|l| l.starts_with("mamori_http_requests_total{"))
        .filter_map(|l| l.rsplit_once(' ').map(|(series, _)| series.to_owned()))
        .collect()
}

#[tokio::test]
async fn metrics_labels_are_closed_sets_whatever_methods_clients_invent() {
    use rand::Rng;
    let s = Server::start(Opts::default()).await;
    // Every series a scrape itself makes exists before the baseline.
    for _ in 0..2 {
        s.get("/").await;
        s.get("/metrics").await;
    }
    let before = request_series(&s.get("/metrics").await.text().await.unwrap());
    let mut rng = rand::thread_rng();
    let mut invented = Vec::new();
    for i in 0..50 {
        let name: String = (0..10).map(|_| rng.gen_range(b'A'..=b'Z') as char).collect();
        let name = format!("X{name}");
        let method = reqwest::Method::from_bytes(name.as_bytes()).unwrap();
        let path = ["/", "/login", "/no/such/page"][i % 3];
        let res = s.client.request(method, s.url(path)).send().await.unwrap();
        assert!(res.status().is_client_error(), "{name} {path}: {}", res.status());
        invented.push(name);
    }
    let text = s.get("/metrics").await.text().await.unwrap();
    let after = request_series(&text);
    assert!(after.is_superset(&before));
    let new: Vec<&String> = after.difference(&before).collect();
    assert!(!new.is_empty(), "the invented methods are counted:\n{text}");
    assert!(new.iter().all(|series| series.contains(r#"method="OTHER""#)), "new series: {new:#?}");
    for name in &invented {
        assert!(!text.contains(name.as_str()), "{name} appears in the metrics:\n{text}");
    }
}

#[tokio::test]
async fn trusted_proxy_decides_the_client_address_and_scheme() {
    let s =
        Server::start(Opts::default().args(&["--admin-networks", "10.0.0.0/8", "--trusted-proxies", "127.0.0.1/32"]))
            .await;
    let res = s.client.get(s.url("/metrics")).header("x-forwarded-for", "10.1.2.3").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "client 10.1.2.3 via the trusted proxy");
    let res = s.client.get(s.url("/metrics")).header("x-forwarded-for", "10.1.2.3, 192.0.2.9").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "the client is the rightmost untrusted hop, 192.0.2.9");
    assert!(
        s.logs_with("client=192.0.2.9").await.contains("client=192.0.2.9"),
        "the log shows the client address, not the proxy's"
    );
    // The proxy says the client came over plain HTTP: redirect to HTTPS.
    let res = s.client.get(s.url("/x?y=1")).header("x-forwarded-proto", "http").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers().get("location").unwrap().to_str().unwrap(), format!("{}/x?y=1", s.base));
    // With the headers every answer carries (it had none), and in the log.
    assert_hygiene(res.headers(), true, "the redirect to HTTPS");
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(s.logs_with(&id).await.contains(&id), "the redirect is in the request log");
}

#[tokio::test]
async fn trusted_proxy_hops_with_a_port_or_in_brackets_are_read_as_addresses() {
    let s = Server::start(Opts::default().args(&[
        "--admin-networks",
        "10.0.0.0/8,2001:db8::/32",
        "--trusted-proxies",
        "127.0.0.1/32",
    ]))
    .await;
    for (xff, want) in [
        ("10.1.2.3:51234", StatusCode::OK),
        ("[2001:db8::5]:443", StatusCode::OK),
        ("[2001:db8::5]", StatusCode::OK),
        // the rightmost untrusted hop is the client, port or not
        ("10.1.2.3:51234, 192.0.2.9:443", StatusCode::NOT_FOUND),
        // a malformed hop stops the walk: the client is the proxy itself
        ("10.1.2.3, 10.9.9.9:99999", StatusCode::NOT_FOUND),
        ("10.1.2.3, [10.9.9.9]:443", StatusCode::NOT_FOUND),
    ] {
        let res = s.client.get(s.url("/metrics")).header("x-forwarded-for", xff).send().await.unwrap();
        assert_eq!(res.status(), want, "X-Forwarded-For: {xff}");
    }
    // Lines are written in order: once this one is in, the earlier are too.
    let logs = s.logs_with("client=192.0.2.9").await;
    assert!(logs.contains("client=10.1.2.3") && logs.contains("client=2001:db8::5"), "{logs}");
    assert!(logs.contains("client=192.0.2.9"), "{logs}");
}

#[tokio::test]
async fn redirect_listener_sends_everything_to_the_public_https_origin() {
    let s = Server::start(Opts::default().args(&[
        "--http-redirect-listen",
        "127.0.0.1:0",
        "--public-url",
        "https://mamori.example.lg.jp/",
    ]))
    .await;
    let http = s.redirect.clone().expect("redirect listener URL printed");
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (method, path) in [("GET", "/"), ("GET", "/a/b?c=1&d=%E3%81%82"), ("POST", "/login")] {
        let res = plain
            .request(method.parse().unwrap(), format!("{http}{path}"))
            .header("host", "evil.example")
            .send()
            .await
            .unwrap();
        assert!(matches!(res.status().as_u16(), 301 | 308), "{method} {path}: {}", res.status());
        assert_eq!(
            res.headers().get("location").unwrap().to_str().unwrap(),
            format!("https://mamori.example.lg.jp{path}"),
            "built from the configured origin, never from Host"
        );
        assert_hygiene(res.headers(), false, "redirect");
    }
}

/// The alert rules shipped for Prometheus name only metrics mamori serves:
/// a renamed metric would silence an alert nobody sees missing.
#[tokio::test]
async fn every_metric_the_shipped_alert_rules_name_is_in_a_scrape() {
    let s = Server::start(Opts::default()).await;
    let scrape = s.get("/metrics").await.text().await.unwrap();
    let rules =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/operations/prometheus-rules.yml"))
            .unwrap();
    let mut named = std::collections::BTreeSet::new();
    for (i, _) in rules.match_indices("mamori_") {
        let name: String =
            rules[i..].chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
        named.insert(name);
    }
    assert!(named.len() >= 6 && named.contains("mamori_jobs"), "{named:?}");
    for name in &named {
        assert!(
            scrape.lines().any(|l| l.starts_with(&format!("{name} ")) || l.starts_with(&format!("{name}{{"))),
            "{name} is not served:\n{scrape}"
        );
    }
    for state in ["waiting", "running", "retrying", "failed_24h"] {
        assert!(scrape.contains(&format!("mamori_jobs{{state=\"{state}\"}}")), "{state}");
    }
}
