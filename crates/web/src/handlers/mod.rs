//! Request handlers: parse and validate, check, call the store, render.

pub mod admin;
pub mod audit;
pub mod me;
pub mod signin;
pub mod systems;

use crate::auth::origin_of;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Response};
use mamori_core::audit::{Actor, Origin};
use mamori_core::jst::format_jst;
use mamori_store::identity::Ctx;
use time::OffsetDateTime;

/// Where the request came from (client address, user agent, request id).
pub struct Meta(pub Origin);

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Meta(origin_of(&parts.extensions)))
    }
}

impl Meta {
    pub fn ctx(&self, now: OffsetDateTime, actor: Actor) -> Ctx {
        Ctx { now, actor, origin: self.0.clone() }
    }

    pub fn addr(&self) -> String {
        self.0.client_addr.clone().unwrap_or_default()
    }
}

/// A rendered page; askama escapes every value (item 50).
pub fn html<T: askama::Template>(t: T) -> Result<Response, crate::AppError> {
    Ok(Html(t.render()?).into_response())
}

pub fn jst(t: Option<OffsetDateTime>) -> String {
    t.map(format_jst).unwrap_or_else(|| "-".to_owned())
}

pub fn role_key(role: mamori_core::identity::Role) -> &'static str {
    use mamori_core::identity::Role::*;
    match role {
        Admin => "role-admin",
        SecurityOfficer => "role-security-officer",
        Department => "role-department",
        Vendor => "role-vendor",
        Auditor => "role-auditor",
    }
}

/// A path inside this site to go back to: starts with one `/`, no scheme,
/// no host, no control character (an open redirect or a header split is
/// refused, and `/` is used instead).
pub fn local_path(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.contains("://")
        && !next.chars().any(char::is_control);
    if ok {
        next
    } else {
        "/"
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path("/admin/users"), "/admin/users");
        assert_eq!(local_path("/systems/3?tab=evidence#items"), "/systems/3?tab=evidence#items");
        for bad in ["//evil.example/", "https://evil.example/", "/\\evil", "evil", ""] {
            assert_eq!(local_path(bad), "/", "{bad}");
        }
        // Control characters: a header split, and paths a browser would
        // read as another host once it drops tabs and line ends.
        for bad in [
            "/a\r\nLocation: x",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/a\0b",
            "/a\u{7f}b",
            "/a\u{85}b",
        ] {
            assert_eq!(local_path(bad), "/", "{bad:?}");
        }
    }
}
