//! The requirements catalog: any version, and the differences between two.

use crate::handlers::Reply;
use crate::handlers::{html, jst};
use crate::handlers::{req_row, ReqRow};

use crate::error::AppError;
use crate::page::{Page, PageCtx};
use askama::Template;
use axum::extract::Query;
use serde::Deserialize;

// ----- catalog ------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage<'a> {
    p: PageCtx<'a>,
    title: String,
    version: i64,
    versions: Vec<(i64, String)>,
    rows: Vec<ReqRow>,
    diff: Vec<String>,
}

#[derive(Deserialize)]
pub struct CatalogQuery {
    version: Option<i64>,
    compare: Option<i64>,
}

pub async fn catalog(page: Page, q: Query<CatalogQuery>) -> Reply {
    let versions = page.store.catalog_versions().await?;
    let id = q.version.or(versions.first().map(|v| v.id)).ok_or(AppError::NotFound)?;
    let file = page.store.catalog_document(id).await?.ok_or(AppError::NotFound)?;
    let p = page.ctx().await?;
    let mut diff = Vec::new();
    if let Some(other) = q.compare {
        let old = page.store.catalog_document(other).await?.ok_or(AppError::NotFound)?;
        let d = mamori_core::catalog::diff(&old.requirements, &file.requirements);
        diff.extend(d.added.iter().map(|n| p.t.with("catalog-diff-added", &[("n", &n.to_string())])));
        diff.extend(d.removed.iter().map(|n| p.t.with("catalog-diff-removed", &[("n", &n.to_string())])));
        diff.extend(
            d.changed
                .iter()
                .map(|(n, f)| p.t.with("catalog-diff-changed", &[("n", &n.to_string()), ("fields", &f.join(", "))])),
        );
        if diff.is_empty() {
            diff.push(p.t.get("catalog-diff-none"));
        }
    }
    html(CatalogPage {
        title: file.catalog.title.clone(),
        version: id,
        versions: versions
            .iter()
            .map(|v| (v.id, format!("{} {} ({})", v.id, v.label, jst(Some(v.imported_at)))))
            .collect(),
        rows: file.requirements.iter().map(|r| req_row(&p.t, r)).collect(),
        p,
        diff,
    })
}
