//! `mamori backup` and `mamori restore` (items 19–21) through the binary:
//! an online backup during writes restores to a consistent database; a
//! quiet one to an identical one, row by row, SQLite to PostgreSQL and
//! back; a damaged archive or a wrong passphrase changes nothing.

use crate::harness::{run, sqlite_store};
use mamori_core::audit::{Actor, NewEvent, Origin, Outcome};
use mamori_store::backup::Value;
use mamori_store::{DatabaseLocation, Store};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tempfile::TempDir;

const PASS: &str = "correct horse battery staple";

/// Every table's rows, each as text, sorted: two databases hold the same
/// data when these are equal, whichever backend each is.
type Rows = BTreeMap<String, Vec<String>>;

async fn rows_of(store: &Store) -> Rows {
    let mut all = Rows::new();
    for t in store.backup_tables().await.unwrap() {
        all.insert(t.name, Vec::new());
    }
    store
        .export(1 << 20, |t, rows: Vec<Vec<Value>>| -> Result<(), mamori_store::StoreError> {
            all.get_mut(&t.name).unwrap().extend(rows.iter().map(|r| format!("{r:?}")));
            Ok(())
        })
        .await
        .unwrap();
    all.values_mut().for_each(|r| r.sort());
    all
}

/// A restored database's rows without what the restore itself added: its
/// `data.restored` events (loaded, then verified), the chain head they
/// moved, and the revision counter its writes counted up.
fn without_the_restore(rows: Rows, archive: &Path) -> Rows {
    without_events(rows, archive, "data.restored", 2)
}

/// A source's rows as its backup saw them: without the `backup.taken`
/// event written after the snapshot (once), the chain head it moved and
/// the revision counter.
fn as_backed_up(rows: Rows, archive: &Path) -> Rows {
    without_events(rows, archive, "backup.taken", 1)
}

/// `rows` without the `n` events of `action` naming `archive`, the chain
/// head and the revision counter.
fn without_events(mut rows: Rows, archive: &Path, action: &str, n: usize) -> Rows {
    let name = archive.file_name().unwrap().to_str().unwrap();
    let events = rows.get_mut("audit_event").unwrap();
    let all = events.len();
    events.retain(|e| !(e.contains(&format!("Text(\"{action}\")")) && e.contains(name)));
    assert_eq!(events.len() + n, all, "{action}: {n} events");
    rows.remove("audit_chain");
    rows.remove("data_revision");
    rows
}

/// Equal, or the tables that differ with their first differing rows.
fn assert_same(left: &Rows, right: &Rows) {
    assert_eq!(left.keys().collect::<Vec<_>>(), right.keys().collect::<Vec<_>>());
    let differ: Vec<String> = left
        .iter()
        .filter(|(t, rows)| right[*t] != **rows)
        .map(|(t, rows)| {
            let only_left: Vec<&String> = rows.iter().filter(|r| !right[t].contains(r)).take(2).collect();
            let only_right: Vec<&String> = right[t].iter().filter(|r| !rows.contains(r)).take(2).collect();
            format!(
                "{t}: {} vs {} rows; only left {only_left:?}; only right {only_right:?}",
                rows.len(),
                right[t].len()
            )
        })
        .collect();
    assert!(differ.is_empty(), "{differ:#?}");
}

struct Target {
    dir: PathBuf,
    args: Vec<String>,
    location: DatabaseLocation,
    pg: Option<String>,
}

impl Target {
    fn sqlite(dir: &Path) -> Target {
        Target {
            dir: dir.to_owned(),
            args: vec!["--data-dir".into(), dir.to_str().unwrap().into()],
            location: DatabaseLocation::in_data_dir(dir),
            pg: None,
        }
    }

    async fn postgres(dir: &Path) -> Option<Target> {
        let url = mamori_testkit::fresh_pg_database().await?;
        Some(Target {
            dir: dir.to_owned(),
            args: vec!["--data-dir".into(), dir.to_str().unwrap().into(), "--database-url".into(), url.clone()],
            location: DatabaseLocation::Postgres(url.clone()),
            pg: Some(url),
        })
    }

    async fn store(&self) -> Store {
        Store::open(&self.location, crate::harness::keys_of(&self.dir)).await.unwrap()
    }

    async fn run(&self, command: &[&str]) -> (i32, String, String) {
        let mut args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        args.extend_from_slice(command);
        run(&args).await
    }

    async fn remove(self) {
        if let Some(url) = self.pg {
            mamori_testkit::drop_pg_database(&url).await;
        }
    }
}

/// A SQLite target in `root`/source holding `mamori demo`'s data.
async fn demo_source(root: &Path) -> Target {
    let source = Target::sqlite(&root.join("source"));
    let (code, out, err) = source.run(&["demo"]).await;
    assert_eq!(code, 0, "{out}{err}");
    source
}

fn pass_file(dir: &Path) -> String {
    let p = dir.join("passphrase");
    std::fs::write(&p, format!("{PASS}\n")).unwrap();
    p.to_str().unwrap().to_owned()
}

fn archives(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

/// Takes a backup of `t` into a new folder under `root`; returns the archive.
async fn backup(t: &Target, root: &Path, encrypted: bool) -> PathBuf {
    let to = root.join(format!("b{}", std::fs::read_dir(root).unwrap().count()));
    let to_s = to.to_str().unwrap().to_owned();
    let pass = pass_file(root);
    let mut cmd = vec!["backup", "--to", &to_s];
    if encrypted {
        cmd.extend(["--passphrase-file", &pass]);
    } else {
        cmd.push("--unencrypted");
    }
    let (code, out, err) = t.run(&cmd).await;
    assert_eq!(code, 0, "{out}{err}");
    let found = archives(&to);
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].clone()
}

/// An unsealed archive rebuilt entry by entry: `edit` gets each entry's
/// path and bytes and gives the entries to write in its place.
fn rebuilt(archive: &[u8], mut edit: impl FnMut(&str, Vec<u8>) -> Vec<(String, Vec<u8>)>) -> Vec<u8> {
    let mut out = tar::Builder::new(Vec::new());
    for entry in tar::Archive::new(archive).entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        for (path, data) in edit(&path, data) {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o600);
            header.set_cksum();
            out.append_data(&mut header, &path, data.as_slice()).unwrap();
        }
    }
    out.into_inner().unwrap()
}

/// Restores `archive` into `t`: with the passphrase when it is sealed,
/// with `--unencrypted` when not.
async fn restore(t: &Target, archive: &Path, root: &Path) -> (i32, String, String) {
    let from = archive.to_str().unwrap();
    if std::fs::read(archive).unwrap().starts_with(b"age-encryption.org/v1") {
        t.run(&["restore", "--from", from, "--passphrase-file", &pass_file(root)]).await
    } else {
        t.run(&["restore", "--from", from, "--unencrypted"]).await
    }
}

/// Writes until told to stop: each write an audit event (the event and
/// the chain's head in one transaction) and an alert counted up.
fn writer(store: Store, stop: Arc<AtomicBool>, count: Arc<AtomicU64>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            let n = count.fetch_add(1, Ordering::Relaxed);
            let now = time::OffsetDateTime::now_utc();
            let event = NewEvent::new(
                Actor::system(),
                Origin::default(),
                mamori_core::audit::Action::ConfigError,
                Outcome::Failure,
            )
            .target("write", n.to_string());
            store.audit_record(now, event).await.unwrap();
            let sev = mamori_core::monitoring::Severity::Info;
            store.raise_alert(now, "signin.spike", sev, &format!("w{}", n % 5), &n.to_string()).await.unwrap();
        }
    })
}

/// Backs up `source` while a writer changes it; the restore into `into`
/// holds a state the source passed through: every row of each append-only
/// table a row of the source at the end, all rows of the start there, and
/// the audit chain intact (the restore verifies it).
async fn online_backup_restores_consistently(source: &Target, into: &Target, root: &Path, encrypted: bool) {
    let store = source.store().await;
    let before = rows_of(&store).await;
    let (stop, count) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let w = writer(store.clone(), stop.clone(), count.clone());
    while count.load(Ordering::Relaxed) < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let started = count.load(Ordering::Relaxed);
    let archive = backup(source, root, encrypted).await;
    let ended = count.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    w.await.unwrap();
    let after = rows_of(&store).await;
    store.close().await;
    assert!(ended > started, "writes went on during the backup: {started} → {ended}");

    let (code, out, err) = restore(into, &archive, root).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("監査ログ: 正常") && out.contains("復元して検証しました"), "{out}");
    let restored = without_the_restore(rows_of(&into.store().await).await, &archive);
    for table in ["audit_event", "evidence", "evidence_content", "account", "answer"] {
        let (r, b, a) = (&restored[table], &before[table], &after[table]);
        assert!(b.iter().all(|row| r.contains(row)), "{table}: every row from before the backup");
        assert!(r.iter().all(|row| a.contains(row)), "{table}: no row the source never had");
    }
    let events = restored["audit_event"].len();
    assert!(events > before["audit_event"].len(), "the writes before the backup began are in it");
    assert!(events < after["audit_event"].len(), "the writes after its snapshot are not");
}

/// A backup taken while writes go on restores to a consistent database,
/// and a quiet one to an identical one (row by row), SQLite to PostgreSQL
/// and PostgreSQL to SQLite, sealed and unsealed.
#[tokio::test]
async fn a_backup_during_writes_restores_consistently_and_a_quiet_one_identically_sqlite_to_postgres_and_back() {
    let root = TempDir::new().unwrap();
    let source = demo_source(root.path()).await;

    // SQLite, online, sealed → SQLite.
    let r1 = Target::sqlite(&root.path().join("r1"));
    online_backup_restores_consistently(&source, &r1, root.path(), true).await;

    // SQLite, quiet → PostgreSQL: identical.
    let Some(pg) = Target::postgres(&root.path().join("pg")).await else { return };
    let a2 = backup(&source, root.path(), false).await;
    // An unsealed archive carries no data key: the operator brings the key file.
    let (code, _, err) = restore(&pg, &a2, root.path()).await;
    assert_eq!(code, 1, "without the key: {err}");
    assert!(err.contains("データ鍵を含みません") && err.contains("何も変更していません"), "{err}");
    assert!(!pg.dir.join("data.key").exists(), "no key is made for it");
    std::fs::copy(source.dir.join("data.key"), pg.dir.join("data.key")).unwrap();
    let (code, out, err) = restore(&pg, &a2, root.path()).await;
    assert_eq!(code, 0, "{out}{err}");
    let source_rows = rows_of(&source.store().await).await;
    assert!(source_rows["evidence_content"].len() >= 3, "the sample holds stored files");
    assert_same(&without_the_restore(rows_of(&pg.store().await).await, &a2), &as_backed_up(source_rows, &a2));

    // The restored PostgreSQL takes new rows after the restored ids.
    let (code, out, err) = pg.run(&["verify"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = pg.run(&["org", "create", "復元後の課", "--kind", "department"]).await;
    assert_eq!(code, 0, "new ids follow the restored ones: {out}{err}");

    // PostgreSQL, online, sealed → SQLite.
    let r3 = Target::sqlite(&root.path().join("r3"));
    online_backup_restores_consistently(&pg, &r3, root.path(), true).await;

    // PostgreSQL, quiet → SQLite: identical to PostgreSQL.
    let r4 = Target::sqlite(&root.path().join("r4"));
    let a4 = backup(&pg, root.path(), false).await;
    std::fs::create_dir_all(&r4.dir).unwrap();
    std::fs::copy(pg.dir.join("data.key"), r4.dir.join("data.key")).unwrap();
    let (code, out, err) = restore(&r4, &a4, root.path()).await;
    assert_eq!(code, 0, "{out}{err}");
    let pg_rows = rows_of(&pg.store().await).await;
    assert_same(&without_the_restore(rows_of(&r4.store().await).await, &a4), &as_backed_up(pg_rows, &a4));
    pg.remove().await;
}

/// Before anything is touched, a damaged archive (a changed byte, a cut
/// end, a changed chunk of an unsealed one), a wrong or missing passphrase
/// and a target that holds data are refused; the target stays as it was,
/// and an empty one is not even created.
#[tokio::test]
async fn a_damaged_archive_a_wrong_passphrase_or_a_target_with_data_is_refused_and_nothing_changes() {
    let root = TempDir::new().unwrap();
    let source = demo_source(root.path()).await;
    let sealed = backup(&source, root.path(), true).await;
    let plain = backup(&source, root.path(), false).await;
    let bytes = std::fs::read(&sealed).unwrap();
    let damaged = |name: &str, b: Vec<u8>| {
        let p = root.path().join(name);
        std::fs::write(&p, b).unwrap();
        p
    };
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    let flipped = damaged("flipped.tar.age", flipped);
    let cut = damaged("cut.tar.age", bytes[..bytes.len() - 100].to_vec());
    // An unsealed archive's chunk changed where no checksum of tar's sees it.
    let mut plain_bytes = std::fs::read(&plain).unwrap();
    // (The first chunk's bytes begin after its 512-byte header.)
    plain_bytes[512 + 20] ^= 0x01;
    let changed_chunk = damaged("changed.tar", plain_bytes);
    let wrong = root.path().join("wrong");
    std::fs::write(&wrong, "not the passphrase at all").unwrap();

    let empty = Target::sqlite(&root.path().join("never-created"));
    for (archive, pass, expect) in [
        (&flipped, Some(pass_file(root.path())), "壊れています"),
        (&cut, Some(pass_file(root.path())), "壊れています"),
        (&changed_chunk, None, "壊れています"),
        (&sealed, Some(wrong.to_str().unwrap().to_owned()), "パスフレーズが違います"),
        (&sealed, None, "暗号化されています"),
    ] {
        let mut cmd = vec!["restore".to_owned(), "--from".into(), archive.to_str().unwrap().into()];
        if let Some(p) = pass {
            cmd.extend(["--passphrase-file".into(), p]);
        }
        let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let (code, out, err) = empty.run(&cmd).await;
        assert_eq!(code, 1, "{archive:?}: {out}{err}");
        assert!(err.contains(expect), "{archive:?}: {err}");
        assert!(!root.path().join("never-created").exists(), "{archive:?}: the target was not touched");

        // With --force onto a target holding data: unchanged.
        let mut forced = cmd.clone();
        forced.push("--force");
        let before = rows_of(&sqlite_store(&root.path().join("source")).await).await;
        let (code, _, err) = source.run(&forced).await;
        assert_eq!(code, 1, "{archive:?}: {err}");
        assert_eq!(rows_of(&sqlite_store(&root.path().join("source")).await).await, before, "{archive:?}");
    }

    // A sound archive onto a target that holds data, without --force.
    let before = rows_of(&sqlite_store(&root.path().join("source")).await).await;
    let (code, _, err) = restore(&source, &sealed, root.path()).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("復元先にはすでにデータがあります") && err.contains("--force"), "{err}");
    assert_eq!(rows_of(&sqlite_store(&root.path().join("source")).await).await, before);
}

/// Someone who can write where the backups lie puts an unsealed archive
/// of their own making there. Given the passphrase, the restore refuses an
/// archive that is not sealed (it was restored as if it were); and an
/// unsealed archive carrying data keys (theirs, with the manifest's hash
/// made to match) is refused even with `--unencrypted`: mamori puts keys
/// only in sealed archives. Nothing is created or changed either way.
#[tokio::test]
async fn an_unsealed_archive_is_refused_when_a_passphrase_is_given_and_keys_come_only_in_a_sealed_one() {
    use sha2::Digest;
    let root = TempDir::new().unwrap();
    let source = demo_source(root.path()).await;
    let plain = backup(&source, root.path(), false).await;
    let planted_key = std::fs::read_to_string(source.dir.join("data.key")).unwrap();
    let forged_bytes = rebuilt(&std::fs::read(&plain).unwrap(), |path, data| {
        if path != "manifest.json" {
            return vec![(path.to_owned(), data)];
        }
        let mut m: serde_json::Value = serde_json::from_slice(&data).unwrap();
        m["keys_sha256"] = hex::encode(sha2::Sha256::digest(planted_key.as_bytes())).into();
        vec![
            ("keys/data.key".to_owned(), planted_key.clone().into_bytes()),
            (path.to_owned(), serde_json::to_vec_pretty(&m).unwrap()),
        ]
    });
    let forged = root.path().join("mamori-20991231T235959Z.tar");
    std::fs::write(&forged, forged_bytes).unwrap();
    let pass = pass_file(root.path());
    let from = |a: &Path| a.to_str().unwrap().to_owned();
    for (cmd, expect) in [
        (
            vec!["restore".to_owned(), "--from".into(), from(&plain), "--passphrase-file".into(), pass.clone()],
            "--unencrypted",
        ),
        (
            vec!["restore".to_owned(), "--from".into(), from(&forged), "--passphrase-file".into(), pass.clone()],
            "--unencrypted",
        ),
        (
            vec!["restore".to_owned(), "--from".into(), from(&forged), "--unencrypted".into()],
            "データ鍵が含まれています",
        ),
    ] {
        let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let empty = Target::sqlite(&root.path().join("never-created"));
        let (code, out, err) = empty.run(&cmd).await;
        assert_eq!(code, 1, "{cmd:?}: {out}{err}");
        assert!(err.contains(expect) && err.contains("何も変更していません"), "{cmd:?}: {err}");
        assert!(!root.path().join("never-created").exists(), "{cmd:?}: the target was not touched");
        let mut forced = cmd.clone();
        forced.push("--force");
        let key_before = std::fs::read(source.dir.join("data.key")).unwrap();
        let before = rows_of(&sqlite_store(&root.path().join("source")).await).await;
        let (code, _, err) = source.run(&forced).await;
        assert_eq!(code, 1, "{cmd:?}: {err}");
        assert_eq!(rows_of(&sqlite_store(&root.path().join("source")).await).await, before, "{cmd:?}");
        assert_eq!(std::fs::read(source.dir.join("data.key")).unwrap(), key_before, "{cmd:?}: the keys unchanged");
    }
    // The archive as mamori made it, said to be unsealed: restored.
    let target = Target::sqlite(&root.path().join("target"));
    std::fs::create_dir_all(&target.dir).unwrap();
    std::fs::copy(source.dir.join("data.key"), target.dir.join("data.key")).unwrap();
    let (code, out, err) = restore(&target, &plain, root.path()).await;
    assert_eq!(code, 0, "{out}{err}");
}

/// A restore refused because the target holds data (no `--force`) says
/// nothing was changed: the target's key file is as it was too (the
/// archive's keys were added to it before the refusal). Forced, the
/// archive's keys join the target's, its own kept.
#[tokio::test]
async fn a_restore_refused_for_a_target_holding_data_leaves_its_key_file_as_it_was() {
    let root = TempDir::new().unwrap();
    let source = demo_source(root.path()).await;
    // Another data directory started with the source's first key; the
    // source then rotates, so that its archive carries a key the other lacks.
    let other = Target::sqlite(&root.path().join("other"));
    std::fs::create_dir_all(&other.dir).unwrap();
    std::fs::copy(source.dir.join("data.key"), other.dir.join("data.key")).unwrap();
    let (code, out, err) = other.run(&["demo"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = source.run(&["keys", "rotate"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let sealed = backup(&source, root.path(), true).await;
    let key_file = other.dir.join("data.key");
    let own = std::fs::read_to_string(&key_file).unwrap();
    let archived = std::fs::read_to_string(source.dir.join("data.key")).unwrap();
    assert_eq!(mamori_store::crypt::parse(&archived).unwrap().len(), 2, "{archived}");

    let (code, _, err) = restore(&other, &sealed, root.path()).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("何も変更していません") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), own, "the key file as it was");

    let (code, out, err) = other
        .run(&["restore", "--from", sealed.to_str().unwrap(), "--passphrase-file", &pass_file(root.path()), "--force"])
        .await;
    assert_eq!(code, 0, "{out}{err}");
    let after = mamori_store::crypt::parse(&std::fs::read_to_string(&key_file).unwrap()).unwrap();
    let mut archived = mamori_store::crypt::parse(&archived).unwrap();
    archived.sort();
    let mut held = after.clone();
    held.sort();
    assert_eq!(held, archived, "the archive's keys are all held");
    assert_eq!(after.last(), mamori_store::crypt::parse(&own).unwrap().last(), "the target's sealing key kept last");
}

/// A forced restore puts the backup's audit log in place of the target's:
/// the events since the backup were gone without a trace. The target's
/// whole log is first written to the audit archive directory, and the
/// restore says where.
#[tokio::test]
async fn a_forced_restore_keeps_the_target_s_audit_log_as_a_file_and_the_restored_log_names_it() {
    use std::io::Read;
    let root = TempDir::new().unwrap();
    let source = demo_source(root.path()).await;
    let archive = backup(&source, root.path(), true).await;
    let store = source.store().await;
    let late =
        NewEvent::new(Actor::system(), Origin::default(), mamori_core::audit::Action::ConfigError, Outcome::Failure)
            .target("write", "after-the-backup");
    store.audit_record(time::OffsetDateTime::now_utc(), late).await.unwrap();
    let replaced = store.audit_chain_ends().await.unwrap();
    store.close().await;

    let pass = pass_file(root.path());
    let (code, out, err) =
        source.run(&["restore", "--from", archive.to_str().unwrap(), "--passphrase-file", &pass, "--force"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("復元先の監査ログを保管しました"), "{out}");
    let dir = root.path().join("source").join("audit-archive");
    let kept: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("audit-replaced-by-restore-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(out.contains(&kept[0].display().to_string()), "the restore names the file: {out}");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&kept[0]).unwrap()).read_to_string(&mut text).unwrap();
    assert!(text.contains("after-the-backup"), "the event since the backup is in the file");
    let restored = source.store().await;
    let events = restored.audit_recent(100_000).await.unwrap();
    let late = events.iter().filter(|e| e.record.target_id.as_deref() == Some("after-the-backup")).count();
    assert_eq!(late, 0, "the backup's log is in place");
    // The restored log records the restore, written with the data: what it
    // replaced (the chain's head then) and where that log went; then the
    // verification's result.
    let restores: Vec<&str> =
        events.iter().filter(|e| e.record.action == "data.restored").map(|e| e.record.changes.as_str()).collect();
    assert_eq!(restores.len(), 2, "{restores:?}");
    let (verified, loaded) = (restores[0], restores[1]);
    let file = kept[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(loaded.contains("\"step\":\"loaded\"") && loaded.contains(&file), "{loaded}");
    assert!(loaded.contains(&format!("\"replaced_head_seq\":{}", replaced.head_seq)), "{loaded}");
    assert!(loaded.contains(&replaced.head_hash), "{loaded}");
    assert!(verified.contains("\"step\":\"verified\"") && verified.contains("\"verified\":true"), "{verified}");
    restored.close().await;
}

/// Without a passphrase a backup is refused unless `--unencrypted` says
/// so; a sealed archive shows none of the data; a failed backup raises an
/// alert and is recorded; the copy in the second location is verified and
/// restores; old generations go, other files stay.
#[tokio::test]
async fn backups_are_sealed_unless_told_copied_and_checked_pruned_by_generation_and_a_failure_raises_an_alert() {
    let root = TempDir::new().unwrap();
    let source = Target::sqlite(&root.path().join("source"));
    let (code, out, err) = source.run(&["org", "create", "秘密の課名", "--kind", "department"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let to = root.path().join("archives");
    let to_s = to.to_str().unwrap();

    let (code, _, err) = source.run(&["backup", "--to", to_s]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("パスフレーズがありません") && err.contains("--unencrypted"), "{err}");
    let short = root.path().join("short");
    std::fs::write(&short, "short").unwrap();
    let (code, _, err) = source.run(&["backup", "--to", to_s, "--passphrase-file", short.to_str().unwrap()]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("12 文字以上"), "{err}");
    assert!(!to.exists(), "nothing written");

    // Old generations and a stranger's file in both locations.
    let copy = root.path().join("second-mount");
    for dir in [&to, &copy] {
        std::fs::create_dir_all(dir).unwrap();
        for name in [
            "mamori-20240115T030000Z.tar.age",
            "mamori-20240131T030000Z.tar.age",
            "mamori-20240201T030000Z.tar.age",
            "notes.txt",
        ] {
            std::fs::write(dir.join(name), "old").unwrap();
        }
    }
    let pass = pass_file(root.path());
    let (code, out, err) = source
        .run(&[
            "backup",
            "--to",
            to_s,
            "--copy-to",
            copy.to_str().unwrap(),
            "--passphrase-file",
            &pass,
            "--keep-daily",
            "2",
            "--keep-monthly",
            "2",
        ])
        .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("複製を確認しました"), "{out}");
    for dir in [&to, &copy] {
        let names: Vec<String> =
            archives(dir).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        // Kept: the new one (this day, this month) and the newest of the
        // last day before it (1 February 2024); January's go, the stranger stays.
        assert_eq!(names.len(), 3, "{dir:?}: {names:?}");
        assert!(names[0] == "mamori-20240201T030000Z.tar.age" && names[2] == "notes.txt", "{names:?}");
        assert!(names[1].starts_with("mamori-20") && names[1].ends_with(".tar.age"), "{names:?}");
    }
    let new = to.join(archives(&to)[1].file_name().unwrap());
    let copied = copy.join(new.file_name().unwrap());
    let sealed = std::fs::read(&new).unwrap();
    assert_eq!(sealed, std::fs::read(&copied).unwrap(), "the copy is the archive");
    assert!(sealed.starts_with(b"age-encryption.org/v1"), "sealed with age");
    let needle = "秘密の課名".as_bytes();
    assert!(!sealed.windows(needle.len()).any(|w| w == needle), "no data readable in the archive");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&new).unwrap().permissions());
    assert_eq!(mode & 0o077, 0, "only the owner reads it");
    let r = Target::sqlite(&root.path().join("from-copy"));
    let (code, out, err) = restore(&r, &copied, root.path()).await;
    assert_eq!(code, 0, "the copy restores: {out}{err}");

    // Unsealed when told: the data is readable.
    let plain = root.path().join("plain");
    let (code, out, err) = source.run(&["backup", "--to", plain.to_str().unwrap(), "--unencrypted"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let bytes = std::fs::read(&archives(&plain)[0]).unwrap();
    assert!(bytes.windows(needle.len()).any(|w| w == needle));

    // A backup that cannot be written: an alert and a failed event.
    let blocked = root.path().join("a-file");
    std::fs::write(&blocked, "").unwrap();
    let (code, _, err) = source.run(&["backup", "--to", blocked.to_str().unwrap(), "--passphrase-file", &pass]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("バックアップに失敗しました"), "{err}");
    let store = sqlite_store(&root.path().join("source")).await;
    let alerts = store.alerts(true).await.unwrap();
    assert!(alerts.iter().any(|a| a.kind == "backup.failed" && a.severity == "critical"), "{alerts:?}");
    let events = store.audit_recent(5).await.unwrap();
    let last = &events[0].record;
    assert_eq!((last.action.as_str(), last.outcome.as_str()), ("backup.taken", "failure"));
    assert!(events.iter().any(|e| e.record.action == "backup.taken" && e.record.outcome == "success"));
}

/// The recovery procedure and the systemd units name only commands and
/// options mamori has: each `mamori …` line's subcommand answers `--help`
/// and lists every option the line gives.
#[tokio::test]
async fn the_recovery_procedure_uses_only_commands_and_flags_mamori_has() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/operations");
    let mut lines = Vec::new();
    for name in ["recovery.md", "mamori.service", "mamori-backup.service"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        for line in text.lines() {
            let line = line.trim().trim_start_matches("ExecStart=").replace("/usr/local/bin/mamori", "mamori");
            if line.starts_with("mamori ") {
                lines.push((name, line));
            }
        }
    }
    assert!(lines.len() >= 7, "{lines:?}");
    for (file, line) in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (code, help, err) = run(&[words[1], "--help"]).await;
        assert_eq!(code, 0, "{file}: {line}: {err}");
        for flag in words.iter().filter(|w| w.starts_with("--")) {
            assert!(
                help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
                "{file}: {line}: {flag} is not an option"
            );
        }
    }
    let (code, out, _) = run(&["--version"]).await;
    assert!(code == 0 && out.starts_with("mamori "), "{out}");
}

/// The data key (item 61) seen from the command line: nothing personal is
/// readable in the database's files; a wrong key or none stops every
/// command with the reason and writes nothing (no stray key file either);
/// a rotation while the server runs keeps everything readable, the
/// running server included, and a sealed backup restores with the
/// passphrase alone.
#[tokio::test]
async fn a_wrong_or_missing_data_key_stops_the_start_and_a_rotation_under_a_running_server_keeps_all_readable() {
    use crate::harness::{create_user, Opts, Server};
    let s = Server::start(Opts::default()).await;
    let (keep, dir) = (s.dir.clone(), s.data_dir());
    let d = dir.to_str().unwrap();
    let (code, _, err) =
        run(&["org", "create", "情報政策課", "--kind", "department", "--contact", "03-1234-5678", "--data-dir", d])
            .await;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) =
        create_user(d, "hanako", "千代田 花子", "hanako@example.lg.jp", "auditor", None, "Correct-Horse-42\n").await;
    assert_eq!(code, 0, "{err}");
    let key = dir.join("data.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o077, 0, "only the owner reads the key");
    // The database's files, each as it is on disk.
    let files = || -> Vec<(&str, Vec<u8>)> {
        ["mamori.db", "mamori.db-wal"].map(|f| (f, std::fs::read(dir.join(f)).unwrap_or_default())).to_vec()
    };
    for secret in ["03-1234-5678", "千代田 花子", "hanako@example.lg.jp"] {
        for (name, bytes) in files() {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret} in {name}");
        }
    }

    // Rotation while the server runs; the server reads the new values.
    let (code, out, err) = run(&["keys", "rotate", "--data-dir", d]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("データ鍵 #2 で"), "{out}");
    assert_eq!(std::fs::read_to_string(&key).unwrap().lines().count(), 2);
    let r = s.sign_in("hanako", "Correct-Horse-42").await;
    assert_eq!(r.status(), 303, "the running server opens the re-sealed account");
    let (code, out, _) = run(&["org", "list", "--data-dir", d]).await;
    assert!(code == 0 && out.contains("03-1234-5678"), "{out}");
    assert_eq!(s.stop().await, 0);

    // A sealed backup restores elsewhere with the passphrase alone.
    let root = TempDir::new().unwrap();
    let t = Target::sqlite(&dir);
    let archive = backup(&t, root.path(), true).await;
    // A command leaves its writes in the database file, its log emptied:
    // a refused start below then has nothing to fold in.
    let log = std::fs::metadata(dir.join("mamori.db-wal")).map_or(0, |m| m.len());
    assert_eq!(log, 0, "the backup's writes are left in its log");
    let elsewhere = Target::sqlite(&root.path().join("elsewhere"));
    let (code, out, err) = restore(&elsewhere, &archive, root.path()).await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = elsewhere.run(&["org", "list"]).await;
    assert!(code == 0 && out.contains("03-1234-5678"), "{out}");

    // A wrong key, then none: refused with the reason, nothing written.
    let good = std::fs::read(&key).unwrap();
    std::fs::write(&key, format!("{}{}", mamori_store::crypt::new_key_line(1), mamori_store::crypt::new_key_line(2)))
        .unwrap();
    let before = files();
    for (what, expect) in [("wrong", "データ鍵 #"), ("missing", "その鍵が設定されていません")] {
        if what == "missing" {
            std::fs::remove_file(&key).unwrap();
        }
        let (code, out, err) = run(&["verify", "--data-dir", d]).await;
        assert_eq!(code, 2, "{what}: {out}{err}");
        assert!(err.contains(expect) && err.contains("data.key"), "{what}: {err}");
        let (code, _, err) = Server::try_start(Opts::default().data_dir(&keep))
            .await
            .map(|_| (0, String::new(), String::new()))
            .unwrap_or_else(|e| (2, String::new(), e));
        assert_eq!(code, 2, "{what}: the server does not start: {err}");
        for ((name, now), (_, then)) in files().iter().zip(&before) {
            let first = now.iter().zip(then).position(|(a, b)| a != b);
            let log = before[1].1.len();
            assert!(
                now == then,
                "{what}: {name} written ({} → {} bytes, first change at {first:?}; the log held {log} bytes)",
                then.len(),
                now.len()
            );
        }
    }
    assert!(!key.exists(), "no stray key file is left");
    std::fs::write(&key, good).unwrap();
    let (code, out, err) = run(&["verify", "--data-dir", d]).await;
    assert_eq!(code, 0, "{out}{err}");
}

/// A wrong key is refused before a pending migration runs: after an
/// upgrade, a start with the wrong key file changes nothing, not even the
/// schema. (An older schema is made by forgetting the newest migration.)
#[tokio::test]
async fn a_wrong_key_is_refused_before_a_pending_migration_runs() {
    use sqlx::Connection;
    let root = TempDir::new().unwrap();
    let dir = root.path().join("data");
    let d = dir.to_str().unwrap();
    let (code, _, err) = run(&["org", "create", "情報政策課", "--kind", "department", "--data-dir", d]).await;
    assert_eq!(code, 0, "{err}");
    let url = format!("sqlite://{}", dir.join("mamori.db").display());
    let applied = || async {
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations").fetch_one(&mut c).await.unwrap();
        c.close().await.unwrap();
        n
    };
    let all = applied().await;
    {
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)")
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut c).await.unwrap();
        c.close().await.unwrap();
    }
    std::fs::write(dir.join("data.key"), mamori_store::crypt::new_key_line(1)).unwrap();
    let before = std::fs::read(dir.join("mamori.db")).unwrap();
    let (code, out, err) = run(&["verify", "--data-dir", d]).await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("データ鍵 #1 がこのデータベースの鍵と違います"), "{err}");
    assert!(std::fs::read(dir.join("mamori.db")).unwrap() == before, "the database file is as it was");
    assert_eq!(applied().await, all - 1, "the pending migration did not run");
}

/// The first start with encryption at rest seals what an older version
/// stored; stopped part way (a full disk, the writer held too long), it
/// keeps the key that sealed some of it, and the next start seals the rest.
/// (The key file was removed on any failure: the values sealed under it
/// were lost, and the next start made another key.)
#[tokio::test]
async fn a_first_sealing_stopped_part_way_keeps_its_key_and_the_next_start_seals_the_rest() {
    use sqlx::Connection;
    let root = TempDir::new().unwrap();
    let dir = root.path().join("data");
    let d = dir.to_str().unwrap();
    let (code, _, err) = run(&["org", "create", "情報政策課", "--kind", "department", "--data-dir", d]).await;
    assert_eq!(code, 0, "{err}");
    let url = format!("sqlite://{}", dir.join("mamori.db").display());
    let sql = |statements: &'static [&'static str]| {
        let url = url.clone();
        async move {
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            for s in statements {
                sqlx::query(s).execute(&mut c).await.unwrap();
            }
            c.close().await.unwrap();
        }
    };
    // As a version without encryption at rest left it: 120 plain values,
    // no key; a trigger stops the sealing after the first batch.
    sql(&[
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 119) \
         INSERT INTO organisation (name, kind, contact, created_at_us) SELECT '課' || i, 'department', '', 0 FROM n",
        "UPDATE organisation SET contact = 'tel-' || name",
        "DELETE FROM data_key",
        "CREATE TRIGGER disk_full BEFORE UPDATE OF contact ON organisation WHEN NEW.id > 60 \
         BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
    ])
    .await;
    std::fs::remove_file(dir.join("data.key")).unwrap();
    let (code, out, err) = run(&["org", "list", "--data-dir", d]).await;
    assert_ne!(code, 0, "the sealing stopped: {out}{err}");
    assert!(dir.join("data.key").exists(), "the key that sealed values is kept: {err}");
    sql(&["DROP TRIGGER disk_full"]).await;
    let (code, out, err) = run(&["org", "list", "--data-dir", d]).await;
    assert_eq!(code, 0, "{out}{err}");
    for i in 1..120 {
        assert!(out.contains(&format!("tel-課{i}")), "課{i}'s contact reads back: {out}");
    }
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let plain: i64 = sqlx::query_scalar("SELECT count(*) FROM organisation WHERE contact NOT LIKE 'mk1:%'")
        .fetch_one(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    assert_eq!(plain, 0, "every value is sealed");
}

/// An unsealed archive rewritten by hand with consistent hashes: a table
/// name carrying SQL, and a column the schema does not have. Names come
/// from the target's schema only, so each is refused and nothing is loaded.
#[tokio::test]
async fn a_crafted_archive_naming_tables_or_columns_the_schema_lacks_loads_nothing() {
    let root = TempDir::new().unwrap();
    let source = demo_source(root.path()).await;
    let plain = backup(&source, root.path(), false).await;
    let bytes = std::fs::read(&plain).unwrap();
    for (n, (from, to)) in [
        ("\"name\": \"organisation\"", "\"name\": \"organisation\\\"; DROP TABLE system; --\""),
        ("\"contact\"", "\"contact\\\" TEXT); DROP TABLE system; --\""),
    ]
    .into_iter()
    .enumerate()
    {
        // Rewrite the manifest inside the tar, the chunks untouched.
        let crafted_bytes = rebuilt(&bytes, |path, data| {
            if path != "manifest.json" {
                return vec![(path.to_owned(), data)];
            }
            let text = String::from_utf8(data).unwrap();
            assert!(text.contains(from), "{from}");
            let text = text.replace(from, to);
            let text = if n == 0 {
                text.replace("\"table\": \"organisation\"", "\"table\": \"organisation\\\"; DROP TABLE system; --\"")
            } else {
                text
            };
            vec![(path.to_owned(), text.into_bytes())]
        });
        let crafted = root.path().join(format!("crafted-{n}.tar"));
        std::fs::write(&crafted, crafted_bytes).unwrap();
        let target = Target::sqlite(&root.path().join(format!("target-{n}")));
        std::fs::create_dir_all(&target.dir).unwrap();
        std::fs::copy(source.dir.join("data.key"), target.dir.join("data.key")).unwrap();
        let (code, out, err) = restore(&target, &crafted, root.path()).await;
        assert_eq!(code, 1, "{n}: {out}{err}");
        assert!(err.contains("表の構成がこの版と違います"), "{n}: {err}");
        let store = target.store().await;
        assert_eq!(store.data_rows().await.unwrap(), 0, "{n}: nothing loaded");
        assert!(store.table_rows().await.unwrap().iter().any(|t| t.0 == "system"), "{n}: no table dropped");
        store.close().await;
    }
}

/// An unsealed archive can come from a place others can write. A GNU long
/// name or a PAX header before an entry was read whole into memory,
/// whatever its size, before anything was checked: 256 MB of header made the
/// restore hold 900 MB. Each kind is now refused unread, the restore stays
/// small, and nothing is loaded.
#[tokio::test]
async fn a_long_name_or_pax_header_of_256_mb_is_refused_unread_and_the_restore_stays_under_64_mb() {
    use std::io::Read;
    let root = TempDir::new().unwrap();
    let source = demo_source(root.path()).await;
    let plain = std::fs::read(backup(&source, root.path(), false).await).unwrap();
    const SIZE: u64 = 256 << 20;
    for (n, kind) in [tar::EntryType::GNULongName, tar::EntryType::XHeader].into_iter().enumerate() {
        let crafted = root.path().join(format!("header-{n}.tar"));
        let mut out = tar::Builder::new(std::fs::File::create(&crafted).unwrap());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_path("././@LongLink").unwrap();
        header.set_size(SIZE);
        header.set_mode(0o600);
        header.set_cksum();
        out.append(&header, std::io::repeat(b'a').take(SIZE)).unwrap();
        for entry in tar::Archive::new(plain.as_slice()).entries().unwrap() {
            let mut entry = entry.unwrap();
            let header = entry.header().clone();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            out.append(&header, data.as_slice()).unwrap();
        }
        out.finish().unwrap();
        drop(out);
        let target = Target::sqlite(&root.path().join(format!("target-{n}")));
        std::fs::create_dir_all(&target.dir).unwrap();
        std::fs::copy(source.dir.join("data.key"), target.dir.join("data.key")).unwrap();
        let (code, out, err, peak) = crate::harness::run_measured(
            &[
                "--data-dir",
                target.dir.to_str().unwrap(),
                "restore",
                "--from",
                crafted.to_str().unwrap(),
                "--unencrypted",
            ],
            root.path(),
        );
        assert_eq!(code, 1, "{kind:?}: {out}{err}");
        assert!(peak > 0 && peak < 64 << 20, "{kind:?}: the restore held {} MB", peak >> 20);
        assert!(err.contains("mamori が書かない種類の項目があります"), "{kind:?}: {err}");
        let store = target.store().await;
        assert_eq!(store.data_rows().await.unwrap(), 0, "{kind:?}: nothing loaded");
        store.close().await;
    }
}

/// Item 21 with object storage: the archive goes to an S3-compatible server
/// (on loopback, over TLS with a private CA), is read back and compared,
/// and older generations are pruned there under the prefix only; an upload
/// the server refuses (an unknown access key) fails the backup with an
/// alert, and a missing secret is refused before anything is done.
#[tokio::test]
async fn backups_are_copied_to_object_storage_read_back_and_pruned_there_and_a_refused_upload_raises_an_alert() {
    use mamori_testkit::s3::{S3Server, ACCESS_KEY, SECRET_KEY};
    use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
    let s3 = S3Server::start("mamori-backups").await;
    let root = TempDir::new().unwrap();
    let (_keep, data) = crate::harness::started_once().await;
    let ca = root.path().join("s3-ca.pem");
    std::fs::write(&ca, &s3.cert_pem).unwrap();
    let config = |name: &str, key: &str| {
        let cfg = root.path().join(name);
        std::fs::write(
            &cfg,
            format!(
                "[backup.s3]\nendpoint = \"{}\"\nbucket = \"mamori-backups\"\nregion = \"ap-northeast-1\"\nprefix = \"ward/\"\naccess_key = \"{key}\"\nca_file = {:?}\n",
                s3.endpoint, ca
            ),
        )
        .unwrap();
        cfg
    };
    let (cfg, unknown_key) = (config("mamori.toml", ACCESS_KEY), config("unknown-key.toml", "NOT-A-KEY"));

    // Older generations, a stranger's object under the prefix and an
    // archive outside it, put there through the S3 API.
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(s3.cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let bucket = Bucket::new(s3.endpoint.parse().unwrap(), UrlStyle::Path, "mamori-backups", "ap-northeast-1").unwrap();
    let creds = Credentials::new(ACCESS_KEY, SECRET_KEY);
    for key in [
        "ward/mamori-20240115T030000Z.tar.age",
        "ward/mamori-20240131T030000Z.tar.age",
        "ward/mamori-20240201T030000Z.tar.age",
        "ward/notes.txt",
        "other/mamori-20240101T030000Z.tar.age",
    ] {
        let url = bucket.put_object(Some(&creds), key).sign(std::time::Duration::from_secs(60));
        let r = http.put(url).body("old").send().await.unwrap();
        assert!(r.status().is_success(), "{key}: {}", r.status());
    }

    let to = root.path().join("backups");
    let backup = |cfg: &Path, secret: &'static str| {
        let (cfg, to, data) = (cfg.to_owned(), to.clone(), data.clone());
        async move {
            let mut cmd = crate::harness::command();
            cmd.args(["backup", "--to", to.to_str().unwrap(), "--unencrypted", "--keep-daily", "2"]).args([
                "--keep-monthly",
                "2",
                "--config",
                cfg.to_str().unwrap(),
                "--data-dir",
                data.to_str().unwrap(),
            ]);
            if !secret.is_empty() {
                cmd.env("MAMORI_S3_SECRET_KEY", secret);
            }
            let out = cmd.output().await.unwrap();
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
        }
    };
    let (code, out, err) = backup(&cfg, SECRET_KEY).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("S3 の複製を確認しました"), "{out}");
    let local = archives(&to);
    assert_eq!(local.len(), 1);
    let name = local[0].file_name().unwrap().to_string_lossy().into_owned();
    // Kept: the new one and the newest of the last day before it; January's
    // go; the stranger and what lies outside the prefix stay.
    assert_eq!(
        s3.objects(),
        [
            "other/mamori-20240101T030000Z.tar.age".to_owned(),
            "ward/mamori-20240201T030000Z.tar.age".into(),
            format!("ward/{name}"),
            "ward/notes.txt".into(),
        ]
    );
    assert_eq!(s3.object(&format!("ward/{name}")), std::fs::read(&local[0]).unwrap(), "the same bytes");
    let store = sqlite_store(&data).await;
    let taken = store.audit_recent(5).await.unwrap().into_iter().find(|e| e.record.action == "backup.taken").unwrap();
    assert!(taken.record.changes.contains(&format!("ward/{name}")), "{}", taken.record.changes);

    // A key the server does not know: it refuses the upload; the backup
    // fails with a critical alert, the signed URL never shown.
    let (code, _, err) = backup(&unknown_key, SECRET_KEY).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("S3 PUT: HTTP 403") && !err.contains("X-Amz-Signature"), "{err}");
    let alerts = store.alerts(true).await.unwrap();
    assert!(alerts.iter().any(|a| a.kind == "backup.failed" && a.detail.contains("S3 PUT")), "{alerts:?}");

    // No secret at all: refused before anything is written.
    let before = archives(&to).len();
    let (code, _, err) = backup(&cfg, "").await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("MAMORI_S3_SECRET_KEY"), "{err}");
    assert_eq!(archives(&to).len(), before);
    store.close().await;
}

/// A restore signs everyone out (docs/operations/recovery.md): sessions
/// are not in an archive, but they were left in the database, so a cookie
/// from before the restore still opened the restored server (and a
/// session made after the backup would open it as whichever account the
/// restore gives that id).
#[tokio::test]
async fn a_restore_signs_everyone_out() {
    use crate::harness::{create_orgs, create_user, Opts, Server};
    let dir = Arc::new(TempDir::new().unwrap());
    let cfg = dir.path().join("mamori.toml");
    std::fs::write(&cfg, "[security]\nsecond_factor_roles = []\n").unwrap();
    let opts = || Opts::default().data_dir(&dir).args(&["--config", cfg.to_str().unwrap()]);
    let s = Server::start(opts()).await;
    let data = s.data_dir().display().to_string();
    create_orgs(&data).await;
    let (code, _, err) =
        create_user(&data, "vendor1", "事業者", "v@x.jp", "vendor", Some("ベンダーA"), "Vendor-Pass-123\n").await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        s.first_sign_in("vendor1", "Vendor-Pass-123", "Own-Vendor-Pass-7").await.headers()["location"],
        "/dashboard"
    );
    assert_eq!(s.get("/dashboard").await.status(), 200);
    let to = dir.path().join("backups");
    let (code, out, err) = run(&["backup", "--data-dir", &data, "--to", to.to_str().unwrap(), "--unencrypted"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let archive = std::fs::read_dir(&to).unwrap().next().unwrap().unwrap().path();
    let signed_in = s.client.clone();
    assert_eq!(s.stop().await, 0);
    let from = archive.to_str().unwrap();
    let (code, out, err) = run(&["restore", "--data-dir", &data, "--from", from, "--unencrypted", "--force"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let again = Server::start(opts()).await;
    let r = signed_in.get(format!("{}/dashboard", again.base)).send().await.unwrap();
    assert_eq!(r.status(), 303, "the session from before the restore is gone");
    assert_eq!(r.headers()["location"], "/login");
    assert_eq!(again.sign_in("vendor1", "Own-Vendor-Pass-7").await.headers()["location"], "/dashboard");
    again.kill().await;
}

/// `--keep-daily 0` is refused before anything is written (it pruned the
/// archive just made, and said "backup written" with exit 0); and an
/// archive named with a later time (planted, or from a clock set wrong)
/// took the one daily generation, so the new archive was pruned at once.
/// The archive just written is never pruned.
#[tokio::test]
async fn a_backup_never_prunes_the_archive_it_just_wrote() {
    let root = TempDir::new().unwrap();
    let source = demo_source(root.path()).await;
    let to = root.path().join("backups");
    let to_s = to.to_str().unwrap();
    let (code, out, err) =
        source.run(&["backup", "--to", to_s, "--unencrypted", "--keep-daily", "0", "--keep-monthly", "0"]).await;
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains("1 以上の整数にしてください"), "a message in Japanese: {err}");
    assert!(!to.exists() || archives(&to).is_empty(), "nothing written");
    std::fs::create_dir_all(&to).unwrap();
    let planted = to.join("mamori-20991231T235959Z.tar");
    std::fs::write(&planted, "not an archive").unwrap();
    let (code, out, err) =
        source.run(&["backup", "--to", to_s, "--unencrypted", "--keep-daily", "1", "--keep-monthly", "1"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let kept = archives(&to);
    assert_eq!(kept.len(), 2, "the new archive is kept: {kept:?} {out}");
    assert!(kept.contains(&planted));
}

/// A restore made the data's revision the archive's, older than the one
/// before it: an instance still running kept its reads at the newer
/// revision, and once writes brought the count back to it, served them
/// (accounts, systems, their parties) for the restored data. The revision
/// after a restore follows every one before it.
#[tokio::test]
async fn after_a_restore_the_data_revision_follows_every_one_before_it() {
    let root = TempDir::new().unwrap();
    let source = demo_source(root.path()).await;
    let sealed = backup(&source, root.path(), true).await;
    for k in 0..5 {
        let name = format!("後から登録した組織{k}");
        let (code, out, err) = source.run(&["org", "create", &name, "--kind", "vendor"]).await;
        assert_eq!(code, 0, "{out}{err}");
    }
    let before = source.store().await.revision().await.unwrap();
    let from = sealed.to_str().unwrap();
    let pass = pass_file(root.path());
    let (code, out, err) = source.run(&["restore", "--from", from, "--passphrase-file", &pass, "--force"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let after = source.store().await.revision().await.unwrap();
    assert!(after > before, "{after:?} after {before:?}");
}

/// A sealed archive is authenticated chunk by chunk as it is read, and the
/// check stopped reading at tar's first zero block: an archive cut in its
/// last chunk, when that chunk held only what follows (tar's second zero
/// block, a record's padding), was taken as whole (a run in a hundred or
/// so cut 100 bytes there by chance). Here a backup is sealed again with
/// zeros after its end, laid so that its last chunk (age's are 64 KiB)
/// holds nothing else: whole, it is restored; cut by 100 bytes, or with a
/// byte other than zero after the end, it is damaged and nothing changes.
/// (The laying once counted from a block later than the entries' end: at
/// about one backup size in a hundred it put more than the 64 KiB of zeros
/// a whole archive may have after its end, and the whole one failed.)
#[tokio::test]
async fn an_archive_cut_where_only_what_follows_its_entries_lies_is_damaged() {
    use age::secrecy::SecretString;
    use std::io::{Read, Write};
    let root = TempDir::new().unwrap();
    let source = demo_source(root.path()).await;
    let sealed = std::fs::read(backup(&source, root.path(), true).await).unwrap();
    let identity = age::scrypt::Identity::new(SecretString::from(PASS.to_owned()));
    let decryptor = age::Decryptor::new(&sealed[..]).unwrap();
    let mut tar = Vec::new();
    decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity)).unwrap().read_to_end(&mut tar).unwrap();
    const CHUNK: usize = 64 * 1024;
    // The entries end where tar's two zero blocks begin; the last chunk is
    // laid from the first boundary at or after that, and holds 512 bytes,
    // so that what follows the first zero block stays within what a whole
    // archive may have (64 KiB of zeros), wherever the boundary falls (and
    // the two zero blocks are kept whole).
    let entries_end = tar.len() - 1024;
    assert!(tar[entries_end..].iter().all(|b| *b == 0), "tar ends with two zero blocks");
    let last_chunk_at = entries_end.div_ceil(CHUNK) * CHUNK;
    let laid = (last_chunk_at + 512).max(tar.len());
    let seal = |mut plain: Vec<u8>, to: usize, tail: u8| {
        plain.resize(to, 0);
        *plain.last_mut().unwrap() = tail;
        let encryptor = age::Encryptor::with_user_passphrase(SecretString::from(PASS.to_owned()));
        let mut out = Vec::new();
        let mut w = encryptor.wrap_output(&mut out).unwrap();
        w.write_all(&plain).unwrap();
        w.finish().unwrap();
        out
    };
    let whole = seal(tar.clone(), laid, 0);
    let cut = whole[..whole.len() - 100].to_vec();
    let trailing = seal(tar, laid, b'x');
    let pass = pass_file(root.path());
    for (name, bytes, restored) in [("cut", cut, false), ("trailing", trailing, false), ("whole", whole, true)] {
        let path = root.path().join(format!("{name}.tar.age"));
        std::fs::write(&path, bytes).unwrap();
        let target = Target::sqlite(&root.path().join(format!("to-{name}")));
        let (code, out, err) =
            target.run(&["restore", "--from", path.to_str().unwrap(), "--passphrase-file", &pass]).await;
        if restored {
            assert_eq!(code, 0, "{name}: {out}{err}");
        } else {
            assert_eq!(code, 1, "{name}: {out}{err}");
            assert!(err.contains("壊れています"), "{name}: {err}");
            assert!(!root.path().join(format!("to-{name}")).exists(), "{name}: the target was not touched");
        }
    }
}

/// Someone who can write where the backups lie edits the audit log inside
/// an unsealed archive (an event's actor) and makes its chunk's hash and
/// the manifest's again: the restore replaced the target's data and only
/// then said that verification found problems. Now the restored log is
/// checked before the commit: the restore is refused, into an empty
/// target or over one with data, and nothing changes.
#[tokio::test]
async fn an_archive_whose_audit_log_was_edited_and_its_hashes_made_again_is_refused_and_nothing_changes() {
    use sha2::Digest;
    let root = TempDir::new().unwrap();
    let source = demo_source(root.path()).await;
    let plain = backup(&source, root.path(), false).await;
    let bytes = std::fs::read(&plain).unwrap();
    let mut manifest = serde_json::Value::Null;
    rebuilt(&bytes, |path, data| {
        if path == "manifest.json" {
            manifest = serde_json::from_slice(&data).unwrap();
        }
        vec![]
    });
    let table = manifest["tables"].as_array().unwrap().iter().find(|t| t["name"] == "audit_event").unwrap();
    let login = table["columns"].as_array().unwrap().iter().position(|c| c == "actor_login").unwrap();
    let chunks = manifest["chunks"].as_array().unwrap();
    let chunk = chunks.iter().find(|c| c["table"] == "audit_event").unwrap()["path"].as_str().unwrap().to_owned();
    let mut edited = None;
    let forged_bytes = rebuilt(&bytes, |path, data| {
        if path == chunk {
            let mut rows: Vec<Vec<Value>> = rmp_serde::from_slice(&data).unwrap();
            assert!(rows.len() > 2);
            rows[1][login] = Value::Text("someone-else".into());
            let data = rmp_serde::to_vec(&rows).unwrap();
            edited = Some((hex::encode(sha2::Sha256::digest(&data)), data.len()));
            return vec![(path.to_owned(), data)];
        }
        if path == "manifest.json" {
            let (sha, len) = edited.clone().expect("the chunk comes before the manifest");
            let mut m: serde_json::Value = serde_json::from_slice(&data).unwrap();
            let mut all = sha2::Sha256::new();
            for c in m["chunks"].as_array_mut().unwrap() {
                if c["path"] == chunk.as_str() {
                    c["sha256"] = sha.clone().into();
                    c["bytes"] = len.into();
                }
                all.update(c["sha256"].as_str().unwrap().as_bytes());
                all.update(b"\n");
            }
            m["data_sha256"] = hex::encode(all.finalize()).into();
            return vec![(path.to_owned(), serde_json::to_vec_pretty(&m).unwrap())];
        }
        vec![(path.to_owned(), data)]
    });
    let forged = root.path().join("mamori-20991231T235959Z.tar");
    std::fs::write(&forged, forged_bytes).unwrap();

    let target = Target::sqlite(&root.path().join("target"));
    std::fs::create_dir_all(&target.dir).unwrap();
    std::fs::copy(source.dir.join("data.key"), target.dir.join("data.key")).unwrap();
    let (code, out, err) = restore(&target, &forged, root.path()).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("何も変更していません") && err.contains("audit chain is broken"), "{err}");
    assert!(err.contains("監査ログが検証できません") && err.contains("内容がハッシュと一致しません"), "{err}");
    let store = target.store().await;
    assert_eq!(store.data_rows().await.unwrap(), 0, "nothing loaded");
    store.close().await;

    let before = rows_of(&source.store().await).await;
    let (code, _, err) = source.run(&["restore", "--from", forged.to_str().unwrap(), "--unencrypted", "--force"]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("何も変更していません"), "{err}");
    assert_eq!(rows_of(&source.store().await).await, before, "the data here is as it was");
    // The archive as it was made restores.
    let (code, out, err) = restore(&target, &plain, root.path()).await;
    assert_eq!(code, 0, "{out}{err}");
}
