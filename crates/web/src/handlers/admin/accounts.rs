//! The account list, and issuing and changing an account (items 1, 3, 6).

//! Accounts, organisations, the ledger (ID管理簿) and the access review
//! (items 1, 3, 6, 7, 37, 64, 65).

use super::{account_or_404, check_reason, rows, UserRow};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::forms::FormErrors;
use crate::forms::{validate_person, PersonForm};
use crate::handlers::pager::Pager;
use crate::handlers::sorting::{headings, sort_rows, Heading, SortQuery};
use crate::handlers::{done, html};
use crate::handlers::{Acting, Reply};
use crate::i18n::Tr;
use crate::page::{Page, PageCtx};
use askama::Template;
use axum::extract::Path;
use axum::extract::Query;
use axum::Form;
use mamori_app::{accounts, Refused};
use mamori_core::identity::{parse_display_name, parse_email, OrgKind, Permission, Role};
use mamori_store::accounts::{Account, NewAccount, Organisation};
use mamori_store::identity::AccountChange;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage<'a> {
    p: PageCtx<'a>,
    rows: Vec<UserRow>,
    headings: Vec<Heading>,
    pager: Pager,
    can_manage: bool,
}

/// The columns the account list sorts by: query value and heading key.
const COLUMNS: [(&str, &str); 6] = [
    ("login", "field-login"),
    ("name", "field-display-name"),
    ("role", "field-role"),
    ("organisation", "field-organisation"),
    ("signin", "users-last-signin"),
    ("status", "users-status"),
];

pub async fn users(page: Page, user: CurrentUser, Query(q): Query<SortQuery>) -> Reply {
    let accounts = page.store.accounts().await?;
    let p = page.ctx().await?;
    let mut all = rows(&page, &p.t, &accounts);
    let desc = q.desc();
    match q.sort.as_str() {
        "login" => sort_rows(&mut all, desc, |r| r.login.clone()),
        "name" => sort_rows(&mut all, desc, |r| r.display_name.clone()),
        "role" => sort_rows(&mut all, desc, |r| r.role.clone()),
        "organisation" => sort_rows(&mut all, desc, |r| r.organisation.clone()),
        "signin" => sort_rows(&mut all, desc, |r| r.last_signin.clone()),
        "status" => sort_rows(&mut all, desc, |r| r.status.clone()),
        _ => {}
    }
    let headings = headings(&p.t, "/admin/users", &COLUMNS, &q.sort, desc, "");
    let pager = Pager::new(&q.page, all.len(), &q.order()).at("/admin/users");
    let rows = pager.slice(&all).to_vec();
    html(UsersPage { p, rows, headings, pager, can_manage: user.can(Permission::ManageAccounts) })
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
    /// The edit mark of the account the form showed (see `Account::edit_mark`).
    #[serde(default)]
    seen: String,
}

/// The person fields, kept apart so that passwords are never shown again.
#[derive(Default, Deserialize)]
#[serde(default)]
struct PersonFormFields {
    login: String,
    display_name: String,
    email: String,
    new_password: String,
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
    seen: String,
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
            seen: f.seen.clone(),
        }
    }
}

impl Shown {
    /// The account as it is stored, with the reason typed so far.
    fn account(a: &Account, reason: String) -> Self {
        Shown {
            login: a.login.clone(),
            display_name: a.display_name.clone(),
            email: a.email.clone(),
            role: a.role.as_str().to_owned(),
            organisation_id: a.organisation_id.map(|o| o.to_string()).unwrap_or_default(),
            reason,
            seen: a.edit_mark(),
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
    let roles = Role::ALL.iter().map(|r| (r.as_str().to_owned(), t.label(*r))).collect();
    let orgs = orgs
        .iter()
        .map(|o| {
            let kind = t.label(o.kind);
            (o.id.to_string(), format!("{} ({kind})", o.name))
        })
        .collect();
    (roles, orgs)
}

async fn form_page(page: &Page, existing: Option<&Account>, form: Shown, errors: FormErrors) -> Reply {
    let orgs = page.store.organisations().await?;
    let p = page.ctx().await?;
    let (roles, organisations) = choices(&p.t, &orgs);
    let (heading, action) = match existing {
        Some(a) => (p.t.get("users-edit"), format!("/admin/users/{}", a.id)),
        None => (p.t.get("users-new"), "/admin/users".to_owned()),
    };
    html(UserFormPage { p, heading, action, is_new: existing.is_none(), form, errors, roles, organisations })
}

pub async fn new_user_form(page: Page) -> Reply {
    let shown = Shown {
        login: String::new(),
        display_name: String::new(),
        email: String::new(),
        role: Role::Vendor.as_str().to_owned(),
        organisation_id: String::new(),
        reason: String::new(),
        seen: String::new(),
    };
    form_page(&page, None, shown, FormErrors::new()).await
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

pub async fn create_user(page: Page, who: Acting, Form(form): Form<UserForm>) -> Reply {
    let t = page.t();
    let orgs = page.store.organisations().await?;
    let mut errors = FormErrors::new();
    let person = PersonForm {
        login: form.person.login.clone(),
        display_name: form.person.display_name.clone(),
        email: form.person.email.clone(),
        new_password: form.person.new_password.clone(),
        confirm_password: form.person.confirm_password.clone(),
    };
    let valid = validate_person(&page, &t, &person, &mut errors);
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
            password_hash: page
                .hasher
                .hash(&form.person.new_password)
                .await
                .ok_or_else(|| AppError::Internal("password hashing failed".into()))?,
            must_change_password: true,
        };
        let op = who.op(&page);
        match accounts::issue(&op, &new, &reason).await {
            Ok(id) => return done(&page, "users-created", &format!("/admin/users/{id}")).await,
            Err(Refused::Taken) => errors.add("login", t.get("login-taken")),
            Err(e) => return Err(e.into()),
        }
    }
    form_page(&page, None, Shown::from(&form), errors).await
}

pub async fn edit_user_form(page: Page, Path(id): Path<i64>) -> Reply {
    let a = account_or_404(&page, id).await?;
    form_page(&page, Some(&a), Shown::account(&a, String::new()), FormErrors::new()).await
}

/// Items 6, 7: a change of role or organisation ends the person's sessions
/// at once, and is in the ledger with its reason.
pub async fn update_user(page: Page, who: Acting, Path(id): Path<i64>, Form(form): Form<UserForm>) -> Reply {
    let a = account_or_404(&page, id).await?;
    let t = page.t();
    let orgs = page.store.organisations().await?;
    let mut errors = FormErrors::new();
    let name = errors.check(&t, "display_name", "field-display-name", parse_display_name(&form.person.display_name));
    let email = errors.check(&t, "email", "field-email", parse_email(&form.person.email));
    let role_org = check_role_org(&t, &form, &orgs, &mut errors);
    let reason = check_reason(&t, &form.reason, &mut errors);
    if let (Some(name), Some(email), Some((role, org)), Some(reason), true) =
        (name, email, role_org, reason, errors.is_empty())
    {
        let change = AccountChange {
            display_name: &name,
            email: &email,
            role,
            organisation: org.as_ref().map(|(i, n)| (*i, n.as_str())),
            seen: &form.seen,
        };
        let op = who.op(&page);
        match accounts::change(&op, a.id, &change, &reason).await {
            Ok(()) => return done(&page, "users-saved", &format!("/admin/users/{id}")).await,
            Err(Refused::Invalid("last_administrator")) => errors.add("role", t.get("users-last-administrator")),
            Err(Refused::Invalid(_)) => errors.add("role", t.get("users-not-self")),
            Err(Refused::Stale) => {
                // Changed by someone else since the form was shown: nothing
                // is saved; the form shows the account as it is now.
                let now = account_or_404(&page, id).await?;
                errors.add("display_name", t.get("users-changed-meanwhile"));
                return form_page(&page, Some(&now), Shown::account(&now, form.reason), errors).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut shown = Shown::from(&form);
    shown.login = a.login.clone();
    form_page(&page, Some(&a), shown, errors).await
}
