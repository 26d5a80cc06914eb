//! The list of systems a person may see.

use crate::handlers::Acting;
use crate::handlers::Reply;
use crate::handlers::{filtered, org_choices, ListQuery};
use crate::handlers::{html, jst};

use crate::page::{Page, PageCtx};
use askama::Template;
use axum::extract::Query;
use mamori_core::checklist::{Phase, SystemStatus};
use mamori_core::identity::{OrgKind, Permission};

// ----- systems list and form ---------------------------------------------------------------

pub struct SystemRow {
    id: i64,
    name: String,
    department: String,
    vendor: String,
    phase: String,
    status: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "systems.html")]
struct SystemsPage<'a> {
    p: PageCtx<'a>,
    rows: Vec<SystemRow>,
    can_manage: bool,
    q: ListQuery,
    departments: Vec<(String, String)>,
    vendors: Vec<(String, String)>,
    phases: Vec<(String, String)>,
    statuses: Vec<(String, String)>,
}

pub async fn systems(page: Page, who: Acting, Query(q): Query<ListQuery>) -> Reply {
    let state = &page.state;
    let f = filtered(&q);
    let list = mamori_app::checklist::systems(&who.op(state), &f).await?;
    let orgs = if who.person.scope().is_all() { state.store.organisations().await? } else { vec![] };
    let p = page.ctx(state).await?;
    let rows = list
        .iter()
        .map(|s| SystemRow {
            id: s.id,
            name: s.input.name.clone(),
            department: s.department_name.clone(),
            vendor: s.vendor_name.clone().unwrap_or_default(),
            phase: p.t.label(s.input.phase),
            status: p.t.label(s.status),
            updated: jst(Some(s.updated_at)),
        })
        .collect();
    let phases = Phase::ALL.iter().map(|x| (x.as_str().to_owned(), p.t.label(*x))).collect();
    let statuses = SystemStatus::ALL.iter().map(|x| (x.as_str().to_owned(), p.t.label(*x))).collect();
    html(SystemsPage {
        p,
        rows,
        can_manage: who.person.can(Permission::ManageSystems),
        departments: org_choices(&orgs, OrgKind::Department),
        vendors: org_choices(&orgs, OrgKind::Vendor),
        phases,
        statuses,
        q,
    })
}
