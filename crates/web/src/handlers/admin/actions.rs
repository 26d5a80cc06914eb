//! One account: its details and ledger, and the administrator's actions
//! on it (disable, enable, unlock, reset the password or the second factor).

//! Accounts, organisations, the ledger (ID管理簿) and the access review
//! (items 1, 3, 6, 7, 37, 64, 65).

use super::{account_or_404, check_reason, ledger_rows, status, LedgerRow};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::forms::validate_new_password;
use crate::forms::FormErrors;
use crate::handlers::{done, html, jst};
use crate::handlers::{Acting, Reply};
use crate::page::{Page, PageCtx};
use askama::Template;
use axum::extract::Path;
use axum::Form;
use mamori_app::{accounts, Refused};
use mamori_core::identity::Permission;
use mamori_core::policy::LockoutPolicy;
use mamori_store::accounts::Account;
use serde::Deserialize;

// ----- detail and actions --------------------------------------------------------------

/// What the detail page shows of an account: never its password hash or
/// its second factor's secret, which stay out of the template's reach.
struct ShownAccount {
    id: i64,
    login: String,
    display_name: String,
    email: String,
    organisation_name: Option<String>,
    totp_enabled: bool,
}

impl From<&Account> for ShownAccount {
    fn from(a: &Account) -> Self {
        ShownAccount {
            id: a.id,
            login: a.login.clone(),
            display_name: a.display_name.clone(),
            email: a.email.clone(),
            organisation_name: a.organisation_name.clone(),
            totp_enabled: a.totp_enabled,
        }
    }
}

#[derive(Template)]
#[template(path = "user_detail.html")]
struct UserDetail<'a> {
    p: PageCtx<'a>,
    a: ShownAccount,
    role: String,
    status: String,
    last_signin: String,
    can_manage: bool,
    actions: Vec<(&'static str, String)>,
    ledger: Vec<LedgerRow>,
    /// None: one account's lines, in the order written.
    headings: Vec<crate::handlers::sorting::Heading>,
    errors: FormErrors,
}

async fn detail_page(page: &Page, user: &CurrentUser, id: i64, errors: FormErrors) -> Reply {
    let a = account_or_404(page, id).await?;
    let ledger: Vec<_> = page.store.ledger_of(id).await?;
    let orgs = page.store.organisations().await?;
    let p = page.ctx().await?;
    let now = page.clock.now();
    let mut actions = Vec::new();
    if a.disabled_at.is_some() {
        actions.push(("enable", p.t.get("users-enable")));
    } else {
        actions.push(("disable", p.t.get("users-disable")));
    }
    if LockoutPolicy::is_locked(a.locked_until, now) {
        actions.push(("unlock", p.t.get("users-unlock")));
    }
    actions.push(("reset-password", p.t.get("users-reset-password")));
    if a.totp_enabled || a.totp_secret.is_some() {
        actions.push(("reset-totp", p.t.get("users-reset-totp")));
    }
    html(UserDetail {
        role: p.t.label(a.role),
        status: status(&p.t, &a, now),
        last_signin: format!("{} {}", jst(a.last_signin_at), a.last_signin_addr.clone().unwrap_or_default()),
        ledger: ledger_rows(&p.t, &orgs, &ledger),
        headings: Vec::new(),
        can_manage: user.can(Permission::ManageAccounts),
        p,
        a: ShownAccount::from(&a),
        actions,
        errors,
    })
}

pub async fn user_detail(page: Page, user: CurrentUser, Path(id): Path<i64>) -> Reply {
    detail_page(&page, &user, id, FormErrors::new()).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReasonForm {
    reason: String,
    new_password: String,
}

#[derive(Debug, Clone, Copy)]
pub enum UserAction {
    Disable,
    Enable,
    Unlock,
    ResetPassword,
    ResetTotp,
}

/// Disable, enable, unlock, reset password, reset second factor: each with
/// a reason, in the ledger and the audit log.
pub async fn user_action(page: Page, who: Acting, id: i64, action: UserAction, form: ReasonForm) -> Reply {
    let user = &who.user;
    let a = account_or_404(&page, id).await?;
    let t = page.t();
    let mut errors = FormErrors::new();
    let reason = check_reason(&t, &form.reason, &mut errors);
    if let UserAction::ResetPassword = action {
        validate_new_password(&page, &t, &a.login, &form.new_password, &form.new_password, &mut errors);
    }
    let Some(reason) = reason.filter(|_| errors.is_empty()) else {
        return detail_page(&page, user, id, errors).await;
    };
    let new_hash = match action {
        UserAction::ResetPassword => Some(
            page.hasher
                .hash(&form.new_password)
                .await
                .ok_or_else(|| AppError::Internal("password hashing failed".into()))?,
        ),
        _ => None,
    };
    let (op_action, flash) = match action {
        UserAction::Disable => (accounts::Action::Disable, "users-disabled"),
        UserAction::Enable => (accounts::Action::Enable, "users-enabled"),
        UserAction::Unlock => (accounts::Action::Unlock, "users-unlocked"),
        UserAction::ResetPassword => {
            (accounts::Action::ResetPassword(new_hash.as_deref().unwrap_or_default()), "users-password-reset")
        }
        UserAction::ResetTotp => (accounts::Action::ResetSecondFactor, "users-totp-reset"),
    };
    let op = who.op(&page);
    match accounts::act(&op, id, op_action, &reason).await {
        Ok(()) => done(&page, flash, &format!("/admin/users/{id}")).await,
        Err(Refused::Invalid("last_administrator")) => {
            errors.add("self", t.get("users-last-administrator"));
            detail_page(&page, user, id, errors).await
        }
        Err(Refused::Invalid("already")) => {
            errors.add("self", t.get("users-already"));
            detail_page(&page, user, id, errors).await
        }
        Err(Refused::Invalid(_)) => {
            errors.add("self", t.get("users-not-self"));
            detail_page(&page, user, id, errors).await
        }
        Err(e) => Err(e.into()),
    }
}

macro_rules! action_handler {
    ($name:ident, $action:expr) => {
        pub async fn $name(page: Page, who: Acting, Path(id): Path<i64>, Form(form): Form<ReasonForm>) -> Reply {
            user_action(page, who, id, $action, form).await
        }
    };
}

action_handler!(disable_user, UserAction::Disable);
action_handler!(enable_user, UserAction::Enable);
action_handler!(unlock_user, UserAction::Unlock);
action_handler!(reset_user_password, UserAction::ResetPassword);
action_handler!(reset_user_totp, UserAction::ResetTotp);
