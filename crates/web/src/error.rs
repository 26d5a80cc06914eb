//! One error type for the web layer. Every failure becomes a status and the
//! generic error page with the request id; the detail goes to the log.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// What went wrong, for the server log only (never shown to the user).
#[derive(Debug, Clone)]
pub struct ErrorDetail(pub String);

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Unknown, or not for this user: the same answer, so existence does not leak.
    #[error("not found")]
    NotFound,
    /// Input the framework could not even parse (a broken upload, say).
    #[error("bad request")]
    BadRequest,
    #[error("database: {0}")]
    Store(#[from] mamori_store::StoreError),
    #[error("template: {0}")]
    Template(#[from] askama::Error),
    #[error("session: {0}")]
    Session(#[from] tower_sessions::session::Error),
    #[error("{0}")]
    Internal(String),
    /// The person's account changed while the request ran
    /// ([`mamori_app::Refused::AccountChanged`]): sent to sign in again.
    #[error("the account changed while the request ran")]
    AccountChanged,
}

impl From<mamori_app::Refused> for AppError {
    /// What reaches here is not the person's to fix: a refusal the handler
    /// did not turn into a message answers as not found (nothing leaks), a
    /// database failure as an error.
    fn from(e: mamori_app::Refused) -> Self {
        match e {
            mamori_app::Refused::Store(e) => AppError::Store(e),
            mamori_app::Refused::Internal(why) => AppError::Internal(why.into()),
            mamori_app::Refused::Invalid(_) => AppError::BadRequest,
            mamori_app::Refused::AccountChanged => AppError::AccountChanged,
            _ => AppError::NotFound,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest => StatusCode::BAD_REQUEST,
            // Its sessions ended with the change: it signs in again, told
            // that what it asked for was not done.
            AppError::AccountChanged | AppError::Store(mamori_store::StoreError::AccountChanged) => {
                return axum::response::Redirect::to("/login?changed=1").into_response()
            }
            AppError::Store(_) | AppError::Template(_) | AppError::Session(_) | AppError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut res = status.into_response();
        res.extensions_mut().insert(ErrorDetail(self.to_string()));
        res
    }
}

/// A response that already is a page or a document (HTML or JSON) keeps its
/// body; anything else (empty, or the framework's plain-text messages,
/// which can name fields and types) is replaced by the error page.
pub fn has_own_page(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html") || ct.starts_with("application/json"))
}
