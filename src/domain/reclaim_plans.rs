//! Reclaim plans: the dry run of freeing wasted seats. A plan is made from the license report's
//! findings for one provider and fixed at once — every item one user's license, with its
//! finding, evidence, the exact action and what it would save — so that the admin who approves
//! it approves exactly what will run. A plan is approved or cancelled, never edited.
//!
//! What a plan does about a license:
//! - **remove the direct assignment** when the license is the user's own and comes from no
//!   group: removing it frees the seat;
//! - **manual**, saying why, when removing it through the provider would free nothing or is not
//!   the product's call: the license also comes from groups (named; leaving a group is a person's
//!   decision), a path of it is in an error state, or an admin accepted the finding.
//!
//! The groups are named from the provider's service when the plan is made, with whether a rule
//! or an on-premises directory decides their members: that decides what the admin must do. A
//! plan whose groups cannot be read is still made, naming them by id, with a warning.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::audit::{self, Actor, Target};
use super::money::{self, Costs};
use super::providers::{self as provider_service, ProviderRegistry};
use super::reclaim_execution;
use super::reports::{Finding, FindingKind, Report};
use super::sync_runs::Notice;
use crate::codes::Code;
use crate::crypto::SecretKeyring;
use crate::entities::{license_assignments, providers, reclaim_items, reclaim_plans};
use crate::error::{Error, Result};
use crate::providers::ProviderError;
use crate::providers::records::GroupRecord;
use crate::sync::events::RunEvents;

/// Items written per statement.
const INSERT_CHUNK: usize = 500;

/// How long a plan waits for the provider to name its groups: someone is waiting for the plan,
/// which is worth having without the names.
const GROUP_READ_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// What the server lets reclaim do (`LM_RECLAIM_*`).
#[derive(Clone, Copy, Debug)]
pub struct ReclaimSettings {
    /// An admin may not approve a plan they made: a second admin must.
    pub four_eyes: bool,
    /// Items in one plan at most: a plan is read whole by the person approving it.
    pub max_plan_items: usize,
    /// Plans waiting for approval or execution per provider at most.
    pub max_open_plans: u64,
    /// Days after its removal that an item's license may be put back by undo.
    pub undo_days: i64,
}

impl Default for ReclaimSettings {
    fn default() -> Self {
        Self {
            four_eyes: false,
            max_plan_items: 5_000,
            max_open_plans: 20,
            undo_days: 30,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanStatus {
    PendingApproval,
    /// May be executed; stays so while it runs, and after a run that stopped before its end.
    Approved,
    Cancelled,
    /// Its execution reached the last item.
    Executed,
}

impl PlanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingApproval => "PENDING_APPROVAL",
            Self::Approved => "APPROVED",
            Self::Cancelled => "CANCELLED",
            Self::Executed => "EXECUTED",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Self::PendingApproval,
            Self::Approved,
            Self::Cancelled,
            Self::Executed,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemAction {
    RemoveDirect,
    Manual,
}

impl ItemAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RemoveDirect => "REMOVE_DIRECT",
            Self::Manual => "MANUAL",
        }
    }
}

/// Why a person, not the plan, must act on a license.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManualReason {
    /// The license (also) comes from groups: removing the user's own assignment frees nothing.
    InheritedFromGroup,
    /// A path of the license reports an error: it must be understood before anything changes.
    LicenseError,
    /// An admin decided to keep it.
    Accepted,
    /// The organization no longer subscribes to the SKU: no seat is paid for, so removing it
    /// saves nothing, and the provider may refuse to change it.
    NotSubscribed,
}

impl ManualReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InheritedFromGroup => "INHERITED_FROM_GROUP",
            Self::LicenseError => "LICENSE_ERROR",
            Self::Accepted => "ACCEPTED",
            Self::NotSubscribed => "NOT_SUBSCRIBED",
        }
    }
}

/// Which findings a plan is made of: those of one provider, narrowed by kind, SKU and user.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanFilter {
    pub provider_id: i64,
    /// Empty: every kind of a user's license.
    pub kinds: Vec<String>,
    /// License SKU row ids; empty: every SKU.
    pub sku_ids: Vec<i64>,
    /// Directory user row ids; empty: every user.
    pub user_ids: Vec<i64>,
    pub inactive_days: i64,
}

impl PlanFilter {
    fn keeps(&self, finding: &Finding, kinds: &[FindingKind]) -> bool {
        let Some(user) = &finding.user else {
            return false;
        };
        finding.sku.provider_id == self.provider_id
            && (kinds.is_empty() || kinds.contains(&finding.kind))
            && (self.sku_ids.is_empty() || self.sku_ids.contains(&finding.sku.id))
            && (self.user_ids.is_empty() || self.user_ids.contains(&user.id))
    }
}

/// What a plan would do, counted when it was made.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanSummary {
    pub items: i64,
    /// Seats the plan frees: its `REMOVE_DIRECT` items.
    pub to_remove: i64,
    pub manual: i64,
    /// Per currency, of the items to remove; `[{amount, currency}]`.
    pub monthly_saving: Vec<Saving>,
    /// Items to remove whose SKU has no price: their saving is unknown.
    pub unpriced: i64,
    /// What the plan could not find out when it was made (the names of groups), with what to
    /// do about it. Absent from plans made before there were any.
    #[serde(default)]
    pub warnings: Vec<Notice>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Saving {
    pub amount: String,
    pub currency: String,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub id: i64,
    pub provider_id: i64,
    pub status: PlanStatus,
    pub filter: PlanFilter,
    pub summary: PlanSummary,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub executed_at: Option<DateTime<Utc>>,
}

impl TryFrom<reclaim_plans::Model> for Plan {
    type Error = Error;

    fn try_from(row: reclaim_plans::Model) -> Result<Self> {
        let corrupt = |what: &str| Error::Corrupt(format!("reclaim plan {}: {what}", row.id));
        Ok(Self {
            id: row.id,
            provider_id: row.provider_id,
            status: PlanStatus::parse(&row.status).ok_or_else(|| corrupt("unknown status"))?,
            filter: serde_json::from_value(row.filters)
                .map_err(|error| corrupt(&format!("filters: {error}")))?,
            summary: serde_json::from_value(row.summary)
                .map_err(|error| corrupt(&format!("summary: {error}")))?,
            created_by: row.created_by,
            created_at: row.created_at,
            decided_by: row.decided_by,
            decided_at: row.decided_at,
            executed_at: row.executed_at,
        })
    }
}

/// One item as stored: the plan reads as it was made, whatever the directory became.
pub type PlanItem = reclaim_items::Model;

/// What the plan does about one finding.
fn action_for(finding: &Finding) -> (ItemAction, Option<ManualReason>) {
    let removal = finding.removal.as_ref();
    let reason = if finding.acceptance.is_some() {
        Some(ManualReason::Accepted)
    } else if !finding.sku.subscribed {
        Some(ManualReason::NotSubscribed)
    } else if removal.is_some_and(|removal| !removal.errors.is_empty()) {
        Some(ManualReason::LicenseError)
    } else if removal.is_none_or(|removal| !removal.frees_seat()) {
        Some(ManualReason::InheritedFromGroup)
    } else {
        None
    };
    match reason {
        Some(reason) => (ItemAction::Manual, Some(reason)),
        None => (ItemAction::RemoveDirect, None),
    }
}

/// The disabled service plans of the licenses of `findings`, by user and SKU: the report does
/// not read them, and an undo needs them. One statement per chunk of users.
async fn disabled_plans(
    conn: &impl ConnectionTrait,
    findings: &[&Finding],
) -> Result<HashMap<(i64, i64), Value>> {
    let mut found = HashMap::new();
    let users: Vec<i64> = findings
        .iter()
        .filter_map(|finding| finding.user.as_ref().map(|user| user.id))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    for chunk in users.chunks(INSERT_CHUNK) {
        let rows = license_assignments::Entity::find()
            .filter(license_assignments::Column::UserId.is_in(chunk.iter().copied()))
            .all(conn)
            .await?;
        found.extend(
            rows.into_iter()
                .map(|row| ((row.user_id, row.license_sku_id), row.disabled_plans)),
        );
    }
    Ok(found)
}

/// A group a plan item's license comes through, as the plan stored it. Only the id is known
/// when the group could not be read (and in plans made before groups were named).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemGroup {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced_from_on_premises: Option<bool>,
    /// False when the provider no longer has the group; None when it was not asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<bool>,
}

impl ItemGroup {
    fn unread(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            display_name: None,
            dynamic: None,
            synced_from_on_premises: None,
            found: None,
        }
    }

    /// Its name, or its id when it could not be read.
    pub fn name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.id)
    }

    /// What it takes for the user to leave it, in words.
    fn describe(&self) -> String {
        let name = self.name();
        match (self.found, self.synced_from_on_premises, self.dynamic) {
            (Some(false), _, _) => format!(
                "{name} (no longer at the provider: the next full sync updates this license)"
            ),
            (_, Some(true), _) => format!(
                "{name} (synced from on-premises: change its members in the on-premises \
                 directory, the provider cannot)"
            ),
            (_, _, Some(true)) => {
                format!("{name} (dynamic: its membership rule decides; change the rule)")
            }
            (Some(true), _, _) => format!("{name} (static group: remove the user from the group)"),
            _ => format!("{name} (not read from the provider: see the plan's warnings)"),
        }
    }
}

/// The groups of a stored item.
pub fn item_groups(item: &PlanItem) -> Result<Vec<ItemGroup>> {
    serde_json::from_value(item.groups.clone())
        .map_err(|error| Error::Corrupt(format!("reclaim item {} groups: {error}", item.id)))
}

/// Why a person must act on a manual item and what they can do, in words; None for an item the
/// plan removes.
pub fn manual_explanation(item: &PlanItem) -> Result<Option<String>> {
    let Some(reason) = item.manual_reason.as_deref() else {
        return Ok(None);
    };
    let text = match reason {
        reason if reason == ManualReason::InheritedFromGroup.as_str() => {
            let groups: Vec<String> = item_groups(item)?.iter().map(ItemGroup::describe).collect();
            match groups.as_slice() {
                [] => "The license comes through a group the provider did not name: it stays \
                       until the user leaves that group."
                    .to_owned(),
                [group] => format!("The seat stays while the user is in group {group}."),
                _ => format!(
                    "The seat stays while the user is in any of the groups {}.",
                    groups.join("; ")
                ),
            }
        }
        reason if reason == ManualReason::LicenseError.as_str() => {
            "A path of this license reports an error at the provider: resolve it there before \
             changing anything."
                .to_owned()
        }
        reason if reason == ManualReason::Accepted.as_str() => {
            "An admin accepted this finding: the license stays while the acceptance lasts."
                .to_owned()
        }
        reason if reason == ManualReason::NotSubscribed.as_str() => {
            "The organization no longer subscribes to this SKU: no seat is paid for, so removing              it saves nothing. Remove it at the provider if the user should not see it."
                .to_owned()
        }
        other => format!("Manual: {other}."),
    };
    Ok(Some(text))
}

/// The groups a plan's licenses come through, as the provider named them.
#[derive(Default)]
struct NamedGroups {
    /// Whether the provider answered: an id it answered without is a group it no longer has.
    read: bool,
    groups: HashMap<String, GroupRecord>,
}

impl NamedGroups {
    fn item_group(&self, id: &str) -> ItemGroup {
        if !self.read {
            return ItemGroup::unread(id);
        }
        match self.groups.get(&id.to_ascii_lowercase()) {
            Some(group) => ItemGroup {
                id: id.to_owned(),
                display_name: Some(group.display_name.clone()),
                dynamic: Some(group.dynamic),
                synced_from_on_premises: Some(group.synced_from_on_premises),
                found: Some(true),
            },
            None => ItemGroup {
                found: Some(false),
                ..ItemGroup::unread(id)
            },
        }
    }
}

/// Where a plan reads the groups its licenses come through: the provider's service, connected
/// only for a plan that has such licenses.
#[derive(Clone, Copy)]
pub struct GroupSource<'a> {
    pub keyring: &'a SecretKeyring,
    pub registry: &'a ProviderRegistry,
}

impl GroupSource<'_> {
    /// Reads each group of `findings` once. A failure (a permission missing, the service
    /// unavailable, a secret that does not open) leaves the groups unnamed, with a warning:
    /// the plan is worth having without names.
    async fn name(
        self,
        db: &DatabaseConnection,
        provider_id: i64,
        findings: &[&Finding],
    ) -> (NamedGroups, Option<Notice>) {
        let ids: Vec<String> = findings
            .iter()
            .filter_map(|finding| finding.removal.as_ref())
            .flat_map(|removal| removal.via_group_ids.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if ids.is_empty() {
            return (NamedGroups::default(), None);
        }
        let read = async {
            let connection =
                provider_service::connect(db, self.keyring, self.registry, provider_id)
                    .await
                    .map_err(|error| {
                        ProviderError::other(
                            error.code(),
                            error.to_string(),
                            "Test the provider's connection: it says what to fix.",
                        )
                    })?;
            connection.client.groups(&ids).await
        };
        let read = tokio::time::timeout(GROUP_READ_BUDGET, read)
            .await
            .unwrap_or_else(|_| {
                Err(ProviderError::other(
                    Code::ProviderUnavailable,
                    format!(
                        "the provider did not answer within {} s",
                        GROUP_READ_BUDGET.as_secs()
                    ),
                    "Make the plan again later to have its groups named.",
                ))
            });
        match read {
            Ok(groups) => {
                let groups = groups
                    .into_iter()
                    .map(|group| (group.id.to_ascii_lowercase(), group))
                    .collect();
                (NamedGroups { read: true, groups }, None)
            }
            Err(error) => {
                tracing::warn!(provider_id, %error, "reclaim plan: groups not named");
                let warning = Notice {
                    code: Code::GroupsUnavailable.as_str().to_owned(),
                    message: format!(
                        "the {} group(s) licenses come through are named by id only: {}",
                        ids.len(),
                        error.message
                    ),
                    hint: error.hint,
                };
                (NamedGroups::default(), Some(warning))
            }
        }
    }
}

fn item_row(
    plan_id: i64,
    finding: &Finding,
    disabled_plans: &HashMap<(i64, i64), Value>,
    named: &NamedGroups,
) -> Option<reclaim_items::ActiveModel> {
    let user = finding.user.as_ref()?;
    let (action, reason) = action_for(finding);
    let removal = finding.removal.clone().unwrap_or_default();
    let groups: Vec<ItemGroup> = removal
        .via_group_ids
        .iter()
        .map(|id| named.item_group(id))
        .collect();
    let cost = finding.monthly_cost.as_ref();
    Some(reclaim_items::ActiveModel {
        plan_id: Set(plan_id),
        user_id: Set(user.id),
        license_sku_id: Set(finding.sku.id),
        user_external_id: Set(user.external_id.clone()),
        user_principal_name: Set(user.user_principal_name.clone()),
        sku_external_id: Set(finding.sku.sku_id.clone()),
        sku_display_name: Set(finding.sku.display_name.clone()),
        finding_kind: Set(finding.kind.as_str().to_owned()),
        evidence: Set(finding.evidence.clone()),
        action: Set(action.as_str().to_owned()),
        manual_reason: Set(reason.map(|reason| reason.as_str().to_owned())),
        groups: Set(json!(groups)),
        disabled_plans: Set(disabled_plans
            .get(&(user.id, finding.sku.id))
            .cloned()
            .unwrap_or_else(|| json!([]))),
        monthly_cost_amount: Set(cost.map(|(_, amount)| money::shown(*amount).to_string())),
        monthly_cost_currency: Set(cost.map(|(currency, _)| currency.clone())),
        contained_in_sku_external_id: Set(finding
            .contained_in
            .as_ref()
            .map(|container| container.sku_id.clone())),
        ..Default::default()
    })
}

fn summarize(findings: &[&Finding]) -> PlanSummary {
    let mut summary = PlanSummary::default();
    let mut saving = Costs::default();
    for finding in findings {
        summary.items += 1;
        match action_for(finding).0 {
            ItemAction::Manual => summary.manual += 1,
            ItemAction::RemoveDirect => {
                summary.to_remove += 1;
                match &finding.monthly_cost {
                    Some((currency, amount)) => saving.add(currency, *amount),
                    None => summary.unpriced += 1,
                }
            }
        }
    }
    summary.monthly_saving = saving
        .iter()
        .map(|(currency, amount)| Saving {
            amount: money::shown(amount).to_string(),
            currency: currency.to_owned(),
        })
        .collect();
    summary
}

pub(super) fn target(provider_id: Option<i64>, id: Option<i64>) -> Target {
    Target {
        kind: "reclaim_plan",
        id: id.map(|id| id.to_string()),
        provider_id,
    }
}

/// Makes a plan from `report` (the provider's, at `filter.inactive_days`), naming the groups
/// its licenses come through from `groups`.
pub async fn create(
    db: &DatabaseConnection,
    settings: ReclaimSettings,
    actor: &Actor,
    report: &Report,
    filter: PlanFilter,
    groups: GroupSource<'_>,
) -> Result<Plan> {
    let provider_id = filter.provider_id;
    let result = create_checked(db, settings, actor, report, filter, groups).await;
    audit::on_failure(
        db,
        actor,
        "reclaim.plan.create",
        target(Some(provider_id), None),
        result,
    )
    .await
}

fn parse_kinds(names: &[String]) -> Result<Vec<FindingKind>> {
    let kinds = names
        .iter()
        .map(|name| FindingKind::parse("kinds", name))
        .collect::<Result<Vec<_>>>()?;
    if kinds.contains(&FindingKind::UnassignedSeats) {
        return Err(Error::invalid(
            "kinds",
            "unassigned seats are nobody's license: a plan removes users' licenses",
        ));
    }
    Ok(kinds)
}

async fn create_checked(
    db: &DatabaseConnection,
    settings: ReclaimSettings,
    actor: &Actor,
    report: &Report,
    filter: PlanFilter,
    groups: GroupSource<'_>,
) -> Result<Plan> {
    let kinds = parse_kinds(&filter.kinds)?;
    providers::Entity::find_by_id(filter.provider_id)
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no provider {}", filter.provider_id)))?;
    let findings: Vec<&Finding> = report
        .findings
        .iter()
        .map(AsRef::as_ref)
        .filter(|finding| filter.keeps(finding, &kinds))
        .collect();
    if findings.is_empty() {
        return Err(Error::invalid(
            "filter",
            "no finding of a user's license matches these filters: there is nothing to plan",
        ));
    }
    if findings.len() > settings.max_plan_items {
        return Err(Error::invalid(
            "filter",
            format!(
                "{} findings match, more than a plan may hold ({}, LM_RECLAIM_MAX_PLAN_ITEMS): \
                 narrow the filters, by kind or SKU",
                findings.len(),
                settings.max_plan_items
            ),
        ));
    }
    // Read before the transaction: no database lock waits on the provider's service.
    let (named, warning) = groups.name(db, filter.provider_id, &findings).await;
    let mut summary = summarize(&findings);
    summary.warnings.extend(warning);
    let transaction = db.begin().await?;
    let open = reclaim_plans::Entity::find()
        .filter(reclaim_plans::Column::ProviderId.eq(filter.provider_id))
        .filter(reclaim_plans::Column::Status.is_in(open_statuses()))
        .count(&transaction)
        .await?;
    if open >= settings.max_open_plans {
        return Err(Error::Conflict(format!(
            "this provider has {open} plans waiting for approval or execution, the most allowed \
             (LM_RECLAIM_MAX_OPEN_PLANS): cancel one first"
        )));
    }
    let disabled_plans = disabled_plans(&transaction, &findings).await?;
    let now = Utc::now();
    let plan = reclaim_plans::ActiveModel {
        provider_id: Set(filter.provider_id),
        status: Set(PlanStatus::PendingApproval.as_str().to_owned()),
        filters: Set(json!(filter)),
        summary: Set(json!(summary)),
        created_by: Set(actor.subject.clone()),
        created_at: Set(now),
        decided_by: Set(None),
        decided_at: Set(None),
        executed_at: Set(None),
        ..Default::default()
    }
    .insert(&transaction)
    .await?;
    // The report holds a user's license once, so no item is made twice.
    for chunk in findings.chunks(INSERT_CHUNK) {
        let rows: Vec<_> = chunk
            .iter()
            .filter_map(|finding| item_row(plan.id, finding, &disabled_plans, &named))
            .collect();
        reclaim_items::Entity::insert_many(rows)
            .exec_without_returning(&transaction)
            .await?;
    }
    audit::record(
        &transaction,
        actor,
        "reclaim.plan.create",
        &target(Some(plan.provider_id), Some(plan.id)),
        audit::SUCCEEDED,
        Some(json!({ "filter": filter, "summary": summary })),
    )
    .await?;
    transaction.commit().await?;
    Plan::try_from(plan)
}

fn open_statuses() -> [&'static str; 2] {
    [
        PlanStatus::PendingApproval.as_str(),
        PlanStatus::Approved.as_str(),
    ]
}

/// Approves a plan waiting for approval; with four eyes, only an admin who did not make it.
pub async fn approve(
    db: &DatabaseConnection,
    settings: ReclaimSettings,
    actor: &Actor,
    id: i64,
) -> Result<Plan> {
    let result = decide(db, actor, id, PlanStatus::Approved, |plan| {
        if plan.status != PlanStatus::PendingApproval {
            return Err(Error::Conflict(format!(
                "plan {id} is {}: only a plan waiting for approval can be approved",
                plan.status.as_str()
            )));
        }
        if settings.four_eyes && plan.created_by == actor.subject {
            return Err(Error::Forbidden(format!(
                "plan {id} was made by you: another admin must approve it (LM_RECLAIM_FOUR_EYES)"
            )));
        }
        Ok(())
    })
    .await;
    audit::on_failure(
        db,
        actor,
        "reclaim.plan.approve",
        target(None, Some(id)),
        result,
    )
    .await
}

/// Cancels a plan that has not run to its end: it can then never run, and an execution under
/// way stops at its next item (what it did stays done, and can be undone).
pub async fn cancel(
    db: &DatabaseConnection,
    events: &RunEvents,
    actor: &Actor,
    id: i64,
) -> Result<Plan> {
    let result = async {
        let plan = decide(db, actor, id, PlanStatus::Cancelled, |plan| {
            match plan.status {
                PlanStatus::Cancelled => {
                    Err(Error::Conflict(format!("plan {id} is cancelled already")))
                }
                PlanStatus::Executed => Err(Error::Conflict(format!(
                    "plan {id} was executed: undo its items instead"
                ))),
                _ => Ok(()),
            }
        })
        .await?;
        reclaim_execution::stop(db, events, id).await?;
        Ok(plan)
    }
    .await;
    audit::on_failure(
        db,
        actor,
        "reclaim.plan.cancel",
        target(None, Some(id)),
        result,
    )
    .await
}

/// Moves a plan to `to` when `allowed` says it may, recording who and when, in one
/// transaction: two admins deciding at once cannot both succeed.
async fn decide(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i64,
    to: PlanStatus,
    allowed: impl FnOnce(&Plan) -> Result<()>,
) -> Result<Plan> {
    let transaction = db.begin().await?;
    let row = reclaim_plans::Entity::find_by_id(id)
        .one(&transaction)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no reclaim plan {id}")))?;
    let before = Plan::try_from(row.clone())?;
    allowed(&before)?;
    let now = Utc::now();
    // Only from the status read: a concurrent decision in between changes no row here.
    let changed = reclaim_plans::Entity::update_many()
        .col_expr(reclaim_plans::Column::Status, to.as_str().into())
        .col_expr(
            reclaim_plans::Column::DecidedBy,
            actor.subject.clone().into(),
        )
        .col_expr(reclaim_plans::Column::DecidedAt, now.into())
        .filter(reclaim_plans::Column::Id.eq(id))
        .filter(reclaim_plans::Column::Status.eq(before.status.as_str()))
        .exec(&transaction)
        .await?;
    if changed.rows_affected != 1 {
        return Err(Error::Conflict(format!(
            "plan {id} was decided by someone else meanwhile"
        )));
    }
    let action = match to {
        PlanStatus::Approved => "reclaim.plan.approve",
        _ => "reclaim.plan.cancel",
    };
    audit::record(
        &transaction,
        actor,
        action,
        &target(Some(before.provider_id), Some(id)),
        audit::SUCCEEDED,
        Some(json!({ "from": before.status.as_str() })),
    )
    .await?;
    transaction.commit().await?;
    Ok(Plan {
        status: to,
        decided_by: Some(actor.subject.clone()),
        decided_at: Some(now),
        ..before
    })
}

pub async fn get(db: &DatabaseConnection, id: i64) -> Result<Option<Plan>> {
    reclaim_plans::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(Plan::try_from)
        .transpose()
}

/// Plans of one provider or all, newest first, `limit` before `before_id`.
pub async fn list(
    db: &DatabaseConnection,
    provider_id: Option<i64>,
    limit: u64,
    before_id: Option<i64>,
) -> Result<Vec<Plan>> {
    let mut query = reclaim_plans::Entity::find().order_by_desc(reclaim_plans::Column::Id);
    if let Some(provider_id) = provider_id {
        query = query.filter(reclaim_plans::Column::ProviderId.eq(provider_id));
    }
    if let Some(before_id) = before_id {
        query = query.filter(reclaim_plans::Column::Id.lt(before_id));
    }
    query
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(Plan::try_from)
        .collect()
}

/// A plan's items in the order they were planned, `limit` after `after_id`.
pub async fn items(
    db: &DatabaseConnection,
    plan_id: i64,
    limit: u64,
    after_id: Option<i64>,
) -> Result<Vec<PlanItem>> {
    let mut query = reclaim_items::Entity::find()
        .filter(reclaim_items::Column::PlanId.eq(plan_id))
        .order_by_asc(reclaim_items::Column::Id);
    if let Some(after_id) = after_id {
        query = query.filter(reclaim_items::Column::Id.gt(after_id));
    }
    Ok(query.limit(limit).all(db).await?)
}
