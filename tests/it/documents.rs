//! The server keeps parsed documents by their text: a document sent again answers as it did the
//! first time, whatever other documents were sent between, whatever its variables, and a
//! document with an error keeps answering with that error.

use crate::common;

use common::fixtures::{self, SPE_E3, SPE_E5, gql};
use common::{Engine, TestApp, error_code};
use license_manager::auth::Role;
use serde_json::{Value, json};

const SKUS: &str = "{ licenseSkus { skuPartNumber } }";
const PROVIDERS: &str = "{ providers { name } }";

async fn two_documents_keep_their_own_answers(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let db = app.database.connect().await;
    let contoso = fixtures::provider(&db, "Contoso", Some("AVAILABLE")).await;
    fixtures::sku(&db, contoso, SPE_E5, (10, 3, 0, 0, 0)).await;
    fixtures::sku(&db, contoso, SPE_E3, (5, 1, 0, 0, 0)).await;
    let mut rounds = Vec::new();
    for _ in 0..3 {
        let skus = fixtures::data(&app, SKUS, json!({})).await;
        let providers = fixtures::data(&app, PROVIDERS, json!({})).await;
        rounds.push((skus, providers));
    }
    let (skus, providers) = &rounds[0];
    let mut parts: Vec<&str> = skus["licenseSkus"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|sku| sku["skuPartNumber"].as_str())
        .collect();
    parts.sort_unstable();
    assert_eq!(parts, ["SPE_E3", "SPE_E5"], "{skus}");
    assert_eq!(*providers, json!({ "providers": [{ "name": "Contoso" }] }));
    assert!(rounds.iter().all(|round| round == &rounds[0]), "{rounds:?}");
    db.close().await.ok();
    app.finish().await;
}

/// async-graphql removes what `@include` leaves out from the document it runs: each request
/// runs its own copy, so a kept document answers each request for its own variables.
async fn a_kept_document_answers_for_each_request_s_variables(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let query = "query($more: Boolean!) { viewer { subject role @include(if: $more) } }";
    let mut answers = Vec::new();
    for more in [true, false, true, false] {
        answers.push(fixtures::data(&app, query, json!({ "more": more })).await);
    }
    let full = json!({ "viewer": { "subject": "fixture", "role": "VIEWER" } });
    let short = json!({ "viewer": { "subject": "fixture" } });
    assert_eq!(answers, [full.clone(), short.clone(), full, short]);
    app.finish().await;
}

fn message(body: &Value) -> &str {
    body["errors"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("an error with a message: {body}"))
}

/// A document that does not parse, and one that parses but does not validate, answer with
/// their error every time they are sent, and a correct document sent between them is not
/// affected.
async fn a_document_with_an_error_keeps_its_error(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let broken = "{ viewer { subject ";
    let unknown = "{ viewer { subject shoeSize } }";
    let mut errors = Vec::new();
    for _ in 0..2 {
        for document in [broken, unknown] {
            let body = gql(&app, Role::Viewer, document, json!({})).await;
            assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
            assert_eq!(body["data"], Value::Null, "{body}");
            errors.push(message(&body).to_owned());
        }
        let fine = fixtures::data(&app, "{ viewer { subject } }", json!({})).await;
        assert_eq!(fine["viewer"]["subject"], "fixture");
    }
    assert!(errors[1].contains("shoeSize"), "{errors:?}");
    assert_ne!(errors[0], errors[1]);
    assert_eq!(errors[..2], errors[2..]);
    app.finish().await;
}

engine_tests!(
    two_documents_keep_their_own_answers,
    a_kept_document_answers_for_each_request_s_variables,
    a_document_with_an_error_keeps_its_error,
);
