//! Checks on an uploaded evidence file: its type decided by its content,
//! and, when configured, a malware scan by clamd (checklist item 58).

use std::io::Cursor;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The kinds of file accepted as evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pdf,
    Png,
    Jpeg,
    Xlsx,
    Docx,
    Zip,
    Csv,
    Txt,
}

impl Kind {
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Pdf => "application/pdf",
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
            Kind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Kind::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Kind::Zip => "application/zip",
            Kind::Csv => "text/csv",
            Kind::Txt => "text/plain",
        }
    }
}

/// The file's kind from its bytes; the name only tells CSV from TXT among
/// text files. Anything else is refused. Written by hand: the list is
/// short, and Office files need a look inside the zip, which sniffing
/// crates do not do reliably.
pub fn sniff(bytes: &[u8], name: &str) -> Option<Kind> {
    if bytes.starts_with(b"%PDF-") {
        return Some(Kind::Pdf);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(Kind::Png);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(Kind::Jpeg);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        let zip = zip::ZipArchive::new(Cursor::new(bytes)).ok()?;
        let names: Vec<String> = zip.file_names().filter_map(|n| n.ok().map(|n| n.into_owned())).collect();
        let office = names.iter().any(|n| n == "[Content_Types].xml");
        return Some(if office && names.iter().any(|n| n.starts_with("xl/")) {
            Kind::Xlsx
        } else if office && names.iter().any(|n| n.starts_with("word/")) {
            Kind::Docx
        } else {
            Kind::Zip
        });
    }
    // Text: UTF-8 or Shift_JIS, no NUL and no control characters but tab,
    // line ends and form feed.
    let text_like = !bytes.is_empty()
        && !bytes.iter().any(|b| *b == 0 || (*b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c)));
    let decodes = std::str::from_utf8(bytes).is_ok() || !encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes).1;
    if text_like && decodes {
        return Some(if name.to_ascii_lowercase().ends_with(".csv") { Kind::Csv } else { Kind::Txt });
    }
    None
}

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clamd {
    Unix(PathBuf),
    Tcp(String),
}

impl Clamd {
    /// `unix:/run/clamav/clamd.ctl` or `tcp:127.0.0.1:3310`.
    pub fn parse(s: &str) -> Option<Clamd> {
        if let Some(p) = s.strip_prefix("unix:") {
            return Some(Clamd::Unix(PathBuf::from(p)));
        }
        s.strip_prefix("tcp:").filter(|a| !a.is_empty()).map(|a| Clamd::Tcp(a.to_owned()))
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum ScanResult {
    Clean,
    Infected(String),
}

const CLAMD_TIMEOUT: Duration = Duration::from_secs(60);
const CHUNK: usize = 64 * 1024;

/// Streams `bytes` to clamd with INSTREAM and reads the verdict. clamd's
/// protocol is a few lines; this avoids a dependency for it.
pub async fn scan(clamd: &Clamd, bytes: &[u8]) -> Result<ScanResult, String> {
    let talk = async {
        let reply = match clamd {
            Clamd::Unix(path) => {
                exchange(tokio::net::UnixStream::connect(path).await.map_err(|e| e.to_string())?, bytes).await?
            }
            Clamd::Tcp(addr) => {
                exchange(tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?, bytes).await?
            }
        };
        let reply = reply.trim_end_matches(['\0', '\n']).to_owned();
        if reply.ends_with("OK") {
            Ok(ScanResult::Clean)
        } else if let Some(sig) = reply.strip_suffix(" FOUND") {
            Ok(ScanResult::Infected(sig.trim_start_matches("stream: ").to_owned()))
        } else {
            Err(format!("clamd answered: {reply}"))
        }
    };
    tokio::time::timeout(CLAMD_TIMEOUT, talk).await.map_err(|_| "clamd did not answer in time".to_owned())?
}

async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    bytes: &[u8],
) -> Result<String, String> {
    let io = |e: std::io::Error| e.to_string();
    s.write_all(b"zINSTREAM\0").await.map_err(io)?;
    for chunk in bytes.chunks(CHUNK) {
        s.write_all(&(chunk.len() as u32).to_be_bytes()).await.map_err(io)?;
        s.write_all(chunk).await.map_err(io)?;
    }
    s.write_all(&0u32.to_be_bytes()).await.map_err(io)?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).await.map_err(io)?;
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_content() {
        assert_eq!(sniff(b"%PDF-1.7 ...", "x.txt"), Some(Kind::Pdf));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest", "x.pdf"), Some(Kind::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0], "a"), Some(Kind::Jpeg));
        assert_eq!(sniff("名前,値\n".as_bytes(), "表.CSV"), Some(Kind::Csv));
        assert_eq!(sniff("メモ".as_bytes(), "memo.txt"), Some(Kind::Txt));
        assert_eq!(sniff(&encoding_rs::SHIFT_JIS.encode("設定").0, "s.txt"), Some(Kind::Txt));
        let xlsx = crate::export::xlsx_bytes("s", &["a".into()], &[]).unwrap();
        assert_eq!(sniff(&xlsx, "renamed.pdf"), Some(Kind::Xlsx));
        // An executable named like a PDF, and binary junk, are refused.
        assert_eq!(sniff(b"MZ\x90\x00\x03\x00\x00\x00", "report.pdf"), None);
        assert_eq!(sniff(b"\x7fELF\x02\x01\x01\x00", "x.txt"), None);
        assert_eq!(sniff(b"", "empty.txt"), None);
    }

    #[test]
    fn clamd_addresses() {
        assert_eq!(Clamd::parse("unix:/run/clamav/clamd.ctl"), Some(Clamd::Unix("/run/clamav/clamd.ctl".into())));
        assert_eq!(Clamd::parse("tcp:127.0.0.1:3310"), Some(Clamd::Tcp("127.0.0.1:3310".into())));
        assert_eq!(Clamd::parse("127.0.0.1:3310"), None);
    }
}
