//! Organisations: the ward's departments and the vendor companies.

//! Accounts, organisations, the ledger (ID管理簿) and the access review
//! (items 1, 3, 6, 7, 37, 64, 65).

use crate::forms::FormErrors;
use crate::handlers::html;
use crate::handlers::{Acting, Reply};
use crate::page::{Page, PageCtx};
use askama::Template;
use axum::Form;
use mamori_core::identity::{parse_text, OrgKind};
use serde::Deserialize;

// ----- organisations -------------------------------------------------------------------

pub struct OrgRow {
    name: String,
    kind: String,
    contact: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct OrgForm {
    name: String,
    kind: String,
    contact: String,
}

#[derive(Template)]
#[template(path = "organisations.html")]
struct OrgsPage<'a> {
    p: PageCtx<'a>,
    orgs: Vec<OrgRow>,
    form: OrgForm,
    errors: FormErrors,
}

async fn orgs_page(page: &Page, form: OrgForm, errors: FormErrors) -> Reply {
    let orgs = page.store.organisations().await?;
    let p = page.ctx().await?;
    let orgs = orgs.into_iter().map(|o| OrgRow { kind: p.t.label(o.kind), name: o.name, contact: o.contact }).collect();
    html(OrgsPage { p, orgs, form, errors })
}

pub async fn organisations(page: Page) -> Reply {
    orgs_page(&page, OrgForm { kind: "vendor".into(), ..OrgForm::default() }, FormErrors::new()).await
}

pub async fn create_organisation(page: Page, who: Acting, Form(form): Form<OrgForm>) -> Reply {
    let t = page.t();
    let mut errors = FormErrors::new();
    let name = errors.check(&t, "name", "field-org-name", parse_text(&form.name, 1, 100));
    let contact = errors.check(&t, "contact", "field-org-contact", parse_text(&form.contact, 0, 200));
    let kind = OrgKind::parse(&form.kind);
    if kind.is_none() {
        errors.add("kind", t.get("org-kind-invalid"));
    }
    if let (Some(name), Some(contact), Some(kind), true) = (name, contact, kind, errors.is_empty()) {
        let op = who.op(&page);
        match mamori_app::oversight::create_organisation(&op, &name, kind, &contact).await {
            Ok(_) => return crate::handlers::done(&page, "orgs-created", "/admin/organisations").await,
            Err(mamori_app::Refused::Taken) => errors.add("name", t.get("org-name-taken")),
            Err(e) => return Err(e.into()),
        }
    }
    orgs_page(&page, form, errors).await
}
