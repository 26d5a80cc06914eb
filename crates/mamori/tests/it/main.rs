//! Integration tests: the real `mamori` binary, over real HTTPS, on SQLite
//! and on a real PostgreSQL.

mod audit;
mod backup;
mod cli;
mod crash;
mod diagnosis;
mod flood;
mod harness;
mod http;
mod instances;
mod inventory;
mod jobs;
mod limits;
mod notify;
mod report;
mod scan;
mod selfassessment;
mod selfcheck;
mod tls;
mod users;
