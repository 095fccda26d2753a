use async_graphql::{ID, Json, SimpleObject};
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
