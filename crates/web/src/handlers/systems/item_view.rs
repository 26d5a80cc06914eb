//! The page of one requirement of one system, shared by the answer, review
//! and evidence handlers (they render it again with the problems found).

use crate::handlers::Reply;
use crate::handlers::{html, jst};
use crate::handlers::{req_row, today, ReqRow};

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::forms::FormErrors;
use crate::i18n::Tr;
use crate::page::{Page, PageCtx};
use askama::Template;
use mamori_core::checklist::{self, AnswerInput, AnswerStatus, HistoryKind};
use mamori_core::identity::Permission;
use mamori_core::verification;
use mamori_store::systems::SystemRecord;
use std::collections::BTreeMap;

// ----- one requirement of one system --------------------------------------------------------

pub struct HistoryRow {
    pub at: String,
    pub actor: String,
    pub what: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "item.html")]
struct ItemPage<'a> {
    p: PageCtx<'a>,
    s: SystemRecord,
    r: ReqRow,
    applies: bool,
    answer: AnswerShown,
    /// The answer as stored, when the form shows something else typed (a
    /// save refused because someone changed it meanwhile, or a problem).
    stored: Option<AnswerShown>,
    review: String,
    review_comment: String,
    /// The answer's current revision (the officer decides on it).
    revision: i64,
    /// The mark of the decision it bears (another officer's, meanwhile,
    /// refuses this one's).
    decided: String,
    /// Changed after approval: the approved revision and, per changed
    /// field, its label, the approved value and the current one.
    approved_revision: Option<i64>,
    changes: Vec<(String, String, String)>,
    can_answer: bool,
    can_review: bool,
    /// Retired: the round is closed as it stood.
    round_closed: bool,
    /// Who answers the item ("organisation (party)").
    answerer: String,
    /// Another party's item, shown to one who answers others.
    others: bool,
    statuses: Vec<(String, String)>,
    /// The latest [`ITEM_HISTORY`] lines of the round's history.
    history: Vec<HistoryRow>,
    /// The lines before them, on the round's history page.
    history_earlier: usize,
    evidence: Vec<EvidenceRow>,
    /// Library documents attached: link id, title, revision, its id, file, pinned.
    documents: Vec<(i64, String, i64, i64, String, bool)>,
    /// The person's library, to attach from: id and title.
    library: Vec<(i64, String)>,
    max_mb: usize,
    errors: FormErrors,
    auto: Option<AutoShown>,
    /// The applicable items before and after this one.
    prev: Option<u32>,
    next: Option<u32>,
    /// Does the software inventory answer this item?
    inventory_item: bool,
    /// The kinds of record that answer this item: code and label key.
    record_kinds: Vec<(&'static str, &'static str)>,
    /// The system's records of those kinds: kind's label key, title, date.
    records: Vec<(&'static str, String, String)>,
}

/// What the scanner verifies of this item, and what remains for the answer.
struct AutoShown {
    checked: String,
    remaining: String,
    /// The latest scan's checks of this requirement.
    rows: Vec<super::ScanLine>,
}

pub struct EvidenceRow {
    id: i64,
    name: String,
    kind: String,
    size: String,
    sha256: String,
    uploaded: String,
    expires: String,
    expired: bool,
}

#[derive(Default)]
pub(super) struct AnswerShown {
    pub status: String,
    pub status_label: String,
    pub measures: String,
    pub planned_date: String,
    pub reason: String,
}

/// What differs between the approved answer and the current one, field by
/// field: (label, approved, current).
fn answer_changes(t: &Tr, approved: &AnswerInput, now: &AnswerInput) -> Vec<(String, String, String)> {
    let date = |d: Option<time::Date>| d.map(|d| d.to_string()).unwrap_or_default();
    [
        ("field-answer", t.label(approved.status), t.label(now.status)),
        ("field-measures", approved.measures.clone(), now.measures.clone()),
        ("field-planned-date", date(approved.planned), date(now.planned)),
        ("field-na-reason", approved.reason.clone(), now.reason.clone()),
    ]
    .into_iter()
    .filter(|(_, a, b)| a != b)
    .map(|(k, a, b)| (t.get(k), a, b))
    .collect()
}

/// The history lines an item's page shows, the latest: a thousand saves of
/// an answer of ten thousand characters were sixty megabytes of page at
/// each view. The rest are on the round's history page.
pub(super) const ITEM_HISTORY: usize = 20;

/// History lines made into the page's rows; an answer revision names the
/// fields that changed since the previous revision of the same
/// requirement, among the lines or the ones `before` them.
pub(super) fn history_rows(t: &Tr, h: &mamori_store::systems::HistoryLines) -> Vec<HistoryRow> {
    let mut last: BTreeMap<u32, &mamori_store::systems::HistoryEntry> = BTreeMap::new();
    for e in h.before.iter().filter(|e| e.kind == HistoryKind::Answer) {
        last.insert(e.number, e);
    }
    h.lines
        .iter()
        .map(|e| {
            let what = t.label(e.kind);
            let mut detail = Vec::new();
            if e.kind == HistoryKind::Answer {
                if let Some(prev) = last.get(&e.number) {
                    let changed: Vec<String> = [
                        (prev.status != e.status, "field-answer"),
                        (prev.measures != e.measures, "field-measures"),
                        (prev.planned_date != e.planned_date, "hist-field-planned"),
                        (prev.reason != e.reason, "field-na-reason"),
                    ]
                    .iter()
                    .filter(|(c, _)| *c)
                    .map(|(_, k)| t.get(k))
                    .collect();
                    let list = if changed.is_empty() { t.get("hist-unchanged") } else { changed.join("、") };
                    detail.push(t.with("hist-changed", &[("fields", &list)]));
                }
                last.insert(e.number, e);
            }
            if let Some(s) = AnswerStatus::parse(&e.status) {
                detail.push(t.label(s));
            }
            for part in [&e.measures, &e.reason, &e.comment] {
                if !part.is_empty() {
                    detail.push(part.clone());
                }
            }
            if let Some(d) = &e.planned_date {
                detail.push(t.with("hist-planned", &[("date", d)]));
            }
            HistoryRow { at: jst(Some(e.at)), actor: e.actor_login.clone(), what, detail: detail.join(" / ") }
        })
        .collect()
}

pub(super) async fn item_page(
    page: &Page,
    user: &CurrentUser,
    s: SystemRecord,
    number: u32,
    shown: Option<AnswerShown>,
    errors: FormErrors,
) -> Reply {
    let catalog = page.store.catalog(s.catalog_version_id).await?;
    let r = catalog.requirements.iter().find(|r| r.number == number).ok_or(AppError::NotFound)?;
    // Whether it applies, from the figures kept per revision; its one answer.
    let figures = page.store.figures(std::slice::from_ref(&s)).await?;
    let applicable: Vec<u32> = figures.first().map(|f| f.items.iter().map(|i| i.number).collect()).unwrap_or_default();
    let applies = applicable.contains(&number);
    let (prev, next) = super::neighbours(&applicable, number);
    let answer_record = page.store.answer(s.id, s.round, number).await?;
    let current = answer_record.as_ref();
    let lines = page.store.history_len(s.id, s.round, Some(number)).await?;
    let history_earlier = lines.saturating_sub(ITEM_HISTORY);
    let history = page.store.history_lines(s.id, s.round, Some(number), history_earlier..lines).await?;
    let today_s = today(page).to_string();
    let evidence = page
        .store
        .evidence_for(s.id, s.round, number)
        .await?
        .into_iter()
        .map(|e| EvidenceRow {
            id: e.id,
            kind: e.content_type.rsplit('/').next().unwrap_or("").to_owned(),
            size: format!("{:.1} KB", e.size as f64 / 1024.0),
            sha256: e.sha256,
            uploaded: format!("{} {}", jst(Some(e.uploaded_at)), e.uploaded_by),
            expired: e.expires_on.as_deref().is_some_and(|d| d < today_s.as_str()),
            expires: e.expires_on.unwrap_or_default(),
            name: e.original_name,
        })
        .collect();
    let documents = page
        .store
        .document_links(s.id, s.round)
        .await?
        .into_iter()
        .filter(|l| l.number == number)
        .map(|l| (l.id, l.title, l.shows.revision, l.shows.id, l.shows.original_name, l.pinned))
        .collect();
    let library = match user.answers_for() {
        Some(org) => page.store.document_titles(org).await?,
        None => Vec::new(),
    };
    // The records that answer this item, read only for the items they answer.
    let kinds = mamori_core::records::RecordKind::answering(number);
    let records = if kinds.is_empty() {
        vec![]
    } else {
        page.store
            .records(s.id)
            .await?
            .into_iter()
            .filter(|r| kinds.contains(&r.kind))
            .map(|r| {
                let due = r.due_on.map(|d| d.to_string()).unwrap_or_default();
                (crate::i18n::Label::key(r.kind), r.title, due)
            })
            .collect()
    };
    let p = page.ctx().await?;
    let as_stored = |a: &mamori_store::systems::AnswerRecord| AnswerShown {
        status: a.input.status.as_str().to_owned(),
        status_label: p.t.label(a.input.status),
        measures: a.input.measures.clone(),
        planned_date: a.input.planned.map(|d| d.to_string()).unwrap_or_default(),
        reason: a.input.reason.clone(),
    };
    let stored = current.filter(|_| shown.is_some()).map(as_stored);
    let answer = shown.unwrap_or_else(|| current.map(as_stored).unwrap_or_default());
    let auto = auto_shown(page, user, &p.t, &s, r).await?;
    let approved = current.and_then(|a| a.changed_after_approval().map(|ap| (a, ap)));
    let who = super::Answerers::of(page, &s).await?;
    let mine = who.is_mine(user, number);
    let part_in = who.parts.item_submitted(number);
    let open = checklist::round_open(s.input.phase).is_ok();
    let changes = approved.map(|(a, ap)| answer_changes(&p.t, &ap.input, &a.input)).unwrap_or_default();
    html(ItemPage {
        prev,
        next,
        record_kinds: kinds.iter().map(|k| (k.as_str(), crate::i18n::Label::key(*k))).collect(),
        records,
        inventory_item: mamori_core::inventory::ITEMS.contains(&number),
        r: req_row(&p.t, r),
        applies,
        revision: current.map_or(0, |a| a.revision),
        decided: current.map(|a| a.seen().decision).unwrap_or_default(),
        approved_revision: approved.map(|(_, ap)| ap.revision),
        changes,
        review: current.map(|a| p.t.label(a.review)).unwrap_or_default(),
        review_comment: current.map(|a| a.review_comment.clone()).unwrap_or_default(),
        can_answer: applies && mine && open && checklist::can_change_part(s.status, part_in).is_ok(),
        can_review: applies
            && open
            && current.is_some()
            && user.can(Permission::ReviewAnswers)
            && checklist::can_review_item(s.status, part_in).is_ok(),
        round_closed: !open,
        others: applies && user.answers_for().is_some() && !mine,
        answerer: who.label(&p.t, number),
        statuses: AnswerStatus::ALL.iter().map(|x| (x.as_str().to_owned(), p.t.label(*x))).collect(),
        history: history_rows(&p.t, &history),
        history_earlier,
        evidence,
        documents,
        library,
        max_mb: page.config.evidence.max_bytes / (1024 * 1024),
        answer,
        stored,
        errors,
        auto,
        p,
        s,
    })
}

/// The scanner's part of item `r`: the sub-points its checks verify (a pass
/// on 47② is not 47 verified), the rest left to the answer, and the latest
/// verdicts. `None` when no check belongs to the item.
async fn auto_shown(
    page: &Page,
    user: &CurrentUser,
    t: &Tr<'_>,
    s: &SystemRecord,
    r: &mamori_core::catalog::RequirementDef,
) -> Result<Option<AutoShown>, AppError> {
    let checks = r.check_ids();
    if checks.is_empty() {
        return Ok(None);
    }
    let all = verification::points_of(r.number, &r.text);
    let checked = verification::verified_points(r.number, &checks);
    let remaining: Vec<&String> = all.iter().filter(|p| !checked.contains(p)).collect();
    let join = |v: Vec<&String>| {
        if v.is_empty() {
            "—".to_owned()
        } else {
            v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("、")
        }
    };
    let report = page.store.last_report(s.id).await?.and_then(|r| r.report).unwrap_or_default();
    let port_details = user.can(Permission::ViewPortDetails);
    let mut rows = Vec::new();
    for target in &report.targets {
        for c in target.checks.iter().filter(|c| checks.contains(&c.id)) {
            rows.push(super::scan_line(t, &target.target, c, port_details));
        }
    }
    Ok(Some(AutoShown { checked: join(checked.iter().collect()), remaining: join(remaining), rows }))
}
