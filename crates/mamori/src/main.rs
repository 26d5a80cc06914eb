//! The `mamori` binary: command line, configuration, wiring.

mod auditlog;
mod catalog;
mod cli;
mod config;
mod demo;
mod jobs;
mod scan;
mod scanning;
mod serve;
mod systems;
mod users;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
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
