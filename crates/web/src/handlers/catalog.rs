//! The requirements catalog: any version, and the differences between two.

use crate::handlers::Reply;
use crate::handlers::{done, Acting};
use crate::handlers::{html, jst};
use crate::handlers::{req_row, ReqRow};
use mamori_app::catalog as catalog_op;
use mamori_app::Refused;
use mamori_core::catalog::RowError;
use mamori_store::catalog::ImportOutcome;

use crate::comparisons::{segments, Compared, FieldChange};
use crate::error::AppError;
use crate::page::{Page, PageCtx};
use askama::Template;
use axum::extract::Query;
use mamori_core::catalog::{CatalogFile, RequirementDef};
use serde::Deserialize;
use std::sync::Arc;

// ----- catalog ------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage<'a> {
    p: PageCtx<'a>,
    title: String,
    version: i64,
    versions: Vec<(i64, String)>,
    rows: Vec<ReqRow>,
    /// The comparison asked for, if any: each changed field of each changed
    /// requirement, old and new side by side.
    compared: Arc<Compared>,
    can_import: bool,
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

/// A field named in a problem, as people read it (the file's own words,
/// such as YAML or 回答者, as they are).
fn field_label(t: &crate::i18n::Tr, field: &str) -> String {
    match field {
        "source" | "major" | "middle" | "condition_note" | "text" | "applies_when" | "checks" | "self_met"
        | "party" | "evidence_hint" => t.get(field_key(field)),
        "number" => "No".to_owned(),
        other => other.to_owned(),
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

/// How long one comparison of two catalog versions may work on the
/// differences; past it, a field's text is shown changed as a whole.
const COMPARE_FOR: std::time::Duration = std::time::Duration::from_millis(500);

/// What changed from `old` to `new`: one line per added, removed or
/// changed requirement, and each changed field side by side.
fn compare(t: &crate::i18n::Tr, old: &CatalogFile, new: &CatalogFile) -> Compared {
    let mut diff = Vec::new();
    let mut changes = Vec::new();
    let deadline = std::time::Instant::now() + COMPARE_FOR;
    let d = mamori_core::catalog::diff(&old.requirements, &new.requirements);
    diff.extend(d.added.iter().map(|n| t.with("catalog-diff-added", &[("n", &n.to_string())])));
    diff.extend(d.removed.iter().map(|n| t.with("catalog-diff-removed", &[("n", &n.to_string())])));
    for (n, fields) in &d.changed {
        let (Some(before), Some(after)) =
            (old.requirements.iter().find(|r| r.number == *n), new.requirements.iter().find(|r| r.number == *n))
        else {
            continue;
        };
        let names: Vec<String> = fields.iter().map(|f| t.get(field_key(f))).collect();
        diff.push(t.with("catalog-diff-changed", &[("n", &n.to_string()), ("fields", &names.join("、"))]));
        for f in fields {
            let (o, nw) = segments(&field_value(t, before, f), &field_value(t, after, f), deadline);
            changes.push(FieldChange { number: *n, field: t.get(field_key(f)), old: o, new: nw });
        }
    }
    if diff.is_empty() {
        diff.push(t.get("catalog-diff-none"));
    }
    Compared { lines: diff, changes }
}

/// `compare` made off the request workers, in the page's language.
async fn compared(
    page: &Page,
    old: Arc<CatalogFile>,
    new: Arc<CatalogFile>,
    versions: Option<(i64, i64)>,
) -> Result<Arc<Compared>, AppError> {
    let (i18n, lang) = (page.state.i18n.clone(), page.lang);
    let make = move || compare(&i18n.tr(lang), &old, &new);
    let comparisons = &page.state.comparisons;
    let made = match versions {
        Some((old, new)) => comparisons.of_versions((old, new, lang), make).await,
        None => comparisons.off_workers(make).await.map(Arc::new),
    };
    made.map_err(|e| AppError::Internal(format!("a catalog comparison failed: {e}")))
}

#[derive(Deserialize)]
pub struct CatalogQuery {
    version: Option<i64>,
    compare: Option<i64>,
}

pub async fn catalog(page: Page, who: Acting, q: Query<CatalogQuery>) -> Reply {
    let versions = page.store.catalog_versions().await?;
    let id = q.version.or(versions.first().map(|v| v.id)).ok_or(AppError::NotFound)?;
    let file = page.store.catalog_document(id).await?.ok_or(AppError::NotFound)?;
    let p = page.ctx().await?;
    let compared = match q.compare {
        Some(other) => {
            let old = page.store.catalog_document(other).await?.ok_or(AppError::NotFound)?;
            compared(&page, old, file.clone(), Some((other, id))).await?
        }
        None => Arc::default(),
    };
    html(CatalogPage {
        title: file.catalog.title.clone(),
        version: id,
        versions: versions
            .iter()
            .map(|v| (v.id, format!("{} {} ({})", v.id, v.label, jst(Some(v.imported_at)))))
            .collect(),
        rows: file.requirements.iter().map(|r| req_row(&p.t, r)).collect(),
        can_import: who.user.can(mamori_core::identity::Permission::ManageCatalog),
        p,
        compared,
    })
}

// ----- import a new version (the security office) ------------------------------------------

#[derive(Template)]
#[template(path = "catalog_import.html")]
struct ImportPage<'a> {
    p: PageCtx<'a>,
    /// Row (0: the file), field, message.
    errors: Vec<(u32, String, String)>,
    /// Read without a problem and waiting for confirmation.
    preview: Option<ImportPreview>,
    max_mb: usize,
}

/// A confirmation: the mark of the preview its page showed.
#[derive(serde::Deserialize)]
pub struct ApplyForm {
    #[serde(default)]
    mark: String,
}

struct ImportPreview {
    /// The mark its confirmation carries.
    mark: String,
    title: String,
    label: String,
    requirements: usize,
    /// The version it is compared with, if any.
    against: Option<i64>,
    compared: Arc<Compared>,
}

async fn import_page(page: &Page, errors: Vec<RowError>, preview: Option<ImportPreview>) -> Reply {
    let p = page.ctx().await?;
    let errors = errors.into_iter().map(|e| (e.row, field_label(&p.t, e.field), e.message)).collect();
    html(ImportPage { p, errors, preview, max_mb: catalog_op::MAX_FILE / (1024 * 1024) })
}

pub async fn import_form(page: Page, who: Acting) -> Reply {
    catalog_op::newest(&who.op(&page)).await?;
    import_page(&page, Vec::new(), None).await
}

/// Reads an uploaded catalog (YAML or Excel) with the same checks as the
/// console's import and shows what it would bring; the catalog waits in the
/// store for the officer's confirmation. A file with any problem is
/// named row by row and nothing waits.
pub async fn upload_catalog(page: Page, who: Acting, request: axum::extract::Request) -> Reply {
    let op = who.op(&page);
    // The permission is decided before the body is read.
    let newest = catalog_op::newest(&op).await?;
    let mut multipart = match crate::csrf::verified_multipart(&page, request, catalog_op::MAX_FILE + 64 * 1024).await {
        Ok(m) => m,
        Err(refused) => return Ok(refused),
    };
    let t = page.t();
    let (mut bytes, mut too_large) = (Vec::new(), false);
    let (mut id, mut title) = (String::new(), String::new());
    let read = async {
        use crate::handlers::{next_field, read_capped, Cut};
        while let Some(mut field) = next_field(&mut multipart).await? {
            match field.name() {
                Some("file") => bytes = read_capped(&mut field, catalog_op::MAX_FILE).await?,
                Some(name @ ("catalog_id" | "title")) => {
                    let name = name.to_owned();
                    // A value past 400 bytes is dropped, not the form.
                    let v = match read_capped(&mut field, 400).await {
                        Ok(v) => String::from_utf8_lossy(&v).trim().to_owned(),
                        Err(Cut::TooLarge) => String::new(),
                        Err(broken) => return Err(broken),
                    };
                    if name == "title" {
                        title = v;
                    } else {
                        id = v;
                    }
                }
                _ => {}
            }
        }
        Ok::<(), Cut>(())
    };
    if let Err(cut) = read.await {
        too_large = cut.too_large()?;
    }
    catalog_op::drop_preview(&who.op(&page)).await?;
    let file_error = |key: &str| RowError { row: 0, field: "ファイル", message: t.get(key) };
    if too_large {
        return import_page(&page, vec![file_error("catalog-import-too-large")], None).await;
    }
    if bytes.is_empty() {
        return import_page(&page, vec![file_error("catalog-import-need-file")], None).await;
    }
    let id = if id.is_empty() { "imported".to_owned() } else { id };
    let title = if title.is_empty() { t.get("catalog-import-default-title") } else { title };
    // Read off the request workers: a workbook of 10 MB, or YAML as long.
    let file = match mamori_app::off_the_workers(move || catalog_op::read(&bytes, &id, &title)).await? {
        Ok(f) => f,
        Err(errors) => return import_page(&page, errors, None).await,
    };
    let file = Arc::new(file);
    let compared = match &newest {
        Some((_, old)) => compared(&page, old.clone(), file.clone(), None).await?,
        None => Arc::default(),
    };
    let mark = catalog_op::keep_preview(&who.op(&page), &file).await?;
    let preview = ImportPreview {
        mark,
        title: file.catalog.title.clone(),
        label: file.catalog.version.clone(),
        requirements: file.requirements.len(),
        against: newest.map(|(v, _)| v),
        compared,
    };
    import_page(&page, Vec::new(), Some(preview)).await
}

/// Imports the previewed catalog as a new version.
pub async fn apply_catalog(page: Page, who: Acting, axum::Form(form): axum::Form<ApplyForm>) -> Reply {
    let t = page.t();
    let taken = match catalog_op::take_preview(&who.op(&page), &form.mark).await {
        Err(Refused::Stale) => {
            let replaced = RowError { row: 0, field: "ファイル", message: t.get("catalog-import-replaced") };
            return import_page(&page, vec![replaced], None).await;
        }
        taken => taken?,
    };
    let Some(file) = taken else {
        let expired = RowError { row: 0, field: "ファイル", message: t.get("catalog-import-expired") };
        return import_page(&page, vec![expired], None).await;
    };
    match catalog_op::import(&who.op(&page), &file).await? {
        ImportOutcome::Imported(v) => done(&page, "catalog-imported", &format!("/catalog?version={v}")).await,
        ImportOutcome::AlreadyImported(v) => done(&page, "catalog-import-same", &format!("/catalog?version={v}")).await,
    }
}
