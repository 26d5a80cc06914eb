//! What `mamori verify` checks of a data directory besides the audit
//! chain: the schema it is at, and that every stored file (evidence and
//! library revisions) still has the bytes its SHA-256 was taken of.

use crate::{with_read_conn, Store, StoreError};
use sha2::{Digest, Sha256};

/// A stored file that is not as it was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileProblem {
    /// Its bytes do not hash to the recorded SHA-256.
    Changed { kind: &'static str, id: i64 },
    /// Its bytes are gone.
    Missing { kind: &'static str, id: i64 },
}

/// How many files were checked, and what was wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileCheck {
    pub files: usize,
    pub problems: Vec<FileProblem>,
}

/// Each kind of stored file: its name, its records' table, its content's
/// table and key column.
const STORED: [(&str, &str, &str, &str); 2] = [
    ("evidence", "evidence", "evidence_content", "evidence_id"),
    ("document", "document_revision", "document_content", "revision_id"),
];

impl Store {
    /// The newest schema migration applied.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(with_read_conn!(self, c => {
            sqlx::query_scalar::<_, i64>("SELECT CAST(MAX(version) AS BIGINT) FROM _sqlx_migrations WHERE success")
                .fetch_one(c).await?
        })?)
    }

    /// Hashes every stored file again, one at a time (memory stays at one
    /// file whatever the number), and compares it with its record.
    pub async fn verify_files(&self) -> Result<FileCheck, StoreError> {
        let mut check = FileCheck::default();
        for (kind, records, contents, key) in STORED {
            // Table names come from the constant above, never from input.
            let list = format!("SELECT id, sha256 FROM {records} ORDER BY id");
            let one = format!("SELECT content FROM {contents} WHERE {key} = $1");
            let rows: Vec<(i64, String)> = with_read_conn!(self, c => sqlx::query_as(&list).fetch_all(c).await?)?;
            for (id, sha) in rows {
                check.files += 1;
                let bytes: Option<Vec<u8>> =
                    with_read_conn!(self, c => sqlx::query_scalar(&one).bind(id).fetch_optional(c).await?)?;
                // A value that does not open (changed, or not sealed) is changed.
                let column = format!("{contents}.content");
                let bytes = bytes.map(|b| self.keys().open_bytes(&column, &b).unwrap_or_default());
                match bytes {
                    None => check.problems.push(FileProblem::Missing { kind, id }),
                    Some(b) if hex::encode(Sha256::digest(&b)) != sha => {
                        check.problems.push(FileProblem::Changed { kind, id })
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(check)
    }
}
