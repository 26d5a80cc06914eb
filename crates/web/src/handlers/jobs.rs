//! The jobs page: the server's scheduled runs, their state, attempts and
//! errors, and how many wait (items 22, 23).

use super::{html, jst};
use crate::handlers::pager::Pager;
use crate::handlers::sorting::SortQuery;
use crate::handlers::Reply;
use crate::page::{Page, PageCtx};
use askama::Template;
use axum::extract::Query;
use mamori_core::jobs::JobState;

/// Runs the page reaches back to (a month of the ten-minute watch and the
/// daily jobs is about 4,600; the newest are what an officer looks at).
const SHOWN: i64 = 500;

pub struct JobRow {
    kind: String,
    run_key: String,
    state: String,
    attention: bool,
    attempts: String,
    after: String,
    by: String,
    finished: String,
    outcome: String,
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage<'a> {
    p: PageCtx<'a>,
    rows: Vec<JobRow>,
    pager: Pager,
    counts: mamori_store::jobs::JobCounts,
    queued_scans: i64,
}

/// The newest runs first, 50 a page.
pub async fn jobs(page: Page, Query(q): Query<SortQuery>) -> Reply {
    let now = page.state.clock.now();
    let list = page.store.jobs(SHOWN).await?;
    let counts = page.store.job_counts(now).await?;
    let queued_scans = page.store.operations(now).await?.queued_scans;
    let p = page.ctx().await?;
    let pager = Pager::new(&q.page, list.len(), "").at("/jobs");
    let rows = pager
        .slice(&list)
        .iter()
        .map(|j| JobRow {
            kind: p.t.label(j.kind),
            run_key: j.run_key.clone(),
            state: p.t.label(j.state),
            attention: j.state == JobState::Failed || (j.state == JobState::Queued && j.attempts > 0),
            attempts: format!("{} / {}", j.attempts, j.max_attempts),
            after: jst(Some(j.run_after)),
            by: j.claimed_by.clone().unwrap_or_default(),
            finished: jst(j.finished_at),
            outcome: j.outcome.clone(),
        })
        .collect();
    html(JobsPage { p, rows, pager, counts, queued_scans })
}
