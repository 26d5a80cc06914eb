//! A person's own password and second factor (items 4, 5, 38, 40, 41).

use crate::passwords::Hasher;
use crate::signin::record_lock;
use crate::{Op, Refused};
use mamori_core::audit::{Action, Changes, NewEvent, Outcome};
use mamori_core::policy::LockoutPolicy;
use mamori_core::totp;
use mamori_store::accounts::{Account, Reserved};

/// What came of checking the current password before a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Current {
    Right,
    /// Wrong: counted towards the lockout and audited.
    Wrong,
    /// The account is locked: nothing was checked.
    Locked,
}

/// The current password is checked as at sign-in (item 41): counted in
/// advance towards the lockout, refused unchecked while locked, a wrong one
/// audited; the checks on one account run one at a time.
pub async fn check_current(
    op: &Op<'_>,
    hasher: &Hasher,
    lockout: &LockoutPolicy,
    a: &Account,
    current: &str,
) -> Result<Current, Refused> {
    let _one_at_a_time = hasher.one_at_a_time(a.id).await;
    let Some(reserved) = op.store.open_account_attempt(a.id, op.now, lockout).await? else {
        return Ok(Current::Locked);
    };
    if hasher.verify(current, Some(&a.password_hash)).await {
        op.store.reset_failures(a.id).await?;
        return Ok(Current::Right);
    }
    wrong(op, lockout, a, reserved, (Action::PasswordChanged, "bad_current_password")).await?;
    Ok(Current::Wrong)
}

/// A wrong password or code from a signed-in person, counted in advance
/// (`reserved`): its failure event (`action`, `why`), and the lock when
/// it reached the limit.
async fn wrong(
    op: &Op<'_>,
    lockout: &LockoutPolicy,
    a: &Account,
    reserved: Reserved,
    (action, why): (Action, &str),
) -> Result<(), Refused> {
    let ev = NewEvent::new(op.who.actor(), op.origin.clone(), action, Outcome::Failure)
        .target("account", a.id.to_string())
        .changes(Changes::new().with("why", why).with("failures", reserved.failures));
    op.store.audit_record(op.now, ev).await?;
    record_lock(op.store, op.now, &op.origin, op.who.actor(), a.id, reserved, lockout).await?;
    Ok(())
}

/// Items 4, 5: the new password (already checked against the policy),
/// unless it is one of the last `history` ones (`Ok(None)`). The change
/// ends every other session of the account: the account's new session
/// generation is returned.
pub async fn change_password(
    op: &Op<'_>,
    hasher: &Hasher,
    history: usize,
    a: &Account,
    new: &str,
) -> Result<Option<i64>, Refused> {
    for old in op.store.password_history(a.id, history).await? {
        if hasher.verify(new, Some(&old)).await {
            return Ok(None);
        }
    }
    let hash = hasher.hash(new).await.ok_or(Refused::Internal("password hashing failed"))?;
    Ok(Some(op.store.change_own_password(&op.ctx(), a.id, &hash, a.session_generation).await?))
}

/// Ends every other session of the person's own account (audited); returns
/// the account's new session generation, for the session it was done in
/// (`a` as read when the request's session was checked: `Stale` when that
/// session has been ended since).
pub async fn end_other_sessions(op: &Op<'_>, a: &Account) -> Result<i64, Refused> {
    Ok(op.store.end_other_sessions(&op.ctx(), a.id, a.session_generation).await?)
}

/// Where an enrolment's secret is kept until it is confirmed: in the
/// session that began it, sealed as the account's secret is. Kept on the
/// account, a secret begun was shown again to whoever opened the page next
/// (one who signed in with an initial password first saw the secret its
/// owner would enrol).
const PENDING_SECRET: &str = "session.totp_pending";

/// A new secret to enrol with, and the same sealed, for the session.
pub fn new_enrolment(op: &Op<'_>) -> (String, String) {
    let secret = totp::new_secret();
    let sealed = op.store.keys().seal(PENDING_SECRET, &secret);
    (secret, sealed)
}

/// The secret a session keeps sealed; `None` if it cannot be opened (a key
/// gone since).
pub fn pending_enrolment(op: &Op<'_>, sealed: &str) -> Option<String> {
    op.store.keys().open_text(PENDING_SECRET, sealed).ok()
}

/// Item 40: a code from the authenticator confirms the enrolment of
/// `secret`; every other session of the account ends. Returns the recovery
/// codes, once (only their hashes are kept), and the new session generation
/// for the session it was done in. `None` when the code does not match.
/// `Stale` when it was confirmed meanwhile (the button pressed twice) or the
/// session was ended since its request was checked.
pub async fn confirm_enrolment(
    op: &Op<'_>,
    a: &Account,
    secret: &str,
    code: &str,
) -> Result<Option<(Vec<String>, i64)>, Refused> {
    let Some(step) = totp::matching_step(secret, code, op.now) else {
        return Ok(None);
    };
    let codes = totp::new_recovery_codes();
    let hashes: Vec<String> = codes.iter().map(|c| totp::recovery_code_hash(c)).collect();
    let generation = op.store.confirm_totp(&op.ctx(), (a.id, a.session_generation), (secret, step), &hashes).await?;
    Ok(Some((codes, generation)))
}

/// What came of asking for new recovery codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renewal {
    /// The new codes, shown once (only their hashes are kept); every
    /// earlier one is void.
    Renewed(Vec<String>),
    /// The authenticator's code was wrong or used already: counted towards
    /// the lockout and audited.
    Wrong,
    /// The account is locked: nothing was checked.
    Locked,
}

/// Item 75: a person whose second factor is on takes new recovery codes
/// (those shown at enrolment lost, or mostly used), given a code from
/// their authenticator. The code is checked as at sign-in: counted in
/// advance towards the lockout, refused unchecked while locked, a step
/// already used refused, a wrong one audited; one at a time per account.
pub async fn renew_recovery_codes(
    op: &Op<'_>,
    hasher: &Hasher,
    lockout: &LockoutPolicy,
    a: &Account,
    code: &str,
) -> Result<Renewal, Refused> {
    let _one_at_a_time = hasher.one_at_a_time(a.id).await;
    let Some(reserved) = op.store.open_account_attempt(a.id, op.now, lockout).await? else {
        return Ok(Renewal::Locked);
    };
    if let Some(step) = a.totp_secret.as_deref().and_then(|s| totp::matching_step(s, code, op.now)) {
        let codes = totp::new_recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|c| totp::recovery_code_hash(c)).collect();
        match op.store.renew_recovery_codes(&op.ctx(), a.id, step, &hashes).await {
            Ok(()) => {
                op.store.reset_failures(a.id).await?;
                return Ok(Renewal::Renewed(codes));
            }
            Err(mamori_store::StoreError::Stale) => {}
            Err(e) => return Err(e.into()),
        }
    }
    wrong(op, lockout, a, reserved, (Action::TotpRecoveryRenewed, "bad_code")).await?;
    Ok(Renewal::Wrong)
}
