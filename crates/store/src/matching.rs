//! Matching advisories with components (item 63), below both the inventory
//! (each change of a component matches its system again) and the
//! advisories (each import matches every component again), so that neither
//! imports the other for it.

use crate::{with_conn, StoreError, Tx};
use mamori_core::clock::to_unix_micros;
use mamori_core::inventory::ComponentInput;
use mamori_core::vulns::{component_key, hit, unmet_platforms, Affected, Hit, MAX_MATCHES_PER_SYSTEM};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use time::OffsetDateTime;

/// A stored component, as matching needs it.
pub(crate) struct Placed<'a> {
    pub id: i64,
    pub system_id: i64,
    pub input: &'a ComponentInput,
}

/// Matches `components` again: records new matches, drops those that no
/// longer hold (decided ones too), and names on each open one the platforms its advisory
/// needs that the system does not list. `components` holds every
/// component of the systems concerned: a platform is met within its
/// system. A system holds [`MAX_MATCHES_PER_SYSTEM`] matches at the most:
/// past it, new ones are not recorded. Returns how many matches were new,
/// and how many were left out in each system that had some.
///
/// The advisories, their products and the matches there are now are read
/// in a few queries for all the components together, and only what changed
/// is written: a save in a system of 2,000 components took about 0.4 s
/// (SQLite) to 0.7 s (PostgreSQL) with queries per component
/// (`cargo bench -p mamori-store --bench component_save`).
pub(crate) async fn rematch_in(
    tx: &mut Tx,
    now: OffsetDateTime,
    components: &[Placed<'_>],
) -> Result<(i64, BTreeMap<i64, usize>), StoreError> {
    let mut systems: HashMap<i64, Vec<ComponentInput>> = HashMap::new();
    for c in components {
        systems.entry(c.system_id).or_default().push(c.input.clone());
    }
    // Each name once: many components of one product (a kernel on every
    // host) looked its advisories up again in every read.
    let keys: Vec<String> = components
        .iter()
        .map(|c| component_key(c.input))
        .filter(|k| !k.is_empty())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut by_name: HashMap<String, Vec<i64>> = HashMap::new();
    for (name, id) in in_chunks::<(String, i64), _>(
        tx,
        "SELECT DISTINCT name, advisory_id FROM advisory_product WHERE name IN",
        &keys,
    )
    .await?
    {
        by_name.entry(name).or_default().push(id);
    }
    let wanted: Vec<i64> = by_name.values().flatten().copied().collect::<BTreeSet<_>>().into_iter().collect();
    let mut severity: HashMap<i64, f64> = HashMap::new();
    let advisories: HashMap<i64, Vec<Affected>> =
        in_chunks::<(i64, String, Option<f64>), _>(tx, "SELECT id, affected, cvss FROM advisory WHERE id IN", &wanted)
            .await?
            .into_iter()
            .map(|(id, json, cvss)| {
                severity.insert(id, cvss.unwrap_or(0.0));
                (id, serde_json::from_str(&json).unwrap_or_default())
            })
            .collect();
    let ids: Vec<i64> = components.iter().map(|c| c.id).collect();
    // component → advisory → (match, open, platform)
    let mut known: HashMap<i64, HashMap<i64, (i64, bool, String)>> = HashMap::new();
    let sql = "SELECT component_id, advisory_id, id, state, platform FROM vuln_match WHERE component_id IN";
    for (component, advisory, id, state, platform) in
        in_chunks::<(i64, i64, i64, String, String), _>(tx, sql, &ids).await?
    {
        known.entry(component).or_default().insert(advisory, (id, state == "open", platform));
    }
    let none = HashMap::new();
    // First what holds, what goes and what moves; then the new matches,
    // while their system is under its limit.
    let mut held: HashMap<i64, usize> = HashMap::new();
    // The new matches a system may take, the most severe first (then by
    // advisory and component, the same on both databases): no more than
    // its limit are kept while the candidates are found, which were
    // millions for a product without a version on thousands of hosts.
    let cvss = |id: i64| (severity.get(&id).copied().unwrap_or(0.0) * 10.0).round() as i64;
    let mut new: BTreeMap<i64, BinaryHeap<Candidate<'_>>> = BTreeMap::new();
    let mut left_out: BTreeMap<i64, usize> = BTreeMap::new();
    for comp in components {
        let candidates = by_name.get(&component_key(comp.input)).map_or(&[][..], |v| v);
        let had = known.get(&comp.id).unwrap_or(&none);
        let mut holds = BTreeSet::new();
        for id in candidates {
            let Some(affected) = advisories.get(id) else { continue };
            let Some((h, platform)) = best_hit(comp.input, affected, &systems[&comp.system_id]) else {
                continue;
            };
            holds.insert(*id);
            match had.get(id) {
                None => {
                    let kept = new.entry(comp.system_id).or_default();
                    kept.push(Candidate { rank: (-cvss(*id), *id, comp.id), comp, advisory: *id, hit: h, platform });
                    if kept.len() > MAX_MATCHES_PER_SYSTEM {
                        kept.pop();
                        *left_out.entry(comp.system_id).or_default() += 1;
                    }
                }
                // Known already: an open match follows the inventory's platforms.
                Some((mid, true, was)) if *was != platform => {
                    with_conn!(tx, c => {
                        sqlx::query("UPDATE vuln_match SET platform = $2 WHERE id = $1").bind(mid).bind(&platform).execute(c).await?;
                    });
                }
                Some(_) => {}
            }
        }
        *held.entry(comp.system_id).or_default() += had.keys().filter(|a| holds.contains(*a)).count();
        // Matches this component no longer has (upgraded, renamed), decided
        // ones too: a decision was about a version it no longer runs, and
        // should it come back into the range, the match opens afresh (with
        // its alert) instead of standing decided unseen.
        let gone = had.iter().filter(|(a, _)| !holds.contains(*a));
        for (_, (mid, _, _)) in gone {
            with_conn!(tx, c => {
                sqlx::query("DELETE FROM vuln_match WHERE id = $1").bind(mid).execute(c).await?;
            });
        }
    }
    let mut found = 0;
    for Candidate { comp, advisory: id, hit: h, platform, .. } in
        new.into_values().flat_map(BinaryHeap::into_sorted_vec)
    {
        let count = held.entry(comp.system_id).or_default();
        if *count >= MAX_MATCHES_PER_SYSTEM {
            *left_out.entry(comp.system_id).or_default() += 1;
            continue;
        }
        let n = with_conn!(tx, c => {
            sqlx::query(
                "INSERT INTO vuln_match (advisory_id, component_id, system_id, matched_by, version_checked, platform, state, reason, found_at_us) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'open', '', $7) ON CONFLICT (advisory_id, component_id) DO NOTHING",
            )
            .bind(id).bind(comp.id).bind(comp.system_id).bind(h.by.as_str()).bind(h.version_checked).bind(&platform)
            .bind(to_unix_micros(now))
            .execute(c).await?.rows_affected()
        });
        *count += n as usize;
        found += n as i64;
    }
    Ok((found, left_out))
}

/// A new match found, ordered by `rank` (ascending: the most severe, then
/// the lowest advisory and component ids first), so that a system's heap
/// of them drops its least at the top.
struct Candidate<'a> {
    rank: (i64, i64, i64),
    comp: &'a Placed<'a>,
    advisory: i64,
    hit: Hit,
    platform: String,
}

impl PartialEq for Candidate<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.rank == other.rank
    }
}

impl Eq for Candidate<'_> {}

impl PartialOrd for Candidate<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank.cmp(&other.rank)
    }
}

/// The rows of `select` (ending in `IN`) for `values`, a few hundred at a
/// time. Only the number of placeholders is written into the statement;
/// the values are bound.
pub(crate) async fn in_chunks<R, V>(tx: &mut Tx, select: &str, values: &[V]) -> Result<Vec<R>, StoreError>
where
    R: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    V: Sync
        + for<'q> sqlx::Encode<'q, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>
        + for<'q> sqlx::Encode<'q, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>,
{
    const CHUNK: usize = 500;
    let mut rows = Vec::new();
    for chunk in values.chunks(CHUNK) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!("{select} ({})", marks.join(", "));
        let found: Vec<R> = with_conn!(tx, c => {
            let mut q = sqlx::query_as::<_, R>(&sql);
            for v in chunk {
                q = q.bind(v);
            }
            q.fetch_all(c).await?
        });
        rows.extend(found);
    }
    Ok(rows)
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
