//! Automatic verification (PRODUCT.md step 4): what a scan of a system's
//! web server finds. The scanner writes these types, the store keeps them,
//! pages and alerts read them; the JSON form is the one documented in
//! docs/SCANNER.md.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The checks the scanner runs: a closed set, shared by the scanner, the
/// catalog's mapping of requirements to checks, and the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CheckId {
    #[serde(rename = "tls.versions")]
    TlsVersions,
    #[serde(rename = "tls.certificate")]
    TlsCertificate,
    #[serde(rename = "https.redirect")]
    HttpsRedirect,
    #[serde(rename = "headers.clickjacking")]
    Clickjacking,
    #[serde(rename = "headers.disclosure")]
    Disclosure,
    #[serde(rename = "cookies.attributes")]
    Cookies,
    #[serde(rename = "url.session-id")]
    SessionInUrl,
    #[serde(rename = "url.credentials")]
    CredentialsInUrl,
    #[serde(rename = "paths.listing")]
    Listing,
    #[serde(rename = "paths.exposed")]
    Exposed,
    #[serde(rename = "paths.admin")]
    Admin,
    #[serde(rename = "errors.detail")]
    ErrorDetail,
    #[serde(rename = "ports.open")]
    Ports,
    #[serde(rename = "forms.password-field")]
    PasswordField,
    #[serde(rename = "forms.csrf-token")]
    CsrfToken,
    #[serde(rename = "session.id-strength")]
    SessionIdStrength,
}

impl CheckId {
    pub const ALL: &'static [CheckId] = &[
        CheckId::TlsVersions,
        CheckId::TlsCertificate,
        CheckId::HttpsRedirect,
        CheckId::Clickjacking,
        CheckId::Disclosure,
        CheckId::Cookies,
        CheckId::SessionInUrl,
        CheckId::CredentialsInUrl,
        CheckId::Listing,
        CheckId::Exposed,
        CheckId::Admin,
        CheckId::ErrorDetail,
        CheckId::Ports,
        CheckId::PasswordField,
        CheckId::CsrfToken,
        CheckId::SessionIdStrength,
    ];

    /// The id as written in reports and catalogs (`tls.versions`).
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::TlsVersions => "tls.versions",
            CheckId::TlsCertificate => "tls.certificate",
            CheckId::HttpsRedirect => "https.redirect",
            CheckId::Clickjacking => "headers.clickjacking",
            CheckId::Disclosure => "headers.disclosure",
            CheckId::Cookies => "cookies.attributes",
            CheckId::SessionInUrl => "url.session-id",
            CheckId::CredentialsInUrl => "url.credentials",
            CheckId::Listing => "paths.listing",
            CheckId::Exposed => "paths.exposed",
            CheckId::Admin => "paths.admin",
            CheckId::ErrorDetail => "errors.detail",
            CheckId::Ports => "ports.open",
            CheckId::PasswordField => "forms.password-field",
            CheckId::CsrfToken => "forms.csrf-token",
            CheckId::SessionIdStrength => "session.id-strength",
        }
    }

    /// The checklist items the check evidences.
    pub fn requirements(self) -> &'static [u32] {
        match self {
            CheckId::TlsVersions => &[57],
            CheckId::TlsCertificate => &[56],
            CheckId::HttpsRedirect => &[55],
            CheckId::Clickjacking => &[53],
            CheckId::Disclosure => &[33, 54],
            CheckId::Cookies => &[44],
            CheckId::SessionInUrl => &[43],
            CheckId::CredentialsInUrl => &[54],
            CheckId::Listing | CheckId::Exposed => &[34],
            CheckId::Admin => &[35, 36],
            CheckId::ErrorDetail => &[47, 54],
            CheckId::Ports => &[31, 32],
            CheckId::PasswordField => &[38],
            CheckId::CsrfToken => &[45],
            CheckId::SessionIdStrength => &[42],
        }
    }

    /// The sub-points of the checklist the check verifies, in the seed's
    /// numbering (`47②`): a pass verifies these and nothing more of the item.
    pub fn points(self) -> &'static [&'static str] {
        match self {
            CheckId::TlsVersions => &["57"],
            CheckId::TlsCertificate => &["56"],
            CheckId::HttpsRedirect => &["55"],
            CheckId::Clickjacking => &["53"],
            CheckId::Disclosure => &["33", "54③"],
            CheckId::Cookies => &["44"],
            CheckId::SessionInUrl => &["43"],
            CheckId::CredentialsInUrl => &["54①"],
            CheckId::Listing => &["34②"],
            CheckId::Exposed => &["34①"],
            CheckId::Admin => &["35", "36"],
            CheckId::ErrorDetail => &["47②", "54③"],
            CheckId::Ports => &["31", "32"],
            CheckId::PasswordField => &["38②"],
            CheckId::CsrfToken => &["45"],
            CheckId::SessionIdStrength => &["42②"],
        }
    }

    pub fn parse(s: &str) -> Option<CheckId> {
        CheckId::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

/// A check's result, ordered from best to worst: a check that could not run
/// ranks above a warning (never a silent pass), a failure above all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    /// The check could not run: never a silent pass.
    Error,
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Error => "error",
            Verdict::Fail => "fail",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub id: CheckId,
    pub requirements: Vec<u32>,
    /// The sub-points verified ([`CheckId::points`]); empty in reports
    /// stored before they were named.
    #[serde(default)]
    pub points: Vec<String>,
    pub verdict: Verdict,
    pub summary: String,
    pub evidence: serde_json::Value,
}

impl CheckResult {
    pub fn new(
        id: CheckId,
        requirements: &[u32],
        verdict: Verdict,
        summary: impl Into<String>,
        evidence: serde_json::Value,
    ) -> Self {
        let points = id.points().iter().map(|p| (*p).to_owned()).collect();
        let summary = crate::text::excerpt(&summary.into(), MAX_SUMMARY_CHARS);
        let evidence = bounded(evidence);
        CheckResult { id, requirements: requirements.to_vec(), points, verdict, summary, evidence }
    }
}

/// How much of a scanned server's words a check keeps. A summary and the
/// evidence quote the server (a link, a header, a form's action), and a
/// scanned server is its owner's to write: without a bound, one page of
/// 256 KiB made of one link made each scan's report megabytes long, kept
/// for good and copied into every backup.
pub const MAX_SUMMARY_CHARS: usize = 300;
/// A text in the evidence, in characters.
pub const MAX_EVIDENCE_CHARS: usize = 200;
/// The entries of one list of the evidence. Lists of numbers (the ports
/// probed and found open) come from the scan's own options, not from the
/// server, and are kept whole.
pub const MAX_LISTED: usize = 20;

fn bounded(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(crate::text::excerpt(&s, MAX_EVIDENCE_CHARS)),
        Value::Array(items) if items.iter().all(Value::is_number) => Value::Array(items),
        Value::Array(items) => Value::Array(items.into_iter().take(MAX_LISTED).map(bounded).collect()),
        Value::Object(fields) => Value::Object(
            fields.into_iter().map(|(k, v)| (crate::text::excerpt(&k, MAX_EVIDENCE_CHARS), bounded(v))).collect(),
        ),
        other => other,
    }
}

/// The sub-points of item `number` as its text numbers them (`①`…`⑩`),
/// or the item itself when it has none: `47` with ① and ② gives `47①`,
/// `47②`.
pub fn points_of(number: u32, text: &str) -> Vec<String> {
    const CIRCLED: [char; 10] = ['①', '②', '③', '④', '⑤', '⑥', '⑦', '⑧', '⑨', '⑩'];
    let found: Vec<String> = CIRCLED.iter().filter(|c| text.contains(**c)).map(|c| format!("{number}{c}")).collect();
    if found.is_empty() {
        vec![number.to_string()]
    } else {
        found
    }
}

/// Of item `number`'s sub-points, those `checks` verify.
pub fn verified_points(number: u32, checks: &[CheckId]) -> Vec<String> {
    let n = number.to_string();
    let mut out: Vec<String> = checks
        .iter()
        .flat_map(|c| c.points())
        .filter(|p| p.strip_prefix(n.as_str()).is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_digit())))
        .map(|p| (*p).to_owned())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Every check of one URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetReport {
    pub target: String,
    pub checks: Vec<CheckResult>,
}

impl TargetReport {
    pub fn worst(&self) -> Verdict {
        self.checks.iter().map(|c| c.verdict).max().unwrap_or(Verdict::Pass)
    }

    pub fn check(&self, id: CheckId) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }
}

/// A scan of one system: every URL's checks, and the URLs that could not be
/// scanned at all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScanReport {
    pub targets: Vec<TargetReport>,
    #[serde(default)]
    pub errors: Vec<String>,
}

impl ScanReport {
    /// The worst verdict of each check over every URL.
    pub fn worst_by_check(&self) -> BTreeMap<CheckId, Verdict> {
        let mut out = BTreeMap::new();
        for c in self.targets.iter().flat_map(|t| &t.checks) {
            let v = out.entry(c.id).or_insert(c.verdict);
            *v = (*v).max(c.verdict);
        }
        out
    }

    /// The worst verdict among the given checks (a requirement's), if any ran.
    pub fn worst_of(&self, checks: &[CheckId]) -> Option<Verdict> {
        let by = self.worst_by_check();
        checks.iter().filter_map(|c| by.get(c)).copied().max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn verdicts_rank_pass_warn_error_fail() {
        assert!(Verdict::Pass < Verdict::Warn && Verdict::Warn < Verdict::Error && Verdict::Error < Verdict::Fail);
    }

    #[test]
    fn a_check_verifies_its_sub_points_and_not_the_whole_item() {
        let text = "① SQLインジェクションの脆弱性への対策を施すこと。② エラーメッセージをそのまま表示しないこと。";
        assert_eq!(points_of(47, text), ["47①", "47②"]);
        assert_eq!(points_of(44, "HTTPS通信で利用するCookieにはsecure属性を設定すること。"), ["44"]);
        assert_eq!(verified_points(47, &[CheckId::ErrorDetail]), ["47②"]);
        assert_eq!(verified_points(54, &[CheckId::CredentialsInUrl, CheckId::ErrorDetail]), ["54①", "54③"]);
        assert_eq!(verified_points(5, &[CheckId::Disclosure]), Vec::<String>::new(), "54③ is not item 5");
        for id in CheckId::ALL {
            let covered: Vec<u32> = id
                .points()
                .iter()
                .map(|p| p.trim_end_matches(|c: char| !c.is_ascii_digit()).parse().unwrap())
                .collect();
            assert_eq!(covered, id.requirements(), "{id:?}");
        }
    }

    #[test]
    fn a_check_keeps_a_bounded_share_of_the_server_s_words_and_no_control_characters() {
        let long = format!("/?sid={}", "\u{1b}[2K".repeat(50_000));
        let links: Vec<String> = (0..500).map(|k| format!("/p?sid={k}")).collect();
        let c = CheckResult::new(
            CheckId::SessionInUrl,
            &[43],
            Verdict::Fail,
            format!("session id in URL: {long}"),
            json!({ "found": [long.clone()], "links": links, "probed": (0..1000).collect::<Vec<u16>>() }),
        );
        assert_eq!(c.summary.chars().count(), MAX_SUMMARY_CHARS + 1, "cut, with an ellipsis");
        assert!(c.summary.starts_with("session id in URL: /?sid=\u{fffd}[2K") && c.summary.ends_with('…'));
        assert!(!c.summary.chars().any(char::is_control));
        let turned = CheckResult::new(CheckId::Cookies, &[44], Verdict::Fail, "no Secure: SESS\u{202E}abc", json!({}));
        assert_eq!(turned.summary, "no Secure: SESS\u{fffd}abc", "a mark that reorders text is shown, not obeyed");
        let found = c.evidence["found"][0].as_str().unwrap();
        assert_eq!(found.chars().count(), MAX_EVIDENCE_CHARS + 1);
        assert_eq!(c.evidence["links"].as_array().unwrap().len(), MAX_LISTED);
        assert_eq!(c.evidence["probed"].as_array().unwrap().len(), 1000, "numbers are the scan's own");
        assert!(serde_json::to_string(&c).unwrap().len() < 8 * 1024);
        // Short words are kept as they are.
        let c = CheckResult::new(CheckId::Cookies, &[44], Verdict::Pass, "ok", json!({ "name": "SID" }));
        assert_eq!((c.summary.as_str(), &c.evidence), ("ok", &json!({ "name": "SID" })));
    }

    #[test]
    fn check_ids_round_trip_through_their_report_names() {
        for id in CheckId::ALL {
            assert_eq!(CheckId::parse(id.as_str()), Some(*id));
            assert_eq!(serde_json::to_value(id).unwrap(), json!(id.as_str()));
        }
        assert_eq!(CheckId::parse("tls.magic"), None);
    }

    #[test]
    fn the_worst_verdict_per_check_over_every_url() {
        let r = |id, v| CheckResult::new(id, &[57], v, "", json!({}));
        let report = ScanReport {
            targets: vec![
                TargetReport {
                    target: "https://a".into(),
                    checks: vec![r(CheckId::TlsVersions, Verdict::Pass), r(CheckId::Cookies, Verdict::Error)],
                },
                TargetReport {
                    target: "https://b".into(),
                    checks: vec![r(CheckId::TlsVersions, Verdict::Fail), r(CheckId::Cookies, Verdict::Warn)],
                },
            ],
            errors: vec![],
        };
        let by = report.worst_by_check();
        assert_eq!(by[&CheckId::TlsVersions], Verdict::Fail);
        assert_eq!(by[&CheckId::Cookies], Verdict::Error);
        assert_eq!(report.worst_of(&[CheckId::Cookies, CheckId::Ports]), Some(Verdict::Error));
        assert_eq!(report.worst_of(&[CheckId::Ports]), None);
        let back: ScanReport = serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
        assert_eq!(back, report);
    }
}
