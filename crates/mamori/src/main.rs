//! The `mamori` binary: command line, configuration, wiring.

mod audit;
mod auditlog;
mod backup;
mod backup_plan;
mod catalog;
mod cli;
mod config;
mod demo;
mod inventory;
mod jobs;
mod keys;
mod notifying;
mod offsite;
mod private_file;
mod recovery;
mod report;
mod scan;
mod scanning;
mod selfcheck;
mod serve;
mod settings;
mod shared;
mod systems;
mod users;
mod verify;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc rather than glibc's allocator: a page view allocates and frees
/// many small strings across the runtime's threads, where glibc's arenas
/// spent about a sixth of the server's time (measured with the page
/// benchmark, docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    return_large_blocks_to_the_system();
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mamori: 実行環境を準備できませんでした (cannot start the runtime): {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(cli::run(cli))
}

/// mimalloc commits its arenas whole by default where the system
/// overcommits, and then keeps every page it ever touched: the server sat at
/// 56 MiB idle, 26 MiB of it in the arena. Committing pages as they are used
/// left 35 MiB idle and the page throughput as it was (docs/PERFORMANCE.md).
/// The option must be set before the first allocation, so this runs as the
/// program is loaded, before Rust's runtime starts (and allocates);
/// `MIMALLOC_ARENA_EAGER_COMMIT` in the environment still wins. (An
/// `.init_array` entry is what the `ctor` crate's macro writes; one static
/// does not need a dependency.)
#[used]
#[link_section = ".init_array"]
static COMMIT_ONLY_WHAT_IS_USED: extern "C" fn() = commit_only_what_is_used;

extern "C" fn commit_only_what_is_used() {
    // `mi_option_arena_eager_commit` in mimalloc.h (v3); the crate names no
    // constant for it.
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none() {
        // SAFETY: sets one of mimalloc's options; called once at start,
        // before any other thread exists.
        unsafe { libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0) };
    }
}

/// Rust's allocations go to mimalloc, but the C libraries linked in (SQLite,
/// OpenSSL) allocate through glibc. glibc raises its mmap threshold after
/// the first large free and from then on keeps freed blocks in per-thread
/// arenas, never returned. A fixed threshold keeps every block of 1 MiB or
/// more in its own mapping, returned to the system when freed. (Password
/// checks reuse their working memory: `mamori_web::hashing`.)
fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's tuning; called once at
    // start, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
