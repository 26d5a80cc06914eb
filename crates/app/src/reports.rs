//! Reports: the filled checklist of one system as a document (the workbook,
//! the CSV, the print page), for everyone who may see the system.

use crate::checklist::system;
use crate::{Op, Refused};
use futures_util::{StreamExt, TryStreamExt};
use mamori_core::jst::JST;
use mamori_core::report::{ChecklistReport, ReportAnswer, ReportAuto, ReportRow, SystemHeading};
use mamori_core::verification::verified_points;
use mamori_store::systems::{SystemFilter, SystemRecord};
use std::collections::HashMap;

/// The filled checklist of system `id` as it stands now. Every requirement
/// of its catalog version is a row; those that do not apply say why.
pub async fn checklist(op: &Op<'_>, id: i64) -> Result<ChecklistReport, Refused> {
    let s = system(op, id).await?;
    let figures = op.store.figures(std::slice::from_ref(&s)).await?;
    let applicable: Vec<u32> = figures.first().map(|f| f.items.iter().map(|i| i.number).collect()).unwrap_or_default();
    build(op, s, &applicable).await
}

/// The filled checklists of every system the person may see, narrowed by
/// `filter` (the systems list's and the dashboard's filters), in the
/// list's order.
pub async fn all(op: &Op<'_>, filter: &SystemFilter) -> Result<Vec<ChecklistReport>, Refused> {
    let systems = crate::checklist::systems(op, filter).await?;
    let figures = op.store.figures(&systems).await?;
    // A few systems at a time: each waits mostly on its queries.
    futures_util::stream::iter(systems.into_iter().zip(figures))
        .map(|(s, f)| async move {
            let applicable: Vec<u32> = f.items.iter().map(|i| i.number).collect();
            build(op, s, &applicable).await
        })
        .buffered(8)
        .try_collect()
        .await
}

/// The system as a document names it.
pub(crate) fn heading(s: &SystemRecord) -> SystemHeading {
    SystemHeading {
        id: s.id,
        name: s.input.name.clone(),
        department: s.department_name.clone(),
        vendor: s.vendor_name.clone(),
        phase: s.input.phase,
        status: s.status,
        round: s.round,
    }
}

async fn build(op: &Op<'_>, s: SystemRecord, applicable: &[u32]) -> Result<ChecklistReport, Refused> {
    let store = op.store;
    let catalog = store.catalog(s.catalog_version_id).await?;
    let overrides = store.overrides(s.id).await?;
    let mut answers: HashMap<u32, _> = store.answers(s.id, s.round).await?.into_iter().map(|a| (a.number, a)).collect();
    let mut evidence: HashMap<u32, Vec<(String, String)>> = HashMap::new();
    for e in store.evidence_of_round(s.id, s.round).await? {
        evidence.entry(e.number).or_default().push((e.original_name, e.sha256));
    }
    // Library documents count as evidence, named with the revision shown.
    for l in store.document_links(s.id, s.round).await? {
        let name = format!("{} 第{}版 ({})", l.title, l.shows.revision, l.shows.original_name);
        evidence.entry(l.number).or_default().push((name, l.shows.sha256));
    }
    let parts = store.parts(&s).await?;
    let names: HashMap<i64, String> = store.organisations().await?.into_iter().map(|o| (o.id, o.name)).collect();
    let (submitted_at, reviewed_at) = store.workflow_dates(s.id, s.round).await?;
    let scan = store.last_report(s.id).await?;
    let today = op.now.to_offset(JST).date();

    let rows = catalog
        .requirements
        .iter()
        .map(|r| {
            let not_applicable = (!applicable.contains(&r.number)).then(|| {
                match overrides.iter().find(|o| o.number == r.number && !o.applies) {
                    Some(o) => format!("個別判断: {}", o.reason),
                    None => r.unmet_condition(),
                }
            });
            let answer = answers.remove(&r.number).filter(|_| not_applicable.is_none()).map(|a| ReportAnswer {
                overdue: a.input.overdue(today),
                status: a.input.status,
                measures: a.input.measures,
                planned: a.input.planned,
                reason: a.input.reason,
                review: a.review,
                comment: a.review_comment,
                revision: a.revision,
            });
            let checks = r.check_ids();
            let auto = scan.as_ref().and_then(|run| run.report.as_ref()).and_then(|rep| {
                let verdict = rep.worst_of(&checks)?;
                Some(ReportAuto { verdict, points: verified_points(r.number, &checks) })
            });
            ReportRow {
                number: r.number,
                major: r.major.clone(),
                middle: r.middle.clone(),
                text: r.text.clone(),
                answer,
                evidence: if not_applicable.is_none() {
                    evidence.remove(&r.number).unwrap_or_default()
                } else {
                    vec![]
                },
                answerer: match parts.items.get(&r.number) {
                    Some((party, org)) if not_applicable.is_none() => {
                        format!("{} ({})", names.get(org).map_or("-", String::as_str), party.word())
                    }
                    _ => String::new(),
                },
                not_applicable,
                auto,
            }
        })
        .collect();
    Ok(ChecklistReport {
        system: heading(&s),
        submitted_at,
        reviewed_at,
        catalog: format!("{} 第{}版", catalog.catalog.title, catalog.catalog.version),
        catalog_version_id: s.catalog_version_id,
        revision: s.revision,
        generated_at: op.now,
        scanned_at: scan.and_then(|r| r.finished_at),
        rows,
    })
}

/// Records that the report of system `id` was handed out in `format`
/// (`xlsx`, `csv`, `csv-cp932`, `html`).
pub async fn record_export(op: &Op<'_>, id: i64, format: &str) -> Result<(), Refused> {
    Ok(op.store.record_report_export(&op.ctx(), id, format).await?)
}

/// Records that the filled checklists of `systems` systems were handed out
/// in one workbook.
pub async fn record_all_export(op: &Op<'_>, systems: usize, format: &str) -> Result<(), Refused> {
    Ok(op.store.record_reports_export(&op.ctx(), systems, format).await?)
}
