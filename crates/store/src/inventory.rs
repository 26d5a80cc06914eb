//! The software inventory of each system (items 62, 68) and the release
//! data that fills its support-end dates. Every change is written with its
//! audit event in one transaction; an import is one transaction whatever
//! its size.

use crate::auditlog::Raise;
use crate::identity::Ctx;
use crate::matching::{rematch_in, Placed};
use crate::systems::lock_system;
use crate::{timestamp, with_conn, with_read_conn, Store, StoreError, Tx};
use mamori_core::audit::{Action, Changes, NewEvent};
use mamori_core::clock::to_unix_micros;
use mamori_core::inventory::{
    feed_support_end, ComponentInput, ComponentKind, Cpe, EolProduct, EolRelease, SupportSource, SupportState,
};
use mamori_core::monitoring::{Severity, VULN_MATCHES_FULL};
use mamori_core::vulns::MAX_MATCHES_PER_SYSTEM;
use time::{Date, OffsetDateTime};

/// A component as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub id: i64,
    pub system_id: i64,
    /// `support_end` is the date in force, the person's or the data's.
    pub input: ComponentInput,
    pub source: Option<SupportSource>,
    /// The release data's product and cycle the component was matched to.
    pub feed: Option<(String, String)>,
    /// The newest version of its cycle, from the release data.
    pub latest: Option<String>,
    /// The support state last alerted for the current date.
    pub warned: Option<SupportState>,
    pub updated_at: OffsetDateTime,
    pub updated_by: String,
}

impl Component {
    /// The mark of what its form shows, the date in force included: see
    /// [`crate::edit_mark`].
    pub fn edit_mark(&self) -> String {
        let i = &self.input;
        let end = date_text(i.support_end).unwrap_or_default();
        crate::edit_mark(&[
            i.kind.as_str(),
            &i.product,
            &i.vendor,
            &i.version,
            &i.runs_on,
            i.cpe.as_deref().unwrap_or_default(),
            &end,
            &i.reason,
        ])
    }
}

/// A component as it stood at a moment (for reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentAsOf {
    pub kind: ComponentKind,
    pub product: String,
    pub vendor: String,
    pub version: String,
    pub runs_on: String,
    pub support_end: Option<Date>,
    pub reason: String,
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    kind: String,
    product: String,
    vendor: String,
    version: String,
    runs_on: String,
    support_end: Option<String>,
    reason: String,
}

/// What an import of rows did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
}

/// A feed file's import, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedImport {
    pub kind: String,
    pub name: String,
    pub sha256: String,
    pub records: i64,
    pub changed: i64,
    pub skipped: i64,
    pub imported_at: OffsetDateTime,
    pub imported_by: String,
}

/// The lock of the reference data (release data, advisories, the ISMAP
/// list): an import holds it alone; a component's save shares it, so that
/// each sees what the other committed (on PostgreSQL a save matched
/// against the advisories before an import's were committed while the
/// import matched the components before the save's was, and the match was
/// missing until the next import). Taken before any system's lock.
pub(crate) const FEEDS_LOCK: &str = "mamori.import.feeds";

const SELECT: &str =
    "SELECT id, system_id, kind, product, vendor, version, runs_on, cpe, support_end, support_source, \
     feed_product, feed_cycle, latest, reason, warned, updated_at_us, updated_by FROM component";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    system_id: i64,
    kind: String,
    product: String,
    vendor: String,
    version: String,
    runs_on: String,
    cpe: Option<String>,
    support_end: Option<String>,
    support_source: Option<String>,
    feed_product: Option<String>,
    feed_cycle: Option<String>,
    latest: Option<String>,
    reason: String,
    warned: Option<String>,
    updated_at_us: i64,
    updated_by: String,
}

impl Row {
    fn into_component(self) -> Result<Component, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("component {}: {what}", self.id));
        Ok(Component {
            id: self.id,
            system_id: self.system_id,
            input: ComponentInput {
                kind: ComponentKind::parse(&self.kind).ok_or_else(|| corrupt("kind"))?,
                support_end: match &self.support_end {
                    Some(d) => Some(mamori_core::jst::parse_date(d).ok_or_else(|| corrupt("support_end"))?),
                    None => None,
                },
                product: self.product,
                vendor: self.vendor,
                version: self.version,
                runs_on: self.runs_on,
                cpe: self.cpe,
                reason: self.reason,
            },
            source: self.support_source.as_deref().and_then(SupportSource::parse),
            feed: self.feed_product.zip(self.feed_cycle),
            latest: self.latest,
            warned: self.warned.as_deref().and_then(SupportState::parse),
            updated_at: timestamp(self.updated_at_us)?,
            updated_by: self.updated_by,
        })
    }
}

/// The support-end date in force and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fill {
    support_end: Option<Date>,
    source: Option<SupportSource>,
    feed: Option<(String, String)>,
    latest: Option<String>,
}

/// A date the person gives wins, unless it is the data's own date (an
/// exported sheet imported back keeps following the data); without one
/// the data's date fills it.
fn fill(input: &ComponentInput, products: &[EolProduct]) -> Fill {
    let cpe = input.cpe.as_deref().and_then(Cpe::parse);
    let found: Option<(&EolProduct, &EolRelease)> =
        feed_support_end(products, &input.product, &input.version, cpe.as_ref());
    let feed = found.map(|(p, r)| (p.name.clone(), r.cycle.clone()));
    let latest = found.and_then(|(_, r)| r.latest.clone());
    let data_date = found.and_then(|(_, r)| r.eol);
    match (input.support_end, data_date) {
        (Some(d), Some(f)) if d == f => Fill { support_end: Some(d), source: Some(SupportSource::Feed), feed, latest },
        (Some(d), _) => Fill { support_end: Some(d), source: Some(SupportSource::Manual), feed, latest },
        (None, Some(f)) => Fill { support_end: Some(f), source: Some(SupportSource::Feed), feed, latest },
        (None, None) => Fill { support_end: None, source: None, feed, latest },
    }
}

fn key_text(input: &ComponentInput) -> String {
    let (v, p, r) = input.key();
    format!("{v}\u{1f}{p}\u{1f}{r}")
}

fn described(input: &ComponentInput) -> String {
    format!("{} {}", input.product, input.version)
}

fn date_text(d: Option<Date>) -> Option<String> {
    d.map(|d| d.to_string())
}

impl Store {
    /// The components of one system, by kind, product and place.
    pub async fn components(&self, system_id: i64) -> Result<Vec<Component>, StoreError> {
        let rows = with_read_conn!(self, c => {
            sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE system_id = $1 ORDER BY kind, product, runs_on, id"))
                .bind(system_id).fetch_all(c).await?
        })?;
        rows.into_iter().map(Row::into_component).collect()
    }

    /// Every component with a support-end date, soonest first.
    /// Of `systems` only, when given (a person who sees a few systems reads
    /// theirs, not the ward's).
    pub async fn dated_components(&self, systems: Option<&[i64]>) -> Result<Vec<Component>, StoreError> {
        let mut rows = match systems {
            None => with_read_conn!(self, c => {
                sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE support_end IS NOT NULL ORDER BY support_end, system_id, id"))
                    .fetch_all(c).await?
            })?,
            Some(ids) => {
                let select = format!("{SELECT} WHERE support_end IS NOT NULL AND system_id IN");
                self.read(async |tx| crate::matching::in_chunks::<Row, _>(tx, &select, ids).await).await?
            }
        };
        rows.sort_by(|a, b| (&a.support_end, a.system_id, a.id).cmp(&(&b.support_end, b.system_id, b.id)));
        rows.into_iter().map(Row::into_component).collect()
    }

    /// The release data as imported.
    pub async fn eol_products(&self) -> Result<Vec<EolProduct>, StoreError> {
        self.read(async |tx| eol_products_in(tx).await).await
    }

    /// Adds a component (`id` None) or changes one of the system's. A
    /// second component with the same vendor, product and place is `Taken`.
    pub async fn save_component(
        &self,
        ctx: &Ctx,
        system_id: i64,
        id: Option<i64>,
        input: &ComponentInput,
    ) -> Result<i64, StoreError> {
        self.write_component(ctx, system_id, id.map(|id| (id, None)), input).await
    }

    /// Changes component `id` from a form that showed it with mark `seen`
    /// ([`Component::edit_mark`]): `Stale` when it no longer bears it.
    pub async fn change_component(
        &self,
        ctx: &Ctx,
        system_id: i64,
        id: i64,
        input: &ComponentInput,
        seen: &str,
    ) -> Result<i64, StoreError> {
        self.write_component(ctx, system_id, Some((id, Some(seen))), input).await
    }

    async fn write_component(
        &self,
        ctx: &Ctx,
        system_id: i64,
        editing: Option<(i64, Option<&str>)>,
        input: &ComponentInput,
    ) -> Result<i64, StoreError> {
        let id = editing.map(|(id, _)| id);
        let mut tx = self.begin_as(ctx).await?;
        tx.lock_named_shared(FEEDS_LOCK).await?;
        lock_system(&mut tx, ctx, system_id).await?;
        let products = eol_products_in(&mut tx).await?;
        let f = fill(input, &products);
        let key = key_text(input);
        let taken: Option<i64> = with_conn!(tx, c => {
            sqlx::query_scalar("SELECT id FROM component WHERE system_id = $1 AND ukey = $2")
                .bind(system_id).bind(&key).fetch_optional(c).await?
        });
        if taken.is_some_and(|t| Some(t) != id) {
            return Err(StoreError::Taken);
        }
        let (id, action) = match id {
            Some(id) => {
                let before = component_in(&mut tx, system_id, id).await?.ok_or(StoreError::Missing)?;
                if editing.and_then(|(_, seen)| seen).is_some_and(|seen| seen != before.edit_mark()) {
                    return Err(StoreError::Stale);
                }
                update(&mut tx, ctx, &before, input, &f).await?;
                (id, "changed")
            }
            None => {
                // Counted under the system's lock: adds sent at once each
                // passed a count taken before.
                let count: i64 = with_conn!(tx, c => {
                    sqlx::query_scalar("SELECT COUNT(*) FROM component WHERE system_id = $1").bind(system_id).fetch_one(c).await?
                });
                if count as usize >= mamori_core::inventory::MAX_COMPONENTS {
                    return Err(StoreError::Limit(mamori_core::inventory::MAX_COMPONENTS));
                }
                (insert(&mut tx, ctx, system_id, input, &f).await?, "added")
            }
        };
        // The whole system: the saved component may be another's platform.
        rematch(&mut tx, ctx.now, Some(system_id)).await?;
        let ev = ctx.event_on(Action::ComponentSaved, "system", system_id).changes(
            Changes::new()
                .with("component", described(input))
                .with("change", action)
                .with("support_end", date_text(f.support_end).unwrap_or_default()),
        );
        tx.commit_audited(ctx.now, ev).await?;
        Ok(id)
    }

    /// The system's components as they stood at `at`, by kind and product.
    pub async fn components_as_of(&self, system_id: i64, at: OffsetDateTime) -> Result<Vec<ComponentAsOf>, StoreError> {
        let rows: Vec<VersionRow> = with_read_conn!(self, c => {
            sqlx::query_as::<_, VersionRow>(
                "SELECT v.kind, v.product, v.vendor, v.version, v.runs_on, v.support_end, v.reason FROM component_version v \
                 WHERE v.system_id = $1 AND NOT v.removed AND v.id = \
                 (SELECT MAX(w.id) FROM component_version w WHERE w.component_id = v.component_id AND w.at_us <= $2) \
                 ORDER BY v.kind, v.product, v.version, v.component_id",
            )
            .bind(system_id).bind(to_unix_micros(at)).fetch_all(c).await?
        })?;
        rows.into_iter()
            .map(|r| {
                Ok(ComponentAsOf {
                    kind: ComponentKind::parse(&r.kind)
                        .ok_or_else(|| StoreError::Corrupt("component version kind".into()))?,
                    product: r.product,
                    vendor: r.vendor,
                    version: r.version,
                    runs_on: r.runs_on,
                    support_end: r.support_end.as_deref().and_then(mamori_core::jst::parse_date),
                    reason: r.reason,
                })
            })
            .collect()
    }

    /// Removes one of the system's components.
    pub async fn remove_component(&self, ctx: &Ctx, system_id: i64, id: i64) -> Result<(), StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        // As every writer of components: an import of advisories re-matching
        // meanwhile would write a match for the component removed.
        tx.lock_named_shared(FEEDS_LOCK).await?;
        lock_system(&mut tx, ctx, system_id).await?;
        let before = component_in(&mut tx, system_id, id).await?.ok_or(StoreError::Missing)?;
        add_version(&mut tx, id, to_unix_micros(ctx.now), true).await?;
        with_conn!(tx, c => {
            sqlx::query("DELETE FROM vuln_match WHERE component_id = $1").bind(id).execute(&mut *c).await?;
            sqlx::query("DELETE FROM component WHERE id = $1").bind(id).execute(&mut *c).await?;
        });
        // It may have been another component's platform.
        rematch(&mut tx, ctx.now, Some(system_id)).await?;
        let ev = ctx
            .event_on(Action::ComponentRemoved, "system", system_id)
            .changes(Changes::new().with("component", described(&before.input)));
        tx.commit_audited(ctx.now, ev).await
    }

    /// Imports rows into a system's inventory in one transaction: a row
    /// whose vendor, product and place are listed changes that component,
    /// others are added; nothing is removed.
    pub async fn import_components(
        &self,
        ctx: &Ctx,
        system_id: i64,
        file: &str,
        rows: &[ComponentInput],
    ) -> Result<Imported, StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        tx.lock_named_shared(FEEDS_LOCK).await?;
        lock_system(&mut tx, ctx, system_id).await?;
        let products = eol_products_in(&mut tx).await?;
        let mut n = Imported::default();
        for input in rows {
            let f = fill(input, &products);
            let key = key_text(input);
            let existing: Option<i64> = with_conn!(tx, c => {
                sqlx::query_scalar("SELECT id FROM component WHERE system_id = $1 AND ukey = $2")
                    .bind(system_id).bind(&key).fetch_optional(c).await?
            });
            match existing {
                Some(id) => {
                    let before = component_in(&mut tx, system_id, id).await?.ok_or(StoreError::Missing)?;
                    if before.input == *input
                        || (before.input.support_end == f.support_end && same_but_date(&before.input, input))
                    {
                        n.unchanged += 1;
                    } else {
                        update(&mut tx, ctx, &before, input, &f).await?;
                        n.changed += 1;
                    }
                }
                None => {
                    let count: i64 = with_conn!(tx, c => {
                        sqlx::query_scalar("SELECT COUNT(*) FROM component WHERE system_id = $1").bind(system_id).fetch_one(c).await?
                    });
                    if count as usize >= mamori_core::inventory::MAX_COMPONENTS {
                        return Err(StoreError::Limit(mamori_core::inventory::MAX_COMPONENTS));
                    }
                    insert(&mut tx, ctx, system_id, input, &f).await?;
                    n.added += 1;
                }
            }
        }
        rematch(&mut tx, ctx.now, Some(system_id)).await?;
        let ev = ctx.event_on(Action::InventoryImported, "system", system_id).changes(
            Changes::new()
                .with("file", file)
                .with("added", n.added)
                .with("changed", n.changed)
                .with("unchanged", n.unchanged),
        );
        tx.commit_audited(ctx.now, ev).await?;
        Ok(n)
    }

    /// Imports release data: each product's cycles replace those kept for
    /// it, then every component whose date is not the person's is filled
    /// again. Returns the import as recorded (`changed`: components whose
    /// date or match changed; `skipped`: cycles without a support end).
    pub async fn import_eol(
        &self,
        ctx: &Ctx,
        name: &str,
        sha256: &str,
        products: &[EolProduct],
    ) -> Result<FeedImport, StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        // Reference data, one import at a time (the same file sent twice at
        // once failed on a key in the second, an error page).
        tx.lock_named(FEEDS_LOCK).await?;
        let now_us = to_unix_micros(ctx.now);
        let mut records = 0i64;
        let mut skipped = 0i64;
        for p in products {
            let aliases = serde_json::to_string(&p.aliases).unwrap_or_else(|_| "[]".into());
            let cpes = serde_json::to_string(&p.cpes).unwrap_or_else(|_| "[]".into());
            with_conn!(tx, c => {
                sqlx::query("DELETE FROM eol_release WHERE product = $1").bind(&p.name).execute(&mut *c).await?;
                sqlx::query(
                    "INSERT INTO eol_product (name, label, aliases, cpes, imported_at_us) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (name) DO UPDATE SET label = excluded.label, aliases = excluded.aliases, \
                     cpes = excluded.cpes, imported_at_us = excluded.imported_at_us",
                )
                .bind(&p.name).bind(&p.label).bind(&aliases).bind(&cpes).bind(now_us).execute(&mut *c).await?;
            });
            let mut seen = std::collections::HashSet::new();
            for r in &p.releases {
                if r.cycle.is_empty() || !seen.insert(r.cycle.as_str()) {
                    skipped += 1;
                    continue;
                }
                if r.eol.is_none() {
                    skipped += 1;
                }
                records += 1;
                with_conn!(tx, c => {
                    sqlx::query("INSERT INTO eol_release (product, cycle, released, eol, latest) VALUES ($1, $2, $3, $4, $5)")
                        .bind(&p.name).bind(&r.cycle).bind(date_text(r.released)).bind(date_text(r.eol)).bind(&r.latest)
                        .execute(c).await?;
                });
            }
        }
        let all = eol_products_in(&mut tx).await?;
        // In the order of their systems, as every writer of several systems
        // locks them: in the components' order, two systems could be taken
        // the other way round from a library save's (a deadlock).
        let rows = with_conn!(tx, c => {
            sqlx::query_as::<_, Row>(&format!(
                "{SELECT} WHERE support_source IS NULL OR support_source <> 'manual' ORDER BY system_id, id"
            ))
                .fetch_all(c).await?
        });
        let mut changed = 0i64;
        let refill = |c: &Component| {
            let input = ComponentInput { support_end: None, ..c.input.clone() };
            let f = fill(&input, &all);
            let moved = f.support_end != c.input.support_end || f.feed != c.feed || f.latest != c.latest;
            moved.then_some(f)
        };
        for row in rows {
            let seen = row.into_component()?;
            if refill(&seen).is_none() {
                continue;
            }
            lock_system(&mut tx, ctx, seen.system_id).await?;
            // Read again under the lock: a save that landed since the list
            // was read (a new version, a person's date) is what the data
            // applies to; on PostgreSQL it was overwritten from the old row.
            let Some(now) = component_in(&mut tx, seen.system_id, seen.id).await? else { continue };
            if now.source == Some(SupportSource::Manual) {
                continue;
            }
            if let Some(f) = refill(&now) {
                set_fill(&mut tx, now.id, &f, now.input.support_end != f.support_end, now_us).await?;
                changed += 1;
            }
        }
        let f = FeedImport::of(ctx, "endoflife", name, sha256, (records, changed, skipped));
        finish_import(tx, ctx, f, &[("products", products.len() as i64)]).await
    }

    /// The feed files imported, newest first.
    pub async fn feed_imports(&self, limit: i64) -> Result<Vec<FeedImport>, StoreError> {
        type R = (String, String, String, i64, i64, i64, i64, String);
        let rows: Vec<R> = with_read_conn!(self, c => {
            sqlx::query_as(
                "SELECT kind, name, sha256, records, changed, skipped, imported_at_us, imported_by FROM feed_import \
                 ORDER BY id DESC LIMIT $1",
            )
            .bind(limit).fetch_all(c).await?
        })?;
        rows.into_iter()
            .map(|(kind, name, sha256, records, changed, skipped, at, by)| {
                Ok(FeedImport {
                    kind,
                    name,
                    sha256,
                    records,
                    changed,
                    skipped,
                    imported_at: timestamp(at)?,
                    imported_by: by,
                })
            })
            .collect()
    }

    /// Records that `state` was alerted for a component's current date;
    /// `false` when it was already (another instance was first).
    pub async fn mark_component_warned(
        &self,
        id: i64,
        state: SupportState,
        alert: &crate::auditlog::Raise<'_>,
    ) -> Result<bool, StoreError> {
        self.mark_warned(
            "UPDATE component SET warned = $2 WHERE id = $1 AND (warned IS NULL OR warned <> $2)",
            id,
            state,
            alert,
        )
        .await
    }

    /// Runs one of the two fixed statements that set `warned` (of a
    /// component or of a record) and, when this call set it, raises
    /// `alert` in the same transaction (marked in one and raised in the
    /// next, a failure between left it marked and never alerted): `true`
    /// when this call set it.
    pub(crate) async fn mark_warned(
        &self,
        sql: &'static str,
        id: i64,
        state: SupportState,
        alert: &crate::auditlog::Raise<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let n = with_conn!(tx, c => {
            sqlx::query(sql).bind(id).bind(state.as_str()).execute(c).await?.rows_affected()
        });
        if n == 1 {
            crate::auditlog::raise_in(&mut tx, alert).await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }
}

/// The same component apart from a date the data filled (an exported sheet
/// read back).
fn same_but_date(a: &ComponentInput, b: &ComponentInput) -> bool {
    ComponentInput { support_end: None, ..a.clone() } == ComponentInput { support_end: None, ..b.clone() }
}

/// Matches the components of one system, or of every system, with the
/// advisories again ([`crate::matching`]); how many matches are new. A
/// system whose new matches were left out at its limit raises
/// [`VULN_MATCHES_FULL`] in the same transaction (counted again while open).
pub(crate) async fn rematch(tx: &mut Tx, now: OffsetDateTime, system_id: Option<i64>) -> Result<i64, StoreError> {
    let all = components_in(tx, system_id).await?;
    let placed: Vec<Placed> =
        all.iter().map(|c| Placed { id: c.id, system_id: c.system_id, input: &c.input }).collect();
    let (found, left_out) = rematch_in(tx, now, &placed).await?;
    for (system, n) in left_out {
        let name: String = with_conn!(tx, c => {
            sqlx::query_scalar("SELECT name FROM system WHERE id = $1").bind(system).fetch_one(c).await?
        });
        let detail = format!(
            "{n} new matches not recorded: the system holds {MAX_MATCHES_PER_SYSTEM}, the most it may \
             (a product listed without its version on many hosts matches every advisory of it)"
        );
        let key = crate::auditlog::system_key(system, "");
        let (kind, severity) = (VULN_MATCHES_FULL, Severity::Warning);
        let raise = Raise { now, kind, severity, subject: &name, detail: &detail, key: Some(&key) };
        crate::auditlog::raise_in(tx, &raise).await?;
    }
    Ok(found)
}

pub(crate) async fn components_in(tx: &mut Tx, system_id: Option<i64>) -> Result<Vec<Component>, StoreError> {
    let rows = with_conn!(tx, c => {
        match system_id {
            Some(s) => sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE system_id = $1 ORDER BY id")).bind(s).fetch_all(c).await?,
            None => sqlx::query_as::<_, Row>(&format!("{SELECT} ORDER BY id")).fetch_all(c).await?,
        }
    });
    rows.into_iter().map(Row::into_component).collect()
}

async fn component_in(tx: &mut Tx, system_id: i64, id: i64) -> Result<Option<Component>, StoreError> {
    let row = with_conn!(tx, c => {
        sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE id = $1 AND system_id = $2")).bind(id).bind(system_id).fetch_optional(c).await?
    });
    row.map(Row::into_component).transpose()
}

async fn insert(tx: &mut Tx, ctx: &Ctx, system_id: i64, input: &ComponentInput, f: &Fill) -> Result<i64, StoreError> {
    let now_us = to_unix_micros(ctx.now);
    let id: i64 = with_conn!(tx, c => {
        sqlx::query_scalar(
            "INSERT INTO component (system_id, ukey, kind, product, vendor, version, runs_on, cpe, support_end, \
             support_source, feed_product, feed_cycle, latest, reason, created_at_us, created_by, updated_at_us, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $15, $16) RETURNING id",
        )
        .bind(system_id).bind(key_text(input)).bind(input.kind.as_str()).bind(&input.product).bind(&input.vendor)
        .bind(&input.version).bind(&input.runs_on).bind(&input.cpe).bind(date_text(f.support_end))
        .bind(f.source.map(SupportSource::as_str)).bind(f.feed.as_ref().map(|p| &p.0)).bind(f.feed.as_ref().map(|p| &p.1))
        .bind(&f.latest).bind(&input.reason).bind(now_us).bind(&ctx.actor.login)
        .fetch_one(c).await?
    });
    add_version(tx, id, now_us, false).await?;
    Ok(id)
}

async fn update(
    tx: &mut Tx,
    ctx: &Ctx,
    before: &Component,
    input: &ComponentInput,
    f: &Fill,
) -> Result<(), StoreError> {
    with_conn!(tx, c => {
        sqlx::query(
            "UPDATE component SET ukey = $2, kind = $3, product = $4, vendor = $5, version = $6, runs_on = $7, cpe = $8, \
             reason = $9, updated_at_us = $10, updated_by = $11 WHERE id = $1",
        )
        .bind(before.id).bind(key_text(input)).bind(input.kind.as_str()).bind(&input.product).bind(&input.vendor)
        .bind(&input.version).bind(&input.runs_on).bind(&input.cpe).bind(&input.reason)
        .bind(to_unix_micros(ctx.now)).bind(&ctx.actor.login)
        .execute(c).await?;
    });
    set_fill(tx, before.id, f, before.input.support_end != f.support_end, to_unix_micros(ctx.now)).await
}

/// Keeps the component's state as it is now among its versions (for
/// reports as of a date).
async fn add_version(tx: &mut Tx, id: i64, at_us: i64, removed: bool) -> Result<(), StoreError> {
    with_conn!(tx, c => {
        sqlx::query(
            "INSERT INTO component_version (component_id, system_id, at_us, kind, product, vendor, version, runs_on, \
             support_end, reason, removed) \
             SELECT id, system_id, $2, kind, product, vendor, version, runs_on, support_end, reason, $3 FROM component WHERE id = $1",
        )
        .bind(id).bind(at_us).bind(removed).execute(c).await?;
    });
    Ok(())
}

/// Writes the date in force (a new date is alerted afresh) and keeps the
/// component's version.
async fn set_fill(tx: &mut Tx, id: i64, f: &Fill, new_date: bool, now_us: i64) -> Result<(), StoreError> {
    with_conn!(tx, c => {
        sqlx::query(
            "UPDATE component SET support_end = $2, support_source = $3, feed_product = $4, feed_cycle = $5, latest = $6, \
             warned = CASE WHEN $7 THEN NULL ELSE warned END WHERE id = $1",
        )
        .bind(id).bind(date_text(f.support_end)).bind(f.source.map(SupportSource::as_str))
        .bind(f.feed.as_ref().map(|p| &p.0)).bind(f.feed.as_ref().map(|p| &p.1)).bind(&f.latest).bind(new_date)
        .execute(c).await?;
    });
    add_version(tx, id, now_us, false).await
}

async fn eol_products_in(tx: &mut Tx) -> Result<Vec<EolProduct>, StoreError> {
    let products: Vec<(String, String, String, String)> = with_conn!(tx, c => {
        sqlx::query_as("SELECT name, label, aliases, cpes FROM eol_product ORDER BY name").fetch_all(c).await?
    });
    /// Product, cycle, released, end of support, latest.
    type ReleaseRow = (String, String, Option<String>, Option<String>, Option<String>);
    let releases: Vec<ReleaseRow> = with_conn!(tx, c => {
        sqlx::query_as("SELECT product, cycle, released, eol, latest FROM eol_release ORDER BY product, cycle").fetch_all(c).await?
    });
    let date = |d: &Option<String>| d.as_deref().and_then(mamori_core::jst::parse_date);
    let mut by_product: std::collections::HashMap<String, Vec<EolRelease>> = std::collections::HashMap::new();
    for (product, cycle, released, eol, latest) in releases {
        let r = EolRelease { cycle, released: date(&released), eol: date(&eol), latest };
        by_product.entry(product).or_default().push(r);
    }
    Ok(products
        .into_iter()
        .map(|(name, label, aliases, cpes)| EolProduct {
            releases: by_product.remove(&name).unwrap_or_default(),
            aliases: serde_json::from_str(&aliases).unwrap_or_default(),
            cpes: serde_json::from_str(&cpes).unwrap_or_default(),
            name,
            label,
        })
        .collect())
}

/// Records a feed file's import and its audit event, and commits: the one
/// ending of every import (release data, advisories, the ISMAP list).
/// `extra`: what the kind adds to the event.
pub(crate) async fn finish_import(
    tx: Tx,
    ctx: &Ctx,
    f: FeedImport,
    extra: &[(&str, i64)],
) -> Result<FeedImport, StoreError> {
    let mut tx = tx;
    with_conn!(tx, c => {
        sqlx::query(
            "INSERT INTO feed_import (kind, name, sha256, records, changed, skipped, imported_at_us, imported_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&f.kind).bind(&f.name).bind(&f.sha256).bind(f.records).bind(f.changed).bind(f.skipped)
        .bind(to_unix_micros(f.imported_at)).bind(&f.imported_by)
        .execute(c).await?;
    });
    let mut changes = Changes::new()
        .with("kind", f.kind.as_str())
        .with("file", f.name.as_str())
        .with("sha256", f.sha256.as_str())
        .with("records", f.records)
        .with("changed", f.changed)
        .with("skipped", f.skipped);
    for (k, v) in extra {
        changes = changes.with(k, *v);
    }
    let ev = NewEvent::new(
        ctx.actor.clone(),
        ctx.origin.clone(),
        Action::FeedImported,
        mamori_core::audit::Outcome::Success,
    )
    .changes(changes);
    tx.commit_audited(ctx.now, ev).await?;
    Ok(f)
}

impl FeedImport {
    /// An import of `kind` from `name`, by the acting person, now.
    pub(crate) fn of(
        ctx: &Ctx,
        kind: &str,
        name: &str,
        sha256: &str,
        (records, changed, skipped): (i64, i64, i64),
    ) -> FeedImport {
        FeedImport {
            kind: kind.into(),
            name: name.into(),
            sha256: sha256.into(),
            records,
            changed,
            skipped,
            imported_at: ctx.now,
            imported_by: ctx.actor.login.clone(),
        }
    }
}
