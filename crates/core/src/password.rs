//! Password rules (checklist items 4, 5, 38). Item 4 (12 characters, three
//! of four classes) is stricter than item 38 (8 characters, upper, lower and
//! digit); the stricter wins.

use std::borrow::Cow;
use time::{Duration, OffsetDateTime};
use unicode_normalization::{is_nfkc, UnicodeNormalization};

/// A password as it is checked and hashed: in Unicode's compatibility form
/// (NFKC, as NIST SP 800-63B asks), so that what an input method types in
/// full width (`ＡＢＣ１２３`), in half-width kana or with combining marks
/// is the password typed otherwise.
pub fn normalise(password: &str) -> Cow<'_, str> {
    if is_nfkc(password) {
        Cow::Borrowed(password)
    } else {
        Cow::Owned(password.nfkc().collect())
    }
}

/// How many hashes one check of `password` computes: two where its
/// normalised form differs, since a hash made before passwords were
/// normalised holds the text as typed. Refusals that check nothing are
/// padded to as many ([`hash::verify_in`]).
pub fn checks_for(password: &str) -> u32 {
    if is_nfkc(password) {
        1
    } else {
        2
    }
}

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
    /// The rules apply to the password as it is hashed ([`normalise`]).
    pub fn check(&self, password: &str, login: &str) -> Vec<PasswordProblem> {
        let password = &*normalise(password);
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
            ("Abcdefghijk1", &[]),        // 12, upper+lower+digit
            ("abcdefghij1!", &[]),        // lower+digit+symbol
            ("ABCDEFGHIJ1!", &[]),        // upper+digit+symbol
            ("Abcdefghij!x", &[]),        // upper+lower+symbol
            ("Abcdefghij1", &[TooShort]), // 11
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
    fn a_password_is_judged_as_it_is_hashed_in_its_compatibility_form() {
        assert_eq!(normalise("ＡＢＣｄｅｆ１２３４５６"), "ABCdef123456");
        assert_eq!(normalise("ｶﾞｲﾄﾞ-Pass1"), "ガイド-Pass1");
        assert!(matches!(normalise("Abcdefghijk1"), Cow::Borrowed(_)));
        assert_eq!((checks_for("Abcdefghijk1"), checks_for("ＡＢＣｄｅｆ１２３４５６")), (1, 2));
        let p = PasswordPolicy::default();
        // The ID typed in full width is the ID.
        assert_eq!(p.check("ｘＹａｍａｄａ-Taro1!", "yamada-taro"), vec![ContainsLogin]);
        // Six half-width kana with voiced marks are three characters.
        assert_eq!(p.check("Aa1ｶﾞｶﾞｶﾞｶﾞｶﾞ", "yamada"), vec![TooShort]);
    }

    #[test]
    fn item_5_expires_after_90_days() {
        let p = PasswordPolicy::default();
        let changed = datetime!(2026-01-01 00:00 UTC);
        assert!(!p.expired(changed, datetime!(2026-03-31 23:59 UTC)));
        assert!(p.expired(changed, datetime!(2026-04-01 00:00 UTC)));
    }
}

/// Item 40: passwords are stored only as argon2id hashes with a random salt.
/// The parameters are the crate's defaults, which are OWASP's
/// recommendation (19 MiB, 2 iterations, 1 lane).
pub mod hash {
    use argon2::password_hash::rand_core::OsRng;
    use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
    use argon2::{Algorithm, Argon2, Block, Params, Version};
    use std::sync::OnceLock;

    fn argon2() -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
    pub fn hash(password: &str) -> String {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(super::normalise(password).as_bytes(), &salt)
            .expect("argon2 with valid default parameters and a generated salt does not fail")
            .to_string()
    }

    /// Working memory of one check.
    pub type Memory = Vec<Block>;

    /// Working memory for one check at the default parameters (19 MiB),
    /// to be kept and reused: a check with [`verify_in`] allocates nothing,
    /// so the memory of sign-in floods is the memory of the checks that may
    /// run at once, whatever the allocator does with freed blocks.
    pub fn memory() -> Memory {
        vec![Block::default(); Params::DEFAULT_M_COST as usize]
    }

    /// Constant work whether or not the password matches.
    pub fn verify(password: &str, phc: &str) -> bool {
        verify_in(password, phc, &mut memory())
    }

    /// [`verify`] in `memory` (grown if the hash asks for more): the
    /// normalised password ([`super::normalise`]), and, where that differs,
    /// the password as typed too, both always ([`super::checks_for`]), for a
    /// hash made before passwords were normalised. The work depends on the
    /// input alone, never on the account.
    pub fn verify_in(password: &str, phc: &str, memory: &mut Vec<Block>) -> bool {
        let normal = super::normalise(password);
        let ok = verify_exact(&normal, phc, memory);
        if *normal == *password {
            ok
        } else {
            verify_exact(password, phc, memory) | ok
        }
    }

    /// One hash of `password` as given, against `phc`. The comparison of
    /// the outputs is constant-time (`Output`'s equality).
    fn verify_exact(password: &str, phc: &str, memory: &mut Vec<Block>) -> bool {
        let Ok(h) = PasswordHash::new(phc) else { return false };
        let (Some(salt), Some(expected)) = (h.salt, h.hash) else { return false };
        let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(h.algorithm), Params::try_from(&h)) else {
            return false;
        };
        let version = match h.version.map(Version::try_from) {
            None => Version::default(),
            Some(Ok(v)) => v,
            Some(Err(_)) => return false,
        };
        let mut salt_bytes = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
        if memory.len() < params.block_count() {
            memory.resize(params.block_count(), Block::default());
        }
        let mut out = vec![0u8; expected.len()];
        let blocks = &mut memory[..params.block_count()];
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, blocks)
            .is_ok()
            && Output::new(&out).is_ok_and(|o| o == expected)
    }

    /// Hashes against a fixed dummy, so a sign-in for an unknown or locked
    /// account takes as long as one for a real account (item 39).
    pub fn verify_dummy(password: &str) {
        verify_dummy_in(password, &mut memory());
    }

    /// [`verify_dummy`] in `memory`.
    pub fn verify_dummy_in(password: &str, memory: &mut Vec<Block>) {
        static DUMMY: OnceLock<String> = OnceLock::new();
        let phc = DUMMY.get_or_init(|| hash("dummy password that matches nothing"));
        let _ = verify_in(password, phc, memory);
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn item_40_argon2id_with_salt() {
            let a = hash("Correct-Horse-1");
            let b = hash("Correct-Horse-1");
            assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
            assert_ne!(a, b, "a random salt each time");
            assert!(verify("Correct-Horse-1", &a));
            assert!(!verify("correct-horse-1", &a));
            assert!(!verify("x", "not a hash"));
            // The same answers from reused memory, whatever it last held.
            let mut m = memory();
            for _ in 0..2 {
                assert!(verify_in("Correct-Horse-1", &a, &mut m));
                assert!(!verify_in("Correct-Horse-2", &a, &mut m));
                verify_dummy_in("Correct-Horse-1", &mut m);
            }
            // A hash with other parameters (an older policy) still verifies.
            let light = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8192, 3, 1, None).unwrap());
            let salt = SaltString::generate(&mut OsRng);
            let old = light.hash_password(b"Old-Policy-1", &salt).unwrap().to_string();
            assert!(verify_in("Old-Policy-1", &old, &mut m) && !verify_in("Old-Policy-2", &old, &mut m));
            // A truncated or altered hash never verifies.
            assert!(!verify_in("Correct-Horse-1", &a[..a.len() - 4], &mut m));
            // A password typed in full width is the one typed in half width,
            // either way round.
            let full = hash("Ｃｏｒｒｅｃｔ-Ｈｏｒｓｅ-１");
            assert!(
                verify_in("Correct-Horse-1", &full, &mut m) && verify_in("Ｃｏｒｒｅｃｔ-Ｈｏｒｓｅ-１", &a, &mut m)
            );
            assert!(!verify_in("Ｃｏｒｒｅｃｔ-Ｈｏｒｓｅ-２", &a, &mut m));
            // A hash made before passwords were normalised, of the full-width
            // text, still takes the text as typed.
            let typed = "Ｏｌｄ-Ｐａｓｓ-１";
            let old = argon2().hash_password(typed.as_bytes(), &SaltString::generate(&mut OsRng)).unwrap().to_string();
            assert!(verify_in(typed, &old, &mut m));
            assert!(!verify_in("Ｏｌｄ-Ｐａｓｓ-２", &old, &mut m));
            assert!(!verify_in("Correct-Horse-1", &a.replace("t=2", "t=3"), &mut m));
        }
    }
}
