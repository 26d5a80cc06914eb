//! What a scan finds: the types live in `mamori_core::verification`, shared
//! with the store and the pages.

pub use mamori_core::verification::{CheckId, CheckResult, TargetReport, Verdict};
