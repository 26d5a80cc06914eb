//! A system's software inventory as a sheet: read from CSV (UTF-8, with or
//! without a BOM, or Shift_JIS) or Excel, written as CSV or Excel with the
//! same headings so that an export imports back unchanged. Only the sheet's
//! form is checked here; each row's fields are the core's to check.

use crate::answers::CellError;
use crate::export::{csv_bytes, xlsx_bytes, CsvEncoding};
use crate::xlsx_guard::{self, Limits};
use calamine::{Data, Reader, Xlsx};
use mamori_core::inventory::MAX_COMPONENTS;
use std::io::Cursor;
use time::{Date, Duration};

/// An inventory sheet is small; these limits refuse anything far beyond.
pub const LIMITS: Limits = Limits { entry: 8 * 1024 * 1024, total: 16 * 1024 * 1024, entries: 64 };

/// How many columns a sheet has.
pub const WIDTH: usize = 9;

/// The columns, in the order an export writes them: the field, its
/// heading, and the other headings it is known by. The last is the release
/// data's date as the export found it, where the support end came from the
/// data: a support end left equal to it keeps following the data when the
/// sheet is imported back, even after the data has moved the date.
pub const COLUMNS: [(&str, &str, &[&str]); WIDTH] = [
    ("kind", "種別", &["kind", "type"]),
    ("product", "製品", &["product", "製品名", "ソフトウェア"]),
    ("vendor", "ベンダ", &["vendor", "ベンダー", "メーカー", "開発元"]),
    ("version", "バージョン", &["version", "版"]),
    ("runs_on", "稼働場所", &["runs_on", "where", "サーバ", "稼働サーバ"]),
    ("cpe", "CPE", &["cpe"]),
    ("support_end", "サポート終了日", &["support_end", "eol", "サポート期限"]),
    ("reason", "最新版でない理由", &["reason", "理由"]),
    ("data_end", "参照データの終了日", &["data_end"]),
];

/// The headings an imported sheet must have (its cells may be empty).
const REQUIRED: [&str; 5] = ["product", "vendor", "version", "cpe", "support_end"];

/// One row of a sheet: its number as the sheet shows it and each column's
/// text in the order of [`COLUMNS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetRow {
    pub row: u32,
    pub cells: [String; WIDTH],
}

impl SheetRow {
    pub fn get(&self, field: &str) -> &str {
        COLUMNS.iter().position(|(f, _, _)| *f == field).map_or("", |i| self.cells[i].as_str())
    }
}

/// The rows of an inventory sheet, CSV or Excel (told apart by content).
pub fn read(bytes: &[u8]) -> Result<Vec<SheetRow>, Vec<CellError>> {
    // The heading, the rows allowed and one more (to say there are too many).
    let most = MAX_COMPONENTS + 2;
    let table = if bytes.starts_with(b"PK\x03\x04") { xlsx_table(bytes, most)? } else { csv_table(bytes, most)? };
    rows(table)
}

/// The rows of a sheet that are not blank, each with its number (from 1),
/// at most [`MOST_COLUMNS`] cells each. Blank rows (a separator, a few
/// `,,,,` lines) are not kept: a file of nothing but line ends would
/// otherwise hold a row for every two bytes it has.
pub(crate) type Table = Vec<(u32, Vec<String>)>;

/// The most cells of a row read: the sheets read here have a dozen columns
/// or so; a row of millions of commas is not kept whole.
pub(crate) const MOST_COLUMNS: usize = 64;

/// Is a row blank (no cell holds more than spaces)?
fn blank(row: &[String]) -> bool {
    row.iter().all(|c| c.trim().is_empty())
}

/// Keeps a row that is not blank, until `most` are kept; says whether to go on.
fn keep(out: &mut Table, i: usize, row: Vec<String>, most: usize) -> bool {
    if !blank(&row) {
        out.push((u32::try_from(i + 1).unwrap_or(u32::MAX), row));
    }
    out.len() < most
}

/// A CSV file's rows, up to `most` that are not blank. UTF-8 is tried first
/// (a BOM is dropped), then Shift_JIS, the encoding Japanese Excel saves
/// CSV in.
pub(crate) fn csv_table(bytes: &[u8], most: usize) -> Result<Table, Vec<CellError>> {
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.to_owned(),
        Err(_) => {
            let (t, _, bad) = encoding_rs::SHIFT_JIS.decode(bytes);
            if bad {
                return Err(vec![CellError::file(
                    "文字コードを読み取れません。UTF-8 か Shift_JIS の CSV にしてください (unknown encoding)",
                )]);
            }
            t.into_owned()
        }
    };
    let mut out = Vec::new();
    let (mut reader, mut input) = (csv_core::Reader::new(), text.as_bytes());
    let (mut field, mut len, mut row, mut i) = (vec![0; 256], 0, Vec::new(), 0);
    // csv_core, not csv: csv's record keeps where every field ends, so a
    // row of millions of commas held millions of them; here a field past
    // the first MOST_COLUMNS is read and dropped.
    loop {
        let (result, read, written) = reader.read_field(input, &mut field[len..]);
        input = &input[read..];
        len += written;
        match result {
            // An empty input next tells the reader the file has ended.
            csv_core::ReadFieldResult::InputEmpty => {}
            csv_core::ReadFieldResult::OutputFull => field.resize(field.len() * 2, 0),
            csv_core::ReadFieldResult::Field { record_end } => {
                if row.len() < MOST_COLUMNS {
                    // The file is text, and a field is a part of it between quotes and commas.
                    let text = String::from_utf8(field[..len].to_vec()).map_err(|_| {
                        vec![CellError::file(format!("{}行目を CSV として読めません (malformed CSV)", i + 1))]
                    })?;
                    row.push(text);
                }
                len = 0;
                if record_end {
                    if !keep(&mut out, i, std::mem::take(&mut row), most) {
                        break;
                    }
                    i += 1;
                }
            }
            csv_core::ReadFieldResult::End => break,
        }
    }
    Ok(out)
}

/// The first sheet's rows, up to `most` that are not blank.
pub(crate) fn xlsx_table(bytes: &[u8], most: usize) -> Result<Table, Vec<CellError>> {
    xlsx_guard::check(bytes, LIMITS).map_err(|e| vec![CellError::file(e.to_string())])?;
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|_| vec![CellError::file("Excel ファイルを開けません (cannot open the workbook)")])?;
    let first = wb.sheet_names().first().cloned().unwrap_or_default();
    xlsx_guard::sheet_size_within(&mut wb, &first).map_err(|e| vec![CellError::file(e.to_string())])?;
    let range = wb
        .worksheet_range_at(0)
        .ok_or_else(|| vec![CellError::file("シートがありません (no sheet)")])?
        .map_err(|_| vec![CellError::file("シートを読めません (cannot read the sheet)")])?;
    let mut out = Vec::new();
    for (i, r) in range.rows().enumerate() {
        if !keep(&mut out, i, r.iter().take(MOST_COLUMNS).map(cell_text).collect(), most) {
            break;
        }
    }
    Ok(out)
}

/// A cell as text; a date cell as `YYYY-MM-DD`.
fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
        Data::DateTime(dt) => excel_date(dt.as_f64()).map_or_else(|| dt.to_string(), |d| d.to_string()),
        other => other.to_string(),
    }
}

/// Excel's day number (days since 1899-12-30, in the 1900 system every
/// workbook Excel writes today uses) as a date.
fn excel_date(serial: f64) -> Option<Date> {
    if !(1.0..=2_958_465.0).contains(&serial) {
        return None;
    }
    time::macros::date!(1899 - 12 - 30).checked_add(Duration::days(serial.floor() as i64))
}

/// A cell exported with a `'` in front (it began like a formula) as it was.
fn unneutralise(s: &str) -> String {
    let s = s.trim();
    match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(crate::export::FORMULA_LEADS) => rest.to_owned(),
        _ => s.to_owned(),
    }
}

fn rows(table: Table) -> Result<Vec<SheetRow>, Vec<CellError>> {
    let mut it = table.into_iter();
    let (_, header) = it.next().unwrap_or_default();
    let heading = |h: &str| {
        let h = h.trim().trim_start_matches('\u{feff}');
        COLUMNS.iter().position(|(field, ja, others)| {
            h.eq_ignore_ascii_case(field) || h == *ja || others.iter().any(|o| h.eq_ignore_ascii_case(o))
        })
    };
    let mut at = [None; WIDTH];
    for (c, h) in header.iter().enumerate() {
        if let Some(i) = heading(h) {
            at[i].get_or_insert(c);
        }
    }
    let missing: Vec<&str> = REQUIRED
        .iter()
        .filter_map(|f| {
            let i = COLUMNS.iter().position(|(field, _, _)| field == f).expect("required columns are columns");
            at[i].is_none().then_some(COLUMNS[i].1)
        })
        .collect();
    if !missing.is_empty() {
        return Err(vec![CellError::file(format!(
            "1行目に必要な列がありません: {} (missing columns)",
            missing.join(", ")
        ))]);
    }
    let mut out = Vec::new();
    for (row, record) in it {
        if out.len() == MAX_COMPONENTS {
            return Err(vec![CellError::file(format!(
                "行が多すぎます。1 システム {MAX_COMPONENTS} 行までです (too many rows)"
            ))]);
        }
        let mut cells: [String; WIDTH] = Default::default();
        for (slot, col) in cells.iter_mut().zip(at) {
            *slot = col.and_then(|c| record.get(c)).map(|s| unneutralise(s)).unwrap_or_default();
        }
        out.push(SheetRow { row, cells });
    }
    Ok(out)
}

fn headings() -> Vec<String> {
    COLUMNS.iter().map(|(_, ja, _)| (*ja).to_owned()).collect()
}

/// The inventory as CSV.
pub fn csv(rows: &[[String; WIDTH]], enc: CsvEncoding) -> Vec<u8> {
    csv_bytes(&headings(), &rows.iter().map(|r| r.to_vec()).collect::<Vec<_>>(), enc)
}

/// The inventory as an Excel workbook.
pub fn xlsx(rows: &[[String; WIDTH]]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    xlsx_bytes("ソフトウェア構成", &headings(), &rows.iter().map(|r| r.to_vec()).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: [&str; WIDTH]) -> [String; WIDTH] {
        cells.map(str::to_owned)
    }

    #[test]
    fn an_export_reads_back_as_it_was_in_csv_both_encodings_and_excel() {
        let rows = [
            row([
                "OS",
                "Ubuntu",
                "Canonical",
                "22.04.3",
                "Web サーバ",
                "cpe:2.3:o:canonical:ubuntu_linux:22.04:*:*:*:*:*:*:*",
                "2027-04-01",
                "",
                "2027-04-01",
            ]),
            row(["ミドルウェア", "nginx", "F5", "1.24.0", "＋ 全角も", "", "", "=1+1 は数式ではない", ""]),
        ];
        for bytes in [csv(&rows, CsvEncoding::Utf8Bom), csv(&rows, CsvEncoding::ShiftJis), xlsx(&rows).unwrap()] {
            let back = read(&bytes).unwrap();
            assert_eq!(back.len(), 2);
            assert_eq!(back[0].cells, rows[0]);
            assert_eq!(back[1].cells, rows[1]);
            assert_eq!((back[0].row, back[1].row), (2, 3));
        }
    }

    #[test]
    fn english_headings_in_any_order_and_a_missing_one_is_named() {
        let back = read(b"version,product,vendor,cpe,support_end\n1.24.0,nginx,F5,,2025/4/23\n\n").unwrap();
        assert_eq!(
            (back[0].get("product"), back[0].get("version"), back[0].get("support_end")),
            ("nginx", "1.24.0", "2025/4/23")
        );
        assert_eq!(back[0].get("kind"), "");
        let err = read("製品,バージョン\nnginx,1.24\n".as_bytes()).unwrap_err();
        assert!(err[0].message.contains("ベンダ, CPE, サポート終了日"), "{:?}", err);
    }

    #[test]
    fn a_sheet_too_long_or_not_text_is_refused() {
        let mut big = String::from("product,vendor,version,cpe,support_end\n");
        for i in 0..=MAX_COMPONENTS {
            big.push_str(&format!("p{i},v,1,,\n"));
        }
        assert!(read(big.as_bytes()).unwrap_err()[0].message.contains("多すぎ"));
        assert!(read(&[0x82, 0xA0, 0xFF, 0xFF, 0x80]).is_err());
        assert!(read(b"PK\x03\x04garbage").is_err());
    }

    /// Blank rows among the rows (a separator, a few `,,,,` lines) used up
    /// the rows read: a sheet of the most rows allowed lost its last ones,
    /// and the import said nothing. They count for nothing now, and the
    /// rows keep their numbers.
    #[test]
    fn blank_rows_do_not_count_towards_the_most_rows_and_none_is_lost() {
        let blank = row([""; WIDTH]);
        let mut rows: Vec<[String; WIDTH]> = vec![blank.clone(); 10];
        for i in 0..MAX_COMPONENTS {
            let p = format!("p{i}");
            rows.push(row(["ミドルウェア", &p, "v", "1", "", "", "", "", ""]));
        }
        for bytes in [csv(&rows, CsvEncoding::Utf8Bom), xlsx(&rows).unwrap()] {
            let back = read(&bytes).unwrap();
            assert_eq!(back.len(), MAX_COMPONENTS);
            assert_eq!((back[0].row, back[0].get("product")), (12, "p0"));
            assert_eq!(back[MAX_COMPONENTS - 1].get("product"), format!("p{}", MAX_COMPONENTS - 1));
        }
        rows.push(row(["ミドルウェア", "one-more", "v", "1", "", "", "", "", ""]));
        assert!(read(&csv(&rows, CsvEncoding::Utf8Bom)).unwrap_err()[0].message.contains("多すぎ"));
    }

    #[test]
    fn excel_day_numbers_are_dates() {
        assert_eq!(excel_date(46_478.0), Some(time::macros::date!(2027 - 04 - 01)));
        assert_eq!(excel_date(-1.0), None);
    }
}
