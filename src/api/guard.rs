use async_graphql::{Context, Guard, Result};

use super::context::claims;
use super::errors::forbidden;
use crate::auth::Role;

/// Lets an operation through only for callers whose token carries the role.
pub struct RoleGuard {
    required: Role,
}

impl RoleGuard {
    pub fn admin() -> Self {
        Self {
            required: Role::Admin,
        }
    }
}

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        let claims = claims(ctx)?;
        let allowed = match self.required {
            Role::Viewer => true,
            Role::Admin => claims.role == Role::Admin,
        };
        if allowed {
            Ok(())
        } else {
            Err(forbidden(&format!(
                "this operation needs the {} role; the token of {:?} has {}",
                self.required, claims.sub, claims.role
            )))
        }
    }
}
