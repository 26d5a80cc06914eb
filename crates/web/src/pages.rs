//! Pages that belong to no later capability: home, not found, the HTTPS redirect.

use crate::error::AppError;
use crate::page::{Page, PageCtx};
use crate::AppState;
use askama::Template;
use axum::extract::{Request, State};
use axum::response::{Html, Response};

#[derive(Template)]
#[template(path = "home.html")]
struct Home<'a> {
    p: PageCtx<'a>,
}

pub async fn home(page: Page) -> Result<Html<String>, AppError> {
    Ok(Html(Home { p: page.ctx().await? }.render()?))
}

pub async fn not_found() -> AppError {
    AppError::NotFound
}

pub async fn redirect_to_https(State(state): State<AppState>, req: Request) -> Response {
    crate::middleware::https_redirect(&state, &req)
}
