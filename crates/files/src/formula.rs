//! Cells of a CSV file that Excel would run as formulas when the file is
//! opened: a vendor's evidence reaches the office's Excel as uploaded
//! (its hash is the record, so it cannot be neutralised as mamori's own
//! CSVs are), and a cell such as `=HYPERLINK(…)` or `-2+cmd|' /C calc'!A0`
//! would be live there. Such a file is refused at upload.
//!
//! Written by hand: the csv crate reads records, not the first characters
//! of cells in any encoding; this reads the file as a stream of characters,
//! UTF-8 or Shift_JIS (a byte of a Shift_JIS character can be `|` or `[`),
//! and holds no more than a chunk.

use std::io::Read;

/// Where the first formula lies: the record and the cell, from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub row: u32,
    pub column: u32,
}

/// The first cell of `csv` that Excel would run as a formula, if any.
///
/// A cell counts when, its opening quote and leading spaces left aside, it
/// begins with `=`, or with `+`, `-` or `@` and holds a call or a
/// reference to elsewhere (`(`, `|`, `!`, `[`): a plain `-5`, `+81-3-…` or
/// `- 注記` stays text or a number. Cells are separated by commas,
/// semicolons and tabs, whichever the reader's Excel splits on.
pub fn first_formula(mut csv: impl Read) -> std::io::Result<Option<Place>> {
    let mut bytes = vec![0u8; 64 * 1024];
    let mut cells = Cells::default();
    let mut decoder: Option<encoding_rs::Decoder> = None;
    let mut text = String::new();
    loop {
        let n = read_full(&mut csv, &mut bytes)?;
        let last = n == 0;
        let decoder = decoder.get_or_insert_with(|| decoder_for(&bytes[..n], n < bytes.len()));
        let mut input = &bytes[..n];
        loop {
            text.clear();
            text.reserve(decoder.max_utf8_buffer_length(input.len()).unwrap_or(input.len() * 3 + 16));
            let (result, read, _) = decoder.decode_to_string(input, &mut text, last);
            for c in text.chars() {
                if let Some(place) = cells.feed(c) {
                    return Ok(Some(place));
                }
            }
            input = &input[read..];
            if result == encoding_rs::CoderResult::InputEmpty {
                break;
            }
        }
        if last {
            return Ok(cells.feed('\n'));
        }
    }
}

/// The encoding, decided on the first chunk as Excel decides it: a
/// byte-order mark (UTF-8, UTF-16), else UTF-8 when the chunk reads as
/// UTF-8 (a character cut at the chunk's end allowed, unless it is the
/// whole file), else Shift_JIS.
fn decoder_for(first: &[u8], whole: bool) -> encoding_rs::Decoder {
    if first.starts_with(b"\xFF\xFE") {
        return encoding_rs::UTF_16LE.new_decoder_with_bom_removal();
    }
    if first.starts_with(b"\xFE\xFF") {
        return encoding_rs::UTF_16BE.new_decoder_with_bom_removal();
    }
    let utf8 = first.starts_with(b"\xEF\xBB\xBF")
        || match std::str::from_utf8(first) {
            Ok(_) => true,
            Err(e) => e.error_len().is_none() && !whole,
        };
    if utf8 {
        encoding_rs::UTF_8.new_decoder_with_bom_removal()
    } else {
        encoding_rs::SHIFT_JIS.new_decoder_without_bom_handling()
    }
}

/// Reads until `buf` is full or the input ends.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// How a cell began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Lead {
    /// Nothing but spaces (and an opening quote) yet.
    #[default]
    Pending,
    /// With `=`: a formula, whatever follows.
    Equals,
    /// With `+`, `-` or `@`: a formula if a call or a reference follows.
    Sign,
    /// With anything else: text or a number.
    Text,
}

/// The reader's state between characters.
#[derive(Debug, Default)]
struct Cells {
    row: u32,
    column: u32,
    lead: Lead,
    quoted: bool,
    /// A `"` inside quotes: the end of the quotes, or the first of `""`.
    quote_seen: bool,
    /// The cell reached some content (a `"` after it is a character).
    started: bool,
    /// The last character ended a line with `\r` (its `\n` ends no other).
    after_cr: bool,
    /// The first line as read so far (its first few characters), while it
    /// may be Excel's `sep=X`, which makes X the separator.
    head: String,
    head_read: bool,
    /// The separator a `sep=` line named.
    named: Option<char>,
}

impl Cells {
    /// Takes one character; the place of the cell it shows to be a
    /// formula, if it does.
    fn feed(&mut self, c: char) -> Option<Place> {
        if !self.head_read {
            self.read_head(c);
        }
        if self.quoted {
            if self.quote_seen {
                self.quote_seen = false;
                if c == '"' {
                    return self.content('"');
                }
                self.quoted = false;
            } else if c == '"' {
                self.quote_seen = true;
                return None;
            } else {
                return self.content(c);
            }
        }
        let after_cr = std::mem::replace(&mut self.after_cr, c == '\r');
        match c {
            '\n' if after_cr => None,
            c if Some(c) == self.named && c != '"' => {
                self.end_cell();
                None
            }
            ',' | ';' | '\t' => {
                self.end_cell();
                None
            }
            '\n' | '\r' => {
                self.end_cell();
                self.row += 1;
                self.column = 0;
                None
            }
            '"' if !self.started => {
                self.quoted = true;
                self.started = true;
                None
            }
            c => self.content(c),
        }
    }

    /// Reads `c` into the first line, and at its end takes a `sep=X`.
    fn read_head(&mut self, c: char) {
        if c == '\n' || c == '\r' {
            self.head_read = true;
            let named = self.head.get(..4).filter(|p| p.eq_ignore_ascii_case("sep=")).map(|_| &self.head[4..]);
            let mut rest = named.unwrap_or_default().chars();
            if let (Some(x), None) = (rest.next(), rest.next()) {
                self.named = Some(x);
            }
        } else if self.head.chars().count() < 6 {
            self.head.push(c);
        } else {
            self.head_read = true;
        }
    }

    /// The content of a cell, its first character deciding how it began:
    /// the leads mamori's own CSVs neutralise (`crate::export`), the
    /// full-width ones Japanese Excel takes for them too.
    fn content(&mut self, c: char) -> Option<Place> {
        self.started = true;
        match self.lead {
            Lead::Pending => {
                self.lead = match c {
                    ' ' | '\u{3000}' => Lead::Pending,
                    '=' | '＝' => Lead::Equals,
                    '+' | '-' | '@' | '＋' | '－' | '＠' | '\u{2212}' => Lead::Sign,
                    _ => Lead::Text,
                };
            }
            Lead::Sign if matches!(c, '(' | '|' | '!' | '[' | '（' | '｜' | '！' | '［') => {
                return Some(self.place())
            }
            _ => {}
        }
        (self.lead == Lead::Equals).then(|| self.place())
    }

    fn end_cell(&mut self) {
        self.column += 1;
        self.lead = Lead::Pending;
        self.started = false;
    }

    fn place(&self) -> Place {
        Place { row: self.row.saturating_add(1), column: self.column.saturating_add(1) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(csv: &[u8]) -> Option<(u32, u32)> {
        first_formula(csv).unwrap().map(|p| (p.row, p.column))
    }

    #[test]
    fn formulas_are_found_in_any_cell_quoted_or_not_and_numbers_and_notes_are_not() {
        assert_eq!(first(b"a,b\n1,=1+1\n"), Some((2, 2)));
        assert_eq!(first(b"name,link\nx,\"=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\"\n"), Some((2, 2)));
        assert_eq!(first(b"-2+3+cmd|' /C calc'!A0\n"), Some((1, 1)));
        assert_eq!(first(b"a;@SUM(1+1)\n"), Some((1, 2)));
        assert_eq!(first(b"a\t  +A1!B2\n"), Some((1, 2)));
        assert_eq!(first("注記,\u{3000}=1\n".as_bytes()), Some((1, 2)));
        assert_eq!(first(b"x,=1"), Some((1, 2)), "without a last line end");
        assert_eq!(first(b"\"a\nb\",c\r\nd,=e\r\n"), Some((2, 2)), "a line end inside quotes");
        for clean in [
            "id,amount,tel,note\n1,-5,+81-3-1234-5678,- 注記のとおり\n".as_bytes(),
            b"a,\"b \"\"=quoted\"\"\",c\n",
            b"a,x=1,(-)\n",
            b"-,+,@\n",
            b"",
        ] {
            assert_eq!(first(clean), None, "{}", String::from_utf8_lossy(clean));
        }
        assert_eq!(first(b"- see (1)\n"), Some((1, 1)), "a sign and a call");
    }

    #[test]
    fn a_shift_jis_byte_that_reads_as_a_pipe_or_bracket_is_part_of_its_character() {
        // ポ is 0x83 0x7C and ソ 0x83 0x5C in Shift_JIS: `|` and `\` bytes.
        let (sjis, _, bad) = encoding_rs::SHIFT_JIS.encode("-ポソ,+ポ\n-ポ(");
        assert!(!bad);
        assert_eq!(first(&sjis), Some((2, 1)), "the call, not the byte");
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("-ポ,=式\n");
        assert_eq!(first(&sjis), Some((1, 2)));
    }

    /// Excel splits on what a first line `sep=X` names, and reads
    /// full-width leads as formulas; it honours a byte-order mark, so a
    /// file in UTF-16, or in UTF-8 with a byte that is not, is read as it
    /// reads it.
    #[test]
    fn a_named_separator_full_width_leads_and_byte_order_marks_are_read_as_excel_reads_them() {
        assert_eq!(first(b"sep=#\na#=HYPERLINK(\"http://evil\",\"x\")\n"), Some((2, 2)));
        assert_eq!(first(b"SEP=|\r\nx|@SUM(1)\r\n"), Some((2, 2)));
        assert_eq!(first("名前,＝ＨＹＰＥＲＬＩＮＫ\n".as_bytes()), Some((1, 2)));
        assert_eq!(first("注記,－2+cmd｜' /C calc'!A0\n".as_bytes()), Some((1, 2)));
        let utf16: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain("a\t=1+1\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(first(&utf16), Some((1, 2)), "UTF-16 with its mark");
        assert_eq!(first(b"\xEF\xBB\xBF=1+1,\xFF\n"), Some((1, 1)), "UTF-8 by its mark, a bad byte after");
        assert_eq!(first(b"sep=#\na#b,c\n"), None, "no formula where the separator is named");
        assert_eq!(first("－ 注記のとおり,＋81 3\n".as_bytes()), None, "full-width signs without a call");
    }

    #[test]
    fn a_formula_far_into_a_large_file_is_found_across_chunks() {
        let mut csv = "番号,値\n".repeat(40_000).into_bytes();
        csv.extend_from_slice(b"1,=cmd|' /C calc'!A0\n");
        assert_eq!(first(&csv), Some((40_001, 2)));
    }
}
