use crate::config::{self, Config, ConfigError, GlobalArgs, ServeArgs};
use clap::{Parser, Subcommand};
use mamori_core::audit::ChainBreak;
use mamori_store::audit::Verification;
use mamori_store::Store;
use std::process::ExitCode;

/// Exit codes: 0 success, 1 the command ran and found a problem,
/// 2 bad arguments or configuration.
pub const EXIT_PROBLEM: u8 = 1;
pub const EXIT_CONFIG: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "mamori",
    about = "mamori — システム導入に係るセキュリティ要件チェックリスト (security requirements checklist)",
    long_about = None,
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// HTTPS サーバを起動する (run the server)
    Serve(ServeArgs),
    /// 設定を検証し、データベースに接続できるか確認する (validate the configuration and reach the database)
    CheckConfig(ServeArgs),
    /// 監査ログ (audit log)
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// アカウント (accounts)
    User {
        #[command(subcommand)]
        command: crate::users::UserCommand,
    },
    /// 組織 (organisations)
    Org {
        #[command(subcommand)]
        command: crate::users::OrgCommand,
    },
    /// 要件カタログ (the requirements catalog)
    Catalog {
        #[command(subcommand)]
        command: crate::catalog::CatalogCommand,
    },
    /// Web サーバの技術的な項目を外部から確認する (verify a web server from outside)
    Scan(crate::scan::ScanArgs),
    /// 空のデータディレクトリにデモデータを作る (fill an empty data directory with a sample)
    Demo,
    /// システム (systems)
    System {
        #[command(subcommand)]
        command: crate::systems::SystemCommand,
    },
}

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
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => crate::serve::run(&cli.global, &args).await,
        Command::CheckConfig(args) => check_config(&cli.global, &args).await,
        Command::Audit { command: AuditCommand::Verify } => audit_verify(&cli.global).await,
        Command::Audit { command: AuditCommand::Export { since, until, format } } => {
            audit_export(&cli.global, since.as_deref(), until.as_deref(), format).await
        }
        Command::Audit { command: AuditCommand::Purge } => audit_purge(&cli.global).await,
        Command::User { command } => crate::users::run_user(&cli.global, command).await,
        Command::Org { command } => crate::users::run_org(&cli.global, command).await,
        Command::Catalog { command } => crate::catalog::run(&cli.global, command).await,
        Command::System { command } => crate::systems::run(&cli.global, command).await,
        Command::Demo => crate::demo::run(&cli.global).await,
        Command::Scan(args) => crate::scan::run(args).await,
    }
}

/// Who acts on the console: `console:USER` (the operating system user), or `console`.
pub fn console_ctx() -> mamori_store::identity::Ctx {
    use mamori_core::clock::Clock;
    let who = std::env::var("SUDO_USER").or_else(|_| std::env::var("USER")).unwrap_or_default();
    let login = if who.is_empty() { "console".to_owned() } else { format!("console:{who}") };
    mamori_store::identity::Ctx {
        now: mamori_core::clock::SystemClock.now(),
        actor: mamori_core::audit::Actor { account_id: None, login },
        origin: mamori_core::audit::Origin::default(),
    }
}

/// Prints configuration errors in the form every command uses.
pub fn report_config_errors(errors: &[ConfigError]) {
    eprintln!("mamori: 設定に誤りがあります (configuration error):");
    for e in errors {
        eprintln!("  - {e}");
    }
}

async fn check_config(global: &GlobalArgs, args: &ServeArgs) -> ExitCode {
    config::init_logging(global, args);
    let cfg = match Config::resolve(global, args) {
        Ok(c) => c,
        Err(errors) => {
            report_config_errors(&errors.errors);
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match Store::open(&cfg.database).await {
        Ok(store) => {
            store.close().await;
            println!(
                "設定は正しく、データベースに接続できました (configuration OK, database reachable): {}",
                cfg.database
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mamori: データベースに接続できません (cannot reach the database) {}: {e}", cfg.database);
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// Opens the store for a command that works on data beside a live server.
pub async fn open_store(global: &GlobalArgs) -> Result<Store, ExitCode> {
    let database = match config::database_location(global) {
        Ok(d) => d,
        Err(errors) => {
            report_config_errors(&errors);
            return Err(ExitCode::from(EXIT_CONFIG));
        }
    };
    Store::open(&database).await.map_err(|e| {
        eprintln!("mamori: データベースに接続できません (cannot reach the database) {database}: {e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

async fn audit_verify(global: &GlobalArgs) -> ExitCode {
    let store = match open_store(global).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let result = store.audit_verify().await;
    store.close().await;
    match result {
        Ok(Verification::Intact { events, head_seq }) => {
            println!(
                "監査ログのハッシュチェーンは正常です: {events} 件を検証、最新は #{head_seq} (audit chain intact)"
            );
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

fn describe_break(b: &ChainBreak) -> String {
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
    }
}

/// RFC 3339, or a JST date meaning the start of that day.
fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .or_else(|| mamori_web::jst_day_start(s))
}

async fn audit_export(global: &GlobalArgs, since: Option<&str>, until: Option<&str>, format: ExportFormat) -> ExitCode {
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
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if matches!(format, ExportFormat::Csv) {
        let _ = writeln!(out, "{}", mamori_web::audit_export::CSV_HEADERS.join(","));
    }
    let mut failed = false;
    let result = store
        .audit_for_each(&filter, |e| {
            let line = match format {
                ExportFormat::Jsonl => mamori_web::audit_export::json(e).to_string(),
                ExportFormat::Csv => mamori_web::export::csv_record(&mamori_web::audit_export::csv_row(e)),
            };
            if writeln!(out, "{line}").is_err() {
                failed = true;
            }
            Ok(())
        })
        .await;
    let _ = out.flush();
    store.close().await;
    match (result, failed) {
        (Ok(_), false) => ExitCode::SUCCESS,
        (Err(e), _) => {
            eprintln!("mamori: 監査ログを読めませんでした (cannot read the audit log): {e}");
            ExitCode::from(EXIT_PROBLEM)
        }
        (_, true) => ExitCode::from(EXIT_PROBLEM),
    }
}

async fn audit_purge(global: &GlobalArgs) -> ExitCode {
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
            println!("{n} 件を {} に書き出して削除しました (archived and removed)", path.display());
            ExitCode::SUCCESS
        }
        Ok(None) => {
            println!("保存期間を過ぎた事象はありません (nothing past retention)");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mamori: 削除できませんでした (purge failed): {e}");
            ExitCode::from(EXIT_PROBLEM)
        }
    }
}
