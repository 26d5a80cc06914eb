//! Matching advisories with components (item 63), below both the inventory
//! (each change of a component matches its system again) and the
//! advisories (each import matches every component again), so that neither
//! imports the other for it.

use crate::{with_conn, StoreError, Tx};
use mamori_core::clock::to_unix_micros;
use mamori_core::inventory::ComponentInput;
use mamori_core::vulns::{component_key, hit, unmet_platforms, Affected, Hit};
use std::collections::HashMap;
use time::OffsetDateTime;

/// A stored component, as matching needs it.
pub(crate) struct Placed<'a> {
    pub id: i64,
    pub system_id: i64,
    pub input: &'a ComponentInput,
}

/// Matches `components` again: records new matches, drops open ones that
/// no longer hold, and names on each open one the platforms its advisory
/// needs that the system does not list. `components` holds every
/// component of the systems concerned: a platform is met within its
/// system. Returns how many matches were new.
pub(crate) async fn rematch_in(tx: &mut Tx, now: OffsetDateTime, components: &[Placed<'_>]) -> Result<i64, StoreError> {
    let mut advisories: HashMap<i64, Vec<Affected>> = HashMap::new();
    let mut systems: HashMap<i64, Vec<ComponentInput>> = HashMap::new();
    for c in components {
        systems.entry(c.system_id).or_default().push(c.input.clone());
    }
    let mut found = 0;
    for comp in components {
        let key = component_key(comp.input);
        let ids: Vec<i64> = if key.is_empty() {
            vec![]
        } else {
            with_conn!(tx, c => {
                sqlx::query_scalar("SELECT DISTINCT advisory_id FROM advisory_product WHERE name = $1").bind(&key).fetch_all(c).await?
            })
        };
        let mut holds = Vec::new();
        for id in ids {
            if let std::collections::hash_map::Entry::Vacant(e) = advisories.entry(id) {
                let json: String = with_conn!(tx, c => {
                    sqlx::query_scalar("SELECT affected FROM advisory WHERE id = $1").bind(id).fetch_one(c).await?
                });
                e.insert(serde_json::from_str(&json).unwrap_or_default());
            }
            let Some((h, platform)) = best_hit(comp.input, &advisories[&id], &systems[&comp.system_id]) else {
                continue;
            };
            holds.push(id);
            let n = with_conn!(tx, c => {
                sqlx::query(
                    "INSERT INTO vuln_match (advisory_id, component_id, system_id, matched_by, version_checked, platform, state, reason, found_at_us) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'open', '', $7) ON CONFLICT (advisory_id, component_id) DO NOTHING",
                )
                .bind(id).bind(comp.id).bind(comp.system_id).bind(h.by.as_str()).bind(h.version_checked).bind(&platform)
                .bind(to_unix_micros(now))
                .execute(c).await?.rows_affected()
            });
            found += n as i64;
            if n == 0 {
                // Known already: an open match follows the inventory's platforms.
                with_conn!(tx, c => {
                    sqlx::query(
                        "UPDATE vuln_match SET platform = $3 WHERE advisory_id = $1 AND component_id = $2 \
                         AND state = 'open' AND platform <> $3",
                    )
                    .bind(id).bind(comp.id).bind(&platform).execute(c).await?;
                });
            }
        }
        // Open matches this component no longer has (upgraded, renamed).
        let open: Vec<(i64, i64)> = with_conn!(tx, c => {
            sqlx::query_as("SELECT id, advisory_id FROM vuln_match WHERE component_id = $1 AND state = 'open'").bind(comp.id).fetch_all(c).await?
        });
        for (mid, aid) in open {
            if !holds.contains(&aid) {
                with_conn!(tx, c => {
                    sqlx::query("DELETE FROM vuln_match WHERE id = $1").bind(mid).execute(c).await?;
                });
            }
        }
    }
    Ok(found)
}

/// How an advisory's products hit a component, preferring one whose
/// platforms the system lists; with the platforms it does not ("; "
/// between them, empty when none is missing).
fn best_hit(component: &ComponentInput, affected: &[Affected], system: &[ComponentInput]) -> Option<(Hit, String)> {
    let mut best: Option<(Hit, Vec<String>)> = None;
    for a in affected {
        let Some(h) = hit(component, a) else { continue };
        let unmet = unmet_platforms(a, system);
        if best.as_ref().is_none_or(|(_, u)| !u.is_empty() && unmet.is_empty()) {
            best = Some((h, unmet));
        }
        if best.as_ref().is_some_and(|(_, u)| u.is_empty()) {
            break;
        }
    }
    best.map(|(h, unmet)| (h, unmet.join("; ")))
}
