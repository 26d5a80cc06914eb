//! mamori's scanner: probes a web server from outside and establishes facts
//! that evidence checklist items. No database and no web framework here; the
//! CLI and the server both use it.

pub mod tls;
