//! Files sent to the browser: always as an attachment, with the type and a
//! name that is safe in the header. The bytes come from `mamori_files`.

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use mamori_files::export::{csv_bytes, CsvEncoding, XLSX_CONTENT_TYPE};

/// `attachment` with an ASCII fallback and the UTF-8 name (RFC 6266/5987).
pub fn attachment(filename: &str) -> String {
    let ascii: String =
        filename.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_".contains(c) { c } else { '_' }).collect();
    let encoded: String = filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// A download's file name, kept on the response for the layer that seals
/// it ([`crate::sealed`]).
#[derive(Debug, Clone)]
pub struct FileName(pub String);

/// A download's name as one file name: no folder (`/`, `\\`), none of the
/// characters Windows refuses in a name, no control characters or marks
/// that reorder text. Some names carry a system's name
/// (`checklist-7-{name}.xlsx`), and a sealed ZIP's entry takes the name:
/// a system named `a/../../x` made an entry that climbed out of the folder
/// it was extracted to.
pub fn one_file_name(name: &str) -> String {
    name.chars()
        .filter(|c| !mamori_files::evidence::hidden_in_names(*c))
        .map(|c| if r#"/\:*?"<>|"#.contains(c) { '_' } else { c })
        .collect()
}

/// `body` as a download named `filename` (as [`one_file_name`]), of type
/// `content_type`.
pub fn file(content_type: &str, filename: &str, body: impl Into<Body>) -> Response {
    let filename = &one_file_name(filename);
    let mut res = (
        [(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, attachment(filename))],
        body.into(),
    )
        .into_response();
    res.extensions_mut().insert(FileName(filename.to_owned()));
    res
}

/// A table as a CSV download in the encoding asked for.
pub fn csv(filename: &str, headers: &[String], rows: &[Vec<String>], enc: CsvEncoding) -> Response {
    file(enc.content_type(), filename, csv_bytes(headers, rows, enc))
}

/// An .xlsx workbook as a download.
pub fn xlsx(filename: &str, bytes: Vec<u8>) -> Response {
    file(XLSX_CONTENT_TYPE, filename, bytes)
}

/// The downloads that may be sealed: each also answers a POST.
pub const DOWNLOADS: [&str; 10] = [
    "/admin/ledger.csv",
    "/admin/ledger.xlsx",
    "/audit/export.csv",
    "/audit/export.jsonl",
    "/systems.xlsx",
    "/systems/{id}/report.xlsx",
    "/systems/{id}/report.csv",
    "/systems/{id}/yearly.xlsx",
    "/systems/{id}/inventory.xlsx",
    "/systems/{id}/inventory.csv",
];

pub fn is_download(path: &str) -> bool {
    DOWNLOADS.contains(&path)
}

/// Does the route give a file, or a page to print, and write an audit
/// event as it does: the [`DOWNLOADS`], the answer workbook, evidence and
/// library files, and the print pages of the reports. Each is refused
/// when asked for from another site and counted against the person's
/// limit on changes.
pub fn is_audited(path: &str) -> bool {
    is_download(path)
        || [
            "/systems/{id}/answers.xlsx",
            "/evidence/{id}",
            "/documents/{id}",
            "/systems/{id}/report",
            "/systems/{id}/yearly/report",
        ]
        .contains(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_names_are_safe() {
        assert_eq!(
            attachment("ID管理簿.csv"),
            "attachment; filename=\"ID___.csv\"; filename*=UTF-8''ID%E7%AE%A1%E7%90%86%E7%B0%BF.csv"
        );
        assert!(!attachment("a\"b\r\n.csv").contains('"') || attachment("a\"b\r\n.csv").matches('"').count() == 2);
    }

    #[test]
    fn a_download_name_is_one_file_name() {
        assert_eq!(one_file_name("checklist-7-a/../../x.xlsx"), "checklist-7-a_.._.._x.xlsx");
        assert_eq!(one_file_name("c:\\w\\*?\"<>|.csv"), "c__w_______.csv");
        assert_eq!(one_file_name("台帳\u{202E}vsc.exe\r\n"), "台帳vsc.exe");
        assert_eq!(one_file_name("申請受付システム.xlsx"), "申請受付システム.xlsx");
    }
}
