//! Identity over real HTTPS: the application's router and server, in this
//! process, with an injected clock, on SQLite and on PostgreSQL.

mod access;
mod accounts;
mod attacks;
mod audited;
mod auditlog;
mod browser;
mod checklist;
mod evidence;
mod harness;
mod inventory;
mod jobs;
mod journey;
mod library;
mod parties;
mod record_review;
mod records;
mod reports;
mod rounds;
mod scans;
mod screens;
mod sealed;
mod signin;
mod speed;
mod xss;
mod yearly;
