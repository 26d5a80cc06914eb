//! A catalog as an Excel workbook: export in the familiar column layout, and
//! import from a sheet with at least the columns No / 大項目 / 中項目 / 内容.

use calamine::{Data, Reader, Xlsx};
use mamori_core::catalog::{CatalogFile, CatalogMeta, RequirementDef, RowError, Source};
use mamori_core::parties::Party;
use rust_xlsxwriter::{Format, Workbook, XlsxError};
use std::io::Cursor;

const COLUMNS: [&str; 11] = [
    "No",
    "大項目",
    "中項目",
    "条件",
    "内容",
    "出典",
    "適用条件",
    "自動確認",
    "mamori自身で対応",
    "証跡の例",
    "回答者",
];

/// Limits on an uploaded catalog workbook ([`crate::xlsx_guard`]).
const LIMITS: crate::xlsx_guard::Limits =
    crate::xlsx_guard::Limits { entry: 20 * 1024 * 1024, total: 60 * 1024 * 1024, entries: 1_000 };

pub fn export(file: &CatalogFile) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let wrap = Format::new().set_text_wrap().set_align(rust_xlsxwriter::FormatAlign::Top);
    let bold = Format::new().set_bold();
    let ws = wb.add_worksheet();
    ws.set_name("要件")?;
    for (c, h) in COLUMNS.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (i, r) in file.requirements.iter().enumerate() {
        let row = i as u32 + 1;
        let source = file.sources.iter().find(|s| s.id == r.source).map_or(r.source.as_str(), |s| s.title.as_str());
        ws.write_number(row, 0, r.number)?;
        ws.write_string_with_format(row, 1, &r.major, &wrap)?;
        ws.write_string_with_format(row, 2, &r.middle, &wrap)?;
        ws.write_string_with_format(row, 3, r.condition_note.as_deref().unwrap_or(""), &wrap)?;
        ws.write_string_with_format(row, 4, &r.text, &wrap)?;
        ws.write_string_with_format(row, 5, source, &wrap)?;
        ws.write_string(row, 6, &r.applies_when)?;
        ws.write_string(row, 7, r.checks.join(" "))?;
        ws.write_string(row, 8, if r.self_met { "○" } else { "" })?;
        ws.write_string_with_format(row, 9, &r.evidence_hint, &wrap)?;
        ws.write_string(row, 10, r.party.word())?;
    }
    for (c, w) in [
        (0u16, 5.0),
        (1, 18.0),
        (2, 18.0),
        (3, 14.0),
        (4, 70.0),
        (5, 24.0),
        (6, 22.0),
        (7, 18.0),
        (8, 8.0),
        (9, 30.0),
        (10, 14.0),
    ] {
        ws.set_column_width(c, w)?;
    }
    ws.set_freeze_panes(1, 0)?;
    let meta = wb.add_worksheet();
    meta.set_name("カタログ")?;
    for (r, (k, v)) in [("id", &file.catalog.id), ("title", &file.catalog.title), ("version", &file.catalog.version)]
        .iter()
        .enumerate()
    {
        meta.write_string(r as u32, 0, *k)?;
        meta.write_string(r as u32, 1, v.as_str())?;
    }
    wb.save_to_buffer()
}

fn file_error(message: String) -> Vec<RowError> {
    vec![RowError { row: 0, field: "Excel", message }]
}

fn cell(row: &[Data], col: Option<usize>) -> String {
    match col.and_then(|c| row.get(c)) {
        None | Some(Data::Empty) => String::new(),
        Some(Data::Float(f)) if f.fract() == 0.0 => format!("{}", *f as i64),
        Some(d) => d.to_string(),
    }
}

/// Reads a workbook's first sheet. Rows are numbered as Excel shows them.
/// Every problem is reported; nothing is returned if there is one.
pub fn import(bytes: &[u8], catalog_id: &str, title: &str) -> Result<CatalogFile, Vec<RowError>> {
    crate::xlsx_guard::check(bytes, LIMITS).map_err(|e| file_error(e.to_string()))?;
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|e| file_error(format!("Excel ファイルを開けません (cannot open): {e}")))?;
    let first = wb.sheet_names().first().cloned().unwrap_or_default();
    crate::xlsx_guard::sheet_size_within(&mut wb, &first).map_err(|e| file_error(e.to_string()))?;
    let range = wb
        .worksheet_range_at(0)
        .ok_or_else(|| file_error("シートがありません (no sheet)".into()))?
        .map_err(|e| file_error(format!("シートを読めません (cannot read the sheet): {e}")))?;
    let mut rows = range.rows();
    let header: Vec<String> =
        rows.next().map(|r| r.iter().map(|c| c.to_string().trim().to_owned()).collect()).unwrap_or_default();
    let col = |name: &str| header.iter().position(|h| h == name);
    let missing: Vec<&str> = ["No", "大項目", "中項目", "内容"].into_iter().filter(|n| col(n).is_none()).collect();
    if !missing.is_empty() {
        return Err(file_error(format!("1行目に必要な列がありません: {} (missing columns)", missing.join(", "))));
    }
    let (c_no, c_major, c_middle, c_text) = (col("No"), col("大項目"), col("中項目"), col("内容"));
    let (c_cond, c_source, c_applies, c_checks, c_self, c_hint) =
        (col("条件"), col("出典"), col("適用条件"), col("自動確認"), col("mamori自身で対応"), col("証跡の例"));
    let c_party = col("回答者");
    let mut errors = Vec::new();
    let mut requirements = Vec::new();
    let mut sources: Vec<Source> = Vec::new();
    for (i, row) in rows.enumerate() {
        let sheet_row = i as u32 + 2;
        if row.iter().all(|c| matches!(c, Data::Empty)) {
            continue;
        }
        let no = cell(row, c_no);
        let Ok(number) = no.trim().parse::<u32>() else {
            errors.push(RowError {
                row: sheet_row,
                field: "No",
                message: format!(
                    "{sheet_row}行目: 番号 \"{}\" が数値ではありません (not a number)",
                    mamori_core::text::excerpt(&no, 40)
                ),
            });
            continue;
        };
        let source_title = cell(row, c_source);
        let source_title =
            if source_title.trim().is_empty() { title.to_owned() } else { source_title.trim().to_owned() };
        let source_id = match sources.iter().position(|s| s.title == source_title) {
            Some(p) => sources[p].id.clone(),
            None => {
                let id = format!("s{}", sources.len() + 1);
                sources.push(Source { id: id.clone(), title: source_title, items: String::new() });
                id
            }
        };
        let applies = cell(row, c_applies);
        let cond = cell(row, c_cond);
        let party_word = cell(row, c_party);
        let party = if party_word.trim().is_empty() {
            Party::Builder
        } else if let Some(p) = Party::from_word(&party_word) {
            p
        } else {
            errors.push(RowError {
                row: sheet_row,
                field: "回答者",
                message: format!(
                    "{sheet_row}行目: 回答者 \"{}\" は 所管課・構築事業者・保守事業者・クラウド事業者 のいずれかにしてください (unknown party)",
                    mamori_core::text::excerpt(party_word.trim(), 40)
                ),
            });
            continue;
        };
        requirements.push(RequirementDef {
            number,
            source: source_id,
            major: cell(row, c_major).trim().to_owned(),
            middle: cell(row, c_middle).trim().to_owned(),
            condition_note: (!cond.trim().is_empty()).then(|| cond.trim().to_owned()),
            text: cell(row, c_text).trim().to_owned(),
            applies_when: if applies.trim().is_empty() { "always".to_owned() } else { applies.trim().to_owned() },
            // One word past the known checks is enough to be refused as too many.
            checks: cell(row, c_checks)
                .split_whitespace()
                .take(mamori_core::verification::CheckId::ALL.len() + 1)
                .map(str::to_owned)
                .collect(),
            self_met: matches!(cell(row, c_self).trim(), "○" | "true" | "TRUE" | "1" | "yes"),
            evidence_hint: cell(row, c_hint).trim().to_owned(),
            party,
        });
    }
    let file = CatalogFile {
        catalog: CatalogMeta { id: catalog_id.to_owned(), title: title.to_owned(), version: "1".to_owned() },
        sources,
        requirements,
    };
    if let Err(mut more) = file.validate() {
        errors.append(&mut more);
    }
    if errors.is_empty() {
        Ok(file)
    } else {
        Err(mamori_core::catalog::capped(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_then_import_keeps_every_requirement() {
        let shipped = CatalogFile::shipped();
        let bytes = export(&shipped).unwrap();
        let back = import(&bytes, "chiyoda", &shipped.catalog.title).unwrap();
        assert_eq!(back.requirements.len(), 79);
        for (a, b) in shipped.requirements.iter().zip(&back.requirements) {
            assert_eq!(
                (a.number, &a.major, &a.middle, &a.text, &a.applies_when, &a.checks, a.self_met),
                (b.number, &b.major, &b.middle, &b.text, &b.applies_when, &b.checks, b.self_met)
            );
            assert_eq!(a.condition_note, b.condition_note);
            assert_eq!(a.evidence_hint, b.evidence_hint);
            assert_eq!(a.party, b.party);
        }
    }

    fn sheet(rows: &[[&str; 4]]) -> Vec<u8> {
        let rows: Vec<&[&str]> = rows.iter().map(|r| r.as_slice()).collect();
        sheet_of(&rows)
    }

    #[test]
    fn a_bad_sheet_reports_its_rows_and_yields_nothing() {
        let bytes = sheet(&[
            ["No", "大項目", "中項目", "内容"],
            ["1", "ID管理", "共有禁止", "1人1ID"],
            ["x", "ID管理", "発行", "管理簿"],
            ["3", "", "発行", "管理簿"],
            ["3", "ID管理", "発行", ""],
        ]);
        let errs = import(&bytes, "town", "町の一覧表").unwrap_err();
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(text[0].contains("3行目") && text[0].contains("\"x\""), "{text:?}");
        assert!(text.iter().any(|t| t.contains("No.3 major")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("No.3 number")), "duplicate: {text:?}");
        assert!(text.iter().any(|t| t.contains("No.3 text")), "{text:?}");
    }

    fn sheet_of(rows: &[&[&str]]) -> Vec<u8> {
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        for (r, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                ws.write_string(r as u32, c as u16, *v).unwrap();
            }
        }
        wb.save_to_buffer().unwrap()
    }

    /// A 自動確認 cell of sixteen thousand words and 回答者 cells of thirty
    /// thousand characters, in 300 rows: each word was a message, and each
    /// cell quoted whole in its own (a cell of 16 MB, its string shared,
    /// made sixteen million messages, gigabytes). Now a cell of too many
    /// words is one message, a quoted cell is cut to 40 characters, and
    /// the messages stop at 200 with a count of the rest.
    #[test]
    fn a_sheet_of_endless_words_and_cells_gives_at_most_two_hundred_short_messages() {
        let header: &[&str] = &["No", "大項目", "中項目", "内容", "自動確認", "回答者"];
        let (words, party) = ("tls ".repeat(8_000), "業".repeat(30_000));
        let numbers: Vec<String> = (1..=300).map(|n| n.to_string()).collect();
        let mut rows = vec![header.to_vec()];
        for (n, number) in numbers.iter().enumerate() {
            let (checks, who) = if n < 150 { (words.as_str(), "構築事業者") } else { ("", party.as_str()) };
            rows.push(vec![number.as_str(), "ID管理", "共有禁止", "1人1ID", checks, who]);
        }
        let rows: Vec<&[&str]> = rows.iter().map(Vec::as_slice).collect();
        let errs = import(&sheet_of(&rows), "town", "町の一覧表").unwrap_err();
        assert_eq!(errs.len(), mamori_core::catalog::MAX_ERRORS + 1, "{:?}", &errs[..3]);
        assert!(errs.last().unwrap().message.contains("ほか 100 件"), "{:?}", errs.last());
        assert!(errs.iter().all(|e| e.message.chars().count() < 200), "short messages");
        assert!(errs.iter().any(|e| e.message.contains("自動確認が多すぎます")), "{:?}", &errs[..3]);
    }

    #[test]
    fn the_party_column_takes_the_checklists_words_and_refuses_others() {
        let header: &[&str] = &["No", "大項目", "中項目", "内容", "回答者"];
        let file = import(
            &sheet_of(&[
                header,
                &["1", "ID管理", "共有禁止", "1人1ID", "所管課"],
                &["2", "ID管理", "発行", "管理簿", ""],
                &["3", "保守", "契約", "保守契約", "保守事業者"],
            ]),
            "t",
            "t",
        )
        .unwrap();
        let got: Vec<Party> = file.requirements.iter().map(|r| r.party).collect();
        assert_eq!(got, [Party::Department, Party::Builder, Party::Maintenance], "empty is the builder");
        let errs = import(&sheet_of(&[header, &["1", "ID管理", "共有禁止", "1人1ID", "業者"]]), "t", "t").unwrap_err();
        assert!(errs.iter().any(|e| e.field == "回答者" && e.to_string().contains("\"業者\"")), "{errs:?}");
    }

    #[test]
    fn missing_columns_and_non_excel_files_are_refused() {
        let bytes = sheet(&[["No", "大項目", "説明", "内容"]]);
        let errs = import(&bytes, "t", "t").unwrap_err();
        assert!(errs[0].to_string().contains("中項目"), "{errs:?}");
        let errs = import("No,大項目\n1,x\n".as_bytes(), "t", "t").unwrap_err();
        assert!(errs[0].to_string().contains(".xlsx"), "{errs:?}");
    }
}
