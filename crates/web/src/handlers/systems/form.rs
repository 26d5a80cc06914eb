//! Registering and changing a system (officer).

use super::system_for;
use crate::handlers::html;
use crate::handlers::org_choices;
use crate::handlers::today;
use crate::handlers::Reply;
use crate::handlers::{done, Acting};
use mamori_app::checklist as checklist_op;
use mamori_app::Refused;

use crate::error::AppError;
use crate::forms::FormErrors;
use crate::i18n::Tr;
use crate::page::{Page, PageCtx};
use askama::Template;
use axum::extract::Path;
use axum::Form;
use mamori_core::catalog::SystemAttributes;
use mamori_core::checklist::Phase;
use mamori_core::identity::{parse_multiline, parse_text, OrgKind};
use mamori_store::accounts::Organisation;
use mamori_store::systems::{SystemInput, SystemRecord};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SystemForm {
    name: String,
    description: String,
    department_id: String,
    vendor_id: String,
    maintenance_id: String,
    cloud_id: String,
    phase: String,
    uses_servers: Option<String>,
    web_system: Option<String>,
    external_service: Option<String>,
    ismap_number: String,
    service_name: String,
    service_region: String,
    confidentiality_high: Option<String>,
    integrity_high: Option<String>,
    availability_high: Option<String>,
    cloud_only: Option<String>,
    ward_domain: Option<String>,
    urls: String,
    hosts: String,
    /// When the round's answers are due (YYYY-MM-DD), or empty.
    due_on: String,
    /// The mark of the registration the edit form showed
    /// (`SystemInput::edit_mark`); empty on a new system's form.
    seen: String,
}

impl SystemForm {
    fn from_record(s: &SystemRecord) -> Self {
        let i = &s.input;
        let on = |b: bool| b.then(|| "on".to_owned());
        SystemForm {
            name: i.name.clone(),
            description: i.description.clone(),
            department_id: i.department_id.to_string(),
            vendor_id: i.vendor_id.map(|v| v.to_string()).unwrap_or_default(),
            maintenance_id: i.maintenance_id.map(|v| v.to_string()).unwrap_or_default(),
            cloud_id: i.cloud_id.map(|v| v.to_string()).unwrap_or_default(),
            phase: i.phase.as_str().to_owned(),
            uses_servers: on(i.attrs.uses_servers),
            web_system: on(i.attrs.web_system),
            external_service: on(i.attrs.external_service),
            ismap_number: i.ismap_number.clone(),
            service_name: i.service_name.clone(),
            service_region: i.service_region.clone(),
            confidentiality_high: on(i.attrs.confidentiality_high),
            integrity_high: on(i.attrs.integrity_high),
            availability_high: on(i.attrs.availability_high),
            cloud_only: on(i.attrs.cloud_only),
            ward_domain: on(i.attrs.ward_domain),
            urls: i.urls.join("\n"),
            hosts: i.hosts.join("\n"),
            due_on: i.due_on.map(|d| d.to_string()).unwrap_or_default(),
            seen: i.edit_mark(),
        }
    }

    /// Checkbox state for the template.
    pub fn checked(&self, field: &str) -> bool {
        let v = match field {
            "uses_servers" => &self.uses_servers,
            "web_system" => &self.web_system,
            "external_service" => &self.external_service,
            "confidentiality_high" => &self.confidentiality_high,
            "integrity_high" => &self.integrity_high,
            "availability_high" => &self.availability_high,
            "cloud_only" => &self.cloud_only,
            "ward_domain" => &self.ward_domain,
            _ => &None,
        };
        v.is_some()
    }
}

/// A URL to scan: https or http, a host, no credentials, at most 2000 characters.
fn valid_url(u: &str) -> bool {
    let rest = u.strip_prefix("https://").or_else(|| u.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty()
            && !host.contains('@')
            && u.len() <= 2000
            && !u.chars().any(|c| c.is_whitespace() || c.is_control())
    })
}

/// A host name or address to probe: letters, digits, dots, hyphens, colons.
fn valid_host(h: &str) -> bool {
    !h.is_empty() && h.len() <= 253 && h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
}

fn validate_system(t: &Tr, f: &SystemForm, orgs: &[Organisation], errors: &mut FormErrors) -> Option<SystemInput> {
    let name = errors.check(t, "name", "field-system-name", parse_text(&f.name, 1, 100));
    let description = errors.check(t, "description", "field-description", parse_multiline(&f.description, 0, 2000));
    let dept = f
        .department_id
        .parse::<i64>()
        .ok()
        .filter(|id| orgs.iter().any(|o| o.id == *id && o.kind == OrgKind::Department));
    if dept.is_none() {
        errors.add("department_id", t.get("system-need-department"));
    }
    // Each vendor party: empty, or a vendor of the list.
    let mut vendor_of = |field: &'static str, value: &str| {
        if value.trim().is_empty() {
            return Some(None);
        }
        let v = value.parse::<i64>().ok().filter(|id| orgs.iter().any(|o| o.id == *id && o.kind == OrgKind::Vendor));
        if v.is_none() {
            errors.add(field, t.get("system-need-vendor"));
        }
        v.map(Some)
    };
    let vendor = vendor_of("vendor_id", &f.vendor_id);
    let maintenance = vendor_of("maintenance_id", &f.maintenance_id);
    let cloud = vendor_of("cloud_id", &f.cloud_id);
    let phase = Phase::parse(&f.phase);
    if phase.is_none() {
        errors.add("phase", t.get("system-need-phase"));
    }
    let ismap = errors.check(t, "ismap_number", "field-ismap", parse_text(&f.ismap_number, 0, 50));
    let service = errors.check(t, "service_name", "field-service-name", parse_text(&f.service_name, 0, 100));
    let region = errors.check(t, "service_region", "field-service-region", parse_text(&f.service_region, 0, 100));
    let lines =
        |s: &str| -> Vec<String> { s.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect() };
    let urls = lines(&f.urls);
    let hosts = lines(&f.hosts);
    if let Some(bad) = urls.iter().find(|u| !valid_url(u)) {
        errors.add("urls", t.with("system-bad-url", &[("url", bad)]));
    }
    if let Some(bad) = hosts.iter().find(|h| !valid_host(h)) {
        errors.add("hosts", t.with("system-bad-host", &[("host", bad)]));
    }
    if urls.len() > 20 || hosts.len() > 20 {
        errors.add("urls", t.get("system-too-many-targets"));
    }
    let due_on = match f.due_on.trim() {
        "" => Some(None),
        d => {
            let d = time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")).ok();
            if d.is_none() {
                errors.add("due_on", t.get("answer-bad-date"));
            }
            d.map(Some)
        }
    };
    let attrs = SystemAttributes {
        uses_servers: f.uses_servers.is_some(),
        web_system: f.web_system.is_some(),
        external_service: f.external_service.is_some(),
        confidentiality_high: f.confidentiality_high.is_some(),
        integrity_high: f.integrity_high.is_some(),
        availability_high: f.availability_high.is_some(),
        cloud_only: f.cloud_only.is_some(),
        ward_domain: f.ward_domain.is_some(),
    };
    if !errors.is_empty() {
        return None;
    }
    Some(SystemInput {
        name: name?,
        description: description?,
        department_id: dept?,
        vendor_id: vendor?,
        maintenance_id: maintenance?,
        cloud_id: cloud?,
        phase: phase?,
        attrs,
        ismap_number: ismap?,
        service_name: service?,
        service_region: region?,
        urls,
        hosts,
        due_on: due_on?,
    })
}

#[derive(Template)]
#[template(path = "system_form.html")]
struct SystemFormPage<'a> {
    p: PageCtx<'a>,
    heading: String,
    action: String,
    form: SystemForm,
    errors: FormErrors,
    departments: Vec<(String, String)>,
    vendors: Vec<(String, String)>,
    phases: Vec<(String, String)>,
}

async fn system_form_page(page: &Page, id: Option<i64>, form: SystemForm, errors: FormErrors) -> Reply {
    let orgs = page.store.organisations().await?;
    let p = page.ctx().await?;
    let (heading, action) = match id {
        Some(id) => (p.t.get("systems-edit"), format!("/systems/{id}")),
        None => (p.t.get("systems-new"), "/systems".to_owned()),
    };
    let phases = Phase::ALL.iter().map(|x| (x.as_str().to_owned(), p.t.label(*x))).collect();
    html(SystemFormPage {
        p,
        heading,
        action,
        form,
        errors,
        departments: org_choices(&orgs, OrgKind::Department),
        vendors: org_choices(&orgs, OrgKind::Vendor),
        phases,
    })
}

pub async fn new_system_form(page: Page) -> Reply {
    // The first round is due the configured number of days from today.
    let due = today(&page) + time::Duration::days(i64::from(page.config.round_days));
    let form = SystemForm {
        phase: "building".into(),
        web_system: Some("on".into()),
        due_on: due.to_string(),
        ..SystemForm::default()
    };
    system_form_page(&page, None, form, FormErrors::new()).await
}

pub async fn create_system(page: Page, who: Acting, Form(form): Form<SystemForm>) -> Reply {
    let t = page.t();
    let orgs = page.store.organisations().await?;
    let mut errors = FormErrors::new();
    if let Some(input) = validate_system(&t, &form, &orgs, &mut errors) {
        let version = page
            .store
            .catalog_versions()
            .await?
            .first()
            .map(|v| v.id)
            .ok_or_else(|| AppError::Internal("no catalog".into()))?;
        match checklist_op::create_system(&who.op(&page), &input, version).await {
            Ok(id) => return done(&page, "systems-created", &format!("/systems/{id}")).await,
            Err(Refused::Taken) => errors.add("name", t.get("system-name-taken")),
            Err(Refused::Invalid("retired")) => errors.add("phase", t.get("system-new-retired")),
            Err(e) => return Err(e.into()),
        }
    }
    system_form_page(&page, None, form, errors).await
}

pub async fn edit_system_form(page: Page, who: Acting, Path(id): Path<i64>) -> Reply {
    let s = system_for(&page, &who, id).await?;
    system_form_page(&page, Some(id), SystemForm::from_record(&s), FormErrors::new()).await
}

pub async fn update_system(page: Page, who: Acting, Path(id): Path<i64>, Form(form): Form<SystemForm>) -> Reply {
    let s = system_for(&page, &who, id).await?;
    let t = page.t();
    let orgs = page.store.organisations().await?;
    let mut errors = FormErrors::new();
    if let Some(input) = validate_system(&t, &form, &orgs, &mut errors) {
        match checklist_op::update_system(&who.op(&page), s.id, &input, &form.seen).await {
            Ok(()) => return done(&page, "systems-saved", &format!("/systems/{id}")).await,
            Err(Refused::Taken) => errors.add("name", t.get("system-name-taken")),
            Err(Refused::Workflow(w)) => errors.add("phase", super::workflow_message(&t, &w)),
            Err(Refused::Stale) => {
                // Changed by someone else since the form was shown: nothing
                // is saved; the form shows the registration as it is now.
                let now = system_for(&page, &who, id).await?;
                errors.add("name", t.get("systems-changed-meanwhile"));
                return system_form_page(&page, Some(id), SystemForm::from_record(&now), errors).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    system_form_page(&page, Some(id), form, errors).await
}
