//! How every closed set shown to people is named: one translation key per
//! value, in one place (never a key built with `format!`). A test walks
//! every value of every set and finds its key in both languages.

use crate::i18n::{Label, Tr};
use mamori_core::audit::{Action, Outcome};
use mamori_core::catalog::{Applicability, Attr};
use mamori_core::checklist::{AnswerStatus, HistoryKind, Phase, Review, SystemStatus};
use mamori_core::identity::{LedgerChange, OrgKind, Role};
use mamori_core::jobs::{JobKind, JobState};
use mamori_core::monitoring::Severity;
use mamori_core::parties::Party;
use mamori_core::verification::{CheckId, Verdict};

impl Label for Phase {
    fn key(self) -> &'static str {
        match self {
            Phase::Building => "phase-building",
            Phase::PreProduction => "phase-pre-production",
            Phase::Production => "phase-production",
            Phase::Retired => "phase-retired",
        }
    }
}

impl Label for SystemStatus {
    fn key(self) -> &'static str {
        match self {
            SystemStatus::NotStarted => "sys-not-started",
            SystemStatus::Answering => "sys-answering",
            SystemStatus::Submitted => "sys-submitted",
            SystemStatus::Returned => "sys-returned",
            SystemStatus::Approved => "sys-approved",
        }
    }
}

impl Label for AnswerStatus {
    fn key(self) -> &'static str {
        match self {
            AnswerStatus::Done => "ans-done",
            AnswerStatus::Partial => "ans-partial",
            AnswerStatus::NotDone => "ans-not-done",
            AnswerStatus::NotApplicable => "ans-not-applicable",
        }
    }
}

impl Label for Review {
    fn key(self) -> &'static str {
        match self {
            Review::Pending => "rev-pending",
            Review::Approved => "rev-approved",
            Review::Returned => "rev-returned",
        }
    }
}

impl Label for Verdict {
    fn key(self) -> &'static str {
        match self {
            Verdict::Pass => "scan-pass",
            Verdict::Warn => "scan-warn",
            Verdict::Error => "scan-error",
            Verdict::Fail => "scan-fail",
        }
    }
}

impl Label for Role {
    fn key(self) -> &'static str {
        match self {
            Role::Admin => "role-admin",
            Role::SecurityOfficer => "role-security-officer",
            Role::Department => "role-department",
            Role::Vendor => "role-vendor",
            Role::Auditor => "role-auditor",
        }
    }
}

impl Label for Party {
    fn key(self) -> &'static str {
        match self {
            Party::Department => "party-department",
            Party::Builder => "party-builder",
            Party::Maintenance => "party-maintenance",
            Party::Cloud => "party-cloud",
        }
    }
}

impl Label for OrgKind {
    fn key(self) -> &'static str {
        match self {
            OrgKind::Department => "org-kind-department",
            OrgKind::Vendor => "org-kind-vendor",
        }
    }
}

impl Label for HistoryKind {
    fn key(self) -> &'static str {
        match self {
            HistoryKind::Answer => "hist-answer",
            HistoryKind::Evidence => "hist-evidence",
            HistoryKind::EvidenceRemoved => "hist-evidence_removed",
            HistoryKind::Submit => "hist-submit",
            HistoryKind::Approve => "hist-approve",
            HistoryKind::Return => "hist-return",
            HistoryKind::ReviewFinished => "hist-review_finished",
            HistoryKind::RoundStarted => "hist-round_started",
            HistoryKind::RequirementChanged => "hist-requirement_changed",
        }
    }
}

impl Label for LedgerChange {
    fn key(self) -> &'static str {
        match self {
            LedgerChange::Issued => "ledger-change-issued",
            LedgerChange::Role => "ledger-change-role",
            LedgerChange::Organisation => "ledger-change-organisation",
            LedgerChange::DisplayName => "ledger-change-display_name",
            LedgerChange::Email => "ledger-change-email",
            LedgerChange::Disabled => "ledger-change-disabled",
            LedgerChange::Enabled => "ledger-change-enabled",
            LedgerChange::PasswordReset => "ledger-change-password_reset",
            LedgerChange::TotpReset => "ledger-change-totp_reset",
            LedgerChange::Unlocked => "ledger-change-unlocked",
        }
    }
}

impl Label for Outcome {
    fn key(self) -> &'static str {
        match self {
            Outcome::Success => "outcome-success",
            Outcome::Failure => "outcome-failure",
            Outcome::Denied => "outcome-denied",
        }
    }
}

/// Every key of every set, for the test that finds them in both languages.
pub fn all_keys() -> Vec<&'static str> {
    let mut keys = Vec::new();
    keys.extend(Phase::ALL.iter().map(|x| x.key()));
    keys.extend(Action::ALL.iter().map(|x| x.key()));
    keys.extend(Outcome::ALL.iter().map(|x| x.key()));
    keys.extend(SystemStatus::ALL.iter().map(|x| x.key()));
    keys.extend(AnswerStatus::ALL.iter().map(|x| x.key()));
    keys.extend(Review::ALL.iter().map(|x| x.key()));
    keys.extend([Verdict::Pass, Verdict::Warn, Verdict::Error, Verdict::Fail].map(Label::key));
    keys.extend(Role::ALL.iter().map(|x| x.key()));
    keys.extend([OrgKind::Department, OrgKind::Vendor].map(Label::key));
    keys.extend(Party::ALL.iter().map(|x| x.key()));
    keys.extend(HistoryKind::ALL.iter().map(|x| x.key()));
    keys.extend(LedgerChange::ALL.iter().map(|x| x.key()));
    keys.extend(Severity::ALL.iter().map(|x| x.key()));
    keys.extend(JobKind::ALL.iter().map(|x| x.key()));
    keys.extend(JobState::ALL.iter().map(|x| x.key()));
    keys.extend(mamori_core::inventory::ComponentKind::ALL.iter().map(|x| x.key()));
    keys.extend(crate::record_labels::keys());
    keys.extend(CheckId::ALL.iter().map(|x| x.key()));
    keys.extend(CheckId::ALL.iter().flat_map(|x| scan_meaning_keys(*x)));
    keys.extend(Attr::EVERY.map(Label::key));
    keys.extend(Attr::EVERY.map(negated_key));
    keys.extend(TARGET_KINDS.map(|(_, key)| key));
    keys.extend(mamori_core::monitoring::ALERT_KINDS.iter().filter_map(|k| alert_kind_key(k)));
    keys
}

impl Label for JobKind {
    fn key(self) -> &'static str {
        match self {
            JobKind::WatchSignins => "job-watch-signins",
            JobKind::DisableInactive => "job-disable-inactive",
            JobKind::QueueScans => "job-queue-scans",
            JobKind::VerifyAudit => "job-verify-audit",
            JobKind::PurgeAudit => "job-purge-audit",
            JobKind::Backup => "job-backup",
            JobKind::SendReminders => "job-send-reminders",
            JobKind::CheckSupport => "job-check-support",
        }
    }
}

impl Label for mamori_core::inventory::ComponentKind {
    fn key(self) -> &'static str {
        use mamori_core::inventory::ComponentKind::*;
        match self {
            Os => "component-os",
            Middleware => "component-middleware",
            Framework => "component-framework",
            Library => "component-library",
            Other => "component-other",
        }
    }
}

impl Label for JobState {
    fn key(self) -> &'static str {
        match self {
            JobState::Queued => "job-state-queued",
            JobState::Running => "job-state-running",
            JobState::Done => "job-state-done",
            JobState::Failed => "job-state-failed",
        }
    }
}

impl Label for Severity {
    fn key(self) -> &'static str {
        match self {
            Severity::Info => "severity-info",
            Severity::Warning => "severity-warning",
            Severity::Critical => "severity-critical",
        }
    }
}

impl Label for CheckId {
    fn key(self) -> &'static str {
        match self {
            CheckId::TlsVersions => "check-tls-versions",
            CheckId::TlsCertificate => "check-tls-certificate",
            CheckId::HttpsRedirect => "check-https-redirect",
            CheckId::Clickjacking => "check-clickjacking",
            CheckId::Disclosure => "check-disclosure",
            CheckId::Cookies => "check-cookies",
            CheckId::SessionInUrl => "check-session-in-url",
            CheckId::CredentialsInUrl => "check-credentials-in-url",
            CheckId::Listing => "check-listing",
            CheckId::Exposed => "check-exposed",
            CheckId::Admin => "check-admin",
            CheckId::ErrorDetail => "check-error-detail",
            CheckId::Ports => "check-ports",
            CheckId::PasswordField => "check-password-field",
            CheckId::CsrfToken => "check-csrf-token",
            CheckId::SessionIdStrength => "check-session-id-strength",
        }
    }
}

impl Label for Attr {
    fn key(self) -> &'static str {
        match self {
            Attr::UsesServers => "cond-uses-servers",
            Attr::WebSystem => "cond-web-system",
            Attr::ExternalService => "cond-external-service",
            Attr::ConfidentialityHigh => "cond-confidentiality-high",
            Attr::IntegrityHigh => "cond-integrity-high",
            Attr::AvailabilityHigh => "cond-availability-high",
            Attr::CloudOnly => "cond-cloud-only",
            Attr::WardDomain => "cond-ward-domain",
        }
    }
}

/// The key of an attribute's negation, said as a phrase of its own
/// (「外部サービスを利用しない」), not as the attribute negated.
pub fn negated_key(a: Attr) -> &'static str {
    match a {
        Attr::UsesServers => "cond-not-uses-servers",
        Attr::WebSystem => "cond-not-web-system",
        Attr::ExternalService => "cond-not-external-service",
        Attr::ConfidentialityHigh => "cond-not-confidentiality-high",
        Attr::IntegrityHigh => "cond-not-integrity-high",
        Attr::AvailabilityHigh => "cond-not-availability-high",
        Attr::CloudOnly => "cond-not-cloud-only",
        Attr::WardDomain => "cond-not-ward-domain",
    }
}

/// A requirement's condition as a phrase in the reader's language
/// (「Webシステムの場合」), or the text as written when it does not parse.
pub fn condition(t: &Tr, applies_when: &str) -> String {
    fn words(t: &Tr, a: &Applicability) -> String {
        let paren = |e: &Applicability| match e {
            Applicability::Or(..) => format!("({})", words(t, e)),
            e => words(t, e),
        };
        match a {
            Applicability::Always => t.get("cond-always"),
            Applicability::Attr(x) => t.label(*x),
            Applicability::Not(e) => match **e {
                Applicability::Attr(x) => t.get(negated_key(x)),
                _ => t.with("cond-not", &[("x", &paren(e))]),
            },
            Applicability::And(l, r) => t.with("cond-and", &[("a", &paren(l)), ("b", &paren(r))]),
            Applicability::Or(l, r) => t.with("cond-or", &[("a", &words(t, l)), ("b", &words(t, r))]),
        }
    }
    match Applicability::parse(applies_when) {
        Ok(Applicability::Always) => t.get("cond-always"),
        Ok(a) => t.with("cond-when", &[("words", &words(t, &a))]),
        Err(_) => applies_when.to_owned(),
    }
}

/// What an audit event can be about, as stored (`account`), with its key.
pub const TARGET_KINDS: [(&str, &str); 11] = [
    ("account", "target-account"),
    ("document", "target-document"),
    ("organisation", "target-organisation"),
    ("system", "target-system"),
    ("evidence", "target-evidence"),
    ("catalog_version", "target-catalog-version"),
    ("access_review", "target-access-review"),
    ("log_review", "target-log-review"),
    ("alert", "target-alert"),
    ("audit_event", "target-audit-event"),
    ("server", "target-server"),
];

/// The key of an audit target kind as stored; `None` for one this version
/// does not know (events outlive versions).
pub fn target_kind_key(kind: &str) -> Option<&'static str> {
    TARGET_KINDS.iter().find(|(k, _)| *k == kind).map(|(_, key)| *key)
}

/// The keys of what a check's verdict means, in its own words: pass, warn,
/// fail (an error, a check that could not run, reads the same for all).
pub fn scan_meaning_keys(id: CheckId) -> [&'static str; 3] {
    macro_rules! keys {
        ($name:literal) => {
            [concat!("scan-", $name, "-pass"), concat!("scan-", $name, "-warn"), concat!("scan-", $name, "-fail")]
        };
    }
    match id {
        CheckId::TlsVersions => keys!("tls-versions"),
        CheckId::TlsCertificate => keys!("tls-certificate"),
        CheckId::HttpsRedirect => keys!("https-redirect"),
        CheckId::Clickjacking => keys!("clickjacking"),
        CheckId::Disclosure => keys!("disclosure"),
        CheckId::Cookies => keys!("cookies"),
        CheckId::SessionInUrl => keys!("session-in-url"),
        CheckId::CredentialsInUrl => keys!("credentials-in-url"),
        CheckId::Listing => keys!("listing"),
        CheckId::Exposed => keys!("exposed"),
        CheckId::Admin => keys!("admin"),
        CheckId::ErrorDetail => keys!("error-detail"),
        CheckId::Ports => keys!("ports"),
        CheckId::PasswordField => keys!("password-field"),
        CheckId::CsrfToken => keys!("csrf-token"),
        CheckId::SessionIdStrength => keys!("session-id-strength"),
    }
}

/// The key of an alert kind as stored (`signin.spraying`); `None` if unknown.
pub fn alert_kind_key(kind: &str) -> Option<&'static str> {
    match kind {
        "signin.spike" => Some("alert-signin-spike"),
        "signin.spraying" => Some("alert-signin-spraying"),
        "audit.chain_broken" => Some("alert-audit-chain-broken"),
        "backup.failed" => Some("alert-backup-failed"),
        "scan.regression" => Some("alert-scan-regression"),
        "scan.certificate_expiring" => Some("alert-scan-certificate-expiring"),
        "scan.address_changed" => Some("alert-scan-address-changed"),
        "scan.address_new" => Some("alert-scan-address-new"),
        "account.locked" => Some("alert-account-locked"),
        "job.failed" => Some("alert-job-failed"),
        "inventory.support_ending" => Some("alert-support-ending"),
        "inventory.support_ended" => Some("alert-support-ended"),
        "vuln.matched" => Some("alert-vuln-matched"),
        "vuln.matches_full" => Some("alert-vuln-matches-full"),
        "record.due_soon" => Some("alert-record-due-soon"),
        "record.overdue" => Some("alert-record-overdue"),
        "account.credentials_reset" => Some("alert-credentials-reset"),
        "account.privileged" => Some("alert-privileged"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{I18n, Lang};

    #[test]
    fn every_value_shown_to_people_has_a_name_in_both_languages() {
        let i18n = I18n::load();
        let (ja, en) = (i18n.tr(Lang::Ja), i18n.tr(Lang::En));
        for key in all_keys() {
            assert!(ja.has(key) && en.has(key), "{key}");
        }
    }

    #[test]
    fn conditions_read_as_phrases_in_both_languages() {
        let i18n = I18n::load();
        let (ja, en) = (i18n.tr(Lang::Ja), i18n.tr(Lang::En));
        let cases = [
            ("always", "すべてのシステム", "Every system"),
            ("web_system", "Webシステムである場合", "When it is a web system"),
            (
                "web_system and (confidentiality_high or not integrity_high)",
                "Webシステムである、かつ(機密性が「高」である、または完全性が「高」でない)場合",
                "When it is a web system and (confidentiality is high or integrity is not high)",
            ),
            (
                "not (web_system or uses_servers)",
                "(Webシステムである、またはサーバ・ネットワーク機器を利用する)でない場合",
                "When not (it is a web system or it uses servers or network equipment)",
            ),
            ("no such thing", "no such thing", "no such thing"),
        ];
        for (rule, want_ja, want_en) in cases {
            assert_eq!(condition(&ja, rule), want_ja, "{rule}");
            assert_eq!(condition(&en, rule), want_en, "{rule}");
        }
        // Every rule of the shipped catalog reads without a code in it.
        for r in mamori_core::catalog::CatalogFile::shipped().requirements {
            let words = condition(&ja, &r.applies_when);
            assert!(!words.contains('_') && !words.contains("always"), "No.{}: {words}", r.number);
        }
    }
}
