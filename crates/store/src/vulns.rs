//! Vulnerability advisories and their matches with the inventory (item
//! 63). Importing advisories, and every change of a component, match again
//! in the same transaction: a new match is recorded open (and alerted once,
//! by [`Store::unalerted_matches`]); an open match that no longer holds
//! (the component was upgraded past the range) is dropped; a decided one
//! stays as it was decided.

use crate::identity::Ctx;
use crate::inventory::FeedImport;
use crate::systems::lock_system;
use crate::{opt_timestamp, timestamp, with_conn, with_read_conn, Store, StoreError};
use mamori_core::audit::{Action, Changes};
use mamori_core::clock::to_unix_micros;
use mamori_core::vulns::{product_keys, Advisory, MatchState, MatchedBy, VulnSource};
use std::collections::BTreeSet;
use time::OffsetDateTime;

/// A component an advisory affects, with what was decided.
#[derive(Debug, Clone, PartialEq)]
pub struct VulnMatch {
    pub id: i64,
    pub system_id: i64,
    pub component_id: i64,
    pub product: String,
    pub version: String,
    pub source: VulnSource,
    pub ident: String,
    pub title: String,
    pub link: String,
    pub cvss: Option<f64>,
    pub cves: Vec<String>,
    pub by: MatchedBy,
    /// `false`: the advisory gives no versions; a person must confirm.
    pub version_checked: bool,
    /// The platforms the advisory needs (Firefox on Windows) that the
    /// system's inventory does not list, for a person to confirm; empty
    /// when it needs none or the inventory lists them.
    pub platform: String,
    pub state: MatchState,
    pub reason: String,
    pub found_at: OffsetDateTime,
    pub decided: Option<(OffsetDateTime, String)>,
}

impl VulnMatch {
    /// What a decision form carries of the match, for
    /// [`Store::decide_match`] to tell whether it was decided since.
    pub fn mark(&self) -> String {
        mark_of(self.decided.as_ref().map(|(at, _)| to_unix_micros(*at)))
    }
}

const SELECT: &str =
    "SELECT m.id, m.system_id, m.component_id, c.product, c.version, a.source, a.ident, a.title, a.link, \
     a.cvss, a.cves, m.matched_by, m.version_checked, m.platform, m.state, m.reason, m.found_at_us, m.decided_at_us, m.decided_by \
     FROM vuln_match m JOIN advisory a ON a.id = m.advisory_id JOIN component c ON c.id = m.component_id";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    system_id: i64,
    component_id: i64,
    product: String,
    version: String,
    source: String,
    ident: String,
    title: String,
    link: String,
    cvss: Option<f64>,
    cves: String,
    matched_by: String,
    version_checked: bool,
    platform: String,
    state: String,
    reason: String,
    found_at_us: i64,
    decided_at_us: Option<i64>,
    decided_by: Option<String>,
}

impl Row {
    fn into_match(self) -> Result<VulnMatch, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("vuln_match {}: {what}", self.id));
        Ok(VulnMatch {
            id: self.id,
            system_id: self.system_id,
            component_id: self.component_id,
            source: VulnSource::parse(&self.source).ok_or_else(|| corrupt("source"))?,
            by: MatchedBy::parse(&self.matched_by).ok_or_else(|| corrupt("matched_by"))?,
            state: MatchState::parse(&self.state).ok_or_else(|| corrupt("state"))?,
            cves: serde_json::from_str(&self.cves).map_err(|_| corrupt("cves"))?,
            decided: opt_timestamp(self.decided_at_us)?.zip(self.decided_by),
            found_at: timestamp(self.found_at_us)?,
            product: self.product,
            version: self.version,
            ident: self.ident,
            title: self.title,
            link: self.link,
            cvss: self.cvss,
            version_checked: self.version_checked,
            platform: self.platform,
            reason: self.reason,
        })
    }
}

/// What a decision form carries of the match it shows: when it was last
/// decided (`0`: never).
fn mark_of(decided_at_us: Option<i64>) -> String {
    decided_at_us.unwrap_or(0).to_string()
}

/// Most severe first, then by advisory id and match: sorted here, by the
/// ids' bytes, so that every list orders alike whatever the database's
/// collation (PostgreSQL's may pass over the hyphens of `CVE-2026-0001`).
fn most_severe_first(rows: &mut [Row]) {
    let severity = |r: &Row| r.cvss.unwrap_or(0.0);
    rows.sort_by(|a, b| severity(b).total_cmp(&severity(a)).then_with(|| a.ident.cmp(&b.ident)).then(a.id.cmp(&b.id)));
}

impl Store {
    /// Imports advisories of one source: new ones are added, those the
    /// source changed since (`modified`) are replaced, unchanged ones are
    /// left; then every component is matched again. `changed`: advisories
    /// added or replaced; `skipped`: unchanged.
    pub async fn import_advisories(
        &self,
        ctx: &Ctx,
        name: &str,
        sha256: &str,
        source: VulnSource,
        list: &[Advisory],
    ) -> Result<FeedImport, StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        // Reference data, one import at a time (the same file sent twice at
        // once failed on a key in the second, an error page).
        tx.lock_named(crate::inventory::FEEDS_LOCK).await?;
        let now_us = to_unix_micros(ctx.now);
        let (mut changed, mut skipped) = (0i64, 0i64);
        let mut seen = BTreeSet::new();
        for a in list {
            if !seen.insert(a.ident.as_str()) {
                skipped += 1;
                continue;
            }
            let existing: Option<(i64, String)> = with_conn!(tx, c => {
                sqlx::query_as("SELECT id, modified FROM advisory WHERE source = $1 AND ident = $2")
                    .bind(source.as_str()).bind(&a.ident).fetch_optional(c).await?
            });
            if existing.as_ref().is_some_and(|(_, m)| *m == a.modified) {
                skipped += 1;
                continue;
            }
            let cves = serde_json::to_string(&a.cves).unwrap_or_else(|_| "[]".into());
            let affected = serde_json::to_string(&a.affected).unwrap_or_else(|_| "[]".into());
            let id: i64 = with_conn!(tx, c => {
                match existing {
                    Some((id, _)) => {
                        sqlx::query(
                            "UPDATE advisory SET title = $2, link = $3, cvss = $4, cves = $5, modified = $6, affected = $7, \
                             imported_at_us = $8 WHERE id = $1",
                        )
                        .bind(id).bind(&a.title).bind(&a.link).bind(a.cvss).bind(&cves).bind(&a.modified).bind(&affected)
                        .bind(now_us).execute(&mut *c).await?;
                        sqlx::query("DELETE FROM advisory_product WHERE advisory_id = $1").bind(id).execute(&mut *c).await?;
                        id
                    }
                    None => sqlx::query_scalar(
                        "INSERT INTO advisory (source, ident, title, link, cvss, cves, modified, affected, imported_at_us) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                    )
                    .bind(source.as_str()).bind(&a.ident).bind(&a.title).bind(&a.link).bind(a.cvss).bind(&cves)
                    .bind(&a.modified).bind(&affected).bind(now_us)
                    .fetch_one(&mut *c).await?,
                }
            });
            let names: BTreeSet<String> = a.affected.iter().flat_map(product_keys).filter(|k| !k.is_empty()).collect();
            for n in names {
                with_conn!(tx, c => {
                    sqlx::query("INSERT INTO advisory_product (advisory_id, name) VALUES ($1, $2)").bind(id).bind(&n).execute(c).await?;
                });
            }
            changed += 1;
        }
        let found = crate::inventory::rematch(&mut tx, ctx.now, None).await?;
        let f = FeedImport::of(ctx, source.as_str(), name, sha256, (list.len() as i64, changed, skipped));
        crate::inventory::finish_import(tx, ctx, f, &[("matches_found", found)]).await
    }

    /// The matches of one system, or of every system; most severe first.
    pub async fn vuln_matches(&self, system_id: Option<i64>) -> Result<Vec<VulnMatch>, StoreError> {
        let mut rows = with_read_conn!(self, c => {
            match system_id {
                Some(s) => sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE m.system_id = $1")).bind(s).fetch_all(c).await?,
                None => sqlx::query_as::<_, Row>(SELECT).fetch_all(c).await?,
            }
        })?;
        most_severe_first(&mut rows);
        rows.into_iter().map(Row::into_match).collect()
    }

    /// The matches of `systems`, most severe first (as [`Store::vuln_matches`]
    /// orders them): a person who sees a few systems reads theirs, not the
    /// ward's.
    pub async fn vuln_matches_in(&self, systems: &[i64]) -> Result<Vec<VulnMatch>, StoreError> {
        let select = format!("{SELECT} WHERE m.system_id IN");
        let mut rows = self.read(async |tx| crate::matching::in_chunks::<Row, _>(tx, &select, systems).await).await?;
        most_severe_first(&mut rows);
        rows.into_iter().map(Row::into_match).collect()
    }

    /// Records what was decided about match `id` of the system: 対応済 or
    /// 影響なし with the reason, or open again; if it still stands as the
    /// page showed it (`seen`: [`VulnMatch::mark`]; `None`: the console and
    /// tests, which show none): one decided since is `Stale`.
    pub async fn decide_match(
        &self,
        ctx: &Ctx,
        (system_id, id, seen): (i64, i64, Option<&str>),
        state: MatchState,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_as(ctx).await?;
        // Not beside an import re-matching: it could remove the match decided.
        tx.lock_named_shared(crate::inventory::FEEDS_LOCK).await?;
        lock_system(&mut tx, ctx, system_id).await?;
        let row: Option<(String, Option<i64>)> = with_conn!(tx, c => {
            sqlx::query_as("SELECT a.ident, m.decided_at_us FROM vuln_match m JOIN advisory a ON a.id = m.advisory_id WHERE m.id = $1 AND m.system_id = $2")
                .bind(id).bind(system_id).fetch_optional(c).await?
        });
        let (ident, decided_at) = row.ok_or(StoreError::Missing)?;
        if seen.is_some_and(|seen| seen != mark_of(decided_at)) {
            return Err(StoreError::Stale);
        }
        with_conn!(tx, c => {
            sqlx::query("UPDATE vuln_match SET state = $2, reason = $3, decided_at_us = $4, decided_by = $5 WHERE id = $1")
                .bind(id).bind(state.as_str()).bind(reason).bind(to_unix_micros(ctx.now)).bind(&ctx.actor.login)
                .execute(c).await?;
        });
        let ev = ctx
            .event_on(Action::VulnDecided, "system", system_id)
            .changes(Changes::new().with("advisory", ident).with("state", state.as_str()).with("reason", reason));
        tx.commit_audited(ctx.now, ev).await
    }

    /// Matches whose alert is not raised yet.
    pub async fn unalerted_matches(&self) -> Result<Vec<VulnMatch>, StoreError> {
        let rows = with_read_conn!(self, c => {
            sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE m.alerted_at_us IS NULL AND m.state = 'open' ORDER BY m.id")).fetch_all(c).await?
        })?;
        rows.into_iter().map(Row::into_match).collect()
    }

    /// Marks matches `ids` alerted and raises the one `alert` for them, in
    /// one transaction: how many were marked (none, and no alert, when
    /// another instance was first).
    pub async fn mark_matches_alerted(
        &self,
        ids: &[i64],
        alert: &crate::auditlog::Raise<'_>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let mut marked = 0;
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
            let sql = format!(
                "UPDATE vuln_match SET alerted_at_us = $1 WHERE alerted_at_us IS NULL AND id IN ({})",
                marks.join(", ")
            );
            marked += with_conn!(tx, c => {
                let mut q = sqlx::query(&sql).bind(to_unix_micros(alert.now));
                for id in chunk {
                    q = q.bind(id);
                }
                q.execute(c).await?.rows_affected()
            });
        }
        if marked > 0 {
            crate::auditlog::raise_in(&mut tx, alert).await?;
        }
        tx.commit().await?;
        Ok(marked)
    }

    /// Marks a match alerted and raises its `alert` in one transaction;
    /// `false` when another instance was first.
    pub async fn mark_match_alerted(&self, id: i64, alert: &crate::auditlog::Raise<'_>) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let n = with_conn!(tx, c => {
            sqlx::query("UPDATE vuln_match SET alerted_at_us = $2 WHERE id = $1 AND alerted_at_us IS NULL")
                .bind(id).bind(to_unix_micros(alert.now)).execute(c).await?.rows_affected()
        });
        if n == 1 {
            crate::auditlog::raise_in(&mut tx, alert).await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }
}
