//! Accounts, organisations, the ledger (ID管理簿) and the access review
//! (items 1, 3, 6, 7, 37, 64, 65).

use super::signin::{validate_new_password, validate_person, PersonForm};
use super::{html, jst, role_key, Meta};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::export::{self, CsvEncoding};
use crate::forms::FormErrors;
use crate::i18n::Tr;
use crate::page::{Page, PageCtx};
use crate::session;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use mamori_core::audit::{Action, Changes, NewEvent, Outcome};
use mamori_core::identity::{parse_display_name, parse_email, parse_multiline, parse_text, OrgKind, Permission, Role};
use mamori_core::password::hash;
use mamori_core::policy::LockoutPolicy;
use mamori_store::accounts::{Account, NewAccount, Organisation};
use mamori_store::identity::AccountChange;
use mamori_store::StoreError;
use serde::Deserialize;

fn status(t: &Tr, a: &Account, now: time::OffsetDateTime) -> String {
    if a.disabled_at.is_some() {
        t.get("status-disabled")
    } else if LockoutPolicy::is_locked(a.locked_until, now) {
        t.get("status-locked")
    } else {
        t.get("status-active")
    }
}

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

fn rows(state: &AppState, t: &Tr, accounts: &[Account]) -> Vec<UserRow> {
    let now = state.clock.now();
    let review_before = now - state.config.security.inactivity.review_after;
    accounts
        .iter()
        .map(|a| UserRow {
            id: a.id,
            login: a.login.clone(),
            display_name: a.display_name.clone(),
            role: t.get(role_key(a.role)),
            organisation: a.organisation_name.clone().unwrap_or_default(),
            last_signin: jst(a.last_signin_at),
            status: status(t, a, now),
            inactive: a.disabled_at.is_none() && a.last_signin_at.unwrap_or(a.created_at) < review_before,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage<'a> {
    p: PageCtx<'a>,
    rows: Vec<UserRow>,
    can_manage: bool,
}

pub async fn users(State(state): State<AppState>, page: Page, user: CurrentUser) -> Result<Response, AppError> {
    let accounts = state.store.accounts().await?;
    let p = page.ctx(&state).await?;
    let rows = rows(&state, &p.t, &accounts);
    html(UsersPage { p, rows, can_manage: user.can(Permission::ManageAccounts) })
}

// ----- create and edit ---------------------------------------------------------------

#[derive(Default, Deserialize)]
pub struct UserForm {
    #[serde(flatten)]
    person: PersonFormFields,
    #[serde(default)]
    role: String,
    #[serde(default)]
    organisation_id: String,
    #[serde(default)]
    reason: String,
}

/// The person fields, kept apart so that passwords are never shown again.
#[derive(Default, Deserialize)]
struct PersonFormFields {
    #[serde(default)]
    login: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

/// What the form shows again after a failed validation.
pub struct Shown {
    login: String,
    display_name: String,
    email: String,
    role: String,
    organisation_id: String,
    reason: String,
}

impl From<&UserForm> for Shown {
    fn from(f: &UserForm) -> Self {
        Shown {
            login: f.person.login.clone(),
            display_name: f.person.display_name.clone(),
            email: f.person.email.clone(),
            role: f.role.clone(),
            organisation_id: f.organisation_id.clone(),
            reason: f.reason.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "user_form.html")]
struct UserFormPage<'a> {
    p: PageCtx<'a>,
    heading: String,
    action: String,
    is_new: bool,
    form: Shown,
    errors: FormErrors,
    roles: Choices,
    organisations: Choices,
}

/// Options of a select: (value, label).
type Choices = Vec<(String, String)>;

fn choices(t: &Tr, orgs: &[Organisation]) -> (Choices, Choices) {
    let roles = Role::ALL.iter().map(|r| (r.as_str().to_owned(), t.get(role_key(*r)))).collect();
    let orgs = orgs
        .iter()
        .map(|o| {
            let kind = t.get(if o.kind == OrgKind::Vendor { "org-kind-vendor" } else { "org-kind-department" });
            (o.id.to_string(), format!("{} ({kind})", o.name))
        })
        .collect();
    (roles, orgs)
}

async fn form_page(
    state: &AppState,
    page: &Page,
    existing: Option<&Account>,
    form: Shown,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let orgs = state.store.organisations().await?;
    let p = page.ctx(state).await?;
    let (roles, organisations) = choices(&p.t, &orgs);
    let (heading, action) = match existing {
        Some(a) => (p.t.get("users-edit"), format!("/admin/users/{}", a.id)),
        None => (p.t.get("users-new"), "/admin/users".to_owned()),
    };
    html(UserFormPage { p, heading, action, is_new: existing.is_none(), form, errors, roles, organisations })
}

pub async fn new_user_form(State(state): State<AppState>, page: Page) -> Result<Response, AppError> {
    let shown = Shown {
        login: String::new(),
        display_name: String::new(),
        email: String::new(),
        role: Role::Vendor.as_str().to_owned(),
        organisation_id: String::new(),
        reason: String::new(),
    };
    form_page(&state, &page, None, shown, FormErrors::new()).await
}

/// Role and organisation must fit: department staff belong to a
/// department, vendors to a vendor company, everyone else to neither.
fn check_role_org(
    t: &Tr,
    form: &UserForm,
    orgs: &[Organisation],
    errors: &mut FormErrors,
) -> Option<(Role, Option<(i64, String)>)> {
    let Some(role) = Role::parse(&form.role) else {
        errors.add("role", t.get("role-invalid"));
        return None;
    };
    let org = if form.organisation_id.trim().is_empty() {
        None
    } else {
        match form.organisation_id.trim().parse::<i64>().ok().and_then(|id| orgs.iter().find(|o| o.id == id)) {
            Some(o) => Some(o),
            None => {
                errors.add("organisation_id", t.get("organisation-invalid"));
                return None;
            }
        }
    };
    match (role.organisation_kind(), org) {
        (Some(kind), Some(o)) if o.kind == kind => Some((role, Some((o.id, o.name.clone())))),
        (None, None) => Some((role, None)),
        (Some(OrgKind::Vendor), _) => {
            errors.add("organisation_id", t.get("organisation-need-vendor"));
            None
        }
        (Some(OrgKind::Department), _) => {
            errors.add("organisation_id", t.get("organisation-need-department"));
            None
        }
        (None, Some(_)) => {
            errors.add("organisation_id", t.get("organisation-none-for-role"));
            None
        }
    }
}

fn check_reason(t: &Tr, reason: &str, errors: &mut FormErrors) -> Option<String> {
    errors.check(t, "reason", "field-reason", parse_multiline(reason, 1, 500))
}

pub async fn create_user(
    State(state): State<AppState>,
    page: Page,
    meta: Meta,
    user: CurrentUser,
    Form(form): Form<UserForm>,
) -> Result<Response, AppError> {
    let t = state.i18n.tr(page.lang);
    let orgs = state.store.organisations().await?;
    let mut errors = FormErrors::new();
    let person = PersonForm {
        login: form.person.login.clone(),
        display_name: form.person.display_name.clone(),
        email: form.person.email.clone(),
        new_password: form.person.new_password.clone(),
        confirm_password: form.person.confirm_password.clone(),
    };
    let valid = validate_person(&state, &t, &person, &mut errors);
    let role_org = check_role_org(&t, &form, &orgs, &mut errors);
    let reason = check_reason(&t, &form.reason, &mut errors);
    if let (Some((login, display_name, email)), Some((role, org)), Some(reason), true) =
        (valid, role_org, reason, errors.is_empty())
    {
        let new = NewAccount {
            login,
            display_name,
            email,
            role,
            organisation_id: org.map(|(id, _)| id),
            password_hash: hash::hash(&form.person.new_password),
            must_change_password: true,
        };
        match state.store.issue_account(&meta.ctx(state.clock.now(), user.actor()), &new, &reason).await {
            Ok(id) => {
                session::flash(&page.session, "users-created").await?;
                return Ok(Redirect::to(&format!("/admin/users/{id}")).into_response());
            }
            Err(StoreError::Conflict) => errors.add("login", t.get("login-taken")),
            Err(e) => return Err(e.into()),
        }
    }
    form_page(&state, &page, None, Shown::from(&form), errors).await
}

async fn account_or_404(state: &AppState, id: i64) -> Result<Account, AppError> {
    state.store.account_by_id(id).await?.ok_or(AppError::NotFound)
}

pub async fn edit_user_form(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let a = account_or_404(&state, id).await?;
    let shown = Shown {
        login: a.login.clone(),
        display_name: a.display_name.clone(),
        email: a.email.clone(),
        role: a.role.as_str().to_owned(),
        organisation_id: a.organisation_id.map(|o| o.to_string()).unwrap_or_default(),
        reason: String::new(),
    };
    form_page(&state, &page, Some(&a), shown, FormErrors::new()).await
}

/// Items 6, 7: a change of role or organisation ends the person's sessions
/// at once, and is in the ledger with its reason.
pub async fn update_user(
    State(state): State<AppState>,
    page: Page,
    meta: Meta,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<UserForm>,
) -> Result<Response, AppError> {
    let a = account_or_404(&state, id).await?;
    let t = state.i18n.tr(page.lang);
    let orgs = state.store.organisations().await?;
    let mut errors = FormErrors::new();
    let name = errors.check(&t, "display_name", "field-display-name", parse_display_name(&form.person.display_name));
    let email = errors.check(&t, "email", "field-email", parse_email(&form.person.email));
    let role_org = check_role_org(&t, &form, &orgs, &mut errors);
    let reason = check_reason(&t, &form.reason, &mut errors);
    if let Some((role, _)) = &role_org {
        if a.id == user.account().id && *role != a.role {
            errors.add("role", t.get("users-not-self"));
        }
    }
    if let (Some(name), Some(email), Some((role, org)), Some(reason), true) =
        (name, email, role_org, reason, errors.is_empty())
    {
        let ctx = meta.ctx(state.clock.now(), user.actor());
        let change = AccountChange {
            display_name: &name,
            email: &email,
            role,
            organisation: org.as_ref().map(|(i, n)| (*i, n.as_str())),
        };
        state.store.change_account(&ctx, &a, &change, &reason).await?;
        session::flash(&page.session, "users-saved").await?;
        return Ok(Redirect::to(&format!("/admin/users/{id}")).into_response());
    }
    let mut shown = Shown::from(&form);
    shown.login = a.login.clone();
    form_page(&state, &page, Some(&a), shown, errors).await
}

// ----- detail and actions --------------------------------------------------------------

pub struct LedgerRow {
    at: String,
    login: String,
    change: String,
    before: String,
    after: String,
    actor: String,
    reason: String,
}

fn ledger_rows(t: &Tr, entries: &[mamori_store::accounts::LedgerEntry]) -> Vec<LedgerRow> {
    entries
        .iter()
        .map(|e| LedgerRow {
            at: jst(Some(e.at)),
            login: e.account_login.clone(),
            change: t.get(&format!("ledger-change-{}", e.change)),
            before: e.before.clone(),
            after: e.after.clone(),
            actor: e.actor_login.clone(),
            reason: e.reason.clone(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "user_detail.html")]
struct UserDetail<'a> {
    p: PageCtx<'a>,
    a: Account,
    role: String,
    status: String,
    last_signin: String,
    can_manage: bool,
    actions: Vec<(&'static str, String)>,
    ledger: Vec<LedgerRow>,
    errors: FormErrors,
}

async fn detail_page(
    state: &AppState,
    page: &Page,
    user: &CurrentUser,
    id: i64,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let a = account_or_404(state, id).await?;
    let ledger: Vec<_> = state.store.ledger().await?.into_iter().filter(|e| e.account_id == id).collect();
    let p = page.ctx(state).await?;
    let now = state.clock.now();
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
        role: p.t.get(role_key(a.role)),
        status: status(&p.t, &a, now),
        last_signin: format!("{} {}", jst(a.last_signin_at), a.last_signin_addr.clone().unwrap_or_default()),
        ledger: ledger_rows(&p.t, &ledger),
        can_manage: user.can(Permission::ManageAccounts),
        p,
        a,
        actions,
        errors,
    })
}

pub async fn user_detail(
    State(state): State<AppState>,
    page: Page,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    detail_page(&state, &page, &user, id, FormErrors::new()).await
}

#[derive(Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
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
pub async fn user_action(
    state: AppState,
    page: Page,
    meta: Meta,
    user: CurrentUser,
    id: i64,
    action: UserAction,
    form: ReasonForm,
) -> Result<Response, AppError> {
    let a = account_or_404(&state, id).await?;
    let t = state.i18n.tr(page.lang);
    let mut errors = FormErrors::new();
    let reason = check_reason(&t, &form.reason, &mut errors);
    if a.id == user.account().id && matches!(action, UserAction::Disable | UserAction::ResetTotp) {
        errors.add("self", t.get("users-not-self"));
    }
    if let UserAction::ResetPassword = action {
        validate_new_password(&state, &t, &a.login, &form.new_password, &form.new_password, &mut errors);
    }
    let Some(reason) = reason.filter(|_| errors.is_empty()) else {
        return detail_page(&state, &page, &user, id, errors).await;
    };
    let ctx = meta.ctx(state.clock.now(), user.actor());
    let store = &state.store;
    let flash = match action {
        UserAction::Disable => store.set_account_disabled(&ctx, id, true, &reason).await.map(|()| "users-disabled"),
        UserAction::Enable => store.set_account_disabled(&ctx, id, false, &reason).await.map(|()| "users-enabled"),
        UserAction::Unlock => store.unlock_account(&ctx, id, &reason).await.map(|()| "users-unlocked"),
        UserAction::ResetPassword => store
            .reset_password(&ctx, id, &hash::hash(&form.new_password), &reason)
            .await
            .map(|()| "users-password-reset"),
        UserAction::ResetTotp => store.reset_totp(&ctx, id, &reason).await.map(|()| "users-totp-reset"),
    }?;
    session::flash(&page.session, flash).await?;
    Ok(Redirect::to(&format!("/admin/users/{id}")).into_response())
}

macro_rules! action_handler {
    ($name:ident, $action:expr) => {
        pub async fn $name(
            State(state): State<AppState>,
            page: Page,
            meta: Meta,
            user: CurrentUser,
            Path(id): Path<i64>,
            Form(form): Form<ReasonForm>,
        ) -> Result<Response, AppError> {
            user_action(state, page, meta, user, id, $action, form).await
        }
    };
}

action_handler!(disable_user, UserAction::Disable);
action_handler!(enable_user, UserAction::Enable);
action_handler!(unlock_user, UserAction::Unlock);
action_handler!(reset_user_password, UserAction::ResetPassword);
action_handler!(reset_user_totp, UserAction::ResetTotp);

// ----- organisations -------------------------------------------------------------------

pub struct OrgRow {
    name: String,
    kind: String,
    contact: String,
}

#[derive(Default, Deserialize)]
pub struct OrgForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    contact: String,
}

#[derive(Template)]
#[template(path = "organisations.html")]
struct OrgsPage<'a> {
    p: PageCtx<'a>,
    orgs: Vec<OrgRow>,
    form: OrgForm,
    errors: FormErrors,
}

async fn orgs_page(state: &AppState, page: &Page, form: OrgForm, errors: FormErrors) -> Result<Response, AppError> {
    let orgs = state.store.organisations().await?;
    let p = page.ctx(state).await?;
    let orgs = orgs
        .into_iter()
        .map(|o| OrgRow {
            kind: p.t.get(if o.kind == OrgKind::Vendor { "org-kind-vendor" } else { "org-kind-department" }),
            name: o.name,
            contact: o.contact,
        })
        .collect();
    html(OrgsPage { p, orgs, form, errors })
}

pub async fn organisations(State(state): State<AppState>, page: Page) -> Result<Response, AppError> {
    orgs_page(&state, &page, OrgForm { kind: "vendor".into(), ..OrgForm::default() }, FormErrors::new()).await
}

pub async fn create_organisation(
    State(state): State<AppState>,
    page: Page,
    meta: Meta,
    user: CurrentUser,
    Form(form): Form<OrgForm>,
) -> Result<Response, AppError> {
    let t = state.i18n.tr(page.lang);
    let mut errors = FormErrors::new();
    let name = errors.check(&t, "name", "field-org-name", parse_text(&form.name, 1, 100));
    let contact = errors.check(&t, "contact", "field-org-contact", parse_text(&form.contact, 0, 200));
    let kind = OrgKind::parse(&form.kind);
    if kind.is_none() {
        errors.add("kind", t.get("org-kind-invalid"));
    }
    if let (Some(name), Some(contact), Some(kind), true) = (name, contact, kind, errors.is_empty()) {
        match state
            .store
            .create_organisation_audited(&meta.ctx(state.clock.now(), user.actor()), &name, kind, &contact)
            .await
        {
            Ok(_) => {
                session::flash(&page.session, "orgs-created").await?;
                return Ok(Redirect::to("/admin/organisations").into_response());
            }
            Err(StoreError::Conflict) => errors.add("name", t.get("org-name-taken")),
            Err(e) => return Err(e.into()),
        }
    }
    orgs_page(&state, &page, form, errors).await
}

// ----- ledger -------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "ledger.html")]
struct LedgerPage<'a> {
    p: PageCtx<'a>,
    ledger: Vec<LedgerRow>,
}

pub async fn ledger(State(state): State<AppState>, page: Page) -> Result<Response, AppError> {
    let entries = state.store.ledger().await?;
    let p = page.ctx(&state).await?;
    let ledger = ledger_rows(&p.t, &entries);
    html(LedgerPage { p, ledger })
}

fn ledger_table(t: &Tr, entries: &[mamori_store::accounts::LedgerEntry]) -> (Vec<String>, Vec<Vec<String>>) {
    let headers =
        ["ledger-at", "field-login", "ledger-change", "ledger-before", "ledger-after", "ledger-actor", "field-reason"]
            .iter()
            .map(|k| t.get(k))
            .collect();
    let rows = ledger_rows(t, entries)
        .into_iter()
        .map(|r| vec![r.at, r.login, r.change, r.before, r.after, r.actor, r.reason])
        .collect();
    (headers, rows)
}

async fn audit_export(state: &AppState, meta: &Meta, user: &CurrentUser, format: &str) -> Result<(), AppError> {
    let ev = NewEvent::new(user.actor(), meta.0.clone(), Action::LedgerExported, Outcome::Success)
        .changes(Changes::new().with("format", format));
    state.store.audit_record(state.clock.now(), ev).await?;
    Ok(())
}

#[derive(Deserialize)]
pub struct CsvQuery {
    encoding: Option<String>,
}

pub async fn ledger_csv(
    State(state): State<AppState>,
    page: Page,
    meta: Meta,
    user: CurrentUser,
    q: Query<CsvQuery>,
) -> Result<Response, AppError> {
    let t = state.i18n.tr(page.lang);
    let (headers, rows) = ledger_table(&t, &state.store.ledger().await?);
    let enc = CsvEncoding::from_query(q.encoding.as_deref());
    audit_export(&state, &meta, &user, if enc == CsvEncoding::ShiftJis { "csv-sjis" } else { "csv" }).await?;
    Ok(export::csv_response(&format!("{}.csv", t.get("ledger-file")), &headers, &rows, enc))
}

pub async fn ledger_xlsx(
    State(state): State<AppState>,
    page: Page,
    meta: Meta,
    user: CurrentUser,
) -> Result<Response, AppError> {
    let t = state.i18n.tr(page.lang);
    let (headers, rows) = ledger_table(&t, &state.store.ledger().await?);
    let bytes = export::xlsx_bytes(&t.get("ledger-file"), &headers, &rows)
        .map_err(|e| AppError::Internal(format!("xlsx: {e}")))?;
    audit_export(&state, &meta, &user, "xlsx").await?;
    Ok(export::xlsx_response(&format!("{}.xlsx", t.get("ledger-file")), bytes))
}

// ----- access review ------------------------------------------------------------------------

pub struct ReviewRow {
    at: String,
    reviewer: String,
    accounts: i64,
    comment: String,
}

#[derive(Template)]
#[template(path = "access_review.html")]
struct ReviewPage<'a> {
    p: PageCtx<'a>,
    rows: Vec<UserRow>,
    reviews: Vec<ReviewRow>,
    inactive_days: String,
    can_sign: bool,
    comment: String,
    errors: FormErrors,
}

async fn review_page(
    state: &AppState,
    page: &Page,
    user: &CurrentUser,
    comment: String,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let accounts = state.store.accounts().await?;
    let reviews = state.store.access_reviews().await?;
    let p = page.ctx(state).await?;
    let rows = rows(state, &p.t, &accounts);
    let reviews = reviews
        .into_iter()
        .map(|r| ReviewRow {
            at: jst(Some(r.reviewed_at)),
            reviewer: r.reviewer_login,
            accounts: r.accounts,
            comment: r.comment,
        })
        .collect();
    html(ReviewPage {
        p,
        rows,
        reviews,
        inactive_days: state.config.security.inactivity.review_after.whole_days().to_string(),
        can_sign: user.can(Permission::ReviewAccess),
        comment,
        errors,
    })
}

pub async fn access_review(State(state): State<AppState>, page: Page, user: CurrentUser) -> Result<Response, AppError> {
    review_page(&state, &page, &user, String::new(), FormErrors::new()).await
}

#[derive(Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    comment: String,
}

pub async fn sign_off_review(
    State(state): State<AppState>,
    page: Page,
    meta: Meta,
    user: CurrentUser,
    Form(form): Form<ReviewForm>,
) -> Result<Response, AppError> {
    let t = state.i18n.tr(page.lang);
    let mut errors = FormErrors::new();
    let Some(comment) = errors.check(&t, "comment", "review-comment", parse_multiline(&form.comment, 1, 2000)) else {
        return review_page(&state, &page, &user, form.comment, errors).await;
    };
    let n = state.store.accounts().await?.len() as i64;
    state
        .store
        .sign_off_access_review(&meta.ctx(state.clock.now(), user.actor()), user.account().id, n, &comment)
        .await?;
    session::flash(&page.session, "review-signed").await?;
    Ok(Redirect::to("/admin/access-review").into_response())
}
