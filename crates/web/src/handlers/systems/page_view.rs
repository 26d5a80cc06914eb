//! The system page's view: its requirements, answers, who answers them, its
//! latest scan, and the forms of the workflow's steps. Shown by `page.rs`,
//! and again with a message by the handlers of those forms (`steps.rs`,
//! `approvals.rs`).

use super::item_list::{ItemList, Items, RowFilter};
use super::{scan_line, ScanLine};
use crate::handlers::today;
use crate::handlers::Reply;
use crate::handlers::{html, jst};

use crate::auth::CurrentUser;
use crate::forms::FormErrors;
use crate::page::{Page, PageCtx};
use askama::Template;
use mamori_core::checklist::{self, Progress, Review, SystemStatus, WorkflowError};
use mamori_core::identity::Permission;
use mamori_core::parties::Party;
use mamori_core::verification::ScanReport;
use mamori_store::scans::{ScanStatus, UNCONFIRMED};
use mamori_store::systems::SystemRecord;
use std::sync::Arc;

// ----- one system -------------------------------------------------------------------------

/// One organisation's part of the round.
pub struct PartRow {
    name: String,
    parties: String,
    items: usize,
    answered: usize,
    /// "提出済 (date login)", or empty while it is answered.
    submitted: String,
    yours: bool,
}

#[derive(Template)]
#[template(path = "system.html")]
struct SystemPage<'a> {
    p: PageCtx<'a>,
    s: SystemRecord,
    phase: String,
    status: String,
    attrs: Vec<String>,
    counts: Progress,
    /// The item list, rendered (kept per data revision).
    items: Arc<ItemList>,
    can_manage: bool,
    can_submit: bool,
    /// Retired: the round is closed as it stood.
    round_closed: bool,
    /// The person's part is in; the others are not.
    part_waiting: bool,
    /// How many items the person's organisation answers.
    my_items: usize,
    can_finish: bool,
    /// Some item may be decided now (the list offers approval).
    can_review: bool,
    parts: Vec<PartRow>,
    /// The officer's moves: number, party, by whom.
    moves: Vec<(u32, String, String)>,
    party_choices: Vec<(String, String)>,
    missing: Vec<u32>,
    overrides: Vec<(u32, String, String)>,
    versions: Vec<(i64, String)>,
    can_scan: bool,
    /// Host names that moved to another network since the first scan, or
    /// whose first address awaits confirmation: (host, recorded (`None`:
    /// none yet), new, the new address as the form confirms it), shown to
    /// the security office.
    moved: Vec<(String, Option<String>, String, String)>,
    /// Each host name's address as recorded at its first scan (or as
    /// confirmed since), with its network: the office's to check, since
    /// the first is taken as registered. Shown to the office only.
    recorded: Vec<(String, String)>,
    scan_status: String,
    scan_rows: Vec<ScanLine>,
    errors: FormErrors,
    /// Every pending item's box ticked (`?select=pending`).
    select_pending: bool,
    /// Returned items not yet answered again (they stop the submission).
    returned: Vec<u32>,
    /// The list's filters: key, label, rows it shows, chosen.
    filters: Vec<(&'static str, String, usize, bool)>,
    /// Items answered and not yet decided (the officer is told before
    /// finishing the review).
    undecided: usize,
    /// The duties of 本稼働 a running system never had approved (it was
    /// registered as running, or became a web system while running).
    unproven: Vec<u32>,
}

pub(super) async fn system_page(page: &Page, user: &CurrentUser, s: SystemRecord, errors: FormErrors) -> Reply {
    system_page_selecting(page, user, s, errors, false).await
}

pub(super) async fn system_page_selecting(
    page: &Page,
    user: &CurrentUser,
    s: SystemRecord,
    errors: FormErrors,
    select_pending: bool,
) -> Reply {
    system_page_with(page, user, s, errors, select_pending, "").await
}

pub(super) async fn system_page_with(
    page: &Page,
    user: &CurrentUser,
    s: SystemRecord,
    errors: FormErrors,
    select_pending: bool,
    show: &str,
) -> Reply {
    // The catalog (parsed once) and the figures kept per revision: no
    // answer is read while the system has not changed.
    let catalog = page.store.catalog(s.catalog_version_id).await?;
    let figures = page.store.figures(std::slice::from_ref(&s)).await?;
    let figures = figures.first().ok_or_else(|| crate::error::AppError::Internal("no figures".into()))?;
    let overrides = if user.can(Permission::ManageSystems) { page.store.overrides(s.id).await? } else { Vec::new() };
    let today = today(page);
    let scan = page.store.scans(s.id, 1).await?.into_iter().next();
    // The verdicts are the newest finished scan's: a run queued, running or
    // failed since has none, and hid them (the workbook showed them).
    let finished = page.store.last_report(s.id).await?;
    let addresses =
        if user.can(Permission::ViewPortDetails) { page.store.scan_addresses(s.id).await? } else { Vec::new() };
    let recorded = addresses
        .iter()
        .filter(|a| a.address != UNCONFIRMED)
        .map(|a| (a.host.clone(), format!("{} ({})", a.address, a.network)))
        .collect();
    let moved = addresses
        .into_iter()
        .filter_map(|a| {
            let (to, net) = (a.pending_address?, a.pending_network?);
            let was = (a.address != UNCONFIRMED).then(|| format!("{} ({})", a.address, a.network));
            Some((a.host, was, format!("{to} ({net})"), to))
        })
        .collect();
    let no_report = ScanReport::default();
    let report = finished.as_ref().and_then(|r| r.report.as_ref()).unwrap_or(&no_report);
    let p = page.ctx().await?;
    let scan_status = match &scan {
        None => p.t.get("scan-never"),
        Some(r) => match r.status {
            ScanStatus::Queued | ScanStatus::Running => p.t.get("scan-pending"),
            ScanStatus::Done | ScanStatus::Failed => p.t.with("scan-done-at", &[("at", &jst(r.finished_at))]),
        },
    };
    // Which ports are open is a map of the network: the officer's only.
    let port_details = user.can(Permission::ViewPortDetails);
    let scan_rows = report
        .targets
        .iter()
        .flat_map(|t| t.checks.iter().map(|c| scan_line(&p.t, &t.target, c, port_details)))
        .collect();
    let who = super::Answerers::of(page, &s).await?;
    // A retired system's round is closed as it stood: nothing to answer,
    // submit or decide.
    let open = checklist::round_open(s.input.phase).is_ok();
    let may_review = user.can(Permission::ReviewAnswers) && open;
    let filter = RowFilter::parse(show);
    let key = format!("{:?}", (s.id, today, p.t.lang, may_review, select_pending, filter));
    let items = page
        .store
        .remember("system-items", key, async || {
            let list = Items { page, s: &s, catalog: &catalog, figures, report, who: &who, today };
            list.render(&p.t, may_review, select_pending, filter).await.map(Arc::new)
        })
        .await?;
    let applicable: Vec<u32> = figures.items.iter().map(|i| i.number).collect();
    let decided =
        figures.items.iter().filter_map(|i| i.answer.as_ref().map(|(_, review)| (i.number, *review))).collect();
    let duties: Vec<(i64, u32)> =
        checklist::unproven_duties(s.input.phase, &applicable, &[]).into_iter().map(|n| (s.id, n)).collect();
    let unproven: Vec<u32> = if duties.is_empty() {
        Vec::new()
    } else {
        let left = page.store.remember("never-met", s.id.to_string(), async || page.store.never_met(&duties).await);
        left.await?.into_iter().map(|(_, n)| n).collect()
    };
    let mine: Vec<u32> = user.answers_for().map(|o| who.parts.numbers_of(o)).unwrap_or_default();
    let items_mine: Vec<_> =
        checklist::item_states(&applicable, &decided).into_iter().filter(|i| mine.contains(&i.number)).collect();
    // What stops the submission of the person's part: items not answered,
    // and returned items not answered again, named apart.
    let (returned, missing): (Vec<u32>, Vec<u32>) = match checklist::submit(s.status, &items_mine) {
        Err(WorkflowError::Unanswered(m)) => {
            m.into_iter().partition(|n| items_mine.iter().any(|i| i.number == *n && i.review == Review::Returned))
        }
        _ => (vec![], vec![]),
    };
    // The list's filters, with how many rows each shows.
    let filters = RowFilter::ALL
        .iter()
        .zip(items.filter_counts)
        .map(|(f, count)| (f.key(), p.t.get(f.label()), count, *f == filter))
        .collect();
    let can_review = !items.reviewable.is_empty();
    let my_part_in = user.answers_for().is_some_and(|o| who.parts.is_submitted(o));
    let parts = who
        .parts
        .organisations()
        .into_iter()
        .map(|org| {
            let numbers = who.parts.numbers_of(org);
            let held: std::collections::BTreeSet<Party> = numbers.iter().filter_map(|n| who.parts.party(*n)).collect();
            let parties: Vec<String> = held.into_iter().map(|x| p.t.label(x)).collect();
            PartRow {
                name: who.name(org).to_owned(),
                parties: parties.join("、"),
                items: numbers.len(),
                answered: figures.items.iter().filter(|i| numbers.contains(&i.number) && i.answer.is_some()).count(),
                submitted: who
                    .parts
                    .submission(org)
                    .map(|x| {
                        let by = super::actor_name(&p.t, &x.actor_login);
                        p.t.with("parts-submitted", &[("at", &jst(Some(x.at))), ("by", &by)])
                    })
                    .unwrap_or_default(),
                yours: user.answers_for() == Some(org),
            }
        })
        .collect();
    let moves = page
        .store
        .item_moves(s.id)
        .await?
        .into_iter()
        .map(|m| (m.number, p.t.label(m.party), super::actor_name(&p.t, &m.actor_login)))
        .collect();
    let attrs = [
        (s.input.attrs.uses_servers, "attr-uses-servers"),
        (s.input.attrs.web_system, "attr-web-system"),
        (s.input.attrs.external_service, "attr-external-service"),
        (s.input.attrs.confidentiality_high, "attr-confidentiality-high"),
        (s.input.attrs.integrity_high, "attr-integrity-high"),
        (s.input.attrs.availability_high, "attr-availability-high"),
        (s.input.attrs.cloud_only, "attr-cloud-only"),
        (s.input.attrs.ward_domain, "attr-ward-domain"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, k)| p.t.get(k))
    .collect();
    html(SystemPage {
        phase: p.t.label(s.input.phase),
        status: p.t.label(s.status),
        attrs,
        counts: items.counts,
        can_manage: user.can(Permission::ManageSystems),
        can_submit: open && !mine.is_empty() && checklist::can_change_part(s.status, my_part_in).is_ok(),
        round_closed: !open,
        part_waiting: !mine.is_empty() && my_part_in && s.status != SystemStatus::Submitted,
        my_items: mine.len(),
        can_finish: may_review && s.status == SystemStatus::Submitted,
        can_review,
        parts,
        moves,
        party_choices: Party::ALL.iter().map(|x| (x.as_str().to_owned(), p.t.label(*x))).collect(),
        missing,
        returned,
        filters,
        overrides: overrides.iter().map(|o| (o.number, o.reason.clone(), o.actor_login.clone())).collect(),
        versions: page
            .store
            .catalog_versions()
            .await?
            .into_iter()
            .map(|v| (v.id, format!("{} {}", v.id, v.label)))
            .collect(),
        can_scan: user.can(Permission::RequestScans)
            && s.input.phase != checklist::Phase::Retired
            && !(s.input.urls.is_empty() && s.input.hosts.is_empty()),
        moved,
        recorded,
        scan_status,
        scan_rows,
        errors,
        select_pending,
        undecided: items.undecided,
        unproven,
        items,
        p,
        s,
    })
}
