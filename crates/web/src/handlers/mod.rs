//! Request handlers: parse and validate, check, call the store, render.

pub mod admin;
pub mod alerts;
pub mod audit;
mod audit_names;
pub mod catalog;
pub mod dashboard;
pub mod feeds;
pub mod inventory;
pub mod jobs;
pub mod library;
pub mod me;
pub mod pager;
pub mod records;
pub mod signin;
pub mod sorting;
pub mod systems;
mod vuln_view;
pub mod vulns;

use crate::context::origin_of;
use crate::error::AppError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Response};
use mamori_core::audit::Origin;
use mamori_core::catalog::RequirementDef;
use mamori_core::checklist::{Phase, SystemStatus};
use mamori_core::identity::OrgKind;
use mamori_core::jst::format_jst;
use mamori_core::jst::JST;
use mamori_store::accounts::Organisation;
use mamori_store::systems::SystemFilter;
use mamori_store::systems::SystemRecord;
use serde::Deserialize;
use time::OffsetDateTime;

/// Where the request came from (client address, user agent, request id).
pub struct Meta(pub Origin);

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Meta(origin_of(&parts.extensions)))
    }
}

impl Meta {
    pub fn addr(&self) -> String {
        self.0.client_addr.clone().unwrap_or_default()
    }
}

/// The acting person: who is signed in, as operations see them, and where
/// the request came from. Handlers that change something take this.
pub struct Acting {
    pub user: crate::auth::CurrentUser,
    pub person: mamori_app::Person,
    pub origin: Origin,
}

impl<S: Send + Sync> FromRequestParts<S> for Acting {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Self::Rejection> {
        let user = crate::auth::CurrentUser::from_request_parts(parts, s).await?;
        Ok(Acting::new(&user, &Meta(origin_of(&parts.extensions))))
    }
}

/// What a handler answers: a page, a redirect or a download, or an error
/// page.
pub type Reply = Result<Response, AppError>;

impl Acting {
    /// The acting person of a handler that also needs the signed-in user
    /// and the request's origin on their own.
    pub fn new(user: &crate::auth::CurrentUser, meta: &Meta) -> Acting {
        Acting { user: user.clone(), person: mamori_app::Person::of(user.account()), origin: meta.0.clone() }
    }

    /// An operation by this person, now.
    pub fn op<'a>(&'a self, state: &'a AppState) -> mamori_app::Op<'a> {
        mamori_app::Op { store: &state.store, who: &self.person, origin: self.origin.clone(), now: state.clock.now() }
    }
}

/// The one file of an upload form (field `file`) after its CSRF token: its
/// name (data, never a path), its bytes up to `max`, whether it was cut
/// off there, and the form's turn (kept while the bytes are worked on). A
/// refused or broken form is the response to send.
pub async fn one_file(
    page: &crate::page::Page,
    request: axum::extract::Request,
    max: usize,
) -> Result<(String, Vec<u8>, bool, crate::uploads::UploadTurn), Response> {
    let mut multipart = crate::csrf::verified_multipart(page, request, max + 64 * 1024).await?;
    let (name, read) = loop {
        match next_field(&mut multipart).await {
            Ok(Some(mut field)) if field.name() == Some("file") => {
                let name = clean_name(field.file_name().unwrap_or(""));
                break (name, read_capped(&mut field, max).await);
            }
            Ok(Some(_)) => {}
            Ok(None) => break (String::new(), Ok(Vec::new())),
            Err(cut) => break (String::new(), Err(cut)),
        }
    };
    let turn = multipart.into_turn();
    match read.map_err(Cut::too_large) {
        Ok(bytes) => Ok((name, bytes, false, turn)),
        Err(Ok(too_large)) => Ok((name, Vec::new(), too_large, turn)),
        Err(Err(broken)) => Err(axum::response::IntoResponse::into_response(broken)),
    }
}

/// clamd as configured, to answer before the request's time runs out, less
/// a margin to answer in.
pub fn scanner(page: &crate::page::Page) -> Option<mamori_app::evidence::Scanner<'_>> {
    let left = page.time_left().saturating_sub(std::time::Duration::from_secs(2));
    let until = std::time::Instant::now() + left;
    page.config.evidence.clamd.as_ref().map(|clamd| mamori_app::evidence::Scanner { clamd, until })
}

/// After a change: back to `to`, with a one-time message there.
pub async fn done(page: &crate::page::Page, flash: &str, to: &str) -> Result<Response, AppError> {
    crate::session::flash(&page.session, flash).await?;
    Ok(axum::response::Redirect::to(to).into_response())
}

/// A rendered page; askama escapes every value (item 50).
pub fn html<T: askama::Template>(t: T) -> Result<Response, crate::AppError> {
    Ok(Html(t.render()?).into_response())
}

pub fn jst(t: Option<OffsetDateTime>) -> String {
    t.map(format_jst).unwrap_or_else(|| "-".to_owned())
}

/// A path inside this site to go back to: starts with one `/`, no scheme,
/// no host, no control character (an open redirect or a header split is
/// refused, and `/` is used instead).
pub fn local_path(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.contains("://")
        && !next.chars().any(char::is_control);
    if ok {
        next
    } else {
        "/"
    }
}

// ----- shared by the checklist screens ------------------------------------------

pub fn today(state: &AppState) -> time::Date {
    state.clock.now().to_offset(JST).date()
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    pub q: String,
    pub department: String,
    pub vendor: String,
    pub phase: String,
    pub status: String,
    /// The page of a long list, from 1 (anything else: the first).
    pub page: String,
    /// The column the list is sorted by, and `desc` for the other way.
    pub sort: String,
    pub dir: String,
}

impl ListQuery {
    /// The filters as a query string (without the page), for links that
    /// keep them: `department=3&phase=building`.
    pub fn filters(&self) -> String {
        query_of(&[
            ("q", &self.q),
            ("department", &self.department),
            ("vendor", &self.vendor),
            ("phase", &self.phase),
            ("status", &self.status),
        ])
    }

    /// The filters and the order, for the links between pages.
    pub fn ordered(&self) -> String {
        let filters = self.filters();
        let order = query_of(&[("sort", &self.sort), ("dir", &self.dir)]);
        [filters, order].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join("&")
    }
}

/// A query string of the pairs whose value is not empty, for links that
/// keep a filter.
pub fn query_of(pairs: &[(&str, &String)]) -> String {
    let kept: Vec<(&str, &str)> = pairs.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (*k, v.as_str())).collect();
    serde_urlencoded::to_string(kept).unwrap_or_default()
}

pub fn org_choices(orgs: &[Organisation], kind: OrgKind) -> Vec<(String, String)> {
    orgs.iter().filter(|o| o.kind == kind).map(|o| (o.id.to_string(), o.name.clone())).collect()
}

/// The query's filters (the store keeps them within the person's scope).
pub fn filtered(q: &ListQuery) -> SystemFilter {
    let mut f = SystemFilter {
        department_id: q.department.parse().ok(),
        vendor_id: q.vendor.parse().ok(),
        ..Default::default()
    };
    f.phase = Phase::parse(&q.phase);
    f.status = SystemStatus::parse(&q.status);
    f.name_contains = Some(q.q.trim().to_owned()).filter(|s| !s.is_empty() && s.chars().count() <= 100);
    f
}

pub struct ReqRow {
    number: u32,
    major: String,
    middle: String,
    condition: String,
    text: String,
    applies_when: String,
    checks: String,
    hint: String,
    /// Who answers it by default.
    party: String,
}

/// A requirement as people read it: its condition in words, its automatic
/// checks by name.
pub fn req_row(t: &crate::i18n::Tr, r: &RequirementDef) -> ReqRow {
    let applies_when = crate::labels::condition(t, &r.applies_when);
    let checks: Vec<String> = r
        .checks
        .iter()
        .map(|c| mamori_core::verification::CheckId::parse(c).map_or_else(|| c.clone(), |id| t.label(id)))
        .collect();
    ReqRow {
        number: r.number,
        major: r.major.clone(),
        middle: r.middle.clone(),
        condition: r.condition_note.clone().unwrap_or_default(),
        text: r.text.clone(),
        applies_when,
        checks: checks.join("、"),
        hint: r.evidence_hint.clone(),
        party: t.label(r.party),
    }
}

/// A system's catalog and the requirements that apply to it.
pub struct Loaded {
    /// The system's catalog version, shared (parsed once per version).
    pub catalog: std::sync::Arc<mamori_core::catalog::CatalogFile>,
    pub applicable: Vec<u32>,
}

/// From memory while the system has not changed (`mamori_store::figures`).
pub async fn load(state: &AppState, s: &SystemRecord) -> Result<Loaded, AppError> {
    let catalog = state.store.catalog(s.catalog_version_id).await?;
    let figures = state.store.figures(std::slice::from_ref(s)).await?;
    let applicable = figures.first().map(|f| f.items.iter().map(|i| i.number).collect()).unwrap_or_default();
    Ok(Loaded { catalog, applicable })
}

impl Loaded {
    pub fn reqs(&self) -> &[RequirementDef] {
        &self.catalog.requirements
    }
}

/// How reading an upload form stopped short of its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    /// Past the size the form or the field allows: the person is told so.
    TooLarge,
    /// Broken off or malformed: answered as a bad request, and nothing of
    /// the form is used (a file whole and the rest of its form lost is not
    /// taken without its date).
    Broken,
}

impl Cut {
    fn of(e: multer::Error) -> Cut {
        match e {
            multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => Cut::TooLarge,
            _ => Cut::Broken,
        }
    }

    /// `true` when the form was too large; a broken form is an error.
    pub(crate) fn too_large(self) -> Result<bool, crate::error::AppError> {
        match self {
            Cut::TooLarge => Ok(true),
            Cut::Broken => Err(crate::error::AppError::BadRequest),
        }
    }
}

/// The next field of an upload form, `None` at its end.
pub(crate) async fn next_field<'r>(m: &mut multer::Multipart<'r>) -> Result<Option<multer::Field<'r>>, Cut> {
    m.next_field().await.map_err(Cut::of)
}

/// A file field of a multipart form, read up to `max` bytes and no
/// further.
pub(crate) async fn read_capped(field: &mut multer::Field<'_>, max: usize) -> Result<Vec<u8>, Cut> {
    let mut bytes = Vec::new();
    loop {
        match field.chunk().await.map_err(Cut::of)? {
            Some(chunk) if bytes.len() + chunk.len() <= max => bytes.extend_from_slice(&chunk),
            Some(_) => return Err(Cut::TooLarge),
            None => return Ok(bytes),
        }
    }
}

/// A text field of an upload form, its first `chars` characters (the
/// whole form's size limit bounds what is read).
pub(crate) async fn short_text(field: multer::Field<'_>, chars: usize) -> Result<String, Cut> {
    Ok(field.text().await.map_err(Cut::of)?.chars().take(chars).collect())
}

/// Why a file was not taken, as (field, message) for the form: the file's
/// name beside the reason.
pub(crate) fn rejected_message(
    t: &crate::i18n::Tr,
    rejected: mamori_app::evidence::Rejected,
    name: &str,
    max: usize,
) -> (&'static str, String) {
    use mamori_app::evidence::Rejected;
    use mamori_files::evidence::Refusal;
    let (field, message) = match rejected {
        Rejected::TooLarge => ("file", t.with("evidence-too-large", &[("mb", &(max / (1024 * 1024)).to_string())])),
        Rejected::Empty => ("file", t.get("evidence-need-file")),
        Rejected::BadDate => ("expires_on", t.get("answer-bad-date")),
        Rejected::Refused(r @ Refusal::Formula { row, column, .. }) => {
            ("file", t.with(r.message_key(), &[("row", &row.to_string()), ("column", &column.to_string())]))
        }
        Rejected::Refused(r) => ("file", t.get(r.message_key())),
        Rejected::Infected => ("file", t.get("evidence-infected")),
        Rejected::ScannerDown => ("file", t.get("evidence-scan-failed")),
        Rejected::OverQuota(q) => ("file", t.with("evidence-over-quota", &[("mb", &(q / (1024 * 1024)).to_string())])),
        Rejected::TooMany(n) => ("file", t.with("evidence-too-many", &[("n", &n.to_string())])),
    };
    if field == "file" && !name.is_empty() {
        (field, t.with("evidence-refused-file", &[("name", name), ("why", &message)]))
    } else {
        (field, message)
    }
}

/// The name as data: the last path component, without control characters
/// or marks that reorder text ([`mamori_files::evidence::hidden_in_names`]),
/// at most 200 characters.
pub(crate) fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last.chars().filter(|c| !mamori_files::evidence::hidden_in_names(*c)).take(200).collect();
    if cleaned.trim().is_empty() {
        "file".to_owned()
    } else {
        cleaned.trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path("/admin/users"), "/admin/users");
        assert_eq!(local_path("/systems/3?tab=evidence#items"), "/systems/3?tab=evidence#items");
        for bad in ["//evil.example/", "https://evil.example/", "/\\evil", "evil", ""] {
            assert_eq!(local_path(bad), "/", "{bad}");
        }
        // Control characters: a header split, and paths a browser would
        // read as another host once it drops tabs and line ends.
        for bad in [
            "/a\r\nLocation: x",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/a\0b",
            "/a\u{7f}b",
            "/a\u{85}b",
        ] {
            assert_eq!(local_path(bad), "/", "{bad:?}");
        }
    }
}
