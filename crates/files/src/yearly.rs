//! The yearly report of item 68 as an Excel workbook: the header block,
//! the document's sections in order, and a signature block; A4 landscape,
//! fitted to the width.

use crate::export::within_cell;
use mamori_core::yearly::YearlyReport;
use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder, Workbook, XlsxError};

pub const SHEET: &str = "年次報告";

/// The signature block's parties.
pub const SIGNATURES: [&str; 3] = ["報告者 (事業者)", "所管課", "情報セキュリティ担当"];

pub fn xlsx(report: &YearlyReport) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(SHEET)?;
    let title = Format::new().set_bold().set_font_size(14);
    let bold = Format::new().set_bold();
    let cell = Format::new().set_text_wrap().set_align(FormatAlign::Top).set_border(FormatBorder::Thin);
    let heading = cell.clone().set_bold().set_background_color(Color::RGB(0xD9D9D9));
    ws.write_string_with_format(
        0,
        0,
        format!("情報セキュリティ対策 年次報告 (No.68): {}", report.system.name),
        &title,
    )?;
    let mut row = 1;
    for (label, value) in report.header().into_iter().skip(1) {
        ws.write_string_with_format(row, 0, label, &bold)?;
        ws.write_string(row, 1, within_cell(&value))?;
        row += 1;
    }
    for section in report.sections() {
        row += 1;
        ws.write_string_with_format(row, 0, section.title, &bold)?;
        row += 1;
        for (c, h) in section.columns.iter().enumerate() {
            ws.write_string_with_format(row, c as u16, *h, &heading)?;
        }
        row += 1;
        if section.rows.is_empty() {
            ws.write_string(row, 0, section.empty)?;
            row += 1;
        }
        for r in &section.rows {
            for (c, text) in r.iter().enumerate() {
                ws.write_string_with_format(row, c as u16, within_cell(text), &cell)?;
            }
            row += 1;
        }
    }
    row += 1;
    ws.write_string_with_format(row, 0, "確認欄", &bold)?;
    row += 1;
    for (c, party) in SIGNATURES.iter().enumerate() {
        ws.write_string_with_format(row, c as u16 * 2, *party, &heading)?;
        ws.write_string_with_format(row + 1, c as u16 * 2, "氏名:", &cell)?;
        ws.write_string_with_format(row + 2, c as u16 * 2, "日付:", &cell)?;
    }
    for (c, w) in [(0u16, 22.0), (1, 22.0), (2, 18.0), (3, 40.0), (4, 40.0), (5, 10.0)] {
        ws.set_column_width(c, w)?;
    }
    ws.set_landscape();
    ws.set_paper_size(9);
    ws.set_print_fit_to_pages(1, 0);
    ws.set_footer("&P / &N");
    wb.save_to_buffer()
}
