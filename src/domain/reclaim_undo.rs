//! Undoing reclaim: for a while after an item's license was removed, an admin puts it back —
//! assigned directly again, with the service plans it had switched off. The seat may have gone
//! to someone else meanwhile, or the user may have lost the usage location a direct assignment
//! needs: each item then says so with its code and hint, and can be undone again once fixed.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, Set, TransactionTrait,
};
use serde_json::{Value, json};

use super::audit::{self, Actor, Target};
use super::providers as provider_service;
use super::reclaim_execution::Start;
use super::reclaim_plans::{PlanItem, ReclaimSettings};
use crate::codes::Code;
use crate::entities::{license_assignments, license_skus, reclaim_items, reclaim_plans};
use crate::error::{Error, Result};
use crate::providers::{LicenseChanged, LicenseWriteError, LicenseWriter};
use crate::sync::writer::events::{self, Event, EventKind, Observer};

/// Items one undo may put back: each is a call to the provider while the caller waits.
pub const MAX_UNDO_ITEMS: usize = 50;

/// An undo that started this long ago and never recorded its end (its process died) no longer
/// keeps another from trying.
const UNDO_CLAIM_EXPIRY: Duration = Duration::minutes(5);

/// Until when `item`'s license may be put back; None when there is nothing to undo.
pub fn undoable_until(item: &PlanItem, settings: ReclaimSettings) -> Option<DateTime<Utc>> {
    let removed = matches!(
        item.outcome.as_deref(),
        Some(code) if code == Code::Removed.as_str() || code == Code::AlreadyRemoved.as_str()
    );
    let restored = item.undo_outcome.as_deref() == Some(Code::Added.as_str());
    if !removed || restored {
        return None;
    }
    Some(item.finished_at? + Duration::days(settings.undo_days))
}

/// Puts the licenses of `item_ids` back. Every item must be undoable, or nothing is tried; each
/// then records its own outcome, which the returned items carry.
pub async fn undo(
    start: Start<'_>,
    settings: ReclaimSettings,
    actor: &Actor,
    item_ids: &[i64],
) -> Result<Vec<PlanItem>> {
    let target = Target {
        kind: "reclaim_item",
        id: None,
        provider_id: None,
    };
    let result = undo_checked(&start, settings, actor, item_ids).await;
    audit::on_failure(start.db, actor, "reclaim.undo", target, result).await
}

async fn undo_checked(
    start: &Start<'_>,
    settings: ReclaimSettings,
    actor: &Actor,
    item_ids: &[i64],
) -> Result<Vec<PlanItem>> {
    let db = start.db;
    if item_ids.is_empty() || item_ids.len() > MAX_UNDO_ITEMS {
        return Err(Error::invalid(
            "itemIds",
            format!("name between 1 and {MAX_UNDO_ITEMS} items"),
        ));
    }
    let by_provider = undoable(db, settings, item_ids).await?;
    let mut undone = Vec::with_capacity(item_ids.len());
    for (provider_id, items) in by_provider {
        let provider =
            provider_service::connect(db, start.keyring, start.registry, provider_id).await?;
        let writer = provider.client.license_writer();
        let access = crate::providers::write_access(provider.client.as_ref()).await;
        let Some(writer) = writer.filter(|_| access.allowed) else {
            let hint = access
                .hint
                .map(|hint| format!(" {hint}"))
                .unwrap_or_default();
            return Err(Error::Forbidden(format!(
                "this provider's licenses cannot be changed, nothing was undone: {}.{hint}",
                access.message
            )));
        };
        for item in items {
            undone.push(undo_item(db, writer, actor, item).await?);
        }
    }
    let outcomes: BTreeMap<String, Option<String>> = undone
        .iter()
        .map(|item| (item.id.to_string(), item.undo_outcome.clone()))
        .collect();
    audit::record(
        db,
        actor,
        "reclaim.undo",
        &Target {
            kind: "reclaim_item",
            id: None,
            provider_id: None,
        },
        audit::SUCCEEDED,
        Some(json!({ "outcomes": outcomes })),
    )
    .await?;
    Ok(undone)
}

/// The items, by provider, once each is known to be undoable.
async fn undoable(
    db: &DatabaseConnection,
    settings: ReclaimSettings,
    item_ids: &[i64],
) -> Result<BTreeMap<i64, Vec<PlanItem>>> {
    let items = reclaim_items::Entity::find()
        .filter(reclaim_items::Column::Id.is_in(item_ids.iter().copied()))
        .all(db)
        .await?;
    let mut by_id: HashMap<i64, PlanItem> = items.into_iter().map(|item| (item.id, item)).collect();
    let plan_ids: Vec<i64> = by_id.values().map(|item| item.plan_id).collect();
    let providers: HashMap<i64, i64> = reclaim_plans::Entity::find()
        .filter(reclaim_plans::Column::Id.is_in(plan_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|plan| (plan.id, plan.provider_id))
        .collect();
    let now = Utc::now();
    let mut by_provider: BTreeMap<i64, Vec<PlanItem>> = BTreeMap::new();
    for id in item_ids {
        let item = by_id.remove(id).ok_or_else(|| {
            Error::NotFound(format!("no reclaim item {id} (or it is named twice)"))
        })?;
        match undoable_until(&item, settings) {
            Some(until) if until >= now => {}
            Some(until) => {
                return Err(Error::Conflict(format!(
                    "item {id} could be undone until {} (LM_RECLAIM_UNDO_DAYS); assign the \
                     license at the provider instead",
                    until.format("%Y-%m-%d %H:%M UTC")
                )));
            }
            None => {
                let what = item.undo_outcome.as_deref().map_or_else(
                    || {
                        format!(
                            "its outcome is {}",
                            item.outcome.as_deref().unwrap_or("not known yet")
                        )
                    },
                    |_| "it was undone already".to_owned(),
                );
                return Err(Error::Conflict(format!(
                    "item {id} has no removal to undo: {what}"
                )));
            }
        }
        let provider_id = providers
            .get(&item.plan_id)
            .copied()
            .ok_or_else(|| Error::Corrupt(format!("reclaim item {id} has no plan")))?;
        by_provider.entry(provider_id).or_default().push(item);
    }
    Ok(by_provider)
}

/// Adds one item's license back and records how that went. Two undos of the same item at once
/// cannot both add it: the first takes the item.
async fn undo_item(
    db: &DatabaseConnection,
    writer: &dyn LicenseWriter,
    actor: &Actor,
    item: PlanItem,
) -> Result<PlanItem> {
    let now = Utc::now();
    let taken = reclaim_items::Entity::update_many()
        .col_expr(reclaim_items::Column::UndoStartedAt, now.into())
        .filter(reclaim_items::Column::Id.eq(item.id))
        .filter(
            Condition::any()
                .add(reclaim_items::Column::UndoStartedAt.is_null())
                .add(reclaim_items::Column::UndoStartedAt.lt(now - UNDO_CLAIM_EXPIRY)),
        )
        .filter(
            Condition::any()
                .add(reclaim_items::Column::UndoOutcome.is_null())
                .add(reclaim_items::Column::UndoOutcome.ne(Code::Added.as_str())),
        )
        .exec(db)
        .await?;
    if taken.rows_affected != 1 {
        return Err(Error::Conflict(format!(
            "item {} is being undone, or was undone, by someone else meanwhile",
            item.id
        )));
    }
    let disabled_plans: Vec<String> = serde_json::from_value(item.disabled_plans.clone())
        .map_err(|error| Error::Corrupt(format!("reclaim item {} plans: {error}", item.id)))?;
    let added = writer
        .add_license(
            &item.user_external_id,
            &item.sku_external_id,
            &disabled_plans,
        )
        .await;
    let (code, message, hint) = match &added {
        Ok(LicenseChanged::Added) | Ok(LicenseChanged::Removed) => (
            Code::Added,
            format!(
                "{} assigned again, with {} service plan(s) switched off",
                item.sku_display_name,
                disabled_plans.len()
            ),
            String::new(),
        ),
        Ok(LicenseChanged::AlreadyRemoved) => (
            Code::Added,
            "the user holds the license already".to_owned(),
            String::new(),
        ),
        Err(LicenseWriteError {
            failure,
            message,
            hint,
        }) => (failure.code(), message.clone(), hint.clone()),
    };
    let transaction = db.begin().await?;
    let row = reclaim_items::Entity::update_many()
        .col_expr(reclaim_items::Column::UndoOutcome, code.as_str().into())
        .col_expr(reclaim_items::Column::UndoMessage, message.into())
        .col_expr(reclaim_items::Column::UndoHint, hint.into())
        .col_expr(reclaim_items::Column::UndoneAt, Utc::now().into())
        .col_expr(
            reclaim_items::Column::UndoneBy,
            actor.subject.clone().into(),
        )
        .col_expr(
            reclaim_items::Column::UndoStartedAt,
            Option::<DateTime<Utc>>::None.into(),
        )
        .filter(reclaim_items::Column::Id.eq(item.id))
        .exec_with_returning(&transaction)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| Error::NotFound(format!("reclaim item {} was deleted", item.id)))?;
    if code == Code::Added {
        let provider_id = provider_of(&transaction, &item).await?;
        if restore_seat(&transaction, &item, provider_id).await? {
            let observer = Observer {
                reclaim_plan_id: Some(item.plan_id),
                ..Observer::default()
            };
            let added = Event::of_license(
                item.user_id,
                item.license_sku_id,
                EventKind::LicenseAdded,
                None,
                Some(json!({ "disabledPlans": item.disabled_plans, "direct": true })),
            );
            events::record(&transaction, provider_id, observer, Utc::now(), vec![added]).await?;
        }
    }
    transaction.commit().await?;
    Ok(row)
}

async fn provider_of(transaction: &sea_orm::DatabaseTransaction, item: &PlanItem) -> Result<i64> {
    reclaim_plans::Entity::find_by_id(item.plan_id)
        .one(transaction)
        .await?
        .map(|plan| plan.provider_id)
        .ok_or_else(|| Error::Corrupt(format!("reclaim item {} has no plan", item.id)))
}

/// The license is the user's again: the product says so before the next sync does. False when
/// the product already had it.
async fn restore_seat(
    transaction: &sea_orm::DatabaseTransaction,
    item: &PlanItem,
    provider_id: i64,
) -> Result<bool> {
    let now = Utc::now();
    let inserted = license_assignments::Entity::insert(license_assignments::ActiveModel {
        provider_id: Set(provider_id),
        user_id: Set(item.user_id),
        license_sku_id: Set(item.license_sku_id),
        disabled_plans: Set(item.disabled_plans.clone()),
        assigned_directly: Set(true),
        inherited_from_group_ids: Set(Value::Array(Vec::new())),
        state: Set(Some("Active".into())),
        error: Set(None),
        sources: Set(None),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            license_assignments::Column::UserId,
            license_assignments::Column::LicenseSkuId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(transaction)
    .await?;
    if inserted > 0 {
        license_skus::Entity::update_many()
            .col_expr(
                license_skus::Column::ConsumedUnits,
                Expr::col(license_skus::Column::ConsumedUnits).add(1),
            )
            .col_expr(license_skus::Column::UpdatedAt, now.into())
            .filter(license_skus::Column::Id.eq(item.license_sku_id))
            .exec(transaction)
            .await?;
    }
    Ok(inserted > 0)
}
