//! A system page's list of requirements: a row per applicable item with
//! its answer, review, automatic verdict, evidence and who answers it,
//! the filters over it, and its rendering, kept per data revision (see
//! [`ItemList`]).

use crate::error::AppError;
use crate::i18n::Tr;
use crate::page::Page;
use askama::Template;
use mamori_core::catalog::CatalogFile;
use mamori_core::checklist::{self, AnswerStatus, Progress, Review, SystemStatus};
use mamori_core::verification::{ScanReport, Verdict};
use mamori_store::figures::SystemFigures;
use mamori_store::systems::{AnswerRecord, SystemRecord};
use mamori_store::Seen;
use time::Date;

pub(super) struct ItemRow {
    number: u32,
    major: String,
    middle: String,
    /// The requirement itself (folded in the list).
    text: String,
    answer: String,
    review: String,
    review_class: &'static str,
    overdue: bool,
    overridden: String,
    /// The latest automatic verdict for this requirement's checks ("" when none).
    auto: String,
    auto_class: &'static str,
    /// Answered 対応済 while the scanner says fail: for the officer's attention.
    contradiction: bool,
    /// Answered and waiting for a decision (or changed since approved):
    /// the officer may approve it from the list.
    pending: bool,
    /// The answer's text (measures, or the reason it does not apply) and
    /// planned date, for review from the list.
    measures: String,
    reason: String,
    planned: String,
    /// The answer as the officer sees it, for a decision from the list.
    seen: Seen,
    /// The officer's comment on a returned item (and after it was fixed).
    comment: String,
    /// Evidence of this round: id and file name.
    evidence: Vec<(i64, String)>,
    /// Library documents attached: revision id and title.
    documents: Vec<(i64, String)>,
    /// Who answers it ("organisation (party)").
    answerer: String,
    /// The officer may decide on it now (its part is in).
    reviewable: bool,
}

/// The item list of the page: its HTML and what the rest of the page
/// counts from it. Rendering it is most of the page's work, so it is kept
/// per data revision ([`mamori_store::Store::remember`]) under everything
/// else it depends on: the system, the date, the language, the filter,
/// whether the boxes are ticked and whether the viewer may review.
pub(super) struct ItemList {
    pub(super) html: String,
    pub(super) counts: Progress,
    /// Rows each filter of [`RowFilter::ALL`] shows.
    pub(super) filter_counts: [usize; RowFilter::ALL.len()],
    /// Items answered and not yet decided.
    pub(super) undecided: usize,
    /// Rows shown that may be decided now: number and the answer seen.
    pub(super) reviewable: Vec<(u32, Seen)>,
}

#[derive(Template)]
#[template(path = "system_items.html")]
struct ItemTable<'a> {
    t: &'a Tr<'a>,
    sid: i64,
    rows: &'a [ItemRow],
    can_review: bool,
    select_pending: bool,
}

/// Which rows of the system's list are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RowFilter {
    All,
    /// Answered and waiting for the officer's decision.
    Pending,
    /// Changed after it was approved.
    Changed,
    /// 対応済 while the scanner says it fails.
    Contradiction,
    Returned,
}

impl RowFilter {
    pub(super) const ALL: [RowFilter; 5] =
        [RowFilter::All, RowFilter::Pending, RowFilter::Changed, RowFilter::Contradiction, RowFilter::Returned];

    pub(super) fn parse(s: &str) -> RowFilter {
        RowFilter::ALL.into_iter().find(|f| f.key() == s).unwrap_or(RowFilter::All)
    }

    pub(super) fn key(self) -> &'static str {
        match self {
            RowFilter::All => "",
            RowFilter::Pending => "pending",
            RowFilter::Changed => "changed",
            RowFilter::Contradiction => "contradiction",
            RowFilter::Returned => "returned",
        }
    }

    pub(super) fn label(self) -> &'static str {
        match self {
            RowFilter::All => "filter-all",
            RowFilter::Pending => "filter-pending",
            RowFilter::Changed => "filter-changed",
            RowFilter::Contradiction => "filter-contradiction",
            RowFilter::Returned => "filter-returned",
        }
    }

    fn keeps(self, r: &ItemRow) -> bool {
        match self {
            RowFilter::All => true,
            RowFilter::Pending => r.pending,
            RowFilter::Changed => r.review_class == "changed",
            RowFilter::Contradiction => r.contradiction,
            RowFilter::Returned => r.review_class == "returned",
        }
    }
}

/// What the item list is made from (all read at the request's revision).
pub(super) struct Items<'a> {
    pub(super) page: &'a Page,
    pub(super) s: &'a SystemRecord,
    pub(super) catalog: &'a CatalogFile,
    pub(super) figures: &'a SystemFigures,
    pub(super) report: &'a ScanReport,
    pub(super) who: &'a super::Answerers,
    pub(super) today: Date,
}

impl Items<'_> {
    /// The rows, counted and rendered.
    pub(super) async fn render(
        &self,
        t: &Tr<'_>,
        may_review: bool,
        select_pending: bool,
        filter: RowFilter,
    ) -> Result<ItemList, AppError> {
        let Items { page, s, catalog, figures, report, who, today } = *self;
        // The answers' text and the evidence, shown in the list so that an
        // item can be read and decided without opening it.
        let answers = page.store.answers(s.id, s.round).await?;
        let evidence = page.store.evidence_of_round(s.id, s.round).await?;
        let links = page.store.document_links(s.id, s.round).await?;
        let overrides = page.store.overrides(s.id).await?;
        let mut counts = Progress::default();
        let mut rows = Vec::new();
        for item in &figures.items {
            let Some(r) = catalog.requirements.get(item.index) else { continue };
            let a = item.answer.as_ref();
            let record = answers.iter().find(|x| x.number == r.number);
            let overdue = a.is_some_and(|(a, _)| a.overdue(today));
            let auto = report.worst_of(&r.check_ids());
            counts.count(a.map(|(a, review)| (a, *review)), today);
            rows.push(ItemRow {
                number: r.number,
                major: r.major.clone(),
                middle: r.middle.clone(),
                text: r.text.clone(),
                answer: a.map_or_else(|| t.get("ans-none"), |(a, _)| t.label(a.status)),
                review: match a {
                    None => String::new(),
                    Some(_) if item.changed_after_approval => t.get("rev-changed-after-approval"),
                    Some((_, Review::Pending)) if s.status != SystemStatus::Submitted => {
                        t.get(if item.revised_after_return { "rev-fixed" } else { "rev-draft" })
                    }
                    Some((_, review)) => t.label(*review),
                },
                review_class: match a {
                    None => "",
                    Some(_) if item.changed_after_approval => "changed",
                    Some((_, Review::Pending)) if s.status != SystemStatus::Submitted => {
                        if item.revised_after_return {
                            "fixed"
                        } else {
                            "draft"
                        }
                    }
                    Some((_, review)) => review.as_str(),
                },
                overdue,
                overridden: overrides
                    .iter()
                    .find(|o| o.number == r.number)
                    .map(|o| o.reason.clone())
                    .unwrap_or_default(),
                auto: auto.map(|v| t.label(v)).unwrap_or_default(),
                auto_class: match auto {
                    Some(Verdict::Fail) => "fail",
                    Some(Verdict::Pass) => "pass",
                    Some(Verdict::Warn | Verdict::Error) => "warn",
                    None => "",
                },
                contradiction: auto == Some(Verdict::Fail) && a.is_some_and(|(a, _)| a.status == AnswerStatus::Done),
                pending: a.is_some_and(|(_, review)| *review == Review::Pending) || item.changed_after_approval,
                measures: record.map(|x| x.input.measures.clone()).unwrap_or_default(),
                reason: record.map(|x| x.input.reason.clone()).unwrap_or_default(),
                planned: record.and_then(|x| x.input.planned).map(|d| d.to_string()).unwrap_or_default(),
                seen: record.map(AnswerRecord::seen).unwrap_or_default(),
                comment: record
                    .filter(|x| x.review == Review::Returned || x.revised_after_return)
                    .map(|x| x.review_comment.clone())
                    .unwrap_or_default(),
                evidence: evidence
                    .iter()
                    .filter(|e| e.number == r.number)
                    .map(|e| (e.id, e.original_name.clone()))
                    .collect(),
                documents: links
                    .iter()
                    .filter(|l| l.number == r.number)
                    .map(|l| (l.shows.id, l.title.clone()))
                    .collect(),
                answerer: who.label(t, r.number),
                reviewable: may_review
                    && (a.is_some_and(|(_, review)| *review == Review::Pending) || item.changed_after_approval)
                    && checklist::can_review_item(s.status, who.parts.item_submitted(r.number)).is_ok(),
            });
        }
        let mut filter_counts = [0; RowFilter::ALL.len()];
        for (n, f) in filter_counts.iter_mut().zip(RowFilter::ALL) {
            *n = rows.iter().filter(|r| f.keeps(r)).count();
        }
        let undecided = rows.iter().filter(|r| r.pending).count();
        rows.retain(|r| filter.keeps(r));
        let can_review = rows.iter().any(|r| r.reviewable);
        let html = ItemTable { t, sid: s.id, rows: &rows, can_review, select_pending }.render()?;
        let reviewable = rows.iter().filter(|r| r.reviewable).map(|r| (r.number, r.seen.clone())).collect();
        Ok(ItemList { html, counts, filter_counts, undecided, reviewable })
    }
}
