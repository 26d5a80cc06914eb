//! mamori's HTTP layer: the router, the middleware stack, handlers,
//! templates, translations and static files, and the HTTPS server.
//!
//! Handlers are thin: they parse input, check permission, call the store
//! and render. No SQL and no business rule lives here.

mod assets;
pub mod client;
mod error;
mod health;
pub mod i18n;
mod metrics;
mod middleware;
mod pages;
pub mod server;
pub mod tls;

use axum::Router;
use ipnet::IpNet;
use mamori_core::clock::Clock;
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
}

/// Limits that keep one client from holding the server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub max_connections: usize,
    pub max_header_bytes: usize,
    pub header_read_timeout: Duration,
    pub tls_handshake_timeout: Duration,
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_header_bytes: 16 * 1024,
            header_read_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<WebConfig>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub i18n: Arc<i18n::I18n>,
}

impl AppState {
    pub fn new(store: Store, config: WebConfig, clock: Arc<dyn Clock>) -> Self {
        AppState {
            store,
            config: Arc::new(config),
            clock,
            metrics: Arc::new(Metrics::new()),
            i18n: Arc::new(i18n::I18n::load()),
        }
    }
}

/// The application: every route, behind the middleware stack.
pub fn app(state: AppState) -> Router {
    let routes = Router::new()
        .route("/", axum::routing::get(pages::home))
        .route("/healthz", axum::routing::get(health::healthz))
        .route("/metrics", axum::routing::get(metrics::metrics));
    let routes = assets::routes(routes).fallback(pages::not_found);
    middleware::stack(routes, state.clone()).with_state(state)
}

/// The plain-HTTP listener's application: it only redirects to HTTPS.
pub fn redirect_app(state: AppState) -> Router {
    middleware::redirect_stack(
        Router::new().fallback(pages::redirect_to_https),
        state.clone(),
    )
    .with_state(state)
}
