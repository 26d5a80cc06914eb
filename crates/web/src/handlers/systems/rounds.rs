//! Starting the next round of many systems at once (the security office at
//! the start of a year): the approved systems are listed, each ticked, with
//! one due date; each round starts on its own, audited as one started from
//! the system's page, and the page after names those started and why any
//! was not.

use super::refused_message;
use crate::forms::{FormErrors, Pairs};
use crate::handlers::{html, today, Acting, Reply};
use crate::page::{Page, PageCtx};
use askama::Template;
use mamori_app::checklist::{self as checklist_op, MAX_ROUNDS_AT_ONCE};
use mamori_app::Refused;
use mamori_core::checklist::WorkflowError;
use mamori_store::systems::SystemRecord;
use std::collections::HashSet;

struct Row {
    id: i64,
    name: String,
    department: String,
    vendor: String,
    round: i64,
    ticked: bool,
}

#[derive(Template)]
#[template(path = "rounds.html")]
struct RoundsPage<'a> {
    p: PageCtx<'a>,
    rows: Vec<Row>,
    due_on: String,
    errors: FormErrors,
}

#[derive(Template)]
#[template(path = "rounds_done.html")]
struct DonePage<'a> {
    p: PageCtx<'a>,
    /// System, name and its new round.
    started: Vec<(i64, String, i64)>,
    /// System, name (empty for one that does not exist) and why not.
    not_started: Vec<(i64, String, String)>,
    due_on: String,
}

async fn form(page: &Page, who: &Acting, ticked: Option<&HashSet<i64>>, due_on: &str, errors: FormErrors) -> Reply {
    let list: Vec<SystemRecord> = checklist_op::round_candidates(&who.op(page)).await?;
    let rows = list
        .into_iter()
        .map(|s| Row {
            ticked: ticked.is_none_or(|t| t.contains(&s.id)),
            id: s.id,
            round: s.round,
            department: s.department_name,
            vendor: s.vendor_name.unwrap_or_default(),
            name: s.input.name,
        })
        .collect();
    let p = page.ctx().await?;
    html(RoundsPage { p, rows, due_on: due_on.to_owned(), errors })
}

/// The approved systems, every one ticked, due the configured number of
/// days from today.
pub async fn rounds_form(page: Page, who: Acting) -> Reply {
    let due = today(&page) + time::Duration::days(i64::from(page.config.round_days));
    form(&page, &who, None, &due.to_string(), FormErrors::new()).await
}

/// What the form sends: the ticked systems (repeated `system`) and the
/// due date. A value that is not a system's number is an error, not
/// passed over.
struct Choice {
    ids: Vec<i64>,
    due_on: String,
    bad: bool,
}

fn choice(fields: &[(String, String)]) -> Choice {
    let mut c = Choice { ids: Vec::new(), due_on: String::new(), bad: false };
    let mut seen = HashSet::new();
    for (k, v) in fields {
        match k.as_str() {
            "system" => match v.trim().parse::<i64>() {
                Ok(id) if id > 0 => {
                    if seen.insert(id) {
                        c.ids.push(id);
                    }
                }
                _ => c.bad = true,
            },
            "due_on" => c.due_on = v.trim().to_owned(),
            _ => {}
        }
    }
    c
}

/// Starts the rounds of the ticked systems, or shows the form again with
/// what is wrong (nothing started).
pub async fn start_rounds(page: Page, who: Acting, Pairs(fields): Pairs) -> Reply {
    let t = page.t();
    let c = choice(&fields);
    let mut errors = FormErrors::new();
    let today = today(&page);
    let due = mamori_core::jst::parse_date(&c.due_on);
    match due {
        None => errors.add("due_on", t.get("answer-bad-date")),
        Some(d) if d < today => errors.add("due_on", t.get("rounds-due-past")),
        Some(_) => {}
    }
    if c.bad || c.ids.len() > MAX_ROUNDS_AT_ONCE {
        errors.add("systems", t.with("rounds-bad-choice", &[("max", &MAX_ROUNDS_AT_ONCE.to_string())]));
    } else if c.ids.is_empty() {
        errors.add("systems", t.get("rounds-none-ticked"));
    }
    if !errors.is_empty() {
        let ticked: HashSet<i64> = c.ids.iter().copied().collect();
        return form(&page, &who, Some(&ticked), &c.due_on, errors).await;
    }
    let op = who.op(&page);
    let mut started = Vec::new();
    let mut not_started = Vec::new();
    for r in checklist_op::start_rounds(&op, &c.ids, due).await? {
        let name = r.name.unwrap_or_default();
        match r.result {
            Ok(round) => started.push((r.id, name, round)),
            Err(Refused::NotFound) => not_started.push((r.id, String::new(), t.get("rounds-unknown"))),
            Err(Refused::Workflow(WorkflowError::NotNow(status))) => {
                not_started.push((r.id, name, t.with("rounds-not-approved", &[("status", &t.label(status))])))
            }
            Err(e) => {
                let why = refused_message(&t, &e).unwrap_or_else(|| {
                    tracing::error!(system = r.id, error = %e, "a round could not be started");
                    t.get("rounds-failed")
                });
                not_started.push((r.id, name, why));
            }
        }
    }
    let p = page.ctx().await?;
    html(DonePage { p, started, not_started, due_on: due.map(|d| d.to_string()).unwrap_or_default() })
}
