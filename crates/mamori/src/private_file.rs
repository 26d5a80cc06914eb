//! Files only their owner may read (the data key, backups), written whole
//! or not at all.

use std::path::Path;

/// Writes `text` as the new content of `path`, readable by its owner only:
/// whole under a new name, then renamed over the old, so that no reader
/// ever sees half a file (the data key file).
pub fn replace_private_file(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let partial = path.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let mut f = new_private_file(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
    f.write_all(text.as_bytes()).and_then(|_| f.sync_all()).map_err(|e| format!("{}: {e}", partial.display()))?;
    std::fs::rename(&partial, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A new file (never an existing one) only its owner may read.
pub fn new_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}
