use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::{Context, Guard, Result};

use super::context::{actor, claims, database};
use super::errors::forbidden;
use crate::auth::Role;
use crate::domain::audit;

/// Whether an operation has had a refusal recorded. One document may hold dozens of mutation
/// fields (aliases of one mutation, say): the audit log keeps one row for the refused operation
/// rather than one per field, so a viewer cannot fill it at the rate of its requests times fifty.
#[derive(Default)]
pub(super) struct RefusalRecorded(AtomicBool);

impl RefusalRecorded {
    /// True the first time an operation (whose data holds this) asks; an operation without it is
    /// recorded every time, as recording too much beats recording nothing.
    fn first(ctx: &Context<'_>) -> bool {
        ctx.data_opt::<Self>()
            .is_none_or(|recorded| !recorded.0.swap(true, Ordering::Relaxed))
    }
}

/// Lets an operation through only for callers whose token carries the role.
pub struct RoleGuard {
    required: Role,
    /// For a mutation: the audit action and target kind its refusal is recorded under.
    audited: Option<(&'static str, &'static str)>,
}

impl RoleGuard {
    /// For a query: a refusal is the caller's answer only.
    pub fn admin() -> Self {
        Self {
            required: Role::Admin,
            audited: None,
        }
    }

    /// For a mutation: a refusal is also recorded in the audit log, as `action` on a `target`,
    /// like the mutation's successes and failures.
    pub fn admin_mutation(action: &'static str, target: &'static str) -> Self {
        Self {
            required: Role::Admin,
            audited: Some((action, target)),
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
            return Ok(());
        }
        let why = format!(
            "this operation needs the {} role; the token of {:?} has {}",
            self.required, claims.sub, claims.role
        );
        if let Some((action, target)) = self.audited
            && RefusalRecorded::first(ctx)
        {
            audit::refused(database(ctx)?, &actor(ctx)?, action, target, &why).await;
        }
        Err(forbidden(&why))
    }
}
