//! The `backup` and `restore` commands (items 19–21); the archive itself
//! is `crate::backup`'s.

use crate::backup::{self, Passphrase, PASSPHRASE_MIN};
use crate::config::{self, GlobalArgs};
use crate::shared::{console_ctx, key_file, open_store, outln, report_config_errors, EXIT_CONFIG, EXIT_PROBLEM};
use clap::Args;
use mamori_core::audit::{Action, Actor, Changes, NewEvent, Origin, Outcome};
use mamori_core::monitoring::Severity;
use mamori_store::Store;
use std::path::PathBuf;
use std::process::ExitCode;

/// The alert a failed backup raises.
pub const BACKUP_FAILED: &str = "backup.failed";

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// バックアップを置くフォルダ / folder the archive is written to
    #[arg(long, env = "MAMORI_BACKUP_DIR", value_name = "DIR")]
    pub to: PathBuf,
    /// 複製を置く第二の場所 (別のマウント) / a second location (another mount) for a verified copy
    #[arg(long, env = "MAMORI_BACKUP_COPY_TO", value_name = "DIR")]
    pub copy_to: Option<PathBuf>,
    /// パスフレーズを書いたファイル (なければ MAMORI_BACKUP_PASSPHRASE) / file holding the passphrase
    #[arg(long, env = "MAMORI_BACKUP_PASSPHRASE_FILE", value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// 暗号化せずに書く / write the archive unencrypted
    #[arg(long)]
    pub unencrypted: bool,
    /// 日ごとに残す世代数 / daily generations kept
    #[arg(long, env = "MAMORI_BACKUP_KEEP_DAILY", default_value_t = 7, value_name = "N")]
    pub keep_daily: usize,
    /// 月ごとに残す世代数 / monthly generations kept
    #[arg(long, env = "MAMORI_BACKUP_KEEP_MONTHLY", default_value_t = 12, value_name = "N")]
    pub keep_monthly: usize,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// 復元するバックアップ / the archive to restore
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// パスフレーズを書いたファイル (なければ MAMORI_BACKUP_PASSPHRASE) / file holding the passphrase
    #[arg(long, env = "MAMORI_BACKUP_PASSPHRASE_FILE", value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// データのある復元先を上書きする / replace the data of a target that holds some
    #[arg(long)]
    pub force: bool,
}

pub async fn backup(global: &GlobalArgs, args: &BackupArgs) -> ExitCode {
    let passphrase = match Passphrase::find(args.passphrase_file.as_deref())
        .map_err(|e| format!("{e:#}"))
        .and_then(|p| choose_sealing(p, args.unencrypted))
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("mamori: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let store = match open_store(global).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let s3 = match config::backup_s3(global) {
        Ok(s3) => s3,
        Err(errors) => {
            report_config_errors(&errors);
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let plan = BackupPlan {
        to: args.to.clone(),
        copy_to: args.copy_to.clone(),
        passphrase,
        keep_daily: args.keep_daily,
        keep_monthly: args.keep_monthly,
        s3,
    };
    let ctx = console_ctx();
    let code = match take_recorded(&store, &plan, ctx.now, ctx.actor, &mut |line| outln!("{line}")).await {
        Ok(path) => {
            outln!("バックアップを作りました (backup written): {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mamori: バックアップに失敗しました (backup failed): {e:#}");
            ExitCode::from(EXIT_PROBLEM)
        }
    };
    store.close().await;
    code
}

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
    for gone in backup::prune(&plan.to, plan.keep_daily, plan.keep_monthly)? {
        say(format!("  古い世代を削除 (pruned): {gone}"));
    }
    if let Some(second) = &plan.copy_to {
        let copy = backup::copy_verified(&path, second)?;
        say(format!("  複製を確認しました (copy verified): {}", copy.display()));
        for gone in backup::prune(second, plan.keep_daily, plan.keep_monthly)? {
            say(format!("  古い世代を削除 (pruned): {}", second.join(gone).display()));
        }
        changes = changes.with("copy", second.display().to_string());
    }
    if let Some(s3) = &plan.s3 {
        let key = s3.copy_verified(&path).await?;
        say(format!("  S3 の複製を確認しました (S3 copy verified): {key}"));
        for gone in s3.prune(plan.keep_daily, plan.keep_monthly).await? {
            say(format!("  S3 の古い世代を削除 (pruned in S3): {gone}"));
        }
        changes = changes.with("s3", key);
    }
    Ok((path, changes))
}

pub async fn restore(global: &GlobalArgs, args: &RestoreArgs) -> ExitCode {
    let passphrase = match Passphrase::find(args.passphrase_file.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("mamori: {e:#}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    // Every hash is checked before anything is touched, the target included.
    let from = args.from.clone();
    let pass = passphrase.clone();
    let (manifest, keys) = match tokio::task::spawn_blocking(move || backup::check(&from, pass.as_ref())).await {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => {
            eprintln!("mamori: {e:#}");
            return ExitCode::from(EXIT_PROBLEM);
        }
        Err(e) => {
            eprintln!("mamori: {e}");
            return ExitCode::from(EXIT_PROBLEM);
        }
    };
    outln!(
        "バックアップを確認しました (archive checked): {} 取得、スキーマ版 {}、{} から",
        manifest.taken_at,
        manifest.schema_version,
        manifest.backend
    );
    let (data_dir, location) = match config::data_location(global) {
        Ok(l) => l,
        Err(errors) => {
            report_config_errors(&errors);
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(e) = crate::shared::create_data_dir(&data_dir) {
        eprintln!("mamori: {} を作れません (cannot create the data directory): {e}", data_dir.display());
        return ExitCode::from(EXIT_CONFIG);
    }
    if let Some(keys) = &keys {
        if let Err(e) = place_keys(&data_dir, keys) {
            eprintln!("mamori: {e}");
            return ExitCode::from(EXIT_PROBLEM);
        }
    }
    // The target's keys: the archive's (placed above), or those the
    // operator brought for an unsealed archive. None is ever made here.
    let keyring = match key_file(&data_dir) {
        Some(path) if !path.exists() => {
            eprintln!(
                "mamori: このバックアップはデータ鍵を含みません (暗号化していないバックアップ)。元のデータ鍵のファイルを {} に置くか MAMORI_DATA_KEY_FILE で指定してください。何も変更していません (an unsealed archive carries no data key: put the original key file there; nothing was changed)",
                path.display()
            );
            return ExitCode::from(EXIT_PROBLEM);
        }
        Some(path) => mamori_store::crypt::Keyring::from_file(&path),
        None => mamori_store::crypt::Keyring::from_text(&std::env::var("MAMORI_DATA_KEY").unwrap_or_default(), None),
    };
    let keyring = match keyring {
        Ok(k) => std::sync::Arc::new(k),
        Err(e) => {
            eprintln!("mamori: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let store = match Store::open_for_restore(&location, keyring).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mamori: 復元先のデータベースを開けません (cannot open the target database) {location}: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let code = restore_into(&store, args, passphrase.as_ref(), &manifest).await;
    store.close().await;
    code
}

/// Puts the archive's data keys where the target reads its keys: a new key
/// file, or the keys it lacks added to the one there. Keys given in
/// `MAMORI_DATA_KEY` are not written anywhere: they must hold the
/// archive's already.
fn place_keys(data_dir: &std::path::Path, archived: &str) -> Result<(), String> {
    let Some(path) = key_file(data_dir) else {
        let given = std::env::var("MAMORI_DATA_KEY").unwrap_or_default();
        return mamori_store::crypt::merge(&given, archived).and_then(|merged| {
            if merged.trim() == given.trim() {
                Ok(())
            } else {
                Err("MAMORI_DATA_KEY にバックアップのデータ鍵がありません (MAMORI_DATA_KEY lacks the archive's data keys)".into())
            }
        });
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(ours) => mamori_store::crypt::merge(&ours, archived)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => archived.to_owned(),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    crate::shared::replace_private_file(&path, &text)
}

async fn restore_into(
    store: &Store,
    args: &RestoreArgs,
    passphrase: Option<&Passphrase>,
    manifest: &backup::Manifest,
) -> ExitCode {
    match store.schema_version().await {
        Ok(v) if v == manifest.schema_version => {}
        Ok(v) => {
            eprintln!(
                "mamori: このバックアップはスキーマ版 {} のものです。この mamori は版 {v} です。バックアップを取った版の mamori で復元してから、この版で起動してください (the archive is at schema {}, this mamori at {v}: restore with the version that took it, then start this one)",
                manifest.schema_version, manifest.schema_version
            );
            return ExitCode::from(EXIT_PROBLEM);
        }
        Err(e) => {
            eprintln!("mamori: {e}");
            return ExitCode::from(EXIT_PROBLEM);
        }
    }
    match store.data_rows().await {
        Ok(0) => {}
        Ok(n) if !args.force => {
            eprintln!("mamori: 復元先にはすでにデータがあります ({n} 行)。何も変更していません。置き換えるには --force を付けてください (the target holds data; nothing was changed; --force replaces it)");
            return ExitCode::from(EXIT_PROBLEM);
        }
        Ok(_) => outln!("復元先のデータを置き換えます (--force: replacing the target's data)"),
        Err(e) => {
            eprintln!("mamori: {e}");
            return ExitCode::from(EXIT_PROBLEM);
        }
    }
    if let Err(e) = backup::load(store, &args.from, passphrase, manifest).await {
        eprintln!("mamori: 復元に失敗しました。何も変更していません (restore failed; nothing was changed): {e:#}");
        return ExitCode::from(EXIT_PROBLEM);
    }
    let mut failed = false;
    match store.table_rows().await {
        Ok(counts) => {
            for t in &manifest.tables {
                let here = counts.iter().find(|c| c.0 == t.name).map_or(-1, |c| c.1);
                if here != t.rows as i64 {
                    eprintln!("  {}: {here} 行、バックアップは {} 行 (row count differs)", t.name, t.rows);
                    failed = true;
                }
            }
        }
        Err(e) => {
            eprintln!("mamori: {e}");
            failed = true;
        }
    }
    failed |= crate::verify::chain_and_files(store).await;
    let rows: u64 = manifest.tables.iter().map(|t| t.rows).sum();
    let changes = Changes::new()
        .with("archive", args.from.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
        .with("taken_at", manifest.taken_at.as_str())
        .with("rows", rows as i64)
        .with("data_sha256", manifest.data_sha256.as_str())
        .with("verified", !failed);
    record(store, Action::DataRestored, if failed { Outcome::Failure } else { Outcome::Success }, changes).await;
    if failed {
        eprintln!("mamori: 復元しましたが、検証で問題が見つかりました (restored, but verification found problems)");
        ExitCode::from(EXIT_PROBLEM)
    } else {
        outln!("復元して検証しました (restored and verified): {rows} 行");
        ExitCode::SUCCESS
    }
}

async fn record(store: &Store, action: Action, outcome: Outcome, changes: Changes) {
    let ctx = console_ctx();
    let event = NewEvent::new(ctx.actor, ctx.origin, action, outcome).target("backup", "mamori").changes(changes);
    if let Err(e) = store.audit_record(ctx.now, event).await {
        eprintln!("mamori: 監査ログに記録できません (cannot write the audit event): {e}");
    }
}
