//! The filled checklist of one system as an Excel workbook and as CSV, in
//! the ward's layout ([`mamori_core::report::COLUMNS`]).
//!
//! The workbook: a header block, one row per requirement (those that do not
//! apply greyed, with the reason), 対応状況 and 審査 coloured, wrapped text,
//! frozen header, A4 landscape fitted to the width with the header row on
//! every printed page, a drop-down for 対応状況, a summary sheet; and a
//! hidden sheet naming the system, round and revision it was made from, so
//! that a vendor's filled-in copy can be read back. In the vendor's copy
//! ([`Copy::ForAnswers`]) the sheet is protected except the answer cells of
//! the requirements that apply.

use crate::export::{csv_record, encode, within_cell, CsvEncoding};
use mamori_core::checklist::{AnswerStatus, Review};
use mamori_core::report::{status_word, ChecklistReport, Tally, COLUMNS, NOTE_COLUMN};
use mamori_core::verification::Verdict;
use rust_xlsxwriter::{
    Color, DataValidation, Format, FormatAlign, FormatBorder, ProtectionOptions, Workbook, Worksheet, XlsxError,
};

/// The sheets' names.
pub const SHEET: &str = "チェックリスト";
pub const SUMMARY_SHEET: &str = "集計";
/// The hidden sheet: `system_id`, `round`, `revision`, `catalog_version` in
/// column A, their values in column B; then a row `answer`, number,
/// revision for each answer the workbook shows.
pub const META_SHEET: &str = "mamori";

/// The header block's rows; the column headings come after a blank row.
pub fn heading_row(report: &ChecklistReport) -> u32 {
    report.header().len() as u32 + 1
}

/// The columns a vendor fills in: 対応状況, 対応内容, 予定日, 理由.
pub const ANSWER_COLUMNS: std::ops::RangeInclusive<u16> = 4..=7;

/// Widths in characters: together about one A4 landscape page wide at the
/// scale Excel picks to fit the width.
/// The widths of [`COLUMNS`] and then [`NOTE_COLUMN`].
const WIDTHS: [f64; 14] = [4.5, 10.0, 12.0, 42.0, 9.0, 30.0, 11.0, 18.0, 22.0, 14.0, 8.0, 20.0, 16.0, 14.0];

/// Which copy of the workbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copy {
    /// For reading, printing and filing.
    Filled,
    /// For the vendor to answer in Excel: protected but for the answer
    /// cells of the requirements that apply.
    ForAnswers,
}

/// The colours of the document (fill, font), by what a cell says.
mod colour {
    pub const DONE: u32 = 0xE2EFDA;
    pub const PARTIAL: u32 = 0xFFF2CC;
    pub const NOT_DONE: u32 = 0xFCE4D6;
    pub const NOT_APPLICABLE_ANSWER: u32 = 0xDDEBF7;
    pub const UNANSWERED: u32 = 0xFFFFFF;
    pub const GREY_FILL: u32 = 0xEDEDED;
    /// Dark enough on the grey fill for WCAG AA (6:1), as on the print page.
    pub const GREY_FONT: u32 = 0x595959;
    pub const HEADING: u32 = 0xD9D9D9;
}

/// The fill of a 対応状況 cell.
pub fn status_fill(s: Option<AnswerStatus>) -> u32 {
    match s {
        Some(AnswerStatus::Done) => colour::DONE,
        Some(AnswerStatus::Partial) => colour::PARTIAL,
        Some(AnswerStatus::NotDone) => colour::NOT_DONE,
        Some(AnswerStatus::NotApplicable) => colour::NOT_APPLICABLE_ANSWER,
        None => colour::UNANSWERED,
    }
}

/// The fill of a 審査 cell.
pub fn review_fill(r: Review) -> u32 {
    match r {
        Review::Approved => colour::DONE,
        Review::Pending => colour::PARTIAL,
        Review::Returned => colour::NOT_DONE,
    }
}

fn verdict_fill(v: Verdict) -> u32 {
    match v {
        Verdict::Pass => colour::DONE,
        Verdict::Warn | Verdict::Error => colour::PARTIAL,
        Verdict::Fail => colour::NOT_DONE,
    }
}

/// The cell formats, made once per workbook (a format built per cell would
/// cost more than the cell): wrapped, top-aligned, thin borders.
struct Formats {
    cell: Format,
    answer: Format,
    date_answer: Format,
    grey: Format,
    heading: Format,
    /// 対応状況 by status (unanswered last), 審査 by decision, 自動確認 by verdict.
    status: Vec<Format>,
    review: Vec<Format>,
    verdict: Vec<Format>,
    /// A [`NOTE_COLUMN`] cell that says something.
    note: Format,
}

impl Formats {
    fn new(copy: Copy) -> Formats {
        let cell = Format::new().set_text_wrap().set_align(FormatAlign::Top).set_border(FormatBorder::Thin);
        let answer = match copy {
            Copy::Filled => cell.clone(),
            Copy::ForAnswers => cell.clone().set_unlocked(),
        };
        let fill = |base: &Format, rgb: u32| base.clone().set_background_color(Color::RGB(rgb));
        let statuses = AnswerStatus::ALL.iter().map(|s| Some(*s)).chain([None]);
        Formats {
            date_answer: answer.clone().set_num_format("@"),
            grey: fill(&cell, colour::GREY_FILL).set_font_color(Color::RGB(colour::GREY_FONT)),
            heading: fill(&cell, colour::HEADING).set_bold(),
            status: statuses.map(|s| fill(&answer, status_fill(s))).collect(),
            review: Review::ALL.iter().map(|r| fill(&cell, review_fill(*r))).collect(),
            verdict: VERDICTS.iter().map(|v| fill(&cell, verdict_fill(*v))).collect(),
            note: fill(&cell, colour::NOT_DONE),
            cell,
            answer,
        }
    }

    fn status(&self, s: Option<AnswerStatus>) -> &Format {
        let i = s.and_then(|s| AnswerStatus::ALL.iter().position(|x| *x == s)).unwrap_or(AnswerStatus::ALL.len());
        &self.status[i]
    }

    fn review(&self, r: Review) -> &Format {
        &self.review[Review::ALL.iter().position(|x| *x == r).unwrap_or(0)]
    }

    fn verdict(&self, v: Verdict) -> &Format {
        &self.verdict[VERDICTS.iter().position(|x| *x == v).unwrap_or(0)]
    }
}

const VERDICTS: [Verdict; 4] = [Verdict::Pass, Verdict::Warn, Verdict::Error, Verdict::Fail];

/// The workbook's bytes.
pub fn xlsx(report: &ChecklistReport, copy: Copy) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let f = Formats::new(copy);
    checklist_sheet(wb.add_worksheet(), SHEET, report, copy, &f)?;
    summary_sheet(wb.add_worksheet(), report)?;
    let meta = wb.add_worksheet();
    meta.set_name(META_SHEET)?;
    for (r, (k, v)) in [
        ("system_id", report.system.id),
        ("round", report.system.round),
        ("revision", report.revision),
        ("catalog_version", report.catalog_version_id),
    ]
    .into_iter()
    .enumerate()
    {
        meta.write_string(r as u32, 0, k)?;
        meta.write_number(r as u32, 1, v as f64)?;
    }
    let answered = report.rows.iter().filter_map(|r| Some((r.number, r.answer.as_ref()?.revision)));
    for (i, (number, revision)) in answered.enumerate() {
        let row = 4 + i as u32;
        meta.write_string(row, 0, "answer")?;
        meta.write_number(row, 1, number)?;
        meta.write_number(row, 2, revision as f64)?;
    }
    meta.set_hidden(true);
    wb.save_to_buffer()
}

fn checklist_sheet(
    ws: &mut Worksheet,
    name: &str,
    report: &ChecklistReport,
    copy: Copy,
    f: &Formats,
) -> Result<(), XlsxError> {
    ws.set_name(name)?;
    let bold = Format::new().set_bold();
    let title = Format::new().set_bold().set_font_size(14);
    ws.write_string_with_format(0, 0, format!("情報セキュリティ対策 チェックリスト: {}", report.system.name), &title)?;
    for (i, (label, value)) in report.header().into_iter().enumerate().skip(1) {
        ws.write_string_with_format(i as u32, 0, label, &bold)?;
        ws.merge_range(i as u32, 1, i as u32, 3, &value, &Format::new())?;
    }
    let head = heading_row(report);
    for (c, column) in COLUMNS.iter().chain([&NOTE_COLUMN]).enumerate() {
        ws.write_string_with_format(head, c as u16, *column, &f.heading)?;
    }
    for (c, w) in WIDTHS.iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    for (i, r) in report.rows.iter().enumerate() {
        let row = head + 1 + i as u32;
        let cells = r.cells(report.scanned_at);
        if r.not_applicable.is_some() {
            for (c, text) in cells.iter().chain([&String::new()]).enumerate() {
                ws.write_string_with_format(row, c as u16, within_cell(text), &f.grey)?;
            }
            continue;
        }
        let note = r.note();
        let note_format = if note.is_empty() { &f.cell } else { &f.note };
        ws.write_string_with_format(row, COLUMNS.len() as u16, &note, note_format)?;
        let a = r.answer.as_ref();
        for (c, text) in cells.iter().enumerate() {
            let c = c as u16;
            let format = match c {
                4 => f.status(a.map(|a| a.status)),
                6 => &f.date_answer,
                c if ANSWER_COLUMNS.contains(&c) => &f.answer,
                9 => r.auto.as_ref().map_or(&f.cell, |auto| f.verdict(auto.verdict)),
                10 => a.map_or(&f.cell, |a| f.review(a.review)),
                _ => &f.cell,
            };
            if c == 0 {
                ws.write_number_with_format(row, c, r.number, format)?;
            } else {
                ws.write_string_with_format(row, c, within_cell(text), format)?;
            }
        }
    }
    let last = head + report.rows.len() as u32;
    if !report.rows.is_empty() {
        let words: Vec<&str> = AnswerStatus::ALL.iter().map(|s| status_word(*s)).collect();
        let dv = DataValidation::new()
            .allow_list_strings(&words)?
            .set_error_title("対応状況")?
            .set_error_message("対応済・一部対応・未対応・対象外 のいずれかを選んでください。")?;
        ws.add_data_validation(head + 1, 4, last, 4, &dv)?;
    }
    ws.set_freeze_panes(head + 1, 1)?;
    ws.set_landscape();
    ws.set_paper_size(9); // A4
    ws.set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(head, head)?;
    ws.set_footer("&P / &N");
    if copy == Copy::ForAnswers {
        let options = ProtectionOptions { format_columns: true, format_rows: true, ..ProtectionOptions::default() };
        ws.protect_with_options(&options);
    }
    Ok(())
}

fn summary_sheet(ws: &mut Worksheet, report: &ChecklistReport) -> Result<(), XlsxError> {
    ws.set_name(SUMMARY_SHEET)?;
    let bold = Format::new().set_bold().set_border(FormatBorder::Thin).set_text_wrap();
    let cell = Format::new().set_border(FormatBorder::Thin);
    for (c, h) in Tally::HEADERS.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (i, t) in report.tallies().iter().enumerate() {
        let row = i as u32 + 1;
        ws.write_string_with_format(row, 0, within_cell(&t.name), &cell)?;
        for (c, n) in t.figures().iter().enumerate() {
            ws.write_number_with_format(row, c as u16 + 1, *n as f64, &cell)?;
        }
    }
    ws.set_column_width(0, 28.0)?;
    ws.set_freeze_panes(1, 1)?;
    ws.set_landscape();
    ws.set_paper_size(9);
    ws.set_print_fit_to_pages(1, 0);
    Ok(())
}

/// The sheet names of the all-systems workbook's summaries.
pub const ALL_SUMMARY_SHEET: &str = "一覧";
pub const ALL_MAJOR_SHEET: &str = "大項目別";

/// A sheet name for system `id` named `name`: Excel allows 31 characters
/// (UTF-16 units: 𠮷 counts two) and none of `[]:*?/\`; the id keeps
/// names unique.
pub fn sheet_name(id: i64, name: &str) -> String {
    let clean: String = name.chars().map(|c| if "[]:*?/\\'".contains(c) { '_' } else { c }).collect();
    let prefix = format!("{id} ");
    let room = 31 - prefix.len();
    format!("{prefix}{}", crate::export::take_excel(&clean, room)).trim_end().to_owned()
}

/// The systems' columns of the summary, before the counts.
const SYSTEM_COLUMNS: [&str; 7] = ["番号", "システム名", "所管課", "事業者", "段階", "状態", "回"];

fn system_cells(r: &ChecklistReport) -> [String; 7] {
    [
        r.system.id.to_string(),
        r.system.name.clone(),
        r.system.department.clone(),
        r.system.vendor.clone().unwrap_or_default(),
        mamori_core::report::phase_word(r.system.phase).to_owned(),
        mamori_core::report::system_status_word(r.system.status).to_owned(),
        r.system.round.to_string(),
    ]
}

/// Every system's filled checklist in one workbook: a summary of the
/// systems with their counts, the counts of each system by 大項目, and a
/// sheet per system in the ward's layout.
pub fn all_xlsx(reports: &[ChecklistReport]) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    // The sheets' XML is most of the work: a light compression costs a
    // little size and saves much of the time.
    wb.set_zip_compression_level(1);
    let f = Formats::new(Copy::Filled);
    let bold = Format::new().set_bold().set_border(FormatBorder::Thin).set_text_wrap();
    let cell = Format::new().set_border(FormatBorder::Thin);
    let summary = wb.add_worksheet();
    summary.set_name(ALL_SUMMARY_SHEET)?;
    let by_major = SYSTEM_COLUMNS.iter().chain(&["大項目"]).chain(&Tally::HEADERS[1..]).copied();
    let totals = SYSTEM_COLUMNS.iter().chain(&Tally::HEADERS[1..]).copied();
    for (c, h) in totals.enumerate() {
        summary.write_string_with_format(0, c as u16, h, &bold)?;
    }
    for (i, r) in reports.iter().enumerate() {
        let row = i as u32 + 1;
        let tallies = r.tallies();
        let total = tallies.last().map(Tally::figures).unwrap_or_default();
        write_row(summary, row, &system_cells(r), &total, &cell)?;
    }
    summary.set_column_width(1, 28.0)?;
    summary.set_column_width(2, 14.0)?;
    summary.set_column_width(3, 20.0)?;
    summary.set_freeze_panes(1, 2)?;
    let figures = Tally::HEADERS.len() - 1;
    summary.autofilter(0, 0, reports.len() as u32, (SYSTEM_COLUMNS.len() + figures - 1) as u16)?;
    summary.set_landscape().set_paper_size(9).set_print_fit_to_pages(1, 0);
    summary.set_repeat_rows(0, 0)?;
    let majors = wb.add_worksheet();
    majors.set_name(ALL_MAJOR_SHEET)?;
    for (c, h) in by_major.enumerate() {
        majors.write_string_with_format(0, c as u16, h, &bold)?;
    }
    let mut row = 1;
    for r in reports {
        let tallies = r.tallies();
        for t in &tallies[..tallies.len().saturating_sub(1)] {
            let mut cells = system_cells(r).to_vec();
            cells.push(t.name.clone());
            write_row(majors, row, &cells, &t.figures(), &cell)?;
            row += 1;
        }
    }
    majors.set_column_width(1, 28.0)?;
    majors.set_column_width(7, 28.0)?;
    majors.set_freeze_panes(1, 2)?;
    majors.autofilter(0, 0, row.saturating_sub(1), (SYSTEM_COLUMNS.len() + figures) as u16)?;
    for r in reports {
        checklist_sheet(wb.add_worksheet(), &sheet_name(r.system.id, &r.system.name), r, Copy::Filled, &f)?;
    }
    wb.save_to_buffer()
}

fn write_row(ws: &mut Worksheet, row: u32, texts: &[String], figures: &[usize], f: &Format) -> Result<(), XlsxError> {
    for (c, t) in texts.iter().enumerate() {
        ws.write_string_with_format(row, c as u16, within_cell(t), f)?;
    }
    for (c, n) in figures.iter().enumerate() {
        ws.write_number_with_format(row, (texts.len() + c) as u16, *n as f64, f)?;
    }
    Ok(())
}

/// A character the chosen encoding cannot hold, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unencodable {
    pub ch: char,
    /// The requirement number, and the column's name.
    pub number: u32,
    pub column: &'static str,
}

/// The places listed of those Shift_JIS cannot hold: enough to see what
/// to change, and a page of a bounded size however many there are (an
/// answer may hold ten thousand characters none of which it can).
pub const MAX_LISTED: usize = 100;

/// What keeps a report out of Shift_JIS: the first [`MAX_LISTED`] places,
/// and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unencodables {
    pub places: Vec<Unencodable>,
    pub total: usize,
}

/// The CSV: the columns' names, then one line per requirement. In Shift_JIS
/// a character it cannot hold is refused, not replaced: the places are
/// returned, and no bytes.
pub fn csv(report: &ChecklistReport, enc: CsvEncoding) -> Result<Vec<u8>, Unencodables> {
    let mut text = csv_heading();
    let mut missing = Unencodables { places: Vec::new(), total: 0 };
    for r in &report.rows {
        let cells = csv_cells(report, r);
        if enc == CsvEncoding::ShiftJis {
            for (c, cell) in cells.iter().enumerate() {
                let column = COLUMNS.get(c).unwrap_or(&NOTE_COLUMN);
                for ch in crate::export::unencodable(cell) {
                    missing.total += 1;
                    if missing.places.len() < MAX_LISTED {
                        missing.places.push(Unencodable { ch, number: r.number, column });
                    }
                }
            }
        }
        text.push_str(&csv_record(&cells));
        text.push_str("\r\n");
    }
    if missing.total > 0 {
        return Err(missing);
    }
    Ok(encode(&text, enc))
}

/// The CSV's first line: [`COLUMNS`], then [`NOTE_COLUMN`].
fn csv_heading() -> String {
    let names: Vec<String> = COLUMNS.iter().chain([&NOTE_COLUMN]).map(|c| (*c).to_owned()).collect();
    csv_record(&names) + "\r\n"
}

/// A requirement's CSV line: its cells, then its note.
fn csv_cells(report: &ChecklistReport, r: &mamori_core::report::ReportRow) -> Vec<String> {
    let mut cells = r.cells(report.scanned_at).to_vec();
    cells.push(r.note());
    cells
}

/// The CSV in Shift_JIS, with each character it cannot hold replaced by
/// 〓 (the geta mark, the customary stand-in), when the person chose that
/// after seeing the list.
pub fn csv_substituted(report: &ChecklistReport) -> Vec<u8> {
    let mut text = csv_heading();
    for r in &report.rows {
        let cells: Vec<String> = csv_cells(report, r).iter().map(|c| crate::export::substitute(c, '〓')).collect();
        text.push_str(&csv_record(&cells));
        text.push_str("\r\n");
    }
    encode(&text, CsvEncoding::ShiftJis)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use calamine::{Data, Reader, Xlsx};
    use mamori_core::checklist::{Phase, SystemStatus};
    use mamori_core::report::{ReportAnswer, ReportAuto, ReportRow};
    use mamori_testkit::xlsx::Workbook as Inspect;
    use time::macros::{date, datetime};

    fn answer(status: AnswerStatus, review: Review) -> ReportAnswer {
        ReportAnswer {
            status,
            measures: "=SUM(A1) 多要素認証を導入".into(),
            planned: (status != AnswerStatus::Done).then_some(date!(2027 - 03 - 31)),
            reason: String::new(),
            review,
            comment: if review == Review::Returned { "証跡が足りません".into() } else { String::new() },
            overdue: false,
            revision: 3,
        }
    }

    fn row(number: u32, not_applicable: Option<&str>, answer: Option<ReportAnswer>) -> ReportRow {
        ReportRow {
            number,
            major: "1 アクセス制御".into(),
            middle: "(1) 認証".into(),
            text: format!("要件 {number} の内容"),
            not_applicable: not_applicable.map(Into::into),
            answer,
            evidence: vec![],
            auto: None,
            answerer: "ベンダーA (構築事業者)".into(),
        }
    }

    pub(crate) fn sample() -> ChecklistReport {
        let mut rows = vec![
            row(1, None, Some(answer(AnswerStatus::Done, Review::Approved))),
            row(2, None, Some(answer(AnswerStatus::Partial, Review::Returned))),
            row(3, Some("適用条件 (Webシステム) に該当しない"), None),
            row(4, None, None),
        ];
        rows[0].evidence = vec![("手順書.pdf".into(), "ab".repeat(32))];
        rows[0].auto = Some(ReportAuto { verdict: Verdict::Pass, points: vec!["1②".into()] });
        ChecklistReport {
            system: mamori_core::report::SystemHeading {
                id: 7,
                name: "住民記録システム".into(),
                department: "区民課".into(),
                vendor: Some("株式会社テスト".into()),
                phase: Phase::Building,
                status: SystemStatus::Submitted,
                round: 2,
            },
            submitted_at: Some(datetime!(2026-11-30 01:00 UTC)),
            reviewed_at: None,
            catalog: "千代田区 情報セキュリティ要件 第1.1版".into(),
            catalog_version_id: 3,
            revision: 41,
            generated_at: datetime!(2026-12-01 00:00 UTC),
            scanned_at: Some(datetime!(2026-11-29 03:00 UTC)),
            rows,
        }
    }

    fn text(d: Option<&Data>) -> String {
        match d {
            Some(Data::String(s)) => s.clone(),
            Some(Data::Float(f)) => f.to_string(),
            Some(Data::Int(i)) => i.to_string(),
            _ => String::new(),
        }
    }

    /// An item with hundreds of files lists them all in one cell, beyond
    /// the 32,767 characters Excel holds: rust_xlsxwriter refused it and
    /// with it the system's workbook, the vendor's copy and the office's
    /// all-systems book. The cell is cut, and says so.
    #[test]
    fn a_cell_longer_than_excel_holds_is_cut_with_a_note_and_every_workbook_is_made() {
        let mut r = sample();
        let name = format!("{}.pdf", "証跡".repeat(98));
        r.rows[0].evidence = (0..300).map(|i| (format!("{i}-{name}"), "ab".repeat(32))).collect();
        assert!(r.rows[0].evidence_text().chars().count() > crate::export::CELL_CHARS);
        // Every workbook is made; the cell of the files, as the first reads.
        let cell_of = |r: &ChecklistReport, starts: &str| {
            let bytes = xlsx(r, Copy::Filled).unwrap();
            xlsx(r, Copy::ForAnswers).unwrap();
            all_xlsx(std::slice::from_ref(r)).unwrap();
            let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
            let sheet = book.worksheet_range(SHEET).unwrap();
            sheet.rows().flat_map(|row| row.iter().map(|d| text(Some(d)))).find(|t| t.starts_with(starts)).unwrap()
        };
        let cell = cell_of(&r, "0-証跡");
        assert_eq!(cell.chars().count(), crate::export::CELL_CHARS);
        assert!(cell.ends_with("以下省略)"), "{}", &cell[cell.len() - 60..]);
        // Excel counts UTF-16 units: 100 files named in 𠮷 (two units
        // each), 28,000 characters but 47,000 units, were not cut, and every
        // workbook failed.
        let name = format!("{}.pdf", "𠮷".repeat(196));
        r.rows[0].evidence = (0..100).map(|i| (format!("{i}-{name}"), "ab".repeat(32))).collect();
        assert!(r.rows[0].evidence_text().chars().count() < crate::export::CELL_CHARS);
        let cell = cell_of(&r, "0-𠮷");
        assert!(crate::export::excel_len(&cell) <= crate::export::CELL_CHARS && cell.ends_with("以下省略)"));
    }

    #[test]
    fn the_workbook_has_the_header_block_every_column_colours_and_print_settings() {
        let mut r = sample();
        r.rows[1].answer.as_mut().unwrap().overdue = true;
        let bytes = xlsx(&r, Copy::Filled).unwrap();
        let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.clone())).unwrap();
        assert_eq!(book.sheet_names(), [SHEET, SUMMARY_SHEET, META_SHEET]);
        let sheet = book.worksheet_range(SHEET).unwrap();
        let at = |row: u32, col: u32| text(sheet.get_value((row, col)));
        assert_eq!(at(0, 0), "情報セキュリティ対策 チェックリスト: 住民記録システム");
        let header: Vec<(String, String)> = (1..10).map(|i| (at(i, 0), at(i, 1))).collect();
        assert_eq!(
            header,
            [
                ("所管課", "区民課"),
                ("事業者", "株式会社テスト"),
                ("段階", "構築中"),
                ("状態", "提出済"),
                ("回", "第2回"),
                ("提出日", "2026年11月30日 10:00"),
                ("審査日", "-"),
                ("要件の版", "千代田区 情報セキュリティ要件 第1.1版"),
                ("作成日時", "2026年12月01日 09:00"),
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        let head = heading_row(&r);
        assert_eq!((0..13).map(|c| at(head, c)).collect::<Vec<_>>(), COLUMNS);
        assert_eq!(at(head, 13), NOTE_COLUMN);
        assert_eq!((at(head + 1, 13), at(head + 2, 13)), (String::new(), "期限超過".to_owned()));
        let first: Vec<String> = (0..13).map(|c| at(head + 1, c)).collect();
        assert_eq!(
            first,
            [
                "1",
                "1 アクセス制御",
                "(1) 認証",
                "要件 1 の内容",
                "対応済",
                "=SUM(A1) 多要素認証を導入",
                "",
                "",
                &format!("手順書.pdf (SHA-256: {})", "ab".repeat(32)),
                "適合 (1②) 2026-11-29",
                "承認",
                "",
                "ベンダーA (構築事業者)",
            ]
        );
        assert_eq!(at(head + 2, 6), "2027-03-31");
        assert_eq!(at(head + 2, 11), "証跡が足りません");
        assert_eq!((at(head + 3, 4), at(head + 3, 7)), ("適用外".into(), "適用条件 (Webシステム) に該当しない".into()));
        assert_eq!(at(head + 4, 4), "未回答");
        // A formula-like answer is text, never a formula.
        assert!(!String::from_utf8_lossy(&bytes).contains("<f>"));

        let x = Inspect::open(&bytes);
        let cell = |col: char, row: u32| x.style(1, &format!("{col}{}", row + 1));
        assert_eq!(cell('E', head + 1).fill.as_deref(), Some("E2EFDA"), "対応済 green");
        assert_eq!(cell('E', head + 2).fill.as_deref(), Some("FFF2CC"), "一部対応 yellow");
        assert_eq!(cell('K', head + 1).fill.as_deref(), Some("E2EFDA"), "承認 green");
        assert_eq!(cell('K', head + 2).fill.as_deref(), Some("FCE4D6"), "差戻し red");
        assert_eq!(cell('J', head + 1).fill.as_deref(), Some("E2EFDA"), "自動確認 適合");
        assert_eq!(cell('N', head + 2).fill.as_deref(), Some("FCE4D6"), "期限超過 red");
        for col in 'A'..='L' {
            let grey = cell(col, head + 3);
            assert_eq!((grey.fill.as_deref(), grey.font.as_deref()), (Some("EDEDED"), Some("595959")), "{col}");
            assert!(cell(col, head + 1).wrapped, "{col}");
            assert!(cell(col, head).bold, "{col}");
        }
        let ws = x.sheet(1);
        let setup = ws.find("pageSetup").expect("page setup");
        assert_eq!(setup.attr("orientation"), Some("landscape"));
        assert_eq!(setup.attr("paperSize"), Some("9"), "A4");
        assert_eq!((setup.attr("fitToWidth"), setup.attr("fitToHeight")), (None, Some("0")), "1 page wide");
        assert!(ws.find("pageSetUpPr").and_then(|p| p.attr("fitToPage")) == Some("1"));
        let titles = x.defined_names();
        let repeat = format!("{SHEET}!${}:${}", head + 1, head + 1);
        assert!(
            titles.iter().any(|(n, s, f)| n == "_xlnm.Print_Titles" && s.as_deref() == Some("0") && *f == repeat),
            "{titles:?}"
        );
        let pane = ws.find("pane").expect("frozen");
        assert_eq!((pane.attr("state"), pane.attr("ySplit")), (Some("frozen"), Some(&*(head + 1).to_string())));
        let dv = ws.find("dataValidation").expect("drop-down");
        assert_eq!(dv.attr("type"), Some("list"));
        assert_eq!(dv.attr("sqref"), Some(&*format!("E{}:E{}", head + 2, head + 5)));
        assert!(ws.find("sheetProtection").is_none(), "the filed copy is not protected");
        let meta = book.worksheet_range(META_SHEET).unwrap();
        assert_eq!(
            (0..4).map(|i| (text(meta.get_value((i, 0))), text(meta.get_value((i, 1))))).collect::<Vec<_>>(),
            [("system_id", "7"), ("round", "2"), ("revision", "41"), ("catalog_version", "3")]
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        assert!(x
            .part("xl/workbook.xml")
            .all("sheet")
            .iter()
            .any(|s| s.attr("name") == Some(META_SHEET) && s.attr("state") == Some("hidden")));
        let summary = book.worksheet_range(SUMMARY_SHEET).unwrap();
        assert_eq!(text(summary.get_value((2, 0))), "合計");
        assert_eq!(
            (1..13).map(|c| text(summary.get_value((2, c)))).collect::<Vec<_>>(),
            ["4", "3", "1", "1", "0", "0", "1", "1", "1", "0", "1", "0"]
        );
    }

    #[test]
    fn the_all_systems_workbook_has_the_summaries_and_a_sheet_per_system() {
        let a = sample();
        let mut b = sample();
        b.system.id = 12;
        b.system.name = "とても長い名前の基幹業務システム [本番]: 財務/会計/人事給与".into();
        let bytes = all_xlsx(&[a, b.clone()]).unwrap();
        let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        let names = book.sheet_names();
        assert_eq!(names[..2], [ALL_SUMMARY_SHEET, ALL_MAJOR_SHEET]);
        assert_eq!(names[2], "7 住民記録システム");
        assert_eq!(names[3], sheet_name(12, &b.system.name));
        assert!(names[3].chars().count() <= 31 && !names[3].contains(['[', ']', ':', '/']), "{}", names[3]);
        // Excel counts a sheet's name in UTF-16 units: a name in 𠮷 (two
        // each) cut at 28 characters was refused, and the book with it.
        let mut c = sample();
        c.system.id = 13;
        c.system.name = "𠮷".repeat(20);
        let other: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(all_xlsx(&[c]).unwrap())).unwrap();
        assert_eq!(other.sheet_names()[2], format!("13 {}", "𠮷".repeat(14)));
        let summary = book.worksheet_range(ALL_SUMMARY_SHEET).unwrap();
        let row = |r: u32| (0..18).map(|c| text(summary.get_value((r, c)))).collect::<Vec<_>>();
        assert_eq!(row(0)[..8], ["番号", "システム名", "所管課", "事業者", "段階", "状態", "回", "項目数"]);
        assert_eq!(row(1)[..7], ["7", "住民記録システム", "区民課", "株式会社テスト", "構築中", "提出済", "2"]);
        assert_eq!(row(1)[7..], ["4", "3", "1", "1", "0", "0", "1", "1", "1", "0", "0"]);
        let majors = book.worksheet_range(ALL_MAJOR_SHEET).unwrap();
        assert_eq!(text(majors.get_value((1, 7))), "1 アクセス制御");
        assert_eq!(text(majors.get_value((2, 0))), "12", "one line per system and 大項目");
        let one = book.worksheet_range(&names[3]).unwrap();
        assert_eq!(text(one.get_value((0, 0))), format!("情報セキュリティ対策 チェックリスト: {}", b.system.name));
    }

    #[test]
    fn the_vendors_copy_unlocks_only_the_answers_of_requirements_that_apply() {
        let r = sample();
        let x = Inspect::open(&xlsx(&r, Copy::ForAnswers).unwrap());
        assert!(x.sheet(1).find("sheetProtection").is_some_and(|p| p.attr("sheet") == Some("1")));
        let head = heading_row(&r) + 1;
        for col in 'A'..='L' {
            let answer_col = ('E'..='H').contains(&col);
            assert_eq!(!x.style(1, &format!("{col}{}", head + 1)).locked, answer_col, "{col}: applies");
            assert!(x.style(1, &format!("{col}{}", head + 3)).locked, "{col}: does not apply");
        }
    }

    #[test]
    fn csv_in_both_encodings_and_what_shift_jis_cannot_hold_is_named() {
        let mut r = sample();
        let utf8 = csv(&r, CsvEncoding::Utf8Bom).unwrap();
        assert_eq!(&utf8[..3], [0xEF, 0xBB, 0xBF]);
        let text = std::str::from_utf8(&utf8[3..]).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines[0], format!("{},注意", COLUMNS.join(",")));
        assert!(
            lines[1].starts_with("1,1 アクセス制御,(1) 認証,要件 1 の内容,対応済,'=SUM(A1) 多要素認証を導入,"),
            "{}",
            lines[1]
        );
        assert_eq!(lines.len(), 6, "header, four rows, and the empty rest after the last CRLF");
        assert!(lines[1].ends_with(",ベンダーA (構築事業者),"), "nothing to note: {}", lines[1]);
        // A plan past its date and an answer the scan contradicts are said
        // in the row, not only counted in the summary.
        let mut noted = sample();
        noted.rows[0].auto = Some(ReportAuto { verdict: Verdict::Fail, points: vec![] });
        noted.rows[1].answer.as_mut().unwrap().overdue = true;
        let noted = String::from_utf8(csv(&noted, CsvEncoding::Utf8Bom).unwrap()[3..].to_vec()).unwrap();
        let noted: Vec<&str> = noted.split("\r\n").collect();
        assert!(noted[1].ends_with(",自動確認と矛盾"), "{}", noted[1]);
        assert!(noted[2].ends_with(",期限超過"), "{}", noted[2]);
        let sjis = csv(&r, CsvEncoding::ShiftJis).unwrap();
        let (decoded, _, bad) = encoding_rs::SHIFT_JIS.decode(&sjis);
        assert!(!bad);
        assert_eq!(decoded, text);

        r.rows[1].answer.as_mut().unwrap().measures = "𠮷野家の🍣".into();
        let missing = csv(&r, CsvEncoding::ShiftJis).unwrap_err();
        assert_eq!(
            missing.places,
            [
                Unencodable { ch: '𠮷', number: 2, column: "対応内容" },
                Unencodable { ch: '🍣', number: 2, column: "対応内容" },
            ]
        );
        assert_eq!(missing.total, 2);
        assert!(csv(&r, CsvEncoding::Utf8Bom).is_ok(), "UTF-8 holds everything");
        let substituted = csv_substituted(&r);
        let (decoded, _, _) = encoding_rs::SHIFT_JIS.decode(&substituted);
        assert!(decoded.contains("〓野家の〓"), "{decoded}");
    }

    /// An answer of ten thousand characters Shift_JIS cannot hold (Hangul
    /// syllables, each another) listed every one of them, in every cell it
    /// stood in: a page of megabytes for one export asked. The first
    /// hundred places are listed, with the count of all.
    #[test]
    fn characters_shift_jis_cannot_hold_are_listed_a_hundred_at_most_with_their_count() {
        let mut r = sample();
        let hangul: String = (0xAC00..0xAC00 + 10_000).filter_map(char::from_u32).collect();
        r.rows[0].answer.as_mut().unwrap().measures = hangul.clone();
        r.rows[1].answer.as_mut().unwrap().measures = hangul;
        let missing = csv(&r, CsvEncoding::ShiftJis).unwrap_err();
        assert_eq!(missing.total, 20_000);
        assert_eq!(missing.places.len(), MAX_LISTED);
        assert_eq!(missing.places[0], Unencodable { ch: '가', number: 1, column: "対応内容" });
        assert!(missing.places.iter().all(|p| p.number == 1), "the first places, in order");
    }
}
