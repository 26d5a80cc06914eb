//! Cross-site request forgery (checklist item 45): every state-changing
//! request needs the session's token — in the form field `csrf_token` or
//! the `X-CSRF-Token` header — and a same-origin `Origin` (or, without one,
//! `Sec-Fetch-Site: same-origin`). A download that is audited is refused
//! when another site's page asks for it.
//!
//! A visitor without a session (the sign-in and setup forms) gets a signed
//! double-submit token instead: a random nonce and its HMAC under a key kept
//! in the database, in the cookie `__Host-mamori_csrf` and in the form. So
//! viewing the sign-in page, or failing to sign in, writes nothing.

use crate::context::RequestId;
use crate::AppState;
use axum::body::{to_bytes, Body};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use mamori_core::audit::{Action, Actor, Changes, NewEvent, Origin, Outcome};
use rand::RngCore;
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use tower_sessions::Session;

const KEY: &str = "csrf";

/// The cookie of a visitor's signed token (`__Host-`: Secure, Path=/, no
/// Domain, so no other host can set it).
pub const ANON_COOKIE: &str = "__Host-mamori_csrf";

/// A visitor's token: the one their cookie presents, if its signature
/// holds, or one minted for this response.
#[derive(Clone)]
pub struct AnonToken {
    key: Arc<[u8]>,
    presented: Option<String>,
    minted: Arc<Mutex<Option<String>>>,
}

impl AnonToken {
    /// The token for this visitor's form; a new one is set as a cookie with
    /// the response.
    pub fn token(&self) -> String {
        if let Some(t) = &self.presented {
            return t.clone();
        }
        let mut minted = self.minted.lock().unwrap_or_else(|e| e.into_inner());
        minted.get_or_insert_with(|| signed(&self.key, &hex::encode(&random_bytes()[..16]))).clone()
    }
}

fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

fn mac(key: &[u8], nonce: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(b"mamori-csrf:");
    mac.update(nonce.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// 128 random bits and 128 bits of their HMAC-SHA256, in 64 hex digits
/// (the length of a session's token).
fn signed(key: &[u8], nonce: &str) -> String {
    format!("{nonce}{}", mac(key, nonce))
}

/// The token, if it is one this installation signed.
fn verified(key: &[u8], token: &str) -> Option<String> {
    let (nonce, given) = token.split_at_checked(32)?;
    (constant_time_eq(mac(key, nonce).as_bytes(), given.as_bytes())).then(|| token.to_owned())
}

fn cookie_value(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The session's token, made on first use.
pub async fn token(s: &Session) -> crate::session::Result<String> {
    if let Some(t) = s.get::<String>(KEY).await? {
        return Ok(t);
    }
    renew(s).await
}

/// A new token (at sign-in, so a token seen before it is worthless after).
pub async fn renew(s: &Session) -> crate::session::Result<String> {
    let t = hex::encode(random_bytes());
    s.insert(KEY, &t).await?;
    Ok(t)
}

/// The session's token, if it has one (reading never creates it).
pub async fn existing(s: &Session) -> crate::session::Result<Option<String>> {
    s.get::<String>(KEY).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn same_origin(req: &Request, public_origin: &str) -> bool {
    let h = req.headers();
    match h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => origin == public_origin,
        None => h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("same-origin"),
    }
}

/// The routes that take a multipart body (file uploads). Their token is
/// the form's first field, checked by [`verified_multipart`] in the
/// handler, after the route's permission; every other route refuses a
/// multipart body unread.
pub const MULTIPART_ROUTES: &[&str] = &[
    "/systems/{id}/items/{number}/evidence",
    "/systems/{id}/answers.xlsx",
    "/catalog/import",
    "/library",
    "/library/{id}/revisions",
    "/systems/{id}/inventory/import",
    "/feeds",
];

/// Largest form body read from someone not signed in (the sign-in and
/// setup forms are a few hundred bytes).
const ANONYMOUS_FORM_BYTES: usize = 64 * 1024;

/// The session's token, for a multipart route's handler.
#[derive(Debug, Clone)]
pub struct PendingToken(String);

/// Why a request was refused, recorded and never shown.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    Origin,
    NoSession,
    Missing,
    Mismatch,
    Multipart,
    TooLarge,
    /// A download that writes an audit event, asked for from another site.
    CrossSite,
}

impl Refusal {
    fn as_str(self) -> &'static str {
        match self {
            Refusal::Origin => "origin",
            Refusal::NoSession => "no_session",
            Refusal::Missing => "missing",
            Refusal::Mismatch => "mismatch",
            Refusal::Multipart => "multipart",
            Refusal::TooLarge => "too_large",
            Refusal::CrossSite => "cross_site_download",
        }
    }
}

/// Nothing of the body is read before the route, the origin and the
/// session's token are known: a forged or anonymous request is refused
/// having sent only its headers. A form body is then read up to the limit
/// for the person (64 KiB without a sign-in); a multipart body is left to
/// its route's handler.
pub async fn protect(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let anon = state.csrf_key.get().map(|key| AnonToken {
        key: key.clone(),
        presented: cookie_value(&req, ANON_COOKIE).and_then(|t| verified(key, &t)),
        minted: Arc::default(),
    });
    if let Some(a) = &anon {
        req.extensions_mut().insert(a.clone());
    }
    let mut res = check(&state, req, next, anon.as_ref().and_then(|a| a.presented.clone())).await;
    if let Some(t) = anon.and_then(|a| a.minted.lock().unwrap_or_else(|e| e.into_inner()).take()) {
        let cookie = format!("{ANON_COOKIE}={t}; Path=/; Secure; HttpOnly; SameSite=Strict");
        if let Ok(v) = header::HeaderValue::from_str(&cookie) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// Is this a download that writes an audit event, asked for by a page of
/// another site (`Sec-Fetch-Site`, which browsers send and pages cannot
/// set)? The session cookie goes with a link followed from anywhere
/// (SameSite=Lax), so a page elsewhere could record an export of the audit
/// log or the ledger under a signed-in person's name. A link typed,
/// bookmarked or opened from mail says `none`, and is served.
fn download_from_another_site(req: &Request) -> bool {
    let audited = req.extensions().get::<MatchedPath>().is_some_and(|m| crate::download::is_audited(m.as_str()));
    let site = req.headers().get("sec-fetch-site").and_then(|v| v.to_str().ok());
    audited && matches!(site, Some("cross-site" | "same-site"))
}

async fn check(state: &AppState, req: Request, next: Next, anon: Option<String>) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        if download_from_another_site(&req) {
            let session = req.extensions().get::<Session>().cloned();
            let signed_in = match session {
                Some(s) => crate::session::signed_in(&s).await.ok().flatten().map(|s| s.account_id),
                None => None,
            };
            return refuse(state, &req, signed_in, Refusal::CrossSite).await;
        }
        return next.run(req).await;
    }
    let Some(route) = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()) else {
        // No such route: the fallback's 404, with no event and no body read.
        return next.run(req).await;
    };
    let session = req.extensions().get::<Session>().cloned();
    let signed_in = match &session {
        Some(s) => crate::session::signed_in(s).await.ok().flatten().map(|s| s.account_id),
        None => None,
    };
    if !same_origin(&req, &state.config.public_origin) {
        return refuse(state, &req, signed_in, Refusal::Origin).await;
    }
    let expected = match &session {
        Some(s) => s.get::<String>(KEY).await.ok().flatten(),
        None => None,
    };
    // Without a session token, a visitor's signed cookie token; never for
    // someone signed in.
    let expected = expected.or(if signed_in.is_some() { None } else { anon });
    let Some(expected) = expected else {
        return refuse(state, &req, signed_in, Refusal::NoSession).await;
    };
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    if let Some(given) = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()) {
        if !constant_time_eq(expected.as_bytes(), given.as_bytes()) {
            return refuse(state, &req, signed_in, Refusal::Mismatch).await;
        }
        if content_type.starts_with("multipart/form-data") && !MULTIPART_ROUTES.contains(&route.as_str()) {
            return refuse(state, &req, signed_in, Refusal::Multipart).await;
        }
        if signed_in.is_some() {
            return next.run(req).await;
        }
        // A visitor's body is as small with the token in a header as in
        // the form.
        return match read_capped(state, req, signed_in, ANONYMOUS_FORM_BYTES).await {
            Ok((parts, bytes)) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
            Err(res) => res,
        };
    }
    if content_type.starts_with("multipart/form-data") {
        if !MULTIPART_ROUTES.contains(&route.as_str()) {
            return refuse(state, &req, signed_in, Refusal::Multipart).await;
        }
        let mut req = req;
        req.extensions_mut().insert(PendingToken(expected));
        return next.run(req).await;
    }
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return refuse(state, &req, signed_in, Refusal::Missing).await;
    }
    let limit = if signed_in.is_some() { state.config.limits.max_body_bytes } else { ANONYMOUS_FORM_BYTES };
    let (parts, bytes) = match read_capped(state, req, signed_in, limit).await {
        Ok(read) => read,
        Err(res) => return res,
    };
    // The pairs read one at a time up to the token: a signed-in body of
    // 1 MiB of `a&a&…` made into a list was half a million pairs (~80 MB).
    let given = form_urlencoded::parse(&bytes).find(|(k, _)| k == "csrf_token").map(|(_, v)| v.into_owned());
    let req = Request::from_parts(parts, Body::from(bytes));
    match given {
        None => refuse(state, &req, signed_in, Refusal::Missing).await,
        Some(g) if !constant_time_eq(expected.as_bytes(), g.as_bytes()) => {
            refuse(state, &req, signed_in, Refusal::Mismatch).await
        }
        Some(_) => next.run(req).await,
    }
}

/// 403, recorded: for a signed-in person (`signed_in`, the account), one
/// audit event each up to a limit a minute; for anyone else, counted per
/// address and minute ([`crate::refusals`]).
fn refuse(
    state: &AppState,
    req: &Request,
    signed_in: Option<i64>,
    why: Refusal,
) -> impl std::future::Future<Output = Response> + Send {
    // The route, not the path, where one matched: a path may carry a
    // secret (the first-run setup link's token).
    let path: String = match req.extensions().get::<axum::extract::MatchedPath>() {
        Some(route) => route.as_str().to_owned(),
        None => req.uri().path().chars().take(256).collect(),
    };
    let client = req.extensions().get::<crate::client::ClientInfo>();
    let origin = Origin {
        client_addr: client.map(|c| c.ip.to_string()),
        user_agent: client.and_then(|c| c.user_agent.clone()),
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
    };
    let state = state.clone();
    async move { record_refusal(&state, origin, path, signed_in, why).await }
}

async fn record_refusal(
    state: &AppState,
    origin: Origin,
    path: String,
    signed_in: Option<i64>,
    why: Refusal,
) -> Response {
    if let Some(account) = signed_in {
        // One by one up to a limit a minute, then counted, as any other
        // refusal of a signed-in person: a page of forged posts, or a
        // script, does not grow the audit log without bound.
        let event = NewEvent::new(Actor::anonymous(), origin, Action::CsrfRejected, Outcome::Denied)
            .changes(Changes::new().with("path", path.as_str()).with("why", why.as_str()).with("account_id", account));
        state.refused_person(account, event).await;
    } else {
        state.refused(origin.client_addr.as_deref().unwrap_or_default(), "csrf", &path).await;
    }
    let mut res = StatusCode::FORBIDDEN.into_response();
    res.extensions_mut().insert(crate::error::ErrorDetail(format!("CSRF check failed: {}", why.as_str())));
    res
}

/// A multipart form on a [`MULTIPART_ROUTES`] route, streamed: its first
/// field must be `csrf_token` with the session's token, checked before any
/// other field is read; the rest is read in a turn of the uploads
/// ([`crate::uploads`]). The whole body is capped at `limit` bytes.
pub async fn verified_multipart(
    state: &AppState,
    req: Request,
    limit: usize,
) -> Result<crate::uploads::UploadForm, Response> {
    let expected = req.extensions().get::<PendingToken>().map(|t| t.0.clone());
    let boundary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok());
    let signed_in = match req.extensions().get::<Session>() {
        Some(s) => crate::session::signed_in(s).await.ok().flatten().map(|s| s.account_id),
        None => None,
    };
    let (Some(expected), Some(boundary)) = (expected, boundary) else {
        return Err(refuse(state, &req, signed_in, Refusal::Missing).await);
    };
    let (parts, body) = req.into_parts();
    let constraints = multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(limit as u64));
    let mut m = multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let head = Request::from_parts(parts, Body::empty());
    let token = token_field(&mut m).await;
    match token {
        Some(t) if constant_time_eq(expected.as_bytes(), t.as_bytes()) => {
            let organisation = head.extensions().get::<crate::auth::CurrentUser>().and_then(|u| u.0.organisation_id);
            crate::uploads::UploadForm::take(m, signed_in.unwrap_or_default(), organisation)
                .await
                .map_err(IntoResponse::into_response)
        }
        Some(_) => Err(refuse(state, &head, signed_in, Refusal::Mismatch).await),
        None => Err(refuse(state, &head, signed_in, Refusal::Missing).await),
    }
}

/// The most of a multipart form's token field read: a token is 64
/// characters. The field was read whole, up to the whole form's limit
/// (21 MB for evidence), before the upload's turn was taken.
const TOKEN_FIELD_MAX: usize = 256;

/// The first field of a multipart form, if it is `csrf_token` of at most
/// [`TOKEN_FIELD_MAX`] bytes of UTF-8.
async fn token_field(m: &mut multer::Multipart<'static>) -> Option<String> {
    let mut field = match m.next_field().await {
        Ok(Some(field)) if field.name() == Some("csrf_token") => field,
        _ => return None,
    };
    let mut token = Vec::new();
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) if token.len() + chunk.len() <= TOKEN_FIELD_MAX => token.extend_from_slice(&chunk),
            Ok(None) => return String::from_utf8(token).ok(),
            _ => return None,
        }
    }
}

/// A request's body read whole up to `limit` bytes; a longer one is
/// refused (413) as too large, and the refusal counted.
async fn read_capped(
    state: &AppState,
    req: Request,
    signed_in: Option<i64>,
    limit: usize,
) -> Result<(axum::http::request::Parts, axum::body::Bytes), Response> {
    let (parts, body) = req.into_parts();
    match to_bytes(body, limit).await {
        Ok(bytes) => Ok((parts, bytes)),
        Err(_) => {
            let req = Request::from_parts(parts, Body::empty());
            let mut res = refuse(state, &req, signed_in, Refusal::TooLarge).await;
            *res.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            Err(res)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visitors_token_holds_only_with_this_keys_signature() {
        let key = [7u8; 32];
        let t = signed(&key, &hex::encode([1u8; 16]));
        assert_eq!(t.len(), 64);
        assert_eq!(verified(&key, &t), Some(t.clone()));
        assert_eq!(verified(&[8u8; 32], &t), None, "another installation's key");
        let (nonce, sig) = t.split_at(32);
        assert_eq!(verified(&key, &format!("{}{sig}", hex::encode([2u8; 16]))), None, "another nonce");
        assert_eq!(verified(&key, &format!("{nonce}{}", "0".repeat(32))), None, "a forged signature");
        assert_eq!(verified(&key, nonce), None);
        assert_eq!(verified(&key, ""), None);
    }

    #[test]
    fn tokens_compare_in_constant_time_and_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
