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
    let mut text = String::with_capacity(bytes.len() * 3 + 16);
    loop {
        let n = read_full(&mut csv, &mut bytes)?;
        let last = n == 0;
        // The encoding is decided on the first chunk, as the upload's type
        // was: UTF-8 when it reads as UTF-8 (a character cut at the chunk's
        // end allowed), else Shift_JIS.
        let decoder = decoder.get_or_insert_with(|| {
            let chunk = &bytes[..n];
            let utf8 = match std::str::from_utf8(chunk) {
                Ok(_) => true,
                Err(e) => e.error_len().is_none() && n == bytes.len(),
            };
            if utf8 {
                encoding_rs::UTF_8.new_decoder_with_bom_removal()
            } else {
                encoding_rs::SHIFT_JIS.new_decoder_without_bom_handling()
            }
        });
        text.clear();
        let (_, _, _) = decoder.decode_to_string(&bytes[..n], &mut text, last);
        for c in text.chars() {
            if let Some(place) = cells.feed(c) {
                return Ok(Some(place));
            }
        }
        if last {
            return Ok(cells.feed('\n'));
        }
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
}

impl Cells {
    /// Takes one character; the place of the cell it shows to be a
    /// formula, if it does.
    fn feed(&mut self, c: char) -> Option<Place> {
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

    fn content(&mut self, c: char) -> Option<Place> {
        self.started = true;
        match self.lead {
            Lead::Pending => {
                self.lead = match c {
                    ' ' | '\u{3000}' => Lead::Pending,
                    '=' => Lead::Equals,
                    '+' | '-' | '@' => Lead::Sign,
                    _ => Lead::Text,
                };
            }
            Lead::Sign if matches!(c, '(' | '|' | '!' | '[') => return Some(self.place()),
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

    #[test]
    fn a_formula_far_into_a_large_file_is_found_across_chunks() {
        let mut csv = "番号,値\n".repeat(40_000).into_bytes();
        csv.extend_from_slice(b"1,=cmd|' /C calc'!A0\n");
        assert_eq!(first(&csv), Some((40_001, 2)));
    }
}
