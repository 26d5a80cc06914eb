//! `mamori report …`: the documents handed to managers, written on the
//! console through the same operations as the web downloads.

use crate::settings::GlobalArgs;
use crate::shared::{console_person, open_store, EXIT_CONFIG, EXIT_PROBLEM};
use clap::{Subcommand, ValueEnum};
use mamori_app::{reports, Op, Refused};
use mamori_core::audit::Origin;
use mamori_core::checklist::{Phase, SystemStatus};
use mamori_core::identity::Role;
use mamori_files::export::CsvEncoding;
use mamori_files::report::{self as sheet, Copy};
use mamori_store::systems::SystemFilter;
use mamori_web::report::{print_html, Styles};

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// 1 システムの記入済みチェックリスト (the filled checklist of one system)
    Checklist {
        /// システムの番号 (the system's id, as `mamori system list` shows it)
        #[arg(long)]
        system: i64,
        #[arg(long, value_enum)]
        format: Format,
        /// CSV の文字コード (CSV encoding)
        #[arg(long, value_enum, default_value_t = Encoding::Utf8)]
        encoding: Encoding,
        /// Shift_JIS で表せない文字を「〓」に置き換える (replace what Shift_JIS cannot hold)
        #[arg(long)]
        substitute: bool,
        /// 出力先 (default: standard output)
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// 年次報告 (No.68) (the yearly report of one system)
    Yearly {
        #[arg(long)]
        system: i64,
        /// 対象年 (the year)
        #[arg(long)]
        year: i32,
        #[arg(long, value_enum)]
        format: YearlyFormat,
        /// 出力先 (default: standard output)
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// 全システムの記入済みチェックリストを 1 つのブックに (every system's checklist in one workbook)
    All {
        #[arg(long, value_enum, default_value_t = AllFormat::Xlsx)]
        format: AllFormat,
        /// 所管課の番号で絞り込む (only this department's systems)
        #[arg(long)]
        department: Option<i64>,
        /// 事業者の番号で絞り込む (only this vendor's systems)
        #[arg(long)]
        vendor: Option<i64>,
        /// 段階で絞り込む (building, pre_production, production, retired)
        #[arg(long, value_parser = parse_phase)]
        phase: Option<Phase>,
        /// 状態で絞り込む (not_started, answering, submitted, returned, approved)
        #[arg(long, value_parser = parse_status)]
        status: Option<SystemStatus>,
        /// 出力先 (default: standard output)
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

fn parse_phase(s: &str) -> Result<Phase, String> {
    Phase::parse(s).ok_or_else(|| format!("{s}: building, pre_production, production, retired のいずれか"))
}

fn parse_status(s: &str) -> Result<SystemStatus, String> {
    SystemStatus::parse(s)
        .ok_or_else(|| format!("{s}: not_started, answering, submitted, returned, approved のいずれか"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum YearlyFormat {
    Xlsx,
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AllFormat {
    Xlsx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Xlsx,
    Csv,
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Encoding {
    Utf8,
    Cp932,
}

fn fail(code: u8, message: impl AsRef<str>) -> ExitCode {
    eprintln!("mamori: {}", message.as_ref());
    ExitCode::from(code)
}

pub async fn run(global: &GlobalArgs, cmd: ReportCommand) -> ExitCode {
    let store = match open_store(global).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let who = console_person(Role::SecurityOfficer);
    let op = Op { store: &store, who: &who, origin: Origin::default(), now: time::OffsetDateTime::now_utc() };
    let code = match report(global, &op, cmd).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    };
    store.close().await;
    code
}

/// Makes the document, writes it, and records the export.
async fn report(global: &GlobalArgs, op: &Op<'_>, cmd: ReportCommand) -> Result<(), ExitCode> {
    let audited = |e: Refused| fail(EXIT_PROBLEM, e.to_string());
    match cmd {
        ReportCommand::Yearly { system, year, format, output } => {
            let (bytes, label) = yearly(global, op, system, year, format).await?;
            write(output.as_ref(), &bytes)?;
            reports::record_export(op, system, label).await.map_err(audited)
        }
        ReportCommand::All { format: AllFormat::Xlsx, department, vendor, phase, status, output } => {
            let filter =
                SystemFilter { department_id: department, vendor_id: vendor, phase, status, name_contains: None };
            let (bytes, n) = all(op, &filter).await?;
            write(output.as_ref(), &bytes)?;
            reports::record_all_export(op, n, "xlsx").await.map_err(audited)
        }
        ReportCommand::Checklist { system, format, encoding, substitute, output } => {
            let (bytes, label) = checklist(op, system, format, encoding, substitute).await?;
            write(output.as_ref(), &bytes)?;
            reports::record_export(op, system, label).await.map_err(audited)
        }
    }
}

/// The yearly report's bytes and the name of its form for the audit log.
async fn yearly(
    global: &GlobalArgs,
    op: &Op<'_>,
    id: i64,
    year: i32,
    format: YearlyFormat,
) -> Result<(Vec<u8>, &'static str), ExitCode> {
    let month = crate::config::report_month(global).map_err(|errors| {
        crate::shared::report_config_errors(&errors);
        ExitCode::from(EXIT_CONFIG)
    })?;
    let report = match mamori_app::yearly::report(op, id, year, month).await {
        Ok(r) => r,
        Err(Refused::NotFound) => {
            return Err(fail(EXIT_CONFIG, format!("システム {id} はありません (no such system)")))
        }
        Err(Refused::Invalid(_)) => return Err(fail(EXIT_CONFIG, format!("{year} 年は対象にできません (bad year)"))),
        Err(e) => return Err(fail(EXIT_PROBLEM, e.to_string())),
    };
    match format {
        YearlyFormat::Xlsx => mamori_files::yearly::xlsx(&report)
            .map(|b| (b, "yearly-xlsx"))
            .map_err(|e| fail(EXIT_PROBLEM, e.to_string())),
        YearlyFormat::Html => mamori_web::report::yearly_html(&report, Styles::Inline)
            .map(|h| (h.into_bytes(), "yearly-html"))
            .map_err(|e| fail(EXIT_PROBLEM, e.to_string())),
    }
}

/// The workbook of every system (within `filter`) and how many there are.
async fn all(op: &Op<'_>, filter: &SystemFilter) -> Result<(Vec<u8>, usize), ExitCode> {
    let reports = reports::all(op, filter).await.map_err(|e| fail(EXIT_PROBLEM, e.to_string()))?;
    let bytes = sheet::all_xlsx(&reports).map_err(|e| fail(EXIT_PROBLEM, e.to_string()))?;
    Ok((bytes, reports.len()))
}

/// The document's bytes and the name of its form for the audit log.
async fn checklist(
    op: &Op<'_>,
    id: i64,
    format: Format,
    encoding: Encoding,
    substitute: bool,
) -> Result<(Vec<u8>, &'static str), ExitCode> {
    let report = match reports::checklist(op, id).await {
        Ok(r) => r,
        Err(Refused::NotFound) => {
            return Err(fail(EXIT_CONFIG, format!("システム {id} はありません (no such system)")))
        }
        Err(e) => return Err(fail(EXIT_PROBLEM, e.to_string())),
    };
    match (format, encoding) {
        (Format::Xlsx, _) => {
            sheet::xlsx(&report, Copy::Filled).map(|b| (b, "xlsx")).map_err(|e| fail(EXIT_PROBLEM, e.to_string()))
        }
        (Format::Html, _) => print_html(&report, Styles::Inline)
            .map(|h| (h.into_bytes(), "html"))
            .map_err(|e| fail(EXIT_PROBLEM, e.to_string())),
        (Format::Csv, Encoding::Utf8) => Ok((sheet::csv(&report, CsvEncoding::Utf8Bom).unwrap_or_default(), "csv")),
        (Format::Csv, Encoding::Cp932) if substitute => Ok((sheet::csv_substituted(&report), "csv-cp932-substituted")),
        (Format::Csv, Encoding::Cp932) => sheet::csv(&report, CsvEncoding::ShiftJis).map(|b| (b, "csv-cp932")).map_err(
            |missing| {
                eprintln!("mamori: Shift_JIS (CP932) で表せない文字があるため、書き出しませんでした (characters CP932 cannot hold):");
                for m in &missing.places {
                    eprintln!("  - No.{} {}: {} (U+{:04X})", m.number, m.column, m.ch, u32::from(m.ch));
                }
                let more = missing.total - missing.places.len();
                if more > 0 {
                    eprintln!("  ほか {more} 件 (and {more} more)");
                }
                eprintln!("  --encoding utf8 を使うか、--substitute で「〓」に置き換えてください。");
                ExitCode::from(EXIT_PROBLEM)
            },
        ),
    }
}

fn write(output: Option<&PathBuf>, bytes: &[u8]) -> Result<(), ExitCode> {
    crate::shared::write_output(output.map(PathBuf::as_path), bytes)
}
