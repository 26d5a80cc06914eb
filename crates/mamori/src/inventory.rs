//! `mamori inventory …` and `mamori feed import`: a system's software
//! inventory and the reference data behind its support ends, on the
//! console, through the same operations as the web pages. The operator at
//! the console acts as the security office.

use crate::settings::GlobalArgs;
use crate::shared::{console_person, open_store, outln, write_output, EXIT_CONFIG, EXIT_PROBLEM};
use clap::{Subcommand, ValueEnum};
use mamori_app::inventory::{self as inv, Format as SheetFormat};
use mamori_app::{Op, Refused};
use mamori_core::audit::Origin;
use mamori_core::identity::Role;
use mamori_files::export::CsvEncoding;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// CSV・Excel からソフトウェア構成を取り込む (import a system's software inventory)
    Import {
        /// システムの番号 (the system's id)
        #[arg(long)]
        system: i64,
        /// CSV または Excel (.xlsx) のファイル (the sheet)
        file: PathBuf,
    },
    /// ソフトウェア構成を出力する (export a system's software inventory)
    Export {
        #[arg(long)]
        system: i64,
        #[arg(long, value_enum)]
        format: Format,
        /// 出力先 (default: standard output)
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum FeedCommand {
    /// 参照データを取り込む: 種類は内容から判定 (import reference data; its kind is read from the content)
    Import {
        /// endoflife.date の JSON、NVD の CVE JSON 2.0、JVN の RSS (release data or advisories)
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum VulnCommand {
    /// 脆弱性情報とソフトウェア構成の照合結果 (advisories matched against the inventories)
    List {
        /// このシステムのみ (only this system)
        #[arg(long)]
        system: Option<i64>,
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Xlsx,
}

fn fail(code: u8, message: impl AsRef<str>) -> ExitCode {
    eprintln!("mamori: {}", message.as_ref());
    ExitCode::from(code)
}

/// Reads a file the operator named, of at most `max` bytes (what the page
/// takes); its name is kept as data only.
fn read(path: &std::path::Path, max: usize) -> Result<(String, Vec<u8>), ExitCode> {
    let bytes = crate::shared::read_at_most(path, max).map_err(|e| fail(EXIT_CONFIG, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok((name, bytes))
}

fn refused(system: i64, e: Refused) -> ExitCode {
    match e {
        Refused::NotFound => fail(EXIT_CONFIG, format!("システム {system} はありません (no such system)")),
        other => fail(EXIT_PROBLEM, other.to_string()),
    }
}

async fn with_op<F>(global: &GlobalArgs, work: F) -> ExitCode
where
    F: AsyncFnOnce(&Op<'_>) -> Result<(), ExitCode>,
{
    let store = match open_store(global).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let who = console_person(Role::SecurityOfficer);
    let op = Op { store: &store, who: &who, origin: Origin::default(), now: time::OffsetDateTime::now_utc() };
    let code = match work(&op).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    };
    store.close().await;
    code
}

pub async fn run_inventory(global: &GlobalArgs, cmd: InventoryCommand) -> ExitCode {
    with_op(global, async |op| match cmd {
        InventoryCommand::Import { system, file } => {
            let (name, bytes) = read(&file, inv::MAX_SHEET)?;
            match inv::import(op, system, &name, &bytes).await.map_err(|e| refused(system, e))? {
                Ok(n) => {
                    outln!(
                        "取り込みました: 追加 {} 件、更新 {} 件、変更なし {} 件 (added, updated, unchanged)",
                        n.added,
                        n.changed,
                        n.unchanged
                    );
                    Ok(())
                }
                Err(problems) => {
                    for p in &problems {
                        eprintln!("mamori: {p}");
                    }
                    Err(fail(EXIT_CONFIG, "取り込みませんでした (nothing imported)"))
                }
            }
        }
        InventoryCommand::Export { system, format, output } => {
            let f = match format {
                Format::Csv => SheetFormat::Csv(CsvEncoding::Utf8Bom),
                Format::Xlsx => SheetFormat::Xlsx,
            };
            let (_, bytes) = inv::export(op, system, f).await.map_err(|e| refused(system, e))?;
            write_output(output.as_deref(), &bytes)
        }
    })
    .await
}

pub async fn run_vuln(global: &GlobalArgs, cmd: VulnCommand) -> ExitCode {
    with_op(global, async |op| match cmd {
        VulnCommand::List { system, format } => {
            let found = inv::found(op).await.map_err(|e| fail(EXIT_PROBLEM, e.to_string()))?;
            if let Some(s) = system {
                if !found.iter().any(|f| f.m.system_id == s) && mamori_app::checklist::system(op, s).await.is_err() {
                    return Err(fail(EXIT_CONFIG, format!("システム {s} はありません (no such system)")));
                }
            }
            let found: Vec<_> = found.into_iter().filter(|f| system.is_none_or(|s| f.m.system_id == s)).collect();
            let out = match format {
                ListFormat::Json => {
                    let list: Vec<serde_json::Value> = found
                        .iter()
                        .map(|f| {
                            let m = &f.m;
                            serde_json::json!({
                                "system_id": m.system_id,
                                "system": f.system_name,
                                "source": m.source.as_str(),
                                "advisory": m.ident,
                                "cves": m.cves,
                                "cvss": m.cvss,
                                "title": m.title,
                                "link": m.link,
                                "product": m.product,
                                "version": m.version,
                                "matched_by": m.by.as_str(),
                                "version_checked": m.version_checked,
                                "state": m.state.as_str(),
                                "reason": m.reason,
                            })
                        })
                        .collect();
                    serde_json::to_string_pretty(&list).unwrap_or_default() + "\n"
                }
                ListFormat::Text => found
                    .iter()
                    .map(|f| {
                        let m = &f.m;
                        let cvss = m.cvss.map_or_else(|| "-".to_owned(), |s| format!("{s:.1}"));
                        format!(
                            "{}\t{}\t{}\t{}\t{} {}\t{}\n",
                            m.system_id,
                            m.ident,
                            m.cves.join(","),
                            cvss,
                            m.product,
                            m.version,
                            m.state.as_str()
                        )
                    })
                    .collect(),
            };
            write_output(None, out.as_bytes())
        }
    })
    .await
}

pub async fn run_feed(global: &GlobalArgs, cmd: FeedCommand) -> ExitCode {
    with_op(global, async |op| match cmd {
        FeedCommand::Import { file } => {
            let (name, bytes) = read(&file, mamori_files::feeds::MAX_CONSOLE_BYTES)?;
            match inv::import_feed(op, &name, &bytes).await.map_err(|e| fail(EXIT_PROBLEM, e.to_string()))? {
                Ok(f) => {
                    outln!(
                        "取り込みました ({}): {} 件、更新したソフトウェア {} 件、終了日のないもの {} 件 (records, software updated, without an end date)",
                        f.kind, f.records, f.changed, f.skipped
                    );
                    Ok(())
                }
                Err(message) => Err(fail(EXIT_CONFIG, message)),
            }
        }
    })
    .await
}
