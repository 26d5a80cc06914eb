//! `mamori backup` and `mamori restore` (checklist items 19–21).
//!
//! An archive is a tar stream: the data in chunks of rows
//! (`data/000001.msgpack`, …; see `mamori_store::backup`) and, last, a
//! manifest (`manifest.json`: format, mamori and schema version, time,
//! rows per table, and each chunk's SHA-256). With a passphrase the whole
//! stream is an age file (scrypt, ChaCha20-Poly1305): nothing unencrypted
//! ever reaches the disk, and a changed byte fails the decryption.
//!
//! A restore reads the archive twice: first every hash is checked against
//! the manifest, and only then does the second pass load the rows, in one
//! transaction, checking each chunk again before it goes in.

use anyhow::{anyhow, bail, Context};
use mamori_store::backup::{Table, Value};
use mamori_store::Store;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

pub const FORMAT: &str = "mamori-backup/1";
const MANIFEST: &str = "manifest.json";
/// The data keys, in a sealed archive only.
const KEYS: &str = "keys/data.key";
const KEYS_MAX: u64 = 1 << 16;
/// Rows are cut into chunks of about this many bytes: what memory holds.
const CHUNK_BYTES: usize = 8 << 20;
/// The largest manifest read back (a manifest lists one line per chunk).
const MANIFEST_MAX: u64 = 64 << 20;
/// The largest chunk read back: a chunk is cut after the row that passes
/// `CHUNK_BYTES`, and one row holds at most one stored file.
const CHUNK_MAX: u64 = 1 << 30;
const AGE_MAGIC: &[u8] = b"age-encryption.org/v1";

/// What an archive says of itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub mamori_version: String,
    pub schema_version: i64,
    /// The backend it was taken from (`sqlite`, `postgres`).
    pub backend: String,
    /// RFC 3339, UTC.
    pub taken_at: String,
    pub tables: Vec<TableRows>,
    pub chunks: Vec<Chunk>,
    /// SHA-256 of the chunks' SHA-256s, in order: one figure for the data.
    pub data_sha256: String,
    /// SHA-256 of the data keys the archive carries (sealed archives only:
    /// they restore with the passphrase alone).
    #[serde(default)]
    pub keys_sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableRows {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    pub path: String,
    pub table: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

impl Manifest {
    fn data_hash(chunks: &[Chunk]) -> String {
        let mut h = Sha256::new();
        for c in chunks {
            h.update(c.sha256.as_bytes());
            h.update(b"\n");
        }
        hex::encode(h.finalize())
    }
}

/// The passphrase an archive is sealed with; never printed.
#[derive(Clone)]
pub struct Passphrase(age::secrecy::SecretString);

impl Passphrase {
    pub fn new(s: String) -> Self {
        Passphrase(age::secrecy::SecretString::from(s))
    }

    /// Read from a file (its first line), or from MAMORI_BACKUP_PASSPHRASE.
    pub fn find(file: Option<&Path>) -> anyhow::Result<Option<Passphrase>> {
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("パスフレーズのファイル {} を読めません (cannot read the passphrase file)", path.display())
            })?;
            let line = text.lines().next().unwrap_or("").to_owned();
            if line.is_empty() {
                bail!("パスフレーズのファイル {} が空です (the passphrase file is empty)", path.display());
            }
            return Ok(Some(Passphrase::new(line)));
        }
        Ok(std::env::var("MAMORI_BACKUP_PASSPHRASE").ok().filter(|p| !p.is_empty()).map(Passphrase::new))
    }

    pub fn char_count(&self) -> usize {
        use age::secrecy::ExposeSecret;
        self.0.expose_secret().chars().count()
    }
}

/// The shortest passphrase a backup is sealed with.
pub const PASSPHRASE_MIN: usize = 12;

/// An archive's file name: the time it was taken, sortable as text.
pub fn archive_name(at: OffsetDateTime, encrypted: bool) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let ext = if encrypted { "tar.age" } else { "tar" };
    format!(
        "mamori-{:04}{:02}{:02}T{:02}{:02}{:02}Z.{ext}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// The time an archive's name carries, if it is one of mamori's.
pub fn archive_time(name: &str) -> Option<OffsetDateTime> {
    let stamp = name.strip_prefix("mamori-")?;
    let stamp = stamp.strip_suffix(".tar.age").or_else(|| stamp.strip_suffix(".tar"))?;
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(stamp, &format).ok().map(|t| t.assume_utc())
}

/// Writes to a file, through age when sealed.
enum Sink {
    Plain(BufWriter<File>),
    Sealed(age::stream::StreamWriter<BufWriter<File>>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Sealed(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Sealed(w) => w.flush(),
        }
    }
}

impl Sink {
    fn finish(self) -> std::io::Result<File> {
        let w = match self {
            Sink::Plain(w) => w,
            Sink::Sealed(w) => w.finish()?,
        };
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(file)
    }
}

fn append(tar: &mut tar::Builder<Sink>, path: &str, bytes: &[u8], at: OffsetDateTime) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(at.unix_timestamp().max(0) as u64);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, path, bytes)
}

/// Takes a backup of `store` into `dir` while writers go on (one
/// consistent snapshot), sealed with `passphrase` when one is given.
/// The archive appears under its final name only once complete.
pub async fn take(
    store: &Store,
    dir: &Path,
    passphrase: Option<&Passphrase>,
    now: OffsetDateTime,
) -> anyhow::Result<(PathBuf, Manifest)> {
    crate::private_file::create_private_dir(dir)
        .with_context(|| format!("{} を作れません (cannot create the folder)", dir.display()))?;
    let name = archive_name(now, passphrase.is_some());
    let path = dir.join(&name);
    let partial = dir.join(format!(".{name}.partial"));
    let file = private_file(&partial)?;
    let _unfinished = Unfinished(&partial);
    let writer = BufWriter::new(file);
    let sink = match passphrase {
        Some(p) => Sink::Sealed(age::Encryptor::with_user_passphrase(p.0.clone()).wrap_output(writer)?),
        None => Sink::Plain(writer),
    };
    let mut tar = tar::Builder::new(sink);
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut rows: BTreeMap<String, (Vec<String>, u64)> = BTreeMap::new();
    let tables: Vec<Table> = store.backup_tables().await?;
    let written = store
        .export(CHUNK_BYTES, |table: &Table, batch: Vec<Vec<Value>>| -> anyhow::Result<()> {
            let bytes = rmp_serde::to_vec(&batch)?;
            // A restore reads no chunk past CHUNK_MAX: an archive holding one
            // would be reported verified and could never be restored.
            if bytes.len() as u64 > CHUNK_MAX {
                anyhow::bail!(
                    "{} の行が大きすぎて復元で読めません ({} バイト、{CHUNK_MAX} まで) (a chunk of table {} is larger than a restore reads)",
                    table.name,
                    bytes.len(),
                    table.name
                );
            }
            let path = format!("data/{:06}.msgpack", chunks.len() + 1);
            append(&mut tar, &path, &bytes, now)?;
            rows.entry(table.name.clone()).or_insert_with(|| (table.columns.clone(), 0)).1 += batch.len() as u64;
            chunks.push(Chunk {
                path,
                table: table.name.clone(),
                rows: batch.len() as u64,
                bytes: bytes.len() as u64,
                sha256: hex::encode(Sha256::digest(&bytes)),
            });
            Ok(())
        })
        .await;
    written?;
    let manifest = Manifest {
        format: FORMAT.into(),
        mamori_version: env!("CARGO_PKG_VERSION").into(),
        schema_version: store.schema_version().await?,
        backend: match store.backend() {
            mamori_store::Backend::Sqlite => "sqlite".into(),
            mamori_store::Backend::Postgres => "postgres".into(),
        },
        taken_at: now.format(&time::format_description::well_known::Rfc3339)?,
        tables: tables
            .into_iter()
            .map(|t| {
                let n = rows.get(&t.name).map_or(0, |r| r.1);
                TableRows { name: t.name, columns: t.columns, rows: n }
            })
            .collect(),
        data_sha256: Manifest::data_hash(&chunks),
        chunks,
        keys_sha256: passphrase.map(|_| hex::encode(Sha256::digest(store.keys().to_text().as_bytes()))),
    };
    if passphrase.is_some() {
        append(&mut tar, KEYS, store.keys().to_text().as_bytes(), now)?;
    }
    append(&mut tar, MANIFEST, &serde_json::to_vec_pretty(&manifest)?, now)?;
    tar.into_inner()?.finish()?;
    std::fs::rename(&partial, &path)?;
    File::open(dir)?.sync_all()?;
    Ok((path, manifest))
}

/// A file being written under a name of its own until complete: removed
/// when this is dropped, so that a failure at any step leaves no half
/// archive behind (once renamed, there is nothing left to remove). Some
/// failures returned early and left theirs, to pile up unpruned.
struct Unfinished<'a>(&'a Path);

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}

/// A new file only its owner may read.
fn private_file(path: &Path) -> anyhow::Result<File> {
    crate::private_file::new_private_file(path)
        .with_context(|| format!("{} を作れません (cannot create the file)", path.display()))
}

/// Opens an archive for reading, decrypting it when it is sealed. With a
/// passphrase given, an archive that is not sealed is refused: one put in
/// place of a sealed one (in the backup folder, or at the second copy's
/// place) would otherwise be restored as if it were.
fn open(path: &Path, passphrase: Option<&Passphrase>) -> anyhow::Result<(tar::Archive<Box<dyn Read>>, bool)> {
    let mut file = BufReader::new(
        File::open(path).with_context(|| format!("{} を開けません (cannot open the archive)", path.display()))?,
    );
    let mut head = [0u8; AGE_MAGIC.len()];
    let sealed = file.read_exact(&mut head).is_ok() && head == AGE_MAGIC;
    let file = BufReader::new(File::open(path)?);
    let reader: Box<dyn Read> = if sealed {
        let Some(p) = passphrase else {
            bail!("このバックアップは暗号化されています。--passphrase-file か MAMORI_BACKUP_PASSPHRASE でパスフレーズを指定してください (the archive is encrypted: give its passphrase)");
        };
        let decryptor = age::Decryptor::new_buffered(file).map_err(|_| damaged())?;
        let identity = age::scrypt::Identity::new(p.0.clone());
        match decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity)) {
            Ok(r) => Box::new(r),
            Err(
                age::DecryptError::DecryptionFailed
                | age::DecryptError::NoMatchingKeys
                | age::DecryptError::KeyDecryptionFailed,
            ) => {
                bail!("パスフレーズが違います (wrong passphrase)")
            }
            Err(_) => return Err(damaged()),
        }
    } else if passphrase.is_some() {
        bail!("パスフレーズが指定されましたが、このバックアップは暗号化されていません。暗号化したものと差し替えられた恐れがあります。暗号化していないバックアップを復元するときは --unencrypted を付けてください。何も変更していません (a passphrase was given but the archive is not sealed; to restore an unsealed archive, add --unencrypted; nothing was changed)");
    } else {
        Box::new(file)
    };
    Ok((tar::Archive::new(reader), sealed))
}

/// What may follow an archive's last entry: tar's end (zeros), padded to a
/// record as tar pads it.
const END_MAX: u64 = 64 * 1024;

/// Reads what follows the last entry to the end of the file: zeros only,
/// no more than [`END_MAX`]. The entries end at tar's first zero block; a
/// sealed archive's last chunk is authenticated only when read, so an
/// archive cut in its last chunk, when the entries ended in the chunk
/// before, was taken as whole.
fn read_to_the_end(archive: tar::Archive<Box<dyn Read>>) -> anyhow::Result<()> {
    let mut rest = archive.into_inner().take(END_MAX + 1);
    let (mut buf, mut read) = ([0u8; 8192], 0u64);
    loop {
        let n = rest.read(&mut buf).map_err(|_| damaged())?;
        if n == 0 {
            break;
        }
        read += n as u64;
        if read > END_MAX || buf[..n].iter().any(|b| *b != 0) {
            return Err(damaged());
        }
    }
    Ok(())
}

/// mamori writes only plain files with short names ([`append`]). The
/// archives are read raw: read for what they are, a GNU long name or a PAX
/// header would be held whole in memory, whatever its size, before the
/// entry it names. Any other kind of entry is refused unread.
fn plain_file<R: Read>(entry: &tar::Entry<'_, R>) -> anyhow::Result<()> {
    let kind = entry.header().entry_type();
    if !kind.is_file() {
        bail!(
            "バックアップに mamori が書かない種類の項目があります。何も変更していません (an entry of a kind mamori does not write: {:?}; nothing was changed)",
            kind
        );
    }
    Ok(())
}

fn damaged() -> anyhow::Error {
    anyhow!("バックアップが壊れています。何も変更していません (the archive is damaged; nothing was changed)")
}

/// Reads an archive through and checks every chunk's SHA-256 against its
/// manifest; returns the manifest when all agree, and the data keys a
/// sealed archive carries.
pub fn check(path: &Path, passphrase: Option<&Passphrase>) -> anyhow::Result<(Manifest, Option<String>)> {
    let (mut archive, sealed) = open(path, passphrase)?;
    let mut seen: Vec<(String, String, u64)> = Vec::new();
    let mut manifest: Option<Manifest> = None;
    let mut keys: Option<String> = None;
    for entry in archive.entries().map_err(|_| damaged())?.raw(true) {
        let mut entry = entry.map_err(|_| damaged())?;
        plain_file(&entry)?;
        let name = entry.path().map_err(|_| damaged())?.to_string_lossy().into_owned();
        if manifest.is_some() {
            bail!("バックアップの目録の後にファイルがあります (an entry after the manifest)");
        }
        if name == MANIFEST {
            let mut text = Vec::new();
            (&mut entry).take(MANIFEST_MAX).read_to_end(&mut text).map_err(|_| damaged())?;
            manifest = Some(serde_json::from_slice(&text).map_err(|_| damaged())?);
        } else if name == KEYS {
            // Data keys travel only in a sealed archive ([`take`]): keys in
            // an unsealed one were put there by someone else.
            if !sealed {
                bail!("暗号化されていないバックアップにデータ鍵が含まれています。mamori が作ったものではありません。何も変更していません (an unsealed archive carrying data keys was not made by mamori; nothing was changed)");
            }
            let mut text = String::new();
            (&mut entry).take(KEYS_MAX).read_to_string(&mut text).map_err(|_| damaged())?;
            keys = Some(text);
        } else {
            let mut hasher = Sha256::new();
            let n = std::io::copy(&mut (&mut entry).take(CHUNK_MAX), &mut hasher).map_err(|_| damaged())?;
            seen.push((name, hex::encode(hasher.finalize()), n));
        }
    }
    read_to_the_end(archive)?;
    let manifest = manifest.ok_or_else(damaged)?;
    if manifest.format != FORMAT {
        bail!("mamori のバックアップではないか、読めない形式です: {} (not a mamori archive)", manifest.format);
    }
    let listed: Vec<(String, String, u64)> =
        manifest.chunks.iter().map(|c| (c.path.clone(), c.sha256.clone(), c.bytes)).collect();
    let keys_hash = keys.as_ref().map(|k| hex::encode(Sha256::digest(k.as_bytes())));
    if listed != seen
        || Manifest::data_hash(&manifest.chunks) != manifest.data_sha256
        || keys_hash != manifest.keys_sha256
    {
        return Err(damaged());
    }
    Ok((manifest, keys))
}

/// Loads the archive at `path` into `store` (empty, or emptied by the
/// load) after [`check`] passed: one transaction, each chunk's hash checked
/// again before its rows go in, and `event` (the restore) appended to the
/// restored audit log in it.
pub async fn load(
    store: &Store,
    path: &Path,
    passphrase: Option<&Passphrase>,
    manifest: &Manifest,
    event: mamori_core::audit::NewEvent,
) -> anyhow::Result<()> {
    let columns: BTreeMap<&str, &Vec<String>> = manifest.tables.iter().map(|t| (t.name.as_str(), &t.columns)).collect();
    let mut restore = store.restore().await?;
    {
        let theirs: BTreeMap<&str, Vec<&str>> =
            columns.iter().map(|(t, c)| (*t, c.iter().map(String::as_str).collect())).collect();
        let mut ours = restore.tables();
        let mut theirs = theirs;
        ours.values_mut().for_each(|c| c.sort());
        theirs.values_mut().for_each(|c| c.sort());
        if ours != theirs {
            bail!("バックアップの表の構成がこの版と違います (the archive's tables differ from this version's schema)");
        }
    }
    let (mut archive, _) = open(path, passphrase)?;
    let mut chunks = manifest.chunks.iter();
    for entry in archive.entries().map_err(|_| damaged())?.raw(true) {
        let mut entry = entry.map_err(|_| damaged())?;
        plain_file(&entry)?;
        let name = entry.path().map_err(|_| damaged())?.to_string_lossy().into_owned();
        if name == MANIFEST {
            break;
        }
        if name == KEYS {
            continue;
        }
        let chunk = chunks.next().filter(|c| c.path == name).ok_or_else(damaged)?;
        let mut bytes = Vec::with_capacity(chunk.bytes.min(CHUNK_MAX) as usize);
        (&mut entry).take(CHUNK_MAX).read_to_end(&mut bytes).map_err(|_| damaged())?;
        if hex::encode(Sha256::digest(&bytes)) != chunk.sha256 {
            return Err(damaged());
        }
        let rows: Vec<Vec<Value>> = rmp_serde::from_slice(&bytes).map_err(|_| damaged())?;
        let cols = columns.get(chunk.table.as_str()).ok_or_else(damaged)?;
        restore.insert(&chunk.table, cols, rows).await?;
    }
    if chunks.next().is_some() {
        return Err(damaged());
    }
    restore.finish(time::OffsetDateTime::now_utc(), event).await?;
    Ok(())
}

/// Which archives to remove: of those given (name and time), the newest of
/// each of the latest `daily` days and of the latest `monthly` months (in
/// Japan's calendar) are kept.
pub fn to_prune(archives: &[(String, OffsetDateTime)], daily: usize, monthly: usize) -> Vec<String> {
    let mut newest_first: Vec<&(String, OffsetDateTime)> = archives.iter().collect();
    newest_first.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    let mut days = Vec::new();
    let mut months = Vec::new();
    let mut keep = std::collections::BTreeSet::new();
    for (name, at) in &newest_first {
        let d = at.to_offset(mamori_core::jst::JST).date();
        if !days.contains(&d) {
            days.push(d);
            if days.len() <= daily {
                keep.insert(name.clone());
            }
        }
        let m = (d.year(), d.month());
        if !months.contains(&m) {
            months.push(m);
            if months.len() <= monthly {
                keep.insert(name.clone());
            }
        }
    }
    newest_first.into_iter().filter(|(n, _)| !keep.contains(n)).map(|(n, _)| n.clone()).collect()
}

/// Removes from `dir` the archives [`to_prune`] names, never `written`
/// (the archive just made: an archive named with a later time, planted or
/// from a clock set wrong, took the generations and the new one was
/// removed); returns them.
pub fn prune(dir: &Path, daily: usize, monthly: usize, written: &str) -> anyhow::Result<Vec<String>> {
    let mut archives = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(at) = archive_time(&name) {
            archives.push((name, at));
        }
    }
    let mut gone = to_prune(&archives, daily, monthly);
    gone.retain(|n| n != written);
    for name in &gone {
        // Names come from the listing and were parsed as an archive's.
        std::fs::remove_file(dir.join(name))?;
    }
    Ok(gone)
}

/// Copies the archive into `dir` (the second location, item 21) and
/// checks the copy's SHA-256 against the original's.
pub fn copy_verified(archive: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    crate::private_file::create_private_dir(dir)
        .with_context(|| format!("{} を作れません (cannot create the folder)", dir.display()))?;
    let name = archive.file_name().ok_or_else(|| anyhow!("no file name"))?;
    // The same folder (under any spelling: `./`, a link) is no second
    // location: the copy was renamed over the archive, checked against
    // itself and recorded as a second copy, one file in all.
    let home = archive.parent().map(std::fs::canonicalize).transpose()?;
    if home.is_some_and(|home| std::fs::canonicalize(dir).is_ok_and(|d| d == home)) {
        bail!(
            "{} は書き出し先と同じフォルダです。別の場所 (別のディスクやマウント) を指定してください (the second location is the archive's own folder)",
            dir.display()
        );
    }
    let target = dir.join(name);
    let partial = dir.join(format!(".{}.partial", name.to_string_lossy()));
    let mut out = private_file(&partial)?;
    let _unfinished = Unfinished(&partial);
    std::io::copy(&mut File::open(archive)?, &mut out)?;
    out.sync_all()?;
    drop(out);
    std::fs::rename(&partial, &target)?;
    File::open(dir)?.sync_all()?;
    if sha256_of(archive)? != sha256_of(&target)? {
        bail!("{} への複製が元と一致しません (the copy differs from the archive)", dir.display());
    }
    Ok(target)
}

pub fn sha256_of(path: &Path) -> anyhow::Result<String> {
    let mut h = Sha256::new();
    std::io::copy(&mut File::open(path)?, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    /// `--copy-to` naming the archive's own folder (here through `./`
    /// and a link): the copy was renamed over the archive, compared with
    /// itself and recorded as a second copy. Now it is refused, and the
    /// archive is left as it was.
    #[test]
    fn a_second_location_that_is_the_archive_s_own_folder_is_refused() {
        let dir = tempfile::TempDir::new().unwrap();
        let archive = dir.path().join("mamori-20261205T000000Z.tar");
        std::fs::write(&archive, b"the archive").unwrap();
        let link = dir.path().with_extension("link");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        for same in [dir.path().to_path_buf(), dir.path().join("."), link.clone()] {
            let err = super::copy_verified(&archive, &same).unwrap_err().to_string();
            assert!(err.contains("同じフォルダ"), "{}: {err}", same.display());
        }
        assert_eq!(std::fs::read(&archive).unwrap(), b"the archive");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no partial file");
        std::fs::remove_file(&link).unwrap();
        let other = dir.path().join("second");
        assert!(super::copy_verified(&archive, &other).is_ok());
    }

    /// A copy that fails half way (here the archive is gone) leaves no
    /// partial file in the second location; it was left, one more after
    /// each failed night, never pruned.
    #[test]
    fn a_failed_copy_leaves_no_partial_file() {
        let dir = tempfile::TempDir::new().unwrap();
        let gone = dir.path().join("mamori-20261205T000000Z.tar");
        let second = dir.path().join("second");
        assert!(super::copy_verified(&gone, &second).is_err());
        let left: Vec<_> = std::fs::read_dir(&second).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    use super::*;
    use time::macros::datetime;

    #[test]
    fn archive_names_carry_their_time_and_nothing_else_is_taken_for_one() {
        let at = datetime!(2026-12-04 15:00:09 UTC);
        assert_eq!(archive_name(at, true), "mamori-20261204T150009Z.tar.age");
        assert_eq!(archive_time(&archive_name(at, false)), Some(at));
        for other in
            ["mamori-20261204T150009Z.tar.gz", "notes.txt", ".mamori-20261204T150009Z.tar.partial", "mamori-x.tar"]
        {
            assert_eq!(archive_time(other), None, "{other}");
        }
    }

    #[test]
    fn generations_keep_the_newest_of_each_of_the_last_days_and_months() {
        // Two a day at 03:00 and 15:00 UTC (12:00 and 00:00 in Japan) from
        // 1 October to 4 December.
        let mut all = Vec::new();
        let mut t = datetime!(2026-10-01 03:00 UTC);
        while t <= datetime!(2026-12-04 15:00 UTC) {
            all.push((archive_name(t, true), t));
            t += time::Duration::hours(12);
        }
        let gone = to_prune(&all, 7, 3);
        let mut kept: Vec<&str> = all.iter().map(|a| a.0.as_str()).filter(|n| !gone.iter().any(|g| g == n)).collect();
        kept.sort();
        assert_eq!(
            kept,
            [
                // October's newest in Japan (31 October 15:00 UTC is
                // already 1 November there).
                "mamori-20261031T030000Z.tar.age",
                // The newest of each of the last seven days in Japan,
                // November's newest (30 November at noon) among them.
                "mamori-20261129T030000Z.tar.age",
                "mamori-20261130T030000Z.tar.age",
                "mamori-20261201T030000Z.tar.age",
                "mamori-20261202T030000Z.tar.age",
                "mamori-20261203T030000Z.tar.age",
                "mamori-20261204T030000Z.tar.age",
                // 5 December in Japan, and December's newest.
                "mamori-20261204T150000Z.tar.age",
            ]
        );
        assert_eq!(kept.len() + gone.len(), all.len());
    }
}
