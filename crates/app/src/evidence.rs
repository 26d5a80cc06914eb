//! Evidence files: admitted by their content, scanned for malware (item
//! 58), stored as a change of their answer; downloaded by those who may see
//! the system, typed and named by their content.

use crate::{checklist, Op, Refused};
use mamori_files::evidence::{self, Clamd, Kind, ScanResult};
use std::time::{Duration, Instant};

/// clamd, and when its verdict must have come: before the request's time
/// runs out, so that a clamd that hangs is refused with a message and a
/// log line, not cut off with the request.
#[derive(Debug, Clone, Copy)]
pub struct Scanner<'a> {
    pub clamd: &'a Clamd,
    pub until: Instant,
}
use mamori_store::evidence::NewEvidence;
use mamori_store::StoreError;

/// A file offered as evidence.
pub struct Upload<'a> {
    pub number: u32,
    pub name: &'a str,
    pub bytes: &'a [u8],
    /// Cut off at the size limit while it was read.
    pub too_large: bool,
    /// `YYYY-MM-DD`, or empty.
    pub expires_on: &'a str,
    /// A file of the same answer this one takes the place of.
    pub replaces: Option<i64>,
}

/// Why a file was not taken; each is recorded as `evidence.rejected`
/// except an empty form or an unreachable scanner.
#[derive(Debug)]
pub enum Rejected {
    TooLarge,
    Empty,
    BadDate,
    /// Executable, macro or unknown type: the files crate's reason.
    Refused(evidence::Refusal),
    Infected,
    ScannerDown,
    /// The organisation's files would pass its storage quota (in bytes).
    OverQuota(u64),
    /// The answer (or the library) holds as many as it may.
    TooMany(usize),
}

impl Rejected {
    /// A store refusal that is the file's to answer for: over the quota,
    /// or one too many; with the reason to record.
    pub(crate) fn of_store(e: StoreError) -> Result<(Rejected, &'static str), Refused> {
        match e {
            StoreError::Quota(q) => Ok((Rejected::OverQuota(q), "over_quota")),
            StoreError::Limit(n) => Ok((Rejected::TooMany(n), "too_many_files")),
            other => Err(other.into()),
        }
    }
}

/// Adds a file to one answer, or says why not.
pub async fn upload(
    op: &Op<'_>,
    id: i64,
    file: &Upload<'_>,
    clamd: Option<Scanner<'_>>,
) -> Result<Result<i64, Rejected>, Refused> {
    let org = checklist::answering_org(op)?;
    let s = checklist::system(op, id).await?;
    if op.store.parts(&s).await?.answerer(file.number) != Some(org) {
        return Err(Refused::NotFound);
    }
    let open = mamori_core::checklist::round_open(s.input.phase);
    open.and_then(|()| mamori_core::checklist::can_answer(s.status)).map_err(Refused::Workflow)?;
    let checked = match admit(file.name, file.bytes, file.too_large, file.expires_on, clamd).await {
        Ok(c) => c,
        Err((rejected, Some(why))) => {
            reject(op, s.id, file, &why).await?;
            return Ok(Err(rejected));
        }
        Err((rejected, None)) => return Ok(Err(rejected)),
    };
    let (kind, sha, expires) = (checked.kind, checked.sha256, checked.expires_on);
    let ctx = op.ctx();
    let new = NewEvidence {
        number: file.number,
        original_name: file.name,
        content_type: kind.content_type(),
        sha256: &sha,
        expires_on: expires.as_deref(),
        content: file.bytes,
        replaces: file.replaces,
        by: Some(org),
    };
    match op.store.add_evidence(&ctx, s.id, &new).await {
        Ok(id) => Ok(Ok(id)),
        Err(e) => {
            let (rejected, why) = Rejected::of_store(e)?;
            reject(op, s.id, file, why).await?;
            Ok(Err(rejected))
        }
    }
}

/// A file that passed every check.
pub(crate) struct Admitted {
    pub kind: Kind,
    pub sha256: String,
    /// `YYYY-MM-DD`, when given.
    pub expires_on: Option<String>,
}

/// Every check a file passes before it is stored (size, date, type by its
/// content, malware): the file as admitted, or why not with the reason to
/// record (`None`: nothing to record, as for an empty form or an
/// unreachable scanner).
pub(crate) async fn admit(
    name: &str,
    bytes: &[u8],
    too_large: bool,
    expires_on: &str,
    clamd: Option<Scanner<'_>>,
) -> Result<Admitted, (Rejected, Option<String>)> {
    if too_large {
        return Err((Rejected::TooLarge, Some("too_large".into())));
    }
    if bytes.is_empty() {
        return Err((Rejected::Empty, None));
    }
    let expires = expires_on.trim();
    if !expires.is_empty()
        && time::Date::parse(expires, time::macros::format_description!("[year]-[month]-[day]")).is_err()
    {
        return Err((Rejected::BadDate, None));
    }
    // Its type read (a zip's directory, up to three times) and its hash
    // taken off the request workers: up to 20 MB each.
    let (owned, named) = (bytes.to_vec(), name.to_owned());
    let read = crate::off_the_workers(move || {
        evidence::admit(&owned, &named).map(|kind| (kind, hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&owned))))
    });
    let (kind, sha256): (Kind, String) = match read.await {
        Ok(Ok(read)) => read,
        Ok(Err(refusal)) => {
            let why = refusal.reason().to_owned();
            return Err((Rejected::Refused(refusal), Some(why)));
        }
        // The reading stopped (a fault in a reader): refused as unknown.
        Err(_) => return Err((Rejected::Refused(evidence::Refusal::Type), Some("type".into()))),
    };
    if let Some(c) = clamd {
        // What is left then, after the checks of the type (a second at the least).
        let within = c.until.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
        match evidence::scan(c.clamd, bytes, within).await {
            Err(e) => {
                tracing::error!("clamd: {e}");
                return Err((Rejected::ScannerDown, None));
            }
            Ok(ScanResult::Infected(sig)) => return Err((Rejected::Infected, Some(format!("infected: {sig}")))),
            Ok(ScanResult::Clean) => {}
        }
    }
    Ok(Admitted { kind, sha256, expires_on: Some(expires.to_owned()).filter(|e| !e.is_empty()) })
}

/// Records a refused file (audited as `evidence.rejected`).
async fn reject(op: &Op<'_>, system_id: i64, file: &Upload<'_>, why: &str) -> Result<(), Refused> {
    Ok(op.store.record_rejected_evidence(&op.ctx(), system_id, file.number, file.name, why).await?)
}

/// A file for download: its name and type from its content, and its bytes.
pub struct Download {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// Sends a file to those who may see its system (audited).
pub async fn download(op: &Op<'_>, evidence_id: i64) -> Result<Download, Refused> {
    let e = op.store.evidence(evidence_id).await?.ok_or(Refused::NotFound)?;
    checklist::system(op, e.system_id).await?;
    let bytes = op.store.download_evidence(&op.ctx(), &e).await?;
    let kind = evidence::sniff(&bytes, &e.original_name);
    Ok(Download {
        name: evidence::download_name(&e.original_name, kind),
        content_type: kind.map_or("application/octet-stream", |k| k.content_type()),
        bytes,
    })
}

/// Removes a file while its answer may still change (the vendor's own
/// system, not submitted): the workflow decides in the store, inside the
/// removal's transaction. A file of another system, round or company is
/// `NotFound`.
pub async fn remove(op: &Op<'_>, system_id: i64, evidence_id: i64) -> Result<(), Refused> {
    let org = checklist::answering_org(op)?;
    checklist::system(op, system_id).await?;
    Ok(op.store.remove_evidence(&op.ctx(), system_id, evidence_id, Some(org)).await?)
}
