//! Downloads sealed in a password ZIP when the person asks (item 18). The
//! download routes also answer a POST from the 「パスワード付きZIPで出力」
//! form under each download link: this layer checks the password, runs
//! the download as the GET it is, puts the file in an AES-256 ZIP
//! (`mamori_files::sealed`) and records the choice in the audit log
//! (`export.sealed`, besides the export's own event).

use crate::auth::CurrentUser;
use crate::{download, AppError, AppState};
use axum::body::{to_bytes, Body};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use mamori_app::turns::Turns;
use mamori_core::audit::{Action, Changes, NewEvent, Outcome};
use mamori_files::sealed::PASSWORD_MIN;
use tower_sessions::Session;

pub use crate::download::{is_download, DOWNLOADS};

/// The largest download sealed (an audit export of years is the biggest).
const SEAL_MAX: usize = 512 << 20;

/// Sealed downloads made at once. Each holds its file and its ZIP in
/// memory (up to twice [`SEAL_MAX`]), so the others wait their turn; the
/// ZIP's encryption runs off the request workers.
pub const SEALING_AT_ONCE: usize = 2;
static SEALING: Turns = Turns::new(SEALING_AT_ONCE);

/// The most sealed downloads made at once since start.
pub fn sealing_peak() -> usize {
    SEALING.peak()
}

/// Holds every turn until dropped, so that sealed downloads wait: for
/// tests of the turns.
#[doc(hidden)]
pub async fn hold_every_turn() -> mamori_app::turns::Turn {
    SEALING.hold_all().await
}

pub async fn seal(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    // The form was read and its token checked already (`csrf`): it is small.
    let Ok(bytes) = to_bytes(body, 64 * 1024).await else {
        return AppError::BadRequest.into_response();
    };
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let (password, confirm, back) = (field("zip_password"), field("zip_password_confirm"), field("back"));
    // Back to the page of the form: a path of this site only (a tab or a
    // line break in it made `/\t/host` a way off the site).
    let back = match crate::handlers::local_path(&back) {
        "/" => "/dashboard".to_owned(),
        path => path.to_owned(),
    };
    let problem = if password.chars().count() < PASSWORD_MIN {
        Some("seal-password-short")
    } else if password != confirm {
        Some("seal-password-mismatch")
    } else {
        None
    };
    if let Some(key) = problem {
        if let Some(s) = parts.extensions.get::<Session>() {
            if let Err(e) = crate::session::flash(s, key).await {
                return AppError::from(e).into_response();
            }
        }
        return Redirect::to(&back).into_response();
    }
    let Some(user) = parts.extensions.get::<CurrentUser>().cloned() else {
        return Redirect::to("/login").into_response();
    };
    let origin = crate::context::origin_of(&parts.extensions);
    let route = parts.extensions.get::<MatchedPath>().map(|m| m.as_str().to_owned()).unwrap_or_default();
    // The turn goes with the ZIP's making to its end, even if the request
    // is given up meanwhile.
    let turn = match SEALING.take().await {
        Ok(turn) => turn,
        Err(e) => return AppError::from(e).into_response(),
    };
    parts.method = Method::GET;
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    let res = next.run(Request::from_parts(parts, Body::empty())).await;
    let name = res.extensions().get::<download::FileName>().map(|f| f.0.clone());
    let Some(name) = name.filter(|_| res.status().is_success()) else {
        // Not a file (a page asking how to go on, an error): as it is.
        return res;
    };
    let Ok(file) = to_bytes(res.into_body(), SEAL_MAX).await else {
        return AppError::Internal("the export is too large to seal".into()).into_response();
    };
    let zip_name = name.clone();
    let sealed = turn.run(move || mamori_files::sealed::zip(&zip_name, &file, &password)).await;
    let sealed = match sealed {
        Ok(Ok(z)) => z,
        Ok(Err(e)) => return AppError::Internal(format!("zip: {e}")).into_response(),
        Err(e) => return AppError::from(e).into_response(),
    };
    let event = NewEvent::new(user.actor(), origin, Action::ExportSealed, Outcome::Success)
        .target("export", route)
        .changes(Changes::new().with("file", name.as_str()).with("sealed", "AES-256 ZIP"));
    if let Err(e) = state.store.audit_record(state.clock.now(), event).await {
        return AppError::from(e).into_response();
    }
    download::file("application/zip", &format!("{name}.zip"), sealed)
}
