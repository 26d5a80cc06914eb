//! The `backup` and `restore` commands (items 19–21); the archive itself
//! is `crate::backup`'s.

use crate::backup::{self, Passphrase};
use crate::backup_plan::{choose_sealing, take_recorded, BackupPlan};
use crate::config;
use crate::settings::GlobalArgs;
use crate::shared::{console_ctx, key_file, open_store, outln, report_config_errors, EXIT_CONFIG, EXIT_PROBLEM};
use clap::Args;
use mamori_core::audit::{Action, Changes, NewEvent, Outcome};
use mamori_store::Store;
use std::path::PathBuf;
use std::process::ExitCode;

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
    #[arg(long, env = "MAMORI_BACKUP_KEEP_DAILY", default_value_t = 7, value_name = "N", value_parser = at_least_one)]
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
    /// 暗号化していないバックアップを復元する (パスフレーズを使わない) / the archive is not sealed: use no passphrase
    #[arg(long)]
    pub unencrypted: bool,
}

/// A count of generations kept: 0 would remove the archive just written.
fn at_least_one(s: &str) -> Result<usize, String> {
    s.parse::<usize>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("{s}: 1 以上の整数にしてください。0 では作ったバックアップも残りません (at least 1)"))
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

pub async fn restore(global: &GlobalArgs, args: &RestoreArgs) -> ExitCode {
    let found = if args.unencrypted { Ok(None) } else { Passphrase::find(args.passphrase_file.as_deref()) };
    let passphrase = match found {
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
    // The archive's keys join the target's keys in memory first; the key
    // file is written only once the target is found fit to take the
    // archive, and put back as it was if the load fails.
    let placing = match keys.as_deref().map(|k| keys_to_place(&data_dir, k)).transpose() {
        Ok(p) => p.flatten(),
        Err(e) => {
            eprintln!("mamori: {e}");
            return ExitCode::from(EXIT_PROBLEM);
        }
    };
    // The target's keys: the archive's with its own, or those the operator
    // brought for an unsealed archive. None is ever made here.
    let keyring = match (&placing, key_file(&data_dir)) {
        (Some(p), _) => mamori_store::crypt::Keyring::from_text(&p.text, Some(p.path.clone())),
        (None, Some(path)) if !path.exists() => {
            eprintln!(
                "mamori: このバックアップはデータ鍵を含みません (暗号化していないバックアップ)。元のデータ鍵のファイルを {} に置くか MAMORI_DATA_KEY_FILE で指定してください。何も変更していません (an unsealed archive carries no data key: put the original key file there; nothing was changed)",
                path.display()
            );
            return ExitCode::from(EXIT_PROBLEM);
        }
        (None, Some(path)) => mamori_store::crypt::Keyring::from_file(&path),
        (None, None) => {
            mamori_store::crypt::Keyring::from_text(&std::env::var("MAMORI_DATA_KEY").unwrap_or_default(), None)
        }
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
    let code = restore_into(&store, (global, args), passphrase.as_ref(), &manifest, placing.as_ref()).await;
    store.close().await;
    code
}

/// A key file to write before the load: where, what it held (`None`: it
/// did not exist), and what it will hold.
struct KeysToPlace {
    path: PathBuf,
    before: Option<String>,
    text: String,
}

impl KeysToPlace {
    fn write(&self) -> Result<(), String> {
        crate::private_file::replace_private_file(&self.path, &self.text)
    }

    /// Puts the key file back as it was before [`KeysToPlace::write`].
    fn undo(&self) -> Result<(), String> {
        match &self.before {
            Some(text) => crate::private_file::replace_private_file(&self.path, text),
            None => std::fs::remove_file(&self.path).map_err(|e| format!("{}: {e}", self.path.display())),
        }
    }
}

/// Where the archive's data keys go: a new key file, or the keys it lacks
/// added to the one there (`None`: it holds them all already). Keys given
/// in `MAMORI_DATA_KEY` are not written anywhere: they must hold the
/// archive's already. Writes nothing.
fn keys_to_place(data_dir: &std::path::Path, archived: &str) -> Result<Option<KeysToPlace>, String> {
    let Some(path) = key_file(data_dir) else {
        let given = std::env::var("MAMORI_DATA_KEY").unwrap_or_default();
        return mamori_store::crypt::merge(&given, archived).and_then(|merged| {
            if merged.trim() == given.trim() {
                Ok(None)
            } else {
                Err("MAMORI_DATA_KEY にバックアップのデータ鍵がありません (MAMORI_DATA_KEY lacks the archive's data keys)".into())
            }
        });
    };
    match std::fs::read_to_string(&path) {
        Ok(ours) => {
            let text = mamori_store::crypt::merge(&ours, archived)?;
            Ok((text.trim() != ours.trim()).then_some(KeysToPlace { path, before: Some(ours), text }))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(Some(KeysToPlace { path, before: None, text: archived.to_owned() }))
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

async fn restore_into(
    store: &Store,
    (global, args): (&GlobalArgs, &RestoreArgs),
    passphrase: Option<&Passphrase>,
    manifest: &backup::Manifest,
    keys: Option<&KeysToPlace>,
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
    let rows: u64 = manifest.tables.iter().map(|t| t.rows).sum();
    let archive = args.from.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut loaded = Changes::new()
        .with("step", "loaded")
        .with("archive", archive.as_str())
        .with("taken_at", manifest.taken_at.as_str())
        .with("rows", rows as i64)
        .with("data_sha256", manifest.data_sha256.as_str());
    match store.data_rows().await {
        Ok(0) => {}
        Ok(n) if !args.force => {
            eprintln!("mamori: 復元先にはすでにデータがあります ({n} 行)。何も変更していません。置き換えるには --force を付けてください (the target holds data; nothing was changed; --force replaces it)");
            return ExitCode::from(EXIT_PROBLEM);
        }
        Ok(_) => {
            // The events since the backup are kept, as a file, before the
            // backup's log replaces them; without that file, nothing is
            // replaced.
            let kept = match config::audit_archive_dir(global) {
                Ok(dir) => crate::auditlog::keep_before_restore(store, &dir, time::OffsetDateTime::now_utc())
                    .await
                    .map_err(|e| e.to_string()),
                Err(errors) => Err(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")),
            };
            let ends = store.audit_chain_ends().await.map_err(|e| e.to_string());
            match kept.and_then(|path| ends.map(|ends| (path, ends))) {
                Ok((path, ends)) => {
                    // The restored log says what it replaced, and where that went.
                    let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    loaded = loaded
                        .with("replaced_head_seq", ends.head_seq)
                        .with("replaced_head_hash", ends.head_hash.as_str())
                        .with("replaced_log_file", file);
                    outln!(
                        "復元先の監査ログを保管しました (the target's audit log, kept): {}\n復元先のデータを置き換えます (--force: replacing the target's data)",
                        path.display()
                    )
                }
                Err(e) => {
                    eprintln!("mamori: 復元先の監査ログを保管できません。何も変更していません (cannot keep the target's audit log; nothing was changed): {e}");
                    return ExitCode::from(EXIT_PROBLEM);
                }
            }
        }
        Err(e) => {
            eprintln!("mamori: {e}");
            return ExitCode::from(EXIT_PROBLEM);
        }
    }
    if let Some(Err(e)) = keys.map(KeysToPlace::write) {
        eprintln!(
            "mamori: データ鍵を書けません。何も変更していません (cannot write the data keys; nothing was changed): {e}"
        );
        return ExitCode::from(EXIT_PROBLEM);
    }
    let ctx = console_ctx();
    let event = NewEvent::new(ctx.actor, ctx.origin, Action::DataRestored, Outcome::Success)
        .target("backup", "mamori")
        .changes(loaded);
    if let Err(e) = backup::load(store, &args.from, passphrase, manifest, event).await {
        if let Some(mamori_store::StoreError::ChainBroken(b)) = e.downcast_ref::<mamori_store::StoreError>() {
            eprintln!(
                "mamori: バックアップの監査ログが検証できません。{} (書き換えられた可能性があります)",
                crate::audit::describe_break(b)
            );
        }
        match keys.map(KeysToPlace::undo) {
            Some(Err(undo)) => eprintln!(
                "mamori: 復元に失敗しました。データは変更していませんが、鍵ファイルに加えたバックアップの鍵を戻せませんでした (restore failed; the data is unchanged, the archive's keys stay in the key file: {undo}): {e:#}"
            ),
            _ => eprintln!("mamori: 復元に失敗しました。何も変更していません (restore failed; nothing was changed): {e:#}"),
        }
        return ExitCode::from(EXIT_PROBLEM);
    }
    let mut failed = false;
    match store.table_rows().await {
        Ok(counts) => {
            for t in &manifest.tables {
                let here = counts.iter().find(|c| c.0 == t.name).map_or(-1, |c| c.1);
                // The restore's own event was written with the data.
                let expected = t.rows as i64 + i64::from(t.name == "audit_event");
                if here != expected {
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
    let changes = Changes::new().with("step", "verified").with("archive", archive).with("verified", !failed);
    if !record(store, Action::DataRestored, if failed { Outcome::Failure } else { Outcome::Success }, changes).await {
        failed = true;
    }
    if failed {
        eprintln!("mamori: 復元しましたが、検証で問題が見つかりました (restored, but verification found problems)");
        ExitCode::from(EXIT_PROBLEM)
    } else {
        outln!("復元して検証しました (restored and verified): {rows} 行");
        ExitCode::SUCCESS
    }
}

/// Writes the event; `false` (and says so) when it could not.
async fn record(store: &Store, action: Action, outcome: Outcome, changes: Changes) -> bool {
    let ctx = console_ctx();
    let event = NewEvent::new(ctx.actor, ctx.origin, action, outcome).target("backup", "mamori").changes(changes);
    match store.audit_record(ctx.now, event).await {
        Ok(_) => true,
        Err(e) => {
            eprintln!("mamori: 監査ログに記録できません (cannot write the audit event): {e}");
            false
        }
    }
}
