use async_graphql::{Enum, ID, InputObject, Json, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::audit;

/// One change made through the API.
#[derive(SimpleObject)]
pub struct AuditEvent {
    pub id: ID,
    /// The subject of the token that made the change.
    pub subject: String,
    pub role: String,
    /// e.g. `provider.create`, `provider.update`, `provider.delete`.
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    /// SUCCEEDED, FAILED, or FORBIDDEN for a caller without the role (recorded without the
    /// mutation's input, its target's id included).
    pub outcome: String,
    /// What changed, or why it failed; never a secret.
    pub detail: Option<Json<serde_json::Value>>,
    pub created_at: DateTime<Utc>,
}

impl From<audit::AuditEvent> for AuditEvent {
    fn from(event: audit::AuditEvent) -> Self {
        Self {
            id: ID(event.id.to_string()),
            subject: event.subject,
            role: event.role,
            action: event.action,
            target_type: event.target_type,
            target_id: event.target_id,
            outcome: event.outcome,
            detail: event.detail.map(Json),
            created_at: event.created_at,
        }
    }
}

/// How a change ended, as `AuditEvent.outcome` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum AuditOutcome {
    Succeeded,
    Failed,
    /// Refused for the caller's role.
    Forbidden,
}

impl AuditOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => audit::SUCCEEDED,
            Self::Failed => audit::FAILED,
            Self::Forbidden => audit::FORBIDDEN,
        }
    }
}

/// Which events `auditEvents` lists; every field given must match, exactly.
#[derive(Debug, Default, InputObject)]
pub struct AuditEventFilter {
    /// e.g. `provider.update`.
    pub action: Option<String>,
    pub outcome: Option<AuditOutcome>,
    /// The subject of the token that made the change.
    pub subject: Option<String>,
}

impl AuditEventFilter {
    pub fn into_domain(self) -> crate::Result<audit::AuditFilter> {
        audit::AuditFilter::new(
            self.action,
            self.outcome.map(|outcome| outcome.as_str().to_owned()),
            self.subject,
        )
    }
}
