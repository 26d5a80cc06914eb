//! The security office's and the administrator's sign-offs: log reviews
//! (items 28, 67), alerts, the access review (items 7, 65), organisations.

use crate::{Op, Refused};
use mamori_core::audit::{Action, Changes, NewEvent, Outcome};
use mamori_core::identity::{OrgKind, Permission};
use mamori_store::accounts::Account;
use mamori_store::auditlog::AuditFilter;

/// Records that the logs of a period were reviewed, with the findings.
pub async fn sign_off_log_review(op: &Op<'_>, from: &str, to: &str, findings: &str) -> Result<i64, Refused> {
    op.require(Permission::ReviewLogs)?;
    Ok(op.store.add_log_review(&op.ctx(), from, to, findings).await?)
}

/// Acknowledges an open alert as it was seen, `seen` times occurred
/// (`NotFound` if there is none with this id open; `Stale` if it occurred
/// again since).
pub async fn acknowledge_alert(op: &Op<'_>, id: i64, seen: Option<i64>) -> Result<(), Refused> {
    op.require(Permission::ManageAlerts)?;
    if op.store.acknowledge_alert(&op.ctx(), id, seen).await? {
        Ok(())
    } else {
        Err(Refused::NotFound)
    }
}

/// Sends a test message on every configured channel (the alerts page's
/// button); the attempts are listed there and the test is audited.
pub async fn test_notification(
    op: &Op<'_>,
    notifier: &crate::notify::Notifier,
) -> Result<Vec<mamori_store::notify::Attempt>, Refused> {
    op.require(Permission::ManageAlerts)?;
    if !notifier.configured() {
        return Err(Refused::NotFound);
    }
    let attempts = notifier.send_test(op.store, op.now).await?;
    let ok = attempts.iter().filter(|a| a.ok).count() as i64;
    let channels: Vec<&str> = attempts.iter().map(|a| a.channel).collect();
    let outcome = if ok == attempts.len() as i64 { Outcome::Success } else { Outcome::Failure };
    let ctx = op.ctx();
    let event = NewEvent::new(ctx.actor, ctx.origin, Action::NotificationTested, outcome)
        .target("notification", "test")
        .changes(Changes::new().with("channels", channels.join(",")).with("delivered", ok));
    op.store.audit_record(op.now, event).await?;
    Ok(attempts)
}

/// The accounts as a review reads them (who has which access: login,
/// role, organisation, disabled, second factor), as a mark the page's
/// sign-off carries ([`sign_off_access_review`]).
pub fn accounts_mark(accounts: &[Account]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for a in accounts {
        let line = format!(
            "{}\t{}\t{}\t{:?}\t{}\t{}\n",
            a.id,
            a.login,
            a.role.as_str(),
            a.organisation_id,
            a.disabled_at.is_some(),
            a.totp_enabled
        );
        h.update(line.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Records the periodic access review over every account, by this person.
/// `shown` is the [`accounts_mark`] of the accounts the page listed: an
/// account issued, changed or disabled since is refused as stale, not
/// signed off unseen.
pub async fn sign_off_access_review(op: &Op<'_>, comment: &str, shown: &str) -> Result<i64, Refused> {
    op.require(Permission::ReviewAccess)?;
    let reviewer = op.who.account_id.ok_or(Refused::NotFound)?;
    let as_shown = |accounts: &[Account]| accounts_mark(accounts) == shown;
    Ok(op.store.sign_off_access_review(&op.ctx(), reviewer, comment, as_shown).await?)
}

/// Registers a department or a vendor company (a name taken is refused).
pub async fn create_organisation(op: &Op<'_>, name: &str, kind: OrgKind, contact: &str) -> Result<i64, Refused> {
    op.require(Permission::ManageAccounts)?;
    Ok(op.store.create_organisation_audited(&op.ctx(), name, kind, contact).await?)
}

/// Records that the ID管理簿 was handed out, in `format` (item 64).
pub async fn record_ledger_export(op: &Op<'_>, format: &str) -> Result<(), Refused> {
    op.require(Permission::ViewAccounts)?;
    exported(op, Action::LedgerExported, Changes::new().with("format", format)).await
}

/// Begins an export of the events `filter` selects: the filter bound to
/// the log as it stands now (events written during the export are not in
/// it, the export's own event first among them), and the export audited
/// with its count before a byte is sent.
pub async fn begin_audit_export(op: &Op<'_>, filter: AuditFilter, format: &str) -> Result<AuditFilter, Refused> {
    op.require(Permission::ViewAuditLog)?;
    let filter = AuditFilter { through_seq: Some(op.store.audit_chain_ends().await?.head_seq), ..filter };
    let events = op.store.audit_count(&filter).await?;
    exported(op, Action::AuditExported, Changes::new().with("format", format).with("events", events)).await?;
    Ok(filter)
}

/// Records the handing out of a purged events' archive (`name`), before
/// its bytes are given.
pub async fn record_archive_export(op: &Op<'_>, name: &str) -> Result<(), Refused> {
    op.require(Permission::ViewAuditLog)?;
    exported(op, Action::AuditExported, Changes::new().with("format", "archive").with("archive", name)).await
}

/// Records an export, refused when the person's account changed since the
/// request was checked: what is handed out only once recorded is not then.
async fn exported(op: &Op<'_>, action: Action, changes: Changes) -> Result<(), Refused> {
    let ev = NewEvent::new(op.who.actor(), op.origin.clone(), action, Outcome::Success).changes(changes);
    op.store.audit_record_as(&op.ctx(), ev).await?;
    Ok(())
}
