//! The periodic access review (items 7, 65).

//! Accounts, organisations, the ledger (ID管理簿) and the access review
//! (items 1, 3, 6, 7, 37, 64, 65).

use super::{rows, UserRow};
use crate::auth::CurrentUser;
use crate::forms::FormErrors;
use crate::handlers::{html, jst};
use crate::handlers::{Acting, Reply};
use crate::page::{Page, PageCtx};
use askama::Template;
use axum::Form;
use mamori_core::identity::{parse_multiline, Permission};
use serde::Deserialize;

// ----- access review ------------------------------------------------------------------------

pub struct ReviewRow {
    at: String,
    reviewer: String,
    accounts: i64,
    comment: String,
}

#[derive(Template)]
#[template(path = "access_review.html")]
struct ReviewPage<'a> {
    p: PageCtx<'a>,
    rows: Vec<UserRow>,
    /// None: the review lists every account in one table, unsorted.
    headings: Vec<crate::handlers::sorting::Heading>,
    reviews: Vec<ReviewRow>,
    inactive_days: String,
    can_sign: bool,
    /// The accounts listed, for the sign-off ([`mamori_app::oversight::accounts_mark`]).
    mark: String,
    comment: String,
    errors: FormErrors,
}

async fn review_page(page: &Page, user: &CurrentUser, comment: String, errors: FormErrors) -> Reply {
    let accounts = page.store.accounts().await?;
    let reviews = page.store.access_reviews().await?;
    let p = page.ctx().await?;
    let rows = rows(page, &p.t, &accounts);
    let mark = mamori_app::oversight::accounts_mark(&accounts);
    let reviews = reviews
        .into_iter()
        .map(|r| ReviewRow {
            at: jst(Some(r.reviewed_at)),
            reviewer: r.reviewer_login,
            accounts: r.accounts,
            comment: r.comment,
        })
        .collect();
    html(ReviewPage {
        p,
        rows,
        headings: Vec::new(),
        reviews,
        inactive_days: page.config.security.inactivity.review_after.whole_days().to_string(),
        can_sign: user.can(Permission::ReviewAccess),
        mark,
        comment,
        errors,
    })
}

pub async fn access_review(page: Page, user: CurrentUser) -> Reply {
    review_page(&page, &user, String::new(), FormErrors::new()).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReviewForm {
    comment: String,
    /// The mark of the accounts the page listed.
    shown: String,
}

pub async fn sign_off_review(page: Page, who: Acting, Form(form): Form<ReviewForm>) -> Reply {
    let user = &who.user;
    let t = page.t();
    let mut errors = FormErrors::new();
    let Some(comment) = errors.check(&t, "comment", "review-comment", parse_multiline(&form.comment, 1, 2000)) else {
        return review_page(&page, user, form.comment, errors).await;
    };
    let op = who.op(&page);
    match mamori_app::oversight::sign_off_access_review(&op, &comment, &form.shown).await {
        Ok(_) => crate::handlers::done(&page, "review-signed", "/admin/access-review").await,
        Err(mamori_app::Refused::Stale) => {
            errors.add("comment", t.get("review-accounts-changed"));
            review_page(&page, user, form.comment, errors).await
        }
        Err(e) => Err(e.into()),
    }
}
