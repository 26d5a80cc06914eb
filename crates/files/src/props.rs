//! Every parser of a file people bring in, under many thousand random
//! inputs seeded from real files: the catalog (YAML and Excel), the Excel
//! answer sheet, the inventory sheet (CSV and Excel), the vulnerability and
//! release feeds (NVD, JVN, endoflife.date) and the ISMAP list. Each input
//! is a real file with random edits (bytes changed, inserted, removed,
//! cut, a run repeated) or random bytes alone. None may panic, and none may
//! hold more memory at once than [`PEAK_LIMIT`] (the allocator of this test
//! binary counts every byte).

use proptest::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call goes to the system allocator unchanged; the counters
// only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most memory this whole test binary may hold at once: inputs are at
/// most a few hundred kilobytes, so anything near this is a parser
/// believing a length it read.
const PEAK_LIMIT: usize = 256 << 20;

fn within_limit() {
    let peak = PEAK.load(Ordering::Relaxed);
    assert!(peak < PEAK_LIMIT, "peak allocation {peak} bytes");
}

/// One random edit of a file.
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Cut(usize),
    Repeat(usize, usize, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        2 => any::<usize>().prop_map(Edit::Remove),
        1 => any::<usize>().prop_map(Edit::Cut),
        1 => (any::<usize>(), 1usize..64, 1u8..8).prop_map(|(i, n, k)| Edit::Repeat(i, n, k)),
    ]
}

fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for e in edits {
        if b.is_empty() {
            break;
        }
        let at = |i: usize| i % b.len();
        match *e {
            Edit::Set(i, v) => {
                let i = at(i);
                b[i] = v;
            }
            Edit::Insert(i, v) => {
                let i = at(i);
                b.insert(i, v);
            }
            Edit::Remove(i) => {
                let i = at(i);
                b.remove(i);
            }
            Edit::Cut(i) => {
                let i = at(i);
                b.truncate(i);
            }
            Edit::Repeat(i, n, k) => {
                let i = at(i);
                let run = b[i..(i + n).min(b.len())].to_vec();
                for _ in 0..k {
                    b.splice(i..i, run.iter().copied());
                }
            }
        }
    }
    b
}

/// A real file with a few edits, or random bytes.
fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    prop_oneof![
        8 => (0..n, prop::collection::vec(edit(), 1..8)).prop_map(move |(s, e)| apply(&seeds[s], &e)),
        1 => prop::collection::vec(any::<u8>(), 0..512),
    ]
}

/// The parts of a workbook (a zip of XML files), one of them edited, put
/// back together: edits that reach the XML reader and the cells, past the
/// zip's own checks.
fn repacked(book: &[u8], part: usize, edits: &[Edit]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(book)).expect("a workbook of our own");
    let mut parts = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        parts.push((f.name().unwrap().into_owned(), bytes));
    }
    let n = part % parts.len();
    parts[n].1 = apply(&parts[n].1, edits);
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in parts {
        out.start_file(name, stored).unwrap();
        out.write_all(&bytes).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// A workbook with edits to its bytes or to one of its parts.
fn book_mutated(book: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let whole = mutated(vec![book.clone()]);
    prop_oneof![
        1 => whole,
        3 => (any::<usize>(), prop::collection::vec(edit(), 1..8)).prop_map(move |(p, e)| repacked(&book, p, &e)),
    ]
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn feed_seeds() -> Vec<Vec<u8>> {
    use crate::feeds::tests::{JVN, NVD, NVD_ON_PLATFORM};
    let endoflife_v1 = br#"{"schema_version":"1.2.0","result":{"name":"nginx","label":"nginx","aliases":[],
        "identifiers":[{"type":"cpe","id":"cpe:2.3:a:f5:nginx"}],"releases":[{"name":"1.25","releaseDate":"2023-05-23",
        "isEol":false,"eolFrom":null,"latest":{"name":"1.25.3"}},{"name":"1.24","eolFrom":"2024-04-23","latest":{"name":"1.24.0"}}]}}"#;
    let endoflife_v0 = br#"[{"cycle":"1.25","releaseDate":"2023-05-23","eol":false,"latest":"1.25.3"},{"cycle":1.24,"eol":"2024-04-23"}]"#;
    let ismap = "ISMAP クラウドサービスリスト\n\n登録番号,クラウドサービス名,クラウドサービス事業者名\nC21-0001-1,クラウドA,A 株式会社\n";
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(ismap);
    vec![
        NVD.as_bytes().to_vec(),
        NVD_ON_PLATFORM.as_bytes().to_vec(),
        JVN.as_bytes().to_vec(),
        endoflife_v1.to_vec(),
        endoflife_v0.to_vec(),
        ismap.as_bytes().to_vec(),
        sjis.to_vec(),
    ]
}

fn inventory_seeds() -> Vec<Vec<u8>> {
    use crate::export::CsvEncoding;
    let rows = [
        [
            "OS",
            "Ubuntu",
            "Canonical",
            "22.04.3",
            "Web",
            "cpe:2.3:o:canonical:ubuntu_linux:22.04:*:*:*:*:*:*:*",
            "2027-04-01",
            "",
            "2027-04-01",
        ]
        .map(str::to_owned),
        ["ミドルウェア", "nginx", "F5", "1.24.0", "Web サーバ", "", "", "次年度に更新", ""].map(str::to_owned),
    ];
    vec![
        crate::inventory::csv(&rows, CsvEncoding::Utf8Bom),
        crate::inventory::csv(&rows, CsvEncoding::ShiftJis),
        crate::inventory::xlsx(&rows).unwrap(),
    ]
}

proptest! {
    #![proptest_config(config(4_000))]

    #[test]
    fn feeds_and_the_ismap_list_never_panic_or_allocate_without_bound(
        (bytes, name) in (mutated(feed_seeds()), prop::sample::select(vec!["nvd.json", "jvn.rdf", "nginx.json", "list.csv", "list.xlsx", "x"]))
    ) {
        let _ = crate::feeds::read(&bytes, name);
        within_limit();
    }

    #[test]
    fn inventory_sheets_never_panic_or_allocate_without_bound(bytes in mutated(inventory_seeds())) {
        let _ = crate::inventory::read(&bytes);
        within_limit();
    }

    #[test]
    fn inventory_workbooks_edited_inside_never_panic_or_allocate_without_bound(
        bytes in book_mutated(inventory_seeds().pop().unwrap())
    ) {
        let _ = crate::inventory::read(&bytes);
        within_limit();
    }
}

proptest! {
    #![proptest_config(config(1_500))]

    #[test]
    fn the_answer_workbook_never_panics_or_allocates_without_bound(
        bytes in book_mutated(crate::report::xlsx(&crate::report::tests::sample(), crate::report::Copy::ForAnswers).unwrap())
    ) {
        let _ = crate::answers::read(&bytes);
        within_limit();
    }

    #[test]
    fn the_catalog_workbook_never_panics_or_allocates_without_bound(
        bytes in book_mutated(crate::catalog_io::export(&mamori_core::catalog::CatalogFile::shipped()).unwrap())
    ) {
        let _ = crate::catalog_io::import(&bytes, "chiyoda", "千代田区");
        within_limit();
    }

    #[test]
    fn an_answers_file_never_panics_or_allocates_without_bound(
        bytes in mutated(vec![include_bytes!("../../../docs/self-assessment/mamori.yaml").to_vec()])
    ) {
        let _ = crate::answer_file::read(&bytes);
        within_limit();
    }

    #[test]
    fn the_catalog_yaml_never_panics_or_allocates_without_bound(
        bytes in mutated(vec![mamori_core::catalog::SHIPPED_YAML.as_bytes().to_vec()])
    ) {
        let _ = mamori_core::catalog::CatalogFile::from_yaml(&String::from_utf8_lossy(&bytes));
        within_limit();
    }
}

#[test]
fn hostile_yaml_and_json_shapes_are_refused_within_the_limit() {
    // Aliases that multiply (the "billion laughs"), and nesting deeper than
    // any stack: refused or read, never a crash or a blow-up.
    let mut laughs = String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for (i, c) in ('b'..='j').enumerate() {
        let prev = (b'a' + i as u8) as char;
        laughs.push_str(&format!(
            "{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
    }
    assert!(mamori_core::catalog::CatalogFile::from_yaml(&laughs).is_err());
    assert!(crate::answer_file::read(laughs.as_bytes()).is_err());
    let deep = "[".repeat(100_000);
    assert!(mamori_core::catalog::CatalogFile::from_yaml(&deep).is_err());
    assert!(crate::answer_file::read(deep.as_bytes()).is_err());
    assert!(crate::feeds::read(deep.as_bytes(), "nvd.json").is_err());
    let deep_xml = "<a>".repeat(100_000);
    assert!(crate::feeds::read(deep_xml.as_bytes(), "jvn.rdf").is_err());
    within_limit();
}

/// One requirement's text of 2 MB anchored and named again by the next two
/// hundred (a catalog of 2 MB): serde_yaml_ng bounds how often aliases are
/// followed, not what each one replays, and read 400 MB of strings before
/// the catalog's own checks ran (gigabytes with a few thousand). Refused for
/// what its aliases expand to, holding a few times the document; the same
/// for an answers file.
#[test]
fn a_catalog_whose_aliases_repeat_a_long_text_is_refused_before_it_is_read() {
    let head = mamori_core::catalog::SHIPPED_YAML.split("requirements:\n").next().unwrap();
    let requirement = |n: u32, text: &str| {
        format!(
            "  - number: {n}\n    source: policy\n    major: \"大\"\n    middle: \"中\"\n    text: {text}\n    \
             applies_when: \"always\"\n    checks: []\n    self_met: false\n    evidence_hint: \"資料\"\n"
        )
    };
    let mut yaml = format!("{head}requirements:\n{}", requirement(1, &format!("&t \"{}\"", "長".repeat(700_000))));
    for n in 2..=200 {
        yaml.push_str(&requirement(n, "*t"));
    }
    let peak = peak_during(|| {
        let refused = mamori_core::catalog::CatalogFile::from_yaml(&yaml).unwrap_err();
        assert!(refused[0].message.contains("エイリアスの展開が大きすぎます"), "{}", refused[0].message);
    });
    assert!(peak < 4 * yaml.len(), "peak {} MB for {} MB", peak >> 20, yaml.len() >> 20);
    let answers = format!(
        "answers:\n  - number: 1\n    status: 対応済\n    measures: &m \"{}\"\n{}",
        "長".repeat(100_000),
        "  - {number: 2, status: 対応済, measures: *m}\n".repeat(200)
    );
    let refused = crate::answer_file::read(answers.as_bytes()).unwrap_err();
    assert!(refused[0].message.contains("エイリアスの展開が大きすぎます"), "{}", refused[0].message);
    // Without the aliases, the same catalog is read.
    let plain = yaml.replace("*t", "\"短い\"");
    assert_eq!(mamori_core::catalog::CatalogFile::from_yaml(&plain).unwrap().requirements.len(), 200);
}

/// A sheet naming a cell of eleven column letters, or a range running
/// backwards, made calamine overflow a `u32` (both found by the test above):
/// refused as corrupt before it is read, by every reader of workbooks,
/// however the reference is quoted or spaced (the check once matched only
/// ` r="`, so `r='XFE1'` passed it).
#[test]
fn a_cell_reference_beyond_the_grid_is_refused_before_the_workbook_is_read() {
    let book = inventory_seeds().pop().unwrap();
    let hostile = rewritten(&book, |name, text| {
        if name.starts_with("xl/worksheets/") {
            assert!(text.contains(" r=\"A1\""), "{text}");
            *text = text.replace(" r=\"A1\"", " r=\"AAAAAAAAAAA1\"");
        }
    });
    let refused = crate::inventory::read(&hostile).unwrap_err();
    assert!(refused[0].located().contains("XFD1048576"), "{}", refused[0].located());
    let refused = crate::answers::read(&hostile).unwrap_err();
    assert!(refused[0].message.contains("XFD1048576"), "{}", refused[0].message);
    assert!(crate::catalog_io::import(&hostile, "chiyoda", "x").is_err());
    // The grid's own corners stay readable.
    assert!(crate::xlsx_guard::cell_refs_in_bounds(b"<c r=\"XFD1048576\"/><dimension ref=\"A1:$XFD$1048576\"/>"));
    assert!(!crate::xlsx_guard::cell_refs_in_bounds(b"<c r=\"XFE1\"/>"));
    assert!(!crate::xlsx_guard::cell_refs_in_bounds(b"<dimension ref=\"A1:A1048577\"/>"));
    // A range that ends before it starts (found by the test above too).
    assert!(!crate::xlsx_guard::cell_refs_in_bounds(b"<dimension ref=\"B2:A1\"/>"));
    assert!(!crate::xlsx_guard::cell_refs_in_bounds(b"<dimension ref=\"A9:A1\"/>"));
    // Written otherwise, as calamine reads it too: single quotes, a tab or
    // spaces around `=`, a character reference; and XML that breaks off.
    for hidden in [
        &b"<dimension ref='B2:A1'/>"[..],
        b"<c\tr=\"XFE1\"/>",
        b"<c r = 'AAAAAAAAAAAAA1'/>",
        b"<row r='99999999999'/>",
        b"<c r=\"&#65;AAAAAAAAAAAA1\"/>",
        b"<c r=\"A1\"/><c r=\"B1",
    ] {
        assert!(!crate::xlsx_guard::cell_refs_in_bounds(hidden), "{}", String::from_utf8_lossy(hidden));
    }
    let quoted = rewritten(&book, |name, text| {
        if name.starts_with("xl/worksheets/") {
            *text = text.replace(" r=\"A1\"", " r='XFE1'");
        }
    });
    let refused = crate::inventory::read(&quoted).unwrap_err();
    assert!(refused[0].located().contains("XFD1048576"), "{}", refused[0].located());
    assert!(crate::inventory::read(&book).is_ok(), "the workbook before the edit reads");
}

/// Workbook `book` with each of its parts as `edit` leaves its text.
fn rewritten(book: &[u8], edit: impl Fn(&str, &mut String)) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(book)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().into_owned();
        let mut text = String::new();
        f.read_to_string(&mut text).unwrap();
        edit(&name, &mut text);
        out.start_file(name, stored).unwrap();
        out.write_all(text.as_bytes()).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// Files of a few KB that calamine would size at hundreds of GB: two
/// values at opposite corners of the grid (calamine allocates the whole
/// rectangle between them), the far one also without its reference (placed
/// by the row it is in), a rectangle of a GB (A1 to XFD2000, within the
/// row limit), and a shared-strings part announcing ten billion strings
/// (room reserved when the workbook is opened). Before they were refused the
/// first aborted the process: no reader may take them, and none may hold
/// more than the limit while refusing.
#[test]
fn a_workbook_whose_sheet_spans_the_grid_or_announces_billions_of_strings_is_refused_without_allocating_it() {
    let corners = |far: (u32, u16)| {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        ws.set_name(crate::report::META_SHEET).unwrap();
        ws.write_string(0, 0, "system_id").unwrap();
        ws.write_string(far.0, far.1, "far").unwrap();
        wb.save_to_buffer().unwrap()
    };
    let grid = corners((1_048_575, 16_383));
    let unplaced = rewritten(&grid, |_, text| *text = text.replace(" r=\"XFD1048576\"", ""));
    assert_ne!(unplaced, grid, "the far cell's reference was taken out");
    let gigabyte = corners((1_999, 16_383));
    let strings = rewritten(&corners((1, 1)), |name, text| {
        if name.ends_with("sharedStrings.xml") {
            assert!(text.contains("uniqueCount=\"2\""), "{text}");
            *text = text.replace("uniqueCount=\"2\"", "uniqueCount=\"10000000000\"");
        }
    });
    for (what, book) in [("corners", grid), ("unplaced", unplaced), ("a gigabyte", gigabyte), ("strings", strings)] {
        let refused = crate::inventory::read(&book).unwrap_err();
        assert!(refused[0].message.contains("シートの使用範囲が広すぎます"), "{what}: {}", refused[0].message);
        let refused = crate::answers::read(&book).unwrap_err();
        assert!(refused[0].message.contains("シートの使用範囲が広すぎます"), "{what}: {}", refused[0].message);
        let refused = crate::catalog_io::import(&book, "chiyoda", "x").unwrap_err();
        assert!(format!("{refused:?}").contains("シートの使用範囲が広すぎます"), "{what}: {refused:?}");
    }
    within_limit();
    // A small sheet is read, and refused for what it says, not its size.
    let small = crate::inventory::read(&corners((1, 1))).unwrap_err();
    assert!(!small[0].message.contains("シートの使用範囲"), "{}", small[0].message);
}

/// Two files of a few hundred bytes that stopped the whole server, as an
/// answer workbook any vendor may upload:
/// - the shared strings announcing ten billion strings, a form feed before
///   the attribute (or before its `=`): this check's XML reader took it
///   for part of the name and passed it, calamine took it for a space and
///   reserved room for them all (the allocation failed, the process
///   aborted);
/// - a workbook behind an OLE header whose sector chain is a loop: the zip
///   reader finds a zip after other content, and calamine, reading the
///   file as a password-protected (OLE) workbook first, followed the chain
///   forever, its memory growing.
///
/// Each is refused by the check before calamine sees it, by every reader.
#[test]
fn strings_announced_behind_a_form_feed_and_a_workbook_behind_an_ole_header_are_refused_before_they_are_read() {
    let book = |cells: u32| {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        ws.set_name(crate::report::META_SHEET).unwrap();
        for row in 0..cells {
            ws.write_string(row, 0, format!("文字{row}")).unwrap();
        }
        wb.save_to_buffer().unwrap()
    };
    let announced = |from: &'static str, to: &'static str| {
        rewritten(&book(2), move |name, text| {
            if name.ends_with("sharedStrings.xml") {
                assert!(text.contains(from), "{text}");
                *text = text.replace(from, to);
            }
        })
    };
    let before_the_name = announced(" uniqueCount=\"2\"", " \x0CuniqueCount=\"10000000000000\"");
    let before_the_sign = announced("uniqueCount=\"2\"", "uniqueCount\x0C=\"10000000000000\"");
    // An OLE header: the directory and the FAT both in sector 0, and
    // sector 0 all zeros, so that the FAT says sector 0 follows itself.
    let mut ole = vec![0u8; 1024];
    ole[..8].copy_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    ole[0x18..0x20].copy_from_slice(&[0x3E, 0x00, 0x03, 0x00, 0xFE, 0xFF, 0x09, 0x00]);
    ole[0x20..0x22].copy_from_slice(&[0x06, 0x00]);
    ole[0x2C..0x30].copy_from_slice(&1u32.to_le_bytes());
    ole[0x38..0x3C].copy_from_slice(&4096u32.to_le_bytes());
    for at in [0x3C, 0x44] {
        ole[at..at + 4].copy_from_slice(&0xFFFF_FFFEu32.to_le_bytes());
    }
    for slot in (0x50..0x200).step_by(4) {
        ole[slot..slot + 4].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
    }
    let behind_ole = [ole, book(2)].concat();
    let limits = crate::xlsx_guard::Limits { entry: 8 << 20, total: 16 << 20, entries: 100 };
    for (what, hostile) in [("name", &before_the_name), ("sign", &before_the_sign), ("ole", &behind_ole)] {
        // The check first: without it, the readers below never return.
        assert!(crate::xlsx_guard::check(hostile, limits).is_err(), "{what}: passed the check");
        assert!(crate::answers::read(hostile).is_err(), "{what}");
        assert!(crate::inventory::read(hostile).is_err(), "{what}");
        assert!(crate::catalog_io::import(hostile, "chiyoda", "x").is_err(), "{what}");
    }
    assert!(zip::ZipArchive::new(std::io::Cursor::new(&behind_ole)).is_ok(), "the zip reader finds the workbook");
    // Unchanged, the same workbook passes the check.
    assert_eq!(crate::xlsx_guard::check(&book(2), limits), Ok(()));
}

/// A workbook (a few KB deflated) whose one shared string of 2 MB is referred to by
/// a thousand cells: calamine gives each cell its own copy, 2 GB read from
/// a file any vendor may upload (8 MB strings would have been 8 GB, and an
/// allocation that fails aborts the process). Every reader refuses it for
/// its text before reading it; the same sheet with the string in a few
/// cells reads.
#[test]
fn a_sheet_whose_cells_repeat_one_long_shared_string_is_refused_without_copying_it() {
    let book = |cells: u32| {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        ws.set_name(crate::report::META_SHEET).unwrap();
        for row in 0..cells {
            ws.write_string(row, 0, "短").unwrap();
        }
        // Excel's own limit on a cell is 32,767 characters; calamine has none.
        rewritten(&wb.save_to_buffer().unwrap(), |name, text| {
            if name.ends_with("sharedStrings.xml") {
                assert!(text.contains("<t>短</t>"), "{text}");
                *text = text.replace("<t>短</t>", &format!("<t>{}</t>", "長".repeat(700_000)));
            }
        })
    };
    let hostile = book(1_000);
    let peak = peak_during(|| {
        let refused = crate::answers::read(&hostile).unwrap_err();
        assert!(refused[0].message.contains("展開後のサイズが大きすぎます"), "{}", refused[0].message);
        let refused = crate::inventory::read(&hostile).unwrap_err();
        assert!(refused[0].message.contains("展開後のサイズが大きすぎます"), "{}", refused[0].message);
        let refused = crate::catalog_io::import(&hostile, "chiyoda", "x").unwrap_err();
        assert!(format!("{refused:?}").contains("展開後のサイズが大きすぎます"), "{refused:?}");
    });
    assert!(peak < 64 << 20, "peak {} MB", peak >> 20);
    let refused = crate::answers::read(&book(3)).unwrap_err();
    assert!(!refused[0].message.contains("展開後のサイズ"), "{}", refused[0].message);
}

/// A workbook (a few MB, stored; a few KB deflated) whose styles hold one
/// number format of 100,000 characters and 100,000 cell formats naming it:
/// calamine gives each cell format its own copy, 10 GB read from a file any
/// vendor may upload (an allocation that fails aborts the process). Every
/// reader refuses it for its styles before reading it, holding little; as
/// many formats of Excel's own length, and 60,000 short ones, read.
#[test]
fn a_workbook_whose_styles_repeat_one_long_number_format_is_refused_without_copying_it() {
    let book = |formats: usize, format_len: usize| {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        ws.set_name(crate::report::META_SHEET).unwrap();
        ws.write_string(0, 0, "system_id").unwrap();
        rewritten(&wb.save_to_buffer().unwrap(), |name, text| {
            if name.ends_with("styles.xml") {
                assert!(text.contains("<fonts") && text.contains("<cellXfs count=\"1\">"), "{text}");
                let format = format!(
                    "<numFmts count=\"1\"><numFmt numFmtId=\"164\" formatCode=\"{}\"/></numFmts>",
                    "0".repeat(format_len)
                );
                *text = text.replacen("<fonts", &format!("{format}<fonts"), 1);
                let xfs = "<xf numFmtId=\"164\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\"/>".repeat(formats);
                let (head, tail) = text.split_once("<cellXfs count=\"1\">").unwrap();
                let (_, tail) = tail.split_once("</cellXfs>").unwrap();
                *text = format!("{head}<cellXfs count=\"{formats}\">{xfs}</cellXfs>{tail}");
            }
        })
    };
    let hostile = book(100_000, 100_000);
    assert_eq!(
        crate::xlsx_guard::check(&hostile, crate::answers::LIMITS),
        Err(crate::xlsx_guard::Refusal::TooManyStyles),
        "refused before calamine opens it"
    );
    let peak = peak_during(|| {
        let refused = crate::answers::read(&hostile).unwrap_err();
        assert!(refused[0].message.contains("セルの書式が多すぎるか長すぎます"), "{}", refused[0].message);
        let refused = crate::inventory::read(&hostile).unwrap_err();
        assert!(refused[0].message.contains("セルの書式が多すぎるか長すぎます"), "{}", refused[0].message);
        let refused = crate::catalog_io::import(&hostile, "chiyoda", "x").unwrap_err();
        assert!(format!("{refused:?}").contains("セルの書式が多すぎるか長すぎます"), "{refused:?}");
    });
    assert!(peak < 64 << 20, "peak {} MB", peak >> 20);
    for (formats, format_len) in [(1_000, 255), (60_000, 8)] {
        let refused = crate::answers::read(&book(formats, format_len)).unwrap_err();
        assert!(!refused[0].message.contains("セルの書式"), "{formats}: {}", refused[0].message);
    }
}

/// calamine opens a sheet wherever the workbook's relationships point; the
/// guard looked only under `xl/worksheets/` for cell references beyond
/// Excel's grid (which calamine computes without a bound). A sheet moved to
/// `xl/s/` with a cell at `AAAA1` is refused as well.
#[test]
fn a_sheet_kept_outside_the_worksheets_folder_is_checked_for_cells_beyond_the_grid() {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(crate::report::META_SHEET).unwrap();
    ws.write_string(0, 0, "system_id").unwrap();
    let moved = |book: &[u8], far: &str| {
        use std::io::{Read, Write};
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(book)).unwrap();
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).unwrap();
            let name = f.name().unwrap().replace("xl/worksheets/", "xl/s/");
            let mut text = String::new();
            f.read_to_string(&mut text).unwrap();
            let text =
                text.replace("worksheets/sheet1.xml", "s/sheet1.xml").replace("r=\"A1\"", &format!("r=\"{far}\""));
            out.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
            out.write_all(text.as_bytes()).unwrap();
        }
        out.finish().unwrap().into_inner()
    };
    let book = wb.save_to_buffer().unwrap();
    let beyond = moved(&book, "AAAA1");
    let refused = crate::xlsx_guard::check(&beyond, crate::answers::LIMITS).unwrap_err();
    assert!(refused.to_string().contains("XFD1048576"), "{refused}");
    let refused = crate::inventory::read(&beyond).unwrap_err();
    assert!(refused[0].message.contains("XFD1048576"), "{}", refused[0].message);
    let within = moved(&book, "A1");
    assert_eq!(crate::xlsx_guard::check(&within, crate::answers::LIMITS), Ok(()), "the same sheet within the grid");
}

/// The most this test binary holds at once while `f` runs, above what it
/// held before (nextest runs each test in a process of its own).
fn peak_during(f: impl FnOnce()) -> usize {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed) - before
}

/// Blank rows were kept (for their numbers) and not counted towards a
/// sheet's most rows: 4 MB of `,` and line ends, within a vendor's upload
/// limit, became two million rows, about 200 MB held at once; a row of
/// four million commas, four million cells. Now a blank row is not kept and
/// a row keeps its first 64 cells.
#[test]
fn a_sheet_of_blank_rows_or_one_endless_row_holds_a_few_times_its_size() {
    let size = 4 << 20;
    let blank_rows = ",\n".repeat(size / 2);
    let endless_row = format!("製品,バージョン,ベンダ,CPE,サポート終了日\nnginx,1.24{}\n", ",".repeat(size));
    let ismap = format!("登録番号,クラウドサービス名,事業者名\n{}C21-0001-1,サービス,事業者\n", ",\n".repeat(size / 2));
    for (name, sheet) in [("blank rows", &blank_rows), ("endless row", &endless_row), ("ISMAP", &ismap)] {
        let peak = peak_during(|| {
            let _ = crate::inventory::read(sheet.as_bytes());
            let _ = crate::feeds::read(sheet.as_bytes(), "ismap.csv");
        });
        println!("{name}: {} MB of CSV, peak {} MB", sheet.len() >> 20, peak >> 20);
        assert!(peak < 3 * sheet.len(), "{name}: peak {peak} bytes for {} bytes", sheet.len());
    }
    let back = crate::inventory::read(endless_row.as_bytes()).unwrap();
    assert_eq!((back.len(), back[0].row, back[0].get("product")), (1, 2, "nginx"));
    let Ok(crate::feeds::Feed::Ismap(list)) = crate::feeds::read(ismap.as_bytes(), "ismap.csv") else {
        panic!("the ISMAP list after its blank rows");
    };
    assert_eq!(list.len(), 1);
}

/// A feed of the officer's page's largest size (64 MB) in the shapes that
/// inflate most when read. endoflife.date's files were read into a generic
/// JSON tree, 30 bytes and more a value: 16 MB of release cycles held
/// 900 MB; the bounds of a product's lists multiplied by the products'
/// (10,000 products of 5,000 cycles). NVD's records, descriptions, configurations and CPE matches
/// were each held whole as structs of a hundred bytes and more, and every
/// vulnerable product of an `AND` configuration carried its own copy of the
/// platform conditions: 2,000 products on 80 platforms are 160,000 copies
/// from 130 KB. Each shape is now read or refused holding at most six times
/// the file; what is held is mostly the advisories themselves (a JVN CPE of
/// 30 bytes is a product of about 150).
#[test]
fn a_feed_of_the_page_s_largest_size_in_shapes_that_inflate_holds_at_most_six_times_its_size() {
    let size = crate::feeds::MAX_BYTES;
    let times = |piece: &str| piece.repeat(size / piece.len());
    let vulnerable = "{\"vulnerable\":true,\"criteria\":\"cpe:2.3:a:a:a:*:*:*:*:*:*:*:*\"},".repeat(2_000);
    let platform = format!(
        "{{\"cpeMatch\":[{}{{\"criteria\":\"cpe:2.3:o:b:b:-\"}}]}},",
        "{\"criteria\":\"cpe:2.3:o:b:b:-\"},".repeat(19)
    );
    let on_platforms = format!(
        "{{\"cve\":{{\"id\":\"CVE-1\",\"configurations\":[{{\"operator\":\"AND\",\"nodes\":[{}{{\"cpeMatch\":[{}{{\"criteria\":\"\"}}]}}]}}]}}}},",
        platform.repeat(4),
        vulnerable
    );
    let jvn_item: String = (0..2_000).map(|i| format!("<sec:cpe>cpe:/a:a:{i}</sec:cpe>")).collect();
    let shapes = [
        ("endoflife numbers", format!("[{}0]", times("0,")), "nginx.json"),
        ("endoflife products", format!("{{\"schema_version\":\"1\",\"result\":[{}{{}}]}}", times("{},")), "x.json"),
        ("endoflife cycles", format!("[{}{{\"cycle\":1}}]", times("{\"cycle\":1},")), "nginx.json"),
        (
            "endoflife releases",
            format!(
                "{{\"schema_version\":\"1\",\"result\":{{\"name\":\"a\",\"releases\":[{}{{}}]}}}}",
                times("{\"name\":1},")
            ),
            "x.json",
        ),
        (
            "endoflife products of empty cycles",
            format!(
                "{{\"schema_version\":\"1\",\"result\":[{}{{}}]}}",
                times(&format!("{{\"name\":\"a\",\"releases\":[{}{{}}]}},", "{},".repeat(4_999)))
            ),
            "x.json",
        ),
        (
            "endoflife products of named cycles",
            format!(
                "{{\"schema_version\":\"1\",\"result\":[{}{{}}]}}",
                times(&format!("{{\"name\":\"a\",\"releases\":[{}{{\"name\":1}}]}},", "{\"name\":1},".repeat(4_999)))
            ),
            "x.json",
        ),
        (
            "endoflife products of aliases",
            format!(
                "{{\"schema_version\":\"1\",\"result\":[{}{{}}]}}",
                times(&format!("{{\"name\":\"a\",\"aliases\":[{}1]}},", "1,".repeat(999)))
            ),
            "x.json",
        ),
        (
            "NVD records",
            format!("{{\"vulnerabilities\":[{}{{\"cve\":{{\"id\":\"CVE-1\"}}}}]}}", times("{\"cve\":{\"id\":\"CVE-1\"}},")),
            "x.json",
        ),
        (
            "NVD descriptions",
            format!(
                "{{\"vulnerabilities\":[{{\"cve\":{{\"id\":\"CVE-1\",\"descriptions\":[{}{{\"lang\":\"\",\"value\":\"\"}}]}}}}]}}",
                times("{\"lang\":\"\",\"value\":\"\"},")
            ),
            "x.json",
        ),
        (
            "NVD CPE matches",
            format!(
                "{{\"vulnerabilities\":[{{\"cve\":{{\"id\":\"CVE-1\",\"configurations\":[{{\"nodes\":[{{\"cpeMatch\":[{}{{\"criteria\":\"\"}}]}}]}}]}}}}]}}",
                times("{\"criteria\":\"\"},")
            ),
            "x.json",
        ),
        (
            "NVD configurations",
            format!(
                "{{\"vulnerabilities\":[{{\"cve\":{{\"id\":\"CVE-1\",\"configurations\":[{}{{}}]}}}}]}}",
                times("{\"nodes\":[{}]},")
            ),
            "x.json",
        ),
        ("NVD products on platforms", format!("{{\"vulnerabilities\":[{}{{\"cve\":{{\"id\":\"CVE-2\"}}}}]}}", times(&on_platforms)), "x.json"),
        (
            "JVN CPEs",
            format!(
                "<rdf:RDF>{}</rdf:RDF>",
                times(&format!("<item><sec:identifier>JVNDB-1</sec:identifier>{jvn_item}</item>"))
            ),
            "jvn.rdf",
        ),
    ];
    let mut over = Vec::new();
    for (name, file, file_name) in shapes {
        let mut read = None;
        let peak = peak_during(|| read = Some(crate::feeds::read(file.as_bytes(), file_name).map(|f| f.kind())));
        println!("{name}: {} MB, peak {} MB, {:?}", file.len() >> 20, peak >> 20, read.unwrap());
        if peak >= 6 * file.len() {
            over.push(format!("{name}: peak {} MB for {} MB", peak >> 20, file.len() >> 20));
        }
    }
    assert!(over.is_empty(), "{over:#?}");
}
