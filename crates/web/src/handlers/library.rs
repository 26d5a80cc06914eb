//! The organisation's library of documents: the list and its upload form,
//! one document with its revisions and where it is attached, a new
//! revision, removal, and downloads.

use crate::forms::FormErrors;
use crate::handlers::{done, html, jst, rejected_message, Acting, Reply};
use crate::page::{Page, PageCtx};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use mamori_app::library::{self as library_op, LibraryFile};
use mamori_app::Refused;
use mamori_store::library::{DocLink, Document};

pub struct DocRow {
    id: i64,
    title: String,
    revision: i64,
    file: String,
    expires: String,
    /// The newest revision's id, for download.
    download: i64,
}

fn doc_row(d: &Document) -> DocRow {
    let n = d.newest();
    DocRow {
        id: d.id,
        title: d.title.clone(),
        revision: n.revision,
        file: n.original_name.clone(),
        expires: n.expires_on.clone().unwrap_or_default(),
        download: n.id,
    }
}

#[derive(Template)]
#[template(path = "library.html")]
struct LibraryPage<'a> {
    p: PageCtx<'a>,
    docs: Vec<DocRow>,
    errors: FormErrors,
    title: String,
    max_mb: usize,
    /// What the organisation stores against its quota, in words.
    usage: String,
}

async fn library_page(page: &Page, who: &Acting, errors: FormErrors, title: String) -> Reply {
    let docs = library_op::documents(&who.op(page)).await?;
    let (used, quota) = library_op::storage(&who.op(page)).await?;
    let p = page.ctx().await?;
    let mb = |b: u64| format!("{:.1}", b as f64 / (1024.0 * 1024.0));
    let usage = match quota {
        Some(q) => p.t.with("library-usage", &[("used", &mb(used)), ("quota", &mb(q))]),
        None => String::new(),
    };
    html(LibraryPage {
        p,
        docs: docs.iter().map(doc_row).collect(),
        errors,
        title,
        max_mb: page.config.evidence.max_bytes / (1024 * 1024),
        usage,
    })
}

pub async fn library(page: Page, who: Acting) -> Reply {
    library_page(&page, &who, FormErrors::new(), String::new()).await
}

/// A file form's fields: the file (name, bytes, cut off?), title, expiry.
struct FileForm {
    name: String,
    bytes: Vec<u8>,
    too_large: bool,
    title: String,
    expires_on: String,
    /// The form's turn, kept while the file is worked on.
    _turn: Option<crate::uploads::UploadTurn>,
}

async fn read_file_form(page: &Page, request: axum::extract::Request) -> Result<FileForm, axum::response::Response> {
    let max = page.config.evidence.max_bytes;
    let mut multipart = crate::csrf::verified_multipart(page, request, max + 1024 * 1024).await?;
    let mut f = FileForm {
        name: String::new(),
        bytes: Vec::new(),
        too_large: false,
        title: String::new(),
        expires_on: String::new(),
        _turn: None,
    };
    let read = async {
        use crate::handlers::{next_field, read_capped, short_text};
        while let Some(mut field) = next_field(&mut multipart).await? {
            match field.name() {
                Some("file") if f.bytes.is_empty() => {
                    f.name = crate::handlers::clean_name(field.file_name().unwrap_or(""));
                    f.bytes = read_capped(&mut field, max).await?;
                }
                Some("title") => f.title = short_text(field, 400).await?,
                Some("expires_on") => f.expires_on = short_text(field, 32).await?,
                _ => {}
            }
        }
        Ok::<(), crate::handlers::Cut>(())
    };
    if let Err(cut) = read.await {
        f.too_large = cut.too_large().map_err(axum::response::IntoResponse::into_response)?;
    }
    f._turn = Some(multipart.into_turn());
    Ok(f)
}

/// Adds a document to the organisation's library.
pub async fn upload_document(page: Page, who: Acting, request: axum::extract::Request) -> Reply {
    // The permission and the organisation are decided before the body is read.
    library_op::documents(&who.op(&page)).await?;
    let f = match read_file_form(&page, request).await {
        Ok(f) => f,
        Err(refused) => return Ok(refused),
    };
    let t = page.t();
    let mut errors = FormErrors::new();
    let file = LibraryFile { name: &f.name, bytes: &f.bytes, too_large: f.too_large, expires_on: &f.expires_on };
    match library_op::upload(&who.op(&page), &f.title, &file, crate::handlers::scanner(&page)).await {
        Ok(Ok(id)) => return done(&page, "library-saved", &format!("/library/{id}")).await,
        Ok(Err(rejected)) => {
            let (field, message) = rejected_message(&t, rejected, &f.name, page.config.evidence.max_bytes);
            errors.add(field, message);
        }
        Err(Refused::Invalid(_)) => errors.add("title", t.get("library-need-title")),
        Err(e) => return Err(e.into()),
    }
    library_page(&page, &who, errors, f.title).await
}

pub struct RevisionRow {
    id: i64,
    revision: i64,
    name: String,
    size: String,
    sha256: String,
    uploaded: String,
    expires: String,
}

pub struct LinkRow {
    system_id: i64,
    system: String,
    round: i64,
    number: u32,
    shows: i64,
    pinned: bool,
}

#[derive(Template)]
#[template(path = "document.html")]
struct DocumentPage<'a> {
    p: PageCtx<'a>,
    d: DocRow,
    revisions: Vec<RevisionRow>,
    links: Vec<LinkRow>,
    errors: FormErrors,
}

async fn document_page(page: &Page, who: &Acting, id: i64, errors: FormErrors) -> Reply {
    let (d, links): (Document, Vec<DocLink>) = library_op::document(&who.op(page), id).await?;
    let systems = page.store.systems(who.user.scope(), &Default::default()).await?;
    let p = page.ctx().await?;
    let revisions = d
        .revisions
        .iter()
        .rev()
        .map(|r| RevisionRow {
            id: r.id,
            revision: r.revision,
            name: r.original_name.clone(),
            size: format!("{:.1} KB", r.size as f64 / 1024.0),
            sha256: r.sha256.clone(),
            uploaded: format!("{} {}", jst(Some(r.uploaded_at)), r.uploaded_by),
            expires: r.expires_on.clone().unwrap_or_default(),
        })
        .collect();
    let links = links
        .iter()
        .map(|l| LinkRow {
            system_id: l.system_id,
            system: systems.iter().find(|s| s.id == l.system_id).map(|s| s.input.name.clone()).unwrap_or_default(),
            round: l.round,
            number: l.number,
            shows: l.shows.revision,
            pinned: l.pinned,
        })
        .collect();
    html(DocumentPage { p, d: doc_row(&d), revisions, links, errors })
}

pub async fn document(page: Page, who: Acting, Path(id): Path<i64>) -> Reply {
    document_page(&page, &who, id, FormErrors::new()).await
}

/// A new revision of a document.
pub async fn revise_document(page: Page, who: Acting, Path(id): Path<i64>, request: axum::extract::Request) -> Reply {
    library_op::document(&who.op(&page), id).await?;
    let f = match read_file_form(&page, request).await {
        Ok(f) => f,
        Err(refused) => return Ok(refused),
    };
    let t = page.t();
    let mut errors = FormErrors::new();
    let file = LibraryFile { name: &f.name, bytes: &f.bytes, too_large: f.too_large, expires_on: &f.expires_on };
    match library_op::revise(&who.op(&page), id, &file, crate::handlers::scanner(&page)).await? {
        Ok(_) => return done(&page, "library-revised", &format!("/library/{id}")).await,
        Err(rejected) => {
            let (field, message) = rejected_message(&t, rejected, &f.name, page.config.evidence.max_bytes);
            errors.add(field, message);
        }
    }
    document_page(&page, &who, id, errors).await
}

/// Removes a document from the library (refused while it stands behind
/// an answer under review or approved).
pub async fn delete_document(page: Page, who: Acting, Path(id): Path<i64>) -> Reply {
    match library_op::delete(&who.op(&page), id).await {
        Ok(()) => done(&page, "library-deleted", "/library").await,
        Err(Refused::Workflow(_)) => {
            let mut errors = FormErrors::new();
            errors.add("delete", page.t().get("library-delete-refused"));
            document_page(&page, &who, id, errors).await
        }
        Err(e) => Err(e.into()),
    }
}

/// A revision, to its organisation and to those who may see a system it is
/// attached to; always as an attachment, typed and named by its content.
pub async fn download_document(State(state): State<AppState>, who: Acting, Path(id): Path<i64>) -> Reply {
    let sending = crate::sending::Sending::take(who.user.account().id, who.user.account().organisation_id).await?;
    let d = library_op::download(&who.op(&state), id).await?;
    Ok(sending.file(d.content_type, &d.name, d.bytes))
}
