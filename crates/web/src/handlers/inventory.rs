//! Software inventory (items 62, 68): one system's components with their
//! support ends and the advisories that name them (63), the forms that
//! keep them, the sheet's import and export, and the list of support ends
//! across the systems a person sees.

use crate::download;
use crate::forms::{field_message, FormErrors};
use crate::handlers::pager::Pager;
use crate::handlers::vuln_view::{match_row, MatchRow};
use crate::handlers::{done, html, jst, today, Acting, Reply};
use crate::i18n::Label;
use crate::page::{Page, PageCtx};
use askama::Template;
use axum::extract::{Path, Query};
use axum::Form;
use mamori_app::inventory::{self as inv, Format};
use mamori_app::Refused;
use mamori_core::inventory::{
    support, ComponentFields, ComponentInput, ComponentKind, Support, SupportSource, SupportState,
};
use mamori_files::export::CsvEncoding;
use mamori_store::inventory::Component;
use serde::Deserialize;

/// A component as a row shows it.
pub struct Row {
    id: i64,
    system_id: i64,
    system: String,
    kind: &'static str,
    product: String,
    vendor: String,
    version: String,
    runs_on: String,
    cpe: String,
    support_end: String,
    /// 参照データ / 手入力, or empty.
    source: String,
    /// `ended`, `ending` or empty: the row's mark.
    state: &'static str,
    /// In words: 「サポート終了」「あと 30 日」.
    state_text: String,
    latest: String,
    reason: String,
}

fn row(page: &Page, c: &Component, system: &str, s: Support) -> Row {
    let t = page.t();
    let i = &c.input;
    let (state, state_text) = match s {
        Support::Ended { .. } => ("ended", t.get("inventory-ended")),
        Support::Ending { days, .. } => ("ending", t.with("inventory-days-left", &[("days", &days.to_string())])),
        Support::Supported { .. } => ("", t.get("inventory-supported")),
        Support::Unknown => ("", t.get("inventory-unknown")),
    };
    Row {
        id: c.id,
        system_id: c.system_id,
        system: system.to_owned(),
        kind: i.kind.key(),
        product: i.product.clone(),
        vendor: i.vendor.clone(),
        version: i.version.clone(),
        runs_on: i.runs_on.clone(),
        cpe: i.cpe.clone().unwrap_or_default(),
        support_end: i.support_end.map(|d| d.to_string()).unwrap_or_default(),
        source: match c.source {
            Some(SupportSource::Feed) => t.get("inventory-source-feed"),
            Some(SupportSource::Manual) => t.get("inventory-source-manual"),
            None => String::new(),
        },
        state,
        state_text,
        latest: c.latest.clone().unwrap_or_default(),
        reason: i.reason.clone(),
    }
}

fn warn_days(page: &Page) -> u32 {
    page.config.support_warn_days.into()
}

/// The component form's fields, as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ComponentForm {
    pub kind: String,
    pub product: String,
    pub vendor: String,
    pub version: String,
    pub runs_on: String,
    pub cpe: String,
    pub support_end: String,
    pub reason: String,
    /// The mark of the component the edit form showed
    /// (`Component::edit_mark`); empty on the add form.
    pub seen: String,
}

impl ComponentForm {
    fn of(c: &Component) -> ComponentForm {
        let i = &c.input;
        ComponentForm {
            kind: i.kind.as_str().to_owned(),
            product: i.product.clone(),
            vendor: i.vendor.clone(),
            version: i.version.clone(),
            runs_on: i.runs_on.clone(),
            cpe: i.cpe.clone().unwrap_or_default(),
            // A date the release data gives is not the person's: left empty,
            // it keeps following the data.
            support_end: match c.source {
                Some(SupportSource::Manual) => i.support_end.map(|d| d.to_string()).unwrap_or_default(),
                _ => String::new(),
            },
            reason: i.reason.clone(),
            seen: c.edit_mark(),
        }
    }

    fn parse(&self, page: &Page, errors: &mut FormErrors) -> Option<ComponentInput> {
        let f = ComponentFields {
            kind: &self.kind,
            product: &self.product,
            vendor: &self.vendor,
            version: &self.version,
            runs_on: &self.runs_on,
            cpe: &self.cpe,
            support_end: &self.support_end,
            reason: &self.reason,
        };
        match ComponentInput::parse(&f) {
            Ok(c) => Some(c),
            Err(problems) => {
                let t = page.t();
                for (field, e) in problems {
                    errors.add(field, field_message(&t, label_key(field), e));
                }
                None
            }
        }
    }
}

fn label_key(field: &str) -> &'static str {
    match field {
        "kind" => "inventory-kind",
        "product" => "inventory-product",
        "vendor" => "inventory-vendor",
        "version" => "inventory-version",
        "runs_on" => "inventory-runs-on",
        "cpe" => "inventory-cpe",
        "support_end" => "inventory-support-end",
        _ => "inventory-reason",
    }
}

/// The kinds for the form's select: code and key.
fn kinds() -> Vec<(&'static str, &'static str)> {
    ComponentKind::ALL.iter().map(|k| (k.as_str(), k.key())).collect()
}

/// What the import form says after a sheet was sent.
#[derive(Default)]
pub enum Notes {
    #[default]
    None,
    Done(String),
    Problems(Vec<String>),
}

/// What the inventory page shows besides the inventory: the component
/// form as sent and its problems, the import's notes, a refused decision
/// (by match).
#[derive(Default)]
struct Shown {
    form: ComponentForm,
    errors: FormErrors,
    notes: Notes,
    decision_error: Option<(i64, String)>,
    /// The page of the matches asked for (`?page=`).
    match_page: String,
}

#[derive(Template)]
#[template(path = "inventory.html")]
struct InventoryPage<'a> {
    p: PageCtx<'a>,
    system_id: i64,
    system: String,
    rows: Vec<Row>,
    ended: usize,
    ending: usize,
    editable: bool,
    form: ComponentForm,
    kinds: Vec<(&'static str, &'static str)>,
    errors: FormErrors,
    /// Problems of a refused import, by row; or what an import did.
    notes: Notes,
    warn_days: u32,
    matches: Vec<MatchRow>,
    /// The matches a page at a time (a kernel can match thousands).
    pager: Pager,
    /// The most matches a system holds, when this one holds them: new
    /// ones are not recorded.
    matches_full: Option<usize>,
    decides: bool,
    /// A refused decision, by match.
    decision_error: Option<(i64, String)>,
}

async fn inventory_page(page: &Page, who: &Acting, id: i64, shown: Shown) -> Reply {
    let Shown { form, errors, notes, decision_error, match_page } = shown;
    let inv = inv::inventory(&who.op(page), id).await?;
    let today = today(page);
    let rows: Vec<Row> = inv
        .components
        .iter()
        .map(|c| row(page, c, &inv.system.input.name, support(c.input.support_end, today, warn_days(page))))
        .collect();
    let ended = rows.iter().filter(|r| r.state == "ended").count();
    let ending = rows.iter().filter(|r| r.state == "ending").count();
    // Links back to the list of matches, not the top of the inventory.
    let pager = Pager::new(&match_page, inv.matches.len(), "").at(&format!("/systems/{id}/inventory")).within("vulns");
    let p = page.ctx_form().await?;
    html(InventoryPage {
        p,
        system_id: id,
        system: inv.system.input.name.clone(),
        rows,
        ended,
        ending,
        editable: inv.editable,
        form,
        kinds: kinds(),
        errors,
        notes,
        warn_days: warn_days(page),
        matches: pager.slice(&inv.matches).iter().map(|m| match_row(page, m, &inv.system.input.name)).collect(),
        pager,
        matches_full: Some(mamori_core::vulns::MAX_MATCHES_PER_SYSTEM).filter(|most| inv.matches.len() >= *most),
        decides: inv.decides,
        decision_error,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct InventoryQuery {
    page: String,
}

pub async fn inventory(page: Page, who: Acting, Path(id): Path<i64>, Query(q): Query<InventoryQuery>) -> Reply {
    inventory_page(&page, &who, id, Shown { match_page: q.page, ..Shown::default() }).await
}

fn refused_field(page: &Page, e: Refused, errors: &mut FormErrors) -> Result<(), Refused> {
    match e {
        Refused::Taken => errors.add("product", page.t().get("inventory-taken")),
        Refused::Invalid(_) => errors.add("product", page.t().get("inventory-too-many")),
        other => return Err(other),
    }
    Ok(())
}

/// Adds a component.
pub async fn add_component(page: Page, who: Acting, Path(id): Path<i64>, Form(form): Form<ComponentForm>) -> Reply {
    let mut errors = FormErrors::new();
    if let Some(input) = form.parse(&page, &mut errors) {
        match inv::save(&who.op(&page), id, None, &input).await {
            Ok(_) => return done(&page, "inventory-saved", &format!("/systems/{id}/inventory")).await,
            Err(e) => refused_field(&page, e, &mut errors)?,
        }
    }
    inventory_page(&page, &who, id, Shown { form, errors, ..Shown::default() }).await
}

#[derive(Template)]
#[template(path = "component.html")]
struct ComponentPage<'a> {
    p: PageCtx<'a>,
    system_id: i64,
    system: String,
    id: i64,
    row: Row,
    form: ComponentForm,
    kinds: Vec<(&'static str, &'static str)>,
    errors: FormErrors,
    updated: String,
}

async fn component_page(
    page: &Page,
    who: &Acting,
    id: i64,
    cid: i64,
    form: Option<ComponentForm>,
    errors: FormErrors,
) -> Reply {
    let inv = inv::inventory(&who.op(page), id).await?;
    let c = inv.components.iter().find(|c| c.id == cid).ok_or(Refused::NotFound)?;
    if !inv.editable {
        return Err(Refused::NotFound.into());
    }
    let s = support(c.input.support_end, today(page), warn_days(page));
    let row = row(page, c, &inv.system.input.name, s);
    let p = page.ctx_form().await?;
    html(ComponentPage {
        p,
        system_id: id,
        system: inv.system.input.name.clone(),
        id: cid,
        row,
        form: form.unwrap_or_else(|| ComponentForm::of(c)),
        kinds: kinds(),
        errors,
        updated: format!("{} {}", jst(Some(c.updated_at)), c.updated_by),
    })
}

pub async fn component(page: Page, who: Acting, Path((id, cid)): Path<(i64, i64)>) -> Reply {
    component_page(&page, &who, id, cid, None, FormErrors::new()).await
}

/// Changes a component.
pub async fn save_component(
    page: Page,
    who: Acting,
    Path((id, cid)): Path<(i64, i64)>,
    Form(form): Form<ComponentForm>,
) -> Reply {
    let mut errors = FormErrors::new();
    let mut form = form;
    if let Some(input) = form.parse(&page, &mut errors) {
        match inv::save(&who.op(&page), id, Some((cid, &form.seen)), &input).await {
            Ok(_) => return done(&page, "inventory-saved", &format!("/systems/{id}/inventory")).await,
            // Changed by someone else since the form was shown: what was
            // typed is shown again with the component's mark now, so that
            // saving again replaces it knowingly.
            Err(Refused::Stale) => {
                errors.add("product", page.t().get("inventory-changed-meanwhile"));
                let inv = inv::inventory(&who.op(&page), id).await?;
                let now = inv.components.iter().find(|c| c.id == cid).ok_or(Refused::NotFound)?;
                form.seen = now.edit_mark();
            }
            Err(e) => refused_field(&page, e, &mut errors)?,
        }
    }
    component_page(&page, &who, id, cid, Some(form), errors).await
}

pub async fn remove_component(page: Page, who: Acting, Path((id, cid)): Path<(i64, i64)>) -> Reply {
    inv::remove(&who.op(&page), id, cid).await?;
    done(&page, "inventory-removed", &format!("/systems/{id}/inventory")).await
}

/// The largest sheet taken.
const SHEET_MAX: usize = mamori_app::inventory::MAX_SHEET;

/// Imports a CSV or Excel sheet: every row, or none with each problem.
pub async fn import(page: Page, who: Acting, Path(id): Path<i64>, request: axum::extract::Request) -> Reply {
    // Who may is decided before the body is read.
    let editable = inv::inventory(&who.op(&page), id).await?.editable;
    if !editable {
        return Err(Refused::NotFound.into());
    }
    let (name, bytes, too_large, _turn) = match crate::handlers::one_file(&page, request, SHEET_MAX).await {
        Ok(f) => f,
        Err(refused) => return Ok(refused),
    };
    let t = page.t();
    let problems = if too_large {
        vec![t.with("inventory-sheet-too-large", &[("mb", &(SHEET_MAX / (1024 * 1024)).to_string())])]
    } else if bytes.is_empty() {
        vec![t.get("inventory-sheet-empty")]
    } else {
        match inv::import(&who.op(&page), id, &name, &bytes).await? {
            Ok(n) => {
                // Shown at once, not after a redirect: the counts are this
                // import's, and sending the same sheet again changes nothing.
                let note = t.with(
                    "inventory-imported",
                    &[
                        ("added", &n.added.to_string()),
                        ("changed", &n.changed.to_string()),
                        ("unchanged", &n.unchanged.to_string()),
                    ],
                );
                return inventory_page(&page, &who, id, Shown { notes: Notes::Done(note), ..Shown::default() }).await;
            }
            Err(problems) => problems,
        }
    };
    inventory_page(&page, &who, id, Shown { notes: Notes::Problems(problems), ..Shown::default() }).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CsvQuery {
    encoding: String,
}

fn export_name(system: &str, ext: &str) -> String {
    format!("ソフトウェア構成_{system}.{ext}")
}

pub async fn export_csv(page: Page, who: Acting, Path(id): Path<i64>, Query(q): Query<CsvQuery>) -> Reply {
    let enc = CsvEncoding::from_query(Some(q.encoding.as_str()));
    let (s, bytes) = inv::export(&who.op(&page), id, Format::Csv(enc)).await?;
    Ok(download::file(enc.content_type(), &export_name(&s.input.name, "csv"), bytes))
}

pub async fn export_xlsx(page: Page, who: Acting, Path(id): Path<i64>) -> Reply {
    let (s, bytes) = inv::export(&who.op(&page), id, Format::Xlsx).await?;
    Ok(download::xlsx(&export_name(&s.input.name, "xlsx"), bytes))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SupportQuery {
    /// `ended`, `ending`, or anything else for every dated component.
    state: String,
    page: String,
}

#[derive(Template)]
#[template(path = "support.html")]
struct SupportPage<'a> {
    p: PageCtx<'a>,
    rows: Vec<Row>,
    pager: Pager,
    state: String,
    ended: usize,
    ending: usize,
    warn_days: u32,
}

/// Support ends across the systems the person sees, soonest first.
pub async fn support_list(page: Page, who: Acting, Query(q): Query<SupportQuery>) -> Reply {
    let all = inv::dated(&who.op(&page), warn_days(&page)).await?;
    let count = |s: SupportState| all.iter().filter(|d| d.support.state() == s).count();
    let (ended, ending) = (count(SupportState::Ended), count(SupportState::Ending));
    let wanted = SupportState::parse(&q.state).filter(|s| matches!(s, SupportState::Ended | SupportState::Ending));
    let shown: Vec<_> = all.iter().filter(|d| wanted.is_none_or(|w| d.support.state() == w)).collect();
    let state = wanted.map(|s| s.as_str().to_owned()).unwrap_or_default();
    let filters = if state.is_empty() { String::new() } else { format!("state={state}") };
    let pager = Pager::new(&q.page, shown.len(), &filters).at("/inventory");
    let rows = pager.slice(&shown).iter().map(|d| row(&page, &d.component, &d.system_name, d.support)).collect();
    let p = page.ctx().await?;
    html(SupportPage { p, rows, pager, state, ended, ending, warn_days: warn_days(&page) })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DecisionForm {
    state: String,
    reason: String,
    /// The page of the matches the form was on, to return to.
    page: String,
    /// The match as the form showed it ([`mamori_store::vulns::VulnMatch::mark`]).
    seen: String,
}

/// Records what was decided about a match.
pub async fn decide(page: Page, who: Acting, Path((id, mid)): Path<(i64, i64)>, Form(f): Form<DecisionForm>) -> Reply {
    use mamori_core::vulns::MatchState;
    // Only a number goes back into a link.
    let match_page = f.page.parse::<usize>().map(|n| n.to_string()).unwrap_or_default();
    let Some(state) = MatchState::parse(&f.state) else {
        let decision_error = Some((mid, page.t().get("vuln-state-required")));
        return inventory_page(&page, &who, id, Shown { decision_error, match_page, ..Shown::default() }).await;
    };
    let query = if match_page.is_empty() { String::new() } else { format!("?page={match_page}") };
    match inv::decide(&who.op(&page), (id, mid, &f.seen), state, &f.reason).await {
        Ok(()) => done(&page, "vuln-decided", &format!("/systems/{id}/inventory{query}#vulns")).await,
        // Decided by someone else since the page was shown: nothing is changed.
        Err(Refused::Stale) => done(&page, "workflow-conflict", &format!("/systems/{id}/inventory{query}#vulns")).await,
        Err(Refused::Invalid(_)) => {
            let decision_error =
                Some((mid, page.t().with("vuln-reason-required", &[("max", &inv::MAX_REASON.to_string())])));
            inventory_page(&page, &who, id, Shown { decision_error, match_page, ..Shown::default() }).await
        }
        Err(e) => Err(e.into()),
    }
}
