//! What the commands share: exit codes, the data directory made ready and
//! its store opened, who acts on the console, configuration errors, and
//! standard output that ends quietly when its reader goes away.
//!
//! (Not named `console`: that is the crate that colours the scan report.)

use crate::config;
use crate::settings::{ConfigError, GlobalArgs};
use mamori_core::audit::{Actor, Origin};
use mamori_core::clock::{Clock, SystemClock};
use mamori_store::identity::Ctx;
use mamori_store::{DatabaseLocation, Store, StoreError};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Exit codes: 0 success, 1 the command ran and found a problem,
/// 2 bad arguments or configuration.
pub const EXIT_PROBLEM: u8 = 1;
pub const EXIT_CONFIG: u8 = 2;

/// Who acts on the console: `console:USER` (the operating system user), or `console`.
/// The operator at the console acting in `role`, through the same
/// operations as the web pages.
pub fn console_person(role: mamori_core::identity::Role) -> mamori_app::Person {
    mamori_app::Person::console(role, console_ctx().actor.login)
}

pub fn console_ctx() -> Ctx {
    let who = std::env::var("SUDO_USER").or_else(|_| std::env::var("USER")).unwrap_or_default();
    let login = if who.is_empty() { "console".to_owned() } else { format!("console:{who}") };
    Ctx { now: SystemClock.now(), actor: Actor { account_id: None, login }, origin: Origin::default(), standing: None }
}

/// Prints configuration errors in the form every command uses.
pub fn report_config_errors(errors: &[ConfigError]) {
    eprintln!("mamori: 設定に誤りがあります (configuration error):");
    for e in errors {
        eprintln!("  - {e}");
    }
}

/// Why a data directory could not be made ready.
pub enum Unprepared {
    /// The directory could not be created.
    DataDir(std::io::Error),
    /// The database could not be opened or brought to the current schema.
    Database(StoreError),
    /// The data key is missing, unreadable or not this database's.
    Keys(String),
    /// The database is open, but the shipped catalog could not be imported;
    /// the caller closes the store (after recording the failure, if it will).
    Catalog(Store, StoreError),
}

impl Unprepared {
    /// What went wrong, for the operator.
    pub fn message(&self, data_dir: &Path, database: &DatabaseLocation) -> String {
        match self {
            Unprepared::DataDir(e) => format!(
                "データディレクトリ {} を作成できません (cannot create the data directory): {e}",
                data_dir.display()
            ),
            Unprepared::Database(e) => {
                format!("データベースに接続できません (cannot reach the database) {database}: {e}")
            }
            Unprepared::Catalog(_, e) => format!("同梱の要件カタログを取り込めません (shipped catalog): {e}"),
            Unprepared::Keys(e) => e.clone(),
        }
    }
}

/// Opens the database of a data directory ready for use, as the server's
/// first start leaves it: the directory is created when missing (mode
/// 0700), pending migrations are applied, and the shipped catalog is
/// imported while there is none. `serve` and every command that opens the
/// store come through here, so a command run before the first start finds
/// what the server would.
pub async fn prepare(data_dir: &Path, database: &DatabaseLocation, clock: &dyn Clock) -> Result<Store, Unprepared> {
    create_data_dir(data_dir).map_err(Unprepared::DataDir)?;
    let store = open_keyed(data_dir, database).await?;
    let first_run = Ctx { now: clock.now(), actor: Actor::system(), origin: Origin::default(), standing: None };
    match store.ensure_catalog(&first_run).await {
        Ok(_) => Ok(store),
        Err(e) => Err(Unprepared::Catalog(store, e)),
    }
}

/// Reads a file the operator named, refusing one larger than `max` bytes
/// before more than that is held (it was read whole, and only then
/// measured).
pub fn read_at_most(path: &Path, max: usize) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("{} を読めません (cannot read): {e}", path.display());
    let mut bytes = Vec::new();
    std::fs::File::open(path).map_err(cannot)?.take(max as u64 + 1).read_to_end(&mut bytes).map_err(cannot)?;
    if bytes.len() > max {
        let mb = max / (1024 * 1024);
        return Err(format!("{} が大きすぎます。{mb} MB までです (larger than {mb} MB)", path.display()));
    }
    Ok(bytes)
}

/// The CA certificates of `--ca-file` (none when not given), or the exit
/// code once the reason it cannot be read is shown.
pub fn read_ca_file(path: Option<&Path>) -> Result<Option<Vec<u8>>, ExitCode> {
    match path {
        Some(p) => std::fs::read(p).map(Some).map_err(|e| {
            eprintln!("mamori: --ca-file {} を読めません (cannot read): {e}", p.display());
            ExitCode::from(EXIT_CONFIG)
        }),
        None => Ok(None),
    }
}

/// Where the data key is: the text of a key file in `MAMORI_DATA_KEY`,
/// else the file `MAMORI_DATA_KEY_FILE`, else `DATA_DIR/data.key`.
pub fn key_file(data_dir: &Path) -> Option<std::path::PathBuf> {
    if std::env::var("MAMORI_DATA_KEY").is_ok_and(|k| !k.is_empty()) {
        return None;
    }
    Some(std::env::var_os("MAMORI_DATA_KEY_FILE").map(Into::into).unwrap_or_else(|| data_dir.join("data.key")))
}

/// Opens the database with its data keys (item 61). A key file that does
/// not exist is made with one new key (mode 0600) and removed again only if
/// the database refuses it (sealed under another key: the start stops with
/// the reason), which it does before the key seals anything. Any other
/// failure keeps it: the key may be recorded and have sealed values.
pub async fn open_keyed(data_dir: &Path, database: &DatabaseLocation) -> Result<Store, Unprepared> {
    use mamori_store::crypt::Keyring;
    let (keys, made) = match key_file(data_dir) {
        None => {
            let text = std::env::var("MAMORI_DATA_KEY").unwrap_or_default();
            (Keyring::from_text(&text, None).map_err(|e| Unprepared::Keys(format!("MAMORI_DATA_KEY: {e}")))?, None)
        }
        Some(path) if path.exists() => (Keyring::from_file(&path).map_err(|e| Unprepared::Keys(e.to_string()))?, None),
        Some(path) => (Keyring::create_file(&path).map_err(|e| Unprepared::Keys(e.to_string()))?, Some(path)),
    };
    match Store::open(database, std::sync::Arc::new(keys)).await {
        Ok(store) => Ok(store),
        Err(e) => {
            if let (Some(path), StoreError::Keys(_)) = (made, &e) {
                let _ = std::fs::remove_file(&path);
            }
            Err(match e {
                StoreError::Keys(m) => Unprepared::Keys(format!(
                    "{m}。データ鍵は MAMORI_DATA_KEY_FILE または {} から読みます (the data key is read from MAMORI_DATA_KEY_FILE or that file)",
                    data_dir.join("data.key").display()
                )),
                e => Unprepared::Database(e),
            })
        }
    }
}

pub fn create_data_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    // Only the server's user may read the data directory.
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Opens the store for a command that works on data beside a live server
/// (or before the first start: see [`prepare`]).
pub async fn open_store(global: &GlobalArgs) -> Result<Store, ExitCode> {
    let (data_dir, database) = match config::data_location(global) {
        Ok(l) => l,
        Err(errors) => {
            report_config_errors(&errors);
            return Err(ExitCode::from(EXIT_CONFIG));
        }
    };
    match prepare(&data_dir, &database, &SystemClock).await {
        Ok(store) => Ok(store),
        Err(e) => {
            eprintln!("mamori: {}", e.message(&data_dir, &database));
            if let Unprepared::Catalog(store, _) = e {
                store.close().await;
            }
            Err(ExitCode::from(EXIT_CONFIG))
        }
    }
}

/// [`open_store`] for the commands that check what is there (`verify`,
/// `audit verify`): a database that does not hold mamori's data (a SQLite
/// file missing or empty, an empty PostgreSQL database) is a failure
/// (exit 1), never one prepared afresh and found sound, as a mistyped data
/// directory, a lost database file or a wiped database was.
pub async fn open_existing_store(global: &GlobalArgs) -> Result<Store, ExitCode> {
    if let Ok((_, location)) = config::data_location(global) {
        match location.holds_mamori().await {
            Ok(true) => {}
            Ok(false) => {
                eprintln!(
                    "mamori: {location} に mamori のデータがありません。データディレクトリ (--data-dir) かデータベースの URL を確かめてください (no mamori data there: check the data directory or the database URL)"
                );
                return Err(ExitCode::from(EXIT_PROBLEM));
            }
            Err(e) => {
                eprintln!("mamori: データベースを読めません (cannot read the database) {location}: {e}");
                return Err(ExitCode::from(EXIT_PROBLEM));
            }
        }
    }
    open_store(global).await
}

/// Writes to standard output; what every command but `serve` prints goes
/// through here (see [`outln`]).
///
/// Rust starts every program with SIGPIPE ignored, so that a write to a
/// pipe or socket whose reader has gone fails instead of ending the
/// process; `println!` then panics with a backtrace
/// (`mamori system list | head -1`). The signal stays ignored — the
/// scanner and the database connections write to sockets whose peer may
/// close them, and must see that as an error — and a standard output that
/// nobody reads any more ends the command here, as it ends other Unix
/// tools: by SIGPIPE, quietly. Any other failure to write is reported and
/// ends the command with [`EXIT_PROBLEM`].
/// Writes `bytes` to the file the operator named, or to standard output.
pub fn write_output(output: Option<&Path>, bytes: &[u8]) -> Result<(), ExitCode> {
    match output {
        Some(path) => crate::private_file::write_private(path, bytes).map_err(|e| {
            eprintln!("mamori: {} に書けません (cannot write): {e}", path.display());
            ExitCode::from(EXIT_CONFIG)
        }),
        None => {
            write_stdout(bytes);
            Ok(())
        }
    }
}

pub fn write_stdout(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        stdout_failed(e);
    }
}

/// Ends the process after standard output failed (see [`write_stdout`]).
pub fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        // SAFETY: restoring the default disposition of SIGPIPE and raising
        // it ends this process, as the write would have under the default.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::raise(libc::SIGPIPE);
        }
    }
    eprintln!("mamori: 標準出力に書き込めません (cannot write to standard output): {e}");
    std::process::exit(i32::from(EXIT_PROBLEM))
}

/// `println!` for the commands' output: see [`write_stdout`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::shared::write_stdout(format!("{}\n", format_args!($($arg)*)).as_bytes())
    };
}
pub(crate) use outln;
