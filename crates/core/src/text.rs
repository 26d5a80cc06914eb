//! Text from outside (a file's name, a scanned server's words) shown to
//! people: the characters it must not carry there.

/// Control characters (an escape sequence rewrites an operator's
/// terminal), and the marks that reorder text (`請求書\u{202E}fdp.exe`
/// reads `請求書exe.pdf`; a scanned server's cookie name can turn the rest
/// of a summary around), so that text shows what it is.
pub fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// [`hidden`], but for the line ends and tabs of text of several lines
/// (a carriage return too: a cell of Excel may end its lines so).
pub fn hidden_in_lines(c: char) -> bool {
    hidden(c) && !matches!(c, '\n' | '\r' | '\t')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_the_marks_that_reorder_text_are_hidden() {
        for c in ['\u{202E}', '\u{202A}', '\u{2066}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}', '\u{1b}', '\n'] {
            assert!(hidden(c), "{c:?}");
        }
        for c in ['a', '請', '①', '.', ' ', '\u{3000}', '・', '…'] {
            assert!(!hidden(c), "{c:?}");
        }
    }
}
