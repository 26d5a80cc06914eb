//! Reading back the workbook a vendor filled in ([`crate::report::Copy::ForAnswers`]):
//! which system, round and revisions it was made from, and the four answer
//! cells of every row. Only the file's form is checked here (the status
//! words, dates, lengths, numbers); whether an answer may be given is the
//! operations layer's to decide. Every problem is reported with its row
//! and column as Excel shows them; nothing is returned if there is one.

use crate::report::{ANSWER_COLUMNS, META_SHEET, SHEET};
use crate::xlsx_guard::{self, Limits};
use calamine::{Data, Reader, Xlsx};
use mamori_core::checklist::{AnswerProblem, AnswerStatus, MAX_ANSWER_TEXT};
use mamori_core::report::{status_of_word, COLUMNS};
use std::collections::HashMap;
use std::io::Cursor;
use time::Date;

/// A filled-in checklist is a few hundred kilobytes; these limits leave
/// room for long answers and refuse anything far beyond.
pub const LIMITS: Limits = Limits { entry: 8 * 1024 * 1024, total: 16 * 1024 * 1024, entries: 64 };
/// The most rows the sheet may have (the catalog has 79 requirements).
pub const MAX_ROWS: usize = 2_000;

/// A problem at a place in the workbook: `row` as Excel numbers it (0 for
/// the file as a whole), the column's name, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellError {
    pub row: u32,
    pub column: &'static str,
    pub message: String,
}

impl CellError {
    pub fn file(message: impl Into<String>) -> CellError {
        CellError { row: 0, column: "", message: message.into() }
    }

    /// `12行目 対応状況: …`, or the message alone for the file.
    pub fn located(&self) -> String {
        match self.row {
            0 => self.message.clone(),
            r => format!("{r}行目 {}: {}", self.column, self.message),
        }
    }
}

/// The answer cells of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    /// The row as Excel numbers it.
    pub row: u32,
    pub number: u32,
    /// `None` when the 対応状況 cell is empty (no answer given in the file).
    pub status: Option<AnswerStatus>,
    /// `Some(適用外)`: the row said it does not apply (it must stay so).
    pub marked_not_applicable: bool,
    pub measures: String,
    pub planned: Option<Date>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub system_id: i64,
    pub round: i64,
    pub revision: i64,
    pub catalog_version: i64,
    /// The revision of each answer when the workbook was made.
    pub answer_revisions: HashMap<u32, i64>,
    /// The rows that read well.
    pub rows: Vec<UploadRow>,
    /// The problems of the other rows' cells: the upload must not be
    /// applied while there is one (the operations layer adds its own and
    /// reports them all at once).
    pub errors: Vec<CellError>,
}

fn text(d: Option<&Data>) -> String {
    match d {
        None | Some(Data::Empty) => String::new(),
        Some(Data::Float(f)) if f.fract() == 0.0 => format!("{}", *f as i64),
        Some(d) => d.to_string(),
    }
}

/// A cell's text as a message quotes it: 40 characters at the most.
fn quoted(s: &str) -> String {
    mamori_core::text::excerpt(s, 40)
}

fn whole(d: Option<&Data>) -> Option<i64> {
    match d? {
        Data::Float(f) if f.fract() == 0.0 => Some(*f as i64),
        Data::Int(i) => Some(*i),
        Data::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A date written as text: `2027-03-31` or `2027/3/31` (also in answers
/// files, [`crate::answer_file`]).
pub(crate) fn date_text(s: &str) -> Option<Date> {
    let parts: Vec<&str> = s.trim().split(['-', '/']).collect();
    let [y, m, d] = parts[..] else { return None };
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

/// The column and the message of a problem with an answer, as the person
/// who filled in a file reads them (the workbook and the answers file).
pub fn problem_text(p: AnswerProblem) -> (&'static str, &'static str) {
    match p {
        AnswerProblem::MeasuresRequired => ("対応内容", "対応済・一部対応の場合は、対応内容を記入してください"),
        AnswerProblem::PlannedDateRequired => {
            ("予定日", "一部対応・未対応の場合は、予定日 (予定が立たない場合はその理由) を記入してください")
        }
        AnswerProblem::ReasonRequired => ("理由", "対象外の場合は、理由を記入してください"),
        AnswerProblem::TooLong => ("対応内容", "長すぎます (10,000 文字まで)"),
        AnswerProblem::HiddenCharacters => ("対応内容", "制御文字や文字の向きを変える記号は使えません"),
    }
}

/// A date typed as text (`2027-03-31`, `2027/3/31`) or as an Excel date.
fn date(d: Option<&Data>) -> Result<Option<Date>, ()> {
    let serial = match d {
        None | Some(Data::Empty) => return Ok(None),
        Some(Data::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Data::String(s)) => return date_text(s).map(Some).ok_or(()),
        Some(Data::DateTime(dt)) => dt.as_f64(),
        Some(Data::Float(f)) => *f,
        Some(_) => return Err(()),
    };
    // Excel counts days from 1899-12-30 (its 1900 leap-year slip included).
    let epoch = time::macros::date!(1899 - 12 - 30);
    if !(1.0..=2_958_465.0).contains(&serial) {
        return Err(());
    }
    Ok(Some(epoch + time::Duration::days(serial.floor() as i64)))
}

/// Reads a vendor's workbook. Refuses, before parsing, anything that would
/// expand beyond [`LIMITS`] or has more than [`MAX_ROWS`] rows; a file that
/// is not a vendor's copy is refused as a whole. Problems in rows are in
/// [`Upload::errors`].
pub fn read(bytes: &[u8]) -> Result<Upload, Vec<CellError>> {
    xlsx_guard::check(bytes, LIMITS).map_err(|e| vec![CellError::file(e.to_string())])?;
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|e| vec![CellError::file(format!("Excel ファイルを開けません (cannot open): {e}"))])?;
    let not_ours = || vec![CellError::file("mamori からダウンロードした回答用のファイルではありません。")];
    let too_wide = |e: xlsx_guard::Refusal| vec![CellError::file(e.to_string())];
    xlsx_guard::sheet_size_within(&mut wb, META_SHEET).map_err(too_wide)?;
    let meta = wb.worksheet_range(META_SHEET).map_err(|_| not_ours())?;
    let value =
        |name: &str| meta.rows().find(|r| text(r.first()) == name).and_then(|r| whole(r.get(1))).ok_or_else(not_ours);
    let (system_id, round, revision, catalog_version) =
        (value("system_id")?, value("round")?, value("revision")?, value("catalog_version")?);
    let answer_revisions = meta
        .rows()
        .filter(|r| text(r.first()) == "answer")
        .filter_map(|r| Some((u32::try_from(whole(r.get(1))?).ok()?, whole(r.get(2))?)))
        .collect();
    xlsx_guard::sheet_size_within(&mut wb, SHEET).map_err(too_wide)?;
    let sheet = wb.worksheet_range(SHEET).map_err(|_| not_ours())?;
    if sheet.height() > MAX_ROWS {
        return Err(vec![CellError::file(format!("行が多すぎます (more than {MAX_ROWS} rows)"))]);
    }
    let (first_row, _) = sheet.start().unwrap_or((0, 0));
    let excel_row = |i: usize| first_row + i as u32 + 1;
    let Some(head) = sheet.rows().position(|r| text(r.first()) == "No") else { return Err(not_ours()) };
    let headings: Vec<String> =
        sheet.rows().nth(head).map(|r| r.iter().map(|c| text(Some(c))).collect()).unwrap_or_default();
    if headings.iter().take(COLUMNS.len()).map(String::as_str).ne(COLUMNS) {
        let row = excel_row(head);
        return Err(vec![CellError {
            row,
            column: "",
            message: "列の見出しが様式と違います (the headings were changed)".into(),
        }]);
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<u32, u32> = HashMap::new();
    for (i, cells) in sheet.rows().enumerate().skip(head + 1) {
        let row = excel_row(i);
        if cells.iter().all(|c| matches!(c, Data::Empty)) {
            continue;
        }
        let mut problem =
            |column: usize, message: String| errors.push(CellError { row, column: COLUMNS[column], message });
        let cell = |c: u16| cells.get(usize::from(c));
        let Some(number) = whole(cells.first()).and_then(|n| u32::try_from(n).ok()) else {
            problem(0, format!("番号 \"{}\" が数値ではありません", quoted(&text(cells.first()))));
            continue;
        };
        if let Some(before) = seen.insert(number, row) {
            problem(0, format!("No.{number} が {before}行目にもあります"));
            continue;
        }
        let (c_status, c_measures, c_planned, c_reason) =
            (*ANSWER_COLUMNS.start(), ANSWER_COLUMNS.start() + 1, ANSWER_COLUMNS.start() + 2, *ANSWER_COLUMNS.end());
        let word = text(cell(c_status)).trim().to_owned();
        let marked_not_applicable = word == "適用外";
        let status = match word.as_str() {
            "" | "未回答" | "適用外" => None,
            w => match status_of_word(w) {
                Some(s) => Some(s),
                None => {
                    problem(
                        4,
                        format!("「{}」は選べません。対応済・一部対応・未対応・対象外 のいずれかです", quoted(w)),
                    );
                    None
                }
            },
        };
        let measures = text(cell(c_measures)).trim().to_owned();
        let reason = text(cell(c_reason)).trim().to_owned();
        for (column, value) in [(5, &measures), (7, &reason)] {
            if value.chars().count() > MAX_ANSWER_TEXT {
                problem(column, format!("{MAX_ANSWER_TEXT} 文字を超えています"));
            }
        }
        let planned = date(cell(c_planned)).unwrap_or_else(|()| {
            problem(6, format!("日付 \"{}\" を読めません (例: 2027-03-31)", quoted(&text(cell(c_planned)))));
            None
        });
        if errors.last().is_none_or(|e| e.row != row) {
            rows.push(UploadRow { row, number, status, marked_not_applicable, measures, planned, reason });
        }
    }
    Ok(Upload { system_id, round, revision, catalog_version, answer_revisions, rows, errors })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{heading_row, tests::sample, xlsx, Copy};
    use mamori_testkit::xlsx::edited;
    use std::io::Write;
    use time::macros::date;

    #[test]
    fn a_filled_in_copy_reads_back_with_its_system_revisions_and_answers() {
        let r = sample();
        let head = heading_row(&r);
        let row = |n: u32| head + n;
        let file = edited(
            &xlsx(&r, Copy::ForAnswers).unwrap(),
            &[
                (SHEET, row(2), 4, "対応済"),
                (SHEET, row(2), 5, "全端末で対応"),
                (SHEET, row(2), 6, ""),
                (SHEET, row(4), 4, "未対応"),
                (SHEET, row(4), 6, "2027/4/1"),
            ],
        );
        let u = read(&file).unwrap();
        assert_eq!(u.errors, []);
        assert_eq!((u.system_id, u.round, u.revision, u.catalog_version), (7, 2, 41, 3));
        assert_eq!(u.answer_revisions, HashMap::from([(1, 3), (2, 3)]));
        assert_eq!(u.rows.len(), 4);
        let by = |n: u32| u.rows.iter().find(|x| x.number == n).unwrap();
        assert_eq!(
            (by(2).status, by(2).measures.as_str(), by(2).planned),
            (Some(AnswerStatus::Done), "全端末で対応", None)
        );
        assert_eq!((by(4).status, by(4).planned), (Some(AnswerStatus::NotDone), Some(date!(2027 - 04 - 01))));
        assert_eq!(by(4).row, row(4) + 1, "rows as Excel numbers them");
        assert!(by(3).marked_not_applicable && by(3).status.is_none());
        assert_eq!(by(1).status, Some(AnswerStatus::Done), "unchanged rows read as they are");
    }

    #[test]
    fn every_bad_cell_is_named_by_row_and_column_and_nothing_is_returned() {
        let r = sample();
        let head = heading_row(&r);
        let file = edited(
            &xlsx(&r, Copy::ForAnswers).unwrap(),
            &[(SHEET, head + 2, 4, "済み"), (SHEET, head + 4, 6, "来年の春"), (SHEET, head + 5, 0, "x")],
        );
        let upload = read(&file).unwrap();
        let errors = upload.errors;
        let located: Vec<String> = errors.iter().map(CellError::located).collect();
        assert_eq!(errors.len(), 3, "{located:?}");
        assert_eq!((errors[0].row, errors[0].column), (head + 3, "対応状況"));
        assert!(errors[0].message.contains("「済み」は選べません"), "{located:?}");
        assert_eq!((errors[1].row, errors[1].column), (head + 5, "予定日"));
        assert_eq!((errors[2].row, errors[2].column), (head + 6, "No"));
        assert!(located[1].starts_with(&format!("{}行目 予定日: ", head + 5)), "{located:?}");
        assert_eq!(upload.rows.iter().map(|r| r.number).collect::<Vec<_>>(), [1, 3], "the rows that read well");
    }

    /// A row's message quoted its cell whole: cells of tens of thousands of
    /// characters in every row made megabytes of messages (tens of MB more
    /// with the page's escaping). A message quotes 40 characters at most.
    #[test]
    fn a_bad_cell_is_quoted_in_its_message_to_forty_characters() {
        let r = sample();
        let head = heading_row(&r);
        let long = "済".repeat(30_000);
        let file = edited(
            &xlsx(&r, Copy::ForAnswers).unwrap(),
            &[(SHEET, head + 2, 4, &long), (SHEET, head + 4, 6, &long), (SHEET, head + 5, 0, &long)],
        );
        let errors = read(&file).unwrap().errors;
        assert_eq!(errors.len(), 3, "{errors:?}");
        let cut = format!("{}…", "済".repeat(40));
        for e in &errors {
            assert!(e.message.contains(&cut) && e.message.chars().count() < 100, "{}", e.message);
        }
    }

    #[test]
    fn a_workbook_that_is_not_a_vendors_copy_is_refused() {
        let catalog = crate::catalog_io::export(&mamori_core::catalog::CatalogFile::shipped()).unwrap();
        let e = read(&catalog).unwrap_err();
        assert_eq!(e, [CellError::file("mamori からダウンロードした回答用のファイルではありません。")]);
        assert!(read(b"PK not really").unwrap_err()[0].message.contains(".xlsx"));
    }

    /// A zip of one entry, deflated at `level`.
    fn zip_of(name: &str, level: i64, write: impl FnOnce(&mut dyn Write)) -> Vec<u8> {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(level));
        z.start_file(name, options).unwrap();
        write(&mut z);
        z.finish().unwrap().into_inner()
    }

    #[test]
    fn a_zip_bomb_is_refused_by_its_declared_size_before_it_is_inflated() {
        // 200 MB of zeros deflate to a few hundred kilobytes.
        let bomb = zip_of("xl/worksheets/sheet1.xml", 9, |w| {
            let block = vec![0u8; 1024 * 1024];
            for _ in 0..200 {
                w.write_all(&block).unwrap();
            }
        });
        assert!(bomb.len() < 1024 * 1024, "{} bytes", bomb.len());
        let e = read(&bomb).unwrap_err();
        assert_eq!(e[0].message, xlsx_guard::Refusal::TooLarge(8).to_string());
    }

    #[test]
    fn a_zip_that_lies_about_its_sizes_is_refused_when_inflating_passes_the_limit() {
        let mut bomb = zip_of("xl/worksheets/sheet1.xml", 1, |w| {
            let block = vec![b' '; 1024 * 1024];
            for _ in 0..20 {
                w.write_all(&block).unwrap();
            }
        });
        // Declare 1 KiB in the local header and the central directory.
        for (sig, at) in [(&[0x50, 0x4b, 0x03, 0x04], 22), (&[0x50, 0x4b, 0x01, 0x02], 24)] {
            let p = bomb.windows(4).position(|w| w == sig).unwrap();
            bomb[p + at..p + at + 4].copy_from_slice(&1024u32.to_le_bytes());
        }
        let refused = xlsx_guard::check(&bomb, LIMITS).unwrap_err();
        assert!(matches!(refused, xlsx_guard::Refusal::TooLarge(_) | xlsx_guard::Refusal::Corrupt(_)), "{refused:?}");
        assert!(read(&bomb).is_err());
    }

    #[test]
    fn a_sheet_of_a_million_rows_is_refused_before_it_is_parsed() {
        let huge = zip_of("xl/worksheets/sheet1.xml", 1, |w| {
            w.write_all(b"<worksheet><sheetData>").unwrap();
            for r in 1..=1_000_000 {
                write!(w, "<row r=\"{r}\"><c r=\"A{r}\"><v>1</v></c></row>").unwrap();
            }
            w.write_all(b"</sheetData></worksheet>").unwrap();
        });
        let e = read(&huge).unwrap_err();
        assert_eq!(e[0].message, xlsx_guard::Refusal::TooLarge(8).to_string());
    }
}
