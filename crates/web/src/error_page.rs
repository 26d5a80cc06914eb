//! The one error page: a generic Japanese (or English) message and the
//! request id a user can quote; never a detail (items 47②, 54③).

use crate::i18n::Lang;
use crate::page::PageCtx;
use crate::AppState;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    p: PageCtx<'a>,
    status: u16,
    heading: String,
    message: String,
    request_id: &'a str,
}

/// A response's own message for the error page, in place of its status's
/// (a translation key): what the person can do differs within a status.
#[derive(Debug, Clone, Copy)]
pub struct Explained(pub &'static str);

pub fn render_page(
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    explained: Option<Explained>,
    request_id: &str,
    head: bool,
) -> Response {
    let t = state.i18n.tr(lang);
    let (title, message) = match status.as_u16() {
        403 => ("error-403-title", "error-403"),
        404 => ("error-404-title", "error-404"),
        405 => ("error-405-title", "error-405"),
        408 => ("error-408-title", "error-408"),
        413 => ("error-413-title", "error-413"),
        429 => ("error-429-title", "error-429"),
        503 => ("error-503-title", "error-503"),
        s if s >= 500 => ("error-500-title", "error-500"),
        _ => ("error-400-title", "error-400"),
    };
    let page = ErrorPage {
        heading: t.get(title),
        message: t.get(explained.map_or(message, |e| e.0)),
        // The error page knows no session: no user, no forms.
        p: PageCtx { t, user: None, csrf: String::new(), flash: None, nav: Vec::new(), path: String::new() },
        status: status.as_u16(),
        request_id,
    };
    match page.render() {
        Ok(html) if !head => Html(html).into_response(),
        Ok(_) => Html(String::new()).into_response(),
        // The error page itself failed: say so plainly, without detail.
        Err(e) => {
            tracing::error!(request_id, "error page failed to render: {e}");
            Html("<!doctype html><title>mamori</title><p>エラーが発生しました。</p>".to_owned()).into_response()
        }
    }
}
