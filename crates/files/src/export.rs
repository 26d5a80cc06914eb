//! Exports that Japanese Excel opens correctly: CSV in UTF-8 with a BOM (the
//! default) or Shift_JIS (CP932) on request, and .xlsx.

use encoding_rs::SHIFT_JIS;
use rust_xlsxwriter::{Format, Workbook};
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvEncoding {
    Utf8Bom,
    ShiftJis,
}

impl CsvEncoding {
    pub fn from_query(q: Option<&str>) -> Self {
        match q {
            Some("sjis" | "shift_jis" | "cp932") => CsvEncoding::ShiftJis,
            _ => CsvEncoding::Utf8Bom,
        }
    }

    /// The format as the audit log records an export in it.
    pub fn format_name(self) -> &'static str {
        match self {
            CsvEncoding::Utf8Bom => "csv",
            CsvEncoding::ShiftJis => "csv-sjis",
        }
    }

    /// The media type of CSV in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            CsvEncoding::Utf8Bom => "text/csv; charset=utf-8",
            CsvEncoding::ShiftJis => "text/csv; charset=shift_jis",
        }
    }
}

/// The media type of an .xlsx workbook.
pub const XLSX_CONTENT_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// What a cell a spreadsheet would run as a formula begins with. The
/// full-width forms too: Japanese Excel reads a value as it reads typed
/// input, where ＝ and ＋ begin a formula as = and + do. And the minus
/// sign U+2212 (what many input methods type for マイナス), which Shift_JIS
/// writes as the full-width －.
pub(crate) const FORMULA_LEADS: [char; 11] = ['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠', '\u{2212}'];

/// A cell that a spreadsheet would run as a formula is prefixed with `'`
/// (CSV injection).
fn neutralise(cell: &str) -> String {
    if cell.starts_with(FORMULA_LEADS) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// One CSV record (formulas neutralised), without its line end.
pub fn csv_record(row: &[String]) -> String {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    let _ = w.write_record(row.iter().map(|c| neutralise(c)));
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default().trim_end_matches('\n').to_owned()
}

/// The CSV bytes: header and rows, CRLF line ends, encoded as asked.
/// Characters with no Shift_JIS form become `?`.
pub fn csv_bytes(headers: &[String], rows: &[Vec<String>], enc: CsvEncoding) -> Vec<u8> {
    encode(&csv_text(Some(headers), rows, enc), enc)
}

/// More rows of a file [`csv_bytes`] began (no header, no byte order
/// mark): a long file written a part at a time.
pub fn csv_more(rows: &[Vec<String>], enc: CsvEncoding) -> Vec<u8> {
    encode_more(&csv_text(None, rows, enc), enc)
}

fn csv_text(headers: Option<&[String]>, rows: &[Vec<String>], enc: CsvEncoding) -> String {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    if let Some(h) = headers {
        let _ = w.write_record(h);
    }
    for r in rows {
        let _ = w.write_record(r.iter().map(|c| neutralise(c)));
    }
    let text = String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default();
    if enc == CsvEncoding::ShiftJis {
        substitute(&text, '?')
    } else {
        text
    }
}

/// `text` in the encoding: UTF-8 after a BOM, or Shift_JIS (CP932, the
/// WHATWG encoder Windows' Excel reads). Characters Shift_JIS cannot hold
/// must have been dealt with first ([`unencodable`], [`substitute`]):
/// the encoder would write them as `&#NNNN;`.
pub fn encode(text: &str, enc: CsvEncoding) -> Vec<u8> {
    let mut out = if enc == CsvEncoding::Utf8Bom { vec![0xEF, 0xBB, 0xBF] } else { Vec::new() };
    out.extend(encode_more(text, enc));
    out
}

/// `text` in the encoding, as a part after the first (no BOM).
fn encode_more(text: &str, enc: CsvEncoding) -> Vec<u8> {
    match enc {
        CsvEncoding::Utf8Bom => text.as_bytes().to_vec(),
        CsvEncoding::ShiftJis => SHIFT_JIS.encode(text).0.into_owned(),
    }
}

fn in_shift_jis(c: char) -> bool {
    let mut buf = [0u8; 4];
    c.is_ascii() || !SHIFT_JIS.encode(c.encode_utf8(&mut buf)).2
}

/// The characters of `text` that Shift_JIS cannot hold (𠮷, emoji…), each
/// once, in order of appearance.
pub fn unencodable(text: &str) -> Vec<char> {
    // A set beside the list: looked up in the list, a cell of ten thousand
    // distinct characters cost fifty million comparisons.
    let mut seen = std::collections::HashSet::new();
    text.chars().filter(|c| !in_shift_jis(*c) && seen.insert(*c)).collect()
}

/// `text` with each character Shift_JIS cannot hold replaced by `with`.
pub fn substitute(text: &str, with: char) -> String {
    text.chars().map(|c| if in_shift_jis(c) { c } else { with }).collect()
}

/// The most characters Excel holds in a cell, counted as Excel counts them:
/// in UTF-16 units, so that a character outside the Basic Multilingual
/// Plane (𠮷, an emoji) counts two. rust_xlsxwriter refuses a longer
/// string, and the whole workbook with it.
pub const CELL_CHARS: usize = 32_767;

/// The length of `text` as Excel counts it (UTF-16 units).
pub fn excel_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// `text` as a cell can hold it: a longer one (the files of an item with
/// hundreds of uploads, a long audit change) is cut, and says so, rather
/// than making the workbook fail for everyone who exports it.
pub fn within_cell(text: &str) -> Cow<'_, str> {
    const NOTE: &str = " …(Excel のセルに収まらないため以下省略)";
    if excel_len(text) <= CELL_CHARS {
        return Cow::Borrowed(text);
    }
    Cow::Owned(take_excel(text, CELL_CHARS - excel_len(NOTE)) + NOTE)
}

/// The longest start of `text` within `room` UTF-16 units.
pub fn take_excel(text: &str, room: usize) -> String {
    let mut used = 0;
    text.chars()
        .take_while(|c| {
            used += c.len_utf16();
            used <= room
        })
        .collect()
}

/// One sheet with a bold header row and widths fitted to the content.
pub fn xlsx_bytes(
    sheet: &str,
    headers: &[String],
    rows: &[Vec<String>],
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(sheet)?;
    let bold = Format::new().set_bold();
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, h, &bold)?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, within_cell(cell))?;
        }
    }
    ws.set_freeze_panes(1, 0)?;
    ws.autofit();
    wb.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_csv_has_a_bom_and_crlf() {
        let b = csv_bytes(&["名前".into()], &[vec!["山田, 太郎".into()]], CsvEncoding::Utf8Bom);
        assert_eq!(&b[..3], &[0xEF, 0xBB, 0xBF]);
        assert_eq!(std::str::from_utf8(&b[3..]).unwrap(), "名前\r\n\"山田, 太郎\"\r\n");
    }

    #[test]
    fn shift_jis_csv_is_cp932_bytes() {
        let b = csv_bytes(&["名前".into()], &[vec!["山田".into()]], CsvEncoding::ShiftJis);
        // 名前 = 96 BC 91 4F; 山田 = 8E 52 93 63 in Shift_JIS.
        assert_eq!(b, vec![0x96, 0xBC, 0x91, 0x4F, b'\r', b'\n', 0x8E, 0x52, 0x93, 0x63, b'\r', b'\n']);
    }

    #[test]
    fn characters_shift_jis_cannot_hold_are_found_and_replaced_on_purpose() {
        // NEC and IBM extensions (①, 髙) are CP932; 𠮷 and emoji are not.
        assert_eq!(unencodable("①髙橋 𠮷野家 🍣 𠮷"), vec!['𠮷', '🍣']);
        assert_eq!(substitute("𠮷野家", '〓'), "〓野家");
        let b = csv_bytes(&["x".into()], &[vec!["𠮷".into()]], CsvEncoding::ShiftJis);
        assert_eq!(b, b"x\r\n?\r\n", "not an HTML character reference");
    }

    #[test]
    fn formulas_are_neutralised() {
        let b = csv_bytes(
            &["x".into()],
            &[
                vec!["=HYPERLINK(\"http://evil\")".into()],
                vec!["-1".into()],
                vec!["＝ＨＹＰＥＲＬＩＮＫ(\"http://evil\")".into()],
                vec!["＠SUM(1)".into()],
                vec!["対応済 =1".into()],
            ],
            CsvEncoding::Utf8Bom,
        );
        let s = std::str::from_utf8(&b[3..]).unwrap();
        assert!(s.contains("'=HYPERLINK"), "{s}");
        assert!(s.contains("'-1"), "{s}");
        assert!(s.contains("'＝ＨＹＰＥＲＬＩＮＫ"), "full-width too: {s}");
        assert!(s.contains("'＠SUM"), "{s}");
        assert!(s.contains("\n対応済 =1"), "only a cell's first character counts: {s}");
        // The minus sign U+2212 is written in Shift_JIS as the full-width －
        // (0x81 0x7C), a formula's lead in Japanese Excel.
        let b = csv_bytes(&["x".into()], &[vec!["\u{2212}1+HYPERLINK(\"http://evil\")".into()]], CsvEncoding::ShiftJis);
        assert!(b.windows(3).any(|w| w == b"'\x81\x7C"), "{b:?}");
    }

    #[test]
    fn a_file_written_in_parts_is_the_file_written_whole() {
        let headers = vec!["番号".to_owned(), "内容".to_owned()];
        let rows: Vec<Vec<String>> = (0..5).map(|i| vec![i.to_string(), format!("=行{i} 𠮷, \"引用\"")]).collect();
        for enc in [CsvEncoding::Utf8Bom, CsvEncoding::ShiftJis] {
            let mut parts = csv_bytes(&headers, &rows[..2], enc);
            parts.extend(csv_more(&rows[2..4], enc));
            parts.extend(csv_more(&rows[4..], enc));
            assert_eq!(parts, csv_bytes(&headers, &rows, enc), "{enc:?}");
        }
    }

    #[test]
    fn xlsx_is_a_zip() {
        let b = xlsx_bytes("台帳", &["a".into()], &[vec!["b".into()]]).unwrap();
        assert_eq!(&b[..2], b"PK");
    }
}
