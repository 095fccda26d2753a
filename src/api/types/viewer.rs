use async_graphql::{Enum, SimpleObject};

use crate::auth::{self, Claims};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(name = "Role")]
pub enum ApiRole {
    /// Reads licenses, users, providers and sync history.
    Viewer,
    /// Also configures providers and starts syncs.
    Admin,
}

impl From<auth::Role> for ApiRole {
    fn from(role: auth::Role) -> Self {
        match role {
            auth::Role::Viewer => ApiRole::Viewer,
            auth::Role::Admin => ApiRole::Admin,
        }
    }
}

/// The authenticated caller.
#[derive(SimpleObject)]
pub struct Viewer {
    /// The token's subject: the person or script it was minted for; for an identity provider's
    /// token, `tenant id/object id` when it carries them (Entra ID), else its `sub`. The audit
    /// log records actions under it.
    pub subject: String,
    pub role: ApiRole,
    /// A name for people to read: the token's `name` (or `preferred_username`); null when it
    /// carries none, as the server's own tokens do not.
    pub display_name: Option<String>,
}

impl From<&Claims> for Viewer {
    fn from(claims: &Claims) -> Self {
        Self {
            subject: claims.sub.clone(),
            role: claims.role.into(),
            display_name: claims.name.clone(),
        }
    }
}
