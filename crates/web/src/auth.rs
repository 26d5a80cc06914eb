//! Who is signed in, and what each route allows (items 2, 6, 35, 36, 46, 75).

use crate::client::ClientInfo;
use crate::context::origin_of;
use crate::session::{self, SignedIn};
use crate::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use mamori_core::audit::{Action, Actor, Changes, NewEvent, Outcome};
use mamori_core::clock::{from_unix_micros, to_unix_micros};
use mamori_core::identity::Permission;
use mamori_core::policy::SessionState;
use mamori_store::accounts::Account;
use std::sync::Arc;
use tower_sessions::Session;

/// What a route requires. Declared once per route in [`crate::routes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in person, also while a password change or second-factor
    /// enrolment is still due (change password, enrol, sign out).
    Due,
    /// Any signed-in person with nothing due.
    SignedIn,
    /// A signed-in person whose role has this permission.
    Permission(Permission),
}

/// The signed-in person, set by [`resolve`] for every request.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub Arc<Account>);

impl CurrentUser {
    pub fn account(&self) -> &Account {
        &self.0
    }

    pub fn can(&self, p: Permission) -> bool {
        self.0.role.can(p)
    }

    /// The organisation this person answers for, if they answer at all.
    pub fn answers_for(&self) -> Option<i64> {
        self.0.organisation_id.filter(|_| self.can(Permission::AnswerChecklist))
    }

    /// The systems this person may see.
    pub fn scope(&self) -> mamori_core::scope::Scope {
        mamori_core::scope::Scope::of(self.0.role, self.0.organisation_id)
    }

    pub fn actor(&self) -> Actor {
        Actor { account_id: Some(self.0.id), login: self.0.login.clone() }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<CurrentUser>().cloned().ok_or_else(|| Redirect::to("/login").into_response())
    }
}

/// The store of a signed-in request, bound to the data's revision it read
/// first; pages read through it ([`crate::page::Page`]).
#[derive(Clone)]
pub struct RequestStore(pub mamori_store::Store);

/// Sessions are written back at most this often for activity alone (the
/// idle timeout is counted from the last write).
const TOUCH_EVERY_US: i64 = 60 * 1_000_000;

/// Resolves the session to the signed-in account: ends it when idle or too
/// old (item 46), or when the account was disabled or its role,
/// organisation or password changed by an administrator (item 7).
pub async fn resolve(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(session) = req.extensions().get::<Session>().cloned() else {
        return next.run(req).await;
    };
    let signed = match session::signed_in(&session).await {
        Ok(s) => s,
        Err(e) => return internal(format!("session: {e}")),
    };
    if let Some(si) = signed {
        let now = state.clock.now();
        // What this request reads of the data is kept at the revision it
        // starts from (`mamori_store::revision`).
        let store = match state.store.revision().await {
            Ok(rev) => state.store.at(rev),
            Err(e) => return internal(format!("revision: {e}")),
        };
        match check(&store, &state, &si, now).await {
            Ok(Ok(account)) => {
                let now_us = to_unix_micros(now);
                if now_us - si.last_seen_us >= TOUCH_EVERY_US {
                    let touched = SignedIn { last_seen_us: now_us, ..si };
                    if let Err(e) = session::set_signed_in(&session, touched).await {
                        return internal(format!("session: {e}"));
                    }
                }
                req.extensions_mut().insert(CurrentUser(Arc::new(account)));
                req.extensions_mut().insert(RequestStore(store));
            }
            Ok(Err(why)) => {
                let origin = origin_of(req.extensions());
                let _ = session.flush().await;
                // The event names the person whose session ended: the
                // account is read for it (a timeout reads none before).
                let login = match store.account_by_id(si.account_id).await {
                    Ok(a) => a.map(|a| a.login.to_string()).unwrap_or_default(),
                    Err(e) => return internal(format!("account: {e}")),
                };
                let ev = NewEvent::new(
                    Actor { account_id: Some(si.account_id), login },
                    origin,
                    Action::SessionTimeout,
                    Outcome::Success,
                )
                .target("account", si.account_id.to_string())
                .changes(Changes::new().with("why", why));
                if let Err(e) = state.store.audit_record(now, ev).await {
                    return internal(format!("audit: {e}"));
                }
                // A timeout says so on the sign-in page; a revoked grant does not
                // explain itself, but the sign-in page asked for (with the word
                // that a request was refused for the change) is served as it is.
                let to = if matches!(why, "idle" | "absolute") { "/login?expired=1" } else { "/login" };
                if *req.method() == Method::GET && !(to == "/login" && req.uri().path() == "/login") {
                    return Redirect::to(to).into_response();
                }
            }
            Err(e) => return internal(format!("account: {e}")),
        }
    }
    next.run(req).await
}

async fn check(
    store: &mamori_store::Store,
    state: &AppState,
    si: &SignedIn,
    now: time::OffsetDateTime,
) -> Result<Result<Account, &'static str>, mamori_store::StoreError> {
    let (Some(signed_in_at), Some(last_seen)) =
        (from_unix_micros(si.signed_in_at_us), from_unix_micros(si.last_seen_us))
    else {
        return Ok(Err("corrupt"));
    };
    match state.config.security.session.state(signed_in_at, last_seen, now) {
        SessionState::IdleExpired => return Ok(Err("idle")),
        SessionState::AbsoluteExpired => return Ok(Err("absolute")),
        SessionState::Active => {}
    }
    let Some(account) = store.account_by_id(si.account_id).await? else { return Ok(Err("deleted")) };
    if account.disabled_at.is_some() {
        return Ok(Err("disabled"));
    }
    if account.session_generation != si.generation {
        return Ok(Err("revoked"));
    }
    Ok(Ok(account))
}

fn internal(detail: String) -> Response {
    let mut res = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    res.extensions_mut().insert(crate::error::ErrorDetail(detail));
    res
}

/// What is due before anything else: a password change (item 5, or set by
/// an administrator), then second-factor enrolment for the roles that must
/// use one ([`mamori_core::policy::SecondFactorPolicy`]).
pub fn due(state: &AppState, a: &Account) -> Option<&'static str> {
    let now = state.clock.now();
    if a.must_change_password || state.config.security.password.expired(a.password_changed_at, now) {
        Some("/password")
    } else if state.config.security.second_factor.required(a.role) && !a.totp_enabled {
        Some("/account/totp")
    } else {
        None
    }
}

/// Enforces a route's [`Access`]. Missing permission answers 404, the same
/// as an unknown path, so nothing is learnt from it (and it is audited).
pub async fn enforce(state: AppState, access: Access, req: Request, next: Next) -> Response {
    if access == Access::Public {
        return next.run(req).await;
    }
    let Some(user) = req.extensions().get::<CurrentUser>().cloned() else {
        return Redirect::to("/login").into_response();
    };
    if access != Access::Due {
        if let Some(path) = due(&state, user.account()) {
            return Redirect::to(path).into_response();
        }
    }
    if let Access::Permission(p) = access {
        let client_ok = !p.admin_network_only()
            || req.extensions().get::<ClientInfo>().is_some_and(|c| c.in_admin_networks(&state.config.admin_networks));
        if !user.can(p) || !client_ok {
            return match deny(&state, &user, Asked::of(&req), "permission").await {
                Ok(()) => StatusCode::NOT_FOUND.into_response(),
                Err(res) => res,
            };
        }
    }
    // A signed-in person answered "not found" reached for something that
    // is not there or not theirs (another vendor's system, another party's
    // item: the same answer, by design): recorded as a refusal too.
    let asked = Asked::of(&req);
    let res = next.run(req).await;
    if res.status() == StatusCode::NOT_FOUND {
        if let Err(res) = deny(&state, &user, asked, "not_found").await {
            return res;
        }
    }
    res
}

/// What a refused request asked for, as its audit event names it.
struct Asked {
    origin: mamori_core::audit::Origin,
    path: String,
    method: axum::http::Method,
}

impl Asked {
    fn of(req: &Request) -> Asked {
        let path = req.uri().path().chars().take(256).collect();
        Asked { origin: origin_of(req.extensions()), path, method: req.method().clone() }
    }
}

/// Records a refusal to a signed-in person (`why`: `permission`, or
/// `not_found`): one by one up to a limit a minute, then counted
/// ([`crate::refusals`]).
async fn deny(state: &AppState, user: &CurrentUser, asked: Asked, why: &str) -> Result<(), Response> {
    let changes = Changes::new().with("path", asked.path).with("method", asked.method.as_str()).with("why", why);
    let ev = NewEvent::new(user.actor(), asked.origin, Action::AccessDenied, Outcome::Denied).changes(changes);
    let now = state.clock.now();
    let (each, done) = state.refusals.note_signed_in(now, user.account().id, ev);
    crate::refusals::Refusals::write(&state.store, now, done).await;
    match each {
        Some(ev) => state.store.audit_record(now, ev).await.map(drop).map_err(|e| internal(format!("audit: {e}"))),
        None => Ok(()),
    }
}
