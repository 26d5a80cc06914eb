//! An advisory's match with a component as rows show it, on a system's
//! inventory and on the list across systems.

use crate::handlers::jst;
use crate::page::Page;

/// A match of an advisory with a component, as a row shows it.
pub struct MatchRow {
    pub id: i64,
    pub system_id: i64,
    pub system: String,
    pub ident: String,
    /// Related CVE ids other than the advisory's own.
    pub cves: String,
    pub link: String,
    pub title: String,
    pub cvss: String,
    /// `critical` from 9.0, `high` from 7.0: the row's mark.
    pub level: &'static str,
    pub component: String,
    /// In words: how it was matched, and whether the version was checked.
    pub how: String,
    pub state_key: &'static str,
    pub reason: String,
    pub decided: String,
    /// What the decision form carries of the match as shown.
    pub seen: String,
}

pub fn match_row(page: &Page, m: &mamori_store::vulns::VulnMatch, system: &str) -> MatchRow {
    use mamori_core::vulns::{MatchState, MatchedBy};
    let t = page.t();
    let mut how = match (m.by, m.version_checked) {
        (MatchedBy::Cpe, true) => t.get("vuln-by-cpe"),
        (MatchedBy::Name, true) => t.get("vuln-by-name"),
        (_, false) => t.get("vuln-version-unknown"),
    };
    if !m.platform.is_empty() {
        how.push_str(&t.with("vuln-platform-unlisted", &[("platform", &m.platform)]));
    }
    if let Some((_, build)) = mamori_core::vulns::distribution_build(&m.version) {
        how.push_str(&t.with("vuln-distribution-build", &[("build", build)]));
    }
    MatchRow {
        id: m.id,
        system_id: m.system_id,
        system: system.to_owned(),
        ident: m.ident.clone(),
        cves: m.cves.iter().filter(|c| **c != m.ident).cloned().collect::<Vec<_>>().join(" "),
        link: if m.link.starts_with("https://") || m.link.starts_with("http://") {
            m.link.clone()
        } else {
            String::new()
        },
        title: m.title.clone(),
        cvss: m.cvss.map(|s| format!("{s:.1}")).unwrap_or_else(|| "-".into()),
        level: match m.cvss {
            Some(s) if s >= 9.0 => "critical",
            Some(s) if s >= 7.0 => "high",
            _ => "",
        },
        component: format!("{} {}", m.product, m.version),
        how,
        state_key: match m.state {
            MatchState::Open => "vuln-open",
            MatchState::Fixed => "vuln-fixed",
            MatchState::NotAffected => "vuln-not-affected",
        },
        reason: m.reason.clone(),
        decided: m.decided.as_ref().map(|(at, by)| format!("{} {by}", jst(Some(*at)))).unwrap_or_default(),
        seen: m.mark(),
    }
}
