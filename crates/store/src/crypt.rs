//! Encryption at rest (checklist item 61): TOTP secrets, evidence files,
//! library revisions and personal data (names, e-mail addresses, contacts,
//! and the account ledger's before and after) are stored sealed with
//! XChaCha20-Poly1305 under a data key. Each sealed value names the key it
//! was sealed with, so that keys can be rotated while the data is read.
//!
//! A sealed text is `mk1:ID:HEX` (HEX: the 24-byte nonce and the
//! ciphertext); sealed bytes are `\0mk1`, the key id (4 bytes, big
//! endian), the nonce and the ciphertext. The associated data is the
//! column's name: a value moved into another column does not open.
//!
//! Keys come from a key file (one `mamori-data-key ID HEX` line each; the
//! last is the one new values are sealed with) or its text in
//! `MAMORI_DATA_KEY`. The database keeps, for each key id it has seen, a
//! check value sealed under that key: a wrong key for an id stops the
//! start before anything is read or written.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

const TEXT_PREFIX: &str = "mk1:";
const BYTES_MAGIC: &[u8; 4] = b"\0mk1";
const NONCE: usize = 24;
const LINE: &str = "mamori-data-key";
/// What each key's check value seals.
pub(crate) const CHECK: &[u8] = b"mamori data key check";

/// Why keys cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("データ鍵のファイル {0} を読めません (cannot read the data key file): {1}")]
    Read(PathBuf, std::io::Error),
    #[error("データ鍵のファイル {0} を書けません (cannot write the data key file): {1}")]
    Write(PathBuf, std::io::Error),
    #[error("データ鍵の {0} 行目が読めません。`mamori-data-key 番号 64桁の16進数` の形式です (line {0} of the data key is not `mamori-data-key ID HEX`)")]
    Format(usize),
    #[error("データ鍵がありません (no data key)")]
    Empty,
}

/// The data keys, the newest sealing.
pub struct Keyring {
    keys: RwLock<BTreeMap<u32, Key>>,
    current: RwLock<u32>,
    /// The file the keys came from: read again when a value names a key
    /// this process does not have yet (another process rotated).
    file: Option<PathBuf>,
}

/// One data key: its bytes (a backup carries them) and its cipher.
struct Key {
    bytes: [u8; 32],
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("ids", &self.ids()).finish_non_exhaustive()
    }
}

/// Parses a key file's text: each line's id and key.
pub fn parse(text: &str) -> Result<Vec<(u32, [u8; 32])>, KeyError> {
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [LINE, id, hex] = parts[..] else { return Err(KeyError::Format(i + 1)) };
        let id: u32 = id.parse().map_err(|_| KeyError::Format(i + 1))?;
        let mut key = [0u8; 32];
        hex::decode_to_slice(hex, &mut key).map_err(|_| KeyError::Format(i + 1))?;
        keys.push((id, key));
    }
    if keys.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok(keys)
}

/// Adds to a key file's text the keys of `other` it lacks (before its
/// own, so that its sealing key stays last); refuses when both hold an id
/// with different keys.
pub fn merge(ours: &str, other: &str) -> Result<String, String> {
    let mine = parse(ours).map_err(|e| e.to_string())?;
    let theirs = parse(other).map_err(|e| e.to_string())?;
    let mut added = String::new();
    for (id, key) in theirs {
        match mine.iter().find(|m| m.0 == id) {
            Some(m) if m.1 != key => {
                return Err(format!(
                "データ鍵 #{id} が、すでにある鍵ファイルの鍵と違います (data key #{id} differs from the key file's)"
            ))
            }
            Some(_) => {}
            None => added.push_str(&format!("{LINE} {id} {}\n", hex::encode(key))),
        }
    }
    Ok(format!("{added}{}", if ours.ends_with('\n') { ours.to_owned() } else { format!("{ours}\n") }))
}

/// A key file's line for a new random key.
pub fn new_key_line(id: u32) -> String {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    format!("{LINE} {id} {}\n", hex::encode(key))
}

impl Keyring {
    /// From a key file's text; the last key seals.
    pub fn from_text(text: &str, file: Option<PathBuf>) -> Result<Keyring, KeyError> {
        let keys = parse(text)?;
        let current = keys.last().map(|k| k.0).ok_or(KeyError::Empty)?;
        let keys =
            keys.into_iter().map(|(id, k)| (id, Key { bytes: k, cipher: XChaCha20Poly1305::new(&k.into()) })).collect();
        Ok(Keyring { keys: RwLock::new(keys), current: RwLock::new(current), file })
    }

    /// From a key file.
    pub fn from_file(path: &Path) -> Result<Keyring, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|e| KeyError::Read(path.to_owned(), e))?;
        Keyring::from_text(&text, Some(path.to_owned()))
    }

    /// Creates a key file holding one new key, readable by its owner only;
    /// refuses to overwrite one.
    pub fn create_file(path: &Path) -> Result<Keyring, KeyError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let line = new_key_line(1);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| KeyError::Write(path.to_owned(), e))?;
        f.write_all(line.as_bytes()).and_then(|_| f.sync_all()).map_err(|e| KeyError::Write(path.to_owned(), e))?;
        // The file's name is durable too before the key seals anything: a
        // power cut must not keep sealed values and lose their key.
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::File::open(folder).and_then(|d| d.sync_all()).map_err(|e| KeyError::Write(path.to_owned(), e))?;
        Keyring::from_text(&line, Some(path.to_owned()))
    }

    /// A random key of its own, for tests.
    pub fn random_for_tests() -> Keyring {
        Keyring::from_text(&new_key_line(1), None).expect("a new line parses")
    }

    /// The key ids held, oldest first.
    pub fn ids(&self) -> Vec<u32> {
        self.keys.read().unwrap().keys().copied().collect()
    }

    /// The id new values are sealed with.
    pub fn current(&self) -> u32 {
        *self.current.read().unwrap()
    }

    /// The file the keys came from.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Reads the key file again (keys added by a rotation elsewhere).
    pub fn reload(&self) -> Result<(), KeyError> {
        let Some(path) = &self.file else { return Ok(()) };
        let fresh = Keyring::from_file(path)?;
        *self.keys.write().unwrap() = fresh.keys.into_inner().unwrap();
        *self.current.write().unwrap() = fresh.current.into_inner().unwrap();
        Ok(())
    }

    fn with_key<T>(&self, id: u32, f: impl Fn(&XChaCha20Poly1305) -> T) -> Option<T> {
        if let Some(k) = self.keys.read().unwrap().get(&id) {
            return Some(f(&k.cipher));
        }
        // Sealed by a key added since start: read the file once more.
        self.reload().ok()?;
        self.keys.read().unwrap().get(&id).map(|k| f(&k.cipher))
    }

    /// The key file's text for these keys, the sealing one last.
    pub fn to_text(&self) -> String {
        let keys = self.keys.read().unwrap();
        let current = self.current();
        let line = |id: &u32, k: &Key| format!("{LINE} {id} {}\n", hex::encode(k.bytes));
        let mut text: String = keys.iter().filter(|(id, _)| **id != current).map(|(id, k)| line(id, k)).collect();
        if let Some(k) = keys.get(&current) {
            text.push_str(&line(&current, k));
        }
        text
    }

    fn seal_with(&self, id: u32, aad: &str, plain: &[u8]) -> (u32, [u8; NONCE], Vec<u8>) {
        let mut nonce = [0u8; NONCE];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = self
            .with_key(id, |k| k.encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad: aad.as_bytes() }))
            .expect("the sealing key is held")
            .expect("encryption of a buffer in memory does not fail");
        (id, nonce, ct)
    }

    /// Seals bytes under the current key.
    pub fn seal_bytes(&self, aad: &str, plain: &[u8]) -> Vec<u8> {
        self.seal_bytes_with(self.current(), aad, plain)
    }

    pub(crate) fn seal_bytes_with(&self, id: u32, aad: &str, plain: &[u8]) -> Vec<u8> {
        let (id, nonce, ct) = self.seal_with(id, aad, plain);
        let mut out = Vec::with_capacity(8 + NONCE + ct.len());
        out.extend_from_slice(BYTES_MAGIC);
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// Seals a text under the current key.
    pub fn seal(&self, aad: &str, plain: &str) -> String {
        let (id, nonce, ct) = self.seal_with(self.current(), aad, plain.as_bytes());
        format!("{TEXT_PREFIX}{id}:{}{}", hex::encode(nonce), hex::encode(ct))
    }

    /// The key id a sealed value names, if it is one.
    pub fn sealed_bytes_id(value: &[u8]) -> Option<u32> {
        let rest = value.strip_prefix(BYTES_MAGIC.as_slice())?;
        (rest.len() >= 4 + NONCE).then(|| u32::from_be_bytes(rest[..4].try_into().expect("four bytes")))
    }

    pub fn sealed_text_id(value: &str) -> Option<u32> {
        let rest = value.strip_prefix(TEXT_PREFIX)?;
        rest.split_once(':')?.0.parse().ok()
    }

    /// Opens sealed bytes.
    pub fn open_bytes(&self, aad: &str, value: &[u8]) -> Result<Vec<u8>, crate::StoreError> {
        let id = Keyring::sealed_bytes_id(value).ok_or_else(|| unsealed(aad))?;
        let (nonce, ct) = value[8..].split_at(NONCE);
        self.open(id, aad, nonce, ct)
    }

    /// Opens a sealed text.
    pub fn open_text(&self, aad: &str, value: &str) -> Result<String, crate::StoreError> {
        let id = Keyring::sealed_text_id(value).ok_or_else(|| unsealed(aad))?;
        let hex_part = value.splitn(3, ':').nth(2).unwrap_or("");
        let raw = hex::decode(hex_part).map_err(|_| unsealed(aad))?;
        if raw.len() < NONCE {
            return Err(unsealed(aad));
        }
        let (nonce, ct) = raw.split_at(NONCE);
        let plain = self.open(id, aad, nonce, ct)?;
        String::from_utf8(plain).map_err(|_| unsealed(aad))
    }

    /// Opens an optional sealed text.
    pub fn open_opt(&self, aad: &str, value: Option<String>) -> Result<Option<String>, crate::StoreError> {
        value.map(|v| self.open_text(aad, &v)).transpose()
    }

    fn open(&self, id: u32, aad: &str, nonce: &[u8], ct: &[u8]) -> Result<Vec<u8>, crate::StoreError> {
        self.with_key(id, |k| k.decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: aad.as_bytes() }))
            .ok_or_else(|| {
                crate::StoreError::Corrupt(format!("{aad}: sealed with data key {id}, which is not configured"))
            })?
            .map_err(|_| crate::StoreError::Corrupt(format!("{aad}: does not open with data key {id}")))
    }

    /// Does `check` (a key's check value) open under key `id`?
    pub(crate) fn checks(&self, id: u32, check: &[u8]) -> bool {
        self.open_bytes("data_key.check_value", check).is_ok_and(|p| p == CHECK)
            && Keyring::sealed_bytes_id(check) == Some(id)
    }
}

fn unsealed(aad: &str) -> crate::StoreError {
    crate::StoreError::Corrupt(format!("{aad}: not a sealed value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_open_with_their_key_and_column_only() {
        let keys = Keyring::random_for_tests();
        let s = keys.seal("account.email", "hanako@example.lg.jp");
        assert!(s.starts_with("mk1:1:") && !s.contains("hanako"));
        assert_eq!(keys.open_text("account.email", &s).unwrap(), "hanako@example.lg.jp");
        assert!(keys.open_text("account.display_name", &s).is_err(), "another column's value does not open");
        assert!(Keyring::random_for_tests().open_text("account.email", &s).is_err(), "another key does not open it");
        let b = keys.seal_bytes("evidence_content.content", b"file");
        assert_eq!(keys.open_bytes("evidence_content.content", &b).unwrap(), b"file");
        let mut tampered = b.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(keys.open_bytes("evidence_content.content", &tampered).is_err());
        assert_ne!(keys.seal("a", "x"), keys.seal("a", "x"), "a fresh nonce each time");
    }

    #[test]
    fn a_key_file_names_each_key_and_the_last_seals() {
        let text = format!("# keys\n{}{}", new_key_line(1), new_key_line(2));
        let keys = Keyring::from_text(&text, None).unwrap();
        assert_eq!((keys.ids(), keys.current()), (vec![1, 2], 2));
        for bad in ["mamori-data-key 1 abcd", "mamori-data-key x 00", "other 1 00", ""] {
            assert!(Keyring::from_text(bad, None).is_err(), "{bad}");
        }
    }
}
