//! Item 68: each system's yearly report, its sign-offs, its due date and
//! its receipt by the security office; reminders before it falls due.

use crate::checklist::system;
use crate::{Op, Refused};
use mamori_core::checklist::{AnswerStatus, Review, WorkflowError};
use mamori_core::identity::Permission;
use mamori_core::jst::JST;
use mamori_core::verification::CheckId;
use mamori_core::yearly::{
    due_date, due_state, years_to_watch, DueState, Frozen, OpenItem, SignoffKind, YearlyReport, YearlySignoff,
    PORTS_HIDDEN, SCAN_SECTION,
};
use mamori_store::StoreError;

/// The report month of system `id`: its own, or `default`.
async fn month_of(op: &Op<'_>, id: i64, default: u8) -> Result<u8, Refused> {
    Ok(op.store.report_month(id).await?.unwrap_or(default))
}

/// The yearly report of system `id` for `year` (report month `default`
/// unless the system has its own).
pub async fn report(op: &Op<'_>, id: i64, year: i32, default: u8) -> Result<YearlyReport, Refused> {
    let s = system(op, id).await?;
    if !(2000..=9999).contains(&year) {
        return Err(Refused::Invalid("year"));
    }
    let store = op.store;
    let month = month_of(op, id, default).await?;
    let due = due_date(year, month).ok_or(Refused::Invalid("month"))?;
    let received = store.yearly_received(s.id, year).await?;
    // Received with what it said then: shown from that, and nothing is
    // read again.
    let kept = match &received {
        Some(_) => store.yearly_frozen(s.id, year).await?,
        None => None,
    };
    if let (Some((_, at)), Some(json)) = (&received, kept) {
        let frozen = thaw(&json, (s.id, year), op.who.can(Permission::ViewPortDetails))?;
        return Ok(YearlyReport {
            as_of: at.to_offset(JST).date(),
            frozen: Some(frozen),
            system: crate::reports::heading(&s),
            year,
            due,
            received,
            signoffs: Vec::new(),
            scan: None,
            diagnosis: Vec::new(),
            open_items: Vec::new(),
            software: Vec::new(),
            open_vulns: Vec::new(),
            records: Vec::new(),
            generated_at: op.now,
        });
    }
    let catalog = store.catalog(s.catalog_version_id).await?;
    let figures = store.figures(std::slice::from_ref(&s)).await?;
    let applicable: Vec<u32> = figures.first().map(|f| f.items.iter().map(|i| i.number).collect()).unwrap_or_default();
    let today = op.now.to_offset(JST).date();
    let middle =
        |n: u32| catalog.requirements.iter().find(|r| r.number == n).map(|r| r.middle.clone()).unwrap_or_default();
    let answers = store.answers(s.id, s.round).await?;
    // Not answered at all is open too: the report on the state of the
    // measures (item 68) said 「ありません」 for a round nobody answered.
    let unanswered: Vec<OpenItem> = applicable
        .iter()
        .filter(|n| !answers.iter().any(|a| a.number == **n))
        .map(|&number| OpenItem {
            number,
            middle: middle(number),
            status: None,
            overdue: false,
            measures: String::new(),
            planned: None,
        })
        .collect();
    let mut open_items: Vec<OpenItem> = answers
        .into_iter()
        .filter(|a| applicable.contains(&a.number))
        .filter(|a| matches!(a.input.status, AnswerStatus::NotDone | AnswerStatus::Partial))
        .map(|a| OpenItem {
            number: a.number,
            middle: middle(a.number),
            status: Some(a.input.status),
            overdue: a.input.overdue(today),
            measures: a.input.measures,
            planned: a.input.planned,
        })
        .chain(unanswered)
        .collect();
    open_items.sort_by_key(|i| i.number);
    let scan = store.last_report(s.id).await?;
    let port_details = op.who.can(Permission::ViewPortDetails);
    let scan = scan.and_then(|run| {
        let at = run.finished_at?;
        let rows = run
            .report?
            .targets
            .iter()
            .flat_map(|t| {
                t.checks.iter().map(move |c| {
                    let check = mamori_core::report::check_word(c.id).to_owned();
                    let summary = if c.id == CheckId::Ports && !port_details {
                        PORTS_HIDDEN.to_owned()
                    } else {
                        c.summary.clone()
                    };
                    (t.target.clone(), check, c.verdict, summary)
                })
            })
            .collect();
        Some((at, rows))
    });
    // Item 78's report, uploaded to the answer or linked from the library
    // (the revision the link shows), with the review of the answer: a file
    // the office has not approved is the vendor's claim only.
    let review = store.answer(s.id, s.round, 78).await?.map_or(Review::Pending, |a| a.review);
    let mut diagnosis: Vec<_> = store
        .evidence_for(s.id, s.round, 78)
        .await?
        .into_iter()
        .map(|e| (e.original_name, e.sha256, e.uploaded_at, review))
        .collect();
    diagnosis.extend(
        store
            .document_links(s.id, s.round)
            .await?
            .into_iter()
            .filter(|l| l.number == 78)
            .map(|l| (format!("{} ({})", l.title, l.shows.original_name), l.shows.sha256, l.shows.uploaded_at, review)),
    );
    let signoffs = store
        .signoffs(s.id, year)
        .await?
        .into_iter()
        .map(|x| YearlySignoff { kind: x.kind, comment: x.comment, by: x.actor_login, at: x.at })
        .collect();
    // The inventory and the records as they stood when the office received
    // the report (a received report does not change afterwards), else as
    // they stand now; the advisories still open today.
    let at = received.as_ref().map_or(op.now, |(_, at)| *at);
    let as_of = at.to_offset(JST).date();
    let software = store
        .components_as_of(s.id, at)
        .await?
        .into_iter()
        .map(|c| {
            let state = mamori_core::inventory::support(c.support_end, as_of, mamori_core::inventory::WARN_DAYS);
            [
                c.kind.word().to_owned(),
                c.product,
                c.version,
                c.runs_on,
                c.support_end.map(|d| d.to_string()).unwrap_or_default(),
                state.word(),
                c.reason,
            ]
        })
        .collect();
    let records = store
        .records_as_of(s.id, at)
        .await?
        .into_iter()
        .map(|r| {
            let date = mamori_core::records::due(r.kind, &r.values).map(|(d, _)| d.to_string()).unwrap_or_default();
            [r.kind.word().to_owned(), r.title, date, mamori_core::records::summary(r.kind, &r.values)]
        })
        .collect();
    let open_vulns = store
        .vuln_matches(Some(s.id))
        .await?
        .into_iter()
        .filter(|m| m.state == mamori_core::vulns::MatchState::Open)
        .map(|m| {
            let how = if m.version_checked {
                "バージョンで一致"
            } else {
                "製品名のみ一致 (バージョン要確認)"
            };
            [
                m.ident,
                m.cvss.map_or_else(|| "-".into(), |v| format!("{v:.1}")),
                format!("{} {}", m.product, m.version),
                how.into(),
            ]
        })
        .collect();
    Ok(YearlyReport {
        frozen: None,
        as_of,
        records,
        software,
        open_vulns,
        system: crate::reports::heading(&s),
        year,
        due,
        received,
        signoffs,
        scan,
        diagnosis,
        open_items,
        generated_at: op.now,
    })
}

/// The vendor or the department signs off the year's review of the
/// system's administrator accounts or logs, with a comment: this year's or
/// an earlier one's.
pub async fn sign_off(op: &Op<'_>, id: i64, year: i32, kind: SignoffKind, comment: &str) -> Result<(), Refused> {
    op.require(Permission::SignOffReviews)?;
    system(op, id).await?;
    // A year's review is signed in that year or after, never ahead.
    if year > op.now.to_offset(mamori_core::jst::JST).year() {
        return Err(Refused::Invalid("year"));
    }
    // A retired system reports no more (`due_of`): nothing to sign off
    // (judged under the system's lock).
    match op.store.add_signoff(&op.ctx(), id, year, kind, comment).await {
        Err(StoreError::Refused(WorkflowError::Retired)) => Err(Refused::Invalid("retired")),
        done => Ok(done?),
    }
}

/// The security office sets the month a system's yearly report is due.
pub async fn set_month(op: &Op<'_>, id: i64, month: u8) -> Result<(), Refused> {
    op.require(Permission::ManageSystems)?;
    system(op, id).await?;
    if !(1..=12).contains(&month) {
        return Err(Refused::Invalid("month"));
    }
    Ok(op.store.set_report_month(&op.ctx(), id, month).await?)
}

/// A received report's words (`json`, [`Frozen`]) as the reader may see them:
/// the open ports' details to those who may see them only.
fn thaw(json: &str, (id, year): (i64, i32), port_details: bool) -> Result<Frozen, Refused> {
    let mut f: Frozen = serde_json::from_str(json)
        .map_err(|e| mamori_store::StoreError::Corrupt(format!("yearly report {id}/{year}: {e}")))?;
    if !port_details {
        let ports = mamori_core::report::check_word(CheckId::Ports);
        for row in f.sections.get_mut(SCAN_SECTION).into_iter().flatten() {
            if row.get(2).is_some_and(|c| c == ports) && row.len() > 4 {
                row[4] = PORTS_HIDDEN.to_owned();
            }
        }
    }
    Ok(f)
}

/// What a report says, as a mark its page's receipt carries ([`receive`]).
pub fn mark(r: &YearlyReport) -> String {
    use sha2::Digest;
    let words = serde_json::to_vec(&r.freeze()).unwrap_or_default();
    hex::encode(sha2::Sha256::digest(&words))
}

/// The security office records the year's report as received (once),
/// with what it says now: shown from then on as it was received. `shown`
/// is the [`mark`] of the report as its page showed it: a report that
/// reads otherwise by now (a sign-off, a record, a scan or an advisory
/// come in since the page was opened) is refused as stale, not received
/// unseen.
pub async fn receive(op: &Op<'_>, id: i64, year: i32, default: u8, shown: &str) -> Result<(), Refused> {
    op.require(Permission::ManageSystems)?;
    // The system's revision before the report is read: a sign-off, a
    // record or an answer written after it moves it, and the receipt is
    // refused as stale rather than freezing a report without it.
    let seen = op.store.system(id).await?.ok_or(Refused::NotFound)?.revision;
    let mut r = report(op, id, year, default).await?;
    if r.received.is_some() {
        return Err(Refused::Taken);
    }
    if mark(&r) != shown {
        return Err(Refused::Stale);
    }
    r.received = Some((op.who.login.clone(), op.now));
    let frozen = serde_json::to_string(&r.freeze())
        .map_err(|e| mamori_store::StoreError::Corrupt(format!("yearly report {id}/{year}: {e}")))?;
    Ok(op.store.receive_yearly(&op.ctx(), id, year, Some(&frozen), seen).await?)
}

/// A yearly report that needs attention: due soon or overdue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub system_id: i64,
    pub system: String,
    pub year: i32,
    pub due: time::Date,
    pub state: DueState,
}

/// The yearly reports of the systems the person may see that are due
/// within the reminder period or overdue, most urgent first. Retired
/// systems report no more.
pub async fn due_reports(op: &Op<'_>, default: u8) -> Result<Vec<Due>, Refused> {
    op.require(Permission::ViewSystems)?;
    let systems = crate::checklist::systems(op, &Default::default()).await?;
    Ok(due_of(op.store, &systems, op.now, default).await?)
}

/// The yearly reports of `systems` due within the reminder period or
/// overdue on `now`'s day in Japan, most urgent first.
pub(crate) async fn due_of(
    store: &mamori_store::Store,
    systems: &[mamori_store::systems::SystemRecord],
    now: time::OffsetDateTime,
    default: u8,
) -> Result<Vec<Due>, mamori_store::StoreError> {
    let today = now.to_offset(JST).date();
    let years = years_to_watch(today);
    let months = store.report_months().await?;
    let received = store.received_reports(&years).await?;
    let mut out = Vec::new();
    for s in systems.iter().filter(|s| s.input.phase != mamori_core::checklist::Phase::Retired) {
        let month = months.get(&s.id).copied().unwrap_or(default);
        let registered = s.created_at.to_offset(JST).date();
        for year in years {
            let Some(due) = due_date(year, month) else { continue };
            // A system registered after a due date owes no report for that year.
            if due < registered {
                continue;
            }
            let state = due_state(today, due, received.contains(&(s.id, year)));
            if matches!(state, DueState::Soon { .. } | DueState::Overdue { .. }) {
                out.push(Due { system_id: s.id, system: s.input.name.clone(), year, due, state });
            }
        }
    }
    out.sort_by_key(|d| d.due);
    Ok(out)
}
