//! What a scan finds, in the stable JSON form documented in docs/SCANNER.md.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
    /// The check could not run: never a silent pass.
    Error,
}

impl Verdict {
    pub fn as_str_lower(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub id: &'static str,
    pub requirements: Vec<u32>,
    pub verdict: Verdict,
    pub summary: String,
    pub evidence: serde_json::Value,
}

impl CheckResult {
    pub fn new(
        id: &'static str,
        requirements: &[u32],
        verdict: Verdict,
        summary: impl Into<String>,
        evidence: serde_json::Value,
    ) -> Self {
        CheckResult { id, requirements: requirements.to_vec(), verdict, summary: summary.into(), evidence }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    pub target: String,
    pub checks: Vec<CheckResult>,
}

impl TargetReport {
    pub fn worst(&self) -> Verdict {
        let rank = |v: Verdict| match v {
            Verdict::Pass => 0,
            Verdict::Warn => 1,
            Verdict::Error => 2,
            Verdict::Fail => 3,
        };
        self.checks.iter().map(|c| c.verdict).max_by_key(|v| rank(*v)).unwrap_or(Verdict::Pass)
    }

    pub fn check(&self, id: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }
}
