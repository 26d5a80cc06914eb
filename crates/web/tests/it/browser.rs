//! A real headless Chromium (Debian's), driven through chromedriver over
//! WebDriver, for what only a browser shows: layout widths, visible text,
//! focus.

use crate::harness::{App, PASSWORD};
use fantoccini::{Client, ClientBuilder, Locator};
use mamori_core::totp;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tempfile::TempDir;
use tokio::process::{Child, Command};

/// A Chromium DevTools command, sent through chromedriver's `goog/cdp`
/// endpoint (WebDriver has no command to run a script before a page's own).
#[derive(Debug)]
struct Cdp(&'static str, Value);

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "cmd": self.0, "params": self.1 }).to_string()))
    }
}

pub struct Browser {
    pub client: Client,
    /// Pages loaded so far (opened, or reached by a click or a form).
    loads: AtomicUsize,
    driver: Child,
    _profile: TempDir,
}

impl Browser {
    /// A browser whose window is `width` × `height` CSS pixels.
    pub async fn start(width: u32, height: u32) -> Browser {
        let profile = TempDir::new().unwrap();
        // A free port for chromedriver: taken and released at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; scripts/test installs it)");
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        // The test server's certificate is self-signed.
        caps.insert("acceptInsecureCerts".into(), json!(true));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--lang=ja", format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let mut last = None;
        for _ in 0..100 {
            match ClientBuilder::new(connector.clone()).capabilities(caps.clone()).connect(&url).await {
                Ok(client) => {
                    let b = Browser { client, loads: AtomicUsize::new(0), driver, _profile: profile };
                    b.resize(width, height).await;
                    return b;
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not answer: {last:?}");
    }

    /// Makes the viewport (not the window) `width` × `height`.
    pub async fn resize(&self, width: u32, height: u32) {
        let inner = self.eval("return [window.innerWidth, window.innerHeight]").await;
        let (w, h) = (inner[0].as_u64().unwrap_or(0), inner[1].as_u64().unwrap_or(0));
        let (ww, wh) = self.client.get_window_size().await.unwrap();
        let (dw, dh) = if w == 0 { (0, 0) } else { (ww - w, wh - h) };
        self.client.set_window_size(width + dw as u32, height + dh as u32).await.unwrap();
    }

    pub async fn open(&self, app: &App, path: &str) {
        self.client.goto(&format!("{}{path}", app.base)).await.unwrap();
        self.loads.fetch_add(1, Ordering::SeqCst);
    }

    /// How many pages were loaded since the browser started.
    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }

    /// Clicks the element `css` (a link or a button) and waits for the
    /// page it leads to.
    pub async fn click(&self, css: &str) {
        let e = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        self.eval("window.mamoriOldPage = true; return null").await;
        e.click().await.unwrap();
        self.wait_for_new_page().await;
    }

    pub async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// The path of the page shown.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Signs in through the form, with the second factor when it has one.
    pub async fn sign_in(&self, app: &App, login: &str, secret: Option<&str>) {
        self.open(app, "/login").await;
        self.fill(&[("login", login), ("password", PASSWORD)]).await;
        if self.path().await == "/login/totp" {
            // A code is taken once (RFC 6238): the next step's.
            app.clock.advance(time::Duration::seconds(30));
            let code = totp::code_at(secret.expect("a second factor"), app.now()).unwrap();
            self.fill(&[("code", &code)]).await;
        }
        let (path, text) = (self.path().await, self.eval("return document.body.innerText").await);
        assert!(!path.starts_with("/login"), "{login} is signed in: {path} {text}");
    }

    /// Types into the fields of the page's form named by `fields[0]` and
    /// submits it.
    pub async fn fill(&self, fields: &[(&str, &str)]) {
        let mut last = None;
        for (name, value) in fields {
            let e = self.client.find(Locator::Css(&format!("[name='{name}']"))).await.unwrap();
            if e.attr("type").await.unwrap().as_deref() == Some("date") {
                // Typed into, a date field reads digits in the locale's order.
                let args = vec![serde_json::to_value(&e).unwrap(), json!(value)];
                self.client.execute("arguments[0].value = arguments[1]", args).await.unwrap();
            } else {
                e.clear().await.unwrap();
                e.send_keys(value).await.unwrap();
            }
            last = Some(e);
        }
        let form = last.expect("a field").find(Locator::XPath("./ancestor::form")).await.unwrap();
        self.eval("window.mamoriOldPage = true; return null").await;
        form.find(Locator::Css("[type='submit']")).await.unwrap().click().await.unwrap();
        self.wait_for_new_page().await;
    }

    /// Waits until the page that was shown has been replaced and the new
    /// one has loaded.
    async fn wait_for_new_page(&self) {
        for _ in 0..200 {
            let done = self.eval("return !window.mamoriOldPage && document.readyState === 'complete'").await;
            if done == Value::Bool(true) {
                self.loads.fetch_add(1, Ordering::SeqCst);
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no new page within 5 s of submitting");
    }

    /// What axe-core finds against WCAG 2.1 A and AA (JIS X 8341-3) on the
    /// page shown: `(rule, impact, where)` for each serious or critical
    /// violation.
    pub async fn accessibility_violations(&self) -> Vec<(String, String, String)> {
        let axe =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/axe/node_modules/axe-core/axe.min.js"))
                .expect("axe-core (scripts/test installs it with npm ci)");
        self.client.execute(&axe, vec![]).await.unwrap();
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] })
                   .then(r => done(r.violations
                     .filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => [v.id, v.impact, v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')])))
                   .catch(e => done([['axe', 'error', String(e)]]));",
                vec![],
            )
            .await
            .unwrap();
        serde_json::from_value(found).unwrap()
    }

    /// From the next page on, records in the page every script that runs
    /// where mamori's own would not (`alert`, `confirm`, `prompt` called)
    /// and every Content-Security-Policy violation; read with
    /// [`Browser::script_findings`].
    pub async fn watch_scripts(&self) {
        let source = "(() => {
            const seen = [];
            Object.defineProperty(window, '__mamoriSeen', { value: seen });
            const note = (what) => seen.push(String(what).slice(0, 300));
            document.addEventListener('securitypolicyviolation',
                e => note('csp ' + e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sample), true);
            for (const f of ['alert', 'confirm', 'prompt']) {
                window[f] = (m) => { note(f + ' ' + m); };
            }
        })();";
        let cmd = Cdp("Page.addScriptToEvaluateOnNewDocument", json!({ "source": source }));
        self.client.issue_cmd(cmd).await.unwrap();
    }

    /// What the hook of [`Browser::watch_scripts`] saw on the page shown,
    /// and the elements and links a stored payload would have made had it
    /// been taken as HTML.
    pub async fn script_findings(&self) -> Vec<String> {
        // Violation reports are dispatched as tasks after the load.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let found = self
            .eval(
                "const out = (window.__mamoriSeen || ['no hook on this page']).slice();
                 for (const e of document.querySelectorAll('[data-xss-probe], xss-probe')) {
                     out.push('element ' + e.outerHTML.slice(0, 200));
                 }
                 for (const e of document.querySelectorAll('[href], [src], [action], [formaction], [data]')) {
                     for (const a of ['href', 'src', 'action', 'formaction', 'data']) {
                         const v = (e.getAttribute(a) || '').replace(/[\\s\\u0000-\\u001f]/g, '').toLowerCase();
                         if (v.startsWith('javascript:') || v.startsWith('data:text/html') || v.startsWith('vbscript:')) {
                             out.push('url ' + e.outerHTML.slice(0, 200));
                         }
                     }
                 }
                 return out;",
            )
            .await;
        serde_json::from_value(found).unwrap()
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
        drop(self.driver);
    }
}
