//! Access tokens of an OpenID Connect identity provider (any issuer with a discovery document):
//! keys from its JWKS, cached by `kid`, and the claims a resource server must check
//! (docs/security.md, "Identity provider tokens").

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::{AuthError, Claims, LEEWAY_SECONDS, Role};

/// Multi-tenant issuers (contract §2.3) carry this placeholder where the token's `tid` goes.
const TENANT_PLACEHOLDER: &str = "{tenantid}";
/// A JWKS publishes a handful of keys; more than this is not a key set this server keeps.
const MAX_KEYS: usize = 32;
/// A discovery document or key set is a few kilobytes.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// How long one request to the identity provider may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the keys are read again without a reason, so that a retired key stops working
/// within the hour (the contract, §1.5, suggests every hour to a day).
const ROUTINE_REFRESH: Duration = Duration::from_secs(3600);
/// Retries of an unreachable provider, doubling from the first to the last.
const FIRST_RETRY: Duration = Duration::from_secs(5);
const LAST_RETRY: Duration = Duration::from_secs(300);

/// What `LM_OIDC_*` configure.
#[derive(Clone, Debug)]
pub struct OidcSettings {
    /// The issuer exactly as tokens carry it; discovery is read at
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// The `aud` values that name this API (client id, App ID URI).
    pub audiences: Vec<String>,
    /// The tenants (`tid`) whose users may call; empty: any the issuer signs for.
    pub tenants: Vec<String>,
    /// Where the roles are: a claim name, or a dotted path (`realm_access.roles`).
    pub role_claim: String,
    pub admin_roles: Vec<String>,
    pub viewer_roles: Vec<String>,
    /// The shortest time between two reads of the keys that a token with an unknown `kid`
    /// causes: no caller can make this server hammer the provider.
    pub key_refetch_interval: Duration,
    /// The console's own app registration, when people sign in to it with this provider.
    pub console: Option<ConsoleClient>,
}

/// The console as a public client of the provider (`LM_OIDC_CONSOLE_*`): it signs people in
/// with the authorization code flow and PKCE, from the browser, without a secret.
#[derive(Clone, Debug)]
pub struct ConsoleClient {
    pub client_id: String,
    /// The scopes the console asks for: sign-in, a refresh token, and this API's access.
    pub scope: String,
}

impl ConsoleClient {
    /// The scope an API registered as the provider documents it (docs/microsoft-365.md,
    /// "Signing in people"): a delegated scope `access_as_user` under the App ID URI, which is
    /// `api://{client id}` unless an audience is a URI already. Without a scope naming this
    /// API, Entra would hand out a Microsoft Graph token, which this API refuses.
    pub fn default_scope(audiences: &[String]) -> Option<String> {
        let api = audiences
            .iter()
            .find(|audience| audience.contains("://"))
            .cloned()
            .or_else(|| {
                audiences
                    .first()
                    .map(|client_id| format!("api://{client_id}"))
            })?;
        Some(format!(
            "openid profile offline_access {}/access_as_user",
            api.trim_end_matches('/')
        ))
    }
}

/// What a browser needs to sign a person in to the console: served to the console as JSON.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BrowserSignIn {
    pub issuer: String,
    pub client_id: String,
    pub scope: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    /// Where signing out of the provider too goes, when it has such an endpoint.
    pub end_session_endpoint: Option<String>,
}

/// Why the console cannot offer sign-in with the provider right now.
#[derive(Debug, thiserror::Error)]
pub enum SignInUnavailable {
    #[error(
        "the identity provider has not answered yet, so the console cannot send you to it; the server keeps trying (its log says why): try again in a minute, or sign in with a token"
    )]
    NotDiscovered,
    #[error(
        "the identity provider's discovery document names no {0}: it cannot sign people in with the authorization code flow"
    )]
    MissingEndpoint(&'static str),
}

impl OidcSettings {
    pub const DEFAULT_ROLE_CLAIM: &str = "roles";
    pub const DEFAULT_ADMIN_ROLE: &str = "LicenseManager.Admin";
    pub const DEFAULT_VIEWER_ROLE: &str = "LicenseManager.Reader";
    pub const DEFAULT_KEY_REFETCH_INTERVAL: Duration = Duration::from_secs(300);

    /// Defaults for everything but the issuer and the audiences.
    pub fn new(issuer: String, audiences: Vec<String>) -> Self {
        Self {
            issuer,
            audiences,
            tenants: Vec::new(),
            role_claim: Self::DEFAULT_ROLE_CLAIM.to_owned(),
            admin_roles: vec![Self::DEFAULT_ADMIN_ROLE.to_owned()],
            viewer_roles: vec![Self::DEFAULT_VIEWER_ROLE.to_owned()],
            key_refetch_interval: Self::DEFAULT_KEY_REFETCH_INTERVAL,
            console: None,
        }
    }
}

/// Why the provider's metadata or keys could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("could not read {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url} is not the JSON document expected: {why}")]
    Document { url: String, why: String },
    #[error(
        "the discovery document names the issuer {found:?}, not {expected:?} (LM_OIDC_ISSUER must be the issuer exactly as tokens carry it)"
    )]
    IssuerMismatch { expected: String, found: String },
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    end_session_endpoint: Option<String>,
}

/// What discovery said: the issuer (perhaps a multi-tenant `{tenantid}` template), the keys'
/// address, and where browsers sign people in.
#[derive(Clone, Debug)]
struct Metadata {
    issuer: String,
    jwks_uri: String,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    end_session_endpoint: Option<String>,
}

/// One published key, with what it may verify.
struct CachedKey {
    key: DecodingKey,
    /// The algorithm the JWK declares, if it does; otherwise any of its family's.
    alg: Option<Algorithm>,
    /// The key's own `issuer`, where the JWKS names one (maybe templated): the key signs only for that issuer.
    issuer: Option<String>,
}

#[derive(Default)]
struct Published {
    metadata: Option<Metadata>,
    keys: HashMap<String, Arc<CachedKey>>,
}

/// Verifies the provider's access tokens. Cheap to share: one per process.
pub struct OidcVerifier {
    settings: OidcSettings,
    http: reqwest::Client,
    published: RwLock<Published>,
    /// When a token's unknown `kid` last made this server read the keys. Held across that read:
    /// callers missing at the same time wait for the one read instead of each making their own.
    last_refetch: tokio::sync::Mutex<Option<Instant>>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("issuer", &self.settings.issuer)
            .finish_non_exhaustive()
    }
}

/// The claims of an access token this module reads; the roles are read from the rest.
#[derive(Deserialize)]
struct TokenClaims {
    iss: String,
    sub: Option<String>,
    exp: i64,
    iat: Option<i64>,
    tid: Option<String>,
    oid: Option<String>,
    name: Option<String>,
    preferred_username: Option<String>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

impl OidcVerifier {
    /// Reads discovery and the keys once, then keeps them fresh in the background. An
    /// unreachable provider does not stop the server: its own tokens keep working, the log says
    /// so, and discovery is retried until it answers.
    pub async fn start(settings: OidcSettings) -> Arc<Self> {
        let verifier = Arc::new(Self::new(settings));
        let ready = match verifier.refresh().await {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(
                    issuer = %verifier.settings.issuer,
                    error = %error,
                    "the identity provider could not be read: its tokens are refused until it \
                     answers; retrying in the background (the server's own tokens work meanwhile)"
                );
                false
            }
        };
        tokio::spawn(keep_fresh(Arc::downgrade(&verifier), ready));
        verifier
    }

    fn new(settings: OidcSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self {
            settings,
            http,
            published: RwLock::new(Published::default()),
            last_refetch: tokio::sync::Mutex::new(None),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// How the console signs people in with this provider; `None` without a console client.
    pub fn browser_sign_in(&self) -> Option<Result<BrowserSignIn, SignInUnavailable>> {
        let console = self.settings.console.as_ref()?;
        Some(self.sign_in_for(console))
    }

    fn sign_in_for(&self, console: &ConsoleClient) -> Result<BrowserSignIn, SignInUnavailable> {
        let metadata = self
            .read()
            .metadata
            .clone()
            .ok_or(SignInUnavailable::NotDiscovered)?;
        let endpoint =
            |found: Option<String>, name| found.ok_or(SignInUnavailable::MissingEndpoint(name));
        Ok(BrowserSignIn {
            issuer: self.settings.issuer.clone(),
            client_id: console.client_id.clone(),
            scope: console.scope.clone(),
            authorization_endpoint: endpoint(
                metadata.authorization_endpoint,
                "authorization_endpoint",
            )?,
            token_endpoint: endpoint(metadata.token_endpoint, "token_endpoint")?,
            end_session_endpoint: metadata.end_session_endpoint,
        })
    }

    /// Discovery (again, if it has not answered yet), then the keys. On failure the keys known
    /// before stay in use.
    async fn refresh(&self) -> Result<(), FetchError> {
        let known = self.read().metadata.clone();
        let metadata = match known {
            Some(metadata) => metadata,
            None => self.discover().await?,
        };
        let keys = self.fetch_keys(&metadata.jwks_uri).await?;
        let mut published = self
            .published
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        published.metadata = Some(metadata);
        published.keys = keys;
        Ok(())
    }

    async fn discover(&self) -> Result<Metadata, FetchError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        );
        let discovery: Discovery = self.get_json(&url).await?;
        let expected = &self.settings.issuer;
        // OpenID Connect Discovery §4.3: the document's issuer is the configured one, exactly;
        // Multi-tenant documents (`common`, `organizations`) answer with the `{tenantid}` template.
        if discovery.issuer != *expected && !discovery.issuer.contains(TENANT_PLACEHOLDER) {
            return Err(FetchError::IssuerMismatch {
                expected: expected.clone(),
                found: discovery.issuer,
            });
        }
        Ok(Metadata {
            issuer: discovery.issuer,
            jwks_uri: discovery.jwks_uri,
            authorization_endpoint: discovery.authorization_endpoint,
            token_endpoint: discovery.token_endpoint,
            end_session_endpoint: discovery.end_session_endpoint,
        })
    }

    async fn fetch_keys(&self, url: &str) -> Result<HashMap<String, Arc<CachedKey>>, FetchError> {
        #[derive(Deserialize)]
        struct KeySet {
            keys: Vec<Value>,
        }
        let set: KeySet = self.get_json(url).await?;
        let keys: HashMap<_, _> = set
            .keys
            .iter()
            .filter_map(usable_key)
            .take(MAX_KEYS)
            .collect();
        tracing::info!(
            count = keys.len(),
            url,
            "read the identity provider's signing keys"
        );
        Ok(keys)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, FetchError> {
        let http = |source| FetchError::Http {
            url: url.to_owned(),
            source,
        };
        let response = self.http.get(url).send().await.map_err(http)?;
        if !response.status().is_success() {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status: response.status().as_u16(),
            });
        }
        let body = response.bytes().await.map_err(http)?;
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(FetchError::Document {
                url: url.to_owned(),
                why: format!("larger than {MAX_DOCUMENT_BYTES} bytes"),
            });
        }
        serde_json::from_slice(&body).map_err(|error| FetchError::Document {
            url: url.to_owned(),
            why: error.to_string(),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Published> {
        self.published
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn cached(&self, kid: &str) -> Option<(Arc<CachedKey>, Metadata)> {
        let published = self.read();
        let key = published.keys.get(kid)?.clone();
        Some((key, published.metadata.clone()?))
    }

    /// The key `kid` names: cached, or after reading the keys again if the last such read is
    /// older than the refetch interval.
    async fn key(&self, kid: &str) -> Result<(Arc<CachedKey>, Metadata), AuthError> {
        if let Some(found) = self.cached(kid) {
            return Ok(found);
        }
        let mut last = self.last_refetch.lock().await;
        // Another caller may have read the keys while this one waited.
        if let Some(found) = self.cached(kid) {
            return Ok(found);
        }
        let recently = last.is_some_and(|at| at.elapsed() < self.settings.key_refetch_interval);
        if !recently {
            *last = Some(Instant::now());
            if let Err(error) = self.refresh().await {
                tracing::warn!(error = %error, "could not read the identity provider's keys again");
            }
        }
        drop(last);
        self.cached(kid).ok_or(AuthError::Invalid(
            "the token is signed with a key the identity provider does not publish",
        ))
    }

    /// Checks an access token of the provider and maps its roles.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            AuthError::Invalid("not a well-formed JWT, or an algorithm not accepted")
        })?;
        if !is_asymmetric(header.alg) {
            return Err(AuthError::Invalid(
                "only the identity provider's asymmetric algorithms (RS256 and the like) are accepted",
            ));
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or(AuthError::Invalid("the token names no signing key (kid)"))?;
        let (key, metadata) = self.key(kid).await?;
        if key.alg.is_some_and(|alg| alg != header.alg) {
            return Err(AuthError::Invalid("the token's algorithm is not its key's"));
        }
        let claims = self.decode(token, header.alg, &key.key)?;
        self.check_issuer(&claims, &metadata, &key)?;
        self.check_tenant(&claims)?;
        let now = Utc::now().timestamp();
        let leeway = i64::try_from(LEEWAY_SECONDS).unwrap_or(0);
        if claims
            .iat
            .is_some_and(|iat| iat > now.saturating_add(leeway))
        {
            return Err(AuthError::NotYetValid);
        }
        self.claims(claims)
    }

    fn decode(
        &self,
        token: &str,
        alg: Algorithm,
        key: &DecodingKey,
    ) -> Result<TokenClaims, AuthError> {
        let mut validation = Validation::new(alg);
        validation.leeway = LEEWAY_SECONDS;
        // As for the server's own tokens: expired from `exp` on, without leeway.
        validation.reject_tokens_expiring_in_less_than = LEEWAY_SECONDS + 1;
        validation.validate_nbf = true;
        validation.set_audience(&self.settings.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        jsonwebtoken::decode::<TokenClaims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::InvalidAudience => AuthError::Invalid(
                    "the token is for another audience, not this API (LM_OIDC_AUDIENCE)",
                ),
                ErrorKind::InvalidSignature => AuthError::Invalid("bad signature"),
                ErrorKind::InvalidAlgorithm => {
                    AuthError::Invalid("the token's algorithm is not its key's")
                }
                ErrorKind::MissingRequiredClaim(_)
                | ErrorKind::Json(_)
                | ErrorKind::InvalidClaimFormat(_) => {
                    AuthError::Invalid("the token lacks exp, iss or aud, or they are malformed")
                }
                _ => AuthError::Invalid("not a well-formed JWT"),
            })
    }

    /// `iss` exactly as discovery says, a template filled with the token's `tid`; the
    /// key's own issuer likewise (contract §2.3–2.4).
    fn check_issuer(
        &self,
        claims: &TokenClaims,
        metadata: &Metadata,
        key: &CachedKey,
    ) -> Result<(), AuthError> {
        let wrong = AuthError::Invalid("the token is from another issuer (LM_OIDC_ISSUER)");
        let expected = expand(&metadata.issuer, claims.tid.as_deref()).ok_or(wrong.clone())?;
        if claims.iss != expected {
            return Err(wrong);
        }
        if let Some(key_issuer) = &key.issuer {
            let allowed = expand(key_issuer, claims.tid.as_deref());
            if allowed.as_deref() != Some(claims.iss.as_str()) {
                return Err(AuthError::Invalid(
                    "the token's key does not sign for its issuer",
                ));
            }
        }
        Ok(())
    }

    fn check_tenant(&self, claims: &TokenClaims) -> Result<(), AuthError> {
        let tenants = &self.settings.tenants;
        if tenants.is_empty() {
            return Ok(());
        }
        match &claims.tid {
            Some(tid)
                if tenants
                    .iter()
                    .any(|allowed| allowed.eq_ignore_ascii_case(tid)) =>
            {
                Ok(())
            }
            _ => Err(AuthError::Invalid(
                "the token's tenant is not among those allowed (LM_OIDC_TENANTS)",
            )),
        }
    }

    fn claims(&self, token: TokenClaims) -> Result<Claims, AuthError> {
        let role = self.role(&token.rest)?;
        // Multi-tenant issuers key people by tenant and object id (contract §2.3); `sub` is per application.
        let sub = match (&token.tid, &token.oid) {
            (Some(tid), Some(oid)) => format!("{tid}/{oid}"),
            _ => token
                .sub
                .filter(|sub| !sub.trim().is_empty())
                .ok_or(AuthError::Invalid("the token names no subject (sub)"))?,
        };
        Ok(Claims {
            sub,
            role,
            iat: token.iat.unwrap_or_default(),
            exp: token.exp,
            name: token.name.or(token.preferred_username),
        })
    }

    /// Admin if any role maps to admin, else viewer if any maps to viewer; none is a refusal.
    fn role(&self, claims: &Map<String, Value>) -> Result<Role, AuthError> {
        let held = roles(claims, &self.settings.role_claim);
        let holds = |mapped: &[String]| held.iter().any(|role| mapped.contains(role));
        if holds(&self.settings.admin_roles) {
            Ok(Role::Admin)
        } else if holds(&self.settings.viewer_roles) {
            Ok(Role::Viewer)
        } else {
            Err(AuthError::NoMappedRole {
                claim: self.settings.role_claim.clone(),
            })
        }
    }
}

/// Re-reads the keys every hour, and until discovery first answers, retries it with a growing
/// pause; ends with the verifier.
async fn keep_fresh(verifier: Weak<OidcVerifier>, mut ready: bool) {
    let mut retry = FIRST_RETRY;
    loop {
        tokio::time::sleep(if ready { ROUTINE_REFRESH } else { retry }).await;
        let Some(verifier) = verifier.upgrade() else {
            return;
        };
        match verifier.refresh().await {
            Ok(()) => {
                if !ready {
                    tracing::info!(issuer = %verifier.settings.issuer, "the identity provider answers now");
                }
                ready = true;
            }
            Err(error) => {
                tracing::warn!(error = %error, "could not read the identity provider; keeping the keys known");
                retry = (retry * 2).min(LAST_RETRY);
            }
        }
    }
}

/// An issuer with the tenant placeholder filled with `tid`, which must then be a tenant id
/// (letters, digits and dashes: nothing that could change the URL).
fn expand(issuer: &str, tid: Option<&str>) -> Option<String> {
    if !issuer.contains(TENANT_PLACEHOLDER) {
        return Some(issuer.to_owned());
    }
    let tid = tid.filter(|tid| {
        !tid.is_empty() && tid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    })?;
    Some(issuer.replace(TENANT_PLACEHOLDER, tid))
}

/// The signing algorithms of public keys. HMAC is refused whatever the key: a public key is
/// public, so a token "signed" with it proves nothing.
fn is_asymmetric(alg: Algorithm) -> bool {
    !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// A published signing key this server can use: asymmetric, for signatures, with a `kid`.
fn usable_key(value: &Value) -> Option<(String, Arc<CachedKey>)> {
    let jwk: Jwk = serde_json::from_value(value.clone()).ok()?;
    if matches!(
        jwk.algorithm,
        AlgorithmParameters::OctetKey(_) | AlgorithmParameters::Other(_)
    ) {
        return None;
    }
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|usage| *usage != jsonwebtoken::jwk::PublicKeyUse::Signature)
    {
        return None;
    }
    let kid = jwk.common.key_id.clone()?;
    let alg = match &jwk.common.key_algorithm {
        Some(declared) => Some(
            Algorithm::from_str(&declared.to_string())
                .ok()
                .filter(|alg| is_asymmetric(*alg))?,
        ),
        None => None,
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    let issuer = value
        .get("issuer")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Some((kid, Arc::new(CachedKey { key, alg, issuer })))
}

/// The role names at `path` (dots go into objects): an array of strings, or one string of
/// space-separated names.
fn roles(claims: &Map<String, Value>, path: &str) -> Vec<String> {
    let mut parts = path.split('.');
    let first = parts.next().and_then(|name| claims.get(name));
    let found = parts.fold(first, |value, name| value.and_then(|value| value.get(name)));
    match found {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(text)) => text.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_console_asks_for_this_apis_scope_under_its_app_id_uri() {
        let scope = |audiences: &[&str]| {
            let audiences: Vec<String> = audiences.iter().map(|&a| a.to_owned()).collect();
            ConsoleClient::default_scope(&audiences)
        };
        assert_eq!(
            scope(&["1111", "api://custom/"]).as_deref(),
            Some("openid profile offline_access api://custom/access_as_user"),
            "an App ID URI among the audiences is the resource"
        );
        assert_eq!(
            scope(&["1111"]).as_deref(),
            Some("openid profile offline_access api://1111/access_as_user"),
            "a bare client id gets Entra's default App ID URI"
        );
        assert_eq!(scope(&[]), None);
    }

    #[test]
    fn roles_are_read_from_arrays_strings_and_paths() {
        let claims = json!({
            "roles": ["LicenseManager.Admin", 3],
            "scope": "a b",
            "realm_access": { "roles": ["x"] },
        });
        let claims = claims.as_object().expect("an object");
        assert_eq!(roles(claims, "roles"), ["LicenseManager.Admin"]);
        assert_eq!(roles(claims, "scope"), ["a", "b"]);
        assert_eq!(roles(claims, "realm_access.roles"), ["x"]);
        assert!(roles(claims, "missing.roles").is_empty());
    }

    #[test]
    fn the_tenant_template_takes_only_a_tenant_id() {
        let template = "https://login.example/{tenantid}/v2.0";
        assert_eq!(
            expand(template, Some("72f988bf-86f1")).as_deref(),
            Some("https://login.example/72f988bf-86f1/v2.0")
        );
        assert_eq!(expand(template, Some("a/../b")), None);
        assert_eq!(expand(template, None), None);
        assert_eq!(
            expand("https://fixed/", None).as_deref(),
            Some("https://fixed/")
        );
    }

    #[test]
    fn symmetric_and_unsigned_keys_are_not_kept() {
        assert!(usable_key(&json!({"kty": "oct", "kid": "k", "k": "c2VjcmV0"})).is_none());
        assert!(
            usable_key(&json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"})).is_none(),
            "no kid"
        );
        assert!(
            usable_key(
                &json!({"kty": "RSA", "kid": "k", "alg": "HS256", "n": "AQAB", "e": "AQAB"})
            )
            .is_none()
        );
        assert!(
            usable_key(&json!({"kty": "RSA", "kid": "k", "use": "sig", "n": "AQAB", "e": "AQAB"}))
                .is_some()
        );
    }
}
