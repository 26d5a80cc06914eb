//! Domain rules of mamori. Nothing here does I/O, so every rule of the
//! checklist can be unit-tested in microseconds.

pub mod audit;
pub mod catalog;
pub mod checklist;
pub mod clock;
pub mod identity;
pub mod jst;
pub mod monitoring;
pub mod password;
pub mod policy;
pub mod totp;
