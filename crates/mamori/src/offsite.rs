//! The backup's copy in S3-compatible object storage (item 21): uploaded,
//! read back and compared by SHA-256, older generations removed under the
//! same rule as on disk. rusty-s3 signs each request (AWS Signature V4,
//! sans-I/O); reqwest sends it over HTTPS, verifying the server's
//! certificate (a private CA may be given). The archive is already sealed
//! when it leaves.
//!
//! ```toml
//! [backup.s3]
//! endpoint = "https://s3.example.lg.jp"
//! bucket = "mamori-backups"
//! region = "ap-northeast-1"
//! prefix = "mamori/"          # object names: PREFIX + the archive's name
//! access_key = "AKIA…"        # the secret in MAMORI_S3_SECRET_KEY
//! ca_file = "/etc/mamori/s3-ca.pem"   # optional
//! ```

use crate::backup;
use crate::settings::ConfigError;
use anyhow::{bail, Context};
use rusty_s3::actions::ListObjectsV2;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a signed request stays valid.
const SIGNED_FOR: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileS3 {
    endpoint: String,
    bucket: String,
    region: Option<String>,
    prefix: Option<String>,
    access_key: String,
    ca_file: Option<PathBuf>,
}

/// Where the copy goes, resolved.
#[derive(Clone)]
pub struct S3Plan {
    bucket: Bucket,
    credentials: Credentials,
    prefix: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for S3Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Plan").field("bucket", &self.bucket.base_url().as_str()).finish_non_exhaustive()
    }
}

pub fn resolve(f: &FileS3, errors: &mut Vec<ConfigError>) -> Option<S3Plan> {
    let mut fail = |m: String| {
        errors.push(ConfigError(format!("backup.s3: {m}")));
        None
    };
    let Ok(endpoint) = f.endpoint.parse::<reqwest::Url>() else {
        return fail(format!("endpoint \"{}\" は URL ではありません (not a URL)", f.endpoint));
    };
    if endpoint.scheme() != "https" {
        return fail("endpoint は https:// で始めてください (the endpoint must be HTTPS)".into());
    }
    let region = f.region.clone().unwrap_or_else(|| "us-east-1".into());
    let Ok(bucket) = Bucket::new(endpoint, UrlStyle::Path, f.bucket.clone(), region) else {
        return fail(format!("bucket \"{}\" を使えません (not a usable bucket name)", f.bucket));
    };
    let Some(secret) = std::env::var("MAMORI_S3_SECRET_KEY").ok().filter(|s| !s.is_empty()) else {
        return fail("MAMORI_S3_SECRET_KEY がありません (the secret key is missing)".into());
    };
    let mut http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(Duration::from_secs(120))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = &f.ca_file {
        let pem = match std::fs::read(path) {
            Ok(p) => p,
            Err(e) => return fail(format!("ca_file {} を読めません (cannot read): {e}", path.display())),
        };
        match reqwest::Certificate::from_pem(&pem) {
            Ok(cert) => http = http.add_root_certificate(cert),
            Err(e) => return fail(format!("ca_file {}: {e}", path.display())),
        }
    }
    let http = match http.build() {
        Ok(h) => h,
        Err(e) => return fail(e.to_string()),
    };
    let prefix = f.prefix.clone().unwrap_or_else(|| "mamori/".into());
    Some(S3Plan { bucket, credentials: Credentials::new(f.access_key.clone(), secret), prefix, http })
}

impl S3Plan {
    /// Uploads `archive`, reads it back and compares its SHA-256; returns
    /// the object's name.
    pub async fn copy_verified(&self, archive: &Path) -> anyhow::Result<String> {
        let name = archive.file_name().and_then(|n| n.to_str()).context("the archive has no name")?;
        let key = format!("{}{name}", self.prefix);
        let want = backup::sha256_of(archive)?;
        let file = tokio::fs::File::open(archive).await?;
        let len = file.metadata().await?.len();
        let url = self.bucket.put_object(Some(&self.credentials), &key).sign(SIGNED_FOR);
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
        let sent = self.http.put(url).header(reqwest::header::CONTENT_LENGTH, len).body(body).send().await;
        expect_ok(sent, "PUT").await?;

        let url = self.bucket.get_object(Some(&self.credentials), &key).sign(SIGNED_FOR);
        let mut got = expect_ok(self.http.get(url).send().await, "GET").await?;
        let mut hash = Sha256::new();
        while let Some(chunk) = got
            .chunk()
            .await
            .map_err(|_| anyhow::anyhow!("S3 からの読み戻しが途中で切れました (S3 GET: the read was cut off)"))?
        {
            hash.update(chunk);
        }
        let have = hex::encode(hash.finalize());
        if have != want {
            bail!("S3 の複製が元と一致しません (the copy in S3 differs: {have} ≠ {want})");
        }
        Ok(key)
    }

    /// Removes the archives in the bucket (under the prefix) that the
    /// generations no longer keep; returns their names.
    /// Never `written`, the archive just copied (as [`backup::prune`]).
    pub async fn prune(&self, daily: usize, monthly: usize, written: &str) -> anyhow::Result<Vec<String>> {
        let mut archives = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut list = self.bucket.list_objects_v2(Some(&self.credentials));
            list.with_prefix(self.prefix.as_str());
            if let Some(t) = &token {
                list.with_continuation_token(t.as_str());
            }
            let listed = expect_ok(self.http.get(list.sign(SIGNED_FOR)).send().await, "LIST").await?;
            let text = listed
                .text()
                .await
                .map_err(|_| anyhow::anyhow!("S3 の一覧が途中で切れました (S3 LIST: the read was cut off)"))?;
            let page = ListObjectsV2::parse_response(&with_aws_namespace(&text)).context("S3 LIST")?;
            for o in page.contents {
                let name = o.key.strip_prefix(self.prefix.as_str()).unwrap_or(&o.key).to_owned();
                // Only mamori's own archives, never another object.
                if let Some(at) = backup::archive_time(&name).filter(|_| !name.contains('/')) {
                    archives.push((name, at));
                }
            }
            token = page.next_continuation_token;
            if token.is_none() {
                break;
            }
        }
        let mut gone = backup::to_prune(&archives, daily, monthly);
        gone.retain(|n| n != written);
        for name in &gone {
            let key = format!("{}{name}", self.prefix);
            let url = self.bucket.delete_object(Some(&self.credentials), &key).sign(SIGNED_FOR);
            expect_ok(self.http.delete(url).send().await, "DELETE").await?;
        }
        Ok(gone)
    }
}

/// A response with a success status, or an error naming the request and
/// the status. Never reqwest's own error: its text holds the signed URL,
/// and so the signature, which would reach the log and the alert.
async fn expect_ok(sent: reqwest::Result<reqwest::Response>, what: &str) -> anyhow::Result<reqwest::Response> {
    let r = sent.map_err(|e| {
        let why = if e.is_timeout() { "timeout" } else { "connection failed" };
        anyhow::anyhow!("S3 に接続できません (S3 {what}: {why})")
    })?;
    if !r.status().is_success() {
        bail!("S3 が要求を断りました (S3 {what}: HTTP {})", r.status().as_u16());
    }
    Ok(r)
}

/// The listing with its root element in AWS's namespace. The parser wants
/// exactly that one; some S3-compatible servers declare another (s3rver:
/// `http://doc.s3.amazonaws.com/2006-03-01/`) for the same elements.
fn with_aws_namespace(text: &str) -> String {
    const ROOT: &str = "<ListBucketResult";
    let Some(start) = text.find(ROOT) else { return text.to_owned() };
    let Some(len) = text[start..].find('>') else { return text.to_owned() };
    let tag = &text[start..start + len];
    if !tag.contains("xmlns=") {
        return text.to_owned();
    }
    format!("{}{ROOT} xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"{}", &text[..start], &text[start + len..])
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_listing_in_another_namespace_reads_as_aws_s() {
        let other = r#"<?xml version="1.0"?><ListBucketResult xmlns="http://doc.s3.amazonaws.com/2006-03-01/"><Name>b</Name></ListBucketResult>"#;
        assert_eq!(
            super::with_aws_namespace(other),
            r#"<?xml version="1.0"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name></ListBucketResult>"#
        );
        let aws =
            r#"<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name></ListBucketResult>"#;
        assert_eq!(super::with_aws_namespace(aws), aws);
        assert_eq!(super::with_aws_namespace("<Error/>"), "<Error/>");
    }
}
