//! Vendors answer in Excel: download the workbook of their system, upload
//! it filled in, see what it changes, confirm.

use super::system_for;
use crate::download;
use crate::error::AppError;
use crate::handlers::{done, html, Acting, Reply};
use crate::page::{Page, PageCtx};
use askama::Template;
use axum::extract::Path;
use mamori_app::workbook::{self, Change, UploadRefused};
use mamori_app::Refused;
use mamori_core::report::review_word;
use mamori_files::answers::CellError;
use mamori_files::report::{self as sheet, Copy};
use mamori_store::systems::MadeFor;

/// The largest workbook read; a filled-in checklist is far smaller.
pub const MAX_UPLOAD: usize = 5 * 1024 * 1024;

/// The workbook to fill in: answer cells unlocked, a drop-down for 対応状況.
pub async fn answers_xlsx(page: Page, who: Acting, Path(id): Path<i64>) -> Reply {
    let op = who.op(&page);
    let report = workbook::answer_workbook(&op, id).await?;
    let name = format!("answers-{}-{}.xlsx", report.system.id, report.system.name);
    // Assembled off the request workers, as the filled checklist is.
    let made = mamori_app::off_the_workers(move || sheet::xlsx(&report, Copy::ForAnswers)).await?;
    let bytes = made.map_err(|e| AppError::Internal(format!("xlsx: {e}")))?;
    mamori_app::reports::record_export(&op, id, "xlsx-answers").await?;
    Ok(download::xlsx(&name, bytes))
}

/// One change as the preview shows it.
struct ChangeRow {
    number: u32,
    middle: String,
    /// Field, before, after.
    fields: Vec<(&'static str, String, String)>,
    was: String,
}

#[derive(Template)]
#[template(path = "answers_upload.html")]
struct UploadPage<'a> {
    p: PageCtx<'a>,
    id: i64,
    system: String,
    /// Row (0: the file), column, message.
    errors: Vec<(u32, &'static str, String)>,
    changes: Vec<ChangeRow>,
    /// Uploaded and read, with nothing to change.
    unchanged: bool,
    max_mb: usize,
    /// The mark of the preview shown, which its confirmation carries.
    mark: String,
}

/// A confirmation: the mark of the preview its page showed.
#[derive(serde::Deserialize)]
pub struct ApplyForm {
    #[serde(default)]
    mark: String,
}

async fn upload_page(
    page: &Page,
    id: i64,
    errors: Vec<CellError>,
    (changes, mark): (&[Change], &str),
    read: bool,
) -> Reply {
    let s = page.store.system(id).await?.ok_or(AppError::NotFound)?;
    let p = page.ctx().await?;
    let rows = changes
        .iter()
        .map(|c| ChangeRow {
            number: c.number,
            middle: c.middle.clone(),
            fields: workbook::differences(c),
            was: c.was.map(|r| review_word(r).to_owned()).unwrap_or_default(),
        })
        .collect();
    html(UploadPage {
        p,
        id,
        system: s.input.name,
        errors: errors.into_iter().map(|e| (e.row, e.column, e.message)).collect(),
        unchanged: read && changes.is_empty(),
        changes: rows,
        max_mb: MAX_UPLOAD / (1024 * 1024),
        mark: mark.to_owned(),
    })
}

fn refused_cells(t: &crate::i18n::Tr, e: Refused) -> Result<Vec<CellError>, AppError> {
    let key = match e {
        Refused::Workflow(_) => "answers-upload-not-now",
        Refused::Stale => "answers-upload-stale",
        other => return Err(other.into()),
    };
    Ok(vec![CellError::file(t.get(key))])
}

/// Reads an uploaded workbook and shows what it would change; the changes
/// wait in the store for the person's confirmation, one workbook an
/// account.
pub async fn upload_answers(page: Page, who: Acting, Path(id): Path<i64>, request: axum::extract::Request) -> Reply {
    // Who may see the system is decided before the body is even parsed.
    system_for(&page, &who, id).await?;
    let t = page.t();
    let mut multipart = match crate::csrf::verified_multipart(&page, request, MAX_UPLOAD + 64 * 1024).await {
        Ok(m) => m,
        Err(refused) => return Ok(refused),
    };
    let (mut bytes, mut too_large) = (Vec::new(), false);
    let read = async {
        while let Some(mut field) = crate::handlers::next_field(&mut multipart).await? {
            if field.name() == Some("file") {
                bytes = crate::handlers::read_capped(&mut field, MAX_UPLOAD).await?;
                break;
            }
        }
        Ok::<(), crate::handlers::Cut>(())
    };
    if let Err(cut) = read.await {
        too_large = cut.too_large()?;
    }
    let file_error =
        |key: &str| vec![CellError::file(t.with(key, &[("mb", &(MAX_UPLOAD / (1024 * 1024)).to_string())]))];
    let errors = if too_large {
        file_error("answers-upload-too-large")
    } else if bytes.is_empty() {
        file_error("answers-upload-need-file")
    } else {
        let read = mamori_app::off_the_workers(move || mamori_files::answers::read(&bytes)).await?;
        match read {
            Err(file_errors) => file_errors,
            Ok(upload) => match workbook::preview(&who.op(&page), id, &upload).await {
                Ok(changes) => {
                    let made_for = MadeFor { round: upload.round, catalog_version: upload.catalog_version };
                    let mark = workbook::keep_preview(&who.op(&page), id, made_for, &changes).await?;
                    return upload_page(&page, id, Vec::new(), (&changes, &mark), true).await;
                }
                Err(UploadRefused::Cells(errors)) => errors,
                Err(UploadRefused::Refused(e)) => refused_cells(&t, e)?,
            },
        }
    };
    workbook::drop_preview(&who.op(&page)).await?;
    upload_page(&page, id, errors, (&[], ""), false).await
}

/// Applies the previewed upload of this system, all or none.
pub async fn apply_answers(
    page: Page,
    who: Acting,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<ApplyForm>,
) -> Reply {
    system_for(&page, &who, id).await?;
    let t = page.t();
    let taken = match workbook::take_preview(&who.op(&page), id, &form.mark).await {
        Err(Refused::Stale) => {
            let replaced = vec![CellError::file(t.get("answers-upload-replaced"))];
            return upload_page(&page, id, replaced, (&[], ""), false).await;
        }
        taken => taken?,
    };
    let Some((made_for, changes)) = taken else {
        return upload_page(&page, id, vec![CellError::file(t.get("answers-upload-expired"))], (&[], ""), false).await;
    };
    match workbook::apply(&who.op(&page), id, made_for, &changes).await {
        Ok(()) => done(&page, "answers-upload-applied", &format!("/systems/{id}")).await,
        Err(e) => upload_page(&page, id, refused_cells(&t, e)?, (&[], ""), false).await,
    }
}
