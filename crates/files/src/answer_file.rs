//! An answers file: a system's answers by item number, in YAML, for the
//! console (`mamori system import-answers`): answers kept outside mamori —
//! a product's own assessment such as mamori's (docs/self-assessment/), or
//! a checklist carried over from paper — brought in at once.
//!
//! ```yaml
//! answers:
//!   - number: 33
//!     status: 対応済          # 対応済 / 一部対応 / 未対応 / 対象外 (or done, partial, not_done, not_applicable)
//!     measures: "TLS 1.2 以上のみ受け付ける。"
//!     planned: 2027-03-31     # 一部対応・未対応: the planned date, or else a reason
//!     reason: ""
//!     basis: [item_57_only_tls_1_2_and_1_3_are_accepted]   # what shows it (tests, documents)
//! ```
//!
//! Only the file's form is checked here (status words, dates, lengths,
//! each item once); whether an answer may be given is the operations
//! layer's to decide. Every problem is returned at once, and no answer if
//! there is one.

use mamori_core::checklist::{AnswerInput, AnswerStatus};
use mamori_core::report::status_of_word;
use serde::Deserialize;
use std::collections::BTreeSet;

/// Far beyond 79 long answers; a file larger is refused unread.
pub const MAX_BYTES: usize = 2 * 1024 * 1024;
/// The most answers a file may hold.
pub const MAX_ANSWERS: usize = 2_000;
/// The most references in one answer's `basis`.
pub const MAX_BASIS: usize = 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    answers: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    number: u32,
    status: String,
    #[serde(default)]
    measures: String,
    #[serde(default)]
    planned: Option<String>,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    basis: Vec<String>,
}

/// One answer of the file, as it will be saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileAnswer {
    pub number: u32,
    /// The measures end with the basis on a line of their own.
    pub input: AnswerInput,
    /// What shows it, as the file names it.
    pub basis: Vec<String>,
}

/// A problem in the file: the item it is about (none: the file as a
/// whole), the field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    pub number: Option<u32>,
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for FileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.number {
            Some(n) => write!(f, "No.{n} {}: {}", self.field, self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The status of a word of the checklist (対応済 …) or of its code (done …).
fn status(word: &str) -> Option<AnswerStatus> {
    let word = word.trim();
    status_of_word(word).or_else(|| AnswerStatus::parse(word))
}

/// The measures as saved: the text, then what shows it on a line of its own.
fn measures_with_basis(measures: &str, basis: &[String]) -> String {
    let measures = measures.trim_end();
    if basis.is_empty() {
        return measures.to_owned();
    }
    let line = format!("根拠: {}", basis.join(", "));
    if measures.is_empty() {
        line
    } else {
        format!("{measures}\n{line}")
    }
}

/// Reads an answers file; every problem at once.
pub fn read(bytes: &[u8]) -> Result<Vec<FileAnswer>, Vec<FileProblem>> {
    let whole = |message: String| vec![FileProblem { number: None, field: "", message }];
    if bytes.len() > MAX_BYTES {
        return Err(whole(format!("ファイルが大きすぎます ({} MiB まで)", MAX_BYTES >> 20)));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| whole("UTF-8 のテキストではありません".into()))?;
    let file: File = mamori_core::yaml::from_str(text)
        .map_err(|e| whole(format!("回答ファイルを読み取れません (cannot parse): {e}")))?;
    if file.answers.is_empty() {
        return Err(whole("回答がありません (answers が空です)".into()));
    }
    if file.answers.len() > MAX_ANSWERS {
        return Err(whole(format!("回答が多すぎます ({MAX_ANSWERS} 件まで)")));
    }
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    let mut answers = Vec::new();
    for e in file.answers {
        let n = e.number;
        let mut problem = |field: &'static str, message: &str| {
            problems.push(FileProblem { number: Some(n), field, message: message.into() })
        };
        if !seen.insert(n) {
            problem("number", "同じ項目が二度あります");
            continue;
        }
        let Some(status) = status(&e.status) else {
            problem("status", "対応済・一部対応・未対応・対象外のいずれかにしてください");
            continue;
        };
        let planned = match e.planned.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => match crate::answers::date_text(text) {
                Some(d) => Some(d),
                None => {
                    problem("planned", "日付は 2027-03-31 の形で書いてください");
                    continue;
                }
            },
        };
        if e.basis.len() > MAX_BASIS || e.basis.iter().any(|b| b.trim().is_empty() || b.chars().count() > 200) {
            problem("basis", "根拠は 1 件 200 文字まで、20 件までです");
            continue;
        }
        let input =
            AnswerInput { status, measures: measures_with_basis(&e.measures, &e.basis), planned, reason: e.reason };
        let found = input.problems();
        for (field, p) in &found {
            // The file's own name for the field.
            let field = if *field == "planned_date" { "planned" } else { field };
            problem(field, crate::answers::problem_text(*p).1);
        }
        if found.is_empty() {
            answers.push(FileAnswer { number: n, input, basis: e.basis });
        }
    }
    if problems.is_empty() {
        Ok(answers)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_or_codes_dates_and_the_basis_are_read() {
        let text = "answers:\n  - number: 33\n    status: 対応済\n    measures: TLS 1.2 以上\n    basis: [a_test, b_test]\n  - number: 7\n    status: not_done\n    planned: 2027/3/31\n  - number: 8\n    status: 一部対応\n    measures: 一部\n    reason: 残りは運用者が対応する\n";
        let got = read(text.as_bytes()).unwrap();
        assert_eq!(got[0].input.measures, "TLS 1.2 以上\n根拠: a_test, b_test");
        assert_eq!(got[0].input.status, AnswerStatus::Done);
        assert_eq!(got[1].input.planned, Some(time::macros::date!(2027 - 03 - 31)));
        assert_eq!(got[2].input.planned, None);
    }

    #[test]
    fn every_problem_is_named_at_once_and_nothing_is_returned() {
        let long = "あ".repeat(mamori_core::checklist::MAX_ANSWER_TEXT + 1);
        let text = format!(
            "answers:\n  - {{number: 1, status: できた}}\n  - {{number: 2, status: done}}\n  - {{number: 2, status: done, measures: x}}\n  - {{number: 3, status: not_done, planned: 2027-02-30}}\n  - {{number: 4, status: partial}}\n  - {{number: 5, status: done, measures: {long}}}\n  - {{number: 6, status: done, measures: x, basis: ['']}}\n"
        );
        let got: Vec<String> = read(text.as_bytes()).unwrap_err().iter().map(ToString::to_string).collect();
        let want = [
            "No.1 status:",
            "No.2 measures:",
            "No.2 number:",
            "No.3 planned:",
            "No.4 measures:",
            "No.4 planned:",
            "No.5 measures: 長すぎます",
            "No.6 basis:",
        ];
        assert_eq!(got.len(), want.len(), "{got:#?}");
        for (g, w) in got.iter().zip(want) {
            assert!(g.starts_with(w), "{g} / {w}");
        }
    }

    #[test]
    fn a_file_not_of_this_form_is_refused_as_a_whole() {
        for (bytes, says) in [
            (b"answers:\n  - number: 1\n    status: done\n    measures: x\n    owner: me\n".to_vec(), "owner"),
            (b"items: []\n".to_vec(), "answers"),
            ("answers: []\n".as_bytes().to_vec(), "回答がありません"),
            (vec![0xff, 0xfe], "UTF-8"),
            (vec![b' '; MAX_BYTES + 1], "大きすぎます"),
        ] {
            let e = read(&bytes).unwrap_err();
            assert_eq!(e.len(), 1, "{e:?}");
            assert!(e[0].number.is_none() && e[0].message.contains(says), "{says}: {e:?}");
        }
    }
}
