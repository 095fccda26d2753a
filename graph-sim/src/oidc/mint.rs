//! Token claims as Entra shapes them, and the library API tests use: configuration, key
//! rotation, role assignments and directly minted tokens (valid and deliberately invalid).

use std::collections::HashMap;

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use super::keys::{self, sha256_b64url};
use super::{AudienceForm, GRAPH_APP_ID, OidcConfig};
use crate::errors::SimError;
use crate::handle::SimHandle;
use crate::tenant::User;

/// Tokens [`SimHandle::mint_token`] makes for a user, each one a case a resource server must
/// accept (only `Access`) or refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TestToken {
    /// A valid delegated access token for the API (RS256, signing key, the user's roles).
    Access,
    /// Expired an hour ago (beyond any clock-skew leeway).
    Expired,
    /// `nbf` an hour from now.
    NotYetValid,
    /// `aud` = another API's client id.
    WrongAudience,
    /// A Microsoft Graph access token: `aud` = Graph's app id, a `nonce` in the header.
    GraphAudience,
    /// `iss` of another tenant (correctly signed).
    WrongIssuer,
    /// The ID token the SPA gets (`aud` = the SPA's client id, with `nonce`).
    IdToken,
    /// The access token's claims with `alg: none` and no signature.
    AlgNone,
    /// The access token's claims signed HS256 with the signing key's public-key PEM as the
    /// HMAC secret (algorithm confusion), header `kid` = the signing key's.
    Hs256PublicKey,
    /// Signed RS256 by a key the JWKS never publishes.
    UnknownKid,
}

/// Unix seconds now.
fn now() -> i64 {
    Utc::now().timestamp()
}

/// The v2.0 issuer of a tenant.
pub(crate) fn issuer(base_url: &str, tenant: &str) -> String {
    format!("{base_url}/{tenant}/v2.0")
}

/// Entra's `sub` is pairwise: the same user has another `sub` in each app.
fn pairwise_sub(user: Uuid, app: &str) -> String {
    sha256_b64url(format!("{user}|{app}").as_bytes())
}

/// What the claims of one token are about.
pub(crate) struct Subject<'a> {
    pub user: &'a User,
    pub tenant_id: Uuid,
    pub issuer: &'a str,
    pub roles: Vec<String>,
}

impl Subject<'_> {
    fn common(&self, aud: &str, iat: i64, ttl: u64) -> Value {
        json!({
            "aud": aud,
            "iss": self.issuer,
            "iat": iat,
            "nbf": iat,
            "exp": iat + ttl as i64,
            "name": self.user.display_name,
            "oid": self.user.id,
            "preferred_username": self.user.user_principal_name,
            "rh": "0.AAAA-sim",
            "sub": pairwise_sub(self.user.id, aud),
            "tid": self.tenant_id,
            "uti": Uuid::new_v4().simple().to_string(),
            "ver": "2.0",
        })
    }

    /// A delegated v2.0 access token for the API: `scp` a space-separated string, `roles` an
    /// array present only when the user holds a role (Entra omits empty claims).
    pub fn access(&self, cfg: &OidcConfig, scp: &str, iat: i64) -> Value {
        let mut claims = self.common(&cfg.api_audience(), iat, cfg.access_token_ttl_secs);
        claims["azp"] = json!(cfg.spa_client_id);
        claims["azpacr"] = json!("0");
        claims["scp"] = json!(scp);
        if !self.roles.is_empty() {
            claims["roles"] = json!(self.roles);
        }
        claims
    }

    pub fn id_token(&self, cfg: &OidcConfig, nonce: Option<&str>, iat: i64) -> Value {
        let mut claims = self.common(
            &cfg.spa_client_id.to_string(),
            iat,
            cfg.access_token_ttl_secs,
        );
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        claims
    }

    /// What Entra issues when the scopes name no resource: a token for Microsoft Graph.
    pub fn graph(&self, cfg: &OidcConfig, iat: i64) -> Value {
        let mut claims = self.common(GRAPH_APP_ID, iat, cfg.access_token_ttl_secs);
        claims["azp"] = json!(cfg.spa_client_id);
        claims["scp"] = json!("openid profile email User.Read");
        claims
    }
}

/// Graph tokens carry a `nonce` in the JWS header (their signature covers a hash of it, so a
/// standard validator fails on them anyway).
pub(crate) fn graph_header() -> Value {
    json!({ "nonce": sha256_b64url(Uuid::new_v4().as_bytes()) })
}

/// The app-only (client-credentials) access token for Microsoft Graph, in the v1.0 form Graph's
/// tokens take: `iss` of sts.windows.net, `appid`, `idtyp: "app"`, `oid` = `sub` = the app's
/// service principal, and `roles` = the application permissions granted (absent when none, as
/// Entra omits empty claims). Signed like every Graph token: verifiable by nobody but Graph
/// (header `nonce`), readable by anyone.
pub(crate) fn app_token(
    oidc: &mut super::OidcState,
    app: AppTokenSubject<'_>,
    iat: i64,
    ttl: u64,
) -> Result<String, SimError> {
    let sts = format!("https://sts.windows.net/{}/", app.tenant_id);
    let principal = service_principal_id(app.client_id);
    let mut claims = json!({
        "aud": app.audience,
        "iss": sts,
        "iat": iat,
        "nbf": iat,
        "exp": iat + ttl as i64,
        "aio": "E2RgYJj8-sim",
        "app_displayname": "license-manager (graph-sim)",
        "appid": app.client_id,
        "appidacr": "1",
        "idp": sts,
        "idtyp": "app",
        "oid": principal,
        "rh": "0.AAAA-sim",
        "sub": principal,
        "tid": app.tenant_id,
        "uti": Uuid::new_v4().simple().to_string(),
        "ver": "1.0",
    });
    if !app.roles.is_empty() {
        claims["roles"] = json!(app.roles);
    }
    let key = oidc.keys()?.signing_key()?;
    let mut header = graph_header();
    header["x5t"] = json!(key.kid);
    key.sign(header, &claims)
}

/// Who an app-only token is for.
pub(crate) struct AppTokenSubject<'a> {
    pub tenant_id: Uuid,
    pub client_id: Uuid,
    /// The resource asked for (`https://graph.microsoft.com` for `…/.default`).
    pub audience: &'a str,
    pub roles: Vec<&'static str>,
}

/// The app's service principal object id: stable per app, distinct from its client id.
pub(crate) fn service_principal_id(client_id: Uuid) -> Uuid {
    let digest = sha256_b64url(format!("service-principal|{client_id}").as_bytes());
    let mut bytes = [0u8; 16];
    for (b, c) in bytes.iter_mut().zip(digest.bytes()) {
        *b = c;
    }
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

impl SimHandle {
    fn oidc_config(&self) -> OidcConfig {
        self.state().oidc().config.clone()
    }

    /// `{base}/{tenantId}/v2.0`: the issuer (`LM_OIDC_ISSUER`) and the `iss` of tokens.
    pub fn oidc_issuer(&self) -> String {
        issuer(self.base_url(), &self.tenant_id().to_string())
    }

    /// `{issuer}/.well-known/openid-configuration`.
    pub fn oidc_discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.oidc_issuer())
    }

    /// `{base}/{tenantId}/discovery/v2.0/keys`.
    pub fn oidc_jwks_url(&self) -> String {
        format!(
            "{}/{}/discovery/v2.0/keys",
            self.base_url(),
            self.tenant_id()
        )
    }

    /// `{base}/{tenantId}/oauth2/v2.0/authorize`.
    pub fn oidc_authorize_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/authorize",
            self.base_url(),
            self.tenant_id()
        )
    }

    /// The protected API's client id (`aud` of its v2.0 access tokens).
    pub fn api_client_id(&self) -> Uuid {
        self.oidc_config().api_client_id
    }

    /// The API's App ID URI, `api://{api_client_id}` unless configured.
    pub fn api_app_id_uri(&self) -> String {
        self.oidc_config().api_app_id_uri
    }

    /// The scope a SPA asks for: `api://{api}/access_as_user`.
    pub fn api_scope(&self) -> String {
        let cfg = self.oidc_config();
        format!("{}/{}", cfg.api_app_id_uri, cfg.api_scope)
    }

    /// The `aud` access tokens for the API carry (client id or App ID URI, as configured).
    pub fn api_audience(&self) -> String {
        self.oidc_config().api_audience()
    }

    pub fn set_api_audience_form(&self, form: AudienceForm) {
        self.state().oidc().config.audience = form;
    }

    /// The SPA (public client) id.
    pub fn spa_client_id(&self) -> Uuid {
        self.oidc_config().spa_client_id
    }

    /// Registers the SPA's redirect URIs (empty = any http(s) URI).
    pub fn set_spa_redirect_uris(&self, uris: Vec<String>) {
        self.state().oidc().config.spa_redirect_uris = uris;
    }

    pub fn spa_redirect_uris(&self) -> Vec<String> {
        self.oidc_config().spa_redirect_uris
    }

    pub fn auto_approve(&self) -> bool {
        self.oidc_config().auto_approve
    }

    /// With auto-approve, `/authorize?login_hint=UPN` redirects at once (no picker page).
    pub fn set_auto_approve(&self, on: bool) {
        self.state().oidc().config.auto_approve = on;
    }

    /// Whether the identity provider answers (see [`SimHandle::set_oidc_available`]).
    pub fn oidc_available(&self) -> bool {
        self.oidc_config().available
    }

    /// Takes the identity provider down (`false`) or brings it back: while down, discovery,
    /// the JWKS, `/authorize`, logout and the SPA's grants at `/token` answer 503
    /// `temporarily_unavailable`; keys, codes and refresh tokens are kept for its return.
    pub fn set_oidc_available(&self, available: bool) {
        self.state().oidc().config.available = available;
    }

    pub fn set_access_token_ttl_secs(&self, secs: u64) {
        self.state().oidc().config.access_token_ttl_secs = secs;
    }

    /// The app roles a user holds on the API (`roles` claim).
    pub fn app_roles(&self, user: Uuid) -> Vec<String> {
        self.state().oidc().roles_of(user)
    }

    /// Assigns app roles (replacing the user's; empty removes them). Unknown users are refused.
    pub fn set_app_roles(&self, user: Uuid, roles: &[&str]) -> Result<(), SimError> {
        if self.user(user).is_none() {
            return Err(SimError::UserNotFound(user.to_string()));
        }
        let roles = roles.iter().map(|r| r.to_string()).collect();
        self.state().oidc().set_roles(user, roles);
        Ok(())
    }

    pub fn app_role_assignments(&self) -> HashMap<Uuid, Vec<String>> {
        self.state().oidc().role_assignments()
    }

    /// The kid of the key that signs new tokens.
    pub fn signing_kid(&self) -> Result<String, SimError> {
        Ok(self.state().oidc().keys()?.signing.clone())
    }

    /// The kids the JWKS publishes.
    pub fn published_kids(&self) -> Result<Vec<String>, SimError> {
        let mut oidc = self.state().oidc();
        Ok(oidc
            .keys()?
            .published
            .iter()
            .map(|k| k.kid.clone())
            .collect())
    }

    /// Generates and publishes a new key (not signing yet); returns its kid.
    pub fn add_signing_key(&self) -> Result<String, SimError> {
        // Generated outside the lock: it takes a while.
        let key = super::keys::SigningKey::generate()?;
        let kid = key.kid.clone();
        self.state().oidc().keys()?.published.push(key);
        Ok(kid)
    }

    /// Makes a published key the one that signs new tokens.
    pub fn use_signing_key(&self, kid: &str) -> Result<(), SimError> {
        self.state().oidc().keys()?.use_for_signing(kid)
    }

    /// Stops publishing a key (not the signing one).
    pub fn retire_key(&self, kid: &str) -> Result<(), SimError> {
        self.state().oidc().keys()?.retire(kid)
    }

    /// A full rotation: a new key signs from now on and the previous signing key is retired.
    /// Returns the new kid.
    pub fn rotate_signing_key(&self) -> Result<String, SimError> {
        let old = self.signing_kid()?;
        let new = self.add_signing_key()?;
        self.use_signing_key(&new)?;
        self.retire_key(&old)?;
        Ok(new)
    }

    /// The signing key's public key as PEM (SPKI).
    pub fn signing_public_key_pem(&self) -> Result<String, SimError> {
        let mut oidc = self.state().oidc();
        Ok(oidc.keys()?.signing_key()?.public_key_pem())
    }

    /// The claims of a valid access token for `user` (to alter and sign with [`Self::sign_claims`]).
    pub fn access_token_claims(&self, user: Uuid) -> Result<Value, SimError> {
        self.claims_for(
            user,
            |s, cfg, iat| s.access(cfg, &cfg.api_scope, iat),
            now(),
        )
    }

    /// Signs any claims RS256 with the current signing key.
    pub fn sign_claims(&self, claims: &Value) -> Result<String, SimError> {
        let mut oidc = self.state().oidc();
        oidc.keys()?.signing_key()?.sign(json!({}), claims)
    }

    fn claims_for(
        &self,
        user: Uuid,
        make: impl Fn(&Subject, &OidcConfig, i64) -> Value,
        iat: i64,
    ) -> Result<Value, SimError> {
        let u = self
            .user(user)
            .ok_or_else(|| SimError::UserNotFound(user.to_string()))?;
        let cfg = self.oidc_config();
        let issuer = self.oidc_issuer();
        let subject = Subject {
            user: &u,
            tenant_id: self.tenant_id(),
            issuer: &issuer,
            roles: self.app_roles(user),
        };
        Ok(make(&subject, &cfg, iat))
    }

    /// Mints a token for `user` directly (no `/authorize`), of the kind a test needs.
    pub fn mint_token(&self, user: Uuid, kind: TestToken) -> Result<String, SimError> {
        let t = now();
        let access = |iat| self.claims_for(user, |s, c, i| s.access(c, &c.api_scope, i), iat);
        match kind {
            TestToken::Access => self.sign_claims(&access(t)?),
            TestToken::Expired => self.sign_claims(&access(t - 2 * 3600 - 1)?),
            TestToken::NotYetValid => self.sign_claims(&access(t + 3600)?),
            TestToken::WrongAudience => {
                let mut c = access(t)?;
                c["aud"] = json!(Uuid::new_v4());
                self.sign_claims(&c)
            }
            TestToken::WrongIssuer => {
                let mut c = access(t)?;
                c["iss"] = json!(issuer(self.base_url(), &Uuid::new_v4().to_string()));
                self.sign_claims(&c)
            }
            TestToken::GraphAudience => {
                let c = self.claims_for(user, |s, c, i| s.graph(c, i), t)?;
                let mut oidc = self.state().oidc();
                oidc.keys()?.signing_key()?.sign(graph_header(), &c)
            }
            TestToken::IdToken => {
                let nonce = Uuid::new_v4().to_string();
                let c = self.claims_for(user, |s, c, i| s.id_token(c, Some(&nonce), i), t)?;
                self.sign_claims(&c)
            }
            TestToken::AlgNone => Ok(keys::unsigned(&access(t)?)),
            TestToken::Hs256PublicKey => {
                let c = access(t)?;
                let mut oidc = self.state().oidc();
                let key = oidc.keys()?.signing_key()?;
                Ok(keys::sign_hs256(
                    &key.kid,
                    &c,
                    key.public_key_pem().as_bytes(),
                ))
            }
            TestToken::UnknownKid => {
                let c = access(t)?;
                let mut oidc = self.state().oidc();
                oidc.keys()?.stray.sign(json!({}), &c)
            }
        }
    }
}
