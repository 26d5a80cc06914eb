//! The signed-in person's own pages: dashboard, my account, password,
//! second-factor enrolment (items 4, 5, 38, 40, 75).

use crate::auth::{self, CurrentUser};
use crate::error::AppError;
use crate::forms::{password_message, FormErrors};
use crate::handlers::{html, jst};
use crate::handlers::{Acting, Reply};
use crate::i18n::Label;
use crate::page::{Page, PageCtx};
use crate::session::{self, SignedIn};
use askama::Template;
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use mamori_app::credentials::{self, Current};
use mamori_app::Refused;
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
    /// Unused recovery codes, with the second factor on.
    recovery_left: Option<i64>,
}

pub async fn account(page: Page, user: CurrentUser) -> Reply {
    let prev = session::previous(&page.session).await?;
    let p = page.ctx().await?;
    let a = user.account();
    let recovery_left = if a.totp_enabled { Some(page.store.recovery_codes_left(a.id).await?) } else { None };
    html(AccountPage {
        p,
        role_key: a.role.key(),
        previous_at: jst(prev.as_ref().and_then(|p| p.at_us).and_then(from_unix_micros)),
        previous_addr: prev.and_then(|p| p.addr).unwrap_or_default(),
        password_changed: jst(Some(a.password_changed_at)),
        recovery_left,
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

/// Items 4, 5: a new password by the policy, not one of the last five,
/// after the current one ([`credentials::check_current`]). A change ends
/// every other session of the account.
pub async fn change_password(page: Page, who: Acting, Form(form): Form<PasswordForm>) -> Reply {
    let a = who.user.account();
    let t = page.t();
    let mut errors = FormErrors::new();
    let op = who.op(&page);
    let lockout = page.config.security.lockout;
    // In a task of its own, so that it goes to its end even when the
    // request is given up: the failure is counted in advance, and its
    // event and the lock are written after the check.
    let check = {
        let (store, hasher, person, origin, now) =
            (page.store.clone(), page.hasher.clone(), who.person.clone(), op.origin.clone(), op.now);
        let (a, current) = (a.clone(), form.current_password.clone());
        tokio::spawn(async move {
            let op = mamori_app::Op { store: &store, who: &person, origin, now };
            credentials::check_current(&op, &hasher, &lockout, &a, &current).await
        })
    };
    let current = check.await.map_err(|_| AppError::Internal("the password check stopped".into()))??;
    match current {
        Current::Right => {}
        Current::Wrong => errors.add("current_password", t.get("password-current-wrong")),
        Current::Locked => errors.add("current_password", t.get("password-locked")),
    }
    crate::forms::validate_new_password(&page, &t, &a.login, &form.new_password, &form.confirm_password, &mut errors);
    let mut generation = None;
    if errors.is_empty() {
        let history = page.config.security.password.history;
        generation = match credentials::change_password(&op, &page.hasher, history, a, &form.new_password).await {
            Err(Refused::Stale) => return ended_meanwhile(&page).await,
            changed => changed?,
        };
        if generation.is_none() {
            errors.add("new_password", password_message(&t, PasswordProblem::Reused));
        }
    }
    let Some(generation) = generation else {
        let due = auth::due(&page, a) == Some("/password");
        let p = page.ctx().await?;
        return html(PasswordPage { p, due, errors });
    };
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

/// Item 46: ends every other session of the person's account; this one
/// carries on, with a new id.
pub async fn end_other_sessions(page: Page, who: Acting) -> Reply {
    let generation = match credentials::end_other_sessions(&who.op(&page), who.user.account()).await {
        Err(Refused::Stale) => return ended_meanwhile(&page).await,
        ended => ended?,
    };
    if let Some(si) = session::signed_in(&page.session).await? {
        session::set_signed_in(&page.session, SignedIn { generation, ..si }).await?;
    }
    page.session.cycle_id().await?;
    session::flash(&page.session, "sessions-ended").await?;
    Ok(Redirect::to("/account").into_response())
}

/// The session the request came in was ended while it ran (the password
/// changed, or the account's sessions ended, elsewhere): it ends here too,
/// and takes up nothing.
async fn ended_meanwhile(page: &Page) -> Reply {
    page.session.flush().await?;
    Ok(Redirect::to("/login").into_response())
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

/// The secret this session's enrolment waits with, begun now if none is.
async fn enrolment_secret(page: &Page, who: &Acting) -> Result<String, AppError> {
    let op = who.op(page);
    let kept = session::pending_totp(&page.session).await?;
    if let Some(secret) = kept.and_then(|sealed| credentials::pending_enrolment(&op, &sealed)) {
        return Ok(secret);
    }
    let (secret, sealed) = credentials::new_enrolment(&op);
    session::set_pending_totp(&page.session, &sealed).await?;
    Ok(secret)
}

async fn enrol_page(page: &Page, who: &Acting, failed: bool) -> Reply {
    let a = who.user.account();
    let secret = enrolment_secret(page, who).await?;
    let url = totp::otpauth_url(&secret, "mamori", &a.login).ok_or_else(|| AppError::Internal("otpauth url".into()))?;
    let p = page.ctx().await?;
    let required = page.config.security.second_factor.required(a.role);
    html(EnrolPage { p, required, qr_svg: qr_svg(&url)?, secret, failed })
}

pub async fn totp_enrol_form(page: Page, who: Acting) -> Reply {
    if who.user.account().totp_enabled {
        session::flash(&page.session, "totp-already").await?;
        return Ok(Redirect::to("/account").into_response());
    }
    enrol_page(&page, &who, false).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    code: String,
}

pub async fn totp_enrol(page: Page, who: Acting, Form(form): Form<CodeForm>) -> Reply {
    let a = who.user.account();
    if a.totp_enabled {
        // The form's page says it is done (the second of a double click).
        return Ok(Redirect::to("/account/totp").into_response());
    }
    let secret = enrolment_secret(&page, &who).await?;
    let (codes, generation) = match credentials::confirm_enrolment(&who.op(&page), a, &secret, &form.code).await {
        Ok(Some(confirmed)) => confirmed,
        Ok(None) => return enrol_page(&page, &who, true).await,
        // Confirmed meanwhile (the button pressed twice): the codes are
        // those the first confirmation showed. The form's page says it is
        // done: a message set here could be lost, the session being saved
        // at the same moment by the confirmation that landed.
        Err(mamori_app::Refused::Stale) => return Ok(Redirect::to("/account/totp").into_response()),
        Err(e) => return Err(e.into()),
    };
    // Every other session has ended; this one carries on, with a new id
    // now that the account has its second factor.
    session::clear_pending_totp(&page.session).await?;
    if let Some(si) = session::signed_in(&page.session).await? {
        session::set_signed_in(&page.session, SignedIn { generation, ..si }).await?;
    }
    page.session.cycle_id().await?;
    let p = page.ctx().await?;
    html(CodesPage { p, codes })
}

/// Item 75: new recovery codes for a person whose second factor is on,
/// given a code from the authenticator ([`credentials::renew_recovery_codes`]);
/// shown once, as at enrolment.
pub async fn renew_recovery_codes(page: Page, who: Acting, Form(form): Form<CodeForm>) -> Reply {
    let a = who.user.account();
    if !a.totp_enabled {
        return Ok(Redirect::to("/account/totp").into_response());
    }
    let op = who.op(&page);
    let lockout = page.config.security.lockout;
    // In a task of its own, as the password's check: the failure is counted
    // in advance, and its event and the lock are written after the check.
    let renewal = {
        let (store, hasher, person, origin, now) =
            (page.store.clone(), page.hasher.clone(), who.person.clone(), op.origin.clone(), op.now);
        let (a, code) = (a.clone(), form.code);
        tokio::spawn(async move {
            let op = mamori_app::Op { store: &store, who: &person, origin, now };
            credentials::renew_recovery_codes(&op, &hasher, &lockout, &a, &code).await
        })
    };
    let flash = match renewal.await.map_err(|_| AppError::Internal("the code check stopped".into()))?? {
        credentials::Renewal::Renewed(codes) => {
            let p = page.ctx().await?;
            return html(CodesPage { p, codes });
        }
        credentials::Renewal::Wrong => "recovery-wrong",
        credentials::Renewal::Locked => "password-locked",
    };
    session::flash(&page.session, flash).await?;
    Ok(Redirect::to("/account").into_response())
}
