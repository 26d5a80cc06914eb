//! The account ledger (ID管理簿, item 3), on screen and as CSV and Excel.

//! Accounts, organisations, the ledger (ID管理簿) and the access review
//! (items 1, 3, 6, 7, 37, 64, 65).

use super::{ledger_rows, LedgerRow};
use crate::download;
use crate::error::AppError;
use crate::handlers::html;
use crate::handlers::pager::Pager;
use crate::handlers::sorting::{headings, sort_rows, Heading, SortQuery};
use crate::handlers::{Acting, Reply};
use crate::i18n::Tr;
use crate::page::{Page, PageCtx};
use askama::Template;
use axum::extract::Query;
use mamori_app::oversight;
use mamori_files::export::CsvEncoding;
use serde::Deserialize;

// ----- ledger -------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "ledger.html")]
struct LedgerPage<'a> {
    p: PageCtx<'a>,
    ledger: Vec<LedgerRow>,
    headings: Vec<Heading>,
    pager: Pager,
}

/// The columns the ledger sorts by: query value and heading key.
const COLUMNS: [(&str, &str); 8] = [
    ("at", "ledger-at"),
    ("login", "field-login"),
    ("name", "field-display-name"),
    ("change", "ledger-change"),
    ("before", "ledger-before"),
    ("after", "ledger-after"),
    ("actor", "ledger-actor"),
    ("reason", "field-reason"),
];

/// The ledger on screen, newest first unless sorted otherwise, 50 lines a
/// page (the exports hold every line, oldest first).
pub async fn ledger(page: Page, Query(q): Query<SortQuery>) -> Reply {
    let q = q.or_by("at", true);
    let entries = page.store.ledger().await?;
    let orgs = page.store.organisations().await?;
    let p = page.ctx().await?;
    // Rows in the order written (the time, to the minute, ties).
    let mut rows: Vec<(usize, LedgerRow)> = ledger_rows(&p.t, &orgs, &entries).into_iter().enumerate().collect();
    let desc = q.desc();
    match q.sort.as_str() {
        "login" => sort_rows(&mut rows, desc, |(_, r)| r.login.clone()),
        "name" => sort_rows(&mut rows, desc, |(_, r)| r.name.clone()),
        "change" => sort_rows(&mut rows, desc, |(_, r)| r.change.clone()),
        "before" => sort_rows(&mut rows, desc, |(_, r)| r.before.clone()),
        "after" => sort_rows(&mut rows, desc, |(_, r)| r.after.clone()),
        "actor" => sort_rows(&mut rows, desc, |(_, r)| r.actor.clone()),
        "reason" => sort_rows(&mut rows, desc, |(_, r)| r.reason.clone()),
        _ => sort_rows(&mut rows, desc, |(i, _)| *i),
    }
    let headings = headings(&p.t, "/admin/ledger", &COLUMNS, &q.sort, desc, "");
    let pager = Pager::new(&q.page, rows.len(), &q.order()).at("/admin/ledger");
    let ledger = pager.slice(&rows).iter().map(|(_, r)| r.clone()).collect();
    html(LedgerPage { p, ledger, headings, pager })
}

async fn ledger_table(page: &Page, t: &Tr<'_>) -> Result<(Vec<String>, Vec<Vec<String>>), AppError> {
    let (entries, orgs) = (page.store.ledger().await?, page.store.organisations().await?);
    let headers = [
        "ledger-at",
        "field-login",
        "field-display-name",
        "ledger-change",
        "ledger-before",
        "ledger-after",
        "ledger-actor",
        "field-reason",
    ]
    .iter()
    .map(|k| t.get(k))
    .collect();
    let rows = ledger_rows(t, &orgs, &entries)
        .into_iter()
        .map(|r| vec![r.at, r.login, r.name, r.change, r.before, r.after, r.actor, r.reason])
        .collect();
    Ok((headers, rows))
}

#[derive(Deserialize)]
pub struct CsvQuery {
    encoding: Option<String>,
}

pub async fn ledger_csv(page: Page, who: Acting, q: Query<CsvQuery>) -> Reply {
    let t = page.t();
    let (headers, rows) = ledger_table(&page, &t).await?;
    let enc = CsvEncoding::from_query(q.encoding.as_deref());
    oversight::record_ledger_export(&who.op(&page), enc.format_name()).await?;
    Ok(download::csv(&format!("{}.csv", t.get("ledger-file")), &headers, &rows, enc))
}

pub async fn ledger_xlsx(page: Page, who: Acting) -> Reply {
    let t = page.t();
    let (headers, rows) = ledger_table(&page, &t).await?;
    let bytes = mamori_files::export::xlsx_bytes(&t.get("ledger-file"), &headers, &rows)
        .map_err(|e| AppError::Internal(format!("xlsx: {e}")))?;
    oversight::record_ledger_export(&who.op(&page), "xlsx").await?;
    Ok(download::xlsx(&format!("{}.xlsx", t.get("ledger-file")), bytes))
}
