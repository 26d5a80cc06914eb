//! Password rules (checklist items 4, 5, 38). Item 4 (12 characters, three
//! of four classes) is stricter than item 38 (8 characters, upper, lower and
//! digit); the stricter wins.

use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_len: usize,
    pub max_len: usize,
    pub min_classes: usize,
    /// How many earlier passwords may not be reused.
    pub history: usize,
    /// Item 5: change at least this often.
    pub max_age: Duration,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy { min_len: 12, max_len: 128, min_classes: 3, history: 5, max_age: Duration::days(90) }
    }
}

/// Why a password is refused. Each maps to one Japanese sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordProblem {
    TooShort,
    TooLong,
    TooFewClasses,
    ContainsLogin,
    ControlCharacter,
    Reused,
}

/// Item 4: upper, lower, digit, symbol. Full-width letters and digits count
/// as what they look like; any other printable character is a symbol.
fn classes(password: &str) -> usize {
    let (mut upper, mut lower, mut digit, mut symbol) = (false, false, false, false);
    for c in password.chars() {
        if c.is_uppercase() {
            upper = true;
        } else if c.is_lowercase() {
            lower = true;
        } else if c.is_numeric() {
            digit = true;
        } else if !c.is_whitespace() || c == ' ' {
            symbol = true;
        }
    }
    [upper, lower, digit, symbol].iter().filter(|b| **b).count()
}

impl PasswordPolicy {
    /// Every rule that does not need stored hashes; the history check is the
    /// store's. All problems are returned, so the form can name them all.
    pub fn check(&self, password: &str, login: &str) -> Vec<PasswordProblem> {
        let mut problems = Vec::new();
        let n = password.chars().count();
        if n < self.min_len {
            problems.push(PasswordProblem::TooShort);
        }
        if n > self.max_len {
            problems.push(PasswordProblem::TooLong);
        }
        if classes(password) < self.min_classes {
            problems.push(PasswordProblem::TooFewClasses);
        }
        if login.len() >= 3 && password.to_lowercase().contains(&login.to_lowercase()) {
            problems.push(PasswordProblem::ContainsLogin);
        }
        if password.chars().any(char::is_control) {
            problems.push(PasswordProblem::ControlCharacter);
        }
        problems
    }

    /// Item 5: has the password passed its maximum age?
    pub fn expired(&self, changed_at: OffsetDateTime, now: OffsetDateTime) -> bool {
        now - changed_at >= self.max_age
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use PasswordProblem::*;

    #[test]
    fn item_4_policy_table() {
        let p = PasswordPolicy::default();
        let cases: &[(&str, &[PasswordProblem])] = &[
            ("Abcdefghijk1", &[]),          // 12, upper+lower+digit
            ("abcdefghij1!", &[]),          // lower+digit+symbol
            ("ABCDEFGHIJ1!", &[]),          // upper+digit+symbol
            ("Abcdefghij!x", &[]),          // upper+lower+symbol
            ("Abcdefghij1", &[TooShort]),   // 11
            ("abcdefghijkl", &[TooFewClasses]),
            ("abcdefghijk1", &[TooFewClasses]), // two classes
            ("ABCDEFGHIJKL", &[TooFewClasses]),
            ("123456789012", &[TooFewClasses]),
            ("Ab1", &[TooShort]),
            ("パスワードは長いけれど1A", &[]), // kana count as symbols: upper+digit+symbol
            ("ＡＢＣｄｅｆ１２３４５６", &[]), // full-width letters and digits
            ("Ab1 with spaces", &[]),
            ("xYamada-Taro1!", &[ContainsLogin]),
            ("Abcdefghij1\u{7}", &[ControlCharacter]),
        ];
        for (pw, want) in cases {
            assert_eq!(p.check(pw, "yamada-taro"), *want, "{pw:?}");
        }
        let long = format!("Aa1{}", "x".repeat(126));
        assert_eq!(p.check(&long, "yamada"), vec![TooLong]);
        let max = format!("Aa1{}", "x".repeat(125));
        assert!(p.check(&max, "yamada").is_empty());
    }

    #[test]
    fn item_5_expires_after_90_days() {
        let p = PasswordPolicy::default();
        let changed = datetime!(2026-01-01 00:00 UTC);
        assert!(!p.expired(changed, datetime!(2026-03-31 23:59 UTC)));
        assert!(p.expired(changed, datetime!(2026-04-01 00:00 UTC)));
    }
}
