//! Evidence files: uploaded streamed and checked, downloaded by those who
//! may see the system.

use super::item_view::item_page;
use super::{refused_message, system_for};
use crate::handlers::load;
use crate::handlers::Meta;

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::forms::FormErrors;
use crate::page::Page;
use crate::session;
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_core::checklist::{self};
use mamori_store::StoreError;

// ----- evidence -------------------------------------------------------------------------------

/// The name as data: the last path component, no control characters, at most 200 characters.
fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last.chars().filter(|c| !c.is_control()).take(200).collect();
    if cleaned.trim().is_empty() {
        "file".to_owned()
    } else {
        cleaned.trim().to_owned()
    }
}

/// Uploads one evidence file to an answer (vendor, while answering).
pub async fn upload_evidence(
    State(state): State<AppState>,
    page: Page,
    meta: Meta,
    user: CurrentUser,
    Path((id, number)): Path<(i64, u32)>,
    request: axum::extract::Request,
) -> Result<Response, AppError> {
    // Who may see the system is decided before the body is even parsed.
    let s = system_for(&state, &user, id).await?;
    let l = load(&state, &s).await?;
    if !l.applicable.contains(&number) {
        return Err(AppError::NotFound);
    }
    let t = state.i18n.tr(page.lang);
    let max = state.config.evidence.max_bytes;
    // Streamed: the CSRF token first, then the file up to the limit; past
    // it, nothing more is read.
    let mut multipart = match crate::csrf::verified_multipart(&state, request, max + 1024 * 1024).await {
        Ok(m) => m,
        Err(refused) => return Ok(refused),
    };
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut expires = String::new();
    let mut too_large = false;
    while let Ok(Some(mut field)) = multipart.next_field().await {
        match field.name() {
            Some("file") if file.is_none() => {
                let name = clean_name(field.file_name().unwrap_or(""));
                let mut bytes = Vec::new();
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) if bytes.len() + chunk.len() <= max => bytes.extend_from_slice(&chunk),
                        Ok(None) => break,
                        Ok(Some(_)) | Err(_) => {
                            too_large = true;
                            break;
                        }
                    }
                }
                file = Some((name, bytes));
                if too_large {
                    break;
                }
            }
            Some("expires_on") => {
                expires = field.text().await.unwrap_or_default().chars().take(32).collect();
            }
            _ => {}
        }
    }
    let mut errors = FormErrors::new();
    let ctx = meta.ctx(state.clock.now(), user.actor());
    let (name, bytes) = file.unwrap_or_default();
    let expires = expires.trim().to_owned();
    if checklist::can_answer(s.status).is_err() {
        errors.add("workflow", t.get("workflow-not-now"));
    } else if too_large {
        errors.add("file", t.with("evidence-too-large", &[("mb", &(max / (1024 * 1024)).to_string())]));
        state.store.record_rejected_evidence(&ctx, s.id, number, &name, "too_large").await?;
    } else if bytes.is_empty() {
        errors.add("file", t.get("evidence-need-file"));
    } else if !expires.is_empty()
        && time::Date::parse(&expires, time::macros::format_description!("[year]-[month]-[day]")).is_err()
    {
        errors.add("expires_on", t.get("answer-bad-date"));
    } else {
        match mamori_files::evidence::admit(&bytes, &name) {
            Err(refusal) => {
                errors.add("file", t.get(refusal.message_key()));
                state.store.record_rejected_evidence(&ctx, s.id, number, &name, refusal.reason()).await?;
            }
            Ok(kind) => {
                let verdict = match &state.config.evidence.clamd {
                    Some(clamd) => mamori_files::evidence::scan(clamd, &bytes).await,
                    None => Ok(mamori_files::evidence::ScanResult::Clean),
                };
                match verdict {
                    Err(e) => {
                        tracing::error!("clamd: {e}");
                        errors.add("file", t.get("evidence-scan-failed"));
                    }
                    Ok(mamori_files::evidence::ScanResult::Infected(sig)) => {
                        errors.add("file", t.get("evidence-infected"));
                        state
                            .store
                            .record_rejected_evidence(&ctx, s.id, number, &name, &format!("infected: {sig}"))
                            .await?;
                    }
                    Ok(mamori_files::evidence::ScanResult::Clean) => {
                        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
                        let new = mamori_store::evidence::NewEvidence {
                            number,
                            original_name: &name,
                            content_type: kind.content_type(),
                            sha256: &sha,
                            expires_on: Some(expires.as_str()).filter(|e| !e.is_empty()),
                            content: &bytes,
                        };
                        match state.store.add_evidence(&ctx, s.id, &new).await {
                            Ok(_) => {
                                session::flash(&page.session, "evidence-saved").await?;
                                return Ok(Redirect::to(&format!("/systems/{id}/items/{number}")).into_response());
                            }
                            Err(StoreError::Missing) => return Err(AppError::NotFound),
                            Err(e) => errors.add("workflow", refused_message(&t, &e).ok_or(e)?),
                        }
                    }
                }
            }
        }
    }
    item_page(&state, &page, &user, s, number, None, errors).await
}

/// Sends a file to those who may see its system, always as an attachment,
/// typed and named by its content: a name whose extension does not fit
/// the content gets the content's extension appended.
pub async fn download_evidence(
    State(state): State<AppState>,
    meta: Meta,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let e = state.store.evidence(id).await?.ok_or(AppError::NotFound)?;
    system_for(&state, &user, e.system_id).await?;
    let bytes = state.store.download_evidence(&meta.ctx(state.clock.now(), user.actor()), &e).await?;
    let kind = mamori_files::evidence::sniff(&bytes, &e.original_name);
    let name = mamori_files::evidence::download_name(&e.original_name, kind);
    let content_type = kind.map_or("application/octet-stream", |k| k.content_type());
    Ok(crate::download::file(content_type, &name, bytes))
}
