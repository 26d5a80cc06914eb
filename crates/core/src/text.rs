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

/// At most `n` characters of `s` (an ellipsis after a longer one), what is
/// [`hidden`] shown as U+FFFD: text from outside quoted in a message (a
/// cell of a file quoted whole in its row's message made megabytes of
/// messages) or kept from a scanned server.
pub fn excerpt(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).map(|c| if hidden(c) { '\u{fffd}' } else { c }).collect();
    if s.chars().nth(n).is_some() {
        out.push('…');
    }
    out
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

    #[test]
    fn an_excerpt_is_cut_with_an_ellipsis_and_hides_what_is_hidden() {
        assert_eq!(excerpt("対応済", 40), "対応済");
        assert_eq!(excerpt(&"長".repeat(1_000_000), 3), "長長長…");
        assert_eq!(excerpt("a\u{202E}b\0", 40), "a\u{fffd}b\u{fffd}");
    }
}
