//! The office's import of reference data: release data, advisories and
//! the ISMAP list, each recognised from its content, and the imports so far.

use crate::handlers::{done, html, jst, Acting, Reply};
use crate::page::{Page, PageCtx};
use askama::Template;
use mamori_app::inventory as inv;

pub struct FeedRow {
    kind: String,
    name: String,
    sha256: String,
    records: i64,
    changed: i64,
    skipped: i64,
    at: String,
}

#[derive(Template)]
#[template(path = "feeds.html")]
struct FeedsPage<'a> {
    p: PageCtx<'a>,
    imports: Vec<FeedRow>,
    error: String,
}

async fn feeds_page(page: &Page, who: &Acting, error: String) -> Reply {
    let imports = inv::feed_imports(&who.op(page))
        .await?
        .into_iter()
        .map(|f| FeedRow {
            kind: match f.kind.as_str() {
                "endoflife" => "endoflife.date".into(),
                "nvd" => "NVD".into(),
                "jvn" => "JVN".into(),
                "ismap" => "ISMAP".into(),
                _ => f.kind,
            },
            name: f.name,
            sha256: f.sha256.chars().take(16).collect(),
            records: f.records,
            changed: f.changed,
            skipped: f.skipped,
            at: format!("{} {}", jst(Some(f.imported_at)), f.imported_by),
        })
        .collect();
    let p = page.ctx_form().await?;
    html(FeedsPage { p, imports, error })
}

pub async fn feeds(page: Page, who: Acting) -> Reply {
    feeds_page(&page, &who, String::new()).await
}

/// Imports a reference data file (the kind is read from its content).
pub async fn import_feed(page: Page, who: Acting, request: axum::extract::Request) -> Reply {
    inv::feed_imports(&who.op(&page)).await?;
    let max = mamori_files::feeds::MAX_BYTES;
    let (name, bytes, too_large, _turn) = match crate::handlers::one_file(&page, request, max).await {
        Ok(f) => f,
        Err(refused) => return Ok(refused),
    };
    let t = page.t();
    let error = if too_large {
        t.with("inventory-sheet-too-large", &[("mb", &(max / (1024 * 1024)).to_string())])
    } else {
        match inv::import_feed(&who.op(&page), &name, &bytes).await? {
            Ok(_) => return done(&page, "feeds-imported", "/feeds").await,
            Err(message) => message,
        }
    };
    feeds_page(&page, &who, error).await
}
