//! The simulated identity provider: discovery, JWKS and rotation, /authorize with PKCE, the
//! code and refresh grants, token claims, and the tokens minted for resource-server tests.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use graph_sim::{GRAPH_APP_ID, ROLE_ADMIN, ROLE_READER, SimServer, TestToken};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::*;

const ORIGIN: &str = "http://127.0.0.1:5173";
const REDIRECT: &str = "http://127.0.0.1:5173/auth/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ92q9d3mJ00Ig1i6FQ8Qd5L1x9hFk";
/// base64url(SHA-256(VERIFIER)), computed independently (Python hashlib).
const CHALLENGE: &str = "5aX3r6HOH_lh05uXPm8OmcrPjmi93-4PHXPes5I8Up0";

fn no_redirects() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn scope(sim: &SimServer) -> String {
    format!("openid profile offline_access {}", sim.api_scope())
}

/// The users holding the admin and reader roles by default, and one without any.
fn cast(sim: &SimServer) -> (Uuid, Uuid, Uuid) {
    let roles = sim.app_role_assignments();
    let with = |role: &str| {
        *roles
            .iter()
            .find(|(_, r)| r.iter().any(|x| x == role))
            .expect("role holder")
            .0
    };
    let none = sim
        .users()
        .into_iter()
        .find(|u| u.account_enabled && !roles.contains_key(&u.id))
        .expect("a user without roles")
        .id;
    (with(ROLE_ADMIN), with(ROLE_READER), none)
}

fn upn(sim: &SimServer, id: Uuid) -> String {
    sim.user(id).expect("user").user_principal_name
}

/// `/authorize` answered for `user` at once; returns the redirect's query parameters.
async fn authorize(sim: &SimServer, user: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let spa = sim.spa_client_id().to_string();
    let scope = scope(sim);
    let mut query = vec![
        ("client_id", spa.as_str()),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", scope.as_str()),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("gsim_user", user),
    ];
    query.extend_from_slice(extra);
    let resp = no_redirects()
        .get(with_query(&sim.oidc_authorize_url(), &query))
        .send()
        .await
        .expect("authorize");
    assert_eq!(resp.status(), StatusCode::FOUND);
    redirect_params(&resp)
}

fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    ser.extend_pairs(pairs);
    format!("{url}?{}", ser.finish())
}

fn redirect_params(resp: &reqwest::Response) -> HashMap<String, String> {
    let location = resp.headers()["location"].to_str().expect("location");
    let (base, query) = location.split_once(['?', '#']).expect("parameters");
    assert_eq!(base, REDIRECT);
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

async fn post_token(sim: &SimServer, form: &[(&str, &str)], origin: bool) -> (StatusCode, Value) {
    let mut req = client().post(sim.token_url()).form(form);
    if origin {
        req = req.header("origin", ORIGIN);
    }
    let resp = req.send().await.expect("token");
    let status = resp.status();
    if origin {
        assert_eq!(resp.headers()["access-control-allow-origin"], ORIGIN);
    }
    (status, resp.json().await.expect("json"))
}

async fn redeem(sim: &SimServer, code: &str, verifier: &str) -> (StatusCode, Value) {
    let spa = sim.spa_client_id().to_string();
    let scope = scope(sim);
    post_token(
        sim,
        &[
            ("client_id", spa.as_str()),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
            ("scope", scope.as_str()),
        ],
        true,
    )
    .await
}

fn assert_aad_error(status: StatusCode, body: &Value, error: &str, code: u64) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], json!([code]), "{body}");
    let desc = body["error_description"].as_str().expect("description");
    assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
}

async fn jwks(sim: &SimServer) -> Vec<Value> {
    let r = get_with(&sim.oidc_jwks_url(), None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    r.body["keys"].as_array().expect("keys").clone()
}

/// Verifies as a resource server does: key from the JWKS by kid, RS256, exact iss and aud.
async fn verify(sim: &SimServer, token: &str, aud: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let keys = jwks(sim).await;
    let jwk = keys
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .ok_or("unknown kid")?;
    let key = DecodingKey::from_rsa_components(
        jwk["n"].as_str().expect("n"),
        jwk["e"].as_str().expect("e"),
    )
    .map_err(|e| e.to_string())?;
    let mut v = Validation::new(Algorithm::RS256);
    v.validate_nbf = true;
    v.set_audience(&[aud]);
    v.set_issuer(&[sim.oidc_issuer()]);
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn discovery_documents() {
    let sim = start(20).await;
    let base = sim.base_url();
    let tid = sim.tenant_id();
    for tenant in [tid.to_string(), sim.domain()] {
        let url = format!("{base}/{tenant}/v2.0/.well-known/openid-configuration");
        let r = get_with(&url, None, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let d = &r.body;
        assert_eq!(d["issuer"], format!("{base}/{tid}/v2.0"));
        assert_eq!(d["issuer"], sim.oidc_issuer());
        assert_eq!(d["authorization_endpoint"], sim.oidc_authorize_url());
        assert_eq!(d["token_endpoint"], sim.token_url());
        assert_eq!(d["jwks_uri"], sim.oidc_jwks_url());
        assert_eq!(d["id_token_signing_alg_values_supported"], json!(["RS256"]));
        assert_eq!(d["subject_types_supported"], json!(["pairwise"]));
        assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
        assert!(
            d["response_types_supported"]
                .as_array()
                .unwrap()
                .contains(&json!("code"))
        );
        assert_eq!(r.headers["access-control-allow-origin"], "*");
    }
    assert_eq!(
        sim.oidc_discovery_url(),
        format!("{base}/{tid}/v2.0/.well-known/openid-configuration")
    );
    let common = get_with(
        &format!("{base}/common/v2.0/.well-known/openid-configuration"),
        None,
        &[],
    )
    .await;
    assert_eq!(common.body["issuer"], format!("{base}/{{tenantid}}/v2.0"));
    assert_eq!(
        common.body["jwks_uri"],
        format!("{base}/common/discovery/v2.0/keys")
    );
    let unknown = get_with(
        &format!(
            "{base}/{}/v2.0/.well-known/openid-configuration",
            Uuid::new_v4()
        ),
        None,
        &[],
    )
    .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.body["error"], "invalid_tenant");
    assert_eq!(unknown.body["error_codes"], json!([90002]));
}

#[tokio::test]
async fn jwks_publishes_rsa_keys_with_kid() {
    let sim = start(10).await;
    let keys = jwks(&sim).await;
    assert!(keys.len() >= 2, "Entra publishes several keys: {keys:?}");
    for k in &keys {
        assert_eq!(k["kty"], "RSA");
        assert_eq!(k["use"], "sig");
        assert_eq!(k["e"], "AQAB");
        assert!(k["kid"].as_str().is_some_and(|s| !s.is_empty()));
        assert_eq!(k["x5t"], k["kid"]);
        let n = URL_SAFE_NO_PAD.decode(k["n"].as_str().unwrap()).unwrap();
        assert_eq!(n.len(), 256, "RSA-2048 modulus");
        assert_eq!(k["issuer"], format!("{}/{{tenantid}}/v2.0", sim.base_url()));
    }
    let kids: Vec<_> = keys
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kids, sim.published_kids().unwrap());
    assert!(kids.contains(&sim.signing_kid().unwrap()));
}

#[tokio::test]
async fn code_flow_with_pkce_and_claims() {
    let sim = start(20).await;
    let (admin, reader, nobody) = cast(&sim);
    let p = authorize(&sim, &upn(&sim, admin), &[]).await;
    assert_eq!(p["state"], "st-1");
    let (status, body) = redeem(&sim, &p["code"], VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], sim.api_scope());
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    assert!(body["refresh_token"].is_string());

    let access = body["access_token"].as_str().unwrap();
    let header = header_of(access);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], sim.signing_kid().unwrap());
    assert_eq!(sim.api_audience(), sim.api_client_id().to_string());
    let c = verify(&sim, access, &sim.api_audience())
        .await
        .expect("access token verifies");
    let user = sim.user(admin).unwrap();
    assert_eq!(c["tid"], sim.tenant_id().to_string());
    assert_eq!(c["oid"], admin.to_string());
    assert_eq!(c["name"], json!(user.display_name));
    assert_eq!(c["preferred_username"], user.user_principal_name);
    assert_eq!(c["roles"], json!([ROLE_ADMIN]));
    assert_eq!(c["scp"], "access_as_user");
    assert_eq!(c["ver"], "2.0");
    assert_eq!(c["azp"], sim.spa_client_id().to_string());
    assert!(c["sub"].as_str().is_some_and(|s| s.len() == 43));
    let (iat, nbf, exp) = (
        c["iat"].as_i64().unwrap(),
        c["nbf"].as_i64().unwrap(),
        c["exp"].as_i64().unwrap(),
    );
    let now = chrono::Utc::now().timestamp();
    assert!((iat - now).abs() < 60 && nbf == iat && exp > now + 3000);

    let id = body["id_token"].as_str().unwrap();
    let ic = verify(&sim, id, &sim.spa_client_id().to_string())
        .await
        .expect("id token verifies");
    assert_eq!(ic["nonce"], "n-1");
    assert_eq!(ic["oid"], admin.to_string());
    assert!(ic.get("roles").is_none() && ic.get("scp").is_none());
    assert_ne!(ic["sub"], c["sub"], "sub is pairwise per app");

    let p = authorize(&sim, &upn(&sim, reader), &[]).await;
    let (_, body) = redeem(&sim, &p["code"], VERIFIER).await;
    assert_eq!(
        claims_of(body["access_token"].as_str().unwrap())["roles"],
        json!([ROLE_READER])
    );
    let p = authorize(&sim, &upn(&sim, nobody), &[("response_mode", "fragment")]).await;
    let (_, body) = redeem(&sim, &p["code"], VERIFIER).await;
    let c = claims_of(body["access_token"].as_str().unwrap());
    assert!(c.get("roles").is_none(), "no role, no roles claim: {c}");
}

#[tokio::test]
async fn pkce_and_code_reuse_refused() {
    let sim = start(10).await;
    let (admin, _, _) = cast(&sim);
    let p = authorize(&sim, &admin.to_string(), &[]).await;
    let wrong = "x".repeat(43);
    let (status, body) = redeem(&sim, &p["code"], &wrong).await;
    assert_aad_error(status, &body, "invalid_grant", 501481);
    let (status, body) = redeem(&sim, &p["code"], "").await;
    assert_aad_error(status, &body, "invalid_request", 9002325);
    let (status, _) = redeem(&sim, &p["code"], VERIFIER).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = redeem(&sim, &p["code"], VERIFIER).await;
    assert_aad_error(status, &body, "invalid_grant", 54005);
    let (status, body) = redeem(&sim, "gsimc.garbage", VERIFIER).await;
    assert_aad_error(status, &body, "invalid_grant", 70000);

    // A redirect URI other than the code's.
    let p = authorize(&sim, &admin.to_string(), &[]).await;
    let spa = sim.spa_client_id().to_string();
    let (status, body) = post_token(
        &sim,
        &[
            ("client_id", &spa),
            ("grant_type", "authorization_code"),
            ("code", &p["code"]),
            ("redirect_uri", "http://127.0.0.1:5173/other"),
            ("code_verifier", VERIFIER),
        ],
        true,
    )
    .await;
    assert_aad_error(status, &body, "invalid_grant", 500117);
    // The SPA's code is redeemed cross-origin only, and without a secret.
    let form = [
        ("client_id", spa.as_str()),
        ("grant_type", "authorization_code"),
        ("code", &p["code"]),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let (status, body) = post_token(&sim, &form, false).await;
    assert_aad_error(status, &body, "invalid_request", 9002327);
    let mut with_secret = form.to_vec();
    with_secret.push(("client_secret", "s"));
    let (status, body) = post_token(&sim, &with_secret, true).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_codes"], json!([700025]));
    let (status, _) = post_token(&sim, &form, true).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the refused attempts left the code usable"
    );
}

#[tokio::test]
async fn authorize_errors_and_picker() {
    let sim = start(10).await;
    let spa = sim.spa_client_id().to_string();
    let base_query = |extra: &[(&'static str, &'static str)]| {
        let mut q: Vec<(&str, String)> = vec![
            ("client_id", spa.clone()),
            ("response_type", "code".into()),
            ("redirect_uri", REDIRECT.into()),
            ("scope", scope(&sim)),
            ("state", "s".into()),
            ("code_challenge", CHALLENGE.into()),
            ("code_challenge_method", "S256".into()),
        ];
        for (k, v) in extra {
            q.retain(|(name, _)| name != k);
            if !v.is_empty() {
                q.push((k, v.to_string()));
            }
        }
        q
    };
    let get = |q: Vec<(&'static str, String)>| {
        let url = sim.oidc_authorize_url();
        async move {
            let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
            no_redirects()
                .get(with_query(&url, &pairs))
                .send()
                .await
                .expect("authorize")
        }
    };

    // No user chosen: the picker page, offering the role holders.
    let page = get(base_query(&[])).await;
    assert_eq!(page.status(), StatusCode::OK);
    let text = page.text().await.unwrap();
    let (admin, _, _) = cast(&sim);
    assert!(
        text.contains(&format!("value=\"{}\"", upn(&sim, admin))),
        "{text}"
    );
    assert!(text.contains(ROLE_ADMIN));

    // PKCE is required, and S256 only.
    let r = get(base_query(&[("code_challenge", "")])).await;
    let p = redirect_params(&r);
    assert_eq!(p["error"], "invalid_request");
    assert!(p["error_description"].starts_with("AADSTS9002325"));
    assert_eq!(p["state"], "s");
    let r = get(base_query(&[
        ("code_challenge_method", "plain"),
        ("gsim_user", "x"),
    ]))
    .await;
    assert_eq!(redirect_params(&r)["error"], "invalid_request");

    // Unknown user, silent request without a user.
    let r = get(base_query(&[("gsim_user", "nobody@example.com")])).await;
    assert!(redirect_params(&r)["error_description"].starts_with("AADSTS50034"));
    let r = get(base_query(&[("prompt", "none")])).await;
    assert_eq!(redirect_params(&r)["error"], "login_required");

    // login_hint alone signs in once auto-approve is on (control API).
    let url = format!("{}/_sim/oidc", sim.base_url());
    let r = client()
        .patch(&url)
        .json(&json!({"autoApprove": true, "spaRedirectUris": [REDIRECT]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let hint: &'static str = Box::leak(upn(&sim, admin).into_boxed_str());
    let r = get(base_query(&[("login_hint", hint)])).await;
    assert!(redirect_params(&r).contains_key("code"));

    // Errors Entra shows on its own page: unknown client, unregistered redirect URI.
    let r = get(base_query(&[
        ("redirect_uri", "http://evil.example/cb"),
        ("gsim_user", hint),
    ]))
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("AADSTS50011"));
    let r = get(base_query(&[(
        "client_id",
        "11111111-1111-1111-1111-111111111111",
    )]))
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("AADSTS700016"));
}

#[tokio::test]
async fn refresh_tokens_rotate() {
    let sim = start(10).await;
    let (_, reader, _) = cast(&sim);
    let p = authorize(&sim, &upn(&sim, reader), &[]).await;
    let (_, first) = redeem(&sim, &p["code"], VERIFIER).await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_string();
    let spa = sim.spa_client_id().to_string();
    let scope = scope(&sim);
    let refresh = |rt: String| {
        let (spa, scope) = (spa.clone(), scope.clone());
        let sim = &sim;
        async move {
            post_token(
                sim,
                &[
                    ("client_id", &spa),
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &rt),
                    ("scope", &scope),
                ],
                true,
            )
            .await
        }
    };
    // A role change shows in the next token.
    sim.set_app_roles(reader, &[ROLE_ADMIN, ROLE_READER])
        .unwrap();
    let (status, second) = refresh(rt1.clone()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let rt2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    let c = verify(
        &sim,
        second["access_token"].as_str().unwrap(),
        &sim.api_audience(),
    )
    .await
    .unwrap();
    assert_eq!(c["roles"], json!([ROLE_ADMIN, ROLE_READER]));
    assert!(second["id_token"].is_string());
    let (status, body) = refresh(rt1).await;
    assert_aad_error(status, &body, "invalid_grant", 70000);
    let (status, body) = refresh("garbage".into()).await;
    assert_aad_error(status, &body, "invalid_grant", 9002313);
    let (status, _) = refresh(rt2).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn scopes_without_the_api_give_a_graph_token() {
    let sim = start(10).await;
    let (admin, _, _) = cast(&sim);
    let p = authorize(&sim, &admin.to_string(), &[]).await;
    let spa = sim.spa_client_id().to_string();
    let (status, body) = post_token(
        &sim,
        &[
            ("client_id", &spa),
            ("grant_type", "authorization_code"),
            ("code", &p["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("scope", "openid profile User.Read"),
        ],
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(claims_of(access)["aud"], GRAPH_APP_ID);
    assert!(header_of(access)["nonce"].is_string());
    assert!(
        body.get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );
}

#[tokio::test]
async fn key_rotation_through_the_control_api() {
    let sim = start(10).await;
    let (admin, _, _) = cast(&sim);
    let base = sim.base_url().to_string();
    let old = sim.signing_kid().unwrap();
    let before = sim.mint_token(admin, TestToken::Access).unwrap();

    let r = client()
        .post(format!("{base}/_sim/oidc/keys"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let new = r.json::<Value>().await.unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(jwks(&sim).await.iter().any(|k| k["kid"] == new.as_str()));
    assert_eq!(
        sim.signing_kid().unwrap(),
        old,
        "published, not signing yet"
    );

    let r = client()
        .delete(format!("{base}/_sim/oidc/keys/{old}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "the signing key cannot be retired"
    );
    let r = client()
        .post(format!("{base}/_sim/oidc/keys/{new}/signing"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let after = sim.mint_token(admin, TestToken::Access).unwrap();
    assert_eq!(header_of(&after)["kid"], new.as_str());
    assert!(
        verify(&sim, &before, &sim.api_audience()).await.is_ok(),
        "old key still published"
    );

    let r = client()
        .delete(format!("{base}/_sim/oidc/keys/{old}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!jwks(&sim).await.iter().any(|k| k["kid"] == old.as_str()));
    assert_eq!(
        verify(&sim, &before, &sim.api_audience())
            .await
            .unwrap_err(),
        "unknown kid"
    );
    assert!(verify(&sim, &after, &sim.api_audience()).await.is_ok());

    // One call does all three.
    let r = client()
        .post(format!("{base}/_sim/oidc/keys/rotate"))
        .send()
        .await
        .unwrap();
    let newest = r.json::<Value>().await.unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(sim.signing_kid().unwrap(), newest);
    assert!(!sim.published_kids().unwrap().contains(&new));
    let info = get_with(&format!("{base}/_sim/oidc"), None, &[]).await;
    assert_eq!(info.body["signingKid"], newest.as_str());
    assert_eq!(info.body["apiClientId"], sim.api_client_id().to_string());
}

#[tokio::test]
async fn minted_test_tokens() {
    let sim = start(10).await;
    let (admin, _, _) = cast(&sim);
    let aud = sim.api_audience();
    let mint = |kind| sim.mint_token(admin, kind).expect("mint");

    let c = verify(&sim, &mint(TestToken::Access), &aud)
        .await
        .expect("valid");
    assert_eq!(c["roles"], json!([ROLE_ADMIN]));
    assert_eq!(c, {
        let mut want = sim.access_token_claims(admin).unwrap();
        for k in ["iat", "nbf", "exp", "uti"] {
            want[k] = c[k].clone();
        }
        want
    });
    assert!(
        verify(&sim, &mint(TestToken::Expired), &aud)
            .await
            .unwrap_err()
            .contains("Expired")
    );
    assert!(
        verify(&sim, &mint(TestToken::NotYetValid), &aud)
            .await
            .unwrap_err()
            .contains("Immature")
    );
    assert!(
        verify(&sim, &mint(TestToken::WrongAudience), &aud)
            .await
            .unwrap_err()
            .contains("Audience")
    );
    assert!(
        verify(&sim, &mint(TestToken::WrongIssuer), &aud)
            .await
            .unwrap_err()
            .contains("Issuer")
    );
    let graph = mint(TestToken::GraphAudience);
    assert_eq!(claims_of(&graph)["aud"], GRAPH_APP_ID);
    assert!(header_of(&graph)["nonce"].is_string());
    let id = mint(TestToken::IdToken);
    assert_eq!(claims_of(&id)["aud"], sim.spa_client_id().to_string());
    assert!(claims_of(&id)["nonce"].is_string());
    assert!(verify(&sim, &id, &aud).await.is_err());

    let none = mint(TestToken::AlgNone);
    assert_eq!(header_of(&none)["alg"], "none");
    assert!(none.ends_with('.'));
    let hs = mint(TestToken::Hs256PublicKey);
    assert_eq!(header_of(&hs)["alg"], "HS256");
    assert_eq!(header_of(&hs)["kid"], sim.signing_kid().unwrap());
    let pem = sim.signing_public_key_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    let mut v = Validation::new(Algorithm::HS256);
    v.set_audience(&[&aud]);
    jsonwebtoken::decode::<Value>(&hs, &DecodingKey::from_secret(pem.as_bytes()), &v)
        .expect("HMAC keyed with the public key PEM");
    let stray = mint(TestToken::UnknownKid);
    assert_eq!(verify(&sim, &stray, &aud).await.unwrap_err(), "unknown kid");

    // The same through the control API, by UPN.
    let r = client()
        .post(format!("{}/_sim/oidc/tokens", sim.base_url()))
        .json(&json!({"user": upn(&sim, admin), "kind": "expired"}))
        .send()
        .await
        .unwrap();
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(claims_of(&token)["exp"].as_i64().unwrap() < chrono::Utc::now().timestamp() - 300);
}

#[tokio::test]
async fn client_credentials_unchanged_next_to_oidc() {
    let sim = start(5).await;
    let t = token(&sim).await;
    assert_eq!(claims_of(&t)["idtyp"], "app", "an app-only token");
    let r = get(&sim, "/v1.0/users?$top=1", &t).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn codes_and_spa_refresh_tokens_expire() {
    let sim = start_with(
        graph_sim::TenantSpec {
            users: 5,
            seed: 7,
            ..Default::default()
        },
        graph_sim::SimOptions {
            oidc: graph_sim::OidcOptions {
                code_ttl_secs: 0,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await;
    let (admin, _, _) = cast(&sim);
    let p = authorize(&sim, &admin.to_string(), &[]).await;
    let (status, body) = redeem(&sim, &p["code"], VERIFIER).await;
    assert_aad_error(status, &body, "invalid_grant", 70008);

    let sim = start_with(
        graph_sim::TenantSpec {
            users: 5,
            seed: 7,
            ..Default::default()
        },
        graph_sim::SimOptions {
            oidc: graph_sim::OidcOptions {
                refresh_token_ttl_secs: 0,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await;
    let p = authorize(&sim, &admin.to_string(), &[]).await;
    let (status, body) = redeem(&sim, &p["code"], VERIFIER).await;
    assert_eq!(status, StatusCode::OK);
    let spa = sim.spa_client_id().to_string();
    let (status, body) = post_token(
        &sim,
        &[
            ("client_id", spa.as_str()),
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
        ],
        true,
    )
    .await;
    assert_aad_error(status, &body, "invalid_grant", 700084);
}

/// Switched off through the control API, every endpoint of the identity provider answers 503
/// while Graph and its client-credentials grant go on; switched on again, the keys, the codes
/// issued before and the roles are as they were.
#[tokio::test]
async fn the_identity_provider_goes_down_and_comes_back() {
    let sim = start(10).await;
    let (admin, _, _) = cast(&sim);
    let kids_before: Vec<Value> = jwks(&sim).await.iter().map(|k| k["kid"].clone()).collect();
    let code = authorize(&sim, &upn(&sim, admin), &[]).await["code"].clone();
    let switch = |available: bool| {
        client()
            .patch(format!("{}/_sim/oidc", sim.base_url()))
            .json(&json!({ "available": available }))
            .send()
    };
    let r = switch(false).await.expect("patch");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.expect("json")["available"], false);
    assert!(!sim.oidc_available());

    for url in [sim.oidc_discovery_url(), sim.oidc_jwks_url()] {
        let r = get_with(&url, None, &[]).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{url}");
        assert_eq!(r.body["error"], "temporarily_unavailable", "{url}");
    }
    let page = no_redirects()
        .get(with_query(
            &sim.oidc_authorize_url(),
            &[("client_id", &sim.spa_client_id().to_string())],
        ))
        .send()
        .await
        .expect("authorize");
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    let (status, body) = redeem(&sim, code.as_str(), VERIFIER).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    let graph = token(&sim).await;
    assert_eq!(
        get(&sim, "/v1.0/users?$top=1", &graph).await.status,
        StatusCode::OK
    );

    switch(true).await.expect("patch");
    let kids_after: Vec<Value> = jwks(&sim).await.iter().map(|k| k["kid"].clone()).collect();
    assert_eq!(kids_after, kids_before);
    let (status, body) = redeem(&sim, code.as_str(), VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        claims_of(body["access_token"].as_str().expect("token"))["roles"],
        json!([ROLE_ADMIN])
    );
}
