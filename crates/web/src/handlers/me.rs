//! The signed-in person's own pages: dashboard, my account, password,
//! second-factor enrolment (items 4, 5, 38, 40, 75).

use crate::auth::{self, CurrentUser};
use crate::error::AppError;
use crate::forms::{password_message, FormErrors};
use crate::handlers::{html, jst};
use crate::handlers::{Acting, Reply};
use crate::labels::Label;
use crate::page::{Page, PageCtx};
use crate::session::{self, SignedIn};
use askama::Template;
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use mamori_core::audit::{Action, Changes, NewEvent, Outcome};
use mamori_core::clock::from_unix_micros;
use mamori_core::password::PasswordProblem;
use mamori_core::totp;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    p: PageCtx<'a>,
    role_key: &'static str,
    previous_at: String,
    previous_addr: String,
    password_changed: String,
}

pub async fn account(page: Page, user: CurrentUser) -> Reply {
    let prev = session::previous(&page.session).await?;
    let p = page.ctx().await?;
    let a = user.account();
    html(AccountPage {
        p,
        role_key: a.role.key(),
        previous_at: jst(prev.as_ref().and_then(|p| p.at_us).and_then(from_unix_micros)),
        previous_addr: prev.and_then(|p| p.addr).unwrap_or_default(),
        password_changed: jst(Some(a.password_changed_at)),
    })
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage<'a> {
    p: PageCtx<'a>,
    due: bool,
    errors: FormErrors,
}

pub async fn password_form(page: Page, user: CurrentUser) -> Reply {
    let due = auth::due(&page, user.account()) == Some("/password");
    let p = page.ctx().await?;
    html(PasswordPage { p, due, errors: FormErrors::new() })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
    confirm_password: String,
}

/// Items 4, 5: a new password by the policy, not one of the last five.
/// The current password is checked as at sign-in (item 41): counted in
/// advance towards the lockout, refused unchecked while locked, and a wrong
/// one audited. A change ends every other session of the account.
pub async fn change_password(page: Page, who: Acting, Form(form): Form<PasswordForm>) -> Reply {
    let user = &who.user;
    let a = user.account();
    let t = page.t();
    let mut errors = FormErrors::new();
    let now = page.clock.now();
    let policy = page.config.security.lockout;
    let _one_at_a_time = page.account_lock(a.id).lock().await;
    let checked = match page.store.open_account_attempt(a.id, now, &policy).await? {
        None => None,
        Some(reserved) => Some((reserved, page.hasher.verify(&form.current_password, Some(&a.password_hash)).await)),
    };
    match checked {
        Some((_, true)) => page.store.reset_failures(a.id).await?,
        Some((reserved, false)) => {
            let ev = NewEvent::new(user.actor(), who.origin.clone(), Action::PasswordChanged, Outcome::Failure)
                .target("account", a.id.to_string())
                .changes(Changes::new().with("why", "bad_current_password").with("failures", reserved.failures));
            page.store.audit_record(now, ev).await?;
            if reserved.locks {
                let ev = NewEvent::new(user.actor(), who.origin.clone(), Action::AccountLocked, Outcome::Success)
                    .target("account", a.id.to_string())
                    .changes(
                        Changes::new()
                            .with("failures", reserved.failures)
                            .with("minutes", policy.lock_for.whole_minutes()),
                    );
                page.store.audit_record(now, ev).await?;
            }
            errors.add("current_password", t.get("password-current-wrong"));
        }
        None => errors.add("current_password", t.get("password-locked")),
    }
    crate::forms::validate_new_password(&page, &t, &a.login, &form.new_password, &form.confirm_password, &mut errors);
    if errors.is_empty() {
        let policy = page.config.security.password;
        let history = page.store.password_history(a.id, policy.history).await?;
        for h in &history {
            if page.hasher.verify(&form.new_password, Some(h)).await {
                errors.add("new_password", password_message(&t, PasswordProblem::Reused));
                break;
            }
        }
    }
    if !errors.is_empty() {
        let due = auth::due(&page, a) == Some("/password");
        let p = page.ctx().await?;
        return html(PasswordPage { p, due, errors });
    }
    let ctx = who.ctx(page.clock.now(), user.actor());
    let new_hash = page
        .hasher
        .hash(&form.new_password)
        .await
        .ok_or_else(|| AppError::Internal("password hashing failed".into()))?;
    let generation = page.store.change_own_password(&ctx, a.id, &new_hash).await?;
    // Every other session has ended; this one carries on, with a new id
    // after the change of credentials.
    if let Some(si) = session::signed_in(&page.session).await? {
        session::set_signed_in(&page.session, SignedIn { generation, ..si }).await?;
    }
    page.session.cycle_id().await?;
    session::flash(&page.session, "password-changed").await?;
    let next =
        auth::due(&page, &page.store.account_by_id(a.id).await?.ok_or(AppError::NotFound)?).unwrap_or("/dashboard");
    Ok(Redirect::to(next).into_response())
}

#[derive(Template)]
#[template(path = "totp_enrol.html")]
struct EnrolPage<'a> {
    p: PageCtx<'a>,
    required: bool,
    qr_svg: String,
    secret: String,
    failed: bool,
}

#[derive(Template)]
#[template(path = "totp_codes.html")]
struct CodesPage<'a> {
    p: PageCtx<'a>,
    codes: Vec<String>,
}

/// The QR code as inline SVG: no image service, nothing leaves the server.
fn qr_svg(url: &str) -> Result<String, AppError> {
    let code = qrcode::QrCode::new(url.as_bytes()).map_err(|e| AppError::Internal(format!("qr: {e}")))?;
    Ok(code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).quiet_zone(true).build())
}

async fn enrol_page(page: &Page, user: &CurrentUser, failed: bool) -> Reply {
    let a = user.account();
    // A fresh secret for each enrolment attempt that has none yet.
    let secret = match (&a.totp_secret, failed) {
        (Some(s), _) => s.clone(),
        (None, _) => {
            let s = totp::new_secret();
            page.store.begin_totp_enrolment(a.id, &s).await?;
            s
        }
    };
    let url = totp::otpauth_url(&secret, "mamori", &a.login).ok_or_else(|| AppError::Internal("otpauth url".into()))?;
    let p = page.ctx().await?;
    html(EnrolPage { p, required: a.role.requires_totp(), qr_svg: qr_svg(&url)?, secret, failed })
}

pub async fn totp_enrol_form(page: Page, user: CurrentUser) -> Reply {
    if user.account().totp_enabled {
        session::flash(&page.session, "totp-already").await?;
        return Ok(Redirect::to("/account").into_response());
    }
    enrol_page(&page, &user, false).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    code: String,
}

pub async fn totp_enrol(page: Page, who: Acting, Form(form): Form<CodeForm>) -> Reply {
    let user = &who.user;
    let a = user.account();
    if a.totp_enabled {
        return Ok(Redirect::to("/account").into_response());
    }
    let now = page.clock.now();
    let step = a.totp_secret.as_deref().and_then(|s| totp::matching_step(s, &form.code, now));
    let Some(step) = step else {
        return enrol_page(&page, user, true).await;
    };
    let codes = totp::new_recovery_codes();
    let hashes: Vec<String> = codes.iter().map(|c| totp::recovery_code_hash(c)).collect();
    page.store.confirm_totp(&who.ctx(now, user.actor()), a.id, step, &hashes).await?;
    let p = page.ctx().await?;
    html(CodesPage { p, codes })
}
