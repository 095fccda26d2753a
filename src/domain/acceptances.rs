//! Accepted findings: a license an admin decided to keep — a shared mailbox that must keep its
//! license, a person on leave — with the reason and until when. An accepted finding leaves the
//! report's totals (and what a reclaim would free) but stays listed, marked accepted, and comes
//! back by itself: the day after the acceptance's last day, or as soon as the finding is of
//! another kind than the one accepted (the account re-enabled, say). Another license of the
//! same person is another finding, never covered.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, FromQueryResult, JoinType,
    QueryFilter, QueryOrder, QuerySelect, RelationDef, Set, TransactionTrait,
};
use serde_json::json;

use super::audit::{self, Actor, Target};
use super::reports::FindingKind;
use super::validation::{Validator, text};
use crate::entities::{accepted_findings, directory_users, license_assignments, license_skus};
use crate::error::{Error, Result};

const REASON_MAX: usize = 500;
/// How far ahead an acceptance may run: a decision is looked at again at least this often.
pub const MAX_DAYS_AHEAD: i64 = 731;

/// An acceptance, with the names of what it covers for people to read.
#[derive(Clone, Debug, FromQueryResult)]
pub struct Acceptance {
    pub id: i64,
    pub provider_id: i64,
    pub user_id: i64,
    pub license_sku_id: i64,
    pub kind: String,
    pub reason: String,
    pub accepted_by: String,
    pub accepted_at: DateTime<Utc>,
    /// The last day it holds (UTC).
    pub expires_on: NaiveDate,
    pub user_principal_name: String,
    pub sku_display_name: String,
}

impl Acceptance {
    /// Whether it still covers a finding of `kind` on `today`.
    pub fn covers(&self, kind: FindingKind, today: NaiveDate) -> bool {
        self.kind == kind.as_str() && today <= self.expires_on
    }

    pub fn in_force(&self, today: NaiveDate) -> bool {
        today <= self.expires_on
    }
}

pub struct NewAcceptance {
    pub user_id: i64,
    pub license_sku_id: i64,
    pub kind: FindingKind,
    pub reason: String,
    pub expires_on: NaiveDate,
}

fn target(provider_id: Option<i64>, id: Option<i64>) -> Target {
    Target {
        kind: "finding_acceptance",
        id: id.map(|id| id.to_string()),
        provider_id,
    }
}

/// Accepts the finding of a license (or replaces its acceptance), recording who and why.
pub async fn accept(
    db: &DatabaseConnection,
    actor: &Actor,
    input: NewAcceptance,
    now: DateTime<Utc>,
) -> Result<Acceptance> {
    let result = accept_checked(db, actor, input, now).await;
    audit::on_failure(db, actor, "finding.accept", target(None, None), result).await
}

fn validate(input: &NewAcceptance, today: NaiveDate) -> Result<String> {
    let mut validator = Validator::default();
    let reason = validator.check("reason", text(&input.reason, REASON_MAX));
    let last = today + Duration::days(MAX_DAYS_AHEAD);
    if input.expires_on < today || input.expires_on > last {
        validator.check::<()>(
            "expiresOn",
            Err(format!("must be a day from today ({today}) to {last}")),
        );
    }
    if input.kind == FindingKind::UnassignedSeats {
        validator.check::<()>(
            "kind",
            Err(
                "unassigned seats are nobody's license: only a user's license can be accepted"
                    .into(),
            ),
        );
    }
    validator.finish()?;
    reason.ok_or_else(|| Error::invalid("reason", "must not be empty"))
}

async fn accept_checked(
    db: &DatabaseConnection,
    actor: &Actor,
    input: NewAcceptance,
    now: DateTime<Utc>,
) -> Result<Acceptance> {
    let reason = validate(&input, now.date_naive())?;
    let transaction = db.begin().await?;
    let held = license_assignments::Entity::find()
        .filter(license_assignments::Column::UserId.eq(input.user_id))
        .filter(license_assignments::Column::LicenseSkuId.eq(input.license_sku_id))
        .one(&transaction)
        .await?
        .ok_or_else(|| {
            Error::NotFound(format!(
                "user {} holds no license of SKU {}: there is no such finding to accept",
                input.user_id, input.license_sku_id
            ))
        })?;
    let row = accepted_findings::ActiveModel {
        provider_id: Set(held.provider_id),
        user_id: Set(input.user_id),
        license_sku_id: Set(input.license_sku_id),
        kind: Set(input.kind.as_str().to_owned()),
        reason: Set(reason.clone()),
        accepted_by: Set(actor.subject.clone()),
        accepted_at: Set(now),
        expires_on: Set(input.expires_on),
        ..Default::default()
    };
    accepted_findings::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                accepted_findings::Column::UserId,
                accepted_findings::Column::LicenseSkuId,
            ])
            .update_columns([
                accepted_findings::Column::Kind,
                accepted_findings::Column::Reason,
                accepted_findings::Column::AcceptedBy,
                accepted_findings::Column::AcceptedAt,
                accepted_findings::Column::ExpiresOn,
            ])
            .to_owned(),
        )
        .exec_without_returning(&transaction)
        .await?;
    let accepted = with_names()
        .filter(accepted_findings::Column::UserId.eq(input.user_id))
        .filter(accepted_findings::Column::LicenseSkuId.eq(input.license_sku_id))
        .into_model::<Acceptance>()
        .one(&transaction)
        .await?
        .ok_or_else(|| Error::Corrupt("an acceptance just written is not there".into()))?;
    let detail = json!({
        "userId": accepted.user_id,
        "userPrincipalName": accepted.user_principal_name,
        "licenseSkuId": accepted.license_sku_id,
        "kind": accepted.kind,
        "reason": accepted.reason,
        "expiresOn": accepted.expires_on,
    });
    let target = target(Some(accepted.provider_id), Some(accepted.id));
    audit::record(
        &transaction,
        actor,
        "finding.accept",
        &target,
        audit::SUCCEEDED,
        Some(detail),
    )
    .await?;
    transaction.commit().await?;
    Ok(accepted)
}

/// Withdraws an acceptance: its finding is back in the report at once.
pub async fn withdraw(db: &DatabaseConnection, actor: &Actor, id: i64) -> Result<Acceptance> {
    let result = withdraw_checked(db, actor, id).await;
    audit::on_failure(db, actor, "finding.reopen", target(None, Some(id)), result).await
}

async fn withdraw_checked(db: &DatabaseConnection, actor: &Actor, id: i64) -> Result<Acceptance> {
    let transaction = db.begin().await?;
    let found = with_names()
        .filter(accepted_findings::Column::Id.eq(id))
        .into_model::<Acceptance>()
        .one(&transaction)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no acceptance {id}")))?;
    accepted_findings::Entity::delete_by_id(id)
        .exec(&transaction)
        .await?;
    let detail = json!({
        "userPrincipalName": found.user_principal_name,
        "licenseSkuId": found.license_sku_id,
        "kind": found.kind,
    });
    let target = target(Some(found.provider_id), Some(id));
    audit::record(
        &transaction,
        actor,
        "finding.reopen",
        &target,
        audit::SUCCEEDED,
        Some(detail),
    )
    .await?;
    transaction.commit().await?;
    Ok(found)
}

/// Acceptances of one provider or all, newest first, `limit` of them before `before_id`; with
/// `include_expired`, those past their last day too.
pub async fn list(
    db: &DatabaseConnection,
    provider_id: Option<i64>,
    include_expired: bool,
    today: NaiveDate,
    limit: u64,
    before_id: Option<i64>,
) -> Result<Vec<Acceptance>> {
    let mut query = scoped(provider_id);
    if let Some(before_id) = before_id {
        query = query.filter(accepted_findings::Column::Id.lt(before_id));
    }
    if !include_expired {
        query = query.filter(accepted_findings::Column::ExpiresOn.gte(today));
    }
    Ok(query
        .order_by_desc(accepted_findings::Column::Id)
        .limit(limit)
        .into_model::<Acceptance>()
        .all(db)
        .await?)
}

/// The acceptances in force on `today`, by user and SKU, for a report to apply.
pub async fn in_force(
    db: &DatabaseConnection,
    provider_id: Option<i64>,
    today: NaiveDate,
) -> Result<HashMap<(i64, i64), Arc<Acceptance>>> {
    let rows = scoped(provider_id)
        .filter(accepted_findings::Column::ExpiresOn.gte(today))
        .into_model::<Acceptance>()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| ((row.user_id, row.license_sku_id), Arc::new(row)))
        .collect())
}

fn scoped(provider_id: Option<i64>) -> sea_orm::Select<accepted_findings::Entity> {
    let mut condition = Condition::all();
    if let Some(provider_id) = provider_id {
        condition = condition.add(accepted_findings::Column::ProviderId.eq(provider_id));
    }
    with_names().filter(condition)
}

/// The acceptance's columns with the user's UPN and the SKU's name.
fn with_names() -> sea_orm::Select<accepted_findings::Entity> {
    accepted_findings::Entity::find()
        .join(JoinType::InnerJoin, to_user())
        .join(JoinType::InnerJoin, to_sku())
        .column_as(
            directory_users::Column::UserPrincipalName,
            "user_principal_name",
        )
        .column_as(license_skus::Column::DisplayName, "sku_display_name")
}

fn to_user() -> RelationDef {
    accepted_findings::Entity::belongs_to(directory_users::Entity)
        .from(accepted_findings::Column::UserId)
        .to(directory_users::Column::Id)
        .into()
}

fn to_sku() -> RelationDef {
    accepted_findings::Entity::belongs_to(license_skus::Entity)
        .from(accepted_findings::Column::LicenseSkuId)
        .to(license_skus::Column::Id)
        .into()
}
