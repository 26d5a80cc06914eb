//! Accounts (items 1, 3, 6, 7, 37, 64): issued, changed, disabled,
//! unlocked and reset by an administrator, each with a reason, in the
//! ledger (ID管理簿) and the audit log.

use crate::{Op, Refused};
use mamori_core::identity::Permission;
use mamori_store::accounts::{Account, NewAccount};
use mamori_store::identity::AccountChange;

/// What an administrator does to an account, with a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    Disable,
    Enable,
    Unlock,
    /// A new password hash; the person must choose their own at next sign-in.
    ResetPassword(&'a str),
    ResetSecondFactor,
}

/// The account, if the person may manage accounts.
pub async fn account(op: &Op<'_>, id: i64) -> Result<Account, Refused> {
    op.require(Permission::ManageAccounts)?;
    op.store.account_by_id(id).await?.ok_or(Refused::NotFound)
}

/// Issues an account (one person, one ID: a login taken is refused).
pub async fn issue(op: &Op<'_>, new: &NewAccount, reason: &str) -> Result<i64, Refused> {
    op.require(Permission::ManageAccounts)?;
    Ok(op.store.issue_account(&op.ctx(), new, reason).await?)
}

/// Changes name, e-mail, role and organisation, if the account is still as
/// the form showed it (`Refused::Stale` if not). An administrator does not
/// change their own role (another administrator does).
pub async fn change(op: &Op<'_>, id: i64, change: &AccountChange<'_>, reason: &str) -> Result<(), Refused> {
    let before = account(op, id).await?;
    if Some(before.id) == op.who.account_id && change.role != before.role {
        return Err(Refused::Invalid("self"));
    }
    Ok(op.store.change_account(&op.ctx(), id, change, reason).await?)
}

/// Disables, enables, unlocks, or resets the password or second factor of
/// an account. An administrator neither disables nor resets the password
/// or second factor of their own account (their own password they change
/// with the current one, on their account page). Disabling a disabled
/// account (or enabling an enabled one, or unlocking one not locked) is
/// `Invalid("already")`: someone did it first.
pub async fn act(op: &Op<'_>, id: i64, action: Action<'_>, reason: &str) -> Result<(), Refused> {
    let a = account(op, id).await?;
    let on_oneself = matches!(action, Action::Disable | Action::ResetPassword(_) | Action::ResetSecondFactor);
    if Some(a.id) == op.who.account_id && on_oneself {
        return Err(Refused::Invalid("self"));
    }
    let ctx = op.ctx();
    let store = op.store;
    match action {
        Action::Disable | Action::Enable => {
            match store.set_account_disabled(&ctx, id, action == Action::Disable, reason).await {
                Err(mamori_store::StoreError::Stale) => return Err(Refused::Invalid("already")),
                other => other?,
            }
        }
        Action::Unlock => match store.unlock_account(&ctx, id, reason).await {
            Err(mamori_store::StoreError::Stale) => return Err(Refused::Invalid("already")),
            other => other?,
        },
        Action::ResetPassword(hash) => store.reset_password(&ctx, id, hash, reason).await?,
        Action::ResetSecondFactor => store.reset_totp(&ctx, id, reason).await?,
    }
    Ok(())
}
