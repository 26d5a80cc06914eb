//! The checklist screens: systems, answers and review (PRODUCT.md steps
//! 2, 3, 5). A vendor sees only systems assigned to its organisation and
//! department staff only their department's; anything else answers 404, so
//! not even a system's existence leaks.

mod approvals;
mod evidence;
mod form;
mod item;
mod item_list;
mod item_view;
mod list;
mod page;
mod page_view;
mod report;
mod rounds;
mod steps;
mod workbook;
mod yearly;

pub use approvals::approve_selected;
pub use evidence::{download_evidence, link_document, remove_evidence, unlink_document, upload_evidence};
pub use form::{create_system, edit_system_form, new_system_form, update_system};
pub use item::{history, item, review_item, save_answer};
pub use list::systems;
pub use page::system;
pub use report::{all_xlsx, print_html, report_csv, report_print, report_xlsx};
pub use rounds::{rounds_form, start_rounds};
pub use steps::{
    change_catalog, confirm_scan_address, finish_review, move_item, request_scan, set_override, start_round, submit,
};
pub use workbook::{answers_xlsx, apply_answers, upload_answers};
pub use yearly::{receive, set_month, sign_off, yearly, yearly_html, yearly_print, yearly_xlsx};

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::handlers::{load, Acting, Loaded};
use crate::i18n::Tr;
use crate::AppState;
use mamori_app::Refused;
use mamori_core::checklist::WorkflowError;
use mamori_core::verification::{CheckId, CheckResult, Verdict};
use mamori_store::parties::Parts;
use mamori_store::systems::SystemRecord;
use std::collections::HashMap;

/// How the print page brings its stylesheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Styles {
    /// Linked from the server (the page in the browser).
    Linked,
    /// Inside the document (a file written on the console).
    Inline,
}

/// The applicable items before and after `number`, in the catalog's order
/// (the item pages' 前へ / 次へ, and 保存して次へ).
pub(super) fn neighbours(applicable: &[u32], number: u32) -> (Option<u32>, Option<u32>) {
    let prev = applicable.iter().copied().filter(|n| *n < number).max();
    let next = applicable.iter().copied().filter(|n| *n > number).min();
    (prev, next)
}

/// Where a saved item's form leads: the next applicable item when the
/// person asked for it (`then=next`) and there is one, else the item again.
pub(super) fn after_save(id: i64, number: u32, then: &str, applicable: &[u32]) -> String {
    match (then, neighbours(applicable, number).1) {
        ("next", Some(next)) => format!("/systems/{id}/items/{next}"),
        _ => format!("/systems/{id}/items/{number}"),
    }
}

/// One check of the latest scan as people read it: the check by name, the
/// verdict in words and what it means; the scanner's own technical summary
/// kept apart, shown on request.
pub struct ScanLine {
    pub target: String,
    pub check: String,
    /// The verdict's class, for the colour.
    pub class: &'static str,
    pub verdict: String,
    pub meaning: String,
    /// The scanner's summary (technical, in English); empty when hidden.
    pub detail: String,
}

/// Which ports are open is a map of the network: the officer's only
/// (`port_details`).
pub(super) fn scan_line(t: &Tr, target: &str, c: &CheckResult, port_details: bool) -> ScanLine {
    let hidden = c.id == CheckId::Ports && !port_details;
    let [pass, warn, fail] = crate::labels::scan_meaning_keys(c.id);
    let meaning = match (hidden, c.verdict) {
        (true, _) => t.get("scan-ports-hidden"),
        (false, Verdict::Pass) => t.get(pass),
        (false, Verdict::Warn) => t.get(warn),
        (false, Verdict::Error) => t.get("scan-meaning-error"),
        (false, Verdict::Fail) => t.get(fail),
    };
    ScanLine {
        target: target.to_owned(),
        check: t.label(c.id),
        class: c.verdict.as_str(),
        verdict: t.label(c.verdict),
        meaning,
        detail: if hidden { String::new() } else { c.summary.clone() },
    }
}

/// A login as a page names it: mamori's own steps in words, not its code.
pub(super) fn actor_name(t: &Tr, login: &str) -> String {
    if login == mamori_core::audit::Actor::system().login {
        t.get("audit-actor-system")
    } else {
        login.to_owned()
    }
}

/// Who answers the items of a system, as its pages show it.
pub(super) struct Answerers {
    pub parts: Parts,
    names: HashMap<i64, String>,
}

impl Answerers {
    pub async fn of(state: &AppState, s: &SystemRecord) -> Result<Answerers, AppError> {
        let parts = state.store.parts(s).await?;
        let names = state.store.organisations().await?.into_iter().map(|o| (o.id, o.name)).collect();
        Ok(Answerers { parts, names })
    }

    pub fn name(&self, org: i64) -> &str {
        self.names.get(&org).map_or("-", String::as_str)
    }

    /// "organisation (party)" for item `number`.
    pub fn label(&self, t: &Tr, number: u32) -> String {
        match self.parts.items.get(&number) {
            Some((party, org)) => format!("{} ({})", self.name(*org), t.label(*party)),
            None => String::new(),
        }
    }

    /// Does `user` answer item `number`?
    pub fn is_mine(&self, user: &CurrentUser, number: u32) -> bool {
        user.answers_for().is_some_and(|o| self.parts.answerer(number) == Some(o))
    }
}

/// The system, if it exists and this person may see it; 404 otherwise.
pub(super) async fn system_for(state: &AppState, who: &Acting, id: i64) -> Result<SystemRecord, AppError> {
    Ok(mamori_app::checklist::system(&who.op(state), id).await?)
}

/// The system and its checklist, when item `number` applies to it; 404
/// otherwise.
pub(super) async fn applicable_item(
    state: &AppState,
    who: &Acting,
    id: i64,
    number: u32,
) -> Result<(SystemRecord, Loaded), AppError> {
    let s = system_for(state, who, id).await?;
    let l = load(state, &s).await?;
    if !l.applicable.contains(&number) {
        return Err(AppError::NotFound);
    }
    Ok((s, l))
}

/// The message for a refused workflow step, naming the items concerned.
pub(super) fn workflow_message(t: &Tr, e: &WorkflowError) -> String {
    let items = |m: &[u32]| m.iter().map(|n| format!("No.{n}")).collect::<Vec<_>>().join("、");
    match e {
        WorkflowError::Unanswered(m) => t.with("workflow-unanswered", &[("items", &items(m))]),
        WorkflowError::Undecided(m) => t.with("workflow-undecided", &[("items", &items(m))]),
        WorkflowError::NotNow(_) => t.get("workflow-not-now"),
        WorkflowError::PhaseDuties(phase, m) => {
            t.with("workflow-phase-duties", &[("phase", &t.label(*phase)), ("items", &items(m))])
        }
        WorkflowError::MissingRecord(phase, kind) => {
            let numbers = items(kind.items());
            t.with(
                "workflow-missing-record",
                &[("phase", &t.label(*phase)), ("record", &t.label(*kind)), ("items", &numbers)],
            )
        }
        WorkflowError::UnapprovedRecord(phase, kind) => t.with(
            "workflow-unapproved-record",
            &[("phase", &t.label(*phase)), ("record", &t.label(*kind)), ("items", &items(kind.items()))],
        ),
        WorkflowError::RecordApproved => t.get("records-approved-kept"),
        WorkflowError::ScopeSubmitted(m) => t.with("workflow-scope-submitted", &[("items", &items(m))]),
        WorkflowError::Retired => t.get("workflow-retired"),
    }
}

/// The message for a refused workflow step, or for someone having moved
/// the system first; `None` for what is not the person's to fix.
pub(super) fn refused_message(t: &Tr, e: &Refused) -> Option<String> {
    match e {
        Refused::Workflow(w) => Some(workflow_message(t, w)),
        Refused::Stale | Refused::Taken => Some(t.get("workflow-conflict")),
        _ => None,
    }
}
