//! Cross-site request forgery (checklist item 45): every state-changing
//! request needs the session's token — in the form field `csrf_token` or
//! the `X-CSRF-Token` header — and a same-origin `Origin` (or, without one,
//! `Sec-Fetch-Site: same-origin`).

use crate::middleware::RequestId;
use crate::AppState;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mamori_core::audit::{Action, Actor, Changes, NewEvent, Origin, Outcome};
use rand::RngCore;
use tower_sessions::Session;

const KEY: &str = "csrf";

/// The session's token, made on first use.
pub async fn token(s: &Session) -> crate::session::Result<String> {
    if let Some(t) = s.get::<String>(KEY).await? {
        return Ok(t);
    }
    renew(s).await
}

/// A new token (at sign-in, so a token seen before it is worthless after).
pub async fn renew(s: &Session) -> crate::session::Result<String> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let t: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    s.insert(KEY, &t).await?;
    Ok(t)
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

pub async fn protect(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let session = req.extensions().get::<Session>().cloned();
    let expected = match &session {
        Some(s) => s.get::<String>(KEY).await.ok().flatten(),
        None => None,
    };
    let origin_ok = same_origin(&req, &state.config.public_origin);
    let header_token = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let boundary = multer::parse_boundary(&content_type).ok();
    let limit = crate::middleware::body_limit(&state, &content_type);

    // Read the body once to find the token, then hand the same bytes on.
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    let form_token = if content_type.starts_with("application/x-www-form-urlencoded") {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .ok()
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "csrf_token").map(|(_, v)| v))
    } else if let Some(boundary) = boundary {
        multipart_token(bytes.clone(), boundary).await
    } else {
        None
    };
    let given = header_token.or(form_token);
    let token_ok = match (&expected, &given) {
        (Some(e), Some(g)) => constant_time_eq(e.as_bytes(), g.as_bytes()),
        _ => false,
    };
    if !(origin_ok && token_ok) {
        let reason = if !origin_ok {
            "origin"
        } else if given.is_none() {
            "missing"
        } else {
            "mismatch"
        };
        let client = parts.extensions.get::<crate::client::ClientInfo>();
        let origin = Origin {
            client_addr: client.map(|c| c.ip.to_string()),
            user_agent: client.and_then(|c| c.user_agent.clone()),
            request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
        };
        let event = NewEvent::new(Actor::anonymous(), origin, Action::CsrfRejected, Outcome::Denied)
            .changes(Changes::new().with("path", parts.uri.path()).with("why", reason));
        if let Err(e) = state.store.audit_record(state.clock.now(), event).await {
            tracing::error!("cannot audit a refused request: {e}");
        }
        let mut res = StatusCode::FORBIDDEN.into_response();
        res.extensions_mut().insert(crate::error::ErrorDetail(format!("CSRF check failed: {reason}")));
        return res;
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// The `csrf_token` field of a multipart form (file uploads).
async fn multipart_token(bytes: axum::body::Bytes, boundary: String) -> Option<String> {
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(bytes) });
    let mut m = multer::Multipart::new(stream, boundary);
    while let Ok(Some(field)) = m.next_field().await {
        if field.name() == Some("csrf_token") {
            return field.text().await.ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_in_constant_time_and_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
