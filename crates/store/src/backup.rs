//! A copy of every table that either backend can read back: what
//! `mamori backup` writes and `mamori restore` loads, SQLite to PostgreSQL
//! and back (a ward moving to several instances). Each value keeps its kind
//! (integer, real, text, bytes, null); a boolean travels as 0 or 1.
//!
//! Table and column names in SQL here come from the database's own schema,
//! never from an archive: a restore takes an archive's table or column only
//! when the target's schema has one of that name.

use crate::db::{Pools, TxInner};
use crate::{Store, StoreError, Tx};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use sqlx::{Column, Row, TypeInfo, ValueRef};
use std::collections::{BTreeMap, BTreeSet};

/// One stored value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(#[serde(with = "serde_bytes")] Vec<u8>),
}

impl Value {
    /// About how many bytes the value takes: chunks of rows are cut by it.
    fn size(&self) -> usize {
        match self {
            Value::Null | Value::Int(_) | Value::Real(_) => 9,
            Value::Text(s) => s.len() + 5,
            Value::Bytes(b) => b.len() + 5,
        }
    }
}

/// A table and its columns, in the schema's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
}

/// Tables of bookkeeping that a database holds from its first opening
/// (the audit chain's head, the data's revision, the data key's check):
/// never counted as data. The revision is written last so that the
/// restore's own inserts do not count it up past what was copied.
const SINGLETONS: [&str; 3] = ["audit_chain", "data_revision", "data_key"];

/// A column as the schema lists it: table, column, type (PostgreSQL's;
/// empty for SQLite).
type ColumnRow = (String, String, String);

/// How a target column takes a value (PostgreSQL types its parameters;
/// SQLite takes any value as it is).
#[derive(Debug, Clone, Copy)]
enum Kind {
    Any,
    Int8,
    Int4,
    Int2,
    Bool,
    Text,
    Bytes,
    Real,
}

impl Store {
    /// Every table of the schema, each after the tables it refers to (the
    /// order rows can be inserted in), the data's revision last. Sessions
    /// are left out (a restore signs everyone out) and so is the
    /// migrations' own table (the target's migrations write it).
    pub async fn backup_tables(&self) -> Result<Vec<Table>, StoreError> {
        Ok(self
            .schema()
            .await?
            .into_iter()
            .map(|(name, cols)| Table { name, columns: cols.into_iter().map(|c| c.0).collect() })
            .collect())
    }

    /// The tables in insert order with each column's kind.
    async fn schema(&self) -> Result<Vec<(String, Vec<(String, Kind)>)>, StoreError> {
        let (columns, refs): (Vec<ColumnRow>, Vec<(String, String)>) = match &self.shared.pools {
            Pools::Sqlite { read, .. } => (
                sqlx::query_as(
                    "SELECT m.name, p.name, '' FROM sqlite_master m, pragma_table_info(m.name) p \
                     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> 'tower_sessions' \
                     AND m.name NOT LIKE '\\_sqlx%' ESCAPE '\\' ORDER BY m.name, p.cid",
                )
                .fetch_all(read)
                .await?,
                sqlx::query_as(
                    "SELECT m.name, f.\"table\" FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
                     WHERE m.type = 'table'",
                )
                .fetch_all(read)
                .await?,
            ),
            Pools::Postgres(pool) => (
                sqlx::query_as(
                    "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_sqlx%' \
                     ORDER BY table_name, ordinal_position",
                )
                .fetch_all(pool)
                .await?,
                sqlx::query_as(
                    "SELECT cl.relname::text, rf.relname::text FROM pg_constraint c \
                     JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_class rf ON rf.oid = c.confrelid \
                     JOIN pg_namespace n ON n.oid = cl.relnamespace \
                     WHERE c.contype = 'f' AND n.nspname = current_schema()",
                )
                .fetch_all(pool)
                .await?,
            ),
        };
        let mut tables = BTreeMap::<String, Vec<(String, Kind)>>::new();
        for (table, column, data_type) in columns {
            let kind = match data_type.as_str() {
                "" => Kind::Any,
                "bigint" => Kind::Int8,
                "integer" => Kind::Int4,
                "smallint" => Kind::Int2,
                "boolean" => Kind::Bool,
                "text" | "character varying" => Kind::Text,
                "bytea" => Kind::Bytes,
                "double precision" | "real" => Kind::Real,
                other => return Err(StoreError::Corrupt(format!("{table}.{column}: type {other} is not copied"))),
            };
            tables.entry(table).or_default().push((column, kind));
        }
        // Each table after those it refers to (Kahn's order, by name among
        // equals so that every backup lists the tables alike).
        let mut needs: BTreeMap<&str, BTreeSet<&str>> = tables.keys().map(|t| (t.as_str(), BTreeSet::new())).collect();
        for (from, to) in &refs {
            if from != to && tables.contains_key(to) {
                if let Some(n) = needs.get_mut(from.as_str()) {
                    n.insert(to.as_str());
                }
            }
        }
        let mut order: Vec<String> = Vec::with_capacity(tables.len());
        while !needs.is_empty() {
            let ready: Vec<&str> = needs.iter().filter(|(_, n)| n.is_empty()).map(|(t, _)| *t).collect();
            if ready.is_empty() {
                return Err(StoreError::Corrupt("tables refer to each other in a circle".into()));
            }
            for t in ready {
                needs.remove(t);
                needs.values_mut().for_each(|n| {
                    n.remove(t);
                });
                order.push(t.to_owned());
            }
        }
        order.sort_by_key(|t| t == "data_revision");
        Ok(order.into_iter().map(|t| (t.clone(), tables.remove(&t).unwrap_or_default())).collect())
    }

    /// Reads every table from one consistent snapshot (writers go on
    /// meanwhile), handing `sink` the rows in chunks of about
    /// `chunk_bytes`, each table's in the order of its first column.
    /// Memory holds one chunk, whatever the size of the data.
    pub async fn export<E: From<StoreError>>(
        &self,
        chunk_bytes: usize,
        mut sink: impl FnMut(&Table, Vec<Vec<Value>>) -> Result<(), E>,
    ) -> Result<(), E> {
        let tables = self.backup_tables().await?;
        let mut tx = self.begin_read().await?;
        for table in &tables {
            let cols: Vec<String> = table.columns.iter().map(|c| format!("\"{c}\"")).collect();
            let sql = format!("SELECT {} FROM \"{}\" ORDER BY 1", cols.join(", "), table.name);
            let (mut chunk, mut size) = (Vec::new(), 0usize);
            macro_rules! each_row {
                ($rows:expr, $decode:expr) => {{
                    let mut rows = $rows;
                    while let Some(row) = rows.try_next().await.map_err(StoreError::from)? {
                        let values: Vec<Value> = $decode(&row)?;
                        size += values.iter().map(Value::size).sum::<usize>();
                        chunk.push(values);
                        if size >= chunk_bytes {
                            sink(table, std::mem::take(&mut chunk))?;
                            size = 0;
                        }
                    }
                }};
            }
            match tx.inner_mut() {
                TxInner::Sqlite(t) => each_row!(sqlx::query(&sql).fetch(&mut **t), sqlite_values),
                TxInner::Postgres(t) => each_row!(sqlx::query(&sql).fetch(&mut **t), pg_values),
            }
            if !chunk.is_empty() {
                sink(table, chunk)?;
            }
        }
        tx.rollback().await?;
        Ok(())
    }

    /// How many rows each table holds.
    pub async fn table_rows(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut counts = Vec::new();
        for t in self.backup_tables().await? {
            let sql = format!("SELECT COUNT(*) FROM \"{}\"", t.name);
            counts.push((
                t.name,
                crate::with_read_conn!(self, c => sqlx::query_scalar::<_, i64>(&sql).fetch_one(c).await?)?,
            ));
        }
        Ok(counts)
    }

    /// How many rows the data tables hold (the singletons not counted): 0
    /// for a database that has only been created.
    pub async fn data_rows(&self) -> Result<i64, StoreError> {
        Ok(self
            .table_rows()
            .await?
            .into_iter()
            .filter(|(t, _)| !SINGLETONS.contains(&t.as_str()))
            .map(|(_, n)| n)
            .sum())
    }

    /// Begins a restore: one write transaction in which every table is
    /// emptied; rows go in with [`Restore::insert`] and all of it commits
    /// at [`Restore::finish`], or none of it.
    pub async fn restore(&self) -> Result<Restore, StoreError> {
        let schema = self.schema().await?;
        let mut tx = self.begin().await?;
        let revision_before: i64 = crate::with_conn!(tx, c => {
            sqlx::query_scalar("SELECT COALESCE(MAX(n), 0) FROM data_revision").fetch_one(c).await?
        });
        for (table, _) in schema.iter().rev() {
            let sql = format!("DELETE FROM \"{table}\"");
            crate::with_conn!(tx, c => sqlx::query(&sql).execute(c).await?.rows_affected());
        }
        // Sessions are not in an archive, and a restore signs everyone out:
        // left in place, a session made after the backup still opened the
        // server, for whichever account the restore gives its id.
        let (exists, delete) = match tx.backend() {
            crate::Backend::Sqlite => (
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'tower_sessions'",
                "DELETE FROM tower_sessions",
            ),
            crate::Backend::Postgres => (
                "SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'tower_sessions' AND tablename = 'session'",
                "DELETE FROM tower_sessions.session",
            ),
        };
        let n: i64 = crate::with_conn!(tx, c => sqlx::query_scalar(exists).fetch_one(c).await?);
        if n > 0 {
            crate::with_conn!(tx, c => sqlx::query(delete).execute(c).await?.rows_affected());
        }
        Ok(Restore { tx, tables: schema.into_iter().collect(), revision_before })
    }
}

/// A restore under way ([`Store::restore`]).
pub struct Restore {
    tx: Tx,
    tables: BTreeMap<String, Vec<(String, Kind)>>,
    /// The target's data revision before: the restored one is made to
    /// follow it, so that no instance's reads kept at a revision are taken
    /// for the restored data's (the archive's revision is older).
    revision_before: i64,
}

impl Restore {
    /// The tables and columns this database has: an archive must carry the
    /// same.
    pub fn tables(&self) -> BTreeMap<&str, Vec<&str>> {
        self.tables.iter().map(|(t, cols)| (t.as_str(), cols.iter().map(|c| c.0.as_str()).collect())).collect()
    }

    /// Inserts rows of `table` given in `columns`' order.
    pub async fn insert(&mut self, table: &str, columns: &[String], rows: Vec<Vec<Value>>) -> Result<(), StoreError> {
        let unknown = || StoreError::Corrupt(format!("{table} is not a table of this version's schema"));
        let (name, target) = self.tables.get_key_value(table).ok_or_else(unknown)?;
        let kinds =
            columns
                .iter()
                .map(|c| {
                    target.iter().find(|t| &t.0 == c).map(|t| t.1).ok_or_else(|| {
                        StoreError::Corrupt(format!("{table}.{c} is not a column of this version's schema"))
                    })
                })
                .collect::<Result<Vec<Kind>, _>>()?;
        // The names written into SQL are the schema's own (`name`, `target`).
        let cols: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
        let marks: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
        let overriding = if self.tx.backend() == crate::Backend::Postgres { " OVERRIDING SYSTEM VALUE" } else { "" };
        let sql = format!("INSERT INTO \"{name}\" ({}){overriding} VALUES ({})", cols.join(", "), marks.join(", "));
        for row in rows {
            if row.len() != kinds.len() {
                return Err(StoreError::Corrupt(format!(
                    "{table}: a row of {} values for {} columns",
                    row.len(),
                    kinds.len()
                )));
            }
            match self.tx.inner_mut() {
                TxInner::Sqlite(t) => {
                    let mut q = sqlx::query(&sql);
                    for v in row {
                        q = match v {
                            Value::Null => q.bind(None::<i64>),
                            Value::Int(i) => q.bind(i),
                            Value::Real(r) => q.bind(r),
                            Value::Text(s) => q.bind(s),
                            Value::Bytes(b) => q.bind(b),
                        };
                    }
                    q.execute(&mut **t).await?;
                }
                TxInner::Postgres(t) => {
                    let mut q = sqlx::query(&sql);
                    for (v, kind) in row.into_iter().zip(&kinds) {
                        q = bind_pg(q, v, *kind).map_err(|e| StoreError::Corrupt(format!("{table}: {e}")))?;
                    }
                    q.execute(&mut **t).await?;
                }
            }
        }
        Ok(())
    }

    /// Checks that each data key the restored rows name is held and is the
    /// same key, moves each PostgreSQL identity past the largest id
    /// restored, appends `event` (the restore itself) to the restored audit
    /// log, then commits: the data and the record that it was restored
    /// land together, or neither does.
    pub async fn finish(
        mut self,
        now: time::OffsetDateTime,
        event: mamori_core::audit::NewEvent,
    ) -> Result<(), StoreError> {
        let before = self.revision_before;
        crate::with_conn!(self.tx, c => {
            sqlx::query("UPDATE data_revision SET n = (CASE WHEN n > $1 THEN n ELSE $1 END) + 1 WHERE id = 1")
                .bind(before).execute(&mut *c).await?.rows_affected()
        });
        let checks: Vec<(i64, Vec<u8>)> = crate::with_conn!(self.tx, c => {
            sqlx::query_as("SELECT id, check_value FROM data_key ORDER BY id").fetch_all(&mut *c).await?
        });
        for (id, check) in checks {
            let id = u32::try_from(id).map_err(|_| StoreError::Corrupt(format!("data key id {id}")))?;
            if !self.tx.keys().checks(id, &check) {
                return Err(StoreError::Keys(format!(
                    "バックアップのデータはデータ鍵 #{id} で暗号化されていますが、その鍵がないか違います。鍵ファイルを確認してください (the archive's values are sealed with data key #{id}, which is missing or different here)"
                )));
            }
        }
        if let TxInner::Postgres(t) = self.tx.inner_mut() {
            let identities: Vec<(String, String)> = sqlx::query_as(
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND is_identity = 'YES'",
            )
            .fetch_all(&mut **t)
            .await?;
            for (table, column) in identities {
                let sql = format!(
                    "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT MAX(\"{column}\") FROM \"{table}\"), 0) + 1, false)"
                );
                sqlx::query(&sql).bind(&table).bind(&column).execute(&mut **t).await?;
            }
        }
        // The restored log must verify, as `audit verify` checks it (its
        // events, its anchor, its purges' archives), before it replaces
        // the one here: an unsealed archive's events can be edited and its
        // hashes made again, and were found only after the commit.
        if let crate::audit::Verification::Broken(b) = crate::audit::verify_in(&mut self.tx).await? {
            return Err(StoreError::ChainBroken(b));
        }
        crate::audit::append(&mut self.tx, now, event).await?;
        self.tx.commit().await
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Binds `v` as the PostgreSQL column's type wants it.
fn bind_pg(q: PgQuery<'_>, v: Value, kind: Kind) -> Result<PgQuery<'_>, String> {
    Ok(match (kind, v) {
        (Kind::Int8 | Kind::Any, Value::Null) => q.bind(None::<i64>),
        (Kind::Int8 | Kind::Any, Value::Int(i)) => q.bind(i),
        (Kind::Int4, Value::Null) => q.bind(None::<i32>),
        (Kind::Int4, Value::Int(i)) => q.bind(i32::try_from(i).map_err(|_| format!("{i} is too large"))?),
        (Kind::Int2, Value::Null) => q.bind(None::<i16>),
        (Kind::Int2, Value::Int(i)) => q.bind(i16::try_from(i).map_err(|_| format!("{i} is too large"))?),
        (Kind::Bool, Value::Null) => q.bind(None::<bool>),
        (Kind::Bool, Value::Int(i)) => q.bind(i != 0),
        (Kind::Text, Value::Null) => q.bind(None::<String>),
        (Kind::Text, Value::Text(s)) => q.bind(s),
        (Kind::Bytes, Value::Null) => q.bind(None::<Vec<u8>>),
        (Kind::Bytes, Value::Bytes(b)) => q.bind(b),
        (Kind::Real, Value::Null) => q.bind(None::<f64>),
        (Kind::Real, Value::Real(r)) => q.bind(r),
        (Kind::Real, Value::Int(i)) => q.bind(i as f64),
        (kind, v) => return Err(format!("{v:?} does not fit a column of type {kind:?}")),
    })
}

fn sqlite_values(row: &sqlx::sqlite::SqliteRow) -> Result<Vec<Value>, StoreError> {
    (0..row.len())
        .map(|i| {
            let raw = row.try_get_raw(i)?;
            if raw.is_null() {
                return Ok(Value::Null);
            }
            let kind = raw.type_info().name().to_owned();
            Ok(match kind.as_str() {
                "INTEGER" => Value::Int(row.try_get(i)?),
                "REAL" => Value::Real(row.try_get(i)?),
                "TEXT" => Value::Text(row.try_get(i)?),
                "BLOB" => Value::Bytes(row.try_get(i)?),
                other => return Err(StoreError::Corrupt(format!("a value of kind {other}"))),
            })
        })
        .collect()
}

fn pg_values(row: &sqlx::postgres::PgRow) -> Result<Vec<Value>, StoreError> {
    row.columns()
        .iter()
        .enumerate()
        .map(|(i, col)| {
            if row.try_get_raw(i)?.is_null() {
                return Ok(Value::Null);
            }
            Ok(match col.type_info().name() {
                "INT8" => Value::Int(row.try_get(i)?),
                "INT4" => Value::Int(row.try_get::<i32, _>(i)?.into()),
                "INT2" => Value::Int(row.try_get::<i16, _>(i)?.into()),
                "BOOL" => Value::Int(row.try_get::<bool, _>(i)?.into()),
                "TEXT" | "VARCHAR" => Value::Text(row.try_get(i)?),
                "BYTEA" => Value::Bytes(row.try_get(i)?),
                "FLOAT8" => Value::Real(row.try_get(i)?),
                "FLOAT4" => Value::Real(row.try_get::<f32, _>(i)?.into()),
                other => return Err(StoreError::Corrupt(format!("a value of type {other}"))),
            })
        })
        .collect()
}
