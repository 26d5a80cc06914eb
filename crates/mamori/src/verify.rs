//! `mamori verify`: checks a data directory (or a PostgreSQL database) as
//! a restore must leave it: the schema brought to this version, the audit
//! log's hash chain intact, and every stored file (evidence and library
//! revisions) hashing to its recorded SHA-256. It can be run on any data
//! directory, a copy included; nothing is changed but the schema.

use crate::settings::GlobalArgs;
use crate::shared::{open_existing_store, outln, EXIT_PROBLEM};
use mamori_store::audit::Verification;
use mamori_store::integrity::FileProblem;
use std::process::ExitCode;

pub async fn run(global: &GlobalArgs) -> ExitCode {
    let store = match open_existing_store(global).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut failed = false;
    match store.schema_version().await {
        Ok(v) => outln!("スキーマ: 版 {v} (schema at migration {v})"),
        Err(e) => {
            eprintln!("スキーマを読めません (cannot read the schema): {e}");
            failed = true;
        }
    }
    failed |= chain_and_files(&store).await;
    store.close().await;
    if failed {
        eprintln!("mamori: 検証で問題が見つかりました (verification found problems)");
        ExitCode::from(EXIT_PROBLEM)
    } else {
        outln!("検証は正常に終わりました (verified)");
        ExitCode::SUCCESS
    }
}

/// Checks the audit chain and every stored file, printing what it finds;
/// true when something is wrong. `restore` checks what it loaded so too.
pub async fn chain_and_files(store: &mamori_store::Store) -> bool {
    let mut failed = false;
    match store.audit_verify().await {
        Ok(Verification::Intact { events, .. }) => outln!("監査ログ: 正常、{events} 件 (audit chain intact)"),
        Ok(Verification::Broken(b)) => {
            eprintln!("監査ログ: 不整合があります (audit chain broken): {b}");
            failed = true;
        }
        Err(e) => {
            eprintln!("監査ログを読めません (cannot read the audit log): {e}");
            failed = true;
        }
    }
    match store.verify_files().await {
        Ok(check) => {
            outln!("保存ファイル: {} 件を検証 (files checked)", check.files);
            for p in &check.problems {
                let (what, kind, id) = match p {
                    FileProblem::Changed { kind, id } => ("内容がハッシュと一致しません (changed)", *kind, *id),
                    FileProblem::Missing { kind, id } => ("内容がありません (missing)", *kind, *id),
                };
                let name = if kind == "evidence" { "証跡" } else { "ライブラリの文書の版" };
                eprintln!("  {name} #{id}: {what}");
            }
            failed |= !check.problems.is_empty();
        }
        Err(e) => {
            eprintln!("保存ファイルを読めません (cannot read the stored files): {e}");
            failed = true;
        }
    }
    failed
}
