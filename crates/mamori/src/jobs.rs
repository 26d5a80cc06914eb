//! Background work of the server: expired sessions, inactive accounts, and
//! the first-run setup token.

use mamori_core::audit::Actor;
use mamori_core::clock::Clock;
use mamori_store::identity::Ctx;
use mamori_store::sessions::Sessions;
use mamori_store::Store;
use mamori_web::refusals::Refusals;
use mamori_web::Security;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tower_sessions::session_store::ExpiredDeletion;

const DAILY: Duration = Duration::from_secs(24 * 3600);
const SESSION_SWEEP: Duration = Duration::from_secs(15 * 60);
const SIGNIN_WATCH: Duration = Duration::from_secs(10 * 60);
const MINUTE: Duration = Duration::from_secs(60);

/// While no administrator exists: a new single-use token, valid 30 minutes,
/// on every start (item 37: no default account ever exists). Returns the URL.
pub async fn setup_token(
    store: &Store,
    clock: &dyn Clock,
    origin: &str,
) -> Result<Option<String>, mamori_store::StoreError> {
    let token = mamori_app::signin::issue_setup_token(store, clock.now()).await?;
    Ok(token.map(|token| format!("{origin}/setup/{token}")))
}

/// What the background jobs work on.
pub struct Background {
    pub store: Store,
    pub sessions: Sessions,
    pub clock: Arc<dyn Clock>,
    pub security: Security,
    pub audit: crate::auditlog::AuditConfig,
    pub scan: crate::config::ScanConfig,
    pub refusals: Arc<Refusals>,
}

/// Runs until `stop`: sweeps expired sessions every 15 minutes, writes the
/// counts of refused anonymous requests every minute, and once a day
/// disables accounts unused for `disable_after` (items 3, 65).
pub fn spawn(b: Background, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    let Background { store, sessions, clock, security, audit, scan, refusals } = b;
    spawn_scan_worker(store.clone(), clock.clone(), scan, stop.clone());
    tokio::spawn(async move {
        let mut sweep = tokio::time::interval(SESSION_SWEEP);
        let mut daily = tokio::time::interval(DAILY);
        let mut watch = tokio::time::interval(SIGNIN_WATCH);
        let mut minutely = tokio::time::interval(MINUTE);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = sweep.tick() => {
                    if let Err(e) = sessions.delete_expired().await {
                        tracing::warn!("cannot delete expired sessions: {e}");
                    }
                }
                _ = minutely.tick() => {
                    // Refused anonymous requests, counted per address and minute.
                    let now = clock.now();
                    Refusals::write(&store, now, refusals.take_finished(now)).await;
                }
                _ = watch.tick() => {
                    if let Err(e) = store.watch_signins(clock.now(), &audit.watch).await {
                        tracing::warn!("sign-in watch failed: {e}");
                    }
                }
                _ = daily.tick() => {
                    disable_inactive(&store, &*clock, &security).await;
                    if let Err(e) = crate::scanning::schedule(&store, &*clock).await {
                        tracing::warn!("cannot schedule the daily scans: {e}");
                    }
                    if let Err(e) = store.verify_and_alert(clock.now()).await {
                        tracing::error!("cannot verify the audit chain: {e}");
                    }
                    match crate::auditlog::purge(&store, &*clock, &audit, Actor::system()).await {
                        Ok(Some((n, path))) => tracing::info!("purged {n} audit events into {}", path.display()),
                        Ok(None) => {}
                        Err(e) => tracing::error!("audit purge failed: {e}"),
                    }
                }
            }
        }
    })
}

/// The scan worker, in a task of its own: a slow target never delays the
/// session sweep, the alerts or the daily jobs. Queued scans run here, never
/// inside a request.
fn spawn_scan_worker(
    store: Store,
    clock: Arc<dyn Clock>,
    scan: crate::config::ScanConfig,
    mut stop: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let mut poll = tokio::time::interval(scan.poll);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = poll.tick() => loop {
                    match crate::scanning::run_one(&store, &*clock, &scan.options).await {
                        Ok(true) => continue,
                        Ok(false) => break,
                        Err(e) => {
                            tracing::warn!("scan worker: {e}");
                            break;
                        }
                    }
                },
            }
        }
    });
}

pub async fn disable_inactive(store: &Store, clock: &dyn Clock, security: &Security) {
    let now = clock.now();
    let ctx = Ctx { now, actor: Actor::system(), origin: Default::default() };
    let days = security.inactivity.disable_after.whole_days();
    let reason = format!("{days}日以上ログインがないため自動で無効化 (unused for {days} days)");
    match store.disable_inactive(&ctx, now - security.inactivity.disable_after, &reason).await {
        Ok(done) if !done.is_empty() => tracing::info!("disabled inactive accounts: {}", done.join(", ")),
        Ok(_) => {}
        Err(e) => tracing::error!("cannot disable inactive accounts: {e}"),
    }
}
