use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::license::MonthlyCost;
use super::report::FindingKind;
use super::sync_run::{ApiSyncStatus, SyncError};
use crate::api::context::{database, reclaim_settings};
use crate::api::cursor;
use crate::api::errors::ResultExt;
use crate::domain::reclaim_execution::{self, Execution};
use crate::domain::reclaim_plans::{self, PlanStatus};
use crate::domain::reclaim_undo;

const ITEMS_DEFAULT: u64 = 100;
const ITEMS_MAX: u64 = 500;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[graphql(remote = "PlanStatus")]
pub enum ReclaimPlanStatus {
    /// Made; an admin (another one, with LM_RECLAIM_FOUR_EYES) must approve it.
    PendingApproval,
    /// May be executed; may still be cancelled.
    Approved,
    /// Will never run (again): an execution under way stops at its next item.
    Cancelled,
    /// Its execution reached the last item; each item says what was done.
    Executed,
}

/// Where a plan's execution stands: its latest job and its items by outcome.
#[derive(SimpleObject)]
pub struct ReclaimExecution {
    /// The latest job; null until the plan is first executed.
    pub run_id: Option<ID>,
    /// QUEUED or RUNNING while it runs; FAILED or CANCELLED leave the items not done waiting
    /// for another `executeReclaimPlan`.
    pub status: Option<ApiSyncStatus>,
    /// Workers that took the job up: more than 1 after a worker died and another resumed it.
    pub attempt: i32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Why the latest job failed or was cancelled.
    pub error: Option<SyncError>,
    /// Items the execution acts on (REMOVE_DIRECT).
    pub items: i64,
    /// Of those, the ones with an outcome.
    pub done: i64,
    /// Items per outcome code (REMOVED, SKIPPED_STALE, …).
    pub outcomes: Vec<ReclaimOutcomeCount>,
}

#[derive(SimpleObject)]
pub struct ReclaimOutcomeCount {
    pub code: String,
    pub items: i64,
}

impl From<Execution> for ReclaimExecution {
    fn from(execution: Execution) -> Self {
        let run = execution.run;
        Self {
            run_id: run.as_ref().map(|run| ID(run.id.to_string())),
            status: run.as_ref().map(|run| run.status.into()),
            attempt: run.as_ref().map_or(0, |run| run.attempt),
            started_at: run.as_ref().and_then(|run| run.started_at),
            finished_at: run.as_ref().and_then(|run| run.finished_at),
            error: run.and_then(|run| run.error).map(SyncError::from),
            items: execution.items,
            done: execution.done,
            outcomes: execution
                .outcomes
                .into_iter()
                .map(|(code, items)| ReclaimOutcomeCount { code, items })
                .collect(),
        }
    }
}

/// What a reclaim plan would do, counted when it was made.
#[derive(SimpleObject)]
pub struct ReclaimPlanSummary {
    pub items: i64,
    /// Seats the plan frees: its items whose action is REMOVE_DIRECT.
    pub to_remove: i64,
    /// Items a person must act on, each saying why.
    pub manual: i64,
    /// Per currency, of the seats to free; never converted.
    pub monthly_saving: Vec<MonthlyCost>,
    /// Seats to free whose SKU has no price: their saving is not in monthlySaving.
    pub unpriced: i64,
}

/// What a plan could not find out when it was made, with what to do about it.
#[derive(SimpleObject)]
pub struct ReclaimPlanWarning {
    /// Stable code, e.g. GROUPS_UNAVAILABLE.
    pub code: String,
    pub message: String,
    pub hint: String,
}

/// A group a plan item's license comes through, as the provider named it when the plan was
/// made. Only `id` is known when the group could not be read (see the plan's `warnings`).
#[derive(SimpleObject)]
pub struct ReclaimItemGroup {
    /// The provider's id of the group.
    pub id: String,
    /// Null when the group could not be read.
    pub display_name: Option<String>,
    /// A rule decides its members: the user leaves when the rule stops matching, so change the
    /// rule. Null when unknown.
    pub dynamic: Option<bool>,
    /// Its members are managed in an on-premises directory: it cannot be changed through the
    /// provider's service at all. Null when unknown.
    pub synced_from_on_premises: Option<bool>,
    /// False when the provider no longer has the group; null when it was not read.
    pub found: Option<bool>,
}

impl From<reclaim_plans::ItemGroup> for ReclaimItemGroup {
    fn from(group: reclaim_plans::ItemGroup) -> Self {
        Self {
            id: group.id,
            display_name: group.display_name,
            dynamic: group.dynamic,
            synced_from_on_premises: group.synced_from_on_premises,
            found: group.found,
        }
    }
}

/// A dry run of freeing seats: fixed when made, approved or cancelled, never edited.
pub struct ReclaimPlan(pub reclaim_plans::Plan);

#[Object]
impl ReclaimPlan {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn provider_id(&self) -> ID {
        ID(self.0.provider_id.to_string())
    }

    async fn status(&self) -> ReclaimPlanStatus {
        self.0.status.into()
    }

    async fn summary(&self) -> ReclaimPlanSummary {
        let summary = &self.0.summary;
        ReclaimPlanSummary {
            items: summary.items,
            to_remove: summary.to_remove,
            manual: summary.manual,
            monthly_saving: summary
                .monthly_saving
                .iter()
                .map(|saving| MonthlyCost {
                    amount: saving.amount.clone(),
                    currency: saving.currency.clone(),
                })
                .collect(),
            unpriced: summary.unpriced,
        }
    }

    /// What the plan could not find out when it was made (GROUPS_UNAVAILABLE: its groups are
    /// named by id only); empty when nothing was missing.
    async fn warnings(&self) -> Vec<ReclaimPlanWarning> {
        self.0
            .summary
            .warnings
            .iter()
            .map(|notice| ReclaimPlanWarning {
                code: notice.code.clone(),
                message: notice.message.clone(),
                hint: notice.hint.clone(),
            })
            .collect()
    }

    /// The filters it was made from: kinds (empty: all of a user's license), SKU and user ids
    /// (empty: all), and the report's inactivity threshold.
    async fn kinds(&self) -> &[String] {
        &self.0.filter.kinds
    }

    async fn sku_ids(&self) -> Vec<ID> {
        self.0
            .filter
            .sku_ids
            .iter()
            .map(|id| ID(id.to_string()))
            .collect()
    }

    async fn user_ids(&self) -> Vec<ID> {
        self.0
            .filter
            .user_ids
            .iter()
            .map(|id| ID(id.to_string()))
            .collect()
    }

    async fn inactive_days(&self) -> i64 {
        self.0.filter.inactive_days
    }

    async fn created_by(&self) -> &str {
        &self.0.created_by
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Who approved or cancelled it.
    async fn decided_by(&self) -> Option<&str> {
        self.0.decided_by.as_deref()
    }

    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }

    /// When its execution reached the last item.
    async fn executed_at(&self) -> Option<DateTime<Utc>> {
        self.0.executed_at
    }

    /// How far its execution has come.
    async fn execution(&self, ctx: &Context<'_>) -> Result<ReclaimExecution> {
        let execution = reclaim_execution::execution(database(ctx)?, self.0.id)
            .await
            .api()?;
        Ok(execution.into())
    }

    /// Its items in the order they were planned: by user, then SKU. `first` at most 500;
    /// default 100.
    #[graphql(complexity = "first.unwrap_or(100).max(0) as usize * child_complexity")]
    async fn items(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, ReclaimItem, EmptyFields, EmptyFields>> {
        let limit = cursor::page_size(first, ITEMS_DEFAULT, ITEMS_MAX)?;
        let after_id = after
            .as_deref()
            .map(|after| cursor::decode::<i64>("after", after))
            .transpose()?;
        let mut rows = reclaim_plans::items(database(ctx)?, self.0.id, limit + 1, after_id)
            .await
            .api()?;
        let has_next = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let mut connection = Connection::new(after_id.is_some(), has_next);
        connection.edges.extend(
            rows.into_iter()
                .map(|row| Edge::new(cursor::encode(&row.id), ReclaimItem(row))),
        );
        Ok(connection)
    }
}

impl From<reclaim_plans::Plan> for ReclaimPlan {
    fn from(plan: reclaim_plans::Plan) -> Self {
        Self(plan)
    }
}

/// One license of one user in a plan, as it was when the plan was made.
pub struct ReclaimItem(reclaim_plans::PlanItem);

impl From<reclaim_plans::PlanItem> for ReclaimItem {
    fn from(item: reclaim_plans::PlanItem) -> Self {
        Self(item)
    }
}

#[Object]
impl ReclaimItem {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn user_id(&self) -> ID {
        ID(self.0.user_id.to_string())
    }

    async fn user_principal_name(&self) -> &str {
        &self.0.user_principal_name
    }

    async fn sku_id(&self) -> ID {
        ID(self.0.license_sku_id.to_string())
    }

    async fn sku_display_name(&self) -> &str {
        &self.0.sku_display_name
    }

    /// The finding's kind, as a string of `FindingKind`.
    async fn finding_kind(&self) -> &str {
        &self.0.finding_kind
    }

    async fn evidence(&self) -> &str {
        &self.0.evidence
    }

    /// REMOVE_DIRECT: removing the user's own assignment frees the seat. MANUAL: a person must
    /// act, for `manualReason`.
    async fn action(&self) -> &str {
        &self.0.action
    }

    /// INHERITED_FROM_GROUP (the license comes from `groups`: it stays until the user leaves
    /// them or they lose it), LICENSE_ERROR (a path reports an error), ACCEPTED (an admin keeps
    /// it), NOT_SUBSCRIBED (no seat of it is paid for); null for REMOVE_DIRECT.
    async fn manual_reason(&self) -> Option<&str> {
        self.0.manual_reason.as_deref()
    }

    /// Why a person must act and what they can do, in words, e.g. which kind of group keeps the
    /// seat and how the user leaves it; null for REMOVE_DIRECT.
    async fn manual_explanation(&self) -> Result<Option<String>> {
        reclaim_plans::manual_explanation(&self.0).api()
    }

    /// The ids of `groups`.
    async fn group_ids(&self) -> Vec<String> {
        ids(&self.0.groups)
    }

    /// The groups the license (also) comes through, named as the provider had them when the
    /// plan was made.
    async fn groups(&self) -> Result<Vec<ReclaimItemGroup>> {
        let groups = reclaim_plans::item_groups(&self.0).api()?;
        Ok(groups.into_iter().map(ReclaimItemGroup::from).collect())
    }

    /// Service plans switched off in the license: an undo assigns it again with these off.
    async fn disabled_plans(&self) -> Result<Vec<String>> {
        serde_json::from_value(self.0.disabled_plans.clone())
            .map_err(|error| {
                crate::Error::Corrupt(format!(
                    "reclaim item {} disabled plans: {error}",
                    self.0.id
                ))
            })
            .api()
    }

    /// What removing it saves per month; null for manual items and unpriced SKUs.
    async fn monthly_saving(&self) -> Option<MonthlyCost> {
        if self.0.manual_reason.is_some() {
            return None;
        }
        Some(MonthlyCost {
            amount: self.0.monthly_cost_amount.clone()?,
            currency: self.0.monthly_cost_currency.clone()?,
        })
    }

    /// What execution did: REMOVED, ALREADY_REMOVED, SKIPPED_STALE, INHERITED_FROM_GROUP,
    /// USER_NOT_FOUND, …; null while the item waits, and for MANUAL items.
    async fn outcome(&self) -> Option<ReclaimOutcome> {
        outcome(
            self.0.outcome.as_ref(),
            self.0.outcome_message.as_ref(),
            self.0.outcome_hint.as_ref(),
            self.0.finished_at,
        )
    }

    /// What undo did: ADDED, COUNT_VIOLATION, USAGE_LOCATION_MISSING, …; null until undone.
    async fn undo(&self) -> Option<ReclaimOutcome> {
        outcome(
            self.0.undo_outcome.as_ref(),
            self.0.undo_message.as_ref(),
            self.0.undo_hint.as_ref(),
            self.0.undone_at,
        )
    }

    /// Who undid it.
    async fn undone_by(&self) -> Option<&str> {
        self.0.undone_by.as_deref()
    }

    /// Until when `undoReclaim` may put the license back; null when there is nothing to undo.
    async fn undoable_until(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        Ok(reclaim_undo::undoable_until(
            &self.0,
            reclaim_settings(ctx)?,
        ))
    }
}

/// How execution or undo ended for an item.
#[derive(SimpleObject)]
pub struct ReclaimOutcome {
    pub code: String,
    pub message: String,
    pub hint: String,
    pub at: Option<DateTime<Utc>>,
}

fn outcome(
    code: Option<&String>,
    message: Option<&String>,
    hint: Option<&String>,
    at: Option<DateTime<Utc>>,
) -> Option<ReclaimOutcome> {
    Some(ReclaimOutcome {
        code: code?.clone(),
        message: message.cloned().unwrap_or_default(),
        hint: hint.cloned().unwrap_or_default(),
        at,
    })
}

fn ids(groups: &Value) -> Vec<String> {
    groups
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|group| group["id"].as_str().map(str::to_owned))
        .collect()
}

/// Which findings of one provider's license report a plan is made of.
#[derive(InputObject)]
pub struct CreateReclaimPlanInput {
    pub provider_id: ID,
    /// Empty or absent: every kind of a user's license (not UNASSIGNED_SEATS).
    pub kinds: Option<Vec<FindingKind>>,
    /// License SKU ids; empty or absent: every SKU.
    pub sku_ids: Option<Vec<ID>>,
    /// Directory user ids; empty or absent: every user.
    pub user_ids: Option<Vec<ID>>,
    /// The report's inactivity threshold.
    #[graphql(default = 90)]
    pub inactive_days: i32,
}
