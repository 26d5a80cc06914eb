//! Each organisation's library of documents (an ISMS certificate, the
//! contact chart, a diagnosis report): uploaded once by the vendor or the
//! department that answers, in revisions, and linked to any number of the
//! items it answers, in any of its systems. Those who may see a system a
//! document is linked to may read it there.

use crate::checklist::{answering_org, system};
use crate::evidence::{admit, Download, Rejected, Scanner};
use crate::{Op, Refused};
use mamori_files::evidence;
use mamori_store::library::{DocLink, Document, NewDocFile};

/// A file offered to the library.
pub struct LibraryFile<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
    /// Cut off at the size limit while it was read.
    pub too_large: bool,
    /// `YYYY-MM-DD`, or empty.
    pub expires_on: &'a str,
}

/// The longest title of a document.
pub const MAX_TITLE: usize = 200;

/// The library of the person's organisation.
pub async fn documents(op: &Op<'_>) -> Result<Vec<Document>, Refused> {
    let org = answering_org(op)?;
    Ok(op.store.documents(org).await?)
}

/// One document of the person's organisation, with its links in systems
/// the person sees (a system the organisation was taken off is no longer
/// its to watch: whether the next vendor keeps the link or not).
pub async fn document(op: &Op<'_>, id: i64) -> Result<(Document, Vec<DocLink>), Refused> {
    let org = answering_org(op)?;
    let d = op.store.document(id).await?.filter(|d| d.organisation_id == org && !d.deleted).ok_or(Refused::NotFound)?;
    let seen: std::collections::HashSet<i64> =
        op.store.systems(op.who.scope(), &Default::default()).await?.iter().map(|s| s.id).collect();
    let links = op.store.links_of_document(id).await?.into_iter().filter(|l| seen.contains(&l.system_id)).collect();
    Ok((d, links))
}

/// Checks a file as evidence is checked; a refusal with a reason is audited.
async fn checked<'a>(
    op: &Op<'_>,
    org: i64,
    file: &LibraryFile<'a>,
    clamd: Option<Scanner<'_>>,
) -> Result<Result<crate::evidence::Admitted, Rejected>, Refused> {
    match admit(file.name, file.bytes, file.too_large, file.expires_on, clamd).await {
        Ok(a) => Ok(Ok(a)),
        Err((rejected, Some(why))) => {
            op.store.record_rejected_document(&op.ctx(), org, file.name, &why).await?;
            Ok(Err(rejected))
        }
        Err((rejected, None)) => Ok(Err(rejected)),
    }
}

/// An admitted file as the library stores it.
fn doc_file<'a>(file: &LibraryFile<'a>, a: &'a crate::evidence::Admitted) -> NewDocFile<'a> {
    NewDocFile {
        original_name: file.name,
        content_type: a.kind.content_type(),
        sha256: &a.sha256,
        expires_on: a.expires_on.as_deref(),
        content: file.bytes,
    }
}

/// Adds a document to the person's library; returns its id.
pub async fn upload(
    op: &Op<'_>,
    title: &str,
    file: &LibraryFile<'_>,
    clamd: Option<Scanner<'_>>,
) -> Result<Result<i64, Rejected>, Refused> {
    let org = answering_org(op)?;
    let title = title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE || title.chars().any(char::is_control) {
        return Err(Refused::Invalid("title"));
    }
    let a = match checked(op, org, file, clamd).await? {
        Ok(a) => a,
        Err(r) => return Ok(Err(r)),
    };
    let added = op.store.add_document(&op.ctx(), org, title, &doc_file(file, &a)).await;
    stored(op, org, file, added).await
}

/// What came of storing a file: refused over the quota or the limit (and
/// recorded), as its upload's answer.
async fn stored(
    op: &Op<'_>,
    org: i64,
    file: &LibraryFile<'_>,
    r: Result<i64, mamori_store::StoreError>,
) -> Result<Result<i64, Rejected>, Refused> {
    match r {
        Ok(id) => Ok(Ok(id)),
        Err(e) => {
            let (rejected, why) = Rejected::of_store(e)?;
            op.store.record_rejected_document(&op.ctx(), org, file.name, why).await?;
            Ok(Err(rejected))
        }
    }
}

/// A new revision of one of the person's documents; returns its number.
pub async fn revise(
    op: &Op<'_>,
    id: i64,
    file: &LibraryFile<'_>,
    clamd: Option<Scanner<'_>>,
) -> Result<Result<i64, Rejected>, Refused> {
    let org = answering_org(op)?;
    document(op, id).await?;
    let a = match checked(op, org, file, clamd).await? {
        Ok(a) => a,
        Err(r) => return Ok(Err(r)),
    };
    let added = op.store.add_document_revision(&op.ctx(), id, org, &doc_file(file, &a)).await;
    stored(op, org, file, added).await
}

/// Links one of the person's documents to an item they answer.
pub async fn link(op: &Op<'_>, id: i64, system_id: i64, number: u32, pin: bool) -> Result<(), Refused> {
    let org = answering_org(op)?;
    system(op, system_id).await?;
    match op.store.link_document(&op.ctx(), id, org, system_id, number, pin).await {
        Err(mamori_store::StoreError::Taken) => Err(Refused::Taken),
        Err(mamori_store::StoreError::Limit(_)) => Err(Refused::Invalid("too_many_files")),
        other => Ok(other?),
    }
}

/// What the person's organisation stores, evidence and library together,
/// and its quota (`None`: no quota), in bytes.
pub async fn storage(op: &Op<'_>) -> Result<(u64, Option<u64>), Refused> {
    let org = answering_org(op)?;
    Ok((op.store.stored_by(org).await?, op.store.organisation_quota()))
}

/// Removes a link from an item the person answers.
pub async fn unlink(op: &Op<'_>, system_id: i64, number: u32, link_id: i64) -> Result<(), Refused> {
    let org = answering_org(op)?;
    system(op, system_id).await?;
    Ok(op.store.unlink_document(&op.ctx(), system_id, number, link_id, Some(org)).await?)
}

/// Removes one of the person's documents from the library (refused while
/// it stands behind an approved answer, or one with the officer).
pub async fn delete(op: &Op<'_>, id: i64) -> Result<(), Refused> {
    let org = answering_org(op)?;
    Ok(op.store.delete_document(&op.ctx(), id, org).await?)
}

/// A revision for download: any to its organisation while the document is
/// in its library; otherwise (to others, or once deleted), only a
/// revision that a system they may see shows (a link's revision, pinned or
/// the newest, or the newest behind a record). That a document was once
/// linked to a system does not open its later revisions, made perhaps for
/// another ward's system, to whoever sees the first.
pub async fn download(op: &Op<'_>, revision_id: i64) -> Result<Download, Refused> {
    let r = op.store.document_revision(revision_id).await?.ok_or(Refused::NotFound)?;
    let d = op.store.document(r.document_id).await?.ok_or(Refused::NotFound)?;
    let own = !d.deleted && answering_org(op).is_ok_and(|org| org == d.organisation_id);
    if !own && !shown_to(op, &d, r.id).await? {
        return Err(Refused::NotFound);
    }
    let bytes = op.store.download_document(&op.ctx(), &r).await?;
    let kind = evidence::sniff(&bytes, &r.original_name);
    Ok(Download {
        name: evidence::download_name(&r.original_name, kind),
        content_type: kind.map_or("application/octet-stream", |k| k.content_type()),
        bytes,
    })
}

/// Does a system the person may see show revision `revision_id` of `d`?
async fn shown_to(op: &Op<'_>, d: &Document, revision_id: i64) -> Result<bool, Refused> {
    let links = op.store.links_of_document(d.id).await?;
    for s in op.store.systems_of_document(d.id).await? {
        if system(op, s).await.is_err() {
            continue;
        }
        let by_link = links.iter().any(|l| l.system_id == s && l.shows.id == revision_id);
        let by_record = op
            .store
            .record_documents(s)
            .await?
            .iter()
            .any(|rd| rd.document_id == d.id && rd.revision_id == revision_id);
        if by_link || by_record {
            return Ok(true);
        }
    }
    Ok(false)
}
