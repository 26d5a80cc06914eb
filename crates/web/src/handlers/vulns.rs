//! Advisories matched against the inventories, across the systems a
//! person sees (item 63).

use crate::handlers::pager::Pager;
use crate::handlers::vuln_view::{match_row, MatchRow};
use crate::handlers::{html, Acting, Reply};
use crate::page::{Page, PageCtx};
use askama::Template;
use axum::extract::Query;
use mamori_app::inventory as inv;
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct VulnQuery {
    /// `open` (the default), `fixed`, `not_affected` or `all`.
    state: String,
    page: String,
}

#[derive(Template)]
#[template(path = "vulns.html")]
struct VulnsPage<'a> {
    p: PageCtx<'a>,
    rows: Vec<MatchRow>,
    pager: Pager,
    state: String,
    open: usize,
    total: usize,
    decision_error: Option<(i64, String)>,
}

/// The matches across the systems the person sees, most severe first.
pub async fn vulns(page: Page, who: Acting, Query(q): Query<VulnQuery>) -> Reply {
    use mamori_core::vulns::MatchState;
    let all = inv::found(&who.op(&page)).await?;
    let open = all.iter().filter(|f| f.m.state == MatchState::Open).count();
    let wanted = if q.state == "all" { None } else { Some(MatchState::parse(&q.state).unwrap_or(MatchState::Open)) };
    let shown: Vec<_> = all.iter().filter(|f| wanted.is_none_or(|w| f.m.state == w)).collect();
    let state = wanted.map_or("all", MatchState::as_str).to_owned();
    // The filter in the pages' links is the one understood, never the text asked.
    let filters = if state == "open" { String::new() } else { format!("state={state}") };
    let pager = Pager::new(&q.page, shown.len(), &filters).at("/vulns");
    let rows = pager.slice(&shown).iter().map(|f| match_row(&page, &f.m, &f.system_name)).collect();
    let p = page.ctx().await?;
    html(VulnsPage { p, rows, pager, state, open, total: all.len(), decision_error: None })
}
