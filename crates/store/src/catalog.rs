//! Catalog versions: each import is a new, unchangeable version.

use crate::audit::append;
use crate::identity::Ctx;
use crate::{with_conn, Store, StoreError};
use mamori_core::audit::{Action, Changes, NewEvent, Outcome};
use mamori_core::catalog::CatalogFile;
use mamori_core::clock::{from_unix_micros, to_unix_micros};
use sha2::{Digest, Sha256};
use sqlx::Row;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    Imported(i64),
    /// The very same catalog is version `id` already; nothing was written.
    AlreadyImported(i64),
}

impl Store {
    /// Imports a validated catalog as a new version, with its audit event.
    pub async fn import_catalog(&self, ctx: &Ctx, file: &CatalogFile) -> Result<ImportOutcome, StoreError> {
        let document = file.to_yaml();
        let sha = hex::encode(Sha256::digest(document.as_bytes()));
        let mut tx = self.begin().await?;
        let existing: Option<i64> = with_conn!(tx, c => {
            sqlx::query("SELECT id FROM catalog_version WHERE source_sha256 = $1").bind(&sha).fetch_optional(c).await?
                .map(|r| r.try_get("id")).transpose()?
        });
        if let Some(id) = existing {
            return Ok(ImportOutcome::AlreadyImported(id));
        }
        let id: i64 = with_conn!(tx, c => {
            sqlx::query(
                "INSERT INTO catalog_version (catalog_key, title, label, source_sha256, imported_at_us, imported_by, document) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(&file.catalog.id).bind(&file.catalog.title).bind(&file.catalog.version).bind(&sha)
            .bind(to_unix_micros(ctx.now)).bind(&ctx.actor.login).bind(&document)
            .fetch_one(c).await?.try_get("id")?
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
        let ev = NewEvent::new(ctx.actor.clone(), ctx.origin.clone(), Action::CatalogImported, Outcome::Success)
            .target("catalog_version", id.to_string())
            .changes(
                Changes::new()
                    .with("catalog", file.catalog.id.as_str())
                    .with("label", file.catalog.version.as_str())
                    .with("requirements", file.requirements.len())
                    .with("sha256", sha.as_str()),
            );
        append(&mut tx, ctx.now, ev).await?;
        tx.commit().await?;
        Ok(ImportOutcome::Imported(id))
    }

    /// Every version, newest first.
    pub async fn catalog_versions(&self) -> Result<Vec<CatalogVersion>, StoreError> {
        let mut tx = self.begin_read().await?;
        let versions = with_conn!(tx, c => {
            let rows = sqlx::query(
                "SELECT v.id, v.catalog_key, v.title, v.label, v.source_sha256, v.imported_at_us, v.imported_by, \
                 (SELECT COUNT(*) FROM requirement r WHERE r.version_id = v.id) AS n \
                 FROM catalog_version v ORDER BY v.id DESC",
            ).fetch_all(c).await?;
            rows.iter().map(|r| {
                let at: i64 = r.try_get("imported_at_us")?;
                Ok(CatalogVersion {
                    id: r.try_get("id")?,
                    catalog_key: r.try_get("catalog_key")?,
                    title: r.try_get("title")?,
                    label: r.try_get("label")?,
                    sha256: r.try_get("source_sha256")?,
                    imported_at: from_unix_micros(at).ok_or_else(|| StoreError::Corrupt(format!("time {at}")))?,
                    imported_by: r.try_get("imported_by")?,
                    requirements: r.try_get("n")?,
                })
            }).collect::<Result<Vec<_>, StoreError>>()?
        });
        tx.rollback().await?;
        Ok(versions)
    }

    /// A version's catalog, as imported.
    pub async fn catalog_document(&self, version_id: i64) -> Result<Option<Arc<CatalogFile>>, StoreError> {
        if let Some(doc) = self.catalogs.lock().expect("catalog cache poisoned").get(&version_id) {
            return Ok(Some(doc.clone()));
        }
        let mut tx = self.begin_read().await?;
        let doc: Option<String> = with_conn!(tx, c => {
            sqlx::query("SELECT document FROM catalog_version WHERE id = $1").bind(version_id).fetch_optional(c).await?
                .map(|r| r.try_get("document")).transpose()?
        });
        tx.rollback().await?;
        let Some(doc) = doc else { return Ok(None) };
        let file = Arc::new(
            CatalogFile::from_yaml(&doc)
                .map_err(|e| StoreError::Corrupt(format!("catalog version {version_id}: {e:?}")))?,
        );
        self.catalogs.lock().expect("catalog cache poisoned").insert(version_id, file.clone());
        Ok(Some(file))
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
        match self.import_catalog(ctx, &CatalogFile::shipped()).await? {
            ImportOutcome::Imported(id) => Ok(Some(id)),
            ImportOutcome::AlreadyImported(_) => Ok(None),
        }
    }

    pub async fn record_catalog_export(&self, ctx: &Ctx, version_id: i64, format: &str) -> Result<(), StoreError> {
        let ev = NewEvent::new(ctx.actor.clone(), ctx.origin.clone(), Action::CatalogExported, Outcome::Success)
            .target("catalog_version", version_id.to_string())
            .changes(Changes::new().with("format", format));
        self.audit_record(ctx.now, ev).await.map(drop)
    }
}
