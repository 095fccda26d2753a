//! GraphQL over HTTP as the specification's own audit sees it: npm `graphql-http`'s
//! `auditServer`, run by `tests/conformance/graphql-http-audit.mjs` with a bearer token against a
//! real server, must find no error (a MUST broken) and no warning (a SHOULD). Its notices, the
//! MAYs this server leaves out (GET requests, which serve GraphiQL), are printed only.
//!
//! It needs Node and the package where .ci/run installs it (`npm install --prefix
//! target/browser-tools graphql-http@…`); without them the test says why and passes, unless
//! `LM_REQUIRE_BROWSER=1`, the switch of the other tests that need tools from outside Cargo.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use license_manager::auth::Role;

use crate::common::browser::REQUIRE_ENV;
use crate::common::{Engine, TestApp};

/// Where the package is looked for when `MODULES_ENV` is not set: what .ci/run installs.
const MODULES_INSTALLED: &str = "target/browser-tools/node_modules";
/// A `node_modules` folder holding `graphql-http`.
const MODULES_ENV: &str = "LM_GRAPHQL_HTTP_MODULES";
const SCRIPT: &str = "tests/conformance/graphql-http-audit.mjs";

#[tokio::test]
async fn the_graphql_over_http_audit_finds_no_error_and_no_warning() {
    let Some(modules) = audit_tools() else { return };
    let app = TestApp::spawn(Engine::Sqlite).await;
    let token = app.token(Role::Admin, "conformance");
    let url = app.url("/graphql");
    // The audit's requests are served by this test's runtime while node runs.
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(SCRIPT))
            .env("LM_AUDIT_URL", url)
            .env("LM_AUDIT_TOKEN", token)
            .env(MODULES_ENV, modules)
            .output()
    })
    .await
    .expect("the audit's thread ends")
    .expect("node starts");
    let report = describe(&output);
    writeln!(std::io::stderr(), "{report}").ok();
    assert!(
        output.status.success(),
        "the audit found errors or warnings:\n{report}"
    );
    assert!(
        report.contains(" 0 warn, 0 error"),
        "the audit's summary:\n{report}"
    );
    app.finish().await;
}

/// The `node_modules` holding `graphql-http`, or `None` (saying why) where Node or the package is
/// missing and not required.
fn audit_tools() -> Option<PathBuf> {
    let modules = std::env::var_os(MODULES_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(MODULES_INSTALLED));
    let node = Command::new("node").arg("--version").output();
    let missing = match node {
        Err(error) => Some(format!(
            "node cannot be run: {error}; apt-get install nodejs npm"
        )),
        Ok(_) if !modules.join("graphql-http/package.json").is_file() => Some(format!(
            "{} has no graphql-http; npm install --prefix target/browser-tools graphql-http \
             (or set {MODULES_ENV})",
            modules.display()
        )),
        Ok(_) => None,
    };
    let Some(reason) = missing else {
        return Some(modules);
    };
    if std::env::var(REQUIRE_ENV).is_ok_and(|value| value == "1") {
        panic!("the GraphQL over HTTP audit cannot run: {reason} ({REQUIRE_ENV}=1 requires it)");
    }
    writeln!(
        std::io::stderr(),
        "\nGraphQL over HTTP audit skipped: {reason}"
    )
    .ok();
    None
}

fn describe(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// What the audit checks, without Node: the response type follows `Accept`, and only a client
/// of `application/graphql-response+json` gets a refused document as a 400 without `data`.
#[tokio::test]
async fn the_response_type_and_status_follow_accept() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let token = app.token(Role::Viewer, "conformance");
    let post = |accept: Option<&'static str>, query: &'static str| {
        let mut request = app
            .http
            .post(app.url("/graphql"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "query": query }));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        async move {
            let response = request.send().await.expect("answered");
            let content_type = response.headers()["content-type"]
                .to_str()
                .expect("ASCII")
                .to_owned();
            let status = response.status();
            let body: serde_json::Value = response.json().await.expect("a JSON body");
            (status, content_type, body)
        }
    };
    const NEWER: &str = "application/graphql-response+json";
    for accept in [None, Some("application/json"), Some("*/*")] {
        let (status, content_type, body) = post(accept, "{ viewer { subject } }").await;
        assert_eq!(
            (status.as_u16(), content_type.as_str()),
            (200, "application/json"),
            "Accept: {accept:?}"
        );
        assert_eq!(body["data"]["viewer"]["subject"], "conformance");
        let (status, _, body) = post(accept, "{ viewer { subject ").await;
        assert_eq!(status.as_u16(), 200, "Accept: {accept:?}: {body}");
        assert!(body["data"].is_null() && body["errors"][0]["message"].is_string());
    }
    let (status, content_type, _) = post(Some(NEWER), "{ viewer { subject } }").await;
    assert_eq!((status.as_u16(), content_type.as_str()), (200, NEWER));
    for refused in [
        "{ viewer { subject ",
        "{ viewer { noSuchField } }",
        "query Q($id: ID!) { __typename }",
    ] {
        let (status, content_type, body) = post(Some(NEWER), refused).await;
        assert_eq!(
            (status.as_u16(), content_type.as_str()),
            (400, NEWER),
            "{refused}: {body}"
        );
        assert!(body.get("data").is_none(), "{refused}: {body}");
        assert_eq!(crate::common::error_code(&body), "BAD_USER_INPUT", "{body}");
    }
    app.finish().await;
}
