//! mamori's scanner: probes a web server from outside and establishes facts
//! that evidence checklist items (31-36, 43, 44, 47②, 53-57). No database
//! and no web framework here; the CLI and the server both use it.
//!
//! Safety: only the target given is contacted; redirects are never
//! followed; every connect and read has a timeout; requests carry a clear
//! User-Agent.

mod checks;
mod http;
pub mod report;
pub mod tls;

pub use checks::{scan, ScanError, ScanOptions, DEFAULT_PORTS};
pub use report::{CheckId, CheckResult, TargetReport, Verdict};
