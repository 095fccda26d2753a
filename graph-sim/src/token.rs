//! Entra ID v2.0 token endpoint (client credentials) and bearer-token validation.
//!
//! Access tokens are JWTs shaped like Entra's app-only tokens for Graph, whose `roles` claim a
//! client may decode to learn its permissions. The simulator also remembers each one with its
//! expiry and Graph routes look them up, so an unknown string is "garbage" and an old one is
//! "expired", as in Graph.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use serde_json::json;
use tokio::time::Instant;
use uuid::Uuid;

use crate::errors::{AadError, GraphError};
use crate::oidc::{AppTokenSubject, app_token};
use crate::server::SimState;

/// Microsoft Graph's resource in each cloud. A client pointed at the simulator for a national
/// cloud still asks for that cloud's Graph ("Any permission scope value (including the .default
/// scope) that contains the Microsoft Graph domain MUST use the domain of the Microsoft Graph
/// service root endpoint for the national cloud deployment", learn `graph/sdks/national-clouds`),
/// and the simulator stands in for every cloud.
const GRAPH_RESOURCES: [&str; 4] = [
    "https://graph.microsoft.com",
    "https://graph.microsoft.us",
    "https://dod-graph.microsoft.us",
    "https://microsoftgraph.chinacloudapi.cn",
];

struct IssuedToken {
    client_id: Uuid,
    /// On the runtime's clock (the system's, outside tests), as a client's token cache may be:
    /// a test that moves time past a token's lifetime then moves it for both sides.
    expires_at: Instant,
}

/// Issued access tokens.
#[derive(Default)]
pub(crate) struct TokenStore {
    tokens: HashMap<String, IssuedToken>,
}

/// Why a bearer token was refused.
pub(crate) enum TokenCheck {
    Valid(Uuid),
    Empty,
    Garbage,
    Expired,
}

impl TokenStore {
    /// Makes `token` valid for `client_id` during `ttl`.
    pub fn remember(&mut self, token: &str, client_id: Uuid, ttl: Duration) {
        // Drop long-expired tokens now and then so a long benchmark does not grow the map.
        if self.tokens.len() > 10_000 {
            let cutoff = Instant::now();
            self.tokens
                .retain(|_, t| t.expires_at + Duration::from_secs(3600) > cutoff);
        }
        self.tokens.insert(
            token.to_string(),
            IssuedToken {
                client_id,
                expires_at: Instant::now() + ttl,
            },
        );
    }

    pub fn check(&self, token: &str) -> TokenCheck {
        if token.is_empty() {
            return TokenCheck::Empty;
        }
        match self.tokens.get(token) {
            None => TokenCheck::Garbage,
            Some(t) if Instant::now() >= t.expires_at => TokenCheck::Expired,
            Some(t) => TokenCheck::Valid(t.client_id),
        }
    }

    pub fn client_of(&self, token: &str) -> Option<Uuid> {
        self.tokens.get(token).map(|t| t.client_id)
    }

    /// Makes every issued token expired (tests of the 401-then-refresh path).
    pub fn expire_all(&mut self) {
        let past = Instant::now();
        for t in self.tokens.values_mut() {
            t.expires_at = past;
        }
    }
}

/// Validates the `Authorization: Bearer` header of a Graph request.
pub(crate) fn authorize(state: &SimState, headers: &HeaderMap) -> Result<Uuid, GraphError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim();
    let token = if value.len() >= 6 && value[..6].eq_ignore_ascii_case("bearer") {
        value[6..].trim()
    } else if value.is_empty() {
        ""
    } else {
        // Another scheme (e.g. Basic) is as unparseable as garbage to Graph.
        value
    };
    match state.tokens().check(token) {
        TokenCheck::Valid(client) => Ok(client),
        TokenCheck::Empty => Err(GraphError::unauthenticated("Access token is empty.")),
        TokenCheck::Garbage => Err(GraphError::unauthenticated(
            "CompactToken parsing failed with error code: 80049217",
        )),
        TokenCheck::Expired => Err(GraphError::unauthenticated(
            "Access token has expired or is not yet valid.",
        )),
    }
}

fn is_guid(s: &str) -> bool {
    s.len() == 36 && Uuid::parse_str(s).is_ok()
}

/// A DNS name as Entra accepts for a tenant: labels of letters, digits and hyphens.
fn is_dns_name(s: &str) -> bool {
    s.contains('.')
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// `client_id:client_secret` from `Authorization: Basic` (RFC 6749 §2.3.1: each part is
/// form-urlencoded before base64).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    if value.len() < 6 || !value[..6].eq_ignore_ascii_case("basic ") {
        return None;
    }
    let decoded = STANDARD.decode(value[6..].trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) async fn token_endpoint(
    State(state): State<Arc<SimState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let correlation_id = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_guid(v))
        .map(str::to_string)
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    let mut resp = match issue(&state, &tenant, &headers, &body) {
        Ok(resp) => resp,
        Err(e) => {
            state.stats.token_errors.fetch_add(1, Ordering::Relaxed);
            let mut resp = e.render(&correlation_id);
            if let Ok(v) = HeaderValue::from_str(&correlation_id) {
                resp.headers_mut().insert("client-request-id", v);
            }
            resp
        }
    };
    // A SPA redeems its code cross-origin and must be able to read the answer, errors too.
    if let Some(origin) = headers.get(header::ORIGIN) {
        resp.headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    }
    resp
}

/// The token endpoint refuses GET (AADSTS900561).
pub(crate) async fn token_get(State(state): State<Arc<SimState>>) -> Response {
    state.stats.token_errors.fetch_add(1, Ordering::Relaxed);
    AadError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900561,
        "The endpoint only accepts POST, OPTIONS requests. Received a GET request.",
    )
    .render(&Uuid::new_v4().to_string())
}

/// The tenant of a login URL, by GUID or verified domain: AADSTS900023 when it is neither a
/// GUID nor a DNS name, AADSTS90002 when it is not this tenant.
pub(crate) fn resolve_tenant(state: &SimState, tenant: &str) -> Result<Uuid, AadError> {
    let (tenant_id, domains) = {
        let dir = state.dir();
        (dir.meta.tenant_id, dir.meta.domains.clone())
    };
    let bad =
        |code, msg: String| AadError::new(StatusCode::BAD_REQUEST, "invalid_request", code, msg);

    // Tenant: GUID or verified domain; anything else is malformed.
    let known = if is_guid(tenant) {
        Uuid::parse_str(tenant).ok() == Some(tenant_id)
    } else if is_dns_name(tenant) {
        domains.iter().any(|d| d.eq_ignore_ascii_case(tenant))
    } else {
        return Err(bad(
            900023,
            format!(
                "Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain."
            ),
        ));
    };
    if !known {
        return Err(bad(
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        ));
    }
    Ok(tenant_id)
}

fn issue(
    state: &SimState,
    tenant: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, AadError> {
    let tenant_id = resolve_tenant(state, tenant)?;
    let app = state.dir().meta.app.clone();
    let bad =
        |code, msg: String| AadError::new(StatusCode::BAD_REQUEST, "invalid_request", code, msg);

    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    let param = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let missing = |name: &str| {
        bad(
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    };

    let grant_type = param("grant_type").ok_or_else(|| missing("grant_type"))?;
    if matches!(grant_type, "authorization_code" | "refresh_token") {
        return crate::oidc::token_grant(state, tenant_id, grant_type, &form, headers);
    }
    if grant_type != "client_credentials" {
        return Err(AadError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        ));
    }
    let basic = basic_credentials(headers);
    let client_id = match (&basic, param("client_id")) {
        (Some((id, _)), _) => id.clone(),
        (None, Some(id)) => id.to_string(),
        (None, None) => return Err(missing("client_id")),
    };
    let scope = param("scope").ok_or_else(|| missing("scope"))?;

    if Uuid::parse_str(&client_id).ok() != Some(app.client_id) {
        return Err(AadError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        ));
    }

    let secret = match (&basic, param("client_secret")) {
        (Some((_, s)), _) if !s.is_empty() => s.clone(),
        (_, Some(s)) => s.to_string(),
        _ => {
            return Err(AadError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
            ));
        }
    };

    let audience = check_scope(scope)?;

    if app.secret_expired {
        return Err(AadError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000222,
            format!(
                "The provided client secret keys for app '{}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.",
                app.client_id
            ),
        ));
    }
    if secret != app.client_secret {
        return Err(AadError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                app.client_id
            ),
        ));
    }

    let ttl = state.token_ttl_secs();
    let subject = AppTokenSubject {
        tenant_id,
        client_id: app.client_id,
        audience,
        roles: app.permissions.names(),
    };
    let token =
        app_token(&mut state.oidc(), subject, Utc::now().timestamp(), ttl).map_err(|e| {
            AadError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "temporarily_unavailable",
                50001,
                format!("The token could not be signed: {e}"),
            )
        })?;
    state
        .tokens()
        .remember(&token, app.client_id, Duration::from_secs(ttl));
    state.stats.tokens_issued.fetch_add(1, Ordering::Relaxed);
    let body = json!({
        "token_type": "Bearer",
        "expires_in": ttl,
        "ext_expires_in": ttl,
        "access_token": token,
    });
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

/// Client credentials need exactly one `{resource}/.default` scope, for Microsoft Graph (of any
/// cloud). Not for the simulator's own address, which Entra would not know either: a client
/// that asks for a token of whatever host it sends its requests to would fail behind a proxy.
///
/// Returns the resource, the `aud` of the token.
fn check_scope(scope: &str) -> Result<&'static str, AadError> {
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let invalid_scope =
        |code, msg: String| AadError::new(StatusCode::BAD_REQUEST, "invalid_scope", code, msg);
    if scopes.iter().any(|s| !s.ends_with("/.default")) {
        return Err(invalid_scope(
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    }
    let accepted = |s: &str| {
        let resource = s.trim_end_matches("/.default").trim_end_matches('/');
        GRAPH_RESOURCES
            .iter()
            .copied()
            .find(|graph| resource.eq_ignore_ascii_case(graph))
    };
    match scopes.as_slice() {
        [one] => accepted(one),
        _ => None,
    }
    .ok_or_else(|| {
        invalid_scope(
            70011,
            format!(
                "The provided value for the input parameter 'scope' isn't valid. The scope {scope} isn't valid."
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_forms() {
        assert!(is_guid("84841066-274d-4ec0-a5c1-276be684bdd3"));
        assert!(!is_guid("contoso.onmicrosoft.com"));
        assert!(is_dns_name("contoso-7.onmicrosoft.com"));
        assert!(!is_dns_name("not a tenant!"));
        assert!(!is_dns_name("nodots"));
    }

    #[test]
    fn scopes() {
        assert!(check_scope("https://graph.microsoft.com/.default").is_ok());
        let china = "https://microsoftgraph.chinacloudapi.cn/.default";
        assert!(check_scope(china).is_ok());
        assert_eq!(
            check_scope("http://127.0.0.1:1/.default").unwrap_err().code,
            70011
        );
        assert_eq!(
            check_scope("https://graph.microsoft.com/User.Read")
                .unwrap_err()
                .code,
            1002012
        );
        assert_eq!(
            check_scope("https://example.com/.default")
                .unwrap_err()
                .code,
            70011
        );
    }

    #[test]
    fn tokens_expire() {
        let mut s = TokenStore::default();
        let t = "eyJ.a.b";
        s.remember(t, Uuid::nil(), Duration::from_secs(60));
        assert!(matches!(s.check(t), TokenCheck::Valid(_)));
        assert!(matches!(s.check("nope"), TokenCheck::Garbage));
        s.expire_all();
        assert!(matches!(s.check(t), TokenCheck::Expired));
    }
}
