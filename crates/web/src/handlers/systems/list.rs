//! The list of systems a person may see.

use crate::handlers::pager::Pager;
use crate::handlers::sorting::{self, Heading};
use crate::handlers::Acting;
use crate::handlers::Reply;
use crate::handlers::{filtered, org_choices, ListQuery};
use crate::handlers::{html, jst};

use crate::page::{Page, PageCtx};
use askama::Template;
use axum::extract::Query;
use mamori_core::checklist::{Phase, SystemStatus};
use mamori_core::identity::{OrgKind, Permission};
use mamori_store::systems::SystemRecord;

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

/// The columns the list sorts by: query value and heading key.
const COLUMNS: [(&str, &str); 6] = [
    ("name", "field-system-name"),
    ("department", "field-department"),
    ("vendor", "field-vendors"),
    ("phase", "field-phase"),
    ("status", "field-status"),
    ("updated", "field-updated"),
];

/// Sorts the systems by `column` (an unknown one keeps the store's order,
/// by name), the other way round with `desc`.
fn sort(list: &mut [SystemRecord], column: &str, desc: bool) {
    match column {
        "name" => list.sort_by(|a, b| a.input.name.cmp(&b.input.name)),
        "department" => list.sort_by(|a, b| a.department_name.cmp(&b.department_name)),
        "vendor" => list.sort_by(|a, b| a.vendor_name.cmp(&b.vendor_name)),
        "phase" => list.sort_by_key(|s| s.input.phase),
        "status" => list.sort_by_key(|s| s.status),
        "updated" => list.sort_by_key(|s| s.updated_at),
        _ => return,
    }
    if desc {
        list.reverse();
    }
}

fn headings(t: &crate::i18n::Tr, q: &ListQuery) -> Vec<Heading> {
    sorting::headings(t, "/systems", &COLUMNS, &q.sort, q.dir == "desc", &q.filters())
}

#[derive(Template)]
#[template(path = "systems.html")]
struct SystemsPage<'a> {
    p: PageCtx<'a>,
    headings: Vec<Heading>,
    rows: Vec<SystemRow>,
    pager: Pager,
    can_manage: bool,
    q: ListQuery,
    departments: Vec<(String, String)>,
    vendors: Vec<(String, String)>,
    phases: Vec<(String, String)>,
    statuses: Vec<(String, String)>,
    /// The filters as a query string, for the export link.
    filters: String,
}

pub async fn systems(page: Page, who: Acting, Query(q): Query<ListQuery>) -> Reply {
    let f = filtered(&q);
    let mut list = mamori_app::checklist::systems(&who.op(&page), &f).await?;
    sort(&mut list, &q.sort, q.dir == "desc");
    let orgs = if who.person.scope().is_all() { page.store.organisations().await? } else { vec![] };
    let p = page.ctx().await?;
    let pager = Pager::new(&q.page, list.len(), &q.ordered()).at("/systems");
    let rows = pager
        .slice(&list)
        .iter()
        .map(|s| SystemRow {
            id: s.id,
            name: s.input.name.clone(),
            department: s.department_name.clone(),
            vendor: s.vendor_names().join("、"),
            phase: p.t.label(s.input.phase),
            status: p.t.label(s.status),
            updated: jst(Some(s.updated_at)),
        })
        .collect();
    let phases = Phase::ALL.iter().map(|x| (x.as_str().to_owned(), p.t.label(*x))).collect();
    let statuses = SystemStatus::ALL.iter().map(|x| (x.as_str().to_owned(), p.t.label(*x))).collect();
    html(SystemsPage {
        headings: headings(&p.t, &q),
        p,
        rows,
        pager,
        can_manage: who.person.can(Permission::ManageSystems),
        departments: org_choices(&orgs, OrgKind::Department),
        vendors: org_choices(&orgs, OrgKind::Vendor),
        phases,
        statuses,
        filters: q.filters(),
        q,
    })
}
