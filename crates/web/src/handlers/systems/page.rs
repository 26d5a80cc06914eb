//! `GET /systems/{id}`: the system page. Its view is `page_view.rs`, which
//! the handlers that show the page again with a message share.

use super::page_view::system_page_with;
use super::system_for;
use crate::forms::FormErrors;
use crate::handlers::{Acting, Reply};
use crate::page::Page;
use axum::extract::{Path, Query};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SystemQuery {
    select: String,
    show: String,
}

pub async fn system(page: Page, who: Acting, Path(id): Path<i64>, Query(q): Query<SystemQuery>) -> Reply {
    let s = system_for(&page, &who, id).await?;
    system_page_with(&page, &who.user, s, FormErrors::new(), q.select == "pending", &q.show).await
}
