//! The administrator's and the security office's account screens: accounts,
//! organisations, the account ledger (ID管理簿) and the access review
//! (items 1, 3, 6, 7, 37, 64, 65).

mod access_review;
mod accounts;
mod actions;
mod ledger;
mod organisations;

pub use access_review::{access_review, sign_off_review};
pub use accounts::{create_user, edit_user_form, new_user_form, update_user, users};
pub use actions::{disable_user, enable_user, reset_user_password, reset_user_totp, unlock_user, user_detail};
pub use ledger::{ledger, ledger_csv, ledger_xlsx};
pub use organisations::{create_organisation, organisations};

use crate::error::AppError;
use crate::forms::FormErrors;
use crate::handlers::jst;
use crate::i18n::Tr;
use crate::AppState;
use mamori_core::identity::{parse_multiline, LedgerChange, Role};
use mamori_core::policy::LockoutPolicy;
use mamori_store::accounts::Account;

pub(super) fn check_reason(t: &Tr, reason: &str, errors: &mut FormErrors) -> Option<String> {
    errors.check(t, "reason", "field-reason", parse_multiline(reason, 1, 500))
}

pub(super) async fn account_or_404(state: &AppState, id: i64) -> Result<Account, AppError> {
    state.store.account_by_id(id).await?.ok_or(AppError::NotFound)
}

#[derive(Clone)]
pub struct LedgerRow {
    at: String,
    login: String,
    name: String,
    change: String,
    before: String,
    after: String,
    actor: String,
    reason: String,
}

pub(super) fn ledger_rows(
    t: &Tr,
    orgs: &[mamori_store::accounts::Organisation],
    entries: &[mamori_store::accounts::LedgerEntry],
) -> Vec<LedgerRow> {
    entries
        .iter()
        .map(|e| LedgerRow {
            at: jst(Some(e.at)),
            login: e.account_login.clone(),
            name: e.account_name.clone(),
            change: t.label(e.change),
            before: ledger_value(t, orgs, e.change, &e.before),
            after: ledger_value(t, orgs, e.change, &e.after),
            actor: e.actor_login.clone(),
            reason: e.reason.clone(),
        })
        .collect()
}

/// A ledger value in words: a role by its name, an issued account's
/// `role / organisation id` as the role and the organisation's name.
fn ledger_value(t: &Tr, orgs: &[mamori_store::accounts::Organisation], change: LedgerChange, v: &str) -> String {
    let role = |code: &str| Role::parse(code.trim()).map(|r| t.label(r));
    match change {
        LedgerChange::Role => role(v).unwrap_or_else(|| v.to_owned()),
        LedgerChange::Issued => match v.split_once(" / ") {
            Some((r, org)) => {
                let org = org.parse::<i64>().ok().and_then(|id| orgs.iter().find(|o| o.id == id));
                let r = role(r).unwrap_or_else(|| r.to_owned());
                org.map_or(r.clone(), |o| format!("{r} / {}", o.name))
            }
            None => v.to_owned(),
        },
        _ => v.to_owned(),
    }
}

pub(super) fn status(t: &Tr, a: &Account, now: time::OffsetDateTime) -> String {
    if a.disabled_at.is_some() {
        t.get("status-disabled")
    } else if LockoutPolicy::is_locked(a.locked_until, now) {
        t.get("status-locked")
    } else {
        t.get("status-active")
    }
}

#[derive(Clone)]
pub struct UserRow {
    id: i64,
    login: String,
    display_name: String,
    role: String,
    organisation: String,
    last_signin: String,
    status: String,
    inactive: bool,
}

pub(super) fn rows(state: &AppState, t: &Tr, accounts: &[Account]) -> Vec<UserRow> {
    let now = state.clock.now();
    let review_before = now - state.config.security.inactivity.review_after;
    accounts
        .iter()
        .map(|a| UserRow {
            id: a.id,
            login: a.login.clone(),
            display_name: a.display_name.clone(),
            role: t.label(a.role),
            organisation: a.organisation_name.clone().unwrap_or_default(),
            last_signin: jst(a.last_signin_at),
            status: status(t, a, now),
            inactive: a.disabled_at.is_none() && a.last_signin_at.unwrap_or(a.created_at) < review_before,
        })
        .collect()
}
