//! Vendors answer in Excel: the workbook of their system to fill in, what
//! an uploaded copy would change (every row checked, nothing kept if one
//! is wrong), and applying it as one revision per changed answer.

use crate::checklist::system;
use crate::{Op, Refused};
use mamori_core::checklist::{can_answer, round_open, AnswerInput, AnswerStatus, Review};
use mamori_core::identity::Permission;
use mamori_core::report::{status_word, ChecklistReport};
use mamori_files::answer_file::FileAnswer;
use mamori_files::answers::{problem_text, CellError, Upload};
use mamori_store::systems::{AnswerChange, MadeFor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One answer an upload changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub number: u32,
    /// The requirement's 中項目, to show the change.
    pub middle: String,
    pub before: Option<AnswerInput>,
    pub after: AnswerInput,
    /// The decision the change takes back (an approved answer changed goes
    /// back to 審査待ち).
    pub was: Option<Review>,
    /// The answer's revision the workbook was made from (0: none).
    pub on_revision: i64,
}

impl Change {
    pub fn to_store(&self) -> AnswerChange {
        AnswerChange { number: self.number, input: self.after.clone(), on_revision: Some(self.on_revision) }
    }
}

/// Why an upload changes nothing.
#[derive(Debug)]
pub enum UploadRefused {
    /// Problems in the file, each at its row and column.
    Cells(Vec<CellError>),
    Refused(Refused),
}

impl From<Refused> for UploadRefused {
    fn from(r: Refused) -> Self {
        UploadRefused::Refused(r)
    }
}

impl From<mamori_store::StoreError> for UploadRefused {
    fn from(e: mamori_store::StoreError) -> Self {
        UploadRefused::Refused(e.into())
    }
}

/// The workbook to fill in: the system's checklist as it stands.
pub async fn answer_workbook(op: &Op<'_>, id: i64) -> Result<ChecklistReport, Refused> {
    op.require(Permission::AnswerChecklist)?;
    crate::reports::checklist(op, id).await
}

/// What `upload` would change in system `id`: the answers that differ
/// from those now saved. Every row is checked (the requirement exists and
/// applies, the answer is complete, nobody changed it since the workbook
/// was made); one problem and nothing is changed.
/// Where a system's answers stand: its catalog, the items that apply, the
/// answers of this round and who answers what.
struct Standing {
    catalog: std::sync::Arc<mamori_core::catalog::CatalogFile>,
    applicable: Vec<u32>,
    current: HashMap<u32, mamori_store::systems::AnswerRecord>,
    parts: mamori_store::parties::Parts,
}

async fn standing(op: &Op<'_>, s: &mamori_store::systems::SystemRecord) -> Result<Standing, Refused> {
    let catalog = op.store.catalog(s.catalog_version_id).await?;
    let figures = op.store.figures(std::slice::from_ref(s)).await?;
    let applicable = figures.first().map(|f| f.items.iter().map(|i| i.number).collect()).unwrap_or_default();
    let current = op.store.answers(s.id, s.round).await?.into_iter().map(|a| (a.number, a)).collect();
    let parts = op.store.parts(s).await?;
    Ok(Standing { catalog, applicable, current, parts })
}

pub async fn preview(op: &Op<'_>, id: i64, upload: &Upload) -> Result<Vec<Change>, UploadRefused> {
    let org = crate::checklist::answering_org(op)?;
    let s = system(op, id).await?;
    let file = |m: String| UploadRefused::Cells(vec![CellError::file(m)]);
    if upload.system_id != s.id {
        return Err(file(format!("別のシステム (番号 {}) のファイルです。", upload.system_id)));
    }
    if upload.round != s.round || upload.catalog_version != s.catalog_version_id {
        return Err(file(format!(
            "このファイルは第{}回の様式です。今の回 (第{}回) の回答用ファイルをダウンロードし直してください。",
            upload.round, s.round
        )));
    }
    round_open(s.input.phase).and_then(|()| can_answer(s.status)).map_err(Refused::Workflow)?;
    let Standing { catalog, applicable, current, parts } = standing(op, &s).await?;
    let names: HashMap<i64, String> = op.store.organisations().await?.into_iter().map(|o| (o.id, o.name)).collect();
    let mut errors = upload.errors.clone();
    let mut changes = Vec::new();
    for r in &upload.rows {
        let mut problem =
            |column: &'static str, message: String| errors.push(CellError { row: r.row, column, message });
        let Some(req) = catalog.requirements.iter().find(|q| q.number == r.number) else {
            problem("No", format!("No.{} はこの要件一覧にありません", r.number));
            continue;
        };
        let given = r.status.is_some() || !r.measures.is_empty() || r.planned.is_some();
        if !applicable.contains(&r.number) {
            if r.status.is_some() || (!r.marked_not_applicable && given) {
                problem("対応状況", "この項目はこのシステムに適用されないため、回答できません".into());
            }
            continue;
        }
        if r.marked_not_applicable {
            problem("対応状況", "この項目は適用されるようになりました。ファイルをダウンロードし直してください".into());
            continue;
        }
        let Some(status) = r.status else {
            if given || !r.reason.is_empty() {
                problem("対応状況", "対応状況を選んでください".into());
            }
            continue;
        };
        let after = AnswerInput { status, measures: r.measures.clone(), planned: r.planned, reason: r.reason.clone() };
        let problems = after.problems();
        for (field, p) in &problems {
            let (column, message) = problem_text(*p);
            let column = if *field == "reason" { "理由" } else { column };
            problem(column, message.into());
        }
        if !problems.is_empty() {
            continue;
        }
        let now = current.get(&r.number);
        if now.is_some_and(|a| a.input == after) {
            continue;
        }
        if let Some(theirs) = parts.answerer(r.number).filter(|o| *o != org) {
            let name = names.get(&theirs).map_or("-", String::as_str);
            problem("No", format!("No.{} は{name}が回答する項目のため、変更できません", r.number));
            continue;
        }
        if parts.is_submitted(org) {
            problem("No", format!("No.{} は提出済みのため変更できません", r.number));
            continue;
        }
        let on_revision = upload.answer_revisions.get(&r.number).copied().unwrap_or(0);
        if now.map_or(0, |a| a.revision) != on_revision {
            let by = now.map(|a| a.updated_by.as_str()).unwrap_or("-");
            problem(
                "No",
                format!(
                    "No.{} はこのファイルの作成後に変更されています ({by})。ダウンロードし直してください",
                    r.number
                ),
            );
            continue;
        }
        changes.push(Change {
            number: r.number,
            middle: req.middle.clone(),
            before: now.map(|a| a.input.clone()),
            after,
            was: now.map(|a| a.review).filter(|r| *r != Review::Pending),
            on_revision,
        });
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.row);
        return Err(UploadRefused::Cells(errors));
    }
    Ok(changes)
}

/// Applies the changes of a previewed upload, all or none: each a new
/// revision with its history line and audit event. Someone having changed
/// one of these answers since, or the system gone to another round or
/// catalog version than the file's (`made_for`), is refused as `Stale`.
pub async fn apply(op: &Op<'_>, id: i64, made_for: MadeFor, changes: &[AnswerChange]) -> Result<(), Refused> {
    let org = crate::checklist::answering_org(op)?;
    system(op, id).await?;
    if changes.iter().any(|c| c.on_revision.is_none()) {
        return Err(Refused::Invalid("on_revision"));
    }
    Ok(op.store.save_answers_by(&op.ctx(), id, (Some(org), Some(made_for)), changes).await?)
}

/// How long a previewed workbook waits for its confirmation: as long as a
/// session lives at the most.
const PREVIEW_KEPT: time::Duration = time::Duration::hours(12);

/// A previewed upload as it waits in the store (as JSON).
#[derive(Serialize, Deserialize)]
struct Kept {
    /// The round and catalog version the workbook was made for.
    round: i64,
    catalog_version: i64,
    changes: Vec<KeptAnswer>,
}

#[derive(Serialize, Deserialize)]
struct KeptAnswer {
    number: u32,
    status: String,
    measures: String,
    /// YYYY-MM-DD.
    planned: Option<String>,
    reason: String,
    on_revision: i64,
}

impl Kept {
    fn new(made_for: MadeFor, changes: &[Change]) -> Kept {
        let changes = changes
            .iter()
            .map(|c| KeptAnswer {
                number: c.number,
                status: c.after.status.as_str().to_owned(),
                measures: c.after.measures.clone(),
                planned: c.after.planned.map(|d| d.to_string()),
                reason: c.after.reason.clone(),
                on_revision: c.on_revision,
            })
            .collect();
        Kept { round: made_for.round, catalog_version: made_for.catalog_version, changes }
    }

    /// What was kept, or `None` if any of it does not read.
    fn read(self) -> Option<(MadeFor, Vec<AnswerChange>)> {
        let ymd = time::macros::format_description!("[year]-[month]-[day]");
        let changes = self.changes.into_iter().map(|a| {
            let planned = match &a.planned {
                Some(d) => Some(time::Date::parse(d, ymd).ok()?),
                None => None,
            };
            let status = AnswerStatus::parse(&a.status)?;
            let input = AnswerInput { status, measures: a.measures, planned, reason: a.reason };
            Some(AnswerChange { number: a.number, input, on_revision: Some(a.on_revision) })
        });
        let made_for = MadeFor { round: self.round, catalog_version: self.catalog_version };
        Some((made_for, changes.collect::<Option<_>>()?))
    }
}

/// Keeps the `changes` previewed of a workbook of system `id` made for
/// `made_for` as the acting person's one upload waiting for confirmation,
/// in place of any before; returns its mark, for the page that confirms it
/// ([`take_preview`]).
pub async fn keep_preview(op: &Op<'_>, id: i64, made_for: MadeFor, changes: &[Change]) -> Result<String, Refused> {
    op.require(Permission::AnswerChecklist)?;
    let account = op.who.account_id.ok_or(Refused::NotFound)?;
    system(op, id).await?;
    let json = serde_json::to_string(&Kept::new(made_for, changes)).map_err(|_| Refused::Internal("a preview"))?;
    op.store.keep_pending_import(account, id, &json, op.now).await?;
    Ok(mamori_store::pending::pending_mark(&json))
}

/// Forgets the acting person's previewed upload, if any.
pub async fn drop_preview(op: &Op<'_>) -> Result<(), Refused> {
    let account = op.who.account_id.ok_or(Refused::NotFound)?;
    Ok(op.store.drop_pending_import(account).await?)
}

/// Takes (reads and forgets) the acting person's previewed upload of
/// system `id`, if it was kept within [`PREVIEW_KEPT`] and is the one
/// whose `mark` the confirming page carried (`Stale`: another was
/// previewed since, in another tab): what it was made for, and its changes.
pub async fn take_preview(op: &Op<'_>, id: i64, mark: &str) -> Result<Option<(MadeFor, Vec<AnswerChange>)>, Refused> {
    op.require(Permission::AnswerChecklist)?;
    let account = op.who.account_id.ok_or(Refused::NotFound)?;
    system(op, id).await?;
    let Some(json) = op.store.take_pending_import(account, id, op.now - PREVIEW_KEPT, mark).await? else {
        return Ok(None);
    };
    let kept: Kept = serde_json::from_str(&json).map_err(|_| Refused::Internal("an unreadable pending import"))?;
    kept.read().map(Some).ok_or(Refused::Internal("an unreadable pending import"))
}

/// What an answers file would change ([`mamori_files::answer_file`]): for
/// the console of the security office, which fills in answers on behalf of
/// the party of each item (answers kept outside mamori, such as a
/// product's own assessment, brought in at once). Every item must be in
/// the system's catalog and apply to it, the system be open for answers
/// and the item's part not submitted; unchanged answers are left out.
/// Every problem at once.
pub async fn file_changes(op: &Op<'_>, id: i64, answers: &[FileAnswer]) -> Result<Vec<Change>, UploadRefused> {
    op.require(Permission::ManageSystems)?;
    let s = system(op, id).await?;
    round_open(s.input.phase).and_then(|()| can_answer(s.status)).map_err(Refused::Workflow)?;
    let Standing { catalog, applicable, current, parts } = standing(op, &s).await?;
    let mut errors = Vec::new();
    let mut changes = Vec::new();
    for a in answers {
        let mut problem = |message: String| errors.push(CellError::file(format!("No.{}: {message}", a.number)));
        let Some(req) = catalog.requirements.iter().find(|q| q.number == a.number) else {
            problem("この要件一覧にありません".into());
            continue;
        };
        if !applicable.contains(&a.number) {
            problem("このシステムには適用されません".into());
            continue;
        }
        let Some(org) = parts.answerer(a.number) else {
            problem("回答する組織がシステムに登録されていません".into());
            continue;
        };
        if parts.is_submitted(org) {
            problem("提出済みのため変更できません".into());
            continue;
        }
        let now = current.get(&a.number);
        if now.is_some_and(|n| n.input == a.input) {
            continue;
        }
        changes.push(Change {
            number: a.number,
            middle: req.middle.clone(),
            before: now.map(|n| n.input.clone()),
            after: a.input.clone(),
            was: now.map(|n| n.review).filter(|r| *r != Review::Pending),
            on_revision: now.map_or(0, |n| n.revision),
        });
    }
    if !errors.is_empty() {
        return Err(UploadRefused::Cells(errors));
    }
    Ok(changes)
}

/// Applies [`file_changes`], all or none, each answer by its own party's
/// rules; one changed since is refused as `Stale`.
pub async fn apply_file(op: &Op<'_>, id: i64, changes: &[Change]) -> Result<(), Refused> {
    op.require(Permission::ManageSystems)?;
    system(op, id).await?;
    let changes: Vec<AnswerChange> = changes.iter().map(Change::to_store).collect();
    Ok(op.store.save_answers_by(&op.ctx(), id, (None, None), &changes).await?)
}

/// A change in words, for the preview: (field, before, after) per field
/// that differs.
pub fn differences(c: &Change) -> Vec<(&'static str, String, String)> {
    let show = |a: Option<&AnswerInput>| {
        a.map(|a| {
            [
                status_word(a.status).to_owned(),
                a.measures.clone(),
                a.planned.map(|d| d.to_string()).unwrap_or_default(),
                a.reason.clone(),
            ]
        })
        .unwrap_or_default()
    };
    let (before, after) = (show(c.before.as_ref()), show(Some(&c.after)));
    ["対応状況", "対応内容", "予定日", "理由"]
        .into_iter()
        .zip(before.into_iter().zip(after))
        .filter(|(_, (b, a))| b != a)
        .map(|(f, (b, a))| (f, b, a))
        .collect()
}
