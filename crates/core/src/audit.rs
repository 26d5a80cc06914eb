//! Audit events (checklist items 27, 29, 66): when, who, where, what, and the
//! result, chained by SHA-256 so that a changed, removed or inserted event is
//! detected.
//!
//! The chain: `hash = SHA-256(prev_hash ‖ "\n" ‖ canonical JSON of the record)`,
//! where the canonical JSON is [`Record`] serialised with its fields in
//! declaration order. The first event follows [`GENESIS_HASH`].

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// `prev_hash` of the very first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Longest user agent kept; the rest is cut (a header is not a document).
const MAX_USER_AGENT_CHARS: usize = 512;

crate::closed_set!(
    /// What happened. A closed set: every auditable action is named here, so
    /// the viewer can list them all and a typo cannot invent a new one.
    /// (`RequestsRefused`: refused requests of people without an account,
    /// counted per client address and minute, one event, not one per request;
    /// `RequestsLimited`: a signed-in person's change refused past their
    /// limit a minute or a day.)
    Action {
        ServerStart = "server.start",
        ServerStop = "server.stop",
        ConfigError = "config.error",
        SetupCompleted = "setup.completed",
        SignInSuccess = "signin.success",
        SignInFailure = "signin.failure",
        AccountLocked = "account.locked",
        AccountUnlocked = "account.unlocked",
        SignOut = "signout",
        SessionTimeout = "session.timeout",
        SessionsEnded = "sessions.ended",
        PasswordChanged = "password.changed",
        PasswordReset = "password.reset",
        AccountCreated = "account.created",
        AccountUpdated = "account.updated",
        AccountDisabled = "account.disabled",
        AccountEnabled = "account.enabled",
        TotpEnrolled = "totp.enrolled",
        TotpRecoveryUsed = "totp.recovery_used",
        TotpRecoveryRenewed = "totp.recovery_renewed",
        TotpReset = "totp.reset",
        AccessReviewSignedOff = "access_review.signed_off",
        AccessDenied = "access.denied",
        CsrfRejected = "csrf.rejected",
        LedgerExported = "ledger.exported",
        OrganisationCreated = "organisation.created",
        CatalogImported = "catalog.imported",
        CatalogExported = "catalog.exported",
        SystemCreated = "system.created",
        SystemUpdated = "system.updated",
        ApplicabilityOverridden = "applicability.overridden",
        AnswerSaved = "answer.saved",
        SystemSubmitted = "system.submitted",
        ItemPartyMoved = "item.party_moved",
        AnswerReviewed = "answer.reviewed",
        ReviewFinished = "review.finished",
        EvidenceUploaded = "evidence.uploaded",
        EvidenceRemoved = "evidence.removed",
        EvidenceRejected = "evidence.rejected",
        EvidenceDownloaded = "evidence.downloaded",
        DocumentUploaded = "document.uploaded",
        DocumentLinked = "document.linked",
        DocumentUnlinked = "document.unlinked",
        DocumentDeleted = "document.deleted",
        DocumentDownloaded = "document.downloaded",
        ComponentSaved = "component.saved",
        ComponentRemoved = "component.removed",
        InventoryImported = "inventory.imported",
        InventoryExported = "inventory.exported",
        HousekeepingPurged = "housekeeping.purged",
        FeedImported = "feed.imported",
        VulnDecided = "vuln.decided",
        RecordSaved = "record.saved",
        RecordRemoved = "record.removed",
        RecordReviewed = "record.reviewed",
        RoundStarted = "system.round_started",
        CatalogVersionChanged = "system.catalog_changed",
        AuditPurged = "audit.purged",
        AuditExported = "audit.exported",
        BackupTaken = "backup.taken",
        DataRestored = "data.restored",
        KeysRotated = "keys.rotated",
        NotificationTested = "notification.tested",
        ExportSealed = "export.sealed",
        AlertAcknowledged = "alert.acknowledged",
        LogReviewSignedOff = "log_review.signed_off",
        ScanRequested = "scan.requested",
        ScanFinished = "scan.finished",
        ScanAddressConfirmed = "scan.address_confirmed",
        ReportExported = "report.exported",
        ReportMonthSet = "system.report_month_set",
        ReviewSignedOff = "system.review_signed_off",
        YearlyReportReceived = "yearly_report.received",
        RequestsRefused = "requests.refused",
        RequestsLimited = "requests.limited",
    }
);

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    /// Refused for want of a permission.
    Denied,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Success, Outcome::Failure, Outcome::Denied];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// Who did it: the account id and the login as it was at the time (a login
/// can be renamed later; the event keeps what it was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub account_id: Option<i64>,
    pub login: String,
}

impl Actor {
    /// mamori itself (start, stop, scheduled jobs).
    pub fn system() -> Self {
        Actor { account_id: None, login: "system".to_owned() }
    }

    /// Someone who has not signed in (a failed sign-in, for example).
    pub fn anonymous() -> Self {
        Actor { account_id: None, login: "-".to_owned() }
    }
}

/// Where it came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

/// The record a change applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: &'static str,
    pub id: String,
}

/// A summary of changed fields. Field names that look like secrets never
/// carry their value: the event says that the field changed, not to what.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes(BTreeMap<String, Value>);

impl Changes {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, field: &str, value: impl Into<Value>) -> Self {
        let value = if is_secret_field(field) {
            Value::String("[redacted]".to_owned())
        } else if PERSONAL_FIELDS.contains(&field) {
            Value::String(PERSONAL.to_owned())
        } else {
            value.into()
        };
        self.0.insert(field.to_owned(), value);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The stored form: a JSON object with sorted keys.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("a map of strings to JSON values always serialises")
    }
}

/// Fields holding personal data (item 61): the audit log, which is never
/// rewritten, says that they were set or changed, not to what; the values
/// are in the account ledger, sealed under the data key.
pub const PERSONAL_FIELDS: [&str; 3] = ["display_name", "email", "contact"];

/// What the audit log holds for a personal field.
pub const PERSONAL: &str = "[個人情報: ID管理簿に記録]";

fn is_secret_field(field: &str) -> bool {
    let f = field.to_ascii_lowercase();
    ["password", "secret", "token", "session", "totp", "recovery", "key", "cookie"].iter().any(|s| f.contains(s))
}

/// An event about to be recorded.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub actor: Actor,
    pub origin: Origin,
    pub action: Action,
    pub target: Option<Target>,
    pub changes: Changes,
    pub outcome: Outcome,
}

impl NewEvent {
    pub fn new(actor: Actor, origin: Origin, action: Action, outcome: Outcome) -> Self {
        NewEvent { actor, origin, action, target: None, changes: Changes::new(), outcome }
    }

    pub fn target(mut self, kind: &'static str, id: impl Into<String>) -> Self {
        self.target = Some(Target { kind, id: id.into() });
        self
    }

    pub fn changes(mut self, changes: Changes) -> Self {
        self.changes = changes;
        self
    }

    /// The record as it will be stored, once its place in the chain and its
    /// time are known.
    pub fn into_record(self, seq: i64, occurred_at_us: i64) -> Record {
        let user_agent = self.origin.user_agent.map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect());
        Record {
            seq,
            occurred_at_us,
            actor_account_id: self.actor.account_id,
            actor_login: self.actor.login,
            client_addr: self.origin.client_addr,
            user_agent,
            action: self.action.as_str().to_owned(),
            target_type: self.target.as_ref().map(|t| t.kind.to_owned()),
            target_id: self.target.map(|t| t.id),
            changes: self.changes.to_json(),
            outcome: self.outcome.as_str().to_owned(),
            request_id: self.origin.request_id,
        }
    }
}

/// The stored fields that the hash covers, in canonical order. Never reorder
/// or rename: every stored hash depends on this layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub seq: i64,
    pub occurred_at_us: i64,
    pub actor_account_id: Option<i64>,
    pub actor_login: String,
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub changes: String,
    pub outcome: String,
    pub request_id: Option<String>,
}

/// A stored event with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub record: Record,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of `record` following `prev_hash`.
pub fn chain_hash(prev_hash: &str, record: &Record) -> String {
    let json = serde_json::to_vec(record).expect("a record of plain fields always serialises");
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(&json);
    hex::encode(h.finalize())
}

/// Link `record` after the event whose hash is `prev_hash`.
pub fn seal(prev_hash: String, record: Record) -> Event {
    let hash = chain_hash(&prev_hash, &record);
    Event { record, prev_hash, hash }
}

/// Where and how the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("event {found} follows where event {expected} was expected (an event was removed or inserted)")]
    Gap { expected: i64, found: i64 },
    #[error("event {seq} does not follow the hash of the event before it")]
    Link { seq: i64 },
    #[error("event {seq} does not match its hash (it was changed after it was written)")]
    Tampered { seq: i64 },
    #[error("the chain ends at event {last} but the recorded head is event {head} (events at the end were removed or the head was changed)")]
    Head { last: i64, head: i64 },
    #[error("the chain begins after event {anchor}, but no retention purge in it removed the events through that one (events at the start were removed and the anchor moved)")]
    Anchor { anchor: i64 },
    #[error("the archive of the events that event {seq} purged is missing or differs from what that event recorded")]
    Archive { seq: i64 },
}

impl ChainBreak {
    /// The first event at fault.
    pub fn seq(&self) -> i64 {
        match *self {
            ChainBreak::Gap { expected, .. } => expected,
            ChainBreak::Link { seq } | ChainBreak::Tampered { seq } => seq,
            ChainBreak::Head { last, .. } => last + 1,
            ChainBreak::Anchor { anchor } => anchor,
            ChainBreak::Archive { seq } => seq,
        }
    }
}

/// Checks events one by one, in sequence order, from an anchor (the genesis,
/// or the last event removed by a retention purge).
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    next_seq: i64,
    prev_hash: String,
    checked: u64,
}

impl ChainVerifier {
    pub fn new(anchor_seq: i64, anchor_hash: &str) -> Self {
        ChainVerifier { next_seq: anchor_seq + 1, prev_hash: anchor_hash.to_owned(), checked: 0 }
    }

    pub fn check(&mut self, event: &Event) -> Result<(), ChainBreak> {
        let seq = event.record.seq;
        self.follows(event)?;
        if chain_hash(&event.prev_hash, &event.record) != event.hash {
            return Err(ChainBreak::Tampered { seq });
        }
        self.next_seq += 1;
        self.prev_hash.clone_from(&event.hash);
        self.checked += 1;
        Ok(())
    }

    /// Does `event` follow the last one checked (its number and its link),
    /// its own hash not checked: the edge of a stretch.
    pub fn follows(&self, event: &Event) -> Result<(), ChainBreak> {
        let seq = event.record.seq;
        if seq != self.next_seq {
            return Err(ChainBreak::Gap { expected: self.next_seq, found: seq });
        }
        if event.prev_hash != self.prev_hash {
            return Err(ChainBreak::Link { seq });
        }
        Ok(())
    }

    /// The end of the chain must be the recorded head. Returns how many
    /// events were checked.
    pub fn finish(self, head_seq: i64, head_hash: &str) -> Result<u64, ChainBreak> {
        let last = self.next_seq - 1;
        if last != head_seq || self.prev_hash != head_hash {
            return Err(ChainBreak::Head { last, head: head_seq });
        }
        Ok(self.checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64, prev: &str) -> Event {
        let rec = NewEvent::new(Actor::system(), Origin::default(), Action::ServerStart, Outcome::Success)
            .into_record(seq, 1_700_000_000_000_000 + seq);
        seal(prev.to_owned(), rec)
    }

    fn chain(n: i64) -> Vec<Event> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let e = event(seq, &prev);
                prev.clone_from(&e.hash);
                e
            })
            .collect()
    }

    fn verify(events: &[Event], head_seq: i64, head_hash: &str) -> Result<u64, ChainBreak> {
        let mut v = ChainVerifier::new(0, GENESIS_HASH);
        for e in events {
            v.check(e)?;
        }
        v.finish(head_seq, head_hash)
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify(&c, 5, &c[4].hash), Ok(5));
    }

    #[test]
    fn changed_field_is_detected() {
        let mut c = chain(5);
        c[2].record.actor_login = "mallory".into();
        assert_eq!(verify(&c, 5, &c[4].hash.clone()), Err(ChainBreak::Tampered { seq: 3 }));
    }

    #[test]
    fn rehashed_event_breaks_the_next_link() {
        let mut c = chain(5);
        c[2].record.action = "config.error".into();
        c[2].hash = chain_hash(&c[2].prev_hash, &c[2].record);
        assert_eq!(verify(&c, 5, &c[4].hash.clone()), Err(ChainBreak::Link { seq: 4 }));
    }

    #[test]
    fn removed_event_is_detected() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(verify(&c, 5, &c[3].hash.clone()), Err(ChainBreak::Gap { expected: 2, found: 3 }));
    }

    #[test]
    fn truncated_tail_is_detected() {
        let c = chain(5);
        let head = c[4].hash.clone();
        assert_eq!(verify(&c[..3], 5, &head), Err(ChainBreak::Head { last: 3, head: 5 }));
    }

    #[test]
    fn chain_may_start_after_a_purge_anchor() {
        let c = chain(5);
        let mut v = ChainVerifier::new(2, &c[1].hash);
        for e in &c[2..] {
            v.check(e).unwrap();
        }
        assert_eq!(v.finish(5, &c[4].hash), Ok(3));
    }

    #[test]
    fn secret_fields_never_carry_their_value_nor_personal_ones() {
        let ch = Changes::new()
            .with("display_name", "山田")
            .with("email", "yamada@example.lg.jp")
            .with("contact", "03-1234-5678")
            .with("role", "auditor")
            .with("password", "hunter2hunter2")
            .with("totp_secret", "JBSWY3DP")
            .with("api_token", "abc");
        let json = ch.to_json();
        assert!(json.contains("auditor") && json.contains(PERSONAL), "{json}");
        for secret in ["hunter2", "JBSWY3DP", "abc", "山田", "yamada", "1234"] {
            assert!(!json.contains(secret), "{secret} leaked into {json}");
        }
    }

    #[test]
    fn long_user_agent_is_cut() {
        let origin = Origin { user_agent: Some("x".repeat(5000)), ..Origin::default() };
        let rec = NewEvent::new(Actor::system(), origin, Action::ServerStart, Outcome::Success).into_record(1, 0);
        assert_eq!(rec.user_agent.unwrap().len(), MAX_USER_AGENT_CHARS);
    }

    #[test]
    fn hash_is_stable_for_a_known_record() {
        // Guards the canonical layout: if this changes, every stored chain breaks.
        let rec =
            NewEvent::new(Actor::system(), Origin::default(), Action::ServerStart, Outcome::Success).into_record(1, 0);
        let json = serde_json::to_string(&rec).unwrap();
        assert_eq!(
            json,
            r#"{"seq":1,"occurred_at_us":0,"actor_account_id":null,"actor_login":"system","client_addr":null,"user_agent":null,"action":"server.start","target_type":null,"target_id":null,"changes":"{}","outcome":"success","request_id":null}"#
        );
    }
}
