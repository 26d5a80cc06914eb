//! Time-based one-time passwords (RFC 6238) for the second factor, and
//! recovery codes. The TOTP arithmetic is totp-rs's; what is added here is
//! the step that matched, so the store can refuse a code used twice
//! (RFC 6238 §5.2, which totp-rs leaves to the caller).

use rand::RngCore;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use totp_rs::{Algorithm, Secret, TOTP};

const STEP_SECS: u64 = 30;
const DIGITS: usize = 6;
/// One step either side, for clocks a little apart.
const SKEW: i64 = 1;

/// A new random 160-bit secret, base32 (what authenticator apps read).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    Secret::Raw(bytes.to_vec()).to_encoded().to_string()
}

fn totp(secret_b32: &str, issuer: &str, account: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret_b32.to_owned()).to_bytes().ok()?;
    TOTP::new(Algorithm::SHA1, DIGITS, 0, STEP_SECS, bytes, Some(issuer.to_owned()), account.to_owned()).ok()
}

/// The `otpauth://` URL an authenticator app scans.
pub fn otpauth_url(secret_b32: &str, issuer: &str, account: &str) -> Option<String> {
    totp(secret_b32, issuer, account).map(|t| t.get_url())
}

/// The time step of a code that is valid at `now`, if any.
pub fn matching_step(secret_b32: &str, code: &str, now: OffsetDateTime) -> Option<i64> {
    let code = code.trim().replace([' ', '-'], "");
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret_b32, "mamori", "check")?;
    let step_now = now.unix_timestamp() / STEP_SECS as i64;
    (step_now - SKEW..=step_now + SKEW).find(|&step| {
        let at = (step * STEP_SECS as i64) as u64;
        constant_time_eq(t.generate(at).as_bytes(), code.as_bytes())
    })
}

/// The code for `now`: for tests and for nothing else in production.
pub fn code_at(secret_b32: &str, now: OffsetDateTime) -> Option<String> {
    totp(secret_b32, "mamori", "check").map(|t| t.generate(now.unix_timestamp() as u64))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Ten recovery codes of 16 base32 characters (80 bits each), grouped for
/// reading: `ABCD-EFGH-IJKL-MNOP`.
pub fn new_recovery_codes() -> Vec<String> {
    (0..10)
        .map(|_| {
            let mut bytes = [0u8; 10];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let s = Secret::Raw(bytes.to_vec()).to_encoded().to_string();
            s.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("-")
        })
        .collect()
}

/// What is stored of a recovery code: SHA-256 of its normalised form. The
/// codes carry 80 random bits, so a fast hash is enough.
pub fn recovery_code_hash(code: &str) -> String {
    let normal: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_uppercase();
    hex::encode(Sha256::digest(normal.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn codes_match_within_one_step() {
        let s = new_secret();
        let now = datetime!(2026-11-28 05:00:10 UTC);
        let code = code_at(&s, now).unwrap();
        let step = now.unix_timestamp() / 30;
        assert_eq!(matching_step(&s, &code, now), Some(step));
        assert_eq!(matching_step(&s, &code, now + time::Duration::seconds(30)), Some(step));
        assert_eq!(matching_step(&s, &code, now + time::Duration::seconds(90)), None);
        assert_eq!(matching_step(&s, "12345", now), None);
        assert_eq!(matching_step(&s, "abcdef", now), None);
    }

    #[test]
    fn rfc_6238_sha1_vector() {
        // RFC 6238 appendix B: secret "12345678901234567890", T = 59 s -> 94287082 (8 digits);
        // the 6-digit code is its last six digits.
        let secret = Secret::Raw(b"12345678901234567890".to_vec()).to_encoded().to_string();
        assert_eq!(code_at(&secret, datetime!(1970-01-01 00:00:59 UTC)).unwrap(), "287082");
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalised_for_hashing() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let set: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(set.len(), 10);
        assert_eq!(codes[0].len(), 19);
        assert_eq!(recovery_code_hash(&codes[0]), recovery_code_hash(&codes[0].to_lowercase().replace('-', " ")));
    }

    #[test]
    fn otpauth_url_names_issuer_and_account() {
        let url = otpauth_url(&new_secret(), "mamori", "yamada").unwrap();
        assert!(url.starts_with("otpauth://totp/mamori:yamada?"), "{url}");
    }
}
