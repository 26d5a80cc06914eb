use crate::client::ClientInfo;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{json, Value};

/// `GET /healthz`: 200 when the database answers, 503 otherwise. No version.
/// A client in `admin_networks` also reads the state of the operations
/// (items 22, 23): scheduled jobs, the newest backup, the scan queue and
/// open alerts; anyone else only whether the service is up.
pub async fn healthz(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
) -> (StatusCode, Json<Value>) {
    if let Err(e) = state.store.ping().await {
        tracing::warn!("health check: database does not answer: {e}");
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "error", "database": "error"})));
    }
    if !client.in_admin_networks(&state.config.admin_networks) {
        return (StatusCode::OK, Json(json!({"status": "ok", "database": "ok"})));
    }
    let now = state.clock.now();
    let (ops, jobs) = match (state.store.operations(now).await, state.store.job_counts(now).await) {
        (Ok(ops), Ok(jobs)) => (ops, jobs),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!("health check: cannot read the operations' state: {e}");
            return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "error", "database": "error"})));
        }
    };
    let backup = match ops.last_backup_succeeded {
        None => "none",
        Some(true) => "ok",
        Some(false) => "failed",
    };
    let body = json!({
        "status": "ok",
        "database": "ok",
        "jobs": {
            "state": if jobs.failed_24h > 0 { "failing" } else { "ok" },
            "waiting": jobs.waiting,
            "running": jobs.running,
            "retrying": jobs.retrying,
            "failed_24h": jobs.failed_24h,
        },
        "backup": {
            "last": backup,
            "last_success": ops.last_backup_ok.map(mamori_core::jst::format_rfc3339_jst),
        },
        "scan_queue": ops.queued_scans,
        "open_alerts": ops.open_alerts,
    });
    (StatusCode::OK, Json(body))
}
