//! What a frontend reads to set up a provider: the kinds the server connects, the permissions to
//! grant each, and the setup guide the binary serves, as the console's Settings page uses them.

use crate::common;

use common::{Engine, TestApp, error_code};
use license_manager::auth::Role;
use reqwest::StatusCode;

const KINDS: &str = "{ providerKinds { kind displayName setupGuideUrl
    requiredPermissions { name reason required } } }";

async fn every_caller_reads_what_to_grant_and_where_the_guide_is(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let kinds = app.query(Role::Viewer, KINDS).await["providerKinds"].clone();
    let [microsoft] = kinds.as_array().expect("a list").as_slice() else {
        panic!("one kind: {kinds}");
    };
    assert_eq!(microsoft["kind"], "MICROSOFT_365");
    assert_eq!(microsoft["displayName"], "Microsoft 365");
    assert_eq!(microsoft["setupGuideUrl"], "/docs/microsoft-365");
    let permissions: Vec<(&str, bool)> = microsoft["requiredPermissions"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|permission| {
            assert!(
                permission["reason"]
                    .as_str()
                    .is_some_and(|reason| reason.len() > 20),
                "every permission says why: {permission}"
            );
            (
                permission["name"].as_str().expect("a name"),
                permission["required"].as_bool().expect("a flag"),
            )
        })
        .collect();
    assert_eq!(
        permissions,
        [
            ("User.Read.All", true),
            ("Organization.Read.All", true),
            ("AuditLog.Read.All", false),
            ("Directory.Read.All", false),
            ("LicenseAssignment.ReadWrite.All", false),
            ("GroupMember.Read.All", false),
        ]
    );
    app.finish().await;
}

/// The guide the query points to is a page of the binary, with the console's style sheet and
/// policy: no script, and raw HTML in the Markdown is text.
async fn the_setup_guide_is_served_as_a_page(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let response = app
        .http
        .get(app.url("/docs/microsoft-365"))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(header("content-type").starts_with("text/html"));
    let policy = header("content-security-policy");
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(policy.contains("style-src 'self'"), "{policy}");
    let page = response.text().await.expect("a body");
    assert!(page.contains(r#"<h1 id="connecting-a-microsoft-365-tenant">"#));
    assert!(page.contains("<code>User.Read.All</code>"));
    assert!(page.contains("<table>"));
    assert!(page.contains("&lt;your organization&gt;"));
    assert!(!page.contains("<script"));
    // Every link within the guide finds its heading.
    for anchor in page.split(r##"href="#"##).skip(1) {
        let target = &anchor[..anchor.find('"').expect("a closing quote")];
        assert!(page.contains(&format!(r#"id="{target}""#)), "#{target}");
    }
    let sheet = page
        .split('"')
        .find(|part| part.starts_with("/console/") && part.ends_with("/app.css"))
        .expect("the console's style sheet");
    let css = app.http.get(app.url(sheet)).send().await.expect("answered");
    assert_eq!(css.status(), StatusCode::OK);

    let missing = app
        .http
        .get(app.url("/docs/deployment"))
        .send()
        .await
        .expect("answered");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    app.finish().await;
}

async fn the_kinds_need_a_token(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (status, body) = app.graphql_with_header(None, KINDS).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    app.finish().await;
}

engine_tests!(
    every_caller_reads_what_to_grant_and_where_the_guide_is,
    the_setup_guide_is_served_as_a_page,
    the_kinds_need_a_token,
);
