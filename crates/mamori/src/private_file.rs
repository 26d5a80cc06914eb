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
/// umask.)
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(path)?;
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
