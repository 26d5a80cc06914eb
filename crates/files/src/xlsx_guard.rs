//! Limits on an uploaded workbook, checked before any parsing: an .xlsx is
//! a zip, and a small one can expand enormously (calamine does not limit
//! it). The zip's directory is checked first (number of entries, declared
//! sizes); then every entry is inflated up to its limit and no further, so
//! that a directory that lies about sizes is caught too.

use std::io::{Cursor, Read};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest entry, inflated.
    pub entry: u64,
    /// All entries together, inflated.
    pub total: u64,
    pub entries: usize,
}

/// Why a workbook was refused before it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotXlsx,
    TooManyEntries(usize),
    /// An entry, or all of them, expand beyond the limit (in MiB).
    TooLarge(u64),
    Corrupt(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotXlsx => f.write_str("Excel (.xlsx) のファイルではありません (not an .xlsx file)"),
            Refusal::TooManyEntries(n) => write!(f, "ファイル内の要素が多すぎます (more than {n} entries)"),
            Refusal::TooLarge(mb) => write!(f, "展開後のサイズが大きすぎます (expands beyond {mb} MB)"),
            Refusal::Corrupt(e) => write!(f, "壊れたファイルです (corrupt): {e}"),
        }
    }
}

/// Refuses a workbook whose entries would expand beyond `limits`.
pub fn check(bytes: &[u8], limits: Limits) -> Result<(), Refusal> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| Refusal::NotXlsx)?;
    if zip.len() > limits.entries {
        return Err(Refusal::TooManyEntries(limits.entries));
    }
    let mib = |n: u64| n / (1024 * 1024);
    let mut declared = 0u64;
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|e| Refusal::Corrupt(e.to_string()))?;
        if entry.size() > limits.entry {
            return Err(Refusal::TooLarge(mib(limits.entry)));
        }
        declared += entry.size();
    }
    if declared > limits.total {
        return Err(Refusal::TooLarge(mib(limits.total)));
    }
    let mut total = 0u64;
    let mut sink = [0u8; 64 * 1024];
    for i in 0..zip.len() {
        let entry = zip.by_index(i).map_err(|e| Refusal::Corrupt(e.to_string()))?;
        let mut capped = entry.take(limits.entry + 1);
        let mut size = 0u64;
        loop {
            match capped.read(&mut sink) {
                Ok(0) => break,
                Ok(n) => size += n as u64,
                // A size that does not match the directory is an error of
                // the zip reader: the directory lied.
                Err(e) => return Err(Refusal::Corrupt(e.to_string())),
            }
        }
        total += size;
        if size > limits.entry || total > limits.total {
            return Err(Refusal::TooLarge(mib(limits.entry.min(limits.total))));
        }
    }
    Ok(())
}
