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

/// Systems shown per page of the list.
pub const PER_PAGE: usize = 50;

/// Where a list is: the page shown and links to its neighbours.
pub struct Pager {
    pub page: usize,
    pub pages: usize,
    pub total: usize,
    /// First and last row shown, from 1 (0 and 0 for an empty list).
    pub from: usize,
    pub to: usize,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// Page `asked` (1-based; anything out of range is the first) of
    /// `total` rows, with links that keep `filters`.
    pub fn new(asked: &str, total: usize, filters: &str) -> Pager {
        let pages = total.div_ceil(PER_PAGE).max(1);
        let page = asked.parse().ok().filter(|n| (1..=pages).contains(n)).unwrap_or(1);
        let link = |n: usize| {
            let sep = if filters.is_empty() { "" } else { "&" };
            format!("?{filters}{sep}page={n}")
        };
        Pager {
            page,
            pages,
            total,
            from: if total == 0 { 0 } else { (page - 1) * PER_PAGE + 1 },
            to: (page * PER_PAGE).min(total),
            prev: (page > 1).then(|| link(page - 1)),
            next: (page < pages).then(|| link(page + 1)),
        }
    }

    /// The rows of this page.
    pub fn slice<'a, T>(&self, all: &'a [T]) -> &'a [T] {
        &all[self.from.saturating_sub(1).min(all.len())..self.to.min(all.len())]
    }
}

#[derive(Template)]
#[template(path = "systems.html")]
struct SystemsPage<'a> {
    p: PageCtx<'a>,
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
    let list = mamori_app::checklist::systems(&who.op(&page), &f).await?;
    let orgs = if who.person.scope().is_all() { page.store.organisations().await? } else { vec![] };
    let p = page.ctx().await?;
    let pager = Pager::new(&q.page, list.len(), &q.filters());
    let rows = pager
        .slice(&list)
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
