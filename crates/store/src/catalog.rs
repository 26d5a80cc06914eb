//! Catalog versions: each import is a new, unchangeable version.

use crate::identity::Ctx;
use crate::revision::Key;
use crate::{timestamp, with_conn, with_read_conn, Store, StoreError};
use mamori_core::audit::{Action, Changes, NewEvent, Outcome};
use mamori_core::catalog::CatalogFile;
use mamori_core::checklist::Conditions;
use mamori_core::clock::to_unix_micros;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogVersion {
    pub id: i64,
    pub catalog_key: String,
    pub title: String,
    pub label: String,
    pub sha256: String,
    pub imported_at: OffsetDateTime,
    pub imported_by: String,
    pub requirements: i64,
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    id: i64,
    catalog_key: String,
    title: String,
    label: String,
    source_sha256: String,
    imported_at_us: i64,
    imported_by: String,
    n: i64,
}

impl VersionRow {
    fn into_record(self) -> Result<CatalogVersion, StoreError> {
        Ok(CatalogVersion {
            id: self.id,
            catalog_key: self.catalog_key,
            title: self.title,
            label: self.label,
            sha256: self.source_sha256,
            imported_at: timestamp(self.imported_at_us)?,
            imported_by: self.imported_by,
            requirements: self.n,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    Imported(i64),
    /// The very same catalog is version `id` already; nothing was written.
    AlreadyImported(i64),
}

/// A catalog version as kept in memory: parsed, with its conditions
/// compiled. A version never changes once imported.
#[derive(Clone)]
pub(crate) struct Cached {
    file: Arc<CatalogFile>,
    conditions: Arc<Conditions>,
}

impl Store {
    /// Imports a validated catalog as a new version, with its audit event.
    pub async fn import_catalog(&self, ctx: &Ctx, file: &CatalogFile) -> Result<ImportOutcome, StoreError> {
        let document = file.to_yaml();
        let sha = hex::encode(Sha256::digest(document.as_bytes()));
        let mut tx = self.begin_as(ctx).await?;
        // One import at a time: the same file sent twice at once was
        // imported by the first and failed on its hash in the second.
        tx.lock_named("mamori.import.catalog").await?;
        let existing: Option<i64> = with_conn!(tx, c => {
            sqlx::query_scalar("SELECT id FROM catalog_version WHERE source_sha256 = $1").bind(&sha).fetch_optional(c).await?
        });
        if let Some(id) = existing {
            return Ok(ImportOutcome::AlreadyImported(id));
        }
        let id: i64 = with_conn!(tx, c => {
            sqlx::query_scalar(
                "INSERT INTO catalog_version (catalog_key, title, label, source_sha256, imported_at_us, imported_by, document) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(&file.catalog.id).bind(&file.catalog.title).bind(&file.catalog.version).bind(&sha)
            .bind(to_unix_micros(ctx.now)).bind(&ctx.actor.login).bind(&document)
            .fetch_one(c).await?
        });
        for r in &file.requirements {
            let source_title =
                file.sources.iter().find(|s| s.id == r.source).map(|s| s.title.clone()).unwrap_or_default();
            with_conn!(tx, c => {
                sqlx::query(
                    "INSERT INTO requirement (version_id, number, source_id, source_title, major, middle, condition_note, \
                     text, applies_when, checks, self_met, evidence_hint) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(id).bind(i64::from(r.number)).bind(&r.source).bind(source_title).bind(&r.major).bind(&r.middle)
                .bind(&r.condition_note).bind(&r.text).bind(&r.applies_when).bind(r.checks.join(" ")).bind(r.self_met)
                .bind(&r.evidence_hint)
                .execute(c).await?;
            });
        }
        let ev = ctx.event_on(Action::CatalogImported, "catalog_version", id).changes(
            Changes::new()
                .with("catalog", file.catalog.id.as_str())
                .with("label", file.catalog.version.as_str())
                .with("requirements", file.requirements.len())
                .with("sha256", sha.as_str()),
        );
        tx.commit_audited(ctx.now, ev).await?;
        Ok(ImportOutcome::Imported(id))
    }

    /// Every version, newest first.
    pub async fn catalog_versions(&self) -> Result<Vec<CatalogVersion>, StoreError> {
        self.kept(Key::CatalogVersions, async || {
            let rows = with_read_conn!(self, c => {
                sqlx::query_as::<_, VersionRow>(
                    "SELECT v.id, v.catalog_key, v.title, v.label, v.source_sha256, v.imported_at_us, v.imported_by, \
                     (SELECT COUNT(*) FROM requirement r WHERE r.version_id = v.id) AS n \
                     FROM catalog_version v ORDER BY v.id DESC",
                ).fetch_all(c).await?
            })?;
            rows.into_iter().map(VersionRow::into_record).collect()
        })
        .await
    }

    /// A version's catalog, as imported.
    pub async fn catalog_document(&self, version_id: i64) -> Result<Option<Arc<CatalogFile>>, StoreError> {
        Ok(self.cached_catalog(version_id).await?.map(|c| c.file))
    }

    /// A version's applicability conditions, parsed once.
    pub async fn catalog_conditions(&self, version_id: i64) -> Result<Arc<Conditions>, StoreError> {
        self.cached_catalog(version_id)
            .await?
            .map(|c| c.conditions)
            .ok_or_else(|| StoreError::Corrupt(format!("catalog version {version_id} is missing")))
    }

    async fn cached_catalog(&self, version_id: i64) -> Result<Option<Cached>, StoreError> {
        if let Some(c) = self.shared.catalogs.lock().expect("catalog cache poisoned").get(&version_id) {
            return Ok(Some(c.clone()));
        }
        let doc: Option<String> = with_read_conn!(self, c => {
            sqlx::query_scalar("SELECT document FROM catalog_version WHERE id = $1").bind(version_id).fetch_optional(c).await?
        })?;
        let Some(doc) = doc else { return Ok(None) };
        let file = Arc::new(
            CatalogFile::from_yaml(&doc)
                .map_err(|e| StoreError::Corrupt(format!("catalog version {version_id}: {e:?}")))?,
        );
        let cached = Cached { conditions: Arc::new(Conditions::of(&file.requirements)), file };
        self.shared.catalogs.lock().expect("catalog cache poisoned").insert(version_id, cached.clone());
        Ok(Some(cached))
    }

    /// A catalog version that must exist (a system refers to it).
    pub async fn catalog(&self, version_id: i64) -> Result<Arc<CatalogFile>, StoreError> {
        self.catalog_document(version_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("catalog version {version_id} is missing")))
    }

    /// Imports the shipped catalog when no version exists yet (first start).
    pub async fn ensure_catalog(&self, ctx: &Ctx) -> Result<Option<i64>, StoreError> {
        if !self.catalog_versions().await?.is_empty() {
            return Ok(None);
        }
        match self.import_catalog(ctx, &CatalogFile::shipped()).await {
            Ok(ImportOutcome::Imported(id)) => Ok(Some(id)),
            Ok(ImportOutcome::AlreadyImported(_)) => Ok(None),
            // Another instance starting at the same moment imported it
            // first (its row is there now): nothing is left to do.
            Err(StoreError::Db(e)) if e.as_database_error().is_some_and(|d| d.is_unique_violation()) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn record_catalog_export(&self, ctx: &Ctx, version_id: i64, format: &str) -> Result<(), StoreError> {
        let ev = ctx
            .event_on(Action::CatalogExported, "catalog_version", version_id)
            .changes(Changes::new().with("format", format));
        self.audit_record_as(ctx, ev).await.map(drop)
    }

    /// Records that the filled checklists of `systems` systems left mamori
    /// in one workbook.
    pub async fn record_reports_export(&self, ctx: &Ctx, systems: usize, format: &str) -> Result<(), StoreError> {
        let ev = NewEvent::new(ctx.actor.clone(), ctx.origin.clone(), Action::ReportExported, Outcome::Success)
            .changes(Changes::new().with("format", format).with("systems", systems));
        self.audit_record_as(ctx, ev).await.map(drop)
    }

    /// Records that a system's filled checklist left mamori, in which form.
    pub async fn record_report_export(&self, ctx: &Ctx, system_id: i64, format: &str) -> Result<(), StoreError> {
        let ev =
            ctx.event_on(Action::ReportExported, "system", system_id).changes(Changes::new().with("format", format));
        self.audit_record_as(ctx, ev).await.map(drop)
    }
}
