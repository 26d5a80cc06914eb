//! `mamori audit …`: the audit log on the console — verify its hash chain,
//! export it, purge what is past the retention (checklist items 27-29).

use crate::settings::GlobalArgs;
use crate::shared::{console_ctx, open_store, outln, report_config_errors, stdout_failed, EXIT_CONFIG, EXIT_PROBLEM};
use clap::{Subcommand, ValueEnum};
use mamori_core::audit::ChainBreak;
use mamori_store::audit::Verification;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// ハッシュチェーンを検証し、最初の不整合を示す (verify the hash chain)
    Verify,
    /// 監査ログを標準出力に書き出す (write events to standard output)
    Export {
        /// この日時以降 (RFC 3339, or YYYY-MM-DD in JST)
        #[arg(long)]
        since: Option<String>,
        /// この日時より前 (RFC 3339, or YYYY-MM-DD in JST)
        #[arg(long)]
        until: Option<String>,
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
    },
    /// 保存期間を過ぎた事象を圧縮ファイルに書き出してから削除する (archive, then remove events past retention)
    Purge,
    /// 削除した事象の保管ファイルを一覧する (list the archives of purged events)
    Archives,
    /// 保管ファイルを書き出す (write an archive of purged events)
    Archive {
        /// 一覧に示された名前 / the name `audit archives` lists
        #[arg(long)]
        name: String,
        /// 書き出し先 (なければ標準出力) / output file (default: standard output)
        #[arg(long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

pub async fn run(global: &GlobalArgs, cmd: AuditCommand) -> ExitCode {
    match cmd {
        AuditCommand::Verify => verify(global).await,
        AuditCommand::Export { since, until, format } => {
            export(global, since.as_deref(), until.as_deref(), format).await
        }
        AuditCommand::Purge => purge(global).await,
        AuditCommand::Archives => archives(global).await,
        AuditCommand::Archive { name, output } => archive(global, &name, output.as_deref()).await,
    }
}

async fn archives(global: &GlobalArgs) -> ExitCode {
    let store = match open_store(global).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let result = store.audit_archives().await;
    store.close().await;
    match result {
        Ok(list) if list.is_empty() => {
            outln!("保管ファイルはありません (no archive yet)");
            ExitCode::SUCCESS
        }
        Ok(list) => {
            for a in list {
                outln!(
                    "{}\t#{}-#{}\t{} bytes\tsha256:{}\t{}",
                    a.name,
                    a.from_seq,
                    a.through_seq,
                    a.size,
                    a.sha256,
                    mamori_core::jst::format_jst(a.created_at)
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mamori: 保管ファイルを読めません (cannot read the archives): {e}");
            ExitCode::from(EXIT_PROBLEM)
        }
    }
}

async fn archive(global: &GlobalArgs, name: &str, output: Option<&std::path::Path>) -> ExitCode {
    let store = match open_store(global).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let result = store.audit_archive(name).await;
    let bytes = match result {
        Ok(Some(b)) => {
            let who = crate::shared::console_person(mamori_core::identity::Role::Auditor);
            let now = time::OffsetDateTime::now_utc();
            let op = mamori_app::Op { store: &store, who: &who, origin: Default::default(), now };
            if let Err(e) = mamori_app::oversight::record_archive_export(&op, name).await {
                store.close().await;
                eprintln!("mamori: 書き出しを記録できませんでした (cannot record the export): {e}");
                return ExitCode::from(EXIT_PROBLEM);
            }
            store.close().await;
            b
        }
        Ok(None) => {
            store.close().await;
            eprintln!(
                "mamori: 保管ファイル {name} はありません (no such archive): `mamori audit archives` で一覧できます"
            );
            return ExitCode::from(EXIT_PROBLEM);
        }
        Err(e) => {
            store.close().await;
            eprintln!("mamori: 保管ファイルを読めません (cannot read the archive): {e}");
            return ExitCode::from(EXIT_PROBLEM);
        }
    };
    let written = match output {
        Some(path) => crate::private_file::write_private(path, &bytes),
        None => {
            crate::shared::write_stdout(&bytes);
            Ok(())
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mamori: 書き出せません (cannot write): {e}");
            ExitCode::from(EXIT_PROBLEM)
        }
    }
}
async fn verify(global: &GlobalArgs) -> ExitCode {
    let store = match crate::shared::open_existing_store(global).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let result = store.audit_verify().await;
    store.close().await;
    match result {
        Ok(Verification::Intact { events, head_seq }) => {
            outln!("監査ログのハッシュチェーンは正常です: {events} 件を検証、最新は #{head_seq} (audit chain intact)");
            ExitCode::SUCCESS
        }
        Ok(Verification::Broken(b)) => {
            eprintln!("監査ログの不整合を検出しました: {} (audit chain broken: {b})", describe_break(&b));
            ExitCode::from(EXIT_PROBLEM)
        }
        Err(e) => {
            eprintln!("mamori: 監査ログを読めませんでした (cannot read the audit log): {e}");
            ExitCode::from(EXIT_PROBLEM)
        }
    }
}

pub(crate) fn describe_break(b: &ChainBreak) -> String {
    match *b {
        ChainBreak::Gap { expected, found } => {
            format!("事象 #{expected} が見つかりません(#{found} が続いています)。削除または挿入された可能性があります")
        }
        ChainBreak::Link { seq } => format!("事象 #{seq} が直前の事象のハッシュに連結していません"),
        ChainBreak::Tampered { seq } => {
            format!("事象 #{seq} の内容がハッシュと一致しません。書き込み後に変更されています")
        }
        ChainBreak::Head { last, head } => {
            format!(
                "記録された最新は #{head} ですが、ログは #{last} で終わっています。末尾が削除された可能性があります"
            )
        }
        ChainBreak::Anchor { anchor } => format!(
            "ログは #{anchor} の後から始まっていますが、そこまでを削除した保存期間の整理が記録されていません。先頭が削除された可能性があります"
        ),
        ChainBreak::Archive { seq } => {
            format!("事象 #{seq} が整理した事象の保管分がないか、記録されたハッシュと一致しません")
        }
    }
}

/// RFC 3339, or a JST date meaning the start of that day.
fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .or_else(|| mamori_core::jst::jst_day_start(s))
}

async fn export(global: &GlobalArgs, since: Option<&str>, until: Option<&str>, format: ExportFormat) -> ExitCode {
    let mut filter = mamori_store::auditlog::AuditFilter::default();
    for (arg, value, slot) in [("--since", since, &mut filter.from), ("--until", until, &mut filter.until)] {
        if let Some(v) = value {
            match parse_time(v) {
                Some(t) => *slot = Some(t),
                None => {
                    eprintln!("mamori: {arg} \"{v}\" は 2026-11-28 または 2026-11-28T09:00:00+09:00 の形式にしてください (bad time)");
                    return ExitCode::from(EXIT_CONFIG);
                }
            }
        }
    }
    let store = match open_store(global).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    // Audited as the web page's export is, with its count, before a line
    // is written; the events written meanwhile (its own first) are not in it.
    let who = crate::shared::console_person(mamori_core::identity::Role::Auditor);
    let op =
        mamori_app::Op { store: &store, who: &who, origin: Default::default(), now: time::OffsetDateTime::now_utc() };
    let named = match format {
        ExportFormat::Jsonl => "jsonl",
        ExportFormat::Csv => "csv",
    };
    let filter = match mamori_app::oversight::begin_audit_export(&op, filter, named).await {
        Ok(f) => f,
        Err(e) => {
            store.close().await;
            eprintln!("mamori: 書き出しを記録できませんでした (cannot record the export): {e}");
            return ExitCode::from(EXIT_PROBLEM);
        }
    };
    // Buffered: an export can hold millions of events. A failed write
    // ends the command (`stdout_failed`), quietly when nobody reads.
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if matches!(format, ExportFormat::Csv) {
        if let Err(e) = writeln!(out, "{}", mamori_files::audit_export::CSV_HEADERS.join(",")) {
            stdout_failed(e);
        }
    }
    let result = store
        .audit_for_each(&filter, |e| {
            let line = match format {
                ExportFormat::Jsonl => mamori_files::audit_export::json(e).to_string(),
                ExportFormat::Csv => mamori_files::export::csv_record(&mamori_files::audit_export::csv_row(e)),
            };
            if let Err(e) = writeln!(out, "{line}") {
                stdout_failed(e);
            }
            Ok(())
        })
        .await;
    if let Err(e) = out.flush() {
        stdout_failed(e);
    }
    store.close().await;
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mamori: 監査ログを読めませんでした (cannot read the audit log): {e}");
            ExitCode::from(EXIT_PROBLEM)
        }
    }
}

async fn purge(global: &GlobalArgs) -> ExitCode {
    let cfg = match crate::config::audit_config(global) {
        Ok(c) => c,
        Err(errors) => {
            report_config_errors(&errors);
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let store = match open_store(global).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let result = crate::auditlog::purge(&store, &mamori_core::clock::SystemClock, &cfg, console_ctx().actor).await;
    store.close().await;
    match result {
        Ok(Some((n, path))) => {
            outln!("{n} 件を {} に書き出して削除しました (archived and removed)", path.display());
            ExitCode::SUCCESS
        }
        Ok(None) => {
            outln!("保存期間を過ぎた事象はありません (nothing past retention)");
            ExitCode::SUCCESS
        }
        Err(crate::auditlog::PurgeError::Store(mamori_store::StoreError::ChainBroken(b))) => {
            eprintln!(
                "mamori: 監査ログの連鎖が壊れているため、何も削除しませんでした。`mamori audit verify` で確かめてください \
                 (the audit chain is broken; nothing was purged): {}",
                describe_break(&b)
            );
            ExitCode::from(EXIT_PROBLEM)
        }
        Err(e) => {
            eprintln!("mamori: 削除できませんでした (purge failed): {e}");
            ExitCode::from(EXIT_PROBLEM)
        }
    }
}
