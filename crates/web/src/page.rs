//! What every page template gets: translations, the signed-in person, the
//! CSRF token for its forms, a one-time message, and the navigation.

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::i18n::{Lang, Tr};
use crate::{csrf, session, AppState};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use mamori_core::identity::Permission;
use mamori_store::accounts::Account;
use tower_sessions::Session;

/// Pulled from every request that renders a page.
pub struct Page {
    /// The application, for the handler that takes this page.
    pub state: AppState,
    pub path: String,
    pub lang: Lang,
    pub session: Session,
    pub user: Option<CurrentUser>,
    /// A visitor's signed CSRF token ([`csrf::AnonToken`]).
    anon: Option<csrf::AnonToken>,
    /// When the handler began (before it read the body), for what is left
    /// of the request's time ([`Page::time_left`]).
    started: std::time::Instant,
}

const LANG_KEY: &str = "lang";

/// A visitor's language (no session: choosing a language writes nothing on
/// the server). `__Host-`: Secure, Path=/, no Domain.
pub const LANG_COOKIE: &str = "__Host-mamori_lang";

/// The language a request's cookie names, if any.
fn cookie_lang(headers: &axum::http::HeaderMap) -> Option<Lang> {
    headers.get_all(axum::http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        v.split(';').find_map(|pair| match pair.trim().strip_prefix(LANG_COOKIE)?.strip_prefix('=')? {
            "en" => Some(Lang::En),
            "ja" => Some(Lang::Ja),
            _ => None,
        })
    })
}

impl FromRequestParts<AppState> for Page {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, msg)| AppError::Internal(format!("no session layer: {msg}")))?;
        let lang = match crate::i18n::Lang::query(&parts.uri) {
            Some(l) => l,
            None => match session.get::<String>(LANG_KEY).await? {
                Some(code) if code == "en" => Lang::En,
                Some(_) => Lang::Ja,
                None => cookie_lang(&parts.headers).unwrap_or(Lang::Ja),
            },
        };
        let path = parts.uri.path().to_owned();
        let mut state = state.clone();
        if let Some(crate::auth::RequestStore(store)) = parts.extensions.get() {
            state.store = store.clone();
        }
        Ok(Page {
            state,
            path,
            lang,
            session,
            user: parts.extensions.get::<CurrentUser>().cloned(),
            anon: parts.extensions.get::<csrf::AnonToken>().cloned(),
            started: std::time::Instant::now(),
        })
    }
}

/// A handler reaches the application through its page (`page.store`,
/// `page.clock`): the store bound to the request's revision.
impl std::ops::Deref for Page {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.state
    }
}

impl Page {
    /// The translations in the page's language.
    pub fn t(&self) -> Tr<'_> {
        self.state.i18n.tr(self.lang)
    }
}

pub async fn set_lang(s: &Session, lang: Lang) -> Result<(), AppError> {
    s.insert(LANG_KEY, lang.code()).await?;
    Ok(())
}

/// A navigation link.
pub struct NavLink {
    pub href: &'static str,
    pub label: String,
}

/// The signed-in person as pages see them: what the person may read of
/// themselves, never the password hash or the second-factor secret.
pub struct Viewer {
    pub login: String,
    pub display_name: String,
    pub email: String,
    pub organisation_name: Option<String>,
    pub totp_enabled: bool,
}

impl From<&Account> for Viewer {
    fn from(a: &Account) -> Self {
        Viewer {
            login: a.login.clone(),
            display_name: a.display_name.clone(),
            email: a.email.clone(),
            organisation_name: a.organisation_name.clone(),
            totp_enabled: a.totp_enabled,
        }
    }
}

pub struct PageCtx<'a> {
    pub t: Tr<'a>,
    pub user: Option<Viewer>,
    pub csrf: String,
    pub flash: Option<String>,
    pub nav: Vec<NavLink>,
    /// The current path, for the language switch to return to.
    pub path: String,
}

impl Page {
    /// What is left of the request's time limit, as far as the handler can
    /// tell.
    pub fn time_left(&self) -> std::time::Duration {
        self.config.limits.request_timeout.saturating_sub(self.started.elapsed())
    }

    /// The context for a page without forms of its own. An anonymous
    /// visitor gets no session from it (a crawler does not fill the session
    /// table); a signed-in person gets the token for the header's forms.
    pub async fn ctx(&self) -> Result<PageCtx<'_>, AppError> {
        self.build(self.user.is_some()).await
    }

    /// The context for a page with a form: always a CSRF token (and so a session).
    pub async fn ctx_form(&self) -> Result<PageCtx<'_>, AppError> {
        self.build(true).await
    }

    async fn build(&self, with_token: bool) -> Result<PageCtx<'_>, AppError> {
        let t = self.i18n.tr(self.lang);
        let csrf = match (&self.user, &self.anon) {
            _ if !with_token => String::new(),
            // Someone not signed in without a session token: a signed
            // cookie, no session row.
            (None, Some(anon)) => match csrf::existing(&self.session).await? {
                Some(t) => t,
                None => anon.token(),
            },
            _ => csrf::token(&self.session).await?,
        };
        let flash = session::take_flash(&self.session).await?.map(|k| t.get(&k));
        let mut nav = Vec::new();
        if let Some(u) = &self.user {
            nav.push(NavLink { href: "/dashboard", label: t.get("nav-dashboard") });
            if u.can(Permission::ViewSystems) {
                nav.push(NavLink { href: "/systems", label: t.get("nav-systems") });
            }
            nav.push(NavLink { href: "/catalog", label: t.get("nav-catalog") });
            if u.answers_for().is_some() {
                nav.push(NavLink { href: "/library", label: t.get("nav-library") });
            }
            if u.can(Permission::ViewAccounts) {
                nav.push(NavLink { href: "/admin/users", label: t.get("nav-users") });
                nav.push(NavLink { href: "/admin/ledger", label: t.get("nav-ledger") });
                nav.push(NavLink { href: "/admin/access-review", label: t.get("nav-access-review") });
            }
            if u.can(Permission::ViewAuditLog) {
                nav.push(NavLink { href: "/audit", label: t.get("nav-audit") });
                let open = self.store.open_alert_count().await?;
                let label = if open == 0 { t.get("nav-alerts") } else { format!("{} ({open})", t.get("nav-alerts")) };
                nav.push(NavLink { href: "/alerts", label });
            }
            if u.can(Permission::ManageAccounts) {
                nav.push(NavLink { href: "/admin/organisations", label: t.get("nav-organisations") });
            }
        }
        let user = self.user.as_ref().map(|u| Viewer::from(u.account()));
        Ok(PageCtx { t, user, csrf, flash, nav, path: self.path.clone() })
    }
}
