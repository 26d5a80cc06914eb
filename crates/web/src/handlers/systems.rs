//! The checklist screens: the catalog, systems, answers and review
//! (PRODUCT.md steps 1-3, 5). A vendor sees only systems assigned to its
//! organisation and department staff only their department's; anything
//! else answers 404, so not even a system's existence leaks.

use super::{html, jst, Meta};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::forms::FormErrors;
use crate::i18n::Tr;
use crate::page::{Page, PageCtx};
use crate::session;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use mamori_core::catalog::{RequirementDef, SystemAttributes};
use mamori_core::checklist::{self, AnswerInput, AnswerStatus, ItemState, Phase, Review, SystemStatus, WorkflowError};
use mamori_core::identity::{parse_multiline, parse_text, OrgKind, Permission, Role};
use mamori_core::jst::JST;
use mamori_store::accounts::Organisation;
use mamori_store::systems::{AnswerRecord, SystemFilter, SystemInput, SystemRecord};
use mamori_store::StoreError;
use serde::Deserialize;
use std::collections::BTreeMap;

pub fn phase_key(p: Phase) -> &'static str {
    match p {
        Phase::Building => "phase-building",
        Phase::PreProduction => "phase-pre-production",
        Phase::Production => "phase-production",
        Phase::Retired => "phase-retired",
    }
}

pub fn status_key(s: SystemStatus) -> &'static str {
    match s {
        SystemStatus::NotStarted => "sys-not-started",
        SystemStatus::Answering => "sys-answering",
        SystemStatus::Submitted => "sys-submitted",
        SystemStatus::Returned => "sys-returned",
        SystemStatus::Approved => "sys-approved",
    }
}

fn answer_key(s: AnswerStatus) -> &'static str {
    match s {
        AnswerStatus::Done => "ans-done",
        AnswerStatus::Partial => "ans-partial",
        AnswerStatus::NotDone => "ans-not-done",
        AnswerStatus::NotApplicable => "ans-not-applicable",
    }
}

fn review_key(r: Review) -> &'static str {
    match r {
        Review::Pending => "rev-pending",
        Review::Approved => "rev-approved",
        Review::Returned => "rev-returned",
    }
}

/// The filter that confines a person to the systems they may see.
fn scope(user: &CurrentUser) -> SystemFilter {
    let a = user.account();
    match a.role {
        Role::Vendor => SystemFilter { vendor_id: Some(a.organisation_id.unwrap_or(-1)), ..Default::default() },
        Role::Department => SystemFilter { department_id: Some(a.organisation_id.unwrap_or(-1)), ..Default::default() },
        _ => SystemFilter::default(),
    }
}

fn visible(user: &CurrentUser, s: &SystemRecord) -> bool {
    let a = user.account();
    match a.role {
        Role::Vendor => a.organisation_id.is_some() && s.input.vendor_id == a.organisation_id,
        Role::Department => a.organisation_id == Some(s.input.department_id),
        _ => user.can(Permission::ViewSystems),
    }
}

/// The system, if it exists and this person may see it; 404 otherwise.
async fn system_for(state: &AppState, user: &CurrentUser, id: i64) -> Result<SystemRecord, AppError> {
    match state.store.system(id).await? {
        Some(s) if visible(user, &s) => Ok(s),
        _ => Err(AppError::NotFound),
    }
}

fn today(state: &AppState) -> time::Date {
    state.clock.now().to_offset(JST).date()
}

// ----- catalog ------------------------------------------------------------------------------

pub struct ReqRow {
    number: u32,
    major: String,
    middle: String,
    condition: String,
    text: String,
    applies_when: String,
    checks: String,
    hint: String,
}

fn req_row(r: &RequirementDef) -> ReqRow {
    ReqRow {
        number: r.number,
        major: r.major.clone(),
        middle: r.middle.clone(),
        condition: r.condition_note.clone().unwrap_or_default(),
        text: r.text.clone(),
        applies_when: r.applies_when.clone(),
        checks: r.checks.join(" "),
        hint: r.evidence_hint.clone(),
    }
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage<'a> {
    p: PageCtx<'a>,
    title: String,
    version: i64,
    versions: Vec<(i64, String)>,
    rows: Vec<ReqRow>,
    diff: Vec<String>,
}

#[derive(Deserialize)]
pub struct CatalogQuery {
    version: Option<i64>,
    compare: Option<i64>,
}

pub async fn catalog(State(state): State<AppState>, page: Page, q: Query<CatalogQuery>) -> Result<Response, AppError> {
    let versions = state.store.catalog_versions().await?;
    let id = q.version.or(versions.first().map(|v| v.id)).ok_or(AppError::NotFound)?;
    let file = state.store.catalog_document(id).await?.ok_or(AppError::NotFound)?;
    let p = page.ctx(&state).await?;
    let mut diff = Vec::new();
    if let Some(other) = q.compare {
        let old = state.store.catalog_document(other).await?.ok_or(AppError::NotFound)?;
        let d = mamori_core::catalog::diff(&old.requirements, &file.requirements);
        diff.extend(d.added.iter().map(|n| p.t.with("catalog-diff-added", &[("n", &n.to_string())])));
        diff.extend(d.removed.iter().map(|n| p.t.with("catalog-diff-removed", &[("n", &n.to_string())])));
        diff.extend(
            d.changed
                .iter()
                .map(|(n, f)| p.t.with("catalog-diff-changed", &[("n", &n.to_string()), ("fields", &f.join(", "))])),
        );
        if diff.is_empty() {
            diff.push(p.t.get("catalog-diff-none"));
        }
    }
    html(CatalogPage {
        title: file.catalog.title.clone(),
        version: id,
        versions: versions
            .iter()
            .map(|v| (v.id, format!("{} {} ({})", v.id, v.label, jst(Some(v.imported_at)))))
            .collect(),
        rows: file.requirements.iter().map(req_row).collect(),
        p,
        diff,
    })
}

// ----- systems list and form ---------------------------------------------------------------

pub struct SystemRow {
    id: i64,
    name: String,
    department: String,
    vendor: String,
    phase: String,
    status: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "systems.html")]
struct SystemsPage<'a> {
    p: PageCtx<'a>,
    rows: Vec<SystemRow>,
    can_manage: bool,
    q: ListQuery,
    departments: Vec<(String, String)>,
    vendors: Vec<(String, String)>,
    phases: Vec<(String, String)>,
    statuses: Vec<(String, String)>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub department: String,
    #[serde(default)]
    pub vendor: String,
    #[serde(default)]
    pub phase: String,
    #[serde(default)]
    pub status: String,
}

fn org_choices(orgs: &[Organisation], kind: OrgKind) -> Vec<(String, String)> {
    orgs.iter().filter(|o| o.kind == kind).map(|o| (o.id.to_string(), o.name.clone())).collect()
}

/// The person's scope narrowed by the query's filters (never widened).
fn filtered(user: &CurrentUser, q: &ListQuery) -> SystemFilter {
    let mut f = scope(user);
    if f.department_id.is_none() {
        f.department_id = q.department.parse().ok();
    }
    if f.vendor_id.is_none() {
        f.vendor_id = q.vendor.parse().ok();
    }
    f.phase = Phase::parse(&q.phase);
    f.status = SystemStatus::parse(&q.status);
    f.name_contains = Some(q.q.trim().to_owned()).filter(|s| !s.is_empty() && s.chars().count() <= 100);
    f
}

// ----- dashboard -----------------------------------------------------------------------------

/// One bar of a chart: a label and shares of 100.
pub struct Bar {
    pub label: String,
    /// The label cut to fit the chart (full label in the tooltip).
    pub short: String,
    pub approved_pct: u32,
    pub summary: String,
    pub y: u32,
    pub approved_w: u32,
    pub answered_w: u32,
}

pub struct BoardRow {
    pub id: i64,
    pub name: String,
    pub status: String,
    pub applicable: usize,
    pub answered: usize,
    pub approved: usize,
    pub not_done: usize,
    pub overdue: usize,
    pub returned: usize,
}

/// The dashboard's figures for the systems a person may see.
pub struct Board {
    pub rows: Vec<BoardRow>,
    pub by_system: Vec<Bar>,
    pub by_category: Vec<Bar>,
    pub system_chart_height: u32,
    pub category_chart_height: u32,
    pub returned_items: Vec<(i64, String, u32)>,
    pub overdue_items: Vec<(i64, String, u32)>,
    /// Evidence expired or expiring within 30 days: system, name, item, file, date, expired.
    pub expiring: Vec<(i64, String, u32, String, String, bool)>,
    pub departments: Vec<(String, String)>,
    pub vendors: Vec<(String, String)>,
    pub phases: Vec<(String, String)>,
}

const BAR_WIDTH: u32 = 300;
const BAR_STEP: u32 = 28;

/// (label, applicable, answered, approved) → bars with their geometry.
fn bars(t: &Tr, items: Vec<(String, usize, usize, usize)>) -> (Vec<Bar>, u32) {
    let n = items.len() as u32;
    let bars = items
        .into_iter()
        .enumerate()
        .map(|(i, (label, total, answered, approved))| {
            let pct = |x: usize| (x * 100).checked_div(total).unwrap_or(0) as u32;
            Bar {
                summary: t.with(
                    "chart-summary",
                    &[
                        ("approved", &approved.to_string()),
                        ("answered", &answered.to_string()),
                        ("total", &total.to_string()),
                    ],
                ),
                short: if label.chars().count() > 15 {
                    label.chars().take(14).collect::<String>() + "…"
                } else {
                    label.clone()
                },
                label,
                approved_pct: pct(approved),
                y: i as u32 * BAR_STEP,
                approved_w: pct(approved) * BAR_WIDTH / 100,
                answered_w: pct(answered) * BAR_WIDTH / 100,
            }
        })
        .collect();
    (bars, n * BAR_STEP + 4)
}

pub async fn board(state: &AppState, user: &CurrentUser, q: &ListQuery, t: Tr<'_>) -> Result<Board, AppError> {
    let systems = state.store.systems(&filtered(user, q)).await?;
    let today = today(state);
    let mut rows = Vec::new();
    // 大項目 in catalog order, as first met.
    let mut categories: Vec<(String, (usize, usize, usize))> = Vec::new();
    let mut returned_items = Vec::new();
    let mut overdue_items = Vec::new();
    let mut sys_bars = Vec::new();
    for s in &systems {
        let l = load(state, s).await?;
        let mut row = BoardRow {
            id: s.id,
            name: s.input.name.clone(),
            status: t.get(status_key(s.status)),
            applicable: l.applicable.len(),
            answered: 0,
            approved: 0,
            not_done: 0,
            overdue: 0,
            returned: 0,
        };
        for r in l.reqs.iter().filter(|r| l.applicable.contains(&r.number)) {
            let pos = match categories.iter().position(|(k, _)| *k == r.major) {
                Some(p) => p,
                None => {
                    categories.push((r.major.clone(), (0, 0, 0)));
                    categories.len() - 1
                }
            };
            let cat = &mut categories[pos].1;
            cat.0 += 1;
            let Some(a) = l.answers.get(&r.number) else { continue };
            row.answered += 1;
            cat.1 += 1;
            if a.review == Review::Approved {
                row.approved += 1;
                cat.2 += 1;
            }
            if a.review == Review::Returned {
                row.returned += 1;
                returned_items.push((s.id, s.input.name.clone(), r.number));
            }
            row.not_done += usize::from(a.input.status == AnswerStatus::NotDone);
            if a.input.overdue(today) {
                row.overdue += 1;
                overdue_items.push((s.id, s.input.name.clone(), r.number));
            }
        }
        sys_bars.push((s.input.name.clone(), row.applicable, row.answered, row.approved));
        rows.push(row);
    }
    let (by_system, system_chart_height) = bars(&t, sys_bars);
    let cat_items =
        categories.into_iter().map(|(k, (total, answered, approved))| (k, total, answered, approved)).collect();
    let (by_category, category_chart_height) = bars(&t, cat_items);
    let soon = (today + time::Duration::days(30)).to_string();
    let today_s = today.to_string();
    let expiring = state
        .store
        .evidence_expiring(&soon)
        .await?
        .into_iter()
        .filter_map(|e| {
            let s = systems.iter().find(|s| s.id == e.system_id && s.round == e.round)?;
            let date = e.expires_on.unwrap_or_default();
            let expired = date < today_s;
            Some((s.id, s.input.name.clone(), e.number, e.original_name, date, expired))
        })
        .collect();
    let sees_all = scope(user).vendor_id.is_none() && scope(user).department_id.is_none();
    let orgs = if sees_all { state.store.organisations().await? } else { vec![] };
    Ok(Board {
        rows,
        by_system,
        by_category,
        system_chart_height,
        category_chart_height,
        returned_items,
        overdue_items,
        expiring,
        departments: org_choices(&orgs, OrgKind::Department),
        vendors: org_choices(&orgs, OrgKind::Vendor),
        phases: Phase::ALL.iter().map(|x| (x.as_str().to_owned(), t.get(phase_key(*x)))).collect(),
    })
}

pub async fn systems(
    State(state): State<AppState>,
    page: Page,
    user: CurrentUser,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let f = filtered(&user, &q);
    let list = state.store.systems(&f).await?;
    let orgs = if user.can(Permission::ManageSystems) || user.account().role == Role::Auditor {
        state.store.organisations().await?
    } else {
        vec![]
    };
    let p = page.ctx(&state).await?;
    let rows = list
        .iter()
        .map(|s| SystemRow {
            id: s.id,
            name: s.input.name.clone(),
            department: s.department_name.clone(),
            vendor: s.vendor_name.clone().unwrap_or_default(),
            phase: p.t.get(phase_key(s.input.phase)),
            status: p.t.get(status_key(s.status)),
            updated: jst(Some(s.updated_at)),
        })
        .collect();
    let phases = Phase::ALL.iter().map(|x| (x.as_str().to_owned(), p.t.get(phase_key(*x)))).collect();
    let statuses = SystemStatus::ALL.iter().map(|x| (x.as_str().to_owned(), p.t.get(status_key(*x)))).collect();
    html(SystemsPage {
        p,
        rows,
        can_manage: user.can(Permission::ManageSystems),
        departments: org_choices(&orgs, OrgKind::Department),
        vendors: org_choices(&orgs, OrgKind::Vendor),
        phases,
        statuses,
        q,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct SystemForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    department_id: String,
    #[serde(default)]
    vendor_id: String,
    #[serde(default)]
    phase: String,
    #[serde(default)]
    uses_servers: Option<String>,
    #[serde(default)]
    web_system: Option<String>,
    #[serde(default)]
    external_service: Option<String>,
    #[serde(default)]
    ismap_number: String,
    #[serde(default)]
    service_name: String,
    #[serde(default)]
    service_region: String,
    #[serde(default)]
    confidentiality_high: Option<String>,
    #[serde(default)]
    integrity_high: Option<String>,
    #[serde(default)]
    availability_high: Option<String>,
    #[serde(default)]
    urls: String,
    #[serde(default)]
    hosts: String,
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
            urls: i.urls.join("\n"),
            hosts: i.hosts.join("\n"),
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
    let vendor = if f.vendor_id.trim().is_empty() {
        Some(None)
    } else {
        let v =
            f.vendor_id.parse::<i64>().ok().filter(|id| orgs.iter().any(|o| o.id == *id && o.kind == OrgKind::Vendor));
        if v.is_none() {
            errors.add("vendor_id", t.get("system-need-vendor"));
        }
        v.map(Some)
    };
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
    let attrs = SystemAttributes {
        uses_servers: f.uses_servers.is_some(),
        web_system: f.web_system.is_some(),
        external_service: f.external_service.is_some(),
        confidentiality_high: f.confidentiality_high.is_some(),
        integrity_high: f.integrity_high.is_some(),
        availability_high: f.availability_high.is_some(),
    };
    if !errors.is_empty() {
        return None;
    }
    Some(SystemInput {
        name: name?,
        description: description?,
        department_id: dept?,
        vendor_id: vendor?,
        phase: phase?,
        attrs,
        ismap_number: ismap?,
        service_name: service?,
        service_region: region?,
        urls,
        hosts,
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

async fn system_form_page(
    state: &AppState,
    page: &Page,
    id: Option<i64>,
    form: SystemForm,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let orgs = state.store.organisations().await?;
    let p = page.ctx(state).await?;
    let (heading, action) = match id {
        Some(id) => (p.t.get("systems-edit"), format!("/systems/{id}")),
        None => (p.t.get("systems-new"), "/systems".to_owned()),
    };
    let phases = Phase::ALL.iter().map(|x| (x.as_str().to_owned(), p.t.get(phase_key(*x)))).collect();
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

pub async fn new_system_form(State(state): State<AppState>, page: Page) -> Result<Response, AppError> {
    let form = SystemForm { phase: "building".into(), web_system: Some("on".into()), ..SystemForm::default() };
    system_form_page(&state, &page, None, form, FormErrors::new()).await
}

pub async fn create_system(
    State(state): State<AppState>,
    page: Page,
    meta: Meta,
    user: CurrentUser,
    Form(form): Form<SystemForm>,
) -> Result<Response, AppError> {
    let t = state.i18n.tr(page.lang);
    let orgs = state.store.organisations().await?;
    let mut errors = FormErrors::new();
    if let Some(input) = validate_system(&t, &form, &orgs, &mut errors) {
        let version = state
            .store
            .catalog_versions()
            .await?
            .first()
            .map(|v| v.id)
            .ok_or_else(|| AppError::Internal("no catalog".into()))?;
        match state.store.create_system(&meta.ctx(state.clock.now(), user.actor()), &input, version).await {
            Ok(id) => {
                session::flash(&page.session, "systems-created").await?;
                return Ok(Redirect::to(&format!("/systems/{id}")).into_response());
            }
            Err(StoreError::Conflict) => errors.add("name", t.get("system-name-taken")),
            Err(e) => return Err(e.into()),
        }
    }
    system_form_page(&state, &page, None, form, errors).await
}

pub async fn edit_system_form(
    State(state): State<AppState>,
    page: Page,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let s = system_for(&state, &user, id).await?;
    system_form_page(&state, &page, Some(id), SystemForm::from_record(&s), FormErrors::new()).await
}

pub async fn update_system(
    State(state): State<AppState>,
    page: Page,
    meta: Meta,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<SystemForm>,
) -> Result<Response, AppError> {
    let s = system_for(&state, &user, id).await?;
    let t = state.i18n.tr(page.lang);
    let orgs = state.store.organisations().await?;
    let mut errors = FormErrors::new();
    if let Some(input) = validate_system(&t, &form, &orgs, &mut errors) {
        match state.store.update_system(&meta.ctx(state.clock.now(), user.actor()), &s, &input).await {
            Ok(()) => {
                session::flash(&page.session, "systems-saved").await?;
                return Ok(Redirect::to(&format!("/systems/{id}")).into_response());
            }
            Err(StoreError::Conflict) => errors.add("name", t.get("system-name-taken")),
            Err(e) => return Err(e.into()),
        }
    }
    system_form_page(&state, &page, Some(id), form, errors).await
}

// ----- one system -------------------------------------------------------------------------

pub struct ItemRow {
    number: u32,
    major: String,
    middle: String,
    answer: String,
    review: String,
    review_class: &'static str,
    overdue: bool,
    overridden: String,
    /// The latest automatic verdict for this requirement's checks ("" when none).
    auto: String,
    auto_class: &'static str,
    /// Answered 対応済 while the scanner says fail: for the officer's attention.
    contradiction: bool,
}

/// One check of the latest scan.
pub struct ScanRow {
    target: String,
    check: String,
    verdict: String,
    summary: String,
}

/// The worst verdict per check id over every target of a stored report.
fn worst_by_check(report: &serde_json::Value) -> BTreeMap<String, String> {
    let rank = |v: &str| match v {
        "fail" => 3,
        "error" => 2,
        "warn" => 1,
        _ => 0,
    };
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for t in report["targets"].as_array().into_iter().flatten() {
        for c in t["checks"].as_array().into_iter().flatten() {
            let (id, v) = (c["id"].as_str().unwrap_or("").to_owned(), c["verdict"].as_str().unwrap_or("").to_owned());
            if out.get(&id).is_none_or(|old| rank(old) < rank(&v)) {
                out.insert(id, v);
            }
        }
    }
    out
}

pub struct Counts {
    applicable: usize,
    answered: usize,
    approved: usize,
    not_done: usize,
    overdue: usize,
    returned: usize,
}

/// Everything the system page and the workflow need.
struct Loaded {
    reqs: Vec<RequirementDef>,
    applicable: Vec<u32>,
    answers: BTreeMap<u32, AnswerRecord>,
    overrides: Vec<mamori_store::systems::Override>,
}

async fn load(state: &AppState, s: &SystemRecord) -> Result<Loaded, AppError> {
    let file = state
        .store
        .catalog_document(s.catalog_version_id)
        .await?
        .ok_or_else(|| AppError::Internal("catalog version missing".into()))?;
    let overrides = state.store.overrides(s.id).await?;
    let pairs: Vec<(u32, bool)> = overrides.iter().map(|o| (o.number, o.applies)).collect();
    let applicable =
        checklist::applicable(&file.requirements, &s.input.attrs, &pairs).iter().map(|r| r.number).collect();
    let answers = state.store.answers(s.id, s.round).await?.into_iter().map(|a| (a.number, a)).collect();
    Ok(Loaded { reqs: file.requirements.clone(), applicable, answers, overrides })
}

impl Loaded {
    fn items(&self) -> Vec<ItemState> {
        let decided = self.answers.iter().map(|(n, a)| (*n, a.review)).collect();
        checklist::item_states(&self.applicable, &decided)
    }
}

#[derive(Template)]
#[template(path = "system.html")]
struct SystemPage<'a> {
    p: PageCtx<'a>,
    s: SystemRecord,
    phase: String,
    status: String,
    attrs: Vec<String>,
    counts: Counts,
    rows: Vec<ItemRow>,
    can_manage: bool,
    can_submit: bool,
    can_finish: bool,
    missing: Vec<u32>,
    overrides: Vec<(u32, String, String)>,
    versions: Vec<(i64, String)>,
    can_scan: bool,
    scan_status: String,
    scan_rows: Vec<ScanRow>,
    errors: FormErrors,
}

async fn system_page(
    state: &AppState,
    page: &Page,
    user: &CurrentUser,
    s: SystemRecord,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let l = load(state, &s).await?;
    let today = today(state);
    let scan = state.store.scans(s.id, 1).await?.into_iter().next();
    let report: serde_json::Value =
        scan.as_ref().and_then(|r| r.report.as_deref()).and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
    let latest = worst_by_check(&report);
    let p = page.ctx(state).await?;
    let scan_status = match &scan {
        None => p.t.get("scan-never"),
        Some(r) => match r.status.as_str() {
            "queued" | "running" => p.t.get("scan-pending"),
            _ => p.t.with("scan-done-at", &[("at", &jst(r.finished_at))]),
        },
    };
    let scan_rows = report["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| {
            let target = t["target"].as_str().unwrap_or("").to_owned();
            t["checks"].as_array().into_iter().flatten().map(move |c| ScanRow {
                target: target.clone(),
                check: c["id"].as_str().unwrap_or("").to_owned(),
                verdict: c["verdict"].as_str().unwrap_or("").to_owned(),
                summary: c["summary"].as_str().unwrap_or("").to_owned(),
            })
        })
        .collect();
    let mut counts =
        Counts { applicable: l.applicable.len(), answered: 0, approved: 0, not_done: 0, overdue: 0, returned: 0 };
    let mut rows = Vec::new();
    for r in l.reqs.iter().filter(|r| l.applicable.contains(&r.number)) {
        let a = l.answers.get(&r.number);
        let overdue = a.is_some_and(|a| a.input.overdue(today));
        let auto = {
            let mut worst: Option<String> = None;
            for c in &r.checks {
                if let Some(v) = latest.get(c) {
                    let rank = |v: &str| ["pass", "warn", "error", "fail"].iter().position(|x| *x == v).unwrap_or(0);
                    if worst.as_deref().is_none_or(|w| rank(w) < rank(v)) {
                        worst = Some(v.clone());
                    }
                }
            }
            worst
        };
        if let Some(a) = a {
            counts.answered += 1;
            counts.approved += usize::from(a.review == Review::Approved);
            counts.returned += usize::from(a.review == Review::Returned);
            counts.not_done += usize::from(a.input.status == AnswerStatus::NotDone);
        }
        counts.overdue += usize::from(overdue);
        rows.push(ItemRow {
            number: r.number,
            major: r.major.clone(),
            middle: r.middle.clone(),
            answer: a.map_or_else(|| p.t.get("ans-none"), |a| p.t.get(answer_key(a.input.status))),
            review: a.map_or_else(String::new, |a| match a.changed_after_approval() {
                Some(_) => p.t.get("rev-changed-after-approval"),
                None => p.t.get(review_key(a.review)),
            }),
            review_class: a.map_or("", |a| a.review.as_str()),
            overdue,
            overridden: l.overrides.iter().find(|o| o.number == r.number).map(|o| o.reason.clone()).unwrap_or_default(),
            auto: auto.clone().map(|v| p.t.get(&format!("scan-{v}"))).unwrap_or_default(),
            auto_class: match auto.as_deref() {
                Some("fail") => "fail",
                Some("pass") => "pass",
                Some(_) => "warn",
                None => "",
            },
            contradiction: auto.as_deref() == Some("fail") && a.is_some_and(|a| a.input.status == AnswerStatus::Done),
        });
    }
    let items = l.items();
    let missing = match checklist::submit(s.status, &items) {
        Err(WorkflowError::Unanswered(m)) => m,
        _ => vec![],
    };
    let is_vendor = user.can(Permission::AnswerChecklist);
    let attrs = [
        (s.input.attrs.uses_servers, "attr-uses-servers"),
        (s.input.attrs.web_system, "attr-web-system"),
        (s.input.attrs.external_service, "attr-external-service"),
        (s.input.attrs.confidentiality_high, "attr-confidentiality-high"),
        (s.input.attrs.integrity_high, "attr-integrity-high"),
        (s.input.attrs.availability_high, "attr-availability-high"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, k)| p.t.get(k))
    .collect();
    html(SystemPage {
        phase: p.t.get(phase_key(s.input.phase)),
        status: p.t.get(status_key(s.status)),
        attrs,
        counts,
        rows,
        can_manage: user.can(Permission::ManageSystems),
        can_submit: is_vendor && checklist::can_answer(s.status).is_ok(),
        can_finish: user.can(Permission::ReviewAnswers) && s.status == SystemStatus::Submitted,
        missing,
        overrides: l.overrides.iter().map(|o| (o.number, o.reason.clone(), o.actor_login.clone())).collect(),
        versions: state
            .store
            .catalog_versions()
            .await?
            .into_iter()
            .map(|v| (v.id, format!("{} {}", v.id, v.label)))
            .collect(),
        can_scan: user.can(Permission::RequestScans) && !s.input.urls.is_empty(),
        scan_status,
        scan_rows,
        errors,
        p,
        s,
    })
}

pub async fn system(
    State(state): State<AppState>,
    page: Page,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let s = system_for(&state, &user, id).await?;
    system_page(&state, &page, &user, s, FormErrors::new()).await
}

#[derive(Deserialize)]
pub struct OverrideForm {
    #[serde(default)]
    number: String,
    #[serde(default)]
    applies: String,
    #[serde(default)]
    reason: String,
}

pub async fn set_override(
    State(state): State<AppState>,
    page: Page,
    meta: Meta,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<OverrideForm>,
) -> Result<Response, AppError> {
    let s = system_for(&state, &user, id).await?;
    let t = state.i18n.tr(page.lang);
    let mut errors = FormErrors::new();
    let l = load(&state, &s).await?;
    let number = form.number.trim().parse::<u32>().ok().filter(|n| l.reqs.iter().any(|r| r.number == *n));
    if number.is_none() {
        errors.add("number", t.get("override-bad-number"));
    }
    let applies = match form.applies.as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => {
            errors.add("applies", t.get("override-bad-applies"));
            None
        }
    };
    let reason = errors.check(&t, "reason", "field-reason", parse_multiline(&form.reason, 1, 500));
    if let (Some(n), Some(a), Some(r), true) = (number, applies, reason, errors.is_empty()) {
        state.store.set_override(&meta.ctx(state.clock.now(), user.actor()), id, n, a, &r).await?;
        session::flash(&page.session, "override-saved").await?;
        return Ok(Redirect::to(&format!("/systems/{id}")).into_response());
    }
    system_page(&state, &page, &user, s, errors).await
}

/// The message for a refused workflow step, naming the items concerned.
fn workflow_message(t: &Tr, e: &WorkflowError) -> String {
    let items = |m: &[u32]| m.iter().map(|n| format!("No.{n}")).collect::<Vec<_>>().join("、");
    match e {
        WorkflowError::Unanswered(m) => t.with("workflow-unanswered", &[("items", &items(m))]),
        WorkflowError::Undecided(m) => t.with("workflow-undecided", &[("items", &items(m))]),
        WorkflowError::NotNow(_) => t.get("workflow-not-now"),
    }
}

/// The message for a refused workflow step, or for someone having moved
/// the system first.
fn refused_message(t: &Tr, e: &StoreError) -> Option<String> {
    match e {
        StoreError::Refused(w) => Some(workflow_message(t, w)),
        StoreError::Stale | StoreError::Conflict => Some(t.get("workflow-conflict")),
        _ => None,
    }
}

pub async fn submit(
    State(state): State<AppState>,
    page: Page,
    meta: Meta,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let s = system_for(&state, &user, id).await?;
    let t = state.i18n.tr(page.lang);
    let mut errors = FormErrors::new();
    match state.store.submit_system(&meta.ctx(state.clock.now(), user.actor()), s.id).await {
        Ok(()) => {
            session::flash(&page.session, "system-submitted").await?;
            return Ok(Redirect::to(&format!("/systems/{id}")).into_response());
        }
        Err(e) => errors.add("workflow", refused_message(&t, &e).ok_or(e)?),
    }
    let s = system_for(&state, &user, id).await?;
    system_page(&state, &page, &user, s, errors).await
}

pub async fn finish_review(
    State(state): State<AppState>,
    page: Page,
    meta: Meta,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let s = system_for(&state, &user, id).await?;
    let t = state.i18n.tr(page.lang);
    let mut errors = FormErrors::new();
    match state.store.finish_review(&meta.ctx(state.clock.now(), user.actor()), s.id).await {
        Ok(to) => {
            session::flash(
                &page.session,
                if to == SystemStatus::Approved { "review-approved" } else { "review-returned" },
            )
            .await?;
            return Ok(Redirect::to(&format!("/systems/{id}")).into_response());
        }
        Err(e) => errors.add("workflow", refused_message(&t, &e).ok_or(e)?),
    }
    let s = system_for(&state, &user, id).await?;
    system_page(&state, &page, &user, s, errors).await
}

// ----- one requirement of one system --------------------------------------------------------

pub struct HistoryRow {
    at: String,
    actor: String,
    what: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "item.html")]
struct ItemPage<'a> {
    p: PageCtx<'a>,
    s: SystemRecord,
    r: ReqRow,
    applies: bool,
    answer: AnswerShown,
    review: String,
    review_comment: String,
    /// The answer's current revision (the officer decides on it).
    revision: i64,
    /// Changed after approval: the approved revision and, per changed
    /// field, its label, the approved value and the current one.
    approved_revision: Option<i64>,
    changes: Vec<(String, String, String)>,
    can_answer: bool,
    can_review: bool,
    statuses: Vec<(String, String)>,
    history: Vec<HistoryRow>,
    evidence: Vec<EvidenceRow>,
    max_mb: usize,
    errors: FormErrors,
}

pub struct EvidenceRow {
    id: i64,
    name: String,
    kind: String,
    size: String,
    sha256: String,
    uploaded: String,
    expires: String,
    expired: bool,
}

#[derive(Default)]
pub struct AnswerShown {
    status: String,
    status_label: String,
    measures: String,
    planned_date: String,
    reason: String,
}

/// What differs between the approved answer and the current one, field by
/// field: (label, approved, current).
fn answer_changes(t: &Tr, approved: &AnswerInput, now: &AnswerInput) -> Vec<(String, String, String)> {
    let date = |d: Option<time::Date>| d.map(|d| d.to_string()).unwrap_or_default();
    [
        ("field-answer", t.get(answer_key(approved.status)), t.get(answer_key(now.status))),
        ("field-measures", approved.measures.clone(), now.measures.clone()),
        ("field-planned-date", date(approved.planned), date(now.planned)),
        ("field-na-reason", approved.reason.clone(), now.reason.clone()),
    ]
    .into_iter()
    .filter(|(_, a, b)| a != b)
    .map(|(k, a, b)| (t.get(k), a, b))
    .collect()
}

/// History lines; an answer revision names the fields that changed since
/// the previous revision of the same requirement.
fn history_rows(t: &Tr, h: &[mamori_store::systems::HistoryEntry]) -> Vec<HistoryRow> {
    let mut last: BTreeMap<u32, &mamori_store::systems::HistoryEntry> = BTreeMap::new();
    h.iter()
        .map(|e| {
            let what = t.get(&format!("hist-{}", e.kind));
            let mut detail = Vec::new();
            if e.kind == "answer" {
                if let Some(prev) = last.get(&e.number) {
                    let changed: Vec<String> = [
                        (prev.status != e.status, "field-answer"),
                        (prev.measures != e.measures, "field-measures"),
                        (prev.planned_date != e.planned_date, "hist-field-planned"),
                        (prev.reason != e.reason, "field-na-reason"),
                    ]
                    .iter()
                    .filter(|(c, _)| *c)
                    .map(|(_, k)| t.get(k))
                    .collect();
                    let list = if changed.is_empty() { t.get("hist-unchanged") } else { changed.join("、") };
                    detail.push(t.with("hist-changed", &[("fields", &list)]));
                }
                last.insert(e.number, e);
            }
            if let Some(s) = AnswerStatus::parse(&e.status) {
                detail.push(t.get(answer_key(s)));
            }
            for part in [&e.measures, &e.reason, &e.comment] {
                if !part.is_empty() {
                    detail.push(part.clone());
                }
            }
            if let Some(d) = &e.planned_date {
                detail.push(t.with("hist-planned", &[("date", d)]));
            }
            HistoryRow { at: jst(Some(e.at)), actor: e.actor_login.clone(), what, detail: detail.join(" / ") }
        })
        .collect()
}

async fn item_page(
    state: &AppState,
    page: &Page,
    user: &CurrentUser,
    s: SystemRecord,
    number: u32,
    shown: Option<AnswerShown>,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let l = load(state, &s).await?;
    let r = l.reqs.iter().find(|r| r.number == number).ok_or(AppError::NotFound)?;
    let current = l.answers.get(&number);
    let history: Vec<_> =
        state.store.history(s.id, s.round).await?.into_iter().filter(|h| h.number == number).collect();
    let today_s = today(state).to_string();
    let evidence = state
        .store
        .evidence_for(s.id, s.round, number)
        .await?
        .into_iter()
        .map(|e| EvidenceRow {
            id: e.id,
            kind: e.content_type.rsplit('/').next().unwrap_or("").to_owned(),
            size: format!("{:.1} KB", e.size as f64 / 1024.0),
            sha256: e.sha256,
            uploaded: format!("{} {}", jst(Some(e.uploaded_at)), e.uploaded_by),
            expired: e.expires_on.as_deref().is_some_and(|d| d < today_s.as_str()),
            expires: e.expires_on.unwrap_or_default(),
            name: e.original_name,
        })
        .collect();
    let p = page.ctx(state).await?;
    let answer = shown.unwrap_or_else(|| match current {
        Some(a) => AnswerShown {
            status: a.input.status.as_str().to_owned(),
            status_label: p.t.get(answer_key(a.input.status)),
            measures: a.input.measures.clone(),
            planned_date: a.input.planned.map(|d| d.to_string()).unwrap_or_default(),
            reason: a.input.reason.clone(),
        },
        None => AnswerShown::default(),
    });
    let applies = l.applicable.contains(&number);
    let approved = current.and_then(|a| a.changed_after_approval().map(|ap| (a, ap)));
    let changes = approved.map(|(a, ap)| answer_changes(&p.t, &ap.input, &a.input)).unwrap_or_default();
    html(ItemPage {
        r: req_row(r),
        applies,
        revision: current.map_or(0, |a| a.revision),
        approved_revision: approved.map(|(_, ap)| ap.revision),
        changes,
        review: current.map(|a| p.t.get(review_key(a.review))).unwrap_or_default(),
        review_comment: current.map(|a| a.review_comment.clone()).unwrap_or_default(),
        can_answer: applies && user.can(Permission::AnswerChecklist) && checklist::can_answer(s.status).is_ok(),
        can_review: applies
            && current.is_some()
            && user.can(Permission::ReviewAnswers)
            && s.status == SystemStatus::Submitted,
        statuses: AnswerStatus::ALL.iter().map(|x| (x.as_str().to_owned(), p.t.get(answer_key(*x)))).collect(),
        history: history_rows(&p.t, &history),
        evidence,
        max_mb: state.config.evidence.max_bytes / (1024 * 1024),
        answer,
        errors,
        p,
        s,
    })
}

pub async fn item(
    State(state): State<AppState>,
    page: Page,
    user: CurrentUser,
    Path((id, number)): Path<(i64, u32)>,
) -> Result<Response, AppError> {
    let s = system_for(&state, &user, id).await?;
    item_page(&state, &page, &user, s, number, None, FormErrors::new()).await
}

#[derive(Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    measures: String,
    #[serde(default)]
    planned_date: String,
    #[serde(default)]
    reason: String,
}

pub async fn save_answer(
    State(state): State<AppState>,
    page: Page,
    meta: Meta,
    user: CurrentUser,
    Path((id, number)): Path<(i64, u32)>,
    Form(form): Form<AnswerForm>,
) -> Result<Response, AppError> {
    let s = system_for(&state, &user, id).await?;
    let l = load(&state, &s).await?;
    if !l.applicable.contains(&number) {
        return Err(AppError::NotFound);
    }
    let t = state.i18n.tr(page.lang);
    let mut errors = FormErrors::new();
    let status = AnswerStatus::parse(&form.status);
    if status.is_none() {
        errors.add("status", t.get("answer-need-status"));
    }
    let planned = if form.planned_date.trim().is_empty() {
        None
    } else {
        let d =
            time::Date::parse(form.planned_date.trim(), time::macros::format_description!("[year]-[month]-[day]")).ok();
        if d.is_none() {
            errors.add("planned_date", t.get("answer-bad-date"));
        }
        d
    };
    if let Some(status) = status {
        let input = AnswerInput {
            status,
            measures: form.measures.trim().replace("\r\n", "\n"),
            planned,
            reason: form.reason.trim().replace("\r\n", "\n"),
        };
        for (field, problem) in input.problems() {
            let key = match problem {
                checklist::AnswerProblem::MeasuresRequired => "answer-need-measures",
                checklist::AnswerProblem::PlannedDateRequired => "answer-need-date",
                checklist::AnswerProblem::ReasonRequired => "answer-need-reason",
                checklist::AnswerProblem::TooLong => "answer-too-long",
            };
            errors.add(field, t.get(key));
        }
        if errors.is_empty() {
            match state.store.save_answer(&meta.ctx(state.clock.now(), user.actor()), s.id, number, &input).await {
                Ok(()) => {
                    session::flash(&page.session, "answer-saved").await?;
                    return Ok(Redirect::to(&format!("/systems/{id}/items/{number}")).into_response());
                }
                Err(StoreError::Missing) => return Err(AppError::NotFound),
                Err(e) => errors.add("workflow", refused_message(&t, &e).ok_or(e)?),
            }
        }
    }
    let s = system_for(&state, &user, id).await?;
    let shown = AnswerShown {
        status: form.status,
        status_label: String::new(),
        measures: form.measures,
        planned_date: form.planned_date,
        reason: form.reason,
    };
    item_page(&state, &page, &user, s, number, Some(shown), errors).await
}

#[derive(Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    decision: String,
    /// The answer's revision the officer saw.
    #[serde(default)]
    revision: String,
    #[serde(default)]
    comment: String,
}

pub async fn review_item(
    State(state): State<AppState>,
    page: Page,
    meta: Meta,
    user: CurrentUser,
    Path((id, number)): Path<(i64, u32)>,
    Form(form): Form<ReviewForm>,
) -> Result<Response, AppError> {
    let s = system_for(&state, &user, id).await?;
    let t = state.i18n.tr(page.lang);
    let mut errors = FormErrors::new();
    let decision = match form.decision.as_str() {
        "approve" => Some(Review::Approved),
        "return" => Some(Review::Returned),
        _ => {
            errors.add("decision", t.get("review-need-decision"));
            None
        }
    };
    let comment = errors.check(&t, "comment", "field-comment", parse_multiline(&form.comment, 0, 2000));
    if decision == Some(Review::Returned) && comment.as_deref().is_some_and(str::is_empty) {
        errors.add("comment", t.get("review-need-comment"));
    }
    // Without the revision the officer saw, the decision could fall on
    // content they did not see: refused as changed.
    let revision = form.revision.parse::<i64>().ok();
    if revision.is_none() {
        errors.add("workflow", t.get("review-stale"));
    }
    if let (Some(d), Some(c), Some(revision), true) = (decision, comment, revision, errors.is_empty()) {
        let ctx = meta.ctx(state.clock.now(), user.actor());
        match state.store.decide(&ctx, s.id, number, revision, d, &c).await {
            Ok(()) => {
                session::flash(&page.session, "review-saved").await?;
                return Ok(Redirect::to(&format!("/systems/{id}")).into_response());
            }
            Err(StoreError::Missing) => return Err(AppError::NotFound),
            Err(StoreError::Stale) => errors.add("workflow", t.get("review-stale")),
            Err(e) => errors.add("workflow", refused_message(&t, &e).ok_or(e)?),
        }
    }
    item_page(&state, &page, &user, s, number, None, errors).await
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage<'a> {
    p: PageCtx<'a>,
    s: SystemRecord,
    rows: Vec<(u32, HistoryRow)>,
}

pub async fn history(
    State(state): State<AppState>,
    page: Page,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let s = system_for(&state, &user, id).await?;
    let h = state.store.history(s.id, s.round).await?;
    let p = page.ctx(&state).await?;
    let rows = h.iter().map(|e| e.number).zip(history_rows(&p.t, &h)).collect();
    html(HistoryPage { p, s, rows })
}

// ----- evidence -------------------------------------------------------------------------------

/// The name as data: the last path component, no control characters, at most 200 characters.
fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last.chars().filter(|c| !c.is_control()).take(200).collect();
    if cleaned.trim().is_empty() {
        "file".to_owned()
    } else {
        cleaned.trim().to_owned()
    }
}

/// Uploads one evidence file to an answer (vendor, while answering).
pub async fn upload_evidence(
    State(state): State<AppState>,
    page: Page,
    meta: Meta,
    user: CurrentUser,
    Path((id, number)): Path<(i64, u32)>,
    request: axum::extract::Request,
) -> Result<Response, AppError> {
    // Who may see the system is decided before the body is even parsed.
    let s = system_for(&state, &user, id).await?;
    let l = load(&state, &s).await?;
    if !l.applicable.contains(&number) {
        return Err(AppError::NotFound);
    }
    let t = state.i18n.tr(page.lang);
    let max = state.config.evidence.max_bytes;
    // Streamed: the CSRF token first, then the file up to the limit; past
    // it, nothing more is read.
    let mut multipart = match crate::csrf::verified_multipart(&state, request, max + 1024 * 1024).await {
        Ok(m) => m,
        Err(refused) => return Ok(refused),
    };
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut expires = String::new();
    let mut too_large = false;
    while let Ok(Some(mut field)) = multipart.next_field().await {
        match field.name() {
            Some("file") if file.is_none() => {
                let name = clean_name(field.file_name().unwrap_or(""));
                let mut bytes = Vec::new();
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) if bytes.len() + chunk.len() <= max => bytes.extend_from_slice(&chunk),
                        Ok(None) => break,
                        Ok(Some(_)) | Err(_) => {
                            too_large = true;
                            break;
                        }
                    }
                }
                file = Some((name, bytes));
                if too_large {
                    break;
                }
            }
            Some("expires_on") => {
                expires = field.text().await.unwrap_or_default().chars().take(32).collect();
            }
            _ => {}
        }
    }
    let mut errors = FormErrors::new();
    let ctx = meta.ctx(state.clock.now(), user.actor());
    let (name, bytes) = file.unwrap_or_default();
    let expires = expires.trim().to_owned();
    if checklist::can_answer(s.status).is_err() {
        errors.add("workflow", t.get("workflow-not-now"));
    } else if too_large {
        errors.add("file", t.with("evidence-too-large", &[("mb", &(max / (1024 * 1024)).to_string())]));
        state.store.record_rejected_evidence(&ctx, s.id, number, &name, "too_large").await?;
    } else if bytes.is_empty() {
        errors.add("file", t.get("evidence-need-file"));
    } else if !expires.is_empty()
        && time::Date::parse(&expires, time::macros::format_description!("[year]-[month]-[day]")).is_err()
    {
        errors.add("expires_on", t.get("answer-bad-date"));
    } else {
        match crate::evidence::admit(&bytes, &name) {
            Err(refusal) => {
                errors.add("file", t.get(refusal.message_key()));
                state.store.record_rejected_evidence(&ctx, s.id, number, &name, refusal.reason()).await?;
            }
            Ok(kind) => {
                let verdict = match &state.config.evidence.clamd {
                    Some(clamd) => crate::evidence::scan(clamd, &bytes).await,
                    None => Ok(crate::evidence::ScanResult::Clean),
                };
                match verdict {
                    Err(e) => {
                        tracing::error!("clamd: {e}");
                        errors.add("file", t.get("evidence-scan-failed"));
                    }
                    Ok(crate::evidence::ScanResult::Infected(sig)) => {
                        errors.add("file", t.get("evidence-infected"));
                        state
                            .store
                            .record_rejected_evidence(&ctx, s.id, number, &name, &format!("infected: {sig}"))
                            .await?;
                    }
                    Ok(crate::evidence::ScanResult::Clean) => {
                        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
                        let new = mamori_store::evidence::NewEvidence {
                            number,
                            original_name: &name,
                            content_type: kind.content_type(),
                            sha256: &sha,
                            expires_on: Some(expires.as_str()).filter(|e| !e.is_empty()),
                            content: &bytes,
                        };
                        match state.store.add_evidence(&ctx, s.id, &new).await {
                            Ok(_) => {
                                session::flash(&page.session, "evidence-saved").await?;
                                return Ok(Redirect::to(&format!("/systems/{id}/items/{number}")).into_response());
                            }
                            Err(StoreError::Missing) => return Err(AppError::NotFound),
                            Err(e) => errors.add("workflow", refused_message(&t, &e).ok_or(e)?),
                        }
                    }
                }
            }
        }
    }
    item_page(&state, &page, &user, s, number, None, errors).await
}

/// Sends a file to those who may see its system, always as an attachment,
/// typed and named by its content: a name whose extension does not fit
/// the content gets the content's extension appended.
pub async fn download_evidence(
    State(state): State<AppState>,
    meta: Meta,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let e = state.store.evidence(id).await?.ok_or(AppError::NotFound)?;
    system_for(&state, &user, e.system_id).await?;
    let bytes = state.store.download_evidence(&meta.ctx(state.clock.now(), user.actor()), &e).await?;
    let kind = crate::evidence::sniff(&bytes, &e.original_name);
    let name = crate::evidence::download_name(&e.original_name, kind);
    let content_type = kind.map_or("application/octet-stream", |k| k.content_type());
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, content_type.to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, crate::export::attachment(&name)),
        ],
        bytes,
    )
        .into_response())
}

/// Starts next year's assessment from the approved one (officer).
pub async fn start_round(
    State(state): State<AppState>,
    page: Page,
    meta: Meta,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let s = system_for(&state, &user, id).await?;
    let t = state.i18n.tr(page.lang);
    let mut errors = FormErrors::new();
    match state.store.start_round(&meta.ctx(state.clock.now(), user.actor()), s.id).await {
        Ok(_) => {
            session::flash(&page.session, "round-started").await?;
            return Ok(Redirect::to(&format!("/systems/{id}")).into_response());
        }
        Err(StoreError::Refused(_)) => errors.add("workflow", t.get("round-not-now")),
        Err(e) => errors.add("workflow", refused_message(&t, &e).ok_or(e)?),
    }
    system_page(&state, &page, &user, s, errors).await
}

#[derive(Deserialize)]
pub struct CatalogForm {
    #[serde(default)]
    version: String,
}

/// Moves a system to another catalog version, on purpose (officer).
pub async fn change_catalog(
    State(state): State<AppState>,
    page: Page,
    meta: Meta,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<CatalogForm>,
) -> Result<Response, AppError> {
    let s = system_for(&state, &user, id).await?;
    let t = state.i18n.tr(page.lang);
    let mut errors = FormErrors::new();
    let versions = state.store.catalog_versions().await?;
    let version = form.version.parse::<i64>().ok().filter(|v| versions.iter().any(|x| x.id == *v));
    match (version, checklist::can_change_catalog(s.status)) {
        (None, _) => errors.add("workflow", t.get("catalog-bad-version")),
        (_, Err(_)) => errors.add("workflow", t.get("workflow-not-now")),
        (Some(v), Ok(())) => {
            state.store.change_catalog_version(&meta.ctx(state.clock.now(), user.actor()), &s, v).await?;
            session::flash(&page.session, "catalog-changed").await?;
            return Ok(Redirect::to(&format!("/systems/{id}")).into_response());
        }
    }
    system_page(&state, &page, &user, s, errors).await
}

/// Queues a scan of the system's URLs; the server's worker runs it.
pub async fn request_scan(
    State(state): State<AppState>,
    page: Page,
    meta: Meta,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let s = system_for(&state, &user, id).await?;
    if s.input.urls.is_empty() {
        session::flash(&page.session, "scan-no-urls").await?;
        return Ok(Redirect::to(&format!("/systems/{id}")).into_response());
    }
    state.store.request_scan(&meta.ctx(state.clock.now(), user.actor()), s.id).await?;
    session::flash(&page.session, "scan-requested").await?;
    Ok(Redirect::to(&format!("/systems/{id}")).into_response())
}
