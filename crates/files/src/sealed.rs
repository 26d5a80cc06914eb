//! An export sealed for leaving mamori (checklist item 18): one file in a
//! ZIP encrypted with AES-256 (WinZip AE-2, which 7-Zip, Explorer of
//! recent Windows and every ZIP tool of note open) under a password the
//! person chooses at the download.

use std::io::{Cursor, Write};
use zip::write::SimpleFileOptions;
use zip::{AesMode, CompressionMethod, ZipWriter};

/// The shortest password a sealed export takes.
pub const PASSWORD_MIN: usize = 12;

/// `bytes` as `name` inside a ZIP sealed with `password`.
pub fn zip(name: &str, bytes: &[u8], password: &str) -> zip::result::ZipResult<Vec<u8>> {
    let mut w = ZipWriter::new(Cursor::new(Vec::with_capacity(bytes.len() + 512)));
    // Stored: workbooks are compressed already; a CSV costs a little more room.
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .with_aes_encryption(AesMode::Aes256, password);
    w.start_file(name, options)?;
    w.write_all(bytes)?;
    Ok(w.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_sealed_file_opens_with_its_password_only() {
        let sealed =
            zip("台帳.csv", "ログインID,氏名\nhanako,千代田 花子\n".as_bytes(), "correct horse battery").unwrap();
        assert!(!sealed.windows("hanako".len()).any(|w| w == b"hanako"), "nothing readable");
        let mut archive = zip::ZipArchive::new(Cursor::new(sealed)).unwrap();
        assert!(archive.by_name_decrypt("台帳.csv", b"wrong password").is_err());
        let mut text = String::new();
        archive.by_name_decrypt("台帳.csv", b"correct horse battery").unwrap().read_to_string(&mut text).unwrap();
        assert!(text.contains("千代田 花子"));
    }
}
