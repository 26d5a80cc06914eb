//! The audit log's upkeep: export, retention purge with an archive, and
//! the daily checks (checklist items 27-29, 67).

use mamori_core::audit::{Actor, Origin};
use mamori_core::clock::Clock;
use mamori_core::monitoring::SignInWatch;
use mamori_store::auditlog::AuditFilter;
use mamori_store::identity::Ctx;
use mamori_store::{Store, StoreError};
use std::io::Write;
use std::path::{Path, PathBuf};
use time::Duration;

/// `[audit]` settings.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    pub retention: Duration,
    pub archive_dir: PathBuf,
    pub watch: SignInWatch,
}

#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("archive: {0}")]
    Io(#[from] std::io::Error),
}

/// Writes `bytes` to `path` through a temporary file, synced, then renamed:
/// the archive exists whole or not at all.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = crate::private_file::new_private_file(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Writes the events `filter` selects, up to sequence number `through`, as
/// a gzipped JSON Lines file `name` in `dir` (whole or not at all).
async fn archive(
    store: &Store,
    filter: &AuditFilter,
    through: i64,
    dir: &Path,
    name: &str,
) -> Result<(Vec<u8>, PathBuf), PurgeError> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut io_error = None;
    store
        .audit_for_each(filter, |e| {
            if e.record.seq <= through {
                if let Err(err) = writeln!(gz, "{}", mamori_files::audit_export::json(e)) {
                    io_error.get_or_insert(err);
                }
            }
            Ok(())
        })
        .await?;
    if let Some(e) = io_error {
        return Err(e.into());
    }
    let bytes = gz.finish()?;
    crate::private_file::create_private_dir(dir)?;
    let path = dir.join(name);
    write_atomically(&path, &bytes)?;
    Ok((bytes, path))
}

/// Before a forced restore replaces the data: the whole audit log as it
/// stands, written to `dir`. The restore puts the backup's log in its
/// place; the events since the backup (younger than any retention) would
/// otherwise be gone without a trace. Returns the file.
pub async fn keep_before_restore(store: &Store, dir: &Path, now: time::OffsetDateTime) -> Result<PathBuf, PurgeError> {
    let ends = store.audit_chain_ends().await?;
    let stamp = now.unix_timestamp();
    let name = format!("audit-replaced-by-restore-{stamp}-through-{:012}.jsonl.gz", ends.head_seq);
    let (_, path) = archive(store, &AuditFilter::default(), ends.head_seq, dir, &name).await?;
    Ok(path)
}

/// Item 29: removes events older than the retention, keeping them as a
/// compressed JSON Lines archive in the database (in the same transaction:
/// every instance reads it, every backup carries it) and as a file in
/// `archive_dir`. Returns how many were removed and the file.
pub async fn purge(
    store: &Store,
    clock: &dyn Clock,
    cfg: &AuditConfig,
    actor: Actor,
) -> Result<Option<(i64, PathBuf)>, PurgeError> {
    let now = clock.now();
    let cutoff = mamori_core::monitoring::retention_cutoff(now, cfg.retention);
    let Some((from, through)) = store.purgeable(cutoff).await? else { return Ok(None) };
    let filter = AuditFilter { until: Some(cutoff), ..AuditFilter::default() };
    let name = format!("audit-{from:012}-{through:012}.jsonl.gz");
    let (bytes, path) = archive(store, &filter, through, &cfg.archive_dir, &name).await?;
    let ctx = Ctx { now, actor, origin: Origin::default(), standing: None };
    let purged = match store.purge_audit(&ctx, from, through, &name, &bytes).await {
        Ok(purged) => purged,
        // Another purge removed them meanwhile (the daily job and the
        // console's at once): nothing is left to do. The file written is a
        // copy of what that purge archived.
        Err(mamori_store::StoreError::Stale) => return Ok(None),
        // Nothing was removed: the file would claim a purge that did not
        // happen (and, when the chain is broken, carry the changed events).
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            return Err(e.into());
        }
    };
    Ok(Some((purged.events, path)))
}
