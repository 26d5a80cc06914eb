//! One requirement of one system: the answer, its history, the review.

use super::{after_save, applicable_item, refused_message, system_for};
use crate::handlers::html;
use crate::handlers::load;
use crate::handlers::pager::Pager;
use crate::handlers::Reply;
use crate::handlers::{done, Acting};
use mamori_app::checklist as checklist_op;
use mamori_app::Refused;

use crate::forms::FormErrors;
use crate::page::{Page, PageCtx};
use askama::Template;
use axum::extract::{Path, Query};
use axum::Form;
use mamori_core::checklist::{self, AnswerInput, AnswerStatus, Review};
use mamori_core::identity::parse_multiline;
use mamori_store::systems::SystemRecord;
use mamori_store::Seen;
use serde::Deserialize;

// ----- one requirement of one system --------------------------------------------------------

use super::item_view::{history_rows, item_page, AnswerShown, HistoryRow};
pub async fn item(page: Page, who: Acting, Path((id, number)): Path<(i64, u32)>) -> Reply {
    let s = system_for(&page, &who, id).await?;
    item_page(&page, &who.user, s, number, None, FormErrors::new()).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AnswerForm {
    status: String,
    measures: String,
    planned_date: String,
    reason: String,
    /// `next`: on to the next applicable item once saved.
    then: String,
    /// The answer's revision the form showed (0: none yet).
    revision: String,
}

pub async fn save_answer(
    page: Page,
    who: Acting,
    Path((id, number)): Path<(i64, u32)>,
    Form(form): Form<AnswerForm>,
) -> Reply {
    let (s, l) = applicable_item(&page, &who, id, number).await?;
    // Another party's item is read, never changed: as if the route did not exist.
    if !super::Answerers::of(&page, &s).await?.is_mine(&who.user, number) {
        return Err(crate::error::AppError::NotFound);
    }
    let t = page.t();
    let mut errors = FormErrors::new();
    let status = AnswerStatus::parse(&form.status);
    if status.is_none() {
        errors.add("status", t.get("answer-need-status"));
    }
    let planned = if form.planned_date.trim().is_empty() {
        None
    } else {
        let d =
            time::Date::parse(form.planned_date.trim(), time::macros::format_description!("[year]-[month]-[day]")).ok();
        if d.is_none() {
            errors.add("planned_date", t.get("answer-bad-date"));
        }
        d
    };
    if let Some(status) = status {
        let input = AnswerInput {
            status,
            measures: form.measures.trim().replace("\r\n", "\n"),
            planned,
            reason: form.reason.trim().replace("\r\n", "\n"),
        };
        for (field, problem) in input.problems() {
            let key = match problem {
                checklist::AnswerProblem::MeasuresRequired => "answer-need-measures",
                checklist::AnswerProblem::PlannedDateRequired => "answer-need-date",
                checklist::AnswerProblem::ReasonRequired => "answer-need-reason",
                checklist::AnswerProblem::TooLong => "answer-too-long",
                checklist::AnswerProblem::HiddenCharacters => "answer-hidden-characters",
            };
            errors.add(field, t.get(key));
        }
        if errors.is_empty() {
            // A form without the revision it showed saves nothing (-1 is
            // no answer's revision).
            let seen = form.revision.trim().parse::<i64>().unwrap_or(-1);
            match checklist_op::save_answer(&who.op(&page), s.id, number, &input, seen).await {
                Ok(()) => return done(&page, "answer-saved", &after_save(id, number, &form.then, &l.applicable)).await,
                // Changed by someone else since the form was shown: what
                // was typed is shown again, and the history says what
                // changed; saving again replaces it knowingly.
                Err(Refused::Stale) => errors.add("workflow", t.get("answer-changed-meanwhile")),
                Err(e) => errors.add("workflow", refused_message(&t, &e).ok_or(e)?),
            }
        }
    }
    let s = system_for(&page, &who, id).await?;
    let shown = AnswerShown {
        status: form.status,
        status_label: String::new(),
        measures: form.measures,
        planned_date: form.planned_date,
        reason: form.reason,
    };
    item_page(&page, &who.user, s, number, Some(shown), errors).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReviewForm {
    decision: String,
    /// The answer's revision the officer saw.
    revision: String,
    /// The mark of the decision it bore ([`Seen`]).
    decided: String,
    comment: String,
    /// `next`: on to the next applicable item once decided; `list`: back
    /// to the item's row in the system's list.
    then: String,
}

pub async fn review_item(
    page: Page,
    who: Acting,
    Path((id, number)): Path<(i64, u32)>,
    Form(form): Form<ReviewForm>,
) -> Reply {
    let s = system_for(&page, &who, id).await?;
    let t = page.t();
    let mut errors = FormErrors::new();
    let decision = match form.decision.as_str() {
        "approve" => Some(Review::Approved),
        "return" => Some(Review::Returned),
        _ => {
            errors.add("decision", t.get("review-need-decision"));
            None
        }
    };
    let comment = errors.check(&t, "comment", "field-comment", parse_multiline(&form.comment, 0, 2000));
    if decision == Some(Review::Returned) && comment.as_deref().is_some_and(str::is_empty) {
        errors.add("comment", t.get("review-need-comment"));
    }
    // Without the revision the officer saw, the decision could fall on
    // content they did not see: refused as changed.
    let seen = form.revision.parse::<i64>().ok().map(|revision| Seen { revision, decision: form.decided });
    if seen.is_none() {
        errors.add("workflow", t.get("review-stale"));
    }
    if let (Some(d), Some(c), Some(seen), true) = (decision, comment, seen, errors.is_empty()) {
        match checklist_op::decide(&who.op(&page), s.id, number, &seen, d, &c).await {
            Ok(()) => {
                let to = match form.then.as_str() {
                    "next" => after_save(id, number, "next", &load(&page, &s).await?.applicable),
                    "list" => format!("/systems/{id}#item-{number}"),
                    _ => format!("/systems/{id}"),
                };
                return done(&page, "review-saved", &to).await;
            }
            Err(Refused::Stale) => errors.add("workflow", t.get("review-stale")),
            Err(e) => errors.add("workflow", refused_message(&t, &e).ok_or(e)?),
        }
    }
    item_page(&page, &who.user, s, number, None, errors).await
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage<'a> {
    p: PageCtx<'a>,
    s: SystemRecord,
    /// The round shown (every round is kept).
    round: i64,
    rows: Vec<(u32, HistoryRow)>,
    pager: Pager,
    /// The one item shown (`?item=N`), or the whole round.
    item: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct HistoryQuery {
    round: String,
    page: String,
    item: String,
}

/// Lines of a round's history shown at a time: a round's review (an answer
/// and a decision an item) on one page; each line up to 10,000 characters
/// of answer, a page is at most a few megabytes to build and to send (500
/// made pages of 14 MB).
pub const HISTORY_PER_PAGE: usize = 200;

/// The history of one round: the current one, or `?round=N` of the past,
/// oldest first, a page at a time; of one item (`?item=N`) or all.
pub async fn history(page: Page, who: Acting, Path(id): Path<i64>, Query(q): Query<HistoryQuery>) -> Reply {
    let s = system_for(&page, &who, id).await?;
    let round = q.round.trim().parse::<i64>().ok().filter(|r| (1..=s.round).contains(r)).unwrap_or(s.round);
    let item = q.item.trim().parse::<u32>().ok().filter(|n| *n > 0);
    let filters = match item {
        Some(n) => format!("round={round}&item={n}"),
        None => format!("round={round}"),
    };
    let total = page.store.history_len(s.id, round, item).await?;
    let pager = Pager::sized(&q.page, total, &filters, HISTORY_PER_PAGE);
    let h = page.store.history_lines(s.id, round, item, pager.from.saturating_sub(1)..pager.to).await?;
    let p = page.ctx().await?;
    let rows = h.lines.iter().map(|e| e.number).zip(history_rows(&p.t, &h)).collect();
    html(HistoryPage { p, s, round, rows, pager, item })
}
