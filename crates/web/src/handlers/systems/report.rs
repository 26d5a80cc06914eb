//! The filled checklist of one system: the workbook, the CSV and the print
//! page, for everyone who may see the system (each export audited).

use super::Styles;
use crate::download;
use crate::error::AppError;
use crate::handlers::{html, Acting, Reply};
use crate::page::{Page, PageCtx};
use askama::Template;
use axum::extract::{Path, Query};
use axum::response::{Html, IntoResponse};
use mamori_app::reports;
use mamori_core::report::{ChecklistReport, Tally, COLUMNS, NOTE_COLUMN};
use mamori_core::verification::Verdict;
use mamori_files::export::CsvEncoding;
use mamori_files::report::{self as sheet, Copy, Unencodable};
use serde::Deserialize;

struct PrintRow {
    number: u32,
    cells: [String; 13],
    not_applicable: bool,
    status_class: &'static str,
    review_class: &'static str,
    auto_class: &'static str,
    overdue: bool,
    /// The [`NOTE_COLUMN`] cell (期限超過, 自動確認と矛盾), as the workbook's.
    note: String,
}

#[derive(Template)]
#[template(path = "report_print.html")]
struct PrintPage {
    system: String,
    header: Vec<(&'static str, String)>,
    columns: [&'static str; 13],
    note_column: &'static str,
    rows: Vec<PrintRow>,
    tally_headers: [&'static str; 13],
    tallies: Vec<(String, [usize; 12])>,
    inline_css: Option<&'static str>,
    back: Option<String>,
}

/// The print page of a report: the document alone, A4 landscape.
pub fn print_html(report: &ChecklistReport, styles: Styles) -> Result<String, askama::Error> {
    let rows = report
        .rows
        .iter()
        .map(|r| {
            let a = r.answer.as_ref();
            PrintRow {
                number: r.number,
                cells: r.cells(report.scanned_at),
                not_applicable: r.not_applicable.is_some(),
                status_class: a.map_or("", |a| a.status.as_str()),
                review_class: a.map_or("", |a| a.review.as_str()),
                auto_class: match r.auto.as_ref().map(|a| a.verdict) {
                    Some(Verdict::Pass) => "pass",
                    Some(Verdict::Warn | Verdict::Error) => "warn",
                    Some(Verdict::Fail) => "fail",
                    None => "",
                },
                overdue: a.is_some_and(|a| a.overdue),
                note: r.note(),
            }
        })
        .collect();
    PrintPage {
        system: report.system.name.clone(),
        header: report.header().into_iter().skip(1).collect(),
        columns: COLUMNS,
        note_column: NOTE_COLUMN,
        rows,
        tally_headers: Tally::HEADERS,
        tallies: report.tallies().into_iter().map(|t| (t.name.clone(), t.figures())).collect(),
        inline_css: (styles == Styles::Inline).then_some(include_str!("../../../static/report.css")),
        back: (styles == Styles::Linked).then(|| format!("/systems/{}", report.system.id)),
    }
    .render()
}

/// The file name of a report: `checklist-7-住民記録システム.xlsx`.
fn file_name(report: &ChecklistReport, ext: &str) -> String {
    format!("checklist-{}-{}.{ext}", report.system.id, report.system.name)
}

fn xlsx_error(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("xlsx: {e}"))
}

/// The print page.
pub async fn report_print(page: Page, who: Acting, Path(id): Path<i64>) -> Reply {
    let op = who.op(&page);
    let report = reports::checklist(&op, id).await?;
    reports::record_export(&op, id, "html").await?;
    Ok(Html(print_html(&report, Styles::Linked)?).into_response())
}

/// The workbook, for filing and printing.
pub async fn report_xlsx(page: Page, who: Acting, Path(id): Path<i64>) -> Reply {
    let op = who.op(&page);
    let report = reports::checklist(&op, id).await?;
    let name = file_name(&report, "xlsx");
    // Tens of milliseconds of work and megabytes as the workbook is
    // assembled: off the request workers, as many at once as the cores.
    let made = mamori_app::off_the_workers(move || sheet::xlsx(&report, Copy::Filled)).await?;
    let bytes = made.map_err(xlsx_error)?;
    reports::record_export(&op, id, "xlsx").await?;
    Ok(download::xlsx(&name, bytes))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CsvQuery {
    encoding: String,
    /// After seeing the list: replace what Shift_JIS cannot hold with 〓.
    substitute: String,
}

#[derive(Template)]
#[template(path = "report_unencodable.html")]
struct UnencodablePage<'a> {
    p: PageCtx<'a>,
    id: i64,
    system: String,
    /// Requirement number, column, character, code point (`U+20BB7`).
    missing: Vec<(u32, &'static str, char, String)>,
    /// Places past those listed.
    more: usize,
}

/// The CSV, in UTF-8 with a BOM or in Shift_JIS. Characters Shift_JIS
/// cannot hold are listed with where they stand, and nothing is sent
/// until the person chooses UTF-8 or the 〓 stand-in.
pub async fn report_csv(page: Page, who: Acting, Path(id): Path<i64>, Query(q): Query<CsvQuery>) -> Reply {
    let op = who.op(&page);
    let report = reports::checklist(&op, id).await?;
    let enc = CsvEncoding::from_query(Some(q.encoding.as_str()));
    let (name, system) = (file_name(&report, "csv"), report.system.name.clone());
    let substitute = q.substitute == "1";
    // Up to megabytes of answers encoded off the request workers.
    let encoded = mamori_app::off_the_workers(move || match (enc, substitute) {
        (CsvEncoding::ShiftJis, true) => Ok((sheet::csv_substituted(&report), "csv-cp932-substituted")),
        (CsvEncoding::ShiftJis, false) => sheet::csv(&report, enc).map(|b| (b, "csv-cp932")),
        (CsvEncoding::Utf8Bom, _) => Ok((sheet::csv(&report, enc).unwrap_or_default(), "csv")),
    })
    .await?;
    let (bytes, format) = match encoded {
        Ok(encoded) => encoded,
        Err(missing) => {
            let p = page.ctx().await?;
            let more = missing.total - missing.places.len();
            let missing = missing
                .places
                .iter()
                .map(|m: &Unencodable| (m.number, m.column, m.ch, format!("U+{:04X}", u32::from(m.ch))))
                .collect();
            return html(UnencodablePage { p, id, system, missing, more });
        }
    };
    reports::record_export(&op, id, format).await?;
    Ok(download::file(enc.content_type(), &name, bytes))
}

/// Every system the person may see, as one workbook, with the systems
/// list's filters.
pub async fn all_xlsx(page: Page, who: Acting, Query(q): Query<crate::handlers::ListQuery>) -> Reply {
    // One workbook of the whole ward is about a second of work and a few
    // hundred megabytes while rust_xlsxwriter assembles the sheets: one at
    // a time, off the request workers.
    // The turn is the workbook's to its end, even if the request is given up.
    static ONE_AT_A_TIME: mamori_app::turns::Turns = mamori_app::turns::Turns::new(1);
    let turn = ONE_AT_A_TIME.take().await?;
    let op = who.op(&page);
    let reports = reports::all(&op, &crate::handlers::filtered(&q)).await?;
    let n = reports.len();
    let bytes = turn.run(move || sheet::all_xlsx(&reports)).await?.map_err(xlsx_error)?;
    reports::record_all_export(&op, n, "xlsx").await?;
    let day = mamori_core::jst::format_jst_date(page.clock.now());
    Ok(download::xlsx(&format!("checklists-{day}.xlsx"), bytes))
}
