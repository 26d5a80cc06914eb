//! Taking a backup by plan, for the `backup` command and the server's job
//! alike (items 19–21): the archive, its pruned generations, its copies,
//! and the audit event and alert that record it.

use crate::backup::{self, Passphrase, PASSPHRASE_MIN};
use mamori_core::audit::{Action, Actor, Changes, NewEvent, Origin, Outcome};
use mamori_core::monitoring::Severity;
use mamori_store::Store;
use std::path::PathBuf;

/// The alert a failed backup raises.
pub const BACKUP_FAILED: &str = "backup.failed";

/// Where and how backups are taken, by the command or the server's job.
#[derive(Clone)]
pub struct BackupPlan {
    pub to: PathBuf,
    pub copy_to: Option<PathBuf>,
    /// `None`: unencrypted, as chosen explicitly.
    pub passphrase: Option<Passphrase>,
    pub keep_daily: usize,
    pub keep_monthly: usize,
    /// A copy in S3-compatible object storage (`[backup.s3]`).
    pub s3: Option<crate::offsite::S3Plan>,
}

impl std::fmt::Debug for BackupPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupPlan")
            .field("to", &self.to)
            .field("copy_to", &self.copy_to)
            .field("encrypted", &self.passphrase.is_some())
            .field("s3", &self.s3)
            .finish_non_exhaustive()
    }
}

/// A passphrase, or none when `--unencrypted` (`unencrypted = true`) says
/// so; never both, never neither, never a short one.
pub fn choose_sealing(passphrase: Option<Passphrase>, unencrypted: bool) -> Result<Option<Passphrase>, String> {
    match (passphrase, unencrypted) {
        (None, false) => Err("パスフレーズがありません。--passphrase-file か MAMORI_BACKUP_PASSPHRASE で指定するか、暗号化しないなら --unencrypted を付けてください (no passphrase: give one, or --unencrypted)".into()),
        (Some(_), true) => Err("パスフレーズと --unencrypted は同時に指定できません (a passphrase and --unencrypted exclude each other)".into()),
        (Some(p), false) if p.char_count() < PASSPHRASE_MIN => Err(format!(
            "パスフレーズは {PASSPHRASE_MIN} 文字以上にしてください (the passphrase needs {PASSPHRASE_MIN} characters or more)"
        )),
        (p, _) => Ok(p),
    }
}

/// Takes a backup by `plan` and records it: a `backup.taken` event either
/// way, and a critical `backup.failed` alert when it failed. `say` hears
/// what was done, line by line.
pub async fn take_recorded(
    store: &Store,
    plan: &BackupPlan,
    now: time::OffsetDateTime,
    actor: Actor,
    say: &mut (dyn FnMut(String) + Send),
) -> anyhow::Result<PathBuf> {
    let result = run_backup(store, plan, now, say).await;
    let (outcome, changes) = match &result {
        Ok((_, changes)) => (Outcome::Success, changes.clone()),
        Err(e) => {
            let detail = format!("{e:#}");
            if let Err(a) = store.raise_alert(now, BACKUP_FAILED, Severity::Critical, "backup", &detail).await {
                tracing::error!("cannot raise the alert: {a}");
                say(format!("警告も記録できません (cannot raise the alert): {a}"));
            }
            (Outcome::Failure, Changes::new().with("error", detail))
        }
    };
    let event = NewEvent::new(actor, Origin::default(), Action::BackupTaken, outcome)
        .target("backup", "mamori")
        .changes(changes);
    if let Err(e) = store.audit_record(now, event).await {
        say(format!("監査ログに記録できません (cannot write the audit event): {e}"));
    }
    result.map(|(path, _)| path)
}

async fn run_backup(
    store: &Store,
    plan: &BackupPlan,
    now: time::OffsetDateTime,
    say: &mut (dyn FnMut(String) + Send),
) -> anyhow::Result<(PathBuf, Changes)> {
    let passphrase = plan.passphrase.as_ref();
    let (path, manifest) = backup::take(store, &plan.to, passphrase, now).await?;
    let rows: u64 = manifest.tables.iter().map(|t| t.rows).sum();
    say(format!(
        "  {} 行、{} 表、暗号化 {} (rows, tables, encrypted)",
        rows,
        manifest.tables.len(),
        if passphrase.is_some() { "あり" } else { "なし" }
    ));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut changes = Changes::new()
        .with("archive", name.as_str())
        .with("rows", rows as i64)
        .with("data_sha256", manifest.data_sha256.as_str())
        .with("encrypted", passphrase.is_some());
    for gone in backup::prune(&plan.to, plan.keep_daily, plan.keep_monthly, &name)? {
        say(format!("  古い世代を削除 (pruned): {gone}"));
    }
    if let Some(second) = &plan.copy_to {
        let copy = backup::copy_verified(&path, second)?;
        say(format!("  複製を確認しました (copy verified): {}", copy.display()));
        for gone in backup::prune(second, plan.keep_daily, plan.keep_monthly, &name)? {
            say(format!("  古い世代を削除 (pruned): {}", second.join(gone).display()));
        }
        changes = changes.with("copy", second.display().to_string());
    }
    if let Some(s3) = &plan.s3 {
        let key = s3.copy_verified(&path).await?;
        say(format!("  S3 の複製を確認しました (S3 copy verified): {key}"));
        for gone in s3.prune(plan.keep_daily, plan.keep_monthly, &name).await? {
            say(format!("  S3 の古い世代を削除 (pruned in S3): {gone}"));
        }
        changes = changes.with("s3", key);
    }
    Ok((path, changes))
}
