//! What mamori keeps in a session, and the session layer (items 42-46).
//!
//! The session id is tower-sessions' 128-bit random id, carried only in the
//! cookie `__Host-mamori_session` (Secure, HttpOnly, SameSite=Lax, Path=/),
//! never in a URL. The data lives in the database.

use crate::AppState;
use serde::{Deserialize, Serialize};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

pub const COOKIE: &str = "__Host-mamori_session";
const SIGNED_IN: &str = "signed_in";
const PENDING: &str = "pending";
const FLASH: &str = "flash";
const PREVIOUS: &str = "previous_signin";
const TOTP_PENDING: &str = "totp_pending";

/// A completed sign-in.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct SignedIn {
    pub account_id: i64,
    /// The account's session generation at sign-in; a change of role,
    /// organisation or password by an administrator bumps it.
    pub generation: i64,
    pub signed_in_at_us: i64,
    pub last_seen_us: i64,
}

/// Password accepted, second factor still to come.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Pending {
    pub account_id: i64,
    pub generation: i64,
    pub since_us: i64,
    /// The password's sign-in attempt, a success once the second factor
    /// passes (0: kept before attempts were).
    #[serde(default)]
    pub attempt: i64,
}

/// The sign-in before this one, for "my account".
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreviousSignin {
    pub at_us: Option<i64>,
    pub addr: Option<String>,
}

pub fn layer(state: &AppState) -> SessionManagerLayer<mamori_store::sessions::Sessions> {
    let idle = state.config.security.session.idle;
    SessionManagerLayer::new(state.sessions.clone())
        .with_name(COOKIE)
        .with_secure(true)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle))
}

/// Session reads and writes fail only when the database does; callers map
/// the error to a 500 page.
pub type Result<T> = std::result::Result<T, tower_sessions::session::Error>;

pub async fn signed_in(s: &Session) -> Result<Option<SignedIn>> {
    s.get(SIGNED_IN).await
}

pub async fn set_signed_in(s: &Session, v: SignedIn) -> Result<()> {
    s.insert(SIGNED_IN, v).await
}

pub async fn pending(s: &Session) -> Result<Option<Pending>> {
    s.get(PENDING).await
}

pub async fn set_pending(s: &Session, v: Pending) -> Result<()> {
    s.insert(PENDING, v).await
}

pub async fn clear_pending(s: &Session) -> Result<()> {
    s.remove::<Pending>(PENDING).await.map(drop)
}

/// Removes what belongs to the person signed in, as a password is accepted
/// for someone (perhaps someone else): the sign-in, the previous one, a
/// second factor being enrolled. The language chosen stays. (An answer
/// workbook or a catalog waiting for confirmation is its account's, in the
/// store.)
pub async fn clear_personal(s: &Session) -> Result<()> {
    s.remove_value(SIGNED_IN).await?;
    s.remove_value(PREVIOUS).await?;
    s.remove_value(TOTP_PENDING).await?;
    Ok(())
}

pub async fn previous(s: &Session) -> Result<Option<PreviousSignin>> {
    s.get(PREVIOUS).await
}

pub async fn set_previous(s: &Session, v: PreviousSignin) -> Result<()> {
    s.insert(PREVIOUS, v).await
}

/// A one-time message shown on the next page (after a redirect).
pub async fn flash(s: &Session, key: &str) -> Result<()> {
    s.insert(FLASH, key).await
}

/// The one-time message, removed once read. Without one the session is
/// left unchanged, so a page view does not write it.
pub async fn take_flash(s: &Session) -> Result<Option<String>> {
    if s.get::<String>(FLASH).await?.is_none() {
        return Ok(None);
    }
    s.remove(FLASH).await
}

/// The secret a second-factor enrolment begun in this session waits with,
/// sealed (see `mamori_app::credentials::new_enrolment`).
pub async fn pending_totp(s: &Session) -> Result<Option<String>> {
    s.get(TOTP_PENDING).await
}

pub async fn set_pending_totp(s: &Session, sealed: &str) -> Result<()> {
    s.insert(TOTP_PENDING, sealed).await
}

pub async fn clear_pending_totp(s: &Session) -> Result<()> {
    s.remove::<String>(TOTP_PENDING).await.map(drop)
}
