//! Entra ID v2.0 as an OpenID Connect provider: discovery, JWKS with rotation, `/authorize`
//! (authorization code + PKCE) and the `authorization_code` / `refresh_token` grants, for a
//! simulated API app (app roles `LicenseManager.Admin` / `LicenseManager.Reader`) and a SPA
//! client. The wire shapes are described in this crate's README, "Identity provider".

mod endpoints;
mod keys;
mod mint;

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use crate::errors::SimError;
pub(crate) use endpoints::{authorize, discovery, jwks, logout, token_grant, token_preflight};
use keys::KeyRing;
pub use mint::TestToken;
pub(crate) use mint::{AppTokenSubject, app_token};

/// The app role that maps to license-manager's admin.
pub const ROLE_ADMIN: &str = "LicenseManager.Admin";
/// The app role that maps to license-manager's viewer.
pub const ROLE_READER: &str = "LicenseManager.Reader";
/// Microsoft Graph's application id: the audience of Graph access tokens.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// Which identifier of the API app access tokens carry in `aud`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AudienceForm {
    /// The API's client id (GUID): what v2.0 access tokens always carry.
    #[default]
    ClientId,
    /// The App ID URI (`api://…`), as v1.0 tokens requested through it carry.
    AppIdUri,
}

/// The simulated app registrations and who holds which app role.
#[derive(Debug, Clone)]
pub struct OidcOptions {
    /// The protected API's client id; None = a fresh GUID.
    pub api_client_id: Option<Uuid>,
    /// The API's App ID URI; None = `api://{api_client_id}`.
    pub api_app_id_uri: Option<String>,
    /// The delegated scope the API exposes (`api://…/access_as_user`).
    pub api_scope: String,
    pub audience: AudienceForm,
    /// The SPA (public client) id; None = a fresh GUID.
    pub spa_client_id: Option<Uuid>,
    /// Redirect URIs registered as type `spa`. Empty = any http(s) URI is accepted (the
    /// client's port is often known only after the simulator started; see the control API).
    pub spa_redirect_uris: Vec<String>,
    /// user id → app role values. None = the first active user holds
    /// `LicenseManager.Admin`, the second `LicenseManager.Reader`, the rest none.
    pub role_assignments: Option<HashMap<Uuid, Vec<String>>>,
    /// `/authorize` with a `login_hint` signs that user in and redirects at once, without the
    /// user picker (the `gsim_user` parameter always does).
    pub auto_approve: bool,
    /// Access- and ID-token lifetime (`expires_in`).
    pub access_token_ttl_secs: u64,
    /// Authorization codes live about 10 minutes in Entra.
    pub code_ttl_secs: u64,
    /// SPA refresh tokens expire 24 h after the sign-in, whatever their rotation.
    pub refresh_token_ttl_secs: u64,
}

impl Default for OidcOptions {
    fn default() -> Self {
        OidcOptions {
            api_client_id: None,
            api_app_id_uri: None,
            api_scope: "access_as_user".into(),
            audience: AudienceForm::ClientId,
            spa_client_id: None,
            spa_redirect_uris: Vec::new(),
            role_assignments: None,
            auto_approve: false,
            access_token_ttl_secs: 3599,
            code_ttl_secs: 600,
            refresh_token_ttl_secs: 24 * 3600,
        }
    }
}

/// The settled configuration (ids chosen).
#[derive(Debug, Clone)]
pub(crate) struct OidcConfig {
    pub api_client_id: Uuid,
    pub api_app_id_uri: String,
    pub api_scope: String,
    pub audience: AudienceForm,
    pub spa_client_id: Uuid,
    pub spa_redirect_uris: Vec<String>,
    pub auto_approve: bool,
    pub access_token_ttl_secs: u64,
    pub code_ttl: Duration,
    pub refresh_ttl: Duration,
    /// False while the identity provider is switched off: its endpoints answer 503, so a
    /// client can be tested against an outage without the simulator stopping (Graph and the
    /// client-credentials grant keep working).
    pub available: bool,
}

impl OidcConfig {
    /// The `aud` of access tokens for the API.
    pub fn api_audience(&self) -> String {
        match self.audience {
            AudienceForm::ClientId => self.api_client_id.to_string(),
            AudienceForm::AppIdUri => self.api_app_id_uri.clone(),
        }
    }

    pub fn redirect_allowed(&self, uri: &str) -> bool {
        if self.spa_redirect_uris.is_empty() {
            uri.starts_with("http://") || uri.starts_with("https://")
        } else {
            self.spa_redirect_uris.iter().any(|r| r == uri)
        }
    }
}

/// What a code or refresh token stands for.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub user_id: Uuid,
    pub client_id: Uuid,
    pub scope: String,
    pub nonce: Option<String>,
}

pub(crate) struct AuthCode {
    pub grant: Grant,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub expires_at: Instant,
    pub redeemed: bool,
}

pub(crate) struct RefreshGrant {
    pub grant: Grant,
    /// Fixed at sign-in: rotation does not extend it (SPA refresh tokens).
    pub expires_at: Instant,
    pub used: bool,
}

/// Mutable OIDC state of one simulator.
pub(crate) struct OidcState {
    pub config: OidcConfig,
    /// None until first needed: key generation is skipped by simulators that never sign in.
    keys: Option<KeyRing>,
    roles: HashMap<Uuid, Vec<String>>,
    pub codes: HashMap<String, AuthCode>,
    pub refresh: HashMap<String, RefreshGrant>,
}

impl OidcState {
    /// `first_users`: the tenant's first active users, for the default role assignments.
    pub fn new(options: &OidcOptions, first_users: &[Uuid]) -> OidcState {
        let api_client_id = options.api_client_id.unwrap_or_else(Uuid::new_v4);
        let roles = options.role_assignments.clone().unwrap_or_else(|| {
            first_users
                .iter()
                .zip([ROLE_ADMIN, ROLE_READER])
                .map(|(id, role)| (*id, vec![role.to_string()]))
                .collect()
        });
        OidcState {
            config: OidcConfig {
                api_client_id,
                api_app_id_uri: options
                    .api_app_id_uri
                    .clone()
                    .unwrap_or_else(|| format!("api://{api_client_id}")),
                api_scope: options.api_scope.clone(),
                audience: options.audience,
                spa_client_id: options.spa_client_id.unwrap_or_else(Uuid::new_v4),
                spa_redirect_uris: options.spa_redirect_uris.clone(),
                auto_approve: options.auto_approve,
                access_token_ttl_secs: options.access_token_ttl_secs,
                code_ttl: Duration::from_secs(options.code_ttl_secs),
                refresh_ttl: Duration::from_secs(options.refresh_token_ttl_secs),
                available: true,
            },
            keys: None,
            roles,
            codes: HashMap::new(),
            refresh: HashMap::new(),
        }
    }

    pub fn keys(&mut self) -> Result<&mut KeyRing, SimError> {
        if self.keys.is_none() {
            self.keys = Some(KeyRing::initial()?);
        }
        self.keys
            .as_mut()
            .ok_or_else(|| SimError::Crypto("key ring".into()))
    }

    pub fn roles_of(&self, user: Uuid) -> Vec<String> {
        self.roles.get(&user).cloned().unwrap_or_default()
    }

    pub fn set_roles(&mut self, user: Uuid, roles: Vec<String>) {
        if roles.is_empty() {
            self.roles.remove(&user);
        } else {
            self.roles.insert(user, roles);
        }
    }

    pub fn role_assignments(&self) -> HashMap<Uuid, Vec<String>> {
        self.roles.clone()
    }

    /// Drops codes and refresh tokens long past use, so a long run does not grow the maps.
    pub fn prune(&mut self) {
        let cutoff = Instant::now();
        if self.codes.len() > 10_000 {
            self.codes.retain(|_, c| c.expires_at > cutoff);
        }
        if self.refresh.len() > 10_000 {
            self.refresh.retain(|_, r| r.expires_at > cutoff);
        }
    }
}

/// An opaque random string (codes, refresh tokens).
pub(crate) fn random_token(prefix: &str) -> String {
    use base64::Engine;
    let mut raw = Vec::with_capacity(48);
    for _ in 0..3 {
        raw.extend_from_slice(Uuid::new_v4().as_bytes());
    }
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}
