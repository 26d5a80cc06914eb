//! The requirements catalog: any version, and the differences between two.

use crate::handlers::Reply;
use crate::handlers::{html, jst};
use crate::handlers::{req_row, ReqRow};

use crate::error::AppError;
use crate::page::{Page, PageCtx};
use askama::Template;
use axum::extract::Query;
use mamori_core::catalog::RequirementDef;
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
    /// Each changed field of each changed requirement, old and new side by side.
    changes: Vec<FieldChange>,
}

/// A part of a text in a comparison: unchanged, or only on this side.
pub struct Segment {
    pub changed: bool,
    pub text: String,
}

/// One field of one requirement, before and after.
pub struct FieldChange {
    pub number: u32,
    pub field: String,
    pub old: Vec<Segment>,
    pub new: Vec<Segment>,
}

/// A field as people read it (conditions in words, checks by name).
fn field_value(t: &crate::i18n::Tr, r: &RequirementDef, field: &str) -> String {
    match field {
        "source" => r.source.clone(),
        "major" => r.major.clone(),
        "middle" => r.middle.clone(),
        "condition_note" => r.condition_note.clone().unwrap_or_default(),
        "text" => r.text.clone(),
        "evidence_hint" => r.evidence_hint.clone(),
        "self_met" => t.get(if r.self_met { "catalog-self-met-yes" } else { "catalog-self-met-no" }),
        "party" => t.label(r.party),
        _ => {
            let shown = req_row(t, r);
            if field == "checks" {
                shown.checks
            } else {
                shown.applies_when
            }
        }
    }
}

/// The label key of a field of the catalog.
fn field_key(field: &str) -> &'static str {
    match field {
        "source" => "field-source",
        "major" => "field-major",
        "middle" => "field-middle",
        "condition_note" => "field-condition",
        "text" => "field-text",
        "applies_when" => "field-applies-when",
        "checks" => "field-checks",
        "self_met" => "field-self-met",
        "party" => "field-answerer",
        _ => "field-evidence-hint",
    }
}

/// Old and new text, each cut into what both share and what only it has
/// (character by character: Japanese has no spaces between words).
fn segments(old: &str, new: &str) -> (Vec<Segment>, Vec<Segment>) {
    let diff = similar::TextDiff::from_chars(old, new);
    let (mut o, mut n): (Vec<Segment>, Vec<Segment>) = (Vec::new(), Vec::new());
    let push = |side: &mut Vec<Segment>, changed: bool, text: &str| match side.last_mut() {
        Some(last) if last.changed == changed => last.text.push_str(text),
        _ => side.push(Segment { changed, text: text.to_owned() }),
    };
    for change in diff.iter_all_changes() {
        let text = change.value();
        match change.tag() {
            similar::ChangeTag::Equal => {
                push(&mut o, false, text);
                push(&mut n, false, text);
            }
            similar::ChangeTag::Delete => push(&mut o, true, text),
            similar::ChangeTag::Insert => push(&mut n, true, text),
        }
    }
    (o, n)
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
    let mut changes = Vec::new();
    if let Some(other) = q.compare {
        let old = page.store.catalog_document(other).await?.ok_or(AppError::NotFound)?;
        let d = mamori_core::catalog::diff(&old.requirements, &file.requirements);
        diff.extend(d.added.iter().map(|n| p.t.with("catalog-diff-added", &[("n", &n.to_string())])));
        diff.extend(d.removed.iter().map(|n| p.t.with("catalog-diff-removed", &[("n", &n.to_string())])));
        for (n, fields) in &d.changed {
            let (Some(before), Some(after)) =
                (old.requirements.iter().find(|r| r.number == *n), file.requirements.iter().find(|r| r.number == *n))
            else {
                continue;
            };
            let names: Vec<String> = fields.iter().map(|f| p.t.get(field_key(f))).collect();
            diff.push(p.t.with("catalog-diff-changed", &[("n", &n.to_string()), ("fields", &names.join("、"))]));
            for f in fields {
                let (o, nw) = segments(&field_value(&p.t, before, f), &field_value(&p.t, after, f));
                changes.push(FieldChange { number: *n, field: p.t.get(field_key(f)), old: o, new: nw });
            }
        }
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
        changes,
    })
}
