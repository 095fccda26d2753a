//! What a frontend needs to set up a provider of each kind, from the kind itself: the
//! permissions to grant and the setup guide are not copied into every client.

use async_graphql::SimpleObject;

use super::provider::ProviderKind;
use crate::providers::{KindSetup, Permission};

/// A permission the provider's credentials need at its service.
#[derive(SimpleObject)]
#[graphql(name = "ProviderPermission")]
pub struct ApiPermission {
    /// As the service names it, e.g. User.Read.All.
    name: &'static str,
    /// What the provider reads with it.
    reason: &'static str,
    /// False when syncs work without it (it adds something, or replaces other permissions).
    required: bool,
}

impl From<Permission> for ApiPermission {
    fn from(permission: Permission) -> Self {
        Self {
            name: permission.name,
            reason: permission.reason,
            required: permission.required,
        }
    }
}

/// A kind of provider this server can connect, and how an admin sets one up.
#[derive(SimpleObject)]
pub struct ProviderKindInfo {
    kind: ProviderKind,
    /// The kind's name for people, e.g. "Microsoft 365".
    display_name: &'static str,
    /// What to grant the provider's credentials before adding it, required ones first.
    required_permissions: Vec<ApiPermission>,
    /// The path of the setup guide on this server (e.g. /docs/microsoft-365); null when the
    /// kind has none.
    setup_guide_url: Option<String>,
}

impl ProviderKindInfo {
    /// The API's view of a kind named `name`; none for a kind the API does not show.
    pub fn new(name: &str, setup: KindSetup) -> Option<Self> {
        let mut permissions = setup.permissions;
        // Stable: a kind's own order within each group is kept.
        permissions.sort_by_key(|permission| !permission.required);
        Some(Self {
            kind: ProviderKind::from_name(name)?,
            display_name: setup.display_name,
            required_permissions: permissions.into_iter().map(ApiPermission::from).collect(),
            setup_guide_url: setup.guide.map(|guide| guide.path()),
        })
    }
}
