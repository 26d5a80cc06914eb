//! The steps of the workflow on one system, each a form on its page:
//! submit a part, finish the review, a new round, another catalog version,
//! an applicability override, an item moved to another party, a scan and a
//! moved host's address. Refused, the system page comes back with the
//! message.

use super::page_view::system_page;
use super::{refused_message, system_for, workflow_message};
use crate::forms::FormErrors;
use crate::handlers::{done, load, today, Acting, Reply};
use crate::page::Page;
use crate::AppState;
use axum::extract::Path;
use axum::Form;
use mamori_app::checklist as checklist_op;
use mamori_app::Refused;
use mamori_core::checklist::{SystemStatus, WorkflowError};
use mamori_core::identity::parse_multiline;
use mamori_core::parties::Party;
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct OverrideForm {
    number: String,
    applies: String,
    reason: String,
}

pub async fn set_override(page: Page, who: Acting, Path(id): Path<i64>, Form(form): Form<OverrideForm>) -> Reply {
    let s = system_for(&page, &who, id).await?;
    let t = page.t();
    let mut errors = FormErrors::new();
    let l = load(&page, &s).await?;
    let number = form.number.trim().parse::<u32>().ok().filter(|n| l.reqs().iter().any(|r| r.number == *n));
    if number.is_none() {
        errors.add("number", t.get("override-bad-number"));
    }
    let applies = match form.applies.as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => {
            errors.add("applies", t.get("override-bad-applies"));
            None
        }
    };
    let reason = errors.check(&t, "reason", "field-reason", parse_multiline(&form.reason, 1, 500));
    if let (Some(n), Some(a), Some(r), true) = (number, applies, reason, errors.is_empty()) {
        match checklist_op::set_override(&who.op(&page), id, n, a, &r).await {
            Ok(()) => return done(&page, "override-saved", &format!("/systems/{id}")).await,
            Err(Refused::Workflow(w @ WorkflowError::Retired)) => errors.add("workflow", workflow_message(&t, &w)),
            Err(e) => errors.add("number", refused_message(&t, &e).ok_or(e)?),
        }
    }
    system_page(&page, &who.user, s, errors).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MoveForm {
    number: String,
    party: String,
}

/// Moves one item to another party for this system (officer).
pub async fn move_item(page: Page, who: Acting, Path(id): Path<i64>, Form(form): Form<MoveForm>) -> Reply {
    let s = system_for(&page, &who, id).await?;
    let t = page.t();
    let mut errors = FormErrors::new();
    let l = load(&page, &s).await?;
    let number = form.number.trim().parse::<u32>().ok().filter(|n| l.applicable.contains(n));
    if number.is_none() {
        errors.add("move_number", t.get("move-bad-number"));
    }
    let party = Party::parse(&form.party);
    if party.is_none() {
        errors.add("move_party", t.get("move-bad-party"));
    }
    if let (Some(n), Some(to)) = (number, party) {
        match checklist_op::move_item(&who.op(&page), id, n, to).await {
            Ok(()) => return done(&page, "move-saved", &format!("/systems/{id}")).await,
            Err(Refused::Workflow(w @ WorkflowError::Retired)) => errors.add("workflow", workflow_message(&t, &w)),
            Err(Refused::Workflow(_)) => errors.add("move_number", t.get("move-not-now")),
            Err(e) => return Err(e.into()),
        }
    }
    system_page(&page, &who.user, s, errors).await
}

/// One step of the workflow on the whole system: on success back to the
/// system with `flash`; refused, the system page again with the message.
async fn step<T>(
    state: &AppState,
    page: &Page,
    who: &Acting,
    id: i64,
    result: Result<T, Refused>,
    flash: impl FnOnce(T) -> &'static str,
    not_now: Option<&str>,
) -> Reply {
    let t = page.t();
    let mut errors = FormErrors::new();
    match result {
        Ok(v) => return done(page, flash(v), &format!("/systems/{id}")).await,
        Err(Refused::Workflow(w @ WorkflowError::Retired)) => errors.add("workflow", workflow_message(&t, &w)),
        Err(Refused::Workflow(_)) if not_now.is_some() => errors.add("workflow", t.get(not_now.unwrap_or_default())),
        Err(e) => errors.add("workflow", refused_message(&t, &e).ok_or(e)?),
    }
    let s = system_for(state, who, id).await?;
    system_page(page, &who.user, s, errors).await
}

pub async fn submit(page: Page, who: Acting, Path(id): Path<i64>) -> Reply {
    let result = checklist_op::submit(&who.op(&page), id).await;
    step(&page, &page, &who, id, result, |()| "system-submitted", None).await
}

pub async fn finish_review(page: Page, who: Acting, Path(id): Path<i64>) -> Reply {
    let result = checklist_op::finish_review(&who.op(&page), id).await;
    let flash = |to| if to == SystemStatus::Approved { "review-approved" } else { "review-returned" };
    step(&page, &page, &who, id, result, flash, None).await
}

/// Starts next year's assessment from the approved one (officer), due
/// the configured number of days from today.
pub async fn start_round(page: Page, who: Acting, Path(id): Path<i64>) -> Reply {
    let due = today(&page) + time::Duration::days(i64::from(page.config.round_days));
    let result = checklist_op::start_round(&who.op(&page), id, Some(due)).await;
    step(&page, &page, &who, id, result, |_| "round-started", Some("round-not-now")).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CatalogForm {
    version: String,
}

/// Moves a system to another catalog version, on purpose (officer).
pub async fn change_catalog(page: Page, who: Acting, Path(id): Path<i64>, Form(form): Form<CatalogForm>) -> Reply {
    let s = system_for(&page, &who, id).await?;
    let t = page.t();
    let mut errors = FormErrors::new();
    let version = form.version.parse::<i64>().unwrap_or(0);
    match checklist_op::change_catalog(&who.op(&page), s.id, version).await {
        Ok(()) => return done(&page, "catalog-changed", &format!("/systems/{id}")).await,
        Err(Refused::Invalid(_)) => errors.add("workflow", t.get("catalog-bad-version")),
        Err(Refused::Workflow(WorkflowError::NotNow(SystemStatus::Approved))) => {
            errors.add("workflow", t.get("catalog-not-while-approved"))
        }
        Err(Refused::Workflow(w @ WorkflowError::Retired)) => errors.add("workflow", workflow_message(&t, &w)),
        Err(Refused::Workflow(_)) => errors.add("workflow", t.get("workflow-not-now")),
        Err(e) => return Err(e.into()),
    }
    system_page(&page, &who.user, s, errors).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AddressForm {
    host: String,
    /// The new address the page showed.
    address: String,
}

/// The security office confirms the new address of a host name.
pub async fn confirm_scan_address(
    page: Page,
    who: Acting,
    Path(id): Path<i64>,
    Form(form): Form<AddressForm>,
) -> Reply {
    let back = format!("/systems/{id}");
    match checklist_op::confirm_scan_address(&who.op(&page), id, &form.host, &form.address).await {
        Ok(()) => done(&page, "scan-address-confirmed", &back).await,
        Err(Refused::Invalid(_)) => done(&page, "scan-address-none", &back).await,
        Err(Refused::Stale) => done(&page, "scan-address-moved-again", &back).await,
        Err(e) => Err(e.into()),
    }
}

/// Queues a scan of the system's URLs; the server's worker runs it.
pub async fn request_scan(page: Page, who: Acting, Path(id): Path<i64>) -> Reply {
    match checklist_op::queue_scan(&who.op(&page), id, page.config.vendor_scan_gap).await {
        Ok(()) => done(&page, "scan-requested", &format!("/systems/{id}")).await,
        Err(Refused::Invalid("retired")) => done(&page, "scan-retired", &format!("/systems/{id}")).await,
        Err(Refused::Invalid(_)) => done(&page, "scan-no-urls", &format!("/systems/{id}")).await,
        Err(Refused::TooSoon(_)) => done(&page, "scan-too-soon", &format!("/systems/{id}")).await,
        Err(e) => Err(e.into()),
    }
}
