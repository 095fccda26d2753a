use async_graphql::{ID, InputObject, SimpleObject};
use chrono::{DateTime, Utc};

use super::viewer::ApiRole;
use crate::auth;
use crate::domain::api_tokens;

/// A token for scripts, as `apiTokens` lists it. Its secret is shown once, by `createApiToken`.
#[derive(SimpleObject)]
pub struct ApiToken {
    pub id: ID,
    pub name: String,
    pub role: ApiRole,
    /// The subject of the token that created it; `cli` for `license-manager api-token create`.
    pub creator: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When a request last presented it, to within a minute; null if never.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Null while it works.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<api_tokens::ApiToken> for ApiToken {
    fn from(token: api_tokens::ApiToken) -> Self {
        Self {
            id: ID(token.id.to_string()),
            name: token.name,
            role: token.role.into(),
            creator: token.creator,
            created_at: token.created_at,
            expires_at: token.expires_at,
            last_used_at: token.last_used_at,
            revoked_at: token.revoked_at,
        }
    }
}

#[derive(InputObject)]
pub struct CreateApiTokenInput {
    /// What the token is for, e.g. `nightly-export`; at most 100 characters.
    pub name: String,
    pub role: ApiRole,
    /// Days until it expires, 1 to the server's maximum token lifetime (`LM_TOKEN_MAX_TTL`,
    /// 400 days unless configured); default 90, or the maximum when shorter.
    pub expires_in_days: Option<i32>,
}

impl From<CreateApiTokenInput> for api_tokens::NewApiToken {
    fn from(input: CreateApiTokenInput) -> Self {
        Self {
            name: input.name,
            role: match input.role {
                ApiRole::Viewer => auth::Role::Viewer,
                ApiRole::Admin => auth::Role::Admin,
            },
            expires_in_days: input.expires_in_days,
        }
    }
}

/// A new token and its secret, which no later answer repeats.
#[derive(SimpleObject)]
pub struct CreatedApiToken {
    /// `lmat_…`: send it as `Authorization: Bearer lmat_…`. Keep it now: it is stored only as a
    /// hash and never shown again.
    pub token: String,
    pub api_token: ApiToken,
}

impl From<api_tokens::CreatedApiToken> for CreatedApiToken {
    fn from(created: api_tokens::CreatedApiToken) -> Self {
        Self {
            token: created.secret.expose().to_owned(),
            api_token: created.token.into(),
        }
    }
}
