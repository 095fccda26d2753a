//! The console's files as the binary serves them: the same entry page at every page's path,
//! never cached and under a strict Content-Security-Policy; modules under a versioned path,
//! cached for good, compressed; every module a page imports is there.

use std::collections::{BTreeSet, VecDeque};

use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    HeaderMap, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};

use crate::common::{Engine, TestApp};

const PAGES: [&str; 13] = [
    "/",
    "/sign-in",
    "/settings/providers",
    "/settings/api-tokens",
    "/licenses",
    "/licenses/12",
    "/users",
    "/waste",
    "/reclaim",
    "/reclaim/3",
    "/history",
    "/renewals",
    "/audit",
];

fn header<'a>(headers: &'a HeaderMap, name: &reqwest::header::HeaderName) -> &'a str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

fn assert_console_headers(headers: &HeaderMap, what: &str) {
    let policy = header(headers, &CONTENT_SECURITY_POLICY);
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(
            policy.contains(directive),
            "{what}: {directive} in {policy:?}"
        );
    }
    assert!(!policy.contains("unsafe"), "{what}: {policy:?}");
    assert_eq!(
        header(headers, &X_CONTENT_TYPE_OPTIONS),
        "nosniff",
        "{what}"
    );
    assert_eq!(header(headers, &X_FRAME_OPTIONS), "DENY", "{what}");
    assert_eq!(header(headers, &REFERRER_POLICY), "no-referrer", "{what}");
}

/// The module paths `source` imports, statically or on demand, relative to `base`.
fn imports(base: &reqwest::Url, source: &str) -> Vec<reqwest::Url> {
    let mut found = Vec::new();
    for marker in ["from '", "import('"] {
        for (start, _) in source.match_indices(marker) {
            let rest = &source[start + marker.len()..];
            if let Some(end) = rest.find('\'')
                && rest.starts_with('.')
            {
                found.push(base.join(&rest[..end]).expect("a relative module path"));
            }
        }
    }
    found
}

#[tokio::test]
async fn every_page_gets_the_entry_and_every_module_it_needs_is_served() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let http = reqwest::Client::new();

    let mut entry = String::new();
    for page in PAGES {
        let response = http.get(app.url(page)).send().await.expect("the page");
        assert_eq!(response.status(), StatusCode::OK, "{page}");
        assert_console_headers(response.headers(), page);
        assert_eq!(
            header(response.headers(), &CACHE_CONTROL),
            "no-cache",
            "{page}"
        );
        assert!(header(response.headers(), &CONTENT_TYPE).starts_with("text/html"));
        let body = response.text().await.expect("the entry page");
        assert!(!body.contains("<script>"), "no inline script on {page}");
        if entry.is_empty() {
            entry = body;
        } else {
            assert_eq!(body, entry, "{page} gets the same entry page");
        }
    }

    let start = entry
        .find("/console/")
        .expect("the entry loads the console's modules");
    let version: String = entry[start + "/console/".len()..]
        .chars()
        .take_while(|character| *character != '/')
        .collect();
    let base = reqwest::Url::parse(&app.url(&format!("/console/{version}/"))).expect("base");

    // Every file the entry page names (modules, preloads, style sheet, icon) and every module
    // reachable from them.
    let mut queue: VecDeque<reqwest::Url> = entry
        .match_indices(&format!("\"/console/{version}/"))
        .map(|(start, _)| {
            let path = &entry[start + 1..];
            let end = path.find('"').expect("a quoted path");
            reqwest::Url::parse(&app.url(&path[..end])).expect("a file")
        })
        .collect();
    assert!(queue.len() >= 3, "the entry names its files: {entry}");
    let mut seen = BTreeSet::new();
    while let Some(url) = queue.pop_front() {
        if !seen.insert(url.to_string()) {
            continue;
        }
        let response = http.get(url.clone()).send().await.expect("a file");
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        assert_console_headers(response.headers(), url.as_str());
        assert_eq!(
            header(response.headers(), &CACHE_CONTROL),
            "public, max-age=31536000, immutable",
            "{url}"
        );
        if url.path().ends_with(".css") {
            // A rule left open swallows every rule after it, silently.
            let sheet = response.text().await.expect("a style sheet");
            assert_eq!(
                sheet.matches('{').count(),
                sheet.matches('}').count(),
                "{url}"
            );
        } else if url.path().ends_with(".js") {
            assert_eq!(
                header(response.headers(), &CONTENT_TYPE),
                "text/javascript; charset=utf-8",
                "{url}"
            );
            let source = response.text().await.expect("a module");
            queue.extend(imports(&url, &source));
        }
    }
    assert!(
        seen.iter().any(|url| url.ends_with("/pages/sign-in.js")),
        "the sign-in page is among the modules: {seen:?}"
    );

    // Compressed for browsers that ask.
    let compressed = http
        .get(base.join("app.js").expect("app.js"))
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .expect("app.js");
    assert_eq!(header(compressed.headers(), &CONTENT_ENCODING), "gzip");

    // Another version's files are not served from this one's: a cached page of an older build
    // would otherwise run a mix of both. Nor is the entry page's template.
    for path in [
        "/console/0123456789ab/app.js".to_owned(),
        format!("/console/{version}/index.html"),
        format!("/console/{version}/no-such-module.js"),
    ] {
        let response = http.get(app.url(&path)).send().await.expect("a file");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }

    app.finish().await;
}
