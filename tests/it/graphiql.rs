//! GraphiQL as a person meets it, in a real browser: open /graphql, paste an admin token into
//! the Headers tab, re-fetch the schema, and find the docs explorer listing `Query`; run the
//! default query; and find the token nowhere in the browser's storage, neither in the tabs nor
//! in the history of queries run.

use crate::common;
use crate::common::browser;

use std::io::Write;

use browser::Browser;
use common::{Engine, TestApp};
use license_manager::auth::Role;
use serde_json::{Value, json};

/// GraphiQL's editors are CodeMirror 5 instances, which hang off their `.CodeMirror` element.
const HEADERS_EDITOR: &str = r#"section.graphiql-editor-tool[aria-label="Headers"] .graphiql-editor:not(.hidden) .CodeMirror"#;
const QUERY_EDITOR: &str = ".graphiql-query-editor .graphiql-editor .CodeMirror";
const RESPONSE: &str = ".graphiql-response .CodeMirror";
const REFETCH: &str = r#"button[aria-label="Re-fetch GraphQL schema"]"#;

/// What the docs explorer and the response pane show, and whether a schema fetch is running.
const SCHEMA_STATE: &str = r#"
    const refetch = document.querySelector('button[aria-label="Re-fetch GraphQL schema"]');
    const error = document.querySelector('.graphiql-doc-explorer-error');
    const response = document.querySelector('.graphiql-response .CodeMirror');
    return {
        fetching: !refetch || refetch.disabled,
        error: error ? error.innerText : null,
        rootTypes: [...document.querySelectorAll('.graphiql-doc-explorer-root-type')]
            .map(type => type.parentElement.innerText),
        response: response ? response.CodeMirror.getValue() : '',
    };
"#;

/// Every value in the page's localStorage.
const STORED: &str = r#"
    return Object.keys(localStorage).map(key => key + '=' + localStorage.getItem(key));
"#;

/// Replaces the text of the editor at `css`, as pasting over it would.
async fn paste(browser: &Browser, css: &str, text: &str) {
    browser.wait_for(css).await;
    let pasted = browser
        .run(
            "const editor = document.querySelector(arguments[0]).CodeMirror;
             editor.setValue(arguments[1]);
             return editor.getValue();",
            vec![json!(css), json!(text)],
        )
        .await;
    assert_eq!(pasted, json!(text), "the editor at {css} took the text");
}

/// Waits for the docs explorer to list the root types. GraphiQL hands a new header to its
/// schema fetch only once the editor's change has settled, so a re-fetch right after pasting may
/// still send the placeholder and be refused as UNAUTHENTICATED: then it is pressed again, as a
/// person would. Any other failure is the answer.
async fn root_types_after_refetch(browser: &Browser) -> Vec<String> {
    browser.click(REFETCH).await;
    loop {
        let state = browser
            .wait_until(
                "the schema fetch to end",
                &format!(
                    "const state = (function() {{ {SCHEMA_STATE} }})();
                     return !state.fetching && (state.error || state.rootTypes.length) ? state : null;"
                ),
            )
            .await;
        let root_types: Vec<String> = state["rootTypes"]
            .as_array()
            .map(|types| {
                types
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if !root_types.is_empty() {
            return root_types;
        }
        let response = state["response"].as_str().unwrap_or_default();
        if !response.contains("UNAUTHENTICATED") {
            browser
                .fail(&format!(
                    "GraphiQL could not load the schema with an admin token: {}\nthe server answered:\n{response}",
                    state["error"]
                ))
                .await;
        }
        browser.click(REFETCH).await;
    }
}

async fn graphiql_explores_the_schema_with_a_token_it_does_not_keep(engine: Engine) {
    let Some(browser) = Browser::start(&format!("graphiql-{engine:?}").to_lowercase()).await else {
        return;
    };
    let app = TestApp::spawn(engine).await;
    let token = app.token(Role::Admin, "browser");
    let page = app.url("/graphql");

    // A token an earlier version of the page stored, as the headers and in the history.
    browser.open(&page).await;
    let old_headers = r#"{"Authorization": "Bearer an-old-stored-token"}"#;
    browser
        .run(
            "localStorage.setItem('graphiql:headers', arguments[0]);
             localStorage.setItem('graphiql:queries', JSON.stringify({ queries: [
                 { query: '{ viewer { role } }', headers: arguments[0] } ] }));",
            vec![json!(old_headers)],
        )
        .await;
    browser.open(&page).await;

    browser.wait_for(".graphiql-container").await;
    let headers = format!(r#"{{"Authorization": "Bearer {token}"}}"#);
    paste(&browser, HEADERS_EDITOR, &headers).await;
    browser
        .click(r#"button[aria-label="Show Documentation Explorer"]"#)
        .await;
    let root_types = root_types_after_refetch(&browser).await;
    assert!(
        root_types.iter().any(|root| root == "query: Query"),
        "the docs explorer lists the root types: {root_types:?}"
    );
    assert!(
        root_types
            .iter()
            .any(|root| root == "subscription: Subscription"),
        "{root_types:?}"
    );

    // The default query runs with the token, and answers as the admin it stands for.
    browser.click(".graphiql-execute-button").await;
    browser
        .wait_until(
            "the default query's answer",
            &format!(
                "const text = document.querySelector('{RESPONSE}').CodeMirror.getValue();
                 return text.includes('\"role\": \"ADMIN\"') ? text : null;"
            ),
        )
        .await;

    let screenshot = browser.screenshot("docs").await;
    writeln!(
        std::io::stderr(),
        "GraphiQL with its docs and an answer: {}",
        screenshot.display()
    )
    .ok();

    // GraphiQL stores its tabs a moment after each edit: mark the query, wait for the mark to be
    // stored, and by then the headers would be stored too, were they kept.
    let marked = format!(
        "# stored {}\n{{ viewer {{ subject role }} }}\n",
        std::process::id()
    );
    paste(&browser, QUERY_EDITOR, &marked).await;
    let stored = browser
        .wait_until(
            "GraphiQL to store the edited tab",
            &format!(
                "const stored = (function() {{ {STORED} }})();
                 return stored.some(entry => entry.includes({})) ? stored : null;",
                json!(format!("# stored {}", std::process::id()))
            ),
        )
        .await;
    let stored = stored.to_string();
    assert!(
        !stored.contains(&token),
        "the token is in localStorage: {stored}"
    );
    assert!(
        !stored.contains("an-old-stored-token"),
        "the page removes the headers an earlier version stored: {stored}"
    );
    assert!(
        stored.contains("graphiql:queries") && stored.contains("{ viewer { role } }"),
        "the history is kept, without its headers: {stored}"
    );

    browser.close().await;
    app.finish().await;
}

engine_tests!(graphiql_explores_the_schema_with_a_token_it_does_not_keep);
