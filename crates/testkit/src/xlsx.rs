//! Reading what a workbook says beyond its values (which calamine reads):
//! print settings, defined names, data validations, and each cell's fill,
//! font colour and protection, from the workbook's XML parts.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::io::{Cursor, Read};

/// An XML element: name (without prefix), attributes, children.
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

impl Node {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first descendant (or self) named `name`.
    pub fn find(&self, name: &str) -> Option<&Node> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }

    /// Every descendant (and self) named `name`, in document order.
    pub fn all(&self, name: &str) -> Vec<&Node> {
        let mut out = Vec::new();
        self.collect(name, &mut out);
        out
    }

    fn collect<'a>(&'a self, name: &str, out: &mut Vec<&'a Node>) {
        if self.name == name {
            out.push(self);
        }
        for c in &self.children {
            c.collect(name, out);
        }
    }
}

fn element(e: &BytesStart) -> Node {
    let name = e.local_name().into_inner().to_owned();
    let attrs = e
        .attributes()
        .flatten()
        .map(|a| {
            let k = a.key.local_name().into_inner().to_owned();
            let v = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).map(|v| v.into_owned()).unwrap_or_default();
            (k, v)
        })
        .collect();
    Node { name, attrs, children: Vec::new() }
}

/// Parses an XML document into its root element (text is dropped).
pub fn parse(xml: &str) -> Node {
    let mut reader = Reader::from_str(xml);
    let mut stack = vec![Node::default()];
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => stack.push(element(&e)),
            Event::Empty(e) => {
                let n = element(&e);
                stack.last_mut().expect("a parent").children.push(n);
            }
            Event::End(_) => {
                let n = stack.pop().expect("an open element");
                stack.last_mut().expect("a parent").children.push(n);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    stack.pop().and_then(|root| root.children.into_iter().next()).expect("a root element")
}

/// One workbook's XML parts.
pub struct Workbook {
    files: Vec<(String, String)>,
}

/// How a cell looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellStyle {
    /// The fill's RGB (`E2EFDA`), if filled.
    pub fill: Option<String>,
    /// The font's RGB, if coloured.
    pub font: Option<String>,
    pub bold: bool,
    pub wrapped: bool,
    /// Locked (the default) unless the format unlocks it.
    pub locked: bool,
}

impl Workbook {
    pub fn open(bytes: &[u8]) -> Workbook {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("an .xlsx is a zip");
        let mut files = Vec::new();
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).expect("a zip entry");
            let name = f.name().expect("a UTF-8 entry name").into_owned();
            if name.ends_with(".xml") || name.ends_with(".rels") {
                let mut s = String::new();
                f.read_to_string(&mut s).expect("XML is UTF-8");
                files.push((name, s));
            }
        }
        Workbook { files }
    }

    pub fn part(&self, name: &str) -> Node {
        let (_, xml) = self.files.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no part {name}"));
        parse(xml)
    }

    /// The `n`-th worksheet (from 1, in workbook order).
    pub fn sheet(&self, n: usize) -> Node {
        self.part(&format!("xl/worksheets/sheet{n}.xml"))
    }

    /// The workbook's defined names: (name, local sheet id, formula).
    pub fn defined_names(&self) -> Vec<(String, Option<String>, String)> {
        let (_, xml) = self.files.iter().find(|(n, _)| n == "xl/workbook.xml").expect("workbook.xml");
        // The formula is the element's text: read it directly.
        let mut out = Vec::new();
        let mut reader = Reader::from_str(xml);
        let mut current: Option<(String, Option<String>)> = None;
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) if e.local_name().into_inner() == "definedName" => {
                    let n = element(&e);
                    current = Some((n.attr("name").unwrap_or("").to_owned(), n.attr("localSheetId").map(String::from)));
                }
                Event::Text(t) => {
                    if let Some((name, sheet)) = current.take() {
                        let text = t.xml_content(quick_xml::XmlVersion::Implicit1_0).into_owned();
                        out.push((name, sheet, text));
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        out
    }

    /// How cell `r` (`E14`) of sheet `n` looks.
    pub fn style(&self, n: usize, r: &str) -> CellStyle {
        let sheet = self.sheet(n);
        let cell = sheet.all("c").into_iter().find(|c| c.attr("r") == Some(r));
        let xf_index: usize = cell.and_then(|c| c.attr("s")).and_then(|s| s.parse().ok()).unwrap_or(0);
        let styles = self.part("xl/styles.xml");
        let xfs = styles.find("cellXfs").expect("cellXfs");
        let xf = &xfs.children[xf_index];
        let index = |k: &str| xf.attr(k).and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
        let fill = &styles.find("fills").expect("fills").children[index("fillId")];
        let font = &styles.find("fonts").expect("fonts").children[index("fontId")];
        let rgb = |n: Option<&Node>| n.and_then(|n| n.attr("rgb")).map(|v| v[v.len().saturating_sub(6)..].to_owned());
        CellStyle {
            fill: rgb(fill.find("fgColor")),
            font: rgb(font.find("color")),
            bold: font.find("b").is_some(),
            wrapped: xf.find("alignment").and_then(|a| a.attr("wrapText")) == Some("1"),
            locked: xf.find("protection").and_then(|p| p.attr("locked")) != Some("0"),
        }
    }
}

/// A workbook as a person would leave it after editing some cells in
/// Excel: every sheet's values read (calamine) and written again
/// (rust_xlsxwriter), hidden sheets kept hidden, with `edits` applied:
/// (sheet name, row, column from 0, new text; "" empties the cell).
pub fn edited(bytes: &[u8], edits: &[(&str, u32, u16, &str)]) -> Vec<u8> {
    use calamine::{Data, Reader, SheetVisible};
    let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("an .xlsx");
    let mut out = rust_xlsxwriter::Workbook::new();
    for meta in book.sheets_metadata().to_vec() {
        let range = book.worksheet_range(&meta.name).expect("a sheet");
        let ws = out.add_worksheet();
        ws.set_name(&meta.name).expect("a sheet name");
        let (r0, c0) = range.start().unwrap_or((0, 0));
        for (r, row) in range.rows().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, c) = (r0 + r as u32, (c0 as usize + c) as u16);
                match cell {
                    Data::String(s) => ws.write_string(r, c, s),
                    Data::Float(f) => ws.write_number(r, c, *f),
                    Data::Int(i) => ws.write_number(r, c, *i as f64),
                    Data::Empty => continue,
                    other => ws.write_string(r, c, other.to_string()),
                }
                .expect("a cell");
            }
        }
        for (_, r, c, text) in edits.iter().filter(|(s, ..)| *s == meta.name) {
            if text.is_empty() {
                ws.clear_cell(*r, *c);
            } else {
                ws.write_string(*r, *c, *text).expect("an edit");
            }
        }
        if meta.visible != SheetVisible::Visible {
            ws.set_hidden(true);
        }
    }
    out.save_to_buffer().expect("a workbook")
}

/// A workbook of a few KB whose one sheet, named `sheet`, holds a value in
/// A1 and another at `far` (row, column from 0): a reader that sizes the
/// rectangle between them (calamine) would ask for that much memory.
pub fn spanning(sheet: &str, far: (u32, u16)) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(sheet).expect("a sheet name");
    ws.write_string(0, 0, "system_id").expect("a cell");
    ws.write_string(far.0, far.1, "far").expect("a cell");
    wb.save_to_buffer().expect("a workbook")
}
