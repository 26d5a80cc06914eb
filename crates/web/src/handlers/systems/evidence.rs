//! Evidence files: uploaded streamed and checked, downloaded by those who
//! may see the system.

use super::item_view::item_page;
use super::{applicable_item, refused_message};
use crate::handlers::Reply;
use crate::handlers::{done, next_field, read_capped, short_text, Acting, Cut};
use mamori_app::evidence::{self as evidence_op, Upload};
use mamori_app::Refused;

use crate::forms::FormErrors;
use crate::page::Page;
use crate::AppState;
use axum::extract::{Path, State};

/// Removes one file of an answer (vendor, while the answer may change):
/// back to the item, with a message; refused by the workflow, the item
/// again with the reason.
pub async fn remove_evidence(page: Page, who: Acting, Path((id, number, file)): Path<(i64, u32, i64)>) -> Reply {
    let (s, _) = applicable_item(&page, &who, id, number).await?;
    let belongs = page.store.evidence(file).await?.is_some_and(|e| e.system_id == s.id && e.number == number);
    if !belongs || !super::Answerers::of(&page, &s).await?.is_mine(&who.user, number) {
        return Err(crate::error::AppError::NotFound);
    }
    match evidence_op::remove(&who.op(&page), s.id, file).await {
        Ok(()) => done(&page, "evidence-removed", &format!("/systems/{id}/items/{number}")).await,
        Err(e) => {
            let t = page.t();
            let mut errors = FormErrors::new();
            errors.add("workflow", refused_message(&t, &e).ok_or(e)?);
            item_page(&page, &who.user, s, number, None, errors).await
        }
    }
}

// ----- evidence -------------------------------------------------------------------------------

/// Uploads one evidence file to an answer (vendor, while answering).
pub async fn upload_evidence(
    page: Page,
    who: Acting,
    Path((id, number)): Path<(i64, u32)>,
    request: axum::extract::Request,
) -> Reply {
    // Who may see the system, and whether the item is theirs to answer, is
    // decided before the body is even parsed.
    let (s, _) = applicable_item(&page, &who, id, number).await?;
    if !super::Answerers::of(&page, &s).await?.is_mine(&who.user, number) {
        return Err(crate::error::AppError::NotFound);
    }
    let t = page.t();
    let max = page.config.evidence.max_bytes;
    // Streamed: the CSRF token first, then the file up to the limit; past
    // it, nothing more is read.
    let mut multipart = match crate::csrf::verified_multipart(&page, request, max + 1024 * 1024).await {
        Ok(m) => m,
        Err(refused) => return Ok(refused),
    };
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut expires = String::new();
    let mut replaces: Option<String> = None;
    let mut too_large = false;
    let read = async {
        while let Some(mut field) = next_field(&mut multipart).await? {
            match field.name() {
                Some("file") if file.is_none() => {
                    let name = crate::handlers::clean_name(field.file_name().unwrap_or(""));
                    match read_capped(&mut field, max).await {
                        Ok(bytes) => file = Some((name, bytes)),
                        Err(cut) => {
                            file = Some((name, Vec::new()));
                            return Err(cut);
                        }
                    }
                }
                Some("expires_on") => expires = short_text(field, 32).await?,
                Some("replaces") => replaces = Some(short_text(field, 32).await?),
                _ => {}
            }
        }
        Ok::<(), Cut>(())
    };
    if let Err(cut) = read.await {
        too_large = cut.too_large()?;
    }
    let (name, bytes) = file.unwrap_or_default();
    // A file to replace is one of this answer's, by its id; anything else
    // names no file.
    let replaces = match replaces.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(v) => Some(v.parse::<i64>().map_err(|_| crate::error::AppError::NotFound)?),
    };
    let upload = Upload { number, name: &name, bytes: &bytes, too_large, expires_on: &expires, replaces };
    let mut errors = FormErrors::new();
    match evidence_op::upload(&who.op(&page), s.id, &upload, crate::handlers::scanner(&page)).await {
        Ok(Ok(_)) => return done(&page, "evidence-saved", &format!("/systems/{id}/items/{number}")).await,
        Ok(Err(rejected)) => {
            let (field, message) = crate::handlers::rejected_message(&t, rejected, &name, max);
            errors.add(field, message);
        }
        Err(e) => errors.add("workflow", refused_message(&t, &e).ok_or(e)?),
    }
    item_page(&page, &who.user, s, number, None, errors).await
}

/// Sends a file to those who may see its system, always as an attachment,
/// typed and named by its content: a name whose extension does not fit
/// the content gets the content's extension appended.
pub async fn download_evidence(State(state): State<AppState>, who: Acting, Path(id): Path<i64>) -> Reply {
    let sending = crate::sending::Sending::take(who.user.account().id, who.user.account().organisation_id).await?;
    let d = evidence_op::download(&who.op(&state), id).await?;
    Ok(sending.file(d.content_type, &d.name, d.bytes))
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct LinkForm {
    document: String,
    pin: Option<String>,
}

/// Attaches a document of the organisation's library to an item it answers.
pub async fn link_document(
    page: Page,
    who: Acting,
    Path((id, number)): Path<(i64, u32)>,
    axum::Form(form): axum::Form<LinkForm>,
) -> Reply {
    let (s, _) = applicable_item(&page, &who, id, number).await?;
    if !super::Answerers::of(&page, &s).await?.is_mine(&who.user, number) {
        return Err(crate::error::AppError::NotFound);
    }
    let t = page.t();
    let mut errors = FormErrors::new();
    match form.document.trim().parse::<i64>() {
        Err(_) => errors.add("document", t.get("library-need-document")),
        Ok(doc) => match mamori_app::library::link(&who.op(&page), doc, s.id, number, form.pin.is_some()).await {
            Ok(()) => return done(&page, "library-linked", &format!("/systems/{id}/items/{number}")).await,
            Err(Refused::Taken) => errors.add("document", t.get("library-link-taken")),
            Err(Refused::Invalid("too_many_files")) => {
                let n = mamori_store::evidence::MAX_FILES_PER_ITEM.to_string();
                errors.add("document", t.with("evidence-too-many", &[("n", &n)]));
            }
            Err(e) => errors.add("workflow", refused_message(&t, &e).ok_or(e)?),
        },
    }
    item_page(&page, &who.user, s, number, None, errors).await
}

/// Detaches a library document from an item (audited; a change of the answer).
pub async fn unlink_document(page: Page, who: Acting, Path((id, number, link)): Path<(i64, u32, i64)>) -> Reply {
    let (s, _) = applicable_item(&page, &who, id, number).await?;
    if !super::Answerers::of(&page, &s).await?.is_mine(&who.user, number) {
        return Err(crate::error::AppError::NotFound);
    }
    match mamori_app::library::unlink(&who.op(&page), s.id, number, link).await {
        Ok(()) => done(&page, "library-unlinked", &format!("/systems/{id}/items/{number}")).await,
        Err(e) => {
            let t = page.t();
            let mut errors = FormErrors::new();
            errors.add("workflow", refused_message(&t, &e).ok_or(e)?);
            item_page(&page, &who.user, s, number, None, errors).await
        }
    }
}
