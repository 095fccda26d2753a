//! Client-credentials tokens from Entra ID, cached per client until shortly before expiry.
//!
//! The cache sits behind a tokio mutex held across the token request: concurrent callers that
//! find no fresh token wait for the one request in flight instead of each starting their own.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::credentials::Credentials;
use super::error::{ErrorKind, GraphError};
use super::response::{RawResponse, new_client_request_id, transport_failure};
use super::retry::{self, Failure, RetryConfig};

/// Refresh this long before expiry at most (the SDKs use 5 minutes)...
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// ...or a tenth of the lifetime, whichever is shorter (keeps short test tokens usable).
const REFRESH_MARGIN_DIVISOR: u32 = 10;
/// Lifetime assumed when Entra omits `expires_in` (it never has; kept short to be safe).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(600);

/// A bearer token. Its value is a secret too: never logged.
#[derive(Clone)]
pub(crate) struct AccessToken {
    value: SecretString,
    /// Tells tokens apart, so a 401 only discards the token that was refused.
    generation: u64,
    /// On the runtime's clock (the system's, outside tests), so that a test can move time past
    /// a token's lifetime instead of waiting for it.
    refresh_at: Instant,
    expires_at: DateTime<Utc>,
    /// The application permissions the token was issued with (`roles`); None when the token
    /// cannot be read as a JWT.
    roles: Option<Vec<String>>,
}

impl AccessToken {
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.value.expose_secret())
    }

    fn is_fresh(&self) -> bool {
        Instant::now() < self.refresh_at
    }
}

/// What the connection test reports about a token it obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub expires_at: DateTime<Utc>,
    /// The application permissions granted when the token was issued (its `roles` claim; empty
    /// when the claim is absent, as Entra leaves it out when none is granted). None when the
    /// token is not a JWT whose payload can be read.
    pub roles: Option<Vec<String>>,
}

/// Fetches and caches tokens for one set of credentials.
pub(crate) struct TokenSource {
    http: reqwest::Client,
    credentials: Credentials,
    token_url: Url,
    scope: String,
    request_timeout: Duration,
    retry: RetryConfig,
    slot: Mutex<Option<AccessToken>>,
    issued: std::sync::atomic::AtomicU64,
}

impl TokenSource {
    pub fn new(
        http: reqwest::Client,
        credentials: Credentials,
        token_url: Url,
        scope: String,
        request_timeout: Duration,
        retry: RetryConfig,
    ) -> Self {
        TokenSource {
            http,
            credentials,
            token_url,
            scope,
            request_timeout,
            retry,
            slot: Mutex::new(None),
            issued: Default::default(),
        }
    }

    /// A token valid for a while yet: the cached one, or a new one (one request at a time).
    pub async fn get(&self) -> Result<AccessToken, GraphError> {
        let mut slot = self.slot.lock().await;
        if let Some(token) = slot.as_ref().filter(|t| t.is_fresh()) {
            return Ok(token.clone());
        }
        let token = self.fetch().await?;
        *slot = Some(token.clone());
        Ok(token)
    }

    /// Always asks Entra (the connection test must prove the current secret works).
    pub async fn refresh(&self) -> Result<AccessToken, GraphError> {
        let mut slot = self.slot.lock().await;
        *slot = None;
        let token = self.fetch().await?;
        *slot = Some(token.clone());
        Ok(token)
    }

    /// Drops `refused` from the cache, unless another caller already replaced it.
    pub async fn invalidate(&self, refused: &AccessToken) {
        let mut slot = self.slot.lock().await;
        if slot
            .as_ref()
            .is_some_and(|t| t.generation == refused.generation)
        {
            *slot = None;
        }
    }

    pub fn info(token: &AccessToken) -> TokenInfo {
        TokenInfo {
            expires_at: token.expires_at,
            roles: token.roles.clone(),
        }
    }

    async fn fetch(&self) -> Result<AccessToken, GraphError> {
        let token = retry::run(&self.retry, "POST token", || self.request_once()).await?;
        tracing::debug!(tenant = %self.credentials.tenant_id, expires_at = %token.expires_at, "access token acquired");
        Ok(token)
    }

    async fn request_once(&self) -> Result<AccessToken, Failure> {
        let sent_at = Instant::now();
        let form = [
            ("client_id", self.credentials.client_id.as_str()),
            ("scope", self.scope.as_str()),
            (
                "client_secret",
                self.credentials.client_secret.expose_secret(),
            ),
            ("grant_type", "client_credentials"),
        ];
        let resp = self
            .http
            .post(self.token_url.clone())
            .timeout(self.request_timeout)
            .header("client-request-id", new_client_request_id())
            .form(&form)
            .send()
            .await
            .map_err(|e| transport_failure(&e))?;
        let raw = RawResponse::read(resp).await?;
        if !raw.status.is_success() {
            let error = self.token_error(&raw);
            return Err(raw.into_failure(error));
        }
        let body: TokenResponse = raw.json("token")?;
        self.accept(body, sent_at, &raw)
    }

    fn accept(
        &self,
        body: TokenResponse,
        sent_at: Instant,
        raw: &RawResponse,
    ) -> Result<AccessToken, Failure> {
        if body
            .token_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            let error = GraphError::new(
                ErrorKind::Internal,
                "the token endpoint returned a token that is not a Bearer token",
            )
            .with_status(raw.status.as_u16())
            .with_request_id(raw.request_id.clone());
            return Err(Failure::permanent(error));
        }
        let lifetime = body
            .expires_in
            .map_or(DEFAULT_LIFETIME, Duration::from_secs);
        // Counted from when the request left, so network time only makes us refresh earlier.
        let margin = MAX_REFRESH_MARGIN.min(lifetime / REFRESH_MARGIN_DIVISOR);
        let generation = self
            .issued
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        Ok(AccessToken {
            roles: granted_roles(&body.access_token),
            value: SecretString::from(body.access_token),
            generation,
            refresh_at: sent_at + lifetime.saturating_sub(margin),
            expires_at: Utc::now() + lifetime,
        })
    }

    fn token_error(&self, raw: &RawResponse) -> GraphError {
        classify_token_error(raw, self.credentials.client_secret.expose_secret())
    }
}

/// The token response; unknown fields (ext_expires_in, refresh_in, ...) are ignored.
#[derive(Deserialize)]
struct TokenResponse {
    /// Moved into a `SecretString` as soon as it is parsed.
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    /// Number or string of digits (both are seen in the wild).
    #[serde(default, deserialize_with = "seconds")]
    expires_in: Option<u64>,
}

fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrText {
        Num(u64),
        Float(f64),
        Text(String),
    }
    Ok(match Option::<NumOrText>::deserialize(d)? {
        Some(NumOrText::Num(n)) => Some(n),
        Some(NumOrText::Float(f)) if f.is_finite() && f >= 0.0 => Some(f as u64),
        Some(NumOrText::Text(t)) => t.trim().parse().ok(),
        _ => None,
    })
}

/// The OAuth2 error body of the v2.0 endpoint.
#[derive(Default, Deserialize)]
struct AadErrorBody {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    error_codes: Vec<u32>,
    #[serde(default)]
    trace_id: Option<String>,
}

impl AadErrorBody {
    /// The AADSTS number: from `error_codes`, else the documented `AADSTS<n>:` prefix.
    fn aadsts(&self) -> Option<u32> {
        self.error_codes.first().copied().or_else(|| {
            let rest = self.error_description.as_deref()?.strip_prefix("AADSTS")?;
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
    }
}

/// Maps a token-endpoint error response to a `GraphError`, branching on `error_codes` only.
fn classify_token_error(raw: &RawResponse, secret: &str) -> GraphError {
    let body: AadErrorBody = serde_json::from_slice(&raw.body).unwrap_or_default();
    let aadsts = body.aadsts();
    let kind = match aadsts {
        Some(7000215) => ErrorKind::InvalidClientSecret,
        Some(7000222) => ErrorKind::ClientSecretExpired,
        Some(700016) => ErrorKind::ApplicationNotFound,
        Some(90002 | 900023) => ErrorKind::TenantNotFound,
        _ if raw.status == StatusCode::TOO_MANY_REQUESTS => ErrorKind::Throttled,
        _ if raw.status.is_server_error() => ErrorKind::Unavailable,
        Some(n) => ErrorKind::AuthFailed { aadsts: Some(n) },
        None if matches!(raw.status.as_u16(), 400 | 401 | 403) => {
            ErrorKind::AuthFailed { aadsts: None }
        }
        None => ErrorKind::Internal,
    };
    // First line only: the rest is trace/correlation/timestamp, kept as the request id.
    let message = body
        .error_description
        .as_deref()
        .and_then(|d| d.lines().next())
        .map(str::to_string)
        .or(body.error.clone())
        .unwrap_or_else(|| format!("the token endpoint answered {}", raw.describe()));
    GraphError::new(kind, scrub(&message, secret))
        .with_status(raw.status.as_u16())
        .with_request_id(body.trace_id.or(raw.request_id.clone()))
        .with_graph_code(aadsts.map(|n| format!("AADSTS{n}")).or(body.error))
}

/// The `roles` claim of an app-only access token. The signature is not checked: the token came
/// straight from the token endpoint over TLS, and Graph's tokens are not meant to be validated
/// by clients anyway (their header carries a nonce no standard validator accepts). Only what
/// the app may do is read from it, never who it is.
fn granted_roles(token: &str) -> Option<Vec<String>> {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[derive(Deserialize)]
    struct Claims {
        #[serde(default)]
        roles: Option<Vec<String>>,
    }
    let payload = token.split('.').nth(1)?;
    // Some encoders pad base64url; the JWT form does not, so padding is dropped before decoding.
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    Some(claims.roles.unwrap_or_default())
}

/// Entra never echoes the secret, but an error must not carry it even if some proxy did.
fn scrub(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_string()
    } else {
        text.replace(secret, "[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::Code;

    fn raw(status: u16, body: &str) -> RawResponse {
        RawResponse::fake(status, body)
    }

    #[test]
    fn lenient_token_body() {
        let t: TokenResponse =
            serde_json::from_str(r#"{"token_type":"bearer","expires_in":"3599","ext_expires_in":3599,"access_token":"a","x":1}"#)
                .unwrap();
        assert_eq!(t.expires_in, Some(3599));
        let t: TokenResponse =
            serde_json::from_str(r#"{"access_token":"a","expires_in":3599}"#).unwrap();
        assert_eq!(t.expires_in, Some(3599));
        assert!(t.token_type.is_none());
    }

    #[test]
    fn aadsts_codes() {
        let body = |code: u32| {
            format!(
                r#"{{"error":"invalid_client","error_description":"AADSTS{code}: text.\r\nTrace ID: tid\r\nCorrelation ID: c","error_codes":[{code}],"trace_id":"tid"}}"#
            )
        };
        let e = classify_token_error(&raw(401, &body(7000215)), "pw");
        assert_eq!(e.code(), Code::InvalidClientSecret);
        assert_eq!(e.message(), "AADSTS7000215: text.");
        assert_eq!(e.request_id(), Some("tid"));
        assert_eq!(
            classify_token_error(&raw(401, &body(7000222)), "pw").code(),
            Code::ClientSecretExpired
        );
        assert_eq!(
            classify_token_error(&raw(400, &body(700016)), "pw").code(),
            Code::ApplicationNotFound
        );
        assert_eq!(
            classify_token_error(&raw(400, &body(90002)), "pw").code(),
            Code::TenantNotFound
        );
        assert_eq!(
            classify_token_error(&raw(400, &body(900023)), "pw").code(),
            Code::TenantNotFound
        );
        let other = classify_token_error(&raw(400, &body(1002012)), "pw");
        assert_eq!(other.code(), Code::ProviderAuthFailed);
        assert!(other.hint().contains("AADSTS1002012"));
        // Without error_codes the documented description prefix still identifies it.
        let no_codes = r#"{"error":"invalid_client","error_description":"AADSTS7000222: expired"}"#;
        assert_eq!(
            classify_token_error(&raw(401, no_codes), "pw").code(),
            Code::ClientSecretExpired
        );
        assert_eq!(
            classify_token_error(&raw(503, "busy"), "pw").code(),
            Code::ProviderUnavailable
        );
    }

    #[test]
    fn roles_come_from_the_payload_without_checking_the_signature() {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwt = |claims: &str| {
            format!(
                "{}.{}.sig",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#),
                URL_SAFE_NO_PAD.encode(claims)
            )
        };
        assert_eq!(
            granted_roles(&jwt(
                r#"{"roles":["User.Read.All","LicenseAssignment.ReadWrite.All"]}"#
            )),
            Some(vec![
                "User.Read.All".to_owned(),
                "LicenseAssignment.ReadWrite.All".to_owned()
            ])
        );
        assert_eq!(granted_roles(&jwt(r#"{"appid":"a"}"#)), Some(Vec::new()));
        assert_eq!(granted_roles("opaque-token"), None);
        assert_eq!(granted_roles("a.!!!.c"), None);
    }

    #[test]
    fn secret_is_scrubbed() {
        let body = r#"{"error":"invalid_client","error_description":"AADSTS7000215: got hunter2"}"#;
        let e = classify_token_error(&raw(401, body), "hunter2");
        assert!(!format!("{e} {e:?}").contains("hunter2"));
    }
}
