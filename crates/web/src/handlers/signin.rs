//! Sign-in, second factor, sign-out, first-run setup, language (items 2,
//! 36, 39, 41, 42, 46, 67, 75).

use super::{html, local_path, Acting, Meta};
use crate::auth;
use crate::error::AppError;
use crate::forms::{validate_person, FormErrors, PersonForm};
use crate::page::{Page, PageCtx};
use crate::session::{self, Pending, PreviousSignin, SignedIn};
use crate::{csrf, AppState};
use askama::Template;
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use mamori_app::signin::{self, Attempt, Step};
use mamori_core::audit::{Action, Actor, Changes, NewEvent, Outcome};
use mamori_core::clock::{from_unix_micros, to_unix_micros};
use mamori_core::identity::Login;
use mamori_store::accounts::Account;
use serde::Deserialize;
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
    /// The account was changed while a request of it ran, which was not
    /// carried out.
    changed: bool,
    /// Too many sign-ins wait for their check: try again shortly.
    busy: bool,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    expired: Option<String>,
    changed: Option<String>,
}

pub async fn login_form(page: Page, q: Query<LoginQuery>) -> Result<Response, AppError> {
    if page.user.is_some() {
        return Ok(Redirect::to("/dashboard").into_response());
    }
    let p = page.ctx_form().await?;
    let (expired, changed) = (q.expired.is_some(), q.changed.is_some());
    html(LoginPage { p, login: String::new(), failed: false, expired, changed, busy: false })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    login: String,
    password: String,
}

/// Items 39, 41: the operation decides whether to check, checks, records;
/// this answers with the one message for every failure, or the next step.
pub async fn login(page: Page, meta: Meta, Form(form): Form<LoginForm>) -> Result<Response, AppError> {
    let typed: String = form.login.trim().chars().take(Login::MAX).collect();
    let (login, password) = (typed.clone(), form.password);
    let run = Owned::of(&page, &meta);
    let step = to_the_end(tokio::spawn(async move { run.attempt().password(&login, &password).await })).await?;
    match step {
        Step::SignedIn(a) => signed_in(&page, &a).await,
        Step::SecondFactor(a, attempt) => {
            page.session.cycle_id().await?;
            session::clear_personal(&page.session).await?;
            let since_us = to_unix_micros(page.clock.now());
            session::set_pending(
                &page.session,
                Pending { account_id: a.id, generation: a.session_generation, since_us, attempt },
            )
            .await?;
            Ok(Redirect::to("/login/totp").into_response())
        }
        Step::Throttled => {
            page.refused(&meta.addr(), "signin_throttled", "/login").await;
            refuse(&page, typed).await
        }
        // Someone holding the password, signing in again and again: the
        // account is named, as a signed-in person's refusals are.
        Step::SignedInTooOften(id, login) => {
            let actor = Actor { account_id: Some(id), login };
            let changes = Changes::new().with("path", "/login").with("limit", "account_max_signins");
            let event = NewEvent::new(actor, meta.0.clone(), Action::RequestsLimited, Outcome::Denied);
            page.refused_person(id, event.changes(changes)).await;
            refuse(&page, typed).await
        }
        Step::RefusedCounted => {
            page.refused(&meta.addr(), "signin_failure", "/login").await;
            refuse(&page, typed).await
        }
        Step::Refused | Step::Retry => refuse(&page, typed).await,
        Step::Busy => {
            page.refused(&meta.addr(), "signin_busy", "/login").await;
            let p = page.ctx_form().await?;
            let mut res =
                html(LoginPage { p, login: typed, failed: false, expired: false, changed: false, busy: true })?;
            *res.status_mut() = axum::http::StatusCode::SERVICE_UNAVAILABLE;
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("5"));
            Ok(res)
        }
    }
}

/// A sign-in attempt from this request, now.
fn attempt<'a>(page: &'a Page, meta: &Meta) -> Attempt<'a> {
    Attempt {
        store: &page.store,
        hasher: &page.hasher,
        origin: meta.0.clone(),
        now: page.clock.now(),
        lockout: page.config.security.lockout,
    }
}

/// What a sign-in step needs, owned, so that the step can run in a task
/// of its own ([`to_the_end`]).
struct Owned {
    store: mamori_store::Store,
    hasher: std::sync::Arc<mamori_app::passwords::Hasher>,
    origin: mamori_core::audit::Origin,
    now: time::OffsetDateTime,
    lockout: mamori_core::policy::LockoutPolicy,
}

impl Owned {
    fn of(page: &Page, meta: &Meta) -> Owned {
        let (store, hasher) = (page.store.clone(), page.hasher.clone());
        Owned { store, hasher, origin: meta.0.clone(), now: page.clock.now(), lockout: page.config.security.lockout }
    }

    fn attempt(&self) -> Attempt<'_> {
        let (store, hasher, origin) = (&self.store, self.hasher.as_ref(), self.origin.clone());
        Attempt { store, hasher, origin, now: self.now, lockout: self.lockout }
    }
}

/// Waits for a sign-in step spawned as a task of its own, so that it goes
/// to its end even when the request is given up (the request timeout
/// drops the handler): its bookkeeping spans several writes (the failure
/// counted in advance, then taken back, or recorded with its events), and
/// a step cut between them left a right password counted as a failure,
/// towards a lock of the person's own account.
async fn to_the_end(task: tokio::task::JoinHandle<Result<Step, mamori_store::StoreError>>) -> Result<Step, AppError> {
    Ok(task.await.map_err(|_| AppError::Internal("the sign-in step stopped".into()))??)
}

/// The sign-in page again with the one message for every failure (item 39).
async fn refuse(page: &Page, login: String) -> Result<Response, AppError> {
    let p = page.ctx_form().await?;
    html(LoginPage { p, login, failed: true, expired: false, changed: false, busy: false })
}

/// Both factors passed (and recorded): a new session id (fixation), a new
/// CSRF token, and then whatever is due (password change, second-factor
/// enrolment).
async fn signed_in(page: &Page, a: &Account) -> Result<Response, AppError> {
    let now = page.clock.now();
    let s = &page.session;
    s.cycle_id().await?;
    session::clear_pending(s).await?;
    session::clear_personal(s).await?;
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
    Ok(Redirect::to(auth::due(page, a).unwrap_or("/dashboard")).into_response())
}

#[derive(Template)]
#[template(path = "login_totp.html")]
struct TotpPage<'a> {
    p: PageCtx<'a>,
    failed: bool,
}

/// The account waiting for its second factor, if the wait is still fresh,
/// and its password's sign-in attempt.
async fn pending_account(page: &Page) -> Result<Option<(Account, Option<i64>)>, AppError> {
    let Some(pending) = session::pending(&page.session).await? else { return Ok(None) };
    let fresh = from_unix_micros(pending.since_us).is_some_and(|t| page.clock.now() - t < PENDING_FOR);
    if !fresh {
        session::clear_pending(&page.session).await?;
        return Ok(None);
    }
    let account = page.store.account_by_id(pending.account_id).await?;
    let attempt = (pending.attempt > 0).then_some(pending.attempt);
    Ok(account.filter(|a| a.session_generation == pending.generation && a.disabled_at.is_none()).map(|a| (a, attempt)))
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

/// The second factor ([`Attempt::second_factor`]).
pub async fn totp(page: Page, meta: Meta, Form(form): Form<TotpForm>) -> Result<Response, AppError> {
    let Some((a, attempt)) = pending_account(&page).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let (account, code, recovery) = (a.clone(), form.code, form.recovery_code);
    let run = Owned::of(&page, &meta);
    let task = tokio::spawn(async move { run.attempt().second_factor(&account, (&code, &recovery), attempt).await });
    let step = to_the_end(task).await?;
    match step {
        Step::SignedIn(a) => signed_in(&page, &a).await,
        Step::Retry => {
            let p = page.ctx_form().await?;
            html(TotpPage { p, failed: true })
        }
        _ => {
            // Locked: start again from the password, with the one message.
            session::clear_pending(&page.session).await?;
            refuse(&page, a.login).await
        }
    }
}

/// Item 46: sign-out destroys the server-side session, and then records
/// it: a session that could not be removed is not logged as ended (the
/// person sees the error and signs out again).
pub async fn logout(page: Page, who: Acting) -> Result<Response, AppError> {
    let op = who.op(&page);
    page.session.flush().await?;
    signin::sign_out(&op).await?;
    Ok(Redirect::to("/").into_response())
}

#[derive(Deserialize)]
pub struct LangForm {
    lang: String,
    #[serde(default)]
    next: String,
}

/// The language of the pages: a signed-in person's in the session; a
/// visitor's in a cookie of its own, so that anyone may choose one without
/// writing a session to the database.
pub async fn set_lang(page: Page, Form(form): Form<LangForm>) -> Result<Response, AppError> {
    let lang = if form.lang == "en" { crate::i18n::Lang::En } else { crate::i18n::Lang::Ja };
    let back = Redirect::to(local_path(&form.next));
    if page.user.is_some() {
        crate::page::set_lang(&page.session, lang).await?;
        return Ok(back.into_response());
    }
    let cookie = format!(
        "{}={}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=31536000",
        crate::page::LANG_COOKIE,
        lang.code()
    );
    Ok(([(axum::http::header::SET_COOKIE, cookie)], back).into_response())
}

// ----- first-run setup -------------------------------------------------------------

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
    Ok(signin::setup_open(&state.store, state.clock.now(), token).await?)
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
        let at = attempt(&page, &meta);
        match signin::set_up(&at, &token, login, display_name, email, &form.new_password).await {
            Ok(Some(_)) => {
                session::flash(&page.session, "setup-done").await?;
                return Ok(Redirect::to("/login").into_response());
            }
            Ok(None) => return Err(AppError::NotFound),
            Err(mamori_app::Refused::Taken) => errors.add("login", t.get("login-taken")),
            Err(e) => return Err(e.into()),
        }
    }
    let p = page.ctx_form().await?;
    let form = PersonForm { new_password: String::new(), confirm_password: String::new(), ..form };
    html(SetupPage { p, token, form, errors })
}
