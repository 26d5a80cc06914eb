//! What goes in and out of mamori as files, with no HTTP and no database:
//! CSV (UTF-8 with a BOM, or Shift_JIS) and Excel exports, the audit log as
//! JSON Lines and CSV, the catalog as an Excel workbook, answers files, the types of
//! evidence files and their malware scan by clamd.
//!
//! The web layer sends these bytes as downloads; the console writes them to
//! standard output or to a file.

pub mod answer_file;
pub mod answers;
pub mod audit_export;
pub mod catalog_io;
pub mod evidence;
pub mod export;
pub mod feeds;
mod formula;
pub mod inventory;
mod lenient;
pub mod report;
pub mod sealed;
pub mod xlsx_guard;
pub mod yearly;

#[cfg(test)]
mod props;
