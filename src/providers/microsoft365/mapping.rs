//! Graph's objects as provider records: ids lower-cased, absent values given their meaning, and
//! the paths of each license joined with what the user holds.

use std::collections::BTreeMap;

use serde_json::json;

use super::catalog;
use super::graph::{
    CommerceSubscription, DeltaItem, Group, RemovedReason, SignInActivity, SubscribedSku, User,
    UserDelta,
};
use crate::providers::records::{
    AssignedSku, AssignmentError, AssignmentState, GroupRecord, LicensePaths, LicenseRecord,
    LicenseSource, SignInDates, SkuRecord, SubscriptionRecord, UserChange, UserPatch, UserRecord,
};

fn lower(id: &str) -> String {
    id.to_ascii_lowercase()
}

/// A group as a reclaim plan names it; a group without a name (Graph always sends one) is
/// named by its id.
pub fn group_record(group: Group) -> GroupRecord {
    GroupRecord {
        dynamic: group.is_dynamic(),
        synced_from_on_premises: group.is_synced_from_on_premises(),
        display_name: group
            .display_name
            .clone()
            .filter(|name| !name.trim().is_empty())
            .unwrap_or_else(|| group.id.clone()),
        id: lower(&group.id),
    }
}

pub fn sign_in_dates(activity: &SignInActivity) -> SignInDates {
    SignInDates {
        last_interactive: activity.last_sign_in_date_time,
        last_non_interactive: activity.last_non_interactive_sign_in_date_time,
        last_successful: activity.last_successful_sign_in_date_time,
    }
}

/// Joins `assignedLicenses` (what the user holds, with its effective disabled plans) with
/// `licenseAssignmentStates` (each path it came by: directly or through a group, and whether
/// that path failed). Graph's "None" for "no error" is read here, once, as no error.
pub fn licenses(user: &User) -> Vec<LicenseRecord> {
    let mut paths: BTreeMap<String, Vec<LicenseSource>> = BTreeMap::new();
    for state in &user.license_assignment_states {
        let mut disabled_plans: Vec<String> =
            state.disabled_plans.iter().map(|p| lower(p)).collect();
        disabled_plans.sort();
        paths
            .entry(lower(&state.sku_id))
            .or_default()
            .push(LicenseSource {
                group_id: state.assigned_by_group.as_deref().map(lower),
                state: state.state.as_deref().and_then(AssignmentState::parse),
                error: state.error.as_deref().and_then(AssignmentError::parse),
                disabled_plans,
            });
    }
    // A path for a SKU the user does not hold (a group that could not assign it at all) is not
    // a license: only `assignedLicenses` says what is held.
    user.assigned_licenses
        .iter()
        .map(|assigned| {
            let sku_id = lower(&assigned.sku_id);
            LicenseRecord {
                disabled_plans: assigned.disabled_plans.iter().map(|p| lower(p)).collect(),
                paths: LicensePaths::new(paths.remove(&sku_id).unwrap_or_default()),
                sku_id,
            }
        })
        .collect()
}

pub fn user_record(user: User) -> UserRecord {
    UserRecord {
        licenses: licenses(&user),
        user_principal_name: user
            .user_principal_name
            .clone()
            .unwrap_or_else(|| user.id.clone()),
        external_id: user.id,
        mail: user.mail,
        display_name: user.display_name,
        account_enabled: user.account_enabled.unwrap_or(true),
        user_type: user.user_type,
        created_at: user.created_date_time,
        sign_in: None,
    }
}

/// Named from Microsoft's table, else by its part number.
pub fn sku_record(sku: SubscribedSku) -> SkuRecord {
    let sku_id = lower(&sku.sku_id);
    let part_number = sku.sku_part_number.unwrap_or_else(|| sku.sku_id.clone());
    SkuRecord {
        display_name: catalog::product_name(&sku_id, &part_number).into_owned(),
        sku_part_number: part_number,
        sku_id,
        capability_status: sku.capability_status.unwrap_or_else(|| "Enabled".into()),
        applies_to: sku.applies_to,
        enabled_units: sku.prepaid_units.enabled,
        suspended_units: sku.prepaid_units.suspended,
        warning_units: sku.prepaid_units.warning,
        locked_out_units: sku.prepaid_units.locked_out,
        consumed_units: sku.consumed_units,
        service_plans: json!(
            sku.service_plans
                .iter()
                .map(|plan| json!({
                    "servicePlanId": plan.service_plan_id,
                    "servicePlanName": plan.service_plan_name,
                    "provisioningStatus": plan.provisioning_status,
                }))
                .collect::<Vec<_>>()
        ),
    }
}

pub fn subscription_record(subscription: CommerceSubscription) -> SubscriptionRecord {
    SubscriptionRecord {
        external_id: subscription.id,
        commerce_subscription_id: subscription.commerce_subscription_id,
        sku_id: subscription
            .sku_id
            .as_deref()
            .map(lower)
            .unwrap_or_default(),
        sku_part_number: subscription.sku_part_number.unwrap_or_default(),
        status: subscription.status.unwrap_or_else(|| "Enabled".into()),
        total_licenses: subscription.total_licenses,
        is_trial: subscription.is_trial,
        created_at: subscription.created_date_time,
        next_lifecycle_at: subscription.next_lifecycle_date_time,
    }
}

pub fn user_change(item: DeltaItem) -> UserChange {
    match item {
        DeltaItem::Removed { id, reason } => UserChange::Removed {
            external_id: id,
            permanently: reason == RemovedReason::Deleted,
        },
        DeltaItem::User(delta) => UserChange::Upsert(user_patch(delta)),
    }
}

fn user_patch(delta: UserDelta) -> UserPatch {
    UserPatch {
        external_id: delta.id,
        // A UPN is never null in Graph; a null one is treated as not sent.
        user_principal_name: delta.user_principal_name.into_update().flatten(),
        mail: delta.mail.into_update(),
        display_name: delta.display_name.into_update(),
        account_enabled: delta.account_enabled.into_update().flatten(),
        user_type: delta.user_type.into_update(),
        created_at: delta.created_date_time.into_update(),
        licenses: delta.assigned_licenses.into_update().map(|licenses| {
            licenses
                .unwrap_or_default()
                .into_iter()
                .map(|license| AssignedSku {
                    sku_id: lower(&license.sku_id),
                    disabled_plans: license.disabled_plans.iter().map(|p| lower(p)).collect(),
                })
                .collect()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(json: serde_json::Value) -> User {
        serde_json::from_value(json).expect("a Graph user")
    }

    #[test]
    fn graph_none_is_no_error_and_a_failing_group_path_shows() {
        let user = user(json!({
            "id": "u1",
            "assignedLicenses": [
                { "skuId": "SKU-A", "disabledPlans": ["PLAN-1"] },
                { "skuId": "sku-b", "disabledPlans": [] },
                { "skuId": "sku-c", "disabledPlans": [] },
            ],
            "licenseAssignmentStates": [
                { "skuId": "sku-a", "assignedByGroup": null, "state": "Active", "error": "None",
                  "disabledPlans": ["PLAN-1"] },
                { "skuId": "sku-a", "assignedByGroup": "GROUP-1", "state": "Error",
                  "error": "CountViolation", "disabledPlans": [] },
                { "skuId": "sku-b", "assignedByGroup": "group-2", "state": "Active", "error": null },
                { "skuId": "sku-d", "assignedByGroup": "group-3", "state": "Error",
                  "error": "CountViolation" },
            ],
        }));
        let licenses = licenses(&user);
        let skus: Vec<&str> = licenses.iter().map(|l| l.sku_id.as_str()).collect();
        assert_eq!(skus, ["sku-a", "sku-b", "sku-c"], "sku-d is not held");

        let a = &licenses[0].paths;
        assert_eq!(a.sources().len(), 2);
        assert_eq!(a.sources()[0].group_id, None);
        assert_eq!(a.sources()[0].error, None, "\"None\" is no error");
        assert_eq!(a.sources()[0].disabled_plans, ["plan-1"]);
        assert_eq!(a.sources()[1].group_id.as_deref(), Some("group-1"));
        assert_eq!(a.error(), Some(&AssignmentError::CountViolation));
        assert_eq!(a.state(), Some(&AssignmentState::Error));
        assert!(a.assigned_directly());

        let b = &licenses[1].paths;
        assert!(!b.assigned_directly());
        assert_eq!(b.group_ids(), ["group-2"]);
        assert_eq!(
            (b.state(), b.error()),
            (Some(&AssignmentState::Active), None)
        );

        let c = &licenses[2].paths;
        assert!(c.sources().is_empty(), "Graph said nothing about its paths");
        assert!(c.assigned_directly());
    }
}
