use base64::Engine;
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

async fn post_token(
    url: &str,
    form: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let resp = client().post(url).form(form).send().await.expect("request");
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.expect("json"))
}

/// Checks the documented AADSTS body shape.
fn assert_aad(
    status: StatusCode,
    body: &Value,
    want_status: u16,
    error: &str,
    code: u64,
    text: &str,
) {
    assert_eq!(status.as_u16(), want_status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], serde_json::json!([code]));
    let desc = body["error_description"]
        .as_str()
        .expect("error_description");
    assert!(desc.starts_with(&format!("AADSTS{code}: {text}")), "{desc}");
    let trace = body["trace_id"].as_str().unwrap();
    let corr = body["correlation_id"].as_str().unwrap();
    let ts = body["timestamp"].as_str().unwrap();
    assert!(
        desc.contains(&format!(
            "\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {ts}"
        )),
        "{desc}"
    );
    assert!(is_guid(&body["trace_id"]) && is_guid(&body["correlation_id"]));
    assert!(
        chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%d %H:%M:%SZ").is_ok(),
        "{ts}"
    );
    assert_eq!(
        body["error_uri"],
        format!("https://login.microsoftonline.com/error?code={code}")
    );
}

#[tokio::test]
async fn success_body_and_token_works() {
    let sim = start(50).await;
    let id = sim.client_id().to_string();
    let secret = sim.client_secret();
    let (status, headers, body) = post_token(
        &sim.token_url(),
        &[
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", GRAPH_SCOPE),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(body.get("refresh_token").is_none());
    let token = body["access_token"].as_str().unwrap();
    let r = get(&sim, "/v1.0/users?$top=1", token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(sim.stats().tokens_issued, 1);
}

#[tokio::test]
async fn basic_auth_and_domain_tenants() {
    let sim = start(10).await;
    let creds = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        sim.client_id(),
        form_encode(&sim.client_secret())
    ));
    for tenant in [
        sim.domain(),
        sim.domain().to_uppercase(),
        "contoso-7.com".to_string(),
    ] {
        let resp = client()
            .post(format!("{}/{}/oauth2/v2.0/token", sim.base_url(), tenant))
            .header("authorization", format!("Basic {creds}"))
            .form(&[("scope", GRAPH_SCOPE), ("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "tenant {tenant}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["access_token"].is_string());
    }
}

fn form_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn documented_failures() {
    let sim = start(10).await;
    let id = sim.client_id().to_string();
    let secret = sim.client_secret();
    let url = sim.token_url();
    // Wrong secret: 401 invalid_client 7000215.
    let (s, _, b) = post_token(
        &url,
        &[
            ("client_id", &id),
            ("client_secret", "wrong"),
            ("scope", GRAPH_SCOPE),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_aad(
        s,
        &b,
        401,
        "invalid_client",
        7000215,
        &format!(
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{id}'."
        ),
    );

    // Unknown client id: 400 unauthorized_client 700016.
    let other = uuid::Uuid::new_v4().to_string();
    let (s, _, b) = post_token(
        &url,
        &[
            ("client_id", &other),
            ("client_secret", &secret),
            ("scope", GRAPH_SCOPE),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_aad(
        s,
        &b,
        400,
        "unauthorized_client",
        700016,
        &format!("Application with identifier '{other}' was not found in the directory"),
    );

    // Unknown tenant (GUID and domain): 400 invalid_request 90002.
    for tenant in [
        uuid::Uuid::new_v4().to_string(),
        "fabrikam.onmicrosoft.com".to_string(),
    ] {
        let u = format!("{}/{}/oauth2/v2.0/token", sim.base_url(), tenant);
        let (s, _, b) = post_token(
            &u,
            &[
                ("client_id", &id),
                ("client_secret", &secret),
                ("scope", GRAPH_SCOPE),
                ("grant_type", "client_credentials"),
            ],
        )
        .await;
        assert_aad(
            s,
            &b,
            400,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }

    // Malformed tenant: 400 invalid_request 900023.
    let u = format!("{}/not_a_tenant!/oauth2/v2.0/token", sim.base_url());
    let (s, _, b) = post_token(
        &u,
        &[
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", GRAPH_SCOPE),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_aad(
        s,
        &b,
        400,
        "invalid_request",
        900023,
        "Specified tenant identifier 'not_a_tenant!' is neither a valid DNS name, nor a valid external domain.",
    );

    // Missing parameters: 400 invalid_request 900144 naming the parameter.
    for missing in ["grant_type", "client_id", "scope"] {
        let all = [
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("scope", GRAPH_SCOPE),
            ("grant_type", "client_credentials"),
        ];
        let form: Vec<_> = all.iter().filter(|(k, _)| *k != missing).cloned().collect();
        let (s, _, b) = post_token(&url, &form).await;
        assert_aad(
            s,
            &b,
            400,
            "invalid_request",
            900144,
            &format!("The request body must contain the following parameter: '{missing}'."),
        );
    }

    // No secret: 401 invalid_client 7000216.
    let (s, _, b) = post_token(
        &url,
        &[
            ("client_id", &id),
            ("scope", GRAPH_SCOPE),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_aad(
        s,
        &b,
        401,
        "invalid_client",
        7000216,
        "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
    );

    // Scope without /.default: 400 invalid_scope 1002012.
    let scope = "https://graph.microsoft.com/User.Read.All";
    let (s, _, b) = post_token(
        &url,
        &[
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", scope),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_aad(
        s,
        &b,
        400,
        "invalid_scope",
        1002012,
        &format!(
            "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
        ),
    );

    // Other resource: 400 invalid_scope 70011.
    let (s, _, b) = post_token(
        &url,
        &[
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", "https://management.azure.com/.default"),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_aad(
        s,
        &b,
        400,
        "invalid_scope",
        70011,
        "The provided value for the input parameter 'scope' isn't valid.",
    );

    // Expired secret: 401 invalid_client 7000222.
    sim.set_secret_expired(true);
    let (s, _, b) = post_token(
        &url,
        &[
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", GRAPH_SCOPE),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_aad(
        s,
        &b,
        401,
        "invalid_client",
        7000222,
        &format!("The provided client secret keys for app '{id}' are expired."),
    );

    let stats = sim.stats();
    assert_eq!(stats.tokens_issued, 0);
    assert!(stats.token_errors >= 10);
    assert!(stats.count("/{tenant}/oauth2/v2.0/token", 400) >= 6);
}

#[tokio::test]
async fn ttl_is_configurable() {
    let sim = start(5).await;
    sim.set_token_ttl_secs(120);
    let id = sim.client_id().to_string();
    let secret = sim.client_secret();
    let (_, _, b) = post_token(
        &sim.token_url(),
        &[
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", GRAPH_SCOPE),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_eq!(b["expires_in"], 120);
    assert_eq!(b["ext_expires_in"], 120);
}

#[tokio::test]
async fn get_is_refused() {
    let sim = start(5).await;
    let resp = client().get(sim.token_url()).send().await.unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_aad(
        status,
        &body,
        400,
        "invalid_request",
        900561,
        "The endpoint only accepts POST, OPTIONS requests.",
    );
}
