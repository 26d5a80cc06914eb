//! The `mamori` binary: command line, configuration, wiring.

mod audit;
mod auditlog;
mod backup;
mod catalog;
mod cli;
mod config;
mod demo;
mod inventory;
mod jobs;
mod keys;
mod notifying;
mod offsite;
mod recovery;
mod report;
mod scan;
mod scanning;
mod selfcheck;
mod serve;
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
