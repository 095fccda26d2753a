//! What every answer tells the browser: do not sniff content types, do not frame the page into
//! another site, send no Referer to links followed from it, and keep no copy of answers that hold
//! directory data or a token. A browser obeys these headers, so a test reads them as it would.

use crate::common;

use common::{Engine, TestApp};
use license_manager::auth::Role;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::json;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

fn assert_hardened(headers: &HeaderMap, what: &str) {
    assert_eq!(
        header(headers, "x-content-type-options"),
        "nosniff",
        "{what}"
    );
    assert_eq!(header(headers, "x-frame-options"), "DENY", "{what}");
    assert!(
        header(headers, "content-security-policy").contains("frame-ancestors 'none'"),
        "{what}: {headers:?}"
    );
    assert_eq!(header(headers, "referrer-policy"), "no-referrer", "{what}");
}

async fn every_answer_carries_the_security_headers(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let token = app.token(Role::Viewer, "headers");
    let query = json!({ "query": "{ viewer { subject } }" });
    let requests = [
        (
            "POST /graphql",
            Method::POST,
            "/graphql",
            Some(&token),
            StatusCode::OK,
        ),
        (
            "POST /graphql without a token",
            Method::POST,
            "/graphql",
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ("GraphiQL", Method::GET, "/graphql", None, StatusCode::OK),
        (
            "users export",
            Method::GET,
            "/export/users.csv",
            Some(&token),
            StatusCode::OK,
        ),
        (
            "SKU export",
            Method::GET,
            "/export/skus.csv",
            Some(&token),
            StatusCode::OK,
        ),
        (
            "export without a token",
            Method::GET,
            "/export/users.csv",
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ("health", Method::GET, "/healthz", None, StatusCode::OK),
        (
            "unknown path",
            Method::GET,
            "/nothing-here",
            None,
            StatusCode::NOT_FOUND,
        ),
    ];
    for (what, method, path, token, status) in requests {
        let mut request = app.http.request(method.clone(), app.url(path));
        if method == Method::POST {
            request = request.json(&query);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("answered");
        assert_eq!(response.status(), status, "{what}");
        let headers = response.headers();
        assert_hardened(headers, what);
        assert_eq!(header(headers, "cache-control"), "no-store", "{what}");
    }

    // GraphiQL's own files are versioned in their URL: they stay cacheable, and hardened.
    let page = app
        .http
        .get(app.url("/graphql"))
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("HTML");
    let asset = page
        .split(['"', '\''])
        .find(|part| part.starts_with("/graphiql/") && part.ends_with(".js"))
        .expect("the page loads GraphiQL's script from this server");
    let response = app.http.get(app.url(asset)).send().await.expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    assert_hardened(response.headers(), asset);
    assert_eq!(
        header(response.headers(), "cache-control"),
        "public, max-age=31536000, immutable"
    );
    app.finish().await;
}

engine_tests!(every_answer_carries_the_security_headers);
