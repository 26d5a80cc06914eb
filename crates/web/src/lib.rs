//! mamori's HTTP layer: the router, the middleware stack, handlers,
//! templates, translations and static files, and the HTTPS server.
//!
//! Handlers are thin: they parse input, check permission, call the store
//! and render. No SQL and no business rule lives here.

mod action_labels;
mod assets;
mod auth;
pub mod client;
pub mod comparisons;
mod context;
mod csrf;
mod download;
mod error;
mod error_page;
mod forms;
mod handlers;
mod health;
pub mod i18n;
pub mod in_flight;
pub mod labels;
mod metrics;
mod middleware;
mod pace;
mod page;
mod pages;
pub mod person_turns;
pub mod record_labels;
pub mod refusals;

/// The print page of a report, for the console to write as a file.
pub mod report {
    pub use crate::handlers::systems::{print_html, yearly_html, Styles};
}
pub mod routes;
pub mod sealed;
pub mod sending;
pub mod server;
mod session;
pub mod tls;
pub mod uploads;

use axum::Router;
use ipnet::IpNet;
use mamori_core::clock::Clock;
use mamori_core::password::PasswordPolicy;
use mamori_core::policy::{InactivityPolicy, LockoutPolicy, SessionPolicy};
use mamori_store::sessions::Sessions;
use mamori_store::Store;
use std::sync::Arc;
use std::time::Duration;

pub use error::AppError;
pub use metrics::Metrics;

/// Settings the HTTP layer needs, resolved by the binary from flags,
/// environment and file.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// `https://host[:port]`, without a trailing slash. Every redirect and
    /// absolute link is built from it, never from the request's Host header.
    pub public_origin: String,
    /// Peers whose X-Forwarded-For / X-Forwarded-Proto are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Clients that may reach /metrics (and, later, the admin screens).
    pub admin_networks: Vec<IpNet>,
    pub limits: Limits,
    pub security: Security,
    pub evidence: EvidenceConfig,
    /// The least time between two scans of one system a vendor asks for.
    pub vendor_scan_gap: time::Duration,
    /// The month yearly reports fall due unless a system has its own (1–12).
    pub report_month: u8,
    /// The days a round gives to answer, to its due date.
    pub round_days: u16,
    /// The days before a support end that warn (items 62, 68).
    pub support_warn_days: u16,
    /// Sends alerts by mail and webhook, when configured (items 22, 23).
    pub notifier: Option<std::sync::Arc<mamori_app::notify::Notifier>>,
}

/// Evidence uploads.
#[derive(Debug, Clone)]
pub struct EvidenceConfig {
    /// Largest file accepted (default 20 MB).
    pub max_bytes: usize,
    /// Scan every upload before accepting it, when set (item 58).
    pub clamd: Option<mamori_files::evidence::Clamd>,
    /// The most bytes one organisation stores, evidence and library
    /// together (default 10 GiB).
    pub quota_bytes: u64,
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        EvidenceConfig { max_bytes: 20 * 1024 * 1024, clamd: None, quota_bytes: 10 * 1024 * 1024 * 1024 }
    }
}

/// The rules of identity, resolved from configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct Security {
    pub password: PasswordPolicy,
    pub lockout: LockoutPolicy,
    pub session: SessionPolicy,
    pub inactivity: InactivityPolicy,
    pub second_factor: mamori_core::policy::SecondFactorPolicy,
}

/// Limits that keep one client from holding the server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub max_connections: usize,
    /// The connections one address (an IPv6 /64) may hold at once: so that
    /// one client cannot hold every slot, while an office behind one
    /// address (a ward's proxy) still has room.
    pub max_connections_per_address: usize,
    /// The connections one address (an IPv6 /64) may open a second,
    /// counted over ten seconds: each TLS handshake is the server's key
    /// exchange and signature, work a client asks for with a hello it can
    /// send again and again at no cost of its own.
    pub new_connections_per_address: u32,
    pub max_header_bytes: usize,
    pub header_read_timeout: Duration,
    pub tls_handshake_timeout: Duration,
    pub shutdown_grace: Duration,
    /// Changes (and audited downloads) one signed-in person may make in a
    /// minute, and in a day in Japan ([`pace`]).
    pub writes_per_minute: u32,
    pub writes_per_day: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_connections_per_address: 512,
            new_connections_per_address: 60,
            max_header_bytes: 16 * 1024,
            header_read_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
            writes_per_minute: 120,
            writes_per_day: 2_000,
        }
    }
}

/// What every handler can reach. Cheap to clone: the store (bound to the
/// data's revision in a signed-in request's copy) and one shared part,
/// whose fields read as the state's own (`state.config`).
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub shared: Arc<Shared>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}

/// What every copy of the [`AppState`] shares.
pub struct Shared {
    pub sessions: Sessions,
    pub config: Arc<WebConfig>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub i18n: Arc<i18n::I18n>,
    pub hasher: Arc<mamori_app::passwords::Hasher>,
    pub refusals: Arc<refusals::Refusals>,
    /// Whose changes are known to be past a limit ([`pace`]).
    pub pace: pace::Pace,
    /// The key that signs visitors' CSRF tokens ([`csrf`]), made once per
    /// installation and kept in the database; set by [`AppState::prepare`].
    pub csrf_key: Arc<std::sync::OnceLock<Arc<[u8]>>>,
    /// Catalog comparisons, made one at a time and kept.
    pub comparisons: comparisons::Comparisons,
}

impl AppState {
    pub fn new(store: Store, sessions: Sessions, config: WebConfig, clock: Arc<dyn Clock>) -> Self {
        store.set_organisation_quota(config.evidence.quota_bytes);
        let shared = Shared {
            sessions,
            config: Arc::new(config),
            clock,
            metrics: Arc::new(Metrics::new()),
            i18n: Arc::new(i18n::I18n::load()),
            hasher: Arc::new(mamori_app::passwords::Hasher::new()),
            refusals: Arc::new(refusals::Refusals::default()),
            pace: pace::Pace::default(),
            csrf_key: Default::default(),
            comparisons: comparisons::Comparisons::default(),
        };
        AppState { store, shared: Arc::new(shared) }
    }

    /// Loads (at first start, makes) the installation's keys, before the
    /// first request: a visitor's page view then reads and writes nothing.
    pub async fn prepare(&self) -> Result<(), mamori_store::StoreError> {
        self.hasher.login_key(&self.store).await?;
        let candidate: [u8; 32] = rand::random();
        let stored = self.store.server_secret("csrf-key", &hex::encode(candidate)).await?;
        let key = hex::decode(stored).unwrap_or_else(|_| candidate.to_vec());
        let _ = self.csrf_key.set(key.into());
        Ok(())
    }
}

impl AppState {
    /// Counts a refused request of someone without an account; writes the
    /// counts of a minute that has ended ([`refusals`]).
    pub async fn refused(&self, addr: &str, why: &'static str, path: &str) {
        let now = self.clock.now();
        let done = self.refusals.note(now, addr, why, path);
        refusals::Refusals::write(&self.store, now, done).await;
    }

    /// Records a refused request of a known person (`account`): the event
    /// itself up to a limit a minute, then counted ([`refusals`]).
    pub async fn refused_person(&self, account: i64, event: mamori_core::audit::NewEvent) {
        let now = self.clock.now();
        let (each, done) = self.refusals.note_signed_in(now, account, event);
        refusals::Refusals::write(&self.store, now, done).await;
        if let Some(event) = each {
            if let Err(e) = self.store.audit_record(now, event).await {
                tracing::error!("cannot audit a refused request: {e}");
            }
        }
    }
}

/// The application: every route, behind the middleware stack.
pub fn app(state: AppState) -> Router {
    let routes = assets::routes(routes::router(&state)).fallback(pages::not_found);
    middleware::stack(routes, state.clone()).with_state(state)
}

/// The plain-HTTP listener's application: it only redirects to HTTPS.
pub fn redirect_app(state: AppState) -> Router {
    middleware::redirect_stack(Router::new().fallback(pages::redirect_to_https), state.clone()).with_state(state)
}

#[cfg(test)]
mod house {
    /// Every source file of the web layer stays readable at a sitting: a
    /// file past 500 lines is split by what it does (docs/ARCHITECTURE.md).
    #[test]
    fn no_source_file_of_the_web_crate_is_over_500_lines() {
        fn walk(dir: &std::path::Path, long: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, long);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let lines = std::fs::read_to_string(&path).unwrap().lines().count();
                    if lines > 500 {
                        long.push(format!("{}: {lines}", path.display()));
                    }
                }
            }
        }
        let mut long = Vec::new();
        walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut long);
        assert!(long.is_empty(), "{long:?}");
    }
}
