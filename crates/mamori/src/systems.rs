//! `mamori system …`: systems on the console.

use crate::settings::GlobalArgs;
use crate::shared::{open_store, outln, EXIT_CONFIG, EXIT_PROBLEM};
use clap::{Subcommand, ValueEnum};
use mamori_app::{Op, Refused};
use mamori_core::audit::Origin;
use mamori_core::checklist;
use mamori_core::jst::format_rfc3339_jst;
use mamori_store::systems::{SystemFilter, SystemRecord};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// システムの一覧 (list systems)
    List {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// システムの詳細と回答の状況 (one system, with its answers)
    Show { id: i64 },
    /// 回答ファイル (YAML) の回答を、各項目の回答者に代わって取り込む (bring in an answers file, on behalf of each item's party)
    ImportAnswers {
        id: i64,
        /// 回答ファイル (answers file, YAML; see docs/self-assessment/mamori.yaml)
        #[arg(long)]
        file: std::path::PathBuf,
        /// 変更点を表示するだけで保存しない (show what would change, save nothing)
        #[arg(long)]
        dry_run: bool,
    },
    /// 承認済みのシステムの新しい評価ラウンドをまとめて始める (start the next round of approved systems)
    StartRounds {
        /// 回答期限 (due date, YYYY-MM-DD, today or later)
        #[arg(long)]
        due: String,
        /// 始めるシステム (the systems; without them, every approved system that is not retired)
        ids: Vec<i64>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

fn json(s: &SystemRecord) -> serde_json::Value {
    serde_json::json!({
        "id": s.id,
        "name": s.input.name,
        "department": s.department_name,
        "vendor": s.vendor_name,
        "phase": s.input.phase.as_str(),
        "status": s.status.as_str(),
        "round": s.round,
        "catalog_version": s.catalog_version_id,
        "attributes": s.input.attrs,
        "urls": s.input.urls,
        "hosts": s.input.hosts,
        "updated_at": format_rfc3339_jst(s.updated_at),
    })
}

pub async fn run(global: &GlobalArgs, cmd: SystemCommand) -> ExitCode {
    let store = match open_store(global).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    // The console reads through the same operations as the web pages.
    let console = crate::shared::console_person(mamori_core::identity::Role::SecurityOfficer);
    let op = Op { store: &store, who: &console, origin: Origin::default(), now: time::OffsetDateTime::now_utc() };
    let code = match cmd {
        SystemCommand::List { format } => match mamori_app::checklist::systems(&op, &SystemFilter::default()).await {
            Ok(list) => {
                match format {
                    Format::Json => outln!("{}", serde_json::Value::Array(list.iter().map(json).collect())),
                    Format::Text => {
                        for s in &list {
                            outln!(
                                "{}\t{}\t{}\t{}\t{}\t{}",
                                s.id,
                                s.input.name,
                                s.department_name,
                                s.vendor_name.as_deref().unwrap_or("-"),
                                s.input.phase.as_str(),
                                s.status.as_str()
                            );
                        }
                    }
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("mamori: {e}");
                ExitCode::from(EXIT_PROBLEM)
            }
        },
        SystemCommand::Show { id } => match mamori_app::checklist::system(&op, id).await {
            Ok(s) => {
                let answers = store.answers(s.id, s.round).await.unwrap_or_default();
                let file = store.catalog_document(s.catalog_version_id).await.ok().flatten();
                let overrides: Vec<(u32, bool)> =
                    store.overrides(s.id).await.unwrap_or_default().iter().map(|o| (o.number, o.applies)).collect();
                let applicable: Vec<u32> = file
                    .as_ref()
                    .map(|f| {
                        checklist::applicable(&f.requirements, &s.input.attrs, &overrides)
                            .iter()
                            .map(|r| r.number)
                            .collect()
                    })
                    .unwrap_or_default();
                let mut v = json(&s);
                v["applicable"] = serde_json::json!(applicable);
                v["answers"] = answers
                    .iter()
                    .map(|a| serde_json::json!({"number": a.number, "status": a.input.status.as_str(), "review": a.review.as_str(), "revision": a.revision}))
                    .collect();
                outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                ExitCode::SUCCESS
            }
            Err(Refused::NotFound) => {
                eprintln!("mamori: システム {id} はありません (no such system)");
                ExitCode::from(EXIT_CONFIG)
            }
            Err(e) => {
                eprintln!("mamori: {e}");
                ExitCode::from(EXIT_PROBLEM)
            }
        },
        SystemCommand::ImportAnswers { id, file, dry_run } => import_answers(&op, id, &file, dry_run).await,
        SystemCommand::StartRounds { due, ids } => start_rounds(&op, &due, ids).await,
    };
    store.close().await;
    code
}

/// `mamori system import-answers`: the file is read and every answer
/// checked before anything is saved; then all are saved, or none.
async fn import_answers(op: &mamori_app::Op<'_>, id: i64, file: &std::path::Path, dry_run: bool) -> ExitCode {
    use mamori_app::workbook::{apply_file, file_changes, UploadRefused};
    let refuse = |problems: Vec<String>| {
        eprintln!("mamori: 取り込めません。何も保存していません (nothing saved):");
        for p in problems {
            eprintln!("  - {p}");
        }
        ExitCode::from(EXIT_CONFIG)
    };
    // Read whole only when not larger than an answers file may be.
    let size = std::fs::metadata(file).map(|m| m.len());
    let bytes = match size {
        Ok(n) if n > mamori_files::answer_file::MAX_BYTES as u64 => {
            return refuse(vec![format!("{} が大きすぎます", file.display())])
        }
        Ok(_) => std::fs::read(file),
        Err(e) => Err(e),
    };
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => return refuse(vec![format!("{} を読めません (cannot read): {e}", file.display())]),
    };
    let answers = match mamori_files::answer_file::read(&bytes) {
        Ok(a) => a,
        Err(problems) => return refuse(problems.iter().map(ToString::to_string).collect()),
    };
    let changes = match file_changes(op, id, &answers).await {
        Ok(c) => c,
        Err(UploadRefused::Cells(cells)) => return refuse(cells.iter().map(|c| c.located()).collect()),
        Err(UploadRefused::Refused(e)) => return refuse(vec![refusal(id, &e)]),
    };
    for c in &changes {
        let was = c.before.as_ref().map_or("未回答", |b| mamori_core::report::status_word(b.status));
        outln!("No.{} {}: {was} → {}", c.number, c.middle, mamori_core::report::status_word(c.after.status));
    }
    if dry_run {
        outln!("{} 件が変わります。保存していません (dry run: nothing saved)", changes.len());
        return ExitCode::SUCCESS;
    }
    match apply_file(op, id, &changes).await {
        Ok(()) => {
            outln!("{} 件の回答を保存しました ({} answers saved)", changes.len(), changes.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mamori: 保存できません。何も保存していません (nothing saved): {}", refusal(id, &e));
            ExitCode::from(EXIT_PROBLEM)
        }
    }
}

/// `mamori system start-rounds`: as the rounds page does, each system's
/// round on its own; one line a system, started or why not. Exits 1 when
/// any was not started.
async fn start_rounds(op: &Op<'_>, due: &str, ids: Vec<i64>) -> ExitCode {
    let today = op.now.to_offset(mamori_core::jst::JST).date();
    let Some(due) = mamori_core::jst::parse_date(due).filter(|d| *d >= today) else {
        eprintln!("mamori: 回答期限は今日以降の日付です (YYYY-MM-DD) (the due date must be today or later): {due}");
        return ExitCode::from(EXIT_CONFIG);
    };
    let ids = if ids.is_empty() {
        match mamori_app::checklist::round_candidates(op).await {
            Ok(list) => list.iter().map(|s| s.id).collect(),
            Err(e) => {
                eprintln!("mamori: {e}");
                return ExitCode::from(EXIT_PROBLEM);
            }
        }
    } else {
        ids
    };
    if ids.is_empty() {
        outln!("新しい評価ラウンドを始められる承認済みのシステムはありません (no approved system)");
        return ExitCode::SUCCESS;
    }
    let results = match mamori_app::checklist::start_rounds(op, &ids, Some(due)).await {
        Ok(r) => r,
        Err(Refused::Invalid(_)) => {
            eprintln!("mamori: 一度に始められるのは {} 件までです", mamori_app::checklist::MAX_ROUNDS_AT_ONCE);
            return ExitCode::from(EXIT_CONFIG);
        }
        Err(e) => {
            eprintln!("mamori: {e}");
            return ExitCode::from(EXIT_PROBLEM);
        }
    };
    let mut code = ExitCode::SUCCESS;
    for r in results {
        let (id, name) = (r.id, r.name.unwrap_or_default());
        match r.result {
            Ok(round) => outln!("{id}\t{name}\t第{round}回を開始 (started, due {due})"),
            Err(e) => {
                let why = match e {
                    Refused::NotFound => "システムがありません (no such system)".to_owned(),
                    Refused::Workflow(checklist::WorkflowError::NotNow(s)) => {
                        format!("承認済みではありません (not approved: {})", s.as_str())
                    }
                    Refused::Workflow(checklist::WorkflowError::Retired) => "廃止されています (retired)".to_owned(),
                    e => e.to_string(),
                };
                outln!("{id}\t{name}\t開始しませんでした: {why}");
                code = ExitCode::from(EXIT_PROBLEM);
            }
        }
    }
    code
}

/// Why answers could not be brought in, in words for the operator.
fn refusal(id: i64, e: &Refused) -> String {
    match e {
        Refused::NotFound => format!("システム {id} はありません"),
        Refused::Workflow(mamori_core::checklist::WorkflowError::Retired) => {
            "このシステムは廃止されています。回は廃止の時点のまま閉じられており、回答は変更できません".into()
        }
        Refused::Workflow(_) => "このシステムは今は回答を変更できません (提出済み・審査中・承認済み)".into(),
        Refused::Stale => "取り込みの間に回答が変更されました。もう一度実行してください".into(),
        e => e.to_string(),
    }
}
