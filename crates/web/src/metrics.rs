//! Prometheus metrics. The registry belongs to the application state, not
//! to the process, so several servers in one test process do not collide.

use crate::client::ClientInfo;
use crate::error::AppError;
use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Extension;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: String,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    db_connections: Family<PoolLabels, Gauge>,
    audit_events: Gauge,
    open_alerts: Gauge,
    queued_scans: Gauge,
    backup_last_success: Gauge,
    backup_last_ok: Gauge,
    notifications_failed: Gauge,
    jobs: Family<PoolLabels, Gauge>,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("mamori");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let db_connections = Family::<PoolLabels, Gauge>::default();
        let audit_events = Gauge::default();
        registry.register("http_requests", "HTTP requests by method, route and status", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency by route", latency.clone());
        registry.register("db_connections", "Database pool connections by state", db_connections.clone());
        registry.register("audit_events_written", "Audit events written to the chain", audit_events.clone());
        let (open_alerts, queued_scans) = (Gauge::default(), Gauge::default());
        let (backup_last_success, backup_last_ok, notifications_failed) =
            (Gauge::default(), Gauge::default(), Gauge::default());
        registry.register("open_alerts", "Alerts not acknowledged yet", open_alerts.clone());
        registry.register("scan_queue", "Scans waiting for the worker", queued_scans.clone());
        registry.register(
            "backup_last_success_timestamp_seconds",
            "Time of the newest successful backup (0: none yet)",
            backup_last_success.clone(),
        );
        registry.register(
            "backup_last_ok",
            "1 when the newest backup succeeded, 0 when it failed or none was taken",
            backup_last_ok.clone(),
        );
        registry.register(
            "notifications_failed_24h",
            "Notification attempts that failed in the last 24 hours",
            notifications_failed.clone(),
        );
        let jobs = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "jobs",
            "Scheduled runs by state: waiting (due), running, retrying (an attempt failed), failed_24h",
            jobs.clone(),
        );
        Metrics {
            jobs,
            registry,
            requests,
            latency,
            db_connections,
            audit_events,
            open_alerts,
            queued_scans,
            backup_last_success,
            backup_last_ok,
            notifications_failed,
        }
    }

    /// Counts one request. Every label comes from a closed set, so no client
    /// can add series: the method is GET, HEAD, POST or OTHER, the route is
    /// the matched route template or `unmatched`, the status is a number.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let method = method_label(method).to_owned();
        self.requests.get_or_create(&RequestLabels { method, route: route.to_owned(), status }).inc();
        self.latency.get_or_create(&RouteLabels { route: route.to_owned() }).observe(elapsed.as_secs_f64());
    }

    fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// The method as a label: GET, HEAD and POST, the methods mamori's routes
/// answer, by name; any other (a client may send any token) as `OTHER`.
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        _ => "OTHER",
    }
}

/// `GET /metrics`: only for clients in `admin_networks`; everyone else gets
/// the same 404 as for any unknown path.
pub async fn metrics(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
) -> Result<impl IntoResponse, AppError> {
    if !client.in_admin_networks(&state.config.admin_networks) {
        return Err(AppError::NotFound);
    }
    let m = &state.metrics;
    let pool = state.store.pool_stats();
    m.db_connections.get_or_create(&PoolLabels { state: "open".into() }).set(i64::from(pool.size));
    m.db_connections.get_or_create(&PoolLabels { state: "idle".into() }).set(i64::from(pool.idle));
    m.audit_events.set(state.store.audit_chain_ends().await?.head_seq);
    let ops = state.store.operations(state.clock.now()).await?;
    m.open_alerts.set(ops.open_alerts);
    m.queued_scans.set(ops.queued_scans);
    m.backup_last_success.set(ops.last_backup_ok.map_or(0, |t| t.unix_timestamp()));
    m.backup_last_ok.set(i64::from(ops.last_backup_succeeded == Some(true)));
    m.notifications_failed.set(ops.failed_notifications);
    let jobs = state.store.job_counts(state.clock.now()).await?;
    for (label, n) in [
        ("waiting", jobs.waiting),
        ("running", jobs.running),
        ("retrying", jobs.retrying),
        ("failed_24h", jobs.failed_24h),
    ] {
        m.jobs.get_or_create(&PoolLabels { state: label.into() }).set(n);
    }
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], m.encode()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_counted_as_get_head_post_or_other() {
        let m = Metrics::new();
        for method in ["GET", "HEAD", "POST", "PUT", "get", "DELETE", "X-EVIL-1", "PROPFIND"] {
            m.observe_request(method, "unmatched", 404, Duration::from_millis(1));
        }
        let text = m.encode();
        let mut series: Vec<&str> = text.lines().filter(|l| l.starts_with("mamori_http_requests_total{")).collect();
        series.sort_unstable();
        assert_eq!(
            series,
            [
                r#"mamori_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
                r#"mamori_http_requests_total{method="HEAD",route="unmatched",status="404"} 1"#,
                r#"mamori_http_requests_total{method="OTHER",route="unmatched",status="404"} 5"#,
                r#"mamori_http_requests_total{method="POST",route="unmatched",status="404"} 1"#,
            ]
        );
    }
}
