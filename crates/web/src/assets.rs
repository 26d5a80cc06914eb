//! Static files, compiled into the binary and served from this explicit
//! list: no directory listing, and no file path is ever built from a
//! request (checklist items 34, 49).

use crate::AppState;
use axum::http::header;
use axum::routing::get;
use axum::Router;

const ASSETS: &[(&str, &str, &[u8])] = &[
    ("/static/mamori.css", "text/css; charset=utf-8", include_bytes!("../static/mamori.css")),
    ("/static/report.css", "text/css; charset=utf-8", include_bytes!("../static/report.css")),
    ("/static/favicon.svg", "image/svg+xml", include_bytes!("../static/favicon.svg")),
];

pub fn paths() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(p, _, _)| *p)
}

pub fn routes(mut router: Router<AppState>) -> Router<AppState> {
    for &(path, content_type, body) in ASSETS {
        router = router.route(
            path,
            get(move || async move {
                // Assets carry no personal data: a browser may keep them an hour.
                ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body)
            }),
        );
    }
    router
}
