//! mamori's scanner: probes a web server from outside and establishes facts
//! that evidence checklist items (31-36, 43, 44, 47②, 53-57). No database
//! and no web framework here; the CLI and the server both use it.
//!
//! Safety: only the target given is contacted, at the one address it
//! resolved to when the scan began, and only where the [`TargetPolicy`]
//! allows; redirects are followed only within a page's origin (the entry
//! page, the administration paths); every connect and read has a
//! timeout and every scan a deadline; bodies are read up to a cap; requests
//! carry a clear User-Agent.

mod checks;
mod http;
mod legacy;
pub mod report;
pub mod target;
pub mod tls;

pub use checks::{
    refused_target, scan, scan_at, scan_ports, scan_ports_at, unscanned_target, ScanError, ScanOptions, DEFAULT_PORTS,
};
pub use report::{CheckId, CheckResult, TargetReport, Verdict};
pub use target::{network_of, Given, TargetError, TargetPolicy};
