//! HTTPS: rustls with TLS 1.2 and 1.3 only (checklist item 57), and the
//! self-signed certificate used until a real one is configured.

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key: {reason}")]
    BadKey { path: PathBuf, reason: String },
    #[error("the certificate and key do not fit together or are not supported: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("cannot write the self-signed certificate: {0}")]
    Write(std::io::Error),
    #[error("cannot generate the self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// The server configuration: TLS 1.3 and 1.2 only, with the ring provider's
/// suites (AEAD ciphers with ephemeral key exchange only), HTTP/1.1. The
/// server's order of suites wins over the client's, so a client that
/// prefers a weaker suite still gets the strongest both support.
pub fn server_config(cert_file: &Path, key_file: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let read = |p: &Path| fs::read(p).map_err(|source| TlsError::Read { path: p.to_owned(), source });
    let cert_pem = read(cert_file)?;
    let key_pem = read(key_file)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::NoCertificate { path: cert_file.to_owned() })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { path: cert_file.to_owned() });
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| TlsError::BadKey { path: key_file.to_owned(), reason: e.to_string() })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.ignore_client_order = true;
    Ok(Arc::new(config))
}

/// Where the self-signed certificate lives in the data directory.
pub fn self_signed_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("self-signed.crt"), dir.join("self-signed.key"))
}

/// Validity of a generated certificate; it is made anew on the first start
/// after [`RENEW_AFTER`], well before it expires.
const VALIDITY: Duration = Duration::from_secs(397 * 24 * 3600);
const RENEW_AFTER: Duration = Duration::from_secs(360 * 24 * 3600);

/// Makes (or reuses) a self-signed certificate for localhost, 127.0.0.1,
/// ::1 and `extra_ip`. Returns the paths and whether it was made now.
pub fn ensure_self_signed(data_dir: &Path, extra_ip: Option<IpAddr>) -> Result<(PathBuf, PathBuf, bool), TlsError> {
    let (cert_path, key_path) = self_signed_paths(data_dir);
    let fresh = fs::metadata(&cert_path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age < RENEW_AFTER);
    // A key others may read (as one written into a leftover temporary file
    // was) may have been read: made anew rather than reused.
    let private = fs::metadata(&key_path).is_ok_and(|m| m.permissions().mode() & 0o077 == 0);
    if fresh && private {
        return Ok((cert_path, key_path, false));
    }
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    if let Some(ip) = extra_ip.filter(|ip| !ip.is_unspecified() && !ip.is_loopback()) {
        names.push(ip.to_string());
    }
    let mut params = CertificateParams::new(names)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "mamori self-signed");
    params.distinguished_name = dn;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + VALIDITY;
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;

    let dir = cert_path.parent().expect("the path has the tls folder as parent");
    fs::create_dir_all(dir).map_err(TlsError::Write)?;
    write_file(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&cert_path, cert.pem().as_bytes(), 0o644)?;
    Ok((cert_path, key_path, true))
}

/// Writes through a temporary file of its own and a rename, so a crash
/// never leaves half a key behind. The temporary file is made anew with
/// `mode`: one left by a crash is removed first (reopened, it kept the mode
/// it was made with, and the key and the certificate shared one name, so a
/// key could be written into a certificate's world-readable file).
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(TlsError::Write(e)),
    }
    let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp).map_err(TlsError::Write)?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(TlsError::Write)?;
    fs::rename(&tmp, path).map_err(TlsError::Write)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A crash left a certificate's temporary file behind (0644): the key
    /// was then written into it, kept its mode, and was renamed readable
    /// by everyone. Each file now has a temporary file of its own, made
    /// anew with the file's mode.
    #[test]
    fn a_key_is_the_owner_s_only_whatever_a_crash_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        fs::create_dir_all(&tls).unwrap();
        for left in ["self-signed.tmp", "self-signed.key.partial"] {
            fs::write(tls.join(left), b"half a certificate").unwrap();
            fs::set_permissions(tls.join(left), fs::Permissions::from_mode(0o644)).unwrap();
        }
        let (_, key, made) = ensure_self_signed(dir.path(), None).unwrap();
        assert!(made);
        assert_eq!(fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        let first = fs::read_to_string(&key).unwrap();
        assert!(first.starts_with("-----BEGIN PRIVATE KEY-----"));
        // A key left readable by others (by that crash, before) is made anew.
        fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
        let (_, key, made) = ensure_self_signed(dir.path(), None).unwrap();
        assert!(made, "a key others may read is not reused");
        assert_ne!(fs::read_to_string(&key).unwrap(), first);
        assert_eq!(fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn generates_once_and_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k, made) = ensure_self_signed(dir.path(), None).unwrap();
        assert!(made);
        let before = fs::read(&c).unwrap();
        let (_, _, made_again) = ensure_self_signed(dir.path(), None).unwrap();
        assert!(!made_again);
        assert_eq!(fs::read(&c).unwrap(), before);
        assert_eq!(fs::metadata(&k).unwrap().permissions().mode() & 0o777, 0o600);
        server_config(&c, &k).expect("the generated pair loads");
    }

    #[test]
    fn the_servers_cipher_order_wins_over_the_clients() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k, _) = ensure_self_signed(dir.path(), None).unwrap();
        assert!(server_config(&c, &k).unwrap().ignore_client_order);
    }

    #[test]
    fn refuses_a_file_without_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty.pem");
        fs::write(&p, "not a certificate").unwrap();
        assert!(matches!(server_config(&p, &p), Err(TlsError::NoCertificate { .. })));
    }
}
