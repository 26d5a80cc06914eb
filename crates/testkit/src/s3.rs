//! An S3-compatible server on loopback for the backup's copy in object
//! storage: s3rver (from npm, pinned in `crates/testkit/s3rver`, installed
//! by scripts/test), over TLS with a certificate of the test's own, one
//! bucket. It refuses an unknown access key (its only account is `S3RVER`
//! / `S3RVER`) but does not check a V4 signature itself: the signing is
//! rusty-s3's, tested against AWS's published examples in that crate.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const ACCESS_KEY: &str = "S3RVER";
pub const SECRET_KEY: &str = "S3RVER";

pub struct S3Server {
    pub endpoint: String,
    pub bucket: String,
    pub cert_pem: String,
    dir: TempDir,
    _child: Child,
}

impl S3Server {
    pub async fn start(bucket: &str) -> S3Server {
        let dir = TempDir::new().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert_path, cert.cert.pem()).unwrap();
        std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("s3rver/node_modules/s3rver/bin/s3rver.js");
        assert!(script.exists(), "{} (scripts/test installs it with npm ci)", script.display());
        let mut child = Command::new("node")
            .arg(script)
            .args(["-d", data.to_str().unwrap(), "-a", "127.0.0.1", "-p", "0"])
            .arg("--key")
            .arg(&key_path)
            .arg("--cert")
            .arg(&cert_path)
            .args(["--configure-bucket", bucket])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node (Debian's nodejs, with npm)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    return addr.rsplit(':').next().and_then(|p| p.trim().parse::<u16>().ok());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .expect("s3rver announces its port");
        // Keep reading its log, so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        S3Server {
            endpoint: format!("https://127.0.0.1:{port}"),
            bucket: bucket.to_owned(),
            cert_pem: cert.cert.pem(),
            dir,
            _child: child,
        }
    }

    /// The objects in the bucket, by name (s3rver keeps each as a file).
    pub fn objects(&self) -> Vec<String> {
        let root = self.dir.path().join("data").join(&self.bucket);
        let mut out = Vec::new();
        collect(&root, &root, &mut out);
        out.retain(|n| !n.ends_with("._S3rver_metadata.json") && !n.ends_with("._S3rver_object.md5"));
        out.iter_mut().for_each(|n| *n = n.trim_end_matches("._S3rver_object").to_owned());
        out.sort();
        out
    }

    /// The stored bytes of an object.
    pub fn object(&self, name: &str) -> Vec<u8> {
        let path: PathBuf = self.dir.path().join("data").join(&self.bucket).join(format!("{name}._S3rver_object"));
        std::fs::read(path).unwrap()
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(root, &p, out);
        } else if let Ok(rel) = p.strip_prefix(root) {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
}
