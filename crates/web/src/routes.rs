//! Every route, with the access it requires, in one table (items 6, 36,
//! 45). The router is built from the table, and tests walk the same table:
//! every state-changing route refuses without a CSRF token, and every route
//! answers every role as its access says.

use crate::auth;
use crate::handlers::{
    admin, alerts, audit, catalog, dashboard, feeds, inventory, jobs, library, me, records, signin, systems, vulns,
};
use crate::{health, metrics, pages, AppState};
use axum::http::Method;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use mamori_core::identity::Permission::*;

pub use crate::auth::Access;

/// A route as the tests see it.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

impl RouteSpec {
    pub fn access_kind(&self) -> Access {
        self.access
    }
}

struct Entry {
    spec: RouteSpec,
    route: MethodRouter<AppState>,
}

fn entry(method: Method, path: &'static str, access: Access, route: MethodRouter<AppState>) -> Entry {
    Entry { spec: RouteSpec { method, path, access }, route }
}

fn entries() -> Vec<Entry> {
    use Access::*;
    let g = Method::GET;
    let p = Method::POST;
    vec![
        entry(g.clone(), "/", Public, get(pages::home)),
        entry(g.clone(), "/healthz", Public, get(health::healthz)),
        entry(g.clone(), "/metrics", Public, get(metrics::metrics)),
        entry(p.clone(), "/lang", Public, post(signin::set_lang)),
        entry(g.clone(), "/login", Public, get(signin::login_form)),
        entry(p.clone(), "/login", Public, post(signin::login)),
        entry(g.clone(), "/login/totp", Public, get(signin::totp_form)),
        entry(p.clone(), "/login/totp", Public, post(signin::totp)),
        entry(g.clone(), "/setup/{token}", Public, get(signin::setup_form)),
        entry(p.clone(), "/setup/{token}", Public, post(signin::setup)),
        entry(p.clone(), "/logout", Due, post(signin::logout)),
        entry(g.clone(), "/password", Due, get(me::password_form)),
        entry(p.clone(), "/password", Due, post(me::change_password)),
        entry(g.clone(), "/account/totp", Due, get(me::totp_enrol_form)),
        entry(p.clone(), "/account/totp", Due, post(me::totp_enrol)),
        entry(g.clone(), "/dashboard", SignedIn, get(dashboard::dashboard)),
        entry(g.clone(), "/account", SignedIn, get(me::account)),
        entry(p.clone(), "/account/sessions", SignedIn, post(me::end_other_sessions)),
        entry(p.clone(), "/account/recovery-codes", SignedIn, post(me::renew_recovery_codes)),
        entry(g.clone(), "/admin/users", Permission(ViewAccounts), get(admin::users)),
        entry(p.clone(), "/admin/users", Permission(ManageAccounts), post(admin::create_user)),
        entry(g.clone(), "/admin/users/new", Permission(ManageAccounts), get(admin::new_user_form)),
        entry(g.clone(), "/admin/users/{id}", Permission(ViewAccounts), get(admin::user_detail)),
        entry(p.clone(), "/admin/users/{id}", Permission(ManageAccounts), post(admin::update_user)),
        entry(g.clone(), "/admin/users/{id}/edit", Permission(ManageAccounts), get(admin::edit_user_form)),
        entry(p.clone(), "/admin/users/{id}/disable", Permission(ManageAccounts), post(admin::disable_user)),
        entry(p.clone(), "/admin/users/{id}/enable", Permission(ManageAccounts), post(admin::enable_user)),
        entry(p.clone(), "/admin/users/{id}/unlock", Permission(ManageAccounts), post(admin::unlock_user)),
        entry(
            p.clone(),
            "/admin/users/{id}/reset-password",
            Permission(ManageAccounts),
            post(admin::reset_user_password),
        ),
        entry(p.clone(), "/admin/users/{id}/reset-totp", Permission(ManageAccounts), post(admin::reset_user_totp)),
        entry(g.clone(), "/admin/organisations", Permission(ManageAccounts), get(admin::organisations)),
        entry(p.clone(), "/admin/organisations", Permission(ManageAccounts), post(admin::create_organisation)),
        entry(g.clone(), "/admin/ledger", Permission(ViewAccounts), get(admin::ledger)),
        entry(g.clone(), "/admin/ledger.csv", Permission(ViewAccounts), get(admin::ledger_csv)),
        entry(p.clone(), "/admin/ledger.csv", Permission(ViewAccounts), post(admin::ledger_csv)),
        entry(g.clone(), "/admin/ledger.xlsx", Permission(ViewAccounts), get(admin::ledger_xlsx)),
        entry(p.clone(), "/admin/ledger.xlsx", Permission(ViewAccounts), post(admin::ledger_xlsx)),
        entry(g.clone(), "/admin/access-review", Permission(ViewAccounts), get(admin::access_review)),
        entry(p.clone(), "/admin/access-review", Permission(ReviewAccess), post(admin::sign_off_review)),
        entry(g.clone(), "/catalog", SignedIn, get(catalog::catalog)),
        entry(g.clone(), "/catalog/import", Permission(ManageCatalog), get(catalog::import_form)),
        entry(p.clone(), "/catalog/import", Permission(ManageCatalog), post(catalog::upload_catalog)),
        entry(p.clone(), "/catalog/import/apply", Permission(ManageCatalog), post(catalog::apply_catalog)),
        entry(g.clone(), "/audit", Permission(ViewAuditLog), get(audit::viewer)),
        entry(g.clone(), "/audit/events/{seq}", Permission(ViewAuditLog), get(audit::event)),
        entry(g.clone(), "/audit/export.csv", Permission(ViewAuditLog), get(audit::export_csv)),
        entry(p.clone(), "/audit/export.csv", Permission(ViewAuditLog), post(audit::export_csv)),
        entry(g.clone(), "/audit/export.jsonl", Permission(ViewAuditLog), get(audit::export_jsonl)),
        entry(p.clone(), "/audit/export.jsonl", Permission(ViewAuditLog), post(audit::export_jsonl)),
        entry(g.clone(), "/audit/signins", Permission(ViewAuditLog), get(audit::signins)),
        entry(p.clone(), "/audit/reviews", Permission(ReviewLogs), post(audit::sign_off)),
        entry(g.clone(), "/alerts", Permission(ViewAuditLog), get(alerts::alerts)),
        entry(p.clone(), "/alerts/{id}/ack", Permission(ManageAlerts), post(alerts::acknowledge)),
        entry(p.clone(), "/alerts/notify-test", Permission(ManageAlerts), post(alerts::notify_test)),
        entry(g.clone(), "/jobs", Permission(ViewAuditLog), get(jobs::jobs)),
        entry(g.clone(), "/systems", Permission(ViewSystems), get(systems::systems)),
        entry(p.clone(), "/systems", Permission(ManageSystems), post(systems::create_system)),
        entry(g.clone(), "/rounds", Permission(ManageSystems), get(systems::rounds_form)),
        entry(p.clone(), "/rounds", Permission(ManageSystems), post(systems::start_rounds)),
        entry(g.clone(), "/systems.xlsx", Permission(ViewSystems), get(systems::all_xlsx)),
        entry(p.clone(), "/systems.xlsx", Permission(ViewSystems), post(systems::all_xlsx)),
        entry(g.clone(), "/systems/new", Permission(ManageSystems), get(systems::new_system_form)),
        entry(g.clone(), "/systems/{id}", Permission(ViewSystems), get(systems::system)),
        entry(p.clone(), "/systems/{id}", Permission(ManageSystems), post(systems::update_system)),
        entry(g.clone(), "/systems/{id}/edit", Permission(ManageSystems), get(systems::edit_system_form)),
        entry(g.clone(), "/systems/{id}/history", Permission(ViewSystems), get(systems::history)),
        entry(g.clone(), "/systems/{id}/report", Permission(ViewSystems), get(systems::report_print)),
        entry(g.clone(), "/systems/{id}/report.xlsx", Permission(ViewSystems), get(systems::report_xlsx)),
        entry(p.clone(), "/systems/{id}/report.xlsx", Permission(ViewSystems), post(systems::report_xlsx)),
        entry(g.clone(), "/systems/{id}/report.csv", Permission(ViewSystems), get(systems::report_csv)),
        entry(p.clone(), "/systems/{id}/report.csv", Permission(ViewSystems), post(systems::report_csv)),
        entry(g.clone(), "/systems/{id}/yearly", Permission(ViewSystems), get(systems::yearly)),
        entry(g.clone(), "/systems/{id}/yearly/report", Permission(ViewSystems), get(systems::yearly_print)),
        entry(g.clone(), "/systems/{id}/yearly.xlsx", Permission(ViewSystems), get(systems::yearly_xlsx)),
        entry(p.clone(), "/systems/{id}/yearly.xlsx", Permission(ViewSystems), post(systems::yearly_xlsx)),
        entry(p.clone(), "/systems/{id}/signoffs", Permission(SignOffReviews), post(systems::sign_off)),
        entry(p.clone(), "/systems/{id}/yearly/received", Permission(ManageSystems), post(systems::receive)),
        entry(p.clone(), "/systems/{id}/report-month", Permission(ManageSystems), post(systems::set_month)),
        entry(g.clone(), "/systems/{id}/answers.xlsx", Permission(AnswerChecklist), get(systems::answers_xlsx)),
        entry(
            p.clone(),
            "/systems/{id}/answers.xlsx",
            Permission(AnswerChecklist),
            post(systems::upload_answers).layer(axum::extract::DefaultBodyLimit::disable()),
        ),
        entry(p.clone(), "/systems/{id}/answers/apply", Permission(AnswerChecklist), post(systems::apply_answers)),
        entry(p.clone(), "/systems/{id}/overrides", Permission(ManageSystems), post(systems::set_override)),
        entry(p.clone(), "/systems/{id}/moves", Permission(ManageSystems), post(systems::move_item)),
        entry(p.clone(), "/systems/{id}/rounds", Permission(ManageSystems), post(systems::start_round)),
        entry(p.clone(), "/systems/{id}/approvals", Permission(ReviewAnswers), post(systems::approve_selected)),
        entry(p.clone(), "/systems/{id}/scans", Permission(RequestScans), post(systems::request_scan)),
        entry(
            p.clone(),
            "/systems/{id}/scan-addresses",
            Permission(ManageSystems),
            post(systems::confirm_scan_address),
        ),
        entry(p.clone(), "/systems/{id}/catalog", Permission(ManageSystems), post(systems::change_catalog)),
        entry(p.clone(), "/systems/{id}/submit", Permission(AnswerChecklist), post(systems::submit)),
        entry(p.clone(), "/systems/{id}/review", Permission(ReviewAnswers), post(systems::finish_review)),
        entry(g.clone(), "/systems/{id}/items/{number}", Permission(ViewSystems), get(systems::item)),
        entry(p.clone(), "/systems/{id}/items/{number}", Permission(AnswerChecklist), post(systems::save_answer)),
        entry(p.clone(), "/systems/{id}/items/{number}/review", Permission(ReviewAnswers), post(systems::review_item)),
        entry(
            p.clone(),
            "/systems/{id}/items/{number}/evidence",
            Permission(AnswerChecklist),
            // The evidence limit plus room for the form's other fields.
            post(systems::upload_evidence).layer(axum::extract::DefaultBodyLimit::disable()),
        ),
        entry(g.clone(), "/evidence/{id}", Permission(ViewSystems), get(systems::download_evidence)),
        entry(g.clone(), "/systems/{id}/inventory", Permission(ViewSystems), get(inventory::inventory)),
        entry(p.clone(), "/systems/{id}/inventory", Permission(AnswerChecklist), post(inventory::add_component)),
        entry(
            p.clone(),
            "/systems/{id}/inventory/import",
            Permission(AnswerChecklist),
            post(inventory::import).layer(axum::extract::DefaultBodyLimit::disable()),
        ),
        entry(g.clone(), "/systems/{id}/inventory.csv", Permission(ViewSystems), get(inventory::export_csv)),
        entry(p.clone(), "/systems/{id}/inventory.csv", Permission(ViewSystems), post(inventory::export_csv)),
        entry(g.clone(), "/systems/{id}/inventory.xlsx", Permission(ViewSystems), get(inventory::export_xlsx)),
        entry(p.clone(), "/systems/{id}/inventory.xlsx", Permission(ViewSystems), post(inventory::export_xlsx)),
        entry(g.clone(), "/systems/{id}/inventory/{cid}", Permission(AnswerChecklist), get(inventory::component)),
        entry(p.clone(), "/systems/{id}/inventory/{cid}", Permission(AnswerChecklist), post(inventory::save_component)),
        entry(
            p.clone(),
            "/systems/{id}/inventory/{cid}/remove",
            Permission(AnswerChecklist),
            post(inventory::remove_component),
        ),
        entry(g.clone(), "/inventory", Permission(ViewSystems), get(inventory::support_list)),
        entry(g.clone(), "/vulns", Permission(ViewSystems), get(vulns::vulns)),
        entry(g.clone(), "/records", Permission(ViewSystems), get(records::dated)),
        entry(g.clone(), "/systems/{id}/records", Permission(ViewSystems), get(records::records)),
        entry(p.clone(), "/systems/{id}/records", Permission(AnswerChecklist), post(records::add_record)),
        entry(g.clone(), "/systems/{id}/records/new", Permission(AnswerChecklist), get(records::new_record)),
        entry(g.clone(), "/systems/{id}/records/{rid}", Permission(AnswerChecklist), get(records::record)),
        entry(p.clone(), "/systems/{id}/records/{rid}", Permission(AnswerChecklist), post(records::save_record)),
        entry(p.clone(), "/systems/{id}/records/{rid}/review", Permission(ReviewAnswers), post(records::review_record)),
        // The keepers of the system and the security office; decided in the operation.
        entry(p.clone(), "/systems/{id}/records/{rid}/remove", Permission(ViewSystems), post(records::remove_record)),
        // The keepers of the system and the security office; decided in the operation.
        entry(p.clone(), "/systems/{id}/vulns/{mid}", Permission(ViewSystems), post(inventory::decide)),
        entry(g.clone(), "/feeds", Permission(ManageCatalog), get(feeds::feeds)),
        entry(
            p.clone(),
            "/feeds",
            Permission(ManageCatalog),
            post(feeds::import_feed).layer(axum::extract::DefaultBodyLimit::disable()),
        ),
        entry(g.clone(), "/documents/{id}", Permission(ViewSystems), get(library::download_document)),
        entry(
            p.clone(),
            "/systems/{id}/items/{number}/evidence/{file}/remove",
            Permission(AnswerChecklist),
            post(systems::remove_evidence),
        ),
        entry(
            p.clone(),
            "/systems/{id}/items/{number}/documents",
            Permission(AnswerChecklist),
            post(systems::link_document),
        ),
        entry(
            p.clone(),
            "/systems/{id}/items/{number}/documents/{file}/remove",
            Permission(AnswerChecklist),
            post(systems::unlink_document),
        ),
        entry(g.clone(), "/library", Permission(AnswerChecklist), get(library::library)),
        entry(
            p.clone(),
            "/library",
            Permission(AnswerChecklist),
            post(library::upload_document).layer(axum::extract::DefaultBodyLimit::disable()),
        ),
        entry(g, "/library/{id}", Permission(AnswerChecklist), get(library::document)),
        entry(
            p.clone(),
            "/library/{id}/revisions",
            Permission(AnswerChecklist),
            post(library::revise_document).layer(axum::extract::DefaultBodyLimit::disable()),
        ),
        entry(p, "/library/{id}/delete", Permission(AnswerChecklist), post(library::delete_document)),
    ]
}

/// Every route and its access, for tests and documentation.
pub fn route_table() -> Vec<RouteSpec> {
    let mut specs: Vec<RouteSpec> = entries().into_iter().map(|e| e.spec).collect();
    specs.extend(crate::assets::paths().map(|path| RouteSpec { method: Method::GET, path, access: Access::Public }));
    specs
}

/// The router, each route behind the check of its access.
pub fn router(state: &AppState) -> Router<AppState> {
    let mut router = Router::new();
    for Entry { spec, route } in entries() {
        let (st, access) = (state.clone(), spec.access);
        // A download's POST is its sealed form (item 18), inside the access check.
        let route = if spec.method == Method::POST && crate::sealed::is_download(spec.path) {
            route.route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::sealed::seal))
        } else {
            route
        };
        let guarded =
            route.route_layer(axum::middleware::from_fn(move |req, next| auth::enforce(st.clone(), access, req, next)));
        router = router.route(spec.path, guarded);
    }
    router
}
