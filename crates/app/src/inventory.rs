//! A system's software inventory (items 62, 68): seen by those who may see
//! the system, kept by the department and the vendors that answer it;
//! support-end dates filled from the release data the security office
//! imports (the servers are offline), and warned about before they pass.

use crate::checklist::{answering_org, system};
use crate::{Op, Refused};
use mamori_core::audit::{Action, Changes, NewEvent, Outcome};
use mamori_core::identity::{FieldError, Permission};
use mamori_core::inventory::{support, ComponentFields, ComponentInput, Support, SupportSource, MAX_COMPONENTS};
use mamori_core::jst::parse_date;
use mamori_core::vulns::MatchState;
use mamori_files::export::CsvEncoding;
use mamori_files::feeds::{self, Feed};
use mamori_files::inventory::{self as sheet, COLUMNS};
use mamori_store::auditlog::{about_system, Raise};
use mamori_store::inventory::{Component, FeedImport, Imported};
use mamori_store::systems::{SystemFilter, SystemRecord};
use mamori_store::vulns::VulnMatch;
use mamori_store::StoreError;

/// One system's inventory, and whether the person may change it.
pub struct Inventory {
    pub system: SystemRecord,
    pub components: Vec<Component>,
    /// The advisories that name its components (item 63).
    pub matches: Vec<VulnMatch>,
    pub editable: bool,
    /// May the person record what was decided about a match (the keepers
    /// and the security office)?
    pub decides: bool,
}

/// May the person keep this system's inventory? The department and the
/// vendors that answer the system; and the operator at the server's
/// console acting for the security office (`mamori inventory import`).
pub(crate) fn keeps(op: &Op<'_>, s: &SystemRecord) -> bool {
    let console = op.who.account_id.is_none() && op.who.can(Permission::ManageSystems);
    console || answering_org(op).is_ok_and(|org| s.input.parties().kept_by(org))
}

pub async fn inventory(op: &Op<'_>, system_id: i64) -> Result<Inventory, Refused> {
    let system = system(op, system_id).await?;
    let components = op.store.components(system_id).await?;
    let matches = op.store.vuln_matches(Some(system_id)).await?;
    let editable = keeps(op, &system);
    let decides = decides(op, &system);
    Ok(Inventory { system, components, matches, editable, decides })
}

/// May the person record what was decided about the system's matches?
/// Its keepers and the security office.
fn decides(op: &Op<'_>, s: &SystemRecord) -> bool {
    keeps(op, s) || op.who.can(Permission::ManageSystems)
}

async fn kept(op: &Op<'_>, system_id: i64) -> Result<SystemRecord, Refused> {
    let s = system(op, system_id).await?;
    if keeps(op, &s) {
        Ok(s)
    } else {
        Err(Refused::NotFound)
    }
}

fn limit(e: StoreError) -> Refused {
    match e {
        StoreError::Limit(_) => Refused::Invalid("too_many_components"),
        other => other.into(),
    }
}

/// Adds a component (`id` None) or changes one from a form that showed it
/// with mark `seen` (`Refused::Stale` when changed since).
pub async fn save(
    op: &Op<'_>,
    system_id: i64,
    id: Option<(i64, &str)>,
    input: &ComponentInput,
) -> Result<i64, Refused> {
    kept(op, system_id).await?;
    if id.is_none() && op.store.components(system_id).await?.len() >= MAX_COMPONENTS {
        return Err(Refused::Invalid("too_many_components"));
    }
    let ctx = op.ctx();
    let id = match id {
        Some((id, seen)) => op.store.change_component(&ctx, system_id, id, input, seen).await,
        None => op.store.save_component(&ctx, system_id, None, input).await,
    }
    .map_err(limit)?;
    alert_matches(op.store, op.now).await?;
    Ok(id)
}

pub async fn remove(op: &Op<'_>, system_id: i64, id: i64) -> Result<(), Refused> {
    kept(op, system_id).await?;
    Ok(op.store.remove_component(&op.ctx(), system_id, id).await?)
}

/// A field's problem in words, for a sheet's row.
fn problem(e: FieldError) -> &'static str {
    match e {
        FieldError::Empty => "入力してください",
        FieldError::TooShort { .. } => "短すぎます",
        FieldError::TooLong { .. } => "長すぎます",
        FieldError::BadCharacters => "使えない文字があります",
        FieldError::BadFormat => "形式が正しくありません",
        FieldError::Reserved => "使えない名前です",
    }
}

/// Reads a sheet's rows into components; every problem by row and column.
pub fn read_sheet(bytes: &[u8]) -> Result<Vec<ComponentInput>, Vec<String>> {
    let rows = sheet::read(bytes).map_err(|errs| errs.iter().map(|e| e.located()).collect::<Vec<_>>())?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut keys = std::collections::HashMap::new();
    for r in &rows {
        // A support end left as the release data gave it at the export is
        // not the person's: it keeps following the data, which may have
        // moved it since.
        let data_end = parse_date(r.get("data_end"));
        let support_end = match parse_date(r.get("support_end")) {
            Some(d) if Some(d) == data_end => "",
            _ => r.get("support_end"),
        };
        let f = ComponentFields {
            kind: r.get("kind"),
            product: r.get("product"),
            vendor: r.get("vendor"),
            version: r.get("version"),
            runs_on: r.get("runs_on"),
            cpe: r.get("cpe"),
            support_end,
            reason: r.get("reason"),
        };
        match ComponentInput::parse(&f) {
            Ok(c) => {
                if let Some(first) = keys.insert(c.key(), r.row) {
                    errors.push(format!("{}行目: {first}行目と同じ製品・ベンダ・稼働場所です (duplicate row)", r.row));
                }
                out.push(c);
            }
            Err(problems) => {
                for (field, e) in problems {
                    let heading = COLUMNS.iter().find(|(f, _, _)| *f == field).map_or(field, |c| c.1);
                    errors.push(format!("{}行目 {heading}: {}", r.row, problem(e)));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Imports a sheet into a system's inventory: all rows or, if one has a
/// problem, none (`Ok(Err(messages))`).
pub async fn import(
    op: &Op<'_>,
    system_id: i64,
    file_name: &str,
    bytes: &[u8],
) -> Result<Result<Imported, Vec<String>>, Refused> {
    kept(op, system_id).await?;
    let owned = bytes.to_vec();
    let rows = match crate::off_the_workers(move || read_sheet(&owned)).await? {
        Ok(rows) => rows,
        Err(e) => return Ok(Err(e)),
    };
    let name: String = file_name.chars().filter(|c| !mamori_core::text::hidden(*c)).take(200).collect();
    match op.store.import_components(&op.ctx(), system_id, &name, &rows).await {
        Ok(n) => {
            alert_matches(op.store, op.now).await?;
            Ok(Ok(n))
        }
        Err(StoreError::Limit(max)) => Ok(Err(vec![format!("1 システム {max} 件までです (too many components)")])),
        Err(e) => Err(e.into()),
    }
}

/// The export's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv(CsvEncoding),
    Xlsx,
}

/// The inventory as a sheet that imports back; the export is audited.
pub async fn export(op: &Op<'_>, system_id: i64, format: Format) -> Result<(SystemRecord, Vec<u8>), Refused> {
    let inv = inventory(op, system_id).await?;
    let rows: Vec<[String; sheet::WIDTH]> = inv
        .components
        .iter()
        .map(|c| {
            let i = &c.input;
            [
                i.kind.word().to_owned(),
                i.product.clone(),
                i.vendor.clone(),
                i.version.clone(),
                i.runs_on.clone(),
                i.cpe.clone().unwrap_or_default(),
                i.support_end.map(|d| d.to_string()).unwrap_or_default(),
                i.reason.clone(),
                match c.source {
                    Some(SupportSource::Feed) => i.support_end.map(|d| d.to_string()).unwrap_or_default(),
                    _ => String::new(),
                },
            ]
        })
        .collect();
    // Up to 2,000 rows, encoded or assembled off the request workers.
    let n = rows.len();
    let (bytes, name) = crate::off_the_workers(move || match format {
        Format::Csv(enc) => Ok((sheet::csv(&rows, enc), enc.format_name())),
        Format::Xlsx => sheet::xlsx(&rows).map(|b| (b, "xlsx")),
    })
    .await?
    .map_err(|_| Refused::Internal("the workbook could not be written"))?;
    let ev = NewEvent::new(op.who.actor(), op.origin.clone(), Action::InventoryExported, Outcome::Success)
        .target("system", system_id.to_string())
        .changes(Changes::new().with("format", name).with("components", n));
    // Refused when the person's account changed meanwhile, as every export.
    op.store.audit_record_as(&op.ctx(), ev).await?;
    Ok((inv.system, bytes))
}

/// The names of the systems still in use among `systems`, by id: the lists
/// across systems (support ends, advisories) leave a retired system's
/// software out, as its alerts do ([`crate::live_system_names`]); its own
/// inventory page still shows it.
fn live_names(systems: &[SystemRecord]) -> std::collections::HashMap<i64, &str> {
    systems
        .iter()
        .filter(|s| s.input.phase != mamori_core::checklist::Phase::Retired)
        .map(|s| (s.id, s.input.name.as_str()))
        .collect()
}

/// A component with its system's name and how close its support end is.
pub struct Dated {
    pub system_id: i64,
    pub system_name: String,
    pub component: Component,
    pub support: Support,
}

/// The components with a support-end date in the systems the person may
/// see, soonest first; `warn_days` sets the warning window.
pub async fn dated(op: &Op<'_>, warn_days: u32) -> Result<Vec<Dated>, Refused> {
    let systems = crate::checklist::systems(op, &SystemFilter::default()).await?;
    let names = live_names(&systems);
    let today = mamori_core::jst::day(op.now);
    Ok(op
        .store
        .dated_components(seen_ids(op, &systems).as_deref())
        .await?
        .into_iter()
        .filter_map(|c| {
            let name = names.get(&c.system_id)?;
            Some(Dated {
                system_id: c.system_id,
                system_name: (*name).to_owned(),
                support: support(c.input.support_end, today, warn_days),
                component: c,
            })
        })
        .collect())
}

/// Imports a feed file (the security office): its kind is recognised from
/// the content; `Ok(Err(message))` when it is not one mamori reads.
pub async fn import_feed(op: &Op<'_>, file_name: &str, bytes: &[u8]) -> Result<Result<FeedImport, String>, Refused> {
    op.require(Permission::ManageCatalog)?;
    let name: String = file_name.chars().filter(|c| !mamori_core::text::hidden(*c)).take(200).collect();
    // A feed is up to 64 MB of JSON or XML: parsed off the request workers,
    // as uploaded workbooks are.
    let (owned, named) = (bytes.to_vec(), name.clone());
    let feed = match crate::off_the_workers(move || feeds::read(&owned, &named)).await? {
        Ok(f) => f,
        Err(e) => return Ok(Err(e.0)),
    };
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes));
    match feed {
        Feed::EndOfLife(products) => Ok(Ok(op.store.import_eol(&op.ctx(), &name, &sha256, &products).await?)),
        Feed::Ismap(list) => Ok(Ok(op.store.import_ismap(&op.ctx(), &name, &sha256, &list).await?)),
        Feed::Advisories(source, list) => {
            let done = op.store.import_advisories(&op.ctx(), &name, &sha256, source, &list).await?;
            alert_matches(op.store, op.now).await?;
            Ok(Ok(done))
        }
    }
}

/// New matches of one system (of one severity) alerted one by one in a
/// check; past them, in one alert for the system.
pub const MATCH_ALERTS_EACH: usize = 10;

/// Raises an alert for each match not alerted yet (after every change
/// that matches, and in the daily check, should a process have stopped in
/// between); critical from CVSS 9.0. An advisory new to several systems
/// in one check (the office's feed import: one flaw of a product many
/// systems run) is one alert naming the systems, not one a system (each a
/// message to the office). Of the rest, a system with more than
/// [`MATCH_ALERTS_EACH`] new ones of a severity has them in one alert,
/// naming the most severe: an inventory matching thousands of advisories
/// (a vendor's sheet, a first import of NVD) raised thousands of alerts,
/// each a transaction of its own. Returns the matches alerted.
pub async fn alert_matches(store: &mamori_store::Store, now: time::OffsetDateTime) -> Result<usize, StoreError> {
    use mamori_core::monitoring::{Severity, VULN_MATCHED};
    use mamori_store::vulns::VulnMatch;
    let pending = store.unalerted_matches().await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let names = crate::live_system_names(store).await?;
    let severity = |m: &VulnMatch| {
        if m.cvss.is_some_and(|s| s >= 9.0) {
            Severity::Critical
        } else {
            Severity::Warning
        }
    };
    let score = |m: &VulnMatch| m.cvss.map_or_else(|| "-".to_owned(), |s| format!("{s:.1}"));
    let mut raised = 0;
    let mut by_advisory: std::collections::BTreeMap<&str, Vec<&VulnMatch>> = Default::default();
    for m in pending.iter().filter(|m| names.contains_key(&m.system_id)) {
        by_advisory.entry(m.ident.as_str()).or_default().push(m);
    }
    let mut alerted = std::collections::HashSet::new();
    for (ident, found) in by_advisory {
        let mut systems: Vec<(&str, &VulnMatch)> = found.iter().map(|m| (names[&m.system_id].as_str(), *m)).collect();
        systems.sort_by(|a, b| a.0.cmp(b.0).then(a.1.system_id.cmp(&b.1.system_id)).then(a.1.id.cmp(&b.1.id)));
        systems.dedup_by_key(|(_, m)| m.system_id);
        if systems.len() < 2 {
            continue;
        }
        let mut products: Vec<&str> = found.iter().map(|m| m.product.as_str()).collect();
        products.sort_unstable();
        products.dedup();
        let subject = format!("{ident} ({}): {} システム (systems)", products.join("・"), systems.len());
        let named: Vec<String> = systems
            .iter()
            .take(MATCH_ALERTS_EACH)
            .map(|(name, m)| format!("{name} ({} {})", m.product, m.version))
            .collect();
        let more = systems.len().saturating_sub(MATCH_ALERTS_EACH);
        let first = found[0];
        let detail = format!(
            "CVSS {}: {} {} — {}{}",
            score(first),
            first.title,
            first.link,
            named.join("; "),
            if more > 0 { format!("; ほか {more} システム (and {more} more)") } else { String::new() }
        );
        let key = format!("advisory: {ident}");
        let alert = Raise {
            now,
            kind: VULN_MATCHED,
            severity: severity(first),
            subject: &subject,
            detail: &detail,
            key: Some(&key),
        };
        let ids: Vec<i64> = found.iter().map(|m| m.id).collect();
        raised += store.mark_matches_alerted(&ids, &alert).await? as usize;
        alerted.extend(ids);
    }
    let mut groups: std::collections::BTreeMap<(i64, bool), Vec<&VulnMatch>> = Default::default();
    for m in pending.iter().filter(|m| !alerted.contains(&m.id)) {
        // Of each system, the critical ones first.
        groups.entry((m.system_id, severity(m) != Severity::Critical)).or_default().push(m);
    }
    for ((system_id, lesser), mut found) in groups {
        let critical = !lesser;
        let Some(system) = names.get(&system_id).map(String::as_str) else { continue };
        if found.len() <= MATCH_ALERTS_EACH {
            for m in found {
                let (subject, key) =
                    about_system(system_id, system, &format!("{} {}: {}", m.product, m.version, m.ident));
                let detail = format!("CVSS {}: {} {}", score(m), m.title, m.link);
                let (kind, severity) = (VULN_MATCHED, severity(m));
                let alert = Raise { now, kind, severity, subject: &subject, detail: &detail, key: Some(&key) };
                if store.mark_match_alerted(m.id, &alert).await? {
                    raised += 1;
                }
            }
            continue;
        }
        found.sort_by(|a, b| b.cvss.unwrap_or(0.0).total_cmp(&a.cvss.unwrap_or(0.0)).then(a.id.cmp(&b.id)));
        let topic =
            if critical { "新しい重大な一致 (new critical matches)" } else { "新しい一致 (new matches)" };
        let (subject, key) = about_system(system_id, system, topic);
        let named: Vec<String> = found
            .iter()
            .take(MATCH_ALERTS_EACH)
            .map(|m| format!("{} (CVSS {}) {} {}", m.ident, score(m), m.product, m.version))
            .collect();
        let detail = format!("{} 件 ({} new), the most severe first: {}", found.len(), found.len(), named.join("; "));
        let severity = if critical { Severity::Critical } else { Severity::Warning };
        let alert = Raise { now, kind: VULN_MATCHED, severity, subject: &subject, detail: &detail, key: Some(&key) };
        let ids: Vec<i64> = found.iter().map(|m| m.id).collect();
        raised += store.mark_matches_alerted(&ids, &alert).await? as usize;
    }
    Ok(raised)
}

/// The longest reason recorded with a decision.
pub const MAX_REASON: usize = 2_000;

/// The largest sheet of components taken (the page's and the console's).
pub const MAX_SHEET: usize = 4 * 1024 * 1024;

/// Records what was decided about a match: 対応済 or 影響なし with its
/// reason (required), or open again. The system's keepers and the
/// security office, from the match as their page showed it (`seen`:
/// `Stale` when decided since).
pub async fn decide(
    op: &Op<'_>,
    (system_id, match_id, seen): (i64, i64, &str),
    state: MatchState,
    reason: &str,
) -> Result<(), Refused> {
    let s = system(op, system_id).await?;
    if !decides(op, &s) {
        return Err(Refused::NotFound);
    }
    let reason = reason.trim().replace("\r\n", "\n");
    let bad = reason.chars().count() > MAX_REASON || reason.chars().any(mamori_core::text::hidden_in_lines);
    if bad || (state != MatchState::Open && reason.is_empty()) {
        return Err(Refused::Invalid("reason"));
    }
    Ok(op.store.decide_match(&op.ctx(), (system_id, match_id, Some(seen)), state, &reason).await?)
}

/// The ids of `systems`, the person's, when they see fewer than every
/// system: the reads across systems then read theirs only.
pub(crate) fn seen_ids(op: &Op<'_>, systems: &[SystemRecord]) -> Option<Vec<i64>> {
    (op.who.scope() != mamori_core::scope::Scope::All).then(|| systems.iter().map(|s| s.id).collect())
}

/// A match with its system's name.
pub struct Found {
    pub system_name: String,
    pub m: VulnMatch,
}

/// The matches in the systems the person sees, most severe first.
pub async fn found(op: &Op<'_>) -> Result<Vec<Found>, Refused> {
    let systems = crate::checklist::systems(op, &SystemFilter::default()).await?;
    let names = live_names(&systems);
    let matches = match seen_ids(op, &systems) {
        Some(ids) => op.store.vuln_matches_in(&ids).await?,
        None => op.store.vuln_matches(None).await?,
    };
    Ok(matches
        .into_iter()
        .filter_map(|m| Some(Found { system_name: (*names.get(&m.system_id)?).to_owned(), m }))
        .collect())
}

/// The feed files imported, newest first (the security office).
pub async fn feed_imports(op: &Op<'_>) -> Result<Vec<FeedImport>, Refused> {
    op.require(Permission::ManageCatalog)?;
    Ok(op.store.feed_imports(100).await?)
}

/// The daily check (a job): raises an alert for each component whose
/// support ends within `warn_days` or has ended, once per step and date
/// (a changed date is alerted afresh). Returns the alerts raised.
pub async fn warn_support(
    store: &mamori_store::Store,
    now: time::OffsetDateTime,
    warn_days: u32,
) -> Result<usize, StoreError> {
    use mamori_core::monitoring::{Severity, SUPPORT_ENDED, SUPPORT_ENDING};
    let today = mamori_core::jst::day(now);
    let names = crate::live_system_names(store).await?;
    let mut raised = 0;
    for c in store.dated_components(None).await? {
        let Some(system) = names.get(&c.system_id).map(String::as_str) else { continue };
        let s = support(c.input.support_end, today, warn_days);
        let (kind, severity, detail) = match s {
            Support::Ending { on, days } => (
                SUPPORT_ENDING,
                Severity::Warning,
                format!("サポート終了まで {days} 日 ({on} まで) (support ends in {days} days)"),
            ),
            Support::Ended { on } => {
                (SUPPORT_ENDED, Severity::Critical, format!("サポートは {on} に終了しました (support ended)"))
            }
            Support::Unknown | Support::Supported { .. } => continue,
        };
        if !s.newly_due(c.warned) {
            continue;
        }
        let topic = format!("{} {} ({})", c.input.product, c.input.version, c.input.runs_on);
        let (subject, key) = about_system(c.system_id, system, &topic);
        let alert = Raise { now, kind, severity, subject: &subject, detail: &detail, key: Some(&key) };
        if store.mark_component_warned(c.id, s.state(), &alert).await? {
            raised += 1;
        }
    }
    Ok(raised)
}
