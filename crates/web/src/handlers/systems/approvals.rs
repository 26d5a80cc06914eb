//! Approving many answers at once from the system's list: the officer
//! ticks the pending items (or has them all ticked), confirms on a page that
//! lists them, and every approval is one audited decision, all in one
//! transaction, refused whole if the system changed since the list was
//! shown.

use super::page_view::system_page_selecting;
use super::{refused_message, system_for};
use crate::error::AppError;
use crate::forms::{FormErrors, Pairs};
use crate::handlers::{done, html, load, Acting, Reply};
use crate::page::{Page, PageCtx};
use askama::Template;
use axum::extract::Path;
use mamori_app::checklist::{self as checklist_op, MAX_APPROVALS};
use mamori_app::Refused;
use mamori_store::systems::SystemRecord;

#[derive(Template)]
#[template(path = "approvals_confirm.html")]
struct ConfirmPage<'a> {
    p: PageCtx<'a>,
    s: SystemRecord,
    /// The system's revision the officer saw.
    revision: i64,
    /// Number, major and middle heading of each item to approve.
    items: Vec<(u32, String, String)>,
}

/// What the list's form sends: the ticked items (repeated `item`), the
/// system's revision, and `confirm=yes` from the confirmation page.
struct Selection {
    numbers: Vec<u32>,
    revision: Option<i64>,
    confirmed: bool,
}

fn selection(fields: &[(String, String)]) -> Selection {
    let mut s = Selection { numbers: Vec::new(), revision: None, confirmed: false };
    for (k, v) in fields {
        match k.as_str() {
            "item" => {
                if let Ok(n) = v.trim().parse::<u32>() {
                    if !s.numbers.contains(&n) && s.numbers.len() < MAX_APPROVALS {
                        s.numbers.push(n);
                    }
                }
            }
            "revision" => s.revision = v.trim().parse().ok(),
            "confirm" => s.confirmed = v == "yes",
            _ => {}
        }
    }
    s.numbers.sort_unstable();
    s
}

pub async fn approve_selected(page: Page, who: Acting, Path(id): Path<i64>, Pairs(fields): Pairs) -> Reply {
    let s = system_for(&page, &who, id).await?;
    let t = page.t();
    let sel = selection(&fields);
    let revision = sel.revision.ok_or(AppError::BadRequest)?;
    let mut errors = FormErrors::new();
    if sel.numbers.is_empty() {
        errors.add("items", t.get("approve-none-selected"));
        return system_page_selecting(&page, &who.user, s, errors, false).await;
    }
    if !sel.confirmed {
        let l = load(&page, &s).await?;
        let items = sel
            .numbers
            .iter()
            .map(|n| {
                let r = l.reqs().iter().find(|r| r.number == *n).ok_or(AppError::NotFound)?;
                Ok((*n, r.major.clone(), r.middle.clone()))
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        let p = page.ctx().await?;
        return html(ConfirmPage { p, s, revision, items });
    }
    match checklist_op::approve_many(&who.op(&page), id, revision, &sel.numbers).await {
        Ok(_) => done(&page, "approve-done", &format!("/systems/{id}")).await,
        Err(Refused::Stale) => {
            errors.add("items", t.get("approve-stale"));
            system_page_selecting(&page, &who.user, s, errors, false).await
        }
        Err(e) => {
            errors.add("items", refused_message(&t, &e).ok_or(e)?);
            system_page_selecting(&page, &who.user, s, errors, false).await
        }
    }
}
