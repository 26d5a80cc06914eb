//! The checklist of one system: seeing it, answering, submitting, the
//! review, a new round, what applies, its catalog version, and scans
//! (PRODUCT.md steps 2–5).

use crate::{Op, Refused};
use mamori_core::checklist::{round_open, AnswerInput, Phase, Review, SystemStatus, WorkflowError};
use mamori_core::identity::{Permission, Role};
use mamori_core::parties::Party;
use mamori_store::scans::Requested;
use mamori_store::systems::{AnswerChange, SystemFilter, SystemInput, SystemRecord};
use mamori_store::Seen;

/// The systems the person may see, narrowed by `filter`.
pub async fn systems(op: &Op<'_>, filter: &SystemFilter) -> Result<Vec<SystemRecord>, Refused> {
    op.require(Permission::ViewSystems)?;
    Ok(op.store.systems(op.who.scope(), filter).await?)
}

/// One system, if it exists and the person may see it (otherwise
/// `NotFound`, so not even its existence leaks).
pub async fn system(op: &Op<'_>, id: i64) -> Result<SystemRecord, Refused> {
    op.require(Permission::ViewSystems)?;
    match op.store.system(id).await? {
        Some(s) if op.who.scope().allows(&s.input.parties()) => Ok(s),
        _ => Err(Refused::NotFound),
    }
}

/// Registers a system (the security office). It may start in any phase
/// but 廃止: a system already running when the ward starts with mamori is
/// registered as such, but retiring waits for the disposal record of item
/// 79 among the system's records, which a new system has none of.
pub async fn create_system(op: &Op<'_>, input: &SystemInput, catalog_version: i64) -> Result<i64, Refused> {
    op.require(Permission::ManageSystems)?;
    if input.phase == Phase::Retired {
        return Err(Refused::Invalid("retired"));
    }
    Ok(op.store.create_system(&op.ctx(), input, catalog_version).await?)
}

/// Changes a system's registration (the security office), if it is still
/// as the form showed it (mark `seen`, `Refused::Stale` if not).
pub async fn update_system(op: &Op<'_>, id: i64, input: &SystemInput, seen: &str) -> Result<(), Refused> {
    op.require(Permission::ManageSystems)?;
    system(op, id).await?;
    // The workflow's rules (a phase's duties, 廃止's disposal record) and
    // the mark are the store's, under the system's lock.
    Ok(op.store.update_system_seen(&op.ctx(), id, input, Some(seen)).await?)
}

/// The organisation a person answers for: answering takes the
/// permission and an organisation.
pub(crate) fn answering_org(op: &Op<'_>) -> Result<i64, Refused> {
    op.require(Permission::AnswerChecklist)?;
    op.who.organisation_id.ok_or(Refused::NotFound)
}

/// Saves an answer (the organisation that answers the item): the workflow
/// decides inside the write whether it may change now, and a decided item
/// goes back to 審査待ち. Another party's item is `NotFound`; an answer
/// no longer at revision `seen` (the one the form showed, 0 for none yet)
/// is `Stale`.
pub async fn save_answer(op: &Op<'_>, id: i64, number: u32, input: &AnswerInput, seen: i64) -> Result<(), Refused> {
    let org = answering_org(op)?;
    system(op, id).await?;
    let change = AnswerChange { number, input: input.clone(), on_revision: Some(seen) };
    Ok(op.store.save_answers_by(&op.ctx(), id, (Some(org), None), std::slice::from_ref(&change)).await?)
}

/// Submits the person's organisation's part; the last part in submits the
/// system to the officer.
pub async fn submit(op: &Op<'_>, id: i64) -> Result<(), Refused> {
    let org = answering_org(op)?;
    system(op, id).await?;
    Ok(op.store.submit_part(&op.ctx(), id, org).await?)
}

/// Moves one item to another party for this system (the security office).
pub async fn move_item(op: &Op<'_>, id: i64, number: u32, party: Party) -> Result<(), Refused> {
    op.require(Permission::ManageSystems)?;
    system(op, id).await?;
    Ok(op.store.move_item(&op.ctx(), id, number, party).await?)
}

/// Approves or returns one answer, as the officer saw it.
pub async fn decide(
    op: &Op<'_>,
    id: i64,
    number: u32,
    seen: &Seen,
    decision: Review,
    comment: &str,
) -> Result<(), Refused> {
    op.require(Permission::ReviewAnswers)?;
    if decision == Review::Pending {
        return Err(Refused::Invalid("decision"));
    }
    system(op, id).await?;
    Ok(op.store.decide(&op.ctx(), id, number, seen, decision, comment).await?)
}

/// The most answers approved at once (a catalog has fewer).
pub const MAX_APPROVALS: usize = 500;

/// Approves several answers at once, as the officer saw them on the
/// system's page at the system's `seen_revision` ([`Store::approve_seen`]
/// in `mamori_store`): all or none. Returns how many were approved.
pub async fn approve_many(op: &Op<'_>, id: i64, seen_revision: i64, numbers: &[u32]) -> Result<usize, Refused> {
    op.require(Permission::ReviewAnswers)?;
    if numbers.is_empty() || numbers.len() > MAX_APPROVALS {
        return Err(Refused::Invalid("numbers"));
    }
    system(op, id).await?;
    Ok(op.store.approve_seen(&op.ctx(), id, seen_revision, numbers).await?)
}

/// Finishes the review; returns the system's new status.
pub async fn finish_review(op: &Op<'_>, id: i64) -> Result<mamori_core::checklist::SystemStatus, Refused> {
    op.require(Permission::ReviewAnswers)?;
    system(op, id).await?;
    Ok(op.store.finish_review(&op.ctx(), id).await?)
}

/// Starts next year's round from the approved one (the security office).
pub async fn start_round(op: &Op<'_>, id: i64, due_on: Option<time::Date>) -> Result<i64, Refused> {
    op.require(Permission::ManageSystems)?;
    system(op, id).await?;
    Ok(op.store.start_round(&op.ctx(), id, due_on).await?)
}

/// The most systems whose rounds start at once (a ward has a few hundred).
pub const MAX_ROUNDS_AT_ONCE: usize = 1_000;

/// The systems whose next round may start together (the security office at
/// the start of a year): approved and not retired, as the person sees them.
pub async fn round_candidates(op: &Op<'_>) -> Result<Vec<SystemRecord>, Refused> {
    op.require(Permission::ManageSystems)?;
    let approved = SystemFilter { status: Some(SystemStatus::Approved), ..SystemFilter::default() };
    let mut list = op.store.systems(op.who.scope(), &approved).await?;
    list.retain(|s| round_open(s.input.phase).is_ok());
    Ok(list)
}

/// What became of one system in [`start_rounds`]: its name, when the
/// person sees it, and its new round or why not.
pub struct RoundStart {
    pub id: i64,
    pub name: Option<String>,
    pub result: Result<i64, Refused>,
}

/// Starts the next round of each of `ids` that is approved, due on
/// `due_on`: each as [`start_round`] does, in its own transaction with its
/// own audit event, so one refused leaves the others started. A system
/// not approved (a round started meanwhile, or never offered) is left as
/// it is, with the reason; one the person does not see is `NotFound`.
/// Returns, in the order given, what became of each.
pub async fn start_rounds(op: &Op<'_>, ids: &[i64], due_on: Option<time::Date>) -> Result<Vec<RoundStart>, Refused> {
    op.require(Permission::ManageSystems)?;
    if ids.is_empty() || ids.len() > MAX_ROUNDS_AT_ONCE {
        return Err(Refused::Invalid("systems"));
    }
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        let (name, result) = match system(op, id).await {
            Ok(s) if s.status != SystemStatus::Approved => {
                (Some(s.input.name), Err(Refused::Workflow(WorkflowError::NotNow(s.status))))
            }
            // Seen and approved: the store decides the rest under the lock.
            Ok(s) => {
                let started = op.store.start_approved_round(&op.ctx(), id, due_on).await;
                (Some(s.input.name), started.map_err(Refused::from))
            }
            Err(e) => (None, Err(e)),
        };
        // The person's account changed while the rounds were started: the
        // rest are theirs no more to start (those started stay started).
        if let Err(Refused::AccountChanged) = result {
            return Err(Refused::AccountChanged);
        }
        out.push(RoundStart { id, name, result });
    }
    Ok(out)
}

/// Decides that one requirement does or does not apply, with a reason.
pub async fn set_override(op: &Op<'_>, id: i64, number: u32, applies: bool, reason: &str) -> Result<(), Refused> {
    op.require(Permission::ManageSystems)?;
    system(op, id).await?;
    Ok(op.store.set_override(&op.ctx(), id, number, applies, reason).await?)
}

/// Moves a system to another catalog version, on purpose.
pub async fn change_catalog(op: &Op<'_>, id: i64, version: i64) -> Result<(), Refused> {
    op.require(Permission::ManageSystems)?;
    let s = system(op, id).await?;
    if !op.store.catalog_versions().await?.iter().any(|v| v.id == version) {
        return Err(Refused::Invalid("version"));
    }
    // The workflow rule is the store's, under the system's lock.
    Ok(op.store.change_catalog_version(&op.ctx(), s.id, version).await?)
}

/// Queues a scan of the system's URLs and hosts (the worker runs it). A
/// vendor's requests are spaced by `vendor_gap` per system: the scan
/// contacts the vendor's servers from the ward's network, and is not a
/// tool to be run at will.
pub async fn queue_scan(op: &Op<'_>, id: i64, vendor_gap: time::Duration) -> Result<(), Refused> {
    op.require(Permission::RequestScans)?;
    let s = system(op, id).await?;
    // A retired system's servers are gone with its disposal record: its
    // addresses may be another's by now, and are scanned no more.
    if s.input.phase == Phase::Retired {
        return Err(Refused::Invalid("retired"));
    }
    if s.input.urls.is_empty() && s.input.hosts.is_empty() {
        return Err(Refused::Invalid("urls"));
    }
    let gap = (op.who.role == Role::Vendor).then_some(vendor_gap);
    match op.store.request_scan(&op.ctx(), id, gap).await? {
        Requested::Queued(_) | Requested::Pending(_) => Ok(()),
        Requested::TooSoon(next) => Err(Refused::TooSoon(next)),
    }
}

/// The security office confirms the address a system's host name moved to
/// since its first scan; scans of the name go on at the new address.
/// `Stale` when the name moved again since the page showed `seen`.
pub async fn confirm_scan_address(op: &Op<'_>, id: i64, host: &str, seen: &str) -> Result<(), Refused> {
    op.require(Permission::ViewPortDetails)?;
    op.require(Permission::ManageSystems)?;
    let s = system(op, id).await?;
    match op.store.confirm_scan_address(&op.ctx(), s.id, host, Some(seen)).await {
        Err(mamori_store::StoreError::Missing) => Err(Refused::Invalid("host")),
        other => Ok(other?),
    }
}
