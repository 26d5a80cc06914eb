//! The command line: parses the arguments and hands each command to its
//! module. Nothing else lives here; what commands share is in `shared`.

use crate::config::ServeArgs;
use crate::settings::GlobalArgs;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "mamori",
    version,
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
        command: crate::audit::AuditCommand,
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
    /// mamori 自身のチェックリスト適合を確認する: 稼働中の URL と設定 (check mamori itself against the checklist)
    SelfCheck(crate::selfcheck::SelfCheckArgs),
    /// 空のデータディレクトリにデモデータを作る (fill an empty data directory with a sample)
    Demo(crate::demo::DemoArgs),
    /// システム (systems)
    System {
        #[command(subcommand)]
        command: crate::systems::SystemCommand,
    },
    /// ソフトウェア構成 (No.62, 68) (a system's software inventory)
    Inventory {
        #[command(subcommand)]
        command: crate::inventory::InventoryCommand,
    },
    /// 脆弱性情報の照合結果 (No.63) (vulnerability advisories matched)
    Vuln {
        #[command(subcommand)]
        command: crate::inventory::VulnCommand,
    },
    /// 参照データ (reference data: release support ends)
    Feed {
        #[command(subcommand)]
        command: crate::inventory::FeedCommand,
    },
    /// 報告書・チェックリストの出力 (reports)
    Report {
        #[command(subcommand)]
        command: crate::report::ReportCommand,
    },
    /// データを検証する: スキーマ、監査ログ、保存ファイルのハッシュ (verify the data: schema, audit chain, stored files)
    Verify,
    /// バックアップを取る: 稼働中でも一貫した時点の全データを暗号化して書く (take an encrypted backup while the server runs)
    Backup(crate::recovery::BackupArgs),
    /// データ鍵 (data keys: encryption at rest)
    Keys {
        #[command(subcommand)]
        command: crate::keys::KeysCommand,
    },
    /// バックアップから復元する: 全ハッシュを確認してから読み込み、検証する (restore an archive, checked before and verified after)
    Restore(crate::recovery::RestoreArgs),
}

pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => crate::serve::run(&cli.global, &args).await,
        Command::CheckConfig(args) => crate::serve::check_config(&cli.global, &args).await,
        Command::Audit { command } => crate::audit::run(&cli.global, command).await,
        Command::User { command } => crate::users::run_user(&cli.global, command).await,
        Command::Org { command } => crate::users::run_org(&cli.global, command).await,
        Command::Catalog { command } => crate::catalog::run(&cli.global, command).await,
        Command::System { command } => crate::systems::run(&cli.global, command).await,
        Command::Report { command } => crate::report::run(&cli.global, command).await,
        Command::Inventory { command } => crate::inventory::run_inventory(&cli.global, command).await,
        Command::Feed { command } => crate::inventory::run_feed(&cli.global, command).await,
        Command::Vuln { command } => crate::inventory::run_vuln(&cli.global, command).await,
        Command::Demo(args) => crate::demo::run(&cli.global, &args).await,
        Command::Scan(args) => crate::scan::run(args).await,
        Command::SelfCheck(args) => crate::selfcheck::run(&cli.global, &args).await,
        Command::Verify => crate::verify::run(&cli.global).await,
        Command::Backup(args) => crate::recovery::backup(&cli.global, &args).await,
        Command::Restore(args) => crate::recovery::restore(&cli.global, &args).await,
        Command::Keys { command } => crate::keys::run(&cli.global, command).await,
    }
}
