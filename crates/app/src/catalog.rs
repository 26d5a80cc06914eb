//! Catalog versions: a file offered for import read with every problem
//! named (YAML, or an Excel workbook), compared with the newest version,
//! and imported as a new version by the security office. The console's
//! `mamori catalog import` reads and imports through the same functions.

use crate::{Op, Refused};
use mamori_core::catalog::{CatalogFile, RowError};
use mamori_core::identity::Permission;
use mamori_store::catalog::ImportOutcome;
use std::sync::Arc;

/// The largest catalog file read (the shipped one is about 100 KB).
pub const MAX_FILE: usize = 10 * 1024 * 1024;

/// Reads a catalog from a file's bytes: an Excel workbook (a zip) with the
/// catalog id and title given for it, or UTF-8 YAML. Every problem is
/// reported, each with its row; nothing is returned if there is one.
pub fn read(bytes: &[u8], id: &str, title: &str) -> Result<CatalogFile, Vec<RowError>> {
    let file_error = |message: &str| vec![RowError { row: 0, field: "ファイル", message: message.to_owned() }];
    if bytes.len() > MAX_FILE {
        return Err(file_error("10 MB を超えるファイルは読み込めません (larger than 10 MB)"));
    }
    let catalog = if bytes.starts_with(b"PK") {
        mamori_files::catalog_io::import(bytes, id, title)?
    } else {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| file_error("UTF-8 の YAML か Excel (.xlsx) を指定してください (not UTF-8 YAML nor .xlsx)"))?;
        CatalogFile::from_yaml(text)?
    };
    catalog.validate()?;
    Ok(catalog)
}

/// The newest version a read catalog is compared with before it is
/// imported (the security office); `None` when there is none yet.
pub async fn newest(op: &Op<'_>) -> Result<Option<(i64, Arc<CatalogFile>)>, Refused> {
    op.require(Permission::ManageCatalog)?;
    match op.store.catalog_versions().await?.first() {
        Some(v) => Ok(Some((v.id, op.store.catalog(v.id).await?))),
        None => Ok(None),
    }
}

/// Imports a catalog as a new version (the security office), validated
/// again here, whoever read it; the same content twice is one version.
pub async fn import(op: &Op<'_>, file: &CatalogFile) -> Result<ImportOutcome, Refused> {
    op.require(Permission::ManageCatalog)?;
    file.validate().map_err(|_| Refused::Invalid("catalog"))?;
    Ok(op.store.import_catalog(&op.ctx(), file).await?)
}

/// How long a previewed catalog waits for its confirmation: as long as a
/// session lives at the most.
const PREVIEW_KEPT: time::Duration = time::Duration::hours(12);

/// Keeps a catalog read and previewed as the acting officer's one waiting
/// for confirmation, in place of any before; returns its mark, for the
/// page that confirms it ([`take_preview`]).
pub async fn keep_preview(op: &Op<'_>, file: &CatalogFile) -> Result<String, Refused> {
    op.require(Permission::ManageCatalog)?;
    let account = op.who.account_id.ok_or(Refused::NotFound)?;
    let yaml = file.to_yaml();
    op.store.keep_pending_catalog(account, &yaml, op.now).await?;
    Ok(mamori_store::pending::pending_mark(&yaml))
}

/// Takes (reads and forgets) the acting officer's previewed catalog, if it
/// was kept within [`PREVIEW_KEPT`] and is the one whose `mark` the
/// confirming page carried (`Stale`: another was previewed since).
pub async fn take_preview(op: &Op<'_>, mark: &str) -> Result<Option<CatalogFile>, Refused> {
    op.require(Permission::ManageCatalog)?;
    let account = op.who.account_id.ok_or(Refused::NotFound)?;
    let Some(yaml) = op.store.take_pending_catalog(account, Some(op.now - PREVIEW_KEPT), mark).await? else {
        return Ok(None);
    };
    CatalogFile::from_yaml(&yaml).map(Some).map_err(|_| Refused::Internal("an unreadable pending catalog"))
}

/// Forgets the acting officer's previewed catalog, if any.
pub async fn drop_preview(op: &Op<'_>) -> Result<(), Refused> {
    let account = op.who.account_id.ok_or(Refused::NotFound)?;
    op.store.take_pending_catalog(account, None, "").await?;
    Ok(())
}
