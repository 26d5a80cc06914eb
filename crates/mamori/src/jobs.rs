//! Background work of the server. Scheduled work (the sign-in watch, the
//! daily jobs, the server's backup) is rows in the database
//! (`mamori_store::jobs`): every instance queues each run under the same
//! key and one runs it, so several instances on one PostgreSQL never run a
//! day's job twice. What belongs to one instance (its expired sessions
//! sweep, its count of refused requests) stays in its own loop. Scans have
//! a queue of their own, worked by a task of its own.
//!
//! ```toml
//! [jobs]
//! poll_secs = 30              # how often an instance looks for due work
//! reminders_at = "08:30"      # when the day's due-date reminders are mailed (Japan time)
//! [backup]                    # the daily backup, taken by the server
//! dir = "/var/backups/mamori"
//! copy_to = "/mnt/offsite/mamori"          # a second location (another mount)
//! passphrase_file = "/etc/mamori/backup-passphrase"  # or MAMORI_BACKUP_PASSPHRASE
//! at = "02:00"                # Japan time
//! keep_daily = 7
//! keep_monthly = 12
//! [backup.s3]                 # a copy in object storage as well: see `offsite`
//! ```

use crate::backup_plan::BackupPlan;
use crate::settings::ConfigError;
use mamori_core::audit::Actor;
use mamori_core::clock::Clock;
use mamori_core::jobs::JobKind;
use mamori_core::policy::Keeping;
use mamori_store::identity::Ctx;
use mamori_store::jobs::Job;
use mamori_store::sessions::Sessions;
use mamori_store::Store;
use mamori_web::refusals::Refusals;
use mamori_web::Security;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tower_sessions::session_store::ExpiredDeletion;

const SESSION_SWEEP: Duration = Duration::from_secs(15 * 60);
const MINUTE: Duration = Duration::from_secs(60);
/// `[jobs]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileJobs {
    poll_secs: Option<u64>,
    reminders_at: Option<String>,
}

/// `[backup]`: the backup the server takes every day (items 19, 21).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileBackup {
    dir: Option<PathBuf>,
    copy_to: Option<PathBuf>,
    passphrase_file: Option<PathBuf>,
    #[serde(default)]
    unencrypted: bool,
    at: Option<String>,
    keep_daily: Option<usize>,
    keep_monthly: Option<usize>,
    pub(crate) s3: Option<crate::offsite::FileS3>,
}

/// The resolved `[jobs]` and `[backup]`.
#[derive(Debug, Clone)]
pub struct Jobs {
    pub poll: Duration,
    /// The daily backup, when `[backup] dir` is set.
    pub backup: Option<BackupPlan>,
    /// When in the day (Japan time) the backup runs.
    pub backup_at: time::Duration,
    /// When in the day (Japan time) due-date reminders are mailed.
    pub reminders_at: time::Duration,
}

pub fn resolve(jobs: &FileJobs, backup: &FileBackup, errors: &mut Vec<ConfigError>) -> Jobs {
    let poll = crate::settings::positive_up_to("jobs.poll_secs", jobs.poll_secs, 30, crate::settings::POLL_MAX, errors);
    let backup_at = time_of_day("backup.at", backup.at.as_deref(), time::Duration::hours(2), errors);
    let reminders_at =
        time_of_day("jobs.reminders_at", jobs.reminders_at.as_deref(), time::Duration::minutes(8 * 60 + 30), errors);
    let plan = match &backup.dir {
        None => {
            if backup.copy_to.is_some() || backup.passphrase_file.is_some() || backup.s3.is_some() {
                errors.push(ConfigError("backup.dir がありません (backup.dir is missing)".into()));
            }
            None
        }
        Some(dir) => {
            let chosen = crate::backup::Passphrase::find(backup.passphrase_file.as_deref())
                .map_err(|e| format!("{e:#}"))
                .and_then(|p| crate::backup_plan::choose_sealing(p, backup.unencrypted));
            let (keep_daily, keep_monthly) = (backup.keep_daily.unwrap_or(7), backup.keep_monthly.unwrap_or(12));
            if keep_daily == 0 {
                errors
                    .push(ConfigError("backup.keep_daily は 1 以上です (backup.keep_daily must be at least 1)".into()));
            }
            let s3 = backup.s3.as_ref().and_then(|f| crate::offsite::resolve(f, errors));
            match chosen {
                Ok(passphrase) => Some(BackupPlan {
                    to: dir.clone(),
                    copy_to: backup.copy_to.clone(),
                    passphrase,
                    keep_daily,
                    keep_monthly,
                    s3,
                }),
                Err(e) => {
                    errors.push(ConfigError(format!("backup: {e}")));
                    None
                }
            }
        }
    };
    Jobs { poll: Duration::from_secs(poll), backup: plan, backup_at, reminders_at }
}

/// A `HH:MM` setting, Japan time.
fn time_of_day(
    key: &str,
    value: Option<&str>,
    default: time::Duration,
    errors: &mut Vec<ConfigError>,
) -> time::Duration {
    match value.map(minutes_of_day) {
        None => default,
        Some(Some(at)) => at,
        Some(None) => {
            errors
                .push(ConfigError(format!("{key} は \"02:00\" のような 時:分 です ({key} must be HH:MM, Japan time)")));
            default
        }
    }
}

/// `HH:MM` as the time since midnight.
fn minutes_of_day(s: &str) -> Option<time::Duration> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m) && s.trim().len() == 5).then(|| time::Duration::minutes(h * 60 + m))
}

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
    pub scan: crate::scanning::ScanConfig,
    pub refusals: Arc<Refusals>,
    pub jobs: Jobs,
    pub notifier: Arc<mamori_app::notify::Notifier>,
    /// The ward's default month for yearly reports (item 68).
    pub report_month: u8,
    /// The days before a support end that warn (items 62, 68).
    pub support_warn_days: u16,
}

/// Runs until `stop`: the scheduled work (queued and claimed through the
/// database), the scan worker, and this instance's own upkeep: expired
/// sessions swept every 15 minutes, refused anonymous requests written
/// every minute.
pub fn spawn(b: Background, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    let Background {
        store,
        sessions,
        clock,
        security,
        audit,
        scan,
        refusals,
        jobs,
        notifier,
        report_month,
        support_warn_days,
    } = b;
    for _ in 0..scan.workers {
        spawn_scan_worker(store.clone(), clock.clone(), scan.clone(), stop.clone());
    }
    let work = Work {
        store: store.clone(),
        clock: clock.clone(),
        security,
        audit,
        jobs,
        notifier,
        report_month,
        support_warn_days,
        worker: instance_name(),
    };
    spawn_job_worker(work, stop.clone());
    tokio::spawn(async move {
        let mut sweep = tokio::time::interval(SESSION_SWEEP);
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
            }
        }
    })
}

/// This instance, as the jobs page names it: host and process.
fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}:{}", host.trim(), std::process::id())
}

struct Work {
    store: Store,
    clock: Arc<dyn Clock>,
    security: Security,
    audit: crate::auditlog::AuditConfig,
    jobs: Jobs,
    notifier: Arc<mamori_app::notify::Notifier>,
    report_month: u8,
    support_warn_days: u16,
    worker: String,
}

/// Every `poll`: queues the runs now due (each kind once per key: a key
/// already queued here is not queued again), then claims and runs due
/// runs until none is left. A run is cut off at its lease.
fn spawn_job_worker(work: Work, mut stop: watch::Receiver<bool>) {
    let work = Arc::new(work);
    tokio::spawn(async move {
        let mut poll = tokio::time::interval(work.jobs.poll);
        let mut queued: HashMap<JobKind, String> = HashMap::new();
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = poll.tick() => {
                    work.queue_due(&mut queued).await;
                    loop {
                        match work.store.claim_job(work.clock.now(), &work.worker).await {
                            Ok(Some(job)) => work.clone().run(job).await,
                            Ok(None) => break,
                            Err(e) => {
                                tracing::warn!("job worker: {e}");
                                break;
                            }
                        }
                    }
                }
            }
        }
    });
}

impl Work {
    async fn queue_due(&self, queued: &mut HashMap<JobKind, String>) {
        let now = self.clock.now();
        for kind in JobKind::ALL.iter().copied() {
            let daily_at = match kind {
                JobKind::Backup if self.jobs.backup.is_none() => continue,
                JobKind::Backup => self.jobs.backup_at,
                JobKind::SendReminders | JobKind::CheckSupport => self.jobs.reminders_at,
                _ => time::Duration::ZERO,
            };
            let due = kind.due(now, daily_at);
            if queued.get(&kind) == Some(&due.run_key) {
                continue;
            }
            match self.store.queue_job(now, kind, &due.run_key, due.not_before).await {
                Ok(_) => {
                    queued.insert(kind, due.run_key);
                }
                Err(e) => tracing::warn!("cannot queue {}: {e}", kind.as_str()),
            }
        }
    }

    async fn run(self: Arc<Self>, job: Job) {
        let result = if job.attempts > job.max_attempts {
            // Claimed again and again and never finished: the instances
            // running it stopped (or were stopped) each time.
            Err(format!(
                "{} 回とも終わりませんでした (never finished in {} attempts)",
                job.max_attempts, job.max_attempts
            ))
        } else {
            let (work, kind) = (self.clone(), job.kind);
            guarded(job.kind.lease().unsigned_abs(), async move { work.perform(kind).await }).await
        };
        match &result {
            Ok(note) => tracing::info!("job {} {}: {note}", job.kind.as_str(), job.run_key),
            Err(e) => {
                tracing::warn!("job {} {} failed (attempt {}): {e}", job.kind.as_str(), job.run_key, job.attempts)
            }
        }
        if let Err(e) = self.store.finish_job(self.clock.now(), &job, result).await {
            tracing::error!("cannot record the end of job {}: {e}", job.kind.as_str());
        }
    }

    async fn perform(&self, kind: JobKind) -> Result<String, String> {
        let (store, now) = (&self.store, self.clock.now());
        match kind {
            JobKind::WatchSignins => {
                store.watch_signins(now, &self.audit.watch).await.map_err(|e| e.to_string())?;
                Ok("確認しました (checked)".into())
            }
            JobKind::DisableInactive => {
                let done = disable_inactive(store, now, &self.security).await.map_err(|e| e.to_string())?;
                Ok(format!("{done} 件を無効化 (disabled)"))
            }
            JobKind::QueueScans => {
                let n = crate::scanning::schedule(store, &*self.clock).await.map_err(|e| e.to_string())?;
                Ok(format!("{n} 件のスキャンを予約 (scans queued)"))
            }
            JobKind::VerifyAudit => match store.verify_and_alert(now).await.map_err(|e| e.to_string())? {
                mamori_store::audit::Verification::Intact { events, .. } => Ok(format!("{events} 件を検証 (verified)")),
                mamori_store::audit::Verification::Broken(_) => {
                    Ok("改ざんを検出、警告済み (broken: alert raised)".into())
                }
            },
            JobKind::PurgeAudit => {
                let purged = crate::auditlog::purge(store, &*self.clock, &self.audit, Actor::system())
                    .await
                    .map_err(|e| e.to_string())?;
                let ctx = Ctx { now, actor: Actor::system(), origin: Default::default(), standing: None };
                // Acknowledged alerts are kept as long as the audit log.
                let keep = Keeping { alerts: self.audit.retention, ..Keeping::default() };
                let removed = store.purge_housekeeping(&ctx, &keep).await.map_err(|e| e.to_string())?;
                let events = purged.map_or(0, |(n, _)| n);
                Ok(format!(
                    "監査ログ {events} 件を保管して削除、古い実行記録 {} 件、失敗したサインイン {} 件、\
                     不要になったサインインの記録 {} 件、対応済みの古い警告 {} 件を削除 \
                     (events archived, job runs, failed sign-ins, old sign-ins and old alerts removed)",
                    removed.job_runs, removed.failed_signins, removed.old_signins, removed.alerts
                ))
            }
            JobKind::SendReminders => {
                mamori_app::reminders::send_reminders(&self.notifier, store, now, self.report_month).await
            }
            JobKind::CheckSupport => {
                let n = mamori_app::inventory::warn_support(store, now, self.support_warn_days.into())
                    .await
                    .map_err(|e| e.to_string())?;
                let m = mamori_app::inventory::alert_matches(store, now).await.map_err(|e| e.to_string())?;
                let r = mamori_app::records::warn_records(store, now).await.map_err(|e| e.to_string())?;
                Ok(format!("サポート終了 {n} 件、脆弱性 {m} 件、記録の期日 {r} 件を警告 (alerts raised)"))
            }
            JobKind::Backup => {
                let Some(plan) = &self.jobs.backup else { return Err("[backup] is not configured".into()) };
                let mut said = |line: String| tracing::info!("backup: {}", line.trim());
                crate::backup_plan::take_recorded(store, plan, now, Actor::system(), &mut said)
                    .await
                    .map(|path| path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
                    .map_err(|e| format!("{e:#}"))
            }
        }
    }
}

/// Runs `work` in a task of its own, cut off at `lease`: a job that
/// panics or overruns is a failed attempt, and the loop that runs jobs
/// goes on.
async fn guarded<F>(lease: Duration, work: F) -> Result<String, String>
where
    F: std::future::Future<Output = Result<String, String>> + Send + 'static,
{
    let mut task = tokio::spawn(work);
    match tokio::time::timeout(lease, &mut task).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) if e.is_panic() => Err("予期しない内部エラーで止まりました (the job panicked)".into()),
        Ok(Err(e)) => Err(format!("止まりました (the job stopped): {e}")),
        Err(_) => {
            task.abort();
            Err(format!("{lease:?} 以内に終わりませんでした (did not finish within {lease:?})"))
        }
    }
}

/// A scan worker, in a task of its own: a slow target never delays the
/// session sweep, the alerts or the daily jobs. Queued scans run here, never
/// inside a request; `[scan] workers` of them take queued scans in turn
/// (each claim is one row, `SKIP LOCKED` on PostgreSQL), so that one slow
/// system holds up no other.
fn spawn_scan_worker(
    store: Store,
    clock: Arc<dyn Clock>,
    scan: crate::scanning::ScanConfig,
    mut stop: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let mut poll = tokio::time::interval(scan.poll);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = poll.tick() => loop {
                    match crate::scanning::run_one(&store, &clock, &scan.options).await {
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

/// Disables accounts unused for `disable_after` (items 3, 65); returns how
/// many.
pub async fn disable_inactive(
    store: &Store,
    now: time::OffsetDateTime,
    security: &Security,
) -> Result<usize, mamori_store::StoreError> {
    let ctx = Ctx { now, actor: Actor::system(), origin: Default::default(), standing: None };
    let days = security.inactivity.disable_after.whole_days();
    let reason = format!("{days}日以上ログインがないため自動で無効化 (unused for {days} days)");
    let done = store.disable_inactive(&ctx, now - security.inactivity.disable_after, &reason).await?;
    if !done.is_empty() {
        tracing::info!("disabled inactive accounts: {}", done.join(", "));
    }
    Ok(done.len())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn a_job_that_panics_or_overruns_is_a_failed_attempt_and_an_overrun_is_stopped() {
        let lease = Duration::from_millis(200);
        assert_eq!(super::guarded(lease, async { Ok("done".to_owned()) }).await, Ok("done".into()));
        assert_eq!(super::guarded(lease, async { Err("disk full".to_owned()) }).await, Err("disk full".into()));
        let panicked = super::guarded(lease, async {
            let v: Vec<u8> = Vec::new();
            Ok(format!("{}", v[1]))
        })
        .await;
        assert!(panicked.is_err_and(|e| e.contains("panicked")));
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        let overrun = super::guarded(lease, async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            flag.store(true, Ordering::SeqCst);
            Ok(String::new())
        })
        .await;
        assert!(overrun.is_err_and(|e| e.contains("did not finish")));
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert!(!finished.load(Ordering::SeqCst), "the overrunning job was stopped, not left running");
    }

    #[test]
    fn backup_at_is_a_time_of_day() {
        assert_eq!(super::minutes_of_day("02:00"), Some(time::Duration::hours(2)));
        assert_eq!(super::minutes_of_day("23:59"), Some(time::Duration::minutes(23 * 60 + 59)));
        for bad in ["24:00", "2:00", "02:60", "0200", "", "-1:00", "02:00:00"] {
            assert_eq!(super::minutes_of_day(bad), None, "{bad}");
        }
    }
}
