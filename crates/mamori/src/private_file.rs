//! Files only their owner may read (the data key, backups), written whole
//! or not at all.

use std::path::Path;

/// Writes `text` as the new content of `path`, readable by its owner only:
/// whole under a new name, then renamed over the old, so that no reader
/// ever sees half a file (the data key file); the folder is synced after
/// the rename, so that the new name survives a crash that follows.
pub fn replace_private_file(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let partial = path.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let mut f = new_private_file(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
    f.write_all(text.as_bytes()).and_then(|_| f.sync_all()).map_err(|e| format!("{}: {e}", partial.display()))?;
    std::fs::rename(&partial, path).map_err(|e| format!("{}: {e}", path.display()))?;
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(folder).and_then(|d| d.sync_all()).map_err(|e| format!("{}: {e}", folder.display()))
}

/// Writes `bytes` to `path` (a report, an export, an archive of the audit
/// log: personal data) readable by its owner only, whatever the umask of
/// the shell it is run from; a file there already is made so before it is
/// written. (Written with `fs::write`, they were 0644 from a shell's
/// umask.) A link is not followed and only a plain file is written: a link
/// planted where the output goes made the command empty its target and
/// take it for its own.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("通常のファイルではありません (not a regular file)"));
    }
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.set_len(0)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Creates `dir` and the folders above it that are missing, each new one
/// only its owner may enter (an existing one is left as it is).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// A new file (never an existing one) only its owner may read.
pub fn new_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_output_through_a_link_or_to_no_plain_file_is_refused_and_changes_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::TempDir::new().unwrap();
        let target = dir.path().join("target.txt");
        std::fs::write(&target, "kept").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("report.xlsx");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(super::write_private(&link, b"report").is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "kept");
        assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o644);
        assert!(super::write_private(dir.path(), b"report").is_err(), "a folder");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid, NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(super::write_private(&fifo, b"report").is_err(), "a pipe nobody reads");
        let plain = dir.path().join("out.csv");
        super::write_private(&plain, b"report").unwrap();
        assert_eq!(std::fs::read(&plain).unwrap(), b"report");
        assert_eq!(std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
