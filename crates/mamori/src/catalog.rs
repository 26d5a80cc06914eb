//! `mamori catalog …`: import, export, list and compare catalog versions.

use crate::settings::GlobalArgs;
use crate::shared::{open_store, outln, EXIT_CONFIG, EXIT_PROBLEM};
use clap::{Subcommand, ValueEnum};
use mamori_core::catalog::{diff, CatalogFile, RowError};
use mamori_core::jst::format_jst;
use mamori_store::catalog::ImportOutcome;
use mamori_store::Store;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// カタログの版の一覧 (list versions)
    List,
    /// カタログを新しい版として取り込む (import YAML or Excel as a new version)
    Import {
        file: PathBuf,
        /// Excel の場合のカタログID (catalog id for an Excel file)
        #[arg(long, default_value = "imported")]
        id: String,
        /// Excel の場合の名称 (title for an Excel file)
        #[arg(long, default_value = "取り込んだ要件一覧表")]
        title: String,
    },
    /// カタログを書き出す (export; default: the newest version)
    Export {
        #[arg(long)]
        version: Option<i64>,
        #[arg(long, value_enum, default_value_t = ExportFormat::Yaml)]
        format: ExportFormat,
        /// 出力先 (default: standard output)
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// 2つの版の差分 (differences between two versions)
    Diff { from: i64, to: i64 },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Yaml,
    Json,
    Xlsx,
}

fn refuse(message: impl AsRef<str>) -> ExitCode {
    eprintln!("mamori: {}", message.as_ref());
    ExitCode::from(EXIT_CONFIG)
}

fn problem(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("mamori: {e}");
    ExitCode::from(EXIT_PROBLEM)
}

fn report(errors: &[RowError]) -> ExitCode {
    eprintln!("mamori: カタログに誤りがあるため、何も取り込みませんでした (nothing imported):");
    for e in errors {
        eprintln!("  - {e}");
    }
    ExitCode::from(EXIT_CONFIG)
}

pub async fn run(global: &GlobalArgs, cmd: CatalogCommand) -> ExitCode {
    let store = match open_store(global).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let result = catalog(&store, cmd).await;
    store.close().await;
    result.err().unwrap_or(ExitCode::SUCCESS)
}

async fn version_or_newest(store: &Store, v: Option<i64>) -> Result<(i64, CatalogFile), ExitCode> {
    let id = match v {
        Some(id) => id,
        None => store
            .catalog_versions()
            .await
            .map_err(problem)?
            .first()
            .map(|v| v.id)
            .ok_or_else(|| refuse("カタログがまだありません (no catalog yet)"))?,
    };
    let file = store
        .catalog_document(id)
        .await
        .map_err(problem)?
        .ok_or_else(|| refuse(format!("版 {id} はありません (no version {id})")))?;
    Ok((id, (*file).clone()))
}

async fn catalog(store: &Store, cmd: CatalogCommand) -> Result<(), ExitCode> {
    match cmd {
        CatalogCommand::List => {
            for v in store.catalog_versions().await.map_err(problem)? {
                outln!(
                    "{}\t{}\t{}\t{}件\t{}\t{}",
                    v.id,
                    v.catalog_key,
                    v.label,
                    v.requirements,
                    format_jst(v.imported_at),
                    v.title
                );
            }
            Ok(())
        }
        CatalogCommand::Import { file, id, title } => {
            let bytes = crate::shared::read_at_most(&file, mamori_app::catalog::MAX_FILE).map_err(refuse)?;
            let catalog = mamori_app::catalog::read(&bytes, &id, &title).map_err(|e| report(&e))?;
            // Through the same operation as the catalog page: the
            // permission, the validation again, the version and its event.
            let who = crate::shared::console_person(mamori_core::identity::Role::SecurityOfficer);
            let ctx = crate::shared::console_ctx();
            let op = mamori_app::Op { store, who: &who, origin: ctx.origin, now: ctx.now };
            match mamori_app::catalog::import(&op, &catalog).await.map_err(problem)? {
                ImportOutcome::Imported(v) => {
                    outln!("版 {v} として {} 件を取り込みました (imported as version {v})", catalog.requirements.len())
                }
                ImportOutcome::AlreadyImported(v) => {
                    outln!("同じ内容の版 {v} が既にあります。何も取り込みませんでした (identical to version {v})")
                }
            }
            Ok(())
        }
        CatalogCommand::Export { version, format, output } => {
            let (id, file) = version_or_newest(store, version).await?;
            let bytes = match format {
                ExportFormat::Yaml => file.to_yaml().into_bytes(),
                ExportFormat::Json => {
                    let list: Vec<_> = file
                        .requirements
                        .iter()
                        .map(|r| {
                            serde_json::json!({
                                "number": r.number, "source": r.source, "major": r.major, "middle": r.middle,
                                "condition_note": r.condition_note, "text": r.text, "applies_when": r.applies_when,
                                "checks": r.checks, "self_met": r.self_met, "evidence_hint": r.evidence_hint,
                                "party": r.party.as_str(),
                            })
                        })
                        .collect();
                    let mut s = serde_json::to_string_pretty(&list).map_err(problem)?;
                    s.push('\n');
                    s.into_bytes()
                }
                ExportFormat::Xlsx => mamori_files::catalog_io::export(&file).map_err(problem)?,
            };
            match output {
                Some(path) => std::fs::write(&path, &bytes)
                    .map_err(|e| refuse(format!("{} に書けません (cannot write): {e}", path.display())))?,
                None => crate::shared::write_stdout(&bytes),
            }
            let fmt = match format {
                ExportFormat::Yaml => "yaml",
                ExportFormat::Json => "json",
                ExportFormat::Xlsx => "xlsx",
            };
            store.record_catalog_export(&crate::shared::console_ctx(), id, fmt).await.map_err(problem)?;
            Ok(())
        }
        CatalogCommand::Diff { from, to } => {
            let (_, a) = version_or_newest(store, Some(from)).await?;
            let (_, b) = version_or_newest(store, Some(to)).await?;
            let d = diff(&a.requirements, &b.requirements);
            for n in &d.added {
                outln!("+ No.{n} 追加 (added)");
            }
            for n in &d.removed {
                outln!("- No.{n} 削除 (removed)");
            }
            for (n, fields) in &d.changed {
                outln!("~ No.{n} 変更 (changed): {}", fields.join(", "));
            }
            if d.added.is_empty() && d.removed.is_empty() && d.changed.is_empty() {
                outln!("差分はありません (no differences)");
            }
            Ok(())
        }
    }
}
