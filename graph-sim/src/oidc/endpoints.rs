//! The OIDC endpoints: discovery, JWKS, `/authorize` (with a user picker page), logout, and the
//! `authorization_code` / `refresh_token` grants of the token endpoint.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Value, json};
use tokio::time::Instant;
use uuid::Uuid;

use super::keys::sha256_b64url;
use super::mint::{Subject, graph_header, issuer};
use super::{AuthCode, Grant, OidcConfig, RefreshGrant, random_token};
use crate::errors::AadError;
use crate::server::SimState;
use crate::tenant::User;
use crate::token::resolve_tenant;

/// The multi-tenant aliases whose metadata carries the `{tenantid}` issuer template.
const ALIASES: [&str; 2] = ["common", "organizations"];
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

type Shared = State<Arc<SimState>>;

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    // Entra serves its metadata to browsers on any origin.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}

/// The tenant segment as the metadata names it: the GUID, or an alias kept as such.
fn tenant_segment(state: &SimState, tenant: &str) -> Result<String, AadError> {
    if ALIASES.iter().any(|a| a.eq_ignore_ascii_case(tenant)) {
        return Ok(tenant.to_ascii_lowercase());
    }
    // The metadata endpoints name an unknown tenant `invalid_tenant`, not `invalid_request`.
    resolve_tenant(state, tenant)
        .map(|id| id.to_string())
        .map_err(|e| AadError {
            error: "invalid_tenant",
            ..e
        })
}

fn aad_error(e: &AadError) -> Response {
    let mut resp = e.render(&Uuid::new_v4().to_string());
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}

const DOWN: &str = "graph-sim: the identity provider is switched off (PATCH /_sim/oidc {\"available\": true} brings it back).";

/// Whether the identity provider is switched off (`PATCH /_sim/oidc {"available": false}`).
fn is_down(state: &SimState) -> bool {
    !state.oidc().config.available
}

/// What a client reading JSON gets from an issuer that is down: a 503 carrying OAuth's
/// `temporarily_unavailable`, and no tenant check (an issuer that is down cannot make one).
fn unavailable() -> Response {
    json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &json!({ "error": "temporarily_unavailable", "error_description": DOWN }),
    )
}

/// What a browser gets from a sign-in page that is down.
fn unavailable_page() -> Response {
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        "Service unavailable",
        &format!("<p role=\"alert\">{}</p>", escape(DOWN)),
    )
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub(crate) async fn discovery(State(state): Shared, Path(tenant): Path<String>) -> Response {
    if is_down(&state) {
        return unavailable();
    }
    let segment = match tenant_segment(&state, &tenant) {
        Ok(s) => s,
        Err(e) => return aad_error(&e),
    };
    let base = &state.base_url;
    let iss_tenant = if ALIASES.contains(&segment.as_str()) {
        "{tenantid}"
    } else {
        &segment
    };
    let endpoint = |path: &str| format!("{base}/{segment}/{path}");
    json_response(
        StatusCode::OK,
        &json!({
            "token_endpoint": endpoint("oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": endpoint("discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": issuer(base, iss_tenant),
            "request_uri_parameter_supported": false,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": endpoint("oauth2/v2.0/authorize"),
            "device_authorization_endpoint": endpoint("oauth2/v2.0/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": endpoint("oauth2/v2.0/logout"),
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
            "kerberos_endpoint": endpoint("kerberos"),
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
            "code_challenge_methods_supported": ["S256"],
        }),
    )
}

/// `GET /{tenant}/discovery/v2.0/keys`: every published key, with Entra's per-key `issuer`
/// (the `{tenantid}` template: the keys serve every tenant).
pub(crate) async fn jwks(State(state): Shared, Path(tenant): Path<String>) -> Response {
    if is_down(&state) {
        return unavailable();
    }
    if let Err(e) = tenant_segment(&state, &tenant) {
        return aad_error(&e);
    }
    let template = issuer(&state.base_url, "{tenantid}");
    let keys = {
        let mut oidc = state.oidc();
        match oidc.keys() {
            Ok(ring) => ring
                .published
                .iter()
                .map(|k| k.jwk(&template))
                .collect::<Vec<_>>(),
            Err(e) => return e.into_response(),
        }
    };
    json_response(StatusCode::OK, &json!({ "keys": keys }))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><main><h1>{t}</h1>{body}</main></body></html>\n",
        t = escape(title)
    );
    let mut resp = (status, page).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// Errors Entra shows on its own page (it cannot trust the redirect URI yet).
fn error_page(e: &AadError) -> Response {
    html(
        e.status,
        "Sign in: error",
        &format!(
            "<p role=\"alert\">AADSTS{}: {}</p>",
            e.code,
            escape(&e.message)
        ),
    )
}

fn redirect(to: &str) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// `redirect_uri` + the response parameters, in the query or the fragment.
fn redirect_with(uri: &str, fragment: bool, params: &[(&str, &str)]) -> Response {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, v);
    }
    let sep = if fragment {
        '#'
    } else if uri.contains('?') {
        '&'
    } else {
        '?'
    };
    redirect(&format!("{uri}{sep}{}", ser.finish()))
}

/// An authorization request, as parsed.
struct AuthRequest {
    params: Vec<(String, String)>,
}

impl AuthRequest {
    fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// `GET /{tenant}/oauth2/v2.0/authorize`.
pub(crate) async fn authorize(
    State(state): Shared,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if is_down(&state) {
        return unavailable_page();
    }
    let req = AuthRequest {
        params: form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect(),
    };
    let tenant_id = match resolve_tenant(&state, &tenant) {
        Ok(id) => id,
        Err(e) => return error_page(&e),
    };
    let cfg = state.oidc().config.clone();
    let (redirect_uri, client_id) = match check_client(&cfg, &req, &tenant) {
        Ok(v) => v,
        Err(e) => return error_page(&e),
    };
    let fragment = req.get("response_mode") == Some("fragment");
    let fail = |error: &str, e: AadError| {
        let description = format!("AADSTS{}: {}", e.code, e.message);
        let mut params = vec![("error", error), ("error_description", &description)];
        if let Some(s) = req.get("state") {
            params.push(("state", s));
        }
        redirect_with(&redirect_uri, fragment, &params)
    };
    let challenge = match check_request(&req) {
        Ok(c) => c,
        Err((error, e)) => return fail(error, e),
    };
    let picked = req
        .get("gsim_user")
        .or_else(|| req.get("login_hint").filter(|_| cfg.auto_approve));
    let Some(key) = picked else {
        if req.get("prompt") == Some("none") {
            return fail(
                "login_required",
                bad(
                    50058,
                    "A silent sign-in request was sent but no user is signed in.",
                ),
            );
        }
        return picker_page(&state, &req, tenant_id);
    };
    let user = match signable_user(&state, key, &tenant) {
        Ok(u) => u,
        Err(e) => return fail("invalid_request", e),
    };
    let code = random_token("gsimc.");
    {
        let mut oidc = state.oidc();
        oidc.prune();
        oidc.codes.insert(
            code.clone(),
            AuthCode {
                grant: Grant {
                    user_id: user.id,
                    client_id,
                    scope: req.get("scope").unwrap_or_default().to_string(),
                    nonce: req.get("nonce").map(str::to_string),
                },
                redirect_uri: redirect_uri.clone(),
                code_challenge: challenge,
                expires_at: Instant::now() + cfg.code_ttl,
                redeemed: false,
            },
        );
    }
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = req.get("state") {
        params.push(("state", s));
    }
    let session = Uuid::new_v4().to_string();
    params.push(("session_state", &session));
    redirect_with(&redirect_uri, fragment, &params)
}

fn bad(code: u32, message: impl Into<String>) -> AadError {
    AadError::new(StatusCode::BAD_REQUEST, "invalid_request", code, message)
}

/// The client and redirect URI, checked before anything is sent back to that URI.
fn check_client(
    cfg: &OidcConfig,
    req: &AuthRequest,
    tenant: &str,
) -> Result<(String, Uuid), AadError> {
    let client = req.get("client_id").ok_or_else(|| {
        bad(
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )
    })?;
    if Uuid::parse_str(client).ok() != Some(cfg.spa_client_id) {
        return Err(AadError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        ));
    }
    let uri = req.get("redirect_uri").unwrap_or_default();
    if !cfg.redirect_allowed(uri) {
        return Err(bad(
            50011,
            format!(
                "The redirect URI '{uri}' specified in the request does not match the redirect URIs configured for the application '{client}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this."
            ),
        ));
    }
    Ok((uri.to_string(), cfg.spa_client_id))
}

/// response_type, scope and PKCE; returns the code challenge.
fn check_request(req: &AuthRequest) -> Result<String, (&'static str, AadError)> {
    let response_type = req.get("response_type").unwrap_or_default();
    if response_type != "code" {
        return Err((
            "unsupported_response_type",
            AadError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_response_type",
                700054,
                format!("response_type '{response_type}' is not enabled for the application."),
            ),
        ));
    }
    if req.get("scope").is_none() {
        return Err((
            "invalid_request",
            bad(
                900144,
                "The request body must contain the following parameter: 'scope'.",
            ),
        ));
    }
    let Some(challenge) = req.get("code_challenge") else {
        return Err((
            "invalid_request",
            bad(
                9002325,
                "Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
            ),
        ));
    };
    if req.get("code_challenge_method") != Some("S256") {
        return Err((
            "invalid_request",
            bad(
                501491,
                "graph-sim accepts only code_challenge_method=S256 (Entra also accepts plain).",
            ),
        ));
    }
    Ok(challenge.to_string())
}

/// A user who can sign in: exists (by UPN or id) and is enabled.
fn signable_user(state: &SimState, key: &str, tenant: &str) -> Result<User, AadError> {
    let user = state.dir().find_active(key).cloned().ok_or_else(|| {
        bad(
            50034,
            format!("The user account {key} does not exist in the {tenant} directory. To sign into this application, the account must be added to the directory."),
        )
    })?;
    if !user.account_enabled {
        return Err(bad(50057, "The user account is disabled."));
    }
    Ok(user)
}

/// Users offered on the picker page: those holding app roles, then the first enabled others.
fn offered_users(state: &SimState) -> Vec<User> {
    let roles = state.oidc().role_assignments();
    let dir = state.dir();
    let mut out: Vec<User> = dir
        .active_users()
        .filter(|u| roles.contains_key(&u.id) && u.account_enabled)
        .cloned()
        .collect();
    out.extend(
        dir.active_users()
            .filter(|u| !roles.contains_key(&u.id) && u.account_enabled)
            .take(20)
            .cloned(),
    );
    out
}

/// The sign-in page: one button per offered user, and a field for any other UPN. The form
/// repeats the authorization request, so choosing a user answers it.
fn picker_page(state: &SimState, req: &AuthRequest, tenant_id: Uuid) -> Response {
    let action = format!("{}/{tenant_id}/oauth2/v2.0/authorize", state.base_url);
    let hidden: String = req
        .params
        .iter()
        .filter(|(k, _)| k != "gsim_user")
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    let roles = state.oidc().role_assignments();
    let mut body = format!(
        "<p>graph-sim: pick the simulated user to sign in as.</p>\
         <form method=\"get\" action=\"{}\">{hidden}<ul>",
        escape(&action)
    );
    for u in offered_users(state) {
        let held = roles.get(&u.id).map(|r| r.join(", ")).unwrap_or_default();
        let _ = write!(
            body,
            "<li><button type=\"submit\" name=\"gsim_user\" value=\"{upn}\">{name} ({upn})</button> {held}</li>",
            upn = escape(&u.user_principal_name),
            name = escape(u.display_name.as_deref().unwrap_or("")),
            held = escape(&held),
        );
    }
    let _ = write!(
        body,
        "</ul></form><form method=\"get\" action=\"{}\">{hidden}\
         <label for=\"gsim_user\">Another user (UPN)</label> \
         <input id=\"gsim_user\" name=\"gsim_user\" type=\"text\"> \
         <button type=\"submit\">Sign in</button></form>",
        escape(&action)
    );
    html(StatusCode::OK, "Sign in", &body)
}

/// `GET /{tenant}/oauth2/v2.0/logout`: back to `post_logout_redirect_uri` when given.
pub(crate) async fn logout(State(state): Shared, RawQuery(query): RawQuery) -> Response {
    if is_down(&state) {
        return unavailable_page();
    }
    let target = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "post_logout_redirect_uri")
        .map(|(_, v)| v.into_owned());
    match target {
        Some(to) if to.starts_with("http://") || to.starts_with("https://") => redirect(&to),
        _ => html(
            StatusCode::OK,
            "Signed out",
            "<p>You signed out of your account.</p>",
        ),
    }
}

/// `OPTIONS` on the token endpoint: the CORS preflight of a SPA's code redemption.
pub(crate) async fn token_preflight(headers: HeaderMap) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    if let Some(origin) = headers.get(header::ORIGIN) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    }
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    let requested = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("content-type"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested);
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    resp
}

fn invalid_grant(code: u32, message: impl Into<String>) -> AadError {
    AadError::new(StatusCode::BAD_REQUEST, "invalid_grant", code, message)
}

type Form = HashMap<String, String>;

fn param<'a>(form: &'a Form, name: &str) -> Result<&'a str, AadError> {
    form.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            bad(
                900144,
                format!("The request body must contain the following parameter: '{name}'."),
            )
        })
}

/// The `authorization_code` and `refresh_token` grants for the SPA (public client, redeemed
/// cross-origin).
pub(crate) fn token_grant(
    state: &SimState,
    tenant_id: Uuid,
    grant_type: &str,
    form: &Form,
    headers: &HeaderMap,
) -> Result<Response, AadError> {
    let cfg = state.oidc().config.clone();
    if !cfg.available {
        return Ok(unavailable());
    }
    let client = param(form, "client_id")?;
    if Uuid::parse_str(client).ok() != Some(cfg.spa_client_id) {
        return Err(AadError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client}' was not found in the directory '{tenant_id}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        ));
    }
    if form.contains_key("client_secret") || form.contains_key("client_assertion") {
        return Err(AadError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        ));
    }
    if !headers.contains_key(header::ORIGIN) {
        return Err(bad(
            9002327,
            "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.",
        ));
    }
    let (grant, refresh_expires) = if grant_type == "authorization_code" {
        (redeem_code(state, &cfg, form)?, None)
    } else {
        let (grant, expires) = redeem_refresh(state, form)?;
        (grant, Some(expires))
    };
    let scope = form
        .get("scope")
        .filter(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| grant.scope.clone());
    issue(state, &cfg, tenant_id, &grant, &scope, refresh_expires)
}

fn redeem_code(state: &SimState, cfg: &OidcConfig, form: &Form) -> Result<Grant, AadError> {
    let code = param(form, "code")?;
    let redirect_uri = param(form, "redirect_uri")?;
    let mut oidc = state.oidc();
    let Some(entry) = oidc.codes.get_mut(code) else {
        return Err(invalid_grant(
            70000,
            "The provided value for the 'code' parameter is not valid.",
        ));
    };
    if entry.redeemed {
        return Err(invalid_grant(
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        ));
    }
    if Instant::now() >= entry.expires_at {
        return Err(invalid_grant(
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        ));
    }
    if entry.grant.client_id != cfg.spa_client_id {
        return Err(invalid_grant(
            70000,
            "The provided value for the 'code' parameter is not valid. The code was issued to a different client.",
        ));
    }
    if entry.redirect_uri != redirect_uri {
        return Err(invalid_grant(
            500117,
            "The reply uri specified in the request does not match the reply uri used in the authorization request.",
        ));
    }
    let verifier = form
        .get("code_verifier")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            bad(
                9002325,
                "Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
            )
        })?;
    if sha256_b64url(verifier.as_bytes()) != entry.code_challenge {
        return Err(invalid_grant(
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        ));
    }
    entry.redeemed = true;
    Ok(entry.grant.clone())
}

/// Refresh tokens rotate: each one works once, and the next keeps the sign-in's expiry.
fn redeem_refresh(state: &SimState, form: &Form) -> Result<(Grant, Instant), AadError> {
    let token = param(form, "refresh_token")?;
    let mut oidc = state.oidc();
    let Some(entry) = oidc.refresh.get_mut(token) else {
        return Err(invalid_grant(
            9002313,
            "Invalid request. Request is malformed or invalid.",
        ));
    };
    if Instant::now() >= entry.expires_at {
        return Err(invalid_grant(
            700084,
            "The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of 1.00:00:00, which cannot be extended. It is now expired and a new sign in request must be sent by the SPA to the sign in page.",
        ));
    }
    if entry.used {
        return Err(invalid_grant(
            70000,
            "The provided value for the 'refresh_token' parameter is not valid: it was already used (graph-sim rotates refresh tokens).",
        ));
    }
    entry.used = true;
    Ok((entry.grant.clone(), entry.expires_at))
}

/// What the token request's scopes ask for.
enum Resource {
    /// The API, with the delegated scope names.
    Api(Vec<String>),
    /// No resource named: Microsoft Graph is assumed.
    Graph,
}

fn resource_of(cfg: &OidcConfig, scope: &str) -> Result<Resource, AadError> {
    let prefixes = [
        format!("{}/", cfg.api_app_id_uri),
        format!("{}/", cfg.api_client_id),
    ];
    let mut api = Vec::new();
    let mut other = false;
    for s in scope.split_whitespace() {
        if OIDC_SCOPES.contains(&s) {
            continue;
        }
        match prefixes.iter().find_map(|p| s.strip_prefix(p.as_str())) {
            Some(".default") => api.push(cfg.api_scope.clone()),
            Some(name) if name == cfg.api_scope => api.push(name.to_string()),
            Some(name) => {
                return Err(AadError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    65005,
                    format!(
                        "The application asked for scope '{name}' that doesn't exist on the resource '{}'.",
                        cfg.api_client_id
                    ),
                ));
            }
            None => other = true,
        }
    }
    match (api.is_empty(), other) {
        (false, true) => Err(bad(
            28000,
            "Provided value for the input parameter scope is not valid because it contains more than one resource.",
        )),
        (false, false) => Ok(Resource::Api(api)),
        (true, _) => Ok(Resource::Graph),
    }
}

/// Signs the tokens of a grant and stores the next refresh token.
fn issue(
    state: &SimState,
    cfg: &OidcConfig,
    tenant_id: Uuid,
    grant: &Grant,
    scope: &str,
    refresh_expires: Option<Instant>,
) -> Result<Response, AadError> {
    let resource = resource_of(cfg, scope)?;
    let tenant = tenant_id.to_string();
    let user = signable_user(state, &grant.user_id.to_string(), &tenant)
        .map_err(|e| invalid_grant(e.code, e.message))?;
    let iss = issuer(&state.base_url, &tenant);
    let subject = Subject {
        user: &user,
        tenant_id,
        issuer: &iss,
        roles: state.oidc().roles_of(user.id),
    };
    let iat = Utc::now().timestamp();
    let server_error = |e: crate::errors::SimError| {
        AadError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            50000,
            format!("There was an error issuing a token: {e}"),
        )
    };
    let (access_claims, header, granted) = match &resource {
        Resource::Api(names) => (
            subject.access(cfg, &names.join(" "), iat),
            json!({}),
            names
                .iter()
                .map(|n| format!("{}/{n}", cfg.api_app_id_uri))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        Resource::Graph => (
            subject.graph(cfg, iat),
            graph_header(),
            "openid profile email User.Read".to_string(),
        ),
    };
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let mut oidc = state.oidc();
    let ring = oidc.keys().map_err(server_error)?;
    let key = ring.signing_key().map_err(server_error)?;
    let access = key.sign(header, &access_claims).map_err(server_error)?;
    let mut body = json!({
        "token_type": "Bearer",
        "scope": granted,
        "expires_in": cfg.access_token_ttl_secs,
        "ext_expires_in": cfg.access_token_ttl_secs,
        "access_token": access,
    });
    if scopes.contains(&"openid") {
        let claims = subject.id_token(cfg, grant.nonce.as_deref(), iat);
        body["id_token"] = json!(key.sign(json!({}), &claims).map_err(server_error)?);
    }
    if scopes.contains(&"offline_access") {
        let refresh = random_token("gsimr.");
        let expires_at = refresh_expires.unwrap_or_else(|| Instant::now() + cfg.refresh_ttl);
        body["refresh_token"] = json!(refresh);
        oidc.prune();
        oidc.refresh.insert(
            refresh,
            RefreshGrant {
                grant: Grant {
                    scope: scope.to_string(),
                    ..grant.clone()
                },
                expires_at,
                used: false,
            },
        );
    }
    drop(oidc);
    state.stats.tokens_issued.fetch_add(1, Ordering::Relaxed);
    let mut resp = (StatusCode::OK, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    Ok(resp)
}
