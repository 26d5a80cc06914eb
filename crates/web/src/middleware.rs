//! The middleware stack, in one place, in the order requests pass through it.

use crate::client::{self, ClientInfo, PeerAddr};
use crate::context::RequestId;
use crate::error::{self, ErrorDetail};
use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use rand::RngCore;
use std::any::Any;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Builds the stack around `routes`. Read top to bottom: the order in which
/// a request passes through. Layers that shape the response (security
/// headers, error pages) sit outside the limits, so that a timeout or an
/// oversized body still gets the headers and the Japanese error page.
pub fn stack(routes: Router<AppState>, state: AppState) -> Router<AppState> {
    let limits = state.config.limits;
    routes.layer(
        ServiceBuilder::new()
            .layer(from_fn(request_id))
            .layer(from_fn_with_state(state.clone(), client_info))
            .layer(from_fn_with_state(state.clone(), access_log))
            .layer(from_fn(security_headers))
            .layer(from_fn_with_state(state.clone(), to_https))
            .layer(from_fn_with_state(state.clone(), error_pages))
            .layer(CatchPanicLayer::custom(on_panic))
            .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, limits.request_timeout))
            .layer(from_fn_with_state(state.clone(), declared_body_limit))
            // Bodies without a Content-Length are cut off by the extractors.
            .layer(axum::extract::DefaultBodyLimit::max(limits.max_body_bytes))
            .layer(crate::session::layer(&state))
            .layer(from_fn_with_state(state.clone(), crate::csrf::protect))
            .layer(from_fn_with_state(state.clone(), crate::auth::resolve))
            .layer(from_fn_with_state(state.clone(), crate::pace::limit))
            .layer(from_fn(crate::in_flight::limit)),
        // Permission comes last, per route: see routes.rs.
    )
}

/// The plain-HTTP listener's stack: the same hygiene, no HSTS (it means
/// nothing over plain HTTP and must not be sent there).
pub fn redirect_stack(routes: Router<AppState>, state: AppState) -> Router<AppState> {
    routes.layer(
        ServiceBuilder::new()
            .layer(from_fn(request_id))
            .layer(from_fn_with_state(state.clone(), client_info))
            .layer(from_fn_with_state(state, access_log))
            .layer(from_fn(plain_security_headers)),
    )
}

async fn request_id(mut req: Request, next: Next) -> Response {
    let mut bytes = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut bytes);
    let id = bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID.clone(), v);
    }
    res
}

async fn client_info(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    // Without a peer (never, behind our own server) fail closed: the
    // unspecified address is in no admin network.
    let peer = req.extensions().get::<PeerAddr>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.0.ip());
    let trusted = &state.config.trusted_proxies;
    let info = ClientInfo {
        ip: client::client_ip(peer, req.headers(), trusted),
        user_agent: req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
        forwarded_plain_http: client::forwarded_plain_http(peer, req.headers(), trusted),
        forwarded_by_untrusted: client::forwarded_by_untrusted(peer, req.headers(), trusted),
    };
    req.extensions_mut().insert(info);
    next.run(req).await
}

/// The client reached a trusted proxy over plain HTTP: sends it to HTTPS.
/// Inside the security headers and the request log, as every answer is.
async fn to_https(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.extensions().get::<ClientInfo>().is_some_and(|c| c.forwarded_plain_http) {
        return https_redirect(&state, &req);
    }
    next.run(req).await
}

/// One log line per request, and the request metrics. The query string is
/// never logged: it may carry what a user typed.
async fn access_log(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let id = req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default();
    let client = req.extensions().get::<ClientInfo>().map(|c| c.ip.to_string()).unwrap_or_default();
    let res = next.run(req).await;
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    tracing::info!(
        target: "mamori::access",
        request_id = %id,
        method = %method,
        route = %route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        client = %client,
    );
    state.metrics.observe_request(method.as_str(), &route, status, elapsed);
    res
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Checklist items 33, 53 and 55: the same headers on every response,
/// errors and redirects included; no `Server` header.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    apply_security_headers(&mut res, true);
    res
}

async fn plain_security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    apply_security_headers(&mut res, false);
    res
}

fn apply_security_headers(res: &mut Response, hsts: bool) {
    let h = res.headers_mut();
    h.remove(header::SERVER);
    h.remove("x-powered-by");
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "same-origin");
    set(h, HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    set(h, HeaderName::from_static("cross-origin-resource-policy"), "same-origin");
    set(
        h,
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    );
    if hsts {
        // Two years; the checklist asks for at least one.
        set(h, header::STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains");
    }
    // Pages may show personal data: nothing is cached unless a handler says
    // otherwise (only the static assets do).
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
}

/// Turns every error response that carries no page of its own (404 from
/// the fallback, 405, 408, 413, framework rejections, panics) into the
/// generic Japanese error page with the request id. Details go to the log
/// only, once, here (checklist items 47②, 54③).
async fn error_pages(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let id = req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default();
    let lang = crate::i18n::Lang::from_uri(req.uri());
    let method = req.method().clone();
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    if let Some(ErrorDetail(detail)) = res.extensions().get::<ErrorDetail>() {
        if status.is_server_error() {
            tracing::error!(request_id = %id, status = status.as_u16(), "{detail}");
        } else {
            tracing::info!(request_id = %id, status = status.as_u16(), "{detail}");
        }
    }
    if error::has_own_page(&res) {
        return res;
    }
    let explained = res.extensions().get::<crate::error_page::Explained>().copied();
    let (mut parts, _body) = res.into_parts();
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    let page = crate::error_page::render_page(&state, lang, status, explained, &id, method == Method::HEAD);
    let mut out = page.into_response();
    for (name, value) in parts.headers.iter() {
        out.headers_mut().insert(name.clone(), value.clone());
    }
    *out.status_mut() = status;
    out
}

/// The largest body a route accepts: the general limit, except for the
/// upload routes, which get the evidence limit and room for the form's
/// other fields (and read it only after the route's permission).
pub fn body_limit(state: &AppState, route: Option<&str>) -> usize {
    if route == Some("/feeds") {
        // Release data for every product is larger than a document.
        state.config.evidence.max_bytes.max(mamori_files::feeds::MAX_BYTES) + 1024 * 1024
    } else if route.is_some_and(|r| crate::csrf::MULTIPART_ROUTES.contains(&r)) {
        state.config.evidence.max_bytes + 1024 * 1024
    } else {
        state.config.limits.max_body_bytes
    }
}

/// A body announced larger than the route's limit is refused before it is read.
async fn declared_body_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let route = req.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
    if declared.is_some_and(|n| n > body_limit(&state, route) as u64) {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    next.run(req).await
}

fn on_panic(payload: Box<dyn Any + Send + 'static>) -> Response {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned());
    let mut res = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    res.extensions_mut().insert(ErrorDetail(format!("handler panicked: {msg}")));
    res
}

/// 308 to the same path and query on the configured public origin.
pub fn https_redirect(state: &AppState, req: &Request) -> Response {
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    Redirect::permanent(&format!("{}{}", state.config.public_origin, path)).into_response()
}
