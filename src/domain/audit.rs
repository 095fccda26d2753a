//! The audit log: who (the token's subject) changed what, when, and how it ended. Secrets never
//! enter it: callers pass only names, ids and outcomes.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::Value;

use super::validation::{Line, Validator};
use crate::entities::audit_events;
use crate::error::{Error, Result};

/// The caller of a mutation, as its token names it.
#[derive(Clone, Debug)]
pub struct Actor {
    pub subject: String,
    pub role: String,
}

/// What a mutation acted on.
#[derive(Clone, Debug)]
pub struct Target {
    pub kind: &'static str,
    pub id: Option<String>,
    pub provider_id: Option<i64>,
}

impl Target {
    pub fn provider(id: Option<i64>) -> Self {
        Self {
            kind: "provider",
            id: id.map(|id| id.to_string()),
            provider_id: id,
        }
    }
}

#[derive(Clone, Debug)]
pub struct AuditEvent {
    pub id: i64,
    pub subject: String,
    pub role: String,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub outcome: String,
    pub detail: Option<Value>,
    pub created_at: DateTime<Utc>,
}

impl From<audit_events::Model> for AuditEvent {
    fn from(row: audit_events::Model) -> Self {
        Self {
            id: row.id,
            subject: row.subject,
            role: row.role,
            action: row.action,
            target_type: row.target_type,
            target_id: row.target_id,
            outcome: row.outcome,
            detail: row.detail,
            created_at: row.created_at,
        }
    }
}

pub const SUCCEEDED: &str = "SUCCEEDED";
pub const FAILED: &str = "FAILED";
/// A mutation refused for the caller's role.
pub const FORBIDDEN: &str = "FORBIDDEN";

/// Writes one event; inside the caller's transaction when given one, so that a change and its
/// record commit together.
pub async fn record(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    action: &str,
    target: &Target,
    outcome: &str,
    detail: Option<Value>,
) -> Result<()> {
    audit_events::ActiveModel {
        subject: Set(actor.subject.clone()),
        role: Set(actor.role.clone()),
        action: Set(action.to_owned()),
        target_type: Set(target.kind.to_owned()),
        target_id: Set(target.id.clone()),
        provider_id: Set(target.provider_id),
        outcome: Set(outcome.to_owned()),
        detail: Set(detail),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Passes `result` through, recording a failed attempt first. Successes are recorded by the
/// operation itself, in its own transaction.
pub async fn on_failure<T>(
    db: &DatabaseConnection,
    actor: &Actor,
    action: &str,
    target: Target,
    result: Result<T>,
) -> Result<T> {
    if let Err(error) = &result {
        let detail =
            serde_json::json!({ "code": error.code().as_str(), "message": error.to_string() });
        if let Err(audit_error) = record(db, actor, action, &target, FAILED, Some(detail)).await {
            tracing::error!(error = ?audit_error, action, "could not record a failed mutation");
        }
    }
    result
}

/// Records a mutation refused for the caller's role: who tried, which action on what kind of
/// target, and why. Its input stays out, the target's id included: a refused caller's input is
/// anything it chose to send.
pub async fn refused(
    db: &DatabaseConnection,
    actor: &Actor,
    action: &str,
    target: &'static str,
    why: &str,
) {
    let target = Target {
        kind: target,
        id: None,
        provider_id: None,
    };
    let detail = serde_json::json!({ "code": FORBIDDEN, "message": why });
    if let Err(error) = record(db, actor, action, &target, FORBIDDEN, Some(detail)).await {
        tracing::error!(error = ?error, action, "could not record a refused mutation");
    }
}

/// Which events a listing keeps; `None` keeps all. Compared exactly: actions, outcomes and
/// subjects are identifiers, not prose.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub subject: Option<String>,
}

/// The longest action or subject a filter takes: longer ones name no event.
const FILTER_TEXT_MAX: usize = 256;

impl AuditFilter {
    /// A filter of texts as a caller typed them: trimmed, one line, bounded; a blank one
    /// filters nothing. Every refused field is named at once.
    pub fn new(
        action: Option<String>,
        outcome: Option<String>,
        subject: Option<String>,
    ) -> Result<Self> {
        let mut validator = Validator::default();
        let mut line = |field: &'static str, value: Option<String>| {
            value
                .and_then(|value| validator.check(field, Line::parse(&value, FILTER_TEXT_MAX)))
                .map(|line| line.as_str().to_owned())
                .filter(|text| !text.is_empty())
        };
        let action = line("action", action);
        let subject = line("subject", subject);
        validator.finish()?;
        Ok(Self {
            action,
            outcome,
            subject,
        })
    }
}

/// Newest first; `before_id` continues a page.
pub async fn list(
    db: &DatabaseConnection,
    filter: &AuditFilter,
    limit: u64,
    before_id: Option<i64>,
) -> Result<Vec<AuditEvent>, Error> {
    use audit_events::Column;
    let mut query = audit_events::Entity::find().order_by_desc(Column::Id);
    if let Some(id) = before_id {
        query = query.filter(Column::Id.lt(id));
    }
    let exact = [
        (Column::Action, &filter.action),
        (Column::Outcome, &filter.outcome),
        (Column::Subject, &filter.subject),
    ];
    for (column, value) in exact {
        if let Some(value) = value {
            query = query.filter(column.eq(value.as_str()));
        }
    }
    Ok(query
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(AuditEvent::from)
        .collect())
}
