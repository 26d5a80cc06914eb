//! The account ledger (ID管理簿, item 3), on screen and as CSV and Excel.

//! Accounts, organisations, the ledger (ID管理簿) and the access review
//! (items 1, 3, 6, 7, 37, 64, 65).

use super::{ledger_rows, LedgerRow};
use crate::download;
use crate::error::AppError;
use crate::handlers::html;
use crate::handlers::pager::{PageQuery, Pager};
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
    pager: Pager,
}

/// The ledger on screen, newest first, 50 lines a page (the exports hold
/// every line, oldest first).
pub async fn ledger(page: Page, Query(q): Query<PageQuery>) -> Reply {
    let mut entries = page.store.ledger().await?;
    entries.reverse();
    let orgs = page.store.organisations().await?;
    let p = page.ctx().await?;
    let pager = Pager::new(&q.page, entries.len(), "").at("/admin/ledger");
    let ledger = ledger_rows(&p.t, &orgs, pager.slice(&entries));
    html(LedgerPage { p, ledger, pager })
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
