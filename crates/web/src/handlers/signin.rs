//! Sign-in, second factor, sign-out, first-run setup, language (items 2,
//! 36, 39, 41, 42, 46, 67, 75).

use super::{html, local_path, Meta};
use crate::auth::{self, CurrentUser};
use crate::error::AppError;
use crate::forms::{validate_person, FormErrors, PersonForm};
use crate::page::{Page, PageCtx};
use crate::session::{self, Pending, PreviousSignin, SignedIn};
use crate::{csrf, AppState};
use askama::Template;
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use mamori_core::audit::{Action, Actor, Changes, NewEvent, Outcome};
use mamori_core::clock::{from_unix_micros, to_unix_micros};
use mamori_core::identity::{Login, Role};
use mamori_core::totp;
use mamori_store::accounts::{Account, Gate, NewAccount, Reserved};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use time::Duration;

/// How long a password accepted at the first step waits for the second factor.
const PENDING_FOR: Duration = Duration::minutes(5);

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    p: PageCtx<'a>,
    login: String,
    failed: bool,
    expired: bool,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    expired: Option<String>,
}

pub async fn login_form(page: Page, q: Query<LoginQuery>) -> Result<Response, AppError> {
    if page.user.is_some() {
        return Ok(Redirect::to("/dashboard").into_response());
    }
    let p = page.ctx_form().await?;
    html(LoginPage { p, login: String::new(), failed: false, expired: q.expired.is_some() })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    login: String,
    password: String,
}

/// Why a sign-in failed: recorded, never shown (item 39: one message for all).
#[derive(Debug, Clone, Copy)]
enum Failure {
    Unknown,
    BadPassword,
    Locked,
    Disabled,
    BadCode,
}

impl Failure {
    fn as_str(self) -> &'static str {
        match self {
            Failure::Unknown => "unknown_login",
            Failure::BadPassword => "bad_password",
            Failure::Locked => "locked",
            Failure::Disabled => "disabled",
            Failure::BadCode => "bad_code",
        }
    }
}

/// Items 39, 41: whether to check the password is decided first, in the
/// database, atomically with the lockout and throttle counts; a refusal
/// checks nothing and is padded to the time of a check. The check itself
/// runs off the async workers ([`crate::hashing`]).
pub async fn login(page: Page, meta: Meta, Form(form): Form<LoginForm>) -> Result<Response, AppError> {
    let started = std::time::Instant::now();
    let now = page.clock.now();
    let addr = meta.addr();
    let typed: String = form.login.trim().chars().take(Login::MAX).collect();
    let policy = page.config.security.lockout;
    let account = match Login::parse(&typed) {
        Ok(l) => page.store.account_by_login(l.as_str()).await?,
        Err(_) => None,
    };
    // What the records say of the typed ID: the account's login, or a keyed
    // hash of an ID that matches none (people type passwords there).
    let recorded = match &account {
        Some(a) => a.login.clone(),
        None => crate::hashing::login_digest(page.hasher.login_key(&page.store).await?, &typed),
    };
    let gate = page.store.open_signin_attempt(now, &addr, &recorded, account.as_ref().map(|a| a.id), &policy).await?;
    let (attempt, reserved) = match gate {
        Gate::Throttled => {
            page.refused(&addr, "signin_throttled", "/login").await;
            page.hasher.pad(started).await;
            return refuse(&page, typed).await;
        }
        Gate::Locked { .. } => {
            fail_sign_in(&page, &meta, account.as_ref(), &recorded, Failure::Locked, None).await?;
            page.hasher.pad(started).await;
            return refuse(&page, typed).await;
        }
        Gate::Evaluate { attempt, reserved } => (attempt, reserved),
    };
    let ok = page.hasher.verify(&form.password, account.as_ref().map(|a| a.password_hash.as_str())).await;
    let outcome = match &account {
        None => Err(Failure::Unknown),
        Some(a) if a.disabled_at.is_some() => Err(Failure::Disabled),
        Some(_) if !ok => Err(Failure::BadPassword),
        Some(_) => Ok(()),
    };
    match (outcome, account) {
        (Ok(()), Some(a)) => {
            page.store.attempt_succeeded(attempt).await?;
            if a.totp_enabled {
                // The password was right: its failure counted in advance is
                // taken back; the second factor counts on its own.
                page.store.refund_failure(a.id, policy.max_failures).await?;
                page.session.cycle_id().await?;
                session::set_pending(
                    &page.session,
                    Pending { account_id: a.id, generation: a.session_generation, since_us: to_unix_micros(now) },
                )
                .await?;
                return Ok(Redirect::to("/login/totp").into_response());
            }
            complete_sign_in(&page, &meta, &a).await
        }
        (Err(why), account) => {
            fail_sign_in(&page, &meta, account.as_ref(), &recorded, why, reserved).await?;
            refuse(&page, typed).await
        }
        (Ok(()), None) => Err(AppError::Internal("a sign-in succeeded without an account".into())),
    }
}

/// The sign-in page again with the one message for every failure (item 39).
async fn refuse(page: &Page, login: String) -> Result<Response, AppError> {
    let p = page.ctx_form().await?;
    html(LoginPage { p, login, failed: true, expired: false })
}

/// Records a failure (item 67): the audit event, and the lock when this
/// failure, counted in advance, reached the limit (item 41).
async fn fail_sign_in(
    state: &AppState,
    meta: &Meta,
    account: Option<&Account>,
    recorded: &str,
    why: Failure,
    reserved: Option<Reserved>,
) -> Result<(), AppError> {
    let now = state.clock.now();
    let policy = state.config.security.lockout;
    let actor = match account {
        Some(a) => Actor { account_id: Some(a.id), login: a.login.clone() },
        None => Actor::anonymous(),
    };
    if let (Some(a), Some(Reserved { failures, locks: true })) = (account, reserved) {
        let ev = NewEvent::new(actor.clone(), meta.0.clone(), Action::AccountLocked, Outcome::Success)
            .target("account", a.id.to_string())
            .changes(Changes::new().with("failures", failures).with("minutes", policy.lock_for.whole_minutes()));
        state.store.audit_record(now, ev).await?;
    }
    let ev = NewEvent::new(actor, meta.0.clone(), Action::SignInFailure, Outcome::Failure)
        .changes(Changes::new().with("login", recorded).with("why", why.as_str()));
    state.store.audit_record(now, ev).await?;
    Ok(())
}

/// Both factors passed: a new session id (fixation), a new CSRF token, and
/// then whatever is due (password change, second-factor enrolment).
async fn complete_sign_in(page: &Page, meta: &Meta, a: &Account) -> Result<Response, AppError> {
    let now = page.clock.now();
    let s = &page.session;
    s.cycle_id().await?;
    session::clear_pending(s).await?;
    session::set_previous(
        s,
        PreviousSignin { at_us: a.last_signin_at.map(to_unix_micros), addr: a.last_signin_addr.clone() },
    )
    .await?;
    let now_us = to_unix_micros(now);
    session::set_signed_in(
        s,
        SignedIn { account_id: a.id, generation: a.session_generation, signed_in_at_us: now_us, last_seen_us: now_us },
    )
    .await?;
    csrf::renew(s).await?;
    page.store.record_signin(a.id, now, &meta.addr()).await?;
    let ev = NewEvent::new(
        Actor { account_id: Some(a.id), login: a.login.clone() },
        meta.0.clone(),
        Action::SignInSuccess,
        Outcome::Success,
    )
    .target("account", a.id.to_string());
    page.store.audit_record(now, ev).await?;
    Ok(Redirect::to(auth::due(page, a).unwrap_or("/dashboard")).into_response())
}

#[derive(Template)]
#[template(path = "login_totp.html")]
struct TotpPage<'a> {
    p: PageCtx<'a>,
    failed: bool,
}

/// The account waiting for its second factor, if the wait is still fresh.
async fn pending_account(page: &Page) -> Result<Option<Account>, AppError> {
    let Some(pending) = session::pending(&page.session).await? else { return Ok(None) };
    let fresh = from_unix_micros(pending.since_us).is_some_and(|t| page.clock.now() - t < PENDING_FOR);
    if !fresh {
        session::clear_pending(&page.session).await?;
        return Ok(None);
    }
    let account = page.store.account_by_id(pending.account_id).await?;
    Ok(account.filter(|a| a.session_generation == pending.generation && a.disabled_at.is_none()))
}

pub async fn totp_form(page: Page) -> Result<Response, AppError> {
    if pending_account(&page).await?.is_none() {
        return Ok(Redirect::to("/login").into_response());
    }
    let p = page.ctx_form().await?;
    html(TotpPage { p, failed: false })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TotpForm {
    code: String,
    recovery_code: String,
}

/// The second factor: at most `max_failures` codes are checked per lock
/// window (each counted in advance, as passwords are), and the attempts on
/// one account are checked one at a time.
pub async fn totp(page: Page, meta: Meta, Form(form): Form<TotpForm>) -> Result<Response, AppError> {
    let started = std::time::Instant::now();
    let Some(a) = pending_account(&page).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let _one_at_a_time = page.account_lock(a.id).lock().await;
    let now = page.clock.now();
    let policy = page.config.security.lockout;
    let Some(reserved) = page.store.open_account_attempt(a.id, now, &policy).await? else {
        // Locked meanwhile: start again from the password, with the one message.
        fail_sign_in(&page, &meta, Some(&a), &a.login, Failure::Locked, None).await?;
        session::clear_pending(&page.session).await?;
        page.hasher.pad(started).await;
        return refuse(&page, a.login.clone()).await;
    };
    let mut ok = false;
    if !form.recovery_code.trim().is_empty() {
        let ctx = meta.ctx(now, Actor { account_id: Some(a.id), login: a.login.clone() });
        ok =
            page.store.spend_recovery_code(&ctx, a.id, &totp::recovery_code_hash(&form.recovery_code)).await?.is_some();
    } else if let Some(secret) = &a.totp_secret {
        if let Some(step) = totp::matching_step(secret, &form.code, now) {
            // RFC 6238 §5.2: a code already used is refused.
            ok = page.store.accept_totp_step(a.id, step).await?;
        }
    }
    if ok {
        return complete_sign_in(&page, &meta, &a).await;
    }
    page.store.record_attempt(now, &meta.addr(), &a.login, false).await?;
    fail_sign_in(&page, &meta, Some(&a), &a.login, Failure::BadCode, Some(reserved)).await?;
    if reserved.locks {
        session::clear_pending(&page.session).await?;
        return refuse(&page, a.login.clone()).await;
    }
    let p = page.ctx_form().await?;
    html(TotpPage { p, failed: true })
}

/// Item 46: sign-out destroys the server-side session.
pub async fn logout(page: Page, meta: Meta, user: CurrentUser) -> Result<Response, AppError> {
    let ev = NewEvent::new(user.actor(), meta.0.clone(), Action::SignOut, Outcome::Success)
        .target("account", user.account().id.to_string());
    page.store.audit_record(page.clock.now(), ev).await?;
    page.session.flush().await?;
    Ok(Redirect::to("/").into_response())
}

#[derive(Deserialize)]
pub struct LangForm {
    lang: String,
    #[serde(default)]
    next: String,
}

pub async fn set_lang(page: Page, Form(form): Form<LangForm>) -> Result<Response, AppError> {
    let lang = if form.lang == "en" { crate::i18n::Lang::En } else { crate::i18n::Lang::Ja };
    crate::page::set_lang(&page.session, lang).await?;
    Ok(Redirect::to(local_path(&form.next)).into_response())
}

// ----- first-run setup -------------------------------------------------------------

pub fn setup_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage<'a> {
    p: PageCtx<'a>,
    token: String,
    form: PersonForm,
    errors: FormErrors,
}

/// Answers only while no administrator exists and the token is valid;
/// otherwise 404, as for any unknown path.
async fn setup_open(state: &AppState, token: &str) -> Result<bool, AppError> {
    Ok(!state.store.has_admin().await?
        && state.store.setup_token_valid(&setup_token_hash(token), state.clock.now()).await?)
}

pub async fn setup_form(page: Page, Path(token): Path<String>) -> Result<Response, AppError> {
    if !setup_open(&page, &token).await? {
        return Err(AppError::NotFound);
    }
    let p = page.ctx_form().await?;
    html(SetupPage { p, token, form: PersonForm::default(), errors: FormErrors::new() })
}

pub async fn setup(
    page: Page,
    meta: Meta,
    Path(token): Path<String>,
    Form(form): Form<PersonForm>,
) -> Result<Response, AppError> {
    if !setup_open(&page, &token).await? {
        return Err(AppError::NotFound);
    }
    let t = page.t();
    let mut errors = FormErrors::new();
    let valid = validate_person(&page, &t, &form, &mut errors);
    if let (Some((login, display_name, email)), true) = (valid, errors.is_empty()) {
        let new = NewAccount {
            login,
            display_name,
            email,
            role: Role::Admin,
            organisation_id: None,
            password_hash: page
                .hasher
                .hash(&form.new_password)
                .await
                .ok_or_else(|| AppError::Internal("password hashing failed".into()))?,
            must_change_password: false,
        };
        let ctx = meta.ctx(page.clock.now(), Actor { account_id: None, login: "setup".to_owned() });
        match page.store.complete_setup(&ctx, &setup_token_hash(&token), &new).await {
            Ok(Some(_)) => {
                session::flash(&page.session, "setup-done").await?;
                return Ok(Redirect::to("/login").into_response());
            }
            Ok(None) => return Err(AppError::NotFound),
            Err(mamori_store::StoreError::Taken) => errors.add("login", t.get("login-taken")),
            Err(e) => return Err(e.into()),
        }
    }
    let p = page.ctx_form().await?;
    let form = PersonForm { new_password: String::new(), confirm_password: String::new(), ..form };
    html(SetupPage { p, token, form, errors })
}
