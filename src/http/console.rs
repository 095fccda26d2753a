//! The console: a browser front end on the public API, served by the binary itself.
//!
//! Its files (assets/console, plain ES modules over a vendored view library) are embedded in
//! release builds, so the console works air-gapped with nothing to install; debug builds read
//! them from the folder, so that a front-end change needs no recompile.
//!
//! Every page of the console has its own URL and gets the same entry page, which loads the
//! modules from `/console/{version}/`: the version is a digest of every file, so the modules
//! are cached for good and a new build is never served from a stale cache, while the entry
//! page itself is never cached.

use std::sync::OnceLock;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use rust_embed::RustEmbed;

use super::{AppState, identity};

#[derive(RustEmbed)]
#[folder = "assets/console/"]
struct Files;

/// The entry page's template: served, with its version filled in, at every page's path only.
const ENTRY: &str = "index.html";

/// The console's paths: each serves the entry page, and the module router (assets/console/
/// app.js) shows the page it names. `{id}` stands for one path segment.
pub const PAGES: [&str; 13] = [
    "/",
    "/sign-in",
    "/settings/providers",
    "/settings/api-tokens",
    "/licenses",
    "/licenses/{id}",
    "/users",
    "/waste",
    "/reclaim",
    "/reclaim/{id}",
    "/history",
    "/renewals",
    "/audit",
];

/// No script but the console's own modules, no inline script or style, no plug-ins, nothing
/// from another origin; API calls and the subscription websocket go to this origin only.
pub const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' \
                      data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; \
                      base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `GET` on one of `PAGES`.
pub async fn page(State(state): State<AppState>) -> Response {
    let Some(entry) = Files::get(ENTRY) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let html = String::from_utf8_lossy(&entry.data).replace("{version}", version());
    let policy = match identity::sign_in_origin(&state) {
        // Signing in with the identity provider: the page redeems its code there.
        Some(origin) => POLICY.replace(
            "connect-src 'self'",
            &format!("connect-src 'self' {origin}"),
        ),
        None => POLICY.to_owned(),
    };
    (
        [
            (header::CONTENT_SECURITY_POLICY, policy),
            (header::CACHE_CONTROL, "no-cache".to_owned()),
        ],
        Html(html),
    )
        .into_response()
}

/// `GET /console/{version}/{*file}`: a module, the style sheet or an image.
pub async fn asset(Path((asked, file)): Path<(String, String)>) -> Response {
    match Files::get(&file) {
        Some(found) if asked == version() && file != ENTRY => {
            let content_type = content_type(&file);
            (
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                    (
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("public, max-age=31536000, immutable"),
                    ),
                    (
                        header::CONTENT_SECURITY_POLICY,
                        HeaderValue::from_static(POLICY),
                    ),
                ],
                found.data,
            )
                .into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A digest of every file's path and contents. Computed once: in a debug build, restart the
/// server after changing a file (the page then loads the new version).
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut files: Vec<_> = Files::iter().collect();
        files.sort();
        let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for file in files {
            digest.update(file.as_bytes());
            if let Some(found) = Files::get(&file) {
                digest.update(&found.metadata.sha256_hash());
            }
        }
        let digest = digest.finish();
        digest.as_ref()[..6]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    })
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit_once('.').map(|(_, extension)| extension) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
