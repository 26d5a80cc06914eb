//! Limits on an uploaded workbook, checked before any parsing: an .xlsx is
//! a zip, and a small one can expand enormously (calamine does not limit
//! it). The zip's directory is checked first (number of entries, declared
//! sizes); then every entry is inflated up to its limit and no further, so
//! that a directory that lies about sizes is caught too.

use calamine::{DataRef, Xlsx};
use std::io::{Cursor, Read, Seek};

/// The most cells a sheet's used rectangle may span. calamine allocates the
/// whole rectangle between a sheet's first and last non-empty cells, so a
/// file of a few KB with values in A1 and XFD1048576 would ask for hundreds
/// of GB at once: the allocation fails and the process aborts, which no
/// panic handler catches. mamori's own sheets span a few tens of thousands.
pub const MAX_SHEET_CELLS: u64 = 250_000;

/// The most text, in bytes, a sheet's cells may hold together once read.
/// calamine gives each cell that refers to a shared string a copy of it: a
/// file of a few KB whose one shared string of 8 MB is referred to by a
/// thousand cells would be read as 8 GB (an allocation that fails aborts
/// the process). mamori's own sheets hold a few MB.
pub const MAX_SHEET_TEXT: u64 = 32 << 20;

/// The most cell formats (`xf`) a workbook's styles may hold: Excel makes
/// at most 64,000.
pub const MAX_STYLES: u64 = 65_536;

/// The most bytes the cell formats may stand for together, each counted at
/// the longest value the styles hold. calamine gives every cell format its
/// own copy of its number format and font (and reads the number format
/// again for each): a part of a few KB deflated, one number format of a
/// megabyte and 350,000 formats naming it, would be read as 350 GB (an
/// allocation that fails aborts the process). Excel's own formats are
/// short (a number format at most 255 characters, a font name 31), so
/// 65,536 formats fit with values of 256 bytes.
pub const MAX_STYLE_BYTES: u64 = 16 << 20;

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
    /// A sheet's used rectangle spans more than this many cells.
    TooManyCells(u64),
    /// The cell formats are more, or longer, than Excel makes.
    TooManyStyles,
    Corrupt(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotXlsx => f.write_str("Excel (.xlsx) のファイルではありません (not an .xlsx file)"),
            Refusal::TooManyEntries(n) => write!(f, "ファイル内の要素が多すぎます (more than {n} entries)"),
            Refusal::TooLarge(mb) => write!(f, "展開後のサイズが大きすぎます (expands beyond {mb} MB)"),
            Refusal::TooManyCells(n) => {
                write!(f, "シートの使用範囲が広すぎます (a sheet spans more than {n} cells)")
            }
            Refusal::TooManyStyles => {
                f.write_str("セルの書式が多すぎるか長すぎます (more or longer cell formats than Excel makes)")
            }
            Refusal::Corrupt(e) => write!(f, "壊れたファイルです (corrupt): {e}"),
        }
    }
}

/// Refuses a workbook whose entries would expand beyond `limits`, or whose
/// sheets name cells outside Excel's grid.
pub fn check(bytes: &[u8], limits: Limits) -> Result<(), Refusal> {
    // A zip found after other content is no workbook: calamine first reads
    // the file as an OLE document (a password-protected workbook), and an
    // OLE header put before a workbook, its sector chain a loop, held it
    // appending forever.
    if !bytes.starts_with(b"PK\x03\x04") {
        return Err(Refusal::NotXlsx);
    }
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
    for i in 0..zip.len() {
        let entry = zip.by_index(i).map_err(|e| Refusal::Corrupt(e.to_string()))?;
        let name = entry.name().map(|n| n.to_ascii_lowercase()).unwrap_or_default();
        // Every entry is inflated whole (within the entry limit; a size
        // that does not match the directory is an error of the zip reader:
        // the directory lied) and looked at for what calamine makes of it.
        let mut xml = Vec::new();
        entry.take(limits.entry + 1).read_to_end(&mut xml).map_err(|e| Refusal::Corrupt(e.to_string()))?;
        total += xml.len() as u64;
        if xml.len() as u64 > limits.entry || total > limits.total {
            return Err(Refusal::TooLarge(mib(limits.entry.min(limits.total))));
        }
        // XML 1.0 allows no control character but tab and line ends.
        // calamine reads attributes its own way, taking a form feed for a
        // space where this check's reader does not: `\x0CuniqueCount`
        // passed here, and calamine reserved room for its count.
        if is_xml(&name, &xml) && xml.iter().any(|b| matches!(b, 0..=8 | 0x0B | 0x0C | 0x0E..=0x1F)) {
            return Err(Refusal::Corrupt(
                "XML に使えない制御文字があります (a control character XML does not allow)".into(),
            ));
        }
        // The shared strings for the count they announce (see
        // `shared_strings_within`), the styles for their formats (see
        // `styles_within`): calamine finds both beside the workbook part,
        // wherever that is.
        if name.ends_with("sharedstrings.xml") && !shared_strings_within(&xml) {
            return Err(Refusal::TooManyCells(MAX_SHEET_CELLS));
        }
        if name.ends_with("styles.xml") && !styles_within(&xml) {
            return Err(Refusal::TooManyStyles);
        }
        // A sheet for its cell references (see `cell_refs_in_bounds`):
        // calamine opens a sheet wherever the workbook's relationships
        // point, so any part with sheet data is read as one.
        let sheet = name.starts_with("xl/worksheets/") || xml.windows(9).any(|w| w == b"sheetData");
        if sheet && !cell_refs_in_bounds(&xml) {
            return Err(Refusal::Corrupt(
                "Excel の範囲 (XFD1048576) を超える位置のセルがあります (a cell beyond XFD1048576)".into(),
            ));
        }
    }
    Ok(())
}

/// Is this part XML (calamine may read any part a relationship names as
/// XML): by its name, or by its first character past a byte-order mark and
/// spaces.
fn is_xml(name: &str, bytes: &[u8]) -> bool {
    // A part in UTF-16 is refused with the rest: calamine's XML reader
    // decodes UTF-16, this check's reads it as bytes.
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return true;
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    name.ends_with(".xml") || name.ends_with(".rels") || name.ends_with(".vml") || first == Some(&b'<')
}

/// Does the shared-strings part announce no more strings than a sheet may
/// have cells? calamine reserves room for the `uniqueCount` it announces
/// when the workbook is opened, before a string is read: ten billion of
/// them in a file of 200 bytes would abort the process.
pub fn shared_strings_within(xml: &[u8]) -> bool {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == "sst" => {
                // An attribute that cannot be read is refused, not passed over.
                return e.attributes().all(|a| {
                    a.is_ok_and(|a| {
                        a.key.local_name().as_ref() != "uniqueCount"
                            || a.value.trim().parse::<u64>().is_ok_and(|n| n <= MAX_SHEET_CELLS)
                    })
                });
            }
            Ok(Event::Eof) => return true,
            Err(_) => return false,
            _ => buf.clear(),
        }
    }
}

/// Are the styles' cell formats no more than [`MAX_STYLES`], and no more
/// than [`MAX_STYLE_BYTES`] when each is counted at the longest value
/// (an attribute's or a text's) the part holds? XML that cannot be read is
/// refused.
pub fn styles_within(xml: &[u8]) -> bool {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    let (mut formats, mut longest) = (0u64, 1u64);
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                if e.local_name().as_ref() == "xf" {
                    formats += 1;
                }
                for attr in e.attributes() {
                    let Ok(attr) = attr else { return false };
                    longest = longest.max(attr.value.len() as u64);
                }
            }
            Ok(Event::Text(t)) => longest = longest.max(t.len() as u64),
            Ok(Event::Eof) => break,
            Err(_) => return false,
            Ok(_) => {}
        }
        buf.clear();
    }
    formats <= MAX_STYLES && formats.saturating_mul(longest) <= MAX_STYLE_BYTES
}

/// Refuses sheet `name` of a workbook [`check`] has passed when its used
/// rectangle, as calamine will size it, spans more than
/// [`MAX_SHEET_CELLS`], or its cells' text adds up to more than
/// [`MAX_SHEET_TEXT`]. The cells are streamed (nothing is kept, a shared
/// string is borrowed) and placed as calamine places them, a cell without a
/// reference after the one before it. What cannot be read here (no such
/// sheet, bad XML) is left to the caller's own read, which fails the same
/// way before allocating.
pub fn sheet_size_within<RS: Read + Seek>(wb: &mut Xlsx<RS>, name: &str) -> Result<(), Refusal> {
    let Ok(mut cells) = wb.worksheet_cells_reader(name) else { return Ok(()) };
    let (mut rows, mut cols) = ((u32::MAX, 0u32), (u32::MAX, 0u32));
    let mut text = 0u64;
    while let Ok(Some(cell)) = cells.next_cell() {
        match cell.get_value() {
            DataRef::Empty => continue,
            DataRef::SharedString(s) => text += s.len() as u64,
            DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => text += s.len() as u64,
            _ => {}
        }
        if text > MAX_SHEET_TEXT {
            return Err(Refusal::TooLarge(MAX_SHEET_TEXT >> 20));
        }
        let (row, col) = cell.get_position();
        rows = (rows.0.min(row), rows.1.max(row));
        cols = (cols.0.min(col), cols.1.max(col));
        let span = |(first, last): (u32, u32)| u64::from(last.saturating_sub(first)) + 1;
        if span(rows).saturating_mul(span(cols)) > MAX_SHEET_CELLS {
            return Err(Refusal::TooManyCells(MAX_SHEET_CELLS));
        }
    }
    Ok(())
}

/// Does every cell reference of a sheet (`r="B7"`, `ref="A1:D20"`) stay
/// within Excel's grid (columns A–XFD, rows 1–1,048,576), each range running
/// forward? calamine computes a reference's column and a range's extent in
/// `u32`s without a bound: a reference of many letters, or a range whose end
/// comes before its start, overflows there (a panic in a debug build; in a
/// release one a wrapped number that a range is then sized after). Such a
/// sheet is refused here, before calamine reads it.
pub fn cell_refs_in_bounds(xml: &[u8]) -> bool {
    use quick_xml::events::Event;
    // Read as XML, as calamine reads it (either quote, any space around
    // `=`); a value is taken as written, so one spelt with a character
    // reference is refused. XML that cannot be read is refused too.
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    loop {
        let element = match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) => e,
            Ok(Event::Eof) => return true,
            // calamine would read the cells before the fault.
            Err(_) => return false,
            Ok(_) => {
                buf.clear();
                continue;
            }
        };
        for attr in element.attributes() {
            let Ok(attr) = attr else { return false };
            if !matches!(attr.key.as_ref(), "r" | "ref" | "sqref") {
                continue;
            }
            for range in attr.value.split(|c: char| c.is_ascii_whitespace()).filter(|r| !r.is_empty()) {
                let cells: Option<Vec<(u32, u32)>> = range.split(':').map(|c| in_grid(c.as_bytes())).collect();
                match cells.as_deref() {
                    Some([_]) => {}
                    Some([(c1, r1), (c2, r2)]) if c1 <= c2 && r1 <= r2 => {}
                    _ => return false,
                }
            }
        }
        buf.clear();
    }
}

/// `A1`…`XFD1048576`, with or without `$` signs, as (column, row); a whole
/// column or row (`A`, `1`) counts as 0 in the part it leaves out.
fn in_grid(cell: &[u8]) -> Option<(u32, u32)> {
    let cell: Vec<u8> = cell.iter().copied().filter(|b| *b != b'$').collect();
    let letters = cell.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    let digits = &cell[letters..];
    if letters > 3 || digits.len() > 7 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let col = cell[..letters].iter().fold(0u32, |n, b| n * 26 + u32::from(b.to_ascii_uppercase() - b'A') + 1);
    let row = digits.iter().fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
    (col <= 16_384 && row <= 1_048_576).then_some((col, row))
}
